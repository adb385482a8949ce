//! `mailcert plan`: the JSON shape scripts rely on, the exit codes (0 fine,
//! 1 an error-level finding, 2 bad input), and errors that name the file,
//! the line and the field.

use std::path::PathBuf;

use crate::cli;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/plan")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn json_shape_of_a_clean_plan() {
    let env = cli();
    let run = env
        .run(&[
            "plan",
            &example("single-server.toml"),
            "--json",
            "--at",
            "2026-06-01",
        ])
        .ok();
    let json = run.json();
    let certificates = json["certificates"].as_array().expect("certificates");
    assert_eq!(certificates.len(), 1);
    let cert = &certificates[0];
    assert_eq!(cert["subject"], "CN=mail.contoso.com");
    assert_eq!(cert["issuer"], "public");
    assert_eq!(cert["max_validity_days"], 200);
    let names: Vec<&str> = cert["names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|n| n["name"].as_str().expect("name is text"))
        .collect();
    assert_eq!(names, ["mail.contoso.com", "autodiscover.contoso.com"]);
    for n in cert["names"].as_array().into_iter().flatten() {
        assert!(n["reason"].as_str().is_some_and(|r| !r.is_empty()), "{n}");
    }
    for f in json["findings"].as_array().expect("findings") {
        for key in ["severity", "code", "names", "message", "fix"] {
            assert!(f.get(key).is_some(), "finding without {key}: {f}");
        }
        assert_ne!(f["severity"], "error", "{f}");
    }
    // plan needs no store, and must not create one.
    assert!(!env.store().exists(), "plan created a store");
}

#[test]
fn error_findings_exit_1_and_still_print_the_plan() {
    let env = cli();
    let run = env
        .run(&[
            "plan",
            &example("split-names.toml"),
            "--json",
            "--at",
            "2026-06-01",
        ])
        .fails_with(1);
    let json = run.json();
    let internal = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "internal-name")
        .expect("an internal-name finding")
        .clone();
    assert_eq!(internal["severity"], "error");
    assert_eq!(internal["names"][0], "mail.contoso.local");
    assert!(internal["fix"]
        .as_str()
        .is_some_and(|f| f.contains("split DNS")));
    assert_eq!(json["certificates"][0]["subject"], "CN=mail.contoso.com");
}

#[test]
fn at_decides_the_validity_limit() {
    let env = cli();
    for (at, days) in [
        ("2026-03-14", 398),
        ("2026-03-15", 200),
        ("2027-06-01T12:00:00Z", 100),
        ("2029-03-15", 47),
    ] {
        let json = env
            .run(&["plan", &example("single-server.toml"), "--json", "--at", at])
            .ok()
            .json();
        assert_eq!(
            json["certificates"][0]["max_validity_days"], days,
            "at {at}"
        );
    }
}

#[test]
fn human_output_lists_names_reasons_and_findings() {
    let env = cli();
    let run = env
        .run(&["plan", &example("split-names.toml"), "--at", "2026-06-01"])
        .fails_with(1);
    for expected in [
        "Certificate 1: CN=mail.contoso.com",
        "autodiscover.contoso.com",
        "client-access namespace",
        "error    internal-name  mail.contoso.local",
        "split-namespace",
        "Fix: ",
        "1 error(s)",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing from:\n{}",
            run.stdout
        );
    }
}

#[test]
fn missing_file_is_bad_input() {
    let env = cli();
    let missing = env.path("nowhere.toml");
    let run = env
        .run(&["plan", missing.to_str().expect("utf-8 path")])
        .fails_with(2);
    assert!(run.stderr.contains("nowhere.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("Fix:"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn toml_errors_name_file_line_and_field() {
    let env = cli();
    let org = env.write(
        "org.toml",
        "[organization]\naccepted_domains = [\"contoso.com\"]\nissuer = \"public\"\n\n[namespaces]\nclient_access = [\"mail.contoso.com\"]\n\n[[server]]\nname = \"EX1\"\nfqdn = \"ex1.contoso.com\"\ninternet_facng = true\n",
    );
    let run = env
        .run(&["plan", org.to_str().expect("utf-8 path"), "--json"])
        .fails_with(2);
    for expected in [
        "org.toml",
        "line 11",
        "server[1].internet_facng",
        "did you mean `internet_facing`",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} missing from: {}",
            run.stderr
        );
    }
    assert!(
        run.stdout.is_empty(),
        "no plan on bad input: {}",
        run.stdout
    );
}

#[test]
fn an_unclosed_array_is_blamed_on_its_own_line_and_field() {
    let env = cli();
    let org = env.write(
        "e1.toml",
        "[organization]\naccepted_domains = [\"contoso.com\"\nissuer = \"public\"\n",
    );
    let run = env
        .run(&["plan", org.to_str().expect("utf-8 path")])
        .fails_with(2);
    assert!(
        run.stderr.contains(
            "e1.toml, line 2, column 1, field organization.accepted_domains: invalid array"
        ),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("organization.issuer"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Fix:"), "{}", run.stderr);
}

#[test]
fn bad_at_is_bad_input() {
    let env = cli();
    let run = env
        .run(&["plan", &example("single-server.toml"), "--at", "next week"])
        .fails_with(2);
    assert!(run.stderr.contains("--at"), "{}", run.stderr);
    assert!(run.stderr.contains("2027-06-01"), "{}", run.stderr);
}

#[test]
fn every_example_plans() {
    let env = cli();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/plan");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/plan") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let run = env.run(&[
            "plan",
            path.to_str().expect("utf-8 path"),
            "--json",
            "--at",
            "2026-06-01",
        ]);
        let json = run.json();
        let has_error = json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["severity"] == "error");
        assert_eq!(
            run.code,
            i32::from(has_error),
            "{}: {}",
            path.display(),
            run.stderr
        );
    }
    assert!(seen >= 5, "only {seen} examples");
}
