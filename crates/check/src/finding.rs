//! Findings: a problem a client would hit, with its cause and its fix.

use std::fmt;

use serde::{Serialize, Serializer};

/// Where the certificates come from: it changes the wording of fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Sent by a server during a handshake (`check`).
    Served,
    /// Read from files (`verify`).
    Files,
}

/// How bad a finding is. Only `Error` makes `check` and `verify` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Clients fail, or will fail.
    Error,
    /// Works for most clients today, but something is wrong or about to be.
    Warning,
    /// Worth knowing; nothing breaks.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// The stable identifiers of findings (kebab-case in JSON and text).
        /// Scripts depend on them: add codes, never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in the order of the documentation.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    /// The chain ends at a CA the client does not trust (private CA, unknown root).
    UntrustedIssuer => "untrusted-issuer",
    /// The server certificate signed itself and is not trusted.
    SelfSigned => "self-signed",
    /// An intermediate certificate the client needs is not sent.
    IncompleteChain => "incomplete-chain",
    /// The server sends its certificates out of order, or sends unrelated ones.
    ChainOrder => "chain-order",
    /// The server sends the root certificate, which clients never use from the wire.
    UnneededRoot => "unneeded-root",
    /// The name the client asked for is not on the certificate.
    NameMismatch => "name-mismatch",
    Expired => "expired",
    NotYetValid => "not-yet-valid",
    ExpiringSoon => "expiring-soon",
    /// Longer than a public CA may issue at the evaluated date.
    ValidityTooLong => "validity-too-long",
    /// RSA below 2048 bits (or DSA).
    WeakKey => "weak-key",
    Sha1Signature => "sha1-signature",
    NoServerAuthEku => "no-server-auth-eku",
    /// The server accepts TLS 1.0 or 1.1.
    OldTlsVersion => "old-tls-version",
    StarttlsNotOffered => "starttls-not-offered",
    StarttlsRefused => "starttls-refused",
    /// An IMAP server that greets with PREAUTH (no chance to start TLS first).
    Preauth => "preauth",
    /// Login or AUTH offered before TLS (no LOGINDISABLED).
    PlaintextAuthBeforeTls => "plaintext-auth-before-tls",
    /// The server sent plaintext after its STARTTLS answer, before the handshake.
    StarttlsInjection => "starttls-injection",
    /// The certificate served is not the one the store binds to the service.
    NotBoundCertificate => "not-bound-certificate",
    ConnectFailed => "connect-failed",
    Timeout => "timeout",
    /// The server broke its protocol (pre-TLS grammar, line limits, TLS).
    ProtocolError => "protocol-error",
    /// A signature on the chain, or the server's handshake signature, does not verify.
    BadSignature => "bad-signature",
    /// A name constraint of a CA forbids the server's name.
    NameConstraintViolation => "name-constraint-violation",
    /// The chain is longer than a CA's path-length constraint allows.
    PathLengthExceeded => "path-length-exceeded",
    /// The certificate is malformed or used against its own constraints.
    InvalidCertificate => "invalid-certificate",
    // RFC 5280 rules one certificate breaks on its own (mailcert_x509::profile).
    /// keyUsage keyCertSign without basicConstraints cA (RFC 5280 4.2.1.9).
    KeyCertSignWithoutCa => "key-cert-sign-without-ca",
    /// basicConstraints cA with a keyUsage that lacks keyCertSign (4.2.1.3).
    CaWithoutKeyCertSign => "ca-without-key-cert-sign",
    /// pathLenConstraint without the cA boolean (4.2.1.9).
    PathLengthWithoutCa => "path-length-without-ca",
    /// A critical extension clients do not process (4.2).
    UnknownCriticalExtension => "unknown-critical-extension",
    /// An extension the profile requires to be non-critical is critical.
    CriticalNotAllowed => "critical-not-allowed",
    /// The same extension twice in one certificate (4.2).
    DuplicateExtension => "duplicate-extension",
    /// A subjectAltName extension with no name in it (4.2.1.6).
    EmptySan => "empty-san",
    /// An empty subject without a critical subjectAltName, or a CA with an empty subject (4.1.2.6).
    EmptySubject => "empty-subject",
    /// An empty issuer name (4.1.2.4).
    EmptyIssuer => "empty-issuer",
    /// Name constraints on a certificate that is not a CA (4.2.1.10).
    NameConstraintsNotCa => "name-constraints-not-ca",
    /// Name constraints with nothing in them, or that do not parse (4.2.1.10).
    MalformedNameConstraints => "malformed-name-constraints",
    // DANE for SMTP (RFC 7672).
    /// No usable TLSA record matches what the SMTP server serves: validating senders defer mail.
    DaneMismatch => "dane-mismatch",
    /// One usable TLSA record only: the next key change breaks delivery.
    DaneSingleRecord => "dane-single-record",
    /// TLSA usages 0 and 1 (PKIX), which SMTP senders ignore.
    DaneUnusableUsage => "dane-unusable-usage",
    /// TLSA records without DNSSEC (no AD bit): senders ignore them.
    DaneInsecure => "dane-insecure",
    // CAA (RFC 8659), with --caa-issuer.
    /// The CAA records that decide for the name do not allow the CA.
    CaaForbids => "caa-forbids",
    /// No CAA record on the name nor its parents: any CA may issue.
    CaaNone => "caa-none",
    /// The CAA look-up failed: a CA refuses to issue then.
    CaaLookupFailed => "caa-lookup-failed",
    // MTA-STS, as a sending MTA applies it (RFC 8461).
    /// The policy cannot be fetched from https://mta-sts.<domain>/.well-known/mta-sts.txt, or is not valid there.
    MtaStsPolicyUnreachable => "mta-sts-policy-unreachable",
    /// No valid `_mta-sts` TXT record: senders never fetch the policy.
    MtaStsTxtMissing => "mta-sts-txt-missing",
    /// An MX host that no mx line of the policy matches.
    MtaStsMxNotInPolicy => "mta-sts-mx-not-in-policy",
    /// An MX host whose certificate on port 25 does not validate for its name.
    MtaStsCertificateInvalid => "mta-sts-certificate-invalid",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One problem: what the client will see (`message`) and what to do (`fix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub fix: String,
}

impl Finding {
    pub fn new(
        severity: Severity,
        code: Code,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            code,
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub fn error(code: Code, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding::new(Severity::Error, code, message, fix)
    }

    pub fn warning(code: Code, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding::new(Severity::Warning, code, message, fix)
    }

    pub fn info(code: Code, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding::new(Severity::Info, code, message, fix)
    }
}

/// Orders findings by severity (stable, so the order of discovery is kept
/// within a severity) and keeps the first of each code: the most severe
/// one, so that a warning never hides an error of the same code.
pub fn tidy(findings: &mut Vec<Finding>) {
    findings.sort_by_key(|f| f.severity);
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert(f.code));
}

/// Does any finding make the run fail?
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}
