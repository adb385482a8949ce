//! `check` against Dovecot: IMAP STARTTLS (143-style), IMAPS, POP3 STLS and
//! POP3S, with a correct configuration and with the usual mistakes.

use std::path::Path;

use crate::common::*;
use mailcert_check::Code;
use mailcert_testkit::{Dovecot, DovecotOptions, TempDir};

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

fn dovecot(ssl: bool, plaintext_auth: bool, cert_chain: &Path, key: &Path) -> (Dovecot, TempDir) {
    let dir = mailcert_testkit::temp_dir();
    let dovecot = Dovecot::start(
        dir.path(),
        DovecotOptions {
            disable_plaintext_auth: !plaintext_auth,
            listen: Some(LISTEN),
            tls: ssl.then(|| (cert_chain.to_path_buf(), key.to_path_buf())),
        },
    );
    (dovecot, dir)
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
    let (d, _dir) = dovecot(true, false, &s.chain, &s.leaf.key);
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
    let (d, _dir) = dovecot(true, true, &s.chain, &s.leaf.key);
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
    let (d, _dir) = dovecot(false, true, &s.chain, &s.leaf.key);
    let report = check(&format!("imap://{NAME}"), d.imap, trust(&[&s.root]));
    eqnice!(
        sorted(vec![Code::StarttlsNotOffered, Code::PlaintextAuthBeforeTls]),
        codes(&report),
        describe(&report)
    );
}
