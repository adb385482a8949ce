//! Challenges: what the CA asks us to show, where it is shown, and the
//! [`ChallengeResponder`] seam between orders and whoever answers them
//! (temporary listeners of our own, the front end, a DNS hook).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};

use crate::error::{AcmeError, Result};

/// The board the listeners serve, the ALPN protocol of TLS-ALPN-01 (RFC
/// 8737) and the path prefix of HTTP-01 (RFC 8555 §8.3): one component
/// with the front end.
pub use mailcert_challenge::{ChallengeBoard, ACME_TLS_ALPN, HTTP01_PATH as HTTP01_PREFIX};

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

/// Where in-process answers go: anything that serves HTTP-01 bodies by
/// token and TLS-ALPN-01 certificates by server name: a
/// [`ChallengeBoard`], which the front end's listeners and the temporary
/// ones of `acme order` both serve.
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
        ChallengeBoard::set_http01(self, token, key_authorization);
    }

    fn set_tls_alpn01(&self, server_name: &str, certificate: Option<Arc<CertifiedKey>>) {
        ChallengeBoard::set_tls_alpn01(self, server_name, certificate);
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
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    Ok(mailcert_challenge::alpn_certificate(
        name, digest, &provider,
    )?)
}
