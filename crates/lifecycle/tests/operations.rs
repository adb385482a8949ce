//! Lifecycle rules that need a clock other than now, or records the CLI
//! cannot make: time is an input here.

use mailcert_lifecycle::{LifecycleError, Manager};
use mailcert_store::{Change, NewCertificate, Op, Origin, SqliteStore, Store, StoreLocation};
use mailcert_x509::build::{self, ServerCertSpec};
use mailcert_x509::{CertSummary, KeyType, Service, SubjectName, Trust};
use time::Duration;

fn manager(dir: &tempfile::TempDir) -> Manager {
    let location = StoreLocation::resolve(Some(&dir.path().join("store.db")), None);
    let (store, _) = SqliteStore::open_or_create(&location).unwrap();
    Manager::new(Box::new(store), "test")
}

fn reopen(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&StoreLocation::resolve(
        Some(&dir.path().join("store.db")),
        None,
    ))
    .unwrap()
}

#[test]
fn expired_and_not_yet_valid_certificates_cannot_be_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = manager(&dir);
    let thumb = m
        .new_self_signed(
            &["short.contoso.com".into()],
            KeyType::EcP256,
            1,
            None,
            true,
        )
        .unwrap()
        .thumbprint
        .unwrap();
    let now = build::now_utc();
    let mut later = manager(&dir).at(now + Duration::days(3));
    let err = later
        .enable(&thumb, &[Service::Smtp], None, &[], false)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LifecycleError::Unservable {
                why: mailcert_lifecycle::Unservable::OutsideValidity { .. },
                ..
            }
        ) && err.to_string().contains("outside its validity"),
        "{err}"
    );
    let mut earlier = manager(&dir).at(now - Duration::days(3));
    assert!(earlier
        .enable(&thumb, &[Service::Smtp], None, &[], false)
        .is_err());
    assert!(reopen(&dir).bindings().unwrap().is_empty(), "nothing bound");
    drop(m);
}

#[test]
fn certificates_without_a_key_cannot_be_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = manager(&dir);
    let key = KeyType::EcP256.generate().unwrap();
    let spec = ServerCertSpec {
        names: vec![SubjectName::Dns("nokey.contoso.com".into())],
        subject: None,
        not_before: build::now_utc(),
        days: 30,
    };
    let issued = build::self_signed(&spec, &key).unwrap();
    let summary = CertSummary::from_der(&issued.cert_der).unwrap();
    let thumb = summary.thumbprint.clone();
    let mut change = Change::new("import", "test");
    change.push(Op::InsertCertificate(Box::new(NewCertificate {
        summary,
        der: issued.cert_der,
        chain: vec![],
        private_key: None,
        exportable: false,
        friendly_name: None,
        origin: Origin::Imported,
        trust: Trust::Untrusted("test".into()),
    })));
    m.store.apply(change).unwrap();
    let err = m
        .enable(&thumb, &[Service::Imap], None, &[], false)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LifecycleError::Unservable {
                why: mailcert_lifecycle::Unservable::NoPrivateKey,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("no private key"), "{err}");
}

#[test]
fn private_keys_never_reach_the_disk_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = manager(&dir);
    let report = m
        .init(Some("mail.contoso.com"), Some(KeyType::Rsa2048))
        .unwrap();
    let thumb = report.thumbprint.unwrap();
    let key = m.store.private_key(&thumb).unwrap().expect("a key");
    assert!(mailcert_x509::keys::key_matches_spki(
        &key,
        &m.store
            .certificate(&thumb)
            .unwrap()
            .unwrap()
            .summary
            .spki_der
    ));
    drop(m);
    let mut on_disk = std::fs::read(dir.path().join("store.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("store.db-wal")) {
        on_disk.extend(wal);
    }
    // Any 32-byte window of the key would betray it.
    let window = &key[key.len() / 2..key.len() / 2 + 32];
    assert!(
        !on_disk.windows(32).any(|w| w == window),
        "the private key is on disk in clear"
    );
}

#[test]
fn a_failed_change_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = manager(&dir);
    let thumb = m
        .init(Some("mail.contoso.com"), Some(KeyType::EcP256))
        .unwrap()
        .thumbprint
        .unwrap();
    let generation = m.store.generation().unwrap();
    let log = m.store.audit_log(100).unwrap().len();
    // Unbinding succeeds, then deleting a certificate that does not exist fails:
    // the unbind must be rolled back with it.
    let mut change = Change::new("test", "test");
    change.push(Op::Unbind(mailcert_store::Binding {
        thumbprint: thumb.clone(),
        service: Service::Imap,
        listener: None,
        node: None,
    }));
    change.push(Op::DeletePending("0000".into()));
    assert!(m.store.apply(change).is_err());
    let store = reopen(&dir);
    assert_eq!(store.bindings().unwrap().len(), 4);
    assert_eq!(store.generation().unwrap(), generation);
    assert_eq!(store.audit_log(100).unwrap().len(), log);
}
