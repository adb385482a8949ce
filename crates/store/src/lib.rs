//! The certificate store of mailcert: certificates with their chains and
//! encrypted private keys, pending requests, service bindings, trust
//! anchors, small named values (CA, ACME) and an audit log.
//!
//! Everything sits behind the [`Store`] trait so that commands never see
//! the database. [`SqliteStore`] is the embedded default: one file, 0600,
//! its key in a separate 0600 file. Every [`Change`] is one transaction:
//! a crash leaves the old state or the new one, never half of it.
#![forbid(unsafe_code)]

mod crypto;
mod error;
mod keyfile;
mod location;
mod model;
mod schema;
mod sqlite;
pub mod values;

pub use crypto::{decode_hex, encode_hex};
pub use error::{Result, StoreError};
pub use location::{
    default_store_path, key_path_for, ChosenStore, ConfiguredStore, ExplicitStore, StoreLocation,
    StoreSource,
};
pub use model::{
    AnchorRecord, AuditEntry, Binding, CertRecord, Change, NewCertificate, NewPending, Op, Origin,
    PendingRecord,
};
pub use sqlite::{Opened, SqliteStore, StoreWarning};

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
}
