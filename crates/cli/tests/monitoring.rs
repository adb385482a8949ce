//! What monitoring does with mailcert, with the real thing: promtool
//! proves the alert rules of `dist/prometheus` fire for a certificate 10
//! days from its end and not for one 200 days away (and the other rules
//! when, and only when, they should); a real Prometheus scrapes a
//! running `serve` and a probe service and answers queries about both.

use std::path::PathBuf;

use mailcert_testkit::fleet::{Node, NodeSpec};
use mailcert_testkit::prometheus::{http_get, promtool, sample, Prometheus, ScrapeJob};
use mailcert_testkit::{free_port, Cli};

use crate::probe::Probe;
use crate::{cli, MAILCERT};

fn dist_prometheus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist/prometheus")
}

#[test]
fn the_alert_rules_fire_when_they_should_and_only_then() {
    let dir = dist_prometheus();
    let rules = dir.join("alerts.yml").display().to_string();
    let checked = promtool(&["check", "rules", &rules]).unwrap();
    assert!(checked.contains("SUCCESS: 8 rules found"), "{checked}");
    // The cases are in alerts.test.yml beside the rules, so that whoever
    // edits the rules runs them too: the bound certificate 10 days from
    // its end fires MailcertCertificateExpiringSoon, the one 200 days
    // away and the unbound one do not; a day of scanner failures does
    // not fire MailcertHandshakeFailuresRising, a new burst does.
    let tests = dir.join("alerts.test.yml").display().to_string();
    let tested = promtool(&["test", "rules", &tests]).unwrap();
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn prometheus_scrapes_serve_and_the_probe_service() {
    let cli = cli();
    let metrics_port = free_port();
    let mut spec = NodeSpec::new(
        "ex1.contoso.com",
        &cli.store().display().to_string(),
        &cli.path("store.db.key"),
    );
    spec.extra_config = format!("[metrics]\nbind = \"127.0.0.1:{metrics_port}\"\n");
    let node = Node::start(MAILCERT.as_ref(), cli.dir(), &spec);
    let page = http_get(metrics_port, "/metrics", &[]).unwrap().body;
    let not_after = sample(
        &page,
        "x509_cert_not_after",
        &[("services", "https,imap,pop,smtp")],
    )
    .unwrap_or_else(|| panic!("{page}"));

    let probe = Probe::start(
        &Cli::in_dir(MAILCERT, cli.dir()).without_store(),
        &["--allow", "mail.contoso.com", "--allow", "127.0.0.1"],
    );
    let prometheus = Prometheus::start(
        cli.dir(),
        &[
            ScrapeJob {
                job: "mailcert".into(),
                target: format!("127.0.0.1:{metrics_port}"),
                path: "/metrics".into(),
                params: Vec::new(),
            },
            ScrapeJob {
                job: "mailcert-probe".into(),
                target: format!("127.0.0.1:{}", probe.port),
                path: "/probe".into(),
                params: vec![
                    ("target".into(), "imaps://mail.contoso.com:993".into()),
                    ("connect".into(), format!("127.0.0.1:{}", node.imaps)),
                ],
            },
        ],
    );
    for job in ["mailcert", "mailcert-probe"] {
        let up = prometheus.wait_for(&format!("up{{job=\"{job}\"}} == 1"));
        assert_eq!(up.len(), 1, "{job}: {up:?}");
    }
    let scraped = prometheus.wait_for("x509_cert_not_after{job=\"mailcert\"}");
    assert_eq!(scraped.len(), 1, "{scraped:?}");
    assert_eq!(scraped[0]["metric"]["services"], "https,imap,pop,smtp");
    let value: f64 = scraped[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(value, not_after);
    let handshakes = prometheus.wait_for("mailcert_tls_handshakes_total{listener=\"imaps\"}");
    assert!(!handshakes.is_empty());
    // The probe reached the node through its allow-list: the node's
    // self-signed certificate is not trusted by the probe, which says so.
    let probed = prometheus.wait_for("ssl_probe_success{job=\"mailcert-probe\"}");
    assert_eq!(probed[0]["value"][1], "0", "{probed:?}");
    let findings =
        prometheus.wait_for("mailcert_check_findings{job=\"mailcert-probe\",severity=\"error\"}");
    assert!(
        findings
            .iter()
            .any(|f| f["metric"]["code"].as_str().is_some_and(|c| !c.is_empty())),
        "{findings:?}"
    );
    drop(node);
}
