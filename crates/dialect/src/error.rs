//! What can go wrong while speaking a dialect.

use thiserror::Error;

/// Errors of the client side (the server side answers every problem in
/// the protocol itself, see [`crate::ServerEvent::Close`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DialectError {
    /// The peer sent a line longer than the limit.
    #[error("the peer sent a line longer than {limit} bytes before TLS; it is not speaking the protocol, or is hostile")]
    LineTooLong { limit: usize },
    /// The peer said something the grammar does not allow here.
    #[error("{protocol}: expected {expected}, got \"{got}\"")]
    Unexpected {
        protocol: &'static str,
        expected: &'static str,
        got: String,
    },
    /// More reply lines than any sane server sends before TLS.
    #[error("{protocol}: the server sent more than {limit} lines before TLS")]
    TooManyLines {
        protocol: &'static str,
        limit: usize,
    },
    /// `finish` was called before the negotiation was over.
    #[error("the STARTTLS negotiation is not finished yet (call step until it returns Finished)")]
    NotFinished,
}
