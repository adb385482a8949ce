//! `plan --resolve`: CAA looked up for every planned name against Knot
//! DNS through Unbound, climbing to the parent domains as RFC 8659 says,
//! and judged for the CA the plan names (Let's Encrypt for ACME, the
//! configured issuer domain for others): `caa-forbids` (issue, issuewild
//! for wildcards, a critical unknown tag), `caa-none`; nothing looked up
//! without `--resolve`. `check --caa-issuer` (or `check --plan`) says the
//! same for each endpoint's name.

use mailcert_testkit::{DnsOptions, DnsPeers, ZoneOptions};
use serde_json::Value;

use crate::cli;

/// A zone at a top-level name of its own, so that every name the climb
/// asks (up to the TLD) is answered by the testbed, offline.
const ZONE: &str = "caatest";

fn testbed() -> DnsPeers {
    DnsPeers::start(DnsOptions {
        zones: vec![ZoneOptions::unsigned(ZONE)
            .record("contoso IN CAA 0 issue \"digicert.com\"")
            .record("fabrikam IN CAA 0 issue \"letsencrypt.org\"")
            .record("fabrikam IN CAA 0 issuewild \";\"")
            .record("crit IN CAA 0 issue \"letsencrypt.org\"")
            .record("crit IN CAA 128 tbs \"unknown\"")
            .record("soft IN CAA 0 issue \"letsencrypt.org\"")
            .record("soft IN CAA 0 future \"ignored\"")
            .record("mail.open IN A 127.0.0.1")],
        secondary: false,
    })
}

fn org(policy: &str) -> String {
    format!(
        "[organization]\naccepted_domains = [\"contoso.{ZONE}\", \"fabrikam.{ZONE}\", \"crit.{ZONE}\", \"soft.{ZONE}\", \"open.{ZONE}\"]\nissuer = \"public\"\n\n\
         [namespaces]\nclient_access = [\"mail.contoso.{ZONE}\", \"*.fabrikam.{ZONE}\", \"mail.crit.{ZONE}\", \"mail.soft.{ZONE}\", \"mail.open.{ZONE}\"]\nautodiscover = \"none\"\n\n\
         [policy]\n{policy}\n"
    )
}

/// The CAA findings of a plan: (code, severity, names).
fn caa(plan: &Value) -> Vec<(String, String, Vec<String>)> {
    plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"].as_str().is_some_and(|c| c.starts_with("caa-")))
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn finding(code: &str, severity: &str, names: &[&str]) -> (String, String, Vec<String>) {
    (
        code.to_string(),
        severity.to_string(),
        names.iter().map(|n| format!("{n}.{ZONE}")).collect(),
    )
}

#[test]
fn plan_resolve_reports_what_caa_forbids_for_the_chosen_ca() {
    let dns = testbed();
    let env = cli().without_store();
    let resolver = dns.resolver_addr().to_string();
    let acme = env.write("acme.toml", org("acme = true"));
    let acme = acme.to_str().unwrap();

    // Without --resolve the planner stays pure: no look-up, no CAA finding.
    let plain = env.run(&["plan", acme, "--json"]).ok().json();
    assert!(caa(&plain).is_empty(), "{plain}");

    // Let's Encrypt (ACME): digicert only at contoso (found one level up
    // from mail.contoso), issuewild ";" at fabrikam for the wildcard, a
    // critical unknown tag at crit; an unknown tag without the flag is
    // ignored; nothing at open, nor above it.
    let out = env.run(&["plan", acme, "--json", "--resolve", "--dns", &resolver]);
    let plan = out.clone().fails_with(1).json();
    mailcert_testkit::eqnice!(
        vec![
            finding("caa-forbids", "error", &["mail.contoso"]),
            finding("caa-forbids", "error", &["*.fabrikam"]),
            finding("caa-forbids", "error", &["mail.crit"]),
            finding("caa-none", "info", &["mail.open"]),
        ],
        caa(&plan),
        out.stdout
    );
    let text = out.stdout;
    assert!(
        text.contains(&format!(
            "contoso.{ZONE}. CAA 0 issue \\\"letsencrypt.org\\\""
        )),
        "the fix gives the record to add: {text}"
    );
    assert!(text.contains("critical flag"), "{text}");

    // Another CA, by its issuer domain.
    let digicert = env.write("digicert.toml", org("caa_issuer = \"DigiCert.com\""));
    let plan = env
        .run(&[
            "plan",
            digicert.to_str().unwrap(),
            "--json",
            "--resolve",
            "--dns",
            &resolver,
        ])
        .fails_with(1)
        .json();
    mailcert_testkit::eqnice!(
        vec![
            finding("caa-forbids", "error", &["*.fabrikam"]),
            finding("caa-forbids", "error", &["mail.crit"]),
            finding("caa-forbids", "error", &["mail.soft"]),
            finding("caa-none", "info", &["mail.open"]),
        ],
        caa(&plan),
        plan
    );

    // A public CA the description does not name: refused, nothing printed.
    let unnamed = env.write("unnamed.toml", org("max_names = 100"));
    let out = env
        .run(&[
            "plan",
            unnamed.to_str().unwrap(),
            "--resolve",
            "--dns",
            &resolver,
        ])
        .fails_with(2);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("caa_issuer"), "{}", out.stderr);
    // check: the same rules for each endpoint's name, beside what the
    // connection found (nothing answers here: connect-failed).
    let checked = |endpoint: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "check",
            endpoint,
            "--connect",
            "127.0.0.1:1",
            "--timeout",
            "2",
            "--no-legacy-probe",
            "--dns",
            &resolver,
            "--json",
        ];
        args.extend_from_slice(extra);
        let report = env.run(&args).fails_with(1).json();
        report["endpoints"][0]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["severity"].as_str().unwrap(),
                    f["code"].as_str().unwrap()
                )
            })
            .collect()
    };
    let contoso = format!("smtps://mail.contoso.{ZONE}");
    let open = format!("smtps://mail.open.{ZONE}");
    let codes = checked(&contoso, &["--caa-issuer", "letsencrypt.org"]);
    assert!(
        codes.contains(&"error caa-forbids".to_string()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"error connect-failed".to_string()),
        "{codes:?}"
    );
    let codes = checked(&contoso, &["--caa-issuer", "digicert.com"]);
    assert!(!codes.iter().any(|c| c.contains("caa-")), "{codes:?}");
    let codes = checked(&open, &["--caa-issuer", "letsencrypt.org"]);
    assert!(codes.contains(&"info caa-none".to_string()), "{codes:?}");
    let codes = checked(&contoso, &[]);
    assert!(
        !codes.iter().any(|c| c.contains("caa-")),
        "no look-up without an issuer: {codes:?}"
    );
    let out = env
        .run(&["check", &contoso, "--caa-issuer", "lets encrypt"])
        .fails_with(2);
    assert!(
        out.stderr.contains("not an issuer domain"),
        "{}",
        out.stderr
    );

    // A bad issuer domain is refused with its line.
    let bad = env.write("bad.toml", org("caa_issuer = \"digicert com\""));
    let out = env.run(&["plan", bad.to_str().unwrap()]).fails_with(2);
    assert!(out.stderr.contains("policy.caa_issuer"), "{}", out.stderr);
}
