//! ACME through the real front end: orders and renewals answered by a
//! running `mailcert serve`, while TLS clients keep connecting.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailcert_testkit::tls::handshake;
use mailcert_testkit::{free_port, wait_for_port, wait_until, Cli, Pebble, PebbleOptions};

use crate::acme::register_at;
use crate::{cli, MAILCERT};

fn wait_for(check: impl FnMut() -> bool, what: &str) {
    wait_until(what, Duration::from_secs(15), check);
}

#[test]
fn serve_answers_http01_for_orders_and_renewals_while_clients_connect() {
    let pebble = Pebble::start(PebbleOptions {
        validity_secs: Some(600),
        reject_nonces: true,
        ..PebbleOptions::default()
    });
    let env = cli();
    register_at(&env, &pebble, &[]);
    let https = free_port();
    let config = env.dir().join("mailcert.toml");
    std::fs::write(
        &config,
        format!(
            "[[listener]]\nname = \"https\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{https}\"\nbackend = \"127.0.0.1:{}\"\n\n[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:{}\"\nhttps_port = {https}\n",
            free_port(),
            pebble.http_port
        ),
    )
    .unwrap();
    let _serve = env.serve(&["--config", config.to_str().unwrap()]);
    wait_for_port(pebble.http_port);

    // serve holds port 80 (here pebble's httpPort): the order hands its
    // answers to serve through the store.
    let http = pebble.http_bind();
    let out = env
        .ok(&[
            "acme",
            "order",
            "--name",
            "mail.example.test",
            "--name",
            "autodiscover.example.test",
            "--http-bind",
            &http,
            "--enable",
            "https",
        ])
        .stdout;
    let old = out.lines().next().unwrap().trim().to_string();
    wait_for(
        || handshake(https, &pebble.root, "mail.example.test").as_deref() == Ok(old.as_str()),
        "serve to present the ACME certificate",
    );

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let client = {
        let (stop, failures, seen) = (stop.clone(), failures.clone(), seen.clone());
        let root = pebble.root.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match handshake(https, &root, "autodiscover.example.test") {
                    Ok(thumb) => {
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

    // Cron's renewal, at two thirds of the lifetime, while serve runs.
    let shown: serde_json::Value =
        serde_json::from_str(&env.ok(&["show", &old, "--json"]).stdout).unwrap();
    let not_before = mailcert_x509::time::parse_at(shown["not_before"].as_str().unwrap()).unwrap();
    let at = mailcert_x509::time::rfc3339(not_before + time::Duration::seconds(450));
    let renewed: serde_json::Value =
        serde_json::from_str(&env.ok(&["acme", "renew", "--at", &at, "--json"]).stdout).unwrap();
    assert_eq!(renewed[0]["result"], "renewed", "{renewed}");
    let new = renewed[0]["new_thumbprint"].as_str().unwrap().to_string();
    wait_for(
        || seen.lock().unwrap().contains(&new),
        "clients to get the new certificate",
    );
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "failed handshakes: {failures:?}");
    assert_eq!(seen.lock().unwrap().first(), Some(&old));
}

#[test]
fn the_front_ends_https_listener_answers_tls_alpn01_in_process() {
    let pebble = Pebble::start(PebbleOptions::default());
    let env = cli();
    let store = env.store();
    register_at(&env, &pebble, &[]);
    let text = format!(
        "[[listener]]\nname = \"https\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{}\"\nbackend = \"127.0.0.1:{}\"\n",
        pebble.tls_port,
        free_port()
    );
    let config = mailcert_config::Config::parse(&text, Path::new("test.toml")).unwrap();
    let location = mailcert_store::StoreLocation::resolve(Some(&store), None);
    let challenges = mailcert_front::ChallengeBoard::new();
    let front = mailcert_front::Front::start(
        config,
        mailcert_front::FrontOptions {
            store: mailcert_store::ExplicitStore::fixed(&location),
            challenges: challenges.clone(),
            node: mailcert_lifecycle::host::node_name(),
            heartbeat: mailcert_front::HEARTBEAT_INTERVAL,
        },
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = mailcert_store::SqliteStore::open(&location).unwrap();
        let account = mailcert_acme::load_account(&store, None).await.unwrap();
        let responder = mailcert_acme::SinkResponder {
            sink: Arc::new(challenges.clone()),
            kind: mailcert_acme::ChallengeKind::TlsAlpn01,
        };
        let spec = mailcert_acme::OrderSpec {
            names: vec![mailcert_x509::SubjectName::Dns("mail.example.test".into())],
            key: mailcert_x509::KeyType::EcP256,
            timeout: Duration::from_secs(60),
            prepared_key: None,
        };
        let obtained = mailcert_acme::obtain(&account, &spec, &responder, &mailcert_acme::Quiet)
            .await
            .unwrap();
        assert_eq!(obtained.summary.names, ["mail.example.test"]);
    });
    front.shutdown();
}

#[test]
fn an_order_from_another_process_gets_tls_alpn01_answered_by_serve() {
    let pebble = Pebble::start(PebbleOptions::default());
    let env = cli();
    register_at(&env, &pebble, &[]);
    // serve's HTTPS listener holds the port the CA validates TLS-ALPN-01 on.
    let config = env.dir().join("mailcert.toml");
    std::fs::write(
        &config,
        format!(
            "[[listener]]\nname = \"https\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{}\"\nbackend = \"127.0.0.1:{}\"\n",
            pebble.tls_port,
            free_port()
        ),
    )
    .unwrap();
    let _serve = env.serve(&["--config", config.to_str().unwrap()]);
    wait_for_port(pebble.tls_port);
    let tls = pebble.tls_bind();
    let out = env
        .ok(&[
            "acme",
            "order",
            "--name",
            "mail.example.test",
            "--challenge",
            "tls-alpn-01",
            "--tls-bind",
            &tls,
            "--enable",
            "https",
        ])
        .stdout;
    let thumb = out.lines().next().unwrap().trim().to_string();
    wait_for(
        || {
            handshake(pebble.tls_port, &pebble.root, "mail.example.test").as_deref()
                == Ok(thumb.as_str())
        },
        "serve to present the new certificate",
    );
    // The answer was withdrawn from the store afterwards.
    let log = env.ok(&["log"]).stdout;
    assert!(
        log.contains("withdrew the tls-alpn-01 answer for mail.example.test"),
        "{log}"
    );
}

#[test]
fn answers_a_front_end_on_another_store_never_serves_are_withdrawn() {
    // `serve` holds both challenge ports, but reads another store: it is a
    // front end, so the answers go into this store for it; it never
    // serves them, the order fails, and they are removed again.
    let pebble = Pebble::start(PebbleOptions::default());
    let env = cli();
    let other = env.path("other.db");
    register_at(&env, &pebble, &[]);
    let config = env.dir().join("mailcert.toml");
    std::fs::write(
        &config,
        format!(
            "[[listener]]\nname = \"https\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{}\"\nbackend = \"127.0.0.1:{}\"\n\n[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:{}\"\nhttps_port = {}\n",
            pebble.tls_port,
            free_port(),
            pebble.http_port,
            pebble.tls_port
        ),
    )
    .unwrap();
    let _serve = Cli::in_dir(MAILCERT, env.dir())
        .with_store(&other, None)
        .serve(&["--config", config.to_str().unwrap()]);
    wait_for_port(pebble.http_port);
    wait_for_port(pebble.tls_port);
    let (http, tls) = (pebble.http_bind(), pebble.tls_bind());
    for (challenge, option, bind) in [
        ("http-01", "--http-bind", &http),
        ("tls-alpn-01", "--tls-bind", &tls),
    ] {
        let out = env.output(&[
            "acme",
            "order",
            "--name",
            "mail.example.test",
            "--challenge",
            challenge,
            option,
            bind,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{challenge}: {stderr}");
        assert!(stderr.contains("did not serve the answer"), "{stderr}");
        let log = env.ok(&["log"]).stdout;
        assert!(
            log.contains(&format!(
                "published the {challenge} answer for mail.example.test"
            )),
            "{log}"
        );
        assert!(
            log.contains(&format!(
                "withdrew the {challenge} answer for mail.example.test"
            )),
            "{log}"
        );
    }
    let location = mailcert_store::StoreLocation::resolve(Some(&env.store()), None);
    let opened = mailcert_store::SqliteStore::open(&location).unwrap();
    let left = mailcert_store::Store::value_keys(&opened, "acme.").unwrap();
    assert!(
        left.iter()
            .all(|k| !k.starts_with("acme.http-01.") && !k.starts_with("acme.tls-alpn-01.")),
        "{left:?}"
    );
}
