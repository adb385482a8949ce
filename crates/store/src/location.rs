//! Where the store lives: `--store`, then `MAILCERT_STORE`, then the
//! default (root: /var/lib/mailcert; others: the XDG data directory).
//! The key file sits beside the database unless `MAILCERT_STORE_KEY_FILE`
//! names another.

use std::path::{Path, PathBuf};

/// The database file and its key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    pub db: PathBuf,
    pub key: PathBuf,
}

impl StoreLocation {
    /// Resolves the location from an explicit path (the `--store` flag,
    /// which clap also fills from `MAILCERT_STORE`) and an explicit key
    /// file (from `MAILCERT_STORE_KEY_FILE`).
    pub fn resolve(store: Option<&Path>, key_file: Option<&Path>) -> StoreLocation {
        let db = store
            .map(Path::to_path_buf)
            .unwrap_or_else(default_store_path);
        let key = key_file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| key_path_for(&db));
        StoreLocation { db, key }
    }
}

/// `store.db` → `store.db.key`.
pub fn key_path_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".key");
    db.with_file_name(name)
}

/// The default database path for the current user.
pub fn default_store_path() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/mailcert/store.db");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("mailcert/store.db")
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}
