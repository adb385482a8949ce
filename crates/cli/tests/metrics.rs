//! `serve`'s `/metrics` with real clients: OpenSSL clients that verify
//! the certificate and others that refuse it appear as `ok` and `failed`
//! handshakes with the client's reason; a client offering only TLS 1.1,
//! one offering only a cipher the front end refuses, and one that never
//! finishes its handshake have theirs. promtool accepts the page, whose
//! certificate families carry x509-certificate-exporter's names and
//! labels. A `[metrics]` address in use or malformed is refused.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use mailcert_testkit::fleet::{Node, NodeSpec};
use mailcert_testkit::prometheus::{http_get, promtool_check_metrics, sample, samples_of};
use mailcert_testkit::{free_port, run, wait_until, Pki};

use crate::{cli, MAILCERT};

fn scrape(port: u16) -> String {
    let answer = http_get(port, "/metrics", &[]).expect("GET /metrics");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        answer.content_type
    );
    answer.body
}

/// One OpenSSL client; `true` when its handshake (and verification) worked.
fn s_client(port: u16, extra: &[&str]) -> bool {
    let address = format!("127.0.0.1:{port}");
    let mut args = vec![
        "s_client",
        "-connect",
        &address,
        "-servername",
        "mail.contoso.com",
        "-verify_return_error",
    ];
    args.extend_from_slice(extra);
    run("openssl", &args, b"").status.success()
}

#[test]
fn handshakes_are_counted_with_the_reason_of_each_failure() {
    let cli = cli();
    let store = cli.store();
    let metrics_port = free_port();
    let mut spec = NodeSpec::new(
        "ex1.contoso.com",
        &store.display().to_string(),
        &cli.path("store.db.key"),
    );
    spec.extra_config = format!(
        "[metrics]\nbind = \"127.0.0.1:{metrics_port}\"\n\n[limits]\nhandshake_timeout = 2\n"
    );
    let node = Node::start(MAILCERT.as_ref(), cli.dir(), &spec);

    let page = scrape(metrics_port);
    let info = samples_of(&page, "mailcert_listener_certificate_info");
    let thumbprint = info
        .iter()
        .find(|l| l.contains("listener=\"imaps\""))
        .and_then(|l| l.split("thumbprint=\"").nth(1))
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("no certificate info for imaps in\n{page}"))
        .to_string();
    assert!(
        info.iter()
            .any(|l| l.contains("node=\"ex1.contoso.com\"") && l.ends_with(" 1")),
        "{info:?}"
    );
    let pem = cli.ok(&["show", &thumbprint, "--pem"]);
    let served = cli.write("served.pem", &pem.stdout);
    let other_ca = Pki::new(&cli.path("other-ca"));

    for _ in 0..5 {
        assert!(s_client(node.imaps, &["-CAfile", served.to_str().unwrap()]));
    }
    for _ in 0..3 {
        assert!(!s_client(
            node.imaps,
            &["-CAfile", other_ca.root.to_str().unwrap()]
        ));
    }
    // TLS 1.1 only (OpenSSL itself needs security level 0 for it).
    assert!(!s_client(
        node.imaps,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]
    ));
    // TLS 1.2 with only a cipher without forward secrecy.
    assert!(!s_client(node.imaps, &["-tls1_2", "-cipher", "AES128-SHA"]));
    // A client that starts a handshake and never finishes it: the first
    // bytes of a TLS record, then silence until the front end gives up.
    let mut stalled = TcpStream::connect(("127.0.0.1", node.imaps)).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x00]).unwrap();
    // A client that connects and leaves without a byte tried no handshake.
    drop(TcpStream::connect(("127.0.0.1", node.imaps)).unwrap());

    fn imaps<'a>(extra: (&'a str, &'a str)) -> [(&'a str, &'a str); 2] {
        [("listener", "imaps"), extra]
    }
    let mut page = String::new();
    wait_until(
        "the timeout of the stalled client counted",
        Duration::from_secs(30),
        || {
            page = scrape(metrics_port);
            sample(
                &page,
                "mailcert_tls_handshake_failures_total",
                &imaps(("reason", "timeout")),
            ) == Some(1.0)
        },
    );
    drop(stalled);
    let count = |name: &str, extra: (&str, &str)| sample(&page, name, &imaps(extra));
    assert_eq!(
        count("mailcert_tls_handshakes_total", ("result", "ok")),
        Some(5.0),
        "{page}"
    );
    assert_eq!(
        count("mailcert_tls_handshakes_total", ("result", "failed")),
        Some(6.0),
        "{page}"
    );
    for (reason, expected) in [
        ("unknown_ca", 3.0),
        ("no_shared_version", 1.0),
        ("no_shared_cipher", 1.0),
        ("timeout", 1.0),
        ("closed", 0.0),
        ("bad_certificate", 0.0),
    ] {
        assert_eq!(
            count("mailcert_tls_handshake_failures_total", ("reason", reason)),
            Some(expected),
            "{reason}: {:?}",
            samples_of(&page, "mailcert_tls_handshake_failures_total")
        );
    }
    // The five that got through found no backend (127.0.0.1:1).
    assert_eq!(
        sample(
            &page,
            "mailcert_backend_errors_total",
            &[("listener", "imaps")]
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(&page, "mailcert_connections", &[("listener", "imaps")]),
        Some(0.0)
    );

    // The store's certificate with the exporter's labels.
    let labels = [
        ("thumbprint", thumbprint.as_str()),
        ("services", "https,imap,pop,smtp"),
        ("status", "Valid"),
    ];
    let not_after = sample(&page, "x509_cert_not_after", &labels)
        .unwrap_or_else(|| panic!("{:?}", samples_of(&page, "x509_cert_not_after")));
    let not_before = sample(&page, "x509_cert_not_before", &labels).unwrap();
    // The secure-by-default certificate: 5 years.
    assert!(not_after - not_before > 4.0 * 365.0 * 86400.0);
    assert_eq!(sample(&page, "x509_cert_expired", &labels), Some(0.0));
    let line = &samples_of(&page, "x509_cert_not_after")[0];
    assert!(
        line.contains("subject_CN=\"")
            && line.contains("issuer_CN=\"")
            && line.contains("serial_number=\""),
        "{line}"
    );
    assert_eq!(
        sample(
            &page,
            "mailcert_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &page,
            "mailcert_fleet_listener_in_sync",
            &[("node", "ex1.contoso.com"), ("listener", "imaps")]
        ),
        Some(1.0),
        "{page}"
    );
    promtool_check_metrics(&page).unwrap();

    let missing = http_get(metrics_port, "/nothing", &[]).unwrap();
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("/metrics"), "{}", missing.body);
}

#[test]
fn a_metrics_address_in_use_or_malformed_is_refused() {
    let cli = cli();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let listener = format!(
        "[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{}\"\nbackend = \"127.0.0.1:1\"\n",
        free_port()
    );
    let config = cli.write(
        "mailcert.toml",
        format!("{listener}\n[metrics]\nbind = \"127.0.0.1:{port}\"\n"),
    );
    let config = config.display().to_string();
    let err = cli
        .run(&["serve", "--config", &config])
        .fails_with(2)
        .stderr;
    assert!(
        err.contains(&format!("[metrics] bind = \"127.0.0.1:{port}\""))
            && err.contains("choose a free address:port"),
        "{err}"
    );
    cli.write(
        "mailcert.toml",
        format!("{listener}\n[metrics]\nbind = \"9464\"\n"),
    );
    let err = cli
        .run(&["serve", "--check", "--config", &config])
        .fails_with(2)
        .stderr;
    assert!(
        err.contains("line 9: metrics.bind: '9464' is not an address:port such as 127.0.0.1:9464"),
        "{err}"
    );
}
