//! Why a challenge answer could not be made.

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The TLS-ALPN-01 certificate could not be generated.
    #[error(transparent)]
    Certificate(#[from] mailcert_x509::CertError),
    /// Its key is not one the TLS library can sign with.
    #[error("TLS-ALPN-01 key for {name}: {reason}")]
    Key { name: String, reason: String },
    /// The TLS configuration of the `acme-tls/1` listener.
    #[error("TLS configuration: {0}")]
    Tls(String),
}
