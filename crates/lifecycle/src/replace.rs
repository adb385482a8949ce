//! `replace OLD NEW`: every binding of OLD moves to NEW, and every
//! listener of the front end's configuration that pins OLD is set to pin
//! NEW, after the pre-flight of `enable`. The new configuration is written
//! beside the file before the store changes and renamed into place right
//! after the store's transaction commits (a failed transaction leaves the
//! file untouched); `mailcert serve` rereads it on SIGHUP.

use std::path::Path;

use mailcert_config::{stage_pin_changes, PinChange};
use mailcert_x509::Service;

use mailcert_store::CertRecord;
use mailcert_x509::{Status, Trust};

use crate::error::{LifecycleError, Result};
use crate::find::find_certificate;
use crate::manager::{bullet, describe_bindings, Manager, Report};
use crate::preflight::Preflight;
use crate::serving::{pin_matches, ListenerScope, ServingSet};

/// A listener of the front-end configuration with `certificate = "..."`.
#[derive(Debug, Clone)]
pub struct PinnedListener {
    pub name: String,
    pub pin: String,
}

impl Manager {
    /// Moves every binding of `old` to `new`, and the pins of the
    /// listeners in `config` that name `old`. `hostnames` are the names
    /// clients use (pre-flight), `pins` the configured listener pins.
    pub fn replace(
        &mut self,
        old: &str,
        new: &str,
        hostnames: &[String],
        pins: &[PinnedListener],
        config: Option<&Path>,
        strict: bool,
    ) -> Result<Report> {
        let old = find_certificate(self.store.as_ref(), old)?;
        let new = find_certificate(self.store.as_ref(), new)?;
        let (old_t, new_t) = (
            old.summary.thumbprint.clone(),
            new.summary.thumbprint.clone(),
        );
        if old_t == new_t {
            return Err(LifecycleError::BadInput(format!(
                "OLD and NEW are the same certificate ({old_t}); give the thumbprint of the certificate to take over as NEW"
            )));
        }
        self.ensure_bindable(&new)?;
        let mut change = self.change("replace");
        let moved = self.move_bindings(&old_t, &new_t, &mut change)?;
        let mut findings = self.preflight(&new, hostnames)?;
        // What NEW takes over, listener by listener and node by node.
        let mut scopes: Vec<(Option<&str>, Option<&str>)> = moved
            .iter()
            .map(|b| (b.listener.as_deref(), b.node.as_deref()))
            .collect();
        scopes.sort();
        scopes.dedup();
        for (listener, node) in scopes {
            let services: Vec<Service> = moved
                .iter()
                .filter(|b| (b.listener.as_deref(), b.node.as_deref()) == (listener, node))
                .map(|b| b.service)
                .collect();
            for f in self.takeover(&new, &change.ops, &services, listener, node, hostnames)? {
                if !findings.contains(&f) {
                    findings.push(f);
                }
            }
        }
        let pinned: Vec<&PinnedListener> =
            pins.iter().filter(|p| pin_matches(&p.pin, &old)).collect();
        // A pin that already selects NEW (a subject both carry, NEW the
        // better) follows by itself and keeps following renewals.
        let set = ServingSet::load(self.store.as_ref(), false)?;
        let (follows, to_edit): (Vec<&PinnedListener>, Vec<&PinnedListener>) =
            pinned.iter().partition(|p| {
                let scope = ListenerScope {
                    name: Some(&p.name),
                    pin: Some(&p.pin),
                };
                set.select(Service::Https, scope, None, self.now())
                    .thumbprint()
                    == Some(new_t.as_str())
            });
        // A listener pinned to a trusted OLD would serve NEW by its new pin.
        if !to_edit.is_empty() && new.trust != Trust::Trusted {
            let pinned_words: Vec<String> =
                to_edit.iter().map(|p| format!("'{}'", p.name)).collect();
            let takeover = self.takeover_pins(&old, &new, &pinned_words.join(", "));
            findings.extend(takeover);
        }
        if strict && !findings.is_empty() {
            return Err(LifecycleError::Refused(format!(
                "not replaced (--strict) because clients would complain about {new_t}:\n{}",
                bullet(&findings)
            )));
        }
        let mut report = Report {
            thumbprint: Some(new_t.clone()),
            ..Report::default()
        };
        for f in &findings {
            report.say(format!("warning: {}", f.message));
        }
        if moved.is_empty() && pinned.is_empty() {
            return Err(LifecycleError::Refused(format!(
                "{old_t} ({}) is bound to no service and no listener pins it: nothing to replace; bind {new_t} with `mailcert enable {new_t} --services ...`",
                old.summary.subject
            )));
        }
        let staged = match (config, to_edit.is_empty()) {
            (_, true) => None,
            (Some(path), false) => {
                let changes: Vec<PinChange> = to_edit
                    .iter()
                    .map(|p| PinChange {
                        listener: p.name.clone(),
                        pin: new_t.clone(),
                    })
                    .collect();
                Some(stage_pin_changes(path, &changes)?)
            }
            (None, false) => {
                return Err(LifecycleError::BadInput(
                    "listener pins were given without the configuration file they come from".into(),
                ))
            }
        };
        let file = config
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the front-end configuration".into());
        let mut words = Vec::new();
        if !moved.is_empty() {
            words.push(describe_bindings(&moved));
        }
        if !to_edit.is_empty() {
            words.push(format!(
                "the pin of listener(s) {} in {file}",
                names(&to_edit)
            ));
        }
        change.describe(format!(
            "replaced {old_t} by {new_t} for {}",
            words.join(", and ")
        ));
        for thumb in self.next_keys_for_binds(&mut change)? {
            report.say(format!(
                "DANE: made the next key of {thumb}; publish its TLSA record (`mailcert dane`)"
            ));
        }
        // The store first: if its transaction fails, the staged file is
        // dropped and the configuration stays as it was.
        self.store.apply(change)?;
        report.changed = true;
        if let Some(staged) = staged {
            staged.commit().map_err(|e| {
                LifecycleError::Refused(format!(
                    "the store now serves {new_t} instead of {old_t}{}, but {file} could not be updated ({e}); set certificate = \"{new_t}\" in listener(s) {} by hand, then send `mailcert serve` SIGHUP",
                    if moved.is_empty() { String::new() } else { format!(" for {}", describe_bindings(&moved)) },
                    names(&to_edit)
                ))
            })?;
        }
        if !moved.is_empty() {
            report.say(format!(
                "{new_t} replaces {old_t} for {}; {old_t} stays in the store, unbound, with its key",
                describe_bindings(&moved)
            ));
        }
        for p in &to_edit {
            report.say(format!(
                "listener '{}' in {file}: certificate = \"{}\" is now certificate = \"{new_t}\"",
                p.name, p.pin
            ));
        }
        for p in &follows {
            report.say(format!(
                "listener '{}' in {file} names certificate = \"{}\", which already selects {new_t}; left as it is",
                p.name, p.pin
            ));
        }
        if !to_edit.is_empty() {
            report.say(format!(
                "a running `mailcert serve` serves the moved bindings at once and the new pins after it rereads {file}: send it SIGHUP (e.g. `systemctl reload mailcert` or `kill -HUP <pid>`)"
            ));
        }
        Ok(report)
    }
}

fn names(listeners: &[&PinnedListener]) -> String {
    listeners
        .iter()
        .map(|p| format!("'{}'", p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Manager {
    /// The pre-flight finding of pins moving from a trusted `old` to an
    /// untrusted or self-signed `new`.
    fn takeover_pins(&self, old: &CertRecord, new: &CertRecord, listeners: &str) -> Vec<Preflight> {
        let trusted_old = old.trust == Trust::Trusted && self.status(old) == Status::Valid;
        if !trusted_old {
            return Vec::new();
        }
        vec![Preflight {
            code: "untrusted-replaces-trusted",
            message: format!(
                "listener(s) {listeners} pin {} ({}), which clients trust, and would serve {} instead, which is {}: Outlook, Thunderbird and phones will warn and other mail servers may refuse it",
                old.summary.thumbprint,
                old.summary.subject,
                new.summary.thumbprint,
                if new.summary.is_self_signed { "self-signed".to_string() } else { new.trust.words() }
            ),
        }]
    }
}
