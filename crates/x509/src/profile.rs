//! The rules of RFC 5280 a certificate keeps on its own, whatever its
//! chain: where the profile says MUST about how the fields and extensions
//! of one certificate fit together (a CA bit and its key usage, critical
//! extensions, empty names). rustls-webpki, which gives the trust verdict,
//! checks some of them for the server certificate and the intermediates
//! and none for a trust anchor; OpenSSL checks others. A certificate that
//! breaks one is malformed whichever client happens to accept it, and the
//! diagnosis says so with the rule.
//!
//! Omissions the profile asks CAs to avoid but no client refuses (a
//! missing key identifier) are not here; neither are the serial number
//! rules, which RFC 5280 §4.1.2.2 asks certificate users to tolerate.

use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

/// One rule a certificate breaks, with what the diagnosis needs to name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// keyUsage asserts keyCertSign, but basicConstraints does not assert
    /// cA (§4.2.1.3, §4.2.1.9).
    KeyCertSignWithoutCa,
    /// basicConstraints asserts cA, but the keyUsage present does not
    /// assert keyCertSign (§4.2.1.3, §4.2.1.9).
    CaWithoutKeyCertSign { path_len: Option<u32> },
    /// pathLenConstraint without the cA boolean (§4.2.1.9).
    PathLenWithoutCa { path_len: u32 },
    /// A critical extension that clients do not process, so they must
    /// reject the certificate (§4.2).
    UnknownCriticalExtension { extension: String },
    /// An extension the profile requires to be non-critical is critical.
    CriticalNotAllowed {
        extension: &'static str,
        section: &'static str,
    },
    /// The same extension twice (§4.2).
    DuplicateExtension { extension: String },
    /// subjectAltName present with no name in it (§4.2.1.6).
    EmptySubjectAltName,
    /// An empty subject needs a critical subjectAltName (§4.1.2.6).
    EmptySubjectWithoutCriticalSan { san_present: bool },
    /// A CA's subject must be a non-empty name (§4.1.2.6).
    CaWithEmptySubject,
    /// The issuer field must be a non-empty name (§4.1.2.4).
    EmptyIssuer,
    /// nameConstraints in a certificate that is not a CA (§4.2.1.10).
    NameConstraintsNotCa,
    /// nameConstraints with neither permitted nor excluded subtrees, or
    /// that do not parse (§4.2.1.10).
    MalformedNameConstraints,
}

impl Violation {
    /// The section of RFC 5280 that states the rule.
    pub fn section(&self) -> &'static str {
        match self {
            Violation::KeyCertSignWithoutCa | Violation::CaWithoutKeyCertSign { .. } => {
                "4.2.1.3 and 4.2.1.9"
            }
            Violation::PathLenWithoutCa { .. } => "4.2.1.9",
            Violation::UnknownCriticalExtension { .. } | Violation::DuplicateExtension { .. } => {
                "4.2"
            }
            Violation::CriticalNotAllowed { section, .. } => section,
            Violation::EmptySubjectAltName => "4.2.1.6",
            Violation::EmptySubjectWithoutCriticalSan { .. } | Violation::CaWithEmptySubject => {
                "4.1.2.6"
            }
            Violation::EmptyIssuer => "4.1.2.4",
            Violation::NameConstraintsNotCa | Violation::MalformedNameConstraints => "4.2.1.10",
        }
    }
}

/// Extensions every client of a mail server processes when they are
/// critical: those rustls-webpki reads (and so OpenSSL, browsers and the
/// mail clients built on them). Any other critical extension makes a
/// client that does not know it refuse the certificate, as RFC 5280 §4.2
/// requires.
const PROCESSED: [(&str, &str); 6] = [
    ("2.5.29.15", "keyUsage"),
    ("2.5.29.17", "subjectAltName"),
    ("2.5.29.19", "basicConstraints"),
    ("2.5.29.30", "nameConstraints"),
    ("2.5.29.31", "cRLDistributionPoints"),
    ("2.5.29.37", "extendedKeyUsage"),
];

/// Extensions RFC 5280 says conforming CAs MUST mark non-critical, with
/// the section that says it.
const NEVER_CRITICAL: [(&str, &str, &str); 6] = [
    ("2.5.29.35", "authorityKeyIdentifier", "4.2.1.1"),
    ("2.5.29.14", "subjectKeyIdentifier", "4.2.1.2"),
    ("2.5.29.9", "subjectDirectoryAttributes", "4.2.1.8"),
    ("2.5.29.46", "freshestCRL", "4.2.1.15"),
    ("1.3.6.1.5.5.7.1.1", "authorityInfoAccess", "4.2.2.1"),
    ("1.3.6.1.5.5.7.1.11", "subjectInfoAccess", "4.2.2.2"),
];

/// Names of other extensions seen on server certificates, for messages.
const OTHER_NAMES: [(&str, &str); 6] = [
    ("2.5.29.32", "certificatePolicies"),
    ("2.5.29.33", "policyMappings"),
    ("2.5.29.36", "policyConstraints"),
    ("2.5.29.54", "inhibitAnyPolicy"),
    (
        "1.3.6.1.4.1.11129.2.4.2",
        "the certificate transparency SCT list",
    ),
    ("1.3.6.1.5.5.7.1.24", "TLS feature (OCSP must-staple)"),
];

/// The extension's name and OID as people read them: `keyUsage
/// (2.5.29.15)`, or the OID alone when it has no common name.
pub fn extension_name(oid: &str) -> String {
    let known = PROCESSED
        .iter()
        .chain(OTHER_NAMES.iter())
        .map(|(o, n)| (*o, *n))
        .chain(NEVER_CRITICAL.iter().map(|(o, n, _)| (*o, *n)))
        .find(|(o, _)| *o == oid);
    match known {
        Some((_, name)) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

/// The rules `der` breaks, in the order of the profile; empty for a
/// well-formed certificate, and for one that does not parse at all (that
/// is reported on its own).
pub fn violations(der: &[u8]) -> Vec<Violation> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut basic = None;
    let mut key_cert_sign = None;
    let mut san = None;
    let mut name_constraints = None;
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        if seen.contains(&oid) {
            let extension = extension_name(&oid);
            if !out.contains(&Violation::DuplicateExtension {
                extension: extension.clone(),
            }) {
                out.push(Violation::DuplicateExtension { extension });
            }
            // The first one is what clients that accept it would read.
            continue;
        }
        seen.push(oid.clone());
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => basic = Some((bc.ca, bc.path_len_constraint)),
            ParsedExtension::KeyUsage(ku) => key_cert_sign = Some(ku.key_cert_sign()),
            ParsedExtension::SubjectAlternativeName(names) => {
                san = Some((ext.critical, names.general_names.is_empty()))
            }
            ParsedExtension::NameConstraints(nc) => {
                let empty = |trees: &Option<Vec<_>>| trees.as_ref().is_none_or(Vec::is_empty);
                name_constraints =
                    Some(empty(&nc.permitted_subtrees) && empty(&nc.excluded_subtrees))
            }
            _ if oid == "2.5.29.30" => name_constraints = Some(true),
            // An empty GeneralNames does not parse (SIZE (1..MAX)).
            _ if oid == "2.5.29.17" => san = Some((ext.critical, ext.value == [0x30, 0x00])),
            _ => {}
        }
        if !ext.critical {
            continue;
        }
        if let Some((_, name, section)) = NEVER_CRITICAL.iter().find(|(o, _, _)| *o == oid) {
            out.push(Violation::CriticalNotAllowed {
                extension: name,
                section,
            });
        } else if !PROCESSED.iter().any(|(o, _)| *o == oid) {
            out.push(Violation::UnknownCriticalExtension {
                extension: extension_name(&oid),
            });
        }
    }
    let is_ca = basic.is_some_and(|(ca, _)| ca);
    if key_cert_sign == Some(true) && !is_ca {
        out.push(Violation::KeyCertSignWithoutCa);
    }
    if is_ca && key_cert_sign == Some(false) {
        out.push(Violation::CaWithoutKeyCertSign {
            path_len: basic.and_then(|(_, path_len)| path_len),
        });
    }
    if let Some((false, Some(path_len))) = basic {
        out.push(Violation::PathLenWithoutCa { path_len });
    }
    if san.is_some_and(|(_, empty)| empty) {
        out.push(Violation::EmptySubjectAltName);
    }
    let empty_subject = cert.subject().iter().next().is_none();
    if empty_subject {
        if is_ca || key_cert_sign == Some(true) {
            out.push(Violation::CaWithEmptySubject);
        }
        if !san.is_some_and(|(critical, _)| critical) {
            out.push(Violation::EmptySubjectWithoutCriticalSan {
                san_present: san.is_some(),
            });
        }
    }
    if cert.issuer().iter().next().is_none() {
        out.push(Violation::EmptyIssuer);
    }
    match name_constraints {
        Some(_) if !is_ca => out.push(Violation::NameConstraintsNotCa),
        Some(true) => out.push(Violation::MalformedNameConstraints),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa,
        KeyPair, KeyUsagePurpose, SanType,
    };

    fn params(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut dn = DistinguishedName::new();
        if !cn.is_empty() {
            dn.push(DnType::CommonName, cn);
        }
        p.distinguished_name = dn;
        p
    }

    fn der(p: CertificateParams) -> Vec<u8> {
        let key = KeyPair::generate().expect("key");
        p.self_signed(&key).expect("certificate").der().to_vec()
    }

    fn server(p: &mut CertificateParams) {
        p.subject_alt_names = vec![SanType::DnsName("mail.example.com".try_into().unwrap())];
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    }

    #[test]
    fn a_well_formed_server_certificate_and_ca_break_nothing() {
        let mut leaf = params("mail.example.com");
        server(&mut leaf);
        assert_eq!(violations(&der(leaf)), vec![]);
        let mut ca = params("Example CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        assert_eq!(violations(&der(ca)), vec![]);
        // What mailcert itself makes for `init` and `new --self-signed`.
        let spec = crate::build::ServerCertSpec {
            names: vec![crate::SubjectName::Dns("mail.example.com".into())],
            subject: None,
            not_before: crate::build::now_utc(),
            days: 30,
        };
        let key = crate::KeyType::EcP256.generate().unwrap();
        let issued = crate::build::self_signed(&spec, &key).unwrap();
        assert_eq!(violations(&issued.cert_der), vec![]);
    }

    #[test]
    fn basic_constraints_and_key_usage_must_agree() {
        let mut p = params("leaf");
        server(&mut p);
        p.key_usages.push(KeyUsagePurpose::KeyCertSign);
        assert_eq!(violations(&der(p)), vec![Violation::KeyCertSignWithoutCa]);
        let mut p = params("ca");
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        assert_eq!(
            violations(&der(p)),
            vec![Violation::CaWithoutKeyCertSign { path_len: Some(0) }]
        );
        // cA:FALSE with a pathLenConstraint, written by hand.
        let mut p = params("leaf");
        server(&mut p);
        p.is_ca = IsCa::NoCa;
        let mut bc =
            CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        bc.set_criticality(true);
        p.custom_extensions.push(bc);
        assert_eq!(
            violations(&der(p)),
            vec![Violation::PathLenWithoutCa { path_len: 0 }]
        );
    }

    #[test]
    fn critical_extensions_duplicates_and_empty_names() {
        let mut p = params("leaf");
        server(&mut p);
        let mut unknown =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55738, 666, 1], vec![0x05, 0x00]);
        unknown.set_criticality(true);
        p.custom_extensions.push(unknown);
        let mut aia =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], vec![0x30, 0x00]);
        aia.set_criticality(true);
        p.custom_extensions.push(aia);
        p.custom_extensions.push(CustomExtension::from_oid_content(
            &[2, 5, 29, 17],
            vec![0x30, 0x00],
        ));
        let found = violations(&der(p));
        assert!(found.contains(&Violation::UnknownCriticalExtension {
            extension: "1.3.6.1.4.1.55738.666.1".into()
        }));
        assert!(found.contains(&Violation::CriticalNotAllowed {
            extension: "authorityInfoAccess",
            section: "4.2.2.1"
        }));
        assert!(
            found.contains(&Violation::DuplicateExtension {
                extension: "subjectAltName (2.5.29.17)".into()
            }),
            "{found:?}"
        );

        let mut p = params("");
        p.custom_extensions.push(CustomExtension::from_oid_content(
            &[2, 5, 29, 17],
            vec![0x30, 0x00],
        ));
        assert_eq!(
            violations(&der(p)),
            vec![
                Violation::EmptySubjectAltName,
                Violation::EmptySubjectWithoutCriticalSan { san_present: true },
                Violation::EmptyIssuer,
            ]
        );
        let mut p = params("");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let found = violations(&der(p));
        assert!(found.contains(&Violation::CaWithEmptySubject), "{found:?}");
    }

    #[test]
    fn name_constraints_belong_to_cas_and_say_something() {
        let mut p = params("leaf");
        server(&mut p);
        p.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example.com".into())],
            excluded_subtrees: vec![],
        });
        assert_eq!(violations(&der(p)), vec![Violation::NameConstraintsNotCa]);
        let mut p = params("ca");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let mut nc = CustomExtension::from_oid_content(&[2, 5, 29, 30], vec![0x30, 0x00]);
        nc.set_criticality(true);
        p.custom_extensions.push(nc);
        assert_eq!(
            violations(&der(p)),
            vec![Violation::MalformedNameConstraints]
        );
    }
}
