use std::path::PathBuf;

use thiserror::Error;

/// The URL schemes mailcert reads, for error messages.
pub const SUPPORTED_SCHEMES: &str =
    "a file path (SQLite), or a postgres:// or postgresql:// URL (PostgreSQL)";

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
    #[error("the store '{given}' uses the URL scheme '{scheme}', which mailcert does not support; give {}", SUPPORTED_SCHEMES)]
    UnsupportedScheme { given: String, scheme: String },
    #[error("the store URL {url} is malformed: {reason}; the form is postgres://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full]")]
    BadUrl { url: String, reason: String },
    #[error("the store URL {url} holds a password, which would show in the process list, shell history and logs; remove it from the URL and put it in ~/.pgpass (or a file named by passfile=, or PGPASSWORD)")]
    PasswordInUrl { url: String },
    #[error("the PostgreSQL store {db} needs its key file named, since there is no folder to keep it beside the database: set MAILCERT_STORE_KEY_FILE (or --store-key-file, or [store] key_file in the front end's configuration) to the key file every node of the fleet holds a copy of")]
    KeyFileNeeded { db: String },
    #[error("the store database {db}: {detail}")]
    Database { db: String, detail: String },
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("the store {db} already holds certificates, requests, anchors or values; nothing was copied. Copy into an empty store, or pass --force to replace what it holds")]
    NotEmpty { db: String },
    #[error("the password file {path} {problem}")]
    PasswordFile { path: PathBuf, problem: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;
