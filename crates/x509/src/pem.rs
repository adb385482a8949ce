//! Reading certificates and keys from what administrators have on disk:
//! PEM (one or many blocks) or DER. Truncated PEM is an error, never a
//! silently shorter list.

use rustls_pki_types::pem::{self, PemObject, SectionKind};

use crate::error::CertError;

/// Certificates in `bytes` (PEM blocks or one DER certificate), in file
/// order. `what` names the source in errors (usually the file name).
pub fn decode_certificates(bytes: &[u8], what: &str) -> Result<Vec<Vec<u8>>, CertError> {
    if looks_like_pem(bytes) {
        let mut out = Vec::new();
        for item in pem::PemObject::pem_slice_iter(bytes) {
            let item: (SectionKind, Vec<u8>) = item.map_err(|e| pem_error(what, e))?;
            if item.0 == SectionKind::Certificate {
                out.push(item.1);
            }
        }
        if out.is_empty() {
            return Err(CertError::NoCertificate { what: what.into() });
        }
        return Ok(out);
    }
    if bytes.first() == Some(&0x30) {
        return Ok(vec![bytes.to_vec()]);
    }
    Err(CertError::NoCertificate { what: what.into() })
}

/// The private key in `bytes` (PEM `PRIVATE KEY`, `EC PRIVATE KEY`,
/// `RSA PRIVATE KEY`, or DER), as its DER.
pub fn decode_private_key(bytes: &[u8], what: &str) -> Result<Vec<u8>, CertError> {
    if looks_like_pem(bytes) {
        if String::from_utf8_lossy(bytes).contains("ENCRYPTED PRIVATE KEY") {
            return Err(CertError::BadKey {
                what: what.into(),
                reason: "it is encrypted; decrypt it first (openssl pkey -in KEY -out plain.key) or import a .pfx".into(),
            });
        }
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
            pem::Error::NoItemsFound => CertError::BadKey {
                what: what.into(),
                reason: "it holds no private key (no 'BEGIN PRIVATE KEY', 'BEGIN EC PRIVATE KEY' or 'BEGIN RSA PRIVATE KEY' block); give the key file with --key".into(),
            },
            other => pem_error(what, other),
        })?;
        return Ok(key.secret_der().to_vec());
    }
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    Err(CertError::BadKey {
        what: what.into(),
        reason: "no 'BEGIN PRIVATE KEY' block and not DER".into(),
    })
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

fn pem_error(what: &str, e: pem::Error) -> CertError {
    let reason = match e {
        pem::Error::MissingSectionEnd { .. } => {
            "the PEM is truncated: a BEGIN line has no END line; copy the whole file again"
                .to_string()
        }
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".to_string(),
        pem::Error::Base64Decode(_) => {
            "the PEM body is not valid base64 (damaged or truncated)".to_string()
        }
        pem::Error::NoItemsFound => "it holds no PEM item of the expected kind".to_string(),
        other => other.to_string(),
    };
    CertError::BadInput {
        what: what.into(),
        reason,
    }
}

/// PEM text of a certificate.
pub fn certificate_pem(der: &[u8]) -> String {
    to_pem("CERTIFICATE", der)
}

/// PEM text with the given label, 64 columns as OpenSSL writes it.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    use std::fmt::Write;
    let body = base64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        let _ = writeln!(out, "{}", String::from_utf8_lossy(chunk));
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

// Small enough not to pull a crate in for; decoding goes through
// rustls-pki-types' constant-time decoder.
fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
