//! Placing an order: answer the challenges, finalize with a fresh key,
//! download the chain. Nothing touches the store here: the caller stores
//! the result in one change (see [`crate::issue`]).

use std::time::Duration;

use instant_acme::{
    AuthorizationStatus, ChallengeStatus, Identifier, NewOrder, OrderStatus, RetryPolicy,
};
use mailcert_x509::{CertSummary, KeyType, SubjectName};
use rcgen::{CertificateParams, DistinguishedName};

use crate::account::AcmeAccount;
use crate::challenge::{ChallengeAnswer, ChallengeKind, ChallengeResponder};
use crate::error::{describe_problem, AcmeError, Result};

/// Progress of an order, for whoever shows it (a spinner on a terminal,
/// a log line in `serve`).
pub trait Progress: Send + Sync {
    fn step(&self, message: &str);
}

/// Shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn step(&self, _: &str) {}
}

/// Logs each step at debug level.
pub struct Logged;

impl Progress for Logged {
    fn step(&self, message: &str) {
        tracing::debug!("acme: {message}");
    }
}

/// What to order.
pub struct OrderSpec {
    pub names: Vec<SubjectName>,
    pub key: KeyType,
    /// How long to wait for the CA to validate and to issue, each.
    pub timeout: Duration,
    /// A key made earlier (PKCS#8 DER) to certify instead of a fresh one
    /// of type `key`: DANE's next key, whose TLSA record is already
    /// published.
    pub prepared_key: Option<Vec<u8>>,
}

/// What the CA issued, with the key that goes with it (PKCS#8 DER).
pub struct Obtained {
    pub summary: CertSummary,
    pub der: Vec<u8>,
    /// Chain above the leaf, issuer first, as the CA sent it.
    pub chain: Vec<Vec<u8>>,
    pub key_der: Vec<u8>,
}

/// How long deactivating an order's authorizations may take.
const RELINQUISH_TIMEOUT: Duration = Duration::from_secs(20);

/// Places an order and returns the certificate. Every answer whose
/// publication was attempted is withdrawn before returning, whatever
/// happened (a publication that failed halfway may have left something
/// behind: a TXT record the hook set before failing, a store value the
/// front end never picked up). Then the order's valid authorizations are
/// deactivated (see [`relinquish`]).
pub async fn obtain(
    account: &AcmeAccount,
    spec: &OrderSpec,
    responder: &dyn ChallengeResponder,
    progress: &dyn Progress,
) -> Result<Obtained> {
    obtain_until(account, spec, responder, progress, std::future::pending()).await
}

/// [`obtain`], given up with [`AcmeError::Interrupted`] as soon as
/// `interrupt` completes (Ctrl-C or SIGTERM in the CLI). The answers are
/// withdrawn all the same: a hook still running `set` is killed, then
/// gets its `clear`.
pub async fn obtain_until(
    account: &AcmeAccount,
    spec: &OrderSpec,
    responder: &dyn ChallengeResponder,
    progress: &dyn Progress,
    interrupt: impl std::future::Future<Output = ()>,
) -> Result<Obtained> {
    let mut attempted: Vec<ChallengeAnswer> = Vec::new();
    let mut placed: Option<instant_acme::Order> = None;
    let result = tokio::select! {
        result = run_order(
            account,
            spec,
            responder,
            progress,
            &mut attempted,
            &mut placed,
        ) => result,
        () = interrupt => Err(AcmeError::Interrupted),
    };
    for answer in &attempted {
        if let Err(e) = responder.withdraw(answer).await {
            tracing::warn!(
                "could not withdraw the {} answer for {}: {e}",
                answer.kind,
                answer.identifier
            );
        }
    }
    if let Some(order) = placed.as_mut() {
        // Bounded: a CA that stopped answering must not hold up the
        // result (or an interrupted command) for good.
        if tokio::time::timeout(RELINQUISH_TIMEOUT, relinquish(order))
            .await
            .is_err()
        {
            tracing::warn!(
                "the CA did not confirm within {} s that the order's authorizations are deactivated",
                RELINQUISH_TIMEOUT.as_secs()
            );
        }
    }
    result
}

/// Completes once `flag` is set to true; never when there is no flag or
/// its sender is gone. The interrupt of [`obtain_until`] from a
/// signal handler's flag.
pub async fn interrupted(flag: Option<tokio::sync::watch::Receiver<bool>>) {
    if let Some(mut flag) = flag {
        if flag.wait_for(|&set| set).await.is_ok() {
            return;
        }
    }
    std::future::pending::<()>().await
}

/// Deactivates the order's valid authorizations (RFC 8555 §7.5.2). A CA
/// may otherwise hand the same account an authorization it already holds
/// for a name (Let's Encrypt keeps them for days), and the next order for
/// that name would succeed without any challenge: a broken DNS hook or
/// port forward would go unnoticed by `acme renew --force`, and the
/// account key alone would be enough to get certificates for the name.
/// Deactivated, every order proves control again. Failures are only
/// logged: the certificate is already issued.
async fn relinquish(order: &mut instant_acme::Order) {
    let mut authorizations = order.authorizations();
    while let Some(next) = authorizations.next().await {
        let mut authz = match next {
            Ok(authz) => authz,
            Err(e) => {
                tracing::warn!("could not read an authorization to deactivate it: {e}");
                break;
            }
        };
        // The state cached with the order predates validation.
        if let Err(e) = authz.refresh().await {
            tracing::warn!("could not read an authorization to deactivate it: {e}");
            continue;
        }
        if authz.status != AuthorizationStatus::Valid {
            continue;
        }
        let name = authz.identifier().to_string();
        match authz.deactivate().await {
            Ok(_) => tracing::debug!("deactivated the authorization for {name}"),
            Err(e) => tracing::warn!("could not deactivate the authorization for {name}: {e}"),
        }
    }
}

fn identifiers(names: &[SubjectName]) -> Vec<Identifier> {
    names
        .iter()
        .map(|n| match n {
            SubjectName::Dns(d) => Identifier::Dns(d.clone()),
            SubjectName::Ip(ip) => Identifier::Ip(*ip),
        })
        .collect()
}

async fn run_order(
    account: &AcmeAccount,
    spec: &OrderSpec,
    responder: &dyn ChallengeResponder,
    progress: &dyn Progress,
    attempted: &mut Vec<ChallengeAnswer>,
    placed: &mut Option<instant_acme::Order>,
) -> Result<Obtained> {
    if spec.names.is_empty() {
        return Err(AcmeError::BadInput("give at least one --name".into()));
    }
    let kind = responder.kind();
    let ids = identifiers(&spec.names);
    let listed = spec
        .names
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    progress.step(&format!("placing an order for {listed}"));
    let order = placed.insert(
        account
            .account
            .new_order(&NewOrder::new(&ids))
            .await
            .map_err(|e| AcmeError::refused(format!("the order for {listed}"), e))?,
    );

    let mut authorizations = order.authorizations();
    while let Some(next) = authorizations.next().await {
        let mut authz = next.map_err(|e| AcmeError::server(&account.directory, e))?;
        let name = authz.identifier().to_string();
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(AcmeError::Refused {
                    what: format!("the authorization for {name}"),
                    detail: format!("it is {other:?}; place a new order"),
                })
            }
        }
        let offered: Vec<String> = authz
            .challenges
            .iter()
            .map(|c| type_name(&c.r#type))
            .collect();
        let Some(mut challenge) = authz.challenge(kind.acme_type()) else {
            return Err(AcmeError::Refused {
                what: format!("{kind} for {name}"),
                detail: format!(
                    "the CA does not offer it for this name (it offers {}); choose another --challenge",
                    offered.join(", ")
                ),
            });
        };
        let key_authorization = challenge.key_authorization();
        let answer = ChallengeAnswer {
            kind,
            identifier: name.clone(),
            name: name.trim_start_matches("*.").to_string(),
            token: challenge.token.clone(),
            key_authorization: key_authorization.as_str().to_string(),
            digest: key_authorization.digest().as_ref().to_vec(),
            dns_value: key_authorization.dns_value(),
        };
        progress.step(&format!("publishing the {kind} answer for {name}"));
        // Recorded before publishing: a publication that fails or is
        // interrupted halfway is withdrawn too.
        attempted.push(answer.clone());
        responder.publish(&answer).await?;
        challenge
            .set_ready()
            .await
            .map_err(|e| AcmeError::refused(format!("the {kind} challenge for {name}"), e))?;
    }

    progress.step("waiting for the CA to validate");
    let policy = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(spec.timeout);
    let status = order.poll_ready(&policy).await;
    let status = match status {
        Ok(status) => status,
        Err(instant_acme::Error::Api(problem)) => {
            let mut failures = validation_failures(order).await;
            if failures.is_empty() {
                failures.push(describe_problem(&problem));
            }
            return Err(AcmeError::Validation {
                failures,
                hint: hint(kind),
            });
        }
        Err(instant_acme::Error::Timeout(_)) => {
            return Err(AcmeError::Server {
                directory: account.directory.clone(),
                reason: format!(
                    "the order was not validated within {} s; try again later",
                    spec.timeout.as_secs()
                ),
            })
        }
        Err(e) => return Err(AcmeError::server(&account.directory, e)),
    };
    if status != OrderStatus::Ready {
        let mut failures = validation_failures(order).await;
        if failures.is_empty() {
            failures.push(format!("the order is {status:?}"));
        }
        return Err(AcmeError::Validation {
            failures,
            hint: hint(kind),
        });
    }

    let key = match &spec.prepared_key {
        Some(pkcs8) => {
            progress.step("finalizing with the prepared next key");
            mailcert_x509::keys::load_key(pkcs8)?
        }
        None => {
            progress.step(&format!("generating a {} key and finalizing", spec.key));
            spec.key.generate()?
        }
    };
    let mut params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| AcmeError::BadInput(format!("cannot make the certificate request: {e}")))?;
    params.subject_alt_names = spec
        .names
        .iter()
        .map(|n| match n {
            SubjectName::Dns(d) => d
                .clone()
                .try_into()
                .map(rcgen::SanType::DnsName)
                .map_err(|e| AcmeError::BadInput(format!("name '{d}': {e}"))),
            SubjectName::Ip(ip) => Ok(rcgen::SanType::IpAddress(*ip)),
        })
        .collect::<Result<Vec<_>>>()?;
    let mut dn = DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, spec.names[0].to_string());
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .map_err(|e| AcmeError::BadInput(format!("cannot make the certificate request: {e}")))?;
    order
        .finalize_csr(csr.der())
        .await
        .map_err(|e| AcmeError::refused(format!("finalizing the order for {listed}"), e))?;
    progress.step("waiting for the certificate");
    let pem = order
        .poll_certificate(&policy)
        .await
        .map_err(|e| AcmeError::refused(format!("the certificate for {listed}"), e))?;
    let key_der = key.serialize_der();
    let obtained = parse_issued(&pem, &key_der, &spec.names)?;
    progress.step(&format!("issued {}", obtained.summary.thumbprint));
    Ok(obtained)
}

/// Reads the CA's PEM chain and checks it is for our key and names.
fn parse_issued(pem: &str, key_der: &[u8], names: &[SubjectName]) -> Result<Obtained> {
    let mut ders = mailcert_x509::pem::decode_certificates(pem.as_bytes(), "the CA's answer")
        .map_err(|e| AcmeError::BadCertificate(e.to_string()))?;
    if ders.is_empty() {
        return Err(AcmeError::BadCertificate("it holds no certificate".into()));
    }
    let der = ders.remove(0);
    let summary = CertSummary::from_der(&der)
        .map_err(|e| AcmeError::BadCertificate(format!("the leaf: {e}")))?;
    if !mailcert_x509::keys::key_matches_spki(key_der, &summary.spki_der) {
        return Err(AcmeError::BadCertificate(
            "its public key is not the one we sent in the request".into(),
        ));
    }
    for name in names {
        let covered = match name {
            SubjectName::Dns(d) => summary.names.iter().any(|n| n.eq_ignore_ascii_case(d)),
            SubjectName::Ip(ip) => summary.ip_addresses.contains(ip),
        };
        if !covered {
            return Err(AcmeError::BadCertificate(format!(
                "it does not name {name}"
            )));
        }
    }
    let mut chain = Vec::new();
    for (i, d) in ders.into_iter().enumerate() {
        CertSummary::from_der(&d)
            .map_err(|e| AcmeError::BadCertificate(format!("chain certificate {}: {e}", i + 1)))?;
        chain.push(d);
    }
    Ok(Obtained {
        summary,
        der,
        chain,
        key_der: key_der.to_vec(),
    })
}

/// Per-name reasons the CA gave for invalid challenges.
async fn validation_failures(order: &mut instant_acme::Order) -> Vec<String> {
    let mut failures = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(next) = authorizations.next().await {
        let Ok(mut authz) = next else { break };
        if authz.refresh().await.is_err() {
            continue;
        }
        let name = authz.identifier().to_string();
        for challenge in &authz.challenges {
            if challenge.status == ChallengeStatus::Invalid {
                let detail = challenge
                    .error
                    .as_ref()
                    .map(describe_problem)
                    .unwrap_or_else(|| "no reason given".into());
                failures.push(format!(
                    "  {name}: {} challenge invalid: {detail}",
                    type_name(&challenge.r#type)
                ));
            }
        }
    }
    failures
}

/// A challenge type as RFC 8555 writes it.
fn type_name(kind: &instant_acme::ChallengeType) -> String {
    match kind {
        instant_acme::ChallengeType::Http01 => "http-01".into(),
        instant_acme::ChallengeType::Dns01 => "dns-01".into(),
        instant_acme::ChallengeType::TlsAlpn01 => "tls-alpn-01".into(),
        instant_acme::ChallengeType::DeviceAttest01 => "device-attest-01".into(),
        instant_acme::ChallengeType::Unknown(other) => other.clone(),
        _ => "unknown".into(),
    }
}

/// What to check when a challenge type fails.
fn hint(kind: ChallengeKind) -> String {
    match kind {
        ChallengeKind::Http01 => "Fix: each name must resolve to this server and its port 80 must reach the listener answering the challenge (--http-bind, a port forward, or the front end's plain HTTP listener under `serve`); a firewall or another web server on port 80 is the usual cause".into(),
        ChallengeKind::TlsAlpn01 => "Fix: each name must resolve to this server and its port 443 must reach the listener answering acme-tls/1 (--tls-bind, or the front end's HTTPS listener under `serve`); a load balancer that terminates TLS itself cannot pass this challenge, use http-01 or dns-01 there".into(),
        ChallengeKind::Dns01 => "Fix: the TXT record _acme-challenge.<name> must be visible to the CA's resolvers when the CA is told: a DNS hook must wait for propagation before it exits (run it by hand with `set` to test it); with --dns-update, [dane.dns] zone must be the zone that holds the name, and a resolver that cached an older answer for its TTL still shows that one".into(),
    }
}
