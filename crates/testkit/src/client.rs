//! OpenSSL's `s_client` as the outside client: what a server really
//! sends on the wire, certificate by certificate.

use crate::run;

/// The certificates a server sends (PEM, leaf first), as `openssl
/// s_client -showcerts` sees them. `starttls` is s_client's protocol
/// name (`imap`, `pop3`, `smtp`) for a STARTTLS port.
pub fn served_chain(port: u16, server_name: &str, starttls: Option<&str>) -> Vec<String> {
    let address = format!("127.0.0.1:{port}");
    let mut args = vec![
        "s_client",
        "-connect",
        &address,
        "-servername",
        server_name,
        "-showcerts",
    ];
    if let Some(protocol) = starttls {
        args.extend(["-starttls", protocol]);
    }
    let out = run("openssl", &args, b"");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let chain = pem_blocks(&text);
    assert!(
        !chain.is_empty(),
        "openssl s_client {address} saw no certificate:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    chain
}

/// The `BEGIN CERTIFICATE` blocks of a text, in order, as PEM text (64
/// columns, LF). Other blocks and the text around them are left out; a
/// text whose blocks do not decode has none (callers show the text).
pub fn pem_blocks(text: &str) -> Vec<String> {
    ::pem::parse_many(text)
        .unwrap_or_default()
        .iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .map(|block| {
            ::pem::encode_config(
                block,
                ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
            )
        })
        .collect()
}

/// What `openssl x509` says about one PEM certificate: the SHA-1
/// fingerprint as mailcert writes thumbprints (upper-case hex, no
/// colons), and the subject and issuer in OpenSSL's RFC 2253 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpensslView {
    pub thumbprint: String,
    pub subject: String,
    pub issuer: String,
}

pub fn openssl_view(pem: &str) -> OpensslView {
    let out = run(
        "openssl",
        &[
            "x509",
            "-noout",
            "-fingerprint",
            "-sha1",
            "-subject",
            "-issuer",
            "-nameopt",
            "RFC2253",
        ],
        pem.as_bytes(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "openssl x509: {text}");
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {text}"))
            .trim()
            .to_string()
    };
    OpensslView {
        thumbprint: field("sha1 Fingerprint=")
            .replace(':', "")
            .to_ascii_uppercase(),
        subject: field("subject="),
        issuer: field("issuer="),
    }
}

/// The SHA-1 thumbprint (mailcert's form) of the leaf an OpenSSL client
/// gets from the implicit-TLS port, asking for `sni` (or no name), with
/// a fresh session each time (s_client never resumes unless told).
pub fn served_thumbprint(port: u16, sni: Option<&str>) -> Result<String, String> {
    let address = format!("127.0.0.1:{port}");
    let mut args = vec!["s_client", "-connect", &address];
    match sni {
        Some(name) => args.extend(["-servername", name]),
        None => args.push("-noservername"),
    }
    let out = run("openssl", &args, b"");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some(leaf) = pem_blocks(&text).into_iter().next() else {
        return Err(format!(
            "openssl s_client {address}: no certificate\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    };
    Ok(openssl_view(&leaf).thumbprint)
}
