//! `check` against Dovecot: IMAP STARTTLS (143-style), IMAPS, POP3 STLS and
//! POP3S, with a correct configuration and with the usual mistakes.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use mailcert_check::Code;

const NAME: &str = "mail.example.test";
/// Dovecot counts a connection whose local and remote addresses are equal
/// as secured, and would then allow plaintext login on loopback. Listening
/// on 127.0.0.2 (the client's address stays 127.0.0.1) shows what a client
/// on the network sees.
const LISTEN: &str = "127.0.0.2";

fn check(
    endpoint: &str,
    port: u16,
    trust: mailcert_check::TrustStore,
) -> mailcert_check::EndpointReport {
    check_with(endpoint, port, trust, |s| {
        s.connect = Some(mailcert_check::ConnectTo {
            host: LISTEN.into(),
            port: Some(port),
        })
    })
}

struct Dovecot {
    child: Child,
    imap: u16,
    imaps: u16,
    pop3: u16,
    pop3s: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dovecot(ssl: bool, plaintext_auth: bool, cert_chain: &Path, key: &Path) -> Dovecot {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run_path = dir.path().to_path_buf();
    let run = run_path.as_path();
    for sub in ["run", "state", "mail"] {
        std::fs::create_dir_all(run.join(sub)).expect("dovecot directory");
    }
    // Login processes run as an unprivileged user and must reach base_dir.
    let _ = Command::new("chmod").arg("755").arg(run).status();
    std::fs::write(run.join("users"), "test:{PLAIN}secret::::::\n").expect("users");
    let (imap, imaps, pop3, pop3s) = (free_port(), free_port(), free_port(), free_port());
    let r = run.display();
    let ssl_lines = if ssl {
        format!(
            "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
            cert_chain.display(),
            key.display()
        )
    } else {
        "ssl = no\n".to_string()
    };
    let conf = format!(
        "base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap pop3
listen = {LISTEN}
{ssl_lines}disable_plaintext_auth = {}
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/users
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={r}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {}
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {}
  }}
}}
",
        if plaintext_auth { "no" } else { "yes" },
        if ssl { imaps } else { 0 },
        if ssl { pop3s } else { 0 },
    );
    let conf_path = run.join("dovecot.conf");
    std::fs::write(&conf_path, conf).expect("dovecot.conf");
    let child = Command::new("dovecot")
        .arg("-F")
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dovecot starts (scripts/install-peers.sh installs it)");
    let dovecot = Dovecot {
        child,
        imap,
        imaps,
        pop3,
        pop3s,
        _dir: dir,
    };
    wait_for_greeting(dovecot.imap, run);
    wait_for_greeting(dovecot.pop3, run);
    dovecot
}

/// Waits until the port greets (Dovecot forks its listeners after start).
fn wait_for_greeting(port: u16, run: &Path) {
    for _ in 0..200 {
        if let Ok(stream) = TcpStream::connect((LISTEN, port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut line = String::new();
            if BufReader::new(stream).read_line(&mut line).is_ok() && !line.is_empty() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(run.join("dovecot.log")).unwrap_or_default();
    panic!("dovecot does not answer on {port}; its log:\n{log}");
}

struct Setup {
    pki: Pki,
    root: Cert,
    chain: std::path::PathBuf,
    leaf: Cert,
}

fn setup(names: &[&str]) -> Setup {
    let pki = Pki::new();
    let root = pki.root("root", "Dovecot Test Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Dovecot Test Issuing CA"));
    let leaf = pki.issue(&int, "leaf", &Spec::leaf(names[0], names));
    let chain = pki.bundle("leaf-chain.pem", &[&leaf, &int]);
    Setup {
        pki,
        root,
        chain,
        leaf,
    }
}

#[test]
fn correct_dovecot_has_no_findings_on_any_port() {
    let s = setup(&[NAME]);
    let d = dovecot(true, false, &s.chain, &s.leaf.key);
    for (endpoint, port) in [
        (format!("imap://{NAME}"), d.imap),
        (format!("imaps://{NAME}"), d.imaps),
        (format!("pop3://{NAME}"), d.pop3),
        (format!("pop3s://{NAME}"), d.pop3s),
    ] {
        let report = check(&endpoint, port, trust(&[&s.root]));
        eqnice!(Vec::<Code>::new(), codes(&report), describe(&report));
        assert_eq!(report.trusted, Some(true), "{endpoint}");
        assert_eq!(report.chain.len(), 2, "{endpoint}");
        if endpoint.starts_with("imap://") {
            let st = report.starttls.as_ref().expect("STARTTLS transcript");
            assert!(st.capabilities.iter().any(|c| c == "LOGINDISABLED"));
        }
    }
    drop(s.pki);
}

#[test]
fn dovecot_allowing_plaintext_login_with_the_wrong_name() {
    let s = setup(&["other.example.test"]);
    let d = dovecot(true, true, &s.chain, &s.leaf.key);
    let report = check(&format!("imap://{NAME}"), d.imap, trust(&[&s.root]));
    eqnice!(
        sorted(vec![Code::NameMismatch, Code::PlaintextAuthBeforeTls]),
        codes(&report),
        describe(&report)
    );
    let report = check(&format!("pop3://{NAME}"), d.pop3, trust(&[&s.root]));
    eqnice!(
        sorted(vec![Code::NameMismatch, Code::PlaintextAuthBeforeTls]),
        codes(&report),
        describe(&report)
    );
}

#[test]
fn dovecot_without_tls() {
    let s = setup(&[NAME]);
    let d = dovecot(false, true, &s.chain, &s.leaf.key);
    let report = check(&format!("imap://{NAME}"), d.imap, trust(&[&s.root]));
    eqnice!(
        sorted(vec![Code::StarttlsNotOffered, Code::PlaintextAuthBeforeTls]),
        codes(&report),
        describe(&report)
    );
}
