//! ACME directories: the well-known ones by name, any other by URL, and
//! the HTTP client that talks to them.

use std::sync::Arc;

use bytes::Bytes;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, HttpClient};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

use crate::error::{AcmeError, Result};

/// Let's Encrypt's production directory.
pub const LETSENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (untrusted certificates, high limits).
pub const LETSENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// Turns `--directory` into a URL: `letsencrypt`, `letsencrypt-staging`,
/// or an `https://` URL (plain `http://` only for loopback test servers).
pub fn resolve_directory(input: &str) -> Result<String> {
    let text = input.trim();
    match text.to_ascii_lowercase().as_str() {
        "letsencrypt" | "le" => return Ok(LETSENCRYPT.into()),
        "letsencrypt-staging" | "le-staging" => return Ok(LETSENCRYPT_STAGING.into()),
        _ => {}
    }
    let host = text
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    if host.is_empty() || text.chars().any(char::is_whitespace) {
        return Err(AcmeError::BadInput(format!(
            "--directory '{input}' is neither a known name (letsencrypt, letsencrypt-staging) nor an https:// URL such as https://acme.example.com/directory (ACME requires HTTPS)"
        )));
    }
    Ok(text.to_string())
}

/// The HTTP client for a directory: HTTPS only, trusting the system's
/// roots plus the certificates of `ca_pem` (a private or test CA, such as
/// the one pebble's own listener uses).
pub fn http_client(ca_pem: Option<&str>) -> Result<Box<dyn HttpClient>> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (_, _) = roots.add_parsable_certificates(native.certs);
    if let Some(pem) = ca_pem {
        let ders = mailcert_x509::pem::decode_certificates(pem.as_bytes(), "--ca-file")?;
        for der in ders {
            roots.add(CertificateDer::from(der)).map_err(|e| {
                AcmeError::BadInput(format!(
                    "--ca-file: a certificate cannot serve as a trust anchor: {e}"
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AcmeError::BadInput(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let client: HyperClient<_, BodyWrapper<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build(connector);
    Ok(Box::new(client))
}

/// Why `url` is not an ACME directory, when that is why the ACME client
/// failed to read it (it reports only a JSON error such as "invalid type:
/// integer `404`"): asks the URL again and says what came back. `None`
/// when the URL does serve a directory, or cannot be asked at all; the
/// caller then reports the client's own error.
pub(crate) async fn not_a_directory(url: &str, ca_pem: Option<&str>) -> Option<AcmeError> {
    let client = http_client(ca_pem).ok()?;
    let request = http::Request::builder()
        .method(http::Method::GET)
        .uri(url)
        .body(instant_acme::BodyWrapper::<Bytes>::default())
        .ok()?;
    let mut response =
        tokio::time::timeout(std::time::Duration::from_secs(30), client.request(request))
            .await
            .ok()?
            .ok()?;
    let status = response.parts.status;
    let hint = "check the URL: a directory URL usually ends in /directory (Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory) or /dir";
    if !status.is_success() {
        return Some(AcmeError::BadInput(format!(
            "{url} did not return an ACME directory (HTTP {status}); {hint}"
        )));
    }
    let body = response.body.into_bytes().await.ok()?;
    let looks_right = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .is_some_and(|v| v.get("newNonce").is_some() && v.get("newAccount").is_some());
    if looks_right {
        return None;
    }
    Some(AcmeError::BadInput(format!(
        "{url} answered (HTTP {status}) but not with an ACME directory (a JSON object with newNonce, newAccount, newOrder); {hint}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls() {
        assert_eq!(resolve_directory("letsencrypt").unwrap(), LETSENCRYPT);
        assert_eq!(
            resolve_directory("letsencrypt-staging").unwrap(),
            LETSENCRYPT_STAGING
        );
        assert_eq!(
            resolve_directory("https://127.0.0.1:14000/dir").unwrap(),
            "https://127.0.0.1:14000/dir"
        );
        assert!(resolve_directory("http://127.0.0.1:14000/dir").is_err());
        assert!(resolve_directory("no such thing").is_err());
    }
}
