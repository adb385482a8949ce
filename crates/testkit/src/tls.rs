//! A rustls client for the tests: it trusts one root file, never
//! resumes (so that every handshake goes through the server's certificate
//! resolver: a resumed TLS 1.3 session would keep showing the old
//! certificate), and tells which certificate it was given.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha1::Digest;

/// A client configuration that trusts the certificates of `root` (PEM)
/// and nothing else, with resumption off.
pub fn client_config(root: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(root).expect("root pem") {
        roots.add(cert.expect("root cert")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// A TLS connection made by [`tls`].
pub type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Runs the TLS handshake for `name` over an established connection.
pub fn tls(
    stream: TcpStream,
    config: &Arc<rustls::ClientConfig>,
    name: &str,
) -> std::io::Result<Tls> {
    let name = ServerName::try_from(name.to_string()).map_err(std::io::Error::other)?;
    let conn =
        rustls::ClientConnection::new(config.clone(), name).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// The thumbprint (SHA-1, upper-case hex, as mailcert writes it) of the
/// certificate the server presented.
pub fn peer_thumbprint(tls: &Tls) -> String {
    let certs = tls.conn.peer_certificates().expect("peer certificates");
    thumbprint(&certs[0])
}

/// SHA-1 of a DER certificate, upper-case hex: the Windows thumbprint.
pub fn thumbprint(der: &[u8]) -> String {
    sha1::Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Handshakes with 127.0.0.1:`port` for `name`, trusting only `root`;
/// the thumbprint of the certificate served, or what went wrong.
pub fn handshake(port: u16, root: &Path, name: &str) -> Result<String, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let tls = tls(stream, &client_config(root), name).map_err(|e| e.to_string())?;
    Ok(peer_thumbprint(&tls))
}

/// Connects to 127.0.0.1:`port` with a read timeout, so that a test
/// never hangs.
pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s
}

/// Reads until `needle` appears or the peer closes; returns what came.
pub fn read_until(stream: &mut impl Read, needle: &str) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains(needle) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!(
                "reading while waiting for {needle:?}: {e}; got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until the peer closes.
pub fn read_to_close(stream: &mut impl Read) -> String {
    read_until(stream, "\u{0}never\u{0}")
}
