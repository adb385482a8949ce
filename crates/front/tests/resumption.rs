//! Session resumption: on within a listener, never across listeners or
//! services, since a resumed session skips certificate selection.

use std::sync::Arc;

use crate::support::*;
use rustls::HandshakeKind;

/// A rustls client limited to one TLS version, keeping its sessions.
fn resuming_client(
    env: &Env,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&env.pki.root).expect("root pem") {
        roots.add(cert.expect("root cert")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .expect("version")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::in_memory_sessions(16);
    Arc::new(config)
}

/// Handshakes, reads the greeting (which carries TLS 1.3 tickets along)
/// and says how the handshake went.
fn greet(port: u16, config: &Arc<rustls::ClientConfig>) -> HandshakeKind {
    let mut t = tls(connect(port), config).expect("handshake");
    read_until(&mut t, "\r\n");
    t.conn.handshake_kind().expect("handshake done")
}

#[test]
fn sessions_resume_only_on_the_listener_that_made_them() {
    let env = Env::new();
    let config = [
        listener(
            "imaps",
            "imap",
            "implicit",
            echo_backend("* OK hi\r\n"),
            false,
            "",
        ),
        listener(
            "imaps-2",
            "imap",
            "implicit",
            echo_backend("* OK hi\r\n"),
            false,
            "",
        ),
        listener(
            "pop3s",
            "pop3",
            "implicit",
            echo_backend("+OK hi\r\n"),
            false,
            "",
        ),
    ]
    .concat();
    let front = env.front(&config);
    let port = |name: &str| front.addr(name).unwrap().port();
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let client = resuming_client(&env, version);
        assert_eq!(greet(port("imaps"), &client), HandshakeKind::Full);
        assert_eq!(
            greet(port("imaps"), &client),
            HandshakeKind::Resumed,
            "{version:?}: resumption on the same listener"
        );
        // The client offers the imaps session (same server name) elsewhere:
        // the front end must refuse it and choose a certificate afresh.
        assert_eq!(
            greet(port("pop3s"), &client),
            HandshakeKind::Full,
            "{version:?}: an IMAP session resumed on POP3"
        );
        assert_eq!(
            greet(port("imaps-2"), &client),
            HandshakeKind::Full,
            "{version:?}: a session resumed on another listener"
        );
    }
}
