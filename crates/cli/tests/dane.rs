//! DANE records and the checker's TLSA findings, against Knot DNS (a
//! DNSSEC-signed zone and an unsigned one) and Unbound validating, with
//! `mailcert serve` answering SMTP with STARTTLS.

use mailcert_testkit::{free_port, wait_for_port, Cli, DnsOptions, DnsPeers, Serve, ZoneOptions};

use crate::cli;
use serde_json::Value;

pub(crate) const MX: &str = "mx1.example.test";
const INSECURE_MX: &str = "mx.insecure.test";

fn testbed() -> DnsPeers {
    DnsPeers::start(DnsOptions {
        zones: vec![
            ZoneOptions::signed("example.test").record("mx1 IN A 127.0.0.1"),
            ZoneOptions::unsigned("insecure.test").record("mx IN A 127.0.0.1"),
        ],
        secondary: true,
    })
}

/// A store whose SMTP certificate names both hosts, served on a port of
/// its own with STARTTLS.
fn smtp_server(env: &Cli) -> (Serve, u16, String) {
    let first = env.init(MX);
    let thumb = env.new_self_signed(&["--name", MX, "--name", INSECURE_MX]);
    env.ok(&["replace", &first, &thumb]);
    let port = free_port();
    let config = env.write(
        "mailcert.toml",
        format!(
            "[[listener]]\nname = \"smtp\"\nprotocol = \"smtp\"\ntls = \"starttls\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"{MX}\"\n"
        ),
    );
    let server = env.serve(&["--config", config.to_str().unwrap()]);
    wait_for_port(port);
    (server, port, thumb)
}

/// The records `mailcert dane` prints for `port`, as (owner, rdata, key).
pub(crate) fn records(env: &Cli, port: u16, extra: &[&str]) -> Vec<(String, String, String)> {
    let port = port.to_string();
    let mut args = vec!["dane", "--port", &port, "--json"];
    args.extend_from_slice(extra);
    let json = env.run(&args).ok().json();
    json["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                format!(
                    "{} {} {} {}",
                    r["usage"],
                    r["selector"],
                    r["matching"],
                    r["data"].as_str().unwrap()
                ),
                r["key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Publishes exactly `rdata` at `owner` and waits until both
/// authoritative servers have it and the resolver forgot the old answer.
fn publish(dns: &DnsPeers, zone: &str, owner: &str, rdata: &[&str]) {
    dns.remove_records(zone, owner, "TLSA");
    for data in rdata {
        dns.add_record(zone, owner, 5, "TLSA", data);
    }
    dns.wait_for_secondary();
    dns.flush(owner);
}

fn check(env: &Cli, dns: &DnsPeers, host: &str, port: u16) -> (Value, i32) {
    let run = env.run(&[
        "check",
        &format!("smtp://{host}:{port}"),
        "--connect",
        "127.0.0.1",
        "--dns",
        &dns.resolver_addr().to_string(),
        "--no-legacy-probe",
        "--json",
    ]);
    let code = run.code;
    (run.json()["endpoints"][0].clone(), code)
}

fn severity(endpoint: &Value, code: &str) -> String {
    endpoint["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .map(|f| f["severity"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn dane_codes(endpoint: &Value) -> Vec<String> {
    endpoint["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .filter(|c| c.starts_with("dane-"))
        .collect()
}

#[test]
fn records_published_and_checked_through_a_rollover() {
    let dns = testbed();
    let env = cli();
    let (_server, port, thumb) = smtp_server(&env);
    let owner = format!("_{port}._tcp.{MX}.");

    // DANE off: the current key's record for each name, nothing else.
    let current = records(&env, port, &[]);
    assert_eq!(current.len(), 2, "{current:?}");
    assert!(current
        .iter()
        .all(|(_, rdata, key)| key == "current" && rdata.starts_with("3 1 1 ")));
    let current_rdata = current
        .iter()
        .find(|(name, _, _)| name == &owner)
        .unwrap()
        .1
        .clone();
    let text = env.run(&["dane", "--port", &port.to_string()]).ok();
    assert!(
        text.stdout
            .contains(&format!("{owner} IN TLSA {current_rdata}")),
        "zone-file form: {}",
        text.stdout
    );

    // Only the current record: it matches, but the next change breaks mail.
    publish(&dns, "example.test", &owner, &[&current_rdata]);
    let (endpoint, code) = check(&env, &dns, MX, port);
    assert_eq!(
        dane_codes(&endpoint),
        ["dane-single-record"],
        "{endpoint:#}"
    );
    assert_eq!(endpoint["dane"]["authenticated"], true, "{endpoint:#}");
    assert_eq!(severity(&endpoint, "dane-single-record"), "warning");
    let _ = code;

    // DANE on: a next key, published beside the current one.
    env.run(&["dane", "enable"]).ok();
    let both = records(&env, port, &[]);
    let next_rdata = both
        .iter()
        .find(|(name, _, key)| name == &owner && key == "next")
        .expect("a next-key record")
        .1
        .clone();
    assert_ne!(next_rdata, current_rdata);
    publish(&dns, "example.test", &owner, &[&current_rdata, &next_rdata]);
    let (endpoint, _) = check(&env, &dns, MX, port);
    assert!(dane_codes(&endpoint).is_empty(), "{endpoint:#}");

    // The renewal takes the next key: the published records still match,
    // and a new next key is ready.
    env.run(&["renew", &thumb]).ok();
    mailcert_testkit::wait_until(
        "serve follows the renewal",
        std::time::Duration::from_secs(20),
        || {
            let (endpoint, _) = check(&env, &dns, MX, port);
            endpoint["dane"]["matching"] == serde_json::json!([next_rdata])
        },
    );
    let (endpoint, _) = check(&env, &dns, MX, port);
    assert!(dane_codes(&endpoint).is_empty(), "{endpoint:#}");
    let after = records(&env, port, &[]);
    let now_current = &after
        .iter()
        .find(|(n, _, k)| n == &owner && k == "current")
        .unwrap()
        .1;
    let now_next = &after
        .iter()
        .find(|(n, _, k)| n == &owner && k == "next")
        .unwrap()
        .1;
    assert_eq!(
        now_current, &next_rdata,
        "the renewal used the published next key"
    );
    assert!(now_next != &current_rdata && now_next != &next_rdata);

    // A record for another key only: validating senders defer mail.
    publish(&dns, "example.test", &owner, &[&current_rdata]);
    let (endpoint, code) = check(&env, &dns, MX, port);
    assert_eq!(dane_codes(&endpoint), ["dane-mismatch"], "{endpoint:#}");
    assert_eq!(code, 1, "dane-mismatch is an error");
    assert_eq!(severity(&endpoint, "dane-mismatch"), "error");
    let finding = &endpoint["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "dane-mismatch")
        .unwrap()
        .clone();
    assert!(
        finding["fix"].as_str().unwrap().contains(&next_rdata),
        "the fix names the record to publish: {finding:#}"
    );

    // PKIX usages are ignored by SMTP senders.
    let pkix = format!("1{}", &now_current[1..]);
    publish(
        &dns,
        "example.test",
        &owner,
        &[now_current, now_next, &pkix],
    );
    let (endpoint, _) = check(&env, &dns, MX, port);
    assert_eq!(
        dane_codes(&endpoint),
        ["dane-unusable-usage"],
        "{endpoint:#}"
    );

    // An unsigned zone: senders ignore the records.
    let insecure_owner = format!("_{port}._tcp.{INSECURE_MX}.");
    publish(
        &dns,
        "insecure.test",
        &insecure_owner,
        &[now_current, now_next],
    );
    let (endpoint, code) = check(&env, &dns, INSECURE_MX, port);
    assert_eq!(dane_codes(&endpoint), ["dane-insecure"], "{endpoint:#}");
    assert_eq!(endpoint["dane"]["authenticated"], false);
    assert_eq!(severity(&endpoint, "dane-insecure"), "info");
    let _ = code;

    // No records at all: DANE is not published, nothing to say.
    dns.remove_records("example.test", &owner, "TLSA");
    dns.wait_for_secondary();
    dns.flush(&owner);
    let (endpoint, code) = check(&env, &dns, MX, port);
    assert!(dane_codes(&endpoint).is_empty(), "{endpoint:#}");
    assert_eq!(endpoint["dane"]["records"], serde_json::json!([]));
    let _ = code;
}

#[test]
fn records_command_refuses_what_cannot_be_published() {
    let env = cli();
    env.init(MX);
    let thumb = env.new_self_signed(&["--name", "*.example.test"]);
    let out = env.run(&["dane", &thumb]).fails_with(2);
    assert!(out.stderr.contains("wildcard"), "{}", out.stderr);
    let self_signed = env.new_self_signed(&["--name", MX]);
    let out = env
        .run(&["dane", &self_signed, "--usage", "2"])
        .fails_with(2);
    assert!(out.stderr.contains("--usage 3"), "{}", out.stderr);
    let out = env.run(&["dane", "--usage", "0"]).fails_with(2);
    assert!(out.stderr.contains("RFC 7672"), "{}", out.stderr);
    env.run(&["dane", "enable"]).ok();
    let keys = env.run(&["dane", "--json"]).ok().json();
    assert!(
        keys["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == "next"),
        "{keys:#}"
    );
    env.run(&["dane", "disable"]).ok();
    let keys = env.run(&["dane", "--json"]).ok().json();
    assert!(
        keys["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["key"] == "current"),
        "{keys:#}"
    );
}
