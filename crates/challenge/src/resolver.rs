//! The resolver that presents the board's TLS-ALPN-01 certificates to a
//! client offering `acme-tls/1`, and a listener configuration for them
//! alone.

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::alpn::offers_acme_tls;
use crate::board::ChallengeBoard;
use crate::error::ChallengeError;
use crate::ACME_TLS_ALPN;

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
