use mailcert_store::StoreError;
use mailcert_x509::{CertError, NameError};
use thiserror::Error;

/// Why an operation did not happen. Nothing was changed in any case.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LifecycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Config(#[from] mailcert_config::ConfigError),
    #[error(
        "no certificate or pending request matches '{0}'; see `mailcert list` for thumbprints"
    )]
    NotFound(String),
    #[error("'{prefix}' matches several certificates; type more of the thumbprint:\n{}", candidates.join("\n"))]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
    },
    /// No service could use the certificate: callers (the console's
    /// pre-flight, tests) tell why by [`Unservable`], not by the words.
    #[error("{thumbprint} {why}")]
    Unservable { thumbprint: String, why: Unservable },
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Refused(String),
}

pub type Result<T> = std::result::Result<T, LifecycleError>;

/// Why no service could use a certificate. The words follow the
/// thumbprint in [`LifecycleError::Unservable`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Unservable {
    #[error("has no private key, so no service can use it; import it with its key (a .pfx) or complete the pending request it belongs to")]
    NoPrivateKey,
    #[error("is outside its validity period ({not_before} to {not_after}): clients would reject it; renew it with `mailcert renew {thumbprint}`")]
    OutsideValidity {
        thumbprint: String,
        /// RFC 3339.
        not_before: String,
        not_after: String,
    },
    #[error("is invalid: {reason}; clients would reject it")]
    Invalid { reason: String },
    #[error("has an RSA-{bits} key: RSA-{bits} is too weak; use 2048 bits or more (modern clients refuse it and this server's TLS library cannot sign with it); request a new certificate with `mailcert request --name NAME --key rsa-2048`")]
    WeakRsa { bits: u32 },
    #[error("has an RSA-{bits} key, larger than this server's TLS library signs with (8192 bits at most); request a new certificate with `mailcert request --name NAME --key rsa-4096`")]
    LargeRsa { bits: u32 },
}
