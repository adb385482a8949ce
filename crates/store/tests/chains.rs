//! A stored chain is what a server sends after its certificate: never a
//! self-signed root, whoever hands one over, and stores written before
//! that rule lose theirs when they are opened. The PKI is OpenSSL's.

use std::path::Path;

use mailcert_store::{Change, NewCertificate, Op, Origin, SqliteStore, Store, StoreLocation};
use mailcert_testkit::{temp_dir, Pki};
use mailcert_x509::bundle::read_certificates;
use mailcert_x509::{CertSummary, Trust};

fn der_of(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).expect("read PEM");
    read_certificates(&pem, &path.display().to_string())
        .expect("certificate")
        .remove(0)
}

fn certificate(leaf: &[u8], chain: Vec<Vec<u8>>) -> NewCertificate {
    NewCertificate {
        summary: CertSummary::from_der(leaf).expect("leaf"),
        der: leaf.to_vec(),
        chain,
        private_key: None,
        exportable: true,
        friendly_name: None,
        origin: Origin::Imported,
        trust: Trust::Trusted,
    }
}

fn sqlite(db: &Path, sql: &str) {
    let out = mailcert_testkit::run(
        "/usr/bin/python3",
        &[
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
            &db.display().to_string(),
            sql,
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn roots_never_stay_in_a_stored_chain() {
    let dir = temp_dir();
    let pki = Pki::new(&dir.path().join("pki"));
    let leaf = pki.leaf("mail", &["mail.example.test"], "ec");
    let (leaf, int, root) = (
        der_of(&leaf.cert),
        der_of(&pki.intermediate),
        der_of(&pki.root),
    );
    let at = StoreLocation::resolve(Some(&dir.path().join("store.db")), None);
    let (mut store, _) = SqliteStore::open_or_create(&at).expect("store");
    let thumb = mailcert_x509::thumbprint(&leaf);
    let mut change = Change::new("import", "test");
    change.push(Op::InsertCertificate(Box::new(certificate(
        &leaf,
        vec![int.clone(), root.clone()],
    ))));
    store.apply(change).expect("stored");
    assert_eq!(store.chain(&thumb).unwrap(), vec![int.clone()]);
    let record = store.certificate(&thumb).unwrap().expect("record");
    assert_eq!(record.chain, vec![mailcert_x509::thumbprint(&int)]);

    let mut change = Change::new("complete", "test");
    change.push(Op::SetChain {
        thumbprint: thumb.clone(),
        chain: vec![int.clone(), root.clone()],
        trust: Trust::Trusted,
    });
    store.apply(change).expect("chain set");
    assert_eq!(store.chain(&thumb).unwrap(), vec![int.clone()]);
    drop(store);

    // A store written before the rule: its chain links the root, and its
    // schema is version 1. Opening it takes the root out, and its row.
    let root_thumb = mailcert_x509::thumbprint(&root);
    let root_hex: String = root.iter().map(|b| format!("{b:02X}")).collect();
    sqlite(
        &at.db,
        &format!(
            "INSERT INTO chain_certs (thumbprint, der) VALUES ('{root_thumb}', X'{root_hex}');
             UPDATE certificates SET chain = chain || ',{root_thumb}';
             CREATE TABLE bindings_v1 (thumbprint TEXT NOT NULL REFERENCES certificates(thumbprint) ON DELETE RESTRICT,
                 service TEXT NOT NULL, listener TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,
                 PRIMARY KEY (thumbprint, service, listener));
             INSERT INTO bindings_v1 SELECT thumbprint, service, listener, created_at FROM bindings;
             DROP TABLE bindings;
             ALTER TABLE bindings_v1 RENAME TO bindings;
             ALTER TABLE audit_log DROP COLUMN node;
             DROP TABLE nodes;
             PRAGMA user_version = 1;"
        ),
    );
    let store = SqliteStore::open(&at).expect("migrated");
    assert_eq!(store.chain(&thumb).unwrap(), vec![int.clone()]);
    assert_eq!(
        store.certificate(&thumb).unwrap().expect("record").chain,
        vec![mailcert_x509::thumbprint(&int)]
    );
    drop(store);
    let left = mailcert_testkit::python(
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from chain_certs where thumbprint=?', (sys.argv[2],)).fetchone()[0], c.execute('pragma user_version').fetchone()[0])",
        &[&at.db.display().to_string(), &root_thumb],
    );
    assert_eq!(
        left.trim(),
        format!("0 {}", mailcert_store::SCHEMA_VERSION),
        "the root's row is gone, the schema is the current one"
    );
}
