//! Events: what mailcert wants an administrator to hear about without
//! being asked (a certificate in use nearing its end, expired, failing to
//! renew; a DANE rollover waiting), in one small API any part can emit
//! through.
//!
//! An [`Event`] has a stable name (`certificate-expiring`), a severity, a
//! sentence for people, the thing it is about (what "once a day" counts
//! per, usually a thumbprint) and named fields. [`Events::emit`] logs it
//! — a line of text, or one JSON object per line with [`LogFormat::Json`]
//! (journald-friendly) — and, the first time that day for the whole
//! fleet, runs the `[alerts] command` with the fields in environment
//! variables, never through a shell, under a timeout. "First that day"
//! is a compare-and-set in the store, as a bookkeeping change (it does
//! not make the front ends reload), so nodes sharing a store alert once
//! between them and a restart does not alert again.
//!
//! ```no_run
//! use mailcert_events::{Event, Events, Severity};
//! let events = Events::new(None, "ex1.contoso.com", Default::default());
//! let event = Event::new("certificate-expiring", Severity::Warning, "9F1C…",
//!         "certificate 9F1C… (mail.contoso.com) expires in 9 days")
//!     .field("thumbprint", "9F1C…")
//!     .field("days_left", 9);
//! events.emit(&event);
//! ```
#![forbid(unsafe_code)]

mod alert;
mod daily;
mod log;

use std::sync::Arc;

use mailcert_store::StoreLocation;
use serde_json::Value;

pub use alert::{AlertCommand, AlertOutcome};
pub use daily::{FIRED_PREFIX, KEEP_DAYS};
pub use log::{log_format, set_log_format, LogFormat};

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One event. Field names are a fixed interface, like the event names:
/// add, never rename.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Stable, kebab-case: `certificate-expiring`.
    pub name: &'static str,
    pub severity: Severity,
    /// What "once a day" is counted per (a thumbprint, a zone…).
    pub about: String,
    /// The sentence for people.
    pub message: String,
    /// Named values in the order given (strings, numbers, lists).
    pub fields: Vec<(&'static str, Value)>,
}

impl Event {
    pub fn new(
        name: &'static str,
        severity: Severity,
        about: impl Into<String>,
        message: impl Into<String>,
    ) -> Event {
        Event {
            name,
            severity,
            about: about.into(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// Adds a field (`thumbprint`, `names`, `days_left`…).
    pub fn field(mut self, name: &'static str, value: impl Into<Value>) -> Event {
        self.fields.push((name, value.into()));
        self
    }

    /// A field's value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The event as one JSON object: `event`, `severity`, `message`, then
    /// the fields (and `node`, `new` where [`Events`] adds them).
    pub fn to_json(&self) -> serde_json::Map<String, Value> {
        let mut object = serde_json::Map::new();
        object.insert("event".into(), Value::from(self.name));
        object.insert("severity".into(), Value::from(self.severity.as_str()));
        object.insert("message".into(), Value::from(self.message.clone()));
        for (name, value) in &self.fields {
            object.insert((*name).to_string(), value.clone());
        }
        object
    }
}

/// What became of one emitted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    /// The first time today, for the whole fleet.
    pub new: bool,
    /// The alert command was started for it.
    pub alerted: bool,
}

/// Where events go: the log, the once-a-day record in the store, the
/// alert command.
#[derive(Clone)]
pub struct Events {
    node: String,
    daily: Arc<daily::Daily>,
    alert: Option<Arc<alert::AlertRunner>>,
}

impl Events {
    /// Events of `node`, counted once a day in the store at `store` (or
    /// only in this process without one), alerting through `command`.
    pub fn new(store: Option<StoreLocation>, node: &str, command: Option<AlertCommand>) -> Events {
        Events {
            node: node.to_string(),
            daily: Arc::new(daily::Daily::new(store, node)),
            alert: command.map(|c| Arc::new(alert::AlertRunner::start(c))),
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Logs the event; the first time today (fleet-wide), also runs the
    /// alert command for it, in the background.
    pub fn emit(&self, event: &Event) -> Emitted {
        self.emit_at(event, mailcert_x509::build::now_utc())
    }

    /// [`Events::emit`] with "today" taken from `now`.
    pub fn emit_at(&self, event: &Event, now: time::OffsetDateTime) -> Emitted {
        let new = self.daily.first_today(event, now);
        log::write(event, &self.node, new);
        let alerted = match (&self.alert, new) {
            (Some(runner), true) => runner.queue(event, &self.node),
            _ => false,
        };
        Emitted { new, alerted }
    }

    /// Forgets the once-a-day records older than [`KEEP_DAYS`] (of
    /// certificates long gone); a pass calls it once.
    pub fn sweep(&self, now: time::OffsetDateTime) {
        self.daily.sweep(now);
    }

    /// Waits until the alert commands queued so far have ended (tests,
    /// and a stop that should not cut a notification short).
    pub fn flush(&self, timeout: std::time::Duration) -> bool {
        self.alert
            .as_ref()
            .is_none_or(|runner| runner.flush(timeout))
    }
}
