//! Bad input names the file, the line and the field, and says what to
//! write; and the `plan --json` shape stays what scripts expect.

use mailcert_plan::{plan_toml, PlanError};
use time::macros::datetime;

const GOOD: &str = r#"[organization]
accepted_domains = ["contoso.com"]
issuer = "public"

[namespaces]
client_access = ["mail.contoso.com"]

[[site]]
name = "London"

[[server]]
name = "EX1"
fqdn = "ex1.contoso.com"
internet_facing = true
site = "London"

[policy]
max_names = 100
"#;

fn error_of(text: &str) -> PlanError {
    match plan_toml(text, "org.toml", datetime!(2026-06-01 0:00 UTC)) {
        Ok(plan) => panic!("expected an error, got a plan:\n{}", plan.to_json()),
        Err(e) => e,
    }
}

/// The line of the first occurrence of `needle` (counted from 1).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
}

/// (what to change, replacement, expected field, text on the expected line,
/// words the message must contain)
const BAD: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "internet_facing = true",
        "internet_facng = true",
        "server[1].internet_facng",
        "internet_facng",
        &["unknown field", "did you mean `internet_facing`"],
    ),
    (
        "internet_facing = true",
        "internet_facing = \"yes\"",
        "server[1].internet_facing",
        "internet_facing",
        &["boolean"],
    ),
    (
        "issuer = \"public\"",
        "issuer = \"comodo\"",
        "organization.issuer",
        "issuer",
        &["comodo", "public", "private", "self-signed"],
    ),
    (
        "issuer = \"public\"\n",
        "",
        "organization",
        "[organization]",
        &["missing field `issuer`", "issuer = \"public\""],
    ),
    (
        "[policy]",
        "[polcy]",
        "polcy",
        "[polcy]",
        &["unknown field `polcy`", "did you mean `policy`"],
    ),
    (
        "max_names = 100",
        "max_names = -3",
        "policy.max_names",
        "max_names",
        &["max_names"],
    ),
    (
        "client_access = [\"mail.contoso.com\"]",
        "client_access = [mail.contoso.com]",
        "namespaces.client_access",
        "client_access",
        &["Fix: check the list that starts on line 6", "double quotes"],
    ),
    (
        "site = \"London\"",
        "site = \"Paris\"",
        "server[1].site",
        "Paris",
        &["Paris", "London", "[[site]]"],
    ),
    (
        "max_names = 100",
        "max_names = 0",
        "policy.max_names",
        "max_names",
        &["0 names"],
    ),
    (
        "accepted_domains = [\"contoso.com\"]",
        "accepted_domains = []",
        "organization.accepted_domains",
        "accepted_domains",
        &["no accepted domain"],
    ),
];

#[test]
fn bad_input_names_file_line_and_field() {
    for (from, to, field, on_line, words) in BAD {
        assert!(GOOD.contains(from), "{from:?} not in the good file");
        let text = GOOD.replacen(from, to, 1);
        let err = error_of(&text);
        let shown = err.to_string();
        assert_eq!(err.field(), Some(*field), "{from:?} -> {to:?}: {shown}");
        assert_eq!(
            err.line(),
            Some(line_of(&text, on_line)),
            "{from:?} -> {to:?}: {shown}"
        );
        assert!(shown.starts_with("org.toml"), "{shown}");
        assert!(shown.contains("Fix:") || words.is_empty(), "{shown}");
        for word in *words {
            assert!(
                shown.contains(word),
                "{from:?} -> {to:?}: {shown:?} lacks {word:?}"
            );
        }
    }
}

/// Broken TOML: (what to change, replacement, expected field, text on the
/// line where the broken construct starts, words the message must contain).
/// The parser often notices the mistake a line or more later, in another
/// field; the error must still point at the construct that is broken.
const BROKEN: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "accepted_domains = [\"contoso.com\"]",
        "accepted_domains = [\"contoso.com\"",
        "organization.accepted_domains",
        "accepted_domains",
        &[
            "invalid array",
            "noticed on line 3",
            "the list that starts on line 2",
        ],
    ),
    (
        "client_access = [\"mail.contoso.com\"]",
        "client_access = [\n  \"mail.contoso.com\",\n  \"webmail.contoso.com\"\n",
        "namespaces.client_access",
        "client_access",
        &["invalid array", "noticed on line 11"],
    ),
    (
        "fqdn = \"ex1.contoso.com\"",
        "fqdn = \"ex1.contoso.com",
        "server[1].fqdn",
        "fqdn",
        &["invalid basic string", "close the text that starts on line"],
    ),
    (
        "[[site]]\nname = \"London\"",
        "[[site]]\nname = \"\"\"London",
        "site[1].name",
        "London",
        &["multiline", "three quotes"],
    ),
    (
        "issuer = \"public\"",
        "issuer \"public\"",
        "organization.issuer",
        "issuer",
        &["expected `.`, `=`", "key = value"],
    ),
    (
        "max_names = 100",
        "max_names = 100\nmax_names = 200",
        "policy.max_names",
        "max_names = 200",
        &["duplicate key `max_names`", "once per table"],
    ),
    (
        "[policy]",
        "[policy",
        "policy",
        "[policy",
        &["invalid table header", "[name]"],
    ),
    (
        "[[server]]",
        "[[server]",
        "server[1]",
        "[[server]",
        &["invalid table header"],
    ),
    (
        "[policy]",
        "[organization]\nname = \"Contoso\"\n\n[policy]",
        "organization",
        "name = \"Contoso\"",
        &["duplicate key `organization`", "merge the two tables"],
    ),
];

#[test]
fn broken_toml_names_the_line_and_field_of_the_broken_construct() {
    for (from, to, field, on_line, words) in BROKEN {
        assert!(GOOD.contains(from), "{from:?} not in the good file");
        let text = GOOD.replacen(from, to, 1);
        let err = error_of(&text);
        let shown = err.to_string();
        assert_eq!(err.field(), Some(*field), "{from:?} -> {to:?}: {shown}");
        let mut line = line_of(&text, on_line);
        // The duplicate table is the second header, just above its key.
        if *field == "organization" {
            line -= 1;
        }
        assert_eq!(err.line(), Some(line), "{from:?} -> {to:?}: {shown}");
        assert!(shown.starts_with("org.toml, line "), "{shown}");
        assert!(shown.contains("Fix: "), "{shown}");
        for word in *words {
            assert!(
                shown.contains(word),
                "{from:?} -> {to:?}: {shown:?} lacks {word:?}"
            );
        }
    }
}

#[test]
fn semantic_errors_without_a_line_still_name_the_field() {
    let text = GOOD.replace("client_access = [\"mail.contoso.com\"]", "");
    let err = error_of(&text);
    assert_eq!(err.field(), Some("namespaces.client_access"));
    assert!(
        err.to_string().contains("Fix: add the name clients use"),
        "{err}"
    );

    let text = format!("{GOOD}certificates = \"per-site\"\n")
        .replace("[[site]]\nname = \"London\"\n", "")
        .replace("site = \"London\"\n", "");
    let err = error_of(&text);
    assert_eq!(err.field(), Some("policy.certificates"), "{err}");
}

#[test]
fn duplicate_servers_and_sites_are_refused() {
    let text = format!("{GOOD}\n[[server]]\nname = \"ex1\"\nfqdn = \"ex1b.contoso.com\"\n");
    let err = error_of(&text);
    assert_eq!(err.field(), Some("server[2].name"), "{err}");
    assert_eq!(err.line(), Some(line_of(&text, "name = \"ex1\"")));

    let text = GOOD.replace("[[server]]", "[[site]]\nname = \"london\"\n\n[[server]]");
    let err = error_of(&text);
    assert_eq!(err.field(), Some("site[2].name"), "{err}");
}

#[test]
fn autodiscover_exceptions_must_be_accepted_domains() {
    let text = GOOD.replace(
        "[[site]]",
        "[namespaces.autodiscover_by_domain]\n\"fabrikam.com\" = \"srv\"\n\n[[site]]",
    );
    let err = error_of(&text);
    assert!(
        err.field()
            .is_some_and(|f| f.starts_with("namespaces.autodiscover_by_domain")),
        "{err}"
    );
    assert!(err.to_string().contains("contoso.com"), "{err}");
}

#[test]
fn coexistence_until_must_be_a_date() {
    let text = format!("{GOOD}\n[coexistence]\nolder_version = \"2010\"\nuntil = \"soon\"\n");
    let err = error_of(&text);
    assert_eq!(err.field(), Some("coexistence.until"), "{err}");
    assert_eq!(err.line(), Some(line_of(&text, "until")));
}

#[test]
fn json_has_the_documented_shape() {
    let plan = plan_toml(GOOD, "org.toml", datetime!(2026-06-01 0:00 UTC)).expect("plans");
    let json: serde_json::Value = serde_json::from_str(&plan.to_json()).expect("valid JSON");
    let certificate = &json["certificates"][0];
    assert_eq!(certificate["subject"], "CN=mail.contoso.com");
    assert_eq!(certificate["issuer"], "public");
    assert_eq!(certificate["max_validity_days"], 200);
    assert_eq!(certificate["names"][0]["name"], "mail.contoso.com");
    assert!(certificate["names"][0]["reason"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    assert_eq!(certificate["names"][1]["name"], "autodiscover.contoso.com");
    let findings = json["findings"].as_array().expect("findings array");
    assert!(!findings.is_empty());
    for f in findings {
        let keys: Vec<&str> = f
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        for key in ["severity", "code", "names", "message", "fix"] {
            assert!(keys.contains(&key), "finding lacks {key}: {f}");
        }
        assert!(
            ["error", "warning", "info"].contains(&f["severity"].as_str().unwrap_or("")),
            "{f}"
        );
        let code = f["code"].as_str().unwrap_or("");
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "code {code:?} is not kebab-case"
        );
    }
}

#[test]
fn request_names_follow_the_plan_order() {
    let plan = plan_toml(GOOD, "org.toml", datetime!(2026-06-01 0:00 UTC)).expect("plans");
    let requests = plan.request_names();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].common_name, "mail.contoso.com");
    assert_eq!(
        requests[0].names,
        ["mail.contoso.com", "autodiscover.contoso.com"]
    );
    assert!(!plan.has_errors());
}

#[test]
fn the_planning_date_decides_validity() {
    let at = |t| plan_toml(GOOD, "org.toml", t).expect("plans").certificates[0].max_validity_days;
    assert_eq!(at(datetime!(2026-03-14 23:59:59 UTC)), 398);
    assert_eq!(at(datetime!(2026-03-15 0:00 UTC)), 200);
    // 2027-03-15 01:00 in Paris is still 2027-03-15 00:00 UTC: the new limit.
    assert_eq!(at(datetime!(2027-03-15 1:00 +1)), 100);
    assert_eq!(at(datetime!(2029-03-15 0:00 UTC)), 47);
}

#[test]
fn srv_advice_never_points_at_a_wildcard() {
    let text = "[organization]\naccepted_domains = [\"contoso.com\", \"fabrikam.com\"]\nissuer = \"public\"\n\n[namespaces]\nclient_access = [\"*.contoso.com\"]\nautodiscover = \"names\"\n";
    let plan = plan_toml(text, "org.toml", datetime!(2026-06-01 0:00 UTC)).unwrap();
    let finding = plan
        .findings
        .iter()
        .find(|f| f.code.as_str() == "wildcard-autodiscover")
        .expect("the wildcard does not cover fabrikam's autodiscover");
    assert!(
        finding.fix.contains("pointing at mail.contoso.com"),
        "{}",
        finding.fix
    );
    assert!(!finding.fix.contains("pointing at *"), "{}", finding.fix);
}

#[test]
fn mx_hosts_and_policy_lines_are_checked_with_their_line() {
    let with = |extra: &str| format!("{GOOD}mta_sts = true\n{extra}");
    // (addition, field, text on the line, words)
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "\n[[mx]]\nhost = \"*.contoso.com\"\n",
            "mx[1].host",
            "host =",
            &["not a host name", "never a wildcard"],
        ),
        (
            "\n[[mx]]\nhost = \"192.0.2.25\"\n",
            "mx[1].host",
            "host =",
            &["not a host name"],
        ),
        (
            "\n[[mx]]\nhost = \"mx 1.contoso.com\"\n",
            "mx[1].host",
            "host =",
            &["host = \"mx1.contoso.com\""],
        ),
        (
            "\n[[mx]]\nhost = \"mx1.contoso.com\"\n\n[[mx]]\nhost = \"MX1.contoso.com.\"\n",
            "mx[2].host",
            "MX1",
            &["listed twice"],
        ),
        (
            "\n[[mx]]\nhost = \"mx1.contoso.com\"\ndomains = [\"fabrikam.com\"]\n",
            "mx[1].domains",
            "domains = [\"fabrikam",
            &[
                "fabrikam.com",
                "not one of the accepted domains",
                "contoso.com",
            ],
        ),
        (
            "\n[[mx]]\nhots = \"mx1.contoso.com\"\n",
            "mx[1].hots",
            "hots",
            &["did you mean `host`"],
        ),
    ];
    for (extra, field, on_line, words) in cases {
        let text = with(extra);
        let err = error_of(&text);
        let shown = err.to_string();
        assert_eq!(err.field(), Some(*field), "{extra}: {shown}");
        assert_eq!(err.line(), Some(line_of(&text, on_line)), "{shown}");
        for word in *words {
            assert!(shown.contains(word), "{extra}: {word:?} not in {shown}");
        }
    }
    let text = format!("{GOOD}mta_sts = true\nmta_sts_mx = [\"mx_1.contoso.com\"]\n");
    let err = error_of(&text);
    assert_eq!(err.field(), Some("policy.mta_sts_mx"), "{err}");
    assert_eq!(err.line(), Some(line_of(&text, "mta_sts_mx")));
    assert!(err.to_string().contains("is not a host name"), "{err}");
    let text = format!("{GOOD}mta_sts_mx = [\"mx1.contoso.com\"]\n");
    let err = error_of(&text);
    assert_eq!(err.field(), Some("policy.mta_sts_mx"), "{err}");
    assert!(err.to_string().contains("mta_sts = true"), "{err}");
}
