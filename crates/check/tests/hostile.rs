//! Hostile and broken servers, written here: STARTTLS injection, a server
//! that never answers, one that sends an endless line, PREAUTH, no or
//! refused STARTTLS. The checker reports each, and never hangs or crashes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use mailcert_check::Code;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const NAME: &str = "mail.example.test";

/// Runs `serve` on every connection to a fresh loopback port.
fn fake(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let serve = serve.clone();
            std::thread::spawn(move || serve(stream));
        }
    });
    port
}

/// Reads one line (up to 4 KiB) from the client.
fn read_line(stream: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 4096 {
        match stream.read(&mut byte) {
            Ok(1) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

struct Tls {
    config: Arc<rustls::ServerConfig>,
    root: Cert,
    _pki: Pki,
}

fn tls_identity() -> Tls {
    let pki = Pki::new();
    let root = pki.root("root", "Hostile Test Root");
    let leaf = pki.issue(&root, "leaf", &Spec::leaf(NAME, &[NAME]));
    let certs = vec![CertificateDer::from(leaf.der.clone())];
    let key = PrivateKeyDer::from_pem_file(&leaf.key).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    Tls {
        config: Arc::new(config),
        root,
        _pki: pki,
    }
}

/// Completes a TLS handshake on `stream` as a server (and then waits for
/// the client to hang up).
fn serve_tls(config: &Arc<rustls::ServerConfig>, stream: TcpStream) {
    let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut buf = [0u8; 256];
    let _ = tls.read(&mut buf);
}

fn quick(settings: &mut mailcert_check::Settings) {
    settings.timeout = Duration::from_secs(1);
    settings.legacy_probe = false;
}

#[test]
fn imap_server_injecting_plaintext_after_starttls() {
    let tls = tls_identity();
    let config = tls.config.clone();
    let port = fake(move |mut s| {
        let _ = s.write_all(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
        let line = read_line(&mut s);
        if line.to_ascii_uppercase().contains("STARTTLS") {
            let tag = line.split(' ').next().unwrap_or("a").to_string();
            let answer = format!("{tag} OK Begin TLS\r\n* 1 EXISTS injected\r\n");
            let _ = s.write_all(answer.as_bytes());
            serve_tls(&config, s);
        }
    });
    let report = check_with(&format!("imap://{NAME}"), port, trust(&[&tls.root]), quick);
    eqnice!(
        vec![Code::StarttlsInjection],
        codes(&report),
        describe(&report)
    );
    assert!(report.findings[0].message.contains("injected"));
    // The handshake still ran, and the certificate was judged.
    assert_eq!(report.trusted, Some(true));
}

#[test]
fn smtp_server_injecting_plaintext_after_the_client_hello() {
    let port = fake(|mut s| {
        let _ = s.write_all(b"220 hostile.example.test ESMTP\r\n");
        let _ = read_line(&mut s); // EHLO
        let _ = s.write_all(b"250-hostile.example.test\r\n250 STARTTLS\r\n");
        let _ = read_line(&mut s); // STARTTLS
        let _ = s.write_all(b"220 Go ahead\r\n");
        // Wait for the ClientHello, then answer in plaintext.
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"250 injected OK\r\n");
    });
    let report = check_with(&format!("smtp://{NAME}"), port, trust(&[]), quick);
    eqnice!(
        vec![Code::StarttlsInjection],
        codes(&report),
        describe(&report)
    );
}

#[test]
fn server_that_never_answers() {
    // Accepts, then says nothing: the greeting never comes.
    let port = fake(|s| {
        std::thread::sleep(Duration::from_secs(30));
        drop(s);
    });
    let report = check_with(&format!("imap://{NAME}"), port, trust(&[]), quick);
    eqnice!(vec![Code::Timeout], codes(&report), describe(&report));
    // Implicit TLS: the ServerHello never comes.
    let report = check_with(&format!("imaps://{NAME}"), port, trust(&[]), quick);
    eqnice!(vec![Code::Timeout], codes(&report), describe(&report));
}

#[test]
fn server_that_sends_an_endless_line() {
    let port = fake(|mut s| {
        let _ = s.write_all(b"* OK ");
        let chunk = [b'A'; 8192];
        // Until the client hangs up (bounded, in case it never does).
        for _ in 0..100_000 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let report = check_with(&format!("imap://{NAME}"), port, trust(&[]), quick);
    eqnice!(vec![Code::ProtocolError], codes(&report), describe(&report));
    assert!(report.findings[0].message.contains("longer than"));
}

#[test]
fn server_that_sends_garbage_instead_of_tls() {
    let port = fake(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        let _ = s.write_all(&[0x16, 0x03, 0x03, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]);
        let _ = s.write_all(&[0u8; 70000]);
    });
    let report = check_with(&format!("imaps://{NAME}"), port, trust(&[]), quick);
    eqnice!(vec![Code::ProtocolError], codes(&report), describe(&report));
}

#[test]
fn imap_preauth_greeting() {
    let port = fake(|mut s| {
        let _ = s.write_all(b"* PREAUTH [CAPABILITY IMAP4rev1] logged in as nobody\r\n");
        let _ = read_line(&mut s);
    });
    let report = check_with(&format!("imap://{NAME}"), port, trust(&[]), quick);
    assert!(
        codes(&report).contains(&Code::Preauth),
        "{}",
        describe(&report)
    );
}

#[test]
fn imap_without_starttls_and_with_plaintext_login() {
    let port = fake(|mut s| {
        let _ = s.write_all(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
        let _ = read_line(&mut s);
    });
    let report = check_with(&format!("imap://{NAME}"), port, trust(&[]), quick);
    eqnice!(
        sorted(vec![Code::StarttlsNotOffered, Code::PlaintextAuthBeforeTls]),
        codes(&report),
        describe(&report)
    );
}

#[test]
fn pop3_refusing_stls() {
    let port = fake(|mut s| {
        let _ = s.write_all(b"+OK POP3 ready\r\n");
        let _ = read_line(&mut s); // CAPA
        let _ = s.write_all(b"+OK\r\nSTLS\r\n.\r\n");
        let _ = read_line(&mut s); // STLS
        let _ = s.write_all(b"-ERR TLS not available now\r\n");
        let _ = read_line(&mut s);
    });
    let report = check_with(&format!("pop3://{NAME}"), port, trust(&[]), quick);
    eqnice!(
        vec![Code::StarttlsRefused],
        codes(&report),
        describe(&report)
    );
    assert!(report.findings[0].message.contains("TLS not available now"));
}

#[test]
fn server_that_hangs_up_at_once() {
    let port = fake(drop);
    let report = check_with(&format!("smtp://{NAME}"), port, trust(&[]), quick);
    eqnice!(vec![Code::ProtocolError], codes(&report), describe(&report));
    let report = check_with(&format!("smtps://{NAME}"), port, trust(&[]), quick);
    eqnice!(vec![Code::ProtocolError], codes(&report), describe(&report));
}
