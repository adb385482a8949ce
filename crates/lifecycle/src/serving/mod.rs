//! Which certificate a handshake gets: the one function that both
//! `mailcert which` and the front end call, so the answer is never a guess.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

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
    /// The certificates by what a pin may name.
    pins: PinIndex,
}

/// What a pin ([`pin_matches`]) can name, looked up rather than compared
/// with every certificate: a pinned listener asks on every handshake, and
/// the store may hold thousands of certificates.
#[derive(Debug, Clone, Default)]
struct PinIndex {
    /// Every thumbprint, sorted: those with a prefix are a range.
    thumbprints: BTreeSet<String>,
    /// Thumbprints by subject and by the subject's CN, ASCII lower-case.
    by_subject: HashMap<String, Vec<String>>,
}

impl PinIndex {
    fn new(certs: &HashMap<String, ServedCert>) -> PinIndex {
        let mut index = PinIndex::default();
        for (thumb, cert) in certs {
            let s = &cert.record.summary;
            index.thumbprints.insert(s.thumbprint.clone());
            let subject = s.subject.to_ascii_lowercase();
            let cn = s.subject_cn().to_ascii_lowercase();
            if cn != subject {
                index.by_subject.entry(cn).or_default().push(thumb.clone());
            }
            index
                .by_subject
                .entry(subject)
                .or_default()
                .push(thumb.clone());
        }
        index
    }

    /// The certificates `pin` matches, as [`pin_matches`] decides.
    fn matching<'a>(
        &self,
        pin: &str,
        certs: &'a HashMap<String, ServedCert>,
    ) -> Vec<&'a ServedCert> {
        let mut found: BTreeSet<&str> = BTreeSet::new();
        if let Some(prefix) = normalize_prefix(pin).filter(|p| p.len() >= 4) {
            found.extend(
                self.thumbprints
                    .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
                    .take_while(|t| t.starts_with(&prefix))
                    .map(String::as_str),
            );
        }
        if let Some(same) = self.by_subject.get(&pin.trim().to_ascii_lowercase()) {
            found.extend(same.iter().map(String::as_str));
        }
        found
            .into_iter()
            .filter_map(|thumb| certs.get(thumb))
            .collect()
    }
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
            pins: PinIndex::new(&certs),
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
            pins: self.pins.clone(),
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
            self.pins
                .matching(pin, &self.certs)
                .into_iter()
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
    #[cfg(test)]
    tests::PIN_COMPARISONS.with(|n| n.set(n.get() + 1));
    let s = &record.summary;
    if let Some(prefix) = normalize_prefix(pin) {
        if prefix.len() >= 4 && s.thumbprint.starts_with(&prefix) {
            return true;
        }
    }
    let pin = pin.trim();
    s.subject.eq_ignore_ascii_case(pin) || s.subject_cn().eq_ignore_ascii_case(pin)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use mailcert_store::{SqliteStore, StoreLocation};
    use mailcert_x509::KeyType;

    use super::*;
    use crate::Manager;

    thread_local! {
        /// How many times [`pin_matches`] compared a pin with a certificate.
        pub(super) static PIN_COMPARISONS: Cell<usize> = const { Cell::new(0) };
    }

    /// A store of certificates for `names` (two of them for the first);
    /// returns the serving set and the thumbprints.
    fn serving(dir: &std::path::Path, names: &[&str]) -> (ServingSet, Vec<String>) {
        let location = StoreLocation::resolve(Some(&dir.join("store.db")), None);
        let (store, _) = SqliteStore::open_or_create(&location).expect("store");
        let mut manager = Manager::new(Box::new(store), "test");
        let thumbs = names
            .iter()
            .chain(names.first())
            .map(|name| {
                manager
                    .new_self_signed(&[(*name).into()], KeyType::EcP256, 30, None, true)
                    .expect("certificate")
                    .thumbprint
                    .expect("a thumbprint")
            })
            .collect();
        let set = ServingSet::load(manager.store.as_ref(), false).expect("load");
        (set, thumbs)
    }

    fn pins(thumbs: &[String]) -> Vec<String> {
        let t = &thumbs[0];
        let colons = t
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(":");
        vec![
            t[..4].to_string(),
            t[..3].to_string(),
            t[..8].to_ascii_lowercase(),
            t.clone(),
            colons,
            format!(" {} ", &t[..6]),
            "CN=mail.contoso.com".into(),
            "cn=MAIL.contoso.com".into(),
            "Mail.Contoso.Com".into(),
            " imap.contoso.com ".into(),
            "smtp.contoso.com".into(),
            "CN=smtp.contoso.com".into(),
            "nothing.contoso.com".into(),
            "FFFFFFFF".into(),
            String::new(),
        ]
    }

    #[test]
    fn a_pin_finds_what_comparing_it_with_every_certificate_finds() {
        let dir = tempfile::tempdir().expect("dir");
        let (set, thumbs) = serving(dir.path(), &["mail.contoso.com", "imap.contoso.com"]);
        for pin in pins(&thumbs) {
            let mut looked_up: Vec<&str> = set
                .pins
                .matching(&pin, &set.certs)
                .into_iter()
                .map(|c| c.record.summary.thumbprint.as_str())
                .collect();
            let mut compared: Vec<&str> = set
                .certs
                .values()
                .filter(|c| pin_matches(&pin, &c.record))
                .map(|c| c.record.summary.thumbprint.as_str())
                .collect();
            looked_up.sort();
            compared.sort();
            assert_eq!(looked_up, compared, "pin {pin:?}");
        }
        // Both certificates for mail.contoso.com, by name; one by prefix.
        assert_eq!(set.pins.matching("mail.contoso.com", &set.certs).len(), 2);
        assert_eq!(set.pins.matching(&thumbs[0], &set.certs).len(), 1);
    }

    #[test]
    fn a_pinned_handshake_does_not_compare_the_pin_with_every_certificate() {
        let dir = tempfile::tempdir().expect("dir");
        let (set, thumbs) = serving(dir.path(), &["mail.contoso.com", "imap.contoso.com"]);
        let now = mailcert_x509::build::now_utc();
        PIN_COMPARISONS.with(|n| n.set(0));
        for pin in [thumbs[1].as_str(), "imap.contoso.com"] {
            let scope = ListenerScope {
                name: Some("imaps"),
                pin: Some(pin),
            };
            let chosen = set.select(Service::Imap, scope, Some("imap.contoso.com"), now);
            assert_eq!(chosen.thumbprint(), Some(thumbs[1].as_str()), "pin {pin}");
        }
        assert_eq!(PIN_COMPARISONS.with(Cell::get), 0);
    }
}
