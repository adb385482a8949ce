//! The plan: certificates with their names and why each is there, and
//! findings. Serialises to the stable `plan --json` shape.

use std::fmt;

use serde::Serialize;

use crate::input::IssuerKind;

/// The planner's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The planning date (RFC 3339, UTC): validity limits depend on it.
    pub at: String,
    pub certificates: Vec<PlannedCertificate>,
    pub findings: Vec<Finding>,
}

/// One certificate to get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedCertificate {
    /// `CN=` and the first name.
    pub subject: String,
    pub issuer: IssuerKind,
    /// The longest validity the issuer may give at the planning date.
    pub max_validity_days: u32,
    /// In order: the first is the subject's common name.
    pub names: Vec<PlannedName>,
    /// The servers this certificate goes on.
    pub servers: Vec<String>,
}

/// One name on a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedName {
    /// As it goes on the certificate: ASCII (punycode), lower case.
    pub name: String,
    pub reason: String,
    /// The Unicode form, for an internationalised name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicode: Option<String>,
}

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stable finding codes: scripts depend on them, never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FindingCode {
    InternalName,
    PrivateIp,
    SingleLabelName,
    InvalidName,
    TooManyNames,
    OverCaLimit,
    ServerFqdnIncluded,
    ServerFqdnOmitted,
    WildcardScope,
    WildcardAutodiscover,
    LegacyName,
    ValidityLimit,
    AutomationRecommended,
    SplitNamespace,
    DuplicateName,
    IdnConverted,
    AutodiscoverSrv,
    AutodiscoverOff,
    BackendServers,
    PrivateCaTrust,
    SelfSigned,
    SameSubject,
    MxNotCovered,
    MtaStsMxMismatch,
    MtaStsPolicy,
    CaaForbids,
    CaaNone,
    CaaLookupFailed,
}

impl FindingCode {
    /// Every code, in documentation order.
    pub const ALL: [FindingCode; 28] = [
        FindingCode::InternalName,
        FindingCode::PrivateIp,
        FindingCode::SingleLabelName,
        FindingCode::InvalidName,
        FindingCode::TooManyNames,
        FindingCode::OverCaLimit,
        FindingCode::ServerFqdnIncluded,
        FindingCode::ServerFqdnOmitted,
        FindingCode::WildcardScope,
        FindingCode::WildcardAutodiscover,
        FindingCode::LegacyName,
        FindingCode::ValidityLimit,
        FindingCode::AutomationRecommended,
        FindingCode::SplitNamespace,
        FindingCode::DuplicateName,
        FindingCode::IdnConverted,
        FindingCode::AutodiscoverSrv,
        FindingCode::AutodiscoverOff,
        FindingCode::BackendServers,
        FindingCode::PrivateCaTrust,
        FindingCode::SelfSigned,
        FindingCode::SameSubject,
        FindingCode::MxNotCovered,
        FindingCode::MtaStsMxMismatch,
        FindingCode::MtaStsPolicy,
        FindingCode::CaaForbids,
        FindingCode::CaaNone,
        FindingCode::CaaLookupFailed,
    ];

    /// The codes only `plan --resolve` gives: they judge what DNS
    /// answers, which the pure planner never asks.
    pub const RESOLVED: [FindingCode; 3] = [
        FindingCode::CaaForbids,
        FindingCode::CaaNone,
        FindingCode::CaaLookupFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::InternalName => "internal-name",
            FindingCode::PrivateIp => "private-ip",
            FindingCode::SingleLabelName => "single-label-name",
            FindingCode::InvalidName => "invalid-name",
            FindingCode::TooManyNames => "too-many-names",
            FindingCode::OverCaLimit => "over-ca-limit",
            FindingCode::ServerFqdnIncluded => "server-fqdn-included",
            FindingCode::ServerFqdnOmitted => "server-fqdn-omitted",
            FindingCode::WildcardScope => "wildcard-scope",
            FindingCode::WildcardAutodiscover => "wildcard-autodiscover",
            FindingCode::LegacyName => "legacy-name",
            FindingCode::ValidityLimit => "validity-limit",
            FindingCode::AutomationRecommended => "automation-recommended",
            FindingCode::SplitNamespace => "split-namespace",
            FindingCode::DuplicateName => "duplicate-name",
            FindingCode::IdnConverted => "idn-converted",
            FindingCode::AutodiscoverSrv => "autodiscover-srv",
            FindingCode::AutodiscoverOff => "autodiscover-off",
            FindingCode::BackendServers => "backend-servers",
            FindingCode::PrivateCaTrust => "private-ca-trust",
            FindingCode::SelfSigned => "self-signed",
            FindingCode::SameSubject => "same-subject",
            FindingCode::MxNotCovered => "mx-not-covered",
            FindingCode::MtaStsMxMismatch => "mta-sts-mx-mismatch",
            FindingCode::MtaStsPolicy => "mta-sts-policy",
            FindingCode::CaaForbids => "caa-forbids",
            FindingCode::CaaNone => "caa-none",
            FindingCode::CaaLookupFailed => "caa-lookup-failed",
        }
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem or a decision worth knowing, with why it matters and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: FindingCode,
    /// The names concerned (certificate form), possibly none.
    pub names: Vec<String>,
    pub message: String,
    pub fix: String,
}

/// What a request needs from one planned certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestNames {
    /// The subject's common name (the first name).
    pub common_name: String,
    /// Every name, in order, the common name first.
    pub names: Vec<String>,
}

impl Plan {
    /// The worst severity among the findings, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Whether any finding is an error (`plan` then exits with 1).
    pub fn has_errors(&self) -> bool {
        self.worst() == Some(Severity::Error)
    }

    /// Per planned certificate, the common name and the names in order:
    /// what `request --plan` puts in each certificate request.
    pub fn request_names(&self) -> Vec<RequestNames> {
        self.certificates
            .iter()
            .map(|c| RequestNames {
                common_name: c.common_name().to_string(),
                names: c.names.iter().map(|n| n.name.clone()).collect(),
            })
            .collect()
    }

    /// The stable `plan --json` text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl PlannedCertificate {
    /// The subject's common name.
    pub fn common_name(&self) -> &str {
        self.subject.strip_prefix("CN=").unwrap_or(&self.subject)
    }
}
