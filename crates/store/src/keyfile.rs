//! The store key file: 64 hexadecimal characters, 0600, beside the
//! database unless told otherwise.
//!
//! A key file appears whole or not at all: the key is written to a
//! temporary file in the same directory, flushed to disk, renamed into
//! place, and the directory is flushed too. A crash in the middle leaves
//! no key file (or the empty one an older version left behind), never a
//! half-written one; [`KeyFileState::Empty`] is how the store recognises
//! that leftover.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::crypto::{decode_hex, encode_hex, StoreKey};
use crate::error::{Result, StoreError};

/// What is at the key file's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFileState {
    Missing,
    /// Zero bytes (or only white space): what an interrupted creation by
    /// an older version left; it holds no key.
    Empty,
    Present,
}

pub(crate) fn state(path: &Path) -> Result<KeyFileState> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(KeyFileState::Empty),
        Ok(_) => Ok(KeyFileState::Present),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyFileState::Missing),
        Err(source) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes a new random key to `path`, replacing what is there (nothing,
/// or an empty file), and returns it. The caller holds the store's
/// creation lock, so no other process writes a key meanwhile.
pub(crate) fn write_new(path: &Path) -> Result<StoreKey> {
    write_key(path, true).map(|made| made.expect("replacing always writes"))
}

/// Writes a new random key to `path` unless a file is there by then:
/// `Some(key)` when this call made the file, `None` when another process
/// did first (read that one). For a store with no lock of its own on
/// this machine (PostgreSQL): two nodes starting together on one host
/// must not each write a key and have the second replace the first.
pub(crate) fn write_new_unless_present(path: &Path) -> Result<Option<StoreKey>> {
    write_key(path, false)
}

fn write_key(path: &Path, replace: bool) -> Result<Option<StoreKey>> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    create_private_dir(dir)?;
    let bytes = StoreKey::generate();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store.key".into());
    // tempfile creates the file 0600 with a name no other process has.
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    writeln!(temp, "{}", encode_hex(&bytes)).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    if replace {
        temp.persist(path).map_err(|e| io(e.error))?;
    } else {
        match temp.persist_noclobber(path) {
            Ok(_) => {}
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(io(e.error)),
        }
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    Ok(Some(StoreKey::from_bytes(&bytes)))
}

pub(crate) fn read(path: &Path) -> Result<StoreKey> {
    let text = std::fs::read_to_string(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if text.trim().is_empty() {
        return Err(StoreError::BadKeyFile {
            key: path.to_path_buf(),
            reason: "it is empty".into(),
        });
    }
    let bytes = decode_hex(text.trim()).ok_or_else(|| StoreError::BadKeyFile {
        key: path.to_path_buf(),
        reason: "it is not 64 hexadecimal characters".into(),
    })?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| StoreError::BadKeyFile {
        key: path.to_path_buf(),
        reason: "it does not hold a 32-byte key".into(),
    })?;
    Ok(StoreKey::from_bytes(&bytes))
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })
}

/// The permission bits of a file, when others than its owner may read it.
pub(crate) fn exposed_mode(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
        .filter(|m| m & 0o077 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_file_is_whole_private_and_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/store.db.key");
        assert_eq!(state(&path).unwrap(), KeyFileState::Missing);
        write_new(&path).unwrap();
        assert_eq!(state(&path).unwrap(), KeyFileState::Present);
        assert!(read(&path).is_ok());
        assert_eq!(exposed_mode(&path), None);
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("store.db.key")]);
    }

    #[test]
    fn an_empty_key_file_is_told_apart_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "").unwrap();
        assert_eq!(state(&path).unwrap(), KeyFileState::Empty);
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(state(&path).unwrap(), KeyFileState::Empty);
        let err = read(&path).err().unwrap().to_string();
        assert!(err.contains("it is empty"), "{err}");
        write_new(&path).unwrap();
        assert_eq!(state(&path).unwrap(), KeyFileState::Present);
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim().len(), 64);
    }
}
