//! DNS look-ups over blocking sockets: one question, one answer, UDP with
//! a retry over TCP when the answer is truncated.
//!
//! The messages are hickory-proto's; the transport is written here
//! because it is a few lines of `std::net` and lets the callers (the
//! checker, the lifecycle library, the front end's rollover task) stay
//! free of a second async DNS stack. DNSSEC is not validated here: like
//! Postfix, mailcert trusts the AD bit of the resolver it is told to use,
//! which must be a validating resolver on a trusted path (localhost).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::error::DaneError;
use crate::tlsa::Tlsa;

/// The default DNS port.
pub const DNS_PORT: u16 = 53;

/// One DNS server asked with recursion (a resolver) or without (an
/// authoritative server).
#[derive(Debug, Clone)]
pub struct Resolver {
    pub server: SocketAddr,
    pub timeout: Duration,
}

/// An answer, reduced to what the callers decide on.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, …
    pub rcode: ResponseCode,
    /// The AD bit: the resolver validated the answer with DNSSEC.
    pub authenticated: bool,
    /// The AA bit: an authoritative server answered from its zone.
    pub authoritative: bool,
    /// The answer section's records of the asked type (name, TTL, data).
    pub records: Vec<(Name, u32, RData)>,
}

/// The TLSA records of one owner name.
#[derive(Debug, Clone)]
pub struct TlsaAnswer {
    pub owner: String,
    pub rcode: ResponseCode,
    pub authenticated: bool,
    /// Each record with its TTL.
    pub records: Vec<(Tlsa, u32)>,
}

/// One authoritative server of a zone, by the NS record that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameServer {
    pub name: String,
    pub addresses: Vec<IpAddr>,
}

impl Resolver {
    pub fn new(server: SocketAddr) -> Resolver {
        Resolver {
            server,
            timeout: Duration::from_secs(5),
        }
    }

    /// `HOST[:PORT]`, `[V6]:PORT` or a bare IPv6 address; port 53 by default.
    pub fn parse_server(text: &str) -> Result<SocketAddr, DaneError> {
        let text = text.trim();
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(address);
        }
        if let Ok(ip) = text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(SocketAddr::new(ip, DNS_PORT));
        }
        Err(DaneError::Message(format!(
            "'{text}' is not a DNS server address: give an IP address, with a port if not 53 (127.0.0.1, 127.0.0.1:5353, [::1]:53)"
        )))
    }

    /// The first `nameserver` of `/etc/resolv.conf`, as glibc and Postfix
    /// would ask it.
    pub fn system() -> Result<Resolver, DaneError> {
        let text = std::fs::read_to_string("/etc/resolv.conf").map_err(|e| {
            DaneError::NoResolver(format!(
                "cannot read /etc/resolv.conf ({e}); name one with --dns"
            ))
        })?;
        text.lines()
            .filter_map(|line| line.trim().strip_prefix("nameserver"))
            .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
            .map(|ip| Resolver::new(SocketAddr::new(ip, DNS_PORT)))
            .next()
            .ok_or_else(|| {
                DaneError::NoResolver(
                    "/etc/resolv.conf names no nameserver; name a validating resolver with --dns"
                        .into(),
                )
            })
    }

    /// Asks `name`/`rtype` with the DO bit, recursion desired or not.
    pub fn query(
        &self,
        name: &str,
        rtype: RecordType,
        recursion: bool,
    ) -> Result<Answer, DaneError> {
        let name = parse_name(name)?;
        let mut message = Message::query();
        message.add_query(Query::query(name, rtype));
        message.metadata.recursion_desired = recursion;
        // AD in a query asks for the AD bit in the answer (RFC 6840 §5.7)
        // even from resolvers that only set it for DO queries.
        message.metadata.authentic_data = true;
        let mut edns = Edns::new();
        edns.set_max_payload(1232)
            .set_version(0)
            .set_dnssec_ok(true);
        message.set_edns(edns);
        let id = message.metadata.id;
        let bytes = message
            .to_vec()
            .map_err(|e| DaneError::Message(format!("cannot encode a DNS query: {e}")))?;
        let mut answer = self.exchange_udp(&bytes, id)?;
        if answer.metadata.truncation {
            answer = self.exchange_tcp(&bytes, id)?;
        }
        Ok(Answer {
            rcode: answer.metadata.response_code,
            authenticated: answer.metadata.authentic_data,
            authoritative: answer.metadata.authoritative,
            records: answer
                .answers
                .iter()
                // The asked type only: not the RRSIGs the DO bit brings.
                .filter(|r| r.record_type() == rtype)
                .map(|r| (r.name.clone(), r.ttl, r.data.clone()))
                .collect(),
        })
    }

    /// The TLSA records at `owner` (`_25._tcp.mx1.contoso.com.`).
    pub fn tlsa(&self, owner: &str) -> Result<TlsaAnswer, DaneError> {
        let answer = self.query(owner, RecordType::TLSA, true)?;
        let records = answer
            .records
            .iter()
            .filter_map(|(_, ttl, data)| match data {
                RData::TLSA(tlsa) => Some((
                    Tlsa {
                        usage: crate::Usage::from_number(tlsa.cert_usage.into()),
                        selector: crate::Selector::from_number(tlsa.selector.into()),
                        matching: crate::Matching::from_number(tlsa.matching.into()),
                        data: tlsa.cert_data.clone(),
                    },
                    *ttl,
                )),
                _ => None,
            })
            .collect();
        Ok(TlsaAnswer {
            owner: owner.to_string(),
            rcode: answer.rcode,
            authenticated: answer.authenticated,
            records,
        })
    }

    /// The TLSA records an authoritative server answers from its zone for
    /// `owner`, asked without recursion. An answer without the AA bit (a
    /// server that does not hold the zone) is an error.
    pub fn tlsa_authoritative(&self, owner: &str) -> Result<Vec<Tlsa>, DaneError> {
        Ok(self
            .query_authoritative(owner, RecordType::TLSA)?
            .records
            .iter()
            .filter_map(|(_, _, data)| match data {
                RData::TLSA(tlsa) => Some(Tlsa {
                    usage: crate::Usage::from_number(tlsa.cert_usage.into()),
                    selector: crate::Selector::from_number(tlsa.selector.into()),
                    matching: crate::Matching::from_number(tlsa.matching.into()),
                    data: tlsa.cert_data.clone(),
                }),
                _ => None,
            })
            .collect())
    }

    /// The strings of the TXT records an authoritative server answers
    /// from its zone for `name` (each record's strings joined), asked
    /// without recursion.
    pub fn txt_authoritative(&self, name: &str) -> Result<Vec<String>, DaneError> {
        Ok(self
            .query_authoritative(name, RecordType::TXT)?
            .records
            .iter()
            .filter_map(|(_, _, data)| txt_text(data))
            .collect())
    }

    /// Asks `name`/`rtype` without recursion; an answer without the AA
    /// bit (a server that does not hold the zone) is an error.
    fn query_authoritative(&self, name: &str, rtype: RecordType) -> Result<Answer, DaneError> {
        let answer = self.query(name, rtype, false)?;
        if !answer.authoritative {
            return Err(DaneError::Message(format!(
                "{} is not authoritative for {name} (it answered {} without the AA bit)",
                self.server,
                rcode_text(answer.rcode)
            )));
        }
        Ok(answer)
    }

    /// The zone's authoritative servers: its NS records, each with its
    /// addresses, through this resolver.
    pub fn authoritative_servers(&self, zone: &str) -> Result<Vec<NameServer>, DaneError> {
        let answer = self.query(zone, RecordType::NS, true)?;
        if answer.rcode != ResponseCode::NoError {
            return Err(DaneError::Message(format!(
                "the NS records of zone {zone}: the resolver {} answered {}",
                self.server, answer.rcode
            )));
        }
        let mut servers = Vec::new();
        for (_, _, data) in &answer.records {
            let RData::NS(ns) = data else { continue };
            let name = ns.0.to_ascii();
            let mut addresses = Vec::new();
            for rtype in [RecordType::A, RecordType::AAAA] {
                for (_, _, data) in self.query(&name, rtype, true)?.records {
                    match data {
                        RData::A(a) => addresses.push(IpAddr::V4(a.0)),
                        RData::AAAA(aaaa) => addresses.push(IpAddr::V6(aaaa.0)),
                        _ => {}
                    }
                }
            }
            servers.push(NameServer { name, addresses });
        }
        if servers.is_empty() {
            return Err(DaneError::Message(format!(
                "zone {zone} has no NS records at the resolver {}: is the zone name right?",
                self.server
            )));
        }
        servers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(servers)
    }

    fn exchange_udp(&self, bytes: &[u8], id: u16) -> Result<Message, DaneError> {
        let transport = |e: std::io::Error| DaneError::Transport {
            server: self.server,
            problem: e.to_string(),
        };
        let local: SocketAddr = if self.server.is_ipv4() {
            "0.0.0.0:0".parse().expect("a socket address")
        } else {
            "[::]:0".parse().expect("a socket address")
        };
        let socket = UdpSocket::bind(local).map_err(transport)?;
        socket.connect(self.server).map_err(transport)?;
        let deadline = Instant::now() + self.timeout;
        // One retry: UDP loses packets.
        for attempt in 0..2 {
            socket.send(bytes).map_err(transport)?;
            let wait_until = if attempt == 0 {
                Instant::now() + self.timeout / 2
            } else {
                deadline
            };
            let mut buffer = vec![0u8; 65535];
            loop {
                let left = wait_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                socket.set_read_timeout(Some(left)).map_err(transport)?;
                match socket.recv(&mut buffer) {
                    Ok(n) => {
                        // Anything else (a late answer, a forgery) is skipped.
                        if let Ok(message) = Message::from_vec(&buffer[..n]) {
                            if message.metadata.id == id
                                && message.metadata.message_type == MessageType::Response
                            {
                                return Ok(message);
                            }
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    Err(e) => return Err(transport(e)),
                }
            }
        }
        Err(DaneError::Transport {
            server: self.server,
            problem: format!("no answer within {:?}", self.timeout),
        })
    }

    fn exchange_tcp(&self, bytes: &[u8], id: u16) -> Result<Message, DaneError> {
        let reply = exchange_tcp_raw(self.server, bytes, self.timeout)?;
        let message = Message::from_vec(&reply).map_err(|e| DaneError::Transport {
            server: self.server,
            problem: format!("an answer that does not parse: {e}"),
        })?;
        if message.metadata.id != id {
            return Err(DaneError::Transport {
                server: self.server,
                problem: "an answer to another question".into(),
            });
        }
        Ok(message)
    }
}

/// Sends one message over TCP (two-byte length prefix) and reads one back.
pub(crate) fn exchange_tcp_raw(
    server: SocketAddr,
    bytes: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, DaneError> {
    let transport = |e: std::io::Error| DaneError::Transport {
        server,
        problem: e.to_string(),
    };
    let mut stream = TcpStream::connect_timeout(&server, timeout).map_err(transport)?;
    stream.set_read_timeout(Some(timeout)).map_err(transport)?;
    stream.set_write_timeout(Some(timeout)).map_err(transport)?;
    let length = u16::try_from(bytes.len())
        .map_err(|_| DaneError::Message("a DNS message over 64 KiB".into()))?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).map_err(transport)?;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).map_err(transport)?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut reply).map_err(transport)?;
    Ok(reply)
}

pub(crate) fn parse_name(name: &str) -> Result<Name, DaneError> {
    let mut parsed = Name::from_ascii(name).map_err(|e| DaneError::BadName {
        name: name.to_string(),
        problem: e.to_string(),
    })?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// A TXT record's strings joined into one, as MTA-STS (RFC 8461 §3.1)
/// and TLS-RPT read them; `None` for data of another type.
pub fn txt_text(data: &RData) -> Option<String> {
    match data {
        RData::TXT(txt) => Some(
            txt.txt_data
                .iter()
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect(),
        ),
        _ => None,
    }
}

/// For messages: `NXDOMAIN`, `SERVFAIL`, …
pub fn rcode_text(rcode: ResponseCode) -> String {
    let mnemonic = match rcode {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        other => return format!("{other:?}").to_ascii_uppercase(),
    };
    mnemonic.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_default_to_port_53() {
        assert_eq!(Resolver::parse_server("127.0.0.1").unwrap().port(), 53);
        assert_eq!(
            Resolver::parse_server("127.0.0.1:5353").unwrap().port(),
            5353
        );
        assert_eq!(Resolver::parse_server("::1").unwrap().port(), 53);
        assert_eq!(Resolver::parse_server("[::1]:54").unwrap().port(), 54);
        assert!(Resolver::parse_server("dns.example").is_err());
    }
}
