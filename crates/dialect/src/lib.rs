//! The STARTTLS dialects of IMAP, POP3 and SMTP, for both sides of the
//! connection: what a server says before TLS (the front end), and what a
//! client must send, parse and watch for (the checker). One grammar, two
//! sides, tested against each other.
//!
//! Sans-IO: bytes in, events and bytes out. No sockets, no async runtime,
//! no clock; the caller reads, writes and enforces timeouts. Every line
//! from the peer goes through a [`LineReader`] with a length limit.
//!
//! STARTTLS changes the type. [`PlainServer::start_tls`] and
//! [`PlainClient::finish`] consume the plaintext session, so no code can
//! keep reading the plaintext buffer after the upgrade: the server side
//! discards whatever the client pipelined after the STARTTLS line
//! ([`TlsUpgrade::discarded`]); the client side reports whatever the
//! server sent after its positive answer ([`TlsReady::injected`]).
//!
//! # Client side (a checker)
//!
//! ```
//! use mailcert_dialect::{ClientConfig, ClientStep, PlainClient, Protocol, StartTlsResult};
//!
//! let mut client = PlainClient::new(ClientConfig::new(Protocol::Pop3));
//! // Bytes as they would come from the socket:
//! let mut from_server: Vec<&[u8]> = vec![
//!     b"+OK ready\r\n",
//!     b"+OK\r\nSTLS\r\nUSER\r\n.\r\n",
//!     b"+OK Begin TLS\r\n",
//! ];
//! loop {
//!     match client.step().unwrap() {
//!         ClientStep::Send(bytes) => { /* write `bytes` to the socket */ let _ = bytes; }
//!         ClientStep::NeedInput => client.receive(from_server.remove(0)),
//!         ClientStep::Finished => break,
//!     }
//! }
//! match client.finish().unwrap() {
//!     StartTlsResult::Success(ready) => {
//!         assert!(ready.report.starttls_offered);
//!         assert!(ready.report.plaintext_auth_offered); // USER before TLS
//!         assert!(ready.injected.is_empty());
//!         // now run the TLS handshake on the same socket
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```
//!
//! # Server side (the front end)
//!
//! ```
//! use mailcert_dialect::{PlainServer, Protocol, ServerConfig, ServerEvent, ServerMode};
//!
//! let mut server = PlainServer::new(ServerConfig::new(Protocol::Imap, "mail.example.com", ServerMode::Require));
//! let _greeting = server.greeting(); // write it first
//! server.receive(b"a STARTTLS\r\nb LOGIN injected\r\n");
//! assert!(matches!(server.next_event(), Some(ServerEvent::StartTls(_))));
//! let upgrade = server.start_tls(); // the plaintext session is gone
//! assert_eq!(upgrade.discarded, b"b LOGIN injected\r\n".len());
//! ```
//!
//! After the dialogue, [`relay`] carries the session command by command,
//! answering itself what must never reach the backend: a second
//! `STARTTLS`/`STLS` inside TLS, and SMTP `AUTH` without TLS.
//!
//! Also here: the greeting parsers and reply parsers each protocol needs
//! after TLS ([`imap::parse_greeting`], [`pop3::parse_status`],
//! [`smtp::ReplyParser`], [`smtp::Ehlo`]) and the in-protocol answers for
//! timeouts and unreachable backends ([`unavailable_reply`]).
#![forbid(unsafe_code)]

mod client;
mod error;
pub mod imap;
mod line;
pub mod pop3;
pub mod relay;
mod server;
mod setup;
pub mod smtp;

pub use client::{
    ClientConfig, ClientStep, PlainClient, PreTlsReport, StartTlsResult, TlsReady, MAX_LINES,
};
pub use error::DialectError;
pub use line::LineReader;
pub use server::{
    line_too_long_reply, timeout_reply, unavailable_reply, CloseReason, Passthrough, PlainServer,
    ServerEvent, TlsUpgrade,
};
pub use setup::{ServerConfig, ServerMode};

/// The three mail protocols with a STARTTLS dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Imap,
    Pop3,
    Smtp,
}

impl Protocol {
    /// `IMAP`, `POP3`, `SMTP`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Imap => "IMAP",
            Protocol::Pop3 => "POP3",
            Protocol::Smtp => "SMTP",
        }
    }

    /// The command that starts TLS: `STARTTLS`, or `STLS` for POP3.
    pub fn starttls_command(self) -> &'static str {
        match self {
            Protocol::Pop3 => "STLS",
            _ => "STARTTLS",
        }
    }
}

/// Limits on what a peer may send before TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line, without its line ending (RFC 5321 allows 512 for an
    /// SMTP command line; IMAP clients send long CAPABILITY-free lines
    /// only after login).
    pub max_line: usize,
    /// Commands (server side) accepted before TLS.
    pub max_commands: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 4096,
            max_commands: 20,
        }
    }
}
