//! Certificate requests (PKCS#10): making them for pending requests, and
//! reading them for the private CA. Reading goes through x509-parser with
//! the signature verified; rcgen's CSR parser is not used (it refuses
//! requests with extensions OpenSSL and Windows commonly add).

use std::net::IpAddr;

use rcgen::KeyPair;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509CertificationRequest};

use crate::build::{server_params, ServerCertSpec};
use crate::error::CertError;
use crate::pem::Malformed;
use crate::sigalg::{check_signature, Check};
use crate::thumbprint::thumbprint;

/// A PKCS#10 request made from a spec and a key: DER, and its id (SHA-1
/// of the DER, the pending request's id).
pub fn make_request(spec: &ServerCertSpec, key: &KeyPair) -> Result<(Vec<u8>, String), CertError> {
    let mut params = server_params(spec, key)?;
    // A request carries no serial (the CA chooses it).
    params.serial_number = None;
    let csr = params
        .serialize_request(key)
        .map_err(|e| CertError::Generate {
            what: "the certificate request".into(),
            reason: e.to_string(),
        })?;
    let der = csr.der().to_vec();
    let id = thumbprint(&der);
    Ok((der, id))
}

/// What a request asks for, read from a verified CSR.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub subject: String,
    pub subject_raw: Vec<u8>,
    /// DNS names of the SAN extension request.
    pub names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// DER of the SubjectPublicKeyInfo to certify.
    pub spki_der: Vec<u8>,
}

/// Reads a CSR (DER) and verifies its signature (proof that the requester
/// holds the key).
pub fn read_request(der: &[u8], what: &str) -> Result<RequestInfo, CertError> {
    let bad = |reason: String| CertError::BadRequest {
        what: what.into(),
        reason,
    };
    let (rest, csr) = X509CertificationRequest::from_der(der).map_err(|e| {
        bad(format!(
            "{e}; it may be truncated: copy the whole 'BEGIN CERTIFICATE REQUEST' block again"
        ))
    })?;
    if !rest.is_empty() {
        return Err(bad(format!(
            "{} unexpected bytes after the request",
            rest.len()
        )));
    }
    let info = &csr.certification_request_info;
    match check_signature(
        info.raw,
        &csr.signature_algorithm,
        &csr.signature_value.data,
        &info.subject_pki,
    ) {
        Check::Verified => {}
        Check::Mismatch => {
            return Err(bad(
                "its signature does not verify with the key it carries: the request was altered or damaged; make it again".into(),
            ))
        }
        Check::Unsupported(why) => {
            return Err(bad(format!(
                "its signature cannot be checked ({why}); make the request again with SHA-256 and an RSA key of 2048 bits or more, or an EC key (P-256, P-384)"
            )))
        }
    }
    let mut names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Some(extensions) = csr.requested_extensions() {
        for ext in extensions {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for general in &san.general_names {
                    match general {
                        GeneralName::DNSName(n) => names.push(n.to_string()),
                        GeneralName::IPAddress(raw) => match raw.len() {
                            4 => ip_addresses.push(IpAddr::from(
                                <[u8; 4]>::try_from(*raw).map_err(|_| bad("bad IP".into()))?,
                            )),
                            16 => ip_addresses.push(IpAddr::from(
                                <[u8; 16]>::try_from(*raw).map_err(|_| bad("bad IP".into()))?,
                            )),
                            _ => {}
                        },
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(RequestInfo {
        subject: info.subject.to_string(),
        subject_raw: info.subject.as_raw().to_vec(),
        names,
        ip_addresses,
        spki_der: info.subject_pki.raw.to_vec(),
    })
}

/// A request from a file: PEM (`BEGIN CERTIFICATE REQUEST` or `BEGIN NEW
/// CERTIFICATE REQUEST`, as Windows writes) or DER.
pub fn decode_request(bytes: &[u8], what: &str) -> Result<Vec<u8>, CertError> {
    for label in ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"] {
        match crate::pem::first_block(bytes, label) {
            None => continue,
            Some(Ok(der)) => return Ok(der),
            Some(Err(Malformed::Truncated)) => {
                return Err(CertError::Truncated {
                    what: what.into(),
                    reason: "the request's BEGIN line has no END line".into(),
                })
            }
            Some(Err(_)) => {
                return Err(CertError::BadRequest {
                    what: what.into(),
                    reason: Malformed::BadBase64.reason().into(),
                })
            }
        }
    }
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    Err(CertError::BadRequest {
        what: what.into(),
        reason: "no 'BEGIN CERTIFICATE REQUEST' block and not DER".into(),
    })
}
