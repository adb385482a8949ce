//! What a certificate says, read once from its DER into plain fields.

use std::net::IpAddr;

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::sigalg::{Check, Scheme};

use crate::error::CertError;
use crate::thumbprint::{sha256_hex, thumbprint, upper_hex};

/// The facts about one certificate that every command shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub thumbprint: String,
    pub sha256: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    /// DNS names from the SAN extension, as written on the certificate.
    pub names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key_algorithm: String,
    pub key_size: u32,
    pub signature_algorithm: String,
    /// Subject equals issuer and the signature verifies with its own key.
    pub is_self_signed: bool,
    pub is_ca: bool,
    /// The EKU extension is absent (any use) or lists serverAuth/anyEKU.
    pub server_auth: bool,
    pub has_eku: bool,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
    /// DER of the SubjectPublicKeyInfo, to match keys and requests.
    pub spki_der: Vec<u8>,
    pub subject_raw: Vec<u8>,
    pub issuer_raw: Vec<u8>,
}

impl CertSummary {
    /// An RSA key under 2048 bits, which clients refuse.
    pub fn has_weak_rsa_key(&self) -> bool {
        crate::keys::is_weak_rsa(&self.key_algorithm, self.key_size)
    }

    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| CertError::BadCertificate {
                what: "the data".into(),
                reason: e.to_string(),
            })?;
        if !rest.is_empty() {
            return Err(CertError::BadCertificate {
                what: "the data".into(),
                reason: format!("{} unexpected bytes after the certificate", rest.len()),
            });
        }
        Ok(summarize(der, &cert))
    }

    /// The CN of the subject, or the whole subject when it has none.
    pub fn subject_cn(&self) -> String {
        common_name(&self.subject).unwrap_or_else(|| self.subject.clone())
    }

    /// The issuer's CN, or the whole issuer name.
    pub fn issuer_cn(&self) -> String {
        common_name(&self.issuer).unwrap_or_else(|| self.issuer.clone())
    }

    /// The names to put on a renewal: DNS names and IP addresses, or the
    /// CN when the certificate has no SAN at all.
    pub fn renewal_names(&self) -> Vec<crate::names::SubjectName> {
        use crate::names::SubjectName;
        let mut names: Vec<SubjectName> = self
            .names
            .iter()
            .map(|n| SubjectName::Dns(n.clone()))
            .collect();
        names.extend(self.ip_addresses.iter().map(|ip| SubjectName::Ip(*ip)));
        if names.is_empty() {
            names.push(SubjectName::Dns(self.subject_cn()));
        }
        names
    }

    /// Whether `at` is within the certificate's dates, in whole seconds
    /// (see [`crate::time::validity`]).
    pub fn validity_at(&self, at: OffsetDateTime) -> crate::time::Validity {
        crate::time::validity(self.not_before, self.not_after, at)
    }

    /// Days of validity in all, as a CA counts them.
    pub fn validity_days(&self) -> i64 {
        (self.not_after - self.not_before).whole_days()
    }

    /// Does `issuer` look like the certificate that signed this one (names
    /// and key identifiers agree)? The signature is checked separately.
    pub fn issued_by(&self, issuer: &CertSummary) -> bool {
        if self.issuer_raw != issuer.subject_raw {
            return false;
        }
        match (&self.authority_key_id, &issuer.subject_key_id) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        }
    }
}

fn common_name(dn: &str) -> Option<String> {
    dn.split(", ")
        .find_map(|part| part.strip_prefix("CN="))
        .map(str::to_string)
}

fn summarize(der: &[u8], cert: &X509Certificate<'_>) -> CertSummary {
    let mut names = Vec::new();
    let mut ip_addresses = Vec::new();
    let mut server_auth = true;
    let mut has_eku = false;
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for general in &san.general_names {
                    match general {
                        GeneralName::DNSName(n) => names.push(n.to_string()),
                        GeneralName::IPAddress(raw) => {
                            if let Some(ip) = ip_from_bytes(raw) {
                                ip_addresses.push(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                has_eku = true;
                server_auth = eku.server_auth || eku.any;
            }
            ParsedExtension::SubjectKeyIdentifier(ski) => subject_key_id = Some(ski.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => {}
        }
    }
    let (key_algorithm, key_size) = key_description(cert);
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let self_issued = cert.subject().as_raw() == cert.issuer().as_raw();
    CertSummary {
        thumbprint: thumbprint(der),
        sha256: sha256_hex(der),
        serial: upper_hex(cert.raw_serial()),
        is_self_signed: self_issued && self_signed(cert, &subject_key_id, &authority_key_id),
        is_ca: cert.is_ca(),
        subject,
        issuer,
        names,
        ip_addresses,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        key_algorithm,
        key_size,
        signature_algorithm: signature_name(cert),
        server_auth,
        has_eku,
        subject_key_id,
        authority_key_id,
        spki_der: cert.public_key().raw.to_vec(),
        subject_raw: cert.subject().as_raw().to_vec(),
        issuer_raw: cert.issuer().as_raw().to_vec(),
    }
}

fn ip_from_bytes(raw: &[u8]) -> Option<IpAddr> {
    match raw.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(raw).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(raw).ok()?)),
        _ => None,
    }
}

fn signature_name(cert: &X509Certificate<'_>) -> String {
    Scheme::of(&cert.signature_algorithm).name()
}

/// Signed with its own key. A signature that cannot be checked (MD5, a
/// tiny RSA key) still counts when the key identifiers agree: the question
/// here is who signed, not whether clients accept the algorithm.
fn self_signed(cert: &X509Certificate<'_>, ski: &Option<Vec<u8>>, aki: &Option<Vec<u8>>) -> bool {
    let check = crate::sigalg::check_signature(
        cert.tbs_certificate.as_ref(),
        &cert.signature_algorithm,
        &cert.signature_value.data,
        cert.public_key(),
    );
    match check {
        Check::Verified => true,
        Check::Mismatch => false,
        Check::Unsupported(_) => aki.is_none() || aki == ski,
    }
}

/// The X.509 version of a certificate (1, 2 or 3), if it parses.
pub fn x509_version(der: &[u8]) -> Option<u32> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.version().0 + 1)
}

/// Refuses an X.509 version 1 or 2 server certificate: it cannot carry a
/// subjectAltName, and webpki (so rustls clients and this tool's trust
/// check) accepts only version 3 below the root.
pub fn ensure_version_3(der: &[u8], what: &str) -> Result<(), CertError> {
    match x509_version(der) {
        Some(version) if version < 3 => Err(CertError::NotVersion3 {
            what: what.into(),
            version,
        }),
        _ => Ok(()),
    }
}

/// The key of a SubjectPublicKeyInfo in the CLI's words (`rsa-1024`,
/// `ec-p256`, …) and its size in bits.
pub fn spki_description(spki_der: &[u8]) -> Option<(String, u32)> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    Some(describe_key(&spki))
}

/// Key algorithm in the CLI's own words (`ec-p256`, `rsa-2048`, …) and size.
fn key_description(cert: &X509Certificate<'_>) -> (String, u32) {
    describe_key(cert.public_key())
}

fn describe_key(spki: &SubjectPublicKeyInfo<'_>) -> (String, u32) {
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = crate::spki::modulus_bits(rsa.modulus);
            (format!("rsa-{bits}"), bits)
        }
        Ok(PublicKey::EC(_)) => {
            let curve = crate::spki::named_curve(spki);
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => ("ec-p256".into(), 256),
                Some("1.3.132.0.34") => ("ec-p384".into(), 384),
                Some("1.3.132.0.35") => ("ec-p521".into(), 521),
                Some(other) => (format!("ec-{other}"), 0),
                None => ("ec".into(), 0),
            }
        }
        _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => ("ed25519".into(), 256),
        Ok(PublicKey::DSA(y)) => ("dsa".into(), (y.len() * 8) as u32),
        _ => (spki.algorithm.algorithm.to_id_string(), 0),
    }
}
