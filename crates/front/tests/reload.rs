//! Certificates and configuration change under a running front end:
//! enabling another certificate reaches new handshakes without a restart
//! while a load of connections runs and none of them fails; SIGHUP's
//! reload swaps in a whole new configuration or keeps the old one; the
//! graceful stop lets open connections finish.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;
use mailcert_store::{Binding, Change, Op, Store};
use mailcert_testkit::wait_until;
use mailcert_x509::Service;

#[test]
fn enabling_another_certificate_under_load() {
    let env = Env::new();
    let backend = echo_backend("* OK hi\r\n");
    let front = env.front(&listener("imaps", "imap", "implicit", backend, false, ""));
    let port = front.addr("imaps").unwrap().port();
    let config = client_config(&env.pki.root);

    // A connection opened before the change, used after it.
    let mut early = tls(connect(port), &config).expect("early handshake");
    read_until(&mut early, "* OK hi");
    assert_eq!(peer_thumbprint(&early), env.thumbprint);

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let handshakes = Arc::new(AtomicUsize::new(0));
    let seen_new = Arc::new(Mutex::new(None::<Instant>));
    let new_leaf = env.pki.leaf("new", &[NAME], "ec");
    let new_thumb = mailcert_x509::thumbprint(
        &mailcert_x509::pem::decode_certificates(&std::fs::read(&new_leaf.cert).unwrap(), "new")
            .unwrap()[0],
    );
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, failures, handshakes, seen_new, config, new_thumb) = (
                stop.clone(),
                failures.clone(),
                handshakes.clone(),
                seen_new.clone(),
                config.clone(),
                new_thumb.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match tls(connect(port), &config) {
                        Ok(mut t) => {
                            let greeting = read_until(&mut t, "* OK hi");
                            if !greeting.contains("* OK hi") {
                                failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("no greeting: {greeting:?}"));
                            }
                            if peer_thumbprint(&t) == new_thumb {
                                seen_new.lock().unwrap().get_or_insert_with(Instant::now);
                            }
                            handshakes.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                }
            })
        })
        .collect();
    wait_until("handshakes running", Duration::from_secs(20), || {
        handshakes.load(Ordering::Relaxed) > 20
    });

    // `mailcert enable NEW --services imap` + `disable OLD`, as one change.
    let generation = front.generation();
    let changed_at = Instant::now();
    let mut change = Change::new("enable", "test");
    let new = env.add(&new_leaf, &[]);
    change
        .push(Op::Bind(Binding {
            thumbprint: new.clone(),
            service: Service::Imap,
            listener: None,
            node: None,
        }))
        .push(Op::Unbind(Binding {
            thumbprint: env.thumbprint.clone(),
            service: Service::Imap,
            listener: None,
            node: None,
        }));
    env.open_store().apply(change).unwrap();
    wait_until("the front end reloads", Duration::from_secs(10), || {
        front.generation() > generation
    });
    wait_until(
        "new handshakes present the new certificate",
        Duration::from_secs(10),
        || seen_new.lock().unwrap().is_some(),
    );
    let before = handshakes.load(Ordering::Relaxed);
    wait_until(
        "more handshakes after the change",
        Duration::from_secs(20),
        || handshakes.load(Ordering::Relaxed) > before + 20,
    );
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let seen = seen_new.lock().unwrap().expect("seen");
    eprintln!(
        "new certificate seen {:?} after the store change; {} handshakes in all",
        seen.duration_since(changed_at),
        handshakes.load(Ordering::Relaxed)
    );
    assert_eq!(failures.lock().unwrap().clone(), Vec::<String>::new());
    let fresh = tls(connect(port), &config).expect("handshake");
    assert_eq!(peer_thumbprint(&fresh), new_thumb);
    // The early connection still works, with the certificate it started with.
    early.write_all(b"a NOOP\r\n").unwrap();
    assert!(read_until(&mut early, "a NOOP").contains("a NOOP"));
    assert_eq!(peer_thumbprint(&early), env.thumbprint);
}

#[test]
fn configuration_reload_is_all_or_nothing() {
    let env = Env::new();
    let backend = echo_backend("* OK hi\r\n");
    let first = listener("imaps", "imap", "implicit", backend, false, "");
    let front = env.front(&first);
    let old = front.addr("imaps").unwrap();
    let config = client_config(&env.pki.root);

    // A broken file changes nothing.
    env.write_config(&format!("{first}\n[[listener]]\nname = \"x\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"nowhere\"\nbackend = \"127.0.0.1:1\"\n"));
    let err = front.reload().unwrap_err();
    assert!(err.contains("line 15") && err.contains("bind"), "{err}");
    let mut t = tls(connect(old.port()), &config).expect("old listener still serves");
    assert!(read_until(&mut t, "* OK hi").contains("* OK hi"));

    // A pin that matches no certificate would fail every handshake: refused.
    env.write_config(&format!(
        "{}certificate = \"FFFF0000\"\n",
        first.trim_end().to_string() + "\n"
    ));
    let err = front.reload().unwrap_err();
    let pin_line = first.trim_end().lines().count() + 1;
    assert!(
        err.contains("FFFF0000")
            && err.contains("matches no")
            && err.contains("mailcert.toml: ")
            && err.contains(&format!("line {pin_line}: listener[1] ("))
            && err.contains(").certificate"),
        "{err}"
    );
    let mut t = tls(connect(old.port()), &config).expect("old configuration still serves");
    assert!(read_until(&mut t, "* OK hi").contains("* OK hi"));

    // A good one adds a listener and keeps the existing socket.
    env.write_config(&format!(
        "{}{}",
        first.replace("127.0.0.1:0", &old.to_string()),
        listener(
            "pop3s",
            "pop3",
            "implicit",
            echo_backend("+OK hi\r\n"),
            false,
            ""
        )
    ));
    front.reload().expect("reload");
    assert_eq!(front.addr("imaps"), Some(old));
    let pop = front.addr("pop3s").expect("new listener");
    let mut t = tls(connect(pop.port()), &config).expect("new listener serves");
    assert!(read_until(&mut t, "+OK hi").contains("+OK hi"));
}

#[test]
fn graceful_stop_lets_open_connections_finish() {
    let env = Env::new();
    let backend = echo_backend("* OK hi\r\n");
    let front = env.front(&format!(
        "[limits]\ngrace_period = 60\n\n{}",
        listener("imaps", "imap", "implicit", backend, false, "")
    ));
    let port = front.addr("imaps").unwrap().port();
    let config = client_config(&env.pki.root);
    let mut open = tls(connect(port), &config).expect("handshake");
    read_until(&mut open, "* OK hi");
    let stopper = std::thread::spawn(move || front.shutdown());
    wait_until(
        "the listener stops accepting",
        Duration::from_secs(10),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
    );
    open.write_all(b"a NOOP\r\n").unwrap();
    assert!(read_until(&mut open, "a NOOP").contains("a NOOP"));
    assert!(
        !stopper.is_finished(),
        "the stop waits for the open connection"
    );
    drop(open);
    stopper.join().unwrap();
}
