//! `mailcert acme` end to end against a real pebble.

#[path = "../../acme/tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::{Pebble, PebbleOptions};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mailcert"))
            .arg("--store")
            .arg(self.store())
            .args(args)
            .env_remove("MAILCERT_STORE")
            .env_remove("MAILCERT_STORE_KEY_FILE")
            .env_remove("MAILCERT_CONFIG")
            .output()
            .expect("run mailcert")
    }

    /// Runs and expects `code`; returns stdout then stderr.
    fn expect(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "mailcert {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            args.join(" ")
        );
        stdout + &stderr
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mailcert {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn register(&self, pebble: &Pebble) {
        let ca = pebble.listener_ca.display().to_string();
        let text = self.expect(
            0,
            &[
                "acme",
                "register",
                "--directory",
                &pebble.directory,
                "--email",
                "admin@example.test",
                "--ca-file",
                &ca,
            ],
        );
        assert!(text.contains("created an ACME account"), "{text}");
    }

    fn services_of(&self, thumb: &str) -> Vec<String> {
        let list = self.json(&["list", "--json"]);
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["thumbprint"] == thumb)
            .map(|c| {
                c["services"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

fn not_before(cli: &Cli, thumb: &str) -> time::OffsetDateTime {
    let shown = cli.json(&["show", thumb, "--json"]);
    mailcert_x509::time::parse_at(shown["not_before"].as_str().unwrap()).unwrap()
}

#[test]
fn register_order_enable_and_renew_from_the_command_line() {
    let pebble = Pebble::start(PebbleOptions {
        validity_secs: Some(600),
        reject_nonces: true,
        ..PebbleOptions::default()
    });
    let cli = Cli::new();
    cli.register(&pebble);
    let again = cli.expect(0, &["acme", "register", "--directory", &pebble.directory]);
    // Without pebble's listener CA, a fresh store cannot talk to it, and says why.
    let other = Cli::new();
    let text = other.expect(2, &["acme", "register", "--directory", &pebble.directory]);
    assert!(text.contains("--ca-file"), "{text}");
    assert!(again.contains("reusing the stored ACME account"), "{again}");

    let http = pebble.http_bind();
    let ordered = cli.json(&[
        "acme",
        "order",
        "--name",
        "mail.example.test",
        "--name",
        "autodiscover.example.test",
        "--http-bind",
        &http,
        "--enable",
        "https,imap",
        "--json",
    ]);
    let old = ordered["thumbprint"].as_str().unwrap().to_string();
    assert_eq!(cli.services_of(&old), ["https", "imap"]);
    let pem = cli.expect(0, &["show", &old, "--pem"]);
    assert!(
        pem.matches("BEGIN CERTIFICATE").count() >= 2,
        "leaf and chain: {pem}"
    );

    let status = cli.json(&["acme", "status", "--json"]);
    assert_eq!(status[0]["thumbprint"], old.as_str());
    assert_eq!(status[0]["challenge"], "http-01");

    // Not due now; due at two thirds of its life (time is an input).
    let text = cli.expect(0, &["acme", "renew"]);
    assert!(text.contains("not due"), "{text}");
    let at = not_before(&cli, &old) + time::Duration::seconds(450);
    let at = mailcert_x509::time::rfc3339(at);
    let renewed = cli.json(&["acme", "renew", "--at", &at, "--json"]);
    assert_eq!(renewed[0]["result"], "renewed", "{renewed}");
    let new = renewed[0]["new_thumbprint"].as_str().unwrap().to_string();
    assert_eq!(cli.services_of(&new), ["https", "imap"]);
    assert!(cli.services_of(&old).is_empty());
    let log = cli.expect(0, &["log"]);
    assert!(log.contains(&format!("renewed {old} as {new}")), "{log}");
}

#[test]
fn tls_alpn01_and_dns01_from_the_command_line() {
    let pebble = Pebble::start(PebbleOptions::default());
    let cli = Cli::new();
    cli.register(&pebble);
    let tls = pebble.tls_bind();
    let out = cli.expect(
        0,
        &[
            "acme",
            "order",
            "--name",
            "imap.example.test",
            "--challenge",
            "tls-alpn-01",
            "--tls-bind",
            &tls,
        ],
    );
    assert_eq!(first_line(&out).len(), 40, "{out}");
    let hook = pebble.dns_hook(true).display().to_string();
    let out = cli.expect(
        0,
        &[
            "acme",
            "order",
            "--name",
            "*.example.test",
            "--challenge",
            "dns-01",
            "--dns-hook",
            &hook,
            "--key",
            "rsa-2048",
        ],
    );
    let thumb = first_line(&out);
    let shown = cli.json(&["show", &thumb, "--json"]);
    assert_eq!(shown["names"][0], "*.example.test");
    assert_eq!(shown["key_algorithm"], "rsa-2048");
}

#[test]
fn a_failing_renewal_keeps_the_old_certificate_bound_and_exits_1() {
    let pebble = Pebble::start(PebbleOptions::default());
    let cli = Cli::new();
    cli.register(&pebble);
    let hook = cli.dir.path().join("hook.sh");
    std::fs::copy(pebble.dns_hook(true), &hook).unwrap();
    let hook_text = hook.display().to_string();
    let out = cli.expect(
        0,
        &[
            "acme",
            "order",
            "--name",
            "smtp.example.test",
            "--challenge",
            "dns-01",
            "--dns-hook",
            &hook_text,
            "--enable",
            "smtp",
        ],
    );
    let old = first_line(&out);
    // The DNS provider breaks: the hook now publishes nothing.
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    let text = cli.expect(1, &["acme", "renew", "--force"]);
    assert!(text.contains("renewal failed"), "{text}");
    assert!(text.contains(&format!("{old} keeps serving")), "{text}");
    assert!(text.contains("smtp.example.test"), "{text}");
    assert!(text.contains("next attempt at"), "{text}");
    assert_eq!(cli.services_of(&old), ["smtp"]);
    let status = cli.json(&["acme", "status", "--json"]);
    assert_eq!(status[0]["failures"], 1);
    // Within the backoff a cron run orders nothing and succeeds.
    let text = cli.expect(0, &["acme", "renew"]);
    assert!(
        text.contains("1 failed attempt(s), next attempt at"),
        "{text}"
    );
}

#[test]
fn bad_input_exits_2_and_changes_nothing() {
    let cli = Cli::new();
    let text = cli.expect(
        2,
        &["acme", "register", "--directory", "http://127.0.0.1:1/dir"],
    );
    assert!(text.contains("https://"), "{text}");
    let text = cli.expect(
        2,
        &[
            "acme",
            "order",
            "--name",
            "mail.example.test",
            "--http-bind",
            "127.0.0.1:0",
        ],
    );
    assert!(text.contains("mailcert acme register"), "{text}");
    let text = cli.expect(
        2,
        &[
            "acme",
            "order",
            "--name",
            "mail.example.test",
            "--challenge",
            "dns-01",
        ],
    );
    assert!(text.contains("--dns-hook"), "{text}");
    let text = cli.expect(2, &["acme", "order", "--name", "bad name!"]);
    assert!(text.contains("bad name!"), "{text}");
    let text = cli.expect(
        2,
        &[
            "acme",
            "order",
            "--name",
            "x.example.test",
            "--challenge",
            "smtp-01",
        ],
    );
    assert!(text.contains("http-01"), "{text}");
    let list = cli.json(&["list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "only init's certificate");
    let log = cli.expect(0, &["log"]);
    assert!(!log.contains("acme"), "{log}");
}

#[test]
fn order_takes_its_names_from_a_plan() {
    let pebble = Pebble::start(PebbleOptions::default());
    let cli = Cli::new();
    cli.register(&pebble);
    let org = cli.dir.path().join("org.toml");
    std::fs::write(
        &org,
        "[organization]\naccepted_domains = [\"example.test\"]\nissuer = \"private\"\n\n[namespaces]\nclient_access = [\"mail.example.test\"]\nautodiscover = \"names\"\n",
    )
    .unwrap();
    let http = pebble.http_bind();
    let ordered = cli.json(&[
        "acme",
        "order",
        "--plan",
        org.to_str().unwrap(),
        "--http-bind",
        &http,
        "--json",
    ]);
    let thumb = ordered["thumbprint"].as_str().unwrap();
    let shown = cli.json(&["show", thumb, "--json"]);
    assert_eq!(
        shown["names"],
        serde_json::json!(["mail.example.test", "autodiscover.example.test"])
    );
    // Names and a plan together are a usage error.
    cli.expect(
        2,
        &[
            "acme",
            "order",
            "--plan",
            org.to_str().unwrap(),
            "--name",
            "x.example.test",
        ],
    );
}
