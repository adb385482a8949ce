//! TLS-ALPN-01 (RFC 8737): the self-signed certificate that answers it,
//! and whether a client asks for it.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::ClientHello;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

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
