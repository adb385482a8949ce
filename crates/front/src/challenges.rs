//! The hook for ACME issuers: HTTP-01 answers on the plain HTTP
//! listeners and TLS-ALPN-01 certificates on the HTTPS listeners.
//!
//! An issuer in the same process registers challenges in a
//! [`ChallengeMap`] given to the front end. An issuer in another process
//! (`mailcert acme ...`) writes named values in the store instead:
//! `acme.http-01.<token>` = key authorization, and
//! `acme.tls-alpn-01.<name>` = the acmeIdentifier digest in hex (no key
//! crosses processes: the front end makes the challenge certificate
//! itself); the front end picks them up with its next store poll (within
//! a second).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

use rustls::sign::CertifiedKey;

/// Store named-value prefixes of HTTP-01 key authorizations and of
/// TLS-ALPN-01 digests (hex), as the ACME issuer writes them.
pub use mailcert_store::values::{
    ACME_HTTP01_PREFIX as HTTP01_PREFIX, ACME_TLS_ALPN01_PREFIX as TLS_ALPN01_PREFIX,
};
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

/// A TLS-ALPN-01 certificate and the digest it was made for.
type DigestCertificate = (Vec<u8>, Arc<CertifiedKey>);

/// The in-memory implementation, shared between an issuer and the front end.
#[derive(Debug, Default)]
pub struct ChallengeMap {
    http01: RwLock<HashMap<String, String>>,
    /// HTTP-01 answers read from the store (replaced at each store change).
    http01_store: RwLock<HashMap<String, String>>,
    tls_alpn01: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// TLS-ALPN-01 certificates made from the store's digests, with the
    /// digest they were made for (kept while it does not change).
    tls_alpn01_store: RwLock<HashMap<String, DigestCertificate>>,
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

    /// Replaces the TLS-ALPN-01 certificates that came from the store:
    /// `digests` by name; a certificate is made only for a new digest.
    pub(crate) fn replace_alpn_from_store(
        &self,
        digests: HashMap<String, Vec<u8>>,
        provider: &rustls::crypto::CryptoProvider,
    ) {
        let Ok(mut map) = self.tls_alpn01_store.write() else {
            return;
        };
        let mut next = HashMap::new();
        for (name, digest) in digests {
            let kept = map
                .get(&name)
                .filter(|(d, _)| *d == digest)
                .map(|(_, c)| c.clone());
            let cert = kept.or_else(|| match alpn_certificate(&name, &digest, provider) {
                Ok(cert) => Some(cert),
                Err(e) => {
                    tracing::warn!("TLS-ALPN-01 for {name}: {e}");
                    None
                }
            });
            if let Some(cert) = cert {
                next.insert(name, (digest, cert));
            }
        }
        *map = next;
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
        let name = server_name.to_ascii_lowercase();
        let mine = self
            .tls_alpn01
            .read()
            .ok()
            .and_then(|m| m.get(&name).cloned());
        mine.or_else(|| {
            self.tls_alpn01_store
                .read()
                .ok()
                .and_then(|m| m.get(&name).map(|(_, c)| c.clone()))
        })
    }
}

/// The challenge certificate for `name` and `digest`, signed by a fresh key.
fn alpn_certificate(
    name: &str,
    digest: &[u8],
    provider: &rustls::crypto::CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let issued =
        mailcert_x509::build::acme_alpn_certificate(name, digest, mailcert_x509::build::now_utc())
            .map_err(|e| e.to_string())?;
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(issued.key_der.into());
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(CertifiedKey::new(
        vec![rustls_pki_types::CertificateDer::from(issued.cert_der)],
        signer,
    )))
}
