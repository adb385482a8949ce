//! `mailcert serve` started as root binds its listeners (a port below
//! 1024 among them), then runs as the `[process]` user: the kernel's view
//! of the process (/proc/PID/status) shows the dropped uid and gid,
//! clients are still served, and reloads still work. A store that user
//! could not use is refused at start with the fix; `serve --check` says
//! the same without starting; the descriptor limit is raised and a
//! limit too small for `max_connections` is named.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mailcert_testkit::{free_port, temp_dir, wait_until};

/// Debian's unprivileged user and group.
const USER: &str = "nobody";
const UID: u32 = 65534;

fn listener(name: &str, port: u16) -> String {
    format!("[[listener]]\nname = \"{name}\"\nprotocol = \"imap\"\ntls = \"starttls-required\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"mail.example.test\"\n\n")
}

/// A port below 1024 that nothing listens on.
fn privileged_port() -> u16 {
    (700..1024)
        .rev()
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 1024")
}

fn greeting(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    let _ = s.write_all(b"a LOGOUT\r\n");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn mailcert(store: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailcert"));
    cmd.args(args)
        .env("MAILCERT_STORE", store)
        .env_remove("MAILCERT_STORE_KEY_FILE")
        .env_remove("MAILCERT_CONFIG")
        .stdin(Stdio::null());
    cmd
}

/// Starts serve and waits until it serves; its log goes to `log`.
fn serve(cmd: &mut Command, log: &Path) -> Child {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("mailcert serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    while !said.contains("SIGHUP") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            panic!(
                "serve ended before serving: {said}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        said.push_str(&line);
    }
    child
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    wait_until("serve exits", Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
}

fn status_ids(pid: u32, field: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .expect(field)
        .split_whitespace()
        .map(|n| n.parse().expect("id"))
        .collect()
}

#[test]
fn serve_binds_as_root_then_runs_as_the_process_user() {
    let dir = temp_dir();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    chown(&state, Some(UID), Some(UID)).expect("chown (run tests as root)");
    let store = state.join("store.db");
    let low = privileged_port();
    let config = dir.path().join("mailcert.toml");
    let process = format!("[process]\nuser = \"{USER}\"\n\n");
    std::fs::write(&config, format!("{process}{}", listener("imap", low))).unwrap();

    let check = mailcert(&store, &["serve", "--check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let said = String::from_utf8_lossy(&check.stdout);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("configuration OK"), "{said}");

    let log = dir.path().join("serve.log");
    let child = serve(mailcert(&store, &["serve", "--config"]).arg(&config), &log);
    let pid = child.id();
    assert_eq!(
        status_ids(pid, "Uid:"),
        [UID; 4],
        "real, effective, saved, fs uid"
    );
    assert_eq!(status_ids(pid, "Gid:"), [UID; 4]);
    assert_eq!(
        status_ids(pid, "Groups:"),
        [UID],
        "no supplementary group of root's"
    );
    let text = greeting(low);
    assert!(
        text.starts_with("* OK [CAPABILITY IMAP4rev1 STARTTLS"),
        "{text}"
    );
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&store).unwrap());
    assert_eq!(
        owner, UID,
        "the store was created by the user serve runs as"
    );

    // A reload still reads the configuration and adds a listener.
    let high = free_port();
    std::fs::write(
        &config,
        format!(
            "{process}{}{}",
            listener("imap", low),
            listener("imap2", high)
        ),
    )
    .unwrap();
    Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    wait_until(
        "the reload adds a listener",
        Duration::from_secs(20),
        || TcpStream::connect(("127.0.0.1", high)).is_ok(),
    );
    assert!(greeting(high).starts_with("* OK"));
    assert!(greeting(low).starts_with("* OK"));
    stop(child);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!("running as user {USER} (uid {UID}")),
        "{log}"
    );
    assert!(log.contains("configuration reloaded"), "{log}");
}

#[test]
fn a_store_the_process_user_cannot_use_is_refused_with_the_fix() {
    let dir = temp_dir();
    let store = dir.path().join("private/store.db");
    let status = mailcert(&store, &["init", "--hostname", "mail.example.test"])
        .output()
        .unwrap();
    assert!(status.status.success());
    let config = dir.path().join("mailcert.toml");
    let port = free_port();
    std::fs::write(
        &config,
        format!("[process]\nuser = \"{USER}\"\n\n{}", listener("imap", port)),
    )
    .unwrap();
    for args in [
        &["serve", "--check", "--config"][..],
        &["serve", "--config"][..],
    ] {
        let out = mailcert(&store, args).arg(&config).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("user nobody")
                && err.contains("chown nobody:nogroup")
                && err.contains("store.db"),
            "{args:?}: {err}"
        );
    }
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing is served"
    );

    std::fs::write(
        &config,
        format!(
            "[process]\nuser = \"no-such-user\"\n\n{}",
            listener("imap", port)
        ),
    )
    .unwrap();
    let out = mailcert(&store, &["serve", "--check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no such user") && err.contains("useradd"),
        "{err}"
    );
}

#[test]
fn serve_check_names_a_listener_without_a_certificate() {
    let dir = temp_dir();
    let store = dir.path().join("store.db");
    let init = mailcert(&store, &["init", "--hostname", "mail.example.test"])
        .output()
        .unwrap();
    assert!(init.status.success());
    let config = dir.path().join("mailcert.toml");
    std::fs::write(
        &config,
        format!(
            "{}\ncertificate = \"ABCDEF\"\n",
            listener("imap", free_port()).trim_end()
        ),
    )
    .unwrap();
    let out = mailcert(&store, &["serve", "--check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("certificate = \"ABCDEF\" matches no usable certificate"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn the_descriptor_limit_is_raised_and_a_small_one_is_named() {
    let dir = temp_dir();
    let store = dir.path().join("store.db");
    let config = dir.path().join("mailcert.toml");
    std::fs::write(&config, listener("imap", free_port())).unwrap();
    let log = dir.path().join("raised.log");
    let mut cmd = Command::new("prlimit");
    cmd.args([
        "--nofile=256:4096",
        env!("CARGO_BIN_EXE_mailcert"),
        "serve",
        "--config",
    ])
    .arg(&config)
    .env("MAILCERT_STORE", &store)
    .stdin(Stdio::null());
    let child = serve(&mut cmd, &log);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().collect::<Vec<_>>()[3..5],
        ["4096", "4096"],
        "{open_files}"
    );
    stop(child);
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("raised the soft limit from 256 to 4096"),
        "{said}"
    );

    let log = dir.path().join("small.log");
    let mut cmd = Command::new("prlimit");
    cmd.args([
        "--nofile=128:128",
        env!("CARGO_BIN_EXE_mailcert"),
        "serve",
        "--config",
    ])
    .arg(&config)
    .env("MAILCERT_STORE", &store)
    .stdin(Stdio::null());
    let child = serve(&mut cmd, &log);
    // At the limit the descriptors allow, clients are still told in the
    // protocol, never left hanging.
    let port: u16 = std::fs::read_to_string(&config)
        .unwrap()
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|p| p.parse().ok())
        .expect("the listener's port");
    let mut open = Vec::new();
    let mut answers = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).expect("an answer, not a hang");
        answers.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        open.push(s);
    }
    let greeted = answers.iter().filter(|a| a.starts_with("* OK")).count();
    let refused = answers
        .iter()
        .filter(|a| a.starts_with("* BYE [UNAVAILABLE]"))
        .count();
    assert_eq!((greeted, refused), (31, 9), "{answers:?}");
    drop(open);
    stop(child);
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("limits.max_connections = 10000 needs about")
            && said.contains("from 31 connections on"),
        "{said}"
    );
}
