//! Building certificates: the secure-by-default self-signed certificate
//! and its kin. rcgen's defaults (validity 1975→4096, serial derived from
//! the key) are never used: validity and a random serial are always set.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm,
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

/// Params for a TLS server certificate certifying `key`: SANs, CN,
/// serverAuth EKU, and the key usages its algorithm allows.
pub fn server_params(
    spec: &ServerCertSpec,
    key: &impl PublicKeyData,
) -> Result<CertificateParams, CertError> {
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
    params.key_usages = server_key_usages(key.algorithm());
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = false;
    Ok(params)
}

/// digitalSignature for every key; keyEncipherment only for an RSA
/// (rsaEncryption) key, which can encrypt (TLS 1.2's RSA key exchange).
/// An EC or Ed25519 key cannot: RFC 5480 §3 and RFC 8410 §5 forbid
/// keyEncipherment for them, and strict clients and linters reject
/// certificates that claim it; nor may an RSASSA-PSS key (RFC 4055).
pub fn server_key_usages(algorithm: &SignatureAlgorithm) -> Vec<KeyUsagePurpose> {
    let rsa = [
        &rcgen::PKCS_RSA_SHA256,
        &rcgen::PKCS_RSA_SHA384,
        &rcgen::PKCS_RSA_SHA512,
    ]
    .contains(&algorithm);
    if rsa {
        vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ]
    } else {
        vec![KeyUsagePurpose::DigitalSignature]
    }
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

/// Parses a subject such as `CN=mail.contoso.com,O=Contoso,C=US` into
/// attribute pairs, as RFC 4514 writes distinguished names: a comma,
/// plus sign or other special character inside a value is escaped
/// (`O=Contoso\, Inc.`, `\2C` in hex), or the whole value is quoted
/// (`O="Contoso, Inc."`, as OpenSSL and Windows also accept).
pub fn parse_subject(input: &str) -> Result<Vec<(String, String)>, CertError> {
    let bad = |reason: String| CertError::BadInput {
        what: format!("--subject '{input}'"),
        reason,
    };
    let mut parts = Vec::new();
    for rdn in split_rdns(input).map_err(&bad)? {
        if rdn.trim().is_empty() {
            continue;
        }
        let (attr, raw) = split_unescaped(&rdn, '=').ok_or_else(|| {
            bad("write it as CN=name,O=organisation,C=country (escape a comma inside a value as \\, or quote the value)".into())
        })?;
        let attr = attr.trim();
        dn_type(attr)?;
        let value = unescape_value(raw).map_err(&bad)?;
        if value.is_empty() {
            return Err(bad(format!("{attr}= has no value")));
        }
        if attr.eq_ignore_ascii_case("C")
            && !(value.len() == 2 && value.chars().all(|c| c.is_ascii_alphabetic()))
        {
            return Err(bad(
                "the country (C=) is a two-letter code such as US or DE".into(),
            ));
        }
        parts.push((attr.to_ascii_uppercase(), value));
    }
    if parts.is_empty() {
        return Err(bad("it is empty".into()));
    }
    Ok(parts)
}

/// Splits at the commas that separate RDNs: not escaped, not quoted.
/// A `+` (several attributes in one RDN) is refused: each attribute is
/// written as its own RDN.
fn split_rdns(input: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = input.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                match chars.next() {
                    Some(next) => current.push(next),
                    None => return Err("it ends with a lone backslash".into()),
                }
            }
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            '+' if !quoted => {
                return Err("a '+' joins several attributes into one RDN, which mailcert does not write; give each attribute on its own, separated by commas (escape a literal plus as \\+)".into())
            }
            _ => current.push(c),
        }
    }
    if quoted {
        return Err("a quoted value has no closing '\"'".into());
    }
    out.push(current);
    Ok(out)
}

/// The text before and after the first unescaped `sep`.
fn split_unescaped(text: &str, sep: char) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == sep => return Some((&text[..i], &text[i + c.len_utf8()..])),
            _ => {}
        }
    }
    None
}

/// An attribute value: quoted, or with RFC 4514 escapes (`\,` and the
/// other specials, `\XX` hex bytes for UTF-8). Unescaped spaces around
/// it are not part of it.
fn unescape_value(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim_start();
    if let Some(rest) = trimmed.strip_prefix('"') {
        let mut value = Vec::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, next)) => push_char(&mut value, next),
                    None => return Err("a quoted value ends with a lone backslash".into()),
                },
                '"' => {
                    if !rest[i + 1..].trim().is_empty() {
                        return Err(format!(
                            "'{}' follows a quoted value; put a comma between attributes",
                            rest[i + 1..].trim()
                        ));
                    }
                    return String::from_utf8(value)
                        .map_err(|_| "a value is not valid UTF-8".into());
                }
                _ => push_char(&mut value, c),
            }
        }
        return Err("a quoted value has no closing '\"'".into());
    }
    if trimmed.starts_with('#') {
        return Err("a value written as #hex (BER) is not accepted: write the text itself (escape a leading # as \\#)".into());
    }
    let mut value = Vec::new();
    // Trailing unescaped spaces are dropped; escaped ones are kept.
    let mut keep = 0;
    let mut chars = trimmed.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if c == '"' {
                return Err(
                    "a '\"' inside a value must be escaped as \\\" (or quote the whole value)"
                        .into(),
                );
            }
            push_char(&mut value, c);
            if c != ' ' {
                keep = value.len();
            }
            continue;
        }
        let Some(next) = chars.next() else {
            return Err("a value ends with a lone backslash".into());
        };
        if next.is_ascii_hexdigit() {
            let low = chars
                .next()
                .filter(char::is_ascii_hexdigit)
                .ok_or_else(|| format!("\\{next} is not an escape: use two hex digits (\\2C) or a special character (\\,)"))?;
            let byte = u8::from_str_radix(&format!("{next}{low}"), 16)
                .map_err(|_| "bad hex escape".to_string())?;
            value.push(byte);
        } else if " \"#+,;<=>\\".contains(next) {
            push_char(&mut value, next);
        } else {
            return Err(format!(
                "\\{next} is not an escape RFC 4514 knows: escape only , + \" \\ < > ; = # and spaces, or write \\XX in hex"
            ));
        }
        keep = value.len();
    }
    value.truncate(keep);
    String::from_utf8(value).map_err(|_| "a hex escape does not form valid UTF-8".into())
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// A self-signed server certificate, as `init` and `new --self-signed` make.
pub fn self_signed(spec: &ServerCertSpec, key: &KeyPair) -> Result<Issued, CertError> {
    let params = server_params(spec, key)?;
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

#[cfg(test)]
mod tests {
    use super::parse_subject;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, v)| (a.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn subjects_read_as_rfc_4514_writes_them() {
        assert_eq!(
            parse_subject("CN=mail.contoso.com, O=Contoso, C=us").unwrap(),
            pairs(&[("CN", "mail.contoso.com"), ("O", "Contoso"), ("C", "us")])
        );
        for text in [
            r"CN=a.contoso.com,O=Contoso\, Inc.",
            r#"CN=a.contoso.com,O="Contoso, Inc.""#,
            r#"CN=a.contoso.com, O = "Contoso, Inc."  "#,
            r"CN=a.contoso.com,O=Contoso\2C Inc.",
        ] {
            assert_eq!(
                parse_subject(text).unwrap(),
                pairs(&[("CN", "a.contoso.com"), ("O", "Contoso, Inc.")]),
                "{text}"
            );
        }
        assert_eq!(
            parse_subject(r#"O=A\+B \"C\" \\ D\20,L=M\C3\BCnchen"#).unwrap(),
            pairs(&[("O", r#"A+B "C" \ D "#), ("L", "München")])
        );
        assert_eq!(
            parse_subject(r#"O="Say \"hi\"""#).unwrap(),
            pairs(&[("O", r#"Say "hi""#)])
        );
    }

    #[test]
    fn bad_subjects_say_what_is_wrong() {
        for (text, expect) in [
            ("CN=a,C=USA", "two-letter"),
            ("CN=a+O=b", "'+'"),
            (r#"O="Contoso, Inc."#, "closing"),
            (r"O=Contoso\", "backslash"),
            (r"O=Contoso\q", "not an escape"),
            ("O=#04024869", "#hex"),
            ("CN=a,O=", "no value"),
            ("mail.contoso.com", "CN=name"),
            ("XX=a", "unknown attribute"),
            (r#"O="Contoso" Inc"#, "follows a quoted value"),
        ] {
            let err = parse_subject(text).unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }
}
