//! Live certificates: a snapshot of the store's serving set with every
//! certificate already turned into a rustls `CertifiedKey` (built at
//! reload, never per handshake), swapped atomically when the store's
//! generation changes, and a resolver that asks
//! [`ServingSet::select`] — the same function behind `mailcert which` —
//! on every handshake.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use mailcert_lifecycle::{ListenerScope, ServingSet};
use mailcert_store::{SqliteStore, Store, StoreLocation};
use mailcert_x509::chain::without_roots;
use mailcert_x509::{Selection, Service};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::watch;

use crate::challenges::{
    ChallengeMap, Challenges, ACME_TLS_ALPN, HTTP01_PREFIX, TLS_ALPN01_PREFIX,
};
use crate::error::FrontError;

/// How often the store's generation is polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Everything that can be served, ready for handshakes.
#[derive(Debug, Default)]
pub struct Snapshot {
    serving: ServingSet,
    keys: HashMap<String, Arc<CertifiedKey>>,
    /// Certificates that could not be made servable, with the reason.
    pub problems: Vec<String>,
}

impl Snapshot {
    /// Turns a serving set (loaded with keys) into certified keys.
    pub fn build(mut serving: ServingSet, provider: &CryptoProvider) -> Snapshot {
        let mut keys = HashMap::new();
        let mut problems = Vec::new();
        for served in serving.certificates() {
            let thumb = served.record.summary.thumbprint.clone();
            let Some(key_der) = &served.private_key else {
                continue;
            };
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.clone()));
            let signing = match provider.key_provider.load_private_key(key) {
                Ok(k) => k,
                Err(e) => {
                    problems.push(format!(
                        "certificate {thumb}: its private key cannot be used: {e}"
                    ));
                    continue;
                }
            };
            // The stored chain holds no root; a store written by hand or by
            // an older version might: a self-signed certificate is never
            // sent after the leaf.
            let mut chain = vec![CertificateDer::from(served.record.der.clone())];
            chain.extend(
                without_roots(&served.chain)
                    .into_iter()
                    .map(CertificateDer::from),
            );
            let certified = CertifiedKey::new(chain, signing);
            if let Err(e) = certified.keys_match() {
                problems.push(format!(
                    "certificate {thumb}: the private key does not match the certificate ({e}); it is not served"
                ));
                continue;
            }
            keys.insert(thumb, Arc::new(certified));
        }
        serving.drop_private_keys();
        Snapshot {
            serving,
            keys,
            problems,
        }
    }

    pub fn generation(&self) -> i64 {
        self.serving.generation
    }

    /// The choice for one handshake, and the key to serve it with.
    pub fn select(
        &self,
        service: Service,
        scope: ListenerScope<'_>,
        sni: Option<&str>,
    ) -> (Selection, Option<Arc<CertifiedKey>>) {
        let now = mailcert_x509::build::now_utc();
        let selection = self.serving.select(service, scope, sni, now);
        let key = selection
            .thumbprint()
            .and_then(|t| self.keys.get(t).cloned());
        (selection, key)
    }
}

/// The certificate resolver of one listener.
#[derive(Debug)]
pub struct ListenerResolver {
    pub(crate) snapshot: Arc<ArcSwap<Snapshot>>,
    pub(crate) service: Service,
    pub(crate) listener: String,
    pub(crate) pin: Option<String>,
    pub(crate) challenges: Arc<dyn Challenges>,
}

impl ResolvesServerCert for ListenerResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name();
        let acme = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if acme {
            return sni.and_then(|name| self.challenges.tls_alpn01(name));
        }
        let snapshot = self.snapshot.load();
        let scope = ListenerScope {
            name: Some(&self.listener),
            pin: self.pin.as_deref(),
        };
        let (selection, key) = snapshot.select(self.service, scope, sni);
        if key.is_none() {
            tracing::warn!(listener = %self.listener, "no certificate to serve: {}", selection.explain());
        }
        key
    }
}

/// Loads a snapshot from a store.
pub fn load_snapshot(store: &dyn Store, provider: &CryptoProvider) -> Result<Snapshot, FrontError> {
    let serving = ServingSet::load(store, true)?;
    Ok(Snapshot::build(serving, provider))
}

/// Reads the HTTP-01 answers an issuer left in the store.
fn store_challenges(store: &dyn Store) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for key in store.value_keys(HTTP01_PREFIX).unwrap_or_default() {
        if let Ok(Some(value)) = store.value(&key) {
            let token = key[HTTP01_PREFIX.len()..].to_string();
            out.insert(token, String::from_utf8_lossy(&value).into_owned());
        }
    }
    out
}

/// Reads the TLS-ALPN-01 digests an issuer left in the store, by name.
fn store_alpn_digests(store: &dyn Store) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    for key in store.value_keys(TLS_ALPN01_PREFIX).unwrap_or_default() {
        let Ok(Some(value)) = store.value(&key) else {
            continue;
        };
        let digest = mailcert_store::decode_hex(&String::from_utf8_lossy(&value));
        if let Some(digest) = digest.filter(|d| d.len() == 32) {
            out.insert(key[TLS_ALPN01_PREFIX.len()..].to_ascii_lowercase(), digest);
        }
    }
    out
}

/// The thread that polls the store and swaps snapshots. Dropping it stops
/// the thread.
pub struct Reloader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Generation of the snapshot in use, for those who wait for a reload.
    pub generations: watch::Receiver<i64>,
}

impl Reloader {
    /// Opens the store and loads the first snapshot (errors here stop the
    /// start or the reload), then polls in a thread of its own: the store
    /// handle is not shared with the async runtime.
    pub fn start(
        location: &StoreLocation,
        target: Arc<ArcSwap<Snapshot>>,
        challenges: Arc<ChallengeMap>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Reloader, FrontError> {
        let store = SqliteStore::open(location).map_err(|source| FrontError::Store {
            path: location.db.clone(),
            source,
        })?;
        let first = load_snapshot(&store, &provider)?;
        for problem in &first.problems {
            tracing::warn!("{problem}");
        }
        challenges.replace_from_store(store_challenges(&store));
        challenges.replace_alpn_from_store(store_alpn_digests(&store), &provider);
        let generation = first.generation();
        target.store(Arc::new(first));
        let (tx, rx) = watch::channel(generation);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let db = location.db.clone();
        let thread = std::thread::Builder::new()
            .name("mailcert-reload".into())
            .spawn(move || {
                let mut seen = generation;
                while !stop_flag.load(Ordering::Relaxed) {
                    std::thread::sleep(POLL_INTERVAL);
                    let current = match store.generation() {
                        Ok(g) => g,
                        Err(e) => {
                            tracing::warn!("store {}: cannot read its generation: {e}", db.display());
                            continue;
                        }
                    };
                    if current == seen {
                        continue;
                    }
                    match load_snapshot(&store, &provider) {
                        Ok(snapshot) => {
                            for problem in &snapshot.problems {
                                tracing::warn!("{problem}");
                            }
                            seen = snapshot.generation();
                            challenges.replace_from_store(store_challenges(&store));
                            challenges.replace_alpn_from_store(store_alpn_digests(&store), &provider);
                            target.store(Arc::new(snapshot));
                            tracing::info!(generation = seen, "store changed: certificates reloaded");
                            let _ = tx.send(seen);
                        }
                        Err(e) => tracing::warn!("store changed but could not be read, keeping the certificates in use: {e}"),
                    }
                }
            })
            .map_err(FrontError::Runtime)?;
        Ok(Reloader {
            stop,
            thread: Some(thread),
            generations: rx,
        })
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
