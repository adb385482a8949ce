//! Creating a store survives being interrupted at any point: the states a
//! crash can leave on disk (and the empty key file older versions left)
//! are reproduced here, and each must lead to a usable store, or to an
//! error that names the file and what to do, with nothing changed.

use std::path::Path;

use mailcert_store::{
    Change, NewCertificate, Op, Opened, Origin, SqliteStore, Store, StoreError, StoreLocation,
};
use mailcert_x509::{CertSummary, Trust};

fn location(dir: &Path) -> StoreLocation {
    StoreLocation::resolve(Some(&dir.join("store.db")), None)
}

/// A self-signed certificate with its key, for the store to encrypt.
fn certificate_with_key() -> NewCertificate {
    let spec = mailcert_x509::build::ServerCertSpec {
        names: vec![
            mailcert_x509::parse_name("mail.example.test")
                .expect("name")
                .name,
        ],
        subject: None,
        not_before: mailcert_x509::build::now_utc(),
        days: 30,
    };
    let key = mailcert_x509::KeyType::EcP256.generate().expect("key");
    let made = mailcert_x509::build::self_signed(&spec, &key).expect("certificate");
    NewCertificate {
        summary: CertSummary::from_der(&made.cert_der).expect("summary"),
        der: made.cert_der,
        chain: Vec::new(),
        private_key: Some(made.key_der),
        exportable: true,
        friendly_name: None,
        origin: Origin::SelfSigned,
        trust: Trust::OwnSelfSigned,
    }
}

fn key_text(location: &StoreLocation) -> String {
    std::fs::read_to_string(&location.key).unwrap_or_default()
}

#[test]
fn an_empty_key_file_without_a_database_is_a_store_not_yet_made() {
    let dir = tempfile::tempdir().unwrap();
    let at = location(dir.path());
    std::fs::write(&at.key, "").unwrap();
    let err = SqliteStore::open(&at).err().expect("no database yet");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let (store, opened) = SqliteStore::open_or_create(&at).expect("created");
    assert_eq!(opened, Opened::Created);
    assert_eq!(key_text(&at).trim().len(), 64);
    drop(store);
    SqliteStore::open(&at).expect("opens again with the key it got");
}

#[test]
fn an_empty_key_file_beside_an_empty_database_is_a_store_not_yet_made() {
    for key in ["", "\n"] {
        let dir = tempfile::tempdir().unwrap();
        let at = location(dir.path());
        std::fs::write(&at.key, key).unwrap();
        std::fs::write(&at.db, "").unwrap();
        let err = SqliteStore::open(&at).err().expect("unfinished");
        assert!(matches!(err, StoreError::Unfinished { .. }), "{err}");
        assert!(err.to_string().contains("mailcert init"), "{err}");
        let (_, opened) = SqliteStore::open_or_create(&at).expect("finished");
        assert_eq!(opened, Opened::EmptyFileInitialised);
        SqliteStore::open(&at).expect("opens");
    }
}

#[test]
fn a_database_made_before_its_key_file_gets_one() {
    // The order of a new store: database file first, then the key under
    // the database's lock. A crash in between leaves this.
    let dir = tempfile::tempdir().unwrap();
    let at = location(dir.path());
    std::fs::write(&at.db, "").unwrap();
    let (_, opened) = SqliteStore::open_or_create(&at).expect("finished");
    assert_eq!(opened, Opened::EmptyFileInitialised);
    SqliteStore::open(&at).expect("opens");
}

#[test]
fn an_empty_key_file_beside_a_store_without_keys_is_rekeyed() {
    let dir = tempfile::tempdir().unwrap();
    let at = location(dir.path());
    drop(SqliteStore::open_or_create(&at).expect("created"));
    std::fs::write(&at.key, "").unwrap();
    let err = SqliteStore::open(&at).err().expect("unfinished");
    assert!(matches!(err, StoreError::Unfinished { .. }), "{err}");
    let (mut store, opened) = SqliteStore::open_or_create(&at).expect("finished");
    assert_eq!(opened, Opened::Finished);
    // The new key works for what comes next.
    let mut change = Change::new("test", "test");
    change.push(Op::InsertCertificate(Box::new(certificate_with_key())));
    store.apply(change).expect("insert");
    let thumb = store.certificates().unwrap()[0].summary.thumbprint.clone();
    drop(store);
    let store = SqliteStore::open(&at).expect("opens with the new key");
    assert!(store.private_key(&thumb).unwrap().is_some());
}

#[test]
fn an_empty_key_file_beside_encrypted_keys_is_refused_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let at = location(dir.path());
    let (mut store, _) = SqliteStore::open_or_create(&at).expect("created");
    let mut change = Change::new("test", "test");
    change.push(Op::InsertCertificate(Box::new(certificate_with_key())));
    store.apply(change).expect("insert");
    drop(store);
    std::fs::write(&at.key, "").unwrap();
    let db_before = std::fs::read(&at.db).unwrap();
    for err in [
        SqliteStore::open(&at).err(),
        SqliteStore::open_or_create(&at).err(),
    ] {
        let err = err.expect("refused").to_string();
        assert!(err.contains("is empty") && err.contains("backup"), "{err}");
    }
    assert_eq!(key_text(&at), "", "the key file is left as it was");
    assert_eq!(std::fs::read(&at.db).unwrap(), db_before);
}

#[test]
fn a_missing_key_file_is_never_recreated_beside_an_existing_store() {
    let dir = tempfile::tempdir().unwrap();
    let at = location(dir.path());
    drop(SqliteStore::open_or_create(&at).expect("created"));
    std::fs::remove_file(&at.key).unwrap();
    let err = SqliteStore::open_or_create(&at).err().expect("refused");
    assert!(matches!(err, StoreError::KeyFileMissing { .. }), "{err}");
    assert!(!at.key.exists());
}

#[test]
fn two_processes_finishing_the_same_store_agree_on_one_key() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let at = location(dir.path());
        std::fs::write(&at.key, "").unwrap();
        let opened: Vec<_> = std::thread::scope(|s| {
            let a = s.spawn(|| SqliteStore::open_or_create(&at).map(|(_, o)| o));
            let b = s.spawn(|| SqliteStore::open_or_create(&at).map(|(_, o)| o));
            [a.join().unwrap(), b.join().unwrap()]
        })
        .into_iter()
        .map(|r| r.expect("both open the store"))
        .collect();
        // One made the store; the other made it too, or found it made
        // when it started after the first had finished.
        assert!(opened.iter().any(|o| o.is_new()), "{opened:?}");
        SqliteStore::open(&at).expect("the key file opens the store");
    }
}
