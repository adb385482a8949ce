//! `replace OLD NEW`: every binding of OLD moves to NEW in one change,
//! after the pre-flight of `enable`. Listeners that pin OLD in the front
//! end's configuration are reported with the edit to make: the file is the
//! administrator's and is never rewritten behind their back.

use crate::error::{LifecycleError, Result};
use crate::find::find_certificate;
use crate::manager::{bullet, describe_bindings, Manager, Report};
use crate::serving::pin_matches;

/// A listener of the front-end configuration with `certificate = "..."`.
#[derive(Debug, Clone)]
pub struct PinnedListener {
    pub name: String,
    pub pin: String,
}

impl Manager {
    /// Moves every binding of `old` to `new`. `hostnames` are the names
    /// clients use (pre-flight), `pins` the configured listener pins and
    /// `config` the file they come from (for the advice).
    pub fn replace(
        &mut self,
        old: &str,
        new: &str,
        hostnames: &[String],
        pins: &[PinnedListener],
        config: Option<&str>,
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
        let findings = self.preflight(&new, hostnames)?;
        if strict && !findings.is_empty() {
            return Err(LifecycleError::Refused(format!(
                "not replaced (--strict) because clients would complain about {new_t}:\n{}",
                bullet(&findings)
            )));
        }
        let pinned: Vec<&PinnedListener> =
            pins.iter().filter(|p| pin_matches(&p.pin, &old)).collect();
        let mut report = Report {
            thumbprint: Some(new_t.clone()),
            ..Report::default()
        };
        for f in &findings {
            report.say(format!("warning: {}", f.message));
        }
        let mut change = self.change("replace");
        let moved = self.move_bindings(&old_t, &new_t, &mut change)?;
        if moved.is_empty() && pinned.is_empty() {
            return Err(LifecycleError::Refused(format!(
                "{old_t} ({}) is bound to no service and no listener pins it: nothing to replace; bind {new_t} with `mailcert enable {new_t} --services ...`",
                old.summary.subject
            )));
        }
        if !moved.is_empty() {
            change.describe(format!(
                "replaced {old_t} by {new_t} for {}",
                describe_bindings(&moved)
            ));
            self.store.apply(change)?;
            report.changed = true;
            report.say(format!(
                "{new_t} replaces {old_t} for {}; {old_t} stays listed, unbound, until you remove it",
                describe_bindings(&moved)
            ));
        }
        let file = config.unwrap_or("the front-end configuration");
        for p in pinned {
            if pin_matches(&p.pin, &new) {
                report.say(format!(
                    "listener '{}' in {file} names certificate = \"{}\", which matches both; the newer one ({new_t}) is served there, nothing to edit",
                    p.name, p.pin
                ));
            } else {
                report.say(format!(
                    "warning: listener '{}' in {file} pins the old certificate (certificate = \"{}\") and will keep serving {old_t}; edit {file}: set certificate = \"{new_t}\" in that [[listener]] (or remove the line to follow the bindings), then reload the front end",
                    p.name, p.pin
                ));
            }
        }
        Ok(report)
    }
}
