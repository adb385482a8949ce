//! `mailcert serve` started as root binds its listeners (a port below
//! 1024 among them), then runs as the `[process]` user: the kernel's view
//! of the process (/proc/PID/status) shows the dropped uid and gid,
//! clients are still served, and reloads still work. A store that user
//! could not use is refused at start with the fix; `serve --check` says
//! the same without starting; the descriptor limit is raised and a
//! limit too small for `max_connections` is named.

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mailcert_testkit::{free_port, wait_for_port, Cli, Serve};

use crate::serve::greeting;
use crate::{cli, MAILCERT};

/// Debian's unprivileged user and group.
const USER: &str = "nobody";
const UID: u32 = 65534;

fn listener(name: &str, port: u16) -> String {
    crate::serve::listener(name, "imap", port)
}

/// A port below 1024 that nothing listens on.
fn privileged_port() -> u16 {
    (700..1024)
        .rev()
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 1024")
}

/// `mailcert ARGS` on `store`, in the test's directory.
fn mailcert(env: &Cli, store: &Path, args: &[&str]) -> Command {
    Cli::in_dir(MAILCERT, env.dir())
        .with_store(store, None)
        .command(args)
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
    let env = cli();
    let state = env.dir().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    chown(&state, Some(UID), Some(UID)).expect("chown (run tests as root)");
    let store = state.join("store.db");
    let low = privileged_port();
    let config = env.dir().join("mailcert.toml");
    let process = format!("[process]\nuser = \"{USER}\"\n\n");
    std::fs::write(&config, format!("{process}{}", listener("imap", low))).unwrap();

    let check = mailcert(&env, &store, &["serve", "--check", "--config"])
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

    let log = env.dir().join("serve.log");
    let mut command = mailcert(&env, &store, &["serve", "--config"]);
    command.arg(&config);
    let child = Serve::start(command, &log);
    let pid = child.pid();
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
    child.signal("HUP");
    // The reload adds a listener.
    wait_for_port(high);
    assert!(greeting(high).starts_with("* OK"));
    assert!(greeting(low).starts_with("* OK"));
    child.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!("running as user {USER} (uid {UID}")),
        "{log}"
    );
    assert!(log.contains("configuration reloaded"), "{log}");
}

#[test]
fn a_store_the_process_user_cannot_use_is_refused_with_the_fix() {
    let env = cli();
    let store = env.dir().join("private/store.db");
    let status = mailcert(&env, &store, &["init", "--hostname", "mail.example.test"])
        .output()
        .unwrap();
    assert!(status.status.success());
    let config = env.dir().join("mailcert.toml");
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
        let out = mailcert(&env, &store, args).arg(&config).output().unwrap();
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
    let out = mailcert(&env, &store, &["serve", "--check", "--config"])
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
    let env = cli();
    let store = env.dir().join("store.db");
    let init = mailcert(&env, &store, &["init", "--hostname", "mail.example.test"])
        .output()
        .unwrap();
    assert!(init.status.success());
    let config = env.dir().join("mailcert.toml");
    std::fs::write(
        &config,
        format!(
            "{}\ncertificate = \"ABCDEF\"\n",
            listener("imap", free_port()).trim_end()
        ),
    )
    .unwrap();
    let out = mailcert(&env, &store, &["serve", "--check", "--config"])
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
    let env = cli();
    let config = env.dir().join("mailcert.toml");
    std::fs::write(&config, listener("imap", free_port())).unwrap();
    let log = env.dir().join("raised.log");
    let command = env.wrapped(
        "prlimit",
        &["--nofile=256:4096"],
        &["serve", "--config", config.to_str().unwrap()],
    );
    let child = Serve::start(command, &log);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.pid())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().collect::<Vec<_>>()[3..5],
        ["4096", "4096"],
        "{open_files}"
    );
    child.stop();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("raised the soft limit from 256 to 4096"),
        "{said}"
    );

    let log = env.dir().join("small.log");
    let command = env.wrapped(
        "prlimit",
        &["--nofile=128:128"],
        &["serve", "--config", config.to_str().unwrap()],
    );
    let child = Serve::start(command, &log);
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
    child.stop();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("limits.max_connections = 10000 needs about")
            && said.contains("from 31 connections on"),
        "{said}"
    );
}
