//! `[dane.dns]`: `serve` publishes the TLSA records of the current and
//! next keys by RFC 2136 to Knot (TSIG), looks at both authoritative
//! servers, and applies the rollover rule: the renewal waits until the
//! next key's record has been seen everywhere for twice its TTL, the old
//! record is withdrawn twice its TTL after the switch, and a DNS update
//! that fails leaves everything serving as it was. ACME DNS-01 answers go
//! to the same zone the same way.

use std::time::Duration;

use mailcert_testkit::{
    free_port, wait_for_port, wait_until, Cli, DnsOptions, DnsPeers, Pebble, PebbleOptions,
    ZoneOptions,
};

use crate::dane::{records, MX};

const TTL: u32 = 2;

fn config(env: &Cli, dns: &DnsPeers, port: u16) -> String {
    let key = dns.tsig_key_file_bind();
    env.write(
        "mailcert.toml",
        format!(
            "[[listener]]\nname = \"smtp\"\nprotocol = \"smtp\"\ntls = \"starttls\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"{MX}\"\n\n[dane]\nport = 25\n\n[dane.dns]\nserver = \"{}\"\nzone = \"example.test\"\ntsig_key_file = \"{}\"\nttl = {TTL}\ninterval = 1\n",
            dns.primary_addr().ip(),
            key.display()
        ),
    )
    .display()
    .to_string()
}

/// The TLSA rdata (`3 1 1 HEX`, upper-case) each authoritative server answers.
fn at_servers(dns: &DnsPeers, owner: &str) -> (Vec<String>, Vec<String>) {
    let norm = |list: Vec<String>| {
        let mut list: Vec<String> = list
            .into_iter()
            .map(|r| {
                let mut parts: Vec<String> = r.split_whitespace().map(str::to_string).collect();
                let data: String = parts.split_off(3).concat().to_ascii_uppercase();
                format!("{} {data}", parts.join(" "))
            })
            .collect();
        list.sort();
        list
    };
    (
        norm(dns.query_primary(owner, "TLSA")),
        norm(dns.query_secondary(owner, "TLSA")),
    )
}

fn rdata_of(env: &Cli, role: &str) -> String {
    records(env, 25, &[])
        .into_iter()
        .find(|(name, _, key)| name == &format!("_25._tcp.{MX}.") && key == role)
        .unwrap_or_else(|| panic!("a {role} record"))
        .1
}

#[test]
fn serve_publishes_waits_for_the_record_and_withdraws_the_old_one() {
    let mut dns = DnsPeers::start(DnsOptions {
        zones: vec![ZoneOptions::signed("example.test").record("mx1 IN A 127.0.0.1")],
        secondary: true,
    });
    let env = crate::cli();
    let old = env.init(MX);
    env.ok(&["dane", "enable"]);
    let port = free_port();
    let config = config(&env, &dns, port);
    let owner = format!("_25._tcp.{MX}.");
    let current = rdata_of(&env, "current");
    let next = rdata_of(&env, "next");

    // One round by hand: both records go to the primary at once; the
    // renewal may not use the next key before twice the TTL has passed
    // since every authoritative server answered it.
    let shown = env
        .ok(&["dane", "publish", "--config", &config, "--json"])
        .json();
    assert_eq!(
        shown["records"].as_array().map(Vec::len),
        Some(2),
        "{shown:#}"
    );
    let (primary, _) = at_servers(&dns, &owner);
    assert!(
        primary.contains(&current) && primary.contains(&next),
        "{primary:?}"
    );
    let refused = env.run(&["renew", &old]).fails_with(2);
    assert!(
        refused.stderr.contains("cannot serve SMTP") && refused.stderr.contains("twice its TTL"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.show(&old)["services"].as_array().map(Vec::len), Some(4));
    let listed = env.list();
    let warned = listed
        .iter()
        .find(|c| c["thumbprint"] == old.as_str())
        .expect("old is listed");
    assert!(
        warned["warnings"]
            .to_string()
            .contains("DANE: the next key's TLSA record"),
        "list says the renewal would wait: {warned:#}"
    );

    // serve keeps publishing; once the record is ready the renewal goes.
    let server = env.serve(&["--config", &config]);
    wait_for_port(port);
    wait_until(
        "the next key's record is ready",
        Duration::from_secs(60),
        || env.run(&["renew", &old]).code == 0,
    );
    let new = env
        .list()
        .into_iter()
        .find(|c| c["services"].as_array().is_some_and(|s| !s.is_empty()))
        .expect("a bound certificate")["thumbprint"]
        .as_str()
        .expect("thumbprint")
        .to_string();
    assert_ne!(new, old);
    assert_eq!(
        rdata_of(&env, "current"),
        next,
        "the renewal used the next key"
    );
    let newer = rdata_of(&env, "next");

    // The new next key is published; the old key's record is withdrawn
    // twice its TTL after the switch, at both servers.
    wait_until(
        "the old record is withdrawn",
        Duration::from_secs(60),
        || {
            let (primary, secondary) = at_servers(&dns, &owner);
            let want = {
                let mut want = vec![next.clone(), newer.clone()];
                want.sort();
                want
            };
            primary == want && secondary == want
        },
    );
    let log = env.ok(&["log"]).all();
    assert!(log.contains("withdrawn"), "{log}");

    // A round whose update fails: reported, nothing changes, the current
    // certificate keeps serving.
    dns.stop_primary();
    wait_until(
        "serve reports the failed round",
        Duration::from_secs(20),
        || server.log().contains("DANE publishing at"),
    );
    let before = env.snapshot();
    let failed = env.run(&["dane", "publish", "--config", &config]);
    assert_ne!(failed.code, 0);
    assert!(
        failed.stderr.contains(&dns.primary_addr().ip().to_string()),
        "names the server: {}",
        failed.stderr
    );
    assert_eq!(env.snapshot(), before, "a failed round changes nothing");
    assert_eq!(rdata_of(&env, "current"), next);
    dns.start_primary();
}

#[test]
fn acme_dns01_answers_go_to_the_same_zone_by_rfc2136() {
    let dns = DnsPeers::start(DnsOptions {
        zones: vec![ZoneOptions::signed("example.test").record("mx1 IN A 127.0.0.1")],
        secondary: true,
    });
    let pebble = Pebble::start(PebbleOptions {
        validity_secs: Some(600),
        dns_server: Some(dns.resolver_addr()),
        ..PebbleOptions::default()
    });
    let env = crate::cli();
    crate::acme::register_at(&env, &pebble, &["--email", "admin@example.test"]);
    let config = config(&env, &dns, free_port());
    let challenge = format!("_acme-challenge.{MX}");

    let ordered = env
        .ok(&[
            "acme",
            "order",
            "--name",
            MX,
            "--challenge",
            "dns-01",
            "--dns-update",
            "--config",
            &config,
            "--enable",
            "imap",
            "--json",
        ])
        .json();
    let thumb = ordered["thumbprint"]
        .as_str()
        .expect("thumbprint")
        .to_string();
    assert!(
        dns.query_primary(&challenge, "TXT").is_empty(),
        "the answer is withdrawn after the order"
    );
    let status = env.ok(&["acme", "status", "--json"]).json();
    assert_eq!(status[0]["challenge"], "dns-01", "{status:#}");

    // The renewal publishes the same way, from the recipe. (The testbed's
    // resolver, which pebble asks, would still hold the first answer.)
    dns.flush(&challenge);
    let renewed = env
        .ok(&["acme", "renew", "--force", "--thumbprint", &thumb, "--json"])
        .json();
    assert_eq!(renewed[0]["result"], "renewed", "{renewed:#}");
    assert!(dns.query_primary(&challenge, "TXT").is_empty());

    // A certificate serving SMTP with DANE on: its due renewal waits
    // until the next key's record has been seen everywhere for twice its
    // TTL, says so, and counts no failure; then it goes.
    dns.flush(&challenge);
    let smtp = env
        .ok(&[
            "acme",
            "order",
            "--name",
            MX,
            "--challenge",
            "dns-01",
            "--dns-update",
            "--config",
            &config,
            "--enable",
            "smtp",
            "--json",
        ])
        .json()["thumbprint"]
        .as_str()
        .expect("thumbprint")
        .to_string();
    env.ok(&["dane", "enable"]);
    env.ok(&["dane", "publish", "--config", &config]);
    let renew = || {
        dns.flush(&challenge);
        env.ok(&["acme", "renew", "--force", "--thumbprint", &smtp, "--json"])
            .json()[0]
            .clone()
    };
    let waiting = renew();
    assert_eq!(waiting["result"], "waiting-for-dane", "{waiting:#}");
    assert!(
        waiting["reason"]
            .as_str()
            .is_some_and(|r| r.contains("twice its TTL")),
        "{waiting:#}"
    );
    let status = env.ok(&["acme", "status", "--json"]).json();
    let row = status
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["thumbprint"] == smtp.as_str())
        .expect("the SMTP certificate")
        .clone();
    assert!(row["dane_waiting"].is_string(), "{row:#}");
    assert_eq!(row["failures"], 0, "waiting is no failure: {row:#}");
    wait_until(
        "the renewal goes once the record is ready",
        Duration::from_secs(60),
        || {
            env.ok(&["dane", "publish", "--config", &config]);
            renew()["result"] == "renewed"
        },
    );

    // Without [dane.dns] there is nowhere to publish, and it says so.
    let bare = env.write("bare.toml", "").display().to_string();
    let refused = env
        .run(&[
            "acme",
            "order",
            "--name",
            MX,
            "--challenge",
            "dns-01",
            "--dns-update",
            "--config",
            &bare,
        ])
        .fails_with(2);
    assert!(refused.stderr.contains("[dane.dns]"), "{}", refused.stderr);
}
