//! After the pre-TLS dialogue: relays that carry a session between the
//! client and the backend command by command, so that the front end can
//! answer itself the commands that must never reach the backend — a
//! second `STARTTLS`/`STLS` inside TLS (the backend would start TLS inside
//! TLS), and on SMTP without TLS, `AUTH` (credentials in plaintext) — and
//! take `STARTTLS` (and `AUTH` before TLS) out of what the backend offers.
//!
//! A relay knows where each command starts (SMTP `DATA` and `BDAT`
//! content, IMAP literals, SASL exchanges are not commands) and which
//! backend answer belongs to which command, so that its own answers reach
//! the client in order, exactly where the backend's would have been.
//! Everything else passes through byte for byte.
//!
//! Sans-IO like the rest of the crate: feed what each side sends, write
//! what [`Relay::take_to_backend`] and [`Relay::take_to_client`] return.

use std::collections::VecDeque;

mod imap;
mod pop3;
mod smtp;

pub use imap::ImapRelay;
pub use pop3::Pop3Relay;
pub use smtp::SmtpRelay;

/// Whether the session being relayed is inside TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// SMTP that went on without TLS (port 25 with `starttls`).
    Plaintext,
    /// After the handshake (STARTTLS or implicit TLS).
    Tls,
}

/// The most a relay keeps from the client while it waits for the
/// backend's answer; a pipelined command after `DATA` or a literal is far
/// smaller. Without it, what a client sends behind a backend that does
/// not answer would grow without bound.
pub const HELD_LIMIT: usize = 64 * 1024;

/// What every relay does.
pub trait Relay: Send {
    /// Bytes the client sent.
    fn receive_from_client(&mut self, bytes: &[u8]);
    /// Bytes the backend sent.
    fn receive_from_backend(&mut self, bytes: &[u8]);
    /// What to write to the backend now.
    fn take_to_backend(&mut self) -> Vec<u8>;
    /// What to write to the client now.
    fn take_to_client(&mut self) -> Vec<u8>;
    /// The relay refused something that ends the session (a line over
    /// the limit): close both sides once `take_to_client` is written.
    fn closing(&self) -> bool;
    /// Whether to read more from the client now. False while the relay
    /// waits for the backend's answer (to `DATA`, `AUTH`, a literal,
    /// `IDLE`) with [`HELD_LIMIT`] bytes of the client already waiting:
    /// the caller stops reading the client until the backend answers, so
    /// a client cannot pile up bytes behind a backend that does not.
    fn wants_client(&self) -> bool;
    /// How many commands the relay answered itself, for the log.
    fn answered(&self) -> &[String];
}

/// The answers the client is owed, in the order it asked: the backend's
/// (to come) and the relay's own (ready, waiting for the backend's that
/// come before them).
#[derive(Debug)]
pub(crate) struct Owed<K> {
    items: VecDeque<Item<K>>,
}

#[derive(Debug)]
enum Item<K> {
    Backend(K),
    Local(Vec<u8>),
}

impl<K> Default for Owed<K> {
    fn default() -> Self {
        Owed {
            items: VecDeque::new(),
        }
    }
}

impl<K> Owed<K> {
    /// The backend owes an answer of this kind.
    pub(crate) fn expect(&mut self, kind: K) {
        self.items.push_back(Item::Backend(kind));
    }

    /// The relay's own answer: written now if nothing comes before it.
    pub(crate) fn local(&mut self, bytes: Vec<u8>, out: &mut Vec<u8>) {
        if self.items.is_empty() {
            out.extend_from_slice(&bytes);
        } else {
            self.items.push_back(Item::Local(bytes));
        }
    }

    /// The kind of the backend answer that comes next (`None`: an answer
    /// nobody asked for, such as a `421` before closing).
    pub(crate) fn next(&self) -> Option<&K> {
        match self.items.front() {
            Some(Item::Backend(kind)) => Some(kind),
            _ => None,
        }
    }

    /// The next backend answer was written: the relay's own answers that
    /// were waiting for it follow.
    pub(crate) fn answered(&mut self, out: &mut Vec<u8>) {
        if matches!(self.items.front(), Some(Item::Backend(_))) {
            self.items.pop_front();
        }
        while let Some(Item::Local(_)) = self.items.front() {
            if let Some(Item::Local(bytes)) = self.items.pop_front() {
                out.extend_from_slice(&bytes);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The separators between the words of a command as servers read them:
/// C's `isspace`. RFC 5321, 1939 and 9051 say a space, but Postfix, and
/// servers built like it, split commands on any whitespace, so a relay
/// that only split on spaces would pass `STARTTLS<TAB>` or `AUTH<TAB>PLAIN`
/// to a backend that runs it.
pub(crate) fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// The words of a command line, as a lenient server reads them.
pub(crate) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_separator).filter(|w| !w.is_empty())
}

/// The command word of a line, upper case, and what follows it.
pub(crate) fn command_word(text: &str) -> (String, &str) {
    let text = text.trim_start_matches(is_separator);
    let end = text.find(is_separator).unwrap_or(text.len());
    (
        text[..end].to_ascii_uppercase(),
        text[end..].trim_start_matches(is_separator),
    )
}

/// Takes the next line (through its `\n`) off the front of `buf`.
pub(crate) fn take_line(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    Some(buf.drain(..=end).collect())
}

/// A line without its line ending, as text.
pub(crate) fn line_text(line: &[u8]) -> String {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    String::from_utf8_lossy(&line[..end]).into_owned()
}

/// Finds the end of a dot-terminated body (SMTP `DATA` content, a POP3
/// multi-line answer): a line holding a single `.`, however the bytes
/// are split between reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DotScan {
    LineStart,
    Dot,
    DotCr,
    Middle,
}

impl DotScan {
    /// How many bytes of `bytes` belong to the body, through its final
    /// `.` line if that is in them (`Some`), and the state to carry on
    /// with otherwise.
    pub(crate) fn scan(mut self, bytes: &[u8]) -> Result<usize, DotScan> {
        for (i, &b) in bytes.iter().enumerate() {
            self = match (self, b) {
                (DotScan::Dot | DotScan::DotCr, b'\n') => return Ok(i + 1),
                (_, b'\n') => DotScan::LineStart,
                (DotScan::LineStart, b'.') => DotScan::Dot,
                (DotScan::Dot, b'\r') => DotScan::DotCr,
                _ => DotScan::Middle,
            };
        }
        Err(self)
    }
}

/// Runs `steps` through `relay` — each step is who sends (`"c"`: the
/// client, `"b"`: the backend) and what — and returns what it wrote to
/// the backend and to the client, all steps together: the relays' unit
/// tests read as sessions.
#[cfg(test)]
fn run(relay: &mut dyn Relay, steps: &[(&str, &str)]) -> (String, String) {
    let (mut backend, mut client) = (String::new(), String::new());
    for (from, bytes) in steps {
        match *from {
            "c" => relay.receive_from_client(bytes.as_bytes()),
            "b" => relay.receive_from_backend(bytes.as_bytes()),
            other => panic!("{other}"),
        }
        backend.push_str(&String::from_utf8(relay.take_to_backend()).unwrap());
        client.push_str(&String::from_utf8(relay.take_to_client()).unwrap());
    }
    (backend, client)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While a relay waits for the backend's answer it takes at most
    /// HELD_LIMIT of the client's bytes, then asks not to be fed; the
    /// answer lets them through in order (message content, a literal), or
    /// they are judged as what they are (a SASL line far over the limit).
    #[test]
    fn a_relay_waiting_for_the_backend_stops_taking_the_clients_bytes() {
        let big = vec![b'x'; HELD_LIMIT];
        // (relay, the command that waits, the backend's answer, whether
        // what was held then passes)
        type Case = (Box<dyn Relay>, &'static [u8], &'static [u8], bool);
        let cases: [Case; 3] = [
            (
                Box::new(SmtpRelay::new(Phase::Tls, 4096)),
                b"DATA\r\n",
                b"354 go ahead\r\n",
                true,
            ),
            (
                Box::new(ImapRelay::new(Phase::Tls, 4096)),
                b"a APPEND INBOX {70000}\r\n",
                b"+ go ahead\r\n",
                true,
            ),
            (
                Box::new(Pop3Relay::new(Phase::Tls, 4096)),
                b"AUTH PLAIN\r\n",
                b"+ \r\n",
                false,
            ),
        ];
        for (mut relay, command, answer, passes) in cases {
            relay.receive_from_client(command);
            assert!(relay.wants_client());
            relay.receive_from_client(&big[..HELD_LIMIT / 2]);
            assert!(relay.wants_client(), "{command:?}");
            relay.receive_from_client(&big[HELD_LIMIT / 2..]);
            assert!(
                !relay.wants_client(),
                "{command:?}: holds {HELD_LIMIT} bytes"
            );
            let before = relay.take_to_backend();
            assert_eq!(before, command, "nothing held goes ahead of the answer");
            relay.receive_from_backend(answer);
            let after = relay.take_to_backend();
            if passes {
                assert!(relay.wants_client(), "{command:?}");
                assert_eq!(after.len(), HELD_LIMIT, "{command:?}");
            } else {
                assert!(after.is_empty() && relay.closing(), "{command:?}");
            }
        }
    }

    #[test]
    fn commands_are_split_as_servers_split_them() {
        assert_eq!(command_word("STARTTLS\t"), ("STARTTLS".into(), ""));
        assert_eq!(command_word(" \rauth\tPLAIN x"), ("AUTH".into(), "PLAIN x"));
        assert_eq!(command_word("\x0bSTLS\x0c"), ("STLS".into(), ""));
        assert_eq!(
            words("a\x0bSTARTTLS ").collect::<Vec<_>>(),
            ["a", "STARTTLS"]
        );
    }

    #[test]
    fn the_end_of_a_dotted_body_is_found_across_reads() {
        assert_eq!(DotScan::LineStart.scan(b"a\r\n.\r\nrest"), Ok(6));
        assert_eq!(DotScan::LineStart.scan(b".\n"), Ok(2));
        assert_eq!(DotScan::LineStart.scan(b"..x\r\n"), Err(DotScan::LineStart));
        let carry = DotScan::LineStart.scan(b"line\r\n.").unwrap_err();
        assert_eq!(carry, DotScan::Dot);
        assert_eq!(carry.scan(b"\r\n"), Ok(2));
        assert_eq!(DotScan::Middle.scan(b".\r\n"), Err(DotScan::LineStart));
    }
}
