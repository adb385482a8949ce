//! Schema and migrations. `PRAGMA user_version` is the schema version;
//! `PRAGMA application_id` marks the file as a mailcert store.

/// "MCRT": set on every store this program creates.
pub const APPLICATION_ID: i64 = 0x4D43_5254;

/// Each entry migrates from version `index` to `index + 1`; a version
/// that changes data SQL cannot judge also runs Rust code
/// ([`CHAINS_WITHOUT_ROOTS`]).
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE certificates (
    thumbprint TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    der BLOB NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    names TEXT NOT NULL,
    ip_addresses TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    key_algorithm TEXT NOT NULL,
    key_size INTEGER NOT NULL,
    signature_algorithm TEXT NOT NULL,
    is_self_signed INTEGER NOT NULL,
    is_ca INTEGER NOT NULL,
    server_auth INTEGER NOT NULL,
    has_eku INTEGER NOT NULL,
    subject_key_id BLOB,
    authority_key_id BLOB,
    spki BLOB NOT NULL,
    subject_raw BLOB NOT NULL,
    issuer_raw BLOB NOT NULL,
    chain TEXT NOT NULL,
    private_key BLOB,
    exportable INTEGER NOT NULL,
    friendly_name TEXT,
    origin TEXT NOT NULL,
    trust TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE chain_certs (
    thumbprint TEXT PRIMARY KEY,
    der BLOB NOT NULL
);
CREATE TABLE pending_requests (
    id TEXT PRIMARY KEY,
    csr BLOB NOT NULL,
    subject TEXT NOT NULL,
    names TEXT NOT NULL,
    key_type TEXT NOT NULL,
    spki BLOB NOT NULL,
    private_key BLOB NOT NULL,
    exportable INTEGER NOT NULL,
    friendly_name TEXT,
    renews TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE bindings (
    thumbprint TEXT NOT NULL REFERENCES certificates(thumbprint) ON DELETE RESTRICT,
    service TEXT NOT NULL,
    listener TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (thumbprint, service, listener)
);
CREATE TABLE trust_anchors (
    thumbprint TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    der BLOB NOT NULL,
    source TEXT NOT NULL,
    added_at INTEGER NOT NULL
);
CREATE TABLE named_values (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    secret INTEGER NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"#,
    // Version 2: chains hold no self-signed certificate (see
    // `CHAINS_WITHOUT_ROOTS`); the SQL has nothing to change.
    "",
];

/// The version from which stored chains hold no self-signed root: the
/// migration to it takes the roots out of every stored chain.
pub const CHAINS_WITHOUT_ROOTS: i64 = 2;
