//! IMAP, POP3 and SMTP through the front end, with Dovecot and Postfix
//! behind it and Python's and OpenSSL's clients in front: log in, list,
//! fetch, send and find the message delivered; the backends see the
//! client's address through PROXY v2, and Dovecot with
//! `disable_plaintext_auth = yes` accepts the login thanks to the SSL TLV.

use std::time::Duration;

use crate::support::{listener, Env, NAME};
use mailcert_testkit::{wait_until, Dovecot, DovecotOptions, Postfix};

const MESSAGE: &str =
    "From: a@example.org\nTo: test@example.test\nSubject: first message\n\nhello\n";

#[test]
fn imap_and_pop3_behind_the_front_end() {
    let env = Env::new();
    let dovecot = Dovecot::start(
        env.dir.path(),
        DovecotOptions {
            disable_plaintext_auth: true,
            ..DovecotOptions::default()
        },
    );
    dovecot.deliver("1.msg", MESSAGE);
    let config = [
        listener("imaps", "imap", "implicit", dovecot.imap_proxy, true, ""),
        listener(
            "imap",
            "imap",
            "starttls-required",
            dovecot.imap_proxy,
            true,
            "",
        ),
        listener("pop3s", "pop3", "implicit", dovecot.pop3_proxy, true, ""),
        listener("pop3", "pop3", "starttls", dovecot.pop3_proxy, true, ""),
    ]
    .concat();
    let front = env.front(&config);
    let port = |n: &str| front.addr(n).expect("bound").port();

    let out = env.python("imaps", port("imaps"), "");
    assert!(
        out.contains("messages 1") && out.contains("Subject: first message"),
        "{out}"
    );
    let out = env.python("imap-starttls", port("imap"), "");
    assert!(
        out.contains("LOGINDISABLED") && out.contains("STARTTLS"),
        "{out}"
    );
    assert!(out.contains("Subject: first message"), "{out}");
    let out = env.python("pop3s", port("pop3s"), "");
    assert!(
        out.contains("messages 1") && out.contains("Subject: first message"),
        "{out}"
    );
    let out = env.python("pop3-stls", port("pop3"), "");
    assert!(out.contains("STLS") && !out.contains("USER"), "{out}");
    assert!(out.contains("Subject: first message"), "{out}");

    // Dovecot saw the client's own address (127.0.0.2), and counted the
    // session as secured (PROXY v2 SSL TLV): the logins above succeeded
    // with disable_plaintext_auth = yes.
    let log = dovecot.log();
    assert!(log.contains("rip=127.0.0.2"), "{log}");
    assert!(log.contains("Login: user=<test>"), "{log}");

    for (proto, name) in [("imap", "imap"), ("pop3", "pop3")] {
        let out = mailcert_testkit::run(
            "openssl",
            &[
                "s_client",
                "-connect",
                &format!("127.0.0.1:{}", port(name)),
                "-starttls",
                proto,
                "-CAfile",
                &env.pki.root.to_string_lossy(),
                "-verify_hostname",
                NAME,
                "-servername",
                NAME,
                "-verify_return_error",
            ],
            b"",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Verify return code: 0 (ok)"),
            "{proto}: {text}"
        );
    }
    front.shutdown();
}

#[test]
fn smtp_behind_the_front_end() {
    let env = Env::new();
    let dovecot = Dovecot::start(env.dir.path(), DovecotOptions::default());
    let postfix = Postfix::start(env.dir.path(), &dovecot);
    let config = [
        listener("smtp", "smtp", "starttls", postfix.smtp_proxy, true, ""),
        listener(
            "submission",
            "smtp",
            "starttls-required",
            postfix.smtp_proxy,
            true,
            "",
        ),
        listener("smtps", "smtp", "implicit", postfix.smtp_proxy, true, ""),
        listener("imaps", "imap", "implicit", dovecot.imap, false, ""),
    ]
    .concat();
    let front = env.front(&config);
    let port = |n: &str| front.addr(n).expect("bound").port();

    // The backend's own extensions are learnt in the background.
    wait_until(
        "the SMTP backend's extensions are offered",
        Duration::from_secs(20),
        || {
            let out = env.python("ehlo", port("submission"), "");
            out.contains("chunking") || out.contains("dsn")
        },
    );
    let out = env.python("smtp-starttls", port("submission"), "via submission");
    assert!(out.contains("starttls") && !out.contains("auth"), "{out}");
    assert!(out.contains("sent via submission"), "{out}");
    let out = env.python("smtps", port("smtps"), "via smtps");
    assert!(out.contains("sent via smtps"), "{out}");
    // Port 25 style: a server that never starts TLS is passed through.
    let out = env.python("smtp-plain", port("smtp"), "in plaintext");
    assert!(out.contains("sent in plaintext"), "{out}");
    // starttls-required refuses it with 530.
    let out = env.python("smtp-plain", port("submission"), "refused");
    assert!(out.contains("refused") && out.contains("530"), "{out}");

    wait_until(
        "three messages delivered into the maildir",
        Duration::from_secs(30),
        || {
            std::fs::read_dir(dovecot.new_mail_dir())
                .map(|d| d.count() >= 3)
                .unwrap_or(false)
        },
    );
    let out = env.python("imaps", port("imaps"), "");
    assert!(out.contains("messages 3"), "{out}");
    let log = postfix.log();
    assert!(
        log.contains("connect from unknown[127.0.0.2]") || log.contains("[127.0.0.2]"),
        "{log}"
    );

    let out = mailcert_testkit::run(
        "openssl",
        &[
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", port("submission")),
            "-starttls",
            "smtp",
            "-CAfile",
            &env.pki.root.to_string_lossy(),
            "-verify_hostname",
            NAME,
            "-verify_return_error",
        ],
        b"QUIT\r\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    front.shutdown();
}
