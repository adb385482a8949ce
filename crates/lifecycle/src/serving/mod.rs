//! Which certificate a handshake gets: the one function that both
//! `mailcert which` and the front end call, so the answer is never a guess.

use std::collections::{BTreeMap, HashMap};

use mailcert_store::{Binding, CertRecord, Store};
use mailcert_x509::service::{displaced, hidden, preferred_because, select, Candidate, Selection};
use mailcert_x509::thumbprint::normalize_prefix;
use mailcert_x509::{Service, Trust};
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::Result;

mod address;
mod notes;
pub use address::AddressServing;
pub use notes::{listener_notes, nothing_fix, ListenerNotes};

/// A certificate ready to serve: record, chain and (optionally) key.
#[derive(Debug, Clone)]
pub struct ServedCert {
    pub record: CertRecord,
    /// DER of the chain above the leaf, issuer first; loaded with the keys.
    pub chain: Vec<Vec<u8>>,
    /// PKCS#8 DER, loaded only when asked for.
    pub private_key: Option<Vec<u8>>,
}

/// What a listener contributes to the choice.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListenerScope<'a> {
    pub name: Option<&'a str>,
    /// The listener's `certificate = ...`: thumbprint prefix or subject.
    pub pin: Option<&'a str>,
}

/// The certificates bound to one listener alone for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerBindings {
    pub service: Service,
    pub listener: String,
    /// Bound to this listener (thumbprints).
    pub own: Vec<String>,
    /// Bound to the whole service, yet never served on this listener,
    /// because its own certificates come first (thumbprints).
    pub hidden: Vec<String>,
}

/// A snapshot of everything that can be served, taken from the store.
#[derive(Debug, Clone, Default)]
pub struct ServingSet {
    certs: HashMap<String, ServedCert>,
    bindings: Vec<Binding>,
    pub generation: i64,
    /// The node the choice is made for: its own bindings apply beside
    /// the fleet-wide ones. `None`: only fleet-wide bindings.
    node: Option<String>,
}

impl ServingSet {
    /// Loads every certificate that has a private key (pinned certificates
    /// need not be bound) and, with `with_keys` (what serving needs), their
    /// chains and the keys themselves; choosing alone needs neither.
    pub fn load(store: &dyn Store, with_keys: bool) -> Result<ServingSet> {
        let generation = store.generation()?;
        let bindings = store.bindings()?;
        let mut certs = HashMap::new();
        for record in store.certificates()? {
            if !record.has_private_key {
                continue;
            }
            let thumb = record.summary.thumbprint.clone();
            let (chain, private_key) = if with_keys {
                (store.chain(&thumb)?, store.private_key(&thumb)?)
            } else {
                (Vec::new(), None)
            };
            certs.insert(
                thumb,
                ServedCert {
                    record,
                    chain,
                    private_key,
                },
            );
        }
        Ok(ServingSet {
            certs,
            bindings,
            generation,
            node: None,
        })
    }

    /// Chooses for `node` (a `serve` process, `which --node`): bindings
    /// made for that node apply beside the fleet-wide ones.
    pub fn on_node(mut self, node: Option<&str>) -> ServingSet {
        self.node = node.map(str::to_string);
        self
    }

    /// The node the choice is made for.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// The bindings that apply on this set's node.
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.bindings
            .iter()
            .filter(|b| b.applies_to_node(self.node.as_deref()))
    }

    /// Forgets the private keys once they have been handed elsewhere
    /// (the front end keeps them only inside its TLS signing keys).
    pub fn drop_private_keys(&mut self) {
        for cert in self.certs.values_mut() {
            cert.private_key = None;
        }
    }

    /// The same certificates with other bindings: what a change of the
    /// bindings would make served (the pre-flight compares the two).
    pub fn with_bindings(&self, bindings: Vec<Binding>) -> ServingSet {
        ServingSet {
            certs: self.certs.clone(),
            bindings,
            generation: self.generation,
            node: self.node.clone(),
        }
    }

    /// The certificates bound to `service` that a listener named
    /// `listener` (or any listener, with `None`) may serve.
    pub fn bound_to<'a>(
        &'a self,
        service: Service,
        listener: Option<&'a str>,
    ) -> impl Iterator<Item = &'a ServedCert> + 'a {
        self.bindings()
            .filter(move |b| b.service == service)
            .filter(move |b| b.listener.is_none() || b.listener.as_deref() == listener)
            .filter_map(|b| self.certs.get(&b.thumbprint))
    }

    pub fn get(&self, thumbprint: &str) -> Option<&ServedCert> {
        self.certs.get(thumbprint)
    }

    pub fn certificates(&self) -> impl Iterator<Item = &ServedCert> {
        self.certs.values()
    }

    /// The names a client of `listener` may ask for (SNI) that a
    /// certificate bound to it carries, lower-case, wildcards aside (no
    /// client asks for `*.`): with the no-SNI default, what a node reports
    /// it serves, and what `mailcert fleet` compares.
    pub fn bound_names(&self, service: Service, listener: Option<&str>) -> Vec<String> {
        let mut names: Vec<String> = self
            .bindings()
            .filter(|b| b.service == service)
            .filter(|b| b.listener.is_none() || b.listener.as_deref() == listener)
            .filter_map(|b| self.certs.get(&b.thumbprint))
            .flat_map(|c| c.record.summary.names.iter())
            .filter(|n| !n.starts_with('*'))
            .map(|n| n.to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The certificate for one handshake on `service` through `listener`,
    /// with the SNI the client sent (if any).
    pub fn select(
        &self,
        service: Service,
        listener: ListenerScope<'_>,
        sni: Option<&str>,
        now: OffsetDateTime,
    ) -> Selection {
        let pinned: Option<Vec<Candidate>> = listener.pin.map(|pin| {
            self.certs
                .values()
                .filter(|c| pin_matches(pin, &c.record))
                .map(|c| candidate(c, false, false))
                .collect()
        });
        let bound = self.bound(service, listener.name);
        select(listener.pin.zip(pinned.as_deref()), &bound, sni, now)
    }

    /// The certificates a listener named `listener` (or one with no
    /// bindings of its own, with `None`) may serve for `service`.
    fn bound(&self, service: Service, listener: Option<&str>) -> Vec<Candidate> {
        self.bindings()
            .filter(|b| b.service == service)
            .filter(|b| b.listener.is_none() || b.listener.as_deref() == listener)
            .filter_map(|b| {
                self.certs
                    .get(&b.thumbprint)
                    .map(|c| candidate(c, b.listener.is_some(), b.node.is_some()))
            })
            .collect()
    }

    /// The bindings that enabling `thumbprint` for `service` in one scope
    /// (a listener or, with `None`, the whole service; one node or, with
    /// `None`, every node) removes there, by the service's
    /// [`OnEnable`](mailcert_x509::service::OnEnable) rule: for HTTPS,
    /// those of the certificates whose names it all covers.
    pub fn displaced_by(
        &self,
        thumbprint: &str,
        service: Service,
        listener: Option<&str>,
        node: Option<&str>,
    ) -> Vec<Binding> {
        let Some(new) = self.certs.get(thumbprint) else {
            return Vec::new();
        };
        let same_scope: Vec<&Binding> = self
            .bindings
            .iter()
            .filter(|b| b.service == service && b.listener.as_deref() == listener)
            .filter(|b| node.is_none() || b.node.as_deref() == node)
            .filter(|b| self.certs.contains_key(&b.thumbprint))
            .collect();
        let candidates: Vec<Candidate> = same_scope
            .iter()
            .filter_map(|b| self.certs.get(&b.thumbprint))
            .map(|c| candidate(c, listener.is_some(), node.is_some()))
            .collect();
        let gone: Vec<&str> = displaced(
            service.on_enable(),
            &candidate(new, false, false),
            &candidates,
        )
        .into_iter()
        .map(|c| c.thumbprint.as_str())
        .collect();
        same_scope
            .into_iter()
            .filter(|b| gone.contains(&b.thumbprint.as_str()))
            .cloned()
            .collect()
    }

    /// Every name the certificates served for `service` through
    /// `listener` carry, with the certificate a client asking for it (SNI)
    /// gets. A wildcard stands for the names under it that no certificate
    /// carries exactly.
    pub fn served_names(
        &self,
        service: Service,
        listener: Option<&str>,
        now: OffsetDateTime,
    ) -> BTreeMap<String, String> {
        let bound = self.bound(service, listener);
        let scope = ListenerScope {
            name: listener,
            pin: None,
        };
        let hidden: Vec<&str> = hidden(&bound)
            .into_iter()
            .map(|c| c.thumbprint.as_str())
            .collect();
        let served = bound
            .iter()
            .filter(|c| c.usable && !hidden.contains(&c.thumbprint.as_str()));
        let mut out = BTreeMap::new();
        for name in served.flat_map(|c| &c.names) {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if out.contains_key(&name) {
                continue;
            }
            if let Some(thumb) = self.select(service, scope, Some(&name), now).thumbprint() {
                out.insert(name, thumb.to_string());
            }
        }
        out
    }

    /// Every listener with certificates bound to it alone (on this set's
    /// node), and the certificates bound to the whole service that it
    /// therefore never serves, by service then listener.
    pub fn listener_bindings(&self) -> Vec<ListenerBindings> {
        let mut scopes: Vec<(Service, &str)> = self
            .bindings()
            .filter_map(|b| b.listener.as_deref().map(|l| (b.service, l)))
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
            .into_iter()
            .map(|(service, listener)| {
                let bound = self.bound(service, Some(listener));
                let mut own: Vec<String> = bound
                    .iter()
                    .filter(|c| c.listener_specific)
                    .map(|c| c.thumbprint.clone())
                    .collect();
                own.dedup();
                ListenerBindings {
                    service,
                    listener: listener.to_string(),
                    own,
                    hidden: hidden(&bound)
                        .into_iter()
                        .map(|c| c.thumbprint.clone())
                        .collect(),
                }
            })
            .collect()
    }

    /// Why the default `winner` is served rather than `other`, in words
    /// (`None` if either is unknown or `other` would win).
    pub fn preferred_because(
        &self,
        winner: &str,
        other: &str,
        now: OffsetDateTime,
    ) -> Option<&'static str> {
        let (w, o) = (self.certs.get(winner)?, self.certs.get(other)?);
        let on_node = |thumb: &str| {
            self.bindings()
                .any(|b| b.thumbprint == thumb && b.node.is_some())
        };
        preferred_because(
            &candidate(w, false, on_node(winner)),
            &candidate(o, false, on_node(other)),
            now,
        )
    }
}

fn candidate(cert: &ServedCert, listener_specific: bool, node_specific: bool) -> Candidate {
    let s = &cert.record.summary;
    Candidate {
        thumbprint: s.thumbprint.clone(),
        subject: s.subject.clone(),
        names: s.names.clone(),
        not_before: s.not_before,
        not_after: s.not_after,
        usable: cert.record.has_private_key && !matches!(cert.record.trust, Trust::Invalid(_)),
        trusted: matches!(cert.record.trust, Trust::Trusted),
        listener_specific,
        node_specific,
        seq: cert.record.seq,
    }
}

/// A pin selects by thumbprint prefix (at least 4 hex digits), or by
/// subject (`CN=...` in full, or the CN alone), like a receive
/// connector's TLS certificate name.
pub fn pin_matches(pin: &str, record: &CertRecord) -> bool {
    let s = &record.summary;
    if let Some(prefix) = normalize_prefix(pin) {
        if prefix.len() >= 4 && s.thumbprint.starts_with(&prefix) {
            return true;
        }
    }
    let pin = pin.trim();
    s.subject.eq_ignore_ascii_case(pin) || s.subject_cn().eq_ignore_ascii_case(pin)
}

impl crate::manager::Manager {
    /// [`ServingSet::listener_bindings`] of the store, on `node` (`None`:
    /// the bindings of the whole fleet only): what `list` and `which` say
    /// about listeners that serve certificates of their own.
    pub fn listener_bindings(&self, node: Option<&str>) -> Result<Vec<ListenerBindings>> {
        // Only bindings made for a listener make notes: without any,
        // `list` of a large store need not read every certificate twice.
        if !self
            .store
            .bindings()?
            .iter()
            .any(|binding| binding.listener.is_some())
        {
            return Ok(Vec::new());
        }
        Ok(ServingSet::load(self.store.as_ref(), false)?
            .on_node(node)
            .listener_bindings())
    }
}
