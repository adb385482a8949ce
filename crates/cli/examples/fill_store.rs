//! Fills a store with N self-signed certificates in one change, for the
//! store benchmark (`bench/store.sh`): `fill_store PATH N`.

use mailcert_store::{Change, NewCertificate, Op, Origin, SqliteStore, Store, StoreLocation};
use mailcert_x509::build::{self, ServerCertSpec};
use mailcert_x509::{CertSummary, KeyType, SubjectName, Trust};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: fill_store PATH N"))?;
    let count: usize = args.next().unwrap_or_else(|| "10000".into()).parse()?;
    let location = StoreLocation::resolve(Some(path.as_ref()), None);
    let (mut store, _) = SqliteStore::open_or_create(&location)?;
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
