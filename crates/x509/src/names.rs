//! Names on certificates: validation of what administrators type, and the
//! matching rules clients apply (RFC 6125: a wildcard covers exactly one
//! whole left-most label).

use std::fmt;
use std::net::IpAddr;

use crate::error::NameError;

/// A name as it goes on a certificate: a DNS name (ASCII, lower case,
/// IDNs already converted to punycode) or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(untagged)]
pub enum SubjectName {
    Dns(String),
    Ip(IpAddr),
}

impl SubjectName {
    pub fn is_wildcard(&self) -> bool {
        matches!(self, SubjectName::Dns(n) if n.starts_with("*."))
    }

    pub fn as_dns(&self) -> Option<&str> {
        match self {
            SubjectName::Dns(n) => Some(n),
            SubjectName::Ip(_) => None,
        }
    }
}

impl fmt::Display for SubjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectName::Dns(n) => f.write_str(n),
            SubjectName::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// The result of validating one typed name: what goes on the certificate,
/// and whether it had to be converted from Unicode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    pub name: SubjectName,
    /// The Unicode form the administrator typed, when it was an IDN.
    pub unicode: Option<String>,
}

/// Validates a name typed by an administrator: DNS syntax (LDH labels of
/// 1–63 characters, 253 in all), IDNs converted to punycode, IP addresses
/// recognised, and a wildcard only as the whole left-most label.
pub fn parse_name(input: &str) -> Result<ParsedName, NameError> {
    let trimmed = input.trim();
    let invalid = |reason: &str| NameError::Invalid {
        name: input.to_string(),
        reason: reason.to_string(),
    };
    if trimmed.is_empty() {
        return Err(invalid("the name is empty"));
    }
    let bracketless = trimmed.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bracketless.parse::<IpAddr>() {
        return Ok(ParsedName {
            name: SubjectName::Ip(ip),
            unicode: None,
        });
    }
    let without_dot = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let (wildcard, rest) = match without_dot.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, without_dot),
    };
    if rest.contains('*') {
        return Err(invalid(
            "a wildcard may only be the whole left-most label, as in *.contoso.com",
        ));
    }
    let ascii = if rest.is_ascii() {
        rest.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(rest)
            .map_err(|_| invalid("it is not a valid internationalised domain name"))?
    };
    ensure_dns_syntax(&ascii).map_err(|reason| invalid(&reason))?;
    if wildcard && !ascii.contains('.') {
        return Err(invalid(
            "a wildcard needs at least two labels after it (*.contoso.com, not *.com)",
        ));
    }
    let unicode = (!rest.is_ascii()).then(|| without_dot.to_string());
    let name = if wildcard {
        format!("*.{ascii}")
    } else {
        ascii
    };
    Ok(ParsedName {
        name: SubjectName::Dns(name),
        unicode,
    })
}

fn ensure_dns_syntax(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err("it is longer than 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label (two dots in a row?)".into());
        }
        if label.len() > 63 {
            return Err(format!("label '{label}' is longer than 63 characters"));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!("character '{bad}' is not allowed in a DNS name"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label '{label}' starts or ends with a hyphen"));
        }
        if label.len() > 4 && label[..4].eq_ignore_ascii_case("xn--") {
            let (_, decoded) = idna::domain_to_unicode(label);
            if decoded.is_err() {
                return Err(format!("label '{label}' is not valid punycode"));
            }
        }
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("its last label is numeric: it is neither a DNS name nor an IP address".into());
    }
    Ok(())
}

/// How a certificate name covers a host name a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameMatch {
    Exact,
    Wildcard,
}

/// Does certificate name `pattern` cover `host`, as a client checks it?
/// Case-insensitive; `*.example.com` covers `a.example.com` only: not
/// `example.com`, not `a.b.example.com`, and partial-label wildcards
/// (`mail*.example.com`) never match.
pub fn name_matches(pattern: &str, host: &str) -> Option<NameMatch> {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if pattern == host && !pattern.contains('*') {
        return Some(NameMatch::Exact);
    }
    let suffix = pattern.strip_prefix("*.")?;
    if suffix.contains('*') || !suffix.contains('.') {
        return None;
    }
    let (first, rest) = host.split_once('.')?;
    (!first.is_empty() && rest == suffix).then_some(NameMatch::Wildcard)
}

/// Does certificate name `pattern` cover everything certificate name
/// `name` covers? A host name is covered as a client checks it (exactly or
/// by a wildcard one label up); a wildcard only by the same wildcard, since
/// RFC 6125 wildcards span exactly one label.
pub fn name_covers(pattern: &str, name: &str) -> bool {
    let normal = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
    if name.contains('*') {
        return normal(pattern) == normal(name);
    }
    name_matches(pattern, name).is_some()
}

/// The best way any of `names` covers `host` (exact before wildcard).
pub fn best_match<'a>(names: impl IntoIterator<Item = &'a str>, host: &str) -> Option<NameMatch> {
    let mut best = None;
    for name in names {
        match name_matches(name, host) {
            Some(NameMatch::Exact) => return Some(NameMatch::Exact),
            Some(NameMatch::Wildcard) => best = Some(NameMatch::Wildcard),
            None => {}
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(s: &str) -> SubjectName {
        SubjectName::Dns(s.into())
    }

    #[test]
    fn covering_a_name() {
        assert!(name_covers("Mail.Contoso.com", "mail.contoso.com."));
        assert!(name_covers("*.contoso.com", "mail.contoso.com"));
        assert!(name_covers("*.contoso.com", "*.CONTOSO.com"));
        assert!(!name_covers("*.contoso.com", "contoso.com"));
        assert!(!name_covers("*.contoso.com", "a.b.contoso.com"));
        assert!(!name_covers("*.contoso.com", "*.b.contoso.com"));
        assert!(
            !name_covers("mail.contoso.com", "*.contoso.com"),
            "a host name never covers a wildcard"
        );
    }

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            parse_name("Mail.Contoso.COM.").unwrap().name,
            dns("mail.contoso.com")
        );
        assert_eq!(
            parse_name("*.contoso.com").unwrap().name,
            dns("*.contoso.com")
        );
        assert_eq!(
            parse_name("192.0.2.7").unwrap().name,
            SubjectName::Ip("192.0.2.7".parse().unwrap())
        );
        assert_eq!(
            parse_name("[2001:db8::1]").unwrap().name,
            SubjectName::Ip("2001:db8::1".parse().unwrap())
        );
        let idn = parse_name("bücher.example").unwrap();
        assert_eq!(idn.name, dns("xn--bcher-kva.example"));
        assert_eq!(idn.unicode.as_deref(), Some("bücher.example"));
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "a..b",
            "-a.com",
            "a-.com",
            "mail*.contoso.com",
            "a.*.contoso.com",
            "*.com",
            "**.contoso.com",
            "has space.com",
            "foo_bar.contoso.com",
            "xn--zz.com",
            "1.2.3",
            &"a".repeat(64),
        ] {
            assert!(parse_name(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn wildcard_covers_one_label_only() {
        assert_eq!(
            name_matches("*.contoso.com", "mail.contoso.com"),
            Some(NameMatch::Wildcard)
        );
        assert_eq!(name_matches("*.contoso.com", "contoso.com"), None);
        assert_eq!(name_matches("*.contoso.com", "a.b.contoso.com"), None);
        assert_eq!(name_matches("mail*.contoso.com", "mail1.contoso.com"), None);
        assert_eq!(name_matches("*.com", "contoso.com"), None);
        assert_eq!(
            name_matches("MAIL.contoso.com", "mail.CONTOSO.com."),
            Some(NameMatch::Exact)
        );
        assert_eq!(
            best_match(["*.contoso.com", "mail.contoso.com"], "mail.contoso.com"),
            Some(NameMatch::Exact)
        );
    }
}
