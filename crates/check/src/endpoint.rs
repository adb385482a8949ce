//! Endpoints as users write them: `imaps://mail.contoso.com`,
//! `submission://mail.contoso.com:587`, or a bare host for all of them.

use std::fmt;
use std::net::IpAddr;

use mailcert_x509::Service;

use crate::error::CheckError;

/// The application protocol spoken before (STARTTLS) or inside TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Http,
    Imap,
    Pop3,
    Smtp,
}

/// When TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// TLS from the first byte.
    Implicit,
    /// A plaintext greeting, then STARTTLS (IMAP, SMTP) or STLS (POP3).
    StartTls,
}

/// The endpoint forms `check` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Https,
    Imap,
    Imaps,
    Pop3,
    Pop3s,
    Smtp,
    Submission,
    Smtps,
}

impl Scheme {
    /// Every scheme, in the order a bare host expands to.
    pub const ALL: [Scheme; 8] = [
        Scheme::Https,
        Scheme::Imaps,
        Scheme::Imap,
        Scheme::Pop3s,
        Scheme::Pop3,
        Scheme::Smtp,
        Scheme::Submission,
        Scheme::Smtps,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Imap => "imap",
            Scheme::Imaps => "imaps",
            Scheme::Pop3 => "pop3",
            Scheme::Pop3s => "pop3s",
            Scheme::Smtp => "smtp",
            Scheme::Submission => "submission",
            Scheme::Smtps => "smtps",
        }
    }

    pub fn parse(text: &str) -> Option<Scheme> {
        Scheme::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Imap => 143,
            Scheme::Imaps => 993,
            Scheme::Pop3 => 110,
            Scheme::Pop3s => 995,
            Scheme::Smtp => 25,
            Scheme::Submission => 587,
            Scheme::Smtps => 465,
        }
    }

    pub fn protocol(self) -> Protocol {
        match self {
            Scheme::Https => Protocol::Http,
            Scheme::Imap | Scheme::Imaps => Protocol::Imap,
            Scheme::Pop3 | Scheme::Pop3s => Protocol::Pop3,
            Scheme::Smtp | Scheme::Submission | Scheme::Smtps => Protocol::Smtp,
        }
    }

    pub fn tls_mode(self) -> TlsMode {
        match self {
            Scheme::Imap | Scheme::Pop3 | Scheme::Smtp | Scheme::Submission => TlsMode::StartTls,
            Scheme::Https | Scheme::Imaps | Scheme::Pop3s | Scheme::Smtps => TlsMode::Implicit,
        }
    }

    /// `IMAP`, `POP3`, `SMTP`, `HTTPS` as people write them.
    pub fn protocol_name(self) -> &'static str {
        match self.protocol() {
            Protocol::Http => "HTTPS",
            Protocol::Imap => "IMAP",
            Protocol::Pop3 => "POP3",
            Protocol::Smtp => "SMTP",
        }
    }

    /// The STARTTLS form of an implicit-TLS scheme (for hints).
    pub fn starttls_twin(self) -> Option<Scheme> {
        match self {
            Scheme::Imaps => Some(Scheme::Imap),
            Scheme::Pop3s => Some(Scheme::Pop3),
            Scheme::Smtps => Some(Scheme::Submission),
            _ => None,
        }
    }

    /// The store's service whose bindings decide what this port serves.
    pub fn service(self) -> Service {
        match self.protocol() {
            Protocol::Http => Service::Https,
            Protocol::Imap => Service::Imap,
            Protocol::Pop3 => Service::Pop,
            Protocol::Smtp => Service::Smtp,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One endpoint to check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub scheme: Scheme,
    /// Host name or IP address, without brackets.
    pub host: String,
    pub port: u16,
    /// Came from a bare host: left out of the report when nothing answers.
    pub expanded: bool,
}

impl Endpoint {
    pub fn new(scheme: Scheme, host: &str, port: Option<u16>) -> Endpoint {
        Endpoint {
            scheme,
            host: host.to_string(),
            port: port.unwrap_or(scheme.default_port()),
            expanded: false,
        }
    }

    /// Parses one command-line endpoint; a bare host gives all eight.
    pub fn parse_all(input: &str) -> Result<Vec<Endpoint>, CheckError> {
        let bad = |reason: &str| CheckError::BadEndpoint {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let text = input.trim();
        if let Some((scheme_text, rest)) = text.split_once("://") {
            let scheme = Scheme::parse(scheme_text).ok_or_else(|| {
                bad("unknown scheme: use https, imap, imaps, pop3, pop3s, smtp, submission or smtps")
            })?;
            let rest = rest.trim_end_matches('/');
            if rest.contains('/') || rest.contains('@') || rest.contains('?') {
                return Err(bad(
                    "only scheme://host[:port] is accepted (no user, path or query)",
                ));
            }
            let (host, port) = split_host_port(rest).map_err(|r| bad(&r))?;
            return Ok(vec![Endpoint::new(scheme, &host, port)]);
        }
        let (host, port) = split_host_port(text).map_err(|r| bad(&r))?;
        if port.is_some() {
            return Err(bad(
                "a port needs a scheme, e.g. imaps://host:993 (a bare host checks every mail and web port)",
            ));
        }
        Ok(Scheme::ALL
            .into_iter()
            .map(|scheme| Endpoint {
                expanded: true,
                ..Endpoint::new(scheme, &host, None)
            })
            .collect())
    }

    /// `imaps://mail.contoso.com:993`, with brackets around IPv6.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, host_port(&self.host, self.port))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

/// `--connect HOST[:PORT]`: dial here instead, validate the endpoint's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    pub host: String,
    pub port: Option<u16>,
}

impl ConnectTo {
    pub fn parse(input: &str) -> Result<ConnectTo, CheckError> {
        let (host, port) =
            split_host_port(input.trim()).map_err(|reason| CheckError::BadConnect {
                input: input.to_string(),
                reason,
            })?;
        Ok(ConnectTo { host, port })
    }

    /// Where to dial for `endpoint`.
    pub fn target(&self, endpoint: &Endpoint) -> (String, u16) {
        (self.host.clone(), self.port.unwrap_or(endpoint.port))
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address.
fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    if text.is_empty() {
        return Err("the host is empty".into());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "an IPv6 address opened with '[' has no ']'".to_string())?;
        if host.parse::<IpAddr>().is_err() {
            return Err(format!("'{host}' is not an IPv6 address"));
        }
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected '{after}' after the address")),
        };
        return Ok((host.to_string(), port));
    }
    if text.parse::<IpAddr>().is_ok() {
        return Ok((text.to_string(), None));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (h, Some(parse_port(p)?)),
        None => (text, None),
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.contains(':') {
        return Err("write IPv6 addresses in brackets, e.g. [2001:db8::1]:993".into());
    }
    mailcert_x509::parse_name(host).map_err(|e| e.to_string())?;
    Ok((host.to_ascii_lowercase(), port))
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("'{text}' is not a port (1-65535)")),
        Ok(p) => Ok(p),
    }
}

/// `host:port`, bracketing IPv6 addresses.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_default_ports() {
        let e = &Endpoint::parse_all("imaps://Mail.Contoso.com").unwrap()[0];
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port),
            (Scheme::Imaps, "mail.contoso.com", 993)
        );
        let e = &Endpoint::parse_all("submission://mail.contoso.com:2587/").unwrap()[0];
        assert_eq!((e.scheme, e.port), (Scheme::Submission, 2587));
        assert_eq!(e.scheme.tls_mode(), TlsMode::StartTls);
        let e = &Endpoint::parse_all("pop3://[::1]:1110").unwrap()[0];
        assert_eq!((e.host.as_str(), e.port), ("::1", 1110));
        assert_eq!(e.url(), "pop3://[::1]:1110");
        let all = Endpoint::parse_all("mail.contoso.com").unwrap();
        assert_eq!(all.len(), 8);
        assert!(all.iter().all(|e| e.expanded));
    }

    #[test]
    fn refuses_what_is_not_an_endpoint() {
        for bad in [
            "ftp://x.com",
            "imaps://",
            "imaps://x.com:0",
            "imaps://x.com:99999",
            "imaps://user@x.com",
            "https://x.com/path",
            "x.com:993",
            "imaps://bad host",
        ] {
            assert!(Endpoint::parse_all(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn connect_to() {
        let c = ConnectTo::parse("127.0.0.1:10993").unwrap();
        let e = Endpoint::new(Scheme::Imaps, "mail.contoso.com", None);
        assert_eq!(c.target(&e), ("127.0.0.1".to_string(), 10993));
        let c = ConnectTo::parse("backend.local").unwrap();
        assert_eq!(c.target(&e), ("backend.local".to_string(), 993));
        assert_eq!(ConnectTo::parse("::1").unwrap().host, "::1");
    }
}
