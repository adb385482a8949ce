//! `remove`: a certificate (refused while bound, unless forced) or a
//! pending request, and what that would delete, told before it is done.

use mailcert_store::{Binding, Op};

use crate::error::{LifecycleError, Result};
use crate::find::{find, Found};
use crate::manager::{describe_bindings, Manager, Report};

/// What `remove` would delete, for a confirmation before it does.
#[derive(Debug, Clone)]
pub struct Removal {
    /// The certificate's thumbprint, or the pending request's id.
    pub id: String,
    pub subject: String,
    pub pending: bool,
    /// A private key goes with it: the store holds the only copy unless
    /// it was exported (or came from a file that still exists).
    pub deletes_key: bool,
    /// The key may be exported first (`mailcert export`).
    pub exportable: bool,
    /// Bindings `--force` would remove with it.
    pub bindings: Vec<Binding>,
}

impl Removal {
    /// The question to ask on a terminal, ending in `[y/N]`.
    pub fn question(&self) -> String {
        let id = &self.id;
        if self.pending {
            return format!(
                "Cancel pending request {id} ({})? Its private key is deleted with it, so the CA's answer to it can never be completed. [y/N] ",
                self.subject
            );
        }
        let unbind = if self.bindings.is_empty() {
            String::new()
        } else {
            format!(", unbinding it from {}", describe_bindings(&self.bindings))
        };
        let key = match (self.deletes_key, self.exportable) {
            (false, _) => " The store holds no private key for it.".to_string(),
            (true, true) => format!(
                " Its private key is deleted with it and cannot be recovered; keep a copy first with `mailcert export {id} --out backup.pfx`."
            ),
            (true, false) => " Its private key is deleted with it; it is marked non-exportable, so no copy exists anywhere.".to_string(),
        };
        format!("Remove {id} ({}){unbind}?{key} [y/N] ", self.subject)
    }
}

impl Manager {
    /// What removing `prefix` would delete; the refusals of [`Manager::remove`]
    /// (ambiguous prefix, bound without `force`) come here, before anything
    /// is asked.
    pub fn removal(&self, prefix: &str, force: bool) -> Result<Removal> {
        match find(self.store.as_ref(), prefix)? {
            Found::Pending(p) => Ok(Removal {
                id: p.id.clone(),
                subject: p.subject.clone(),
                pending: true,
                deletes_key: true,
                exportable: false,
                bindings: Vec::new(),
            }),
            Found::Certificate(record) => {
                let thumb = record.summary.thumbprint.clone();
                let bound = self.bindings_of(&thumb)?;
                if !bound.is_empty() && !force {
                    return Err(LifecycleError::Refused(format!(
                        "{thumb} ({}) is in use: {}; move its bindings to another certificate first (`mailcert replace {thumb} NEW`) or disable them; --force unbinds it and removes it with its private key",
                        record.summary.subject,
                        describe_bindings(&bound)
                    )));
                }
                Ok(Removal {
                    id: thumb,
                    subject: record.summary.subject.clone(),
                    pending: false,
                    deletes_key: record.has_private_key,
                    exportable: record.exportable,
                    bindings: bound,
                })
            }
        }
    }

    /// Removes a certificate (or cancels a pending request). A bound
    /// certificate is refused with its bindings listed, unless `force`.
    pub fn remove(&mut self, prefix: &str, force: bool) -> Result<Report> {
        self.removal(prefix, force)?;
        let mut report = Report::default();
        let record = match find(self.store.as_ref(), prefix)? {
            Found::Pending(p) => {
                let mut change = self.change("remove");
                change.describe(format!(
                    "cancelled pending request {} ({})",
                    p.id, p.subject
                ));
                change.push(Op::DeletePending(p.id.clone()));
                self.store.apply(change)?;
                report.changed = true;
                report.thumbprint = Some(p.id.clone());
                report.say(format!(
                    "cancelled pending request {} ({})",
                    p.id, p.subject
                ));
                return Ok(report);
            }
            Found::Certificate(c) => *c,
        };
        let thumb = record.summary.thumbprint.clone();
        let bound = self.bindings_of(&thumb)?;
        let mut change = self.change("remove");
        for b in &bound {
            change.push(Op::Unbind(b.clone()));
        }
        change.push(Op::DeleteCertificate(thumb.clone()));
        if self.initialized()?.as_deref() == Some(thumb.as_str()) {
            change.push(Op::SetValue {
                key: self.init_key(),
                value: None,
                secret: false,
            });
        }
        change.describe(format!(
            "removed {thumb} ({}){}",
            record.summary.subject,
            if bound.is_empty() {
                String::new()
            } else {
                format!(", unbound from {}", describe_bindings(&bound))
            }
        ));
        self.store.apply(change)?;
        report.changed = true;
        report.thumbprint = Some(thumb.clone());
        if bound.is_empty() {
            report.say(format!(
                "removed {thumb} ({}); it was bound to no service",
                record.summary.subject
            ));
        } else {
            report.say(format!(
                "removed {thumb} ({}) after unbinding it from {}",
                record.summary.subject,
                describe_bindings(&bound)
            ));
        }
        self.warn_orphans(&bound, &mut report)?;
        Ok(report)
    }
}
