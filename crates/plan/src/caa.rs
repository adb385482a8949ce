//! CAA (RFC 8659): which CAs a domain allows to issue for its names.
//!
//! Pure: the caller looks the records up (`plan --resolve`, `check`) and
//! passes them in as [`CaaLookup`]s, one per name asked, each holding the
//! records of the first name on the way up that has any (the relevant
//! record set, RFC 8659 §3). Here they are judged against the issuer
//! domain of the chosen CA: `letsencrypt.org` for Let's Encrypt, the
//! configured one for others.

use serde::Serialize;

use crate::output::{Finding, FindingCode, Severity};

/// The issuer domain of Let's Encrypt, the CA ACME means by default.
pub const LETS_ENCRYPT: &str = "letsencrypt.org";

/// The property tags RFC 8659 and its extensions define; a critical
/// record with any other tag forbids issuance (RFC 8659 §4.1).
const KNOWN_TAGS: &[&str] = &[
    "issue",
    "issuewild",
    "iodef",
    "contactemail",
    "contactphone",
    "issuemail",
    "issuevmc",
];

/// One CAA record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaaRecord {
    /// The issuer-critical flag (128).
    pub critical: bool,
    /// The property tag, as published (compared case-insensitively).
    pub tag: String,
    /// The value, as text.
    pub value: String,
}

impl CaaRecord {
    /// As a zone file shows it: `0 issue "letsencrypt.org"`.
    pub fn zone_form(&self) -> String {
        format!(
            "{} {} \"{}\"",
            if self.critical { 128 } else { 0 },
            self.tag,
            self.value
        )
    }

    /// The issuer domain of an `issue`/`issuewild` value (before any
    /// `;` parameters), lower case; empty: no CA at all.
    fn issuer_domain(&self) -> String {
        self.value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase()
    }
}

/// What DNS said about the CAA records of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaaLookup {
    /// The relevant record set: the records at `at` (the name itself or
    /// the closest ancestor that has any).
    Found {
        name: String,
        at: String,
        records: Vec<CaaRecord>,
    },
    /// No CAA record on the name nor any ancestor: any CA may issue.
    None { name: String },
    /// The look-up failed (SERVFAIL, timeout): CAs refuse to issue then.
    Failed { name: String, reason: String },
}

/// The names a CA climbs through for `name` (RFC 8659 §3): the name, then
/// each parent, up to the top-level domain. A wildcard is looked up
/// without its `*.` label.
pub fn climb(name: &str) -> Vec<String> {
    let bare = name
        .trim()
        .trim_end_matches('.')
        .trim_start_matches("*.")
        .to_ascii_lowercase();
    let mut out = Vec::new();
    let mut rest = bare.as_str();
    loop {
        if rest.is_empty() {
            break;
        }
        out.push(rest.to_string());
        match rest.split_once('.') {
            Some((_, parent)) => rest = parent,
            None => break,
        }
    }
    out
}

/// Why a CA is not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The issue (or issuewild) records name other CAs only.
    OtherCas {
        allowed: Vec<String>,
        tag: &'static str,
    },
    /// A record with the critical flag and a tag the CA does not know.
    CriticalUnknown { record: CaaRecord },
}

/// Whether the CA whose issuer domain is `issuer` may issue for a name
/// (a wildcard when `wildcard`) under the relevant record set `records`
/// (RFC 8659 §4.2–4.3): `issuewild` decides for wildcards when present,
/// else `issue`; no such record at all allows every CA; unknown
/// non-critical tags are ignored.
pub fn allows(records: &[CaaRecord], issuer: &str, wildcard: bool) -> Result<(), Refused> {
    if let Some(record) = records
        .iter()
        .find(|r| r.critical && !KNOWN_TAGS.contains(&r.tag.to_ascii_lowercase().as_str()))
    {
        return Err(Refused::CriticalUnknown {
            record: record.clone(),
        });
    }
    let with_tag = |tag: &str| -> Vec<&CaaRecord> {
        records
            .iter()
            .filter(|r| r.tag.eq_ignore_ascii_case(tag))
            .collect()
    };
    let wild = with_tag("issuewild");
    let (set, tag) = if wildcard && !wild.is_empty() {
        (wild, "issuewild")
    } else {
        (with_tag("issue"), "issue")
    };
    if set.is_empty() {
        return Ok(());
    }
    let issuer = issuer.trim().trim_end_matches('.').to_ascii_lowercase();
    if set.iter().any(|r| r.issuer_domain() == issuer) {
        return Ok(());
    }
    Err(Refused::OtherCas {
        allowed: set
            .iter()
            .map(|r| r.issuer_domain())
            .filter(|d| !d.is_empty())
            .collect(),
        tag,
    })
}

fn list(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// The findings for the CAA look-ups of a plan's names, for the CA whose
/// issuer domain is `issuer`: `caa-forbids` (error) for each name the CA
/// may not issue for, `caa-none` (info) for the names no CAA protects,
/// `caa-lookup-failed` (warning) when DNS did not answer.
pub fn caa_findings(lookups: &[CaaLookup], issuer: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut unprotected = Vec::new();
    let mut failed = Vec::new();
    for lookup in lookups {
        match lookup {
            CaaLookup::None { name } => unprotected.push(name.clone()),
            CaaLookup::Failed { name, reason } => failed.push(format!("{name} ({reason})")),
            CaaLookup::Found { name, at, records } => {
                let wildcard = name.starts_with("*.");
                let Err(refused) = allows(records, issuer, wildcard) else {
                    continue;
                };
                let published: Vec<String> = records
                    .iter()
                    .map(|r| format!("{at}. CAA {}", r.zone_form()))
                    .collect();
                let (message, fix) = match refused {
                    Refused::OtherCas { allowed, tag } => (
                        format!(
                            "CAA forbids {issuer} to issue for {name}: the relevant records are at {at} ({}), and their {tag} records allow {} only. The CA checks them at issuance and refuses the whole certificate.",
                            published.join("; "),
                            if allowed.is_empty() { "no CA at all".to_string() } else { list(&allowed) }
                        ),
                        format!(
                            "Add {at}. CAA 0 {tag} \"{issuer}\" beside the existing records (or change the CA: its issuer domain must be one of them){}.",
                            if tag == "issuewild" { "; for a wildcard only issuewild records count when there are any" } else { "" }
                        ),
                    ),
                    Refused::CriticalUnknown { record } => (
                        format!(
                            "CAA forbids every CA to issue for {name}: {at}. CAA {} has the critical flag and a tag ({}) that CAs do not know, and RFC 8659 tells them to refuse then.",
                            record.zone_form(),
                            record.tag
                        ),
                        format!(
                            "Remove the record at {at}, or publish it without the critical flag (0 instead of 128)."
                        ),
                    ),
                };
                findings.push(Finding {
                    severity: Severity::Error,
                    code: FindingCode::CaaForbids,
                    names: vec![name.clone()],
                    message,
                    fix,
                });
            }
        }
    }
    if !unprotected.is_empty() {
        findings.push(Finding {
            severity: Severity::Info,
            code: FindingCode::CaaNone,
            names: unprotected.clone(),
            message: format!(
                "No CAA record covers {}: any public CA may issue for {}.",
                list(&unprotected),
                if unprotected.len() == 1 { "it" } else { "them" }
            ),
            fix: format!(
                "Optional hardening: publish CAA 0 issue \"{issuer}\" on the domain (and issuewild for wildcards) so that only your CA can issue."
            ),
        });
    }
    if !failed.is_empty() {
        findings.push(Finding {
            severity: Severity::Warning,
            code: FindingCode::CaaLookupFailed,
            names: Vec::new(),
            message: format!(
                "The CAA look-up failed for {}: a CA that cannot read CAA refuses to issue.",
                list(&failed)
            ),
            fix: "Make the domain's name servers answer CAA queries (an empty answer is fine), then plan again with --resolve.".into(),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(critical: bool, tag: &str, value: &str) -> CaaRecord {
        CaaRecord {
            critical,
            tag: tag.into(),
            value: value.into(),
        }
    }

    #[test]
    fn rfc_8659_rules() {
        let le = LETS_ENCRYPT;
        assert_eq!(allows(&[], le, false), Ok(()));
        let issue_le = record(false, "issue", "letsencrypt.org");
        let issue_other = record(false, "issue", "digicert.com; cansignhttpexchanges=yes");
        assert_eq!(allows(std::slice::from_ref(&issue_le), le, false), Ok(()));
        assert_eq!(
            allows(std::slice::from_ref(&issue_le), "LetsEncrypt.org.", false),
            Ok(())
        );
        assert!(matches!(
            allows(std::slice::from_ref(&issue_other), le, false),
            Err(Refused::OtherCas { ref allowed, tag: "issue" }) if allowed == &["digicert.com"]
        ));
        // Either record allows.
        assert_eq!(
            allows(&[issue_other.clone(), issue_le.clone()], le, false),
            Ok(())
        );
        // ";" allows no CA.
        assert!(allows(&[record(false, "issue", ";")], le, false).is_err());
        // Wildcards: issuewild decides when present, else issue.
        let wild_other = record(false, "issuewild", "digicert.com");
        assert!(allows(&[issue_le.clone(), wild_other.clone()], le, true).is_err());
        assert_eq!(
            allows(&[issue_le.clone(), wild_other.clone()], le, false),
            Ok(())
        );
        assert_eq!(allows(std::slice::from_ref(&issue_le), le, true), Ok(()));
        assert!(matches!(
            allows(std::slice::from_ref(&issue_other), le, true),
            Err(Refused::OtherCas { tag: "issue", .. })
        ));
        // Only iodef: nothing restricts.
        assert_eq!(
            allows(&[record(false, "iodef", "mailto:x@contoso.com")], le, false),
            Ok(())
        );
        // Unknown tags: ignored, unless critical.
        assert_eq!(
            allows(&[issue_le.clone(), record(false, "future", "x")], le, false),
            Ok(())
        );
        assert!(matches!(
            allows(&[issue_le.clone(), record(true, "future", "x")], le, false),
            Err(Refused::CriticalUnknown { .. })
        ));
        assert_eq!(
            allows(&[record(true, "issue", "letsencrypt.org")], le, false),
            Ok(())
        );
    }

    #[test]
    fn climbing_and_findings() {
        assert_eq!(
            climb("*.Mail.Contoso.com."),
            ["mail.contoso.com", "contoso.com", "com"]
        );
        let lookups = vec![
            CaaLookup::Found {
                name: "mail.contoso.com".into(),
                at: "contoso.com".into(),
                records: vec![record(false, "issue", "digicert.com")],
            },
            CaaLookup::Found {
                name: "*.contoso.com".into(),
                at: "contoso.com".into(),
                records: vec![
                    record(false, "issue", "letsencrypt.org"),
                    record(false, "issuewild", ";"),
                ],
            },
            CaaLookup::Found {
                name: "autodiscover.contoso.com".into(),
                at: "contoso.com".into(),
                records: vec![record(false, "issue", "letsencrypt.org")],
            },
            CaaLookup::None {
                name: "mail.fabrikam.com".into(),
            },
            CaaLookup::Failed {
                name: "mail.example.net".into(),
                reason: "SERVFAIL".into(),
            },
        ];
        let findings = caa_findings(&lookups, LETS_ENCRYPT);
        let codes: Vec<(&str, &str, Vec<String>)> = findings
            .iter()
            .map(|f| (f.code.as_str(), f.severity.as_str(), f.names.clone()))
            .collect();
        assert_eq!(
            codes,
            [
                ("caa-forbids", "error", vec!["mail.contoso.com".to_string()]),
                ("caa-forbids", "error", vec!["*.contoso.com".to_string()]),
                ("caa-none", "info", vec!["mail.fabrikam.com".to_string()]),
                ("caa-lookup-failed", "warning", vec![]),
            ]
        );
        assert!(
            findings[0]
                .fix
                .contains("contoso.com. CAA 0 issue \"letsencrypt.org\""),
            "{}",
            findings[0].fix
        );
        assert!(
            findings[1]
                .fix
                .contains("CAA 0 issuewild \"letsencrypt.org\""),
            "{}",
            findings[1].fix
        );
    }
}
