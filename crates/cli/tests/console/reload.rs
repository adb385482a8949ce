//! SIGHUP and the console: serve starts the console once, so a changed
//! `[console]` is reported as needing a restart, and the console keeps
//! serving as it was.

use std::time::Duration;

use mailcert_testkit::{free_port, wait_until};

use super::support::Console;

#[test]
fn a_changed_console_section_is_reported_as_needing_a_restart() {
    let console = Console::start("");
    let as_started = std::fs::read_to_string(&console.config).unwrap();
    let moved = free_port();
    std::fs::write(
        &console.config,
        format!(
            "[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:{}\"\n\n[console]\nbind = \"127.0.0.1:{moved}\"\nidle_timeout = 60\n",
            console.redirect
        ),
    )
    .unwrap();
    console.serve.signal("HUP");
    wait_until("serve to log the reload", Duration::from_secs(30), || {
        console
            .serve
            .log()
            .contains("SIGHUP: configuration reloaded")
    });
    let log = console.serve.log();
    let expected = format!(
        "[console] changed (bind 127.0.0.1:{} -> 127.0.0.1:{moved}, idle_timeout 900s -> 60s) since serve started: needs a restart of mailcert serve; until then the console keeps serving on 127.0.0.1:{} with its old settings",
        console.port, console.port
    );
    assert!(log.contains(&expected), "expected {expected:?} in\n{log}");
    assert!(
        log.lines()
            .any(|line| line.contains("WARN") && line.contains("[console] changed")),
        "a setting that did not apply is a warning:\n{log}"
    );
    // As said: the console still answers where it was, and nothing
    // listens on the new address.
    console.login();
    assert!(std::net::TcpStream::connect(("127.0.0.1", moved)).is_err());

    // The section taken out: the console keeps running until a restart.
    std::fs::write(
        &console.config,
        format!(
            "[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:{}\"\n",
            console.redirect
        ),
    )
    .unwrap();
    console.serve.signal("HUP");
    wait_until(
        "serve to log the second reload",
        Duration::from_secs(30),
        || {
            console
                .serve
                .log()
                .matches("SIGHUP: configuration reloaded")
                .count()
                == 2
        },
    );
    // Compared with what the console runs with, not with the last
    // reload: still serving on its first address.
    let expected = format!(
        "[console] removed since serve started: needs a restart of mailcert serve; until then the console keeps serving on 127.0.0.1:{} with its old settings",
        console.port
    );
    assert!(
        console.serve.log().contains(&expected),
        "expected {expected:?} in\n{}",
        console.serve.log()
    );
    console.login();

    // Back as it started: nothing to restart for.
    std::fs::write(&console.config, as_started).unwrap();
    let notes_before = console.serve.log().matches("[console]").count();
    console.serve.signal("HUP");
    wait_until(
        "serve to log the third reload",
        Duration::from_secs(30),
        || {
            console
                .serve
                .log()
                .matches("SIGHUP: configuration reloaded")
                .count()
                == 3
        },
    );
    assert_eq!(
        console.serve.log().matches("[console]").count(),
        notes_before,
        "{}",
        console.serve.log()
    );
}
