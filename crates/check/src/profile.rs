//! The RFC 5280 rules each certificate of the chain keeps on its own
//! ([`mailcert_x509::profile`]), as findings: the server certificate, the
//! intermediates on the path, a root sent along, and the trust anchor the
//! path reaches (webpki judges none of a trust anchor's extensions;
//! OpenSSL-based clients do).

use mailcert_x509::profile::{violations, Violation};
use mailcert_x509::CertSummary;

use crate::finding::{Code, Finding, Source};

/// What a certificate is in the chain, for the words of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Server,
    Intermediate,
    /// A root: sent along, or the trust anchor the path reaches.
    Root,
}

/// Adds a finding for every rule a certificate of the chain breaks.
pub(crate) fn check(
    certificates: &[(Role, &CertSummary, &[u8])],
    source: Source,
    findings: &mut Vec<Finding>,
) {
    for &(role, summary, der) in certificates {
        for violation in violations(der) {
            findings.push(finding(role, summary, source, &violation));
        }
    }
}

/// Is this one of the codes of this module?
pub(crate) fn is_profile_code(code: Code) -> bool {
    matches!(
        code,
        Code::KeyCertSignWithoutCa
            | Code::CaWithoutKeyCertSign
            | Code::PathLengthWithoutCa
            | Code::UnknownCriticalExtension
            | Code::CriticalNotAllowed
            | Code::DuplicateExtension
            | Code::EmptySan
            | Code::EmptySubject
            | Code::EmptyIssuer
            | Code::NameConstraintsNotCa
            | Code::MalformedNameConstraints
    )
}

fn finding(role: Role, cert: &CertSummary, source: Source, violation: &Violation) -> Finding {
    let cn = match cert.subject_cn() {
        cn if !cn.is_empty() => cn,
        _ => match cert.names.first() {
            Some(name) => format!("{name}, with an empty subject"),
            None => "with an empty subject".into(),
        },
    };
    let who = match (role, source) {
        (Role::Server, Source::Served) => format!("The server certificate \"{cn}\""),
        (Role::Server, Source::Files) => format!("The certificate \"{cn}\""),
        (Role::Intermediate, _) => format!("The intermediate \"{cn}\""),
        (Role::Root, _) => format!("The root \"{cn}\""),
    };
    let rule = format!("RFC 5280 (section {}) forbids it", violation.section());
    let (code, what) = match violation {
        Violation::KeyCertSignWithoutCa => (
            Code::KeyCertSignWithoutCa,
            format!("{who} lets its key sign certificates (keyUsage keyCertSign) but is not a CA (no basicConstraints cA:TRUE): {rule}, and OpenSSL in strict mode refuses it (\"Key usage keyCertSign invalid for non-CA cert\")"),
        ),
        Violation::CaWithoutKeyCertSign { path_len } => (
            Code::CaWithoutKeyCertSign,
            format!(
                "{who} is a CA (basicConstraints cA:TRUE{}) whose key usage does not allow signing certificates (no keyCertSign): {rule}; clients refuse the certificates it signs, and refuse it as a server certificate",
                path_len.map(|n| format!(", pathLenConstraint {n}")).unwrap_or_default()
            ),
        ),
        Violation::PathLenWithoutCa { path_len } => (
            Code::PathLengthWithoutCa,
            format!("{who} sets a path length constraint ({path_len}) but is not a CA (basicConstraints cA:FALSE): {rule}, as the constraint only means something for a CA, and OpenSSL in strict mode refuses it (\"Path length invalid for non-CA cert\")"),
        ),
        Violation::UnknownCriticalExtension { extension } => (
            Code::UnknownCriticalExtension,
            format!("{who} marks the extension {extension} critical, and clients do not process it: RFC 5280 (section 4.2) requires a client to refuse a certificate with a critical extension it does not recognise, so they reject the chain (OpenSSL: \"unhandled critical extension\")"),
        ),
        Violation::CriticalNotAllowed { extension, .. } => (
            Code::CriticalNotAllowed,
            format!("{who} marks its {extension} extension critical: {rule} (it must be non-critical), and clients that do not expect it critical refuse the certificate"),
        ),
        Violation::DuplicateExtension { extension } => (
            Code::DuplicateExtension,
            format!("{who} carries the extension {extension} more than once: RFC 5280 (section 4.2) allows one instance, and clients refuse the certificate (OpenSSL: \"invalid certificate\", rustls: an invalid extension value) or read only one of them"),
        ),
        Violation::EmptySubjectAltName => (
            Code::EmptySan,
            format!("{who} has a subjectAltName extension with no name in it: {rule} (at least one name is required), the certificate names no server a client could ask for, and OpenSSL in strict mode refuses it (\"Empty Subject Alternative Name extension\")"),
        ),
        Violation::EmptySubjectWithoutCriticalSan { san_present } => (
            Code::EmptySubject,
            format!(
                "{who} has an empty subject and {}: {rule}, since the names are then nowhere else, and OpenSSL in strict mode refuses it (\"Subject empty and Subject Alt Name extension not critical\")",
                if *san_present {
                    "a subjectAltName that is not marked critical"
                } else {
                    "no subjectAltName"
                }
            ),
        ),
        Violation::CaWithEmptySubject => (
            Code::EmptySubject,
            format!("{who} is a CA with an empty subject: {rule}, because the certificates it signs name it as their issuer, and clients cannot find an issuer with no name"),
        ),
        Violation::EmptyIssuer => (
            Code::EmptyIssuer,
            format!("{who} names no issuer (an empty issuer name): {rule}, and clients cannot find the CA that signed it"),
        ),
        Violation::NameConstraintsNotCa => (
            Code::NameConstraintsNotCa,
            format!("{who} carries name constraints but is not a CA: {rule} (name constraints belong in CA certificates only); the certificate was made wrong, and clients differ on what they do with it"),
        ),
        Violation::MalformedNameConstraints => (
            Code::MalformedNameConstraints,
            format!("{who} has a name constraints extension that permits and excludes nothing, or cannot be read: {rule}; clients differ, some ignore it and others refuse the chain"),
        ),
    };
    let fix = match role {
        Role::Server => "Have the certificate reissued without the defect (a CA's TLS server or web server template makes it right), then bind the new certificate (mailcert enable).".to_string(),
        Role::Intermediate => format!("Get the CA's current intermediate in place of \"{cn}\" and send it with the server certificate; if the CA has no other, get the certificate from a CA whose chain follows RFC 5280."),
        Role::Root => format!("Get the certificate from a CA whose root follows RFC 5280, or have \"{cn}\" reissued if it is your own private CA (mailcert ca init makes a conforming one)."),
    };
    Finding::error(code, format!("{what}."), fix)
}
