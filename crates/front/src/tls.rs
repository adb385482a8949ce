//! rustls settings: TLS 1.2 and 1.3 only, the provider's modern suites
//! (AEAD with forward secrecy), session tickets on, the listener's ALPN.

use std::sync::Arc;

use arc_swap::ArcSwap;
use mailcert_config::{Listener, Protocol};
use rustls::crypto::CryptoProvider;
use rustls::server::{ProducesTickets, ServerConfig, ServerSessionMemoryCache};

use crate::certs::{ListenerResolver, Snapshot};
use crate::challenges::{Challenges, ACME_TLS_ALPN};
use crate::error::FrontError;

/// The crypto provider: aws-lc-rs with its default (modern) suites and
/// key exchanges, X25519 first.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// One ticket encrypter for every listener and every reload, so tickets
/// stay valid across SIGHUP.
pub fn ticketer() -> Result<Arc<dyn ProducesTickets>, FrontError> {
    rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|source| FrontError::Tls {
        name: "(tickets)".into(),
        source,
    })
}

/// Shared pieces every listener's TLS settings use.
#[derive(Clone)]
pub struct TlsShared {
    pub provider: Arc<CryptoProvider>,
    pub ticketer: Arc<dyn ProducesTickets>,
    pub sessions: Arc<ServerSessionMemoryCache>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub challenges: Arc<dyn Challenges>,
}

/// The rustls configuration of one listener.
pub fn server_config(
    listener: &Listener,
    shared: &TlsShared,
) -> Result<Arc<ServerConfig>, FrontError> {
    let resolver = ListenerResolver {
        snapshot: shared.snapshot.clone(),
        service: listener.protocol.service(),
        listener: listener.name.clone(),
        pin: listener.certificate.clone(),
        challenges: shared.challenges.clone(),
    };
    let mut config = ServerConfig::builder_with_provider(shared.provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|source| FrontError::Tls {
            name: listener.name.clone(),
            source,
        })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.ticketer = shared.ticketer.clone();
    config.session_storage = shared.sessions.clone();
    config.alpn_protocols = listener
        .alpn
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    if listener.protocol == Protocol::Https && !config.alpn_protocols.is_empty() {
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    // Mail clients and servers expect the server to speak first after an
    // implicit-TLS handshake; nothing to tune for that in rustls.
    Ok(Arc::new(config))
}
