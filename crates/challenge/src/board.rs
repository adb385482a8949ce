//! The responses currently offered for HTTP-01 and TLS-ALPN-01, shared
//! between whoever publishes them and the listeners that serve them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;

use crate::alpn::alpn_certificate;
use crate::HTTP01_PATH;

/// A TLS-ALPN-01 certificate and the digest it was made for.
type DigestCertificate = (Vec<u8>, Arc<CertifiedKey>);

#[derive(Default)]
struct Answers {
    /// HTTP-01 bodies published in this process, by token.
    http: HashMap<String, String>,
    /// TLS-ALPN-01 certificates published in this process, by name.
    alpn: HashMap<String, Arc<CertifiedKey>>,
    /// HTTP-01 bodies read from the store (replaced at each store change).
    stored_http: HashMap<String, String>,
    /// TLS-ALPN-01 certificates made from the store's digests, with the
    /// digest each was made for (kept while it does not change).
    stored_alpn: HashMap<String, DigestCertificate>,
}

/// The answers an issuer publishes and listeners serve: by an issuer in
/// this process ([`ChallengeBoard::set_http01`],
/// [`ChallengeBoard::set_tls_alpn01`]), or by one in another process
/// through the store, which the front end copies here at each store
/// change. What this process published comes first. Cheap to clone; all
/// clones see the same answers.
#[derive(Clone, Default)]
pub struct ChallengeBoard {
    answers: Arc<RwLock<Answers>>,
}

impl std::fmt::Debug for ChallengeBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChallengeBoard")
    }
}

impl ChallengeBoard {
    pub fn new() -> ChallengeBoard {
        ChallengeBoard::default()
    }

    /// Offers (`Some`) or withdraws (`None`) an HTTP-01 answer.
    pub fn set_http01(&self, token: &str, key_authorization: Option<String>) {
        self.write(|a| match key_authorization {
            Some(body) => {
                a.http.insert(token.to_string(), body);
            }
            None => {
                a.http.remove(token);
            }
        });
    }

    /// Offers (`Some`) or withdraws (`None`) a TLS-ALPN-01 certificate.
    pub fn set_tls_alpn01(&self, server_name: &str, certificate: Option<Arc<CertifiedKey>>) {
        let name = normalize(server_name);
        self.write(|a| match certificate {
            Some(c) => {
                a.alpn.insert(name, c);
            }
            None => {
                a.alpn.remove(&name);
            }
        });
    }

    /// The body to answer `GET /.well-known/acme-challenge/<token>` with.
    pub fn http01(&self, token: &str) -> Option<String> {
        self.read(|a| {
            a.http
                .get(token)
                .or_else(|| a.stored_http.get(token))
                .cloned()
        })
    }

    /// The body for a request path, when it is an HTTP-01 path we know.
    pub fn http01_path(&self, path: &str) -> Option<String> {
        path.strip_prefix(HTTP01_PATH)
            .and_then(|token| self.http01(token))
    }

    /// The TLS-ALPN-01 certificate for a server name (SNI), to present
    /// when the client offers only `acme-tls/1`.
    pub fn tls_alpn01(&self, server_name: &str) -> Option<Arc<CertifiedKey>> {
        let name = normalize(server_name);
        self.read(|a| {
            a.alpn
                .get(&name)
                .or_else(|| a.stored_alpn.get(&name).map(|(_, c)| c))
                .cloned()
        })
    }

    /// Is any TLS-ALPN-01 answer offered?
    pub fn has_tls_alpn01(&self) -> bool {
        self.read(|a| !a.alpn.is_empty() || !a.stored_alpn.is_empty())
    }

    /// Replaces the HTTP-01 answers that came from the store.
    pub fn replace_stored_http01(&self, answers: HashMap<String, String>) {
        self.write(|a| a.stored_http = answers);
    }

    /// Replaces the TLS-ALPN-01 certificates that came from the store:
    /// `digests` by name (no key crosses processes, so the certificate is
    /// made here); a certificate is made only for a new digest. A digest
    /// no certificate can be made for is left out and returned with why.
    pub fn replace_stored_tls_alpn01(
        &self,
        digests: HashMap<String, Vec<u8>>,
        provider: &CryptoProvider,
    ) -> Vec<(String, crate::ChallengeError)> {
        let kept = self.read(|a| a.stored_alpn.clone());
        let mut next = HashMap::new();
        let mut failed = Vec::new();
        for (name, digest) in digests {
            let name = normalize(&name);
            let same = kept
                .get(&name)
                .filter(|(d, _)| *d == digest)
                .map(|(_, c)| c.clone());
            let made = match same {
                Some(cert) => Ok(cert),
                None => alpn_certificate(&name, &digest, provider),
            };
            match made {
                Ok(cert) => {
                    next.insert(name, (digest, cert));
                }
                Err(e) => failed.push((name, e)),
            }
        }
        self.write(|a| a.stored_alpn = next);
        failed
    }

    fn read<T>(&self, f: impl FnOnce(&Answers) -> T) -> T {
        // A writer that panicked left whole maps behind: still usable.
        match self.answers.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Answers) -> T) -> T {
        match self.answers.write() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// Server names as clients send them: no trailing dot, any case.
fn normalize(server_name: &str) -> String {
    server_name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> CryptoProvider {
        rustls::crypto::aws_lc_rs::default_provider()
    }

    #[test]
    fn http01_answers_published_here_come_before_the_stored_ones() {
        let board = ChallengeBoard::new();
        board.replace_stored_http01(HashMap::from([
            ("tok".to_string(), "stored".to_string()),
            ("other".to_string(), "other.stored".to_string()),
        ]));
        board.set_http01("tok", Some("mine".into()));
        assert_eq!(board.http01("tok").as_deref(), Some("mine"));
        assert_eq!(
            board
                .http01_path("/.well-known/acme-challenge/other")
                .as_deref(),
            Some("other.stored")
        );
        assert_eq!(board.http01_path("/other"), None);
        board.set_http01("tok", None);
        assert_eq!(board.http01("tok").as_deref(), Some("stored"));
        board.replace_stored_http01(HashMap::new());
        assert_eq!(board.http01("tok"), None);
    }

    #[test]
    fn tls_alpn01_certificates_are_found_by_name_in_any_case() {
        let board = ChallengeBoard::new();
        assert!(!board.has_tls_alpn01());
        let cert = alpn_certificate("mail.example.com", &[7; 32], &provider()).expect("a cert");
        board.set_tls_alpn01("Mail.Example.com", Some(cert.clone()));
        assert!(board.has_tls_alpn01());
        let found = board.tls_alpn01("MAIL.example.com.").expect("found");
        assert!(Arc::ptr_eq(&found, &cert));
        board.set_tls_alpn01("mail.example.com", None);
        assert!(board.tls_alpn01("mail.example.com").is_none());
        assert!(!board.has_tls_alpn01());
    }

    #[test]
    fn a_stored_digest_makes_its_certificate_once() {
        let board = ChallengeBoard::new();
        let digests = HashMap::from([("mail.example.com".to_string(), vec![1; 32])]);
        assert!(board
            .replace_stored_tls_alpn01(digests.clone(), &provider())
            .is_empty());
        let first = board.tls_alpn01("mail.example.com").expect("made");
        board.replace_stored_tls_alpn01(digests, &provider());
        let again = board.tls_alpn01("mail.example.com").expect("kept");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same digest is not made again"
        );
        let changed = HashMap::from([("mail.example.com".to_string(), vec![2; 32])]);
        board.replace_stored_tls_alpn01(changed, &provider());
        let new = board.tls_alpn01("mail.example.com").expect("made anew");
        assert!(!Arc::ptr_eq(&first, &new));
        board.replace_stored_tls_alpn01(HashMap::new(), &provider());
        assert!(board.tls_alpn01("mail.example.com").is_none());
    }
}
