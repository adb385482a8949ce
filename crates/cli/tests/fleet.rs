//! A fleet through the binary: `mailcert serve` nodes sharing one
//! PostgreSQL store, changed through one node's command line and looked
//! at by real TLS clients (OpenSSL's s_client, Python's ssl; never a
//! resumed session), and `mailcert fleet` telling drift and silence.
//!
//! One PostgreSQL cluster serves the whole binary (each test has a
//! database of its own); the test that stops and restarts the server has
//! a cluster of its own, so that the others keep theirs.

use std::path::{Path, PathBuf};
use std::process::Command;

use mailcert_testkit::fleet::{eventually, wait_until_served, Handshaker, Node, NodeSpec};
use mailcert_testkit::{
    temp_dir, Cli, Pebble, PebbleOptions, PgDatabase, Pki, Postgres, Run, TempDir,
};

use crate::MAILCERT;

/// One database, its key file, and the nodes' folders.
struct Fleet {
    dir: TempDir,
    db: PgDatabase,
    url: String,
    key: PathBuf,
}

impl Fleet {
    /// A fresh database on the binary's shared cluster.
    fn new(label: &str) -> Fleet {
        Fleet::on(Postgres::shared(), label)
    }

    fn on(pg: &Postgres, label: &str) -> Fleet {
        let db = pg.database(label);
        let dir = temp_dir();
        Fleet {
            key: dir.path().join("store.key"),
            url: db.url.clone(),
            db,
            dir,
        }
    }

    /// `mailcert ARGS` as run on `node` (MAILCERT_NODE), on this store.
    fn command(&self, node: &str, args: &[&str]) -> Command {
        Cli::in_dir(MAILCERT, self.dir.path())
            .with_store(&self.url, Some(&self.key))
            .with_env("MAILCERT_NODE", node)
            .command(args)
    }

    fn cli(&self, node: &str, args: &[&str]) -> Run {
        Run::from(self.command(node, args).output().expect("run mailcert"))
    }

    fn spec(&self, node: &str) -> NodeSpec {
        NodeSpec::new(node, &self.url, &self.key)
    }

    fn start(&self, spec: &NodeSpec) -> Node {
        Node::start(Path::new(MAILCERT), self.dir.path(), spec)
    }

    /// Starts the nodes side by side (each start waits for its store).
    fn start_all(&self, specs: &[NodeSpec]) -> Vec<Node> {
        std::thread::scope(|scope| {
            let started: Vec<_> = specs
                .iter()
                .map(|spec| scope.spawn(move || self.start(spec)))
                .collect();
            started
                .into_iter()
                .map(|s| s.join().expect("a node started"))
                .collect()
        })
    }

    /// `mailcert fleet --json` and its exit code.
    fn fleet(&self) -> (i32, serde_json::Value) {
        let run = self.cli("ex1", &["fleet", "--json"]);
        assert!(
            run.code == 0 || run.code == 1,
            "fleet: exit {}\n{}\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        (run.code, run.json())
    }

    /// Waits until `fleet --json` shows every node of `nodes` in sync on
    /// every listener, with exit 0.
    fn wait_in_sync(&self, nodes: &[Node]) {
        let mut last = serde_json::Value::Null;
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        let in_sync = |report: &serde_json::Value| {
            names.iter().all(|name| {
                report["nodes"].as_array().is_some_and(|all| {
                    all.iter().any(|n| {
                        n["node"] == *name
                            && n["silent"] == false
                            && n["listeners"].as_array().is_some_and(|ls| {
                                ls.len() == 2 && ls.iter().all(|l| l["in_sync"] == true)
                            })
                    })
                })
            })
        };
        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            eventually("every node in sync in `mailcert fleet`", || {
                let (code, report) = self.fleet();
                let ok = code == 0 && in_sync(&report);
                last = report;
                ok
            })
        }));
        if waited.is_err() {
            panic!("fleet never in sync: {last:#}");
        }
    }

    fn thumbprint_of(&self, run: Run) -> String {
        run.ok().first_line()
    }
}

/// A PEM file with a leaf, its key and the intermediate, as a CA's
/// customer would import it.
fn bundle(pki: &Pki, label: &str, names: &[&str]) -> PathBuf {
    let leaf = pki.leaf(label, names, "ec");
    let path = pki.dir.join(format!("{label}-bundle.pem"));
    let text: String = [&leaf.cert, &leaf.key, &leaf.chain]
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("a PKI file"))
        .collect();
    std::fs::write(&path, text).expect("the bundle");
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Every node serves `thumbprint` to IMAPS clients asking for `sni`.
fn served_everywhere(nodes: &[Node], sni: Option<&str>, thumbprint: &str) {
    for node in nodes {
        wait_until_served(node, sni, thumbprint);
    }
}

#[test]
fn a_change_through_one_node_is_served_by_every_node() {
    let fleet = Fleet::new("changes");
    let pki = Pki::new(&fleet.dir.path().join("pki"));
    // The first node's administrator creates the store.
    let text = fleet.cli("ex1", &["init"]).ok().stderr;
    assert!(text.contains("ex1"), "{text}");
    fleet
        .cli("ex1", &["trust", "add", path_str(&pki.root)])
        .ok();
    let nodes = fleet.start_all(&[fleet.spec("ex1"), fleet.spec("ex2"), fleet.spec("ex3")]);

    // Each node has its own self-signed certificate, for its own name,
    // bound to it alone.
    let own: Vec<String> = nodes
        .iter()
        .map(|n| n.serves(None).expect("a handshake"))
        .collect();
    for (node, thumb) in nodes.iter().zip(&own) {
        let shown = fleet.cli("ex1", &["show", thumb, "--json"]).ok().json();
        assert_eq!(shown["names"][0], node.name.as_str(), "{shown}");
        let bound: Vec<&serde_json::Value> = shown["bindings"]
            .as_array()
            .expect("bindings")
            .iter()
            .collect();
        assert!(
            !bound.is_empty() && bound.iter().all(|b| b["node"] == node.name.as_str()),
            "{shown}"
        );
    }
    assert!(own[0] != own[1] && own[1] != own[2] && own[0] != own[2]);
    fleet.wait_in_sync(&nodes);

    // import + enable on every node.
    let first = bundle(
        &pki,
        "first",
        &["mail.contoso.com", "autodiscover.contoso.com"],
    );
    let first = fleet.thumbprint_of(fleet.cli("ex1", &["import", path_str(&first)]));
    fleet
        .cli("ex1", &["enable", &first, "--services", "imap,https"])
        .ok();
    served_everywhere(&nodes, None, &first);
    served_everywhere(&nodes, Some("mail.contoso.com"), &first);
    for node in &nodes {
        let https = mailcert_testkit::served_thumbprint(node.https, None);
        assert_eq!(https.as_deref(), Ok(first.as_str()), "{}", node.name);
    }
    fleet.wait_in_sync(&nodes);

    // replace: every binding moves, on every node.
    let second = bundle(
        &pki,
        "second",
        &["mail.contoso.com", "autodiscover.contoso.com"],
    );
    let second = fleet.thumbprint_of(fleet.cli("ex1", &["import", path_str(&second)]));
    fleet.cli("ex1", &["replace", &first, &second]).ok();
    served_everywhere(&nodes, None, &second);

    // renew (a self-signed one, in place) and remove.
    let legacy = fleet.thumbprint_of(fleet.cli(
        "ex1",
        &["new", "--self-signed", "--name", "legacy.contoso.com"],
    ));
    fleet
        .cli("ex1", &["enable", &legacy, "--services", "imap"])
        .ok();
    served_everywhere(&nodes, Some("legacy.contoso.com"), &legacy);
    let renewed = fleet.thumbprint_of(fleet.cli("ex1", &["renew", &legacy]));
    assert_ne!(renewed, legacy);
    served_everywhere(&nodes, Some("legacy.contoso.com"), &renewed);
    fleet.cli("ex1", &["remove", &renewed, "--force"]).ok();
    served_everywhere(&nodes, Some("legacy.contoso.com"), &second);
    fleet.wait_in_sync(&nodes);

    // disable: each node falls back to its own certificate.
    fleet
        .cli("ex1", &["disable", &second, "--services", "imap"])
        .ok();
    for (node, thumb) in nodes.iter().zip(&own) {
        wait_until_served(node, None, thumb);
    }
    // A binding for one node reaches that node only.
    fleet
        .cli(
            "ex1",
            &["enable", &second, "--services", "imap", "--node", "ex2"],
        )
        .ok();
    wait_until_served(&nodes[1], None, &second);
    for i in [0, 2] {
        assert_eq!(nodes[i].serves(None).as_deref(), Ok(own[i].as_str()));
    }
    let which = fleet
        .cli("ex1", &["which", "imap", "--node", "ex2", "--json"])
        .ok()
        .json();
    assert!(which.to_string().contains(&second), "{which}");
    fleet.wait_in_sync(&nodes);

    // Every change is in the audit log with the node it came from.
    let log = fleet
        .cli("ex3", &["log", "--json", "--limit", "1000"])
        .ok()
        .json();
    let entries = log.as_array().expect("log entries");
    assert!(
        entries
            .iter()
            .filter(|e| e["action"] != "init")
            .all(|e| e["node"] == "ex1"),
        "{log:#}"
    );
}

#[test]
fn fleet_exits_1_on_drift_and_on_a_silent_node() {
    let fleet = Fleet::new("drift");
    let pki = Pki::new(&fleet.dir.path().join("pki"));
    fleet.cli("ex1", &["init"]).ok();
    fleet
        .cli("ex1", &["trust", "add", path_str(&pki.root)])
        .ok();
    let mail = bundle(&pki, "mail", &["mail.contoso.com"]);
    let mail = fleet.thumbprint_of(fleet.cli("ex1", &["import", path_str(&mail)]));
    fleet
        .cli("ex1", &["enable", &mail, "--services", "imap,https"])
        .ok();
    let old = bundle(&pki, "old", &["mail.contoso.com"]);
    let old = fleet.thumbprint_of(fleet.cli("ex1", &["import", path_str(&old)]));

    let mut ex3 = fleet.spec("ex3");
    ex3.heartbeat_secs = 1;
    let mut nodes = fleet.start_all(&[fleet.spec("ex1"), fleet.spec("ex2"), ex3]);
    served_everywhere(&nodes, None, &mail);
    fleet.wait_in_sync(&nodes);
    let run = fleet.cli("ex1", &["fleet"]).ok();
    assert!(
        run.stdout.contains("ex2") && run.stdout.contains("imaps"),
        "{}",
        run.stdout
    );

    // ex2's configuration pins its IMAP listener to the old certificate:
    // the store says `mail`, ex2 serves `old`.
    drop(nodes.remove(1));
    let mut pinned = fleet.spec("ex2");
    pinned.pin = Some(old.clone());
    nodes.insert(1, fleet.start(&pinned));
    wait_until_served(&nodes[1], None, &old);
    let mut report = serde_json::Value::Null;
    eventually("fleet to report ex2's pinned listener", || {
        let (code, r) = fleet.fleet();
        report = r;
        code == 1
            && report["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|n| n["node"] == "ex2" && n["listeners"].to_string().contains(&old))
    });
    let ex2 = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "ex2")
        .unwrap();
    let imaps = ex2["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["listener"] == "imaps")
        .unwrap();
    assert_eq!(imaps["serving"], old.as_str(), "{report:#}");
    assert_eq!(imaps["expected"], mail.as_str(), "{report:#}");
    assert_eq!(imaps["in_sync"], false, "{report:#}");
    let text = fleet.cli("ex1", &["fleet"]).fails_with(1);
    assert!(text.stdout.contains("NO"), "{}", text.stdout);
    assert!(text.stderr.contains("pinned"), "{}", text.stderr);

    // Back in line; then ex3 dies without a word.
    drop(nodes.remove(1));
    nodes.insert(1, fleet.start(&fleet.spec("ex2")));
    fleet.wait_in_sync(&nodes);
    nodes[2].kill();
    eventually("fleet to call ex3 silent", || {
        let (code, r) = fleet.fleet();
        report = r;
        code == 1
            && report["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|n| n["node"] == "ex3" && n["silent"] == true)
    });
    for node in report["nodes"].as_array().unwrap() {
        if node["node"] != "ex3" {
            assert_eq!(node["silent"], false, "{report:#}");
        }
    }
}

#[test]
fn nodes_serve_through_a_database_restart_and_catch_up() {
    // A cluster of its own: the other tests' databases stay up.
    let pg = Postgres::start();
    let fleet = Fleet::on(&pg, "restart");
    let pki = Pki::new(&fleet.dir.path().join("pki"));
    fleet.cli("ex1", &["init"]).ok();
    fleet
        .cli("ex1", &["trust", "add", path_str(&pki.root)])
        .ok();
    let before = bundle(&pki, "before", &["mail.contoso.com"]);
    let before = fleet.thumbprint_of(fleet.cli("ex1", &["import", path_str(&before)]));
    fleet
        .cli("ex1", &["enable", &before, "--services", "imap,https"])
        .ok();
    let after = bundle(&pki, "after", &["mail.contoso.com"]);
    let after = fleet.thumbprint_of(fleet.cli("ex1", &["import", path_str(&after)]));
    let nodes = fleet.start_all(&[fleet.spec("ex1"), fleet.spec("ex2"), fleet.spec("ex3")]);
    served_everywhere(&nodes, None, &before);

    let ports: Vec<u16> = nodes.iter().flat_map(|n| [n.imaps, n.https]).collect();
    let clients = Handshaker::start(&ports);
    pg.stop_server();
    // The command line says the database is away, naming it; nothing is
    // served differently.
    let run = fleet.cli("ex1", &["enable", &after, "--services", "imap,https"]);
    let run = run.fails_with(2);
    assert!(
        run.stderr.contains(&fleet.url) && run.stderr.contains("is PostgreSQL running"),
        "{}",
        run.stderr
    );
    for node in &nodes {
        eventually("the node to log that the store is unreachable", || {
            node.log().contains("is unreachable")
        });
        assert_eq!(node.serves(None).as_deref(), Ok(before.as_str()));
    }
    // The database comes back for local clients only: the change is
    // committed while no node is connected, so no node hears of it.
    pg.start_server_socket_only();
    let local = pg.socket_url(&fleet.db);
    let run = Run::from(
        fleet
            .command("ex1", &["enable", &after, "--services", "imap,https"])
            .env("MAILCERT_STORE", &local)
            .output()
            .expect("run mailcert"),
    );
    run.ok();
    for node in &nodes {
        assert_eq!(node.serves(None).as_deref(), Ok(before.as_str()));
    }
    pg.stop_server();
    pg.start_server();
    // Every node catches up by itself, and says so.
    served_everywhere(&nodes, None, &after);
    let seen = clients.finish();
    assert_eq!(seen.failed, 0, "failed handshakes: {seen:?}");
    assert!(seen.ok > 0, "{seen:?}");
    for node in &nodes {
        assert!(node.log().contains("reachable again"), "{}", node.log());
    }
    fleet.wait_in_sync(&nodes);
}

#[test]
fn three_nodes_renewing_at_once_place_one_order_and_all_serve_it() {
    let pebble = Pebble::start(PebbleOptions {
        validity_secs: Some(600),
        ..PebbleOptions::default()
    });
    let fleet = Fleet::new("acme");
    let ca = pebble.listener_ca.display().to_string();
    fleet
        .cli(
            "ex1",
            &[
                "acme",
                "register",
                "--directory",
                &pebble.directory,
                "--ca-file",
                &ca,
            ],
        )
        .ok();
    // pebble validates HTTP-01 on ex1's port 80 (here pebble's
    // httpPort): ex1 answers, from the store, for whichever node orders.
    let mut ex1 = fleet.spec("ex1");
    ex1.extra_config = format!(
        "[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:{}\"\n",
        pebble.http_port
    );
    let nodes = fleet.start_all(&[ex1, fleet.spec("ex2"), fleet.spec("ex3")]);
    let http = pebble.http_bind();
    let ordered = fleet
        .cli(
            "ex2",
            &[
                "acme",
                "order",
                "--name",
                "mail.example.test",
                "--http-bind",
                &http,
                "--enable",
                "https,imap",
                "--json",
            ],
        )
        .ok()
        .json();
    let old = ordered["thumbprint"]
        .as_str()
        .expect("a thumbprint")
        .to_string();
    served_everywhere(&nodes, Some("mail.example.test"), &old);
    let orders = || {
        std::fs::read_to_string(pebble.dir.path().join("pebble.log"))
            .unwrap_or_default()
            .matches("Added order")
            .count()
    };
    assert_eq!(orders(), 1);

    // Two thirds into its life the certificate is due, for every node
    // at the same moment.
    let shown = fleet.cli("ex1", &["show", &old, "--json"]).ok().json();
    let not_before =
        mailcert_x509::time::parse_at(shown["not_before"].as_str().expect("not_before"))
            .expect("a time");
    let at = mailcert_x509::time::rfc3339(not_before + time::Duration::seconds(450));
    let runs: Vec<std::process::Child> = nodes
        .iter()
        .map(|node| {
            fleet
                .command(&node.name, &["acme", "renew", "--at", &at, "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("acme renew")
        })
        .collect();
    let results: Vec<Run> = runs
        .into_iter()
        .map(|run| Run::from(run.wait_with_output().expect("acme renew")))
        .collect();
    let mut renewed = Vec::new();
    for run in &results {
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        for outcome in run.json().as_array().expect("outcomes") {
            match outcome["result"].as_str() {
                Some("renewed") => renewed.push(
                    outcome["new_thumbprint"]
                        .as_str()
                        .expect("the new thumbprint")
                        .to_string(),
                ),
                Some("busy") | Some("not-due") => {}
                other => panic!("unexpected outcome {other:?}: {outcome}"),
            }
        }
    }
    assert_eq!(
        renewed.len(),
        1,
        "{:?}",
        results.iter().map(|r| &r.stdout).collect::<Vec<_>>()
    );
    assert_eq!(orders(), 2, "exactly one order for the renewal");
    served_everywhere(&nodes, Some("mail.example.test"), &renewed[0]);
    for node in &nodes {
        let https = mailcert_testkit::served_thumbprint(node.https, Some("mail.example.test"));
        assert_eq!(https.as_deref(), Ok(renewed[0].as_str()), "{}", node.name);
    }
    fleet.wait_in_sync(&nodes);
}

/// Two dumps of a database are the same; otherwise the lines that differ.
#[track_caller]
fn assert_unchanged(before: &str, after: &str) {
    if before != after {
        let gone: Vec<&str> = before.lines().filter(|l| !after.contains(l)).collect();
        let new: Vec<&str> = after.lines().filter(|l| !before.contains(l)).collect();
        panic!(
            "the database changed:\n--- gone\n{}\n--- new\n{}",
            gone.join("\n"),
            new.join("\n")
        );
    }
}

/// `mailcert serve` as a node that should refuse to start: its outcome.
fn serve_once(fleet: &Fleet, node: &str, key: &Path) -> Run {
    let config = fleet.dir.path().join(format!("{node}.toml"));
    std::fs::write(
        &config,
        format!(
            "[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{}\"\nbackend = \"127.0.0.1:1\"\n",
            mailcert_testkit::free_port()
        ),
    )
    .expect("a configuration");
    Run::from(
        fleet
            .command(
                node,
                &["serve", "--config", path_str(&config), "--node", node],
            )
            .env("MAILCERT_STORE_KEY_FILE", key)
            .output()
            .expect("mailcert serve"),
    )
}

#[test]
fn bad_urls_passwords_and_hosts_exit_2_naming_the_database_and_the_fix() {
    let pg = Postgres::shared();
    let fleet = Fleet::new("bad_urls");
    fleet.cli("ex1", &["init"]).ok();
    let before = pg.dump(&fleet.db.name);
    let cwd = temp_dir();
    let run_with = |url: &str, key: Option<&Path>, args: &[&str]| {
        let mut command = fleet.command("ex1", args);
        command.env("MAILCERT_STORE", url).current_dir(cwd.path());
        match key {
            Some(key) => command.env("MAILCERT_STORE_KEY_FILE", key),
            None => command.env_remove("MAILCERT_STORE_KEY_FILE"),
        };
        Run::from(command.output().expect("run mailcert"))
    };
    let key = Some(fleet.key.as_path());
    let creating = ["new", "--self-signed", "--name", "x.contoso.com"];
    let wrong_password = fleet.dir.path().join("wrong.pgpass");
    std::fs::write(&wrong_password, "*:*:*:mailcert:not-the-password\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrong_password, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // A server that takes the connection and says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!(
        "postgres://mailcert@127.0.0.1:{}/x?connect_timeout=2",
        silent.local_addr().unwrap().port()
    );
    let nobody_home = format!(
        "postgres://mailcert@127.0.0.1:{}/x",
        mailcert_testkit::free_port()
    );
    let cases: Vec<(String, Option<&Path>, Vec<&str>)> = vec![
        // Malformed: the URL and its form.
        (
            format!("postgres://mailcert@127.0.0.1:99999/{}", fleet.db.name),
            key,
            vec!["malformed", "postgres://USER@HOST"],
        ),
        (
            "postgres://mailcert@[::1/db".into(),
            key,
            vec!["malformed", "postgres://USER@HOST"],
        ),
        (
            format!(
                "postgres://mailcert@127.0.0.1:{}/{}?sslmode=maybe",
                fleet.db.port, fleet.db.name
            ),
            key,
            vec!["sslmode 'maybe'", "verify-full"],
        ),
        // A scheme mailcert does not read is never a file of that name.
        (
            "mysql://db.contoso.com/mailcert".into(),
            key,
            vec!["mysql", "postgres://"],
        ),
        // A password in the URL is refused, and never repeated.
        (
            format!(
                "postgres://mailcert:s3cret@127.0.0.1:{}/{}",
                fleet.db.port, fleet.db.name
            ),
            key,
            vec!["password", "~/.pgpass"],
        ),
        // The wrong password: what PostgreSQL said, and where the password comes from.
        (
            fleet.db.url.replace(
                &format!("passfile={}", fleet.db.passfile.display()),
                &format!("passfile={}", wrong_password.display()),
            ),
            key,
            vec!["password authentication failed", "~/.pgpass"],
        ),
        // Nobody listening there.
        (
            nobody_home.clone(),
            key,
            vec![&nobody_home, "is PostgreSQL running"],
        ),
        (
            silent_url.clone(),
            key,
            vec!["did not answer within 2 s", "connect_timeout"],
        ),
        // A PostgreSQL store needs its key file named.
        (
            fleet.url.clone(),
            None,
            vec!["MAILCERT_STORE_KEY_FILE", "every node"],
        ),
    ];
    for (url, key, words) in &cases {
        for args in [&["list"][..], &creating[..]] {
            let run = run_with(url, *key, args).fails_with(2);
            for word in words {
                assert!(
                    run.stderr.contains(word),
                    "{url} {args:?}: no {word:?} in\n{}",
                    run.stderr
                );
            }
            assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
            if !url.contains("s3cret") && !url.starts_with("mysql") {
                assert!(
                    run.stderr.contains(url.as_str()),
                    "{url}: not named in\n{}",
                    run.stderr
                );
            }
        }
    }
    let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().collect();
    assert!(left.is_empty(), "no local file or folder made: {left:?}");
    assert_unchanged(&before, &pg.dump(&fleet.db.name));
}

#[test]
fn a_database_of_another_program_is_refused_untouched() {
    let pg = Postgres::shared();
    let fleet = Fleet::new("foreign");
    pg.sql(
        &fleet.db.name,
        "CREATE TABLE meta (k text); CREATE TABLE users (id int, name text); INSERT INTO users VALUES (1, 'alice')",
    );
    let before = pg.dump(&fleet.db.name);
    for args in [
        &["init"][..],
        &["list"][..],
        &["new", "--self-signed", "--name", "x.contoso.com"][..],
    ] {
        let run = fleet.cli("ex1", args).fails_with(2);
        assert!(
            run.stderr.contains(&fleet.url)
                && run.stderr.contains("users")
                && run.stderr.contains("another program"),
            "{args:?}: {}",
            run.stderr
        );
    }
    let run = serve_once(&fleet, "ex1", &fleet.key).fails_with(2);
    assert!(run.stderr.contains("another program"), "{}", run.stderr);
    assert_unchanged(&before, &pg.dump(&fleet.db.name));
    assert!(
        !fleet.key.exists(),
        "no key file made for a store that is not one"
    );
}

#[test]
fn a_newer_schema_is_refused_naming_both_versions() {
    let pg = Postgres::shared();
    let fleet = Fleet::new("newer");
    fleet.cli("ex1", &["init"]).ok();
    pg.sql(
        &fleet.db.name,
        "UPDATE meta SET value = convert_to('99', 'UTF8') WHERE key = 'schema_version'",
    );
    let before = pg.dump(&fleet.db.name);
    for args in [
        &["list"][..],
        &["init"][..],
        &["new", "--self-signed", "--name", "x.contoso.com"][..],
    ] {
        let run = fleet.cli("ex1", args).fails_with(2);
        assert!(
            run.stderr.contains(&fleet.url)
                && run.stderr.contains("schema 99")
                && run.stderr.contains("upgrade mailcert"),
            "{args:?}: {}",
            run.stderr
        );
    }
    let run = serve_once(&fleet, "ex2", &fleet.key).fails_with(2);
    assert!(run.stderr.contains("schema 99"), "{}", run.stderr);
    assert_unchanged(&before, &pg.dump(&fleet.db.name));
}

#[test]
fn the_wrong_key_file_is_refused_and_nothing_changes() {
    let pg = Postgres::shared();
    let fleet = Fleet::new("wrong_key");
    fleet.cli("ex1", &["init"]).ok();
    let other = Fleet::new("other_key");
    other.cli("ex1", &["init"]).ok();
    let before = pg.dump(&fleet.db.name);
    for args in [
        &["list"][..],
        &["new", "--self-signed", "--name", "x.contoso.com"][..],
    ] {
        let run = Run::from(
            fleet
                .command("ex1", args)
                .env("MAILCERT_STORE_KEY_FILE", &other.key)
                .output()
                .unwrap(),
        )
        .fails_with(2);
        assert!(
            run.stderr.contains(&fleet.url)
                && run.stderr.contains(path_str(&other.key))
                && run.stderr.contains("wrong key file"),
            "{args:?}: {}",
            run.stderr
        );
    }
    // A node with the wrong copy is refused at start: no heartbeat, no
    // certificate of its own.
    let run = serve_once(&fleet, "ex2", &other.key).fails_with(2);
    assert!(run.stderr.contains("wrong key file"), "{}", run.stderr);
    assert_unchanged(&before, &pg.dump(&fleet.db.name));
    let (_, report) = fleet.fleet();
    assert_eq!(report["nodes"], serde_json::json!([]), "{report}");
}

#[test]
fn store_copy_refuses_a_database_that_holds_a_store() {
    let pg = Postgres::shared();
    let fleet = Fleet::new("copy");
    let sqlite = fleet.dir.path().join("server.db");
    let local = |args: &[&str]| {
        let mut command = fleet.command("ex1", args);
        command
            .env("MAILCERT_STORE", &sqlite)
            .env_remove("MAILCERT_STORE_KEY_FILE");
        Run::from(command.output().unwrap())
    };
    local(&["init", "--hostname", "ex1.contoso.com"]).ok();
    local(&["new", "--self-signed", "--name", "mail.contoso.com"]).ok();
    let sqlite_key = fleet.dir.path().join("server.db.key");
    let copy = |force: bool| {
        let mut args = vec![
            "store",
            "copy",
            "--from",
            path_str(&sqlite),
            "--to",
            &fleet.url,
            "--to-key-file",
            path_str(&fleet.key),
            "--json",
        ];
        if force {
            args.push("--force");
        }
        Run::from(
            fleet
                .command("ex1", &args)
                .env("MAILCERT_STORE_KEY_FILE", &sqlite_key)
                .output()
                .unwrap(),
        )
    };
    let copied = copy(false).ok().json();
    assert_eq!(copied["certificates"], 2, "{copied}");
    assert_eq!(copied["verified"], true, "{copied}");
    let listed = fleet.cli("ex1", &["list", "--json"]).ok().json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    // A second copy would overwrite: refused, the target as it was.
    fleet
        .cli(
            "ex1",
            &[
                "new",
                "--self-signed",
                "--name",
                "only-in-the-fleet.contoso.com",
            ],
        )
        .ok();
    let before = pg.dump(&fleet.db.name);
    let run = copy(false).fails_with(2);
    assert!(
        run.stderr.contains(&fleet.url)
            && run.stderr.contains("already holds")
            && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert_unchanged(&before, &pg.dump(&fleet.db.name));
    // --force replaces it with the copy.
    copy(true).ok();
    let listed = fleet.cli("ex1", &["list", "--json"]).ok().json();
    assert!(
        !listed.to_string().contains("only-in-the-fleet"),
        "{listed}"
    );
}

#[test]
fn nodes_creating_one_store_together_agree_on_one_key() {
    // One key file on one machine, three first starts at once.
    let fleet = Fleet::new("same_key");
    let runs: Vec<_> = ["ex1", "ex2", "ex3"]
        .iter()
        .map(|node| {
            fleet
                .command(node, &["init"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        Run::from(run.wait_with_output().unwrap()).ok();
    }
    let listed = fleet.cli("ex1", &["list", "--json"]).ok().json();
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    // Every node's private key opens with the one key file.
    for item in listed.as_array().unwrap() {
        let thumb = item["thumbprint"].as_str().unwrap();
        let out = fleet.dir.path().join(format!("{thumb}.pfx"));
        let run = fleet
            .command("ex1", &["export", thumb, "--out", path_str(&out)])
            .env("MAILCERT_PASSWORD", "export-password")
            .output()
            .unwrap();
        Run::from(run).ok();
    }

    // Two machines, each with a key file of its own, on an empty database
    // at once: one creates the store, the other is refused and keeps no
    // key file that could pass for the store's.
    let fleet = Fleet::new("two_keys");
    let keys = [fleet.key.clone(), fleet.dir.path().join("second.key")];
    let runs: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            fleet
                .command(&format!("ex{i}"), &["init"])
                .env("MAILCERT_STORE_KEY_FILE", key)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: Vec<Run> = runs
        .into_iter()
        .map(|r| Run::from(r.wait_with_output().unwrap()))
        .collect();
    let winners: Vec<usize> = (0..2).filter(|&i| runs[i].code == 0).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        runs.iter().map(|r| &r.stderr).collect::<Vec<_>>()
    );
    let loser = 1 - winners[0];
    assert_eq!(runs[loser].code, 2, "{}", runs[loser].stderr);
    assert!(
        runs[loser].stderr.contains(path_str(&keys[loser])),
        "{}",
        runs[loser].stderr
    );
    assert!(!keys[loser].exists(), "{}", runs[loser].stderr);
    assert!(keys[winners[0]].exists());
}

#[test]
fn a_tls_cluster_is_verified_in_full() {
    let dir = temp_dir();
    let pki = Pki::new(&dir.path().join("pki"));
    let server = pki.leaf("postgres", &["localhost"], "ec");
    let chain = dir.path().join("server-chain.pem");
    std::fs::write(&chain, server.with_chain()).unwrap();
    let pg = Postgres::start_with(mailcert_testkit::PgOptions {
        tls: Some((chain, server.key.clone())),
    });
    let mut fleet = Fleet::on(&pg, "tls");
    let tls_url = |host: &str, root: &Path| {
        format!(
            "postgres://mailcert@{host}:{}/{}?passfile={}&sslmode=verify-full&sslrootcert={}",
            pg.port,
            fleet.db.name,
            fleet.db.passfile.display(),
            root.display()
        )
    };
    // The cluster's own CA and the name on its certificate: in.
    fleet.url = tls_url("localhost", &pki.root);
    fleet.cli("ex1", &["init"]).ok();
    let node = fleet.start(&fleet.spec("ex1"));
    let encrypted = pg.sql(
        &fleet.db.name,
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE ssl AND application_name = 'mailcert' AND datname = current_database()",
    );
    assert_ne!(encrypted, "0", "the node's connection is TLS");
    fleet.wait_in_sync(std::slice::from_ref(&node));
    drop(node);

    let before = pg.dump(&fleet.db.name);
    // Another CA, and an address the certificate does not name: out,
    // before anything is sent.
    let other = Pki::new(&dir.path().join("other"));
    for (url, words) in [
        (
            tls_url("localhost", &other.root),
            ["invalid peer certificate", "sslrootcert="],
        ),
        (
            tls_url("127.0.0.1", &pki.root),
            ["invalid peer certificate", "a name on it"],
        ),
    ] {
        let run = Run::from(
            fleet
                .command("ex1", &["new", "--self-signed", "--name", "x.contoso.com"])
                .env("MAILCERT_STORE", &url)
                .output()
                .unwrap(),
        )
        .fails_with(2);
        assert!(run.stderr.contains(&url), "{}", run.stderr);
        for word in words {
            assert!(
                run.stderr.contains(word),
                "{url}: no {word:?} in {}",
                run.stderr
            );
        }
    }
    assert_unchanged(&before, &pg.dump(&fleet.db.name));
}

#[test]
fn commands_that_create_a_fleet_store_make_no_node_certificate() {
    let fleet = Fleet::new("creating");
    // An administrator's machine is not a node: the store is set up, and
    // only what was asked for is in it.
    let run = fleet
        .cli(
            "admin-workstation",
            &["new", "--self-signed", "--name", "mail.contoso.com"],
        )
        .ok();
    assert!(
        run.stderr.contains(&fleet.url)
            && run.stderr.contains("no self-signed certificate was made"),
        "{}",
        run.stderr
    );
    let listed = fleet.cli("ex1", &["list", "--json"]).ok().json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(listed.to_string().contains("mail.contoso.com"));
    // Each node's first start makes its own, for its name, bound to it.
    let node = fleet.start(&fleet.spec("ex7.contoso.com"));
    let own = node.serves(None).expect("a handshake");
    let shown = fleet.cli("ex1", &["show", &own, "--json"]).ok().json();
    assert_eq!(
        shown["names"],
        serde_json::json!(["ex7.contoso.com", "ex7"]),
        "{shown}"
    );
    assert!(shown["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["node"] == "ex7.contoso.com"));
    // A node that starts again does not make another.
    drop(node);
    let node = fleet.start(&fleet.spec("ex7.contoso.com"));
    assert_eq!(node.serves(None).as_deref(), Ok(own.as_str()));
    let listed = fleet.cli("ex1", &["list", "--json"]).ok().json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
}
