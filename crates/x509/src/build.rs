//! Building certificates: the secure-by-default self-signed certificate
//! and its kin. rcgen's defaults (validity 1975→4096, serial derived from
//! the key) are never used: validity and a random serial are always set.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::error::CertError;
use crate::names::SubjectName;

/// What a new server certificate should say.
#[derive(Debug, Clone)]
pub struct ServerCertSpec {
    /// First name becomes the CN unless `subject` is given.
    pub names: Vec<SubjectName>,
    /// Extra subject attributes, as parsed from "CN=...,O=...,C=..".
    pub subject: Option<Vec<(String, String)>>,
    pub not_before: OffsetDateTime,
    pub days: u32,
}

/// A freshly made certificate and the key it certifies (PKCS#8 DER).
pub struct Issued {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

/// 16 random bytes with the top bit cleared: a positive serial that no
/// two certificates share, even when they share a key.
pub fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    // aws-lc's generator only fails when the OS has no entropy source,
    // which makes every other key operation fail too.
    aws_lc_rs::rand::fill(&mut bytes).expect("system random generator");
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from(bytes.to_vec())
}

/// Params for a TLS server certificate: SANs, CN, serverAuth EKU,
/// digitalSignature (+ keyEncipherment for RSA key exchange in TLS 1.2).
pub fn server_params(spec: &ServerCertSpec) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    params.subject_alt_names = spec
        .names
        .iter()
        .map(san_of)
        .collect::<Result<Vec<_>, _>>()?;
    params.distinguished_name = distinguished_name(spec)?;
    params.not_before = spec.not_before;
    params.not_after = spec.not_before + Duration::days(i64::from(spec.days));
    params.serial_number = Some(random_serial());
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = false;
    Ok(params)
}

fn san_of(name: &SubjectName) -> Result<SanType, CertError> {
    Ok(match name {
        SubjectName::Ip(ip) => SanType::IpAddress(*ip),
        SubjectName::Dns(dns) => {
            SanType::DnsName(dns.clone().try_into().map_err(|e| CertError::BadInput {
                what: format!("name '{dns}'"),
                reason: format!("{e}"),
            })?)
        }
    })
}

fn distinguished_name(spec: &ServerCertSpec) -> Result<DistinguishedName, CertError> {
    let mut dn = DistinguishedName::new();
    match &spec.subject {
        Some(parts) => {
            for (attr, value) in parts {
                let kind = dn_type(attr)?;
                if kind == DnType::CountryName {
                    // RFC 5280: countryName is a PrintableString of two letters.
                    let printable = rcgen::string::PrintableString::try_from(value.as_str())
                        .ok()
                        .filter(|_| value.len() == 2)
                        .ok_or_else(|| CertError::BadInput {
                            what: "--subject".into(),
                            reason: format!(
                                "C={value}: the country is a two-letter code such as US or DE"
                            ),
                        })?;
                    dn.push(kind, rcgen::DnValue::PrintableString(printable));
                } else {
                    dn.push(kind, value.as_str());
                }
            }
        }
        None => {
            let first = spec.names.first().ok_or_else(|| CertError::BadInput {
                what: "the certificate".into(),
                reason: "it needs at least one name".into(),
            })?;
            dn.push(DnType::CommonName, first.to_string());
        }
    }
    Ok(dn)
}

fn dn_type(attr: &str) -> Result<DnType, CertError> {
    Ok(match attr.to_ascii_uppercase().as_str() {
        "CN" => DnType::CommonName,
        "O" => DnType::OrganizationName,
        "OU" => DnType::OrganizationalUnitName,
        "C" => DnType::CountryName,
        "ST" | "S" => DnType::StateOrProvinceName,
        "L" => DnType::LocalityName,
        other => {
            return Err(CertError::BadInput {
                what: "--subject".into(),
                reason: format!("unknown attribute '{other}': use CN, O, OU, L, ST or C"),
            })
        }
    })
}

/// Parses "CN=mail.contoso.com,O=Contoso,C=US" into attribute pairs.
pub fn parse_subject(input: &str) -> Result<Vec<(String, String)>, CertError> {
    let bad = |reason: &str| CertError::BadInput {
        what: format!("--subject '{input}'"),
        reason: reason.into(),
    };
    let mut parts = Vec::new();
    for piece in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (attr, value) = piece
            .split_once('=')
            .ok_or_else(|| bad("write it as CN=name,O=organisation,C=country"))?;
        dn_type(attr.trim())?;
        let value_ok = !attr.trim().eq_ignore_ascii_case("C")
            || (value.trim().len() == 2 && value.trim().chars().all(|c| c.is_ascii_alphabetic()));
        if !value_ok {
            return Err(bad(
                "the country (C=) is a two-letter code such as US or DE",
            ));
        }
        parts.push((attr.trim().to_ascii_uppercase(), value.trim().to_string()));
    }
    if parts.is_empty() {
        return Err(bad("it is empty"));
    }
    Ok(parts)
}

/// A self-signed server certificate, as `init` and `new --self-signed` make.
pub fn self_signed(spec: &ServerCertSpec, key: &KeyPair) -> Result<Issued, CertError> {
    let params = server_params(spec)?;
    let cert = params.self_signed(key).map_err(|e| CertError::Generate {
        what: "the self-signed certificate".into(),
        reason: e.to_string(),
    })?;
    Ok(Issued {
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    })
}

/// The default validity of the secure-by-default certificate: 5 years.
pub const SELF_SIGNED_DAYS: u32 = 5 * 365 + 1;

/// Now, truncated to whole seconds (X.509 times have no fractions).
pub fn now_utc() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// The self-signed certificate of an ACME TLS-ALPN-01 challenge (RFC 8737):
/// the name as its only SAN and the critical acmeIdentifier extension
/// holding `digest` (SHA-256 of the key authorization). Its key is fresh
/// and thrown away with it.
pub fn acme_alpn_certificate(
    name: &str,
    digest: &[u8],
    now: OffsetDateTime,
) -> Result<Issued, CertError> {
    let failed = |e: rcgen::Error| CertError::Generate {
        what: format!("the TLS-ALPN-01 certificate for {name}"),
        reason: e.to_string(),
    };
    let mut params = CertificateParams::new(vec![name.to_string()]).map_err(failed)?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(7);
    params.serial_number = Some(random_serial());
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    Ok(Issued {
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    })
}
