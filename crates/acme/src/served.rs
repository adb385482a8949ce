//! Answering challenges through a running `serve` from another process
//! (`mailcert acme order`, `mailcert acme renew` from cron) when `serve`
//! holds the challenge ports.
//!
//! The front end reads, at each store change (within about a second), the
//! store's named values `acme.http-01.<token>` (the key authorization) and
//! `acme.tls-alpn-01.<name>` (the acmeIdentifier digest in hex: the front
//! end makes the challenge certificate itself, so no private key crosses
//! processes). [`StoreResponder`] writes them there, checks through the
//! front end's own listener that the answer is served before telling the
//! CA, and removes them afterwards, whether the order succeeded or not.
//!
//! Before anything is written, [`front_end_check`] makes sure what holds
//! the port is a mailcert front end at all, so that a port taken by
//! another program fails the order without touching the store.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailcert_store::{Change, Op, StoreLocation};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::challenge::{
    BoxFuture, ChallengeAnswer, ChallengeKind, ChallengeResponder, HTTP01_PREFIX,
};
use crate::error::{AcmeError, Result};

/// Named-value prefixes the front end reads the answers from.
pub use mailcert_store::values::{
    ACME_HTTP01_PREFIX as STORE_HTTP01_PREFIX, ACME_TLS_ALPN01_PREFIX as STORE_TLS_ALPN01_PREFIX,
};

/// How long to wait for the front end to serve a published answer.
pub const PICKUP_TIMEOUT: Duration = Duration::from_secs(15);

/// What a mailcert front end's plain HTTP listener answers for a
/// challenge token it does not know (crates/front, `http.rs`).
pub const FRONT_END_UNKNOWN_CHALLENGE: &str = "no such challenge";

/// The token and server name [`front_end_check`] asks for: never a real
/// one, so a front end has no answer for them.
const CHECK_TOKEN: &str = "mailcert-front-end-check";
const CHECK_NAME: &str = "mailcert-front-end-check.invalid";

/// Publishes HTTP-01 or TLS-ALPN-01 answers in the store for a running `serve`.
pub struct StoreResponder {
    pub location: StoreLocation,
    pub user: String,
    /// The front end's plain HTTP listener (http-01) or HTTPS listener
    /// (tls-alpn-01), to check the answer is served.
    pub probe: SocketAddr,
    pub kind: ChallengeKind,
    /// Keys this responder wrote and has not removed yet.
    written: Mutex<HashSet<String>>,
}

impl StoreResponder {
    pub fn new(
        location: StoreLocation,
        user: String,
        probe: SocketAddr,
        kind: ChallengeKind,
    ) -> StoreResponder {
        StoreResponder {
            location,
            user,
            probe,
            kind,
            written: Mutex::new(HashSet::new()),
        }
    }

    fn written(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    fn apply(&self, action: &str, line: String, op: Op) -> Result<()> {
        let mut store = mailcert_store::open(&self.location)?;
        let mut change = Change::new(action, self.user.clone());
        change.describe(line);
        change.push(op);
        store.apply(change)?;
        Ok(())
    }

    fn record(&self, answer: &ChallengeAnswer) -> (String, Vec<u8>) {
        match self.kind {
            ChallengeKind::TlsAlpn01 => (
                format!(
                    "{STORE_TLS_ALPN01_PREFIX}{}",
                    answer.name.to_ascii_lowercase()
                ),
                mailcert_store::encode_hex(&answer.digest).into_bytes(),
            ),
            _ => (
                format!("{STORE_HTTP01_PREFIX}{}", answer.token),
                answer.key_authorization.clone().into_bytes(),
            ),
        }
    }

    async fn served(&self, answer: &ChallengeAnswer) -> std::result::Result<(), String> {
        match self.kind {
            ChallengeKind::TlsAlpn01 => match probe_alpn(self.probe, &answer.name).await {
                Ok(leaf) if contains(&leaf, &answer.digest) => Ok(()),
                Ok(_) => Err("it served a certificate without this challenge's digest".into()),
                Err(e) => Err(e.to_string()),
            },
            _ => match probe(self.probe, &answer.token).await {
                Ok(body) if body.trim() == answer.key_authorization => Ok(()),
                Ok(body) => Err(format!(
                    "it answered {:?}",
                    body.chars().take(80).collect::<String>()
                )),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    async fn wait_until_served(&self, answer: &ChallengeAnswer) -> Result<()> {
        let deadline = tokio::time::Instant::now() + PICKUP_TIMEOUT;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            match self.served(answer).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (kind, option, listener) = match self.kind {
            ChallengeKind::TlsAlpn01 => ("tls-alpn-01", "--tls-bind", "an HTTPS listener"),
            _ => ("http-01", "--http-bind", "a plain HTTP listener"),
        };
        Err(AcmeError::Listen {
            addr: self.probe.to_string(),
            kind,
            option,
            reason: format!(
                "the port is taken, and the front end there did not serve the answer published in the store within {} s ({last}); is `mailcert serve` running on this store with {listener} on that port?",
                PICKUP_TIMEOUT.as_secs()
            ),
            in_use: true,
        })
    }
}

impl ChallengeResponder for StoreResponder {
    fn kind(&self) -> ChallengeKind {
        self.kind
    }

    fn publish<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if answer.kind != self.kind || answer.kind == ChallengeKind::Dns01 {
                return Err(AcmeError::BadInput(format!(
                    "{} answers cannot be handed to a running serve here; use http-01, tls-alpn-01 or dns-01",
                    answer.kind
                )));
            }
            let (key, value) = self.record(answer);
            self.apply(
                "acme challenge",
                format!(
                    "published the {} answer for {} for the front end",
                    answer.kind, answer.name
                ),
                Op::SetValue {
                    key: key.clone(),
                    value: Some(value),
                    secret: false,
                },
            )?;
            self.written().insert(key);
            self.wait_until_served(answer).await
        })
    }

    fn withdraw<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (key, _) = self.record(answer);
            // Only what this responder wrote: a publication that failed
            // before writing leaves nothing to remove (and no log entry).
            if !self.written().contains(&key) {
                return Ok(());
            }
            self.apply(
                "acme challenge",
                format!("withdrew the {} answer for {}", answer.kind, answer.name),
                Op::SetValue {
                    key: key.clone(),
                    value: None,
                    secret: false,
                },
            )?;
            self.written().remove(&key);
            Ok(())
        })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Shakes hands with `acme-tls/1` for `name`, as the CA's validator does,
/// and returns the certificate served. Any certificate is accepted here:
/// a challenge certificate is self-signed by design; what matters is the
/// digest inside it, which the caller checks.
async fn probe_alpn(addr: SocketAddr, name: &str) -> std::io::Result<Vec<u8>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let server_name = ServerName::try_from(name.to_string()).map_err(std::io::Error::other)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let work = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let tls = connector.connect(server_name, tcp).await?;
        let (_, session) = tls.get_ref();
        session
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec())
            .ok_or_else(|| std::io::Error::other("no certificate served"))
    };
    tokio::time::timeout(Duration::from_secs(3), work)
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "no TLS answer within 3 s")
        })?
}

/// Accepts whatever certificate is served and skips the handshake
/// signature check (see [`probe_alpn`]): the challenge certificate carries
/// the critical acmeIdentifier extension, which path-validation libraries
/// refuse to parse, and this probe only reads the digest; the CA's
/// validator does the real check.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// GETs our own challenge path from the front end, as the CA will.
async fn probe(addr: SocketAddr, token: &str) -> std::io::Result<String> {
    let (status, body) = http_get(addr, token).await?;
    if !status.starts_with("HTTP/1.1 200") && !status.starts_with("HTTP/1.0 200") {
        return Err(std::io::Error::other(format!("it answered {status}")));
    }
    Ok(body)
}

/// GETs a challenge path; returns the status line and the body.
async fn http_get(addr: SocketAddr, token: &str) -> std::io::Result<(String, String)> {
    let mut stream =
        tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "no connection within 3 s")
            })??;
    let request =
        format!("GET {HTTP01_PREFIX}{token} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(3),
        (&mut stream).take(64 * 1024).read_to_end(&mut response),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 3 s"))??;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    Ok((status, body.to_string()))
}

/// Is what listens on `addr` a mailcert front end that can answer `kind`
/// for us? Asked before anything is written to the store. Its plain HTTP
/// listener answers an unknown challenge token with 404 and
/// [`FRONT_END_UNKNOWN_CHALLENGE`]; its HTTPS listener offers
/// `acme-tls/1` and refuses the handshake (alert `access_denied`) for a
/// name it holds no challenge certificate for. Anything else — another
/// web server, a listener that does not speak, a TLS server without
/// `acme-tls/1` — is described in the error.
pub async fn front_end_check(
    kind: ChallengeKind,
    addr: SocketAddr,
) -> std::result::Result<(), String> {
    match kind {
        ChallengeKind::TlsAlpn01 => match probe_alpn(addr, CHECK_NAME).await {
            Err(e) => match tls_alert(&e) {
                Some(rustls::AlertDescription::AccessDenied) => Ok(()),
                Some(rustls::AlertDescription::NoApplicationProtocol) => Err(
                    "the TLS server holding it does not offer acme-tls/1, so it is not `mailcert serve`'s HTTPS listener".into(),
                ),
                _ => Err(format!(
                    "the program holding it is not `mailcert serve`'s HTTPS listener (asked for acme-tls/1: {e})"
                )),
            },
            Ok(_) => Err(
                "the TLS server holding it answered acme-tls/1 for a name no order asked for, which `mailcert serve`'s HTTPS listener never does".into(),
            ),
        },
        _ => match http_get(addr, CHECK_TOKEN).await {
            Ok((status, body))
                if status.split_whitespace().nth(1) == Some("404")
                    && body.trim() == FRONT_END_UNKNOWN_CHALLENGE =>
            {
                Ok(())
            }
            Ok((status, _)) => Err(format!(
                "the program holding it is not `mailcert serve`'s plain HTTP listener (asked for an unknown challenge, it answered {status:?})"
            )),
            Err(e) => Err(format!(
                "the program holding it gave no HTTP answer ({e}), so it is not `mailcert serve`'s plain HTTP listener"
            )),
        },
    }
}

/// The TLS alert a handshake failed with, if that is why.
fn tls_alert(error: &std::io::Error) -> Option<rustls::AlertDescription> {
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    }
}

/// The address to probe for a bind address: a wildcard becomes loopback.
pub fn probe_address(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        other => other,
    };
    SocketAddr::new(ip, bind.port())
}
