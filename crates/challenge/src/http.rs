//! The HTTP request head a challenge listener reads: bounded in size and
//! time, parsed with `httparse`; and the HTTP-01 answer to it.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::board::ChallengeBoard;

/// The largest request head read.
pub const MAX_HEAD: usize = 8192;
/// How long a client may take to send its whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Headers kept while parsing; a head with more is refused.
const MAX_HEADERS: usize = 64;

/// What a request head says that a challenge listener needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The request target as sent (`/path?query`, or an absolute form).
    pub target: String,
    /// The Host header, trimmed, when there is one.
    pub host: Option<String>,
}

impl RequestHead {
    /// Parses a head: `Ok(None)` while it is incomplete, an error when it
    /// is not HTTP/1.x.
    pub fn parse(bytes: &[u8]) -> Result<Option<RequestHead>, httparse::Error> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        if request.parse(bytes)?.is_partial() {
            return Ok(None);
        }
        let host = request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("host"))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string());
        Ok(Some(RequestHead {
            method: request.method.unwrap_or_default().to_string(),
            target: request.path.unwrap_or_default().to_string(),
            host,
        }))
    }

    /// The target's path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The HTTP-01 answer on `board` for this request, when it asks for
    /// one that is offered.
    pub fn http01(&self, board: &ChallengeBoard) -> Option<String> {
        board.http01_path(self.path())
    }
}

/// How reading a request head ended.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadRead {
    Complete(RequestHead),
    /// Not HTTP/1.x.
    Malformed,
    /// Longer than [`MAX_HEAD`].
    TooLarge,
    /// The client closed, failed or ran out of time before the end.
    Gone,
}

/// Reads one request head from `stream`, at most [`MAX_HEAD`] bytes, all
/// within [`HEAD_TIMEOUT`]: a client trickling a byte at a time cannot
/// hold the connection longer than that.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> HeadRead {
    let deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        match RequestHead::parse(&head) {
            Ok(Some(parsed)) => return HeadRead::Complete(parsed),
            Err(_) => return HeadRead::Malformed,
            Ok(None) if head.len() > MAX_HEAD => return HeadRead::TooLarge,
            Ok(None) => {}
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&chunk[..n]),
            _ => return HeadRead::Gone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_gives_its_method_target_and_host() {
        let head = RequestHead::parse(
            b"GET /.well-known/acme-challenge/tok?x=1 HTTP/1.1\r\nhost:  mail.example.com:80 \r\n\r\nbody",
        )
        .expect("valid")
        .expect("complete");
        assert_eq!(head.method, "GET");
        assert_eq!(head.path(), "/.well-known/acme-challenge/tok");
        assert_eq!(head.host.as_deref(), Some("mail.example.com:80"));
        let board = ChallengeBoard::new();
        assert_eq!(head.http01(&board), None);
        board.set_http01("tok", Some("tok.thumb".into()));
        assert_eq!(head.http01(&board).as_deref(), Some("tok.thumb"));
    }

    #[test]
    fn partial_and_broken_heads_are_told_apart() {
        assert_eq!(
            RequestHead::parse(b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Ok(None)
        );
        assert!(RequestHead::parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .expect("valid")
            .is_some());
        // Bare line feeds, as some clients send them.
        assert!(RequestHead::parse(b"GET / HTTP/1.0\nHost: a\n\n")
            .expect("valid")
            .is_some());
        assert!(RequestHead::parse(b"GET /a\0b HTTP/1.1\r\n\r\n").is_err());
        assert!(RequestHead::parse(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").is_err());
    }

    #[tokio::test]
    async fn reading_stops_at_the_limit_or_when_the_client_goes() {
        let mut complete: &[u8] = b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert!(matches!(
            read_head(&mut complete).await,
            HeadRead::Complete(RequestHead { ref method, .. }) if method == "HEAD"
        ));
        let endless = [b"GET / HTTP/1.1\r\n".as_slice(), &[b'X'; MAX_HEAD + 10]].concat();
        assert_eq!(read_head(&mut endless.as_slice()).await, HeadRead::TooLarge);
        let mut cut: &[u8] = b"GET / HTTP/1.1\r\nHost";
        assert_eq!(read_head(&mut cut).await, HeadRead::Gone);
        let mut tls: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
        assert_eq!(read_head(&mut tls).await, HeadRead::Malformed);
    }
}
