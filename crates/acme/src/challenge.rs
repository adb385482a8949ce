//! Challenges: what the CA asks us to show, where it is shown, and the
//! [`ChallengeResponder`] seam between orders and whoever answers them
//! (temporary listeners of our own, the front end, a DNS hook).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

use crate::error::{AcmeError, Result};

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// Path prefix of HTTP-01 (RFC 8555 §8.3).
pub const HTTP01_PREFIX: &str = "/.well-known/acme-challenge/";

/// The challenge types mailcert answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChallengeKind {
    #[serde(rename = "http-01")]
    Http01,
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    #[serde(rename = "dns-01")]
    Dns01,
}

impl ChallengeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::Http01 => "http-01",
            ChallengeKind::TlsAlpn01 => "tls-alpn-01",
            ChallengeKind::Dns01 => "dns-01",
        }
    }

    pub(crate) fn acme_type(self) -> instant_acme::ChallengeType {
        match self {
            ChallengeKind::Http01 => instant_acme::ChallengeType::Http01,
            ChallengeKind::TlsAlpn01 => instant_acme::ChallengeType::TlsAlpn01,
            ChallengeKind::Dns01 => instant_acme::ChallengeType::Dns01,
        }
    }
}

impl fmt::Display for ChallengeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChallengeKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "http-01" | "http" => Ok(ChallengeKind::Http01),
            "tls-alpn-01" | "tls-alpn" => Ok(ChallengeKind::TlsAlpn01),
            "dns-01" | "dns" => Ok(ChallengeKind::Dns01),
            _ => Err(format!(
                "unknown challenge '{s}': choose http-01, tls-alpn-01 or dns-01"
            )),
        }
    }
}

/// One challenge to answer, with every form of its response.
#[derive(Debug, Clone)]
pub struct ChallengeAnswer {
    pub kind: ChallengeKind,
    /// The name as ordered: `mail.example.com`, or `*.example.com` for a
    /// wildcard (what a DNS hook is told, so that it can tell a name's
    /// answer from its wildcard's).
    pub identifier: String,
    /// The identifier being validated (`mail.example.com`; a wildcard's
    /// base name for `*.example.com`).
    pub name: String,
    pub token: String,
    /// `token.thumbprint`: the HTTP-01 response body.
    pub key_authorization: String,
    /// SHA-256 of the key authorization: the TLS-ALPN-01 acmeIdentifier.
    pub digest: Vec<u8>,
    /// Base64url of the digest: the DNS-01 TXT value.
    pub dns_value: String,
}

impl ChallengeAnswer {
    /// `_acme-challenge.<name>` (no trailing dot).
    pub fn dns_fqdn(&self) -> String {
        format!("_acme-challenge.{}", self.name.trim_start_matches("*."))
    }
}

/// A boxed future, so that responders can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whoever makes a challenge's response visible to the CA. `publish` must
/// return only once the CA can see the response; `withdraw` is called for
/// every published answer, whether the order succeeded or not.
pub trait ChallengeResponder: Send + Sync {
    /// The challenge type this responder answers.
    fn kind(&self) -> ChallengeKind;
    fn publish<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>>;
    fn withdraw<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>>;
}

#[derive(Default)]
struct BoardInner {
    http: HashMap<String, String>,
    alpn: HashMap<String, Arc<CertifiedKey>>,
}

/// The responses currently offered for HTTP-01 and TLS-ALPN-01, shared
/// between the orders that publish them and the listeners that serve
/// them: the temporary listeners of `acme order`, or the front end's
/// plain HTTP listener and HTTPS listeners (`acme-tls/1`) under `serve`.
/// Cheap to clone; all clones see the same responses.
#[derive(Clone, Default)]
pub struct ChallengeBoard {
    inner: Arc<RwLock<BoardInner>>,
}

impl ChallengeBoard {
    pub fn new() -> ChallengeBoard {
        ChallengeBoard::default()
    }

    /// The body to answer `GET /.well-known/acme-challenge/<token>` with.
    pub fn http01(&self, token: &str) -> Option<String> {
        self.read(|b| b.http.get(token).cloned())
    }

    /// The body for a request path, when it is an HTTP-01 path we know.
    pub fn http01_path(&self, path: &str) -> Option<String> {
        path.strip_prefix(HTTP01_PREFIX)
            .and_then(|token| self.http01(token))
    }

    /// The TLS-ALPN-01 certificate for a server name (SNI), to present
    /// when the client offers only `acme-tls/1`.
    pub fn tls_alpn01(&self, server_name: &str) -> Option<Arc<CertifiedKey>> {
        let name = server_name.trim_end_matches('.').to_ascii_lowercase();
        self.read(|b| b.alpn.get(&name).cloned())
    }

    /// Is any TLS-ALPN-01 response published (listeners may then offer
    /// `acme-tls/1`)?
    pub fn has_tls_alpn01(&self) -> bool {
        self.read(|b| !b.alpn.is_empty())
    }

    fn read<T>(&self, f: impl FnOnce(&BoardInner) -> T) -> T {
        match self.inner.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut BoardInner) -> T) -> T {
        match self.inner.write() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// Where in-process answers go: anything that serves HTTP-01 bodies by
/// token and TLS-ALPN-01 certificates by server name. The front end's
/// challenge map is one (a three-line adapter in `serve`); a
/// [`ChallengeBoard`] is another.
pub trait ChallengeSink: Send + Sync {
    /// Offers (`Some`) or withdraws (`None`) an HTTP-01 answer.
    fn set_http01(&self, token: &str, key_authorization: Option<String>);
    /// Offers (`Some`) or withdraws (`None`) a TLS-ALPN-01 certificate.
    fn set_tls_alpn01(&self, server_name: &str, certificate: Option<Arc<CertifiedKey>>);

    /// Publishes an HTTP-01 or TLS-ALPN-01 answer.
    fn publish(&self, answer: &ChallengeAnswer) -> Result<()> {
        match answer.kind {
            ChallengeKind::Http01 => {
                self.set_http01(&answer.token, Some(answer.key_authorization.clone()));
            }
            ChallengeKind::TlsAlpn01 => {
                let key = alpn_certificate(&answer.name, &answer.digest)?;
                self.set_tls_alpn01(&answer.name, Some(key));
            }
            ChallengeKind::Dns01 => {
                return Err(AcmeError::BadInput(
                    "dns-01 answers go through a DNS hook (--dns-hook), not a listener".into(),
                ))
            }
        }
        Ok(())
    }

    /// Withdraws what [`Self::publish`] offered.
    fn withdraw(&self, answer: &ChallengeAnswer) {
        match answer.kind {
            ChallengeKind::Http01 => self.set_http01(&answer.token, None),
            ChallengeKind::TlsAlpn01 => self.set_tls_alpn01(&answer.name, None),
            ChallengeKind::Dns01 => {}
        }
    }
}

impl ChallengeSink for ChallengeBoard {
    fn set_http01(&self, token: &str, key_authorization: Option<String>) {
        self.write(|b| match key_authorization {
            Some(v) => {
                b.http.insert(token.to_string(), v);
            }
            None => {
                b.http.remove(token);
            }
        });
    }

    fn set_tls_alpn01(&self, server_name: &str, certificate: Option<Arc<CertifiedKey>>) {
        let name = server_name.to_ascii_lowercase();
        self.write(|b| match certificate {
            Some(c) => {
                b.alpn.insert(name, c);
            }
            None => {
                b.alpn.remove(&name);
            }
        });
    }
}

/// A responder that publishes on a [`ChallengeSink`] some listener
/// already serves: the front end's (under `serve`) or a board.
pub struct SinkResponder {
    pub sink: Arc<dyn ChallengeSink>,
    pub kind: ChallengeKind,
}

impl ChallengeResponder for SinkResponder {
    fn kind(&self) -> ChallengeKind {
        self.kind
    }

    fn publish<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.sink.publish(answer) })
    }

    fn withdraw<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.sink.withdraw(answer);
            Ok(())
        })
    }
}

/// The self-signed certificate of TLS-ALPN-01: the name as its only SAN
/// and the critical acmeIdentifier extension holding the digest.
pub fn alpn_certificate(name: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>> {
    let issued =
        mailcert_x509::build::acme_alpn_certificate(name, digest, mailcert_x509::build::now_utc())
            .map_err(|e| AcmeError::BadInput(e.to_string()))?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_der));
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key_der)
        .map_err(|e| AcmeError::BadInput(format!("TLS-ALPN-01 key for {name}: {e}")))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![CertificateDer::from(issued.cert_der)],
        signer,
    )))
}
