//! SMTP relayed command by command (RFC 5321): every command line owes
//! one reply; `DATA` content (after a `354`) runs to the lone `.`, `BDAT`
//! content (RFC 3030) is counted in bytes, and the lines of a SASL
//! exchange (after a `334`, RFC 4954) are answers, not commands.
//!
//! Answered by the relay itself, never sent to the backend:
//! - `STARTTLS` inside TLS: `503 5.5.1` (RFC 3207 forbids a second one);
//!   without TLS, once the session went on in plaintext: `454 4.7.0` (the
//!   backend would start TLS with its own certificate, or a session whose
//!   state it already changed);
//! - `AUTH` without TLS: `530 5.7.0 Must issue a STARTTLS command first`,
//!   as on a `starttls-required` listener: credentials never cross in
//!   plaintext, and password guessing is not open on port 25.
//!
//! `EHLO` replies lose `STARTTLS` (and, without TLS, `AUTH`).

use crate::line::split_word;
use crate::relay::{command_word, line_text, take_line, DotScan, Owed, Phase, Relay, HELD_LIMIT};
use crate::smtp::{Reply, ReplyParser};

/// The longest backend reply line the relay holds (an `EHLO` reply line
/// is a few dozen bytes; RFC 5321 allows 512).
const MAX_REPLY_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owes {
    Plain,
    Ehlo,
    /// `354` opens the content.
    Data,
    /// `334` asks the client for one line of the SASL exchange.
    Auth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Command,
    /// Waiting for the backend's answer to `DATA` or `AUTH` before the
    /// next bytes can be read: content or a SASL line, or commands.
    Held,
    /// The next line is a SASL answer.
    SaslLine,
    /// Message content after `354`; `line_start` tracks where lines begin
    /// to find the lone `.`.
    Data(DotScan),
    /// `BDAT` content: this many bytes still.
    Chunk(u64),
}

/// The SMTP relay; see the module documentation.
#[derive(Debug)]
pub struct SmtpRelay {
    phase: Phase,
    max_line: usize,
    client: Vec<u8>,
    state: ClientState,
    owed: Owed<Owes>,
    backend: Vec<u8>,
    parser: ReplyParser,
    reply_raw: Vec<u8>,
    to_backend: Vec<u8>,
    to_client: Vec<u8>,
    closing: bool,
    answered: Vec<String>,
}

impl SmtpRelay {
    /// `max_line`: the longest command line accepted (content lines are
    /// not commands and have no limit here).
    pub fn new(phase: Phase, max_line: usize) -> SmtpRelay {
        SmtpRelay {
            phase,
            max_line: max_line.max(512),
            client: Vec::new(),
            state: ClientState::Command,
            owed: Owed::default(),
            backend: Vec::new(),
            parser: ReplyParser::new(),
            reply_raw: Vec::new(),
            to_backend: Vec::new(),
            to_client: Vec::new(),
            closing: false,
            answered: Vec::new(),
        }
    }

    fn answer(&mut self, command: &str, reply: &str) {
        self.answered.push(command.to_string());
        self.owed
            .local(format!("{reply}\r\n").into_bytes(), &mut self.to_client);
    }

    fn forward(&mut self, bytes: &[u8], owes: Owes) {
        self.to_backend.extend_from_slice(bytes);
        self.owed.expect(owes);
    }

    /// Reads what the client sent as far as the state allows.
    fn advance_client(&mut self) {
        while !self.closing && !self.client.is_empty() {
            match self.state {
                ClientState::Held => return,
                ClientState::Chunk(left) => {
                    let n = (left as usize).min(self.client.len());
                    self.to_backend.extend(self.client.drain(..n));
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        ClientState::Command
                    } else {
                        ClientState::Chunk(left)
                    };
                }
                ClientState::Data(scan) => self.scan_data(scan),
                ClientState::SaslLine => {
                    let Some(line) = self.next_line() else { return };
                    self.forward(&line, Owes::Auth);
                    self.state = ClientState::Held;
                }
                ClientState::Command => {
                    let Some(line) = self.next_line() else { return };
                    self.command(line);
                }
            }
        }
    }

    /// The next client line, or `None` for more bytes; a line over the
    /// limit is refused and ends the session.
    fn next_line(&mut self) -> Option<Vec<u8>> {
        match take_line(&mut self.client) {
            Some(line) if line.len() <= self.max_line + 2 => Some(line),
            Some(_) => {
                self.too_long();
                None
            }
            None if self.client.len() > self.max_line + 2 => {
                self.too_long();
                None
            }
            None => None,
        }
    }

    fn too_long(&mut self) {
        self.answer("(line too long)", "500 5.5.6 Line too long");
        self.client.clear();
        self.closing = true;
    }

    fn command(&mut self, line: Vec<u8>) {
        let text = line_text(&line);
        let (verb, args) = command_word(&text);
        match (verb.as_str(), self.phase) {
            ("STARTTLS", Phase::Tls) => {
                self.answer(&verb, "503 5.5.1 Error: TLS already active");
            }
            ("STARTTLS", Phase::Plaintext) => self.answer(
                &verb,
                "454 4.7.0 TLS not available once the session went on without it; reconnect and send STARTTLS right after EHLO",
            ),
            ("AUTH", Phase::Plaintext) => {
                self.answer(&verb, "530 5.7.0 Must issue a STARTTLS command first");
            }
            ("AUTH", Phase::Tls) => {
                self.forward(&line, Owes::Auth);
                self.state = ClientState::Held;
            }
            ("EHLO", _) => self.forward(&line, Owes::Ehlo),
            ("DATA", _) => {
                self.forward(&line, Owes::Data);
                self.state = ClientState::Held;
            }
            ("BDAT", _) => {
                self.forward(&line, Owes::Plain);
                // A size that does not parse is the backend's to refuse;
                // then no content follows, as the backend also reads it.
                if let Some(size) = args.split_whitespace().next().and_then(|s| s.parse().ok()) {
                    if size > 0 {
                        self.state = ClientState::Chunk(size);
                    }
                }
            }
            _ => self.forward(&line, Owes::Plain),
        }
    }

    fn scan_data(&mut self, scan: DotScan) {
        match scan.scan(&self.client) {
            Ok(n) => {
                self.to_backend.extend(self.client.drain(..n));
                self.owed.expect(Owes::Plain);
                self.state = ClientState::Command;
            }
            Err(scan) => {
                self.to_backend.append(&mut self.client);
                self.state = ClientState::Data(scan);
            }
        }
    }

    /// One whole reply from the backend.
    fn reply(&mut self, reply: Reply, raw: Vec<u8>) {
        let owes = self.owed.next().copied();
        let bytes = match owes {
            Some(Owes::Ehlo) if reply.is_positive() => self.offered(&reply).to_bytes(),
            _ => raw,
        };
        self.to_client.extend_from_slice(&bytes);
        match owes {
            Some(Owes::Data) => {
                self.state = if reply.code == 354 {
                    ClientState::Data(DotScan::LineStart)
                } else {
                    ClientState::Command
                };
            }
            Some(Owes::Auth) => {
                self.state = if reply.code == 334 {
                    ClientState::SaslLine
                } else {
                    ClientState::Command
                };
            }
            _ => {}
        }
        if owes.is_some() {
            self.owed.answered(&mut self.to_client);
        }
    }

    /// An `EHLO` reply as the client may see it.
    fn offered(&self, reply: &Reply) -> Reply {
        let reply = reply.without_starttls();
        if self.phase == Phase::Tls {
            return reply;
        }
        let lines = reply
            .lines
            .iter()
            .enumerate()
            .filter(|(i, line)| {
                let keyword = split_word(line.trim()).0.to_ascii_uppercase();
                *i == 0 || !(keyword == "AUTH" || keyword.starts_with("AUTH="))
            })
            .map(|(_, line)| line.clone())
            .collect();
        Reply::new(reply.code, lines)
    }
}

impl Relay for SmtpRelay {
    fn receive_from_client(&mut self, bytes: &[u8]) {
        if self.closing {
            return;
        }
        self.client.extend_from_slice(bytes);
        self.advance_client();
    }

    fn receive_from_backend(&mut self, bytes: &[u8]) {
        self.backend.extend_from_slice(bytes);
        while let Some(line) = take_line(&mut self.backend) {
            self.reply_raw.extend_from_slice(&line);
            match self.parser.push_line(&line_text(&line)) {
                Ok(Some(reply)) => {
                    let raw = std::mem::take(&mut self.reply_raw);
                    self.reply(reply, raw);
                }
                Ok(None) => {}
                // Not SMTP: passed on as it came, and counted as the
                // answer owed, so that what follows stays in step.
                Err(_) => {
                    self.parser = ReplyParser::new();
                    let raw = std::mem::take(&mut self.reply_raw);
                    self.to_client.extend_from_slice(&raw);
                    self.owed.answered(&mut self.to_client);
                }
            }
        }
        if self.backend.len() > MAX_REPLY_LINE {
            let raw = std::mem::take(&mut self.backend);
            self.to_client.extend_from_slice(&raw);
        }
        self.advance_client();
    }

    fn take_to_backend(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_backend)
    }

    fn take_to_client(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_client)
    }

    fn wants_client(&self) -> bool {
        !(self.state == ClientState::Held) || self.client.len() < HELD_LIMIT
    }

    fn closing(&self) -> bool {
        self.closing && self.owed.is_empty()
    }

    fn answered(&self) -> &[String] {
        &self.answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::run;

    /// Found by the relay_smtp fuzz target: a tab (or another whitespace
    /// Postfix splits on) after the verb passed STARTTLS and AUTH to the
    /// backend, and a DATA so written let its content be read as commands.
    #[test]
    fn verbs_followed_by_any_whitespace_are_recognised() {
        let mut relay = SmtpRelay::new(Phase::Tls, 4096);
        let (backend, client) = run(&mut relay, &[("c", "STARTTLS\t\r\n\x0bstarttls\r\n")]);
        assert_eq!(backend, "");
        assert_eq!(client, "503 5.5.1 Error: TLS already active\r\n".repeat(2));
        let mut relay = SmtpRelay::new(Phase::Plaintext, 4096);
        let (backend, client) = run(
            &mut relay,
            &[
                ("c", "AUTH\tPLAIN AHRlc3QAc2VjcmV0\r\nDATA\t\r\n"),
                ("b", "354 go ahead\r\n"),
                ("c", "AUTH PLAIN in the content\r\n.\r\n"),
                ("b", "250 2.0.0 queued\r\n"),
            ],
        );
        assert_eq!(backend, "DATA\t\r\nAUTH PLAIN in the content\r\n.\r\n");
        assert_eq!(
            client,
            "530 5.7.0 Must issue a STARTTLS command first\r\n354 go ahead\r\n250 2.0.0 queued\r\n"
        );
    }

    #[test]
    fn auth_without_tls_is_answered_in_order_and_never_relayed() {
        let mut relay = SmtpRelay::new(Phase::Plaintext, 4096);
        let (backend, client) = run(
            &mut relay,
            &[
                (
                    "c",
                    "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nAUTH PLAIN AHRlc3QAc2VjcmV0\r\nNOOP\r\n",
                ),
                ("b", "250 2.1.0 Ok\r\n"),
                ("b", "250 2.1.5 Ok\r\n"),
                ("b", "250 2.0.0 noop\r\n"),
            ],
        );
        assert_eq!(backend, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nNOOP\r\n");
        assert_eq!(
            client,
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n530 5.7.0 Must issue a STARTTLS command first\r\n250 2.0.0 noop\r\n"
        );
        assert_eq!(relay.answered(), ["AUTH"]);
    }

    #[test]
    fn starttls_is_answered_by_the_relay() {
        let mut relay = SmtpRelay::new(Phase::Tls, 4096);
        let (backend, client) = run(&mut relay, &[("c", "STARTTLS\r\n")]);
        assert_eq!(backend, "");
        assert_eq!(client, "503 5.5.1 Error: TLS already active\r\n");
        let mut relay = SmtpRelay::new(Phase::Plaintext, 4096);
        let (backend, client) = run(&mut relay, &[("c", "starttls\r\n")]);
        assert_eq!(backend, "");
        assert!(client.starts_with("454 4.7.0 "), "{client}");
    }

    #[test]
    fn ehlo_replies_lose_starttls_and_before_tls_auth() {
        let reply = "250-backend\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
        let mut relay = SmtpRelay::new(Phase::Plaintext, 4096);
        let (_, client) = run(&mut relay, &[("c", "EHLO me\r\n"), ("b", reply)]);
        assert_eq!(client, "250-backend\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
        let mut relay = SmtpRelay::new(Phase::Tls, 4096);
        let (_, client) = run(&mut relay, &[("c", "EHLO me\r\n"), ("b", reply)]);
        assert_eq!(
            client,
            "250-backend\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN\r\n250 8BITMIME\r\n"
        );
    }

    #[test]
    fn message_content_is_not_read_as_commands() {
        let mut relay = SmtpRelay::new(Phase::Plaintext, 4096);
        let content = "Subject: x\r\n\r\nSTARTTLS\r\nAUTH PLAIN x\r\n..leading dot\r\n.\r\n";
        let (backend, client) = run(
            &mut relay,
            &[
                ("c", "DATA\r\n"),
                // Sent early: held until the backend says 354.
                ("c", &content[..20]),
                ("b", "354 End data with <CR><LF>.<CR><LF>\r\n"),
                ("c", &content[20..]),
                ("c", "AUTH LOGIN\r\n"),
                ("b", "250 2.0.0 Ok: queued\r\n"),
            ],
        );
        assert_eq!(backend, format!("DATA\r\n{content}"));
        assert_eq!(
            client,
            "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued\r\n530 5.7.0 Must issue a STARTTLS command first\r\n"
        );
    }

    #[test]
    fn a_refused_data_leaves_the_client_in_commands() {
        let mut relay = SmtpRelay::new(Phase::Tls, 4096);
        let (backend, client) = run(
            &mut relay,
            &[
                ("c", "DATA\r\nSTARTTLS\r\n"),
                ("b", "554 5.5.1 Error: no valid recipients\r\n"),
            ],
        );
        assert_eq!(backend, "DATA\r\n");
        assert_eq!(
            client,
            "554 5.5.1 Error: no valid recipients\r\n503 5.5.1 Error: TLS already active\r\n"
        );
    }

    #[test]
    fn bdat_chunks_are_counted_in_bytes() {
        let mut relay = SmtpRelay::new(Phase::Tls, 4096);
        let (backend, client) = run(
            &mut relay,
            &[
                ("c", "BDAT 10 LAST\r\nSTARTTLS\r\n"),
                ("c", "STARTTLS\r\n"),
                ("b", "250 2.0.0 Ok\r\n"),
            ],
        );
        assert_eq!(backend, "BDAT 10 LAST\r\nSTARTTLS\r\n");
        assert_eq!(
            client,
            "250 2.0.0 Ok\r\n503 5.5.1 Error: TLS already active\r\n"
        );
    }

    #[test]
    fn sasl_lines_are_answers_not_commands() {
        let mut relay = SmtpRelay::new(Phase::Tls, 4096);
        let (backend, client) = run(
            &mut relay,
            &[
                ("c", "AUTH LOGIN\r\n"),
                ("b", "334 VXNlcm5hbWU6\r\n"),
                ("c", "STARTTLS\r\n"),
                ("b", "334 UGFzc3dvcmQ6\r\n"),
                ("c", "c2VjcmV0\r\nSTARTTLS\r\n"),
                ("b", "235 2.7.0 Authentication successful\r\n"),
            ],
        );
        assert_eq!(backend, "AUTH LOGIN\r\nSTARTTLS\r\nc2VjcmV0\r\n");
        assert!(
            client.ends_with(
                "235 2.7.0 Authentication successful\r\n503 5.5.1 Error: TLS already active\r\n"
            ),
            "{client}"
        );
    }

    #[test]
    fn a_line_over_the_limit_ends_the_session() {
        let mut relay = SmtpRelay::new(Phase::Plaintext, 512);
        let long = format!("NOOP {}\r\n", "x".repeat(600));
        let (backend, client) = run(&mut relay, &[("c", &long)]);
        assert_eq!(backend, "");
        assert_eq!(client, "500 5.5.6 Line too long\r\n");
        assert!(relay.closing());
    }
}
