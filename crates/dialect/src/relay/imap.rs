//! IMAP relayed command by command (RFC 9051, RFC 3501): a command is a
//! tagged line that may carry literals (`{n}` waits for the server's `+`,
//! `{n+}` (RFC 7888) does not; `~{n}` is the binary form, RFC 3516), and
//! the lines after a `+` for `AUTHENTICATE` or `IDLE` are not commands.
//! The server's lines carry literals too, and the relay's own answers go
//! between two of them, never inside one.
//!
//! `STARTTLS` inside TLS is answered by the relay (`BAD`), never sent to
//! the backend; `CAPABILITY` lists (untagged, and `[CAPABILITY ...]`
//! codes) lose `STARTTLS` and `LOGINDISABLED`.

use crate::relay::{line_text, take_line, words, Phase, Relay, HELD_LIMIT};

/// The longest server line held whole (to filter capabilities); longer
/// ones, such as a `SEARCH` answer over a large mailbox, are passed on
/// as they come.
const MAX_HELD_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Waits {
    /// A synchronising literal of this many bytes.
    Literal(u64),
    Authenticate,
    Idle,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientState {
    /// At the start of a line; `continuing` when the line goes on with a
    /// command that a literal interrupted.
    Line {
        continuing: bool,
    },
    Literal {
        left: u64,
    },
    /// Waiting for the server's `+` or the command's tagged answer.
    Held {
        tag: String,
        waits: Waits,
    },
    /// One SASL line, then wait again.
    SaslLine {
        tag: String,
    },
    /// `DONE`, then commands.
    IdleDone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    Line,
    /// A line too long to hold: passed on until its end; the tail is
    /// kept to see a literal at its end.
    LongLine,
    Literal(u64),
}

/// The IMAP relay; see the module documentation.
#[derive(Debug)]
pub struct ImapRelay {
    max_line: usize,
    client: Vec<u8>,
    state: ClientState,
    backend: Vec<u8>,
    server: ServerState,
    tail: Vec<u8>,
    locals: Vec<u8>,
    to_backend: Vec<u8>,
    to_client: Vec<u8>,
    closing: bool,
    answered: Vec<String>,
}

impl ImapRelay {
    pub fn new(_phase: Phase, max_line: usize) -> ImapRelay {
        ImapRelay {
            max_line: max_line.max(1024),
            client: Vec::new(),
            state: ClientState::Line { continuing: false },
            backend: Vec::new(),
            server: ServerState::Line,
            tail: Vec::new(),
            locals: Vec::new(),
            to_backend: Vec::new(),
            to_client: Vec::new(),
            closing: false,
            answered: Vec::new(),
        }
    }

    fn local(&mut self, bytes: &[u8]) {
        self.locals.extend_from_slice(bytes);
        self.flush_locals();
    }

    /// The relay's answers go out between two server lines: in the
    /// `Line` state, what the client got so far ends with a whole line
    /// (a partial one is still held here).
    fn flush_locals(&mut self) {
        if self.server == ServerState::Line {
            self.to_client.append(&mut self.locals);
        }
    }

    fn advance_client(&mut self) {
        while !self.closing && !self.client.is_empty() {
            match self.state.clone() {
                ClientState::Held { .. } => return,
                ClientState::Literal { left } => {
                    let n = (left as usize).min(self.client.len());
                    self.to_backend.extend(self.client.drain(..n));
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        ClientState::Line { continuing: true }
                    } else {
                        ClientState::Literal { left }
                    };
                }
                ClientState::SaslLine { tag } => {
                    let Some(line) = self.next_line() else { return };
                    self.to_backend.extend_from_slice(&line);
                    self.state = ClientState::Held {
                        tag,
                        waits: Waits::Authenticate,
                    };
                }
                ClientState::IdleDone => {
                    let Some(line) = self.next_line() else { return };
                    self.to_backend.extend_from_slice(&line);
                    self.state = ClientState::Line { continuing: false };
                }
                ClientState::Line { continuing } => {
                    let Some(line) = self.next_line() else { return };
                    self.line(line, continuing);
                }
            }
        }
    }

    fn next_line(&mut self) -> Option<Vec<u8>> {
        match take_line(&mut self.client) {
            Some(line) if line.len() <= self.max_line + 2 => Some(line),
            None if self.client.len() <= self.max_line + 2 => None,
            _ => {
                self.answered.push("(line too long)".into());
                self.local(b"* BYE Line too long\r\n");
                self.client.clear();
                self.closing = true;
                None
            }
        }
    }

    fn line(&mut self, line: Vec<u8>, continuing: bool) {
        let text = line_text(&line);
        let literal = literal_at_end(&text);
        let mut words = words(&text);
        let tag = words.next().unwrap_or("").to_string();
        let command = words.next().unwrap_or("").to_ascii_uppercase();
        let alone = words.next().is_none();
        if !continuing && command == "STARTTLS" && alone && literal.is_none() {
            self.answered.push(command);
            self.local(format!("{tag} BAD TLS is already active\r\n").as_bytes());
            return;
        }
        self.to_backend.extend_from_slice(&line);
        self.state = match literal {
            Some((size, false)) => ClientState::Held {
                tag,
                waits: Waits::Literal(size),
            },
            Some((0, true)) => ClientState::Line { continuing: true },
            Some((size, true)) => ClientState::Literal { left: size },
            None if continuing => ClientState::Line { continuing: false },
            None => match command.as_str() {
                "AUTHENTICATE" => ClientState::Held {
                    tag,
                    waits: Waits::Authenticate,
                },
                "IDLE" => ClientState::Held {
                    tag,
                    waits: Waits::Idle,
                },
                _ => ClientState::Line { continuing: false },
            },
        };
    }

    fn advance_backend(&mut self) {
        loop {
            match self.server {
                ServerState::Literal(left) => {
                    let n = (left as usize).min(self.backend.len());
                    self.to_client.extend(self.backend.drain(..n));
                    let left = left - n as u64;
                    if left > 0 {
                        self.server = ServerState::Literal(left);
                        return;
                    }
                    self.server = ServerState::Line;
                }
                ServerState::LongLine => {
                    let end = self.backend.iter().position(|&b| b == b'\n');
                    let n = end.map_or(self.backend.len(), |e| e + 1);
                    let part: Vec<u8> = self.backend.drain(..n).collect();
                    self.tail.extend_from_slice(&part);
                    let keep = self.tail.len().saturating_sub(32);
                    self.tail.drain(..keep);
                    self.to_client.extend_from_slice(&part);
                    if end.is_none() {
                        return;
                    }
                    let tail = line_text(&std::mem::take(&mut self.tail));
                    self.after_line(&tail);
                }
                ServerState::Line => {
                    let Some(line) = take_line(&mut self.backend) else {
                        if self.backend.len() > MAX_HELD_LINE {
                            self.to_client.append(&mut self.backend);
                            self.server = ServerState::LongLine;
                            continue;
                        }
                        return;
                    };
                    let text = line_text(&line);
                    match without_starttls(&text) {
                        Some(filtered) => {
                            self.to_client.extend_from_slice(filtered.as_bytes());
                            self.to_client.extend_from_slice(b"\r\n");
                        }
                        None => self.to_client.extend_from_slice(&line),
                    }
                    self.server_line(&text);
                    self.after_line(&text);
                }
            }
        }
    }

    /// What a whole server line means for a held client.
    fn server_line(&mut self, text: &str) {
        let ClientState::Held { tag, waits } = &self.state else {
            return;
        };
        if text == "+" || text.starts_with("+ ") {
            self.state = match waits {
                Waits::Literal(0) => ClientState::Line { continuing: true },
                Waits::Literal(size) => ClientState::Literal { left: *size },
                Waits::Authenticate => ClientState::SaslLine { tag: tag.clone() },
                Waits::Idle => ClientState::IdleDone,
            };
        } else if text
            .strip_prefix(tag.as_str())
            .is_some_and(|rest| rest.starts_with(' '))
        {
            self.state = ClientState::Line { continuing: false };
        }
    }

    /// A server line ended: a literal may follow it.
    fn after_line(&mut self, text: &str) {
        self.server = match literal_at_end(text) {
            Some((size, _)) if size > 0 => ServerState::Literal(size),
            _ => ServerState::Line,
        };
    }
}

/// `{n}`, `{n+}`, `~{n}` at the end of a line: the size, and whether it
/// is non-synchronising.
fn literal_at_end(text: &str) -> Option<(u64, bool)> {
    let inner = text.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    let digits = &inner[open + 1..];
    let (digits, plus) = match digits.strip_suffix('+') {
        Some(d) => (d, true),
        None => (digits, false),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, plus))
}

/// A line with capability lists, without `STARTTLS` and `LOGINDISABLED`;
/// `None` when the line has none to change.
fn without_starttls(text: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let (start, end) = if upper.starts_with("* CAPABILITY ") {
        (0, text.len())
    } else {
        let open = upper.find("[CAPABILITY ")?;
        let close = open + upper[open..].find(']')?;
        (open, close)
    };
    let list = &text[start..end];
    let kept: Vec<&str> = list
        .split(' ')
        .filter(|atom| {
            !atom.eq_ignore_ascii_case("STARTTLS") && !atom.eq_ignore_ascii_case("LOGINDISABLED")
        })
        .collect();
    let filtered = kept.join(" ");
    (filtered != list).then(|| format!("{}{filtered}{}", &text[..start], &text[end..]))
}

impl Relay for ImapRelay {
    fn receive_from_client(&mut self, bytes: &[u8]) {
        if self.closing {
            return;
        }
        self.client.extend_from_slice(bytes);
        self.advance_client();
    }

    fn receive_from_backend(&mut self, bytes: &[u8]) {
        self.backend.extend_from_slice(bytes);
        self.advance_backend();
        self.flush_locals();
        self.advance_client();
    }

    fn take_to_backend(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_backend)
    }

    fn take_to_client(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_client)
    }

    fn wants_client(&self) -> bool {
        !(matches!(self.state, ClientState::Held { .. })) || self.client.len() < HELD_LIMIT
    }

    fn closing(&self) -> bool {
        self.closing && self.locals.is_empty()
    }

    fn answered(&self) -> &[String] {
        &self.answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::run;

    /// A vertical tab or form feed between tag and command is whitespace to
    /// lenient servers too.
    #[test]
    fn starttls_after_any_whitespace_is_recognised() {
        let mut relay = ImapRelay::new(Phase::Tls, 4096);
        let (backend, client) = run(&mut relay, &[("c", "a1\x0bSTARTTLS\x0c\r\n")]);
        assert_eq!(backend, "");
        assert_eq!(client, "a1 BAD TLS is already active\r\n");
    }

    #[test]
    fn starttls_is_answered_and_never_relayed() {
        let mut relay = ImapRelay::new(Phase::Tls, 4096);
        let (backend, client) = run(&mut relay, &[("c", "a1 STARTTLS\r\na2 NOOP\r\n")]);
        assert_eq!(backend, "a2 NOOP\r\n");
        assert_eq!(client, "a1 BAD TLS is already active\r\n");
    }

    #[test]
    fn literals_are_not_commands_and_answers_wait_for_a_line_end() {
        let mut relay = ImapRelay::new(Phase::Tls, 4096);
        let (backend, client) = run(
            &mut relay,
            &[
                ("c", "a1 APPEND INBOX {12}\r\n"),
                ("b", "+ go ahead\r\n"),
                ("c", "x STARTTLS\r\n\r\n"),
                ("c", "a2 LOGIN {4+}\r\nuser pass\r\n"),
                ("b", "* 1 FETCH (BODY[] {12}\r\nx STA"),
                ("c", "a3 STARTTLS\r\n"),
                ("b", "RTTLS\r\n)\r\n"),
            ],
        );
        assert_eq!(
            backend,
            "a1 APPEND INBOX {12}\r\nx STARTTLS\r\n\r\na2 LOGIN {4+}\r\nuser pass\r\n"
        );
        assert_eq!(
            client,
            "+ go ahead\r\n* 1 FETCH (BODY[] {12}\r\nx STARTTLS\r\n)\r\na3 BAD TLS is already active\r\n"
        );
    }

    #[test]
    fn a_refused_literal_leaves_the_client_in_commands() {
        let mut relay = ImapRelay::new(Phase::Tls, 4096);
        let (backend, client) = run(
            &mut relay,
            &[
                ("c", "a1 APPEND INBOX {99999999}\r\n"),
                ("b", "a1 NO [OVERQUOTA] too big\r\n"),
                ("c", "a2 STARTTLS\r\n"),
            ],
        );
        assert_eq!(backend, "a1 APPEND INBOX {99999999}\r\n");
        assert!(
            client.ends_with("a2 BAD TLS is already active\r\n"),
            "{client}"
        );
    }

    #[test]
    fn authenticate_and_idle_lines_are_not_commands() {
        let mut relay = ImapRelay::new(Phase::Tls, 4096);
        let (backend, _) = run(
            &mut relay,
            &[
                ("c", "a1 AUTHENTICATE PLAIN\r\n"),
                ("b", "+ \r\n"),
                ("c", "x STARTTLS\r\n"),
                ("b", "a1 NO failed\r\n"),
                ("c", "a2 IDLE\r\n"),
                ("b", "+ idling\r\n"),
                ("c", "DONE\r\n"),
                ("b", "a2 OK done\r\n"),
                ("c", "a3 STARTTLS\r\n"),
            ],
        );
        assert_eq!(
            backend,
            "a1 AUTHENTICATE PLAIN\r\nx STARTTLS\r\na2 IDLE\r\nDONE\r\n"
        );
    }

    #[test]
    fn capabilities_lose_starttls() {
        let mut relay = ImapRelay::new(Phase::Tls, 4096);
        let (_, client) = run(
            &mut relay,
            &[
                ("c", "a CAPABILITY\r\n"),
                ("b", "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED IDLE\r\na OK [CAPABILITY IMAP4rev1 starttls IDLE] done\r\n"),
            ],
        );
        assert_eq!(
            client,
            "* CAPABILITY IMAP4rev1 IDLE\r\na OK [CAPABILITY IMAP4rev1 IDLE] done\r\n"
        );
    }

    #[test]
    fn literal_sizes() {
        assert_eq!(literal_at_end("a APPEND x {12}"), Some((12, false)));
        assert_eq!(literal_at_end("a LOGIN {4+}"), Some((4, true)));
        assert_eq!(literal_at_end("a APPEND x ~{3}"), Some((3, false)));
        assert_eq!(literal_at_end("a NOOP {}"), None);
        assert_eq!(literal_at_end("a NOOP"), None);
    }
}
