//! A file that is not what `import` (or `complete`) takes is refused with
//! exit 2, the store unchanged, and a message that says what the file
//! looks like and, when it can, what to do with it. The files are the
//! real thing: OpenSSL's requests and keys, Python's ZIP.

use super::harness::Env;

#[test]
fn import_names_what_a_wrong_file_looks_like() {
    let env = Env::new();
    env.openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "alone.key",
        "-subj",
        "/CN=mail.contoso.com",
        "-out",
        "req.csr",
    ]);
    env.openssl(&[
        "req", "-in", "req.csr", "-outform", "DER", "-out", "req.der",
    ]);
    env.openssl(&[
        "req",
        "-x509",
        "-key",
        "alone.key",
        "-subj",
        "/CN=mail.contoso.com",
        "-out",
        "cert.pem",
    ]);
    // A certificate sent zipped, as mail attachments often are.
    mailcert_testkit::python(
        "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.write(sys.argv[2],'cert.pem'); z.close()",
        &[&env.p("cert.zip.pfx"), &env.p("cert.pem")],
    );
    let random: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    env.write("garbage.pfx", &random);
    env.write("notes.pfx", "Password for the certificate: ask Bob\n");
    env.write(
        "page.pfx",
        "<!DOCTYPE html><html><body>Sign in</body></html>",
    );
    for (file, looks, hint) in [
        ("garbage.pfx", "binary data", None),
        (
            "notes.pfx",
            "text starting \"Password for the certificate",
            None,
        ),
        (
            "page.pfx",
            "an HTML page",
            Some("save the certificate itself"),
        ),
        ("cert.zip.pfx", "a ZIP archive", Some("unpack it")),
        (
            "req.csr",
            "a certificate request (CSR)",
            Some("mailcert complete"),
        ),
        (
            "req.der",
            "a certificate request (CSR)",
            Some("mailcert complete"),
        ),
        (
            "alone.key",
            "a private key without its certificate",
            Some("--key"),
        ),
    ] {
        let err = env.refused(&["import", &env.p(file)]);
        assert!(err.contains(file) && err.contains(looks), "{file}: {err}");
        if let Some(hint) = hint {
            assert!(err.contains(hint), "{file}: {err}");
        }
        if file.ends_with(".pfx") && !file.starts_with("cert.zip") {
            assert!(
                err.contains("is not a PKCS#12 (.pfx/.p12) file"),
                "{file}: {err}"
            );
        }
    }
    // complete says the same of a request given in place of the answer.
    let err = env.refused(&["complete", &env.p("req.csr")]);
    assert!(err.contains("a certificate request (CSR)"), "{err}");
}
