//! How the server side is set up, and what a protocol module decides
//! for a line: the names the server loop and the protocol modules share,
//! in a leaf module so that they do not import each other for them.

use crate::{Limits, Protocol};

/// Whether the listener lets clients go on without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMode {
    /// TLS is offered. SMTP clients that never start TLS (servers on
    /// port 25) are handed to the backend in plaintext
    /// ([`ServerEvent::Plaintext`](crate::ServerEvent::Plaintext)); IMAP and POP3 still refuse login
    /// before TLS (`LOGINDISABLED`, `-ERR [AUTH]`).
    Offer,
    /// Nothing but the pre-TLS dialogue is accepted; SMTP answers other
    /// commands with `530 5.7.0`.
    Require,
}

/// How the server side is set up for one listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub protocol: Protocol,
    /// The FQDN in the greeting and replies.
    pub hostname: String,
    pub mode: ServerMode,
    pub limits: Limits,
    /// SMTP: the backend's `EHLO` extensions to offer before TLS (`AUTH`
    /// and `STARTTLS` are filtered out); [`smtp::DEFAULT_EXTENSIONS`](crate::smtp::DEFAULT_EXTENSIONS)
    /// when unknown.
    pub smtp_extensions: Vec<String>,
}

/// What one protocol module decides for one line.
#[derive(Debug)]
pub(crate) enum Action {
    Reply(Vec<u8>),
    /// SMTP `EHLO`/`HELO`: answered, and remembered for a plaintext replay.
    Helo(Vec<u8>),
    Close(Vec<u8>),
    StartTls(Vec<u8>),
    Plaintext,
}
