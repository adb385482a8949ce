use std::path::PathBuf;

use thiserror::Error;

/// Errors of the store. Each names the file or record and what to do.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("the store key file {key} is missing, so the private keys in {db} cannot be decrypted; restore the key file from your backup, or point MAILCERT_STORE_KEY_FILE at it")]
    KeyFileMissing { db: PathBuf, key: PathBuf },
    #[error("the store {db} was never finished: its creation was interrupted before its key file {key} was written, and nothing in it is encrypted yet; run `mailcert init` (or any command that creates a store) to finish it")]
    Unfinished { db: PathBuf, key: PathBuf },
    #[error("the store key file {key} does not open the store {db} (wrong key file); use the key file created with this store, or point MAILCERT_STORE_KEY_FILE at it")]
    WrongKey { db: PathBuf, key: PathBuf },
    #[error("the store key file {key} is damaged: {reason}; restore it from your backup")]
    BadKeyFile { key: PathBuf, reason: String },
    #[error("{path} is not a mailcert store ({reason}); refusing to touch it. Choose another path with --store or MAILCERT_STORE")]
    Foreign { path: PathBuf, reason: String },
    #[error("the store {path} was written by a newer mailcert (schema {found}, this one knows {known}); upgrade mailcert")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("no store at {path}; create it with `mailcert init` (or pass --store)")]
    NotFound { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the store database {} is damaged (SQLite says: {detail}); nothing was changed, and mailcert never writes to or replaces a damaged store. Restore {} and its key file {} from your backup (stop `mailcert serve` first); without a backup, `sqlite3 {} .recover` salvages what is still readable as SQL", path.display(), path.display(), key.display(), path.display())]
    Damaged {
        path: PathBuf,
        key: PathBuf,
        detail: String,
    },
    #[error("store database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store holds a damaged record ({what}): {reason}")]
    Corrupt { what: String, reason: String },
    #[error("could not decrypt the private key of {thumbprint}: the store key does not match or the record is damaged")]
    Decrypt { thumbprint: String },
    #[error("{0}")]
    Refused(String),
    #[error("the store value {key} was changed by another process meanwhile; nothing was applied, try again")]
    Conflict { key: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;
