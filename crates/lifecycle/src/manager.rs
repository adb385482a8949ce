//! The everyday operations on a store: each validates first, then makes
//! one [`Change`] that the store applies in one transaction.

use std::cell::OnceCell;

use mailcert_store::{Binding, CertRecord, Change, NewCertificate, Op, Origin, Store};
use mailcert_x509::build::{self, ServerCertSpec};
use mailcert_x509::keys::{MAX_RSA_BITS, MIN_RSA_BITS};
use mailcert_x509::status::{evaluate, EXPIRY_WARNING_DAYS};
use mailcert_x509::validate::validate_chain;
use mailcert_x509::{
    parse_name, CertSummary, KeyType, Selection, Service, Status, SubjectName, Trust,
};
use time::OffsetDateTime;

use crate::anchors::Anchors;
use crate::error::{LifecycleError, Result, Unservable};
use crate::find::find_certificate;
use crate::preflight::{preflight, takeover, Preflight};
use crate::report::scope_words_on;
pub use crate::report::Report;
use crate::served::ServedChange;
use crate::serving::{ListenerBindings, ListenerScope, ServingSet};

/// The operations, over any [`Store`].
pub struct Manager {
    pub store: Box<dyn Store>,
    pub user: String,
    /// The node (server) this process acts as: recorded in the audit
    /// log, and the node whose own bindings `which` counts and whose
    /// secure-by-default certificate `init` makes on a shared store.
    pub node: String,
    now: Option<OffsetDateTime>,
    anchors: OnceCell<Anchors>,
}

impl Manager {
    pub fn new(store: Box<dyn Store>, user: impl Into<String>) -> Manager {
        Manager {
            store,
            user: user.into(),
            node: crate::host::node_name(),
            now: None,
            anchors: OnceCell::new(),
        }
    }

    /// Acts as `node` (`serve --node`, `MAILCERT_NODE`).
    pub fn on_node(mut self, node: impl Into<String>) -> Manager {
        self.node = node.into();
        self
    }

    /// Fixes "now" (tests, `--at`).
    pub fn at(mut self, now: OffsetDateTime) -> Manager {
        self.now = Some(now);
        self
    }

    pub fn now(&self) -> OffsetDateTime {
        self.now.unwrap_or_else(build::now_utc)
    }

    pub fn anchors(&self) -> Result<&Anchors> {
        if let Some(a) = self.anchors.get() {
            return Ok(a);
        }
        let loaded = Anchors::load(self.store.as_ref())?;
        Ok(self.anchors.get_or_init(|| loaded))
    }

    /// Trust verdict for a certificate about to be stored.
    pub fn trust_of(
        &self,
        summary: &CertSummary,
        der: &[u8],
        chain: &[Vec<u8>],
        own_self_signed: bool,
    ) -> Result<Trust> {
        if summary.is_self_signed && own_self_signed {
            return Ok(Trust::OwnSelfSigned);
        }
        Ok(validate_chain(
            summary,
            der,
            chain,
            &self.anchors()?.anchors,
            own_self_signed,
            self.now(),
        ))
    }

    pub fn change(&self, action: &str) -> Change {
        Change::new(action, self.user.clone()).on_node(self.node.clone())
    }

    pub(crate) fn make_self_signed(
        &self,
        names: &[SubjectName],
        key: KeyType,
        days: u32,
        friendly_name: Option<String>,
        exportable: bool,
    ) -> Result<(NewCertificate, String)> {
        self.make_self_signed_with(names, key, days, friendly_name, exportable, None)
    }

    /// As [`Manager::make_self_signed`], with a key made earlier (DANE's
    /// next key, PKCS#8) instead of a fresh one.
    pub(crate) fn make_self_signed_with(
        &self,
        names: &[SubjectName],
        key: KeyType,
        days: u32,
        friendly_name: Option<String>,
        exportable: bool,
        prepared: Option<&[u8]>,
    ) -> Result<(NewCertificate, String)> {
        let pair = match prepared {
            Some(pkcs8) => mailcert_x509::keys::load_key(pkcs8)?,
            None => key.generate()?,
        };
        let spec = ServerCertSpec {
            names: names.to_vec(),
            subject: None,
            not_before: self.now(),
            days,
        };
        let issued = build::self_signed(&spec, &pair)?;
        let summary = CertSummary::from_der(&issued.cert_der)?;
        let thumb = summary.thumbprint.clone();
        Ok((
            NewCertificate {
                summary,
                der: issued.cert_der,
                chain: Vec::new(),
                private_key: Some(issued.key_der),
                exportable,
                friendly_name,
                origin: Origin::SelfSigned,
                trust: Trust::OwnSelfSigned,
            },
            thumb,
        ))
    }

    /// `new --self-signed`: a certificate for `names`, not bound anywhere.
    pub fn new_self_signed(
        &mut self,
        names: &[String],
        key: KeyType,
        days: u32,
        friendly_name: Option<String>,
        exportable: bool,
    ) -> Result<Report> {
        if days == 0 {
            return Err(LifecycleError::BadInput("--days must be at least 1".into()));
        }
        let names = parse_names(names)?;
        let (new, thumb) = self.make_self_signed(&names, key, days, friendly_name, exportable)?;
        let mut change = self.change("new");
        change.describe(format!(
            "created self-signed certificate {thumb} for {} ({key}, {days} days)",
            join_names(&names)
        ));
        change.push(Op::InsertCertificate(Box::new(new)));
        self.store.apply(change)?;
        let mut report = Report {
            thumbprint: Some(thumb.clone()),
            changed: true,
            ..Report::default()
        };
        report.say(thumb);
        Ok(report)
    }

    /// Status of a stored certificate now.
    pub fn status(&self, record: &CertRecord) -> Status {
        evaluate(
            &record.summary,
            &record.trust,
            self.now(),
            EXPIRY_WARNING_DAYS,
        )
        .status
    }

    /// Binds a certificate to services. For HTTPS it replaces, in the same
    /// scope, every certificate whose names it all carries, and is added
    /// beside the others (chosen per handshake by SNI); the mail services
    /// keep every previous one. The report names what was replaced, which
    /// names moved, which certificate clients without SNI now get, and the
    /// listeners whose own certificates hide it. Pre-flight findings are
    /// warnings, or refusals with `strict`.
    pub fn enable(
        &mut self,
        prefix: &str,
        services: &[Service],
        listener: Option<&str>,
        hostnames: &[String],
        strict: bool,
    ) -> Result<Report> {
        self.enable_scoped(prefix, services, listener, None, hostnames, strict)
    }

    /// [`Manager::enable`] for one node of the fleet (`node: Some`) or
    /// the whole fleet. Enabling for HTTPS fleet-wide replaces the
    /// certificates it covers on every node, enabling it for a node those
    /// of that node.
    pub fn enable_scoped(
        &mut self,
        prefix: &str,
        services: &[Service],
        listener: Option<&str>,
        node: Option<&str>,
        hostnames: &[String],
        strict: bool,
    ) -> Result<Report> {
        let record = find_certificate(self.store.as_ref(), prefix)?;
        let thumb = record.summary.thumbprint.clone();
        self.ensure_bindable(&record)?;
        // The change first: the pre-flight judges what it would serve.
        let mut steps = Report::default();
        let existing = self.store.bindings()?;
        let before = ServingSet::load(self.store.as_ref(), false)?.on_node(node);
        let mut change = self.change("enable");
        for &service in services {
            let binding = Binding {
                thumbprint: thumb.clone(),
                service,
                listener: listener.map(str::to_string),
                node: node.map(str::to_string),
            };
            let scope = scope_words_on(listener, node);
            if existing.contains(&binding) {
                steps.say(format!("{thumb} is already enabled for {service}{scope}"));
                continue;
            }
            for old in before.displaced_by(&thumb, service, listener, node) {
                let names = before
                    .get(&old.thumbprint)
                    .map(|c| c.record.summary.names.join(", "))
                    .unwrap_or_default();
                steps.say(format!(
                    "{service}{}: {thumb} replaces {}, whose names it all carries ({names}); {} stays in the store, unbound, with its key",
                    scope_words_on(old.listener.as_deref(), old.node.as_deref()),
                    old.thumbprint,
                    old.thumbprint,
                ));
                change.push(Op::Unbind(old));
            }
            change.push(Op::Bind(binding));
            change.describe(format!("enabled {thumb} for {service}{scope}"));
        }
        let mut findings = self.preflight(&record, hostnames)?;
        findings.extend(self.takeover(
            &record,
            &change.ops,
            services,
            listener,
            node,
            hostnames,
        )?);
        if strict && !findings.is_empty() {
            return Err(LifecycleError::Refused(format!(
                "not enabled (--strict) because clients would complain:\n{}",
                bullet(&findings)
            )));
        }
        let mut report = Report {
            thumbprint: Some(thumb.clone()),
            ..Report::default()
        };
        for f in &findings {
            report.say(format!("warning: {}", f.message));
        }
        report.lines.extend(steps.lines);
        if change.ops.is_empty() {
            return Ok(report);
        }
        for thumb in self.next_keys_for_binds(&mut change)? {
            report.say(format!(
                "DANE: made the next key of {thumb}; publish its TLSA record (`mailcert dane`)"
            ));
        }
        self.store.apply(change)?;
        report.changed = true;
        let after = ServingSet::load(self.store.as_ref(), false)?.on_node(node);
        let now = self.now();
        for &service in services {
            let served = ServedChange {
                before: &before,
                after: &after,
                service,
                listener,
                node,
                thumb: &thumb,
                now,
            };
            served.report(&mut report);
        }
        Ok(report)
    }

    /// The [`takeover`] findings of binding `ops` for `record`, judged on
    /// `node` (its own bindings beside the fleet-wide ones).
    pub(crate) fn takeover(
        &self,
        record: &CertRecord,
        ops: &[Op],
        services: &[Service],
        listener: Option<&str>,
        node: Option<&str>,
        hostnames: &[String],
    ) -> Result<Vec<Preflight>> {
        let before = ServingSet::load(self.store.as_ref(), false)?.on_node(node);
        let mut bindings = self.store.bindings()?;
        for op in ops {
            match op {
                Op::Bind(b) if !bindings.contains(b) => bindings.push(b.clone()),
                Op::Unbind(b) => bindings.retain(|x| x != b),
                _ => {}
            }
        }
        let after = before.with_bindings(bindings);
        Ok(takeover(
            &before,
            &after,
            record,
            services,
            listener,
            hostnames,
            self.now(),
        ))
    }

    /// Refuses a certificate no service could use (no key, outside its
    /// validity, invalid, an RSA key this server cannot sign with).
    pub fn ensure_bindable(&self, record: &CertRecord) -> Result<()> {
        let thumb = &record.summary.thumbprint;
        let unservable = |why: Unservable| {
            Err(LifecycleError::Unservable {
                thumbprint: thumb.clone(),
                why,
            })
        };
        if !record.has_private_key {
            return unservable(Unservable::NoPrivateKey);
        }
        match self.status(record) {
            Status::DateInvalid => unservable(Unservable::OutsideValidity {
                thumbprint: thumb.clone(),
                not_before: mailcert_x509::time::rfc3339(record.summary.not_before),
                not_after: mailcert_x509::time::rfc3339(record.summary.not_after),
            }),
            Status::Invalid => unservable(Unservable::Invalid {
                reason: match &record.trust {
                    Trust::Invalid(reason) => reason.clone(),
                    _ => "its signature or encoding is broken".into(),
                },
            }),
            // Nothing here can sign with such a key, so no service could
            // use the certificate.
            _ if record.summary.key_algorithm.starts_with("rsa-") => {
                let bits = record.summary.key_size;
                if bits < MIN_RSA_BITS {
                    unservable(Unservable::WeakRsa { bits })
                } else if bits > MAX_RSA_BITS {
                    unservable(Unservable::LargeRsa { bits })
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Unbinds a certificate from services; warns when a service is left
    /// with no certificate.
    pub fn disable(
        &mut self,
        prefix: &str,
        services: &[Service],
        listener: Option<&str>,
    ) -> Result<Report> {
        self.disable_scoped(prefix, services, listener, None)
    }

    /// [`Manager::disable`] for the bindings made for one node (`node:
    /// Some`) or the fleet-wide ones.
    pub fn disable_scoped(
        &mut self,
        prefix: &str,
        services: &[Service],
        listener: Option<&str>,
        node: Option<&str>,
    ) -> Result<Report> {
        let record = find_certificate(self.store.as_ref(), prefix)?;
        let thumb = record.summary.thumbprint.clone();
        let existing = self.store.bindings()?;
        let mut change = self.change("disable");
        let mut report = Report {
            thumbprint: Some(thumb.clone()),
            ..Report::default()
        };
        let mut not_bound = Vec::new();
        for &service in services {
            let binding = Binding {
                thumbprint: thumb.clone(),
                service,
                listener: listener.map(str::to_string),
                node: node.map(str::to_string),
            };
            if !existing.contains(&binding) {
                not_bound.push(service.as_str());
                continue;
            }
            change.describe(format!(
                "disabled {thumb} for {service}{}",
                scope_words_on(listener, node)
            ));
            change.push(Op::Unbind(binding));
        }
        if change.ops.is_empty() {
            report.say(format!(
                "{thumb} was not bound to {}{}; nothing changed",
                not_bound.join(", "),
                scope_words_on(listener, node)
            ));
            return Ok(report);
        }
        if !not_bound.is_empty() {
            report.say(format!(
                "{thumb} was not bound to {}{}; left as it was",
                not_bound.join(", "),
                scope_words_on(listener, node)
            ));
        }
        let unbound: Vec<Binding> = change
            .ops
            .iter()
            .filter_map(|op| {
                if let Op::Unbind(b) = op {
                    Some(b.clone())
                } else {
                    None
                }
            })
            .collect();
        // DANE: a certificate that no longer serves SMTP needs no next key.
        self.next_keys_for_binds(&mut change)?;
        self.store.apply(change)?;
        report.changed = true;
        self.warn_orphans(&unbound, &mut report)?;
        Ok(report)
    }

    pub(crate) fn warn_orphans(&self, removed: &[Binding], report: &mut Report) -> Result<()> {
        let remaining = self.store.bindings()?;
        let mut seen = Vec::new();
        for b in removed {
            if seen.contains(&b.service) {
                continue;
            }
            seen.push(b.service);
            if !remaining.iter().any(|r| r.service == b.service) {
                report.say(format!(
                    "warning: {} now has no certificate: its listeners cannot complete a TLS handshake until you enable one",
                    b.service
                ));
            }
        }
        Ok(())
    }

    /// Renews a self-signed certificate in place: same names, key type and
    /// validity length; its bindings move to the new one in the same
    /// transaction; the old one stays listed, unbound.
    pub fn renew_self_signed(&mut self, record: &CertRecord) -> Result<Report> {
        let s = &record.summary;
        let key = KeyType::from_description(&s.key_algorithm).unwrap_or_default();
        let names = s.renewal_names();
        let days = s.validity_days().clamp(1, i64::from(u32::MAX)) as u32;
        let old = s.thumbprint.clone();
        let mut change = self.change("renew");
        // DANE: the key whose TLSA record is already published.
        let next = self.take_next_key(&old, &mut change)?;
        let (new, thumb) = self.make_self_signed_with(
            &names,
            key,
            days,
            record.friendly_name.clone(),
            record.exportable,
            next.as_deref(),
        )?;
        // The rollover rule: the new key serves SMTP only once its record
        // has been seen everywhere for twice its TTL; until then nothing
        // changes and the old certificate keeps serving.
        if next.is_some()
            && self
                .bindings_of(&old)?
                .iter()
                .any(|b| b.service == Service::Smtp)
        {
            self.ensure_dane_ready(&thumb, &new.summary.spki_der, &new.summary.names, true)?;
        }
        change.describe(format!("renewed self-signed {old} as {thumb}"));
        let key_algorithm = new.summary.key_algorithm.clone();
        change.push(Op::InsertCertificate(Box::new(new)));
        let new_next = self.next_key_for_new(&thumb, &key_algorithm, &mut change)?;
        let moved = self.move_bindings(&old, &thumb, &mut change)?;
        if self.initialized()?.as_deref() == Some(old.as_str()) {
            change.push(Op::SetValue {
                key: self.init_key(),
                value: Some(thumb.clone().into_bytes()),
                secret: false,
            });
        }
        self.store.apply(change)?;
        let mut report = Report {
            thumbprint: Some(thumb.clone()),
            changed: true,
            ..Report::default()
        };
        report.say(format!("renewed {old} as {thumb} ({days} days, {key})"));
        if next.is_some() {
            report.say(format!(
                "DANE: {thumb} uses the next key prepared for {old}, whose TLSA record was published beside the current one"
            ));
        }
        if new_next {
            report.say(format!(
                "DANE: made the next key of {thumb}; publish its TLSA record (`mailcert dane`)"
            ));
        }
        if !moved.is_empty() {
            report.say(format!(
                "moved {} from {old} to {thumb}; {old} stays in the store, unbound, with its key",
                describe_bindings(&moved)
            ));
        }
        Ok(report)
    }

    /// Every binding of one certificate.
    pub fn bindings_of(&self, thumbprint: &str) -> Result<Vec<Binding>> {
        let all = self.store.bindings()?;
        Ok(all
            .into_iter()
            .filter(|b| b.thumbprint == thumbprint)
            .collect())
    }

    /// Adds to `change` the ops that move every binding of `old` to `new`.
    pub fn move_bindings(&self, old: &str, new: &str, change: &mut Change) -> Result<Vec<Binding>> {
        let moved = self.bindings_of(old)?;
        for b in &moved {
            change.push(Op::Unbind(b.clone()));
            change.push(Op::Bind(Binding {
                thumbprint: new.to_string(),
                ..b.clone()
            }));
        }
        Ok(moved)
    }

    /// The certificate a client of `service` would get on this process's
    /// node, and why.
    pub fn which(
        &self,
        service: Service,
        scope: ListenerScope<'_>,
        sni: Option<&str>,
    ) -> Result<(Selection, Option<CertRecord>)> {
        let node = self.node.clone();
        self.which_on(service, scope, sni, Some(&node))
    }

    /// [`Manager::which`] on a given node of the fleet (`which --node`).
    pub fn which_on(
        &self,
        service: Service,
        scope: ListenerScope<'_>,
        sni: Option<&str>,
        node: Option<&str>,
    ) -> Result<(Selection, Option<CertRecord>)> {
        let set = ServingSet::load(self.store.as_ref(), false)?.on_node(node);
        let selection = set.select(service, scope, sni, self.now());
        let record = selection
            .thumbprint()
            .and_then(|t| set.get(t))
            .map(|c| c.record.clone());
        Ok((selection, record))
    }

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

    /// Pre-flight findings for a certificate, without binding it.
    pub fn preflight(&self, record: &CertRecord, hostnames: &[String]) -> Result<Vec<Preflight>> {
        let chain: Vec<CertSummary> = self
            .store
            .chain(&record.summary.thumbprint)?
            .iter()
            .filter_map(|der| CertSummary::from_der(der).ok())
            .collect();
        Ok(preflight(
            &record.summary,
            &chain,
            &record.trust,
            hostnames,
            self.now(),
        ))
    }
}

/// Validates typed names; duplicates (after normalisation) are merged.
pub fn parse_names(input: &[String]) -> Result<Vec<SubjectName>> {
    if input.is_empty() {
        return Err(LifecycleError::BadInput("give at least one --name".into()));
    }
    let mut out: Vec<SubjectName> = Vec::new();
    for raw in input
        .iter()
        .flat_map(|n| n.split(','))
        .filter(|n| !n.trim().is_empty())
    {
        let parsed = parse_name(raw)?;
        if !out.contains(&parsed.name) {
            out.push(parsed.name);
        }
    }
    if out.is_empty() {
        return Err(LifecycleError::BadInput("give at least one --name".into()));
    }
    Ok(out)
}

fn join_names(names: &[SubjectName]) -> String {
    names
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn describe_bindings(bindings: &[Binding]) -> String {
    bindings
        .iter()
        .map(|b| match (&b.listener, &b.node) {
            (Some(l), Some(n)) => format!("{} (listener {l}, node {n})", b.service),
            (Some(l), None) => format!("{} (listener {l})", b.service),
            (None, Some(n)) => format!("{} (node {n})", b.service),
            (None, None) => b.service.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn bullet(findings: &[Preflight]) -> String {
    findings
        .iter()
        .map(|f| format!("  - {} [{}]", f.message, f.code))
        .collect::<Vec<_>>()
        .join("\n")
}
