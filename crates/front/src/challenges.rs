//! The hook for ACME issuers: HTTP-01 answers on the plain HTTP
//! listeners and TLS-ALPN-01 certificates on the HTTPS listeners.
//!
//! An issuer in the same process registers challenges in a
//! [`ChallengeMap`] given to the front end. An issuer in another process
//! (`mailcert acme ...`) writes named values in the store instead:
//! `acme.http-01.<token>` = key authorization; the front end picks them up
//! with its next store poll (within a second).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

use rustls::sign::CertifiedKey;

/// Store named-value prefix for HTTP-01 key authorizations.
pub const HTTP01_PREFIX: &str = "acme.http-01.";
/// The ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Answers to ACME challenges.
pub trait Challenges: Send + Sync + Debug {
    /// The key authorization for `GET /.well-known/acme-challenge/<token>`.
    fn http01(&self, token: &str) -> Option<String>;
    /// The self-signed `acmeIdentifier` certificate for a TLS-ALPN-01
    /// handshake asking for `server_name`.
    fn tls_alpn01(&self, server_name: &str) -> Option<Arc<CertifiedKey>>;
}

/// The in-memory implementation, shared between an issuer and the front end.
#[derive(Debug, Default)]
pub struct ChallengeMap {
    http01: RwLock<HashMap<String, String>>,
    /// HTTP-01 answers read from the store (replaced at each store change).
    http01_store: RwLock<HashMap<String, String>>,
    tls_alpn01: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl ChallengeMap {
    pub fn new() -> Arc<ChallengeMap> {
        Arc::new(ChallengeMap::default())
    }

    pub fn set_http01(&self, token: &str, key_authorization: Option<String>) {
        if let Ok(mut map) = self.http01.write() {
            match key_authorization {
                Some(v) => map.insert(token.to_string(), v),
                None => map.remove(token),
            };
        }
    }

    pub fn set_tls_alpn01(&self, server_name: &str, cert: Option<Arc<CertifiedKey>>) {
        if let Ok(mut map) = self.tls_alpn01.write() {
            let name = server_name.to_ascii_lowercase();
            match cert {
                Some(c) => map.insert(name, c),
                None => map.remove(&name),
            };
        }
    }

    /// Replaces the answers that came from the store.
    pub(crate) fn replace_from_store(&self, answers: HashMap<String, String>) {
        if let Ok(mut map) = self.http01_store.write() {
            *map = answers;
        }
    }
}

impl Challenges for ChallengeMap {
    fn http01(&self, token: &str) -> Option<String> {
        let mine = self.http01.read().ok().and_then(|m| m.get(token).cloned());
        mine.or_else(|| {
            self.http01_store
                .read()
                .ok()
                .and_then(|m| m.get(token).cloned())
        })
    }

    fn tls_alpn01(&self, server_name: &str) -> Option<Arc<CertifiedKey>> {
        self.tls_alpn01
            .read()
            .ok()
            .and_then(|m| m.get(&server_name.to_ascii_lowercase()).cloned())
    }
}
