//! What the front end says when things go wrong, each answered in the
//! protocol: STARTTLS injection, oversize lines, too many commands, slow
//! clients, a backend that is down or hung; and the HTTPS side (layer-4
//! proxy with PROXY v2, redirect listener, ACME HTTP-01 hook).

use std::io::Write;
use std::time::Duration;

use crate::support::*;
use mailcert_testkit::{free_port, wait_until, Dovecot, DovecotOptions, HttpBackend};

#[test]
fn starttls_injection_is_discarded() {
    let env = Env::new();
    let dovecot = Dovecot::start(env.dir.path(), DovecotOptions::default());
    let front = env.front(&listener(
        "imap",
        "imap",
        "starttls",
        dovecot.imap_proxy,
        true,
        "",
    ));
    let config = client_config(&env.pki.root);
    let mut s = connect(front.addr("imap").unwrap().port());
    read_until(&mut s, "\r\n");
    // The injected LOGIN rides in the same packet as STARTTLS.
    s.write_all(b"a STARTTLS\r\nb LOGIN test secret\r\n")
        .unwrap();
    let answer = read_until(&mut s, "a OK");
    assert!(answer.contains("a OK"), "{answer}");
    let mut t = tls(s, &config).expect("handshake after STARTTLS");
    t.write_all(b"c CAPABILITY\r\n").unwrap();
    let after = read_until(&mut t, "c OK");
    assert!(after.contains("c OK"), "{after}");
    assert!(
        !after.contains("\nb ") && !after.starts_with("b "),
        "injected command reached the backend: {after}"
    );
}

#[test]
fn oversize_lines_and_command_floods_are_refused_in_protocol() {
    let env = Env::new();
    let config = [
        listener(
            "imap",
            "imap",
            "starttls",
            echo_backend("* OK hi\r\n"),
            false,
            "",
        ),
        listener(
            "smtp",
            "smtp",
            "starttls",
            echo_backend("220 hi\r\n"),
            false,
            "",
        ),
        listener(
            "pop3",
            "pop3",
            "starttls-required",
            echo_backend("+OK hi\r\n"),
            false,
            "",
        ),
    ]
    .concat();
    let front = env.front(&config);
    let mut s = connect(front.addr("imap").unwrap().port());
    read_until(&mut s, "\r\n");
    let _ = s.write_all(&[b'a'; 6000]);
    let _ = s.write_all(b"\r\n");
    let text = read_to_close(&mut s);
    assert!(text.contains("* BYE Line too long"), "{text}");

    let mut s = connect(front.addr("smtp").unwrap().port());
    read_until(&mut s, "\r\n");
    for _ in 0..40 {
        let _ = s.write_all(b"NOOP\r\n");
    }
    let text = read_to_close(&mut s);
    assert!(text.contains("421 4.7.0"), "{text}");

    let mut s = connect(front.addr("pop3").unwrap().port());
    read_until(&mut s, "\r\n");
    s.write_all(b"USER test\r\nQUIT\r\n").unwrap();
    let text = read_to_close(&mut s);
    assert!(
        text.contains("-ERR [AUTH]") && text.contains("+OK Logging out"),
        "{text}"
    );
}

#[test]
fn slow_clients_are_timed_out() {
    let env = Env::new();
    let extra = "pre_tls_timeout = 1\nhandshake_timeout = 1\n";
    let config = [
        listener(
            "imap",
            "imap",
            "starttls",
            echo_backend("* OK hi\r\n"),
            false,
            extra,
        ),
        listener(
            "imaps",
            "imap",
            "implicit",
            echo_backend("* OK hi\r\n"),
            false,
            extra,
        ),
    ]
    .concat();
    let front = env.front(&config);
    let mut s = connect(front.addr("imap").unwrap().port());
    let text = read_to_close(&mut s);
    assert!(text.contains("* BYE Autologout"), "{text}");
    // A client that connects to implicit TLS and never sends a ClientHello.
    let mut s = connect(front.addr("imaps").unwrap().port());
    assert_eq!(read_to_close(&mut s), "");
}

#[test]
fn backend_down_or_hung_gets_the_protocols_answer() {
    let env = Env::new();
    let down = free_port();
    let hung = echo_backend("");
    let extra = "backend_timeout = 1\n";
    let config = [
        listener("imaps", "imap", "implicit", down, false, extra),
        listener("imaps-hung", "imap", "implicit", hung, false, extra),
        listener("pop3", "pop3", "starttls", down, true, extra),
        listener("smtp", "smtp", "starttls", down, false, extra),
        listener("https", "https", "implicit", down, false, extra),
    ]
    .concat();
    let front = env.front(&config);
    let config = client_config(&env.pki.root);
    for (name, expected) in [
        ("imaps", "* BYE [UNAVAILABLE]"),
        ("imaps-hung", "* BYE [UNAVAILABLE]"),
        ("https", "502 Bad Gateway"),
    ] {
        let mut t = tls(connect(front.addr(name).unwrap().port()), &config).expect("handshake");
        let text = read_to_close(&mut t);
        assert!(text.contains(expected), "{name}: {text}");
    }
    let mut s = connect(front.addr("pop3").unwrap().port());
    read_until(&mut s, "\r\n");
    s.write_all(b"STLS\r\n").unwrap();
    read_until(&mut s, "+OK");
    let mut t = tls(s, &config).expect("handshake");
    let text = read_to_close(&mut t);
    assert!(text.contains("-ERR [SYS/TEMP]"), "{text}");
    // Port 25 without TLS: the first real command needs the backend.
    let mut s = connect(front.addr("smtp").unwrap().port());
    read_until(&mut s, "\r\n");
    s.write_all(b"EHLO client.example.org\r\nMAIL FROM:<a@example.org>\r\n")
        .unwrap();
    let text = read_to_close(&mut s);
    assert!(
        text.contains("250 STARTTLS") && text.contains("421 4.3.2"),
        "{text}"
    );
}

#[test]
fn https_redirect_and_acme_http01() {
    let env = Env::new();
    let backend = HttpBackend::start();
    let config = format!(
        "{}[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:0\"\nhttps_port = 8443\n",
        listener("https", "https", "implicit", backend.port, true, "")
    );
    let front = env.front(&config);
    let https = front.addr("https").unwrap();
    let out = mailcert_testkit::run(
        "curl",
        &[
            "-sS",
            "--cacert",
            &env.pki.root.to_string_lossy(),
            "--connect-to",
            &format!("{NAME}:443:{https}"),
            &format!("https://{NAME}/"),
        ],
        b"",
    );
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.contains("hello from the backend; proxy=true"),
        "{body} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let headers = backend.proxy_headers.lock().unwrap().clone();
    let header = String::from_utf8_lossy(&headers[0]);
    assert!(
        header.contains("http/1.1") && header.contains("TLSv1.3") && header.contains(NAME),
        "{header:?}"
    );

    let http = front.addr("http").unwrap();
    let out = mailcert_testkit::run(
        "curl",
        &[
            "-si",
            "-H",
            &format!("Host: {NAME}"),
            &format!("http://{http}/owa/"),
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("HTTP/1.1 301")
            && text.contains(&format!("Location: https://{NAME}:8443/owa/")),
        "{text}"
    );

    env.challenges
        .set_http01("token1", Some("token1.key".into()));
    let get = |token: &str| {
        let out = mailcert_testkit::run(
            "curl",
            &[
                "-s",
                &format!("http://{http}/.well-known/acme-challenge/{token}"),
            ],
            b"",
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(get("token1"), "token1.key");
    // An issuer in another process leaves the answer in the store.
    let mut change = mailcert_store::Change::new("acme", "test");
    change.push(mailcert_store::Op::SetValue {
        key: "acme.http-01.token2".into(),
        value: Some(b"token2.key".to_vec()),
        secret: false,
    });
    mailcert_store::Store::apply(&mut env.open_store(), change).unwrap();
    wait_until(
        "the store's HTTP-01 answer is served",
        Duration::from_secs(10),
        || get("token2") == "token2.key",
    );
}

#[test]
fn connections_over_the_limit_are_told_so() {
    let env = Env::new();
    let config = format!(
        "[limits]\nmax_connections = 1\n\n{}",
        listener(
            "imap",
            "imap",
            "starttls",
            echo_backend("* OK hi\r\n"),
            false,
            ""
        )
    );
    let front = env.front(&config);
    let port = front.addr("imap").unwrap().port();
    let mut first = connect(port);
    assert!(read_until(&mut first, "\r\n").starts_with("* OK [CAPABILITY"));
    let mut second = connect(port);
    let text = read_to_close(&mut second);
    assert!(text.contains("* BYE [UNAVAILABLE]"), "{text}");
    drop(first);
    wait_until("the slot is free again", Duration::from_secs(10), || {
        front.active_connections() == 0
    });
    let mut third = connect(port);
    assert!(read_until(&mut third, "\r\n").starts_with("* OK [CAPABILITY"));
}

#[test]
fn idle_sessions_are_closed_after_the_idle_timeout() {
    let env = Env::new();
    let front = env.front(&listener(
        "imaps",
        "imap",
        "implicit",
        echo_backend("* OK hi\r\n"),
        false,
        "idle_timeout = 1\n",
    ));
    let mut t = tls(
        connect(front.addr("imaps").unwrap().port()),
        &client_config(&env.pki.root),
    )
    .expect("handshake");
    assert!(read_until(&mut t, "* OK hi").contains("* OK hi"));
    // Nothing more is sent: the front end ends the session by itself.
    assert_eq!(read_to_close(&mut t), "");
}

#[test]
fn sni_picks_the_certificate_that_mailcert_which_names() {
    let env = Env::new();
    let other = env.pki.leaf("other", &["other.example.test"], "ec");
    let other_thumb = env.add(&other, &[mailcert_x509::Service::Imap]);
    let front = env.front(&listener(
        "imaps",
        "imap",
        "implicit",
        echo_backend("* OK hi\r\n"),
        false,
        "",
    ));
    let port = front.addr("imaps").unwrap().port();
    let manager = mailcert_lifecycle::Manager::new(Box::new(env.open_store()), "test");
    let scope = mailcert_lifecycle::ListenerScope {
        name: Some("imaps"),
        pin: None,
    };
    for sni in ["other.example.test", NAME, "unknown.example.test"] {
        let (selection, _) = manager
            .which(mailcert_x509::Service::Imap, scope, Some(sni))
            .unwrap();
        let expected = selection.thumbprint().unwrap().to_string();
        let ca = env.pki.root.to_string_lossy().into_owned();
        let out = mailcert_testkit::run(
            "openssl",
            &[
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-servername",
                sni,
                "-CAfile",
                &ca,
            ],
            b"",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let pem_start = text
            .find("-----BEGIN CERTIFICATE-----")
            .expect("certificate in s_client output");
        let der = mailcert_x509::pem::decode_certificates(text[pem_start..].as_bytes(), "s_client")
            .unwrap();
        assert_eq!(
            mailcert_x509::thumbprint(&der[0]),
            expected,
            "SNI {sni}: {}",
            selection.explain()
        );
        if sni == "other.example.test" {
            assert_eq!(expected, other_thumb);
        }
    }
}

#[test]
fn acme_tls_alpn01_answers_with_the_registered_certificate() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let env = Env::new();
    let backend = HttpBackend::start();
    let front = env.front(&listener(
        "https",
        "https",
        "implicit",
        backend.port,
        false,
        "",
    ));
    let challenge = env.pki.leaf("challenge", &["acme.example.test"], "ec");
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::from_pem_file(&challenge.key).unwrap())
        .unwrap();
    let cert = CertificateDer::from_pem_file(&challenge.cert).unwrap();
    let expected = mailcert_x509::thumbprint(&cert);
    env.challenges.set_tls_alpn01(
        "acme.example.test",
        Some(std::sync::Arc::new(rustls::sign::CertifiedKey::new(
            vec![
                cert,
                CertificateDer::from_pem_file(&challenge.chain).unwrap(),
            ],
            key,
        ))),
    );
    let mut config = (*client_config(&env.pki.root)).clone();
    config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let config = std::sync::Arc::new(config);
    let name = rustls::pki_types::ServerName::try_from("acme.example.test").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut t = rustls::StreamOwned::new(conn, connect(front.addr("https").unwrap().port()));
    while t.conn.is_handshaking() {
        t.conn
            .complete_io(&mut t.sock)
            .expect("acme-tls/1 handshake");
    }
    assert_eq!(t.conn.alpn_protocol(), Some(&b"acme-tls/1"[..]));
    assert_eq!(peer_thumbprint(&t), expected);
}

#[test]
fn only_tls_1_2_and_1_3_are_spoken() {
    let env = Env::new();
    let front = env.front(&listener(
        "imaps",
        "imap",
        "implicit",
        echo_backend("* OK hi\r\n"),
        false,
        "",
    ));
    let addr = front.addr("imaps").unwrap().to_string();
    let ca = env.pki.root.to_string_lossy().into_owned();
    let version = |flag: &str| {
        let out = mailcert_testkit::run(
            "openssl",
            &[
                "s_client",
                "-connect",
                &addr,
                flag,
                "-CAfile",
                &ca,
                "-servername",
                NAME,
            ],
            b"",
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for ok in ["-tls1_3", "-tls1_2"] {
        let text = version(ok);
        assert!(
            text.contains("Verify return code: 0 (ok)") && text.contains("BEGIN CERTIFICATE"),
            "{ok}: {text}"
        );
    }
    for old in ["-tls1_1", "-tls1"] {
        let text = version(old);
        assert!(
            text.contains("no peer certificate available"),
            "{old} was accepted: {text}"
        );
    }
}

#[test]
fn starttls_is_not_offered_again_inside_tls() {
    let env = Env::new();
    let backend = smtp_backend_offering_starttls();
    let config = [
        listener(
            "submission",
            "smtp",
            "starttls-required",
            backend,
            false,
            "",
        ),
        listener("smtps", "smtp", "implicit", backend, false, ""),
    ]
    .concat();
    let front = env.front(&config);
    for (name, how) in [("submission", "starttls"), ("smtps", "implicit")] {
        let out = env.python("ehlo-in-tls", front.addr(name).unwrap().port(), how);
        let features = out
            .lines()
            .find_map(|l| l.strip_prefix("in-tls "))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(
            features.contains("pipelining") && features.contains("8bitmime"),
            "{name}: the backend's other extensions are kept: {out}"
        );
        assert!(!features.contains("starttls"), "{name}: {out}");
        assert!(
            out.contains("ok: NOOP") || out.contains("ok: noop"),
            "{name}: {out}"
        );
    }
}

#[test]
fn a_backend_that_comes_up_late_has_its_extensions_offered_soon() {
    let env = Env::new();
    let port = free_port();
    let front = env.front(&listener("submission", "smtp", "starttls", port, false, ""));
    let front_port = front.addr("submission").unwrap().port();
    // Down at start: the generic list stands in, with ENHANCEDSTATUSCODES,
    // which this backend does not offer.
    let out = env.python("ehlo", front_port, "");
    assert!(out.contains("enhancedstatuscodes"), "{out}");
    smtp_backend_on(std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind backend"));
    wait_until(
        "the late backend's own extensions are offered",
        Duration::from_secs(30),
        || {
            !env.python("ehlo", front_port, "")
                .contains("enhancedstatuscodes")
        },
    );
}
