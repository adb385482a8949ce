//! SMTP inside TLS: the client's first command after STARTTLS is relayed
//! by the front end itself, so that the backend's `EHLO` reply reaches the
//! client without `STARTTLS` (RFC 3207, section 4.2). A backend behind a
//! TLS front end often still offers it (Postfix with
//! `smtpd_tls_security_level = may`), and a client that believed it would
//! ask for TLS a second time, which the backend would then try to start.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend::{self, BackendError};
use crate::session::ListenerRuntime;

/// Relays the first command; everything after it is left to the pipe.
pub(crate) async fn relay_first_command<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    backend: &mut TcpStream,
    rt: &ListenerRuntime,
) -> Result<(), BackendError> {
    let limits = &rt.listener.limits;
    let Some((line, rest)) = first_line(client, limits.max_line, limits.idle_timeout).await else {
        return Ok(());
    };
    if !is_ehlo(&line) {
        return forward(backend, &[line, rest].concat()).await;
    }
    let (reply, after) = backend::smtp_command(backend, &line, limits.backend_timeout).await?;
    let reply = if reply.is_positive() {
        reply.without_starttls()
    } else {
        reply
    };
    let answer = [reply.to_bytes(), after].concat();
    // A client gone now is the pipe's business: it sees the close.
    let _ = client.write_all(&answer).await;
    let _ = client.flush().await;
    forward(backend, &rest).await
}

/// The client's first line and whatever came after it in the same reads;
/// `None` (nothing to relay) when the client is silent, closes, or sends
/// no line end within `max_line` bytes — the pipe then carries on as is.
async fn first_line<C: AsyncRead + Unpin>(
    client: &mut C,
    max_line: usize,
    idle: std::time::Duration,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() <= max_line {
        if let Some(end) = got.iter().position(|&b| b == b'\n') {
            let rest = got.split_off(end + 1);
            return Some((got, rest));
        }
        match tokio::time::timeout(idle, client.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    (!got.is_empty()).then(|| (got, Vec::new()))
}

/// Whether `bytes` end with the last line of an SMTP reply (`NNN text`),
/// so that nothing more of the greeting is still to come.
pub(crate) fn is_complete_reply(bytes: &[u8]) -> bool {
    let Some(body) = bytes.strip_suffix(b"\r\n") else {
        return false;
    };
    let last = body.rsplit(|&b| b == b'\n').next().unwrap_or(body);
    last.len() >= 3
        && last[..3].iter().all(u8::is_ascii_digit)
        && last.get(3).is_none_or(|&b| b == b' ')
}

fn is_ehlo(line: &[u8]) -> bool {
    line.len() >= 5 && line[..4].eq_ignore_ascii_case(b"EHLO") && line[4].is_ascii_whitespace()
}

async fn forward(backend: &mut TcpStream, bytes: &[u8]) -> Result<(), BackendError> {
    if bytes.is_empty() {
        return Ok(());
    }
    backend
        .write_all(bytes)
        .await
        .map_err(BackendError::Connect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ehlo_is_relayed() {
        assert!(is_ehlo(b"EHLO client.example\r\n"));
        assert!(is_ehlo(b"ehlo x\r\n"));
        assert!(!is_ehlo(b"HELO x\r\n"));
        assert!(!is_ehlo(b"EHLOX\r\n"));
        assert!(!is_ehlo(b"EHL"));
    }

    #[test]
    fn a_greeting_is_complete_at_its_last_line() {
        assert!(is_complete_reply(b"220 mx ESMTP\r\n"));
        assert!(is_complete_reply(b"220-mx\r\n220 ESMTP\r\n"));
        assert!(!is_complete_reply(b"220-mx\r\n"));
        assert!(!is_complete_reply(b"220 mx ESM"));
    }
}
