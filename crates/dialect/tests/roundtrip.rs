//! What the server side writes, the client side parses: each dialect
//! negotiated end to end between the two sans-IO halves, plus the hostile
//! cases (injection both ways, endless lines, too many commands).

use mailcert_dialect::{
    ClientConfig, ClientStep, DialectError, PlainClient, PlainServer, Protocol, ServerConfig,
    ServerEvent, ServerMode, StartTlsResult,
};

const ALL: [Protocol; 3] = [Protocol::Imap, Protocol::Pop3, Protocol::Smtp];

/// Runs a client against a server until the client finishes; returns the
/// result and what the server side ended with.
fn negotiate(
    protocol: Protocol,
    mode: ServerMode,
    client_extra: &[u8],
) -> (StartTlsResult, Option<ServerEvent>, usize) {
    let mut server = PlainServer::new(ServerConfig::new(protocol, "mail.example.com", mode));
    let mut client = PlainClient::new(ClientConfig::new(protocol));
    client.receive(&server.greeting());
    let mut last = None;
    loop {
        match client.step().expect("client step") {
            ClientStep::Send(mut bytes) => {
                if bytes.starts_with(protocol.starttls_command().as_bytes())
                    || bytes.ends_with(b"STARTTLS\r\n")
                {
                    bytes.extend_from_slice(client_extra);
                }
                server.receive(&bytes);
                while let Some(event) = server.next_event() {
                    match &event {
                        ServerEvent::Reply(b)
                        | ServerEvent::StartTls(b)
                        | ServerEvent::Close(b, _) => client.receive(b),
                        ServerEvent::Plaintext => {}
                    }
                    last = Some(event);
                }
            }
            ClientStep::NeedInput => panic!("client waits but the server said everything"),
            ClientStep::Finished => break,
        }
    }
    let discarded = match &last {
        Some(ServerEvent::StartTls(_)) => server.start_tls().discarded,
        _ => 0,
    };
    (client.finish().expect("finished"), last, discarded)
}

#[test]
fn every_dialect_upgrades_and_hides_plaintext_auth() {
    for protocol in ALL {
        for mode in [ServerMode::Offer, ServerMode::Require] {
            let (result, last, discarded) = negotiate(protocol, mode, b"");
            let StartTlsResult::Success(ready) = result else {
                panic!("{protocol:?}: {result:?}");
            };
            assert!(
                matches!(last, Some(ServerEvent::StartTls(_))),
                "{protocol:?}"
            );
            assert_eq!(discarded, 0);
            let report = &ready.report;
            assert!(report.starttls_offered, "{protocol:?}: {report:?}");
            assert!(!report.plaintext_auth_offered, "{protocol:?}: {report:?}");
            assert!(!report.preauth);
            assert!(ready.injected.is_empty());
            assert!(report.greeting.contains("mail.example.com"), "{report:?}");
            if protocol == Protocol::Imap {
                assert!(report.login_disabled);
            }
        }
    }
}

#[test]
fn pipelined_commands_after_starttls_are_discarded_by_the_server() {
    for protocol in ALL {
        let injected: &[u8] = match protocol {
            Protocol::Imap => b"x LOGIN user pass\r\n",
            Protocol::Pop3 => b"USER user\r\nPASS pass\r\n",
            Protocol::Smtp => b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n",
        };
        let (result, _, discarded) = negotiate(protocol, ServerMode::Offer, injected);
        assert!(matches!(result, StartTlsResult::Success(_)), "{protocol:?}");
        assert_eq!(discarded, injected.len(), "{protocol:?}");
    }
}

#[test]
fn client_reports_plaintext_injected_after_the_answer() {
    let mut client = PlainClient::new(ClientConfig::new(Protocol::Smtp));
    client.receive(b"220 mx ESMTP\r\n");
    assert!(matches!(client.step(), Ok(ClientStep::Send(_))));
    client.receive(b"250-mx\r\n250 STARTTLS\r\n");
    assert_eq!(
        client.step(),
        Ok(ClientStep::Send(b"STARTTLS\r\n".to_vec()))
    );
    client.receive(b"220 go ahead\r\n250 injected\r\n");
    assert_eq!(client.step(), Ok(ClientStep::Finished));
    match client.finish().unwrap() {
        StartTlsResult::Success(ready) => assert_eq!(ready.injected, b"250 injected\r\n"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn client_sees_preauth_missing_starttls_and_refusals() {
    let run = |protocol, input: &[&[u8]]| {
        let mut client = PlainClient::new(ClientConfig::new(protocol));
        let mut input: Vec<&[u8]> = input.to_vec();
        loop {
            match client.step().unwrap() {
                ClientStep::Send(_) => {}
                ClientStep::NeedInput => client.receive(input.remove(0)),
                ClientStep::Finished => return client.finish().unwrap(),
            }
        }
    };
    let r = run(Protocol::Imap, &[b"* PREAUTH hi\r\n"]);
    assert!(matches!(r, StartTlsResult::Unavailable(ref rep) if rep.preauth));
    let r = run(
        Protocol::Imap,
        &[
            b"* OK hi\r\n",
            b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\n",
        ],
    );
    assert!(
        matches!(r, StartTlsResult::Unavailable(ref rep) if rep.plaintext_auth_offered && !rep.starttls_offered)
    );
    let r = run(
        Protocol::Smtp,
        &[
            b"220 mx\r\n",
            b"250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
            b"454 4.7.0 TLS not available\r\n",
        ],
    );
    match r {
        StartTlsResult::Refused { report, reply } => {
            assert!(report.plaintext_auth_offered);
            assert!(reply.starts_with("454"));
        }
        other => panic!("{other:?}"),
    }
    let r = run(Protocol::Smtp, &[b"554 5.7.1 go away\r\n"]);
    assert!(matches!(r, StartTlsResult::Rejected { .. }));
    let r = run(
        Protocol::Pop3,
        &[b"+OK\r\n", b"-ERR no CAPA\r\n", b"-ERR no\r\n"],
    );
    assert!(matches!(r, StartTlsResult::Unavailable(_)));
}

#[test]
fn hostile_servers_end_in_errors_not_hangs() {
    let mut client = PlainClient::new(ClientConfig::new(Protocol::Imap));
    client.receive(&[b'x'; 10_000]);
    assert!(matches!(
        client.step(),
        Err(DialectError::LineTooLong { .. })
    ));
    let mut client = PlainClient::new(ClientConfig::new(Protocol::Smtp));
    client.receive(b"220 mx\r\n");
    let _ = client.step();
    let mut endless = Vec::new();
    for _ in 0..500 {
        endless.extend_from_slice(b"250-more\r\n");
    }
    client.receive(&endless);
    assert!(matches!(
        client.step(),
        Err(DialectError::TooManyLines { .. })
    ));
    let mut client = PlainClient::new(ClientConfig::new(Protocol::Pop3));
    client.receive(b"HTTP/1.1 400 Bad Request\r\n");
    assert!(matches!(
        client.step(),
        Err(DialectError::Unexpected { .. })
    ));
}

#[test]
fn server_limits_and_refusals() {
    let mut server = PlainServer::new(ServerConfig::new(Protocol::Smtp, "mx", ServerMode::Require));
    server.receive(b"EHLO client\r\nMAIL FROM:<a@b>\r\n");
    assert!(matches!(server.next_event(), Some(ServerEvent::Reply(_))));
    assert_eq!(
        server.next_event(),
        Some(ServerEvent::Reply(
            b"530 5.7.0 Must issue a STARTTLS command first\r\n".to_vec()
        ))
    );
    for _ in 0..30 {
        server.receive(b"NOOP\r\n");
    }
    let mut closed = false;
    while let Some(event) = server.next_event() {
        if let ServerEvent::Close(bytes, _) = event {
            assert!(bytes.starts_with(b"421 4.7.0"));
            closed = true;
        }
    }
    assert!(closed);

    let mut server = PlainServer::new(ServerConfig::new(Protocol::Imap, "mx", ServerMode::Offer));
    server.receive(&[b'a'; 5000]);
    assert!(matches!(
        server.next_event(),
        Some(ServerEvent::Close(b, mailcert_dialect::CloseReason::LineTooLong)) if b.starts_with(b"* BYE")
    ));
    assert_eq!(server.next_event(), None);

    let mut server = PlainServer::new(ServerConfig::new(Protocol::Imap, "mx", ServerMode::Offer));
    server.receive(b"a LOGIN user pass\r\nb LOGOUT\r\n");
    assert!(
        matches!(server.next_event(), Some(ServerEvent::Reply(b)) if b.starts_with(b"a NO [PRIVACYREQUIRED]"))
    );
    assert!(matches!(server.next_event(), Some(ServerEvent::Close(..))));

    let mut server = PlainServer::new(ServerConfig::new(Protocol::Pop3, "mx", ServerMode::Offer));
    server.receive(b"USER bob\r\n");
    assert!(
        matches!(server.next_event(), Some(ServerEvent::Reply(b)) if b.starts_with(b"-ERR [AUTH]"))
    );
}

#[test]
fn smtp_without_tls_replays_ehlo_and_forwards_the_rest() {
    let mut server = PlainServer::new(ServerConfig::new(Protocol::Smtp, "mx", ServerMode::Offer));
    server.receive(b"EHLO sender.example\r\nNOOP\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n");
    assert!(matches!(server.next_event(), Some(ServerEvent::Reply(_))));
    assert!(matches!(server.next_event(), Some(ServerEvent::Reply(_))));
    assert_eq!(server.next_event(), Some(ServerEvent::Plaintext));
    let pass = server.into_plaintext();
    assert_eq!(
        pass.replay.as_deref(),
        Some(&b"EHLO sender.example\r\n"[..])
    );
    assert_eq!(pass.forward, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n");
}

#[test]
fn pop3_bare_sasl_offers_no_plaintext_login() {
    let report_for = |capa: &'static [u8]| {
        let mut client = PlainClient::new(ClientConfig::new(Protocol::Pop3));
        let mut input: Vec<&[u8]> = vec![b"+OK ready\r\n", capa, b"+OK begin TLS\r\n"];
        loop {
            match client.step().unwrap() {
                ClientStep::Send(_) => {}
                ClientStep::NeedInput => client.receive(input.remove(0)),
                ClientStep::Finished => return client.report().clone(),
            }
        }
    };
    // Dovecot with plaintext authentication disabled lists `SASL` alone.
    let bare = report_for(b"+OK\r\nCAPA\r\nSTLS\r\nSASL\r\n.\r\n");
    assert!(bare.starttls_offered);
    assert!(!bare.plaintext_auth_offered, "{bare:?}");
    let plain = report_for(b"+OK\r\nCAPA\r\nSTLS\r\nSASL PLAIN LOGIN\r\n.\r\n");
    assert!(plain.plaintext_auth_offered);
    assert_eq!(plain.auth_mechanisms, ["PLAIN", "LOGIN"]);
    let user = report_for(b"+OK\r\nCAPA\r\nSTLS\r\nUSER\r\n.\r\n");
    assert!(user.plaintext_auth_offered);
}
