//! A rustls certificate verifier that decides nothing: it records the
//! chain exactly as the server sent it, and whether the server's handshake
//! signature verified, so the handshake completes and the diagnosis can
//! judge afterwards. Nothing secret is ever sent on these connections: the
//! checker closes them right after the handshake.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// What the verifier saw during one handshake.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captured {
    /// DER certificates in the order sent, the server's own first.
    pub chain: Vec<Vec<u8>>,
    /// `Some(false)` when the server's handshake signature did not verify
    /// with the key of the certificate it sent (or with a key too weak for
    /// the crypto library to accept).
    pub signature_ok: Option<bool>,
}

#[derive(Debug)]
pub(crate) struct CaptureVerifier {
    provider: Arc<CryptoProvider>,
    seen: Mutex<Captured>,
}

impl CaptureVerifier {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> CaptureVerifier {
        CaptureVerifier {
            provider,
            seen: Mutex::new(Captured::default()),
        }
    }

    pub(crate) fn captured(&self) -> Captured {
        match self.seen.lock() {
            Ok(seen) => seen.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn record_signature(&self, ok: bool) {
        let mut seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        seen.signature_ok = Some(seen.signature_ok.unwrap_or(true) && ok);
    }
}

impl ServerCertVerifier for CaptureVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        seen.chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let ok = verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
        .is_ok();
        self.record_signature(ok);
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let ok = verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
        .is_ok();
        self.record_signature(ok);
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
