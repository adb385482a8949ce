//! RFC 2136 dynamic updates, signed with TSIG: what publishes TLSA records
//! for DANE and TXT records for ACME DNS-01, to the zone's primary server.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{TLSA, TXT};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

use crate::error::DaneError;
use crate::resolver::{exchange_tcp_raw, parse_name, rcode_text};
use crate::tlsa::Tlsa;
use crate::tsig::TsigKey;

/// A record to add or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// Absolute owner name (`_25._tcp.mx1.contoso.com.`).
    pub name: String,
    pub ttl: u32,
    pub data: RecordValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    Tlsa(Tlsa),
    /// One TXT string (ACME DNS-01's key authorization digest).
    Txt(String),
}

impl RecordValue {
    fn rdata(&self) -> RData {
        match self {
            RecordValue::Tlsa(tlsa) => RData::TLSA(TLSA::new(
                CertUsage::from(tlsa.usage.number()),
                Selector::from(tlsa.selector.number()),
                Matching::from(tlsa.matching.number()),
                tlsa.data.clone(),
            )),
            RecordValue::Txt(text) => RData::TXT(TXT::new(vec![text.clone()])),
        }
    }

    pub fn record_type(&self) -> RecordType {
        match self {
            RecordValue::Tlsa(_) => RecordType::TLSA,
            RecordValue::Txt(_) => RecordType::TXT,
        }
    }
}

/// The primary server of a zone that takes signed updates.
#[derive(Debug, Clone)]
pub struct Rfc2136 {
    pub server: SocketAddr,
    /// The zone's apex (`contoso.com`).
    pub zone: String,
    pub key: Option<TsigKey>,
    pub timeout: Duration,
}

impl Rfc2136 {
    pub fn new(server: SocketAddr, zone: &str, key: Option<TsigKey>) -> Rfc2136 {
        Rfc2136 {
            server,
            zone: zone.trim_end_matches('.').to_ascii_lowercase(),
            key,
            timeout: Duration::from_secs(10),
        }
    }

    /// Adds records (existing identical ones are left as they are).
    pub fn add(&self, records: &[DnsRecord]) -> Result<(), DaneError> {
        self.send(records, false)
    }

    /// Deletes exactly these records (others at the same names stay).
    pub fn delete(&self, records: &[DnsRecord]) -> Result<(), DaneError> {
        self.send(records, true)
    }

    /// Whether `name` is inside this zone.
    pub fn holds(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name == self.zone || name.ends_with(&format!(".{}", self.zone))
    }

    fn send(&self, records: &[DnsRecord], delete: bool) -> Result<(), DaneError> {
        if records.is_empty() {
            return Ok(());
        }
        let zone = parse_name(&self.zone)?;
        let mut message = Message::query();
        message.metadata.op_code = OpCode::Update;
        message.metadata.recursion_desired = false;
        message.add_zone(Query::query(zone.clone(), RecordType::SOA));
        for record in records {
            if !self.holds(&record.name) {
                return Err(DaneError::Message(format!(
                    "{} is not in zone {}: set [dane.dns] zone to the zone that holds it",
                    record.name, self.zone
                )));
            }
            let mut update =
                Record::from_rdata(parse_name(&record.name)?, record.ttl, record.data.rdata());
            if delete {
                // RFC 2136 §2.5.4: class NONE, TTL 0 deletes this one record.
                update.dns_class = DNSClass::NONE;
                update.ttl = 0;
            }
            message.add_update(update);
        }
        let mut verifier = match &self.key {
            Some(key) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                message
                    .finalize(&key.signer()?, now)
                    .map_err(|e| DaneError::Message(format!("cannot sign the update: {e}")))?
            }
            None => None,
        };
        let id = message.metadata.id;
        let bytes = message
            .to_vec()
            .map_err(|e| DaneError::Message(format!("cannot encode the update: {e}")))?;
        let reply_bytes = exchange_tcp_raw(self.server, &bytes, self.timeout)?;
        let reply = Message::from_vec(&reply_bytes).map_err(|e| DaneError::Transport {
            server: self.server,
            problem: format!("an answer that does not parse: {e}"),
        })?;
        if reply.metadata.id != id {
            return Err(DaneError::Transport {
                server: self.server,
                problem: "an answer to another message".into(),
            });
        }
        let rcode = reply.metadata.response_code;
        if rcode != ResponseCode::NoError {
            return Err(DaneError::UpdateRefused {
                server: self.server,
                zone: self.zone.clone(),
                rcode: rcode_text(rcode),
                hint: refusal_hint(rcode, self.key.as_ref()),
            });
        }
        if let Some(verifier) = verifier.as_mut() {
            verifier
                .verify(&reply_bytes)
                .map_err(|e| DaneError::BadAnswerSignature {
                    server: self.server,
                    problem: e.to_string(),
                })?;
        }
        Ok(())
    }
}

fn refusal_hint(rcode: ResponseCode, key: Option<&TsigKey>) -> String {
    let key_name = key.map(|k| k.name.as_str()).unwrap_or("(no key)");
    match rcode {
        ResponseCode::Refused => format!(
            ": the server does not let key {key_name} update this zone. Fix: allow it (BIND: update-policy or allow-update; Knot: an acl with action update for the key) or set [dane.dns] key_file to the key that is allowed"
        ),
        ResponseCode::NotAuth => format!(
            ": the server does not know key {key_name}, its signature did not verify, or the clocks differ by more than 5 minutes. Fix: use the key file the server was configured with"
        ),
        ResponseCode::NotZone => ": a name is outside the zone. Fix: set [dane.dns] zone to the zone that holds it".to_string(),
        ResponseCode::ServFail => ": the server failed (is it the zone's primary, and is the zone loaded?)".to_string(),
        _ => String::new(),
    }
}
