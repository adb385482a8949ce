//! Test helpers: a PKI made with the OpenSSL command line, `openssl
//! s_server` endpoints on free loopback ports, and a runner for checks.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mailcert_check::{
    check_endpoints, Code, ConnectTo, Endpoint, EndpointReport, Origin, Settings, TrustStore,
};
use time::OffsetDateTime;

/// Expected vs got, side by side.
#[macro_export]
macro_rules! eqnice {
    ($expected:expr, $got:expr, $context:expr) => {{
        let expected = $expected;
        let got = $got;
        if expected != got {
            panic!(
                "\n\n==== expected ====\n{:#?}\n==== got ====\n{:#?}\n==== context ====\n{}\n",
                expected, got, $context
            );
        }
    }};
}

pub fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (scripts/install-peers.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    EcP256,
    Rsa(u32),
}

/// A certificate made by [`Pki`].
#[derive(Debug, Clone)]
pub struct Cert {
    pub pem: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
    pub cn: String,
}

/// What to put on a certificate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub cn: String,
    pub names: Vec<String>,
    pub ca: bool,
    pub pathlen: Option<u32>,
    pub key: Key,
    /// Days relative to now (negative: in the past).
    pub start_days: i64,
    pub end_days: i64,
    pub md: &'static str,
    pub eku: Option<&'static str>,
    pub aia: Option<&'static str>,
    pub name_constraints: Option<&'static str>,
    /// The leaf's keyUsage bits (`None`: digitalSignature,keyEncipherment).
    pub key_usage: Option<&'static str>,
    /// The whole extension file for `openssl ca` instead of the one made
    /// from the fields above, for certificates that break the profile.
    pub extensions: Option<String>,
}

impl Spec {
    pub fn leaf(cn: &str, names: &[&str]) -> Spec {
        Spec {
            cn: cn.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            ca: false,
            pathlen: None,
            key: Key::EcP256,
            start_days: -1,
            end_days: 89,
            md: "sha256",
            eku: Some("serverAuth"),
            aia: None,
            name_constraints: None,
            key_usage: None,
            extensions: None,
        }
    }

    pub fn intermediate(cn: &str) -> Spec {
        Spec {
            cn: cn.into(),
            names: Vec::new(),
            ca: true,
            pathlen: Some(0),
            key: Key::EcP256,
            start_days: -10,
            end_days: 1800,
            md: "sha256",
            eku: None,
            aia: None,
            name_constraints: None,
            key_usage: None,
            extensions: None,
        }
    }
}

/// A throwaway PKI in a temporary directory, made with `openssl`.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("newcerts")).expect("newcerts");
        std::fs::write(dir.path().join("index.txt"), "").expect("index");
        std::fs::write(
            dir.path().join("ca.cnf"),
            "[ca]\ndefault_ca = the_ca\n[the_ca]\ndir = .\ndatabase = index.txt\nnew_certs_dir = newcerts\nserial = serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\n[any]\ncommonName = supplied\n",
        )
        .expect("ca.cnf");
        std::fs::write(dir.path().join("serial"), "1000\n").expect("serial");
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn key(&self, file: &str, key: Key) -> PathBuf {
        let bits;
        let args: Vec<&str> = match key {
            Key::EcP256 => vec![
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                file,
            ],
            Key::Rsa(b) => {
                bits = format!("rsa_keygen_bits:{b}");
                vec![
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    &bits,
                    "-out",
                    file,
                ]
            }
        };
        openssl(&args, self.dir.path());
        self.path(file)
    }

    /// A self-signed root CA, valid from 10 days ago for 10 years.
    pub fn root(&self, name: &str, cn: &str) -> Cert {
        self.root_with(name, cn, Key::EcP256)
    }

    pub fn root_with(&self, name: &str, cn: &str, key: Key) -> Cert {
        let key_file = format!("{name}.key");
        let pem_file = format!("{name}.pem");
        self.key(&key_file, key);
        let subj = format!("/CN={cn}");
        openssl(
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                &key_file,
                "-out",
                &pem_file,
                "-subj",
                &subj,
                "-days",
                "3650",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            self.dir.path(),
        );
        self.load(name, cn)
    }

    /// A self-signed root CA valid between two days relative to now
    /// (negative: in the past), made with `openssl ca -selfsign`, which
    /// takes explicit dates.
    pub fn root_dated(&self, name: &str, cn: &str, start_days: i64, end_days: i64) -> Cert {
        let key_file = format!("{name}.key");
        let csr_file = format!("{name}.csr");
        let pem_file = format!("{name}.pem");
        let ext_file = format!("{name}.ext");
        self.key(&key_file, Key::EcP256);
        let subj = format!("/CN={cn}");
        openssl(
            &[
                "req", "-new", "-key", &key_file, "-out", &csr_file, "-subj", &subj,
            ],
            self.dir.path(),
        );
        std::fs::write(
            self.path(&ext_file),
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
        )
        .expect("ext file");
        let (start, end) = (openssl_date(start_days), openssl_date(end_days));
        openssl(
            &[
                "ca",
                "-batch",
                "-notext",
                "-config",
                "ca.cnf",
                "-selfsign",
                "-keyfile",
                &key_file,
                "-in",
                &csr_file,
                "-out",
                &pem_file,
                "-extfile",
                &ext_file,
                "-startdate",
                &start,
                "-enddate",
                &end,
                "-preserveDN",
            ],
            self.dir.path(),
        );
        self.load(name, cn)
    }

    /// A self-signed server certificate, as `openssl req -x509` makes it.
    pub fn self_signed(&self, name: &str, cn: &str, names: &[&str]) -> Cert {
        let key_file = format!("{name}.key");
        let pem_file = format!("{name}.pem");
        self.key(&key_file, Key::EcP256);
        let subj = format!("/CN={cn}");
        let san = format!(
            "subjectAltName={}",
            names
                .iter()
                .map(|n| format!("DNS:{n}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        openssl(
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                &key_file,
                "-out",
                &pem_file,
                "-subj",
                &subj,
                "-days",
                "365",
                "-addext",
                &san,
                "-addext",
                "basicConstraints=CA:FALSE",
                "-addext",
                "extendedKeyUsage=serverAuth",
            ],
            self.dir.path(),
        );
        self.load(name, cn)
    }

    /// A certificate for `spec`, signed by `issuer` with `openssl ca`.
    pub fn issue(&self, issuer: &Cert, name: &str, spec: &Spec) -> Cert {
        let key_file = format!("{name}.key");
        let csr_file = format!("{name}.csr");
        let pem_file = format!("{name}.pem");
        let ext_file = format!("{name}.ext");
        self.key(&key_file, spec.key);
        let subj = format!("/CN={}", spec.cn);
        openssl(
            &[
                "req", "-new", "-key", &key_file, "-out", &csr_file, "-subj", &subj,
            ],
            self.dir.path(),
        );
        let mut ext = String::new();
        if spec.ca {
            match spec.pathlen {
                Some(p) => {
                    ext.push_str(&format!("basicConstraints=critical,CA:TRUE,pathlen:{p}\n"))
                }
                None => ext.push_str("basicConstraints=critical,CA:TRUE\n"),
            }
            ext.push_str("keyUsage=critical,keyCertSign,cRLSign\n");
        } else {
            ext.push_str(&format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,{}\n",
                spec.key_usage.unwrap_or("digitalSignature,keyEncipherment")
            ));
        }
        if let Some(eku) = spec.eku {
            ext.push_str(&format!("extendedKeyUsage={eku}\n"));
        }
        if !spec.names.is_empty() {
            let sans: Vec<String> = spec
                .names
                .iter()
                .map(|n| {
                    if n.parse::<std::net::IpAddr>().is_ok() {
                        format!("IP:{n}")
                    } else {
                        format!("DNS:{n}")
                    }
                })
                .collect();
            ext.push_str(&format!("subjectAltName={}\n", sans.join(",")));
        }
        if let Some(aia) = spec.aia {
            ext.push_str(&format!("authorityInfoAccess=caIssuers;URI:{aia}\n"));
        }
        if let Some(nc) = spec.name_constraints {
            ext.push_str(&format!("nameConstraints=critical,{nc}\n"));
        }
        ext.push_str("subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
        if let Some(raw) = &spec.extensions {
            ext = raw.clone();
        }
        std::fs::write(self.path(&ext_file), ext).expect("ext file");
        let start = openssl_date(spec.start_days);
        let end = openssl_date(spec.end_days);
        let issuer_pem = issuer.pem.to_string_lossy().to_string();
        let issuer_key = issuer.key.to_string_lossy().to_string();
        openssl(
            &[
                "ca",
                "-batch",
                "-notext",
                "-config",
                "ca.cnf",
                "-cert",
                &issuer_pem,
                "-keyfile",
                &issuer_key,
                "-in",
                &csr_file,
                "-out",
                &pem_file,
                "-extfile",
                &ext_file,
                "-startdate",
                &start,
                "-enddate",
                &end,
                "-md",
                spec.md,
                "-preserveDN",
            ],
            self.dir.path(),
        );
        self.load(name, &spec.cn)
    }

    pub fn load(&self, name: &str, cn: &str) -> Cert {
        let pem = self.path(&format!("{name}.pem"));
        let bytes = std::fs::read(&pem).expect("certificate file");
        let der = mailcert_x509::pem::decode_certificates(&bytes, "test")
            .expect("PEM")
            .remove(0);
        Cert {
            pem,
            key: self.path(&format!("{name}.key")),
            der,
            cn: cn.into(),
        }
    }

    /// Concatenates PEM files into `name`.
    pub fn bundle(&self, name: &str, certs: &[&Cert]) -> PathBuf {
        let mut text = String::new();
        for c in certs {
            text.push_str(&std::fs::read_to_string(&c.pem).expect("pem"));
        }
        let path = self.path(name);
        std::fs::write(&path, text).expect("bundle");
        path
    }
}

/// `YYYYMMDDHHMMSSZ`, `days` from now.
pub fn openssl_date(days: i64) -> String {
    let t = OffsetDateTime::now_utc() + time::Duration::days(days);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub use mailcert_testkit::free_port;

/// A server process killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    /// Held open: `s_server` shuts down when its standard input ends.
    _stdin: Option<std::process::ChildStdin>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_server` on a free loopback port, serving `cert` with the
/// chain file `chain` (sent after the certificate), plus `extra` options.
pub fn s_server(cert: &Cert, chain: Option<&Path>, extra: &[&str]) -> Server {
    for _attempt in 0..5 {
        let port = free_port();
        let accept = format!("127.0.0.1:{port}");
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-accept", &accept, "-cert"])
            .arg(&cert.pem)
            .arg("-key")
            .arg(&cert.key)
            .args(["-naccept", "1000", "-no_ticket"]);
        if let Some(chain) = chain {
            cmd.arg("-cert_chain").arg(chain);
        }
        cmd.args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("openssl s_server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut ready = false;
        for line in lines.by_ref() {
            match line {
                Ok(l) if l.contains("ACCEPT") => {
                    ready = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if ready {
            // Keep draining its output so that it never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            let stdin = child.stdin.take();
            return Server {
                child,
                port,
                _stdin: stdin,
            };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("openssl s_server did not start");
}

/// Trust: no system roots, the given roots as private anchors.
pub fn trust(roots: &[&Cert]) -> TrustStore {
    let mut t = TrustStore::empty();
    for r in roots {
        t.add(&r.der, Origin::Private, "test root").expect("anchor");
    }
    t
}

/// Checks `endpoint` dialling the loopback `port`, validating `name`.
pub fn check(endpoint: &str, port: u16, trust: TrustStore) -> EndpointReport {
    check_with(endpoint, port, trust, |_| {})
}

pub fn check_with(
    endpoint: &str,
    port: u16,
    trust: TrustStore,
    adjust: impl FnOnce(&mut Settings),
) -> EndpointReport {
    let endpoints = Endpoint::parse_all(endpoint).expect("endpoint");
    let mut settings = Settings::new(trust, OffsetDateTime::now_utc());
    settings.connect = Some(ConnectTo {
        host: "127.0.0.1".into(),
        port: Some(port),
    });
    settings.timeout = Duration::from_secs(5);
    adjust(&mut settings);
    let mut report = check_endpoints(&endpoints, &settings, None).expect("check runs");
    assert_eq!(report.endpoints.len(), 1);
    report.endpoints.remove(0)
}

/// The finding codes of a report, in order.
pub fn codes(report: &EndpointReport) -> Vec<Code> {
    let mut c: Vec<Code> = report.findings.iter().map(|f| f.code).collect();
    c.sort();
    c
}

pub fn sorted(mut c: Vec<Code>) -> Vec<Code> {
    c.sort();
    c
}

pub fn describe(report: &EndpointReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}

pub fn shared<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
