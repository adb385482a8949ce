//! Python's `ssl` and `http.client` as an HTTPS fetcher, the way a
//! sending MTA written in Python fetches an MTA-STS policy: the server's
//! certificate validated against a CA file and the name asked for, the
//! answer read byte for byte.

use std::net::SocketAddr;
use std::path::Path;

use crate::run;

/// One answer as Python read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonReply {
    pub status: u16,
    pub content_type: String,
    /// The HTTP version the server answered with (`HTTP/1.1`).
    pub version: String,
    pub body: Vec<u8>,
}

const FETCH: &str = r#"
import http.client, socket, ssl, sys
host, address, port, path, ca = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
context = ssl.create_default_context(cafile=ca)
context.minimum_version = ssl.TLSVersion.TLSv1_2
connection = http.client.HTTPSConnection(host, port, context=context, timeout=20)
# Dial the address given, and validate the name asked for (SNI and check).
connection.sock = context.wrap_socket(socket.create_connection((address, port), timeout=20), server_hostname=host)
connection.request("GET", path, headers={"Host": host, "User-Agent": "mailcert-test"})
reply = connection.getresponse()
body = reply.read()
version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(reply.version, str(reply.version))
sys.stdout.write("%d\n%s\n%s\n" % (reply.status, reply.getheader("Content-Type", ""), version))
sys.stdout.flush()
sys.stdout.buffer.write(body)
"#;

/// GETs `https://{host}{path}` from `address`, validating the certificate
/// against `ca_file`; `Err` with Python's error when the TLS handshake or
/// the certificate fails.
pub fn python_https_get(
    host: &str,
    address: SocketAddr,
    path: &str,
    ca_file: &Path,
) -> Result<PythonReply, String> {
    let ip = address.ip().to_string();
    let port = address.port().to_string();
    let ca = ca_file.display().to_string();
    let out = run(
        "/usr/bin/python3",
        &["-c", FETCH, host, &ip, &port, path, &ca],
        b"",
    );
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut parts = out.stdout.splitn(4, |b| *b == b'\n');
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let status = text().parse().unwrap_or(0);
    let content_type = text();
    let version = text();
    let body = parts.next().unwrap_or_default().to_vec();
    Ok(PythonReply {
        status,
        content_type,
        version,
        body,
    })
}
