//! Publishing DANE's TLSA records by RFC 2136 and the rollover rule.
//!
//! One publishing round ([`Manager::dane_publish`]) makes DNS hold the
//! records of the current and next keys of every certificate bound to
//! SMTP, asks every authoritative server of the zone directly whether it
//! answers them, and withdraws a record that is no longer wanted twice its
//! TTL after it stopped being wanted (the senders that cached it have
//! forgotten it by then). What it saw is kept in the store (named value
//! `dane.publication`), so that every command and every node applies the
//! rollover rule ([`Manager::ensure_dane_ready`]): a key is served on
//! SMTP only once its record has been seen at every authoritative server
//! for at least twice its TTL.
//!
//! A round whose DNS update fails changes nothing in the store: the
//! records it could not publish are not marked seen, so no rollover
//! happens on their account.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use mailcert_config::DaneDns;
use mailcert_dane::resolver::Resolver;
use mailcert_dane::tlsa::{Tlsa, Usage};
use mailcert_dane::{DnsRecord, RecordValue, Rfc2136, TsigKey};
use mailcert_store::Op;
use mailcert_x509::Service;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::dane::{DaneRecord, KeyRole, RecordsRequest};
use crate::error::{unix_rfc3339, DaneWaiting, LifecycleError, NoTlsaRecords, Result};
use crate::manager::Manager;

/// Named value: what the publisher published and saw (JSON).
pub const PUBLICATION: &str = "dane.publication";

/// One published record and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Owner name (`_25._tcp.mx1.contoso.com.`).
    pub name: String,
    /// `3 1 1 HEX`.
    pub rdata: String,
    pub ttl: u32,
    /// When it was first sent to the primary (Unix seconds).
    pub published_at: i64,
    /// Since when every authoritative server answers it.
    #[serde(default)]
    pub seen_everywhere_at: Option<i64>,
    /// No longer wanted: deleted from DNS at this time.
    #[serde(default)]
    pub withdraw_at: Option<i64>,
}

impl Published {
    /// The time from which a key with this record may be served.
    pub fn ready_at(&self) -> Option<i64> {
        self.seen_everywhere_at
            .map(|seen| seen + 2 * i64::from(self.ttl))
    }
}

/// What the store keeps of the publication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub records: Vec<Published>,
}

/// The zone and the key that publish.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub update: Rfc2136,
    pub ttl: u32,
    /// The port in the owner names (`[dane] port`).
    pub port: u16,
    /// Where the authoritative servers answer (their NS names carry no
    /// port; tests run them on another).
    pub authoritative_port: u16,
}

impl Publisher {
    /// From `[dane.dns]`, reading the TSIG key file.
    pub fn from_config(dns: &DaneDns, port: u16) -> Result<Publisher> {
        let key = match &dns.tsig_key_file {
            Some(path) => Some(TsigKey::from_file(path).map_err(dns_error)?),
            None => None,
        };
        Ok(Publisher {
            update: Rfc2136::new(dns.server, &dns.zone, key),
            ttl: dns.ttl,
            port,
            authoritative_port: dns.server.port(),
        })
    }

    /// The addresses of the zone's authoritative servers, from its NS
    /// records as the primary serves them.
    pub fn authoritative_servers(&self) -> Result<Vec<(String, SocketAddr)>> {
        let servers = Resolver::new(self.update.server)
            .authoritative_servers(&self.update.zone)
            .map_err(dns_error)?;
        let mut out = Vec::new();
        for server in servers {
            if server.addresses.is_empty() {
                return Err(LifecycleError::Refused(format!(
                    "the authoritative server {} of zone {} has no address at {}, so whether it serves the TLSA records cannot be checked. Fix: give it A/AAAA records in the zone",
                    server.name, self.update.zone, self.update.server
                )));
            }
            for ip in server.addresses {
                out.push((
                    server.name.clone(),
                    SocketAddr::new(ip, self.authoritative_port),
                ));
            }
        }
        Ok(out)
    }
}

fn dns_error(e: mailcert_dane::DaneError) -> LifecycleError {
    LifecycleError::Refused(format!("DANE publishing: {e}"))
}

/// What one round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishReport {
    /// Every record the publication holds after the round.
    pub records: Vec<PublishedView>,
    /// Records deleted from DNS in this round.
    pub withdrawn: Vec<String>,
}

/// One record as `dane publish --json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedView {
    pub name: String,
    pub rdata: String,
    /// `current`, `next`, or `old` (being withdrawn).
    pub key: String,
    pub thumbprint: Option<String>,
    pub seen_everywhere_at: Option<String>,
    /// When a key with this record may be served.
    pub ready_at: Option<String>,
    pub withdraw_at: Option<String>,
}

impl Manager {
    /// The publication as the store has it (empty when nothing published).
    pub fn dane_publication(&self) -> Result<Option<Publication>> {
        let Some(bytes) = self.store.value(PUBLICATION)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            LifecycleError::Store(mailcert_store::StoreError::Corrupt {
                what: "the DANE publication".into(),
                reason: e.to_string(),
            })
        })
    }

    /// One publishing round: see the module's documentation.
    pub fn dane_publish(&mut self, publisher: &Publisher) -> Result<PublishReport> {
        let now = self.now().unix_timestamp();
        let wanted: Vec<DaneRecord> = match self.dane_records(&RecordsRequest {
            thumbprint: None,
            service: Service::Smtp,
            port: publisher.port,
            usage: Usage::DaneEe,
        }) {
            // Nothing bound to SMTP carries a host name: nothing to publish
            // (and what was published is withdrawn in time).
            Err(LifecycleError::NoTlsaRecords(
                NoTlsaRecords::NothingBound { .. } | NoTlsaRecords::NoBoundHostName { .. },
            )) => Vec::new(),
            other => other?,
        }
        .into_iter()
        // Names of other zones are published by whoever holds them.
        .filter(|r| publisher.update.holds(&r.name))
        .collect();
        let mut publication = self.dane_publication()?.unwrap_or_default();
        let dns_record = |name: &str, rdata: &str| -> Result<DnsRecord> {
            let tlsa = Tlsa::parse(rdata).ok_or_else(|| {
                LifecycleError::Store(mailcert_store::StoreError::Corrupt {
                    what: "the DANE publication".into(),
                    reason: format!("record '{rdata}' does not parse"),
                })
            })?;
            Ok(DnsRecord {
                name: name.to_string(),
                ttl: publisher.ttl,
                data: RecordValue::Tlsa(tlsa),
            })
        };

        // Every wanted record, every round: an update that adds what is
        // there already changes nothing, and one that a server lost is
        // put back.
        let mut add = Vec::new();
        for record in &wanted {
            let rdata = record.tlsa.rdata_text();
            add.push(dns_record(&record.name, &rdata)?);
            match publication
                .records
                .iter_mut()
                .find(|p| p.name == record.name && p.rdata == rdata)
            {
                Some(known) => known.withdraw_at = None,
                None => publication.records.push(Published {
                    name: record.name.clone(),
                    rdata,
                    ttl: publisher.ttl,
                    published_at: now,
                    seen_everywhere_at: None,
                    withdraw_at: None,
                }),
            }
        }
        publisher.update.add(&add).map_err(dns_error)?;

        // Records no longer wanted: withdrawn twice their TTL later.
        let mut delete = Vec::new();
        let mut withdrawn = Vec::new();
        for known in &mut publication.records {
            let is_wanted = wanted
                .iter()
                .any(|w| w.name == known.name && w.tlsa.rdata_text() == known.rdata);
            if is_wanted {
                continue;
            }
            let at = *known
                .withdraw_at
                .get_or_insert(now + 2 * i64::from(known.ttl));
            if at <= now {
                delete.push(dns_record(&known.name, &known.rdata)?);
                withdrawn.push(format!("{} IN TLSA {}", known.name, known.rdata));
            }
        }
        publisher.update.delete(&delete).map_err(dns_error)?;
        publication.records.retain(|p| {
            !delete.iter().any(|d| {
                d.name == p.name
                    && matches!(&d.data, RecordValue::Tlsa(t) if t.rdata_text() == p.rdata)
            })
        });

        // Ask each authoritative server directly.
        let servers = publisher.authoritative_servers()?;
        let mut answers: BTreeMap<(String, SocketAddr), Vec<String>> = BTreeMap::new();
        for known in publication
            .records
            .iter_mut()
            .filter(|p| p.withdraw_at.is_none())
        {
            let mut everywhere = true;
            for (_, address) in &servers {
                let key = (known.name.clone(), *address);
                if !answers.contains_key(&key) {
                    let seen = Resolver::new(*address)
                        .tlsa_authoritative(&known.name)
                        .map(|records| records.iter().map(Tlsa::rdata_text).collect())
                        .unwrap_or_else(|e| {
                            tracing::warn!("DANE: asking {address} for {}: {e}", known.name);
                            Vec::new()
                        });
                    answers.insert(key.clone(), seen);
                }
                if !answers[&key].contains(&known.rdata) {
                    everywhere = false;
                }
            }
            if !everywhere {
                known.seen_everywhere_at = None;
            } else if known.seen_everywhere_at.is_none() {
                known.seen_everywhere_at = Some(now);
            }
        }

        let json = serde_json::to_vec(&publication)
            .map_err(|e| LifecycleError::BadInput(e.to_string()))?;
        if self.store.value(PUBLICATION)?.as_deref() != Some(json.as_slice()) {
            let mut change = self.change("dane publish");
            change.describe(format!(
                "DANE: {} record(s) published at {}{}",
                publication.records.len(),
                publisher.update.zone,
                if withdrawn.is_empty() {
                    String::new()
                } else {
                    format!("; withdrawn: {}", withdrawn.join(", "))
                }
            ));
            change.push(Op::SetValue {
                key: PUBLICATION.into(),
                value: Some(json),
                secret: false,
            });
            self.store.apply(change)?;
        }
        let records = publication
            .records
            .iter()
            .map(|p| {
                let owner = wanted
                    .iter()
                    .find(|w| w.name == p.name && w.tlsa.rdata_text() == p.rdata);
                PublishedView {
                    name: p.name.clone(),
                    rdata: p.rdata.clone(),
                    key: match owner.map(|w| w.key) {
                        Some(KeyRole::Current) => "current".into(),
                        Some(KeyRole::Next) => "next".into(),
                        None => "old".into(),
                    },
                    thumbprint: owner.map(|w| w.thumbprint.clone()),
                    seen_everywhere_at: p.seen_everywhere_at.map(unix_rfc3339),
                    ready_at: p.ready_at().map(unix_rfc3339),
                    withdraw_at: p.withdraw_at.map(unix_rfc3339),
                }
            })
            .collect();
        Ok(PublishReport { records, withdrawn })
    }

    /// The rollover rule: a certificate whose key is `spki` may serve SMTP
    /// under `names` only once that key's record has been seen at every
    /// authoritative server for twice its TTL. Applies while DANE is on
    /// and a publisher keeps the publication; otherwise publishing is the
    /// administrator's and nothing is checked here. `strict`: the key is a
    /// next key, whose record the publisher must have published; else a
    /// key the publisher never saw (a certificate brought in by hand) is
    /// let through, since its record can only be published once it is
    /// bound.
    pub fn ensure_dane_ready(
        &self,
        thumbprint: &str,
        spki: &[u8],
        names: &[String],
        strict: bool,
    ) -> Result<()> {
        if !self.dane_enabled()? {
            return Ok(());
        }
        let Some(publication) = self.dane_publication()? else {
            return Ok(());
        };
        match not_ready(
            &publication,
            spki,
            names,
            self.now().unix_timestamp(),
            strict,
        ) {
            None => Ok(()),
            Some((host, rdata, waiting)) => Err(LifecycleError::DaneNotReady {
                thumbprint: thumbprint.to_string(),
                host,
                rdata,
                waiting: Box::new(waiting),
            }),
        }
    }
}

/// The first host of `names` for which the record of the key `spki` is
/// not ready, with the record and why: see [`Manager::ensure_dane_ready`].
fn not_ready(
    publication: &Publication,
    spki: &[u8],
    names: &[String],
    now: i64,
    strict: bool,
) -> Option<(String, String, DaneWaiting)> {
    let rdata = Tlsa::for_spki(Usage::DaneEe, spki).rdata_text();
    let hosts = names
        .iter()
        .filter(|n| !n.starts_with("*.") && n.contains('.'));
    for host in hosts {
        let suffix = format!("._tcp.{host}.");
        if !publication
            .records
            .iter()
            .any(|p| p.name.ends_with(&suffix))
        {
            // Not a name this publisher publishes (another zone).
            continue;
        }
        let found = publication
            .records
            .iter()
            .find(|p| p.name.ends_with(&suffix) && p.rdata == rdata);
        let waiting = match found.and_then(Published::ready_at) {
            Some(ready) if ready <= now => continue,
            Some(ready) => DaneWaiting::SeenEverywhere {
                seen_everywhere_at: found.and_then(|p| p.seen_everywhere_at).unwrap_or(ready),
                ready_at: ready,
            },
            None if found.is_some() => DaneWaiting::NotAnsweredEverywhere,
            None if !strict => continue,
            None => DaneWaiting::NotPublished,
        };
        return Some((host.clone(), rdata, waiting));
    }
    None
}

/// For `list` and `show`: the certificates bound to SMTP whose next key
/// may not serve yet, each with the warning to show.
pub fn next_key_warnings(
    store: &dyn mailcert_store::Store,
    certificates: &[mailcert_store::CertRecord],
    bindings: &[mailcert_store::Binding],
    now: OffsetDateTime,
) -> Result<Vec<(String, String)>> {
    if store.value(crate::dane::DANE_ENABLED)?.as_deref() != Some(b"1") {
        return Ok(Vec::new());
    }
    let Some(bytes) = store.value(PUBLICATION)? else {
        return Ok(Vec::new());
    };
    let Ok(publication) = serde_json::from_slice::<Publication>(&bytes) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for cert in certificates {
        let thumbprint = &cert.summary.thumbprint;
        if !bindings
            .iter()
            .any(|b| b.service == Service::Smtp && &b.thumbprint == thumbprint)
        {
            continue;
        }
        let Some(next) = store.value(&crate::dane::next_key_name(thumbprint))? else {
            continue;
        };
        let spki = mailcert_x509::keys::read_key(&next)?.spki;
        if let Some((host, _, waiting)) = not_ready(
            &publication,
            &spki,
            &cert.summary.names,
            now.unix_timestamp(),
            true,
        ) {
            out.push((
                thumbprint.clone(),
                format!(
                    "DANE: the next key's TLSA record for {host} is not ready ({waiting}); a renewal before then waits, and the current certificate keeps serving"
                ),
            ));
        }
    }
    Ok(out)
}

/// The publishing rounds `serve` runs beside the front end: now, then
/// every `interval`. A failed round is logged and changes nothing; the
/// next one tries again.
pub fn start_publishing(
    location: mailcert_store::StoreLocation,
    node: String,
    publisher: Publisher,
    interval: std::time::Duration,
) -> std::io::Result<crate::rounds::Rounds> {
    let server = publisher.update.server;
    crate::rounds::start_rounds(
        "dane-publish",
        location,
        node,
        interval,
        move |manager| {
            let report = manager.dane_publish(&publisher)?;
            for record in &report.withdrawn {
                tracing::info!("DANE: withdrew {record} (twice its TTL after the rollover)");
            }
            tracing::debug!("DANE: {} record(s) published", report.records.len());
            Ok(())
        },
        move |e| {
            tracing::error!(
                "DANE publishing at {server} failed; the certificates serving SMTP stay as they are, and the next round tries again: {e}"
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPKI: &[u8] = b"a public key";
    const TTL: u32 = 300;

    fn publication(seen_everywhere_at: Option<i64>) -> Publication {
        Publication {
            records: vec![Published {
                name: "_25._tcp.mx1.contoso.com.".into(),
                rdata: Tlsa::for_spki(Usage::DaneEe, SPKI).rdata_text(),
                ttl: TTL,
                published_at: 1_800_000_000,
                seen_everywhere_at,
                withdraw_at: None,
            }],
        }
    }

    fn names() -> Vec<String> {
        vec!["mx1.contoso.com".into()]
    }

    /// The renewal tells a key that must wait for its record by the
    /// variant; the words stay what the administrator has always read.
    #[test]
    fn a_key_whose_record_is_not_ready_waits_with_the_reason_in_words() {
        let seen = 1_800_000_000;
        let ready = seen + 2 * i64::from(TTL);
        let (host, rdata, waiting) =
            not_ready(&publication(Some(seen)), SPKI, &names(), seen + 1, true).expect("waits");
        assert_eq!(
            waiting,
            DaneWaiting::SeenEverywhere {
                seen_everywhere_at: seen,
                ready_at: ready
            }
        );
        let error = LifecycleError::DaneNotReady {
            thumbprint: "9F1C".into(),
            host,
            rdata: rdata.clone(),
            waiting: Box::new(waiting),
        };
        assert_eq!(
            error.to_string(),
            format!(
                "DANE: 9F1C cannot serve SMTP for mx1.contoso.com yet: the TLSA record of its key ({rdata}) must be seen at every authoritative server for twice its TTL first, and it has been seen at every authoritative server since 2027-01-15T08:00:00Z, and twice its TTL ends at 2027-01-15T08:10:00Z. The current certificate keeps serving; the change can be made once the record is ready (`mailcert dane publish` shows each record's state)"
            )
        );
        assert!(not_ready(&publication(Some(seen)), SPKI, &names(), ready, true).is_none());
    }

    #[test]
    fn a_record_not_seen_everywhere_or_not_published_is_told_apart() {
        let (_, _, waiting) =
            not_ready(&publication(None), SPKI, &names(), 1_800_000_000, false).expect("waits");
        assert_eq!(waiting, DaneWaiting::NotAnsweredEverywhere);
        assert_eq!(
            waiting.to_string(),
            "it is published but not yet answered by every authoritative server of the zone"
        );
        let other_key = b"another public key";
        let (_, _, waiting) =
            not_ready(&publication(None), other_key, &names(), 1_800_000_000, true).expect("waits");
        assert_eq!(waiting, DaneWaiting::NotPublished);
        assert_eq!(waiting.to_string(), "it is not published yet");
        // Not strict: a record never published does not hold the key back.
        assert!(not_ready(
            &publication(None),
            other_key,
            &names(),
            1_800_000_000,
            false
        )
        .is_none());
    }

    #[test]
    fn no_tlsa_records_say_why_in_the_words_they_always_did() {
        assert_eq!(
            LifecycleError::from(NoTlsaRecords::NothingBound {
                service: Service::Smtp
            })
            .to_string(),
            "no certificate is bound to smtp, so there are no TLSA records to publish. Fix: bind one (`mailcert enable THUMBPRINT --services smtp`) or name one: `mailcert dane THUMBPRINT`"
        );
        assert_eq!(
            NoTlsaRecords::NoIssuer {
                thumbprint: "9F1C".into(),
                self_signed: true
            }
            .to_string(),
            "certificate 9F1C has no issuing CA in its chain (it is self-signed), so there is no CA key for a usage 2 record. Fix: use --usage 3 (the server's own key), or complete the chain (`mailcert complete CERT --chain intermediate.pem`)"
        );
    }
}
