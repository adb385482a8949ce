//! The harness of the front end's tests: a fresh store holding a leaf
//! from a throwaway PKI (root → intermediate → leaf), and a front end
//! started in-process on ephemeral ports from a TOML snippet.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailcert_front::{ChallengeBoard, Front, FrontOptions};
use mailcert_store::{
    Binding, Change, ExplicitStore, NewCertificate, Op, Origin, SqliteStore, Store, StoreLocation,
};
use mailcert_testkit::{Leaf, Pki, TempDir};
use mailcert_x509::{CertSummary, Service, Trust};

pub const NAME: &str = "mail.example.test";
/// Python's mail clients through the front end (`clients.py`), on the
/// connection and argument handling both scripts share (`mail_clients.py`).
pub const CLIENTS: &str = concat!(include_str!("mail_clients.py"), include_str!("clients.py"));

pub struct Env {
    pub dir: TempDir,
    pub pki: Pki,
    pub leaf: Leaf,
    pub thumbprint: String,
    pub store: StoreLocation,
    pub challenges: ChallengeBoard,
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
            challenges: ChallengeBoard::new(),
        };
        env.thumbprint = env.add(&env.leaf, &Service::ALL);
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
                node: None,
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
                store: ExplicitStore::fixed(&self.store),
                challenges: self.challenges.clone(),
                node: mailcert_lifecycle::host::node_name(),
                heartbeat: mailcert_front::HEARTBEAT_INTERVAL,
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
    let extra = format!("proxy_protocol = {proxy}\nhostname = \"{NAME}\"\n{extra}");
    mailcert_testkit::listener_toml(name, protocol, tls, 0, backend, &extra)
}

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

pub use mailcert_testkit::tls::{
    client_config, connect, peer_thumbprint, read_to_close, read_until, Tls,
};

/// Runs the TLS handshake for [`NAME`] over an established connection.
pub fn tls(stream: TcpStream, config: &Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    mailcert_testkit::tls::tls(stream, config, NAME)
}

/// A fake mail backend: greets with `greeting`, then echoes every line.
/// With `greeting` empty it accepts and says nothing (a hung backend).
pub fn echo_backend(greeting: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                if greeting.is_empty() {
                    let mut sink = [0u8; 1024];
                    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
                    return;
                }
                let _ = stream.write_all(greeting.as_bytes());
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

/// A fake SMTP backend that, like Postfix with
/// `smtpd_tls_security_level = may`, offers STARTTLS in its EHLO reply and
/// answers any other command with `250 ok: <command>`.
pub fn smtp_backend_offering_starttls() -> u16 {
    smtp_backend_on(TcpListener::bind("127.0.0.1:0").expect("bind"))
}

/// [`smtp_backend_offering_starttls`] on a socket of the caller's.
pub fn smtp_backend_on(listener: TcpListener) -> u16 {
    line_backend(listener, "220 backend ESMTP\r\n", |line| {
        if line.to_ascii_uppercase().starts_with("EHLO") {
            Said::Answer(
                "250-backend\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n".to_string(),
            )
        } else if line.eq_ignore_ascii_case("QUIT") {
            Said::Last("221 bye\r\n".to_string())
        } else {
            Said::Answer(format!("250 ok: {line}\r\n"))
        }
    })
}

/// What a [`line_backend`] does with a line the client sent.
pub enum Said {
    /// Writes this and reads on.
    Answer(String),
    /// Writes this and hangs up.
    Last(String),
    /// Says nothing, reads nothing and holds the connection (a hung or
    /// overloaded server).
    Hold,
}

/// A fake line-by-line mail backend on `listener`: greets with
/// `greeting`, then answers each line as `answer` says.
pub fn line_backend(
    listener: TcpListener,
    greeting: &'static str,
    answer: fn(&str) -> Said,
) -> u16 {
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                use std::io::BufRead;
                let mut writer = stream.try_clone().expect("clone");
                let _ = writer.write_all(greeting.as_bytes());
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    let (text, last) = match answer(&line) {
                        Said::Answer(text) => (text, false),
                        Said::Last(text) => (text, true),
                        Said::Hold => {
                            std::thread::sleep(std::time::Duration::from_secs(120));
                            return;
                        }
                    };
                    if writer.write_all(text.as_bytes()).is_err() || last {
                        return;
                    }
                }
            });
        }
    });
    port
}
