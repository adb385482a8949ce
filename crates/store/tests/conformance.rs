//! One suite, two stores: every test here runs against SQLite (a file in
//! a temporary folder) and against PostgreSQL (a database of its own in
//! a throwaway cluster started once for this test binary). What one
//! store does, the other must do: every `Op`, the compare-and-set the
//! ACME lease relies on, the audit log, migrations, refusals that change
//! nothing, file modes, heartbeats and whole-store copies.

use std::path::PathBuf;
use std::time::Duration;

use mailcert_store::{
    Binding, Change, NewCertificate, NewPending, NodeListener, NodeRecord, Op, Origin,
    PendingRecord, PostgresStore, ServedName, SqliteStore, StoreError, StoreLocation,
    SCHEMA_VERSION,
};
use mailcert_testkit::{Postgres, TempDir};
use mailcert_x509::{CertSummary, KeyType, Service, SubjectName, Trust};

/// A place for a fresh store, on one backend.
struct Fresh {
    location: StoreLocation,
    dir: TempDir,
    /// The PostgreSQL database name, for raw SQL.
    database: Option<String>,
}

trait Backend {
    fn fresh(&self, label: &str) -> Fresh;
    /// Runs SQL on the store's database outside mailcert.
    fn raw_sql(&self, fresh: &Fresh, sql: &str);
    /// Whether it is told of other processes' changes (LISTEN/NOTIFY).
    fn notifies(&self) -> bool;
    fn create_at_version(&self, fresh: &Fresh, version: i64);
}

struct Sqlite;
struct Pg;

impl Backend for Sqlite {
    fn fresh(&self, _label: &str) -> Fresh {
        let dir = mailcert_testkit::temp_dir();
        let location =
            StoreLocation::sqlite(dir.path().join("store.db"), dir.path().join("store.db.key"));
        Fresh {
            location,
            dir,
            database: None,
        }
    }

    fn raw_sql(&self, fresh: &Fresh, sql: &str) {
        let conn = rusqlite::Connection::open(&fresh.location.db).unwrap();
        conn.execute_batch(sql).unwrap();
    }

    fn notifies(&self) -> bool {
        false
    }

    fn create_at_version(&self, fresh: &Fresh, version: i64) {
        SqliteStore::create_at_version(&fresh.location, version as usize).unwrap();
    }
}

impl Backend for Pg {
    fn fresh(&self, label: &str) -> Fresh {
        let dir = mailcert_testkit::temp_dir();
        let db = Postgres::shared().database(label);
        let location = StoreLocation::resolve(
            Some(std::path::Path::new(&db.url)),
            Some(&dir.path().join("store.key")),
        );
        Fresh {
            location,
            dir,
            database: Some(db.name),
        }
    }

    fn raw_sql(&self, fresh: &Fresh, sql: &str) {
        Postgres::shared().sql(fresh.database.as_deref().unwrap(), sql);
    }

    fn notifies(&self) -> bool {
        true
    }

    fn create_at_version(&self, fresh: &Fresh, version: i64) {
        PostgresStore::create_at_version(&fresh.location, version).unwrap();
    }
}

fn create(fresh: &Fresh) -> mailcert_store::BoxedStore {
    mailcert_store::open_or_create(&fresh.location).unwrap().0
}

fn reopen(fresh: &Fresh) -> mailcert_store::BoxedStore {
    mailcert_store::open(&fresh.location).unwrap()
}

fn self_signed(name: &str) -> (NewCertificate, Vec<u8>) {
    self_signed_from(name, mailcert_x509::build::now_utc())
}

fn self_signed_from(name: &str, not_before: time::OffsetDateTime) -> (NewCertificate, Vec<u8>) {
    let key = KeyType::EcP256.generate().unwrap();
    let spec = mailcert_x509::build::ServerCertSpec {
        names: vec![SubjectName::Dns(name.into())],
        subject: None,
        not_before,
        days: 30,
    };
    let issued = mailcert_x509::build::self_signed(&spec, &key).unwrap();
    let new = NewCertificate {
        summary: CertSummary::from_der(&issued.cert_der).unwrap(),
        der: issued.cert_der,
        chain: Vec::new(),
        private_key: Some(issued.key_der.clone()),
        exportable: true,
        friendly_name: Some(format!("{name} friendly")),
        origin: Origin::SelfSigned,
        trust: Trust::OwnSelfSigned,
    };
    (new, issued.key_der)
}

fn change(ops: Vec<Op>) -> Change {
    let mut change = Change::new("test", "tester").on_node("node-a");
    change.describe("a test change");
    for op in ops {
        change.push(op);
    }
    change
}

fn insert(store: &mut mailcert_store::BoxedStore, name: &str) -> (String, Vec<u8>) {
    let (new, key) = self_signed(name);
    let thumb = new.summary.thumbprint.clone();
    store
        .apply(change(vec![Op::InsertCertificate(Box::new(new))]))
        .unwrap();
    (thumb, key)
}

fn certificates_keys_and_chains(b: &dyn Backend) {
    let fresh = b.fresh("certs");
    let mut store = create(&fresh);
    let (issuer, _) = self_signed("ca.example.test");
    let (mut leaf, leaf_key) = self_signed("mail.example.test");
    leaf.chain = vec![issuer.der.clone()];
    let thumb = leaf.summary.thumbprint.clone();
    store
        .apply(change(vec![Op::InsertCertificate(Box::new(leaf.clone()))]))
        .unwrap();
    let store = reopen(&fresh);
    let all = store.certificates().unwrap();
    assert_eq!(all.len(), 1);
    let got = store.certificate(&thumb).unwrap().unwrap();
    assert_eq!(got.der, leaf.der);
    assert_eq!(got.summary.names, vec!["mail.example.test".to_string()]);
    assert_eq!(got.summary.key_size, leaf.summary.key_size);
    assert_eq!(got.summary.not_after, leaf.summary.not_after);
    assert_eq!(
        got.friendly_name.as_deref(),
        Some("mail.example.test friendly")
    );
    assert!(got.has_private_key && got.exportable);
    assert_eq!(got.origin, Origin::SelfSigned);
    // The issuer is self-signed: a root is never stored in a chain.
    assert!(got.chain.is_empty(), "{:?}", got.chain);
    assert!(store.chain(&thumb).unwrap().is_empty());
    assert_eq!(store.private_key(&thumb).unwrap(), Some(leaf_key));
    assert_eq!(
        store.certificates_with_prefix(&thumb[..6]).unwrap().len(),
        1
    );
    assert!(store.certificates_with_prefix("ZZ").unwrap().is_empty());
    assert!(store.certificate("00").unwrap().is_none());
    assert!(store.chain("00").unwrap().is_empty());
}

/// `list` shows the newest first: by not_before, and among equals the
/// one stored last.
fn certificates_are_listed_newest_first(b: &dyn Backend) {
    let fresh = b.fresh("order");
    let mut store = create(&fresh);
    let now = mailcert_x509::build::now_utc();
    let day = time::Duration::days(1);
    let mut thumbs = std::collections::HashMap::new();
    for (name, not_before) in [
        ("middle.example.test", now - day),
        ("oldest.example.test", now - day * 3),
        ("newest.example.test", now),
        ("middle-later.example.test", now - day),
    ] {
        let (new, _) = self_signed_from(name, not_before);
        thumbs.insert(new.summary.thumbprint.clone(), name);
        store
            .apply(change(vec![Op::InsertCertificate(Box::new(new))]))
            .unwrap();
    }
    let listed: Vec<&str> = reopen(&fresh)
        .certificates()
        .unwrap()
        .iter()
        .map(|c| thumbs[&c.summary.thumbprint])
        .collect();
    assert_eq!(
        listed,
        [
            "newest.example.test",
            "middle-later.example.test",
            "middle.example.test",
            "oldest.example.test"
        ]
    );
}

fn updates_of_a_certificate(b: &dyn Backend) {
    let fresh = b.fresh("updates");
    let mut store = create(&fresh);
    let (thumb, _) = insert(&mut store, "a.example.test");
    let (ca, _) = self_signed("ca2.example.test");
    store
        .apply(change(vec![
            Op::SetChain {
                thumbprint: thumb.clone(),
                chain: vec![ca.der.clone()],
                trust: Trust::Trusted,
            },
            Op::SetPrivateKey {
                thumbprint: thumb.clone(),
                private_key: b"new key".to_vec(),
                exportable: false,
            },
        ]))
        .unwrap();
    let got = store.certificate(&thumb).unwrap().unwrap();
    assert_eq!(got.trust, Trust::Trusted);
    assert!(!got.exportable);
    assert!(store.chain(&thumb).unwrap().is_empty(), "a root in a chain");
    assert_eq!(
        store.private_key(&thumb).unwrap(),
        Some(b"new key".to_vec())
    );
    store
        .apply(change(vec![Op::SetTrust {
            thumbprint: thumb.clone(),
            trust: Trust::Untrusted("no".into()),
        }]))
        .unwrap();
    assert!(matches!(
        store.certificate(&thumb).unwrap().unwrap().trust,
        Trust::Untrusted(_)
    ));
}

/// A change whose last op fails leaves nothing of its first ops.
fn a_change_is_all_or_nothing(b: &dyn Backend) {
    let fresh = b.fresh("atomic");
    let mut store = create(&fresh);
    let generation = store.generation().unwrap();
    let audit = store.audit_log(100).unwrap().len();
    let (new, _) = self_signed("b.example.test");
    let thumb = new.summary.thumbprint.clone();
    let err = store
        .apply(change(vec![
            Op::InsertCertificate(Box::new(new)),
            Op::SetValue {
                key: "k".into(),
                value: Some(b"v".to_vec()),
                secret: false,
            },
            Op::SetTrust {
                thumbprint: "0000".into(),
                trust: Trust::Trusted,
            },
        ]))
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err}");
    assert!(store.certificate(&thumb).unwrap().is_none());
    assert_eq!(store.value("k").unwrap(), None);
    assert_eq!(store.generation().unwrap(), generation);
    assert_eq!(store.audit_log(100).unwrap().len(), audit);
}

fn bindings_with_listeners_and_nodes(b: &dyn Backend) {
    let fresh = b.fresh("bindings");
    let mut store = create(&fresh);
    let (thumb, _) = insert(&mut store, "c.example.test");
    let fleet = Binding::new(&thumb, Service::Smtp);
    let on_node = Binding {
        node: Some("ex2".into()),
        ..Binding::new(&thumb, Service::Smtp)
    };
    let on_listener = Binding {
        listener: Some("submission".into()),
        ..Binding::new(&thumb, Service::Smtp)
    };
    store
        .apply(change(vec![
            Op::Bind(fleet.clone()),
            Op::Bind(on_node.clone()),
            Op::Bind(on_listener.clone()),
            // Binding twice is no error and no second row.
            Op::Bind(fleet.clone()),
        ]))
        .unwrap();
    let mut got = reopen(&fresh).bindings().unwrap();
    got.sort();
    let mut want = vec![fleet.clone(), on_node.clone(), on_listener.clone()];
    want.sort();
    assert_eq!(got, want);
    assert!(on_node.applies_to_node(Some("EX2")));
    assert!(!on_node.applies_to_node(Some("ex1")));
    assert!(!on_node.applies_to_node(None));
    // A bound certificate cannot be deleted; unbound, it can.
    let err = store
        .apply(change(vec![Op::DeleteCertificate(thumb.clone())]))
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err}");
    store
        .apply(change(vec![
            Op::Unbind(fleet),
            Op::Unbind(on_node),
            Op::Unbind(on_listener),
            Op::DeleteCertificate(thumb.clone()),
        ]))
        .unwrap();
    assert!(store.bindings().unwrap().is_empty());
    assert!(store.certificate(&thumb).unwrap().is_none());
}

fn pending_requests(b: &dyn Backend) {
    let fresh = b.fresh("pending");
    let mut store = create(&fresh);
    let record = PendingRecord {
        id: "ABCDEF0123".into(),
        csr_der: b"csr".to_vec(),
        subject: "CN=mail.example.test".into(),
        names: vec![
            "mail.example.test".into(),
            "autodiscover.example.test".into(),
        ],
        key_type: "ec-p256".into(),
        spki_der: b"spki".to_vec(),
        exportable: true,
        friendly_name: None,
        renews: Some("1234".into()),
        created_at: mailcert_x509::build::now_utc(),
    };
    store
        .apply(change(vec![Op::InsertPending(Box::new(NewPending {
            record: record.clone(),
            private_key: b"pending key".to_vec(),
        }))]))
        .unwrap();
    let store2 = reopen(&fresh);
    let got = store2.pending_requests().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].names, record.names);
    assert_eq!(got[0].renews, record.renews);
    assert_eq!(store2.pending_with_prefix("ABCD").unwrap().len(), 1);
    assert_eq!(
        store2.pending_key("ABCDEF0123").unwrap(),
        Some(b"pending key".to_vec())
    );
    store
        .apply(change(vec![Op::DeletePending("ABCDEF0123".into())]))
        .unwrap();
    assert!(store.pending_requests().unwrap().is_empty());
    let err = store
        .apply(change(vec![Op::DeletePending("ABCDEF0123".into())]))
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err}");
}

fn trust_anchors(b: &dyn Backend) {
    let fresh = b.fresh("anchors");
    let mut store = create(&fresh);
    let (root, _) = self_signed("root.example.test");
    let add = Op::AddAnchor {
        der: root.der.clone(),
        subject: root.summary.subject.clone(),
        source: "test".into(),
    };
    store.apply(change(vec![add.clone(), add])).unwrap();
    let anchors = reopen(&fresh).anchors().unwrap();
    assert_eq!(anchors.len(), 1);
    assert_eq!(anchors[0].thumbprint, root.summary.thumbprint);
    assert_eq!(anchors[0].der, root.der);
    store
        .apply(change(vec![Op::RemoveAnchor(
            root.summary.thumbprint.clone(),
        )]))
        .unwrap();
    assert!(store.anchors().unwrap().is_empty());
}

fn named_values_secret_or_not(b: &dyn Backend) {
    let fresh = b.fresh("values");
    let mut store = create(&fresh);
    store
        .apply(change(vec![
            Op::SetValue {
                key: "acme.a".into(),
                value: Some(b"plain".to_vec()),
                secret: false,
            },
            Op::SetValue {
                key: "acme.b".into(),
                value: Some(b"hidden".to_vec()),
                secret: true,
            },
            Op::SetValue {
                key: "other".into(),
                value: Some(b"x".to_vec()),
                secret: false,
            },
        ]))
        .unwrap();
    let store2 = reopen(&fresh);
    assert_eq!(store2.value("acme.a").unwrap(), Some(b"plain".to_vec()));
    assert_eq!(store2.value("acme.b").unwrap(), Some(b"hidden".to_vec()));
    assert_eq!(
        store2.value_keys("acme.").unwrap(),
        vec!["acme.a".to_string(), "acme.b".to_string()]
    );
    // The secret is not stored in the clear.
    let dump = store2.dump().unwrap();
    assert!(dump.values.iter().any(|v| v.key == "acme.b" && v.secret));
    store
        .apply(change(vec![Op::SetValue {
            key: "acme.a".into(),
            value: None,
            secret: false,
        }]))
        .unwrap();
    assert_eq!(store.value("acme.a").unwrap(), None);
}

fn compare_and_set(b: &dyn Backend) {
    let fresh = b.fresh("cas");
    let mut store = create(&fresh);
    let set = |value: &[u8], expect: Option<&[u8]>| {
        change(vec![
            Op::ExpectValue {
                key: "lease".into(),
                value: expect.map(<[u8]>::to_vec),
            },
            Op::SetValue {
                key: "lease".into(),
                value: Some(value.to_vec()),
                secret: false,
            },
        ])
    };
    store.apply(set(b"one", None)).unwrap();
    let err = store.apply(set(b"two", None)).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(store.value("lease").unwrap(), Some(b"one".to_vec()));
    store.apply(set(b"two", Some(b"one"))).unwrap();
    assert_eq!(store.value("lease").unwrap(), Some(b"two".to_vec()));

    // Eight processes' worth of handles race for one lease: one wins.
    let location = fresh.location.clone();
    let winners: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let location = location.clone();
                scope.spawn(move || {
                    let mut own = mailcert_store::open(&location).unwrap();
                    let mut c = change(vec![
                        Op::ExpectValue {
                            key: "race".into(),
                            value: None,
                        },
                        Op::SetValue {
                            key: "race".into(),
                            value: Some(format!("owner {i}").into_bytes()),
                            secret: false,
                        },
                    ]);
                    c.user = format!("racer {i}");
                    match own.apply(c) {
                        Ok(()) => true,
                        Err(StoreError::Conflict { .. }) => false,
                        Err(e) => panic!("racer {i}: {e}"),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(winners.iter().filter(|w| **w).count(), 1, "{winners:?}");
}

/// What staged rotation and DANE keep in the store (`schedule.ID`,
/// `dane.next-key.THUMBPRINT`, `dane.publication`): listed by prefix,
/// kept across a reopen, and a scheduled change claimed by exactly one of
/// two nodes that see it due at once.
fn scheduled_changes_and_dane_values(b: &dyn Backend) {
    let fresh = b.fresh("schedule");
    let mut store = create(&fresh);
    let scheduled = br#"{"id":"0A1B2C3D","at":"2027-01-10T02:00:00Z","action":"replace"}"#;
    store
        .apply(change(vec![
            Op::SetValue {
                key: "schedule.0A1B2C3D".into(),
                value: Some(scheduled.to_vec()),
                secret: false,
            },
            Op::SetValue {
                key: "dane.next-key.9F1C".into(),
                value: Some(b"pkcs8".to_vec()),
                secret: true,
            },
        ]))
        .unwrap();
    let mut first = reopen(&fresh);
    let mut second = reopen(&fresh);
    assert_eq!(
        first.value_keys("schedule.").unwrap(),
        vec!["schedule.0A1B2C3D".to_string()]
    );
    assert_eq!(
        first.value("dane.next-key.9F1C").unwrap(),
        Some(b"pkcs8".to_vec())
    );
    let claim = |node: &str| {
        change(vec![
            Op::ExpectValue {
                key: "schedule.0A1B2C3D".into(),
                value: Some(scheduled.to_vec()),
            },
            Op::SetValue {
                key: "schedule.0A1B2C3D".into(),
                value: Some(format!("claimed by {node}").into_bytes()),
                secret: false,
            },
        ])
    };
    first.apply(claim("ex1")).unwrap();
    let lost = second.apply(claim("ex2")).unwrap_err();
    assert!(matches!(lost, StoreError::Conflict { .. }), "{lost}");
    assert_eq!(
        second.value("schedule.0A1B2C3D").unwrap(),
        Some(b"claimed by ex1".to_vec())
    );
}

fn audit_log_and_generation(b: &dyn Backend) {
    let fresh = b.fresh("audit");
    let mut store = create(&fresh);
    let before = store.generation().unwrap();
    for i in 0..3 {
        let mut c = change(vec![Op::SetValue {
            key: format!("v{i}"),
            value: Some(vec![i]),
            secret: false,
        }]);
        c.action = format!("action {i}");
        store.apply(c).unwrap();
    }
    assert_eq!(store.generation().unwrap(), before + 3);
    let log = reopen(&fresh).audit_log(2).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, "action 1");
    assert_eq!(log[1].action, "action 2");
    assert_eq!(log[1].user, "tester");
    assert_eq!(log[1].node, "node-a");
    assert_eq!(log[1].detail, "a test change");
    assert!(log[0].id < log[1].id);
}

fn migrates_forward_keeping_what_it_holds(b: &dyn Backend) {
    let fresh = b.fresh("migrate");
    b.create_at_version(&fresh, 1);
    // A blob literal differs: X'78' on SQLite, '\x78' on PostgreSQL.
    let blob = if fresh.database.is_some() {
        "'\\x78'"
    } else {
        "X'78'"
    };
    b.raw_sql(
        &fresh,
        &format!(
            "INSERT INTO audit_log (at, \"user\", action, detail) VALUES (1700000000, 'old', 'init', 'made at schema 1');
             INSERT INTO named_values (key, value, secret) VALUES ('init.done', {blob}, FALSE);"
        ),
    );
    let mut store = reopen(&fresh);
    let log = store.audit_log(10).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].detail, "made at schema 1");
    assert_eq!(log[0].node, "");
    assert_eq!(store.value("init.done").unwrap(), Some(b"x".to_vec()));
    // Schema 2 is there: bindings take a node.
    let (thumb, _) = insert(&mut store, "m.example.test");
    store
        .apply(change(vec![Op::Bind(Binding {
            node: Some("ex1".into()),
            ..Binding::new(&thumb, Service::Imap)
        })]))
        .unwrap();
    assert_eq!(store.bindings().unwrap()[0].node.as_deref(), Some("ex1"));
}

fn a_newer_schema_is_refused_naming_both_versions(b: &dyn Backend) {
    let fresh = b.fresh("newer");
    drop(create(&fresh));
    let sql = if fresh.database.is_some() {
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'"
    } else {
        "PRAGMA user_version = 99"
    };
    b.raw_sql(&fresh, sql);
    let err = mailcert_store::open_or_create(&fresh.location)
        .err()
        .expect("a newer schema opened");
    match &err {
        StoreError::TooNew { found, known, .. } => {
            assert_eq!((*found, *known), (99, SCHEMA_VERSION));
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("99") && text.contains(&SCHEMA_VERSION.to_string()),
        "{text}"
    );
}

fn another_program_s_database_is_refused_untouched(b: &dyn Backend) {
    let fresh = b.fresh("foreign");
    if fresh.database.is_none() {
        std::fs::create_dir_all(fresh.dir.path()).unwrap();
    }
    b.raw_sql(
        &fresh,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
    );
    let err = mailcert_store::open_or_create(&fresh.location)
        .err()
        .expect("a foreign database opened");
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("another"), "{err}");
    // Nothing was written: no meta table appeared, no key file either.
    b.raw_sql(&fresh, "SELECT count(*) FROM users");
    let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.raw_sql(&fresh, "SELECT * FROM meta")
    }));
    assert!(probe.is_err(), "a meta table was created");
    assert!(!fresh.location.key.exists());
}

fn the_wrong_key_file_is_refused_and_nothing_written(b: &dyn Backend) {
    let fresh = b.fresh("wrongkey");
    let mut store = create(&fresh);
    insert(&mut store, "k.example.test");
    let generation = store.generation().unwrap();
    drop(store);
    let other_key = fresh.dir.path().join("other.key");
    std::fs::write(&other_key, format!("{}\n", "ab".repeat(32))).unwrap();
    let wrong = StoreLocation {
        db: fresh.location.db.clone(),
        key: other_key,
    };
    let err = mailcert_store::open(&wrong)
        .err()
        .expect("opened with the wrong key");
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
    let err = mailcert_store::open_or_create(&wrong)
        .err()
        .expect("opened with the wrong key");
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
    assert_eq!(reopen(&fresh).generation().unwrap(), generation);
    // A missing key file is refused too, and none is made.
    let missing = StoreLocation {
        db: fresh.location.db.clone(),
        key: fresh.dir.path().join("missing.key"),
    };
    let err = mailcert_store::open_or_create(&missing)
        .err()
        .expect("opened without its key file");
    assert!(matches!(err, StoreError::KeyFileMissing { .. }), "{err}");
    assert!(!missing.key.exists());
}

fn files_are_private(b: &dyn Backend) {
    use std::os::unix::fs::PermissionsExt;
    let fresh = b.fresh("modes");
    let store = create(&fresh);
    let mode = |p: &PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&fresh.location.key), 0o600);
    if fresh.database.is_none() {
        assert_eq!(mode(&fresh.location.db), 0o600);
    }
    assert!(store.warnings().is_empty());
    drop(store);
    std::fs::set_permissions(&fresh.location.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = reopen(&fresh);
    assert!(
        store
            .warnings()
            .iter()
            .any(|w| w.to_string().contains("chmod 600")),
        "{:?}",
        store.warnings()
    );
}

fn node_heartbeats(b: &dyn Backend) {
    let fresh = b.fresh("nodes");
    let mut store = create(&fresh);
    let generation = store.generation().unwrap();
    let mut record = NodeRecord {
        node: "ex1.example.test".into(),
        last_seen: 1_800_000_000,
        version: "0.1.0".into(),
        heartbeat_secs: 10,
        generation: 4,
        listeners: vec![NodeListener {
            listener: "imaps".into(),
            service: "imap".into(),
            pin: None,
            serving: vec![
                ServedName {
                    name: None,
                    thumbprint: Some("AB".into()),
                },
                ServedName {
                    name: Some("mail.example.test".into()),
                    thumbprint: Some("CD".into()),
                },
            ],
        }],
    };
    store.record_node(&record).unwrap();
    record.last_seen += 10;
    store.record_node(&record).unwrap();
    assert_eq!(reopen(&fresh).nodes().unwrap(), vec![record]);
    // Heartbeats are not changes: nobody reloads, nothing is audited.
    assert_eq!(store.generation().unwrap(), generation);
    assert!(store.audit_log(10).unwrap().is_empty());
}

fn told_of_changes_by_other_processes(b: &dyn Backend) {
    let fresh = b.fresh("notify");
    let mut watcher = create(&fresh);
    // The first wait starts listening and says "look".
    assert!(watcher.wait_for_change(Duration::from_secs(30)).unwrap());
    if b.notifies() {
        assert!(
            !watcher.wait_for_change(Duration::from_millis(300)).unwrap(),
            "told of a change nobody made"
        );
    }
    let location = fresh.location.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut other = mailcert_store::open(&location).unwrap();
        other
            .apply(change(vec![Op::SetValue {
                key: "x".into(),
                value: Some(b"1".to_vec()),
                secret: false,
            }]))
            .unwrap();
    });
    let before = watcher.generation().unwrap();
    let mut told = false;
    for _ in 0..100 {
        told = watcher.wait_for_change(Duration::from_secs(30)).unwrap();
        if watcher.generation().unwrap() > before {
            break;
        }
    }
    writer.join().unwrap();
    assert!(told);
    assert_eq!(watcher.generation().unwrap(), before + 1);
}

/// Bookkeeping (console sessions, fired events) is committed and audited,
/// but leaves the generation alone, so no front end reloads for it; one
/// that would touch what is served is refused whole.
fn bookkeeping_does_not_reload(b: &dyn Backend) {
    let fresh = b.fresh("bookkeeping");
    let mut store = create(&fresh);
    let before = store.generation().unwrap();
    let mut c = Change::bookkeeping("event-fired", "serve").on_node("node-a");
    c.push(Op::ExpectValue {
        key: "events.fired.x".into(),
        value: None,
    });
    c.push(Op::SetValue {
        key: "events.fired.x".into(),
        value: Some(b"2027-01-01".to_vec()),
        secret: false,
    });
    store.apply(c).unwrap();
    assert_eq!(store.generation().unwrap(), before);
    assert_eq!(
        reopen(&fresh).value("events.fired.x").unwrap().as_deref(),
        Some(&b"2027-01-01"[..])
    );
    assert_eq!(store.audit_log(1).unwrap()[0].action, "event-fired");
    let (new, _) = self_signed("bookkeeping.example.test");
    let mut sneaky = Change::bookkeeping("sneaky", "serve");
    sneaky.push(Op::SetValue {
        key: "events.fired.y".into(),
        value: Some(b"1".to_vec()),
        secret: false,
    });
    sneaky.push(Op::InsertCertificate(Box::new(new)));
    let err = store.apply(sneaky).unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err}");
    assert!(store.value("events.fired.y").unwrap().is_none());
    assert!(store.certificates().unwrap().is_empty());
    assert_eq!(store.generation().unwrap(), before);
    // A change that reloads still does.
    store
        .apply(change(vec![Op::SetValue {
            key: "acme.http-01.t".into(),
            value: Some(b"k".to_vec()),
            secret: false,
        }]))
        .unwrap();
    assert_eq!(store.generation().unwrap(), before + 1);
}

/// Both ways: what one backend dumps, the other restores, the same.
fn copies_to_the_other_backend(b: &dyn Backend) {
    let fresh = b.fresh("copy-from");
    let mut source = create(&fresh);
    let (thumb, _) = insert(&mut source, "copy.example.test");
    source
        .apply(change(vec![
            Op::Bind(Binding {
                node: Some("ex1".into()),
                ..Binding::new(&thumb, Service::Https)
            }),
            Op::SetValue {
                key: "acme.account".into(),
                value: Some(b"secret account key".to_vec()),
                secret: true,
            },
        ]))
        .unwrap();
    let dump = source.dump().unwrap();
    let other: &dyn Backend = if fresh.database.is_some() {
        &Sqlite
    } else {
        &Pg
    };
    let target_place = other.fresh("copy-to");
    let mut target = create(&target_place);
    let before = target.generation().unwrap();
    target.restore(&dump, false).unwrap();
    let copied = reopen(&target_place).dump().unwrap();
    assert_eq!(dump.differences(&copied), Vec::<String>::new());
    assert!(target.generation().unwrap() > before.max(dump.generation));
    assert_eq!(
        target.private_key(&thumb).unwrap(),
        source.private_key(&thumb).unwrap()
    );
    // Not into a store that holds something, unless replacing it.
    let err = target.restore(&dump, false).unwrap_err();
    assert!(matches!(err, StoreError::NotEmpty { .. }), "{err}");
    target.restore(&dump, true).unwrap();
    assert_eq!(
        dump.differences(&target.dump().unwrap()),
        Vec::<String>::new()
    );
    // The next change's audit entry follows the copied ones.
    target
        .apply(change(vec![Op::SetValue {
            key: "after".into(),
            value: Some(b"1".to_vec()),
            secret: false,
        }]))
        .unwrap();
    let log = target.audit_log(100).unwrap();
    assert_eq!(log.len(), dump.audit.len() + 1);
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $test() { super::$test(&super::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $test() { super::$test(&super::Pg) })*
        }
    };
}

conformance!(
    certificates_keys_and_chains,
    certificates_are_listed_newest_first,
    updates_of_a_certificate,
    a_change_is_all_or_nothing,
    bindings_with_listeners_and_nodes,
    pending_requests,
    trust_anchors,
    named_values_secret_or_not,
    compare_and_set,
    scheduled_changes_and_dane_values,
    audit_log_and_generation,
    bookkeeping_does_not_reload,
    migrates_forward_keeping_what_it_holds,
    a_newer_schema_is_refused_naming_both_versions,
    another_program_s_database_is_refused_untouched,
    the_wrong_key_file_is_refused_and_nothing_written,
    files_are_private,
    node_heartbeats,
    told_of_changes_by_other_processes,
    copies_to_the_other_backend,
);
