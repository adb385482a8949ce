//! `mailcert acme` end to end against a real pebble.

use std::process::Command;

use mailcert_testkit::{Cli, Pebble, PebbleOptions, Run, Snapshot};

/// `acme register` at pebble, trusting its listener, with `extra`
/// arguments; expects success.
pub fn register_at(cli: &Cli, pebble: &Pebble, extra: &[&str]) -> Run {
    let ca = pebble.listener_ca.display().to_string();
    let mut args = vec![
        "acme",
        "register",
        "--directory",
        &pebble.directory,
        "--ca-file",
        &ca,
    ];
    args.extend_from_slice(extra);
    cli.ok(&args)
}

fn register(cli: &Cli, pebble: &Pebble) {
    let text = register_at(cli, pebble, &["--email", "admin@example.test"]).all();
    assert!(text.contains("created an ACME account"), "{text}");
}

fn services_of(cli: &Cli, thumb: &str) -> Vec<String> {
    let list = cli.ok(&["list", "--json"]).json();
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["thumbprint"] == thumb)
        .map(mailcert_testkit::services_of)
        .unwrap_or_default()
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

fn not_before(cli: &Cli, thumb: &str) -> time::OffsetDateTime {
    let shown = cli.ok(&["show", thumb, "--json"]).json();
    mailcert_x509::time::parse_at(shown["not_before"].as_str().unwrap()).unwrap()
}

#[test]
fn register_order_enable_and_renew_from_the_command_line() {
    let pebble = Pebble::start(PebbleOptions {
        validity_secs: Some(600),
        reject_nonces: true,
        ..PebbleOptions::default()
    });
    let cli = crate::cli();
    register(&cli, &pebble);
    let again = cli
        .run(&["acme", "register", "--directory", &pebble.directory])
        .ok()
        .all();
    // Without pebble's listener CA, a fresh store cannot talk to it, and says why.
    let other = crate::cli();
    let text = other
        .run(&["acme", "register", "--directory", &pebble.directory])
        .fails_with(2)
        .all();
    assert!(text.contains("--ca-file"), "{text}");
    assert!(again.contains("reusing the stored ACME account"), "{again}");

    let http = pebble.http_bind();
    let ordered = cli
        .ok(&[
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
        ])
        .json();
    let old = ordered["thumbprint"].as_str().unwrap().to_string();
    assert_eq!(services_of(&cli, &old), ["https", "imap"]);
    let pem = cli.run(&["show", &old, "--pem"]).ok().all();
    assert!(
        pem.matches("BEGIN CERTIFICATE").count() >= 2,
        "leaf and chain: {pem}"
    );

    let status = cli.ok(&["acme", "status", "--json"]).json();
    assert_eq!(status[0]["thumbprint"], old.as_str());
    assert_eq!(status[0]["challenge"], "http-01");
    // Services as `list --json` gives them: an array of names.
    assert_eq!(status[0]["services"], serde_json::json!(["https", "imap"]));

    // Not due now; due at two thirds of its life (time is an input).
    let text = cli.run(&["acme", "renew"]).ok().all();
    assert!(text.contains("not due"), "{text}");
    let at = not_before(&cli, &old) + time::Duration::seconds(450);
    let at = mailcert_x509::time::rfc3339(at);
    let renewed = cli.ok(&["acme", "renew", "--at", &at, "--json"]).json();
    assert_eq!(renewed[0]["result"], "renewed", "{renewed}");
    let new = renewed[0]["new_thumbprint"].as_str().unwrap().to_string();
    assert_eq!(services_of(&cli, &new), ["https", "imap"]);
    assert!(services_of(&cli, &old).is_empty());
    let log = cli.run(&["log"]).ok().all();
    assert!(log.contains(&format!("renewed {old} as {new}")), "{log}");
}

#[test]
fn tls_alpn01_and_dns01_from_the_command_line() {
    let pebble = Pebble::start(PebbleOptions::default());
    let cli = crate::cli();
    register(&cli, &pebble);
    let tls = pebble.tls_bind();
    let out = cli
        .run(&[
            "acme",
            "order",
            "--name",
            "imap.example.test",
            "--challenge",
            "tls-alpn-01",
            "--tls-bind",
            &tls,
        ])
        .ok()
        .all();
    assert_eq!(first_line(&out).len(), 40, "{out}");
    let hook = pebble.dns_hook(true).display().to_string();
    let out = cli
        .run(&[
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
        ])
        .ok()
        .all();
    let thumb = first_line(&out);
    let shown = cli.ok(&["show", &thumb, "--json"]).json();
    assert_eq!(shown["names"][0], "*.example.test");
    assert_eq!(shown["key_algorithm"], "rsa-2048");
}

#[test]
fn a_failing_renewal_keeps_the_old_certificate_bound_and_exits_1() {
    // pebble reuses a valid authorization whenever one exists: the broken
    // hook below is only noticed because every order leaves none behind
    // (with pebble's default of 0 % this failed to fail 1 time in 100).
    let pebble = Pebble::start(PebbleOptions {
        validity_secs: Some(600),
        authz_reuse: 100,
        ..PebbleOptions::default()
    });
    let cli = crate::cli();
    register(&cli, &pebble);
    let hook = cli.dir().join("hook.sh");
    std::fs::copy(pebble.dns_hook(true), &hook).unwrap();
    let hook_text = hook.display().to_string();
    let out = cli
        .run(&[
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
        ])
        .ok()
        .all();
    let old = first_line(&out);
    let born = not_before(&cli, &old);
    let not_after = born + time::Duration::seconds(600);
    // The DNS provider breaks: the hook now publishes nothing.
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    let text = cli.run(&["acme", "renew", "--force"]).fails_with(1).all();
    assert!(text.contains("renewal failed"), "{text}");
    assert!(text.contains(&format!("{old} keeps serving")), "{text}");
    assert!(text.contains("smtp.example.test"), "{text}");
    assert!(text.contains("next attempt at"), "{text}");
    assert_eq!(services_of(&cli, &old), ["smtp"]);
    let status = cli.ok(&["acme", "status", "--json"]).json();
    assert_eq!(status[0]["failures"], 1);
    // Within the backoff, and not yet due: a cron run orders nothing and
    // has nothing to report.
    let text = cli.run(&["acme", "renew"]).ok().all();
    assert!(
        text.contains("1 failed attempt(s), next attempt at"),
        "{text}"
    );
    // Late in its life the retry fails again; the next attempt still
    // comes before the certificate ends.
    let at = |secs: i64| mailcert_x509::time::rfc3339(born + time::Duration::seconds(secs));
    let out = cli.output(&["acme", "renew", "--at", &at(530), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let renewed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(renewed[0]["result"], "failed", "{renewed}");
    assert_eq!(renewed[0]["failures"], 2, "{renewed}");
    let next = mailcert_x509::time::parse_at(renewed[0]["next_attempt"].as_str().unwrap()).unwrap();
    assert!(next < not_after, "{renewed}");
    // Backing off inside the expiry-warning window: the warning, and exit 1.
    let out = cli.output(&["acme", "renew", "--at", &at(560), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let renewed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(renewed[0]["result"], "backing-off", "{renewed}");
    let warning = renewed[0]["warning"].as_str().unwrap_or_default();
    assert!(warning.contains("is going to expire in"), "{renewed}");
    assert!(warning.contains("smtp"), "{renewed}");
    assert_eq!(services_of(&cli, &old), ["smtp"]);
}

/// Everything a failed command must leave as it was: what the command
/// line shows (certificates and bindings, the audit log, trust), and the
/// named values.
fn snapshot(cli: &Cli) -> (Snapshot, Vec<(String, Vec<u8>)>) {
    (cli.snapshot(), values(cli, ""))
}

fn values(cli: &Cli, prefix: &str) -> Vec<(String, Vec<u8>)> {
    use mailcert_store::Store;
    let location = mailcert_store::StoreLocation::resolve(Some(&cli.store()), None);
    let store = mailcert_store::SqliteStore::open(&location).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = store
        .value_keys(prefix)
        .unwrap()
        .into_iter()
        .map(|k| {
            let v = store.value(&k).unwrap().unwrap_or_default();
            (k, v)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_taken_port_fails_the_order_and_leaves_the_store_as_it_was() {
    let pebble = Pebble::start(PebbleOptions::default());
    let cli = crate::cli();
    register(&cli, &pebble);
    let http = pebble.http_bind();
    let out = cli
        .run(&[
            "acme",
            "order",
            "--name",
            "mail.example.test",
            "--http-bind",
            &http,
            "--enable",
            "smtp",
        ])
        .ok()
        .all();
    let thumb = first_line(&out);
    let before = snapshot(&cli);

    // Another program takes the ports the CA validates on.
    let _http_taken = std::net::TcpListener::bind(&http).unwrap();
    let tls = pebble.tls_bind();
    let _tls_taken = std::net::TcpListener::bind(&tls).unwrap();
    let text = cli
        .run(&[
            "acme",
            "order",
            "--name",
            "web.example.test",
            "--http-bind",
            &http,
        ])
        .fails_with(2)
        .all();
    assert!(text.contains("the port is taken"), "{text}");
    assert!(text.contains("--http-bind"), "{text}");
    assert_eq!(snapshot(&cli), before);
    let text = cli
        .run(&[
            "acme",
            "order",
            "--name",
            "web.example.test",
            "--challenge",
            "tls-alpn-01",
            "--tls-bind",
            &tls,
        ])
        .fails_with(2)
        .all();
    assert!(text.contains("the port is taken"), "{text}");
    assert!(text.contains("--tls-bind"), "{text}");
    assert_eq!(snapshot(&cli), before);

    // A renewal records its failure, and nothing else stays behind.
    for attempt in 1..=2 {
        let text = cli.run(&["acme", "renew", "--force"]).fails_with(1).all();
        assert!(
            text.contains(&format!("renewal failed (attempt {attempt})")),
            "{text}"
        );
        assert!(values(&cli, "acme.http-01.").is_empty());
        assert!(values(&cli, "acme.tls-alpn-01.").is_empty());
        assert!(values(&cli, "acme.lease.").is_empty());
    }
    assert_eq!(services_of(&cli, &thumb), ["smtp"]);
    let log = cli.run(&["log"]).ok().all();
    assert!(!log.contains("published the"), "{log}");
}

#[test]
fn renew_says_why_a_certificate_is_not_renewed() {
    let pebble = Pebble::start(PebbleOptions::default());
    let cli = crate::cli();
    register(&cli, &pebble);
    let http = pebble.http_bind();
    // Obtained through ACME but never enabled.
    let out = cli
        .run(&[
            "acme",
            "order",
            "--name",
            "spare.example.test",
            "--http-bind",
            &http,
        ])
        .ok()
        .all();
    let spare = first_line(&out);
    let text = cli
        .run(&["acme", "renew", "--force", "--thumbprint", &spare])
        .fails_with(2)
        .all();
    assert!(
        text.contains(&format!("{spare} is not bound to any service")),
        "{text}"
    );
    assert!(text.contains("mailcert enable"), "{text}");
    // The store's own self-signed certificate, bound to every service.
    let list = cli.ok(&["list", "--json"]).json();
    let own = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["thumbprint"] != spare.as_str())
        .unwrap()["thumbprint"]
        .as_str()
        .unwrap()
        .to_string();
    let text = cli
        .run(&["acme", "renew", "--force", "--thumbprint", &own])
        .fails_with(2)
        .all();
    assert!(
        text.contains(&format!("{own} was not obtained through ACME")),
        "{text}"
    );
    assert!(text.contains("mailcert renew"), "{text}");
}

#[test]
fn a_directory_url_that_is_not_one_is_named_plainly() {
    let pebble = Pebble::start(PebbleOptions::default());
    let cli = crate::cli();
    let ca = pebble.listener_ca.display().to_string();
    let wrong = pebble.directory.replace("/dir", "/nodir");
    let text = cli
        .run(&["acme", "register", "--directory", &wrong, "--ca-file", &ca])
        .fails_with(2)
        .all();
    assert!(
        text.contains("did not return an ACME directory (HTTP 404"),
        "{text}"
    );
    assert!(text.contains("/directory"), "{text}");
    assert!(!text.contains("deserialize"), "{text}");
    assert_no_store(&cli);
}

fn assert_no_store(cli: &Cli) {
    let left: Vec<_> = std::fs::read_dir(cli.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn failing_and_read_only_commands_create_no_store() {
    let cli = crate::cli();
    // A status of nothing would hide a mistyped --store: it is an error
    // that names the path and how to make a store.
    for args in [&["acme", "status"][..], &["acme", "status", "--json"]] {
        let text = cli.run(args).fails_with(2).all();
        assert!(text.contains("there is no store"), "{text}");
        assert!(text.contains("init"), "{text}");
        assert!(!text.contains("created the store"), "{text}");
    }
    let text = cli
        .run(&["acme", "register", "--directory", "https://127.0.0.1:1/dir"])
        .fails_with(2)
        .all();
    assert!(text.contains("Connection refused"), "{text}");
    let text = cli
        .run(&["acme", "order", "--name", "mail.example.test"])
        .fails_with(2)
        .all();
    assert!(text.contains("no ACME account yet"), "{text}");
    assert!(text.contains("mailcert acme register"), "{text}");
    let text = cli.run(&["acme", "renew"]).fails_with(2).all();
    assert!(text.contains("there is no store"), "{text}");
    let text = cli.run(&["acme", "renew", "--force"]).fails_with(2).all();
    assert!(text.contains("there is no store"), "{text}");
    assert!(!text.contains("created the store"), "{text}");
    assert_no_store(&cli);
}

#[test]
fn bad_input_exits_2_and_changes_nothing() {
    let cli = crate::cli();
    let text = cli
        .run(&["acme", "register", "--directory", "http://127.0.0.1:1/dir"])
        .fails_with(2)
        .all();
    assert!(text.contains("https://"), "{text}");
    let text = cli
        .run(&[
            "acme",
            "order",
            "--name",
            "mail.example.test",
            "--http-bind",
            "127.0.0.1:0",
        ])
        .fails_with(2)
        .all();
    assert!(text.contains("mailcert acme register"), "{text}");
    let text = cli
        .run(&[
            "acme",
            "order",
            "--name",
            "mail.example.test",
            "--challenge",
            "dns-01",
        ])
        .fails_with(2)
        .all();
    assert!(text.contains("--dns-hook"), "{text}");
    let text = cli
        .run(&["acme", "order", "--name", "bad name!"])
        .fails_with(2)
        .all();
    assert!(text.contains("bad name!"), "{text}");
    let text = cli
        .run(&[
            "acme",
            "order",
            "--name",
            "x.example.test",
            "--challenge",
            "smtp-01",
        ])
        .fails_with(2)
        .all();
    assert!(text.contains("http-01"), "{text}");
    assert_no_store(&cli);
}

#[test]
fn order_takes_its_names_from_a_plan() {
    let pebble = Pebble::start(PebbleOptions::default());
    let cli = crate::cli();
    register(&cli, &pebble);
    let org = cli.dir().join("org.toml");
    std::fs::write(
        &org,
        "[organization]\naccepted_domains = [\"example.test\"]\nissuer = \"private\"\n\n[namespaces]\nclient_access = [\"mail.example.test\"]\nautodiscover = \"names\"\n",
    )
    .unwrap();
    let http = pebble.http_bind();
    let ordered = cli
        .ok(&[
            "acme",
            "order",
            "--plan",
            org.to_str().unwrap(),
            "--http-bind",
            &http,
            "--json",
        ])
        .json();
    let thumb = ordered["thumbprint"].as_str().unwrap();
    let shown = cli.ok(&["show", thumb, "--json"]).json();
    assert_eq!(
        shown["names"],
        serde_json::json!(["mail.example.test", "autodiscover.example.test"])
    );
    // Names and a plan together are a usage error.
    cli.run(&[
        "acme",
        "order",
        "--plan",
        org.to_str().unwrap(),
        "--name",
        "x.example.test",
    ])
    .fails_with(2)
    .all();
}

#[test]
fn an_interrupted_order_withdraws_its_answers() {
    let pebble = Pebble::start(PebbleOptions::default());
    let cli = crate::cli();
    register(&cli, &pebble);
    let before = snapshot(&cli);
    // A hook whose `set` hangs, as a provider API that never answers.
    let hook = cli.dir().join("slow-hook.sh");
    let calls = cli.dir().join("calls.log");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$1 $2\" >> {calls}\n[ \"$1\" = set ] && exec sleep 60\nexit 0\n",
            calls = calls.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let hook_text = hook.display().to_string();
    let child = cli
        .command(&[
            "acme",
            "order",
            "--name",
            "slow.example.test",
            "--challenge",
            "dns-01",
            "--dns-hook",
            &hook_text,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    mailcert_testkit::wait_until(
        "the hook called to set the TXT record",
        std::time::Duration::from_secs(20),
        || std::fs::read_to_string(&calls).is_ok_and(|c| c.contains("set ")),
    );
    let started = std::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(stderr.contains("interrupted"), "{stderr}");
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert!(
        calls.contains("clear _acme-challenge.slow.example.test"),
        "{calls}\n{stderr}"
    );
    assert_eq!(snapshot(&cli), before);
}
