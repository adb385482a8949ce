//! The DNS peers do what the DANE and MTA-STS tests rely on: a signed zone
//! validates at the resolver (AD bit), an unsigned one does not, records
//! set from a test reach both authoritative servers and the resolver, the
//! TSIG key files work with BIND's and Knot's update clients and a wrong
//! key is refused, and a program can be given the testbed's resolver.

use mailcert_testkit::{run, DnsOptions, DnsPeers, ZoneOptions};

fn testbed() -> DnsPeers {
    DnsPeers::start(DnsOptions {
        zones: vec![
            ZoneOptions::signed("example.test").record("mx1 IN A 127.0.0.1"),
            ZoneOptions::unsigned("insecure.test").record("mx IN A 127.0.0.2"),
        ],
        secondary: true,
    })
}

#[test]
fn signed_zone_validates_and_unsigned_does_not() {
    let dns = testbed();
    let signed = dns.resolve("mx1.example.test", "A");
    assert_eq!(signed.status, "NOERROR");
    assert_eq!(signed.data, vec!["127.0.0.1".to_string()]);
    assert!(signed.authenticated, "signed answer without AD: {signed:?}");
    let unsigned = dns.resolve("mx.insecure.test", "A");
    assert_eq!(unsigned.data, vec!["127.0.0.2".to_string()]);
    assert!(
        !unsigned.authenticated,
        "unsigned answer with AD: {unsigned:?}"
    );
    assert_eq!(dns.resolve("nothing.example.test", "A").status, "NXDOMAIN");

    // Any record type, reaching the secondary and the resolver.
    dns.add_record("example.test", "_mta-sts", 5, "TXT", "\"v=STSv1; id=1\"");
    dns.wait_for_secondary();
    assert_eq!(
        dns.query_secondary("_mta-sts.example.test", "TXT"),
        vec!["\"v=STSv1; id=1\"".to_string()]
    );
    dns.flush("_mta-sts.example.test");
    let txt = dns.resolve("_mta-sts.example.test", "TXT");
    assert!(
        txt.authenticated && txt.data == vec!["\"v=STSv1; id=1\"".to_string()],
        "{txt:?}"
    );
    dns.set_record("example.test", "_mta-sts", 5, "TXT", "\"v=STSv1; id=2\"");
    dns.remove_records("example.test", "mx1", "A");
    assert!(dns.query_primary("mx1.example.test", "A").is_empty());
    assert_eq!(
        dns.query_primary("_mta-sts.example.test", "TXT"),
        vec!["\"v=STSv1; id=2\"".to_string()]
    );

    // Glibc programs in the namespace ask the testbed.
    let out = dns
        .command_with_resolver("getent")
        .args(["hosts", "mx.insecure.test"])
        .output()
        .expect("running getent");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("127.0.0.2"),
        "getent in the namespace: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tsig_updates_with_both_key_file_formats_and_a_wrong_key_refused() {
    let mut dns = DnsPeers::start(DnsOptions::signed_zone("example.test"));
    let primary = dns.primary_addr().ip().to_string();
    let script = |name: &str| {
        format!(
            "server {primary} 53\nzone example.test\nupdate add {name}.example.test 5 TLSA 3 1 1 {}\nsend\n",
            "ab".repeat(32)
        )
    };
    let bind_key = dns.tsig_key_file_bind();
    let out = run(
        "nsupdate",
        &["-k", bind_key.to_str().unwrap()],
        script("_25._tcp.bind").as_bytes(),
    );
    assert!(
        out.status.success(),
        "nsupdate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let knot_key = dns.tsig_key_file_line();
    let out = run(
        "knsupdate",
        &["-k", knot_key.to_str().unwrap()],
        script("_25._tcp.knot").as_bytes(),
    );
    assert!(
        out.status.success(),
        "knsupdate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        "knsupdate",
        &[
            "-y",
            "hmac-sha256:mailcert-update:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ],
        script("_25._tcp.wrong").as_bytes(),
    );
    assert!(!out.status.success(), "a wrong TSIG key was accepted");

    dns.wait_for_secondary();
    for name in ["_25._tcp.bind.example.test", "_25._tcp.knot.example.test"] {
        assert_eq!(
            dns.query_secondary(name, "TLSA").len(),
            1,
            "{name} at the secondary"
        );
        dns.flush(name);
        let answer = dns.resolve(name, "TLSA");
        assert!(
            answer.authenticated && answer.data.len() == 1,
            "{name}: {answer:?}"
        );
    }
    assert!(dns
        .query_primary("_25._tcp.wrong.example.test", "TLSA")
        .is_empty());

    // A stopped secondary misses a change, then catches up.
    dns.stop_secondary();
    dns.add_record("example.test", "late", 5, "A", "127.0.0.9");
    dns.start_secondary();
    assert_eq!(
        dns.query_secondary("late.example.test", "A"),
        vec!["127.0.0.9".to_string()]
    );
}
