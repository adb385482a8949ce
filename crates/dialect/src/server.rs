//! The server side: what a front end says to a client before TLS.

use crate::line::{text, LineReader};
use crate::setup::{Action, ServerConfig, ServerMode};
use crate::{imap, pop3, smtp, Limits, Protocol};

impl ServerConfig {
    pub fn new(protocol: Protocol, hostname: impl Into<String>, mode: ServerMode) -> ServerConfig {
        ServerConfig {
            protocol,
            hostname: hostname.into(),
            mode,
            limits: Limits::default(),
            smtp_extensions: smtp::default_extensions(),
        }
    }
}

/// Why the server side ends a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// `QUIT` / `LOGOUT`.
    ClientQuit,
    LineTooLong,
    TooManyCommands,
}

/// What the front end must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// Write these bytes to the client and keep reading.
    Reply(Vec<u8>),
    /// Write these bytes, then close the connection.
    Close(Vec<u8>, CloseReason),
    /// Write these bytes (the positive STARTTLS/STLS answer), then call
    /// [`PlainServer::start_tls`] and begin the TLS handshake.
    StartTls(Vec<u8>),
    /// SMTP in [`ServerMode::Offer`]: the client goes on without TLS.
    /// Call [`PlainServer::into_plaintext`].
    Plaintext,
}

/// A plaintext session before TLS, server side. Feed it what the client
/// sends with [`receive`](Self::receive), act on [`next_event`](Self::next_event)
/// until it returns `None` (needs more bytes).
#[derive(Debug)]
pub struct PlainServer {
    config: ServerConfig,
    reader: LineReader,
    commands: usize,
    helo: Option<Vec<u8>>,
    pending: Option<Vec<u8>>,
    finished: bool,
}

/// The session after a positive STARTTLS answer: the plaintext is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct TlsUpgrade {
    /// How many bytes the client had sent after the STARTTLS command line
    /// (pipelined or injected); they were discarded, never interpreted.
    pub discarded: usize,
}

/// SMTP without TLS: what to replay to the backend before piping.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Passthrough {
    /// The client's last `EHLO`/`HELO` line (with CRLF), to send to the
    /// backend after its banner; its reply is not for the client.
    pub replay: Option<Vec<u8>>,
    /// The command that left the pre-TLS dialogue and everything the
    /// client sent after it: forward as is.
    pub forward: Vec<u8>,
}

impl PlainServer {
    pub fn new(config: ServerConfig) -> PlainServer {
        let reader = LineReader::new(config.limits.max_line);
        PlainServer {
            config,
            reader,
            commands: 0,
            helo: None,
            pending: None,
            finished: false,
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The greeting to write as soon as the client connects.
    pub fn greeting(&self) -> Vec<u8> {
        let host = &self.config.hostname;
        match self.config.protocol {
            Protocol::Imap => imap::greeting(host),
            Protocol::Pop3 => pop3::greeting(host),
            Protocol::Smtp => smtp::greeting(host),
        }
    }

    /// The protocol's answer when the client idles too long before TLS.
    pub fn timeout_reply(&self) -> Vec<u8> {
        timeout_reply(self.config.protocol, &self.config.hostname)
    }

    /// Adds bytes received from the client.
    pub fn receive(&mut self, data: &[u8]) {
        if !self.finished {
            self.reader.push(data);
        }
    }

    /// The next thing to do, or `None` when more bytes are needed. After
    /// `Close`, `StartTls` or `Plaintext` it returns `None` forever.
    pub fn next_event(&mut self) -> Option<ServerEvent> {
        if self.finished {
            return None;
        }
        let protocol = self.config.protocol;
        let host = self.config.hostname.clone();
        let line = match self.reader.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return None,
            Err(_) => {
                self.finished = true;
                return Some(ServerEvent::Close(
                    line_too_long_reply(protocol),
                    CloseReason::LineTooLong,
                ));
            }
        };
        self.commands += 1;
        if self.commands > self.config.limits.max_commands {
            self.finished = true;
            let reply = match protocol {
                Protocol::Imap => imap::too_many_commands_reply(),
                Protocol::Pop3 => pop3::too_many_commands_reply(),
                Protocol::Smtp => smtp::too_many_commands_reply(&host),
            };
            return Some(ServerEvent::Close(reply, CloseReason::TooManyCommands));
        }
        let text = text(&line);
        let action = match protocol {
            Protocol::Imap => imap::serve(&self.config, &text),
            Protocol::Pop3 => pop3::serve(&self.config, &text),
            Protocol::Smtp => smtp::serve(&self.config, &text),
        };
        Some(match action {
            Action::Reply(bytes) => ServerEvent::Reply(bytes),
            Action::Helo(bytes) => {
                let mut replay = line;
                replay.extend_from_slice(b"\r\n");
                self.helo = Some(replay);
                ServerEvent::Reply(bytes)
            }
            Action::Close(bytes) => {
                self.finished = true;
                ServerEvent::Close(bytes, CloseReason::ClientQuit)
            }
            Action::StartTls(bytes) => {
                self.finished = true;
                ServerEvent::StartTls(bytes)
            }
            Action::Plaintext => {
                self.finished = true;
                let mut forward = line;
                forward.extend_from_slice(b"\r\n");
                self.pending = Some(forward);
                ServerEvent::Plaintext
            }
        })
    }

    /// Ends the plaintext session for TLS. Whatever the client sent after
    /// the STARTTLS line is discarded here (CVE-2011-0411): it must never
    /// be read as if it had come over TLS.
    pub fn start_tls(self) -> TlsUpgrade {
        TlsUpgrade {
            discarded: self.reader.into_rest().len(),
        }
    }

    /// Ends the pre-TLS dialogue without TLS (SMTP, [`ServerMode::Offer`]).
    pub fn into_plaintext(self) -> Passthrough {
        let mut forward = self.pending.unwrap_or_default();
        forward.extend_from_slice(&self.reader.into_rest());
        Passthrough {
            replay: self.helo,
            forward,
        }
    }
}

/// The protocol's answer when a client idles too long.
pub fn timeout_reply(protocol: Protocol, hostname: &str) -> Vec<u8> {
    match protocol {
        Protocol::Imap => imap::timeout_reply(),
        Protocol::Pop3 => pop3::timeout_reply(),
        Protocol::Smtp => smtp::timeout_reply(hostname),
    }
}

/// The protocol's answer when the backend is down or too slow.
pub fn unavailable_reply(protocol: Protocol, hostname: &str) -> Vec<u8> {
    match protocol {
        Protocol::Imap => imap::unavailable_reply(),
        Protocol::Pop3 => pop3::unavailable_reply(),
        Protocol::Smtp => smtp::unavailable_reply(hostname),
    }
}

/// The protocol's answer to a line over the limit.
pub fn line_too_long_reply(protocol: Protocol) -> Vec<u8> {
    match protocol {
        Protocol::Imap => imap::line_too_long_reply(),
        Protocol::Pop3 => pop3::line_too_long_reply(),
        Protocol::Smtp => smtp::line_too_long_reply(),
    }
}
