//! POP3 relayed command by command (RFC 1939, RFC 2449): every command
//! owes one answer, multi-line after `+OK` for `CAPA`, `LIST` and `UIDL`
//! without an argument, `RETR`, `TOP` and `AUTH` without a mechanism; the
//! lines after a `+ ` challenge of `AUTH` (RFC 5034) are SASL answers.
//!
//! `STLS` inside TLS is answered by the relay (`-ERR`), never sent to the
//! backend; `CAPA` loses `STLS`.

use crate::relay::{command_word, line_text, take_line, DotScan, Owed, Phase, Relay, HELD_LIMIT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owes {
    Single,
    MultiIfOk,
    Capa,
    Auth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Command,
    /// Waiting for the backend's answer to `AUTH`.
    Held,
    SaslLine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackendState {
    /// The first line of an answer.
    Status,
    /// The body of a multi-line answer.
    Body(DotScan),
    /// `CAPA`'s body, read line by line to drop `STLS`.
    CapaBody,
}

/// The POP3 relay; see the module documentation.
#[derive(Debug)]
pub struct Pop3Relay {
    max_line: usize,
    client: Vec<u8>,
    state: ClientState,
    owed: Owed<Owes>,
    backend: Vec<u8>,
    backend_state: BackendState,
    to_backend: Vec<u8>,
    to_client: Vec<u8>,
    closing: bool,
    answered: Vec<String>,
}

impl Pop3Relay {
    pub fn new(_phase: Phase, max_line: usize) -> Pop3Relay {
        Pop3Relay {
            max_line: max_line.max(512),
            client: Vec::new(),
            state: ClientState::Command,
            owed: Owed::default(),
            backend: Vec::new(),
            backend_state: BackendState::Status,
            to_backend: Vec::new(),
            to_client: Vec::new(),
            closing: false,
            answered: Vec::new(),
        }
    }

    fn advance_client(&mut self) {
        while !self.closing && self.state != ClientState::Held {
            let line = match take_line(&mut self.client) {
                Some(line) if line.len() <= self.max_line + 2 => line,
                None if self.client.len() <= self.max_line + 2 => return,
                _ => {
                    self.answered.push("(line too long)".into());
                    self.owed
                        .local(b"-ERR Line too long\r\n".to_vec(), &mut self.to_client);
                    self.client.clear();
                    self.closing = true;
                    return;
                }
            };
            if self.state == ClientState::SaslLine {
                self.to_backend.extend_from_slice(&line);
                self.owed.expect(Owes::Auth);
                self.state = ClientState::Held;
                continue;
            }
            let text = line_text(&line);
            let (command, args) = command_word(&text);
            let args = args.trim();
            let owes = match command.as_str() {
                "STLS" => {
                    self.answered.push(command.clone());
                    self.owed.local(
                        b"-ERR Command not permitted when TLS is already active\r\n".to_vec(),
                        &mut self.to_client,
                    );
                    continue;
                }
                "CAPA" => Owes::Capa,
                "LIST" | "UIDL" if args.is_empty() => Owes::MultiIfOk,
                "RETR" | "TOP" => Owes::MultiIfOk,
                "AUTH" if args.is_empty() => Owes::MultiIfOk,
                "AUTH" => {
                    self.state = ClientState::Held;
                    Owes::Auth
                }
                _ => Owes::Single,
            };
            self.to_backend.extend_from_slice(&line);
            self.owed.expect(owes);
        }
    }

    fn advance_backend(&mut self) {
        loop {
            match self.backend_state {
                BackendState::Body(scan) => match scan.scan(&self.backend) {
                    Ok(n) => {
                        self.to_client.extend(self.backend.drain(..n));
                        self.finish_answer();
                    }
                    Err(scan) => {
                        self.to_client.append(&mut self.backend);
                        self.backend_state = BackendState::Body(scan);
                        return;
                    }
                },
                BackendState::CapaBody => {
                    let Some(line) = take_line(&mut self.backend) else {
                        return;
                    };
                    let text = line_text(&line);
                    if !text.trim().eq_ignore_ascii_case("STLS") {
                        self.to_client.extend_from_slice(&line);
                    }
                    if text == "." {
                        self.finish_answer();
                    }
                }
                BackendState::Status => {
                    let Some(line) = take_line(&mut self.backend) else {
                        return;
                    };
                    self.to_client.extend_from_slice(&line);
                    let ok = line.starts_with(b"+OK");
                    let continuation = !ok && line.starts_with(b"+");
                    match self.owed.next().copied() {
                        Some(Owes::MultiIfOk) if ok => {
                            self.backend_state = BackendState::Body(DotScan::LineStart)
                        }
                        Some(Owes::Capa) if ok => self.backend_state = BackendState::CapaBody,
                        Some(Owes::Auth) if continuation => {
                            self.state = ClientState::SaslLine;
                            // The challenge is answered by the client's
                            // next line, which owes the next answer.
                            self.owed.answered(&mut self.to_client);
                        }
                        Some(Owes::Auth) => {
                            self.state = ClientState::Command;
                            self.owed.answered(&mut self.to_client);
                        }
                        Some(_) => self.owed.answered(&mut self.to_client),
                        None => {}
                    }
                }
            }
        }
    }

    fn finish_answer(&mut self) {
        self.backend_state = BackendState::Status;
        self.owed.answered(&mut self.to_client);
    }
}

impl Relay for Pop3Relay {
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

    /// Found by the relay_pop3 fuzz target: `STLS` followed by a tab, or
    /// after a CR, reached the backend.
    #[test]
    fn stls_followed_by_any_whitespace_is_recognised() {
        let mut relay = Pop3Relay::new(Phase::Tls, 4096);
        let (backend, client) = run(&mut relay, &[("c", "STLS\t\r\n\rstls\r\n")]);
        assert_eq!(backend, "");
        assert_eq!(
            client,
            "-ERR Command not permitted when TLS is already active\r\n".repeat(2)
        );
    }

    #[test]
    fn stls_waits_for_the_answers_before_it_and_is_never_relayed() {
        let mut relay = Pop3Relay::new(Phase::Tls, 4096);
        let (backend, client) = run(
            &mut relay,
            &[
                ("c", "RETR 1\r\nSTLS\r\nNOOP\r\n"),
                ("b", "+OK 20 octets\r\nSubject: x\r\n\r\n.."),
                ("b", "STLS\r\n.\r\n"),
                ("b", "+OK\r\n"),
            ],
        );
        assert_eq!(backend, "RETR 1\r\nNOOP\r\n");
        assert_eq!(
            client,
            "+OK 20 octets\r\nSubject: x\r\n\r\n..STLS\r\n.\r\n-ERR Command not permitted when TLS is already active\r\n+OK\r\n"
        );
    }

    #[test]
    fn capa_loses_stls() {
        let mut relay = Pop3Relay::new(Phase::Tls, 4096);
        let (_, client) = run(
            &mut relay,
            &[
                ("c", "CAPA\r\n"),
                ("b", "+OK\r\nCAPA\r\nSTLS\r\nUSER\r\n.\r\n"),
            ],
        );
        assert_eq!(client, "+OK\r\nCAPA\r\nUSER\r\n.\r\n");
    }

    #[test]
    fn sasl_lines_are_answers_not_commands() {
        let mut relay = Pop3Relay::new(Phase::Tls, 4096);
        let (backend, client) = run(
            &mut relay,
            &[
                ("c", "AUTH PLAIN\r\n"),
                ("b", "+ \r\n"),
                ("c", "STLS\r\nSTLS\r\n"),
                ("b", "-ERR [AUTH] Authentication failed.\r\n"),
            ],
        );
        assert_eq!(backend, "AUTH PLAIN\r\nSTLS\r\n");
        assert!(
            client
                .ends_with("failed.\r\n-ERR Command not permitted when TLS is already active\r\n"),
            "{client}"
        );
    }
}
