//! Fills a store with N self-signed certificates in one change, for the
//! store benchmarks (`bench/store.sh`, `bench/fleet.sh`): `fill_store STORE
//! N`, STORE a SQLite file or a postgres:// URL (its key file named by
//! MAILCERT_STORE_KEY_FILE).

use mailcert_store::{Change, NewCertificate, Op, Origin, StoreLocation};
use mailcert_x509::build::{self, ServerCertSpec};
use mailcert_x509::{CertSummary, KeyType, SubjectName, Trust};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: fill_store STORE N"))?;
    let count: usize = args.next().unwrap_or_else(|| "10000".into()).parse()?;
    let key_file = std::env::var_os("MAILCERT_STORE_KEY_FILE").map(std::path::PathBuf::from);
    let location = StoreLocation::resolve(Some(path.as_ref()), key_file.as_deref());
    let (mut store, _) = mailcert_store::open_or_create(&location)?;
    let mut change = Change::new("bench-fill", "bench");
    let key = KeyType::EcP256.generate()?;
    for i in 0..count {
        let names = vec![
            SubjectName::Dns(format!("host{i}.bench.example")),
            SubjectName::Dns(format!("autodiscover{i}.bench.example")),
        ];
        let spec = ServerCertSpec {
            names,
            subject: None,
            not_before: build::now_utc(),
            days: 365,
        };
        let issued = build::self_signed(&spec, &key)?;
        let summary = CertSummary::from_der(&issued.cert_der)?;
        change.push(Op::InsertCertificate(Box::new(NewCertificate {
            summary,
            der: issued.cert_der,
            chain: Vec::new(),
            private_key: Some(issued.key_der),
            exportable: true,
            friendly_name: None,
            origin: Origin::SelfSigned,
            trust: Trust::OwnSelfSigned,
        })));
    }
    store.apply(change)?;
    println!("{}", store.certificates()?.len());
    Ok(())
}
