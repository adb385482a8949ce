//! `check --listen`: the probe service Prometheus scrapes, against
//! OpenSSL servers — a good endpoint, an expired certificate, a missing
//! intermediate, a name mismatch — and a server that never answers; a
//! target outside the allow-list gets 400; probes beyond `--jobs` wait,
//! then get 503; promtool accepts every page.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Stdio};

use mailcert_testkit::prometheus::{http_get, promtool_check_metrics, sample, samples_of};
use mailcert_testkit::{free_port, Cli, OpensslPki, OpensslServer, Spec};

use crate::cli;

const NAME: &str = "mail.contoso.com";

/// `mailcert check --listen` on a port of its own; SIGTERM when dropped.
pub struct Probe {
    pub port: u16,
    child: Child,
}

impl Probe {
    /// Starts the probe service with `args` and returns once it says where
    /// it serves.
    pub fn start(cli: &Cli, args: &[&str]) -> Probe {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut all = vec!["check", "--listen", &listen];
        all.extend_from_slice(args);
        let mut child = cli
            .command(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mailcert check --listen");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the probe's first line");
        assert!(line.contains("/probe?target=URL"), "{line}");
        Probe { port, child }
    }

    /// `GET /probe?QUERY` as Prometheus asks it: status and body.
    pub fn probe(&self, query: &str) -> (u16, String) {
        let answer = http_get(
            self.port,
            &format!("/probe?{query}"),
            &[("X-Prometheus-Scrape-Timeout-Seconds", "10")],
        )
        .expect("GET /probe");
        (answer.status, answer.body)
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        // SIGTERM, as systemd stops it; then reap it.
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn target(port: u16) -> String {
    format!("target=imaps://{NAME}&connect=127.0.0.1:{port}")
}

fn error_finding(page: &str, code: &str) -> Option<f64> {
    sample(
        page,
        "mailcert_check_findings",
        &[("code", code), ("severity", "error")],
    )
}

/// A root, an intermediate, and the leaves the servers present.
struct Endpoints {
    pki: OpensslPki,
    good: OpensslServer,
    expired: OpensslServer,
    no_intermediate: OpensslServer,
    other_name: OpensslServer,
}

fn endpoints() -> Endpoints {
    let pki = OpensslPki::new();
    let root = pki.root("root", "probe test root");
    let intermediate = pki.issue(
        &root,
        "intermediate",
        &Spec::intermediate("probe test intermediate"),
    );
    let good = pki.issue(
        &intermediate,
        "good",
        &Spec::leaf(NAME, &[NAME, "autodiscover.contoso.com"]),
    );
    let mut ended = Spec::leaf(NAME, &[NAME]);
    (ended.start_days, ended.end_days) = (-30, -10);
    let expired = pki.issue(&intermediate, "expired", &ended);
    let other = pki.issue(
        &intermediate,
        "other",
        &Spec::leaf("other.fabrikam.com", &["other.fabrikam.com"]),
    );
    let serve = |cert: &mailcert_testkit::Cert, chain: bool| {
        OpensslServer::start(
            &cert.pem,
            &cert.key,
            chain.then_some(intermediate.pem.as_path()),
            &[],
        )
    };
    Endpoints {
        good: serve(&good, true),
        expired: serve(&expired, true),
        no_intermediate: serve(&good, false),
        other_name: serve(&other, true),
        pki,
    }
}

#[test]
fn probes_say_what_a_client_would_and_stay_on_their_hosts() {
    let cli = cli().without_store();
    let servers = endpoints();
    // Accepts connections (the kernel completes them) and never says a word.
    let silent = TcpListener::bind(("127.0.0.1", free_port())).unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let root = servers.pki.path("root.pem").display().to_string();
    let probe = Probe::start(
        &cli,
        &[
            "--allow",
            "*.contoso.com",
            "--allow",
            "127.0.0.1",
            "--ca-file",
            &root,
            "--no-system-roots",
            "--timeout",
            "3",
        ],
    );

    let (status, page) = probe.probe(&target(servers.good.port));
    assert_eq!(status, 200, "{page}");
    assert_eq!(sample(&page, "ssl_probe_success", &[]), Some(1.0), "{page}");
    assert_eq!(sample(&page, "probe_success", &[]), Some(1.0));
    assert_eq!(
        sample(&page, "probe_tls_version_info", &[("version", "TLS 1.3")]),
        Some(1.0),
        "{page}"
    );
    let leaf = sample(
        &page,
        "ssl_cert_not_after",
        &[
            ("cn", NAME),
            ("issuer_cn", "probe test intermediate"),
            ("dnsnames", ",mail.contoso.com,autodiscover.contoso.com,"),
        ],
    )
    .unwrap_or_else(|| panic!("{:?}", samples_of(&page, "ssl_cert_not_after")));
    let intermediate = sample(
        &page,
        "ssl_cert_not_after",
        &[
            ("cn", "probe test intermediate"),
            ("issuer_cn", "probe test root"),
        ],
    )
    .unwrap_or_else(|| panic!("{page}"));
    let earliest = sample(&page, "probe_ssl_earliest_cert_expiry", &[]).unwrap();
    assert_eq!(earliest, leaf.min(intermediate));
    assert!(samples_of(&page, "ssl_cert_not_after")[0].contains("serial_no=\""));
    assert!(
        samples_of(&page, "mailcert_check_findings")
            .iter()
            .all(|l| !l.contains("severity=\"error\"")),
        "{page}"
    );
    promtool_check_metrics(&page).unwrap();

    for (server, code) in [
        (&servers.expired, "expired"),
        (&servers.no_intermediate, "incomplete-chain"),
        (&servers.other_name, "name-mismatch"),
    ] {
        let (status, page) = probe.probe(&target(server.port));
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            sample(&page, "ssl_probe_success", &[]),
            Some(0.0),
            "{code}: {page}"
        );
        assert_eq!(error_finding(&page, code), Some(1.0), "{code}: {page}");
        promtool_check_metrics(&page).unwrap();
    }
    let (status, page) = probe.probe(&format!("{}&timeout=2s", target(silent_port)));
    assert_eq!(status, 200, "{page}");
    assert_eq!(sample(&page, "ssl_probe_success", &[]), Some(0.0), "{page}");
    assert!(
        samples_of(&page, "mailcert_check_findings")
            .iter()
            .any(|l| l.contains("severity=\"error\"")),
        "{page}"
    );
    assert!(
        samples_of(&page, "probe_tls_version_info").is_empty(),
        "{page}"
    );
    promtool_check_metrics(&page).unwrap();

    // Outside the allow-list: 400 with what to do.
    for query in [
        "target=imaps://mail.fabrikam.com".to_string(),
        format!(
            "target=imaps://{NAME}&connect=127.0.0.2:{}",
            servers.good.port
        ),
    ] {
        let (status, body) = probe.probe(&query);
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains("not on this probe's allow-list"), "{body}");
    }
    let (status, body) = probe.probe("target=mail.contoso.com");
    assert_eq!(status, 400);
    assert!(body.contains("give one endpoint with its scheme"), "{body}");
    drop(probe);

    // Without --allow, the probe does not start.
    let listen = format!("127.0.0.1:{}", free_port());
    let refused = cli.run(&["check", "--listen", &listen]).fails_with(2);
    assert!(refused.stderr.contains("--allow"), "{}", refused.stderr);
    drop(silent);
}

#[test]
fn probes_beyond_the_bound_wait_then_get_503() {
    let cli = cli().without_store();
    let silent = TcpListener::bind(("127.0.0.1", free_port())).unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let probe = Probe::start(
        &cli,
        &[
            "--allow",
            "*.contoso.com",
            "--allow",
            "127.0.0.1",
            "--jobs",
            "1",
        ],
    );
    let port = probe.port;
    // The one probe allowed at once: a server that never answers, for 6 s.
    let holder = std::thread::spawn(move || {
        http_get(
            port,
            &format!("/probe?{}&timeout=6s", target(silent_port)),
            &[],
        )
        .expect("the first probe")
    });
    // Once it has connected, it holds the one permit for its 6 s.
    let (_held, _) = silent.accept().expect("the first probe connects");
    let (status, body) = probe.probe(&format!("{}&timeout=1s", target(silent_port)));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("--jobs"), "{body}");
    let first = holder.join().unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(sample(&first.body, "ssl_probe_success", &[]), Some(0.0));
    drop(silent);
}
