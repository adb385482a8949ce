//! `mailcert serve` as a process: creates its store on first start, says
//! what it listens on, rereads its configuration on SIGHUP, stops on
//! SIGTERM, and refuses a bad configuration with the line and field.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use mailcert_testkit::{free_port, temp_dir, wait_until};

fn listener(name: &str, protocol: &str, port: u16) -> String {
    format!("[[listener]]\nname = \"{name}\"\nprotocol = \"{protocol}\"\ntls = \"starttls-required\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"mail.example.test\"\n\n")
}

fn greeting(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    let _ = s.write_all(b"a LOGOUT\r\nQUIT\r\n");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn serve_starts_reloads_and_stops() {
    let dir = temp_dir();
    let (imap, pop3) = (free_port(), free_port());
    let config = dir.path().join("mailcert.toml");
    std::fs::write(&config, listener("imap", "imap", imap)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailcert"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("MAILCERT_STORE", dir.path().join("store.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mailcert serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    while !said.contains("SIGHUP") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        said.push_str(&line);
    }
    assert!(
        said.contains(&format!("127.0.0.1:{imap}")) && said.contains("-starttls imap"),
        "{said}"
    );
    assert!(
        dir.path().join("store.db").exists(),
        "the store was created"
    );
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
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    wait_until(
        "the pop3 listener added by SIGHUP answers",
        Duration::from_secs(20),
        || {
            // A SIGHUP that ends serve (its default action, before serve
            // catches it) is the failure to tell apart from a slow reload.
            if let Ok(Some(status)) = child.try_wait() {
                let mut log = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut log);
                }
                panic!("serve ended ({status}) after SIGHUP instead of reloading:\n{log}");
            }
            TcpStream::connect(("127.0.0.1", pop3)).is_ok()
        },
    );
    assert!(greeting(pop3).starts_with("+OK"));
    assert!(
        greeting(imap).starts_with("* OK"),
        "the imap listener survived the reload"
    );

    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut status = None;
    wait_until(
        "mailcert serve exits after SIGTERM",
        Duration::from_secs(30),
        || {
            status = child.try_wait().unwrap();
            status.is_some()
        },
    );
    assert!(status.unwrap().success());
}

#[test]
fn bad_configuration_exits_2_with_line_and_field() {
    let dir = temp_dir();
    let config = dir.path().join("mailcert.toml");
    std::fs::write(&config, "[[listener]]\nname = \"imap\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:99999\"\nbackend = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailcert"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("MAILCERT_STORE", dir.path().join("store.db"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 5") && err.contains("bind"), "{err}");
}

/// Runs a mailcert command on the store in `dir`; returns stdout and stderr.
fn mailcert(dir: &std::path::Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcert"))
        .args(args)
        .env("MAILCERT_STORE", dir.join("store.db"))
        .env_remove("MAILCERT_CONFIG")
        .output()
        .expect("mailcert");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "mailcert {args:?}: {stderr}");
    (stdout, stderr)
}

/// Starts `mailcert serve` and waits until it says it is serving.
fn start_serve(dir: &std::path::Path, config: &std::path::Path) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailcert"))
        .args(["serve", "--config"])
        .arg(config)
        .env("MAILCERT_STORE", dir.join("store.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mailcert serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    while !said.contains("SIGHUP") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("mailcert serve ended before serving: {said}");
        }
        said.push_str(&line);
    }
    child
}

fn stop_serve(mut child: std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    wait_until("mailcert serve exits", Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
}

/// The SHA-1 thumbprint of the certificate a client without SNI gets,
/// as OpenSSL sees it.
fn served_thumbprint(port: u16) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect 127.0.0.1:{port} -noservername </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha1"
        ))
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .replace(':', "")
}

#[test]
fn serve_never_brings_back_a_removed_init_certificate() {
    let dir = temp_dir();
    mailcert(dir.path(), &["init", "--hostname", "mail.example.test"]);
    let (list, _) = mailcert(dir.path(), &["list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let init = list[0]["thumbprint"].as_str().unwrap().to_string();
    mailcert(dir.path(), &["remove", &init, "--force"]);

    let config = dir.path().join("mailcert.toml");
    std::fs::write(&config, listener("imap", "imap", free_port())).unwrap();
    stop_serve(start_serve(dir.path(), &config));

    let (list, _) = mailcert(dir.path(), &["list", "--json"]);
    assert_eq!(list.trim(), "[]", "no surprise certificate");
    let (log, _) = mailcert(dir.path(), &["log", "--json"]);
    assert_eq!(log.matches("\"init\"").count(), 1, "{log}");
}

#[test]
fn replace_moves_a_pinned_listener_and_serve_follows_on_sighup() {
    let dir = temp_dir();
    mailcert(dir.path(), &["init", "--hostname", "mail.example.test"]);
    let (list, _) = mailcert(dir.path(), &["list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let old = list[0]["thumbprint"].as_str().unwrap().to_string();
    let (new, _) = mailcert(
        dir.path(),
        &["new", "--self-signed", "--name", "mail.example.test"],
    );
    let new = new.trim().to_string();
    let port = free_port();
    let config = dir.path().join("mailcert.toml");
    let text = format!(
        "# pinned while the old connector is migrated\n[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"mail.example.test\"\ncertificate = \"{}\" # the old one\n",
        &old[..8]
    );
    std::fs::write(&config, &text).unwrap();
    let child = start_serve(dir.path(), &config);
    assert_eq!(served_thumbprint(port), old);

    let (_, said) = mailcert(
        dir.path(),
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
        served_thumbprint(port),
        old,
        "the running front end keeps its configuration until SIGHUP"
    );
    assert!(Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    wait_until(
        "the pin rewritten by replace is served after SIGHUP",
        Duration::from_secs(20),
        || served_thumbprint(port) == new,
    );
    stop_serve(child);
}

#[test]
fn the_printed_commands_to_try_each_listener_work() {
    let dir = temp_dir();
    let store = dir.path().join("store.db");
    let mailcert = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mailcert"))
            .arg("--store")
            .arg(&store)
            .args(args)
            .output()
            .expect("mailcert");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    mailcert(&["init", "--hostname", "mail.example.test"]);
    let other = mailcert(&["new", "--self-signed", "--name", "pop.example.test"]);
    mailcert(&["enable", other.lines().next().unwrap(), "--services", "pop"]);
    let (imap, pop3s) = (free_port(), free_port());
    let config = dir.path().join("mailcert.toml");
    std::fs::write(
        &config,
        format!(
            "{}[[listener]]\nname = \"pop3s\"\nprotocol = \"pop3\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{pop3s}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"pop.example.test\"\n",
            listener("imap", "imap", imap)
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailcert"))
        .arg("--store")
        .arg(&store)
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mailcert serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    while !said.contains("SIGHUP") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        said.push_str(&line);
    }
    // Two listeners, two certificates: two files, each written as told.
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_mailcert"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sh = |line: &str| {
        Command::new("sh")
            .args(["-c", line])
            .current_dir(dir.path())
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
    let _ = child.kill();
    let _ = child.wait();
}

/// A SIGHUP that moves serve to another store opens it off the threads
/// that serve connections: while the new database keeps the reload
/// waiting (here a port that accepts and never answers), handshakes on
/// the listeners go on. serve runs on one CPU, so that its runtime has a
/// single worker thread for a blocked reload to stall.
#[test]
fn a_reload_waiting_for_its_new_store_never_stalls_handshakes() {
    let dir = temp_dir();
    let port = free_port();
    let config = dir.path().join("mailcert.toml");
    let listener = format!("[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"mail.example.test\"\n");
    std::fs::write(
        &config,
        format!("[store]\npath = \"store.db\"\n\n{listener}"),
    )
    .unwrap();
    let log = dir.path().join("serve.log");
    let mut child = KillOnDrop(
        Command::new("taskset")
            .args([
                "-c",
                "0",
                env!("CARGO_BIN_EXE_mailcert"),
                "serve",
                "--config",
            ])
            .arg(&config)
            .env_remove("MAILCERT_STORE")
            .env_remove("MAILCERT_STORE_KEY_FILE")
            .env_remove("MAILCERT_CONFIG")
            .env("HOME", dir.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("mailcert serve"),
    );
    let child = &mut child.0;
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    while !said.contains("SIGHUP") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            panic!(
                "serve ended: {said}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        said.push_str(&line);
    }
    let served = mailcert_testkit::fleet::served_thumbprint(port, None).expect("a handshake");

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
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    if held_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        panic!(
            "the reload never connected to the new store:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    // The reload is still waiting for the database; a blocked reactor
    // would hold this handshake until the reload gave up.
    let during = mailcert_testkit::fleet::served_thumbprint(port, None);
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
        mailcert_testkit::fleet::served_thumbprint(port, None).as_deref(),
        Ok(served.as_str())
    );
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    wait_until("mailcert serve exits", Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
