//! How a listener ends a connection it answers itself (a refusal, an
//! HTTP answer): the plain HTTP response, and the lingering close. A leaf
//! module, so that the listeners that use them do not import each other.

use tokio::io::{AsyncRead, AsyncReadExt};

/// A complete `text/plain` HTTP/1.1 response that closes the connection.
pub(crate) fn plain(status: u16, reason: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// How long, and how much, a refused client may still send before the
/// socket is dropped.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_BYTES: usize = 64 * 1024;

/// Reads and discards what the client still sends, for a moment, after our
/// side is closed. Dropping a socket with unread input makes the kernel
/// answer with a reset, which can destroy the refusal before the client
/// reads it (nginx's "lingering close" exists for the same reason).
pub(crate) async fn linger<S: AsyncRead + Unpin>(stream: &mut S) {
    let mut sink = [0u8; 4096];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 || n >= left {
                break;
            }
            left -= n;
        }
    })
    .await;
}
