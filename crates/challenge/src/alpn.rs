//! TLS-ALPN-01 (RFC 8737): the self-signed certificate that answers it,
//! and the resolver that presents it to a client offering `acme-tls/1`.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::board::ChallengeBoard;
use crate::error::ChallengeError;
use crate::ACME_TLS_ALPN;

/// The self-signed certificate of TLS-ALPN-01: the name as its only SAN
/// and the critical acmeIdentifier extension holding the digest, signed
/// by a fresh key loaded with `provider`.
pub fn alpn_certificate(
    name: &str,
    digest: &[u8],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, ChallengeError> {
    let issued =
        mailcert_x509::build::acme_alpn_certificate(name, digest, mailcert_x509::build::now_utc())?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_der));
    let signer = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| ChallengeError::Key {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
    Ok(Arc::new(CertifiedKey::new(
        vec![CertificateDer::from(issued.cert_der)],
        signer,
    )))
}

/// Does the client offer `acme-tls/1`? An ACME validator offers only
/// that; it must get the challenge certificate and nothing else.
pub fn offers_acme_tls(hello: &ClientHello<'_>) -> bool {
    hello
        .alpn()
        .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN))
}

/// Presents the board's TLS-ALPN-01 certificate for the name asked for
/// (SNI) to a client offering `acme-tls/1`, and nothing to any other.
#[derive(Debug, Clone)]
pub struct AlpnResolver {
    pub board: ChallengeBoard,
}

impl AlpnResolver {
    /// The challenge certificate for this handshake: `None` when the
    /// client does not offer `acme-tls/1`, sent no name, or no answer is
    /// offered for it.
    pub fn challenge(&self, hello: &ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if !offers_acme_tls(hello) {
            return None;
        }
        self.board.tls_alpn01(hello.server_name()?)
    }
}

impl ResolvesServerCert for AlpnResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.challenge(&hello)
    }
}

/// A TLS configuration that speaks only `acme-tls/1` and presents the
/// board's TLS-ALPN-01 certificates: a listener for the challenge alone.
pub fn acme_only_server_config(
    board: ChallengeBoard,
) -> Result<Arc<rustls::ServerConfig>, ChallengeError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ChallengeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(AlpnResolver { board }));
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_names_the_server_and_carries_the_digest() {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let digest = [0xAB; 32];
        let cert = alpn_certificate("mail.example.com", &digest, &provider).expect("made");
        assert_eq!(cert.cert.len(), 1);
        let summary = mailcert_x509::CertSummary::from_der(cert.cert[0].as_ref()).expect("parses");
        assert_eq!(summary.names, ["mail.example.com"]);
        // The acmeIdentifier extension holds the digest as an OCTET STRING.
        let der = cert.cert[0].as_ref();
        let mut octets = vec![0x04, 0x20];
        octets.extend_from_slice(&digest);
        assert!(der.windows(octets.len()).any(|w| w == octets.as_slice()));
    }
}
