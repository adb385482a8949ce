//! Commands the front end answers itself and never relays, proven with
//! Python's mail clients in front and Dovecot and Postfix behind:
//! `AUTH` before TLS on a `starttls` SMTP listener (port 25), before and
//! after the session went on in plaintext, and a second
//! `STARTTLS`/`STLS` inside TLS on SMTP, IMAP and POP3. Postfix's own
//! command counts (`disconnect from ... ehlo=1 mail=1 ...`) show what
//! reached it, and Dovecot's own answers differ from the front end's.

use std::time::Duration;

use crate::support::{listener, Env, NAME};
use mailcert_testkit::{wait_until, Dovecot, DovecotOptions, Postfix};

const COMMANDS: &str = concat!(
    include_str!("support/mail_clients.py"),
    include_str!("support/commands.py")
);

fn client(env: &Env, mode: &str, port: u16, arg: &str) -> String {
    let ca = env.pki.root.to_string_lossy().into_owned();
    mailcert_testkit::python(COMMANDS, &[mode, &port.to_string(), &ca, NAME, arg])
}

fn answer<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{what}: ")))
        .unwrap_or_else(|| panic!("no answer to {what} in:\n{out}"))
}

/// Postfix's count of the commands it received, one line per session of
/// the clients (127.0.0.2, through PROXY v2; the front end's own probes
/// of the backend's extensions come from 127.0.0.1).
fn postfix_sessions(postfix: &Postfix) -> Vec<String> {
    postfix
        .log()
        .lines()
        .filter(|l| l.contains("disconnect from") && l.contains("[127.0.0.2]"))
        .map(str::to_string)
        .collect()
}

#[test]
fn commands_that_must_not_reach_the_backend_are_answered_by_the_front_end() {
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
    ]
    .concat();
    let front = env.front(&config);
    let port = |n: &str| front.addr(n).expect("bound").port();
    dovecot.deliver("1.msg", "Subject: one\n\nhello\n");

    // Port 25: AUTH before TLS, in the dialogue and after the session
    // went on in plaintext, always 530; STARTTLS after plaintext, 454.
    let out = client(&env, "smtp-auth-plaintext", port("smtp"), "");
    assert!(!answer(&out, "offered").contains("auth"), "{out}");
    // "auth tab": AUTH<TAB>PLAIN, which Postfix reads as AUTH too.
    for what in ["auth first", "auth later", "auth login", "auth tab"] {
        assert_eq!(
            answer(&out, what),
            "530 5.7.0 Must issue a STARTTLS command first",
            "{out}"
        );
    }
    assert!(answer(&out, "mail").starts_with("250"), "{out}");
    assert!(
        answer(&out, "starttls later").starts_with("454 4.7.0"),
        "{out}"
    );
    assert!(!answer(&out, "offered again").contains("auth"), "{out}");
    assert!(!answer(&out, "offered again").contains("starttls"), "{out}");
    assert!(out.contains("sent"), "{out}");

    // A second STARTTLS inside TLS: answered, and the session goes on.
    let out = client(&env, "smtp-starttls-twice", port("submission"), "");
    for what in ["starttls again", "starttls tab"] {
        assert_eq!(
            answer(&out, what),
            "503 5.5.1 Error: TLS already active",
            "{out}"
        );
    }
    assert!(out.contains("sent"), "{out}");

    wait_until(
        "Postfix logged both sessions' command counts",
        Duration::from_secs(20),
        || postfix_sessions(&postfix).len() >= 2,
    );
    // Postfix counts every command it receives (auth=0/1 for a refused
    // AUTH, starttls= or unknown= for STARTTLS): none of them reached it.
    for session in postfix_sessions(&postfix) {
        assert!(session.contains("ehlo="), "{session}");
        for never in ["auth=", "starttls=", "unknown="] {
            assert!(
                !session.contains(never),
                "{never} reached Postfix: {session}"
            );
        }
    }
    wait_until("both messages delivered", Duration::from_secs(30), || {
        std::fs::read_dir(dovecot.new_mail_dir())
            .map(|d| d.count() >= 3)
            .unwrap_or(false)
    });

    // IMAP, implicit and STARTTLS: BAD from the front end (Dovecot
    // without TLS would say "TLS support isn't enabled").
    for (listener, mode) in [("imaps", "implicit"), ("imap", "starttls")] {
        let out = client(&env, "imap-starttls-twice", port(listener), mode);
        let again = answer(&out, "starttls again");
        assert!(
            again.starts_with("BAD") && again.contains("TLS is already active"),
            "{listener}: {out}"
        );
        assert_eq!(answer(&out, "select"), "OK", "{listener}: {out}");
    }

    // POP3: -ERR from the front end, and the session goes on.
    let out = client(&env, "pop3-stls-twice", port("pop3s"), "");
    for what in ["stls again", "stls tab"] {
        assert_eq!(
            answer(&out, what),
            "-ERR Command not permitted when TLS is already active",
            "{out}"
        );
    }
    assert!(answer(&out, "stat").starts_with("(3,"), "{out}");
    let log = dovecot.log();
    assert!(!log.contains("TLS support isn't enabled"), "{log}");
    front.shutdown();
}
