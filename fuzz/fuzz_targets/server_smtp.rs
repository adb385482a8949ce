//! The front end's side of SMTP before TLS: what a client sends, in any
//! pieces, against the server dialect. Replies are well-formed lines,
//! nothing follows the end of the dialogue, and STARTTLS discards every
//! byte sent after its line.
#![no_main]

#[path = "common/dialect.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailcert_dialect::{PlainServer, Protocol, ServerConfig, ServerEvent, ServerMode};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mode = if selector & 1 == 0 {
        ServerMode::Offer
    } else {
        ServerMode::Require
    };
    let mut config = ServerConfig::new(Protocol::Smtp, "mail.example.com", mode);
    config.limits = common::limits(selector);
    let max_commands = config.limits.max_commands;
    let mut server = PlainServer::new(config);
    common::assert_lines(&server.greeting(), "the greeting");
    let mut events = 0usize;
    let mut fed = 0usize;
    for read in common::reads(rest) {
        server.receive(read);
        fed += read.len();
        while let Some(event) = server.next_event() {
            events += 1;
            assert!(
                events <= max_commands + 1,
                "more answers than commands allowed"
            );
            match event {
                ServerEvent::Reply(bytes) => common::assert_lines(&bytes, "a reply"),
                ServerEvent::Close(bytes, _) => {
                    common::assert_lines(&bytes, "a closing reply");
                    assert!(server.next_event().is_none(), "an event after Close");
                    return;
                }
                ServerEvent::StartTls(bytes) => {
                    common::assert_lines(&bytes, "the STARTTLS answer");
                    assert!(server.next_event().is_none(), "an event after StartTls");
                    let upgrade = server.start_tls();
                    assert!(upgrade.discarded < fed, "discarded more than was sent");
                    return;
                }
                ServerEvent::Plaintext => {
                    assert!(
                        matches!((Protocol::Smtp, mode), (Protocol::Smtp, ServerMode::Offer)),
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
});
