//! `serve`'s expiry events: at the start, one event per certificate in use
//! that nears its end or has ended, with its name, thumbprint, names,
//! services and days left — as text, or one JSON object per line with
//! `--log-format json` — and the `[alerts] command` run once a day per
//! certificate for the whole fleet (two nodes on one store, a restart),
//! with the fields in its environment. A command that hangs is killed
//! and the front end carries on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mailcert_testkit::fleet::{Node, NodeSpec};
use mailcert_testkit::{openssl_at, run, wait_until, Cli};

use crate::{cli, MAILCERT};

/// The thumbprint `list --json` gives the certificate named `name`.
fn thumbprint_of(cli: &Cli, name: &str) -> String {
    cli.list()
        .iter()
        .find(|c| c["names"].as_array().unwrap().iter().any(|n| n == name))
        .and_then(|c| c["thumbprint"].as_str())
        .unwrap_or_else(|| panic!("no certificate for {name}: {:?}", cli.list()))
        .to_string()
}

/// A store whose IMAP certificate ends in 10 days and whose SMTP one
/// has ended; returns (expiring, expired).
fn store_with_ending_certificates(cli: &Cli) -> (String, String) {
    cli.init("ex1.contoso.com");
    cli.new_self_signed(&["--name", "imap.contoso.com", "--days", "10"]);
    let expiring = thumbprint_of(cli, "imap.contoso.com");
    cli.ok(&["enable", &expiring, "--services", "imap"]);
    // A certificate bound while valid that then ends: OpenSSL, 30 days
    // less 8 seconds ago, made a 30-day certificate.
    openssl_at(
        cli.dir(),
        "-2591992s",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=smtp.contoso.com",
            "-addext",
            "subjectAltName=DNS:smtp.contoso.com",
            "-keyout",
            "old.key",
            "-out",
            "old.pem",
        ],
    );
    cli.ok(&["import", &cli.p("old.pem"), "--key", &cli.p("old.key")]);
    let expired = thumbprint_of(cli, "smtp.contoso.com");
    cli.ok(&["enable", &expired, "--services", "smtp"]);
    wait_until(
        "the SMTP certificate ended",
        Duration::from_secs(60),
        || cli.show(&expired)["status"] == "DateInvalid",
    );
    (expiring, expired)
}

/// An alert program that appends one line per run with what it was given.
fn recorder(dir: &Path) -> (PathBuf, PathBuf) {
    let script = dir.join("notify.sh");
    let out = dir.join("alerts.txt");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$MAILCERT_EVENT $MAILCERT_THUMBPRINT $MAILCERT_DAYS_LEFT $MAILCERT_SERVICES $MAILCERT_NODE $1\" >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    run("chmod", &["755", script.to_str().unwrap()], b"");
    (script, out)
}

fn alert_lines(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The JSON events in a node's log.
fn json_events(node: &Node) -> Vec<serde_json::Value> {
    node.log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("event").is_some())
        .collect()
}

fn spec(name: &str, cli: &Cli, extra: &str, json: bool) -> NodeSpec {
    let store = cli.store();
    let mut spec = NodeSpec::new(
        name,
        &store.display().to_string(),
        &PathBuf::from(format!("{}.key", store.display())),
    );
    spec.extra_config = extra.to_string();
    if json {
        spec.extra_args = vec!["--log-format".into(), "json".into()];
    }
    spec
}

#[test]
fn events_are_logged_and_alerted_once_a_day_for_the_fleet() {
    let cli = cli();
    let (expiring, expired) = store_with_ending_certificates(&cli);
    let (script, out) = recorder(cli.dir());
    let alerts = format!(
        "[alerts]\ncommand = [\"{}\", \"--to=ops\"]\ntimeout = 20\n",
        script.display()
    );
    let ex1 = Node::start(
        MAILCERT.as_ref(),
        cli.dir(),
        &spec("ex1", &cli, &alerts, true),
    );
    let mut events = Vec::new();
    wait_until("ex1 logs both events", Duration::from_secs(30), || {
        events = json_events(&ex1);
        events.len() >= 2
    });
    let find = |events: &[serde_json::Value], name: &str| {
        events
            .iter()
            .find(|e| e["event"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {events:?}"))
    };
    let soon = find(&events, "certificate-expiring");
    assert_eq!(soon["thumbprint"], expiring.as_str());
    assert_eq!(soon["names"], serde_json::json!(["imap.contoso.com"]));
    assert_eq!(soon["services"], serde_json::json!(["imap"]));
    assert!(
        (8..=10).contains(&soon["days_left"].as_i64().unwrap()),
        "{soon}"
    );
    assert_eq!(soon["level"], "WARN");
    assert_eq!(soon["node"], "ex1");
    assert_eq!(soon["new"], true);
    assert!(soon["timestamp"].as_str().is_some());
    assert!(
        soon["message"].as_str().unwrap().contains(&format!(
            "certificate {expiring} (imap.contoso.com), bound to imap, expires in"
        )),
        "{soon}"
    );
    let gone = find(&events, "certificate-expired");
    assert_eq!(gone["thumbprint"], expired.as_str());
    assert_eq!(gone["services"], serde_json::json!(["smtp"]));
    assert!(gone["days_left"].as_i64().unwrap() <= 0, "{gone}");
    assert_eq!(gone["level"], "ERROR");
    // The rest of the log is JSON too.
    let first = ex1.log().lines().next().unwrap_or_default().to_string();
    assert!(
        serde_json::from_str::<serde_json::Value>(&first).is_ok(),
        "{first}"
    );

    wait_until("two alerts", Duration::from_secs(30), || {
        alert_lines(&out).len() >= 2
    });
    let lines = alert_lines(&out);
    assert!(
        lines.iter().any(
            |l| l.starts_with(&format!("certificate-expiring {expiring} "))
                && l.ends_with(" imap ex1 --to=ops")
        ),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with(&format!("certificate-expired {expired} "))
                && l.ends_with(" smtp ex1 --to=ops")
        ),
        "{lines:?}"
    );

    // A second node on the same store logs them, but they were alerted today.
    let ex2 = Node::start(
        MAILCERT.as_ref(),
        cli.dir(),
        &spec("ex2", &cli, &alerts, true),
    );
    wait_until("ex2 logs both events", Duration::from_secs(30), || {
        json_events(&ex2).len() >= 2
    });
    assert!(
        json_events(&ex2).iter().all(|e| e["new"] == false),
        "{:?}",
        json_events(&ex2)
    );
    // And a restart of ex1 does not alert again either.
    drop(ex1);
    let ex1 = Node::start(
        MAILCERT.as_ref(),
        cli.dir(),
        &spec("ex1", &cli, &alerts, false),
    );
    wait_until(
        "ex1 logs the events again, as text",
        Duration::from_secs(30),
        || {
            let log = ex1.log();
            log.contains("certificate-expiring: certificate")
                && log.contains("certificate-expired: certificate")
        },
    );
    let log = ex1.log();
    assert!(
        log.contains(&format!("thumbprint={expiring} ")) && log.contains("names=imap.contoso.com"),
        "{log}"
    );
    assert_eq!(alert_lines(&out).len(), 2, "{:?}", alert_lines(&out));
    // The bookkeeping made no node reload its certificates.
    assert!(!ex2.log().contains("store changed"), "{}", ex2.log());
}

#[test]
fn an_alert_command_that_hangs_is_killed_and_serving_goes_on() {
    let cli = cli();
    store_with_ending_certificates(&cli);
    let script = cli.path("hang.sh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 600\n").unwrap();
    run("chmod", &["755", script.to_str().unwrap()], b"");
    let alerts = format!(
        "[alerts]\ncommand = \"{}\"\ntimeout = 1\n",
        script.display()
    );
    let node = Node::start(
        MAILCERT.as_ref(),
        cli.dir(),
        &spec("ex1", &cli, &alerts, false),
    );
    wait_until(
        "the hanging alert command killed",
        Duration::from_secs(30),
        || node.log().contains("did not finish within 1 s"),
    );
    // The front end answers all along.
    assert!(
        node.serves(Some("imap.contoso.com")).is_ok(),
        "{}",
        node.log()
    );
    let failing = cli.path("fail.sh");
    std::fs::write(&failing, "#!/bin/sh\necho pager unreachable >&2\nexit 4\n").unwrap();
    run("chmod", &["755", failing.to_str().unwrap()], b"");
    drop(node);
    // Another day's store: forget that today's alerts were sent.
    let other = crate::cli();
    store_with_ending_certificates(&other);
    let alerts = format!("[alerts]\ncommand = \"{}\"\n", failing.display());
    let node = Node::start(
        MAILCERT.as_ref(),
        cli.dir(),
        &spec("ex3", &other, &alerts, false),
    );
    wait_until(
        "the failing alert command reported",
        Duration::from_secs(30),
        || node.log().contains("pager unreachable"),
    );
    assert!(
        node.log().contains("failed for certificate-"),
        "{}",
        node.log()
    );
    assert!(node.serves(None).is_ok());
}
