//! `check --mta-sts DOMAIN` as a sending MTA, against Knot DNS (MX, TXT,
//! A records) through Unbound and a `mailcert serve` answering the policy
//! host on 443 and SMTP with STARTTLS on 25, each on a loopback address
//! of the testbed: the policy fetched and its certificate validated, every
//! MX matched against the policy and its certificate validated for its
//! name; and the four findings when the TXT record, the policy host, a
//! policy line or an MX certificate is missing. Postfix's MTA-STS
//! resolver (Debian's postfix-mta-sts-resolver) fetches the same policy.

use mailcert_testkit::{Cli, DnsOptions, DnsPeers, Pki, Serve, ZoneOptions};
use serde_json::Value;

use crate::cli;

const DOMAIN: &str = "mtasts.test";
const BARE: &str = "bare.test";
const MX1: &str = "mx1.mtasts.test";
const MX2: &str = "mx2.mtasts.test";
const POLICY_HOST: &str = "mta-sts.mtasts.test";

/// A leaf for the policy host and MX1 (not MX2), bound to https and smtp.
fn certificate(env: &Cli, pki: &Pki) {
    let thumb = env.import_leaf(&pki.leaf("mta-sts", &[POLICY_HOST, MX1], "ec"));
    env.ok(&["enable", &thumb, "--services", "https,smtp"]);
}

fn serve(env: &Cli, https: std::net::Ipv4Addr, smtp: std::net::Ipv4Addr, mode: &str) -> Serve {
    let config = env.write(
        "mailcert.toml",
        format!(
            "[[listener]]\nname = \"sts\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"{https}:443\"\n\n\
             [[listener]]\nname = \"smtp\"\nprotocol = \"smtp\"\ntls = \"starttls\"\nbind = \"{smtp}:25\"\nbackend = \"127.0.0.1:1\"\nhostname = \"{MX1}\"\n\n\
             [[mta_sts]]\ndomain = \"{DOMAIN}\"\nmode = \"{mode}\"\nmx = [\"{MX1}\"]\nmax_age = 86400\n"
        ),
    );
    env.serve(&["--config", config.to_str().unwrap()])
}

fn findings(domain: &Value) -> Vec<(String, String)> {
    domain["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn check_mta_sts_fetches_the_policy_and_checks_every_mx_like_a_sender() {
    let env = cli();
    env.init(MX1);
    let pki = Pki::new(&env.path("pki"));
    certificate(&env, &pki);
    let config = env.write(
        "records.toml",
        format!("[[mta_sts]]\ndomain = \"{DOMAIN}\"\nmode = \"enforce\"\nmx = [\"{MX1}\"]\nmax_age = 86400\n"),
    );
    let records = env
        .ok(&["mta-sts", "--config", config.to_str().unwrap(), "--json"])
        .json();
    let txt = records["domains"][0]["txt"].as_str().unwrap().to_string();

    // The addresses are the testbed's: start it with the records in place.
    let dns = DnsPeers::start(DnsOptions {
        zones: vec![
            ZoneOptions::unsigned(DOMAIN)
                .record(&format!("_mta-sts IN TXT \"{txt}\""))
                .record("@ IN MX 10 mx1")
                .record("@ IN MX 20 mx2"),
            ZoneOptions::unsigned(BARE).record(&format!("@ IN MX 10 {MX1}.")),
        ],
        secondary: false,
    });
    let (https, smtp) = (dns.host_ip(10), dns.host_ip(11));
    dns.add_record(DOMAIN, "mta-sts", 60, "A", &https.to_string());
    dns.add_record(DOMAIN, "mx1", 60, "A", &smtp.to_string());
    dns.add_record(DOMAIN, "mx2", 60, "A", &smtp.to_string());
    // serve returns once every listener is up.
    let _server = serve(&env, https, smtp, "enforce");

    let resolver = dns.resolver_addr().to_string();
    let root = pki.root.to_str().unwrap().to_string();
    let check = |domain: &str| {
        env.run(&[
            "check",
            "--mta-sts",
            domain,
            "--dns",
            &resolver,
            "--ca-file",
            &root,
            "--json",
        ])
    };

    // The policy is fetched and validated; mx1 matches and validates, mx2
    // is in no policy line and its certificate does not carry its name.
    let out = check(DOMAIN).fails_with(1);
    let report = out.json();
    let domain = &report["mta_sts"][0];
    assert_eq!(domain["domain"], DOMAIN, "{report}");
    assert_eq!(domain["txt"], txt.as_str(), "{report}");
    assert_eq!(domain["mode"], "enforce", "{report}");
    assert_eq!(
        domain["policy"],
        format!("version: STSv1\r\nmode: enforce\r\nmx: {MX1}\r\nmax_age: 86400\r\n").as_str()
    );
    assert_eq!(domain["policy_host"]["trusted"], true, "{report}");
    let mx: Vec<(&str, Value, Value)> = domain["mx"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["host"].as_str().unwrap(),
                m["pattern"].clone(),
                m["endpoint"]["trusted"].clone(),
            )
        })
        .collect();
    assert_eq!(
        mx,
        [
            (MX1, Value::from(MX1), Value::from(true)),
            (MX2, Value::Null, Value::from(false)),
        ],
        "{report}"
    );
    assert_eq!(
        findings(domain),
        [
            ("mta-sts-mx-not-in-policy".to_string(), "error".to_string()),
            (
                "mta-sts-certificate-invalid".to_string(),
                "error".to_string()
            ),
        ],
        "{report}"
    );
    let text = out.stdout;
    assert!(text.contains(MX2), "{text}");

    // Postfix's MTA-STS resolver (postfix-mta-sts-resolver) fetches the
    // same policy as a sender: its TXT look-up and HTTPS fetch through the
    // testbed's resolver, the test root trusted by Python's ssl.
    let fetched = dns
        .command_with_resolver("mta-sts-query")
        .arg(DOMAIN)
        .env("SSL_CERT_FILE", &pki.root)
        .output()
        .expect("running mta-sts-query");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&fetched.stdout),
        String::from_utf8_lossy(&fetched.stderr)
    );
    assert!(
        said.contains("VALID") && said.contains("'enforce'") && said.contains(MX1),
        "mta-sts-query {DOMAIN}: {said}"
    );

    // Without the test root the policy host is not trusted: the policy is
    // unreachable for a sender, and so is every MX certificate.
    let out = env
        .run(&["check", "--mta-sts", DOMAIN, "--dns", &resolver, "--json"])
        .fails_with(1);
    let domain = &out.json()["mta_sts"][0];
    let codes = findings(domain);
    assert!(
        codes.contains(&(
            "mta-sts-policy-unreachable".to_string(),
            "error".to_string()
        )),
        "{codes:?}"
    );
    assert_eq!(domain["policy_host"]["trusted"], false);

    // No TXT record and no policy host.
    let out = check(BARE).fails_with(1);
    let domain = &out.json()["mta_sts"][0];
    let codes: Vec<String> = findings(domain).into_iter().map(|(c, _)| c).collect();
    assert!(
        codes.contains(&"mta-sts-txt-missing".to_string()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"mta-sts-policy-unreachable".to_string()),
        "{codes:?}"
    );

    // Human output says the same in words, with the fixes.
    let out = env.run(&[
        "check",
        "--mta-sts",
        BARE,
        "--dns",
        &resolver,
        "--ca-file",
        &root,
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.contains("mta-sts-txt-missing"), "{}", out.stdout);
    assert!(out.stdout.contains("fix:"), "{}", out.stdout);
}
