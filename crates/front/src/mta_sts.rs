//! MTA-STS policies on the HTTPS listeners (RFC 8461 §3.2): a client whose
//! SNI is `mta-sts.<domain>` of a configured `[[mta_sts]]` entry is
//! answered by the front end itself, never by the backend:
//! `GET /.well-known/mta-sts.txt` with that same `Host` gets the policy
//! as `text/plain` with CRLF line endings, anything else 404. A listener
//! with no backend answers every client this way (by `Host` when the
//! client sent no SNI).
//!
//! Written by hand rather than with an HTTP server crate: one bounded
//! request head, one static answer and a close is all RFC 8461 asks of a
//! policy host, and the front end stays at layer 4 for everything else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mailcert_config::MtaSts;
use mailcert_mtasts::WELL_KNOWN_PATH;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest request head read before answering 431.
const MAX_HEAD: usize = 8192;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The policies of a configuration, by policy host (`mta-sts.<domain>`).
#[derive(Debug, Default)]
pub struct PolicyHosts {
    by_host: HashMap<String, Arc<String>>,
}

impl PolicyHosts {
    pub fn new(entries: &[MtaSts]) -> PolicyHosts {
        PolicyHosts {
            by_host: entries
                .iter()
                .map(|e| (e.policy_host(), Arc::new(e.policy.text())))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_host.is_empty()
    }

    /// Whether `host` (an SNI or a `Host` header) is a policy host.
    pub fn serves(&self, host: &str) -> bool {
        self.policy(host).is_some()
    }

    fn policy(&self, host: &str) -> Option<&Arc<String>> {
        self.by_host
            .get(host.trim_end_matches('.').to_ascii_lowercase().as_str())
    }
}

/// Answers one HTTPS connection from the policies: reads one request head
/// (bounded in size and time), answers, closes.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    hosts: &PolicyHosts,
    sni: Option<&str>,
) -> Result<String, String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
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
            Ok(_) => return Ok("client closed before a request".into()),
            Err(_) => return Err("no request head within 10 s, closed".into()),
        }
    };
    let (status, response) = if complete {
        respond(&String::from_utf8_lossy(&head), hosts, sni)
    } else {
        (
            431,
            answer(
                431,
                "Request Header Fields Too Large",
                "request head too large\n",
                true,
            ),
        )
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    crate::closing::linger(&mut stream).await;
    Ok(format!("MTA-STS policy host answered {status}"))
}

/// The status and the response to one request head.
pub fn respond(head: &str, hosts: &PolicyHosts, sni: Option<&str>) -> (u16, String) {
    let mut lines = head.lines();
    let request = lines.next().unwrap_or("");
    let mut parts = request.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return (400, answer(400, "Bad Request", "bad request line\n", true));
    };
    let host = lines
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
        .map(|(_, v)| {
            crate::http::strip_port(v.trim())
                .trim_end_matches('.')
                .to_ascii_lowercase()
        });
    let with_body = method != "HEAD";
    let not_found = || {
        (
            404,
            answer(
                404,
                "Not Found",
                "This host serves only the MTA-STS policy at /.well-known/mta-sts.txt.\n",
                with_body,
            ),
        )
    };
    // The policy of the name the client asked for in the handshake, and
    // of the same name in Host: a client cannot read one domain's policy
    // over another's certificate.
    let Some(host) = host else {
        return (
            400,
            answer(400, "Bad Request", "a Host header is needed\n", with_body),
        );
    };
    if sni.is_some_and(|sni| !sni.trim_end_matches('.').eq_ignore_ascii_case(&host)) {
        return not_found();
    }
    let Some(policy) = hosts.policy(&host) else {
        return not_found();
    };
    if target != WELL_KNOWN_PATH {
        return not_found();
    }
    if method != "GET" && method != "HEAD" {
        return (
            405,
            "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
        );
    }
    (200, answer(200, "OK", policy, with_body))
}

fn answer(status: u16, reason: &str, body: &str, with_body: bool) -> String {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if with_body { body } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> PolicyHosts {
        let config = mailcert_config::Config::parse(
            "[[mta_sts]]\ndomain = \"contoso.com\"\nmode = \"testing\"\nmx = [\"mx1.contoso.com\"]\nmax_age = 86400\n",
            std::path::Path::new("m.toml"),
        )
        .unwrap();
        PolicyHosts::new(&config.mta_sts)
    }

    const POLICY: &str =
        "version: STSv1\r\nmode: testing\r\nmx: mx1.contoso.com\r\nmax_age: 86400\r\n";

    #[test]
    fn the_policy_for_its_host_and_path_only() {
        let hosts = hosts();
        let get = |head: &str, sni| respond(head, &hosts, sni);
        let sni = Some("mta-sts.contoso.com");
        let (status, r) = get(
            "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: MTA-STS.contoso.com:443\r\n\r\n",
            sni,
        );
        assert_eq!(status, 200);
        assert!(r.contains("\r\nContent-Type: text/plain\r\n"), "{r}");
        let tail = format!(
            "Content-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n{POLICY}",
            POLICY.len()
        );
        assert!(r.ends_with(&tail), "{r}");
        let (status, r) = get(
            "HEAD /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.contoso.com\r\n\r\n",
            sni,
        );
        assert_eq!(status, 200);
        assert!(r.ends_with("\r\n\r\n"), "{r}");
        for (head, sni, expected) in [
            (
                "GET / HTTP/1.1\r\nHost: mta-sts.contoso.com\r\n\r\n",
                sni,
                404,
            ),
            (
                "GET /.well-known/mta-sts.txt?x HTTP/1.1\r\nHost: mta-sts.contoso.com\r\n\r\n",
                sni,
                404,
            ),
            // Another host than the handshake's, or no policy there.
            (
                "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.fabrikam.com\r\n\r\n",
                sni,
                404,
            ),
            (
                "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.fabrikam.com\r\n\r\n",
                Some("mta-sts.fabrikam.com"),
                404,
            ),
            (
                "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mail.contoso.com\r\n\r\n",
                None,
                404,
            ),
            (
                "POST /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.contoso.com\r\n\r\n",
                sni,
                405,
            ),
            ("GET /.well-known/mta-sts.txt HTTP/1.1\r\n\r\n", sni, 400),
            ("\r\n\r\n", sni, 400),
        ] {
            assert_eq!(get(head, sni).0, expected, "{head:?} with SNI {sni:?}");
        }
        // No SNI: the Host header alone decides.
        assert_eq!(
            get(
                "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: mta-sts.contoso.com\r\n\r\n",
                None
            )
            .0,
            200
        );
    }
}
