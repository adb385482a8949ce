//! A throwaway PKI made with the `openssl` command: a root, an
//! intermediate, and leaves for given names (ECDSA P-256 or RSA-2048).

use std::path::{Path, PathBuf};

use crate::run;

/// A root CA and an intermediate in a directory.
pub struct Pki {
    pub dir: PathBuf,
    /// The root certificate (PEM): what clients trust.
    pub root: PathBuf,
    pub intermediate: PathBuf,
    intermediate_key: PathBuf,
}

/// A leaf certificate with its key and the chain above it.
pub struct Leaf {
    pub cert: PathBuf,
    /// PKCS#8 PEM.
    pub key: PathBuf,
    /// The intermediate (PEM).
    pub chain: PathBuf,
}

fn openssl(args: &[&str]) {
    let out = run("openssl", args, b"");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// Creates the root and the intermediate under `dir`.
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).expect("pki dir");
        let p = |name: &str| dir.join(name);
        let s = |path: &PathBuf| path.to_string_lossy().into_owned();
        let (root, root_key) = (p("root.pem"), p("root.key"));
        let (inter, inter_key, inter_csr) = (
            p("intermediate.pem"),
            p("intermediate.key"),
            p("intermediate.csr"),
        );
        let ext = p("ca.ext");
        std::fs::write(&ext, "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n").expect("ext");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &s(&root_key),
            "-out",
            &s(&root),
            "-days",
            "30",
            "-subj",
            "/CN=mailcert test root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &s(&inter_key),
            "-out",
            &s(&inter_csr),
            "-subj",
            "/CN=mailcert test intermediate",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &s(&inter_csr),
            "-CA",
            &s(&root),
            "-CAkey",
            &s(&root_key),
            "-CAcreateserial",
            "-out",
            &s(&inter),
            "-days",
            "30",
            "-extfile",
            &s(&ext),
        ]);
        Pki {
            dir: dir.to_path_buf(),
            root,
            intermediate: inter,
            intermediate_key: inter_key,
        }
    }

    /// Issues a leaf for `names` signed by the intermediate. `key` is
    /// `ec` (P-256) or `rsa` (2048).
    pub fn leaf(&self, label: &str, names: &[&str], key: &str) -> Leaf {
        let p = |ext: &str| self.dir.join(format!("{label}.{ext}"));
        let s = |path: &PathBuf| path.to_string_lossy().into_owned();
        let (cert, key_path, csr, ext) = (p("pem"), p("key"), p("csr"), p("ext"));
        let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        std::fs::write(
            &ext,
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName={}\n", san.join(",")),
        )
        .expect("ext");
        let newkey: Vec<&str> = match key {
            "rsa" => vec!["-newkey", "rsa:2048"],
            _ => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        };
        let subj = format!("/CN={}", names[0]);
        let mut args = vec!["req", "-new"];
        args.extend(newkey);
        let (k, c) = (s(&key_path), s(&csr));
        args.extend(["-nodes", "-keyout", &k, "-out", &c, "-subj", &subj]);
        openssl(&args);
        self.sign_with(&csr, &ext, &cert);
        Leaf {
            cert,
            key: key_path,
            chain: self.intermediate.clone(),
        }
    }

    /// Signs a request (PEM) with the intermediate as a CA does: the
    /// request's key, `names` as its subjectAltName (DNS), serverAuth;
    /// writes the certificate (PEM) to `out`.
    pub fn sign(&self, csr: &Path, names: &[&str], out: &Path) {
        let ext = out.with_extension("ext");
        let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        std::fs::write(
            &ext,
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName={}\n", san.join(",")),
        )
        .expect("ext");
        self.sign_with(csr, &ext, out);
    }

    fn sign_with(&self, csr: &Path, ext: &Path, out: &Path) {
        let s = |path: &Path| path.to_string_lossy().into_owned();
        openssl(&[
            "x509",
            "-req",
            "-in",
            &s(csr),
            "-CA",
            &s(&self.intermediate),
            "-CAkey",
            &s(&self.intermediate_key),
            "-CAcreateserial",
            "-out",
            &s(out),
            "-days",
            "20",
            "-extfile",
            &s(ext),
        ]);
    }
}
