//! `mailcert serve` as a process: creates its store on first start, says
//! what it listens on, rereads its configuration on SIGHUP, stops on
//! SIGTERM, and refuses a bad configuration with the line and field.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use mailcert_testkit::{free_port, listener_toml, served_thumbprint, wait_until, Cli, Serve};

use crate::{cli, MAILCERT};

/// A STARTTLS listener for mail.example.test on `port`, whose backend
/// never answers (the tests look at what serve itself says).
pub fn listener(name: &str, protocol: &str, port: u16) -> String {
    listener_toml(
        name,
        protocol,
        "starttls-required",
        port,
        1,
        "hostname = \"mail.example.test\"\n",
    )
}

/// What a listener says first (waiting up to 10 s for it).
pub fn greeting(port: u16) -> String {
    mailcert_testkit::greeting(port, Duration::from_secs(10))
}

#[test]
fn serve_starts_reloads_and_stops() {
    let env = cli();
    let dir = env.dir();
    let (imap, pop3) = (free_port(), free_port());
    let config = dir.join("mailcert.toml");
    std::fs::write(&config, listener("imap", "imap", imap)).unwrap();
    let mut serve = env.serve(&["--config", config.to_str().unwrap()]);
    let said = serve.said().to_string();
    assert!(
        said.contains(&format!("127.0.0.1:{imap}")) && said.contains("-starttls imap"),
        "{said}"
    );
    assert!(dir.join("store.db").exists(), "the store was created");
    let text = greeting(imap);
    assert!(
        text.starts_with("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED]"),
        "{text}"
    );

    std::fs::write(
        &config,
        format!(
            "{}{}",
            listener("imap", "imap", imap),
            listener("pop3", "pop3", pop3)
        ),
    )
    .unwrap();
    serve.signal("HUP");
    wait_until(
        "the pop3 listener added by SIGHUP answers",
        Duration::from_secs(20),
        || {
            // A SIGHUP that ends serve (its default action, before serve
            // catches it) is the failure to tell apart from a slow reload.
            if let Some(status) = serve.exited() {
                panic!(
                    "serve ended ({status}) after SIGHUP instead of reloading:
{}",
                    serve.log()
                );
            }
            TcpStream::connect(("127.0.0.1", pop3)).is_ok()
        },
    );
    assert!(greeting(pop3).starts_with("+OK"));
    assert!(
        greeting(imap).starts_with("* OK"),
        "the imap listener survived the reload"
    );

    let status = serve.stop();
    assert!(status.success());
}

#[test]
fn bad_configuration_exits_2_with_line_and_field() {
    let env = cli();
    let config = env.path("mailcert.toml");
    std::fs::write(&config, "[[listener]]\nname = \"imap\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:99999\"\nbackend = \"127.0.0.1:1\"\n").unwrap();
    let out = env.output(&["serve", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 5") && err.contains("bind"), "{err}");
}

/// Runs a mailcert command on the test's store; returns stdout and stderr.
fn mailcert(env: &Cli, args: &[&str]) -> (String, String) {
    let run = env.ok(args);
    (run.stdout, run.stderr)
}

fn served(port: u16) -> String {
    served_thumbprint(port, None).unwrap_or_default()
}

#[test]
fn serve_never_brings_back_a_removed_init_certificate() {
    let env = cli();
    mailcert(&env, &["init", "--hostname", "mail.example.test"]);
    let (list, _) = mailcert(&env, &["list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let init = list[0]["thumbprint"].as_str().unwrap().to_string();
    mailcert(&env, &["remove", &init, "--force"]);

    let config = env.path("mailcert.toml");
    std::fs::write(&config, listener("imap", "imap", free_port())).unwrap();
    env.serve(&["--config", config.to_str().unwrap()]).stop();

    let (list, _) = mailcert(&env, &["list", "--json"]);
    assert_eq!(list.trim(), "[]", "no surprise certificate");
    let (log, _) = mailcert(&env, &["log", "--json"]);
    assert_eq!(log.matches("\"init\"").count(), 1, "{log}");
}

#[test]
fn replace_moves_a_pinned_listener_and_serve_follows_on_sighup() {
    let env = cli();
    mailcert(&env, &["init", "--hostname", "mail.example.test"]);
    let (list, _) = mailcert(&env, &["list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let old = list[0]["thumbprint"].as_str().unwrap().to_string();
    let (new, _) = mailcert(
        &env,
        &["new", "--self-signed", "--name", "mail.example.test"],
    );
    let new = new.trim().to_string();
    let port = free_port();
    let config = env.path("mailcert.toml");
    let text = format!(
        "# pinned while the old connector is migrated\n[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"mail.example.test\"\ncertificate = \"{}\" # the old one\n",
        &old[..8]
    );
    std::fs::write(&config, &text).unwrap();
    let serve = env.serve(&["--config", config.to_str().unwrap()]);
    assert_eq!(served(port), old);

    let (_, said) = mailcert(
        &env,
        &["replace", &old, &new, "--config", config.to_str().unwrap()],
    );
    assert!(
        said.contains("listener 'imaps'") && said.contains("SIGHUP"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        text.replace(&format!("\"{}\"", &old[..8]), &format!("\"{new}\""))
    );
    assert_eq!(
        served(port),
        old,
        "the running front end keeps its configuration until SIGHUP"
    );
    serve.signal("HUP");
    wait_until(
        "the pin rewritten by replace is served after SIGHUP",
        Duration::from_secs(20),
        || served(port) == new,
    );
    serve.stop();
}

#[test]
fn the_printed_commands_to_try_each_listener_work() {
    // The store named on the command line, as an administrator would.
    let env = cli().without_store();
    let store = env.p("store.db");
    let mailcert = |args: &[&str]| {
        let mut all = vec!["--store", &store];
        all.extend_from_slice(args);
        env.ok(&all).out().to_string()
    };
    mailcert(&["init", "--hostname", "mail.example.test"]);
    let other = mailcert(&["new", "--self-signed", "--name", "pop.example.test"]);
    mailcert(&["enable", other.lines().next().unwrap(), "--services", "pop"]);
    let (imap, pop3s) = (free_port(), free_port());
    let config = env.path("mailcert.toml");
    std::fs::write(
        &config,
        format!(
            "{}[[listener]]\nname = \"pop3s\"\nprotocol = \"pop3\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{pop3s}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"pop.example.test\"\n",
            listener("imap", "imap", imap)
        ),
    )
    .unwrap();
    let serve = Serve::start(
        env.command(&[
            "--store",
            &store,
            "serve",
            "--config",
            config.to_str().unwrap(),
        ]),
        &env.path("serve.log"),
    );
    let said = serve.said();
    // Two listeners, two certificates: two files, each written as told.
    let bin = std::path::Path::new(MAILCERT).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sh = |line: &str| {
        Command::new("sh")
            .args(["-c", line])
            .current_dir(env.dir())
            .env("PATH", &path)
            .stdin(Stdio::null())
            .output()
            .expect("sh")
    };
    let hints: Vec<&str> = said
        .lines()
        .filter_map(|l| l.trim().strip_prefix('(')?.strip_suffix(')'))
        .filter_map(|l| l.split_once(": ").map(|(_, command)| command))
        .collect();
    assert_eq!(hints.len(), 2, "{said}");
    for hint in hints {
        assert!(sh(hint).status.success(), "{hint}");
    }
    let tries: Vec<&str> = said
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("openssl s_client"))
        .collect();
    assert_eq!(tries.len(), 2, "{said}");
    for line in tries {
        let out = sh(&format!("{line} -verify_return_error -brief"));
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Verification: OK"), "{line}\n{text}\n{said}");
    }
}

/// A SIGHUP that moves serve to another store opens it off the threads
/// that serve connections: while the new database keeps the reload
/// waiting (here a port that accepts and never answers), handshakes on
/// the listeners go on. serve runs on one CPU, so that its runtime has a
/// single worker thread for a blocked reload to stall.
#[test]
fn a_reload_waiting_for_its_new_store_never_stalls_handshakes() {
    // The store is the configuration's.
    let env = cli().without_store();
    let port = free_port();
    let config = env.path("mailcert.toml");
    let listener = format!("[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"mail.example.test\"\n");
    std::fs::write(
        &config,
        format!("[store]\npath = \"store.db\"\n\n{listener}"),
    )
    .unwrap();
    let log = env.path("serve.log");
    let serve = Serve::start(
        env.wrapped(
            "taskset",
            &["-c", "0"],
            &["serve", "--config", config.to_str().unwrap()],
        ),
        &log,
    );
    let served = served_thumbprint(port, None).expect("a handshake");

    // A database that takes the connection and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let (connection, _) = silent.accept().unwrap();
        held_tx.send(()).unwrap();
        let _ = release_rx.recv();
        drop(connection);
    });
    std::fs::write(
        &config,
        format!("[store]\npath = \"postgres://mailcert@127.0.0.1:{silent_port}/mailcert?sslmode=disable&connect_timeout=300\"\nkey_file = \"fleet.key\"\n\n{listener}"),
    )
    .unwrap();
    serve.signal("HUP");
    if held_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        panic!(
            "the reload never connected to the new store:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    // The reload is still waiting for the database; a blocked reactor
    // would hold this handshake until the reload gave up.
    let during = served_thumbprint(port, None);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("SIGHUP: configuration"),
        "the reload had already ended when the handshake was served:\n{text}"
    );
    assert_eq!(during.as_deref(), Ok(served.as_str()));

    // The database hangs up: the reload fails, the old store stays.
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    wait_until(
        "serve to say the reload failed",
        Duration::from_secs(60),
        || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("configuration not reloaded, the previous one stays in use")
        },
    );
    assert_eq!(
        served_thumbprint(port, None).as_deref(),
        Ok(served.as_str())
    );
    serve.stop();
}
