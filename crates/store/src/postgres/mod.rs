//! The store a fleet shares: one PostgreSQL database, the same records
//! and the same single transactions as the SQLite store, and a
//! notification (`NOTIFY mailcert_changes`) with every committed change
//! so that every node reloads within a moment.
//!
//! # Synchronous trait, asynchronous driver
//!
//! [`Store`] is synchronous, and tokio-postgres is asynchronous. The
//! `postgres` crate wraps tokio-postgres with a small runtime of its own,
//! but it cannot be called from a thread that already drives a tokio
//! runtime (its `block_on` panics there), and mailcert calls the store
//! from inside async code (the ACME engine, `acme renew`). So each
//! [`PostgresStore`] owns one worker thread that holds the connection and
//! runs the queries; the store's methods hand it a job and wait for the
//! answer on a channel. Waiting on a channel is allowed anywhere; the
//! front end never calls the store from its reactor threads anyway (its
//! reloader and the renewal engine have threads of their own), and
//! handshakes are served from memory.
//!
//! The worker reconnects by itself when the connection was lost: a store
//! outlives a database restart, which is what lets a node catch up.
//!
//! # Writers one at a time
//!
//! Every change takes a transaction-scoped advisory lock first, so that
//! changes are serialised as SQLite serialises them: after the lock, each
//! statement sees everything committed before, which is what makes
//! [`Op::ExpectValue`](crate::Op::ExpectValue) a true compare-and-set
//! between nodes (the ACME lease).

mod fleet;
mod ops;
pub(crate) mod target;
mod tls;

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

pub use target::{PgHost, PgTarget, RootCerts, SslMode};

use crate::crypto::{StoreKey, KEY_CHECK};
use crate::dump::StoreDump;
use crate::error::{Result, StoreError};
use crate::keyfile;
use crate::location::{StoreDb, StoreLocation};
use crate::model::*;
use crate::schema::{PG_APPLICATION, PG_MIGRATIONS, SCHEMA_VERSION};
use crate::sqlite::{key_file_exposed, Opened, StoreWarning};
use crate::Store;

/// The channel every committed change is announced on (payload: the new
/// generation).
pub const CHANGES_CHANNEL: &str = "mailcert_changes";

/// Advisory lock keys ("MCRT" + 1 or 2): changes, and migrations.
const WRITE_LOCK: i64 = 0x4D43_5254_0001;
const MIGRATE_LOCK: i64 = 0x4D43_5254_0002;

/// A mailcert store in a PostgreSQL database.
pub struct PostgresStore {
    target: Arc<PgTarget>,
    key: Arc<StoreKey>,
    worker: Worker,
    warnings: Vec<StoreWarning>,
}

/// What a database holds, before anything is written to it.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Empty,
    Ours { version: i64 },
    Foreign { tables: Vec<String> },
}

impl PostgresStore {
    /// Opens an existing store; never creates the schema or a key file.
    pub fn open(location: &StoreLocation) -> Result<Self> {
        Self::open_with(location, false).map(|(store, _)| store)
    }

    /// Opens the store, creating the schema (and the key file, when the
    /// database is new and the file does not exist) on first use.
    pub fn open_or_create(location: &StoreLocation) -> Result<(Self, Opened)> {
        Self::open_with(location, true)
    }

    /// Creates a store at an older schema version, to test the forward
    /// migrations; nothing else should make one.
    #[doc(hidden)]
    pub fn create_at_version(location: &StoreLocation, version: i64) -> Result<()> {
        Self::open_at(location, true, version).map(drop)
    }

    fn open_with(location: &StoreLocation, create: bool) -> Result<(Self, Opened)> {
        Self::open_at(location, create, SCHEMA_VERSION)
    }

    fn open_at(location: &StoreLocation, create: bool, to: i64) -> Result<(Self, Opened)> {
        let target = match location.database()? {
            StoreDb::Postgres(t) => Arc::new(*t),
            StoreDb::Sqlite(path) => {
                return Err(StoreError::Refused(format!(
                    "{} is not a PostgreSQL store URL",
                    path.display()
                )))
            }
        };
        let url = target.url.clone();
        let worker = Worker::start(target.clone())?;
        let call = |job: Job<Found>| worker.run(job).map_err(|e| named(&url, e));
        let found = call(Box::new(|link: &mut Link| inspect(link.client()?)))?;
        let version = match found {
            Found::Foreign { tables } => {
                return Err(StoreError::Foreign {
                    path: location.db.clone(),
                    reason: format!(
                        "the database holds tables of another program ({}) and no mailcert schema",
                        tables.join(", ")
                    ),
                })
            }
            Found::Ours { version } if version > SCHEMA_VERSION => {
                return Err(StoreError::TooNew {
                    path: location.db.clone(),
                    found: version,
                    known: SCHEMA_VERSION,
                })
            }
            Found::Empty if !create => {
                return Err(StoreError::NotFound {
                    path: location.db.clone(),
                })
            }
            Found::Ours { version } => version,
            Found::Empty => 0,
        };
        // The key file: made only for a new store; an existing store
        // without its key file is an error, never a fresh key.
        let opened = if version == 0 {
            Opened::Created
        } else {
            Opened::Existing
        };
        let mut made_key_file = false;
        if !location.key.exists() {
            if version > 0 {
                return Err(StoreError::KeyFileMissing {
                    db: location.db.clone(),
                    key: location.key.clone(),
                });
            }
            made_key_file = keyfile::write_new_unless_present(&location.key)?.is_some();
        }
        let key = Arc::new(keyfile::read(&location.key)?);
        let store = PostgresStore {
            target,
            key,
            worker,
            warnings: key_file_exposed(&location.key).into_iter().collect(),
        };
        if version > 0 {
            // A wrong key file never migrates anything.
            store.ensure_key_matches(location)?;
        }
        if version < to {
            store.migrate(location, to)?;
        }
        // Again after creating the schema: another node may have created
        // it first, sealing its check value with a key of its own.
        match store.ensure_key_matches(location) {
            Ok(()) => Ok((store, opened)),
            Err(StoreError::WrongKey { .. }) if made_key_file => {
                // Nothing was encrypted with the key just made: leave no
                // key file that could be mistaken for the store's.
                let _ = std::fs::remove_file(&location.key);
                Err(StoreError::Refused(format!(
                    "the store {} was created meanwhile by another node, with a key file of its own; nothing was written. Copy that node's key file to {} (0600) and start again",
                    location.db.display(),
                    location.key.display()
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// The URL this store was opened with.
    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    fn ensure_key_matches(&self, location: &StoreLocation) -> Result<()> {
        let key = self.key.clone();
        let matches = self.call(move |client| {
            let row = client.query_opt("SELECT value FROM meta WHERE key = 'key_check'", &[])?;
            let sealed: Option<Vec<u8>> = row.map(|r| r.try_get(0)).transpose()?;
            Ok(sealed.and_then(|s| key.open(&s)).as_deref() == Some(KEY_CHECK))
        })?;
        if matches {
            return Ok(());
        }
        Err(StoreError::WrongKey {
            db: location.db.clone(),
            key: location.key.clone(),
        })
    }

    /// Brings the schema to this mailcert's version in one transaction,
    /// under a lock so that nodes starting together migrate once.
    fn migrate(&self, location: &StoreLocation, to: i64) -> Result<()> {
        let key = self.key.clone();
        let found = self.call(move |client| {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
            let found = inspect_in(&mut tx)?;
            let version = match found {
                Found::Ours { version } if version <= SCHEMA_VERSION => version,
                Found::Empty => 0,
                other => return Ok(other),
            };
            if version >= to {
                return Ok(Found::Ours { version });
            }
            for sql in PG_MIGRATIONS
                .iter()
                .take(to as usize)
                .skip(version as usize)
            {
                tx.batch_execute(sql)?;
            }
            if version == 0 {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('application', $1), ('key_check', $2)",
                    &[&PG_APPLICATION, &key.seal(KEY_CHECK)],
                )?;
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&to.to_string().into_bytes()],
            )?;
            tx.commit()?;
            Ok(Found::Ours { version: to })
        })?;
        match found {
            Found::Ours { .. } => Ok(()),
            Found::Foreign { tables } => Err(StoreError::Foreign {
                path: location.db.clone(),
                reason: format!(
                    "the database holds tables of another program ({})",
                    tables.join(", ")
                ),
            }),
            Found::Empty => Ok(()),
        }
    }

    /// Runs `job` on the worker's connection; errors name the database.
    fn call<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.worker
            .run(Box::new(move |link: &mut Link| job(link.client()?)))
            .map_err(|e| named(&self.target.url, e))
    }

    /// Like [`Self::call`], with the store key.
    fn call_keyed<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client, &StoreKey) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let key = self.key.clone();
        self.call(move |client| job(client, &key))
    }
}

/// Whether `target` holds a mailcert store (a database of another
/// program is an error).
pub(crate) fn schema_exists(target: &PgTarget) -> Result<bool> {
    let worker = Worker::start(Arc::new(target.clone()))?;
    let found = worker
        .run(Box::new(|link: &mut Link| inspect(link.client()?)))
        .map_err(|e| named(&target.url, e))?;
    match found {
        Found::Ours { .. } => Ok(true),
        Found::Empty => Ok(false),
        Found::Foreign { tables } => Err(StoreError::Foreign {
            path: target.url.clone().into(),
            reason: format!(
                "the database holds tables of another program ({}) and no mailcert schema",
                tables.join(", ")
            ),
        }),
    }
}

fn inspect(client: &mut Client) -> Result<Found> {
    let mut tx = client.transaction()?;
    let found = inspect_in(&mut tx)?;
    tx.commit()?;
    Ok(found)
}

/// Empty (no tables of anyone), ours (the `meta` table says so), or
/// another program's.
fn inspect_in(tx: &mut postgres::Transaction<'_>) -> Result<Found> {
    let tables: Vec<String> = tx
        .query(
            "SELECT tablename FROM pg_catalog.pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY tablename",
            &[],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    if tables.is_empty() {
        return Ok(Found::Empty);
    }
    let foreign = |tables: Vec<String>| Found::Foreign {
        tables: tables.into_iter().take(5).collect(),
    };
    if !tables.iter().any(|t| t == "meta") {
        return Ok(foreign(tables));
    }
    // A `meta` table of another shape is another program's: ask inside
    // a savepoint so that the error does not end the transaction.
    let mut probe = tx.transaction()?;
    let rows = probe.query(
        "SELECT key, value FROM meta WHERE key IN ('application', 'schema_version')",
        &[],
    );
    let rows = match rows {
        Ok(rows) => rows,
        Err(_) => return Ok(foreign(tables)),
    };
    probe.commit()?;
    let mut application = None;
    let mut version = None;
    for row in rows {
        let key: String = row.try_get(0)?;
        let value: Vec<u8> = row.try_get(1)?;
        match key.as_str() {
            "application" => application = Some(value),
            _ => version = String::from_utf8(value).ok().and_then(|v| v.parse().ok()),
        }
    }
    match (application.as_deref(), version) {
        (Some(PG_APPLICATION), Some(version)) => Ok(Found::Ours { version }),
        _ => Ok(foreign(tables)),
    }
}

/// A PostgreSQL error as the store reports it: naming the database, in
/// words that say what to check.
fn named(url: &str, error: StoreError) -> StoreError {
    match error {
        StoreError::Postgres(e) => StoreError::Database {
            db: url.to_string(),
            detail: describe(&e),
        },
        other => other,
    }
}

pub(crate) fn describe(e: &postgres::Error) -> String {
    use postgres::error::SqlState;
    if let Some(db) = e.as_db_error() {
        let hint = match db.code() {
            c if *c == SqlState::INVALID_PASSWORD => {
                "; check the password for this user in ~/.pgpass (or the file passfile= names, or PGPASSWORD)"
            }
            c if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                "; the server's pg_hba.conf does not let this user connect from here"
            }
            c if *c == SqlState::INVALID_CATALOG_NAME => {
                "; create it first (createdb), owned by the user mailcert connects as"
            }
            c if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
                "; the user needs to own the database (or be granted CREATE on it)"
            }
            _ => "",
        };
        return format!("PostgreSQL says: {}{hint}", db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    if text.contains("invalid peer certificate") {
        text.push_str("; the PostgreSQL server's certificate was not accepted: sslrootcert= must name the CA that issued it, and with sslmode=verify-full the URL's host must be a name on it");
    } else if text.contains("password missing") {
        text.push_str("; the server asks for a password: put it in ~/.pgpass (or the file passfile= names, or PGPASSWORD)");
    } else if text.contains("refused")
        || text.contains("timed out")
        || text.contains("error connecting")
    {
        text.push_str("; is PostgreSQL running and listening there?");
    }
    text
}

/// Opens a connection as the URL says.
fn connect(target: &PgTarget) -> Result<Client> {
    use postgres::config::SslMode as WireSsl;
    let mut config = postgres::Config::new();
    match &target.host {
        PgHost::Tcp(host) => config.host(host),
        PgHost::Socket(dir) => config.host_path(dir),
    };
    config
        .port(target.port)
        .user(&target.user)
        .dbname(&target.dbname)
        .application_name(&target.application_name)
        .connect_timeout(target.connect_timeout)
        // A database host that vanishes without closing the connection
        // is noticed within a minute, not after the kernel's hours.
        .keepalives_idle(Duration::from_secs(30))
        .tcp_user_timeout(Duration::from_secs(30));
    if let Some(password) = target.password()? {
        config.password(password);
    }
    let connected = match target.sslmode {
        SslMode::Disable => {
            config.ssl_mode(WireSsl::Disable);
            config.connect(postgres::NoTls)
        }
        SslMode::Prefer => {
            config.ssl_mode(WireSsl::Prefer);
            config.connect(tls::connector(target)?)
        }
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            config.ssl_mode(WireSsl::Require);
            config.connect(tls::connector(target)?)
        }
    };
    connected.map_err(|e| StoreError::Database {
        db: target.url.clone(),
        detail: describe(&e),
    })
}

/// [`connect`] within the URL's `connect_timeout`, from the first byte
/// to a ready session. The driver's own timeout covers only the TCP
/// connect: a server that takes the connection and never answers (a
/// stopped process, a stuck host behind a proxy) would hold a command,
/// or a node's watcher, forever. The attempt runs on a thread of its
/// own; one that outlives the timeout is kept in `pending` and waited
/// for again next time, so a hung server costs one thread, not one per
/// retry.
fn connect_within(
    target: &Arc<PgTarget>,
    pending: &mut Option<mpsc::Receiver<Result<Client>>>,
) -> Result<Client> {
    let attempt = match pending.take() {
        Some(attempt) => attempt,
        None => {
            let (tx, rx) = mpsc::sync_channel(1);
            let for_thread = target.clone();
            std::thread::Builder::new()
                .name("mailcert-postgres-connect".into())
                .spawn(move || {
                    let _ = tx.send(connect(&for_thread));
                })
                .map_err(|e| StoreError::Database {
                    db: target.url.clone(),
                    detail: format!("cannot start a connection thread: {e}"),
                })?;
            rx
        }
    };
    match attempt.recv_timeout(target.connect_timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            *pending = Some(attempt);
            Err(StoreError::Database {
                db: target.url.clone(),
                detail: format!(
                    "the server took the connection but did not answer within {} s (connect_timeout); is PostgreSQL running normally there?",
                    target.connect_timeout.as_secs()
                ),
            })
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(StoreError::Database {
            db: target.url.clone(),
            detail: "the connection attempt ended without an answer".into(),
        }),
    }
}

type Job<R> = Box<dyn FnOnce(&mut Link) -> Result<R> + Send>;
type Erased = Box<dyn FnOnce(&mut Link) + Send>;

/// The worker thread's side: the connection, made again when lost.
struct Link {
    target: Arc<PgTarget>,
    client: Option<Client>,
    /// `LISTEN` was asked for: a new connection listens again.
    listening: bool,
    /// A new connection was made since the last wait: notifications may
    /// have been missed meanwhile.
    reconnected: bool,
    /// A connection attempt that outlived `connect_timeout`, still
    /// running on its own thread: the next call waits for it again
    /// rather than starting another.
    pending: Option<mpsc::Receiver<Result<Client>>>,
}

impl Link {
    fn client(&mut self) -> Result<&mut Client> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        match &mut self.client {
            Some(client) => Ok(client),
            slot @ None => {
                let mut client = connect_within(&self.target, &mut self.pending)?;
                if self.listening {
                    client.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))?;
                }
                self.reconnected = true;
                Ok(slot.insert(client))
            }
        }
    }
}

/// The thread that owns the connection (see the module documentation).
struct Worker {
    jobs: Option<mpsc::Sender<Erased>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread and connects, so that a wrong URL, password or
    /// host fails here.
    fn start(target: Arc<PgTarget>) -> Result<Worker> {
        let (jobs, inbox) = mpsc::channel::<Erased>();
        let url = target.url.clone();
        let thread = std::thread::Builder::new()
            .name("mailcert-postgres".into())
            .spawn(move || {
                let mut link = Link {
                    target,
                    client: None,
                    listening: false,
                    reconnected: false,
                    pending: None,
                };
                for job in inbox {
                    job(&mut link);
                }
            })
            .map_err(|e| StoreError::Database {
                db: url,
                detail: format!("cannot start its connection thread: {e}"),
            })?;
        let worker = Worker {
            jobs: Some(jobs),
            thread: Some(thread),
        };
        worker.run(Box::new(|link: &mut Link| {
            link.client()?;
            link.reconnected = false;
            Ok(())
        }))?;
        Ok(worker)
    }

    fn run<R: Send + 'static>(&self, job: Job<R>) -> Result<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        let erased: Erased = Box::new(move |link: &mut Link| {
            let _ = tx.send(job(link));
        });
        let gone = || StoreError::Refused("the store's connection thread has stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(erased)
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Store for PostgresStore {
    fn certificates(&self) -> Result<Vec<CertRecord>> {
        self.call(ops::certificates)
    }

    fn certificate(&self, thumbprint: &str) -> Result<Option<CertRecord>> {
        let thumbprint = thumbprint.to_string();
        self.call(move |c| ops::certificate(c, &thumbprint))
    }

    fn certificates_with_prefix(&self, prefix: &str) -> Result<Vec<CertRecord>> {
        let prefix = prefix.to_string();
        self.call(move |c| ops::certificates_with_prefix(c, &prefix))
    }

    fn pending_with_prefix(&self, prefix: &str) -> Result<Vec<PendingRecord>> {
        let prefix = prefix.to_string();
        self.call(move |c| ops::pending_with_prefix(c, &prefix))
    }

    fn chain(&self, thumbprint: &str) -> Result<Vec<Vec<u8>>> {
        let thumbprint = thumbprint.to_string();
        self.call(move |c| ops::chain(c, &thumbprint))
    }

    fn private_key(&self, thumbprint: &str) -> Result<Option<Vec<u8>>> {
        let thumbprint = thumbprint.to_string();
        self.call_keyed(move |c, key| ops::private_key(c, key, &thumbprint))
    }

    fn pending_requests(&self) -> Result<Vec<PendingRecord>> {
        self.call(ops::pending_requests)
    }

    fn pending_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let id = id.to_string();
        self.call_keyed(move |c, key| ops::pending_key(c, key, &id))
    }

    fn bindings(&self) -> Result<Vec<Binding>> {
        self.call(ops::bindings)
    }

    fn anchors(&self) -> Result<Vec<AnchorRecord>> {
        self.call(|c: &mut Client| ops::anchors(c))
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        self.call(move |c| ops::audit_log(c, limit))
    }

    fn value(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let name = key.to_string();
        self.call_keyed(move |c, key| {
            let mut tx = c.transaction()?;
            let value = ops::read_value(&mut tx, key, &name)?;
            tx.commit()?;
            Ok(value)
        })
    }

    fn value_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = prefix.to_string();
        self.call(move |c| ops::value_keys(c, &prefix))
    }

    fn generation(&self) -> Result<i64> {
        self.call(|c: &mut Client| ops::generation(c))
    }

    fn apply(&mut self, change: Change) -> Result<()> {
        self.call_keyed(move |c, key| ops::apply(c, key, &change))
    }

    fn shared(&self) -> bool {
        true
    }

    fn warnings(&self) -> Vec<StoreWarning> {
        self.warnings.clone()
    }

    /// LISTEN on the worker's connection, then waits for a notification.
    /// The first call, and any call after a reconnection, answers `true`
    /// at once: changes may have been committed while nobody listened.
    fn wait_for_change(&mut self, timeout: Duration) -> Result<bool> {
        let url = self.target.url.clone();
        self.worker
            .run(Box::new(move |link: &mut Link| {
                if !link.listening {
                    link.listening = true;
                    link.client()?
                        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))?;
                    return Ok(true);
                }
                link.client()?;
                if std::mem::take(&mut link.reconnected) {
                    return Ok(true);
                }
                let Some(client) = link.client.as_mut() else {
                    return Ok(true);
                };
                let mut notifications = client.notifications();
                let told = notifications.timeout_iter(timeout).next()?.is_some();
                // Several changes in a row need one reload.
                let mut rest = notifications.iter();
                while rest.next()?.is_some() {}
                Ok(told)
            }))
            .map_err(|e| named(&url, e))
    }

    fn record_node(&mut self, node: &NodeRecord) -> Result<()> {
        let node = node.clone();
        self.call(move |c| fleet::record_node(c, &node))
    }

    fn nodes(&self) -> Result<Vec<NodeRecord>> {
        self.call(fleet::nodes)
    }

    fn dump(&self) -> Result<StoreDump> {
        self.call_keyed(fleet::dump)
    }

    fn restore(&mut self, dump: &StoreDump, replace: bool) -> Result<()> {
        let dump = dump.clone();
        let url = self.target.url.clone();
        self.call_keyed(move |c, key| fleet::restore(c, key, &dump, replace, &url))
    }
}
