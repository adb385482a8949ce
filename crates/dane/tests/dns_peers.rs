//! Against Knot DNS and Unbound: TSIG-signed updates from every key file
//! form land at both authoritative servers; the validating resolver's AD
//! bit says signed from unsigned; a wrong key is refused with the reason.

use std::net::SocketAddr;

use mailcert_dane::resolver::NameServer;
use mailcert_dane::{DaneError, DnsRecord, RecordValue, Resolver, Rfc2136, Tlsa, TsigKey, Usage};
use mailcert_testkit::{DnsOptions, DnsPeers, ZoneOptions};

fn record(name: &str, byte: u8) -> DnsRecord {
    DnsRecord {
        name: name.to_string(),
        ttl: 5,
        data: RecordValue::Tlsa(Tlsa::for_spki(Usage::DaneEe, &[byte; 40])),
    }
}

#[test]
fn updates_lookups_and_authoritative_servers() {
    let dns = DnsPeers::start(DnsOptions {
        zones: vec![
            ZoneOptions::signed("example.test"),
            ZoneOptions::unsigned("insecure.test"),
        ],
        secondary: true,
    });
    let resolver = Resolver::new(dns.resolver_addr());
    for (file, name) in [
        (dns.tsig_key_file_bind(), "_25._tcp.bind.example.test."),
        (dns.tsig_key_file_knot(), "_25._tcp.knot.example.test."),
        (dns.tsig_key_file_line(), "_25._tcp.line.example.test."),
    ] {
        let key = TsigKey::from_file(&file).unwrap();
        let publisher = Rfc2136::new(dns.primary_addr(), "example.test", Some(key));
        publisher.add(&[record(name, 1), record(name, 2)]).unwrap();
        dns.wait_for_secondary();
        let answer = resolver.tlsa(name).unwrap();
        assert!(answer.authenticated, "{name}: {answer:?}");
        assert_eq!(answer.records.len(), 2, "{name}: {answer:?}");
        publisher.delete(&[record(name, 1)]).unwrap();
        dns.wait_for_secondary();
        dns.flush(name);
        let answer = resolver.tlsa(name).unwrap();
        assert_eq!(answer.records.len(), 1, "{name}: {answer:?}");
        assert_eq!(answer.records[0].0, Tlsa::for_spki(Usage::DaneEe, &[2; 40]));
        assert_eq!(answer.records[0].1, 5, "the TTL given");
    }

    let key = TsigKey::from_file(&dns.tsig_key_file_bind()).unwrap();
    let unsigned = Rfc2136::new(dns.primary_addr(), "insecure.test", Some(key.clone()));
    unsigned
        .add(&[record("_25._tcp.mx.insecure.test.", 3)])
        .unwrap();
    dns.wait_for_secondary();
    let answer = resolver.tlsa("_25._tcp.mx.insecure.test.").unwrap();
    assert!(
        !answer.authenticated && answer.records.len() == 1,
        "{answer:?}"
    );

    let servers = resolver.authoritative_servers("example.test").unwrap();
    let expect = |host: SocketAddr| host.ip();
    assert_eq!(
        servers,
        vec![
            NameServer {
                name: "ns1.example.test.".into(),
                addresses: vec![expect(dns.primary_addr())]
            },
            NameServer {
                name: "ns2.example.test.".into(),
                addresses: vec![expect(dns.secondary_addr().unwrap())]
            },
        ]
    );
    let direct = Resolver::new(dns.secondary_addr().unwrap())
        .query(
            "_25._tcp.line.example.test.",
            hickory_proto::rr::RecordType::TLSA,
            false,
        )
        .unwrap();
    assert!(
        direct.authoritative && direct.records.len() == 1,
        "{direct:?}"
    );

    // A name outside the zone, and a wrong secret.
    let outside = Rfc2136::new(dns.primary_addr(), "example.test", Some(key.clone()))
        .add(&[record("_25._tcp.mx.insecure.test.", 4)])
        .unwrap_err();
    assert!(outside.to_string().contains("[dane.dns] zone"), "{outside}");
    let wrong = TsigKey {
        secret: vec![7; 32],
        ..key
    };
    let refused = Rfc2136::new(dns.primary_addr(), "example.test", Some(wrong))
        .add(&[record("_25._tcp.wrong.example.test.", 5)])
        .unwrap_err();
    assert!(
        matches!(&refused, DaneError::UpdateRefused { rcode, .. } if rcode == "NOTAUTH"),
        "{refused}"
    );
    assert!(refused.to_string().contains("key file"), "{refused}");
    assert!(dns
        .query_primary("_25._tcp.wrong.example.test", "TLSA")
        .is_empty());
}
