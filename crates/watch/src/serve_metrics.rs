//! `GET /metrics` of `serve`: the certificates of the store in
//! x509-certificate-exporter's names and labels, what each listener
//! serves, the fleet's drift from the heartbeats, the ACME renewal state,
//! and the front end's counters.
//!
//! What comes from the store is read again only when the store
//! generation moved (every certificate, binding and ACME state change
//! raises it); what depends on the time (expired, status, days left) is
//! worked out at each scrape from that copy, and the heartbeats are read
//! at each scrape (they change without raising the generation).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mailcert_acme::renewal::load_state;
use mailcert_acme::{decide, Decision, RenewalPolicy, RenewalState};
use mailcert_front::FrontView;
use mailcert_lifecycle::ServingSet;
use mailcert_store::{BoxedStore, CertRecord, Origin, StoreLocation};
use mailcert_x509::status::{evaluate, EXPIRY_WARNING_DAYS};
use time::OffsetDateTime;

use crate::exposition::{common_name, serial_decimal, Exposition, Kind};

/// One certificate with its labels worked out.
struct CertRow {
    record: CertRecord,
    subject_cn: String,
    issuer_cn: String,
    serial: String,
    /// Service names bound on this node, sorted, comma-joined.
    services: String,
}

/// What was read at one store generation.
struct Cached {
    generation: i64,
    certificates: Vec<CertRow>,
    /// Bound ACME certificates and their renewal state.
    acme: Vec<(CertRecord, RenewalState)>,
    serving: ServingSet,
}

/// The scrape of `serve`.
pub struct ServeMetrics {
    view: FrontView,
    location: StoreLocation,
    /// Opened at the first scrape, and again after an error.
    store: Mutex<Option<BoxedStore>>,
    cache: Mutex<Option<Arc<Cached>>>,
}

impl ServeMetrics {
    pub fn new(view: FrontView, location: StoreLocation) -> ServeMetrics {
        ServeMetrics {
            view,
            location,
            store: Mutex::new(None),
            cache: Mutex::new(None),
        }
    }

    /// The whole page at `now`. A store that cannot be read leaves its
    /// families as last read and says so in `mailcert_store_up 0`.
    pub fn render(&self, now: OffsetDateTime) -> String {
        let (cached, nodes, store_up) = match self.read_store() {
            Ok((cached, nodes)) => (Some(cached), nodes, true),
            Err(e) => {
                tracing::warn!(
                    "/metrics: store {} could not be read: {e}",
                    self.location.shown()
                );
                let last = self.cache.lock().ok().and_then(|c| c.clone());
                (last, Vec::new(), false)
            }
        };
        let mut page = Exposition::new();
        page.family(
            "mailcert_build_info",
            Kind::Gauge,
            "The mailcert version serving, always 1.",
        )
        .sample(
            "mailcert_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );
        page.family(
            "mailcert_store_up",
            Kind::Gauge,
            "1 when the store could be read for this scrape, 0 when the store families are as last read.",
        )
        .sample("mailcert_store_up", &[], if store_up { 1.0 } else { 0.0 });
        if let Some(cached) = &cached {
            certificate_families(&mut page, cached, now);
            acme_families(&mut page, cached, now);
            fleet_families(&mut page, cached, nodes, now);
        }
        self.listener_family(&mut page);
        page.append(&self.view.metrics.render());
        page.finish()
    }

    fn listener_family(&self, page: &mut Exposition) {
        page.family(
            "mailcert_listener_certificate_info",
            Kind::Gauge,
            "The certificate each listener serves to a client that sends no SNI, always 1.",
        );
        for (listener, thumbprint) in self.view.default_certificates() {
            let thumbprint = thumbprint.unwrap_or_default();
            page.sample(
                "mailcert_listener_certificate_info",
                &[
                    ("listener", &listener),
                    ("node", &self.view.node),
                    ("thumbprint", &thumbprint),
                ],
                1.0,
            );
        }
    }

    /// The cached reading (fresh when the generation moved) and the
    /// heartbeats.
    fn read_store(&self) -> mailcert_store::Result<(Arc<Cached>, Vec<mailcert_store::NodeRecord>)> {
        let mut guard = self.store.lock().map_err(|_| {
            mailcert_store::StoreError::Refused("the store handle is poisoned".into())
        })?;
        if guard.is_none() {
            *guard = Some(mailcert_store::open(&self.location)?);
        }
        let result = (|| {
            let store = guard.as_ref().map(|s| s.as_ref()).ok_or_else(|| {
                mailcert_store::StoreError::Refused("the store is not open".into())
            })?;
            let generation = store.generation()?;
            let last = self.cache.lock().ok().and_then(|c| c.clone());
            let cached = match last.filter(|c| c.generation == generation) {
                Some(cached) => cached,
                None => {
                    let fresh = Arc::new(read(store, &self.view.node, generation)?);
                    if let Ok(mut cache) = self.cache.lock() {
                        *cache = Some(fresh.clone());
                    }
                    fresh
                }
            };
            Ok((cached, store.nodes()?))
        })();
        if result.is_err() {
            // A PostgreSQL connection that broke is opened again next time.
            *guard = None;
        }
        result
    }
}

fn read(
    store: &dyn mailcert_store::Store,
    node: &str,
    generation: i64,
) -> mailcert_store::Result<Cached> {
    let bindings = store.bindings()?;
    let mut services: BTreeMap<&str, Vec<&'static str>> = BTreeMap::new();
    for binding in bindings.iter().filter(|b| b.applies_to_node(Some(node))) {
        services
            .entry(binding.thumbprint.as_str())
            .or_default()
            .push(binding.service.as_str());
    }
    let mut certificates = Vec::new();
    let mut acme = Vec::new();
    for record in store.certificates()? {
        let thumb = record.summary.thumbprint.as_str();
        let mut bound = services.get(thumb).cloned().unwrap_or_default();
        bound.sort_unstable();
        bound.dedup();
        if record.origin == Origin::Acme && !bound.is_empty() {
            let state = load_state(store, thumb).unwrap_or_default();
            acme.push((record.clone(), state));
        }
        certificates.push(CertRow {
            subject_cn: common_name(&record.summary.subject),
            issuer_cn: common_name(&record.summary.issuer),
            serial: serial_decimal(&record.summary.serial),
            services: bound.join(","),
            record,
        });
    }
    let serving = ServingSet::load(store, false).map_err(|e| match e {
        mailcert_lifecycle::LifecycleError::Store(e) => e,
        other => mailcert_store::StoreError::Refused(other.to_string()),
    })?;
    Ok(Cached {
        generation,
        certificates,
        acme,
        serving,
    })
}

/// A per-certificate gauge: its name, its help, and its value.
type CertGauge = (
    &'static str,
    &'static str,
    fn(&CertRow, OffsetDateTime) -> f64,
);

fn certificate_families(page: &mut Exposition, cached: &Cached, now: OffsetDateTime) {
    let rows: Vec<(&CertRow, [(&str, &str); 6])> = cached
        .certificates
        .iter()
        .map(|row| {
            let status = evaluate(
                &row.record.summary,
                &row.record.trust,
                now,
                EXPIRY_WARNING_DAYS,
            )
            .status
            .as_str();
            (
                row,
                [
                    ("thumbprint", row.record.summary.thumbprint.as_str()),
                    ("subject_CN", row.subject_cn.as_str()),
                    ("issuer_CN", row.issuer_cn.as_str()),
                    ("serial_number", row.serial.as_str()),
                    ("services", row.services.as_str()),
                    ("status", status),
                ],
            )
        })
        .collect();
    let gauges: [CertGauge; 3] = [
        (
            "x509_cert_not_after",
            "The end of the certificate's validity, in Unix seconds.",
            |row, _| row.record.summary.not_after.unix_timestamp() as f64,
        ),
        (
            "x509_cert_not_before",
            "The start of the certificate's validity, in Unix seconds.",
            |row, _| row.record.summary.not_before.unix_timestamp() as f64,
        ),
        (
            "x509_cert_expired",
            "1 when the certificate's validity has ended, else 0.",
            |row, now| f64::from(u8::from(row.record.summary.not_after <= now)),
        ),
    ];
    for (name, help, value) in gauges {
        page.family(name, Kind::Gauge, help);
        for (row, labels) in &rows {
            page.sample(name, labels, value(row, now));
        }
    }
}

fn acme_families(page: &mut Exposition, cached: &Cached, now: OffsetDateTime) {
    let policy = RenewalPolicy::default();
    page.family(
        "mailcert_acme_renewal_failures",
        Kind::Gauge,
        "Consecutive failed ACME renewals of a bound certificate (0 once one succeeds).",
    );
    for (record, state) in &cached.acme {
        page.sample(
            "mailcert_acme_renewal_failures",
            &[("thumbprint", &record.summary.thumbprint)],
            f64::from(state.failures),
        );
    }
    page.family(
        "mailcert_acme_next_renewal_timestamp_seconds",
        Kind::Gauge,
        "When the next ACME renewal attempt of a bound certificate is due, in Unix seconds (now when due).",
    );
    for (record, state) in &cached.acme {
        let next = match decide(&policy, record, state, None, now, false) {
            Decision::NotDue { renew_at } => renew_at,
            Decision::Due(_) => now,
            Decision::BackingOff { until, .. } => until,
            Decision::Replaced { .. } => continue,
        };
        page.sample(
            "mailcert_acme_next_renewal_timestamp_seconds",
            &[("thumbprint", &record.summary.thumbprint)],
            next.unix_timestamp() as f64,
        );
    }
}

fn fleet_families(
    page: &mut Exposition,
    cached: &Cached,
    nodes: Vec<mailcert_store::NodeRecord>,
    now: OffsetDateTime,
) {
    let report = mailcert_lifecycle::fleet::fleet_report_from(&cached.serving, nodes, now);
    page.family(
        "mailcert_fleet_listener_in_sync",
        Kind::Gauge,
        "1 when the node's listener serves what the store binds (as `mailcert fleet` says), 0 when it drifted; from the nodes' heartbeats in the store.",
    );
    for node in &report.nodes {
        for listener in &node.listeners {
            page.sample(
                "mailcert_fleet_listener_in_sync",
                &[("node", &node.node), ("listener", &listener.listener)],
                if listener.in_sync { 1.0 } else { 0.0 },
            );
        }
    }
    page.family(
        "mailcert_fleet_node_silent",
        Kind::Gauge,
        "1 when the node missed 3 heartbeats, else 0.",
    );
    for node in &report.nodes {
        page.sample(
            "mailcert_fleet_node_silent",
            &[("node", &node.node)],
            if node.silent { 1.0 } else { 0.0 },
        );
    }
}
