//! The laws of the line limits, as properties over generated input: every
//! byte before TLS goes through a line reader that hands out exactly the
//! lines of the input up to the first one over the limit, whatever pieces
//! the socket delivers them in; the server side answers one line with one
//! event and stops at the first line too long or the first command too
//! many; the client side gives up on a line too long.

use mailcert_dialect::{
    line_too_long_reply, ClientConfig, ClientStep, CloseReason, DialectError, Limits, LineReader,
    PlainClient, PlainServer, Protocol, ServerConfig, ServerEvent, ServerMode,
};
use proptest::prelude::*;

/// Lines of arbitrary bytes (a CR may be anywhere, never a LF), each with
/// its terminator: LF or CRLF.
fn lines(max_len: usize) -> impl Strategy<Value = Vec<(Vec<u8>, bool)>> {
    let byte =
        prop_oneof![8 => any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 1 => Just(b'\r')];
    prop::collection::vec(
        (prop::collection::vec(byte, 0..max_len), any::<bool>()),
        0..12,
    )
}

fn join(lines: &[(Vec<u8>, bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (line, crlf) in lines {
        out.extend_from_slice(line);
        out.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
    }
    out
}

/// Cuts `data` where `cuts` say (positions taken modulo the length).
fn pieces(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|w| data[w[0]..w[1]].to_vec())
        .collect()
}

/// What a reader must hand out for these lines: each line without its
/// line ending (one CR before the LF belongs to the ending), until the
/// first longer than `max`, which is an error.
fn model(lines: &[(Vec<u8>, bool)], max: usize) -> (Vec<Vec<u8>>, bool) {
    let mut out = Vec::new();
    for (line, crlf) in lines {
        let mut text = line.clone();
        if !crlf && text.last() == Some(&b'\r') {
            text.pop();
        }
        if text.len() > max {
            return (out, true);
        }
        out.push(text);
    }
    (out, false)
}

fn read_all(reader: &mut LineReader, pieces: &[Vec<u8>]) -> (Vec<Vec<u8>>, bool) {
    let mut out = Vec::new();
    for piece in pieces {
        reader.push(piece);
        loop {
            match reader.next_line() {
                Ok(Some(line)) => out.push(line),
                Ok(None) => break,
                Err(DialectError::LineTooLong { .. }) => return (out, true),
                Err(other) => panic!("{other:?}"),
            }
        }
    }
    (out, false)
}

const PROTOCOLS: [Protocol; 3] = [Protocol::Imap, Protocol::Pop3, Protocol::Smtp];

/// A harmless command of each protocol, answered and nothing else.
fn noop(protocol: Protocol, n: usize) -> Vec<u8> {
    match protocol {
        Protocol::Imap => format!("a{n} NOOP\r\n").into_bytes(),
        Protocol::Pop3 | Protocol::Smtp => b"NOOP\r\n".to_vec(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The reader hands out exactly the lines of the input, up to the
    /// first over the limit, however the input is cut; and it never holds
    /// more than a line's worth waiting for its end.
    #[test]
    fn the_reader_hands_out_the_lines_up_to_the_first_too_long(
        lines in lines(24),
        tail in prop::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..30),
        max in 1usize..20,
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut data = join(&lines);
        data.extend_from_slice(&tail);
        let (expected, too_long) = model(&lines, max);
        let mut reader = LineReader::new(max);
        let (got, failed) = read_all(&mut reader, &pieces(&data, &cuts));
        prop_assert_eq!(&got, &expected);
        if too_long {
            prop_assert!(failed);
        } else {
            // The unfinished last line: refused as soon as it cannot fit.
            prop_assert_eq!(failed, tail.len() > max + 1);
            if !failed {
                prop_assert_eq!(reader.buffered(), &tail[..]);
            }
        }
    }

    /// The server side answers each line with one event, stops with the
    /// protocol's refusal at the first line too long, and at the first
    /// command beyond the limit; the pieces never matter.
    #[test]
    fn the_server_answers_line_by_line_within_its_limits(
        protocol_pick in 0usize..3,
        require in any::<bool>(),
        commands in 0usize..12,
        long_at in prop::option::of(0usize..12),
        max_line in 16usize..64,
        max_commands in 1usize..10,
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let protocol = PROTOCOLS[protocol_pick];
        let mode = if require { ServerMode::Require } else { ServerMode::Offer };
        let mut config = ServerConfig::new(protocol, "mail.example.com", mode);
        config.limits = Limits { max_line, max_commands };
        let mut server = PlainServer::new(config);
        let mut input = Vec::new();
        let mut long_line = None;
        for n in 0..commands {
            if long_at == Some(n) {
                long_line = Some(n);
                input.extend(std::iter::repeat_n(b'x', max_line + 1));
                input.extend_from_slice(b"\r\n");
            } else {
                input.extend(noop(protocol, n));
            }
        }
        let mut events = Vec::new();
        for piece in pieces(&input, &cuts) {
            server.receive(&piece);
            while let Some(event) = server.next_event() {
                events.push(event);
            }
        }
        // What must happen: replies up to the first line too long or the
        // first command too many, and then the one closing event. A line
        // is read before it counts as a command: the line one beyond the
        // limit that is also too long is refused as too long.
        let stop_long = long_line.filter(|&n| n <= max_commands);
        let replies = stop_long.unwrap_or(commands.min(max_commands));
        prop_assert!(events[..replies.min(events.len())].iter().all(|e| matches!(e, ServerEvent::Reply(_))), "{:?}", events);
        match (stop_long, commands > max_commands) {
            (Some(_), _) => {
                prop_assert_eq!(events.len(), replies + 1);
                prop_assert_eq!(
                    &events[replies],
                    &ServerEvent::Close(line_too_long_reply(protocol), CloseReason::LineTooLong)
                );
            }
            (None, true) => {
                prop_assert_eq!(events.len(), replies + 1);
                let closed_for_commands = matches!(events[replies], ServerEvent::Close(_, CloseReason::TooManyCommands));
                prop_assert!(closed_for_commands, "{:?}", events);
            }
            (None, false) => prop_assert_eq!(events.len(), commands),
        }
    }

    /// The client side gives up on a server line longer than its limit,
    /// whatever the greeting was cut into.
    #[test]
    fn the_client_gives_up_on_a_line_too_long(
        protocol_pick in 0usize..3,
        max_line in 8usize..64,
        extra in 1usize..64,
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let protocol = PROTOCOLS[protocol_pick];
        let mut config = ClientConfig::new(protocol);
        config.limits.max_line = max_line;
        let mut client = PlainClient::new(config);
        let prefix: &[u8] = match protocol {
            Protocol::Imap => b"* OK ",
            Protocol::Pop3 => b"+OK ",
            Protocol::Smtp => b"220 ",
        };
        let mut greeting = prefix.to_vec();
        greeting.extend(std::iter::repeat_n(b'y', max_line + extra - prefix.len().min(max_line + extra)));
        greeting.extend_from_slice(b"\r\n");
        prop_assume!(greeting.len() - 2 > max_line);
        let mut outcome = None;
        for piece in pieces(&greeting, &cuts) {
            client.receive(&piece);
            match client.step() {
                Ok(ClientStep::NeedInput) => continue,
                other => {
                    outcome = Some(other);
                    break;
                }
            }
        }
        prop_assert_eq!(outcome, Some(Err(DialectError::LineTooLong { limit: max_line })));
    }
}
