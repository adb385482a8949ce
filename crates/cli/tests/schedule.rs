//! Staged rotation: `replace|enable|disable … --at TIME` kept in the
//! store, shown by `schedule list`, `list` and `show`, applied by `serve`
//! at its time without a reload (and after a restart of `serve`), a
//! change that fails then kept with its reason, `schedule cancel`.

use std::time::Duration;

use mailcert_testkit::{free_port, served_thumbprint, wait_for_port, wait_until, Cli, Serve};

const HOST: &str = "mail.example.test";

fn in_seconds(seconds: i64) -> String {
    mailcert_x509::time::rfc3339(time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds))
}

fn start(env: &Cli, config: &str, port: u16) -> Serve {
    let server = env.serve(&["--config", config]);
    wait_for_port(port);
    server
}

fn served(port: u16) -> String {
    served_thumbprint(port, Some(HOST)).unwrap_or_else(|e| format!("nothing served: {e}"))
}

fn scheduled(env: &Cli) -> Vec<serde_json::Value> {
    env.ok(&["schedule", "list", "--json"]).json()["scheduled"]
        .as_array()
        .expect("scheduled")
        .clone()
}

#[test]
fn a_scheduled_replace_takes_effect_at_its_time_across_a_restart() {
    let env = crate::cli();
    let old = env.init(HOST);
    let new = env.new_self_signed(&["--name", HOST]);
    let port = free_port();
    let config = env
        .write(
            "mailcert.toml",
            format!(
                "[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\nhostname = \"{HOST}\"\n"
            ),
        )
        .display()
        .to_string();
    let mut server = start(&env, &config, port);
    assert_eq!(served(port), old);

    // Bad times are refused with nothing stored.
    let before = env.snapshot();
    let past = env
        .run(&[
            "replace",
            &old,
            &new,
            "--at",
            "2020-01-01",
            "--config",
            &config,
        ])
        .fails_with(2);
    assert!(past.stderr.contains("not in the future"), "{}", past.stderr);
    let garbage = env
        .run(&["replace", &old, &new, "--at", "next tuesday"])
        .fails_with(2);
    assert!(garbage.stderr.contains("--at"), "{}", garbage.stderr);
    assert_eq!(env.snapshot(), before);

    let at = in_seconds(12);
    let said = env
        .ok(&[
            "replace",
            &old[..8],
            &new[..8],
            "--at",
            &at,
            "--config",
            &config,
        ])
        .all();
    assert!(said.contains("scheduled"), "{said}");
    let items = scheduled(&env);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["action"], "replace");
    assert_eq!(items[0]["old"], old.as_str(), "full thumbprints are kept");
    assert_eq!(items[0]["new"], new.as_str());
    assert_eq!(items[0]["at"], at.as_str());
    let id = items[0]["id"].as_str().expect("id").to_string();
    let shown = env.show(&new);
    assert!(
        shown["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w
                .as_str()
                .is_some_and(|w| w.contains(&id) && w.contains(&at))),
        "show says what is scheduled: {shown:#}"
    );
    let which = env.ok(&["which", "imap", "--name", HOST, "--json"]).json();
    assert_eq!(which["scheduled"][0]["id"], id.as_str(), "{which:#}");
    let listed = env.list();
    let old_listed = listed
        .iter()
        .find(|c| c["thumbprint"] == old.as_str())
        .expect("old is listed");
    assert!(
        old_listed["warnings"].to_string().contains(&id),
        "list says what is scheduled: {old_listed:#}"
    );

    // serve restarts before the time; the change still happens, with no reload.
    server.stop();
    server = start(&env, &config, port);
    assert_eq!(served(port), old, "not before its time");
    wait_until(
        "the scheduled replace is served",
        Duration::from_secs(40),
        || served(port) == new,
    );
    assert!(scheduled(&env).is_empty());
    let log = env.ok(&["log"]).all();
    assert!(log.contains(&format!("applied {id}")), "{log}");
    assert!(
        server
            .log()
            .contains(&format!("applied scheduled change {id}")),
        "{}",
        server.log()
    );

    // A change that cannot be made at its time is not made, and says why.
    let gone = env.new_self_signed(&["--name", HOST]);
    env.ok(&[
        "enable",
        &gone,
        "--services",
        "imap",
        "--at",
        &in_seconds(3),
    ]);
    env.ok(&["remove", &gone]);
    wait_until(
        "the failed change is reported",
        Duration::from_secs(30),
        || {
            scheduled(&env).first().is_some_and(|s| {
                s["failed"]
                    .as_str()
                    .is_some_and(|r| r.contains("no certificate"))
            })
        },
    );
    assert_eq!(served(port), new, "nothing changed");
    let failed = scheduled(&env);
    let failed_id = failed[0]["id"].as_str().expect("id").to_string();
    let text = env.ok(&["schedule", "list"]).all();
    assert!(text.contains("NOT APPLIED"), "{text}");
    env.ok(&["schedule", "cancel", &failed_id]);
    assert!(scheduled(&env).is_empty());
    let unknown = env.run(&["schedule", "cancel", "NOPE"]).fails_with(2);
    assert!(
        unknown.stderr.contains("schedule list"),
        "{}",
        unknown.stderr
    );

    // A scheduled disable, cancelled before its time, never happens.
    env.ok(&[
        "disable",
        &new,
        "--services",
        "imap",
        "--at",
        &in_seconds(3),
    ]);
    let id = scheduled(&env)[0]["id"].as_str().expect("id").to_string();
    env.ok(&["schedule", "cancel", &id[..4]]);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(served(port), new);
    drop(server);
}

#[test]
fn every_node_of_a_fleet_switches_at_the_time_and_one_makes_the_change() {
    use mailcert_testkit::fleet::{wait_until_served, Node, NodeSpec};
    use mailcert_testkit::Postgres;

    let db = Postgres::shared().database("schedule");
    let dir = mailcert_testkit::temp_dir();
    let key = dir.path().join("store.key");
    let admin = Cli::in_dir(crate::MAILCERT, dir.path())
        .with_store(&db.url, Some(&key))
        .with_env("MAILCERT_NODE", "ex1");
    admin.ok(&["init"]);
    let nodes: Vec<Node> = ["ex1", "ex2"]
        .iter()
        .map(|name| {
            Node::start(
                std::path::Path::new(crate::MAILCERT),
                dir.path(),
                &NodeSpec::new(name, &db.url, &key),
            )
        })
        .collect();
    let new = admin.new_self_signed(&["--name", "mail.contoso.com"]);
    let before: Vec<String> = nodes
        .iter()
        .map(|n| n.serves(Some("mail.contoso.com")).expect("a handshake"))
        .collect();
    assert!(!before.contains(&new));

    admin.ok(&["enable", &new, "--services", "imap", "--at", &in_seconds(8)]);
    let id = admin.ok(&["schedule", "list", "--json"]).json()["scheduled"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    for node in &nodes {
        wait_until_served(node, Some("mail.contoso.com"), &new);
    }
    let log = admin.ok(&["log", "--json", "--limit", "100000"]).stdout;
    assert_eq!(
        log.matches(&format!("applied {id}")).count(),
        1,
        "made once for the fleet: {log}"
    );
    assert!(
        admin.ok(&["schedule", "list", "--json"]).json()["scheduled"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}
