//! A fleet through the binary: `mailcert serve` nodes sharing one
//! PostgreSQL store, changed through one node's command line and looked
//! at by real TLS clients (OpenSSL's s_client, Python's ssl; never a
//! resumed session), and `mailcert fleet` telling drift and silence.
//!
//! One PostgreSQL cluster serves the whole binary (each test has a
//! database of its own); the test that stops and restarts the server has
//! a cluster of its own, so that the others keep theirs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{to_run, Run};
use mailcert_testkit::fleet::{eventually, wait_until_served, Handshaker, Node, NodeSpec};
use mailcert_testkit::{temp_dir, PgDatabase, Pki, Postgres, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_mailcert");

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
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("MAILCERT_STORE", &self.url)
            .env("MAILCERT_STORE_KEY_FILE", &self.key)
            .env("MAILCERT_NODE", node)
            .env_remove("MAILCERT_CONFIG")
            .env_remove("PGPASSWORD")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .stdin(std::process::Stdio::null());
        command
    }

    fn cli(&self, node: &str, args: &[&str]) -> Run {
        to_run(self.command(node, args).output().expect("run mailcert"))
    }

    fn spec(&self, node: &str) -> NodeSpec {
        NodeSpec::new(node, &self.url, &self.key)
    }

    fn start(&self, spec: &NodeSpec) -> Node {
        Node::start(Path::new(BIN), self.dir.path(), spec)
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
        run.ok()
            .stdout
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
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
        let https = mailcert_testkit::fleet::served_thumbprint(node.https, None);
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
    let run = to_run(
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
