//! Postfix as a DANE-validating sender (`smtp_tls_security_level = dane`,
//! `smtp_dns_support_level = dnssec`, resolving through Unbound) delivers
//! through mailcert's SMTP front end to a Postfix and Dovecot behind it,
//! before, during and after a rollover that `serve` publishes to Knot:
//! every message delivered over a DANE-verified connection, none deferred.

use std::time::Duration;

use mailcert_testkit::{
    free_port, wait_for_port, wait_until, DnsOptions, DnsPeers, Dovecot, DovecotOptions, Postfix,
    PostfixSender, ZoneOptions,
};

use crate::dane::MX;

const TTL: u32 = 2;

#[test]
fn postfix_validating_dane_delivers_every_message_through_a_rollover() {
    let dns = DnsPeers::start(DnsOptions {
        zones: vec![ZoneOptions::signed("example.test").record("mx1 IN A 127.0.0.1")],
        secondary: true,
    });
    let peers = mailcert_testkit::temp_dir();
    let dovecot = Dovecot::start(peers.path(), DovecotOptions::default());
    let backend = Postfix::start(peers.path(), &dovecot);

    let env = crate::cli();
    let old = env.init(MX);
    env.ok(&["dane", "enable"]);
    let port = free_port();
    let config = env
        .write(
            "mailcert.toml",
            format!(
                "[[listener]]\nname = \"smtp\"\nprotocol = \"smtp\"\ntls = \"starttls\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:{}\"\nhostname = \"{MX}\"\n\n[dane]\nport = {port}\n\n[dane.dns]\nserver = \"{}\"\nzone = \"example.test\"\ntsig_key_file = \"{}\"\nttl = {TTL}\ninterval = 1\n",
                backend.smtp,
                dns.primary_addr().ip(),
                dns.tsig_key_file_bind().display()
            ),
        )
        .display()
        .to_string();
    let _server = env.serve(&["--config", &config]);
    wait_for_port(port);
    let sender = PostfixSender::start(
        peers.path(),
        dns.command_with_resolver("postfix"),
        &format!("[{MX}]:{port}"),
        "smtp_tls_security_level = dane\nsmtp_dns_support_level = dnssec\n",
    );

    let delivered = || {
        std::fs::read_dir(dovecot.new_mail_dir())
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let deliver = |n: usize, subject: &str| {
        sender.send("test@example.test", subject);
        wait_until(
            &format!("message {n} ({subject}) delivered"),
            Duration::from_secs(90),
            || delivered() >= n,
        );
    };
    let publication = || {
        env.ok(&["dane", "publish", "--config", &config, "--json"])
            .json()
    };
    let keys = |role: &str| -> Vec<serde_json::Value> {
        publication()["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter(|r| r["key"] == role)
            .cloned()
            .collect()
    };

    // Before: the current and next keys' records are published and seen.
    wait_until(
        "both records seen everywhere",
        Duration::from_secs(60),
        || {
            let records = publication()["records"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            records.len() == 2 && records.iter().all(|r| !r["seen_everywhere_at"].is_null())
        },
    );
    deliver(1, "before the rollover");

    // During: the renewal waits for the next key's record; mail goes on.
    deliver(2, "while the renewal waits");
    wait_until(
        "the renewal may use the next key",
        Duration::from_secs(60),
        || env.run(&["renew", &old]).code == 0,
    );
    deliver(3, "right after the switch");

    // After: the old key's record is withdrawn twice its TTL later.
    wait_until(
        "the old record is withdrawn",
        Duration::from_secs(60),
        || keys("old").is_empty() && keys("next").len() == 1,
    );
    deliver(4, "after the old record is gone");

    let log = sender.log();
    assert_eq!(delivered(), 4, "{log}");
    assert!(!log.contains("status=deferred"), "nothing deferred:\n{log}");
    assert_eq!(
        log.matches("Verified TLS connection established").count(),
        4,
        "every delivery DANE-verified:\n{log}"
    );
    assert!(
        sender.queue().contains("Mail queue is empty"),
        "{}",
        sender.queue()
    );
}
