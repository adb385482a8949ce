//! MTA-STS served by the front end and announced by `mailcert mta-sts`:
//! the policy for `mta-sts.<domain>` only (by SNI and Host), in RFC 8461's
//! exact format with CRLF, as curl and Python's ssl fetch it with the
//! certificate validated; the backend keeps every other name; a listener
//! with no backend serves only policies; SIGHUP brings a changed policy
//! and a new id, and only a changed policy changes the id; bad entries
//! are refused with file, line and field.

use std::path::Path;
use std::process::Command;

use mailcert_testkit::{free_port, python_https_get, wait_until, Cli, Curl, HttpBackend, Pki};

use crate::cli;

const DOMAIN: &str = "example.test";
const POLICY_HOST: &str = "mta-sts.example.test";
const MAIL: &str = "mail.example.test";
const WELL_KNOWN: &str = "/.well-known/mta-sts.txt";

fn policy_entry(mode: &str, max_age: u32, rua: &str) -> String {
    format!("[[mta_sts]]\ndomain = \"{DOMAIN}\"\nmode = \"{mode}\"\nmx = [\"{MAIL}\", \"*.mx.example.test\"]\nmax_age = {max_age}\nrua = \"{rua}\"\n")
}

fn listeners(web: u16, backend: u16, sts: u16) -> String {
    format!(
        "[[listener]]\nname = \"web\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{web}\"\nbackend = \"127.0.0.1:{backend}\"\nalpn = [\"h2\", \"http/1.1\"]\n\n\
         [[listener]]\nname = \"sts\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{sts}\"\n\n"
    )
}

/// A leaf of the throwaway PKI for `names`, imported and bound to https.
fn https_certificate(env: &Cli, pki: &Pki, names: &[&str]) -> String {
    let thumb = env.import_leaf(&pki.leaf("web", names, "ec"));
    env.run(&["enable", &thumb, "--services", "https"]).ok();
    thumb
}

fn records(env: &Cli, config: &Path) -> serde_json::Value {
    let out = env
        .run(&[
            "mta-sts",
            "--config",
            &config.display().to_string(),
            "--json",
        ])
        .ok()
        .json();
    out["domains"][0].clone()
}

/// curl with HTTP/2 offered: the version the server answered with, and
/// the body.
fn curl_http2(host: &str, port: u16, root: &Path, path: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--http2", "-w", "\n%{http_version}"])
        .arg("--cacert")
        .arg(root)
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "curl --http2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, version) = text.rsplit_once('\n').expect("the version line");
    (version.to_string(), body.to_string())
}

#[test]
fn the_front_end_serves_each_policy_on_its_host_only_and_reloads_it() {
    let env = cli();
    env.run(&["init", "--hostname", MAIL]).ok();
    let pki = Pki::new(&env.path("pki"));
    https_certificate(&env, &pki, &[MAIL, POLICY_HOST]);
    let backend = HttpBackend::start();
    let (web, sts) = (free_port(), free_port());
    let config = env.write(
        "fe.toml",
        format!(
            "{}{}",
            listeners(web, backend.port, sts),
            policy_entry("testing", 86400, "mailto:tlsrpt@example.test")
        ),
    );
    let first = records(&env, &config);
    let expected = format!(
        "version: STSv1\r\nmode: testing\r\nmx: {MAIL}\r\nmx: *.mx.example.test\r\nmax_age: 86400\r\n"
    );
    assert_eq!(first["policy"], expected.as_str());
    assert_eq!(first["txt_name"], "_mta-sts.example.test");
    assert_eq!(
        first["txt"].as_str().unwrap(),
        format!("v=STSv1; id={}", first["id"].as_str().unwrap())
    );
    assert_eq!(first["tlsrpt_name"], "_smtp._tls.example.test");
    assert_eq!(
        first["tlsrpt"],
        "v=TLSRPTv1; rua=mailto:tlsrpt@example.test"
    );

    let serve = env.serve(&["--config", &config.display().to_string()]);

    // curl, validating the certificate for the policy host: exactly the policy.
    for port in [web, sts] {
        let reply = Curl::new(POLICY_HOST, port, &pki.root, env.dir()).request(
            "GET",
            WELL_KNOWN,
            &[],
            None,
        );
        assert_eq!(reply.status, 200, "port {port}: {}", reply.text());
        assert_eq!(reply.header("content-type"), Some("text/plain"));
        assert_eq!(reply.body, expected.as_bytes(), "port {port}");
    }
    // Python's ssl and http.client, as a Python MTA fetches it.
    let python = python_https_get(
        POLICY_HOST,
        format!("127.0.0.1:{web}").parse().unwrap(),
        WELL_KNOWN,
        &pki.root,
    )
    .unwrap_or_else(|e| panic!("python fetch: {e}"));
    assert_eq!(
        (
            python.status,
            python.content_type.as_str(),
            python.body.as_slice()
        ),
        (200, "text/plain", expected.as_bytes())
    );
    // A client offering h2 gets the policy over HTTP/1.1, which it speaks;
    // the backend's names still negotiate h2 on the same listener.
    let (version, body) = curl_http2(POLICY_HOST, web, &pki.root, WELL_KNOWN);
    assert_eq!(
        (version.as_str(), body.as_str()),
        ("1.1", expected.as_str())
    );

    // The backend keeps every other name; the policy host answers nothing else.
    let mail = Curl::new(MAIL, web, &pki.root, env.dir());
    let reply = mail.request("GET", WELL_KNOWN, &[], None);
    assert!(
        reply.text().contains("hello from the backend"),
        "{}",
        reply.text()
    );
    let policy_host = Curl::new(POLICY_HOST, web, &pki.root, env.dir());
    assert_eq!(policy_host.request("GET", "/", &[], None).status, 404);
    assert_eq!(
        policy_host
            .request("GET", WELL_KNOWN, &[("Host", MAIL)], None)
            .status,
        404,
        "another Host than the SNI"
    );
    assert_eq!(
        policy_host
            .request("POST", WELL_KNOWN, &[], Some(b"x"))
            .status,
        405
    );
    // No backend: other names get 404, never a connection to nowhere.
    let reply = Curl::new(MAIL, sts, &pki.root, env.dir()).request("GET", "/", &[], None);
    assert_eq!(reply.status, 404);

    // Only a change of the policy changes the id: not the rua, not the
    // file's layout.
    let same = env.write(
        "same.toml",
        format!(
            "# comment\n{}{}",
            listeners(web, backend.port, sts),
            policy_entry("testing", 86400, "https://reports.example.test/tlsrpt")
        ),
    );
    assert_eq!(records(&env, &same)["id"], first["id"]);
    let enforce = policy_entry("enforce", 86400, "mailto:tlsrpt@example.test");
    std::fs::write(
        &config,
        format!("{}{enforce}", listeners(web, backend.port, sts)),
    )
    .expect("rewrite the configuration");
    let second = records(&env, &config);
    assert_ne!(second["id"], first["id"]);
    let expected = expected.replace("mode: testing", "mode: enforce");
    assert_eq!(second["policy"], expected.as_str());

    serve.signal("HUP");
    wait_until(
        "serve serving the changed policy after SIGHUP",
        std::time::Duration::from_secs(20),
        || {
            Curl::new(POLICY_HOST, sts, &pki.root, env.dir())
                .try_request("GET", WELL_KNOWN, &[], None)
                .is_ok_and(|reply| reply.body == expected.as_bytes())
        },
    );
}

#[test]
fn serve_check_says_when_no_certificate_carries_the_policy_host() {
    let env = cli();
    env.run(&["init", "--hostname", MAIL]).ok();
    let port = free_port();
    let config = env.write(
        "fe.toml",
        format!(
            "[[listener]]\nname = \"sts\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{port}\"\n\n{}",
            policy_entry("testing", 86400, "mailto:tlsrpt@example.test")
        ),
    );
    let out = env
        .run(&[
            "serve",
            "--check",
            "--config",
            &config.display().to_string(),
        ])
        .ok();
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("the MTA-STS policy of example.test would be served with certificate")
            && said.contains("which does not carry mta-sts.example.test"),
        "{said}"
    );
    let pki = Pki::new(&env.path("pki"));
    https_certificate(&env, &pki, &[MAIL, POLICY_HOST]);
    let out = env
        .run(&[
            "serve",
            "--check",
            "--config",
            &config.display().to_string(),
        ])
        .ok();
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(!said.contains("MTA-STS"), "{said}");

    // Policies but no https listener to serve them: refused.
    let imap_only = env.write(
        "imap.toml",
        format!(
            "[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\n\n{}",
            policy_entry("testing", 86400, "mailto:tlsrpt@example.test")
        ),
    );
    let out = env.run(&[
        "serve",
        "--check",
        "--config",
        &imap_only.display().to_string(),
    ]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("no https listener serves them"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn bad_policies_are_refused_with_file_line_and_fix() {
    let env = cli();
    let good = policy_entry("enforce", 604800, "mailto:tlsrpt@example.test");
    let cases = [
        (
            good.replace("\"enforce\"", "\"enforcing\""),
            "line 3: mta_sts[1] (example.test).mode: unknown variant `enforcing`, expected one of `enforce`, `testing`, `none`",
        ),
        (
            good.replace("604800", "31557601"),
            "line 5: mta_sts[1] (example.test).max_age: max_age 31557601 is over a year: RFC 8461 allows at most 31557600",
        ),
        (
            good.replace("*.mx.example.test", "mx_1.example.test"),
            "line 4: mta_sts[1] (example.test).mx: mx pattern 'mx_1.example.test' is not a host name: character '_' is not allowed",
        ),
        (
            good.replace("*.mx.example.test", "mail.*.example.test"),
            "line 4: mta_sts[1] (example.test).mx: mx pattern 'mail.*.example.test' is not a host name: a wildcard may only be the whole left-most label",
        ),
        (
            good.replace("mailto:tlsrpt@example.test", "tlsrpt@example.test"),
            "line 6: mta_sts[1] (example.test).rua: rua 'tlsrpt@example.test' is not a reporting address",
        ),
    ];
    for (text, expected) in cases {
        let file = env.write("bad.toml", &text);
        let shown = file.display().to_string();
        let out = env.run(&["mta-sts", "--config", &shown]).fails_with(2);
        assert!(
            out.stderr.contains(&format!("{shown}: {expected}")),
            "{text}\n{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        // serve refuses the same file the same way, before any socket.
        let out = env.run(&["serve", "--check", "--config", &shown]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains(expected), "{}", out.stderr);
    }
    let none = env.write("none.toml", "[limits]\nmax_connections = 10\n");
    let out = env
        .run(&["mta-sts", "--config", &none.display().to_string()])
        .fails_with(2);
    assert!(
        out.stderr.contains("no [[mta_sts]] entry"),
        "{}",
        out.stderr
    );
}
