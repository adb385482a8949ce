//! Schema and migrations, one list per engine with the same versions:
//! schema N holds the same records on SQLite and PostgreSQL, so a store
//! copies from one to the other. SQLite keeps the version in `PRAGMA
//! user_version` and marks its files with `PRAGMA application_id`;
//! PostgreSQL keeps both in the `meta` table.

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
    // 3: bindings may name a node; the audit log records the node; nodes
    // report what they serve. SQLite cannot change a primary key: the
    // bindings table is rebuilt.
    r#"
CREATE TABLE bindings_v2 (
    thumbprint TEXT NOT NULL REFERENCES certificates(thumbprint) ON DELETE RESTRICT,
    service TEXT NOT NULL,
    listener TEXT NOT NULL DEFAULT '',
    node TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (thumbprint, service, listener, node)
);
INSERT INTO bindings_v2 (thumbprint, service, listener, node, created_at)
    SELECT thumbprint, service, listener, '', created_at FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_v2 RENAME TO bindings;
ALTER TABLE audit_log ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE TABLE nodes (
    node TEXT PRIMARY KEY,
    last_seen INTEGER NOT NULL,
    version TEXT NOT NULL,
    heartbeat_secs INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    listeners TEXT NOT NULL
);
"#,
];

/// The version from which stored chains hold no self-signed root: the
/// migration to it takes the roots out of every stored chain.
pub const CHAINS_WITHOUT_ROOTS: i64 = 2;

/// The schema version this mailcert writes (both engines).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// What marks a PostgreSQL database as a mailcert store (`meta.application`).
pub const PG_APPLICATION: &[u8] = b"mailcert";

/// PostgreSQL migrations, version for version the same as [`MIGRATIONS`].
pub const PG_MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO generation (id, value) VALUES (1, 0);
CREATE TABLE certificates (
    thumbprint TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    der BYTEA NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    names TEXT NOT NULL,
    ip_addresses TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    key_algorithm TEXT NOT NULL,
    key_size BIGINT NOT NULL,
    signature_algorithm TEXT NOT NULL,
    is_self_signed BOOLEAN NOT NULL,
    is_ca BOOLEAN NOT NULL,
    server_auth BOOLEAN NOT NULL,
    has_eku BOOLEAN NOT NULL,
    subject_key_id BYTEA,
    authority_key_id BYTEA,
    spki BYTEA NOT NULL,
    subject_raw BYTEA NOT NULL,
    issuer_raw BYTEA NOT NULL,
    chain TEXT NOT NULL,
    private_key BYTEA,
    exportable BOOLEAN NOT NULL,
    friendly_name TEXT,
    origin TEXT NOT NULL,
    trust TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seq BIGSERIAL NOT NULL UNIQUE
);
CREATE TABLE chain_certs (
    thumbprint TEXT PRIMARY KEY,
    der BYTEA NOT NULL
);
CREATE TABLE pending_requests (
    id TEXT PRIMARY KEY,
    csr BYTEA NOT NULL,
    subject TEXT NOT NULL,
    names TEXT NOT NULL,
    key_type TEXT NOT NULL,
    spki BYTEA NOT NULL,
    private_key BYTEA NOT NULL,
    exportable BOOLEAN NOT NULL,
    friendly_name TEXT,
    renews TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE bindings (
    thumbprint TEXT NOT NULL REFERENCES certificates(thumbprint) ON DELETE RESTRICT,
    service TEXT NOT NULL,
    listener TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (thumbprint, service, listener)
);
CREATE TABLE trust_anchors (
    thumbprint TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    der BYTEA NOT NULL,
    source TEXT NOT NULL,
    added_at BIGINT NOT NULL
);
CREATE TABLE named_values (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL,
    secret BOOLEAN NOT NULL
);
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    "user" TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"#,
    // Version 2: chains hold no self-signed certificate; nothing to change
    // in the SQL (and no PostgreSQL store predates it).
    "",
    // Version 3: nodes, as on SQLite.
    r#"
ALTER TABLE bindings ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE bindings DROP CONSTRAINT bindings_pkey;
ALTER TABLE bindings ADD PRIMARY KEY (thumbprint, service, listener, node);
ALTER TABLE audit_log ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE TABLE nodes (
    node TEXT PRIMARY KEY,
    last_seen BIGINT NOT NULL,
    version TEXT NOT NULL,
    heartbeat_secs INTEGER NOT NULL,
    generation BIGINT NOT NULL,
    listeners TEXT NOT NULL
);
"#,
];
