//! DNS-01 through a command the administrator provides. The interface
//! (documented in docs/acme.md):
//!
//! ```text
//! HOOK set   FQDN VALUE     # publish TXT FQDN = VALUE; exit 0 once visible
//! HOOK clear FQDN VALUE     # remove that TXT value
//! ```
//!
//! FQDN is `_acme-challenge.<name>` without a trailing dot. The same facts
//! are in the environment: `MAILCERT_ACME_ACTION`, `MAILCERT_ACME_FQDN`,
//! `MAILCERT_ACME_NAME` (the name as ordered: `*.example.com` for a
//! wildcard, whose FQDN is the base name's), `MAILCERT_ACME_VALUE`,
//! `MAILCERT_ACME_TOKEN`. `clear` follows every `set` that was attempted,
//! whether the `set` succeeded or not.
//! The command line is run by `/bin/sh -c`, so it may carry arguments.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::challenge::{BoxFuture, ChallengeAnswer, ChallengeKind, ChallengeResponder};
use crate::error::{AcmeError, Result};

/// How long a hook may run before it counts as failed.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// Publishes DNS-01 TXT records through the administrator's command.
pub struct DnsHook {
    pub command: String,
}

impl DnsHook {
    pub fn new(command: &str) -> Result<DnsHook> {
        if command.trim().is_empty() {
            return Err(AcmeError::BadInput(
                "--dns-hook is empty: give the command that sets and clears TXT records (see docs/acme.md)".into(),
            ));
        }
        Ok(DnsHook {
            command: command.to_string(),
        })
    }

    async fn run(&self, action: &'static str, answer: &ChallengeAnswer) -> Result<()> {
        let fqdn = answer.dns_fqdn();
        let failed = |reason: String| AcmeError::Hook {
            command: self.command.clone(),
            action,
            fqdn: fqdn.clone(),
            reason,
        };
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("{} \"$@\"", self.command))
            .arg("mailcert-dns-hook")
            .arg(action)
            .arg(&fqdn)
            .arg(&answer.dns_value)
            .env("MAILCERT_ACME_ACTION", action)
            .env("MAILCERT_ACME_FQDN", &fqdn)
            .env("MAILCERT_ACME_NAME", &answer.identifier)
            .env("MAILCERT_ACME_VALUE", &answer.dns_value)
            .env("MAILCERT_ACME_TOKEN", &answer.token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(format!("cannot start /bin/sh: {e}")))?;
        let output = tokio::time::timeout(HOOK_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| failed(format!("it ran longer than {} s", HOOK_TIMEOUT.as_secs())))?
            .map_err(|e| failed(e.to_string()))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Err(failed(format!(
            "it exited with {}{}",
            output.status,
            if last.is_empty() {
                String::new()
            } else {
                format!(": {}", last.trim())
            }
        )))
    }
}

impl ChallengeResponder for DnsHook {
    fn kind(&self) -> ChallengeKind {
        ChallengeKind::Dns01
    }

    fn publish<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.run("set", answer))
    }

    fn withdraw<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.run("clear", answer))
    }
}
