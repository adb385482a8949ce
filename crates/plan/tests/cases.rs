//! Table-driven tests: every organisation file (the commented examples in
//! `examples/plan/` and one small file per rule in `tests/cases/`) sits
//! next to a `.expect.toml` that says which certificates, names and finding
//! codes its plan must have, at which date.
//!
//! Findings are compared as a whole: a finding that appears or disappears
//! fails the case, so the expectations stay honest.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mailcert_plan::{FindingCode, Plan};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    at: String,
    #[serde(default, rename = "certificate")]
    certificates: Vec<ExpectCertificate>,
    #[serde(default, rename = "finding")]
    findings: Vec<ExpectFinding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectCertificate {
    subject: String,
    names: Vec<String>,
    max_validity_days: Option<u32>,
    servers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFinding {
    code: String,
    severity: String,
    names: Option<Vec<String>>,
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn examples_dir() -> PathBuf {
    crate_dir().join("../../examples/plan")
}

fn cases_dir() -> PathBuf {
    crate_dir().join("tests/cases")
}

/// Where the expectations of an organisation file are.
fn expect_path(org: &Path) -> PathBuf {
    let stem = org.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if org.starts_with(examples_dir()) {
        crate_dir()
            .join("tests/examples")
            .join(format!("{stem}.expect.toml"))
    } else {
        org.with_file_name(format!("{stem}.expect.toml"))
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(org: &Path) -> (Expect, Plan) {
    let expect: Expect = toml::from_str(&read(&expect_path(org)))
        .unwrap_or_else(|e| panic!("{}: {e}", expect_path(org).display()));
    let at = mailcert_x509::time::parse_at(&expect.at).expect("expect.at is a date");
    let name = org
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("org.toml");
    let plan = mailcert_plan::plan_toml(&read(org), name, at)
        .unwrap_or_else(|e| panic!("{} does not plan: {e}", org.display()));
    (expect, plan)
}

/// Compares a plan with its expectations; returns a readable report of
/// every difference (expected vs got), empty when they agree.
fn differences(expect: &Expect, plan: &Plan) -> String {
    let mut out = String::new();
    if expect.certificates.len() != plan.certificates.len() {
        let _ = writeln!(
            out,
            "certificates: expected {}, got {}: {:?}",
            expect.certificates.len(),
            plan.certificates.len(),
            plan.certificates
                .iter()
                .map(|c| &c.subject)
                .collect::<Vec<_>>()
        );
    }
    for (i, (want, got)) in expect
        .certificates
        .iter()
        .zip(&plan.certificates)
        .enumerate()
    {
        let names: Vec<&str> = got.names.iter().map(|n| n.name.as_str()).collect();
        if want.subject != got.subject {
            let _ = writeln!(
                out,
                "certificate {i} subject:\n  expected {}\n  got      {}",
                want.subject, got.subject
            );
        }
        if want.names != names {
            let _ = writeln!(
                out,
                "certificate {i} names:\n  expected {:?}\n  got      {names:?}",
                want.names
            );
        }
        if let Some(days) = want.max_validity_days {
            if days != got.max_validity_days {
                let _ = writeln!(
                    out,
                    "certificate {i} max_validity_days: expected {days}, got {}",
                    got.max_validity_days
                );
            }
        }
        if let Some(servers) = &want.servers {
            if *servers != got.servers {
                let _ = writeln!(
                    out,
                    "certificate {i} servers:\n  expected {servers:?}\n  got      {:?}",
                    got.servers
                );
            }
        }
        for n in &got.names {
            if n.reason.trim().is_empty() {
                let _ = writeln!(out, "certificate {i}: {} has no reason", n.name);
            }
        }
    }

    let mut unmatched: Vec<&mailcert_plan::Finding> = plan.findings.iter().collect();
    let mut missing = Vec::new();
    for want in &expect.findings {
        let position = unmatched.iter().position(|f| {
            f.code.as_str() == want.code
                && f.severity.as_str() == want.severity
                && want.names.as_ref().is_none_or(|names| *names == f.names)
        });
        match position {
            Some(p) => {
                unmatched.remove(p);
            }
            None => missing.push(want),
        }
    }
    for want in missing {
        let _ = writeln!(
            out,
            "missing finding: {} {} {:?}",
            want.severity,
            want.code,
            want.names.as_deref().unwrap_or_default()
        );
    }
    for got in unmatched {
        let _ = writeln!(
            out,
            "unexpected finding: {} {} {:?}: {}",
            got.severity, got.code, got.names, got.message
        );
    }
    for f in &plan.findings {
        if f.message.trim().is_empty() || f.fix.trim().is_empty() {
            let _ = writeln!(out, "finding {} has an empty message or fix", f.code);
        }
    }
    out
}

fn check(org: &Path) {
    let (expect, plan) = load(org);
    let diff = differences(&expect, &plan);
    assert!(
        diff.is_empty(),
        "{}:\n{diff}\nplan:\n{}",
        org.display(),
        plan.to_json()
    );
}

macro_rules! cases {
    ($($test:ident => $dir:ident / $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check(&$dir().join($file));
            }
        )*
        /// Every file the table lists.
        const LISTED: &[&str] = &[$($file),*];
    };
}

cases! {
    example_single_server => examples_dir / "single-server.toml",
    example_two_sites => examples_dir / "two-sites.toml",
    example_coexistence => examples_dir / "coexistence.toml",
    example_several_domains => examples_dir / "several-domains.toml",
    example_split_names => examples_dir / "split-names.toml",
    example_minimum => examples_dir / "minimum.toml",
    internal_name_public => cases_dir / "internal-name-public.toml",
    internal_name_private => cases_dir / "internal-name-private.toml",
    private_ip_public => cases_dir / "private-ip-public.toml",
    private_ip_private => cases_dir / "private-ip-private.toml",
    single_label => cases_dir / "single-label.toml",
    invalid_name => cases_dir / "invalid-name.toml",
    too_many_names => cases_dir / "too-many-names.toml",
    over_ca_limit => cases_dir / "over-ca-limit.toml",
    server_fqdn_included => cases_dir / "server-fqdn-included.toml",
    server_fqdn_is_namespace => cases_dir / "server-fqdn-is-namespace.toml",
    edge_server => cases_dir / "edge-server.toml",
    wildcard_prefer => cases_dir / "wildcard-prefer.toml",
    wildcard_explicit => cases_dir / "wildcard-explicit.toml",
    wildcard_nothing_shared => cases_dir / "wildcard-nothing-shared.toml",
    legacy_2010 => cases_dir / "legacy-2010.toml",
    legacy_ended => cases_dir / "legacy-ended.toml",
    legacy_missing => cases_dir / "legacy-missing.toml",
    validity_2025 => cases_dir / "validity-2025.toml",
    validity_2027 => cases_dir / "validity-2027.toml",
    validity_2029 => cases_dir / "validity-2029.toml",
    split_namespace_private => cases_dir / "split-namespace-private.toml",
    duplicate_name => cases_dir / "duplicate-name.toml",
    idn => cases_dir / "idn.toml",
    self_signed => cases_dir / "self-signed.toml",
    private_internet_facing => cases_dir / "private-internet-facing.toml",
    per_site => cases_dir / "per-site.toml",
    per_server => cases_dir / "per-server.toml",
    per_site_shared => cases_dir / "per-site-shared.toml",
    per_site_same_subject => cases_dir / "per-site-same-subject.toml",
    per_server_own_names => cases_dir / "per-server-own-names.toml",
    all_refused => cases_dir / "all-refused.toml",
    mta_sts_mx => cases_dir / "mta-sts-mx.toml",
    mta_sts_servers => cases_dir / "mta-sts-servers.toml",
}

fn org_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && !p.to_string_lossy().ends_with(".expect.toml")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_file_is_in_the_table_and_has_expectations() {
    for file in org_files(&examples_dir())
        .into_iter()
        .chain(org_files(&cases_dir()))
    {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            LISTED.contains(&name),
            "{} is not listed in tests/cases.rs",
            file.display()
        );
        assert!(
            expect_path(&file).exists(),
            "{} has no {}",
            file.display(),
            expect_path(&file).display()
        );
    }
}

#[test]
fn every_finding_code_is_exercised() {
    let mut seen = BTreeSet::new();
    for file in org_files(&examples_dir())
        .into_iter()
        .chain(org_files(&cases_dir()))
    {
        let (_, plan) = load(&file);
        seen.extend(plan.findings.iter().map(|f| f.code));
    }
    // The codes of `plan --resolve` judge DNS answers: their cases are
    // the unit tests of the caa module and the CLI's tests against Knot.
    let missing: Vec<&str> = FindingCode::ALL
        .iter()
        .filter(|c| !seen.contains(c) && !FindingCode::RESOLVED.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(missing.is_empty(), "no case produces {missing:?}");
}

#[test]
fn the_comparison_notices_differences() {
    // Guard against a harness that always agrees.
    let file = cases_dir().join("internal-name-public.toml");
    let (mut expect, plan) = load(&file);
    assert!(differences(&expect, &plan).is_empty());
    expect.findings.pop();
    assert!(differences(&expect, &plan).contains("unexpected finding"));
    let (mut expect, _) = load(&file);
    expect.certificates[0].names.reverse();
    assert!(differences(&expect, &plan).contains("names"));
    let (mut expect, _) = load(&file);
    expect.findings[0].severity = "warning".into();
    assert!(differences(&expect, &plan).contains("missing finding"));
}

#[test]
fn every_finding_code_is_documented() {
    let doc = read(&crate_dir().join("../../docs/plan.md"));
    for code in FindingCode::ALL {
        assert!(
            doc.contains(&format!("| `{}` |", code.as_str())),
            "docs/plan.md has no row for `{code}`"
        );
    }
}
