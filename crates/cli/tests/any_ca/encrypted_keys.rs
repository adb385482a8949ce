//! Encrypted PKCS#8 keys (PBES2) as `import --key` reads them: opened with
//! their password, and refused with the numbers and the fix when the file
//! asks for more key-derivation work than mailcert accepts or its
//! parameters are damaged.

use super::harness::Env;
use super::pkcs12::openssl_pfx;

#[test]
fn encrypted_pem_keys_import_with_their_password() {
    let env = Env::new();
    let thumb = openssl_pfx(&env);
    env.write("pw", "K3y pass\n");
    env.write("wrong", "not it\n");
    // OpenSSL 3's default (PBES2, PBKDF2, AES-256-CBC) and scrypt.
    env.openssl(&[
        "pkey",
        "-in",
        "o.key",
        "-aes256",
        "-passout",
        "pass:K3y pass",
        "-out",
        "pbkdf2.key",
    ]);
    env.openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        "o.key",
        "-scrypt",
        "-passout",
        "pass:K3y pass",
        "-out",
        "scrypt.key",
    ]);
    assert!(String::from_utf8_lossy(&env.read("pbkdf2.key")).contains("ENCRYPTED PRIVATE KEY"));

    // No password anywhere and no terminal: refused, naming where one goes.
    let err = env.refused(&["import", &env.p("o.pem"), "--key", &env.p("pbkdf2.key")]);
    assert!(err.contains("--password-file"), "{err}");
    // The wrong password: said so, nothing stored.
    let err = env.refused(&[
        "import",
        &env.p("o.pem"),
        "--key",
        &env.p("pbkdf2.key"),
        "--password-file",
        &env.p("wrong"),
    ]);
    assert!(
        err.contains("pbkdf2.key") && err.contains("password does not decrypt"),
        "{err}"
    );
    // A traditional encrypted key is refused with the conversion command.
    env.openssl(&[
        "pkey",
        "-in",
        "o.key",
        "-traditional",
        "-aes256",
        "-passout",
        "pass:K3y pass",
        "-out",
        "traditional.key",
    ]);
    let err = env.refused(&[
        "import",
        &env.p("o.pem"),
        "--key",
        &env.p("traditional.key"),
        "--password-file",
        &env.p("pw"),
    ]);
    assert!(err.contains("openssl pkcs8 -topk8"), "{err}");

    // The right password, key in its own file or after the certificate.
    env.ok(&[
        "import",
        &env.p("o.pem"),
        "--key",
        &env.p("pbkdf2.key"),
        "--password-file",
        &env.p("pw"),
    ]);
    assert_eq!(env.view(&thumb)["has_private_key"], true);
    let other = Env::new();
    let mut both = env.read("o.pem");
    both.extend(env.read("scrypt.key"));
    let both = other.write("both.pem", both);
    let out = other.ok_all_with(&["import", &both], &[("MAILCERT_PASSWORD", "K3y pass")]);
    assert!(out.contains(&thumb), "{out}");
    assert_eq!(other.view(&thumb)["has_private_key"], true);
    // What was stored is the same key: the exported PFX holds it.
    other.write("pw", "x");
    other.ok(&[
        "export",
        &thumb,
        "--out",
        &other.p("o.pfx"),
        "--password-file",
        &other.p("pw"),
    ]);
    let key = other.openssl(&[
        "pkcs12", "-in", "o.pfx", "-passin", "pass:x", "-nocerts", "-nodes",
    ]);
    other.write("back.key", key);
    let back = other.openssl(&["pkey", "-in", "back.key", "-pubout"]);
    let original = env.openssl(&["pkey", "-in", "o.key", "-pubout"]);
    assert_eq!(back, original);
}

/// The key derivation's cost is the file's to choose: a key asking for
/// more PBKDF2 iterations than mailcert accepts is refused before any
/// derivation runs, and so is one whose scrypt parameters are damaged (the
/// fuzzer's scrypt N = 0 made the pkcs5 crate panic; r = 0 here, written
/// by OpenSSL and patched).
#[test]
fn encrypted_keys_asking_too_much_work_or_damaged_are_refused() {
    let env = Env::new();
    openssl_pfx(&env);
    env.write("pw", "K3y pass\n");
    env.openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        "o.key",
        "-v2",
        "aes-256-cbc",
        "-iter",
        "2000000",
        "-passout",
        "pass:K3y pass",
        "-out",
        "costly.key",
    ]);
    let err = env.refused(&[
        "import",
        &env.p("o.pem"),
        "--key",
        &env.p("costly.key"),
        "--password-file",
        &env.p("pw"),
    ]);
    assert!(
        err.contains("costly.key") && err.contains("2000000 PBKDF2 iterations"),
        "{err}"
    );
    assert!(err.contains("openssl pkcs8 -topk8"), "{err}");

    env.openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        "o.key",
        "-scrypt",
        "-passout",
        "pass:K3y pass",
        "-outform",
        "DER",
        "-out",
        "scrypt.der",
    ]);
    // OpenSSL's scrypt defaults, N = 16384, r = 8, p = 1, as DER INTEGERs.
    let mut der = env.read("scrypt.der");
    let defaults = [0x02, 0x02, 0x40, 0x00, 0x02, 0x01, 0x08, 0x02, 0x01, 0x01];
    let at = der
        .windows(defaults.len())
        .position(|w| w == defaults)
        .expect("OpenSSL's scrypt parameters N=16384 r=8 p=1 in the key");
    der[at + 6] = 0;
    env.write("damaged.der", der);
    let err = env.refused(&[
        "import",
        &env.p("o.pem"),
        "--key",
        &env.p("damaged.der"),
        "--password-file",
        &env.p("pw"),
    ]);
    assert!(
        err.contains("damaged.der") && err.contains("r=0") && err.contains("damaged"),
        "{err}"
    );
}
