//! `check` against real TLS servers: `openssl s_server` endpoints on
//! loopback ports, each set up with one problem, and a correct one.

use crate::common::*;
use mailcert_check::{BoundCertificate, BoundLookup, Code, Severity};
use mailcert_x509::Service;

const NAME: &str = "mail.example.test";
const LEVEL_0_TLS12: &[&str] = &["-cipher", "DEFAULT@SECLEVEL=0", "-min_protocol", "TLSv1.2"];

struct Ca {
    pki: Pki,
    root: Cert,
    int: Cert,
}

fn ca() -> Ca {
    let pki = Pki::new();
    let root = pki.root("root", "Example Test Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Example Test Issuing CA"));
    Ca { pki, root, int }
}

fn imaps(port: u16) -> String {
    let _ = port;
    format!("imaps://{NAME}")
}

#[test]
fn a_correct_endpoint_has_no_findings() {
    let ca = ca();
    let leaf = ca.pki.issue(&ca.int, "leaf", &Spec::leaf(NAME, &[NAME]));
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
    assert_eq!(report.trusted, Some(true));
    assert!(report.connected);
    assert_eq!(report.tls_version.as_deref(), Some("TLSv1.3"));
    assert!(report.cipher.as_deref().is_some_and(|c| !c.is_empty()));
    assert_eq!(report.chain.len(), 2);
    assert_eq!(report.chain[0].names, vec![NAME.to_string()]);
    assert_eq!(report.legacy_versions, Some(Vec::new()));
}

#[test]
fn https_negotiates_alpn() {
    let ca = ca();
    let leaf = ca.pki.issue(&ca.int, "leaf", &Spec::leaf(NAME, &[NAME]));
    let server = s_server(&leaf, Some(&ca.int.pem), &["-alpn", "http/1.1"]);
    let report = check(&format!("https://{NAME}"), server.port, trust(&[&ca.root]));
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
    assert_eq!(report.alpn.as_deref(), Some("http/1.1"));
}

#[test]
fn self_signed() {
    let pki = Pki::new();
    let cert = pki.self_signed("ss", NAME, &[NAME]);
    let server = s_server(&cert, None, &[]);
    let report = check(&imaps(server.port), server.port, trust(&[]));
    eqnice!(vec![Code::SelfSigned], codes(&report), describe(&report));
    assert_eq!(report.trusted, Some(false));
    // Trusting it explicitly (--ca-file) makes it pass.
    let report = check(&imaps(server.port), server.port, trust(&[&cert]));
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
}

#[test]
fn private_ca_untrusted_then_trusted_with_ca_file() {
    let ca = ca();
    let leaf = ca.pki.issue(&ca.int, "leaf", &Spec::leaf(NAME, &[NAME]));
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[]));
    eqnice!(
        vec![Code::UntrustedIssuer],
        codes(&report),
        describe(&report)
    );
    assert!(report.findings[0]
        .message
        .contains("Example Test Issuing CA"));
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
}

#[test]
fn intermediate_not_sent() {
    let ca = ca();
    let mut spec = Spec::leaf(NAME, &[NAME]);
    spec.aia = Some("http://ca.example.test/issuing.crt");
    let leaf = ca.pki.issue(&ca.int, "leaf", &spec);
    let server = s_server(&leaf, None, &[]);
    // The client has the root only: the issuing CA is missing, and the
    // certificate says where it could be downloaded.
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(
        vec![Code::IncompleteChain],
        codes(&report),
        describe(&report)
    );
    assert!(report.findings[0]
        .message
        .contains("Example Test Issuing CA"));
    // The client happens to have the intermediate: it works here, but
    // clients with the root only fail.
    let report = check(
        &imaps(server.port),
        server.port,
        trust(&[&ca.root, &ca.int]),
    );
    eqnice!(
        vec![Code::IncompleteChain],
        codes(&report),
        describe(&report)
    );
    assert_eq!(report.trusted, Some(true));
}

#[test]
fn intermediate_not_sent_without_a_download_address() {
    let ca = ca();
    let leaf = ca
        .pki
        .issue(&ca.int, "leaf-no-aia", &Spec::leaf(NAME, &[NAME]));
    let server = s_server(&leaf, None, &[]);
    // The client's root is given (--ca-file); the issuing CA is neither
    // sent nor trusted: the server should send it.
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(
        vec![Code::IncompleteChain],
        codes(&report),
        describe(&report)
    );
    assert!(report.findings[0]
        .message
        .contains("Example Test Issuing CA"));
    // Sending it fixes it.
    let fixed = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check(&imaps(fixed.port), fixed.port, trust(&[&ca.root]));
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
}

#[test]
fn wrong_name() {
    let ca = ca();
    let leaf = ca.pki.issue(
        &ca.int,
        "leaf",
        &Spec::leaf(
            "router.example.test",
            &["router.example.test", "*.mail.example.test"],
        ),
    );
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::NameMismatch], codes(&report), describe(&report));
    let message = &report.findings[0].message;
    assert!(message.contains("router.example.test"), "{message}");
    assert!(message.contains(NAME), "{message}");
    // --name checks another name than the endpoint's host.
    let report = check_with(&imaps(server.port), server.port, trust(&[&ca.root]), |s| {
        s.name = Some("router.example.test".into())
    });
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
}

#[test]
fn wildcard_does_not_cover_the_bare_domain() {
    let ca = ca();
    let leaf = ca.pki.issue(
        &ca.int,
        "leaf",
        &Spec::leaf("*.example.test", &["*.example.test"]),
    );
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check("imaps://example.test", server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::NameMismatch], codes(&report), describe(&report));
    assert!(report.findings[0].message.contains("bare domain"));
    let report = check("imaps://a.b.example.test", server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::NameMismatch], codes(&report), describe(&report));
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
}

#[test]
fn expired() {
    let ca = ca();
    let mut spec = Spec::leaf(NAME, &[NAME]);
    spec.start_days = -400;
    spec.end_days = -10;
    let leaf = ca.pki.issue(&ca.int, "leaf", &spec);
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::Expired], codes(&report), describe(&report));
}

#[test]
fn not_yet_valid_and_expiring_soon() {
    let ca = ca();
    let mut spec = Spec::leaf(NAME, &[NAME]);
    spec.start_days = 5;
    spec.end_days = 60;
    let leaf = ca.pki.issue(&ca.int, "leaf", &spec);
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::NotYetValid], codes(&report), describe(&report));

    let mut spec = Spec::leaf(NAME, &[NAME]);
    spec.end_days = 12;
    let leaf = ca.pki.issue(&ca.int, "soon", &spec);
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::ExpiringSoon], codes(&report), describe(&report));
    assert_eq!(report.findings[0].severity, Severity::Warning);
    assert_eq!(report.trusted, Some(true));
}

#[test]
fn at_moves_the_clock() {
    let ca = ca();
    let leaf = ca.pki.issue(&ca.int, "leaf", &Spec::leaf(NAME, &[NAME]));
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(200);
    let report = check_with(&imaps(server.port), server.port, trust(&[&ca.root]), |s| {
        s.at = later
    });
    eqnice!(vec![Code::Expired], codes(&report), describe(&report));
}

#[test]
fn rsa_1024() {
    let ca = ca();
    let mut spec = Spec::leaf(NAME, &[NAME]);
    spec.key = Key::Rsa(1024);
    let leaf = ca.pki.issue(&ca.int, "leaf", &spec);
    // OpenSSL refuses to serve such a key above security level 0 (which
    // also re-enables TLS 1.0, so the minimum is set back to 1.2).
    let server = s_server(&leaf, Some(&ca.int.pem), LEVEL_0_TLS12);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::WeakKey], codes(&report), describe(&report));
    assert_eq!(report.chain[0].key_size, 1024);
}

#[test]
fn sha1_signature_and_client_only_eku() {
    let ca = ca();
    let mut spec = Spec::leaf(NAME, &[NAME]);
    spec.md = "sha1";
    let leaf = ca.pki.issue(&ca.int, "sha1", &spec);
    let server = s_server(&leaf, Some(&ca.int.pem), LEVEL_0_TLS12);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::Sha1Signature], codes(&report), describe(&report));

    let mut spec = Spec::leaf(NAME, &[NAME]);
    spec.eku = Some("clientAuth");
    let leaf = ca.pki.issue(&ca.int, "client", &spec);
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(
        vec![Code::NoServerAuthEku],
        codes(&report),
        describe(&report)
    );
}

#[test]
fn chain_out_of_order_with_root() {
    let ca = ca();
    let leaf = ca.pki.issue(&ca.int, "leaf", &Spec::leaf(NAME, &[NAME]));
    let chain = ca.pki.bundle("wrong-order.pem", &[&ca.root, &ca.int]);
    let server = s_server(&leaf, Some(&chain), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(
        sorted(vec![Code::ChainOrder, Code::UnneededRoot]),
        codes(&report),
        describe(&report)
    );
    assert_eq!(report.trusted, Some(true));
    assert!(!report.has_errors());
}

#[test]
fn tls_1_0_only_and_tls_1_0_too() {
    let ca = ca();
    let leaf = ca.pki.issue(&ca.int, "leaf", &Spec::leaf(NAME, &[NAME]));
    // This OpenSSL still speaks TLS 1.0 when asked at security level 0.
    let server = s_server(
        &leaf,
        Some(&ca.int.pem),
        &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
    );
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::OldTlsVersion], codes(&report), describe(&report));
    assert_eq!(report.findings[0].severity, Severity::Error);
    assert_eq!(report.legacy_versions, Some(vec!["TLSv1.0".to_string()]));

    let server = s_server(
        &leaf,
        Some(&ca.int.pem),
        &["-min_protocol", "TLSv1", "-cipher", "DEFAULT@SECLEVEL=0"],
    );
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::OldTlsVersion], codes(&report), describe(&report));
    assert_eq!(report.findings[0].severity, Severity::Warning);
    // Every old version it accepts, not only the highest.
    assert_eq!(
        report.legacy_versions,
        Some(vec!["TLSv1.0".to_string(), "TLSv1.1".to_string()])
    );
    let message = &report.findings[0].message;
    assert!(message.contains("TLSv1.0 and TLSv1.1"), "{message}");
    assert_eq!(report.tls_version.as_deref(), Some("TLSv1.3"));

    // TLS 1.1 and newer, not 1.0.
    let server = s_server(
        &leaf,
        Some(&ca.int.pem),
        &["-min_protocol", "TLSv1.1", "-cipher", "DEFAULT@SECLEVEL=0"],
    );
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::OldTlsVersion], codes(&report), describe(&report));
    assert_eq!(report.legacy_versions, Some(vec!["TLSv1.1".to_string()]));
}

/// SSL 3.0: this machine's OpenSSL is built without it (no `-ssl3` in
/// s_server), so no real server can offer it here. A scripted one answers
/// each ClientHello with a ServerHello for the version the hello asks for
/// (SSL 3.0 to TLS 1.1) and refuses TLS 1.2/1.3 with an alert, which is
/// all the probe reads; it shows that the probe walks down to SSL 3.0.
#[test]
fn every_old_version_down_to_ssl3_is_probed() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut hello = [0u8; 11];
            if stream.read_exact(&mut hello).is_err() {
                continue;
            }
            let version = [hello[9], hello[10]];
            let answer: Vec<u8> = if version[0] == 3 && version[1] <= 2 {
                vec![22, 3, version[1], 0, 6, 2, 0, 0, 2, 3, version[1]]
            } else {
                // protocol_version alert
                vec![21, 3, 1, 0, 2, 2, 70]
            };
            let _ = stream.write_all(&answer);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    });
    let report = check(&imaps(port), port, trust(&[]));
    assert_eq!(
        report.legacy_versions,
        Some(vec![
            "SSLv3".to_string(),
            "TLSv1.0".to_string(),
            "TLSv1.1".to_string()
        ]),
        "{}",
        describe(&report)
    );
    eqnice!(vec![Code::OldTlsVersion], codes(&report), describe(&report));
    assert_eq!(report.findings[0].severity, Severity::Error);
    assert!(report.findings[0]
        .message
        .contains("SSLv3, TLSv1.0 and TLSv1.1"));
}

#[test]
fn expired_root_sent_along_still_counts() {
    let pki = Pki::new();
    let old_root = pki.root_dated("old-root", "Expired Root", -400, -10);
    let leaf = pki.issue(&old_root, "leaf", &Spec::leaf(NAME, &[NAME]));
    let server = s_server(&leaf, Some(&old_root.pem), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&old_root]));
    eqnice!(
        sorted(vec![Code::Expired, Code::UnneededRoot]),
        codes(&report),
        describe(&report)
    );
    assert!(report.has_errors());
}

#[test]
fn unrelated_self_signed_certificate_sent_is_not_the_root() {
    let ca = ca();
    let leaf = ca.pki.issue(&ca.int, "leaf", &Spec::leaf(NAME, &[NAME]));
    let stray = ca
        .pki
        .self_signed("stray", "stray.example.test", &["stray.example.test"]);
    let chain = ca.pki.bundle("with-stray.pem", &[&ca.int, &stray]);
    let server = s_server(&leaf, Some(&chain), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(vec![Code::ChainOrder], codes(&report), describe(&report));
    assert!(report.findings[0].message.contains("stray.example.test"));
}

#[test]
fn key_usage_that_forbids_signing() {
    let ca = ca();
    let mut spec = Spec::leaf(NAME, &[NAME]);
    spec.key_usage = Some("cRLSign");
    let leaf = ca.pki.issue(&ca.int, "crl-only", &spec);
    let server = s_server(&leaf, Some(&ca.int.pem), &[]);
    let report = check(&imaps(server.port), server.port, trust(&[&ca.root]));
    eqnice!(
        vec![Code::InvalidCertificate],
        codes(&report),
        describe(&report)
    );
    assert_eq!(report.findings[0].severity, Severity::Error);
    // An OpenSSL client refuses the same server.
    let roots = ca.pki.bundle("client-roots.pem", &[&ca.root]);
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", server.port),
        ])
        .args(["-servername", NAME, "-verify_return_error", "-CAfile"])
        .arg(&roots)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client");
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("unsuitable certificate purpose"), "{said}");
}

#[test]
fn nothing_listening() {
    let port = free_port();
    let report = check(&imaps(port), port, trust(&[]));
    eqnice!(vec![Code::ConnectFailed], codes(&report), describe(&report));
    assert!(!report.connected);
}

#[test]
fn implicit_tls_scheme_on_a_plaintext_port() {
    // An imaps:// check against a port that greets in plaintext.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for _ in 0..2 {
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.write_all(b"* OK IMAP4rev1 ready\r\n");
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
            }
        }
    });
    let report = check_with(&imaps(port), port, trust(&[]), |s| s.legacy_probe = false);
    eqnice!(vec![Code::ProtocolError], codes(&report), describe(&report));
    assert!(report.findings[0].message.contains("plaintext"));
    drop(server);
}

/// What the store would serve: thumbprints, each for a listener or not.
struct FixedBinding(Vec<(String, Option<&'static str>)>);

impl BoundLookup for FixedBinding {
    fn expected(
        &self,
        service: Service,
        _name: Option<&str>,
        _address: std::net::SocketAddr,
    ) -> Vec<BoundCertificate> {
        self.0
            .iter()
            .filter(|_| service == Service::Imap)
            .map(|(thumbprint, listener)| BoundCertificate {
                thumbprint: thumbprint.clone(),
                subject: "mail.example.test (renewed)".into(),
                rule: "the newest valid certificate bound to imap".into(),
                listener: listener.map(str::to_string),
            })
            .collect()
    }
}

#[test]
fn certificate_on_the_port_is_not_the_bound_one() {
    let ca = ca();
    let old = ca.pki.issue(&ca.int, "old", &Spec::leaf(NAME, &[NAME]));
    let new = ca.pki.issue(&ca.int, "new", &Spec::leaf(NAME, &[NAME]));
    let server = s_server(&old, Some(&ca.int.pem), &[]);
    let new_thumb = mailcert_x509::thumbprint(&new.der);
    let old_thumb = mailcert_x509::thumbprint(&old.der);
    let with = |binding: FixedBinding| {
        let binding = shared(binding);
        check_with(&imaps(server.port), server.port, trust(&[&ca.root]), |s| {
            s.bound = Some(binding)
        })
    };
    let report = with(FixedBinding(vec![(new_thumb.clone(), None)]));
    eqnice!(
        vec![Code::NotBoundCertificate],
        codes(&report),
        describe(&report)
    );
    assert!(report.findings[0].message.contains(&new_thumb));
    let report = with(FixedBinding(vec![(old_thumb.clone(), None)]));
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
    // The old one is what a listener of the service would serve (its own
    // binding or pin): the port may be that listener.
    let report = with(FixedBinding(vec![
        (new_thumb.clone(), None),
        (old_thumb.clone(), Some("imaps")),
    ]));
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
    // Nothing bound: nothing to compare with.
    let report = with(FixedBinding(Vec::new()));
    eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
}
