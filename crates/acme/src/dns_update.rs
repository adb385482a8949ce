//! DNS-01 by RFC 2136 dynamic update, signed with TSIG: the same
//! publisher that puts DANE's TLSA records in DNS (`[dane.dns]`), so that
//! no hook script is needed. `publish` returns once every authoritative
//! server of the zone answers the TXT record (asked directly, without
//! recursion), which is when the CA's resolver can see it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailcert_dane::resolver::Resolver;
use mailcert_dane::{DnsRecord, RecordValue, Rfc2136, TsigKey};
use serde::{Deserialize, Serialize};

use crate::challenge::{BoxFuture, ChallengeAnswer, ChallengeKind, ChallengeResponder};
use crate::error::{AcmeError, Result};

/// Where DNS-01 answers are published; kept in the order's recipe so that
/// renewals publish the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsUpdateRecipe {
    /// The zone's primary server, which takes the updates.
    pub server: SocketAddr,
    /// The zone's apex.
    pub zone: String,
    pub tsig_key_file: Option<PathBuf>,
    /// TTL of the TXT records (short: they live for one validation).
    pub ttl: u32,
}

impl DnsUpdateRecipe {
    /// From `[dane.dns]` of the front-end configuration.
    pub fn from_config(dns: &mailcert_config::DaneDns) -> DnsUpdateRecipe {
        DnsUpdateRecipe {
            server: dns.server,
            zone: dns.zone.clone(),
            tsig_key_file: dns.tsig_key_file.clone(),
            // Short: the record lives for one validation.
            ttl: dns.ttl.min(60),
        }
    }
}

/// Publishes DNS-01 TXT records by RFC 2136.
#[derive(Clone)]
pub struct DnsUpdateResponder {
    update: Rfc2136,
    ttl: u32,
    /// How long to wait for every authoritative server to answer.
    pub timeout: Duration,
}

impl DnsUpdateResponder {
    /// Reads the TSIG key file now, so that a wrong path fails before the
    /// order is placed.
    pub fn new(recipe: &DnsUpdateRecipe) -> Result<DnsUpdateResponder> {
        let key = match &recipe.tsig_key_file {
            Some(path) => {
                Some(TsigKey::from_file(path).map_err(|e| AcmeError::BadInput(e.to_string()))?)
            }
            None => None,
        };
        Ok(DnsUpdateResponder {
            update: Rfc2136::new(recipe.server, &recipe.zone, key),
            ttl: recipe.ttl,
            timeout: Duration::from_secs(120),
        })
    }

    fn record(&self, answer: &ChallengeAnswer) -> DnsRecord {
        DnsRecord {
            name: format!("{}.", answer.dns_fqdn()),
            ttl: self.ttl,
            data: RecordValue::Txt(answer.dns_value.clone()),
        }
    }

    fn failed(&self, action: &'static str, answer: &ChallengeAnswer, reason: String) -> AcmeError {
        AcmeError::DnsUpdate {
            server: self.update.server.to_string(),
            action,
            fqdn: answer.dns_fqdn(),
            reason,
        }
    }

    /// Adds the record, then waits until every authoritative server of
    /// the zone answers it.
    fn publish_blocking(&self, answer: &ChallengeAnswer) -> Result<()> {
        let record = self.record(answer);
        self.update
            .add(std::slice::from_ref(&record))
            .map_err(|e| self.failed("set", answer, e.to_string()))?;
        let servers = Resolver::new(self.update.server)
            .authoritative_servers(&self.update.zone)
            .map_err(|e| self.failed("set", answer, e.to_string()))?;
        let deadline = Instant::now() + self.timeout;
        for server in servers {
            for ip in &server.addresses {
                let address = SocketAddr::new(*ip, self.update.server.port());
                loop {
                    let seen = Resolver::new(address)
                        .txt_authoritative(&record.name)
                        .map(|texts| texts.contains(&answer.dns_value))
                        .unwrap_or(false);
                    if seen {
                        break;
                    }
                    if Instant::now() >= deadline {
                        return Err(self.failed(
                            "set",
                            answer,
                            format!(
                                "the authoritative server {} ({address}) did not answer it within {} s; is it a secondary that gets no NOTIFY from the primary?",
                                server.name,
                                self.timeout.as_secs()
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        Ok(())
    }
}

impl ChallengeResponder for DnsUpdateResponder {
    fn kind(&self) -> ChallengeKind {
        ChallengeKind::Dns01
    }

    fn publish<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        // The DNS work is blocking sockets with timeouts: off the runtime
        // (the CLI's is single-threaded).
        let (me, owned) = (self.clone(), answer.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || me.publish_blocking(&owned))
                .await
                .map_err(|e| self.failed("set", answer, e.to_string()))?
        })
    }

    fn withdraw<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        let (me, owned) = (self.clone(), answer.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                me.update
                    .delete(&[me.record(&owned)])
                    .map_err(|e| me.failed("clear", &owned, e.to_string()))
            })
            .await
            .map_err(|e| self.failed("clear", answer, e.to_string()))?
        })
    }
}
