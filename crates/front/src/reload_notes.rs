//! What a reload (SIGHUP) reports beside "reloaded": the settings that
//! apply in their own way (limits in force, timeouts of new connections)
//! and the ones that only a restart of serve applies, each said in the
//! words of the configuration's keys.

use mailcert_config::{Config, Console};

use crate::options::FrontOptions;

/// What a reload changed that is worth a line in the log: settings that
/// took effect, and the ones that need a restart.
pub type ReloadNotes = Vec<ReloadNote>;

/// One line of a reload's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadNote {
    /// The setting changed but keeps its old value until a restart.
    pub needs_restart: bool,
    pub text: String,
}

/// What a new configuration changes that applies differently from the
/// rest (which simply applies to new connections): the limits in force,
/// and the settings that only a restart applies.
///
/// `console_at_start` is `[console]` as serve started the console: the
/// console is compared with what it runs with, not with the previous
/// reload, so that every reload says so until a restart (and none once
/// the section is back as it was).
pub(crate) fn notes(
    old: &Config,
    new: &Config,
    options: &FrontOptions,
    console_at_start: Option<&Console>,
) -> ReloadNotes {
    let mut notes = Vec::new();
    let applied = |text: String| ReloadNote {
        needs_restart: false,
        text,
    };
    let restart = |text: String| ReloadNote {
        needs_restart: true,
        text,
    };
    if old.limits != new.limits {
        notes.push(applied(format!(
            "[limits] applied: max_connections {} -> {}, grace_period {:?} -> {:?} (every listener, kept sockets included)",
            old.limits.max_connections,
            new.limits.max_connections,
            old.limits.grace_period,
            new.limits.grace_period
        )));
    }
    for listener in &new.listeners {
        let before = old.listener(&listener.name).map(|l| l.limits);
        if before.is_some_and(|b| b != listener.limits) {
            notes.push(applied(format!(
                "listener {}: timeouts and line limits applied to new connections (open ones keep theirs)",
                listener.name
            )));
        }
    }
    for entry in &new.mta_sts {
        let before = old.mta_sts.iter().find(|o| o.domain == entry.domain);
        if before.is_none_or(|b| b.policy != entry.policy) {
            notes.push(applied(format!(
                "MTA-STS policy of {} {}: senders fetch it only when the id changes: publish {}. IN TXT \"{}\" (`mailcert mta-sts` prints the records)",
                entry.domain,
                if before.is_some() { "changed" } else { "now served" },
                mailcert_mtasts::sts_record_name(&entry.domain),
                entry.sts_record().text()
            )));
        }
    }
    for entry in &old.mta_sts {
        if !new.mta_sts.iter().any(|n| n.domain == entry.domain) {
            notes.push(applied(format!(
                "MTA-STS policy of {} no longer served: senders that cached it keep enforcing it up to max_age ({} s); to withdraw a policy, serve it with mode = \"none\" first (RFC 8461 §8.3)",
                entry.domain, entry.policy.max_age
            )));
        }
    }
    if old.process != new.process {
        notes.push(restart(format!(
            "[process] changed (user {:?} -> {:?}, group {:?} -> {:?}): needs a restart of mailcert serve; it keeps running as it is",
            old.process.user, new.process.user, old.process.group, new.process.group
        )));
    }
    if console_at_start != new.console.as_ref() {
        // The console is started beside the front end, once, by serve.
        notes.push(restart(format!(
            "[console] {} since serve started: needs a restart of mailcert serve; until then the console {}",
            console_change(console_at_start, new.console.as_ref()),
            match console_at_start {
                Some(console) => format!("keeps serving on {} with its old settings", console.bind),
                None => "stays off".to_string(),
            }
        )));
    }
    if old.metrics != new.metrics {
        notes.push(restart(
            "[metrics] changed: needs a restart of mailcert serve; /metrics stays where it is until then".to_string(),
        ));
    }
    if old.alerts.command != new.alerts.command
        || old.alerts.arguments != new.alerts.arguments
        || old.alerts.timeout != new.alerts.timeout
    {
        notes.push(restart(
            "[alerts] command or timeout changed: needs a restart of mailcert serve (warning_days applies from the next hourly pass)".to_string(),
        ));
    }
    if old.store != new.store && options.store.path.is_some() {
        notes.push(restart(
            "[store] changed, but --store or MAILCERT_STORE names the store: the configuration's [store] is not used (restart without them to use it)".to_string(),
        ));
    }
    notes
}

/// What changed in `[console]`, in the words of its keys.
fn console_change(old: Option<&Console>, new: Option<&Console>) -> String {
    let (old, new) = match (old, new) {
        (None, Some(new)) => return format!("added (bind {})", new.bind),
        (Some(_), None) => return "removed".to_string(),
        (Some(old), Some(new)) => (old, new),
        (None, None) => return "unchanged".to_string(),
    };
    let mut changed = Vec::new();
    if old.bind != new.bind {
        changed.push(format!("bind {} -> {}", old.bind, new.bind));
    }
    if old.certificate != new.certificate {
        changed.push(format!(
            "certificate {:?} -> {:?}",
            old.certificate, new.certificate
        ));
    }
    if old.idle_timeout != new.idle_timeout {
        changed.push(format!(
            "idle_timeout {:?} -> {:?}",
            old.idle_timeout, new.idle_timeout
        ));
    }
    if old.session_lifetime != new.session_lifetime {
        changed.push(format!(
            "session_lifetime {:?} -> {:?}",
            old.session_lifetime, new.session_lifetime
        ));
    }
    if old.max_upload != new.max_upload {
        changed.push(format!(
            "max_upload {} -> {}",
            old.max_upload, new.max_upload
        ));
    }
    if old.max_login_delay != new.max_login_delay {
        changed.push(format!(
            "max_login_delay {:?} -> {:?}",
            old.max_login_delay, new.max_login_delay
        ));
    }
    format!("changed ({})", changed.join(", "))
}
