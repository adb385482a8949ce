//! Reading what a CA actually sends back: one certificate in PEM or DER
//! (`.cer`, `.crt`), a PEM bundle in any order, or PKCS#7 (`.p7b`, `.p7c`)
//! in DER, BER or PEM, with or without the root. The order of the file
//! never matters: [`crate::chain`] builds the chain by issuer.

use der::{Decode, Encode};

use crate::ber::ber_to_der;
use crate::cert::CertSummary;
use crate::error::CertError;
use crate::pem::Malformed;

const SIGNED_DATA_OID: &str = "1.2.840.113549.1.7.2";

/// Every certificate in `bytes`, each checked to parse. `what` names the
/// source in errors (usually the file name).
pub fn read_certificates(bytes: &[u8], what: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let text = String::from_utf8_lossy(bytes);
    let ders = if text.contains("-----BEGIN PKCS7-----") || text.contains("-----BEGIN CMS-----") {
        let body = pkcs7_block(bytes, "PKCS7")
            .or_else(|| pkcs7_block(bytes, "CMS"))
            .ok_or_else(|| CertError::Truncated {
                what: what.into(),
                reason: "the PKCS7 block has no END line".into(),
            })??;
        decode_pkcs7(&body, what)?
    } else if text.contains("-----BEGIN ") {
        crate::pem::decode_certificates(bytes, what)?
    } else if bytes.first() == Some(&0x30) {
        decode_der(bytes, what)?
    } else {
        return Err(CertError::NoCertificate {
            what: what.into(),
            found: crate::sniff::FileKind::of(bytes),
        });
    };
    for (index, der) in ders.iter().enumerate() {
        CertSummary::from_der(der).map_err(|e| CertError::BadCertificate {
            what: if ders.len() == 1 {
                what.to_string()
            } else {
                format!("certificate #{} in {what}", index + 1)
            },
            reason: match e {
                CertError::BadCertificate { reason, .. } => reason,
                other => other.to_string(),
            },
        })?;
    }
    Ok(ders)
}

/// One DER/BER element: a certificate, or a PKCS#7 SignedData.
fn decode_der(bytes: &[u8], what: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let der = ber_to_der(bytes, what)?;
    if looks_like_content_info(&der) {
        return decode_pkcs7(&der, what);
    }
    if looks_like_pfx(&der) {
        return Err(CertError::BadInput {
            what: what.into(),
            reason: "this is a PKCS#12 (.pfx/.p12) file with a private key, not a CA's answer; import it with `mailcert import`".into(),
        });
    }
    Ok(vec![der])
}

/// A ContentInfo starts with SEQUENCE { OBJECT IDENTIFIER ...; a
/// certificate starts with SEQUENCE { SEQUENCE ...
fn looks_like_content_info(der: &[u8]) -> bool {
    let header = match der.get(1) {
        Some(b) if *b < 0x80 => 2,
        Some(b) => 2 + usize::from(b & 0x7f),
        None => return false,
    };
    der.get(header) == Some(&0x06)
}

/// SEQUENCE { INTEGER 3, ... }: the start of every PFX.
fn looks_like_pfx(der: &[u8]) -> bool {
    let header = match der.get(1) {
        Some(b) if *b < 0x80 => 2,
        Some(b) => 2 + usize::from(b & 0x7f),
        None => return false,
    };
    der.get(header..header + 3) == Some(&[0x02, 0x01, 0x03][..])
}

/// Certificates of a PKCS#7 / CMS SignedData ("certs-only" answers).
pub fn decode_pkcs7(bytes: &[u8], what: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let der = ber_to_der(bytes, what)?;
    let bad = |reason: String| CertError::BadInput {
        what: what.into(),
        reason: format!("not a readable PKCS#7 file ({reason})"),
    };
    let info = cms::content_info::ContentInfo::from_der(&der).map_err(|e| bad(e.to_string()))?;
    if info.content_type.to_string() != SIGNED_DATA_OID {
        return Err(bad(format!(
            "its content type is {}, not signedData",
            info.content_type
        )));
    }
    let signed: cms::signed_data::SignedData = info
        .content
        .decode_as()
        .map_err(|e: der::Error| bad(e.to_string()))?;
    let mut out = Vec::new();
    for choice in signed.certificates.iter().flat_map(|set| set.0.iter()) {
        if let cms::cert::CertificateChoices::Certificate(cert) = choice {
            out.push(cert.to_der().map_err(|e| bad(e.to_string()))?);
        }
    }
    if out.is_empty() {
        return Err(CertError::NoCertificate {
            what: what.into(),
            found: crate::sniff::FileKind::Pkcs7,
        });
    }
    Ok(out)
}

/// The body of the first complete `label` block, decoded; `None` when
/// there is none (no BEGIN line, or no END line after it).
fn pkcs7_block(bytes: &[u8], label: &str) -> Option<Result<Vec<u8>, CertError>> {
    match crate::pem::first_block(bytes, label)? {
        Ok(body) => Some(Ok(body)),
        Err(Malformed::Truncated) => None,
        // Named by its label, not the file, as it always was.
        Err(_) => Some(Err(CertError::BadInput {
            what: label.into(),
            reason: Malformed::BadBase64.reason().into(),
        })),
    }
}
