//! Throwaway PKIs made with the `openssl` command, as an outside CA
//! makes them.
//!
//! [`OpensslPki`] is the workshop: roots (dated or not), self-signed
//! servers, and certificates of any shape issued with `openssl ca` (which
//! takes explicit dates, in the past or the future); it also signs
//! requests as a CA does (`openssl x509 -req`, which copies the request's
//! subject as it is). [`Pki`] is the common case built with it: a root,
//! an intermediate, and leaves for given names.

use std::path::{Path, PathBuf};

use crate::openssl::{openssl, openssl_date, SignRequest};
use crate::TempDir;

/// A key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    EcP256,
    Rsa(u32),
}

/// A certificate made by [`OpensslPki`].
#[derive(Debug, Clone)]
pub struct Cert {
    pub pem: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
    pub cn: String,
}

/// What to put on a certificate issued with [`OpensslPki::issue`].
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

    /// The extension file `openssl ca` gets for this certificate.
    fn extension_file(&self) -> String {
        if let Some(raw) = &self.extensions {
            return raw.clone();
        }
        let mut ext = String::new();
        if self.ca {
            match self.pathlen {
                Some(p) => {
                    ext.push_str(&format!("basicConstraints=critical,CA:TRUE,pathlen:{p}\n"))
                }
                None => ext.push_str("basicConstraints=critical,CA:TRUE\n"),
            }
            ext.push_str("keyUsage=critical,keyCertSign,cRLSign\n");
        } else {
            ext.push_str(&format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,{}\n",
                self.key_usage.unwrap_or("digitalSignature,keyEncipherment")
            ));
        }
        if let Some(eku) = self.eku {
            ext.push_str(&format!("extendedKeyUsage={eku}\n"));
        }
        if !self.names.is_empty() {
            ext.push_str(&format!("subjectAltName={}\n", san(&self.names)));
        }
        if let Some(aia) = self.aia {
            ext.push_str(&format!("authorityInfoAccess=caIssuers;URI:{aia}\n"));
        }
        if let Some(nc) = self.name_constraints {
            ext.push_str(&format!("nameConstraints=critical,{nc}\n"));
        }
        ext.push_str("subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
        ext
    }
}

/// `DNS:a,IP:127.0.0.1,…`: the subjectAltName value for `names`.
pub fn san(names: &[impl AsRef<str>]) -> String {
    names
        .iter()
        .map(|n| {
            let n = n.as_ref();
            if n.parse::<std::net::IpAddr>().is_ok() {
                format!("IP:{n}")
            } else {
                format!("DNS:{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `DNS:a,DNS:b,…`, whatever the names look like.
fn dns_names(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("DNS:{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The extension file of a server certificate as CAs issue them
/// (serverAuth, key identifiers), with `subject_alt_name` (a value such
/// as [`san`] makes: `DNS:a,DNS:b`).
pub fn server_extensions(subject_alt_name: &str) -> String {
    format!(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName={subject_alt_name}\n"
    )
}

/// The extension file of an intermediate CA (`pathlen`: its
/// pathLenConstraint, if any).
pub fn intermediate_extensions(pathlen: Option<u32>) -> String {
    let pathlen = pathlen.map(|p| format!(",pathlen:{p}")).unwrap_or_default();
    format!("basicConstraints=critical,CA:TRUE{pathlen}\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
}

/// A directory where certificates are made with `openssl`: the files are
/// `NAME.pem` and `NAME.key`; `openssl ca`'s own files are in `ca-db/`.
pub struct OpensslPki {
    dir: PathBuf,
    _temp: Option<TempDir>,
}

impl Default for OpensslPki {
    fn default() -> Self {
        OpensslPki::new()
    }
}

impl OpensslPki {
    /// In a temporary directory of its own.
    pub fn new() -> OpensslPki {
        let temp = crate::temp_dir();
        let mut pki = OpensslPki::in_dir(temp.path());
        pki._temp = Some(temp);
        pki
    }

    /// In `dir` (created), beside whatever else is there.
    pub fn in_dir(dir: &Path) -> OpensslPki {
        let db = dir.join("ca-db");
        std::fs::create_dir_all(db.join("newcerts")).expect("the CA's folders");
        std::fs::write(db.join("index.txt"), "").expect("index");
        std::fs::write(
            db.join("ca.cnf"),
            format!("[ca]\ndefault_ca = the_ca\n[the_ca]\ndir = {}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/newcerts\nserial = $dir/serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\n[any]\ncommonName = supplied\n", db.display()),
        )
        .expect("ca.cnf");
        // A serial of its own, so that two PKIs (whose CAs may share a
        // name) never issue two certificates with one issuer and serial.
        std::fs::write(
            db.join("serial"),
            format!("{:016X}\n", crate::random_seed() >> 1),
        )
        .expect("serial");
        OpensslPki {
            dir: dir.to_path_buf(),
            _temp: None,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn ca_config(&self) -> String {
        self.dir.join("ca-db/ca.cnf").display().to_string()
    }

    /// Runs `openssl ARGS` in the directory; returns standard output.
    #[track_caller]
    pub fn openssl(&self, args: &[&str]) -> String {
        openssl(&self.dir, args)
    }

    /// A new private key (PKCS#8 PEM) in `file`.
    pub fn key(&self, file: &str, key: Key) -> PathBuf {
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
        self.openssl(&args);
        self.path(file)
    }

    /// A self-signed root CA (P-256), valid for 10 years.
    pub fn root(&self, name: &str, cn: &str) -> Cert {
        self.root_with(name, cn, Key::EcP256)
    }

    pub fn root_with(&self, name: &str, cn: &str, key: Key) -> Cert {
        self.root_for(name, cn, key, 3650)
    }

    /// A self-signed root CA valid from now for `days`, as `openssl req
    /// -x509` makes it.
    pub fn root_for(&self, name: &str, cn: &str, key: Key, days: u32) -> Cert {
        let key_file = format!("{name}.key");
        let pem_file = format!("{name}.pem");
        self.key(&key_file, key);
        let subj = format!("/CN={cn}");
        let days = days.to_string();
        self.openssl(&[
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
            &days,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
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
        self.request(name, cn, Key::EcP256);
        std::fs::write(
            self.path(&ext_file),
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
        )
        .expect("ext file");
        let (start, end) = (openssl_date(start_days), openssl_date(end_days));
        let config = self.ca_config();
        self.openssl(&[
            "ca",
            "-batch",
            "-notext",
            "-config",
            &config,
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
        ]);
        self.load(name, cn)
    }

    /// A self-signed server certificate, as `openssl req -x509` makes it.
    pub fn self_signed(&self, name: &str, cn: &str, names: &[&str]) -> Cert {
        let key_file = format!("{name}.key");
        let pem_file = format!("{name}.pem");
        self.key(&key_file, Key::EcP256);
        let subj = format!("/CN={cn}");
        let san = format!("subjectAltName={}", san(names));
        self.openssl(&[
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
        ]);
        self.load(name, cn)
    }

    /// A certificate for `spec`, signed by `issuer` with `openssl ca`.
    pub fn issue(&self, issuer: &Cert, name: &str, spec: &Spec) -> Cert {
        let csr_file = format!("{name}.csr");
        let pem_file = format!("{name}.pem");
        let ext_file = format!("{name}.ext");
        self.request(name, &spec.cn, spec.key);
        std::fs::write(self.path(&ext_file), spec.extension_file()).expect("ext file");
        let start = openssl_date(spec.start_days);
        let end = openssl_date(spec.end_days);
        let issuer_pem = issuer.pem.to_string_lossy().to_string();
        let issuer_key = issuer.key.to_string_lossy().to_string();
        let config = self.ca_config();
        self.openssl(&[
            "ca",
            "-batch",
            "-notext",
            "-config",
            &config,
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
        ]);
        self.load(name, &spec.cn)
    }

    /// Signs the request `csr` (PEM) with `issuer` as a CA does: the
    /// request's subject and key as they are, the extensions of
    /// `extensions` (a file's text), valid from now for `days`; writes
    /// the certificate (PEM) to `out`.
    pub fn sign_request(&self, issuer: &Cert, csr: &Path, extensions: &str, days: u32, out: &Path) {
        // Relative paths are the directory's, as for the openssl it runs.
        let (csr, out) = (self.dir.join(csr), self.dir.join(out));
        let ext = out.with_extension("ext");
        std::fs::write(&ext, extensions).expect("ext file");
        let s = |path: &Path| path.to_string_lossy().into_owned();
        let sign = SignRequest::new(&s(&csr), &s(&issuer.pem), &s(&issuer.key), days, &s(&out))
            .with(&["-extfile", &s(&ext)]);
        self.openssl(&sign.args());
    }

    /// A new key (`key`) and request for `/CN=cn` in `NAME.key` and
    /// `NAME.csr`, as `openssl req` writes them.
    pub fn request(&self, name: &str, cn: &str, key: Key) -> PathBuf {
        let key_file = format!("{name}.key");
        let csr_file = format!("{name}.csr");
        self.key(&key_file, key);
        let subj = format!("/CN={cn}");
        self.openssl(&[
            "req", "-new", "-key", &key_file, "-out", &csr_file, "-subj", &subj,
        ]);
        self.path(&csr_file)
    }

    /// The certificate `NAME.pem` with its key `NAME.key`.
    pub fn load(&self, name: &str, cn: &str) -> Cert {
        let pem = self.path(&format!("{name}.pem"));
        let text = std::fs::read_to_string(&pem).expect("certificate file");
        let der = ::pem::parse(&text)
            .expect("a PEM certificate")
            .into_contents();
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

/// A root CA and an intermediate in a directory, both valid for 30 days,
/// and leaves they issue (20 days): the PKI most tests need.
pub struct Pki {
    pub dir: PathBuf,
    /// The root certificate (PEM): what clients trust.
    pub root: PathBuf,
    pub intermediate: PathBuf,
    workshop: OpensslPki,
    issuer: Cert,
}

/// A leaf certificate with its key and the chain above it.
pub struct Leaf {
    pub cert: PathBuf,
    /// PKCS#8 PEM.
    pub key: PathBuf,
    /// The intermediate (PEM).
    pub chain: PathBuf,
}

impl Leaf {
    /// The certificate followed by its chain, as one PEM text: what a
    /// server is configured with, and what `import` takes beside the key.
    pub fn with_chain(&self) -> String {
        let mut pem = std::fs::read_to_string(&self.cert).expect("the leaf's certificate");
        pem.push_str(&std::fs::read_to_string(&self.chain).expect("the leaf's chain"));
        pem
    }
}

impl Pki {
    /// Creates the root and the intermediate under `dir`.
    pub fn new(dir: &Path) -> Pki {
        let workshop = OpensslPki::in_dir(dir);
        let root = workshop.root_for("root", "mailcert test root", Key::EcP256, 30);
        let csr = workshop.request("intermediate", "mailcert test intermediate", Key::EcP256);
        let pem = workshop.path("intermediate.pem");
        workshop.sign_request(&root, &csr, &intermediate_extensions(None), 30, &pem);
        let issuer = workshop.load("intermediate", "mailcert test intermediate");
        Pki {
            dir: dir.to_path_buf(),
            root: root.pem,
            intermediate: issuer.pem.clone(),
            workshop,
            issuer,
        }
    }

    /// Issues a leaf for `names` signed by the intermediate. `key` is
    /// `ec` (P-256) or `rsa` (2048).
    pub fn leaf(&self, label: &str, names: &[&str], key: &str) -> Leaf {
        let key = match key {
            "rsa" => Key::Rsa(2048),
            _ => Key::EcP256,
        };
        let csr = self.workshop.request(label, names[0], key);
        let cert = self.workshop.path(&format!("{label}.pem"));
        self.workshop.sign_request(
            &self.issuer,
            &csr,
            &format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName={}\n", dns_names(names)),
            20,
            &cert,
        );
        Leaf {
            cert,
            key: self.workshop.path(&format!("{label}.key")),
            chain: self.intermediate.clone(),
        }
    }

    /// Signs a request (PEM) with the intermediate as a CA does: the
    /// request's key, `names` as its subjectAltName (DNS), serverAuth;
    /// writes the certificate (PEM) to `out`.
    pub fn sign(&self, csr: &Path, names: &[&str], out: &Path) {
        self.workshop.sign_request(
            &self.issuer,
            csr,
            &server_extensions(&dns_names(names)),
            20,
            out,
        );
    }
}
