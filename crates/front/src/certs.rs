//! Live certificates: a snapshot of the store's serving set (for this
//! node of the fleet) with every certificate already turned into a rustls
//! `CertifiedKey` (built at reload, never per handshake), swapped
//! atomically when the store's generation changes, and a resolver that asks
//! [`ServingSet::select`] — the same function behind `mailcert which` —
//! on every handshake.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use mailcert_lifecycle::{ListenerScope, ServingSet};
use mailcert_store::{NodeListener, NodeRecord, ServedName, Store, StoreLocation};
use mailcert_x509::chain::without_roots;
use mailcert_x509::{Selection, Service};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::watch;

use crate::challenges::{ChallengeBoard, HTTP01_PREFIX, TLS_ALPN01_PREFIX};
use crate::error::FrontError;

/// How often a file store's generation is polled.
pub const POLL_INTERVAL: Duration = mailcert_store::FILE_POLL_INTERVAL;

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

    /// The names on a certificate of the snapshot.
    pub fn names_of(&self, thumbprint: &str) -> Vec<String> {
        self.serving
            .get(thumbprint)
            .map(|c| c.record.summary.names.clone())
            .unwrap_or_default()
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
    pub(crate) challenges: ChallengeBoard,
}

impl ResolvesServerCert for ListenerResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name();
        if mailcert_challenge::offers_acme_tls(&hello) {
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

/// Loads a snapshot from a store, for `node` of the fleet.
pub fn load_snapshot(
    store: &dyn Store,
    provider: &CryptoProvider,
    node: Option<&str>,
) -> Result<Snapshot, FrontError> {
    let serving = ServingSet::load(store, true)?.on_node(node);
    Ok(Snapshot::build(serving, provider))
}

/// Puts the challenge answers an issuer in another process left in the
/// store on the board.
fn copy_store_answers(board: &ChallengeBoard, store: &dyn Store, provider: &CryptoProvider) {
    board.replace_stored_http01(store_challenges(store));
    for (name, error) in board.replace_stored_tls_alpn01(store_alpn_digests(store), provider) {
        tracing::warn!("TLS-ALPN-01 for {name}: {error}");
    }
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

/// One listener as the heartbeat describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    pub name: String,
    pub service: Service,
    pub pin: Option<String>,
}

/// Who this front end is in the fleet, and how often it says so.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    pub node: String,
    pub heartbeat: Duration,
    /// The listeners in use (replaced on SIGHUP).
    pub listeners: Arc<ArcSwap<Vec<ListenerInfo>>>,
}

impl Snapshot {
    /// What each listener serves now: the no-SNI default, then every
    /// name a certificate bound to it carries (wildcards aside: no client
    /// asks for `*.`).
    pub fn served(&self, listener: &ListenerInfo) -> Vec<ServedName> {
        let scope = ListenerScope {
            name: Some(&listener.name),
            pin: listener.pin.as_deref(),
        };
        let names = self
            .serving
            .bound_names(listener.service, Some(&listener.name));
        let now = mailcert_x509::build::now_utc();
        std::iter::once(None)
            .chain(names.into_iter().map(Some))
            .map(|name| {
                let chosen = self
                    .serving
                    .select(listener.service, scope, name.as_deref(), now);
                ServedName {
                    thumbprint: chosen.thumbprint().map(str::to_string),
                    name,
                }
            })
            .collect()
    }
}

/// How long a wait for a change notification lasts before the loop looks
/// at its stop flag and its heartbeat again.
const WAIT_SLICE: Duration = Duration::from_secs(1);
/// The safety net behind notifications: the generation is read at least
/// this often even when nobody said anything changed.
pub const REREAD_INTERVAL: Duration = Duration::from_secs(5);
/// While the store is unreachable, how often the log says so again.
const OUTAGE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The thread that watches the store and swaps snapshots: told of
/// changes (PostgreSQL's LISTEN/NOTIFY; a file store is polled), with a
/// periodic re-read as the safety net. While the store is unreachable it
/// keeps the last snapshot, says so once a minute, and catches up when
/// the store is back. It also writes the node's heartbeat. Dropping it
/// stops the thread.
pub struct Reloader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Generation of the snapshot in use, for those who wait for a reload.
    pub generations: watch::Receiver<i64>,
}

/// The reloader thread's state.
struct Watch {
    store: mailcert_store::BoxedStore,
    db: String,
    target: Arc<ArcSwap<Snapshot>>,
    challenges: ChallengeBoard,
    provider: Arc<CryptoProvider>,
    identity: NodeIdentity,
    generations: watch::Sender<i64>,
    seen: i64,
    /// Since when the store has been unreachable, and when that was last
    /// said in the log.
    outage: Option<(Instant, Instant)>,
}

impl Reloader {
    /// Opens the store and loads the first snapshot (errors here stop the
    /// start or the reload: an unreachable database, the wrong key file),
    /// then watches in a thread of its own: the store handle is not
    /// shared with the async runtime.
    pub fn start(
        location: &StoreLocation,
        target: Arc<ArcSwap<Snapshot>>,
        challenges: ChallengeBoard,
        provider: Arc<CryptoProvider>,
        identity: NodeIdentity,
    ) -> Result<Reloader, FrontError> {
        let db = location.shown().to_string();
        let store = mailcert_store::open(location).map_err(|source| FrontError::Store {
            db: db.clone(),
            source,
        })?;
        let first = load_snapshot(store.as_ref(), &provider, Some(&identity.node))?;
        for problem in &first.problems {
            tracing::warn!("{problem}");
        }
        copy_store_answers(&challenges, store.as_ref(), &provider);
        let generation = first.generation();
        target.store(Arc::new(first));
        let (tx, rx) = watch::channel(generation);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let mut watch = Watch {
            store,
            db,
            target,
            challenges,
            provider,
            identity,
            generations: tx,
            seen: generation,
            outage: None,
        };
        let thread = std::thread::Builder::new()
            .name("mailcert-reload".into())
            .spawn(move || watch.run(&stop_flag))
            .map_err(FrontError::Runtime)?;
        Ok(Reloader {
            stop,
            thread: Some(thread),
            generations: rx,
        })
    }
}

impl Watch {
    fn run(&mut self, stop: &AtomicBool) {
        let mut next_heartbeat = Instant::now();
        let mut last_read = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if Instant::now() >= next_heartbeat {
                let beat = self.heartbeat();
                self.note(beat);
                next_heartbeat = Instant::now() + self.identity.heartbeat;
            }
            let told = match self.store.wait_for_change(WAIT_SLICE) {
                Ok(told) => told,
                Err(e) => {
                    self.note(Err(e));
                    std::thread::sleep(WAIT_SLICE);
                    continue;
                }
            };
            if !told && last_read.elapsed() < REREAD_INTERVAL {
                continue;
            }
            last_read = Instant::now();
            let checked = self.reload_if_changed();
            let reloaded = matches!(checked, Ok(true));
            self.note(checked.map(drop));
            if reloaded {
                // Say at once what is served now: `mailcert fleet` shows
                // the change as soon as it is in effect.
                next_heartbeat = Instant::now();
            }
        }
    }

    /// Reads the generation; reloads when it moved. `Ok(true)`: reloaded.
    fn reload_if_changed(&mut self) -> mailcert_store::Result<bool> {
        let current = self.store.generation()?;
        if current == self.seen {
            return Ok(false);
        }
        match load_snapshot(
            self.store.as_ref(),
            &self.provider,
            Some(&self.identity.node),
        ) {
            Ok(snapshot) => {
                for problem in &snapshot.problems {
                    tracing::warn!("{problem}");
                }
                self.seen = snapshot.generation();
                copy_store_answers(&self.challenges, self.store.as_ref(), &self.provider);
                self.target.store(Arc::new(snapshot));
                tracing::info!(
                    generation = self.seen,
                    "store changed: certificates reloaded"
                );
                let _ = self.generations.send(self.seen);
                Ok(true)
            }
            Err(FrontError::Lifecycle(mailcert_lifecycle::LifecycleError::Store(e))) => Err(e),
            Err(e) => {
                tracing::warn!(
                    "store changed but could not be read, keeping the certificates in use: {e}"
                );
                Ok(false)
            }
        }
    }

    fn heartbeat(&mut self) -> mailcert_store::Result<()> {
        let snapshot = self.target.load();
        let listeners = self
            .identity
            .listeners
            .load()
            .iter()
            .map(|l| NodeListener {
                listener: l.name.clone(),
                service: l.service.as_str().to_string(),
                pin: l.pin.clone(),
                serving: snapshot.served(l),
            })
            .collect();
        let record = NodeRecord {
            node: self.identity.node.clone(),
            last_seen: time::OffsetDateTime::now_utc().unix_timestamp(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            heartbeat_secs: self.identity.heartbeat.as_secs().max(1) as u32,
            generation: snapshot.generation(),
            listeners,
        };
        self.store.record_node(&record)
    }

    /// Logs the start and the end of an outage, and once a minute in
    /// between; the certificates in use stay.
    fn note(&mut self, result: mailcert_store::Result<()>) {
        let now = Instant::now();
        match (result, &mut self.outage) {
            (Ok(()), None) => {}
            (Ok(()), Some((since, _))) => {
                tracing::info!(
                    "store {} is reachable again after {} s; catching up",
                    self.db,
                    since.elapsed().as_secs()
                );
                self.outage = None;
            }
            (Err(e), None) => {
                tracing::warn!(
                    "store {} is unreachable: {e}; still serving the certificates of generation {}, and trying again",
                    self.db,
                    self.seen
                );
                self.outage = Some((now, now));
            }
            (Err(e), Some((since, said))) => {
                if said.elapsed() >= OUTAGE_LOG_INTERVAL {
                    tracing::warn!(
                        "store {} still unreachable ({} s): {e}; still serving the certificates of generation {}",
                        self.db,
                        since.elapsed().as_secs(),
                        self.seen
                    );
                    *said = now;
                }
            }
        }
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
