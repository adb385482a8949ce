//! The client side: greet, ask for capabilities, ask for STARTTLS, and
//! report everything a checker needs to judge the server.

use crate::error::DialectError;
use crate::imap::{self, GreetingKind, Response, Status};
use crate::line::{text, LineReader};
use crate::pop3;
use crate::smtp::{self, Ehlo, ReplyParser};
use crate::{Limits, Protocol};

/// How the client side is set up.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub protocol: Protocol,
    /// The name sent with `EHLO` (SMTP).
    pub ehlo_name: String,
    pub limits: Limits,
    /// Send STARTTLS/STLS even when the capability list does not offer
    /// it (some servers work but do not advertise it).
    pub attempt_unadvertised: bool,
}

impl ClientConfig {
    pub fn new(protocol: Protocol) -> ClientConfig {
        ClientConfig {
            protocol,
            ehlo_name: "localhost".into(),
            limits: Limits::default(),
            attempt_unadvertised: false,
        }
    }
}

/// Everything the server said before TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreTlsReport {
    /// The greeting (first line, or SMTP banner text).
    pub greeting: String,
    /// IMAP `* PREAUTH`: authenticated without TLS; STARTTLS is impossible.
    pub preauth: bool,
    /// IMAP capabilities, POP3 `CAPA` lines, or SMTP `EHLO` extensions.
    pub capabilities: Vec<String>,
    pub starttls_offered: bool,
    /// IMAP `LOGINDISABLED`.
    pub login_disabled: bool,
    /// SASL mechanisms offered before TLS (IMAP `AUTH=`, POP3 `SASL`, SMTP `AUTH`).
    pub auth_mechanisms: Vec<String>,
    /// A password could be sent in plaintext: IMAP without
    /// `LOGINDISABLED`, POP3 `USER`/`SASL`, SMTP `AUTH` before TLS.
    pub plaintext_auth_offered: bool,
    /// The dialogue, one line each, prefixed `C: ` or `S: `.
    pub transcript: Vec<String>,
}

/// How a STARTTLS negotiation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartTlsResult {
    /// The server agreed: start the TLS handshake now.
    Success(TlsReady),
    /// STARTTLS is not offered (or the IMAP session is `PREAUTH`).
    Unavailable(PreTlsReport),
    /// The server answered STARTTLS negatively.
    Refused { report: PreTlsReport, reply: String },
    /// The greeting (or `EHLO`/`HELO`) refused the session.
    Rejected { report: PreTlsReport, reply: String },
}

/// The plaintext session, consumed: only the TLS handshake may follow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct TlsReady {
    pub report: PreTlsReport,
    /// Bytes the server sent after its positive STARTTLS answer, in the
    /// same reads: a server (or a man in the middle) injecting plaintext.
    /// They have been dropped; non-empty means `starttls-injection`.
    pub injected: Vec<u8>,
}

/// What the client must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientStep {
    /// Write these bytes to the server.
    Send(Vec<u8>),
    /// Read from the server and call [`PlainClient::receive`].
    NeedInput,
    /// Done: call [`PlainClient::finish`].
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Unavailable,
    Refused,
    Rejected,
}

#[derive(Debug)]
enum State {
    Greeting,
    ImapCapability,
    ImapStartTls,
    Pop3CapaStatus,
    Pop3CapaList,
    Pop3Stls,
    SmtpEhlo,
    SmtpHelo,
    SmtpStartTls,
    Done(Outcome),
}

/// Upper bound on lines the client reads before TLS.
pub const MAX_LINES: usize = 200;

/// A plaintext session before TLS, client side.
#[derive(Debug)]
pub struct PlainClient {
    config: ClientConfig,
    reader: LineReader,
    state: State,
    outbox: Vec<Vec<u8>>,
    report: PreTlsReport,
    smtp: ReplyParser,
    reply: String,
    lines: usize,
}

impl PlainClient {
    pub fn new(config: ClientConfig) -> PlainClient {
        PlainClient {
            reader: LineReader::new(config.limits.max_line),
            config,
            state: State::Greeting,
            outbox: Vec::new(),
            report: PreTlsReport::default(),
            smtp: ReplyParser::new(),
            reply: String::new(),
            lines: 0,
        }
    }

    /// Adds bytes received from the server.
    pub fn receive(&mut self, data: &[u8]) {
        self.reader.push(data);
    }

    /// What the server has said so far.
    pub fn report(&self) -> &PreTlsReport {
        &self.report
    }

    /// Advances the negotiation.
    pub fn step(&mut self) -> Result<ClientStep, DialectError> {
        loop {
            if !self.outbox.is_empty() {
                let bytes = self.outbox.remove(0);
                let shown = text(&bytes);
                self.report
                    .transcript
                    .push(format!("C: {}", shown.trim_end()));
                return Ok(ClientStep::Send(bytes));
            }
            if matches!(self.state, State::Done(_)) {
                return Ok(ClientStep::Finished);
            }
            let Some(line) = self.reader.next_line()? else {
                return Ok(ClientStep::NeedInput);
            };
            self.lines += 1;
            if self.lines > MAX_LINES {
                return Err(DialectError::TooManyLines {
                    protocol: self.config.protocol.name(),
                    limit: MAX_LINES,
                });
            }
            let line = text(&line);
            self.report.transcript.push(format!("S: {line}"));
            match self.config.protocol {
                Protocol::Imap => self.imap_line(&line)?,
                Protocol::Pop3 => self.pop3_line(&line)?,
                Protocol::Smtp => self.smtp_line(&line)?,
            }
        }
    }

    /// Consumes the plaintext session. Fails with
    /// [`DialectError::NotFinished`] before [`ClientStep::Finished`].
    pub fn finish(self) -> Result<StartTlsResult, DialectError> {
        let State::Done(outcome) = self.state else {
            return Err(DialectError::NotFinished);
        };
        let report = self.report;
        let reply = self.reply;
        Ok(match outcome {
            Outcome::Success => StartTlsResult::Success(TlsReady {
                report,
                injected: self.reader.into_rest(),
            }),
            Outcome::Unavailable => StartTlsResult::Unavailable(report),
            Outcome::Refused => StartTlsResult::Refused { report, reply },
            Outcome::Rejected => StartTlsResult::Rejected { report, reply },
        })
    }

    fn unexpected(&self, expected: &'static str, got: &str) -> DialectError {
        DialectError::Unexpected {
            protocol: self.config.protocol.name(),
            expected,
            got: got.chars().take(120).collect(),
        }
    }

    fn send(&mut self, bytes: Vec<u8>) {
        self.outbox.push(bytes);
    }

    fn done(&mut self, outcome: Outcome, reply: &str) {
        self.reply = reply.to_string();
        self.state = State::Done(outcome);
    }

    /// After the capabilities: STARTTLS, or give up.
    fn ask_starttls(&mut self, command: Vec<u8>, next: State) {
        if self.report.starttls_offered || self.config.attempt_unadvertised {
            self.send(command);
            self.state = next;
        } else {
            self.done(Outcome::Unavailable, "");
        }
    }

    fn imap_caps(&mut self, caps: Vec<String>) {
        let has = |c: &str| caps.iter().any(|x| x.eq_ignore_ascii_case(c));
        self.report.starttls_offered = has("STARTTLS");
        self.report.login_disabled = has("LOGINDISABLED");
        self.report.auth_mechanisms = caps
            .iter()
            .filter_map(|c| {
                let upper = c.to_ascii_uppercase();
                upper.strip_prefix("AUTH=").map(str::to_string)
            })
            .collect();
        self.report.plaintext_auth_offered = !self.report.login_disabled
            || self
                .report
                .auth_mechanisms
                .iter()
                .any(|m| m == "PLAIN" || m == "LOGIN");
        self.report.capabilities = caps;
    }

    fn imap_line(&mut self, line: &str) -> Result<(), DialectError> {
        match self.state {
            State::Greeting => {
                let greeting = imap::parse_greeting(line)
                    .ok_or_else(|| self.unexpected("an IMAP greeting (* OK ...)", line))?;
                self.report.greeting = line.to_string();
                match greeting.kind {
                    GreetingKind::Bye => self.done(Outcome::Rejected, line),
                    GreetingKind::Preauth => {
                        self.report.preauth = true;
                        self.done(Outcome::Unavailable, line);
                    }
                    GreetingKind::Ok => match greeting.capabilities {
                        Some(caps) => {
                            self.imap_caps(caps);
                            self.ask_starttls(imap::command("a2", "STARTTLS"), State::ImapStartTls);
                        }
                        None => {
                            self.send(imap::command("a1", "CAPABILITY"));
                            self.state = State::ImapCapability;
                        }
                    },
                }
            }
            State::ImapCapability => match imap::parse_response(line) {
                Some(Response::Capability(caps)) => self.imap_caps(caps),
                Some(Response::Tagged { tag, status, .. }) if tag == "a1" => {
                    if status != Status::Ok {
                        return Err(self.unexpected("a1 OK (CAPABILITY)", line));
                    }
                    self.ask_starttls(imap::command("a2", "STARTTLS"), State::ImapStartTls);
                }
                Some(Response::Untagged(_)) => {}
                _ => return Err(self.unexpected("a CAPABILITY response", line)),
            },
            State::ImapStartTls => match imap::parse_response(line) {
                Some(Response::Tagged { tag, status, .. }) if tag == "a2" => {
                    let outcome = if status == Status::Ok {
                        Outcome::Success
                    } else {
                        Outcome::Refused
                    };
                    self.done(outcome, line);
                }
                Some(Response::Untagged(_)) | Some(Response::Capability(_)) => {}
                _ => return Err(self.unexpected("a2 OK (STARTTLS)", line)),
            },
            _ => return Err(self.unexpected("nothing", line)),
        }
        Ok(())
    }

    fn pop3_line(&mut self, line: &str) -> Result<(), DialectError> {
        match self.state {
            State::Greeting => {
                let status = pop3::parse_status(line)
                    .ok_or_else(|| self.unexpected("a POP3 greeting (+OK ...)", line))?;
                self.report.greeting = line.to_string();
                if status.ok {
                    self.send(pop3::command("CAPA"));
                    self.state = State::Pop3CapaStatus;
                } else {
                    self.done(Outcome::Rejected, line);
                }
            }
            State::Pop3CapaStatus => {
                let status = pop3::parse_status(line)
                    .ok_or_else(|| self.unexpected("+OK or -ERR (CAPA)", line))?;
                if status.ok {
                    self.state = State::Pop3CapaList;
                } else {
                    self.ask_starttls(pop3::command("STLS"), State::Pop3Stls);
                }
            }
            State::Pop3CapaList => match pop3::multiline_item(line) {
                Some(item) => {
                    let (word, rest) = crate::line::split_word(item);
                    let word = word.to_ascii_uppercase();
                    if word == "STLS" {
                        self.report.starttls_offered = true;
                    }
                    if word == "USER" {
                        self.report.plaintext_auth_offered = true;
                    }
                    if word == "SASL" {
                        // A bare `SASL` (Dovecot with plaintext auth off)
                        // offers no mechanism at all.
                        let mechanisms: Vec<String> = rest
                            .split_whitespace()
                            .map(|m| m.to_ascii_uppercase())
                            .collect();
                        self.report.plaintext_auth_offered |= !mechanisms.is_empty();
                        self.report.auth_mechanisms.extend(mechanisms);
                    }
                    self.report.capabilities.push(item.to_string());
                }
                None => self.ask_starttls(pop3::command("STLS"), State::Pop3Stls),
            },
            State::Pop3Stls => {
                let status = pop3::parse_status(line)
                    .ok_or_else(|| self.unexpected("+OK or -ERR (STLS)", line))?;
                let outcome = if status.ok {
                    Outcome::Success
                } else {
                    Outcome::Refused
                };
                self.done(outcome, line);
            }
            _ => return Err(self.unexpected("nothing", line)),
        }
        Ok(())
    }

    fn smtp_line(&mut self, line: &str) -> Result<(), DialectError> {
        let Some(reply) = self.smtp.push_line(line)? else {
            return Ok(());
        };
        let whole = format!("{} {}", reply.code, reply.text());
        match self.state {
            State::Greeting => {
                self.report.greeting = reply.text();
                if reply.code == 220 {
                    let ehlo = format!("EHLO {}", self.config.ehlo_name);
                    self.send(smtp::command(&ehlo));
                    self.state = State::SmtpEhlo;
                } else {
                    self.done(Outcome::Rejected, &whole);
                }
            }
            State::SmtpEhlo => {
                if reply.is_positive() {
                    let ehlo = Ehlo::from_reply(&reply);
                    self.report.starttls_offered = ehlo.has("STARTTLS");
                    self.report.auth_mechanisms = ehlo.auth_mechanisms();
                    self.report.plaintext_auth_offered = !self.report.auth_mechanisms.is_empty();
                    self.report.capabilities = ehlo.extensions;
                    self.ask_starttls(smtp::command("STARTTLS"), State::SmtpStartTls);
                } else if (500..600).contains(&reply.code) {
                    let helo = format!("HELO {}", self.config.ehlo_name);
                    self.send(smtp::command(&helo));
                    self.state = State::SmtpHelo;
                } else {
                    self.done(Outcome::Rejected, &whole);
                }
            }
            State::SmtpHelo => {
                if reply.is_positive() {
                    self.ask_starttls(smtp::command("STARTTLS"), State::SmtpStartTls);
                } else {
                    self.done(Outcome::Rejected, &whole);
                }
            }
            State::SmtpStartTls => {
                let outcome = if reply.code == 220 {
                    Outcome::Success
                } else {
                    Outcome::Refused
                };
                self.done(outcome, &whole);
            }
            _ => return Err(self.unexpected("nothing", line)),
        }
        Ok(())
    }
}
