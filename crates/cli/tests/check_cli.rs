//! `mailcert check` and `mailcert verify` as scripts use them: exit codes,
//! the fixed JSON shape, `--connect`, `--store` bindings, bad usage.

use std::path::{Path, PathBuf};
use std::process::Output;

use mailcert_testkit::pki::{Cert, Key, OpensslPki};
use mailcert_testkit::{openssl, OpensslServer};
use serde_json::Value;

use crate::cli;

const NAME: &str = "mail.example.test";

/// `mailcert ARGS` with no store named at all.
fn mailcert(args: &[&str]) -> Output {
    cli().without_store().output(args)
}

/// A root ("CLI Test Root") and server certificates signed by it.
struct Pki {
    workshop: OpensslPki,
    root: Cert,
}

impl Pki {
    fn new() -> Pki {
        let workshop = OpensslPki::new();
        let root = workshop.root_for("root", "CLI Test Root", Key::EcP256, 365);
        Pki { workshop, root }
    }

    fn dir(&self) -> &Path {
        self.workshop.dir()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.workshop.path(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// `NAME.pem` and `NAME.key`: a server certificate for `dns`.
    fn leaf(&self, name: &str, dns: &str) {
        self.leaf_from(&self.root, name, dns);
    }

    fn leaf_from(&self, issuer: &Cert, name: &str, dns: &str) {
        let csr = self.workshop.request(name, dns, Key::EcP256);
        self.workshop.sign_request(
            issuer,
            &csr,
            &format!("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:{dns}\n"),
            90,
            &self.path(&format!("{name}.pem")),
        );
    }
}

fn s_server(cert: &Path, key: &Path) -> OpensslServer {
    OpensslServer::start(cert, key, None, &[])
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn codes(v: &Value) -> Vec<String> {
    v["endpoints"][0]["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn verify_exit_codes_and_json_shape() {
    let pki = Pki::new();
    pki.leaf("leaf", NAME);
    let good = mailcert(&[
        "verify",
        &pki.s("leaf.pem"),
        "--ca-file",
        &pki.s("root.pem"),
        "--name",
        NAME,
        "--json",
    ]);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    let v = json(&good);
    let e = &v["endpoints"][0];
    for key in [
        "endpoint",
        "connected",
        "tls_version",
        "cipher",
        "chain",
        "findings",
    ] {
        assert!(e.get(key).is_some(), "missing {key} in {e}");
    }
    for key in ["subject", "issuer", "names", "not_after"] {
        assert!(e["chain"][0].get(key).is_some(), "missing chain[].{key}");
    }
    assert_eq!(e["connected"], false);

    let wrong = mailcert(&[
        "verify",
        &pki.s("leaf.pem"),
        "--ca-file",
        &pki.s("root.pem"),
        "--name",
        "other.example.test",
        "--json",
    ]);
    assert_eq!(wrong.status.code(), Some(1));
    let v = json(&wrong);
    assert_eq!(codes(&v), vec!["name-mismatch"]);
    let f = &v["endpoints"][0]["findings"][0];
    for key in ["severity", "code", "message", "fix"] {
        assert!(f.get(key).is_some(), "missing findings[].{key}");
    }
    assert_eq!(f["severity"], "error");

    // Text output explains and names the fix.
    let text = mailcert(&["verify", &pki.s("leaf.pem"), "--no-system-roots"]);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("untrusted-issuer"), "{stdout}");
    assert!(stdout.contains("fix:"), "{stdout}");

    // Bad usage: 2.
    assert_eq!(
        mailcert(&["verify", &pki.s("missing.pem")]).status.code(),
        Some(2)
    );
    assert_eq!(
        mailcert(&["verify", &pki.s("leaf.pem"), "--at", "next tuesday"])
            .status
            .code(),
        Some(2)
    );
    std::fs::write(
        pki.path("truncated.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n",
    )
    .expect("write");
    let truncated = mailcert(&["verify", &pki.s("truncated.pem")]);
    assert_eq!(truncated.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&truncated.stderr).contains("truncated"));
}

#[test]
fn check_with_connect_and_json() {
    let pki = Pki::new();
    pki.leaf("leaf", NAME);
    let server = s_server(&pki.path("leaf.pem"), &pki.path("leaf.key"));
    let connect = format!("127.0.0.1:{}", server.port);
    let out = mailcert(&[
        "check",
        &format!("imaps://{NAME}"),
        "--connect",
        &connect,
        "--ca-file",
        &pki.s("root.pem"),
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    let e = &v["endpoints"][0];
    assert_eq!(e["endpoint"], format!("imaps://{NAME}:993"));
    assert_eq!(e["connected"], true);
    assert!(e["tls_version"]
        .as_str()
        .is_some_and(|t| t.starts_with("TLSv1.")));
    assert_eq!(e["chain"][0]["names"][0], NAME);
    assert_eq!(e["findings"].as_array().map(Vec::len), Some(0));

    // The endpoint's name is what is validated, whatever address is dialled.
    let out = mailcert(&[
        "check",
        "imaps://other.example.test",
        "--connect",
        &connect,
        "--ca-file",
        &pki.s("root.pem"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&json(&out)), vec!["name-mismatch"]);
}

#[test]
fn check_bad_usage_exits_2() {
    for args in [
        vec!["check", "ftp://mail.example.test"],
        vec!["check", "mail.example.test:993"],
        vec!["check", "mail.example.test", "--connect", "127.0.0.1:993"],
        vec!["check", "imaps://mail.example.test", "--name", "not a name"],
        vec!["check", "imaps://mail.example.test", "--timeout", "0"],
    ] {
        let out = mailcert(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn check_plan_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("org.toml");
    std::fs::write(
        &plan,
        "[organization]\naccepted_domains = [\"example.test\"]\nissuer = \"public\"\n[namespaces]\nclient_access = [\"mail.example.test\"]\n",
    )
    .expect("plan");
    let p = plan.display().to_string();
    // A port for --connect makes no sense for the many endpoints of a plan.
    let out = mailcert(&["check", "--plan", &p, "--connect", "127.0.0.1:993"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let missing = dir.path().join("missing.toml").display().to_string();
    assert_eq!(
        mailcert(&["check", "--plan", &missing]).status.code(),
        Some(2)
    );
    std::fs::write(&plan, "[organization]\nissuer = 7\n").expect("plan");
    let out = mailcert(&["check", "--plan", &p]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("org.toml"));
    // Neither endpoints nor a plan: usage.
    assert_eq!(mailcert(&["check"]).status.code(), Some(2));
}

#[test]
fn check_reports_a_certificate_that_is_not_the_bound_one() {
    let pki = Pki::new();
    pki.leaf("foreign", NAME);
    let store = pki.s("store.db");
    let init = mailcert(&["--store", &store, "init", "--hostname", NAME]);
    assert_eq!(
        init.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let server = s_server(&pki.path("foreign.pem"), &pki.path("foreign.key"));
    let out = mailcert(&[
        "--store",
        &store,
        "check",
        &format!("imaps://{NAME}"),
        "--connect",
        &format!("127.0.0.1:{}", server.port),
        "--ca-file",
        &pki.s("root.pem"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&json(&out)), vec!["not-bound-certificate"]);
}

#[test]
fn check_without_store_never_creates_one() {
    let home = tempfile::tempdir().expect("tempdir");
    let default_store = PathBuf::from("/var/lib/mailcert/store.db");
    let existed = default_store.exists();
    let out = cli()
        .without_store()
        .command(&["check", "imaps://127.0.0.1:1", "--timeout", "2", "--json"])
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .output()
        .expect("mailcert runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&json(&out)), vec!["connect-failed"]);
    assert_eq!(
        std::fs::read_dir(home.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
    if !existed {
        assert!(!default_store.exists(), "check created the default store");
    }
}

#[test]
fn check_text_output_never_passes_control_characters_from_the_server() {
    use std::io::Write as _;
    // A hostile IMAP server: a greeting with a terminal escape sequence.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = listener.accept() {
            let _ = c.write_all(b"\x1b]2;owned\x07\x1b[2J* BYE \x1b[31mred\r\n");
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    });
    let out = mailcert(&[
        "check",
        &format!("imap://{NAME}:{port}"),
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("protocol-error"), "{text}");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "control characters reach the terminal: {text:?}"
    );
    assert!(text.contains("\\u{1b}"), "{text}");
}

/// Root → intermediate → leaf for `NAME`, and PKCS#7 files made from them
/// with `openssl crl2pkcs7`, as a CA delivers them.
fn pkcs7_pki() -> Pki {
    let pki = Pki::new();
    let dir = pki.dir();
    let csr = pki.workshop.request("int", "CLI Issuing CA", Key::EcP256);
    pki.workshop.sign_request(
        &pki.root,
        &csr,
        &mailcert_testkit::pki::intermediate_extensions(Some(0)),
        365,
        &pki.path("int.pem"),
    );
    let int = pki.workshop.load("int", "CLI Issuing CA");
    pki.leaf_from(&int, "leaf", NAME);
    // The full answer, root first: the file's order must not matter.
    openssl(
        dir,
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "root.pem",
            "-certfile",
            "int.pem",
            "-certfile",
            "leaf.pem",
            "-out",
            "full.p7b",
        ],
    );
    openssl(
        dir,
        &[
            "pkcs7",
            "-in",
            "full.p7b",
            "-outform",
            "DER",
            "-out",
            "full-der.p7b",
        ],
    );
    openssl(
        dir,
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "int.pem",
            "-outform",
            "DER",
            "-out",
            "int.p7b",
        ],
    );
    openssl(
        dir,
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "root.pem",
            "-out",
            "root.p7b",
        ],
    );
    pki
}

fn subjects(v: &Value) -> Vec<String> {
    v["endpoints"][0]["chain"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["subject"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn verify_reads_pkcs7_as_complete_does() {
    let pki = pkcs7_pki();
    let root = pki.s("root.pem");
    let full_chain = vec![
        format!("CN={NAME}"),
        "CN=CLI Issuing CA".to_string(),
        "CN=CLI Test Root".to_string(),
    ];
    // CERT as a PKCS#7 (PEM, then DER) with the whole chain: the server
    // certificate is found and the chain put in issuer order.
    for file in ["full.p7b", "full-der.p7b"] {
        let out = mailcert(&[
            "verify",
            &pki.s(file),
            "--ca-file",
            &root,
            "--no-system-roots",
            "--name",
            NAME,
            "--json",
        ]);
        let v = json(&out);
        assert_eq!(out.status.code(), Some(0), "{file}: {v:#}");
        assert_eq!(subjects(&v), full_chain, "{file}");
        assert_eq!(codes(&v), vec!["unneeded-root"], "{file}");
    }
    // --chain as a DER PKCS#7 with the intermediate; --ca-file as a .p7b.
    let out = mailcert(&[
        "verify",
        &pki.s("leaf.pem"),
        "--chain",
        &pki.s("int.p7b"),
        "--ca-file",
        &pki.s("root.p7b"),
        "--no-system-roots",
        "--name",
        NAME,
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(subjects(&v), full_chain[..2].to_vec());
    assert_eq!(codes(&v), Vec::<String>::new());
    // The CA's full .p7b as --chain: the server certificate in it is the
    // one already given, not a second copy.
    let out = mailcert(&[
        "verify",
        &pki.s("leaf.pem"),
        "--chain",
        &pki.s("full.p7b"),
        "--ca-file",
        &root,
        "--no-system-roots",
        "--name",
        NAME,
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(subjects(&v), full_chain);
    assert_eq!(codes(&v), vec!["unneeded-root"]);
    // Without the intermediate it is missing, whatever the format.
    let out = mailcert(&[
        "verify",
        &pki.s("leaf.pem"),
        "--chain",
        &pki.s("root.p7b"),
        "--ca-file",
        &root,
        "--no-system-roots",
        "--name",
        NAME,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(codes(&json(&out)).contains(&"incomplete-chain".to_string()));
}

#[test]
fn verify_refuses_a_pkcs7_without_one_server_certificate() {
    let pki = pkcs7_pki();
    pki.leaf("other", "other.example.test");
    openssl(
        pki.dir(),
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "leaf.pem",
            "-certfile",
            "other.pem",
            "-out",
            "two.p7b",
        ],
    );
    let out = mailcert(&["verify", &pki.s("two.p7b"), "--no-system-roots"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("two.p7b") && err.contains("other.example.test") && err.contains("--chain"),
        "{err}"
    );
    // Not a certificate at all: the message says what is expected.
    std::fs::write(pki.path("notes.txt"), "hello").expect("write");
    let out = mailcert(&["verify", &pki.s("notes.txt")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("PKCS#7"), "{err}");
}
