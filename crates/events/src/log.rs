//! Events in the log: a line of text through `tracing` (with the rest of
//! the log), or one JSON object per line on standard error, in the shape
//! tracing-subscriber's flattened JSON gives every other line
//! (`timestamp`, `level`, `target`, `message`, then the fields), with the
//! fields typed (names as an array, days as a number) rather than text.

use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::Value;

use crate::{Event, Severity};

/// How `serve` writes its log (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

static FORMAT: AtomicU8 = AtomicU8::new(0);

/// Sets the format events are logged in, for the whole process.
pub fn set_log_format(format: LogFormat) {
    FORMAT.store(
        match format {
            LogFormat::Text => 0,
            LogFormat::Json => 1,
        },
        Ordering::Relaxed,
    );
}

pub fn log_format() -> LogFormat {
    match FORMAT.load(Ordering::Relaxed) {
        1 => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

/// The target events are logged under.
pub const TARGET: &str = "mailcert::event";

pub(crate) fn write(event: &Event, node: &str, new: bool) {
    match log_format() {
        LogFormat::Json => {
            let mut object = serde_json::Map::new();
            object.insert(
                "timestamp".into(),
                Value::from(mailcert_x509::time::rfc3339(mailcert_x509::build::now_utc())),
            );
            object.insert(
                "level".into(),
                Value::from(match event.severity {
                    Severity::Info => "INFO",
                    Severity::Warning => "WARN",
                    Severity::Error => "ERROR",
                }),
            );
            object.insert("target".into(), Value::from(TARGET));
            object.extend(event.to_json());
            object.insert("node".into(), Value::from(node));
            object.insert("new".into(), Value::from(new));
            let mut line = Value::Object(object).to_string();
            line.push('\n');
            // One write of the whole line: lines of other threads do not
            // interleave with it.
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        LogFormat::Text => {
            let fields = text_fields(event);
            match event.severity {
                Severity::Info => {
                    tracing::info!(target: TARGET, "{}: {} [{fields}]", event.name, event.message)
                }
                Severity::Warning => {
                    tracing::warn!(target: TARGET, "{}: {} [{fields}]", event.name, event.message)
                }
                Severity::Error => {
                    tracing::error!(target: TARGET, "{}: {} [{fields}]", event.name, event.message)
                }
            }
        }
    }
}

/// `thumbprint=9F1C… names=a,b days_left=9`.
fn text_fields(event: &Event) -> String {
    event
        .fields
        .iter()
        .map(|(name, value)| format!("{name}={}", plain(value)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value as text: strings bare, lists comma-joined.
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
