//! The policy file of RFC 8461 §3.2, both ways: what the front end serves
//! (exact format, CRLF line endings, an id derived from the content) and
//! what a sending MTA makes of a fetched one.

use std::fmt;

use mailcert_x509::names::{name_matches, parse_name, SubjectName};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::StsError;
use crate::mode::Mode;

/// RFC 8461 §3.2: `max_age` is at most 31557600 seconds (a year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// The `max_age` the configuration uses when none is written: one week,
/// long enough to protect between a sender's visits, short enough to
/// correct a mistake.
pub const DEFAULT_MAX_AGE: u32 = 604_800;

/// The largest policy body a sender needs to read. RFC 8461 §3.3 lets
/// senders limit it; 64 KiB holds thousands of mx lines.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Where senders fetch the policy of a domain from.
pub const WELL_KNOWN_PATH: &str = "/.well-known/mta-sts.txt";

/// One `mx` line of a policy: a host name, or `*.` and a domain matching
/// every host exactly one label below it (RFC 8461 §4.1). Lower-case
/// ASCII; an IDN is kept in its A-label form, as DNS holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MxPattern(String);

impl MxPattern {
    /// Validates an `mx` pattern as an administrator or a policy wrote it.
    pub fn parse(text: &str) -> Result<MxPattern, StsError> {
        let bad = |reason: String| StsError::BadMxPattern {
            pattern: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.ends_with('.') {
            return Err(bad(
                "a pattern is written without the final dot (mx1.contoso.com)".into(),
            ));
        }
        match parse_name(trimmed) {
            Ok(parsed) => match parsed.name {
                SubjectName::Dns(name) => Ok(MxPattern(name)),
                SubjectName::Ip(_) => Err(bad(
                    "it is an IP address; MX records name hosts, and senders match those names"
                        .into(),
                )),
            },
            Err(mailcert_x509::NameError::Invalid { reason, .. }) => Err(bad(reason)),
            Err(e) => Err(bad(e.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// Whether an MX host name matches this pattern as a sender checks it:
    /// exactly, or `*.contoso.com` for one more label on the left, never
    /// for `contoso.com` itself or two labels more.
    pub fn matches(&self, host: &str) -> bool {
        let host = ascii_host(host);
        name_matches(&self.0, &host).is_some()
    }
}

impl fmt::Display for MxPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A host name as MX records give it, in the form patterns hold.
fn ascii_host(host: &str) -> String {
    match parse_name(host.trim().trim_end_matches('.')) {
        Ok(parsed) => parsed.name.to_string(),
        Err(_) => host.trim().trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// Checks a `max_age` against RFC 8461's limit.
pub fn ensure_max_age(max_age: u64) -> Result<u32, StsError> {
    if max_age > MAX_AGE_LIMIT {
        return Err(StsError::MaxAgeTooLong { max_age });
    }
    u32::try_from(max_age).map_err(|_| StsError::MaxAgeTooLong { max_age })
}

/// A policy domain (`contoso.com`) as it is used in names: lower-case
/// ASCII, no final dot; never a wildcard or an address.
pub fn policy_domain(text: &str) -> Result<String, StsError> {
    let bad = |reason: String| StsError::BadDomain {
        domain: text.to_string(),
        reason,
    };
    match parse_name(text.trim().trim_end_matches('.')) {
        Ok(parsed) => match parsed.name {
            SubjectName::Dns(name) if name.starts_with("*.") => Err(bad(
                "a policy is published for one mail domain; write the domain itself (contoso.com)"
                    .into(),
            )),
            SubjectName::Dns(name) if !name.contains('.') => Err(bad(
                "it is a single label; mail domains have at least two (contoso.com)".into(),
            )),
            SubjectName::Dns(name) => Ok(name),
            SubjectName::Ip(_) => Err(bad(
                "it is an IP address; a policy belongs to a mail domain".into(),
            )),
        },
        Err(mailcert_x509::NameError::Invalid { reason, .. }) => Err(bad(reason)),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// The host senders fetch a domain's policy from: `mta-sts.<domain>`.
pub fn policy_host(domain: &str) -> String {
    format!(
        "mta-sts.{}",
        domain.trim_end_matches('.').to_ascii_lowercase()
    )
}

/// The URL senders fetch a domain's policy from.
pub fn policy_url(domain: &str) -> String {
    format!("https://{}{WELL_KNOWN_PATH}", policy_host(domain))
}

/// An MTA-STS policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub mode: Mode,
    pub mx: Vec<MxPattern>,
    /// Seconds senders may cache the policy; at most [`MAX_AGE_LIMIT`].
    pub max_age: u32,
}

impl Policy {
    /// A policy to publish. Refuses a `max_age` over a year and a policy
    /// in `enforce` or `testing` mode with no MX pattern (it would refuse
    /// every MX). Duplicate patterns are kept once.
    pub fn new(mode: Mode, mx: Vec<MxPattern>, max_age: u32) -> Result<Policy, StsError> {
        ensure_max_age(u64::from(max_age))?;
        if mx.is_empty() && mode != Mode::None {
            return Err(StsError::NoMx {
                mode: mode.to_string(),
            });
        }
        let mut unique = Vec::with_capacity(mx.len());
        for pattern in mx {
            if !unique.contains(&pattern) {
                unique.push(pattern);
            }
        }
        Ok(Policy {
            mode,
            mx: unique,
            max_age,
        })
    }

    /// The policy file as served: `version` first, every line ended by
    /// CRLF (RFC 8461 §3.2), the mx lines in the order written.
    pub fn text(&self) -> String {
        let mut text = format!("version: STSv1\r\nmode: {}\r\n", self.mode);
        for pattern in &self.mx {
            text.push_str(&format!("mx: {pattern}\r\n"));
        }
        text.push_str(&format!("max_age: {}\r\n", self.max_age));
        text
    }

    /// The policy id for the `_mta-sts` TXT record: derived from the
    /// policy's text, so it changes exactly when the content does and
    /// senders refetch then (RFC 8461 §3.1: up to 32 letters and digits).
    /// The first 128 bits of the text's SHA-256, in hex.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.text().as_bytes());
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The first pattern that matches an MX host, if any.
    pub fn matching(&self, host: &str) -> Option<&MxPattern> {
        self.mx.iter().find(|p| p.matches(host))
    }

    /// Reads a policy as a sender fetched it (RFC 8461 §3.2): `key: value`
    /// lines ended by CRLF or LF, `version: STSv1` required, unknown keys
    /// ignored, the first of a repeated single field used.
    pub fn parse(body: &str) -> Result<FetchedPolicy, StsError> {
        let bad = |reason: String| StsError::BadPolicy { reason };
        if body.len() > MAX_POLICY_BYTES {
            return Err(bad(format!(
                "it is {} bytes long; senders read at most {MAX_POLICY_BYTES}",
                body.len()
            )));
        }
        let mut version = None;
        let mut mode = None;
        let mut max_age = None;
        let mut mx = Vec::new();
        let mut notes = Vec::new();
        let lf_only = body.contains('\n') && !body.contains("\r\n");
        if lf_only {
            notes.push("the policy's lines end with LF alone; RFC 8461 accepts it, but CRLF is what the RFC's examples and most senders' tests use".to_string());
        }
        for (number, raw) in body.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(bad(format!(
                    "line {} ('{}') is not 'key: value'",
                    number + 1,
                    shorten(line)
                )));
            };
            let value = value.trim_matches(|c| c == ' ' || c == '\t');
            match key {
                "version" => {
                    version.get_or_insert_with(|| value.to_string());
                }
                "mode" => {
                    if mode.is_none() {
                        mode = Some(value.parse::<Mode>().map_err(|_| {
                            bad(format!(
                                "mode '{}' is not enforce, testing or none",
                                shorten(value)
                            ))
                        })?);
                    }
                }
                "max_age" => {
                    if max_age.is_none() {
                        let digits = !value.is_empty()
                            && value.len() <= 10
                            && value.bytes().all(|b| b.is_ascii_digit());
                        let seconds: u64 = if digits {
                            value.parse().unwrap_or(u64::MAX)
                        } else {
                            return Err(bad(format!(
                                "max_age '{}' is not a number of seconds",
                                shorten(value)
                            )));
                        };
                        max_age = Some(ensure_max_age(seconds).map_err(|e| bad(e.to_string()))?);
                    }
                }
                "mx" => mx.push(MxPattern::parse(value).map_err(|e| bad(e.to_string()))?),
                other => notes.push(format!("unknown field '{}' ignored", shorten(other))),
            }
        }
        match version.as_deref() {
            Some("STSv1") => {}
            Some(other) => return Err(bad(format!("version is '{}', not STSv1", shorten(other)))),
            None => return Err(bad("it has no 'version: STSv1' line".into())),
        }
        let mode = mode.ok_or_else(|| bad("it has no mode line".into()))?;
        let max_age = max_age.ok_or_else(|| bad("it has no max_age line".into()))?;
        if mx.is_empty() && mode != Mode::None {
            return Err(bad(format!(
                "mode {mode} without any mx line matches no MX"
            )));
        }
        Ok(FetchedPolicy {
            policy: Policy { mode, mx, max_age },
            notes,
        })
    }
}

/// A policy read from a sender's fetch, with what was odd but allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPolicy {
    pub policy: Policy,
    /// Things a careful administrator would fix (LF line endings, unknown
    /// fields), none of which invalidates the policy.
    pub notes: Vec<String>,
}

/// Text from outside, cut for an error message.
pub(crate) fn shorten(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Vec<MxPattern> {
        list.iter().map(|p| MxPattern::parse(p).unwrap()).collect()
    }

    #[test]
    fn the_served_text_is_the_rfc_format_with_crlf() {
        let policy = Policy::new(
            Mode::Enforce,
            patterns(&["mx1.contoso.com", "*.mx.contoso.com"]),
            604800,
        )
        .unwrap();
        assert_eq!(
            policy.text(),
            "version: STSv1\r\nmode: enforce\r\nmx: mx1.contoso.com\r\nmx: *.mx.contoso.com\r\nmax_age: 604800\r\n"
        );
        let again = Policy::parse(&policy.text()).unwrap();
        assert_eq!(again.policy, policy);
        assert!(again.notes.is_empty(), "{:?}", again.notes);
    }

    #[test]
    fn the_id_follows_the_content_and_only_the_content() {
        let make = |mode, mx: &[&str], age| Policy::new(mode, patterns(mx), age).unwrap();
        let base = make(Mode::Enforce, &["mx1.contoso.com"], 604800);
        assert_eq!(base.id().len(), 32);
        assert!(base.id().bytes().all(|b| b.is_ascii_alphanumeric()));
        // Same content, however it was written: same id.
        assert_eq!(
            base.id(),
            make(Mode::Enforce, &["MX1.Contoso.com"], 604800).id()
        );
        assert_eq!(
            base.id(),
            make(
                Mode::Enforce,
                &["mx1.contoso.com", "mx1.contoso.com"],
                604800
            )
            .id()
        );
        // Any change of content: another id.
        let others = [
            make(Mode::Testing, &["mx1.contoso.com"], 604800),
            make(Mode::Enforce, &["mx2.contoso.com"], 604800),
            make(
                Mode::Enforce,
                &["mx1.contoso.com", "mx2.contoso.com"],
                604800,
            ),
            make(Mode::Enforce, &["mx1.contoso.com"], 86400),
        ];
        for other in &others {
            assert_ne!(base.id(), other.id(), "{other:?}");
        }
    }

    #[test]
    fn mx_patterns_match_as_rfc_8461_says() {
        let wildcard = MxPattern::parse("*.contoso.com").unwrap();
        assert!(wildcard.matches("mx1.contoso.com"));
        assert!(wildcard.matches("MX1.contoso.com."));
        assert!(!wildcard.matches("contoso.com"));
        assert!(!wildcard.matches("a.mx1.contoso.com"));
        let exact = MxPattern::parse("mx1.contoso.com").unwrap();
        assert!(exact.matches("mx1.contoso.com."));
        assert!(!exact.matches("mx2.contoso.com"));
    }

    #[test]
    fn bad_input_is_refused_with_the_reason() {
        for bad in [
            "mx 1.contoso.com",
            "*.*.contoso.com",
            "mx*.contoso.com",
            "192.0.2.1",
            "",
            "mx1.contoso.com.",
        ] {
            let err = MxPattern::parse(bad).unwrap_err();
            assert!(matches!(err, StsError::BadMxPattern { .. }), "{bad}: {err}");
        }
        assert_eq!(
            ensure_max_age(31_557_601),
            Err(StsError::MaxAgeTooLong {
                max_age: 31_557_601
            })
        );
        assert_eq!(ensure_max_age(31_557_600), Ok(31_557_600));
        assert!(matches!(
            Policy::new(Mode::Enforce, Vec::new(), 86400),
            Err(StsError::NoMx { .. })
        ));
        assert!(Policy::new(Mode::None, Vec::new(), 86400).is_ok());
        assert!("Enforce".parse::<Mode>().is_err());
        for bad in ["*.contoso.com", "localhost", "192.0.2.1", "a..b"] {
            assert!(policy_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(policy_domain("Contoso.COM.").unwrap(), "contoso.com");
        assert_eq!(
            policy_url("contoso.com"),
            "https://mta-sts.contoso.com/.well-known/mta-sts.txt"
        );
    }

    #[test]
    fn fetched_policies_are_read_like_a_sender() {
        let lf = "version: STSv1\nmode: testing\nmx: mx1.contoso.com\nmax_age: 86400\nfuture: x\n";
        let read = Policy::parse(lf).unwrap();
        assert_eq!(read.policy.mode, Mode::Testing);
        assert_eq!(read.notes.len(), 2, "{:?}", read.notes);
        for (body, why) in [
            ("mode: enforce\r\nmx: a.b\r\nmax_age: 1\r\n", "no 'version"),
            (
                "version: STSv2\r\nmode: enforce\r\nmx: a.b\r\nmax_age: 1\r\n",
                "not STSv1",
            ),
            (
                "version: STSv1\r\nmode: strict\r\nmx: a.b\r\nmax_age: 1\r\n",
                "mode 'strict'",
            ),
            (
                "version: STSv1\r\nmode: enforce\r\nmx: a.b\r\nmax_age: 99999999999\r\n",
                "not a number",
            ),
            (
                "version: STSv1\r\nmode: enforce\r\nmx: a.b\r\nmax_age: 31557601\r\n",
                "over a year",
            ),
            (
                "version: STSv1\r\nmode: enforce\r\nmax_age: 1\r\n",
                "without any mx",
            ),
            (
                "version: STSv1\r\nmode: enforce\r\nmx: a.b\r\n",
                "no max_age",
            ),
            ("<html>\r\n", "not 'key: value'"),
        ] {
            let err = Policy::parse(body).unwrap_err().to_string();
            assert!(err.contains(why), "{body:?}: {err}");
        }
    }
}
