//! The probe's allow-list: the hosts it may connect to, so that whoever
//! reaches the probe cannot make it scan other machines.
//!
//! Patterns: `mail.contoso.com` (that name), `*.contoso.com` (any name
//! below contoso.com, at any depth, not contoso.com itself),
//! `192.0.2.10` or `2001:db8::1` (that address), `192.0.2.0/24` (a
//! network), `*` (anything). Names compare without case and trailing dot.
//! The address comparison is written here: one prefix test over std's
//! `IpAddr` does not need a crate.

use std::net::IpAddr;

/// One allowed host pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Name(String),
    /// The suffix, with its leading dot: `.contoso.com`.
    Below(String),
    Network(IpAddr, u8),
}

/// The patterns `--allow` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    patterns: Vec<Pattern>,
    shown: Vec<String>,
}

fn normal(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

impl AllowList {
    /// Reads the patterns; the error names the one that is not one and
    /// what patterns look like.
    pub fn parse(patterns: &[String]) -> Result<AllowList, String> {
        let mut parsed = Vec::new();
        for text in patterns {
            parsed.push(parse_one(text).ok_or_else(|| {
                format!(
                    "--allow {text}: not a host pattern; give a name (mail.contoso.com), every name below a domain (*.contoso.com), an address (192.0.2.10), a network (192.0.2.0/24), or * for any host"
                )
            })?);
        }
        Ok(AllowList {
            patterns: parsed,
            shown: patterns.to_vec(),
        })
    }

    pub fn allows(&self, host: &str) -> bool {
        let host = normal(host);
        let address: Option<IpAddr> = host.parse().ok();
        self.patterns.iter().any(|pattern| match pattern {
            Pattern::Any => true,
            Pattern::Name(name) => *name == host,
            Pattern::Below(suffix) => address.is_none() && host.ends_with(suffix.as_str()),
            Pattern::Network(network, bits) => {
                address.is_some_and(|a| in_network(a, *network, *bits))
            }
        })
    }

    /// The patterns as given, for messages.
    pub fn describe(&self) -> String {
        self.shown.join(", ")
    }
}

fn parse_one(text: &str) -> Option<Pattern> {
    // Only a lone `*` is "any host": `*.` (a domain left out) must not
    // become it once the trailing dot is dropped.
    if text.trim() == "*" {
        return Some(Pattern::Any);
    }
    let text = normal(text);
    if let Some(rest) = text.strip_prefix("*.") {
        return valid_name(rest).then(|| Pattern::Below(format!(".{rest}")));
    }
    if let Some((address, bits)) = text.split_once('/') {
        let address: IpAddr = address.parse().ok()?;
        let bits: u8 = bits.parse().ok()?;
        let most = if address.is_ipv4() { 32 } else { 128 };
        return (bits <= most).then_some(Pattern::Network(address, bits));
    }
    if let Ok(address) = text.parse::<IpAddr>() {
        let bits = if address.is_ipv4() { 32 } else { 128 };
        return Some(Pattern::Network(address, bits));
    }
    valid_name(&text).then_some(Pattern::Name(text))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn in_network(address: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        // An IPv4-mapped IPv6 address is the IPv4 one.
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a| in_network(IpAddr::V4(a), network, bits)),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(patterns: &[&str]) -> AllowList {
        AllowList::parse(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn names_domains_addresses_and_networks() {
        let allow = list(&[
            "mail.contoso.com",
            "*.fabrikam.com",
            "192.0.2.0/24",
            "2001:db8::1",
        ]);
        for host in [
            "mail.contoso.com",
            "MAIL.Contoso.com.",
            "imap.fabrikam.com",
            "a.b.fabrikam.com",
            "192.0.2.77",
            "[2001:db8::1]",
            "::ffff:192.0.2.5",
        ] {
            assert!(allow.allows(host), "{host}");
        }
        for host in [
            "contoso.com",
            "evilmail.contoso.com",
            "fabrikam.com",
            "notfabrikam.com",
            "192.0.3.1",
            "2001:db8::2",
            "127.0.0.1",
            "fabrikam.com.evil.test",
        ] {
            assert!(!allow.allows(host), "{host}");
        }
        assert!(list(&["*"]).allows("anything.example"));
        assert!(list(&["0.0.0.0/0"]).allows("203.0.113.9"));
    }

    #[test]
    fn bad_patterns_are_named() {
        for bad in ["", "*.", "192.0.2.0/33", "mail contoso", "**.x.com", "a..b"] {
            let err = AllowList::parse(&[bad.to_string()]).unwrap_err();
            assert!(err.contains("not a host pattern"), "{bad}: {err}");
        }
    }
}
