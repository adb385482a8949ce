//! The embedded store: one SQLite file (bundled SQLite, no system library).

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mailcert_x509::chain::{is_root, without_roots};
use mailcert_x509::{CertSummary, Service, Trust};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use time::OffsetDateTime;

use crate::crypto::{StoreKey, KEY_CHECK};
use crate::dump::StoreDump;
use crate::error::{Result, StoreError};
use crate::keyfile::{self, KeyFileState};
use crate::location::StoreLocation;
use crate::model::*;
use crate::schema::{APPLICATION_ID, CHAINS_WITHOUT_ROOTS, MIGRATIONS};
use crate::Store;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

pub struct SqliteStore {
    pub(crate) conn: Connection,
    pub(crate) key: StoreKey,
    location: StoreLocation,
    warnings: Vec<StoreWarning>,
}

/// How [`SqliteStore::open_or_create`] found the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// An existing store.
    Existing,
    /// There was no file: a new store was created.
    Created,
    /// The file existed but was empty (zero bytes), so it held nothing to
    /// lose: it became a new store, as SQLite itself would make it.
    EmptyFileInitialised,
    /// An earlier creation of the store was interrupted before anything
    /// was encrypted under its key (its key file was missing or empty):
    /// it got its key now, and `init` has yet to fill it.
    Finished,
}

impl Opened {
    /// A new store, which `init` has yet to fill.
    pub fn is_new(self) -> bool {
        self != Opened::Existing
    }
}

/// Something about the store's files the administrator should fix; the
/// store works regardless.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreWarning {
    /// The key file can be read by others than its owner.
    KeyFileExposed { path: PathBuf, mode: u32 },
    /// The database file can be read by others than its owner.
    DatabaseExposed { path: PathBuf, mode: u32 },
}

impl std::fmt::Display for StoreWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreWarning::KeyFileExposed { path, mode } => write!(
                f,
                "the store key file {} has mode {mode:04o}: users other than its owner can read it, and with it decrypt every private key in the store; fix: chmod 600 {}",
                path.display(),
                path.display()
            ),
            StoreWarning::DatabaseExposed { path, mode } => write!(
                f,
                "the store database {} has mode {mode:04o}: users other than its owner can read the certificates, bindings and audit log; fix: chmod 600 {}",
                path.display(),
                path.display()
            ),
        }
    }
}

impl SqliteStore {
    /// Opens an existing store; never creates one.
    pub fn open(location: &StoreLocation) -> Result<Self> {
        Self::open_at(location, MIGRATIONS.len())
    }

    /// Creates a store at an older schema version, to test the forward
    /// migrations; nothing else should make one.
    #[doc(hidden)]
    pub fn create_at_version(location: &StoreLocation, version: usize) -> Result<()> {
        if let Some(dir) = location.db.parent().filter(|d| !d.as_os_str().is_empty()) {
            keyfile::create_private_dir(dir)?;
        }
        create_private_file(&location.db)?;
        provide_key(location)?;
        Self::open_at(location, version).map(drop)
    }

    fn open_at(location: &StoreLocation, version: usize) -> Result<Self> {
        if !location.db.exists() {
            return Err(StoreError::NotFound {
                path: location.db.clone(),
            });
        }
        ensure_sqlite_file(&location.db)?;
        let conn = Connection::open_with_flags(
            &location.db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| foreign(&location.db, e))?;
        ensure_ours(&conn, &location.db)?;
        match keyfile::state(&location.key)? {
            KeyFileState::Present => {}
            KeyFileState::Missing if key_check(&conn)?.is_some() => {
                return Err(StoreError::KeyFileMissing {
                    db: location.db.clone(),
                    key: location.key.clone(),
                })
            }
            KeyFileState::Empty if holds_secrets(&conn)? => {
                return Err(StoreError::BadKeyFile {
                    key: location.key.clone(),
                    reason: "it is empty".into(),
                })
            }
            // Nothing was ever encrypted under a key: the store's
            // creation stopped before it was finished.
            KeyFileState::Missing | KeyFileState::Empty => {
                return Err(StoreError::Unfinished {
                    db: location.db.clone(),
                    key: location.key.clone(),
                })
            }
        }
        let key = keyfile::read(&location.key)?;
        let mut store = SqliteStore {
            conn,
            key,
            location: location.clone(),
            warnings: exposed_files(location),
        };
        store.configure()?;
        store.migrate(version).map_err(|e| store.damaged(e))?;
        store.ensure_key_matches().map_err(|e| store.damaged(e))?;
        Ok(store)
    }

    /// Opens the store, creating the database and its key file when they
    /// do not exist yet, and finishing a store whose creation was
    /// interrupted (see [`Opened::Finished`]). Returns how it found the
    /// file.
    pub fn open_or_create(location: &StoreLocation) -> Result<(Self, Opened)> {
        let size = std::fs::metadata(&location.db).map(|m| m.len()).ok();
        let mut opened = match size {
            Some(0) => Opened::EmptyFileInitialised,
            Some(_) => Opened::Existing,
            None => Opened::Created,
        };
        if opened.is_new() {
            if let Some(dir) = location.db.parent().filter(|d| !d.as_os_str().is_empty()) {
                keyfile::create_private_dir(dir)?;
            }
            create_private_file(&location.db)?;
        } else {
            ensure_sqlite_file(&location.db)?;
        }
        if keyfile::state(&location.key)? != KeyFileState::Present
            && provide_key(location)?
            && opened == Opened::Existing
        {
            opened = Opened::Finished;
        }
        let store = Self::open(location)?;
        Ok((store, opened))
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// What the administrator should fix about the store's files.
    pub fn warnings(&self) -> &[StoreWarning] {
        &self.warnings
    }

    /// Names the file when SQLite finds it damaged, with what to do.
    fn damaged(&self, error: StoreError) -> StoreError {
        match error {
            StoreError::Sqlite(e) if is_damage(&e) => StoreError::Damaged {
                path: self.location.db.clone(),
                key: self.location.key.clone(),
                detail: e.to_string(),
            },
            other => other,
        }
    }

    fn configure(&mut self) -> Result<()> {
        let io = |e| foreign(&self.location.db, e);
        self.conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(io)?;
        // temp_store: the sort behind `list` (ORDER BY not_before, rows
        // with their DER) outgrows the page cache in a large store; on
        // disk it wrote some 9 MB to a temporary file for every `list` of
        // 10,000 certificates, which a busy disk made slower than the
        // reading itself.
        self.conn
            .execute_batch(
                "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;",
            )
            .map_err(io)?;
        // WAL lets the front end read while a command writes.
        let _mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(io)?;
        Ok(())
    }

    fn migrate(&mut self, to: usize) -> Result<()> {
        let known = MIGRATIONS.len() as i64;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > known {
            return Err(StoreError::TooNew {
                path: self.location.db.clone(),
                found: version,
                known,
            });
        }
        if version >= to as i64 {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)?;
        // Another process may have migrated while we waited for the lock.
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (index, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .take(to)
            .skip(version as usize)
        {
            tx.execute_batch(sql)?;
            let reached = index as i64 + 1;
            if reached == CHAINS_WITHOUT_ROOTS {
                strip_roots_from_chains(&tx)?;
            }
            tx.pragma_update(None, "user_version", reached)?;
        }
        if version == 0 {
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('key_check', ?1), ('generation', 0)",
                params![self.key.seal(KEY_CHECK)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn ensure_key_matches(&self) -> Result<()> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match sealed.and_then(|s| self.key.open(&s)) {
            Some(plain) if plain == KEY_CHECK => Ok(()),
            _ => Err(StoreError::WrongKey {
                db: self.location.db.clone(),
                key: self.location.key.clone(),
            }),
        }
    }

    fn decrypt(&self, sealed: &[u8], what: &str) -> Result<Vec<u8>> {
        self.key.open(sealed).ok_or_else(|| StoreError::Decrypt {
            thumbprint: what.to_string(),
        })
    }
}

/// Gives a store whose key file is missing or empty its key, when nothing
/// was ever encrypted under one (an earlier creation was interrupted, or
/// this is a new store). Done under SQLite's exclusive lock on the
/// database, so that two processes creating the same store agree on one
/// key. Returns whether a key was written; when none could be, `open`
/// then says why.
fn provide_key(location: &StoreLocation) -> Result<bool> {
    let mut conn = Connection::open_with_flags(
        &location.db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| foreign(&location.db, e))?;
    ensure_ours(&conn, &location.db)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| foreign(&location.db, e))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(|e| foreign(&location.db, e))?;
    let check = key_check(&tx)?;
    let needed = match keyfile::state(&location.key)? {
        // Another process gave it one while we waited for the lock.
        KeyFileState::Present => false,
        // A key file that was there once is never recreated next to the
        // store it opened: `open` asks for it back.
        KeyFileState::Missing => check.is_none(),
        KeyFileState::Empty => check.is_none() || !holds_secrets(&tx)?,
    };
    if !needed {
        return Ok(false);
    }
    let key = keyfile::write_new(&location.key)?;
    if check.is_some() {
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'key_check'",
            params![key.seal(KEY_CHECK)],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

/// The sealed check value, once the schema exists.
fn key_check(conn: &Connection) -> Result<Option<Vec<u8>>> {
    let has_meta: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Whether anything in the store is encrypted under its key: private
/// keys of certificates and pending requests, secret named values.
fn holds_secrets(conn: &Connection) -> Result<bool> {
    if key_check(conn)?.is_none() {
        return Ok(false);
    }
    Ok(conn.query_row(
        "SELECT (SELECT count(*) FROM certificates WHERE private_key IS NOT NULL) \
              + (SELECT count(*) FROM pending_requests) \
              + (SELECT count(*) FROM named_values WHERE secret = 1) > 0",
        [],
        |r| r.get(0),
    )?)
}

/// Refuses SQLite files that another program made: they are never
/// written to, let alone overwritten.
fn ensure_ours(conn: &Connection, path: &Path) -> Result<()> {
    // Both read in one snapshot: another process creating the store
    // commits its tables and its application id together, and reading
    // them apart could see the id before and the tables after.
    let snapshot = conn.unchecked_transaction().map_err(|e| foreign(path, e))?;
    let app_id: i64 = snapshot
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| foreign(path, e))?;
    let tables: i64 = snapshot
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(|e| foreign(path, e))?;
    snapshot.finish().map_err(|e| foreign(path, e))?;
    if app_id == APPLICATION_ID {
        return Ok(());
    }
    if app_id != 0 || tables > 0 {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            reason: "it is a SQLite database of another application".into(),
        });
    }
    Ok(())
}

/// Errors of the first queries on a file: it starts like a SQLite
/// database, so damage there is damage, not a foreign file.
fn foreign(path: &Path, e: rusqlite::Error) -> StoreError {
    if is_damage(&e) {
        return StoreError::Damaged {
            path: path.to_path_buf(),
            key: crate::location::key_path_for(path),
            detail: e.to_string(),
        };
    }
    StoreError::Sqlite(e)
}

fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// The store's files should be 0600; say which are not.
fn exposed_files(location: &StoreLocation) -> Vec<StoreWarning> {
    let mut out = Vec::new();
    if let Some(mode) = keyfile::exposed_mode(&location.key) {
        out.push(StoreWarning::KeyFileExposed {
            path: location.key.clone(),
            mode,
        });
    }
    if let Some(mode) = keyfile::exposed_mode(&location.db) {
        out.push(StoreWarning::DatabaseExposed {
            path: location.db.clone(),
            mode,
        });
    }
    out
}

fn ensure_sqlite_file(path: &Path) -> Result<()> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut header = [0u8; 16];
    let read = file.read(&mut header).map_err(io)?;
    if read == 0 {
        return Ok(());
    }
    if read < 16 || &header != SQLITE_MAGIC {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            reason: "it is not a SQLite database".into(),
        });
    }
    Ok(())
}

fn create_private_file(path: &Path) -> Result<()> {
    let result = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path);
    let file = result.map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })
}

pub(crate) const CERT_COLUMNS: &str =
    "thumbprint, sha256, der, subject, issuer, serial, names, ip_addresses, \
    not_before, not_after, key_algorithm, key_size, signature_algorithm, is_self_signed, is_ca, \
    server_auth, has_eku, subject_key_id, authority_key_id, spki, subject_raw, issuer_raw, chain, \
    private_key IS NOT NULL, exportable, friendly_name, origin, trust, created_at, rowid";

pub(crate) fn timestamp(value: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(value).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The first string after every string that starts with `prefix`
/// (thumbprints are upper-case hex, so '~' sorts after all of them).
pub(crate) fn prefix_end(prefix: &str) -> String {
    format!("{prefix}~")
}

/// The `chain` column: thumbprints separated by commas.
pub(crate) fn split_chain(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn split_lines(text: String) -> Vec<String> {
    text.split('\n')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn cert_from_row(row: &Row<'_>) -> rusqlite::Result<CertRecord> {
    let ips: String = row.get(7)?;
    let summary = CertSummary {
        thumbprint: row.get(0)?,
        sha256: row.get(1)?,
        subject: row.get(3)?,
        issuer: row.get(4)?,
        serial: row.get(5)?,
        names: split_lines(row.get(6)?),
        ip_addresses: split_lines(ips)
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
        not_before: timestamp(row.get(8)?),
        not_after: timestamp(row.get(9)?),
        key_algorithm: row.get(10)?,
        key_size: row.get(11)?,
        signature_algorithm: row.get(12)?,
        is_self_signed: row.get(13)?,
        is_ca: row.get(14)?,
        server_auth: row.get(15)?,
        has_eku: row.get(16)?,
        subject_key_id: row.get(17)?,
        authority_key_id: row.get(18)?,
        spki_der: row.get(19)?,
        subject_raw: row.get(20)?,
        issuer_raw: row.get(21)?,
    };
    let chain: String = row.get(22)?;
    let origin: String = row.get(26)?;
    let trust: String = row.get(27)?;
    Ok(CertRecord {
        summary,
        der: row.get(2)?,
        chain: split_chain(&chain),
        has_private_key: row.get(23)?,
        exportable: row.get(24)?,
        friendly_name: row.get(25)?,
        origin: Origin::parse(&origin).unwrap_or(Origin::Imported),
        trust: Trust::decode(&trust),
        created_at: timestamp(row.get(28)?),
        seq: row.get(29)?,
    })
}

pub(crate) fn audit_from_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        at: timestamp(r.get(1)?),
        user: r.get(2)?,
        action: r.get(3)?,
        detail: r.get(4)?,
        node: r.get(5)?,
    })
}

/// A binding from its columns ('' is "every listener" / "every node").
pub(crate) fn binding_from_columns(
    thumbprint: String,
    service: &str,
    listener: String,
    node: String,
) -> Result<Binding> {
    let service: Service = service.parse().map_err(|reason| StoreError::Corrupt {
        what: format!("binding of {thumbprint}"),
        reason,
    })?;
    Ok(Binding {
        thumbprint,
        service,
        listener: (!listener.is_empty()).then_some(listener),
        node: (!node.is_empty()).then_some(node),
    })
}

pub(crate) fn pending_from_row(row: &Row<'_>) -> rusqlite::Result<PendingRecord> {
    Ok(PendingRecord {
        id: row.get(0)?,
        csr_der: row.get(1)?,
        subject: row.get(2)?,
        names: split_lines(row.get(3)?),
        key_type: row.get(4)?,
        spki_der: row.get(5)?,
        exportable: row.get(6)?,
        friendly_name: row.get(7)?,
        renews: row.get(8)?,
        created_at: timestamp(row.get(9)?),
    })
}

pub(crate) const PENDING_COLUMNS: &str =
    "id, csr, subject, names, key_type, spki, exportable, friendly_name, renews, created_at";

/// The queries behind [`Store`]; the trait's methods name the file when
/// SQLite finds it damaged.
impl SqliteStore {
    fn raw_certificates(&self) -> Result<Vec<CertRecord>> {
        let sql =
            format!("SELECT {CERT_COLUMNS} FROM certificates ORDER BY not_before DESC, rowid DESC");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], cert_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn raw_certificate(&self, thumbprint: &str) -> Result<Option<CertRecord>> {
        let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE thumbprint = ?1");
        Ok(self
            .conn
            .query_row(&sql, [thumbprint], cert_from_row)
            .optional()?)
    }

    fn raw_certificates_with_prefix(&self, prefix: &str) -> Result<Vec<CertRecord>> {
        // A range over the primary key: an index search, not a scan.
        let sql = format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE thumbprint >= ?1 AND thumbprint < ?2"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![prefix, prefix_end(prefix)], cert_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn raw_pending_with_prefix(&self, prefix: &str) -> Result<Vec<PendingRecord>> {
        let sql =
            format!("SELECT {PENDING_COLUMNS} FROM pending_requests WHERE id >= ?1 AND id < ?2");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![prefix, prefix_end(prefix)], pending_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn raw_chain(&self, thumbprint: &str) -> Result<Vec<Vec<u8>>> {
        // Only the chain column: the certificate row itself is not needed.
        let links: Option<String> = self
            .conn
            .prepare_cached("SELECT chain FROM certificates WHERE thumbprint = ?1")?
            .query_row([thumbprint], |r| r.get(0))
            .optional()?;
        let Some(links) = links else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT der FROM chain_certs WHERE thumbprint = ?1")?;
        let mut out = Vec::new();
        for link in &split_chain(&links) {
            let der: Vec<u8> = stmt
                .query_row([link], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::Corrupt {
                    what: format!("chain of {thumbprint}"),
                    reason: format!("chain certificate {link} is missing"),
                })?;
            out.push(der);
        }
        Ok(out)
    }

    fn raw_private_key(&self, thumbprint: &str) -> Result<Option<Vec<u8>>> {
        let sealed: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT private_key FROM certificates WHERE thumbprint = ?1",
                [thumbprint],
                |r| r.get(0),
            )
            .optional()?;
        sealed
            .flatten()
            .map(|s| self.decrypt(&s, thumbprint))
            .transpose()
    }

    fn raw_pending_requests(&self) -> Result<Vec<PendingRecord>> {
        let sql =
            format!("SELECT {PENDING_COLUMNS} FROM pending_requests ORDER BY created_at DESC, id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], pending_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn raw_pending_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT private_key FROM pending_requests WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        sealed.map(|s| self.decrypt(&s, id)).transpose()
    }

    fn raw_bindings(&self) -> Result<Vec<Binding>> {
        let mut stmt = self
            .conn
            .prepare("SELECT thumbprint, service, listener, node, created_at FROM bindings ORDER BY service, listener, node, created_at")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (thumbprint, service, listener, node) = row?;
            out.push(binding_from_columns(thumbprint, &service, listener, node)?);
        }
        Ok(out)
    }

    fn raw_anchors(&self) -> Result<Vec<AnchorRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT thumbprint, subject, der, source, added_at FROM trust_anchors ORDER BY added_at")?;
        let rows = stmt.query_map([], |r| {
            Ok(AnchorRecord {
                thumbprint: r.get(0)?,
                subject: r.get(1)?,
                der: r.get(2)?,
                source: r.get(3)?,
                added_at: timestamp(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn raw_audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, user, action, detail, node FROM audit_log ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit.min(i64::MAX as usize) as i64], audit_from_row)?;
        let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    fn raw_value(&self, key: &str) -> Result<Option<Vec<u8>>> {
        read_value(&self.conn, &self.key, key)
    }

    fn raw_value_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT key FROM named_values WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
        )?;
        let rows = stmt.query_map([prefix], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn raw_generation(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| {
                r.get(0)
            })?)
    }

    fn raw_apply(&mut self, change: Change) -> Result<()> {
        change.ensure_consistent()?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for op in &change.ops {
            apply_op(&tx, &self.key, op, now)?;
        }
        tx.execute(
            "INSERT INTO audit_log (at, user, action, detail, node) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now, change.user, change.action, change.detail, change.node],
        )?;
        if change.reloads {
            tx.execute(
                "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
                [],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn certificates(&self) -> Result<Vec<CertRecord>> {
        self.raw_certificates().map_err(|e| self.damaged(e))
    }

    fn certificate(&self, thumbprint: &str) -> Result<Option<CertRecord>> {
        self.raw_certificate(thumbprint)
            .map_err(|e| self.damaged(e))
    }

    fn certificates_with_prefix(&self, prefix: &str) -> Result<Vec<CertRecord>> {
        self.raw_certificates_with_prefix(prefix)
            .map_err(|e| self.damaged(e))
    }

    fn pending_with_prefix(&self, prefix: &str) -> Result<Vec<PendingRecord>> {
        self.raw_pending_with_prefix(prefix)
            .map_err(|e| self.damaged(e))
    }

    fn chain(&self, thumbprint: &str) -> Result<Vec<Vec<u8>>> {
        self.raw_chain(thumbprint).map_err(|e| self.damaged(e))
    }

    fn private_key(&self, thumbprint: &str) -> Result<Option<Vec<u8>>> {
        self.raw_private_key(thumbprint)
            .map_err(|e| self.damaged(e))
    }

    fn pending_requests(&self) -> Result<Vec<PendingRecord>> {
        self.raw_pending_requests().map_err(|e| self.damaged(e))
    }

    fn pending_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.raw_pending_key(id).map_err(|e| self.damaged(e))
    }

    fn bindings(&self) -> Result<Vec<Binding>> {
        self.raw_bindings().map_err(|e| self.damaged(e))
    }

    fn anchors(&self) -> Result<Vec<AnchorRecord>> {
        self.raw_anchors().map_err(|e| self.damaged(e))
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        self.raw_audit_log(limit).map_err(|e| self.damaged(e))
    }

    fn value(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.raw_value(key).map_err(|e| self.damaged(e))
    }

    fn value_keys(&self, prefix: &str) -> Result<Vec<String>> {
        self.raw_value_keys(prefix).map_err(|e| self.damaged(e))
    }

    fn generation(&self) -> Result<i64> {
        self.raw_generation().map_err(|e| self.damaged(e))
    }

    fn apply(&mut self, change: Change) -> Result<()> {
        self.raw_apply(change).map_err(|e| self.damaged(e))
    }

    fn warnings(&self) -> Vec<StoreWarning> {
        self.warnings.clone()
    }

    fn record_node(&mut self, node: &NodeRecord) -> Result<()> {
        self.raw_record_node(node).map_err(|e| self.damaged(e))
    }

    fn nodes(&self) -> Result<Vec<NodeRecord>> {
        self.raw_nodes().map_err(|e| self.damaged(e))
    }

    fn dump(&self) -> Result<StoreDump> {
        self.raw_dump().map_err(|e| self.damaged(e))
    }

    fn restore(&mut self, dump: &StoreDump, replace: bool) -> Result<()> {
        self.raw_restore(dump, replace).map_err(|e| self.damaged(e))
    }
}

/// The key file should be 0600: say so when it is not.
pub(crate) fn key_file_exposed(key: &Path) -> Option<StoreWarning> {
    std::fs::metadata(key)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
        .filter(|m| m & 0o077 != 0)
        .map(|mode| StoreWarning::KeyFileExposed {
            path: key.to_path_buf(),
            mode,
        })
}

/// A named value, opened when it is secret; `None` when there is none.
pub(crate) fn read_value(conn: &Connection, key: &StoreKey, name: &str) -> Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>, bool)> = conn
        .query_row(
            "SELECT value, secret FROM named_values WHERE key = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        Some((sealed, true)) => key
            .open(&sealed)
            .map(Some)
            .ok_or_else(|| StoreError::Decrypt {
                thumbprint: name.to_string(),
            }),
        Some((plain, false)) => Ok(Some(plain)),
        None => Ok(None),
    }
}

fn apply_op(tx: &rusqlite::Transaction<'_>, key: &StoreKey, op: &Op, now: i64) -> Result<()> {
    match op {
        Op::InsertCertificate(new) => insert_certificate(tx, key, new, now)?,
        Op::DeleteCertificate(thumbprint) => {
            let bound: i64 = tx.query_row(
                "SELECT count(*) FROM bindings WHERE thumbprint = ?1",
                [thumbprint],
                |r| r.get(0),
            )?;
            if bound > 0 {
                return Err(StoreError::Refused(format!(
                    "certificate {thumbprint} is still bound to {bound} service(s)"
                )));
            }
            tx.execute(
                "DELETE FROM certificates WHERE thumbprint = ?1",
                [thumbprint],
            )?;
            forget_unused_chain_certs(tx)?;
        }
        Op::SetChain {
            thumbprint,
            chain,
            trust,
        } => {
            let links = store_chain(tx, chain)?;
            expect_one(
                tx.execute(
                    "UPDATE certificates SET chain = ?2, trust = ?3 WHERE thumbprint = ?1",
                    params![thumbprint, links, trust.encode()],
                )?,
                thumbprint,
            )?;
        }
        Op::SetTrust { thumbprint, trust } => {
            expect_one(
                tx.execute(
                    "UPDATE certificates SET trust = ?2 WHERE thumbprint = ?1",
                    params![thumbprint, trust.encode()],
                )?,
                thumbprint,
            )?;
        }
        Op::SetPrivateKey {
            thumbprint,
            private_key,
            exportable,
        } => {
            expect_one(
                tx.execute(
                    "UPDATE certificates SET private_key = ?2, exportable = ?3 WHERE thumbprint = ?1",
                    params![thumbprint, key.seal(private_key), exportable],
                )?,
                thumbprint,
            )?;
        }
        Op::Bind(b) => {
            tx.execute(
                "INSERT OR IGNORE INTO bindings (thumbprint, service, listener, node, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![b.thumbprint, b.service.as_str(), b.listener.as_deref().unwrap_or(""), b.node.as_deref().unwrap_or(""), now],
            )?;
        }
        Op::Unbind(b) => {
            tx.execute(
                "DELETE FROM bindings WHERE thumbprint = ?1 AND service = ?2 AND listener = ?3 AND node = ?4",
                params![
                    b.thumbprint,
                    b.service.as_str(),
                    b.listener.as_deref().unwrap_or(""),
                    b.node.as_deref().unwrap_or("")
                ],
            )?;
        }
        Op::InsertPending(new) => insert_pending(tx, key, &new.record, &new.private_key, now)?,
        Op::DeletePending(id) => {
            expect_one(
                tx.execute("DELETE FROM pending_requests WHERE id = ?1", [id])?,
                id,
            )?;
        }
        Op::AddAnchor {
            der,
            subject,
            source,
        } => {
            tx.execute(
                "INSERT OR IGNORE INTO trust_anchors (thumbprint, subject, der, source, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![mailcert_x509::thumbprint(der), subject, der, source, now],
            )?;
        }
        Op::RemoveAnchor(thumbprint) => {
            expect_one(
                tx.execute(
                    "DELETE FROM trust_anchors WHERE thumbprint = ?1",
                    [thumbprint],
                )?,
                thumbprint,
            )?;
        }
        Op::SetValue {
            key: name,
            value,
            secret,
        } => match value {
            Some(value) => {
                let stored = if *secret {
                    key.seal(value)
                } else {
                    value.clone()
                };
                tx.execute(
                    "INSERT INTO named_values (key, value, secret) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value, secret = excluded.secret",
                    params![name, stored, secret],
                )?;
            }
            None => {
                tx.execute("DELETE FROM named_values WHERE key = ?1", [name])?;
            }
        },
        Op::ExpectValue {
            key: name,
            value: expected,
        } => {
            let current = read_value(tx, key, name)?;
            if current.as_ref() != expected.as_ref() {
                return Err(StoreError::Conflict { key: name.clone() });
            }
        }
    }
    Ok(())
}

fn expect_one(changed: usize, what: &str) -> Result<()> {
    if changed == 0 {
        return Err(StoreError::Refused(format!(
            "{what} is not in the store (changed meanwhile?)"
        )));
    }
    Ok(())
}

/// Chain certificates no stored chain links to any more.
fn forget_unused_chain_certs(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    tx.execute(
        "DELETE FROM chain_certs WHERE NOT EXISTS (SELECT 1 FROM certificates \
         WHERE ',' || chain || ',' LIKE '%,' || chain_certs.thumbprint || ',%')",
        [],
    )?;
    Ok(())
}

/// Writes a chain's certificates and returns its links. A chain is what
/// the server sends after its certificate, so a self-signed root is never
/// stored in one, whoever hands it over ([`without_roots`]).
pub(crate) fn store_chain(tx: &rusqlite::Transaction<'_>, chain: &[Vec<u8>]) -> Result<String> {
    let chain = without_roots(chain);
    let mut links = Vec::with_capacity(chain.len());
    for der in &chain {
        let thumb = mailcert_x509::thumbprint(der);
        tx.execute(
            "INSERT OR IGNORE INTO chain_certs (thumbprint, der) VALUES (?1, ?2)",
            params![thumb, der],
        )?;
        links.push(thumb);
    }
    Ok(links.join(","))
}

/// A pending request with its key sealed; `created_at` is `now` for a new
/// one, the original time for a restored one.
pub(crate) fn insert_pending(
    tx: &rusqlite::Transaction<'_>,
    key: &StoreKey,
    r: &PendingRecord,
    private_key: &[u8],
    created_at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO pending_requests (id, csr, subject, names, key_type, spki, private_key, exportable, friendly_name, renews, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            r.id,
            r.csr_der,
            r.subject,
            r.names.join("\n"),
            r.key_type,
            r.spki_der,
            key.seal(private_key),
            r.exportable,
            r.friendly_name,
            r.renews,
            created_at
        ],
    )?;
    Ok(())
}

pub(crate) fn insert_certificate(
    tx: &rusqlite::Transaction<'_>,
    key: &StoreKey,
    new: &NewCertificate,
    now: i64,
) -> Result<()> {
    let s = &new.summary;
    let links = store_chain(tx, &new.chain)?;
    let ips: Vec<String> = s.ip_addresses.iter().map(|ip| ip.to_string()).collect();
    let sql = format!(
        "INSERT INTO certificates ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
        CERT_COLUMNS.replace("private_key IS NOT NULL", "private_key").replace(", rowid", "")
    );
    tx.execute(
        &sql,
        params![
            s.thumbprint,
            s.sha256,
            new.der,
            s.subject,
            s.issuer,
            s.serial,
            s.names.join("\n"),
            ips.join("\n"),
            s.not_before.unix_timestamp(),
            s.not_after.unix_timestamp(),
            s.key_algorithm,
            s.key_size,
            s.signature_algorithm,
            s.is_self_signed,
            s.is_ca,
            s.server_auth,
            s.has_eku,
            s.subject_key_id,
            s.authority_key_id,
            s.spki_der,
            s.subject_raw,
            s.issuer_raw,
            links,
            new.private_key.as_ref().map(|k| key.seal(k)),
            new.exportable,
            new.friendly_name,
            new.origin.as_str(),
            new.trust.encode(),
            now,
        ],
    )?;
    Ok(())
}

/// The migration to [`CHAINS_WITHOUT_ROOTS`]: stores written before it may
/// hold the root a CA's answer carried in their chains; it is taken out,
/// as [`store_chain`] does for every chain written since.
fn strip_roots_from_chains(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let stored: Vec<(String, String)> = tx
        .prepare("SELECT thumbprint, chain FROM certificates WHERE chain != ''")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let mut der_of = tx.prepare("SELECT der FROM chain_certs WHERE thumbprint = ?1")?;
    for (thumbprint, links) in stored {
        let links = split_chain(&links);
        let mut kept = Vec::with_capacity(links.len());
        for link in &links {
            let der: Option<Vec<u8>> = der_of.query_row([link], |r| r.get(0)).optional()?;
            if !der.as_deref().is_some_and(is_root) {
                kept.push(link.clone());
            }
        }
        if kept.len() != links.len() {
            tx.execute(
                "UPDATE certificates SET chain = ?2 WHERE thumbprint = ?1",
                params![thumbprint, kept.join(",")],
            )?;
        }
    }
    forget_unused_chain_certs(tx)
}
