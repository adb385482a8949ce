//! The certificate store of mailcert: certificates with their chains and
//! encrypted private keys, pending requests, service bindings, trust
//! anchors, small named values (CA, ACME) and an audit log.
//!
//! Everything sits behind the [`Store`] trait so that commands never see
//! the database. [`SqliteStore`] is the embedded default: one file, 0600,
//! its key in a separate 0600 file. [`PostgresStore`] is the store a
//! fleet of servers shares; it tells every node about each change
//! (LISTEN/NOTIFY). Every [`Change`] is one transaction: a crash leaves
//! the old state or the new one, never half of it. [`open`] and
//! [`open_or_create`] pick the backend from the [`StoreLocation`].
#![forbid(unsafe_code)]

mod crypto;
mod dump;
mod error;
mod keyfile;
mod location;
mod model;
mod postgres;
mod schema;
mod sqlite;
mod sqlite_fleet;
pub mod values;

use std::time::Duration;

pub use crypto::{decode_hex, encode_hex};
pub use dump::{DumpedBinding, DumpedCertificate, DumpedPending, DumpedValue, StoreDump};
pub use error::{Result, StoreError, SUPPORTED_SCHEMES};
pub use location::{
    default_store_path, key_path_for, ChosenStore, ConfiguredStore, ExplicitStore, StoreDb,
    StoreLocation, StoreSource,
};
pub use model::{
    AnchorRecord, AuditEntry, Binding, CertRecord, Change, NewCertificate, NewPending,
    NodeListener, NodeRecord, Op, Origin, PendingRecord, ServedName,
};
pub use postgres::{PgHost, PgTarget, PostgresStore, RootCerts, SslMode, CHANGES_CHANNEL};
pub use schema::SCHEMA_VERSION;
pub use sqlite::{Opened, SqliteStore, StoreWarning};

/// A store of either kind, as commands and the front end hold it.
pub type BoxedStore = Box<dyn Store + Send>;

/// Opens an existing store; never creates one.
pub fn open(location: &StoreLocation) -> Result<BoxedStore> {
    Ok(match location.database()? {
        StoreDb::Sqlite(_) => Box::new(SqliteStore::open(location)?),
        StoreDb::Postgres(_) => Box::new(PostgresStore::open(location)?),
    })
}

/// Opens the store, creating it (database file or schema, and the key
/// file) when it does not exist yet. Returns how it found it.
pub fn open_or_create(location: &StoreLocation) -> Result<(BoxedStore, Opened)> {
    Ok(match location.database()? {
        StoreDb::Sqlite(_) => {
            let (store, opened) = SqliteStore::open_or_create(location)?;
            (Box::new(store), opened)
        }
        StoreDb::Postgres(_) => {
            let (store, opened) = PostgresStore::open_or_create(location)?;
            (Box::new(store), opened)
        }
    })
}

/// Whether a store exists at `location` (a database file with content, or
/// a PostgreSQL database holding the mailcert schema). Never creates
/// anything; a PostgreSQL server that cannot be reached is an error.
pub fn exists(location: &StoreLocation) -> Result<bool> {
    match location.database()? {
        StoreDb::Sqlite(path) => Ok(std::fs::metadata(path)
            .map(|m| m.len() > 0)
            .unwrap_or(false)),
        StoreDb::Postgres(target) => postgres::schema_exists(&target),
    }
}

/// What every store backend offers. Reads see committed state; `apply`
/// commits a whole [`Change`] or nothing.
pub trait Store {
    fn certificates(&self) -> Result<Vec<CertRecord>>;
    fn certificate(&self, thumbprint: &str) -> Result<Option<CertRecord>>;
    /// Certificates whose thumbprint starts with `prefix` (upper-case hex).
    fn certificates_with_prefix(&self, prefix: &str) -> Result<Vec<CertRecord>>;
    /// Pending requests whose id starts with `prefix` (upper-case hex).
    fn pending_with_prefix(&self, prefix: &str) -> Result<Vec<PendingRecord>>;
    /// DER of the chain above the leaf, issuer first: what a server sends
    /// after the certificate, so never a self-signed root.
    fn chain(&self, thumbprint: &str) -> Result<Vec<Vec<u8>>>;
    /// The decrypted PKCS#8 private key, if the store holds one.
    fn private_key(&self, thumbprint: &str) -> Result<Option<Vec<u8>>>;
    fn pending_requests(&self) -> Result<Vec<PendingRecord>>;
    fn pending_key(&self, id: &str) -> Result<Option<Vec<u8>>>;
    fn bindings(&self) -> Result<Vec<Binding>>;
    fn anchors(&self) -> Result<Vec<AnchorRecord>>;
    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>>;
    /// A named value set by `Op::SetValue` (decrypted when it was secret).
    fn value(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Keys of named values starting with `prefix`.
    fn value_keys(&self, prefix: &str) -> Result<Vec<String>>;
    /// Increases with every committed change: cheap to poll for reloads.
    fn generation(&self) -> Result<i64>;
    fn apply(&mut self, change: Change) -> Result<()>;

    /// Shared by several servers (PostgreSQL): each node gets its own
    /// secure-by-default certificate, bound to that node only.
    fn shared(&self) -> bool {
        false
    }

    /// What the administrator should fix about the store (file modes).
    fn warnings(&self) -> Vec<StoreWarning> {
        Vec::new()
    }

    /// Waits until another process may have committed a change, at most
    /// `timeout`; `true` when told of one. Callers compare
    /// [`Store::generation`] afterwards: a `false` is the moment for the
    /// periodic re-read. A file store cannot be told, so it waits a short
    /// poll interval and answers `true`.
    fn wait_for_change(&mut self, timeout: Duration) -> Result<bool> {
        std::thread::sleep(timeout.min(FILE_POLL_INTERVAL));
        Ok(true)
    }

    /// Records a node's heartbeat and what it serves (not a [`Change`]:
    /// no audit entry, and the generation stays, so nodes do not reload
    /// each other's heartbeats).
    fn record_node(&mut self, node: &NodeRecord) -> Result<()>;
    /// Every node that ever reported, by name.
    fn nodes(&self) -> Result<Vec<NodeRecord>>;

    /// Everything the store holds, decrypted, for a copy.
    fn dump(&self) -> Result<StoreDump>;
    /// Writes a dump into this store in one transaction, sealing private
    /// keys with this store's key. With `replace`, what the store held
    /// is deleted first; without, a store holding anything is refused.
    fn restore(&mut self, dump: &StoreDump, replace: bool) -> Result<()>;
}

/// How often a file store is looked at for changes by other processes.
pub const FILE_POLL_INTERVAL: Duration = Duration::from_millis(200);
