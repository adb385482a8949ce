//! The expiry watch of `serve`: at the start and then every hour, one
//! event per certificate in use on this node (bound to a service here or
//! fleet-wide, or served by a listener's pin) that is inside its warning
//! window, has expired, or whose ACME renewal failed. Event names and
//! fields are a fixed interface (docs/monitoring.md).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mailcert_events::{Event, Events, Severity};
use mailcert_front::FrontView;
use mailcert_store::{Origin, Store, StoreLocation};
use serde_json::Value;
use time::OffsetDateTime;

/// A bound certificate whose end is within the warning window.
pub const EXPIRING: &str = "certificate-expiring";
/// A bound certificate whose end has passed: clients refuse it.
pub const EXPIRED: &str = "certificate-expired";
/// A bound ACME certificate whose last renewal attempts failed.
pub const RENEWAL_FAILED: &str = "renewal-failed";

/// How often the watch looks again.
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// The events for the certificates in use on `node` at `now`; `served`
/// are the thumbprints its listeners serve (pins included).
pub fn certificate_events(
    store: &dyn Store,
    node: &str,
    served: &[String],
    now: OffsetDateTime,
    warning_days: i64,
) -> mailcert_store::Result<Vec<Event>> {
    let mut in_use: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    let bindings = store.bindings()?;
    for binding in bindings.iter().filter(|b| b.applies_to_node(Some(node))) {
        in_use
            .entry(binding.thumbprint.clone())
            .or_default()
            .push(binding.service.as_str());
    }
    for thumbprint in served {
        in_use.entry(thumbprint.clone()).or_default();
    }
    let mut events = Vec::new();
    for (thumbprint, mut services) in in_use {
        let Some(record) = store.certificate(&thumbprint)? else {
            continue;
        };
        services.sort_unstable();
        services.dedup();
        let s = &record.summary;
        let days_left = (s.not_after - now).whole_days();
        let name = s
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| s.subject.clone());
        let used_by = if services.is_empty() {
            "served by a listener's pin".to_string()
        } else {
            format!("bound to {}", services.join(", "))
        };
        let not_after = mailcert_x509::time::rfc3339(s.not_after);
        let base = |event: Event| {
            event
                .field("thumbprint", thumbprint.clone())
                .field("subject", s.subject.clone())
                .field("names", s.names.clone())
                .field("services", services.clone())
                .field("days_left", days_left)
                .field("not_after", not_after.clone())
                .field("self_signed", s.is_self_signed)
        };
        let fix = if record.origin == Origin::Acme {
            format!("mailcert acme renew --force {thumbprint}")
        } else {
            format!("mailcert renew {thumbprint}")
        };
        if s.not_after <= now {
            events.push(base(Event::new(
                EXPIRED,
                Severity::Error,
                thumbprint.clone(),
                format!(
                    "certificate {thumbprint} ({name}), {used_by}, expired on {not_after}: clients refuse it; renew it ({fix}) or bind another"
                ),
            )));
        } else if days_left < warning_days {
            events.push(base(Event::new(
                EXPIRING,
                Severity::Warning,
                thumbprint.clone(),
                format!(
                    "certificate {thumbprint} ({name}), {used_by}, expires in {days_left} days, on {not_after}: renew it ({fix})"
                ),
            )));
        }
        if record.origin == Origin::Acme {
            let state = mailcert_acme::renewal::load_state(store, &thumbprint).unwrap_or_default();
            if state.failures > 0 && state.replaced_by.is_none() {
                let next = state
                    .next_attempt
                    .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                    .map(mailcert_x509::time::rfc3339);
                let error = state.last_error.clone().unwrap_or_default();
                events.push(
                    base(Event::new(
                        RENEWAL_FAILED,
                        Severity::Error,
                        thumbprint.clone(),
                        format!(
                            "the ACME renewal of certificate {thumbprint} ({name}), {used_by}, failed {} time(s) in a row: {error}; the certificate in use stays until it expires in {days_left} days ({})",
                            state.failures,
                            next.as_deref()
                                .map(|n| format!("next attempt {n}"))
                                .unwrap_or_else(|| "see mailcert acme status".into())
                        ),
                    ))
                    .field("failures", state.failures)
                    .field("last_error", error)
                    .field("next_attempt", next.map(Value::from).unwrap_or(Value::Null)),
                );
            }
        }
    }
    Ok(events)
}

/// The running watch; dropping it stops it.
pub struct ExpiryWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for ExpiryWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the watch: a pass now, then every `interval`, each with the
/// `[alerts]` settings in force (SIGHUP applies `warning_days`).
pub fn start(
    view: FrontView,
    location: StoreLocation,
    events: Events,
    interval: Duration,
) -> std::io::Result<ExpiryWatch> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("mailcert-expiry".into())
        .spawn(move || {
            let mut store: Option<mailcert_store::BoxedStore> = None;
            while !flag.load(Ordering::Relaxed) {
                pass(&view, &location, &events, &mut store);
                let next = Instant::now() + interval;
                while Instant::now() < next && !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200).min(interval));
                }
            }
        })?;
    Ok(ExpiryWatch {
        stop,
        thread: Some(thread),
    })
}

fn pass(
    view: &FrontView,
    location: &StoreLocation,
    events: &Events,
    store: &mut Option<mailcert_store::BoxedStore>,
) {
    let now = mailcert_x509::build::now_utc();
    let warning_days = view.config().alerts.warning_days;
    let served: Vec<String> = view
        .default_certificates()
        .into_iter()
        .filter_map(|(_, thumbprint)| thumbprint)
        .collect();
    let found = (|| {
        if store.is_none() {
            *store = Some(mailcert_store::open(location)?);
        }
        match store.as_deref() {
            Some(opened) => certificate_events(opened, &view.node, &served, now, warning_days),
            None => Ok(Vec::new()),
        }
    })();
    match found {
        Ok(found) => {
            for event in &found {
                events.emit_at(event, now);
            }
            events.sweep(now);
        }
        Err(e) => {
            *store = None;
            tracing::warn!(
                "expiry watch: store {} could not be read: {e}; looking again in an hour",
                location.shown()
            );
        }
    }
}
