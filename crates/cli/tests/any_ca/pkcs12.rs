use super::harness::Env;

/// A self-signed RSA certificate and key made by OpenSSL, plus PFX files of
/// them in OpenSSL 3's default form and in the legacy form.
pub(super) fn openssl_pfx(env: &Env) -> String {
    env.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "o.key",
        "-out",
        "o.pem",
        "-days",
        "365",
        "-subj",
        "/CN=imap.contoso.com",
        "-addext",
        "subjectAltName=DNS:imap.contoso.com",
        "-addext",
        "basicConstraints=CA:FALSE",
    ]);
    env.openssl(&[
        "pkcs12",
        "-export",
        "-in",
        "o.pem",
        "-inkey",
        "o.key",
        "-out",
        "modern.pfx",
        "-passout",
        "pass:S3cret!",
    ]);
    env.openssl(&[
        "pkcs12",
        "-export",
        "-legacy",
        "-in",
        "o.pem",
        "-inkey",
        "o.key",
        "-out",
        "legacy.pfx",
        "-passout",
        "pass:S3cret!",
    ]);
    let info = env.openssl(&[
        "pkcs12",
        "-info",
        "-in",
        "legacy.pfx",
        "-passin",
        "pass:S3cret!",
        "-legacy",
        "-noout",
    ]);
    assert!(
        info.contains("RC2") || info.contains("rc2"),
        "not a legacy file: {info}"
    );
    let fp = env.openssl(&["x509", "-in", "o.pem", "-noout", "-fingerprint", "-sha1"]);
    fp.split('=').nth(1).unwrap().trim().replace(':', "")
}

#[test]
fn openssl_pfx_files_import_modern_and_legacy() {
    let env = Env::new();
    let thumb = openssl_pfx(&env);
    env.write("pw", "S3cret!\n");
    let got = env.ok(&[
        "import",
        &env.p("modern.pfx"),
        "--password-file",
        &env.p("pw"),
    ]);
    assert_eq!(got, thumb);
    let view = env.view(&thumb);
    assert_eq!(view["has_private_key"], true);
    assert_eq!(view["key_algorithm"], "rsa-2048");
    // The same certificate again (legacy file, password from the environment): idempotent.
    let before = env.snapshot();
    let out = env
        .command()
        .env("MAILCERT_PASSWORD", "S3cret!")
        .args(["import", &env.p("legacy.pfx")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in the store"));
    assert_eq!(before, env.snapshot());

    // A fresh store takes the legacy file too.
    let other = Env::new();
    std::fs::copy(env.path("legacy.pfx"), other.path("legacy.pfx")).unwrap();
    other.write("pw", "S3cret!");
    assert_eq!(
        other.ok(&[
            "import",
            &other.p("legacy.pfx"),
            "--password-file",
            &other.p("pw")
        ]),
        thumb
    );
    assert_eq!(other.view(&thumb)["has_private_key"], true);
}

#[test]
fn pem_certificate_and_key_import_then_pfx_adds_nothing() {
    let env = Env::new();
    let thumb = openssl_pfx(&env);
    // Certificate alone first: stored without a key.
    env.ok(&["import", &env.p("o.pem")]);
    assert_eq!(env.view(&thumb)["has_private_key"], false);
    // The key arrives later (separate file): added to the same certificate.
    let text = env.ok_all(&["import", &env.p("o.pem"), "--key", &env.p("o.key")]);
    assert!(
        text.contains("already in the store") && text.contains("private key"),
        "{text}"
    );
    assert_eq!(env.view(&thumb)["has_private_key"], true);
}

#[test]
fn bad_pfx_inputs_each_get_their_own_error() {
    let env = Env::new();
    openssl_pfx(&env);
    env.write("wrong", "not the password\n");
    let err = env.refused(&[
        "import",
        &env.p("modern.pfx"),
        "--password-file",
        &env.p("wrong"),
    ]);
    assert!(
        err.contains("modern.pfx") && err.contains("password is wrong"),
        "{err}"
    );
    let err = env.refused(&[
        "import",
        &env.p("legacy.pfx"),
        "--password-file",
        &env.p("wrong"),
    ]);
    assert!(err.contains("password is wrong"), "{err}");

    let pfx = env.read("modern.pfx");
    let cut = env.write("cut.pfx", &pfx[..pfx.len() * 2 / 3]);
    let err = env.refused_with(&["import", &cut], &[("MAILCERT_PASSWORD", "S3cret!")]);
    assert!(
        err.contains("cut.pfx") && err.contains("truncated"),
        "{err}"
    );

    // A PFX given to complete: pointed at import.
    let err = env.refused(&["complete", &env.p("modern.pfx")]);
    assert!(err.contains("mailcert import"), "{err}");

    // No password source and no terminal: a clear refusal, never a hang.
    let err = env.refused(&["import", &env.p("modern.pfx")]);
    assert!(
        err.contains("--password-file") && err.contains("MAILCERT_PASSWORD"),
        "{err}"
    );

    // A key that belongs to another certificate.
    env.openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "other.key",
    ]);
    let err = env.refused(&["import", &env.p("o.pem"), "--key", &env.p("other.key")]);
    assert!(err.contains("does not belong to the certificate"), "{err}");
    let mut both = env.read("o.pem");
    both.extend(env.read("other.key"));
    let both = env.write("both.pem", both);
    let err = env.refused(&["import", &both]);
    assert!(err.contains("does not belong to the certificate"), "{err}");
}

/// Re-encodes a DER PFX the way some Windows exports look: indefinite
/// lengths on the outer structures and the authenticated safe's OCTET
/// STRING split into chunks.
fn to_ber(der: &[u8]) -> Vec<u8> {
    fn header(data: &[u8]) -> (usize, usize) {
        let first = data[1];
        if first < 0x80 {
            (2, first as usize)
        } else {
            let n = (first & 0x7f) as usize;
            let mut len = 0;
            for b in &data[2..2 + n] {
                len = (len << 8) | *b as usize;
            }
            (2 + n, len)
        }
    }
    fn children(data: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let (h, len) = header(&data[pos..]);
            out.push(&data[pos..pos + h + len]);
            pos += h + len;
        }
        out
    }
    fn indefinite(tag: u8, parts: Vec<Vec<u8>>) -> Vec<u8> {
        let mut out = vec![tag, 0x80];
        for p in parts {
            out.extend(p);
        }
        out.extend([0, 0]);
        out
    }
    // PFX ::= SEQUENCE { version, authSafe ContentInfo, macData }
    let (h, len) = header(der);
    let top = children(&der[h..h + len]);
    let auth_safe = top[1];
    let (h2, len2) = header(auth_safe);
    let ci = children(&auth_safe[h2..h2 + len2]); // contentType, [0] content
    let explicit = ci[1];
    let (h3, len3) = header(explicit);
    let octets = &explicit[h3..h3 + len3];
    let (h4, len4) = header(octets);
    let value = &octets[h4..h4 + len4];
    let chunks: Vec<Vec<u8>> = value
        .chunks(100)
        .map(|c| {
            let mut piece = vec![0x04, 0x81, c.len() as u8];
            if c.len() < 0x80 {
                piece = vec![0x04, c.len() as u8];
            }
            piece.extend(c);
            piece
        })
        .collect();
    let octets_ber = indefinite(0x24, chunks);
    let explicit_ber = indefinite(0xa0, vec![octets_ber]);
    let auth_safe_ber = indefinite(0x30, vec![ci[0].to_vec(), explicit_ber]);
    indefinite(0x30, vec![top[0].to_vec(), auth_safe_ber, top[2].to_vec()])
}

#[test]
fn ber_encoded_pfx_imports() {
    let env = Env::new();
    let thumb = openssl_pfx(&env);
    let ber = to_ber(&env.read("modern.pfx"));
    let path = env.write("ber.pfx", &ber);
    // OpenSSL reads it too: it is a valid (BER) PKCS#12.
    env.openssl(&[
        "pkcs12",
        "-info",
        "-in",
        "ber.pfx",
        "-passin",
        "pass:S3cret!",
        "-noout",
    ]);
    env.write("pw", "S3cret!");
    assert_eq!(
        env.ok(&["import", &path, "--password-file", &env.p("pw")]),
        thumb
    );
    assert_eq!(env.view(&thumb)["has_private_key"], true);
}

#[test]
fn exported_pfx_opens_in_openssl_modern_and_legacy() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    env.request(&["mail.contoso.com"], "req.csr");
    env.openssl_sign("req.csr", "DNS:mail.contoso.com", "leaf.pem");
    let thumb = env.ok(&[
        "complete",
        &env.p("leaf.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    env.write("pw", "Exp0rt!\n");

    let out = env.p("modern.pfx");
    env.ok(&[
        "export",
        &thumb,
        "--out",
        &out,
        "--password-file",
        &env.p("pw"),
    ]);
    let mode = std::fs::metadata(&out).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    let info = env.openssl(&[
        "pkcs12",
        "-info",
        "-in",
        "modern.pfx",
        "-passin",
        "pass:Exp0rt!",
        "-nokeys",
    ]);
    assert!(
        info.contains("AES-256-CBC") && info.contains("MAC: sha256"),
        "{info}"
    );
    assert!(
        !info.contains("RC2") && !info.contains("TripleDES"),
        "the modern form uses AES only: {info}"
    );
    assert!(
        info.contains("CN = Test Intermediate"),
        "the chain is missing: {info}"
    );
    // The key inside matches the certificate.
    env.openssl(&[
        "pkcs12",
        "-in",
        "modern.pfx",
        "-passin",
        "pass:Exp0rt!",
        "-nodes",
        "-out",
        "back.pem",
    ]);
    let k1 = env.openssl(&["pkey", "-in", "back.pem", "-pubout"]);
    let k2 = env.openssl(&["x509", "-in", "leaf.pem", "-noout", "-pubkey"]);
    assert_eq!(k1, k2);

    env.ok(&[
        "export",
        &thumb,
        "--out",
        &env.p("legacy.pfx"),
        "--legacy",
        "--password-file",
        &env.p("pw"),
    ]);
    // The layout `openssl pkcs12 -export -legacy` writes: RC2-40 for the
    // certificates, 3DES for the shrouded key bag, a SHA-1 MAC.
    let info = env.openssl(&[
        "pkcs12",
        "-info",
        "-legacy",
        "-in",
        "legacy.pfx",
        "-passin",
        "pass:Exp0rt!",
        "-nokeys",
    ]);
    for expected in [
        "PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC, Iteration 2048",
        "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048",
        "MAC: sha1, Iteration 2048",
        "CN = Test Intermediate",
    ] {
        assert!(info.contains(expected), "{expected:?} not in: {info}");
    }
    assert!(!info.contains("AES-256"), "{info}");
    env.openssl(&[
        "pkcs12",
        "-legacy",
        "-in",
        "legacy.pfx",
        "-passin",
        "pass:Exp0rt!",
        "-nodes",
        "-out",
        "legacy-back.pem",
    ]);
    let k1 = env.openssl(&["pkey", "-in", "legacy-back.pem", "-pubout"]);
    assert_eq!(k1, k2, "the legacy file's key matches the certificate");
    // A wrong password fails the recomputed MAC.
    let wrong = std::process::Command::new(super::harness::OPENSSL)
        .args(["pkcs12", "-legacy", "-info", "-noout", "-in"])
        .arg(env.path("legacy.pfx"))
        .args(["-passin", "pass:wrong"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("Mac verify error"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    // Each exported file imports into another store, chain and all.
    for file in ["modern.pfx", "legacy.pfx"] {
        let other = Env::new();
        std::fs::copy(env.path(file), other.path("in.pfx")).unwrap();
        other.write("pw", "Exp0rt!");
        other.ok(&["trust", "add", &{
            std::fs::copy(env.path("testroot.pem"), other.path("root.pem")).unwrap();
            other.p("root.pem")
        }]);
        assert_eq!(
            other.ok(&[
                "import",
                &other.p("in.pfx"),
                "--password-file",
                &other.p("pw")
            ]),
            thumb,
            "{file}"
        );
        assert_eq!(other.status(&thumb), "Valid", "{file}");
        assert_eq!(other.view(&thumb)["has_private_key"], true, "{file}");
    }
    // The export is in the audit log.
    let log = env.ok(&["log"]);
    assert!(log.contains("export"), "{log}");

    // An existing file is kept unless --force says otherwise.
    let before = env.read("modern.pfx");
    let again = [
        "export",
        &thumb,
        "--out",
        &out,
        "--password-file",
        &env.p("pw"),
    ];
    let err = env.refused(&again);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(env.read("modern.pfx"), before);
    env.ok(&[&again[..], &["--force"]].concat());
    assert_ne!(
        env.read("modern.pfx"),
        before,
        "a new PFX (fresh salt) was written"
    );
    let mode = std::fs::metadata(&out).unwrap();
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[test]
fn non_exportable_keys_never_leave() {
    let env = Env::new();
    env.openssl_ca();
    let id = env.ok(&[
        "request",
        "--name",
        "mail.contoso.com",
        "--non-exportable",
        "--out",
        &env.p("req.csr"),
    ]);
    assert_eq!(env.view(&id)["exportable"], false);
    env.openssl_sign("req.csr", "DNS:mail.contoso.com", "leaf.pem");
    let thumb = env.ok(&[
        "complete",
        &env.p("leaf.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    env.write("pw", "x");
    for extra in [&[][..], &["--legacy"][..]] {
        let out = env.p("never.pfx");
        let mut args = vec![
            "export",
            thumb.as_str(),
            "--out",
            out.as_str(),
            "--password-file",
        ];
        let pw = env.p("pw");
        args.push(&pw);
        args.extend_from_slice(extra);
        let err = env.refused(&args);
        assert!(err.contains("non-exportable"), "{err}");
        assert!(!env.path("never.pfx").exists());
    }
    // The certificate alone may go.
    env.ok(&["export", &thumb, "--pem", "--out", &env.p("cert.pem")]);
    let text = String::from_utf8_lossy(&env.read("cert.pem")).to_string();
    assert!(!text.contains("PRIVATE KEY"));
}

#[test]
fn a_pfx_without_a_password_imports_without_asking_for_one() {
    let env = Env::new();
    let thumb = openssl_pfx(&env);
    // Exported with an empty password (Windows allows it), with and
    // without encryption and integrity check.
    env.openssl(&[
        "pkcs12",
        "-export",
        "-in",
        "o.pem",
        "-inkey",
        "o.key",
        "-out",
        "empty.pfx",
        "-passout",
        "pass:",
    ]);
    env.openssl(&[
        "pkcs12", "-export", "-in", "o.pem", "-inkey", "o.key", "-out", "bare.pfx", "-keypbe",
        "NONE", "-certpbe", "NONE", "-nomac", "-passout", "pass:",
    ]);
    for file in ["empty.pfx", "bare.pfx"] {
        let store = format!("{file}.db");
        let out = env
            .command()
            .env("MAILCERT_STORE", env.p(&store))
            .args(["import", &env.p(file)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), thumb);
    }
    // A protected file still asks for its password.
    let err = env.refused(&["import", &env.p("modern.pfx")]);
    assert!(err.contains("--password-file"), "{err}");
}
