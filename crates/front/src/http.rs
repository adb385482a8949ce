//! The plain HTTP listener: answers ACME HTTP-01 challenges and redirects
//! everything else to HTTPS. It reads one request head (bounded) and
//! closes.

use std::sync::Arc;
use std::time::Duration;

use mailcert_config::Redirect;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::challenges::Challenges;

const MAX_HEAD: usize = 8192;
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// Serves one plain HTTP connection.
pub async fn handle(
    mut stream: TcpStream,
    redirect: Arc<Redirect>,
    challenges: Arc<dyn Challenges>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    // One deadline for the whole head: a client trickling a byte at a time
    // cannot hold the connection longer than that.
    let deadline = tokio::time::Instant::now() + READ_TIMEOUT;
    let complete = loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break true;
        }
        if head.len() > MAX_HEAD {
            break false;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return,
        }
    };
    let response = if complete {
        respond(
            &String::from_utf8_lossy(&head),
            &redirect,
            challenges.as_ref(),
        )
    } else {
        plain(
            431,
            "Request Header Fields Too Large",
            "request head too large\n",
        )
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    crate::session::linger(&mut stream).await;
}

/// The response to one request head.
pub fn respond(head: &str, redirect: &Redirect, challenges: &dyn Challenges) -> String {
    let mut lines = head.lines();
    let request = lines.next().unwrap_or("");
    let mut parts = request.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return plain(400, "Bad Request", "bad request line\n");
    };
    // The target goes back in the Location header: only what a request
    // target may hold (visible ASCII, RFC 9112 3.2), never a control
    // character or a byte that was not text.
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return plain(400, "Bad Request", "bad request target\n");
    }
    let host = lines
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim().to_string());
    if let Some(token) = target.strip_prefix(CHALLENGE_PATH) {
        if let Some(answer) = challenges.http01(token) {
            return plain(200, "OK", &answer);
        }
        // `mailcert acme` recognises a front end by this answer before it
        // hands answers over through the store (mailcert-acme, served.rs):
        // keep the body.
        return plain(404, "Not Found", "no such challenge\n");
    }
    let host = match (&redirect.hostname, host) {
        (Some(h), _) => h.clone(),
        (None, Some(h)) => strip_port(&h).to_string(),
        (None, None) => {
            return plain(
                400,
                "Bad Request",
                "a Host header is needed for the redirect\n",
            )
        }
    };
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'))
    {
        return plain(400, "Bad Request", "bad Host header\n");
    }
    let port = match redirect.https_port {
        443 => String::new(),
        p => format!(":{p}"),
    };
    let path = if target.starts_with('/') { target } else { "/" };
    let location = format!("https://{host}{port}{path}");
    let status = if method == "GET" || method == "HEAD" {
        301
    } else {
        308
    };
    let reason = if status == 301 {
        "Moved Permanently"
    } else {
        "Permanent Redirect"
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

pub(crate) fn plain(status: u16, reason: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenges::ChallengeMap;

    #[test]
    fn redirects_and_challenges() {
        let redirect = Redirect {
            name: "http".into(),
            bind: "127.0.0.1:80".parse().unwrap(),
            https_port: 8443,
            hostname: None,
        };
        let map = ChallengeMap::new();
        map.set_http01("tok", Some("tok.thumb".into()));
        let r = respond(
            "GET /owa?x=1 HTTP/1.1\r\nHost: mail.example.com:8080\r\n\r\n",
            &redirect,
            map.as_ref(),
        );
        assert!(r.starts_with("HTTP/1.1 301"), "{r}");
        assert!(
            r.contains("Location: https://mail.example.com:8443/owa?x=1\r\n"),
            "{r}"
        );
        let r = respond(
            "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: a\r\n\r\n",
            &redirect,
            map.as_ref(),
        );
        assert!(
            r.starts_with("HTTP/1.1 200") && r.ends_with("tok.thumb"),
            "{r}"
        );
        let r = respond(
            "GET / HTTP/1.1\r\nHost: evil\r\n\r\nx\r\n",
            &redirect,
            map.as_ref(),
        );
        assert!(r.contains("https://evil:8443/"));
        let r = respond(
            "GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n",
            &redirect,
            map.as_ref(),
        );
        assert!(r.starts_with("HTTP/1.1 400"));
    }

    /// Found by the fuzz target http_head: a NUL and bytes that were not
    /// UTF-8 in the request target went into the Location header.
    #[test]
    fn a_target_with_control_or_non_text_bytes_is_refused() {
        let redirect = Redirect {
            name: "http".into(),
            bind: "127.0.0.1:80".parse().unwrap(),
            https_port: 443,
            hostname: Some("mail.example.com".into()),
        };
        let map = ChallengeMap::new();
        for head in [
            &b"GET /ewll-knownK\0cme-ch\x9f\x93\x93\x97nge/token HTTP/2.0\r\nHost: mail.example.com\r\n\r\n"[..],
            b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",
            b"GET /a\x7fb HTTP/1.1\r\n\r\n",
        ] {
            let r = respond(&String::from_utf8_lossy(head), &redirect, map.as_ref());
            assert!(r.starts_with("HTTP/1.1 400"), "{r}");
            assert!(!r.contains("Location"), "{r}");
        }
        let r = respond(
            "GET /owa/?a=b%20c HTTP/1.1\r\n\r\n",
            &redirect,
            map.as_ref(),
        );
        assert!(
            r.contains("Location: https://mail.example.com/owa/?a=b%20c\r\n"),
            "{r}"
        );
    }
}
