//! The law of thumbprint prefixes, as a property over a real store: a
//! prefix however it is typed (case, the spaces Windows shows, colons)
//! selects the one certificate whose thumbprint starts with its hex
//! digits, is ambiguous when several do, and finds nothing when none does
//! — exactly as filtering every thumbprint by `starts_with` would.

use mailcert_lifecycle::{find, Found, LifecycleError};
use mailcert_store::{Change, NewCertificate, Op, Origin, SqliteStore, Store, StoreLocation};
use mailcert_x509::build::{self, ServerCertSpec};
use mailcert_x509::{CertSummary, KeyType, SubjectName, Trust};
use proptest::prelude::*;

/// A store with `n` certificates; their thumbprints.
fn store_with(dir: &tempfile::TempDir, n: usize) -> (SqliteStore, Vec<String>) {
    let location = StoreLocation::resolve(Some(&dir.path().join("store.db")), None);
    let (mut store, _) = SqliteStore::open_or_create(&location).expect("store");
    let mut thumbprints = Vec::new();
    let mut change = Change::new("import", "test");
    for i in 0..n {
        let key = KeyType::EcP256.generate().expect("key");
        let spec = ServerCertSpec {
            names: vec![SubjectName::Dns(format!("host{i}.contoso.com"))],
            subject: None,
            not_before: build::now_utc(),
            days: 30,
        };
        let issued = build::self_signed(&spec, &key).expect("certificate");
        let summary = CertSummary::from_der(&issued.cert_der).expect("summary");
        thumbprints.push(summary.thumbprint.clone());
        change.push(Op::InsertCertificate(Box::new(NewCertificate {
            summary,
            der: issued.cert_der,
            chain: vec![],
            private_key: Some(issued.key_der),
            exportable: true,
            friendly_name: None,
            origin: Origin::SelfSigned,
            trust: Trust::OwnSelfSigned,
        })));
    }
    store.apply(change).expect("insert");
    (store, thumbprints)
}

/// How an administrator may type a prefix.
fn typed(prefix: &str, separators: &[&str], lower: bool) -> String {
    let mut out = String::from(" ");
    for (c, sep) in prefix.chars().zip(separators.iter().cycle()) {
        out.push(if lower { c.to_ascii_lowercase() } else { c });
        out.push_str(sep);
    }
    out
}

#[test]
fn a_prefix_selects_what_starts_with_it() {
    let dir = tempfile::tempdir().expect("dir");
    // Enough certificates that short prefixes are shared.
    let (store, thumbprints) = store_with(&dir, 24);
    let config = ProptestConfig::with_cases(512);
    let strategy = (
        prop_oneof![
            // The start of a stored thumbprint...
            (any::<prop::sample::Index>(), 1usize..=40).prop_map(|(i, len)| (
                Some(i),
                len,
                String::new()
            )),
            // ... or any hex digits.
            "[0-9A-F]{1,6}".prop_map(|hex| (None, 0, hex)),
        ],
        prop::collection::vec(prop_oneof![Just(""), Just(" "), Just(":")], 1..4),
        any::<bool>(),
    );
    proptest::test_runner::TestRunner::new(config)
        .run(&strategy, |((pick, len, hex), separators, lower)| {
            let prefix = match pick {
                Some(i) => thumbprints[i.index(thumbprints.len())][..len].to_string(),
                None => hex,
            };
            let matching: Vec<&String> = thumbprints
                .iter()
                .filter(|t| t.starts_with(&prefix))
                .collect();
            let input = typed(&prefix, &separators, lower);
            match (find(&store, &input), matching.as_slice()) {
                (Ok(Found::Certificate(c)), [one]) => prop_assert_eq!(&c.summary.thumbprint, *one),
                (Err(LifecycleError::Ambiguous { candidates, .. }), many) if many.len() > 1 => {
                    prop_assert_eq!(candidates.len(), many.len());
                    for t in many {
                        prop_assert!(candidates.iter().any(|c| c.contains(t.as_str())));
                    }
                }
                (Err(LifecycleError::NotFound(_)), []) => {}
                (other, expected) => {
                    prop_assert!(false, "{input:?}: {other:?}, expected {expected:?}")
                }
            }
            Ok(())
        })
        .expect("the prefix law holds");
}
