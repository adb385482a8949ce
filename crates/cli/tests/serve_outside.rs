//! `mailcert serve` as tools from outside see it: the scanners auditors
//! run (testssl, sslscan) find the server's cipher order and nothing
//! below TLS 1.2, and systemd's socket activation hands it sockets it
//! serves on, each matched to the listener with the same `bind`.

use std::net::SocketAddr;
use std::time::Duration;

use mailcert_testkit::Serve;

use crate::cli;
use mailcert_testkit::activation::{listening_inode, socket_activated, socket_inode};
use mailcert_testkit::{
    free_port, greeting, listener_toml, openssl_view, served_chain, sslscan, testssl_preferences,
    wait_until, HttpBackend,
};

const NAME: &str = "mail.contoso.com";

fn listener(name: &str, protocol: &str, tls: &str, port: u16, backend: u16) -> String {
    let hostname = format!("hostname = \"{NAME}\"\n");
    listener_toml(name, protocol, tls, port, backend, &hostname)
}

#[test]
fn scanners_see_the_server_cipher_order_and_tls_1_2_at_least() {
    let env = cli();
    env.init("mail.contoso.com");
    let backend = HttpBackend::start();
    let (https, imap) = (free_port(), free_port());
    let config = env.write(
        "fe.toml",
        listener("https", "https", "implicit", https, backend.port)
            + &listener("imap", "imap", "starttls", imap, 1),
    );
    let _serve = env.serve(&["--config", &config.display().to_string()]);

    // Both scanners at once: testssl takes a few seconds, sslscan over
    // STARTTLS opens one IMAP dialogue per cipher suite.
    let dir = env.dir().to_path_buf();
    let scan = std::thread::spawn(move || sslscan(imap, Some("imap"), &dir));
    let preferences = testssl_preferences(https, None, env.dir());
    let scan = scan.join().expect("sslscan thread");

    // testssl offers the suites in one order, then reversed: the server
    // chose the same both times.
    let order = &preferences["cipher_order"];
    assert_eq!(
        (order.severity.as_str(), order.finding.as_str()),
        ("OK", "server"),
        "{preferences:#?}"
    );
    let tls12 = &preferences["cipherorder_TLSv1_2"].finding;
    assert!(
        tls12.starts_with("ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES128-GCM-SHA256"),
        "the server's order, AES-256-GCM first: {tls12}"
    );
    assert!(
        preferences["cipherorder_TLSv1_3"]
            .finding
            .starts_with("TLS_AES_256_GCM_SHA384"),
        "{preferences:#?}"
    );

    // sslscan on the STARTTLS port: TLS 1.2 and 1.3 only, AEAD suites
    // with forward secrecy only, the server's first one preferred.
    for (protocol, enabled) in &scan.protocols {
        let modern = protocol == "TLSv1.2" || protocol == "TLSv1.3";
        assert_eq!(*enabled, modern, "{protocol}: {:?}", scan.protocols);
    }
    assert!(!scan.ciphers.is_empty(), "{scan:?}");
    for c in &scan.ciphers {
        assert!(
            c.cipher.contains("GCM") || c.cipher.contains("CHACHA20"),
            "not AEAD: {c:?}"
        );
        if c.version == "TLSv1.2" {
            assert!(c.cipher.starts_with("ECDHE-"), "no forward secrecy: {c:?}");
        }
    }
    let preferred: Vec<(&str, &str)> = scan
        .ciphers
        .iter()
        .filter(|c| c.status == "preferred")
        .map(|c| (c.version.as_str(), c.cipher.as_str()))
        .collect();
    assert!(
        preferred.contains(&("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384")),
        "{preferred:?}"
    );
}

#[test]
fn socket_activation_serves_on_the_inherited_sockets_matched_by_address() {
    let env = cli();
    env.init("mail.contoso.com");
    let backend = HttpBackend::start();
    let (imap, https, spare) = (free_port(), free_port(), free_port());
    let address = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let first = listener("imap", "imap", "starttls", imap, 1)
        + &listener("https", "https", "implicit", https, backend.port);
    let config = env.write("fe.toml", &first);
    let cfg = config.display().to_string();
    // Not the configuration's order, and one socket no listener uses yet.
    let sockets = [address(https), address(spare), address(imap)];
    let command = env.command(&["serve", "--config", &cfg]);
    let serve = Serve::start(socket_activated(&command, &sockets), &env.path("serve.log"));

    // Each listener serves on the socket systemd (here, the launcher)
    // bound: the one listening on its port is the descriptor passed for
    // that address. Had serve bound the address itself, it would have
    // failed (the inherited socket holds it).
    for (fd, port) in [(3, https), (4, spare), (5, imap)] {
        let passed = socket_inode(serve.pid(), fd);
        assert!(passed.is_some(), "descriptor {fd} is not a socket of serve");
        assert_eq!(
            listening_inode(port),
            passed,
            "127.0.0.1:{port} listens on descriptor {fd}"
        );
    }
    // Matched by address, not by order: IMAP where IMAP was configured,
    // HTTPS where HTTPS was.
    let said = greeting(imap, Duration::from_secs(1));
    assert!(
        said.starts_with("* OK") && said.contains("STARTTLS"),
        "{said:?}"
    );
    let which = env
        .run(&["which", "imap", "--name", NAME, "--json"])
        .ok()
        .json();
    let served = openssl_view(&served_chain(imap, NAME, Some("imap"))[0]).thumbprint;
    assert_eq!(which["thumbprint"], served.as_str());
    let served = openssl_view(&served_chain(https, NAME, None)[0]).thumbprint;
    assert_eq!(which["thumbprint"], served.as_str());

    // The spare socket is kept: a reload that adds a listener with its
    // address serves on it (binding it again would fail).
    assert_eq!(
        greeting(spare, Duration::from_secs(1)),
        "",
        "nothing answers on the spare socket yet"
    );
    std::fs::write(
        &config,
        first + &listener("pop3", "pop3", "starttls", spare, 1),
    )
    .expect("rewrite the configuration");
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &serve.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(sent.success());
    wait_until(
        "the POP3 listener added by the reload answers on the spare socket",
        Duration::from_secs(20),
        || greeting(spare, Duration::from_secs(1)).starts_with("+OK"),
    );
    assert_eq!(listening_inode(spare), socket_inode(serve.pid(), 4));
    assert!(
        greeting(imap, Duration::from_secs(1)).starts_with("* OK"),
        "IMAP still served"
    );
}
