//! The harness of the front end's tests: a fresh store holding a leaf
//! from a throwaway PKI (root → intermediate → leaf), and a front end
//! started in-process on ephemeral ports from a TOML snippet.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailcert_front::{ChallengeMap, Front, FrontOptions};
use mailcert_store::{
    Binding, Change, NewCertificate, Op, Origin, SqliteStore, Store, StoreLocation,
};
use mailcert_testkit::{Leaf, Pki, TempDir};
use mailcert_x509::{CertSummary, Service, Trust};

pub const NAME: &str = "mail.example.test";
pub const CLIENTS: &str = include_str!("clients.py");

pub struct Env {
    pub dir: TempDir,
    pub pki: Pki,
    pub leaf: Leaf,
    pub thumbprint: String,
    pub store: StoreLocation,
    pub challenges: Arc<ChallengeMap>,
}

impl Env {
    /// A store with one certificate for `mail.example.test` (ECDSA P-256,
    /// issued by an intermediate) bound to every service.
    pub fn new() -> Env {
        Env::with_key("ec")
    }

    pub fn with_key(key: &str) -> Env {
        let dir = mailcert_testkit::temp_dir();
        let pki = Pki::new(&dir.path().join("pki"));
        let leaf = pki.leaf("leaf", &[NAME, "imap.example.test"], key);
        let store = StoreLocation::resolve(Some(&dir.path().join("store.db")), None);
        SqliteStore::open_or_create(&store).expect("store");
        let mut env = Env {
            dir,
            pki,
            leaf,
            thumbprint: String::new(),
            store,
            challenges: ChallengeMap::new(),
        };
        let leaf = Leaf {
            cert: env.leaf.cert.clone(),
            key: env.leaf.key.clone(),
            chain: env.leaf.chain.clone(),
        };
        env.thumbprint = env.add(&leaf, &Service::ALL);
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn open_store(&self) -> SqliteStore {
        SqliteStore::open(&self.store).expect("open store")
    }

    /// Inserts a leaf with its chain and key, bound to `services`.
    pub fn add(&self, leaf: &Leaf, services: &[Service]) -> String {
        let read = |p: &Path| std::fs::read(p).expect("read pem");
        let der = mailcert_x509::pem::decode_certificates(&read(&leaf.cert), "leaf").expect("leaf")
            [0]
        .clone();
        let chain =
            mailcert_x509::pem::decode_certificates(&read(&leaf.chain), "chain").expect("chain");
        let key = mailcert_x509::pem::decode_private_key(&read(&leaf.key), "key").expect("key");
        let summary = CertSummary::from_der(&der).expect("summary");
        let thumb = summary.thumbprint.clone();
        let mut change = Change::new("test", "test");
        change.push(Op::InsertCertificate(Box::new(NewCertificate {
            summary,
            der,
            chain,
            private_key: Some(key),
            exportable: true,
            friendly_name: None,
            origin: Origin::Imported,
            trust: Trust::Trusted,
        })));
        for service in services {
            change.push(Op::Bind(Binding {
                thumbprint: thumb.clone(),
                service: *service,
                listener: None,
            }));
        }
        self.open_store().apply(change).expect("apply");
        thumb
    }

    /// Writes a configuration with the given listeners and starts the
    /// front end on it.
    pub fn front(&self, listeners: &str) -> Front {
        let path = self.write_config(listeners);
        let config = mailcert_config::Config::load(&path).expect("config");
        Front::start(
            config,
            FrontOptions {
                store: self.store.clone(),
                store_fixed: true,
                challenges: self.challenges.clone(),
            },
        )
        .expect("front end starts")
    }

    pub fn write_config(&self, listeners: &str) -> PathBuf {
        let path = self.path("mailcert.toml");
        std::fs::write(&path, listeners).expect("write config");
        path
    }

    /// Runs one of the Python clients; returns its output.
    pub fn python(&self, mode: &str, port: u16, arg: &str) -> String {
        let ca = self.pki.root.to_string_lossy().into_owned();
        mailcert_testkit::python(CLIENTS, &[mode, &port.to_string(), &ca, NAME, arg])
    }
}

/// A `[[listener]]` block.
pub fn listener(
    name: &str,
    protocol: &str,
    tls: &str,
    backend: u16,
    proxy: bool,
    extra: &str,
) -> String {
    format!(
        "[[listener]]\nname = \"{name}\"\nprotocol = \"{protocol}\"\ntls = \"{tls}\"\nbind = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:{backend}\"\nproxy_protocol = {proxy}\nhostname = \"{NAME}\"\n{extra}\n"
    )
}
