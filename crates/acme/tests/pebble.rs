//! The ACME client against a real pebble: accounts, the three challenge
//! types, failures, and renewal through the engine.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailcert_acme::challenge::ChallengeResponder;
use mailcert_acme::engine::{Engine, OutcomeKind, Responders};
use mailcert_acme::issue::{recipe, OrderRecipe};
use mailcert_acme::renewal::{load_state, take_lease};
use mailcert_acme::{
    load_account, obtain, register, store_obtained, AcmeError, ChallengeKind, DnsHook, Obtained,
    OrderSpec, Quiet, Standalone,
};
use mailcert_lifecycle::{ListenerScope, Manager, ServingSet};
use mailcert_store::{Op, Origin, SqliteStore, StoreLocation};
use mailcert_testkit::tls::handshake;
use mailcert_testkit::{Pebble, PebbleOptions};
use mailcert_x509::{KeyType, Service, SubjectName};
use time::OffsetDateTime;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn location(dir: &Path) -> StoreLocation {
    StoreLocation {
        db: dir.join("store.db"),
        key: dir.join("store.db.key"),
    }
}

fn manager(dir: &Path) -> Manager {
    let (store, _) = SqliteStore::open_or_create(&location(dir)).unwrap();
    Manager::new(Box::new(store), "test")
}

fn names(list: &[&str]) -> Vec<SubjectName> {
    list.iter()
        .map(|n| SubjectName::Dns(n.to_string()))
        .collect()
}

/// Registers an account on pebble and stores it.
async fn registered(pebble: &Pebble, manager: &mut Manager) -> mailcert_acme::AcmeAccount {
    let done = register(
        manager.store.as_ref(),
        &pebble.directory,
        Some("admin@example.test"),
        Some(pebble.listener_ca_pem()),
        "test",
    )
    .await
    .unwrap();
    assert!(done.created);
    manager.store.apply(done.change.unwrap()).unwrap();
    done.account
}

fn spec(list: &[&str]) -> OrderSpec {
    OrderSpec {
        names: names(list),
        key: KeyType::EcP256,
        timeout: Duration::from_secs(60),
        prepared_key: None,
    }
}

fn recipe_for(
    pebble: &Pebble,
    kind: ChallengeKind,
    list: &[&str],
    hook: Option<&Path>,
) -> OrderRecipe {
    OrderRecipe {
        directory: pebble.directory.clone(),
        challenge: kind,
        key: KeyType::EcP256,
        names: list.iter().map(|s| s.to_string()).collect(),
        http_bind: Some(pebble.http_bind()),
        tls_bind: Some(pebble.tls_bind()),
        dns_hook: hook.map(|h| h.display().to_string()),
        dns_update: None,
        timeout_secs: 60,
    }
}

/// Orders with a standalone HTTP-01 listener and stores the result.
async fn order_http01(pebble: &Pebble, manager: &mut Manager, list: &[&str]) -> String {
    let account = load_account(manager.store.as_ref(), None).await.unwrap();
    let listener = Standalone::http01(&pebble.http_bind()).await.unwrap();
    let obtained = obtain(&account, &spec(list), &listener, &Quiet)
        .await
        .unwrap();
    drop(listener);
    store_obtained(
        manager,
        &obtained,
        &recipe_for(pebble, ChallengeKind::Http01, list, None),
    )
    .unwrap()
}

fn assert_issued(obtained: &Obtained, list: &[&str]) {
    for name in list {
        assert!(
            obtained.summary.names.iter().any(|n| n == name),
            "{name} missing from {:?}",
            obtained.summary.names
        );
    }
    assert!(!obtained.chain.is_empty(), "pebble sends its intermediate");
}

#[test]
fn register_then_reuse_and_order_two_names_over_http01_with_nonce_rejection() {
    // pebble rejects 5 % of nonces here: the client must retry.
    let pebble = Pebble::start(PebbleOptions {
        reject_nonces: true,
        ..PebbleOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    runtime().block_on(async {
        let first = registered(&pebble, &mut manager).await;
        // The account key is in the store, encrypted.
        let raw = std::fs::read(dir.path().join("store.db")).unwrap();
        let record = manager
            .store
            .value(&format!("acme.account.{}", pebble.directory))
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&record).contains("key_pkcs8"));
        assert!(
            !raw.windows(9).any(|w| w == b"key_pkcs8"),
            "the account record is stored in clear"
        );

        // A second register reuses the account.
        let again = register(
            manager.store.as_ref(),
            &pebble.directory,
            None,
            None,
            "test",
        )
        .await
        .unwrap();
        assert!(!again.created);
        assert_eq!(again.account.id, first.id);

        for _ in 0..3 {
            let account = load_account(manager.store.as_ref(), None).await.unwrap();
            let listener = Standalone::http01(&pebble.http_bind()).await.unwrap();
            let list = ["mail.example.test", "autodiscover.example.test"];
            let obtained = obtain(&account, &spec(&list), &listener, &Quiet)
                .await
                .unwrap();
            assert_issued(&obtained, &list);
            let thumb = store_obtained(
                &mut manager,
                &obtained,
                &recipe_for(&pebble, ChallengeKind::Http01, &list, None),
            )
            .unwrap();
            let stored = manager.store.certificate(&thumb).unwrap().unwrap();
            assert_eq!(stored.origin, Origin::Acme);
            assert!(stored.has_private_key);
            assert_eq!(stored.chain.len(), obtained.chain.len());
            let key = manager.store.private_key(&thumb).unwrap().unwrap();
            assert!(mailcert_x509::keys::key_matches_spki(
                &key,
                &stored.summary.spki_der
            ));
            assert!(recipe(manager.store.as_ref(), &thumb).unwrap().is_some());
        }
    });
}

#[test]
fn tls_alpn01_with_a_temporary_listener() {
    let pebble = Pebble::start(PebbleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    runtime().block_on(async {
        let account = registered(&pebble, &mut manager).await;
        let listener = Standalone::tls_alpn01(&pebble.tls_bind()).await.unwrap();
        let list = ["imap.example.test"];
        let obtained = obtain(&account, &spec(&list), &listener, &Quiet)
            .await
            .unwrap();
        assert_issued(&obtained, &list);
        // Answers are withdrawn once the order is done.
        assert!(!listener.board().has_tls_alpn01());
    });
}

#[test]
fn dns01_through_the_hook_and_challtestsrv() {
    let pebble = Pebble::start(PebbleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let hook = pebble.dns_hook(true);
    runtime().block_on(async {
        let account = registered(&pebble, &mut manager).await;
        let responder = DnsHook::new(&hook.display().to_string()).unwrap();
        let list = ["smtp.example.test", "*.example.test"];
        let obtained = obtain(&account, &spec(&list), &responder, &Quiet)
            .await
            .unwrap();
        assert_issued(&obtained, &list);
    });
    let log = std::fs::read_to_string(pebble.dir.path().join("hook.log")).unwrap();
    assert!(
        log.contains("set _acme-challenge.smtp.example.test"),
        "{log}"
    );
    assert!(
        log.contains("clear _acme-challenge.smtp.example.test"),
        "{log}"
    );
    // The hook is told the name as ordered: a wildcard and its base name
    // share the FQDN, not the name.
    assert!(
        log.contains("set _acme-challenge.example.test *.example.test\n"),
        "{log}"
    );
    assert!(
        log.contains("set _acme-challenge.smtp.example.test smtp.example.test\n"),
        "{log}"
    );
    assert!(
        log.contains("clear _acme-challenge.example.test *.example.test\n"),
        "{log}"
    );
}

/// A hook that logs every call as "action name" and fails `set` for
/// `failing` (an FQDN) after "publishing" half of it, as a provider API
/// that times out might.
fn logging_hook(dir: &Path, failing: &str) -> std::path::PathBuf {
    let path = dir.join("failing-hook.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$1 $MAILCERT_ACME_NAME\" >> \"$(dirname \"$0\")/calls.log\"\n[ \"$1\" = set ] && [ \"$2\" = \"{failing}\" ] && {{ echo 'provider said no' >&2; exit 1; }}\nexit 0\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_failed_set_is_cleared_like_every_other() {
    let pebble = Pebble::start(PebbleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let hook = logging_hook(dir.path(), "_acme-challenge.b.example.test");
    let list = ["a.example.test", "b.example.test"];
    runtime().block_on(async {
        let account = registered(&pebble, &mut manager).await;
        let responder = DnsHook::new(&hook.display().to_string()).unwrap();
        let err = obtain(&account, &spec(&list), &responder, &Quiet)
            .await
            .err()
            .expect("the hook fails for b");
        assert!(matches!(err, AcmeError::Hook { .. }), "{err}");
        assert!(err.to_string().contains("provider said no"), "{err}");
    });
    // pebble shuffles the authorizations: b's set may come first or second.
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert!(lines.contains(&"set b.example.test"), "{calls}");
    assert!(lines.contains(&"clear b.example.test"), "{calls}");
    for line in &lines {
        if let Some(name) = line.strip_prefix("set ") {
            assert!(
                lines.contains(&format!("clear {name}").as_str()),
                "no clear after set {name}: {calls}"
            );
        }
    }
    assert!(manager.store.certificates().unwrap().is_empty());
}

#[test]
fn every_order_proves_control_again() {
    // pebble hands out a valid authorization it holds whenever it can:
    // the second order would pass without any challenge, had the first
    // left its authorization valid.
    let pebble = Pebble::start(PebbleOptions {
        authz_reuse: 100,
        ..PebbleOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let working = DnsHook::new(&pebble.dns_hook(true).display().to_string()).unwrap();
    let lazy = DnsHook::new(&pebble.dns_hook(false).display().to_string()).unwrap();
    let list = ["relay.example.test"];
    runtime().block_on(async {
        let account = registered(&pebble, &mut manager).await;
        obtain(&account, &spec(&list), &working, &Quiet)
            .await
            .unwrap();
        let err = obtain(&account, &spec(&list), &lazy, &Quiet)
            .await
            .err()
            .expect("a hook that publishes nothing cannot pass");
        assert!(matches!(err, AcmeError::Validation { .. }), "{err}");
    });
}

#[test]
fn a_port_taken_by_another_program_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let manager = manager(dir.path());
    let loc = location(dir.path());
    // Another web server: it answers, but not as the front end does.
    let web = TcpListener::bind("127.0.0.1:0").unwrap();
    let web_addr = web.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in web.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\nConnection: close\r\n\r\nnothing here",
            );
        }
    });
    // Something that holds the port and never speaks.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let rt = runtime();
    rt.block_on(async {
        let err = mailcert_acme::engine::http01_or_serve(&web_addr, &loc, "test")
            .await
            .err()
            .expect("not a front end");
        let text = err.to_string();
        assert!(err.is_bad_input(), "{text}");
        assert!(text.contains("not `mailcert serve`"), "{text}");
        assert!(text.contains("404 Not Found"), "{text}");
        assert!(text.contains("--http-bind"), "{text}");
        let err = mailcert_acme::engine::tls_alpn01_or_serve(&silent_addr, &loc, "test")
            .await
            .err()
            .expect("not a front end");
        let text = err.to_string();
        assert!(text.contains("--tls-bind"), "{text}");
        assert!(text.contains("HTTPS listener"), "{text}");
        let err = mailcert_acme::engine::tls_alpn01_or_serve(&web_addr, &loc, "test")
            .await
            .err()
            .expect("not a front end");
        assert!(err.is_bad_input(), "{err}");
    });
    drop(silent);
    assert!(manager.store.value_keys("acme.").unwrap().is_empty());
    assert!(manager.store.audit_log(100).unwrap().is_empty());
}

#[test]
fn answers_a_front_end_never_served_are_withdrawn() {
    // A front end that holds the port but reads another store: it never
    // serves what this order publishes.
    let pebble = Pebble::start(PebbleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let loc = location(dir.path());
    let front = TcpListener::bind(pebble.http_bind()).unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in front.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 18\r\nConnection: close\r\n\r\nno such challenge\n",
            );
        }
    });
    runtime().block_on(async {
        let account = registered(&pebble, &mut manager).await;
        let responder = mailcert_acme::engine::http01_or_serve(&pebble.http_bind(), &loc, "test")
            .await
            .unwrap();
        let err = obtain(
            &account,
            &spec(&["lost.example.test"]),
            responder.as_ref(),
            &Quiet,
        )
        .await
        .err()
        .expect("the answer is never served");
        assert!(
            err.to_string().contains("did not serve the answer"),
            "{err}"
        );
    });
    assert!(manager
        .store
        .value_keys("acme.http-01.")
        .unwrap()
        .is_empty());
    let log: Vec<String> = manager
        .store
        .audit_log(100)
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(
        log.iter()
            .any(|d| d.starts_with("published the http-01 answer")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|d| d.starts_with("withdrew the http-01 answer")),
        "{log:?}"
    );
}

#[test]
fn a_failing_hook_names_the_command_and_the_record() {
    let pebble = Pebble::start(PebbleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let hook = "false";
    runtime().block_on(async {
        let account = registered(&pebble, &mut manager).await;
        let responder = DnsHook::new(hook).unwrap();
        let err = obtain(&account, &spec(&["x.example.test"]), &responder, &Quiet)
            .await
            .err()
            .expect("the hook fails");
        let text = err.to_string();
        assert!(matches!(err, AcmeError::Hook { .. }), "{text}");
        assert!(text.contains("_acme-challenge.x.example.test"), "{text}");
    });
    assert!(manager.store.certificates().unwrap().is_empty());
}

#[test]
fn a_listener_serving_the_wrong_answer_fails_validation_clearly() {
    let pebble = Pebble::start(PebbleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    runtime().block_on(async {
        let account = registered(&pebble, &mut manager).await;
        // The listener pebble reaches answers nothing we publish: ours is elsewhere.
        let wrong = Standalone::http01(&pebble.http_bind()).await.unwrap();
        let ours = Standalone::http01("127.0.0.1:0").await.unwrap();
        let err = obtain(&account, &spec(&["web.example.test"]), &ours, &Quiet)
            .await
            .err()
            .expect("validation fails");
        drop(wrong);
        let text = err.to_string();
        assert!(matches!(err, AcmeError::Validation { .. }), "{text}");
        assert!(text.contains("web.example.test"), "{text}");
        assert!(ours.board().http01("anything").is_none());
    });
}

/// A TLS server shaped like the front end: every handshake picks the
/// certificate bound to `https` from a fresh read of the store.
struct StoreBackedServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl StoreBackedServer {
    fn start(location: StoreLocation) -> StoreBackedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            while !stopped.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let store = SqliteStore::open(&location).unwrap();
                let set = ServingSet::load(&store, true).unwrap();
                let selection = set.select(
                    Service::Https,
                    ListenerScope {
                        name: None,
                        pin: None,
                    },
                    None,
                    OffsetDateTime::now_utc(),
                );
                let Some(served) = selection.thumbprint().and_then(|t| set.get(t)) else {
                    continue; // no certificate: the client's handshake fails
                };
                let mut chain = vec![rustls_pki_types::CertificateDer::from(
                    served.record.der.clone(),
                )];
                chain.extend(
                    served
                        .chain
                        .iter()
                        .cloned()
                        .map(rustls_pki_types::CertificateDer::from),
                );
                let key = rustls_pki_types::PrivateKeyDer::Pkcs8(
                    served.private_key.clone().unwrap().into(),
                );
                let config = rustls::ServerConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(chain, key)
                    .unwrap();
                let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
                let mut stream = stream;
                let _ = conn.complete_io(&mut stream);
                conn.send_close_notify();
                let _ = conn.complete_io(&mut stream);
            }
        });
        StoreBackedServer { port, stop }
    }
}

impl Drop for StoreBackedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn renewal_by_the_engine_moves_bindings_while_clients_keep_connecting() {
    // 10-minute certificates: due after 400 s; time is an input.
    let pebble = Pebble::start(PebbleOptions {
        validity_secs: Some(600),
        ..PebbleOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let rt = runtime();
    let list = ["mail.example.test", "autodiscover.example.test"];
    let old = rt.block_on(async {
        registered(&pebble, &mut manager).await;
        order_http01(&pebble, &mut manager, &list).await
    });
    manager
        .enable(&old, &Service::ALL, None, &[], false)
        .unwrap();

    let server = StoreBackedServer::start(location(dir.path()));
    assert_eq!(
        handshake(server.port, &pebble.root, "mail.example.test").unwrap(),
        old
    );
    // A client connecting over and over while the engine works.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let handshakes = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let client = {
        let (stop, failures, handshakes, seen) = (
            stop.clone(),
            failures.clone(),
            handshakes.clone(),
            seen.clone(),
        );
        let root = pebble.root.clone();
        let port = server.port;
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match handshake(port, &root, "mail.example.test") {
                    Ok(thumb) => {
                        handshakes.fetch_add(1, Ordering::Relaxed);
                        let mut seen = seen.lock().unwrap();
                        if seen.last() != Some(&thumb) {
                            seen.push(thumb);
                        }
                    }
                    Err(e) => failures.lock().unwrap().push(e),
                }
            }
        })
    };

    let engine = Engine::new(Responders::Standalone, Arc::new(Quiet));
    let record = manager.store.certificate(&old).unwrap().unwrap();
    let now = record.summary.not_before + time::Duration::seconds(60);
    let outcomes = rt
        .block_on(engine.run_once(&mut manager, now, false, None))
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(
        matches!(outcomes[0].result, OutcomeKind::NotDue { .. }),
        "{}",
        outcomes[0].describe()
    );
    assert!(outcomes[0].warning.is_none());

    // Another front end holds the lease: no second order.
    let later = record.summary.not_before + time::Duration::seconds(450);
    {
        let store = manager.store.as_mut();
        take_lease(
            store,
            "other",
            &old,
            "other-host:1",
            OffsetDateTime::now_utc(),
            Duration::from_secs(60),
        )
        .unwrap();
    }
    let outcomes = rt
        .block_on(engine.run_once(&mut manager, later, false, None))
        .unwrap();
    assert!(
        matches!(outcomes[0].result, OutcomeKind::Busy { .. }),
        "{}",
        outcomes[0].describe()
    );
    let mut release = manager.change("test");
    release.push(Op::SetValue {
        key: format!("acme.lease.{old}"),
        value: None,
        secret: false,
    });
    manager.store.apply(release).unwrap();

    let outcomes = rt
        .block_on(engine.run_once(&mut manager, later, false, None))
        .unwrap();
    let OutcomeKind::Renewed {
        new_thumbprint,
        moved,
        ..
    } = &outcomes[0].result
    else {
        panic!("expected a renewal: {}", outcomes[0].describe());
    };
    assert_eq!(moved.len(), 4);
    let new = new_thumbprint.clone();
    let bindings = manager.store.bindings().unwrap();
    assert!(bindings.iter().all(|b| b.thumbprint == new), "{bindings:?}");
    assert_eq!(
        load_state(manager.store.as_ref(), &old)
            .unwrap()
            .replaced_by
            .as_deref(),
        Some(new.as_str())
    );
    assert!(manager
        .store
        .value(&format!("acme.lease.{old}"))
        .unwrap()
        .is_none());

    // Wait until the client has seen the new certificate (bounded).
    for _ in 0..400 {
        if seen.lock().unwrap().contains(&new) {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "failed handshakes: {failures:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.first(), Some(&old));
    assert_eq!(seen.last(), Some(&new));
    assert!(handshakes.load(Ordering::Relaxed) > 1);

    // The new certificate is not due yet; the old one is no longer looked at.
    let fresh = manager.store.certificate(&new).unwrap().unwrap();
    let outcomes = rt
        .block_on(engine.run_once(
            &mut manager,
            fresh.summary.not_before + time::Duration::seconds(10),
            false,
            None,
        ))
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].thumbprint, new);
    assert!(matches!(outcomes[0].result, OutcomeKind::NotDue { .. }));
}

#[test]
fn a_failing_renewal_keeps_the_old_certificate_and_backs_off() {
    let pebble = Pebble::start(PebbleOptions {
        validity_secs: Some(600),
        ..PebbleOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let rt = runtime();
    let hook = pebble.dns_hook(true);
    let lazy = pebble.dns_hook(false);
    let list = ["pop.example.test"];
    let old = rt.block_on(async {
        let account = registered(&pebble, &mut manager).await;
        let responder = DnsHook::new(&hook.display().to_string()).unwrap();
        let obtained = obtain(&account, &spec(&list), &responder, &Quiet)
            .await
            .unwrap();
        store_obtained(
            &mut manager,
            &obtained,
            &recipe_for(&pebble, ChallengeKind::Dns01, &list, Some(&lazy)),
        )
        .unwrap()
    });
    manager
        .enable(&old, &[Service::Pop], None, &[], false)
        .unwrap();
    let record = manager.store.certificate(&old).unwrap().unwrap();
    let due = record.summary.not_before + time::Duration::seconds(520);

    let engine = Engine::new(Responders::Standalone, Arc::new(Quiet));
    let outcomes = rt
        .block_on(engine.run_once(&mut manager, due, false, None))
        .unwrap();
    let outcome = &outcomes[0];
    let OutcomeKind::Failed {
        error,
        failures,
        next_attempt,
    } = &outcome.result
    else {
        panic!("expected a failure: {}", outcome.describe());
    };
    assert_eq!(*failures, 1);
    assert!(error.contains("pop.example.test"), "{error}");
    assert!(*next_attempt > due);
    // Past five sixths of its life: the warning names thumbprint and services.
    let warning = outcome.warning.as_ref().expect("an expiry warning");
    assert!(
        warning.contains(&old) && warning.contains("pop"),
        "{warning}"
    );
    // The old certificate still serves.
    let bindings = manager.store.bindings().unwrap();
    assert!(bindings
        .iter()
        .any(|b| b.thumbprint == old && b.service == Service::Pop));
    assert_eq!(manager.store.certificates().unwrap().len(), 1);
    let state = load_state(manager.store.as_ref(), &old).unwrap();
    assert_eq!(state.failures, 1);
    assert!(state.last_error.is_some());

    // Before the next attempt time: nothing is ordered.
    let outcomes = rt
        .block_on(engine.run_once(&mut manager, due + time::Duration::seconds(1), false, None))
        .unwrap();
    assert!(matches!(outcomes[0].result, OutcomeKind::BackingOff { .. }));

    // The hook is fixed; after the backoff the retry succeeds.
    let mut fixed = recipe(manager.store.as_ref(), &old).unwrap().unwrap();
    fixed.dns_hook = Some(hook.display().to_string());
    let mut change = manager.change("test");
    change.push(Op::SetValue {
        key: format!("acme.cert.{old}"),
        value: Some(serde_json::to_vec(&fixed).unwrap()),
        secret: false,
    });
    manager.store.apply(change).unwrap();
    let retry_at = *next_attempt + time::Duration::seconds(1);
    let outcomes = rt
        .block_on(engine.run_once(&mut manager, retry_at, false, None))
        .unwrap();
    assert!(
        matches!(outcomes[0].result, OutcomeKind::Renewed { .. }),
        "{}",
        outcomes[0].describe()
    );
}

#[test]
fn python_trusts_the_obtained_chain_with_pebbles_root() {
    let pebble = Pebble::start(PebbleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let rt = runtime();
    let thumb = rt.block_on(async {
        registered(&pebble, &mut manager).await;
        order_http01(&pebble, &mut manager, &["mail.example.test"]).await
    });
    manager
        .enable(&thumb, &[Service::Https], None, &[], false)
        .unwrap();
    let server = StoreBackedServer::start(location(dir.path()));
    let script = r#"
import socket, ssl, sys
port, cafile, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=name) as tls:
        print("verified", tls.version())
"#;
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(server.port.to_string())
        .arg(&pebble.root)
        .arg("mail.example.test")
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        out.status.success(),
        "python ssl refused the chain: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified"));
}

#[test]
fn responders_report_their_kind() {
    let rt = runtime();
    rt.block_on(async {
        let http = Standalone::http01("127.0.0.1:0").await.unwrap();
        assert_eq!(http.kind(), ChallengeKind::Http01);
        let taken = http.local_addr().to_string();
        let err = Standalone::http01(&taken).await.err().expect("port in use");
        assert!(err.to_string().contains("--http-bind"), "{err}");
        assert!(err.is_bad_input());
    });
}

#[test]
fn renewal_in_process_answers_through_a_sink_the_listeners_serve() {
    // As under `serve`: the listeners exist already; the engine only
    // hands answers to them (here TLS-ALPN-01 and HTTP-01 boards).
    let pebble = Pebble::start(PebbleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let rt = runtime();
    rt.block_on(async {
        let account = registered(&pebble, &mut manager).await;
        for (kind, list) in [
            (ChallengeKind::TlsAlpn01, ["imap.example.test"]),
            (ChallengeKind::Http01, ["www.example.test"]),
        ] {
            let listener = match kind {
                ChallengeKind::TlsAlpn01 => {
                    Standalone::tls_alpn01(&pebble.tls_bind()).await.unwrap()
                }
                _ => Standalone::http01(&pebble.http_bind()).await.unwrap(),
            };
            let obtained = obtain(&account, &spec(&list), &listener, &Quiet)
                .await
                .unwrap();
            let thumb = store_obtained(
                &mut manager,
                &obtained,
                &recipe_for(&pebble, kind, &list, None),
            )
            .unwrap();
            manager
                .enable(&thumb, &[Service::Imap], None, &[], false)
                .unwrap();
            let sink: Arc<dyn mailcert_acme::ChallengeSink> = Arc::new(listener.board().clone());
            let engine = Engine::new(Responders::Sink(sink), Arc::new(Quiet));
            let outcomes = engine
                .run_once(&mut manager, OffsetDateTime::now_utc(), true, Some(&thumb))
                .await
                .unwrap();
            assert!(
                matches!(outcomes[0].result, OutcomeKind::Renewed { .. }),
                "{kind}: {}",
                outcomes[0].describe()
            );
            drop(listener);
        }
    });
}

#[test]
fn a_taken_http_port_hands_answers_to_the_front_end_through_the_store() {
    // A stand-in for `serve`'s plain HTTP listener: it answers
    // /.well-known/acme-challenge/<token> from the store's
    // `acme.http-01.<token>` values, as the front end does.
    let pebble = Pebble::start(PebbleOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let mut manager = manager(dir.path());
    let front = TcpListener::bind(pebble.http_bind()).unwrap();
    let loc = location(dir.path());
    let served = loc.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in front.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let token = path
                .strip_prefix("/.well-known/acme-challenge/")
                .unwrap_or("");
            let store = SqliteStore::open(&served).unwrap();
            let answer =
                mailcert_store::Store::value(&store, &format!("acme.http-01.{token}")).unwrap();
            let response = match answer {
                Some(body) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    body.len(),
                    String::from_utf8_lossy(&body)
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 18\r\nConnection: close\r\n\r\nno such challenge\n"
                    .to_string(),
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    let rt = runtime();
    rt.block_on(async {
        let account = registered(&pebble, &mut manager).await;
        let responder = mailcert_acme::engine::http01_or_serve(&pebble.http_bind(), &loc, "test")
            .await
            .unwrap();
        let list = ["mail.example.test"];
        obtain(&account, &spec(&list), responder.as_ref(), &Quiet)
            .await
            .unwrap();
    });
    // The answers were withdrawn from the store.
    assert!(manager
        .store
        .value_keys("acme.http-01.")
        .unwrap()
        .is_empty());
}
