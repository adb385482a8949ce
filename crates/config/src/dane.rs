//! `[dane]` and `[dane.dns]`: where DANE's TLSA records are published.
//!
//! ```toml
//! [dane]
//! port = 25                       # the port senders connect to: _25._tcp.HOST
//!
//! [dane.dns]
//! server = "192.0.2.53:53"        # the zone's primary, which takes RFC 2136 updates
//! zone = "contoso.com"
//! tsig_key_file = "/etc/mailcert/tsig.key"   # BIND, Knot or one-line form
//! ttl = 300
//! interval = 60                   # seconds between two publishing rounds of `serve`
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDane {
    port: Option<u16>,
    dns: Option<RawDaneDns>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaneDns {
    server: Spanned<String>,
    zone: Spanned<String>,
    tsig_key_file: Option<Spanned<PathBuf>>,
    ttl: Option<Spanned<u32>>,
    interval: Option<Spanned<u64>>,
}

/// `[dane]`: DANE for SMTP as `serve` and `mailcert dane publish` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dane {
    /// The port in the records' owner names (`_25._tcp.HOST`): the one
    /// sending servers connect to, whatever the listener binds.
    pub port: u16,
    /// `[dane.dns]`: publishing by RFC 2136; `None` leaves DNS to the
    /// administrator.
    pub dns: Option<DaneDns>,
}

/// `[dane.dns]`: the zone that holds the TLSA records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaneDns {
    /// The zone's primary server, which takes RFC 2136 updates.
    pub server: SocketAddr,
    /// The zone's apex, without the final dot.
    pub zone: String,
    /// The TSIG key that signs the updates (made absolute against the
    /// configuration's folder).
    pub tsig_key_file: Option<PathBuf>,
    /// The TTL the records are published with.
    pub ttl: u32,
    /// How often `serve` publishes and looks at the authoritative servers.
    pub interval: Duration,
}

impl DaneDns {
    pub const DEFAULT_TTL: u32 = 300;
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
}

/// `HOST:PORT`, `[V6]:PORT` or a bare address; port 53 by default.
fn parse_server(text: &str) -> Option<SocketAddr> {
    if let Ok(addr) = SocketAddr::from_str(text) {
        return Some(addr);
    }
    IpAddr::from_str(text.trim_start_matches('[').trim_end_matches(']'))
        .ok()
        .map(|ip| SocketAddr::new(ip, 53))
}

pub(crate) fn parse_dane(
    raw: RawDane,
    config: &Path,
    at_line: &dyn Fn(std::ops::Range<usize>) -> usize,
    problems: &mut Vec<String>,
) -> Dane {
    let port = raw.port.unwrap_or(25);
    if port == 0 {
        problems.push("dane.port: must be a port number (senders use 25)".to_string());
    }
    let dns = raw.dns.and_then(|dns| {
        let server = parse_server(dns.server.get_ref());
        if server.is_none() {
            problems.push(format!(
                "line {}: dane.dns.server: '{}' is not an IP address with an optional port, such as 192.0.2.53 or 192.0.2.53:53",
                at_line(dns.server.span()),
                dns.server.get_ref()
            ));
        }
        let zone = dns
            .zone
            .get_ref()
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if zone.is_empty() || mailcert_x509::parse_name(&zone).is_err() {
            problems.push(format!(
                "line {}: dane.dns.zone: '{}' is not a DNS zone name such as contoso.com",
                at_line(dns.zone.span()),
                dns.zone.get_ref()
            ));
        }
        let ttl = dns.ttl.as_ref().map_or(DaneDns::DEFAULT_TTL, |t| *t.get_ref());
        if let Some(t) = dns.ttl.as_ref().filter(|t| *t.get_ref() == 0) {
            problems.push(format!(
                "line {}: dane.dns.ttl: must be at least 1 second (a rollover waits twice the TTL)",
                at_line(t.span())
            ));
        }
        let interval = dns
            .interval
            .as_ref()
            .map_or(DaneDns::DEFAULT_INTERVAL, |i| {
                Duration::from_secs(*i.get_ref())
            });
        if let Some(i) = dns.interval.as_ref().filter(|i| *i.get_ref() == 0) {
            problems.push(format!(
                "line {}: dane.dns.interval: must be at least 1 second",
                at_line(i.span())
            ));
        }
        let tsig_key_file = dns
            .tsig_key_file
            .map(|f| crate::store::beside(config, f.into_inner()));
        Some(DaneDns {
            server: server?,
            zone,
            tsig_key_file,
            ttl,
            interval,
        })
    });
    Dane { port, dns }
}

impl crate::Config {
    /// `[dane.dns]` with the `[dane]` table it belongs to: the zone where
    /// `serve` and `dane publish` publish TLSA records, and `acme order
    /// --dns-update` its DNS-01 answers. `None` without one.
    pub fn dane_dns(&self) -> Option<(&Dane, &DaneDns)> {
        let dane = self.dane.as_ref()?;
        dane.dns.as_ref().map(|dns| (dane, dns))
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::path::Path;

    #[test]
    fn dane_dns_comes_with_its_dane_table_or_not_at_all() {
        let path = Path::new("/etc/mailcert/mailcert.toml");
        let without = Config::parse("[dane]\nport = 2525\n", path).unwrap();
        assert!(without.dane.is_some());
        assert!(without.dane_dns().is_none());
        let with = Config::parse(
            "[dane]\nport = 2525\n\n[dane.dns]\nserver = \"127.0.0.1\"\nzone = \"example.test\"\n",
            path,
        )
        .unwrap();
        let (dane, dns) = with.dane_dns().expect("[dane.dns]");
        assert_eq!((dane.port, dns.zone.as_str()), (2525, "example.test"));
    }

    #[test]
    fn dane_dns_is_read_with_defaults_and_checked() {
        let config = Config::parse(
            "[dane.dns]\nserver = \"127.0.0.1\"\nzone = \"Example.test.\"\ntsig_key_file = \"tsig.key\"\n",
            Path::new("/etc/mailcert/mailcert.toml"),
        )
        .unwrap();
        let dane = config.dane.unwrap();
        assert_eq!(dane.port, 25);
        let dns = dane.dns.unwrap();
        assert_eq!(dns.server.to_string(), "127.0.0.1:53");
        assert_eq!(dns.zone, "example.test");
        assert_eq!(
            dns.tsig_key_file.unwrap(),
            Path::new("/etc/mailcert/tsig.key")
        );
        assert_eq!(dns.ttl, 300);
        let err = Config::parse(
            "[dane.dns]\nserver = \"ns1\"\nzone = \"\"\nttl = 0\n",
            Path::new("m.toml"),
        )
        .unwrap_err()
        .to_string();
        for part in [
            "line 2: dane.dns.server: 'ns1'",
            "line 3: dane.dns.zone",
            "line 4: dane.dns.ttl",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        assert!(Config::parse("[dane]\nserver = \"x\"\n", Path::new("m.toml")).is_err());
    }
}
