//! The renewal engine: one pass over the store's ACME certificates that
//! are in use, renewing those that are due. `mailcert acme renew` runs one
//! pass (for cron); `serve` runs [`spawn_periodic`] so passes happen by
//! themselves.
//!
//! A pass never leaves a service without a certificate: the new one is
//! stored and the bindings move to it in one transaction, only after it
//! was obtained and checked; on failure the old one stays bound, the error
//! and the next attempt time are recorded, and attempts back off.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mailcert_lifecycle::{manager::describe_bindings, Manager};
use mailcert_store::{Binding, CertRecord, Origin, StoreLocation};
use mailcert_x509::parse_name;
use time::OffsetDateTime;

use crate::account::{load_account, AcmeAccount};
use crate::challenge::{ChallengeKind, ChallengeResponder, ChallengeSink, SinkResponder};
use crate::error::{AcmeError, Result};
use crate::hook::DnsHook;
use crate::issue::{ensure_replaceable, recipe, store_change, OrderRecipe};
use crate::order::{interrupted, obtain_until, OrderSpec, Progress};
use crate::renewal::{
    decide, human, load_state, state_op, take_lease, Decision, DueReason, RenewalPolicy,
    RenewalState, SuggestedWindow,
};
use crate::standalone::{Standalone, DEFAULT_HTTP_BIND, DEFAULT_TLS_BIND};

/// Where HTTP-01 and TLS-ALPN-01 answers go during renewals.
#[derive(Clone)]
pub enum Responders {
    /// Temporary listeners, bound where the certificate's order said
    /// (`--http-bind`, `--tls-bind`): for cron without `serve`.
    Standalone,
    /// Temporary listeners as above; when a port is taken (by a running
    /// `serve`), HTTP-01 answers go through the store to that front end.
    StandaloneOrServe(StoreLocation),
    /// In process, beside the front end: its listeners serve what is
    /// published here (its plain HTTP listener, `acme-tls/1` on HTTPS).
    Sink(Arc<dyn ChallengeSink>),
}

impl Responders {
    /// The responder that answers the challenges of an order made by
    /// `recipe` (a first order, or a renewal repeating it): DNS-01 by the
    /// recipe's RFC 2136 update or hook, the others where `self` says.
    /// `user` is who the answers published through the store are
    /// recorded as.
    pub async fn for_recipe(
        &self,
        recipe: &OrderRecipe,
        user: &str,
    ) -> Result<Box<dyn ChallengeResponder>> {
        Ok(match (recipe.challenge, self) {
            (ChallengeKind::Dns01, _) => match &recipe.dns_update {
                Some(update) => Box::new(crate::dns_update::DnsUpdateResponder::new(update)?),
                None => Box::new(DnsHook::new(
                    recipe.dns_hook.as_deref().unwrap_or_default(),
                )?),
            },
            (kind, Responders::Sink(sink)) => Box::new(SinkResponder {
                sink: sink.clone(),
                kind,
            }),
            (ChallengeKind::Http01, Responders::Standalone) => Box::new(
                Standalone::http01(recipe.http_bind.as_deref().unwrap_or(DEFAULT_HTTP_BIND))
                    .await?,
            ),
            (ChallengeKind::Http01, Responders::StandaloneOrServe(location)) => {
                http01_or_serve(
                    recipe.http_bind.as_deref().unwrap_or(DEFAULT_HTTP_BIND),
                    location,
                    user,
                )
                .await?
            }
            (ChallengeKind::TlsAlpn01, Responders::Standalone) => Box::new(
                Standalone::tls_alpn01(recipe.tls_bind.as_deref().unwrap_or(DEFAULT_TLS_BIND))
                    .await?,
            ),
            (ChallengeKind::TlsAlpn01, Responders::StandaloneOrServe(location)) => {
                tls_alpn01_or_serve(
                    recipe.tls_bind.as_deref().unwrap_or(DEFAULT_TLS_BIND),
                    location,
                    user,
                )
                .await?
            }
        })
    }
}

/// A temporary HTTP-01 listener on `bind`; if the port is taken by a
/// front end (a running `serve`), that front end answers through the
/// store. A port taken by anything else fails here, before the order is
/// placed and before anything is written.
pub async fn http01_or_serve(
    bind: &str,
    location: &StoreLocation,
    user: &str,
) -> Result<Box<dyn ChallengeResponder>> {
    match Standalone::http01(bind).await {
        Ok(listener) => Ok(Box::new(listener)),
        Err(taken @ AcmeError::Listen { in_use: true, .. }) => {
            through_front_end(taken, bind, location, user, ChallengeKind::Http01).await
        }
        Err(e) => Err(e),
    }
}

/// A temporary TLS-ALPN-01 listener on `bind`; if the port is taken by a
/// front end (a running `serve`, its HTTPS listener), that front end
/// answers through the store. A port taken by anything else fails here.
pub async fn tls_alpn01_or_serve(
    bind: &str,
    location: &StoreLocation,
    user: &str,
) -> Result<Box<dyn ChallengeResponder>> {
    match Standalone::tls_alpn01(bind).await {
        Ok(listener) => Ok(Box::new(listener)),
        Err(taken @ AcmeError::Listen { in_use: true, .. }) => {
            through_front_end(taken, bind, location, user, ChallengeKind::TlsAlpn01).await
        }
        Err(e) => Err(e),
    }
}

/// The store responder for the front end holding `bind`, once it is
/// known to be one; otherwise the listen error `taken`, with the reason.
async fn through_front_end(
    taken: AcmeError,
    bind: &str,
    location: &StoreLocation,
    user: &str,
    kind: ChallengeKind,
) -> Result<Box<dyn ChallengeResponder>> {
    let AcmeError::Listen {
        addr,
        option,
        kind: kind_name,
        ..
    } = taken
    else {
        return Err(taken);
    };
    let bound: std::net::SocketAddr = bind
        .parse()
        .map_err(|_| AcmeError::BadInput(format!("{option} '{bind}' is not an address")))?;
    let probe = crate::served::probe_address(bound);
    if let Err(why) = crate::served::front_end_check(kind, probe).await {
        return Err(AcmeError::Listen {
            addr,
            kind: kind_name,
            option,
            reason: format!("the port is taken, and {why}"),
            in_use: true,
        });
    }
    tracing::info!(
        "{bind} is taken by a front end; handing the {kind} answers to it through the store"
    );
    Ok(Box::new(crate::served::StoreResponder::new(
        location.clone(),
        user.to_string(),
        probe,
        kind,
    )))
}

/// What one pass did for one certificate.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub thumbprint: String,
    pub subject: String,
    pub names: Vec<String>,
    pub services: Vec<Binding>,
    pub not_after: OffsetDateTime,
    pub result: OutcomeKind,
    /// Expiry warning, in the words administrators know.
    pub warning: Option<String>,
}

#[derive(Debug, Clone)]
pub enum OutcomeKind {
    NotDue {
        renew_at: OffsetDateTime,
    },
    BackingOff {
        until: OffsetDateTime,
        failures: u32,
        last_error: Option<String>,
    },
    /// Another process holds the lease.
    Busy {
        owner: String,
    },
    Renewed {
        new_thumbprint: String,
        reason: DueReason,
        moved: Vec<Binding>,
    },
    Failed {
        error: String,
        failures: u32,
        next_attempt: OffsetDateTime,
    },
    /// Due, but DANE's next key may not serve SMTP yet (its TLSA record
    /// has not been seen at every authoritative server for twice its
    /// TTL): nothing ordered, the old certificate keeps serving, no
    /// failure counted.
    WaitingForDane {
        reason: String,
    },
}

impl Outcome {
    pub fn failed(&self) -> bool {
        matches!(self.result, OutcomeKind::Failed { .. })
    }

    /// Should a cron run fail for this certificate (`acme renew` exits
    /// 1)? When its renewal failed in this pass, or when it carries the
    /// expiry warning: it is in its last sixth of life, or due and its
    /// renewal failing, without a successful renewal.
    pub fn needs_attention(&self) -> bool {
        self.failed() || self.warning.is_some()
    }

    /// One line for logs and the CLI.
    pub fn describe(&self) -> String {
        let who = format!("{} ({})", self.thumbprint, self.names.join(", "));
        match &self.result {
            OutcomeKind::NotDue { renew_at } => format!(
                "{who}: not due; renewal at {}",
                mailcert_x509::time::rfc3339(*renew_at)
            ),
            OutcomeKind::BackingOff {
                until,
                failures,
                last_error,
            } => format!(
                "{who}: {failures} failed attempt(s), next attempt at {}{}",
                mailcert_x509::time::rfc3339(*until),
                last_error
                    .as_ref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            ),
            OutcomeKind::Busy { owner } => {
                format!("{who}: being renewed by {owner}; skipped")
            }
            OutcomeKind::Renewed {
                new_thumbprint,
                moved,
                ..
            } => format!(
                "{who}: renewed as {new_thumbprint}{}",
                if moved.is_empty() {
                    String::new()
                } else {
                    format!("; moved {} to it", describe_bindings(moved))
                }
            ),
            OutcomeKind::Failed {
                error,
                failures,
                next_attempt,
            } => format!(
                "{who}: renewal failed (attempt {failures}); {} keeps serving; next attempt at {}: {error}",
                self.thumbprint,
                mailcert_x509::time::rfc3339(*next_attempt)
            ),
            OutcomeKind::WaitingForDane { reason } => {
                format!("{who}: due, renewal waiting: {reason}")
            }
        }
    }
}

/// The renewal engine.
pub struct Engine {
    pub policy: RenewalPolicy,
    /// Who takes leases: host name and process id by default.
    pub owner: String,
    pub responders: Responders,
    pub progress: Arc<dyn Progress>,
    /// Set to true to give up the order in progress (Ctrl-C in the CLI):
    /// its answers are withdrawn, its lease released, no failure recorded.
    pub interrupt: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Engine {
    pub fn new(responders: Responders, progress: Arc<dyn Progress>) -> Engine {
        Engine {
            policy: RenewalPolicy::default(),
            owner: default_owner(),
            responders,
            progress,
            interrupt: None,
        }
    }

    /// The ACME certificates a pass looks at: obtained through ACME, with
    /// a recipe, bound to a service, and not already replaced.
    pub fn candidates(manager: &Manager) -> Result<Vec<(CertRecord, OrderRecipe, Vec<Binding>)>> {
        let bindings = manager.store.bindings()?;
        let mut out = Vec::new();
        for record in manager.store.certificates()? {
            if record.origin != Origin::Acme {
                continue;
            }
            let bound: Vec<Binding> = bindings
                .iter()
                .filter(|b| b.thumbprint == record.summary.thumbprint)
                .cloned()
                .collect();
            if bound.is_empty() {
                continue;
            }
            let Some(recipe) = recipe(manager.store.as_ref(), &record.summary.thumbprint)? else {
                continue;
            };
            out.push((record, recipe, bound));
        }
        Ok(out)
    }

    /// The certificate `prefix` selects (a thumbprint or unique prefix),
    /// when a pass may renew it ([`Engine::ensure_candidate`]): `acme
    /// renew --thumbprint`.
    pub fn candidate(manager: &Manager, prefix: &str) -> Result<String> {
        let thumbprint = mailcert_lifecycle::find_certificate(manager.store.as_ref(), prefix)?
            .summary
            .thumbprint;
        Engine::ensure_candidate(manager, &thumbprint)?;
        Ok(thumbprint)
    }

    /// Why `thumbprint` (a certificate of the store) is not something a
    /// pass renews, in words that say what to do instead; `Ok` when it is.
    pub fn ensure_candidate(manager: &Manager, thumbprint: &str) -> Result<()> {
        let Some(record) = manager.store.certificate(thumbprint)? else {
            return Err(AcmeError::BadInput(format!(
                "no certificate {thumbprint} in the store; `mailcert acme status` lists the ACME certificates in use"
            )));
        };
        if record.origin != Origin::Acme || recipe(manager.store.as_ref(), thumbprint)?.is_none() {
            return Err(AcmeError::BadInput(format!(
                "{thumbprint} was not obtained through ACME; renew it with `mailcert renew {thumbprint}`, or replace it with an ACME certificate: `mailcert acme order --name … --enable …`"
            )));
        }
        let state = load_state(manager.store.as_ref(), thumbprint)?;
        if let Some(by) = state.replaced_by {
            return Err(AcmeError::BadInput(format!(
                "{thumbprint} was already renewed: {by} replaced it; renew that one (`mailcert acme renew --force --thumbprint {by}`)"
            )));
        }
        if !manager
            .store
            .bindings()?
            .iter()
            .any(|b| b.thumbprint == thumbprint)
        {
            return Err(AcmeError::BadInput(format!(
                "{thumbprint} is not bound to any service, so renewal leaves it alone; enable it first (`mailcert enable {thumbprint} --services …`) or order a new certificate with `mailcert acme order`"
            )));
        }
        Ok(())
    }

    /// One pass at time `now`. `force` renews every candidate (or only
    /// `only`, a thumbprint) whatever its dates.
    pub async fn run_once(
        &self,
        manager: &mut Manager,
        now: OffsetDateTime,
        force: bool,
        only: Option<&str>,
    ) -> Result<Vec<Outcome>> {
        let mut accounts: HashMap<String, AcmeAccount> = HashMap::new();
        let mut outcomes = Vec::new();
        for (record, recipe, bound) in Self::candidates(manager)? {
            let thumb = record.summary.thumbprint.clone();
            if only.is_some_and(|o| o != thumb) {
                continue;
            }
            let state = load_state(manager.store.as_ref(), &thumb)?;
            let account = match accounts.get(&recipe.directory) {
                Some(a) => Some(a.clone()),
                None => match load_account(manager.store.as_ref(), Some(&recipe.directory)).await {
                    Ok(a) => {
                        accounts.insert(recipe.directory.clone(), a.clone());
                        Some(a)
                    }
                    Err(e) => {
                        tracing::warn!("{thumb}: cannot load the ACME account: {e}");
                        None
                    }
                },
            };
            let window = match &account {
                Some(a) => self.window(a, &record).await,
                None => None,
            };
            let decision = decide(&self.policy, &record, &state, window, now, force);
            let result = match decision {
                Decision::Replaced { .. } => continue,
                Decision::NotDue { renew_at } => OutcomeKind::NotDue { renew_at },
                Decision::BackingOff {
                    until,
                    failures,
                    last_error,
                } => OutcomeKind::BackingOff {
                    until,
                    failures,
                    last_error,
                },
                Decision::Due(reason) => match dane_wait(manager, &record, &bound)? {
                    Some(reason) => OutcomeKind::WaitingForDane { reason },
                    None => {
                        self.renew(manager, &record, &recipe, account, state, reason, now)
                            .await?
                    }
                },
            };
            let warning = self.warning(&record, &bound, &result, now);
            let outcome = Outcome {
                thumbprint: thumb,
                subject: record.summary.subject.clone(),
                names: record.summary.names.clone(),
                services: bound,
                not_after: record.summary.not_after,
                result,
                warning,
            };
            log_outcome(&outcome);
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// The CA's renewal window, when it offers ARI; `None` otherwise
    /// (pebble 2.4 has none) or when asking fails.
    async fn window(&self, account: &AcmeAccount, record: &CertRecord) -> Option<SuggestedWindow> {
        let aki = record.summary.authority_key_id.as_ref()?;
        let serial = decode_hex(&record.summary.serial)?;
        let id = instant_acme::CertificateIdentifier::new(
            rustls_pki_types::Der::from_slice(aki),
            rustls_pki_types::Der::from_slice(&serial),
        );
        match account.account.renewal_info(&id).await {
            Ok((info, _)) => Some(SuggestedWindow {
                start: info.suggested_window.start,
                end: info.suggested_window.end,
            }),
            Err(instant_acme::Error::Unsupported(_)) => None,
            Err(e) => {
                tracing::debug!(
                    "{}: renewal information unavailable: {e}",
                    record.summary.thumbprint
                );
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn renew(
        &self,
        manager: &mut Manager,
        record: &CertRecord,
        recipe: &OrderRecipe,
        account: Option<AcmeAccount>,
        state: RenewalState,
        reason: DueReason,
        now: OffsetDateTime,
    ) -> Result<OutcomeKind> {
        let thumb = record.summary.thumbprint.clone();
        let user = manager.user.clone();
        let lease = match take_lease(
            manager.store.as_mut(),
            &user,
            &thumb,
            &self.owner,
            OffsetDateTime::now_utc(),
            self.policy.lease,
        ) {
            Ok(lease) => lease,
            Err(AcmeError::Busy { owner, .. }) => return Ok(OutcomeKind::Busy { owner }),
            Err(e) => return Err(e),
        };
        // Another process may have finished while we took the lease.
        let state_now = load_state(manager.store.as_ref(), &thumb)?;
        if state_now.replaced_by.is_some() || state_now.failures != state.failures {
            lease.release(manager, format!("released the renewal lease of {thumb}"))?;
            return Ok(OutcomeKind::Busy {
                owner: "another process (it finished first)".into(),
            });
        }
        self.progress.step(&format!(
            "renewing {thumb} ({})",
            record.summary.names.join(", ")
        ));
        let attempt = self.attempt(manager, record, recipe, account).await;
        if matches!(attempt, Err(AcmeError::Interrupted)) {
            // Not the CA's or the recipe's fault: no failure, no backoff.
            lease.release(
                manager,
                format!("released the renewal lease of {thumb} (interrupted)"),
            )?;
            return Err(AcmeError::Interrupted);
        }
        // Every way out of here releases the lease: with the new
        // certificate, or with the failure recorded.
        let error = match attempt.and_then(|obtained| {
            let (mut change, new_thumb) = store_change(manager, &obtained, recipe, "acme renew")?;
            let moved = manager.move_bindings(&thumb, &new_thumb, &mut change)?;
            manager.dane_after_renewal(
                &thumb,
                &new_thumb,
                &obtained.summary.key_algorithm,
                &moved,
                &mut change,
            )?;
            Ok((change, new_thumb, moved))
        }) {
            Ok((mut change, new_thumb, moved)) => {
                change.describe(format!(
                    "renewed {thumb} as {new_thumb}; moved {}",
                    describe_bindings(&moved)
                ));
                change.push(state_op(
                    &thumb,
                    &RenewalState {
                        replaced_by: Some(new_thumb.clone()),
                        last_attempt: Some(now.unix_timestamp()),
                        ..RenewalState::default()
                    },
                ));
                for op in lease.release_ops() {
                    change.push(op);
                }
                match manager.store.apply(change) {
                    Ok(()) => {
                        return Ok(OutcomeKind::Renewed {
                            new_thumbprint: new_thumb,
                            reason,
                            moved,
                        })
                    }
                    Err(e) => AcmeError::from(e),
                }
            }
            Err(e) => e,
        };
        let failures = state.failures.saturating_add(1);
        let next_attempt = self
            .policy
            .next_attempt(failures, now, record.summary.not_after);
        let text = error.to_string();
        let mut change = manager.change("acme renew");
        change.describe(format!(
            "renewal of {thumb} failed (attempt {failures}), next attempt at {}: {text}",
            mailcert_x509::time::rfc3339(next_attempt)
        ));
        change.push(state_op(
            &thumb,
            &RenewalState {
                failures,
                last_attempt: Some(now.unix_timestamp()),
                next_attempt: Some(next_attempt.unix_timestamp()),
                last_error: Some(text.clone()),
                replaced_by: None,
            },
        ));
        for op in lease.release_ops() {
            change.push(op);
        }
        manager.store.apply(change)?;
        Ok(OutcomeKind::Failed {
            error: text,
            failures,
            next_attempt,
        })
    }

    async fn attempt(
        &self,
        manager: &Manager,
        record: &CertRecord,
        recipe: &OrderRecipe,
        account: Option<AcmeAccount>,
    ) -> Result<crate::order::Obtained> {
        let account = match account {
            Some(a) => a,
            None => load_account(manager.store.as_ref(), Some(&recipe.directory)).await?,
        };
        let mut names = Vec::new();
        for n in &recipe.names {
            names.push(parse_name(n).map_err(mailcert_x509::CertError::from)?.name);
        }
        let spec = OrderSpec {
            names,
            key: recipe.key,
            timeout: Duration::from_secs(recipe.timeout_secs.max(10)),
            // DANE: the key whose TLSA record is already published
            // beside the current one; retired when the result is stored.
            prepared_key: manager.next_key(&record.summary.thumbprint)?,
        };
        let responder = self.responders.for_recipe(recipe, "acme renew").await?;
        let obtained = obtain_until(
            &account,
            &spec,
            responder.as_ref(),
            self.progress.as_ref(),
            interrupted(self.interrupt.clone()),
        )
        .await?;
        ensure_replaceable(manager, record, &obtained)?;
        Ok(obtained)
    }

    fn warning(
        &self,
        record: &CertRecord,
        bound: &[Binding],
        result: &OutcomeKind,
        now: OffsetDateTime,
    ) -> Option<String> {
        let failing = matches!(
            result,
            OutcomeKind::Failed { .. } | OutcomeKind::BackingOff { .. }
        );
        let late = now >= self.policy.warn_at(record);
        let due = now >= self.policy.renew_at(record);
        if matches!(result, OutcomeKind::Renewed { .. }) || !(late || (failing && due)) {
            return None;
        }
        let left = record.summary.not_after - now;
        let when = if left.is_negative() {
            format!("expired {} ago", human(-left))
        } else {
            format!("is going to expire in {}", human(left))
        };
        Some(format!(
            "certificate thumbprint {} ({}) used by {} {when} ({}); ACME renewal has not succeeded yet",
            record.summary.thumbprint,
            record.summary.subject,
            describe_bindings(bound),
            mailcert_x509::time::rfc3339(record.summary.not_after)
        ))
    }
}

fn log_outcome(outcome: &Outcome) {
    match &outcome.result {
        OutcomeKind::Failed { .. } => tracing::error!("{}", outcome.describe()),
        OutcomeKind::Renewed { .. } => tracing::info!("{}", outcome.describe()),
        OutcomeKind::WaitingForDane { .. } => tracing::warn!("{}", outcome.describe()),
        _ => tracing::debug!("{}", outcome.describe()),
    }
    if let Some(w) = &outcome.warning {
        tracing::warn!("{w}");
    }
}

/// Why a due renewal of `record` must wait for DANE, if it must: it
/// serves SMTP and the next key it would be renewed with may not serve
/// yet ([`Manager::ensure_dane_ready`]).
pub fn dane_wait(
    manager: &Manager,
    record: &CertRecord,
    bound: &[Binding],
) -> Result<Option<String>> {
    if !bound
        .iter()
        .any(|b| b.service == mailcert_x509::Service::Smtp)
    {
        return Ok(None);
    }
    let Some(next) = manager.next_key(&record.summary.thumbprint)? else {
        return Ok(None);
    };
    let spki = mailcert_x509::keys::read_key(&next)?.spki;
    match manager.ensure_dane_ready(
        &record.summary.thumbprint,
        &spki,
        &record.summary.names,
        true,
    ) {
        Ok(()) => Ok(None),
        Err(wait @ mailcert_lifecycle::LifecycleError::DaneNotReady { .. }) => {
            Ok(Some(wait.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

fn default_owner() -> String {
    let (fqdn, _) = mailcert_lifecycle::host::host_names();
    format!("{fqdn}:{}", std::process::id())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    if text.len() & 1 == 1 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Runs the engine every `interval` on a thread of its own (the store is
/// not shared across threads: `open` gives the thread its own
/// connection). Each pass uses the wall clock. Stops when `stop` is set.
pub fn spawn_periodic(
    open: impl Fn() -> Result<Manager> + Send + 'static,
    engine: Engine,
    interval: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("acme-renewal".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("ACME renewal engine cannot start: {e}");
                    return;
                }
            };
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match open() {
                    Ok(mut manager) => {
                        let now = mailcert_x509::build::now_utc();
                        if let Err(e) =
                            runtime.block_on(engine.run_once(&mut manager, now, false, None))
                        {
                            tracing::error!("ACME renewal pass failed: {e}");
                        }
                    }
                    Err(e) => tracing::error!("ACME renewal engine cannot open the store: {e}"),
                }
                let mut waited = Duration::ZERO;
                while waited < interval && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let step = Duration::from_millis(200).min(interval - waited);
                    std::thread::sleep(step);
                    waited += step;
                }
            }
        })
}
