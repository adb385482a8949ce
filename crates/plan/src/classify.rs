//! Names a public CA will not put on a certificate: since 1 November 2015
//! the CA/Browser Forum baseline requirements forbid internal names
//! (reserved or unregistered top-level domains, single labels) and
//! reserved IP addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mailcert_x509::SubjectName;

/// Top-level domains (and one special-use second level) that no public CA
/// issues for. Each is there for a reason:
///
/// - special-use names of RFC 6761 and later: `local` (mDNS, and the
///   classic Active Directory `.local`), `localhost`, `test`, `example`,
///   `invalid`, `onion`, `alt`, `home.arpa`;
/// - `internal`, reserved by ICANN in 2024 for private use;
/// - `corp`, `home`, `mail`: never to be delegated (ICANN name-collision
///   decision, 2018), and common in old Active Directory forests;
/// - `lan`, `localdomain`, `intranet`, `private`, `priv`, `domain`,
///   `localnet`: not in the root zone, and what installers and routers
///   propose.
///
/// Any other unregistered suffix is not caught here; the public CA will
/// refuse it all the same when it validates the domain.
pub(crate) const INTERNAL_TLDS: &[&str] = &[
    "local",
    "localhost",
    "localdomain",
    "lan",
    "internal",
    "intranet",
    "corp",
    "home",
    "mail",
    "private",
    "priv",
    "domain",
    "localnet",
    "test",
    "example",
    "invalid",
    "onion",
    "alt",
];

/// Why a public CA refuses a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Under a reserved or internal suffix (the suffix, with its dot).
    InternalTld(String),
    /// One label, no domain at all (`mail`, `ex1`).
    SingleLabel,
    /// A private or reserved IP address (which range).
    ReservedIp(&'static str),
}

pub(crate) fn refusal(name: &SubjectName) -> Option<Refusal> {
    match name {
        SubjectName::Ip(ip) => reserved_range(*ip).map(Refusal::ReservedIp),
        SubjectName::Dns(dns) => {
            let bare = dns.strip_prefix("*.").unwrap_or(dns);
            if !bare.contains('.') {
                return Some(Refusal::SingleLabel);
            }
            if bare == "home.arpa" || bare.ends_with(".home.arpa") {
                return Some(Refusal::InternalTld(".home.arpa".into()));
            }
            let tld = bare.rsplit('.').next().unwrap_or(bare);
            INTERNAL_TLDS
                .contains(&tld)
                .then(|| Refusal::InternalTld(format!(".{tld}")))
        }
    }
}

/// The private or reserved range an address is in, if any.
pub(crate) fn reserved_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => reserved_v4(v4),
        IpAddr::V6(v6) => reserved_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn reserved_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "0.0.0.0/8 (this network)"),
        ([10, 0, 0, 0], 8, "10.0.0.0/8 (private, RFC 1918)"),
        (
            [100, 64, 0, 0],
            10,
            "100.64.0.0/10 (carrier-grade NAT, RFC 6598)",
        ),
        ([127, 0, 0, 0], 8, "127.0.0.0/8 (loopback)"),
        ([169, 254, 0, 0], 16, "169.254.0.0/16 (link-local)"),
        ([172, 16, 0, 0], 12, "172.16.0.0/12 (private, RFC 1918)"),
        (
            [192, 0, 0, 0],
            24,
            "192.0.0.0/24 (IETF protocol assignments)",
        ),
        ([192, 0, 2, 0], 24, "192.0.2.0/24 (documentation, RFC 5737)"),
        ([192, 168, 0, 0], 16, "192.168.0.0/16 (private, RFC 1918)"),
        (
            [198, 18, 0, 0],
            15,
            "198.18.0.0/15 (benchmarking, RFC 2544)",
        ),
        (
            [198, 51, 100, 0],
            24,
            "198.51.100.0/24 (documentation, RFC 5737)",
        ),
        (
            [203, 0, 113, 0],
            24,
            "203.0.113.0/24 (documentation, RFC 5737)",
        ),
        ([224, 0, 0, 0], 4, "224.0.0.0/4 (multicast)"),
        ([240, 0, 0, 0], 4, "240.0.0.0/4 (reserved, and broadcast)"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, what)| *what)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(Ipv6Addr::from(net)) & mask)
}

fn reserved_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return reserved_v4(v4).map(|_| "::ffff:0:0/96 (IPv4-mapped private or reserved address)");
    }
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, "::/128 (unspecified)"),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, "::1/128 (loopback)"),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "100::/64 (discard-only)"),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "2001:db8::/32 (documentation)",
        ),
        (
            [0xfc00, 0, 0, 0, 0, 0, 0, 0],
            7,
            "fc00::/7 (unique local, private)",
        ),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "fe80::/10 (link-local)"),
        (
            [0xfec0, 0, 0, 0, 0, 0, 0, 0],
            10,
            "fec0::/10 (site-local, deprecated)",
        ),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "ff00::/8 (multicast)"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map(|(_, _, what)| *what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(s: &str) -> SubjectName {
        SubjectName::Dns(s.into())
    }

    fn ip(s: &str) -> SubjectName {
        SubjectName::Ip(s.parse().unwrap())
    }

    #[test]
    fn internal_names() {
        assert_eq!(
            refusal(&dns("ex1.contoso.local")),
            Some(Refusal::InternalTld(".local".into()))
        );
        assert_eq!(refusal(&dns("*.corp")), Some(Refusal::SingleLabel));
        assert_eq!(
            refusal(&dns("*.contoso.corp")),
            Some(Refusal::InternalTld(".corp".into()))
        );
        assert_eq!(
            refusal(&dns("nas.home.arpa")),
            Some(Refusal::InternalTld(".home.arpa".into()))
        );
        assert_eq!(refusal(&dns("mail")), Some(Refusal::SingleLabel));
        assert_eq!(refusal(&dns("mail.contoso.com")), None);
        assert_eq!(refusal(&dns("mail.localhost.com")), None);
        assert_eq!(refusal(&dns("arpa.example.org")), None);
    }

    #[test]
    fn reserved_addresses() {
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.10.10",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.2.10",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "2001:db8::5",
            "::ffff:192.168.0.1",
        ] {
            assert!(refusal(&ip(private)).is_some(), "{private} is not public");
        }
        for public in [
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "11.0.0.1",
        ] {
            assert_eq!(refusal(&ip(public)), None, "{public} is public");
        }
    }
}
