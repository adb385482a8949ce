//! rustls settings: TLS 1.2 and 1.3 only, the provider's modern suites
//! (AEAD with forward secrecy), session tickets on, the listener's ALPN.

use std::sync::Arc;

use arc_swap::ArcSwap;
use mailcert_config::{Listener, Protocol};
use rustls::crypto::CryptoProvider;
use rustls::server::{
    ProducesTickets, ServerConfig, ServerSessionMemoryCache, StoresServerSessions,
};

use crate::certs::{ListenerResolver, Snapshot};
use crate::challenges::{ChallengeBoard, ACME_TLS_ALPN};
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
    pub challenges: ChallengeBoard,
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
    // The server's order (the provider's: AES-256-GCM, AES-128-GCM,
    // ChaCha20, forward secrecy only) wins over the client's, as scanners
    // expect and as nginx's ssl_prefer_server_ciphers does.
    config.ignore_client_order = true;
    let scope = session_scope(listener);
    config.ticketer = Arc::new(ListenerTickets {
        inner: shared.ticketer.clone(),
        scope: scope.clone(),
    });
    config.session_storage = Arc::new(ListenerSessions {
        inner: shared.sessions.clone(),
        scope,
    });
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

/// What a resumable session is bound to: the listener, its service and its
/// pin. Resumption skips certificate selection, so a session made where
/// one certificate was chosen must not resume where another would be —
/// another listener, another service (the cross-protocol confusion of the
/// ALPACA attack), or a pin changed by a reload. Length-prefixed so that
/// no scope is a prefix of another.
fn session_scope(listener: &Listener) -> Vec<u8> {
    let text = format!(
        "{}\0{}\0{}",
        listener.name,
        listener.protocol.service(),
        listener.certificate.as_deref().unwrap_or("")
    );
    let mut scope = (text.len() as u32).to_be_bytes().to_vec();
    scope.extend_from_slice(text.as_bytes());
    scope
}

/// The shared ticket key (tickets survive SIGHUP), with the listener's
/// scope sealed inside every ticket and checked on the way back.
#[derive(Debug)]
struct ListenerTickets {
    inner: Arc<dyn ProducesTickets>,
    scope: Vec<u8>,
}

impl ProducesTickets for ListenerTickets {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut scoped = self.scope.clone();
        scoped.extend_from_slice(plain);
        self.inner.encrypt(&scoped)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let plain = self.inner.decrypt(cipher)?;
        plain
            .strip_prefix(self.scope.as_slice())
            .map(<[u8]>::to_vec)
    }
}

/// The shared session-ID cache (TLS 1.2 without tickets), keyed by the
/// listener's scope as well as the session ID.
#[derive(Debug)]
struct ListenerSessions {
    inner: Arc<ServerSessionMemoryCache>,
    scope: Vec<u8>,
}

impl ListenerSessions {
    fn key(&self, key: &[u8]) -> Vec<u8> {
        [self.scope.as_slice(), key].concat()
    }
}

impl StoresServerSessions for ListenerSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.inner.put(self.key(&key), value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(&self.key(key))
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.take(&self.key(key))
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}
