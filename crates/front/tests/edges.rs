//! What the front end says when things go wrong, each answered in the
//! protocol: STARTTLS injection, oversize lines, too many commands, slow
//! clients, a backend that is down or hung; and the HTTPS side (layer-4
//! proxy with PROXY v2, redirect listener, ACME HTTP-01 hook).

mod support;

use std::io::Write;
use std::time::Duration;

use mailcert_testkit::{free_port, wait_until, Dovecot, DovecotOptions, HttpBackend};
use support::*;

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
