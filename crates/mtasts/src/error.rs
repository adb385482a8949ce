//! What is wrong with a policy, a pattern or a record: typed, so that the
//! configuration can place it (file, line, field) and the checker can
//! turn it into a finding.

use thiserror::Error;

/// Errors of the MTA-STS and TLS-RPT model.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StsError {
    /// `mode` is not one of RFC 8461's three.
    #[error("'{mode}' is not an MTA-STS mode: use \"enforce\", \"testing\" or \"none\"")]
    UnknownMode { mode: String },
    /// `max_age` above RFC 8461's limit of 31557600 seconds (a year).
    #[error("max_age {max_age} is over a year: RFC 8461 allows at most 31557600 seconds (a year); one week (604800) to a few weeks is usual")]
    MaxAgeTooLong { max_age: u64 },
    /// An `mx` pattern that is not a host name or `*.` and a domain.
    #[error("mx pattern '{pattern}' is not a host name: {reason}; write the MX host as it is in DNS (mx1.contoso.com) or *. and a domain (*.contoso.com) for every host one label below it")]
    BadMxPattern { pattern: String, reason: String },
    /// A policy that would refuse every MX.
    #[error("mode \"{mode}\" with no mx pattern would tell senders that no MX of the domain may receive mail; list the MX host names (mx = [\"mx1.contoso.com\"]), or use mode \"none\" to withdraw the policy")]
    NoMx { mode: String },
    /// A domain that cannot have a policy host.
    #[error("'{domain}' cannot have an MTA-STS policy: {reason}")]
    BadDomain { domain: String, reason: String },
    /// A TLS-RPT reporting address that is neither `mailto:` nor `https:`.
    #[error("rua '{uri}' is not a reporting address: {reason}; use mailto:tlsrpt@contoso.com or https://reports.contoso.com/tlsrpt")]
    BadRua { uri: String, reason: String },
    /// A fetched policy that does not follow RFC 8461 §3.2.
    #[error("the policy is not a valid MTA-STS policy: {reason}")]
    BadPolicy { reason: String },
    /// A `_mta-sts` TXT record that does not follow RFC 8461 §3.1.
    #[error("the _mta-sts TXT record is not valid: {reason}")]
    BadRecord { reason: String },
}
