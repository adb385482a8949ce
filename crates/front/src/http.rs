//! The plain HTTP listener: answers ACME HTTP-01 challenges and redirects
//! everything else to HTTPS. It reads one request head (bounded) and
//! closes.

use std::sync::Arc;

use mailcert_challenge::{read_head, ChallengeBoard, HeadRead, RequestHead, HTTP01_PATH};
use mailcert_config::Redirect;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::closing::plain;

/// Serves one plain HTTP connection.
pub async fn handle(mut stream: TcpStream, redirect: Arc<Redirect>, challenges: ChallengeBoard) {
    let response = match read_head(&mut stream).await {
        HeadRead::Complete(head) => respond_to(&head, &redirect, &challenges),
        HeadRead::Malformed => plain(400, "Bad Request", "bad request line\n"),
        HeadRead::TooLarge => plain(
            431,
            "Request Header Fields Too Large",
            "request head too large\n",
        ),
        HeadRead::Gone => return,
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    crate::closing::linger(&mut stream).await;
}

/// The response to the request head in `head` (what the listener read).
pub fn respond(head: &[u8], redirect: &Redirect, challenges: &ChallengeBoard) -> String {
    match RequestHead::parse(head) {
        Ok(Some(head)) => respond_to(&head, redirect, challenges),
        Ok(None) => plain(400, "Bad Request", "incomplete request head\n"),
        Err(_) => plain(400, "Bad Request", "bad request line\n"),
    }
}

/// The response to one request: an HTTP-01 answer, or the redirect.
fn respond_to(head: &RequestHead, redirect: &Redirect, challenges: &ChallengeBoard) -> String {
    let (method, target) = (head.method.as_str(), head.target.as_str());
    // The target goes back in the Location header: only what a request
    // target may hold (visible ASCII, RFC 9112 3.2), never a control
    // character or a byte that was not text.
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return plain(400, "Bad Request", "bad request target\n");
    }
    if target.starts_with(HTTP01_PATH) {
        if let Some(answer) = head.http01(challenges) {
            return plain(200, "OK", &answer);
        }
        // `mailcert acme` recognises a front end by this answer before it
        // hands answers over through the store (mailcert-acme, served.rs):
        // keep the body.
        return plain(404, "Not Found", "no such challenge\n");
    }
    let host = match (&redirect.hostname, &head.host) {
        (Some(h), _) => h.clone(),
        (None, Some(h)) => strip_port(h).to_string(),
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

/// The name of a `Host` header without its port (`[::1]:80` keeps its
/// brackets); also what the MTA-STS listener looks policies up by.
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_and_challenges() {
        let redirect = Redirect {
            name: "http".into(),
            bind: "127.0.0.1:80".parse().unwrap(),
            https_port: 8443,
            hostname: None,
        };
        let map = ChallengeBoard::new();
        map.set_http01("tok", Some("tok.thumb".into()));
        let r = respond(
            b"GET /owa?x=1 HTTP/1.1\r\nHost: mail.example.com:8080\r\n\r\n",
            &redirect,
            &map,
        );
        assert!(r.starts_with("HTTP/1.1 301"), "{r}");
        assert!(
            r.contains("Location: https://mail.example.com:8443/owa?x=1\r\n"),
            "{r}"
        );
        let r = respond(
            b"GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: a\r\n\r\n",
            &redirect,
            &map,
        );
        assert!(
            r.starts_with("HTTP/1.1 200") && r.ends_with("tok.thumb"),
            "{r}"
        );
        let r = respond(
            b"GET / HTTP/1.1\r\nHost: evil\r\n\r\nx\r\n",
            &redirect,
            &map,
        );
        assert!(r.contains("https://evil:8443/"));
        let r = respond(b"GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", &redirect, &map);
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
        let map = ChallengeBoard::new();
        for head in [
            &b"GET /ewll-knownK\0cme-ch\x9f\x93\x93\x97nge/token HTTP/2.0\r\nHost: mail.example.com\r\n\r\n"[..],
            b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",
            b"GET /a\x7fb HTTP/1.1\r\n\r\n",
        ] {
            let r = respond(head, &redirect, &map);
            assert!(r.starts_with("HTTP/1.1 400"), "{r}");
            assert!(!r.contains("Location"), "{r}");
        }
        let r = respond(b"GET /owa/?a=b%20c HTTP/1.1\r\n\r\n", &redirect, &map);
        assert!(
            r.contains("Location: https://mail.example.com/owa/?a=b%20c\r\n"),
            "{r}"
        );
    }
}
