//! Shared by the dialect targets: the input is cut into the reads a socket
//! would deliver (the first byte of each piece says how long it is), and
//! what either side writes must be well-formed protocol lines. The
//! server and client dialogues are the same for the three protocols: each
//! target runs one of them for its protocol.

use mailcert_dialect::{
    ClientConfig, ClientStep, Limits, PlainClient, PlainServer, Protocol, ServerConfig,
    ServerEvent, ServerMode, StartTlsResult, MAX_LINES,
};

/// The front end's side of `protocol` before TLS, fed `data` (its first
/// byte chooses the mode and the limits).
#[allow(dead_code)] // the client targets run the other dialogue
pub fn server_dialogue(protocol: Protocol, data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mode = if selector & 1 == 0 {
        ServerMode::Offer
    } else {
        ServerMode::Require
    };
    let mut config = ServerConfig::new(protocol, "mail.example.com", mode);
    config.limits = limits(selector);
    let max_commands = config.limits.max_commands;
    let mut server = PlainServer::new(config);
    assert_lines(&server.greeting(), "the greeting");
    let mut events = 0usize;
    let mut fed = 0usize;
    for read in reads(rest) {
        server.receive(read);
        fed += read.len();
        while let Some(event) = server.next_event() {
            events += 1;
            assert!(
                events <= max_commands + 1,
                "more answers than commands allowed"
            );
            match event {
                ServerEvent::Reply(bytes) => assert_lines(&bytes, "a reply"),
                ServerEvent::Close(bytes, _) => {
                    assert_lines(&bytes, "a closing reply");
                    assert!(server.next_event().is_none(), "an event after Close");
                    return;
                }
                ServerEvent::StartTls(bytes) => {
                    assert_lines(&bytes, "the STARTTLS answer");
                    assert!(server.next_event().is_none(), "an event after StartTls");
                    let upgrade = server.start_tls();
                    assert!(upgrade.discarded < fed, "discarded more than was sent");
                    return;
                }
                ServerEvent::Plaintext => {
                    assert!(
                        matches!((protocol, mode), (Protocol::Smtp, ServerMode::Offer)),
                        "only SMTP without required TLS goes on in plaintext"
                    );
                    let passthrough = server.into_plaintext();
                    assert!(passthrough.forward.len() <= fed + 2);
                    // The client's own EHLO line, replayed as it was sent:
                    // the passthrough is transparent from here on.
                    if let Some(replay) = &passthrough.replay {
                        assert!(replay.ends_with(b"\r\n"));
                        assert!(
                            replay[..4].eq_ignore_ascii_case(b"EHLO")
                                || replay[..4].eq_ignore_ascii_case(b"HELO")
                        );
                    }
                    return;
                }
            }
        }
    }
}

/// The checker's side of `protocol` before TLS, fed `data` (its first
/// byte chooses the limits and whether STARTTLS is tried unadvertised).
#[allow(dead_code)] // the server targets run the other dialogue
pub fn client_dialogue(protocol: Protocol, data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut config = ClientConfig::new(protocol);
    config.limits = limits(selector);
    config.attempt_unadvertised = selector & 1 == 1;
    let mut client = PlainClient::new(config);
    let mut pieces = reads(rest).into_iter();
    let mut sent = 0usize;
    loop {
        match client.step() {
            Ok(ClientStep::Send(bytes)) => {
                assert_lines(&bytes, "the client");
                sent += 1;
                assert!(sent <= 8, "the client keeps sending");
            }
            Ok(ClientStep::NeedInput) => match pieces.next() {
                Some(read) => client.receive(read),
                None => break,
            },
            Ok(ClientStep::Finished) => {
                let result = client.finish().expect("finish after Finished");
                let report = match &result {
                    StartTlsResult::Success(ready) => &ready.report,
                    StartTlsResult::Unavailable(report) => report,
                    StartTlsResult::Refused { report, .. }
                    | StartTlsResult::Rejected { report, .. } => report,
                };
                assert!(report.transcript.len() <= MAX_LINES + 8);
                break;
            }
            Err(_) => break,
        }
    }
}

/// Splits `data` into socket reads: the first byte of each read gives its
/// length (1 to 64), and belongs to the read.
pub fn reads(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(&first) = rest.first() {
        let take = (usize::from(first % 64) + 1).min(rest.len());
        let (read, tail) = rest.split_at(take);
        out.push(read);
        rest = tail;
    }
    out
}

/// Small limits, so that the fuzzer reaches them with short inputs.
pub fn limits(selector: u8) -> Limits {
    Limits {
        max_line: usize::from(selector % 128) + 1,
        max_commands: usize::from(selector / 128 * 8) + 4,
    }
}

/// Every line ends with CRLF, with no other CR or LF and no NUL in it:
/// nothing the peer sent can split or inject a line.
pub fn assert_lines(bytes: &[u8], who: &str) {
    assert!(
        bytes.ends_with(b"\r\n"),
        "{who} wrote an unterminated line: {bytes:?}"
    );
    for line in bytes[..bytes.len() - 2].split(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(
            !body.contains(&b'\r') && !body.contains(&0),
            "{who} wrote a bare CR or a NUL: {bytes:?}"
        );
    }
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert!(
                i > 0 && bytes[i - 1] == b'\r',
                "{who} wrote a bare LF: {bytes:?}"
            );
        }
    }
}
