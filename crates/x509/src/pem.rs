//! Reading certificates and keys from what administrators have on disk:
//! PEM (one or many blocks) or DER. Truncated PEM is an error, never a
//! silently shorter list.
//!
//! Every PEM block of public data (certificates, PKCS#7, requests,
//! encrypted keys) is framed and decoded by the `pem` crate, through
//! `blocks` and `first_block`; plaintext private keys by
//! rustls-pki-types, whose base64 decoder runs in constant time over
//! secret material. Text is written by the `pem` crate too ([`to_pem`]).

use rustls_pki_types::pem::{self, PemObject};

use crate::error::CertError;
use crate::sniff::begin_labels;

mod encrypted;

pub use encrypted::{decrypt_private_key, MAX_KDF_ITERATIONS, MAX_SCRYPT_MEMORY};

/// Certificates in `bytes` (PEM blocks or one DER certificate), in file
/// order. `what` names the source in errors (usually the file name).
pub fn decode_certificates(bytes: &[u8], what: &str) -> Result<Vec<Vec<u8>>, CertError> {
    if looks_like_pem(bytes) {
        let out: Vec<Vec<u8>> = blocks(bytes)
            .map_err(|e| e.error(what))?
            .into_iter()
            .filter(|block| block.tag() == "CERTIFICATE")
            .map(::pem::Pem::into_contents)
            .collect();
        if out.is_empty() {
            return Err(CertError::NoCertificate {
                what: what.into(),
                found: crate::sniff::FileKind::of(bytes),
            });
        }
        return Ok(out);
    }
    if bytes.first() == Some(&0x30) {
        return Ok(vec![bytes.to_vec()]);
    }
    Err(CertError::NoCertificate {
        what: what.into(),
        found: crate::sniff::FileKind::of(bytes),
    })
}

/// The private key in `bytes` (PEM `PRIVATE KEY`, `EC PRIVATE KEY`,
/// `RSA PRIVATE KEY`, or DER), as its DER.
pub fn decode_private_key(bytes: &[u8], what: &str) -> Result<Vec<u8>, CertError> {
    if looks_like_pem(bytes) {
        if is_encrypted_key(bytes) {
            return Err(CertError::BadKey {
                what: what.into(),
                reason: "it is encrypted and no password was given".into(),
            });
        }
        // rustls-pki-types rather than the `pem` crate: its base64
        // decoder does not branch or index on the secret it decodes.
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
            pem::Error::NoItemsFound => CertError::BadKey {
                what: what.into(),
                reason: "it holds no private key (no 'BEGIN PRIVATE KEY', 'BEGIN EC PRIVATE KEY' or 'BEGIN RSA PRIVATE KEY' block); give the key file with --key".into(),
            },
            other => key_pem_error(what, other),
        })?;
        return Ok(key.secret_der().to_vec());
    }
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    Err(CertError::BadKey {
        what: what.into(),
        reason: "no 'BEGIN PRIVATE KEY' block and not DER".into(),
    })
}

/// Whether `bytes` hold a password-protected private key: PKCS#8
/// `ENCRYPTED PRIVATE KEY` (PEM or DER) or OpenSSL's traditional
/// `Proc-Type: 4,ENCRYPTED` form.
pub fn is_encrypted_key(bytes: &[u8]) -> bool {
    if looks_like_pem(bytes) {
        let text = String::from_utf8_lossy(bytes);
        return text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
            || text.contains("Proc-Type: 4,ENCRYPTED");
    }
    pkcs8::EncryptedPrivateKeyInfoRef::try_from(bytes).is_ok()
}

/// What is wrong with the PEM text of a file. Every reader of this crate
/// says it in the same words ([`Malformed::reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// A BEGIN line has no END line: the file was cut, or its END line
    /// lost or mislabelled.
    Truncated,
    /// A BEGIN line does not end in five dashes.
    BadBeginLine,
    /// A block's body is not base64 (or not text at all).
    BadBase64,
}

impl Malformed {
    /// The sentence for people, after the file's name.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Malformed::Truncated => {
                "the PEM is truncated: a BEGIN line has no END line; copy the whole file again"
            }
            Malformed::BadBeginLine => "a PEM BEGIN line is malformed",
            Malformed::BadBase64 => "the PEM body is not valid base64 (damaged or truncated)",
        }
    }

    fn error(self, what: &str) -> CertError {
        CertError::BadInput {
            what: what.into(),
            reason: self.reason().into(),
        }
    }
}

impl From<::pem::PemError> for Malformed {
    fn from(e: ::pem::PemError) -> Self {
        use ::pem::PemError;
        match e {
            // The first END line after a BEGIN line closes it: another
            // label there means this block's own END line is missing.
            PemError::MismatchedTags(..) | PemError::MissingEndTag | PemError::MalformedFraming => {
                Malformed::Truncated
            }
            PemError::MissingBeginTag => Malformed::BadBeginLine,
            _ => Malformed::BadBase64,
        }
    }
}

/// rustls-pki-types' errors, for the private keys it decodes, in the
/// same words as the `pem` crate's.
fn key_pem_error(what: &str, e: pem::Error) -> CertError {
    match e {
        pem::Error::MissingSectionEnd { .. } => Malformed::Truncated.error(what),
        pem::Error::IllegalSectionStart { .. } => Malformed::BadBeginLine.error(what),
        pem::Error::Base64Decode(_) => Malformed::BadBase64.error(what),
        other => CertError::BadInput {
            what: what.into(),
            reason: other.to_string(),
        },
    }
}

/// Every PEM block in `bytes`, in file order, with its body decoded.
/// Text outside the blocks (OpenSSL's "Bag Attributes", a CA's
/// explanations between certificates) is skipped; CRLF line ends,
/// trailing spaces and blank lines are accepted. A BEGIN line starts at
/// the start of a line, as OpenSSL wants it: a PEM file stored inside a
/// ZIP archive is no PEM file.
///
/// The `pem` crate does the framing and the base64. Around it, what this
/// crate has always accepted and said: the crate finds a BEGIN marker
/// anywhere, so only lines are handed to it; it stops without a word at a
/// BEGIN line with no END line after it (a truncated file would silently
/// lose its last certificate), so its blocks are counted against the
/// BEGIN lines; it takes a blank line inside a block for the end of RFC
/// 1421 headers, so blank lines go first; and a BEGIN line without its
/// five closing dashes is named as such, not as a truncation.
pub(crate) fn blocks(bytes: &[u8]) -> Result<Vec<::pem::Pem>, Malformed> {
    let text =
        joined(lines(bytes).filter(|line| find(line, b"-----BEGIN ").is_none_or(|at| at == 0)));
    let lossy = String::from_utf8_lossy(&text);
    if begin_labels(&lossy).any(|label| label.is_none_or(|l| l.ends_with('-'))) {
        return Err(Malformed::BadBeginLine);
    }
    let blocks = ::pem::parse_many(&text).map_err(Malformed::from)?;
    if lossy.matches("-----BEGIN ").count() > blocks.len() {
        return Err(Malformed::Truncated);
    }
    Ok(blocks)
}

/// The body of the first `label` block in `bytes`, decoded; `None` when
/// `-----BEGIN label-----` is nowhere in them. Blocks with other labels
/// are not looked at (a damaged certificate beside a PKCS#7 block does
/// not matter to the PKCS#7 reader).
pub(crate) fn first_block(bytes: &[u8], label: &str) -> Option<Result<Vec<u8>, Malformed>> {
    let text = joined(lines(bytes));
    let start = find(&text, format!("-----BEGIN {label}-----").as_bytes())?;
    Some(
        ::pem::parse(&text[start..])
            .map(::pem::Pem::into_contents)
            .map_err(Malformed::from),
    )
}

/// The lines of `bytes` (ended by LF, CRLF or CR) that are not blank.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(|b| *b == b'\n' || *b == b'\r')
        .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
}

/// Lines joined again, each ended by LF.
fn joined<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    find(bytes, b"-----BEGIN ").is_some()
}

/// PEM text of a certificate.
pub fn certificate_pem(der: &[u8]) -> String {
    to_pem("CERTIFICATE", der)
}

/// PEM text of a certificate followed by its chain, as servers and CAs
/// hand them out.
pub fn chain_pem<'a>(leaf: &[u8], chain: impl IntoIterator<Item = &'a Vec<u8>>) -> String {
    let mut text = certificate_pem(leaf);
    for der in chain {
        text.push_str(&certificate_pem(der));
    }
    text
}

/// PEM text with the given label, 64 columns and LF line ends, as OpenSSL
/// writes it.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    ::pem::encode_config(
        &::pem::Pem::new(label, der),
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sniff::FileKind;

    const TRUNCATED: &str =
        "the PEM is truncated: a BEGIN line has no END line; copy the whole file again";
    const NOT_BASE64: &str = "the PEM body is not valid base64 (damaged or truncated)";

    fn cert_der(name: &str) -> Vec<u8> {
        rcgen::generate_simple_self_signed(vec![name.to_string()])
            .expect("certificate")
            .cert
            .der()
            .to_vec()
    }

    fn refusal<T: std::fmt::Debug>(result: Result<T, CertError>) -> String {
        result.expect_err("refused").to_string()
    }

    #[test]
    fn bundles_as_cas_and_openssl_write_them_are_read_in_file_order() {
        let (a, b) = (cert_der("a.example"), cert_der("b.example"));
        let bundle = chain_pem(&a, [&b]);
        let wrapped_76: String = [&a, &b]
            .iter()
            .map(|der| {
                ::pem::encode_config(
                    &::pem::Pem::new("CERTIFICATE", der.as_slice()),
                    ::pem::EncodeConfig::new().set_line_wrap(76),
                )
            })
            .collect();
        for text in [
            bundle.clone(),
            bundle.replace('\n', "\r\n"),
            bundle.replace('\n', "\r"),
            bundle.replace('\n', "   \n"),
            bundle.replace('\n', " \t\r\n"),
            format!("Bag Attributes\n    localKeyID: 01 02 03\n    friendlyName: mail\nsubject=/CN=a.example\nissuer=/CN=a.example\n{bundle}"),
            bundle.replacen(
                "-----END CERTIFICATE-----\n",
                "-----END CERTIFICATE-----\n\nThe intermediate follows: install it too.\n subject= CN = R11\n\n",
                1,
            ),
            format!("\u{feff}\n  \n{bundle}\n-- \nThe CA team\n"),
            bundle.replace("\n-----END", "\n\n-----END"),
            bundle.replacen("\nM", "\n\n  \nM", 3),
            wrapped_76,
            bundle.trim_end().to_string(),
        ] {
            assert_eq!(
                decode_certificates(text.as_bytes(), "bundle.pem").expect(&text),
                vec![a.clone(), b.clone()],
                "{text}"
            );
        }
        // Other blocks beside the certificates are skipped.
        let with_key = format!("{}{bundle}", to_pem("PRIVATE KEY", &[2, 1, 0]));
        assert_eq!(
            decode_certificates(with_key.as_bytes(), "mail.pem").expect("read"),
            vec![a, b]
        );
    }

    #[test]
    fn a_cut_file_is_truncated_never_a_shorter_list() {
        let bundle = chain_pem(&cert_der("a.example"), [&cert_der("b.example")]);
        let second = bundle.rfind("-----BEGIN").expect("second block");
        let end = bundle.rfind("-----END").expect("last END line");
        // Right after the BEGIN line, inside the body, inside the END line.
        for cut in [
            second + 28,
            second + 100,
            end + 3,
            end + 12,
            bundle.len() - 2,
        ] {
            assert_eq!(
                refusal(decode_certificates(&bundle.as_bytes()[..cut], "cut.pem")),
                format!("cut.pem: {TRUNCATED}"),
                "cut at {cut}"
            );
        }
        // An END line with another label leaves the BEGIN line without one.
        let mislabelled = bundle.replacen("-----END CERTIFICATE-----", "-----END X509 CRL-----", 1);
        assert_eq!(
            refusal(decode_certificates(mislabelled.as_bytes(), "cut.pem")),
            format!("cut.pem: {TRUNCATED}")
        );
        // Cut inside the BEGIN line itself: that line is what is wrong.
        for cut in [second + 11, second + 20] {
            assert_eq!(
                refusal(decode_certificates(&bundle.as_bytes()[..cut], "cut.pem")),
                "cut.pem: a PEM BEGIN line is malformed"
            );
        }
        let four_dashes = bundle.replacen("CERTIFICATE-----\n", "CERTIFICATE----\n", 1);
        assert_eq!(
            refusal(decode_certificates(four_dashes.as_bytes(), "odd.pem")),
            "odd.pem: a PEM BEGIN line is malformed"
        );
        // Private keys go through rustls-pki-types: the same words.
        let key = to_pem("PRIVATE KEY", &cert_der("k.example"));
        assert_eq!(
            refusal(decode_private_key(
                &key.as_bytes()[..key.len() - 30],
                "key.pem"
            )),
            format!("key.pem: {TRUNCATED}")
        );
    }

    #[test]
    fn a_damaged_body_is_not_base64() {
        let der = cert_der("a.example");
        let pem = certificate_pem(&der);
        for damaged in [
            pem.replacen("MI", "M!", 1),
            pem.replacen("\nM", "\n-M", 1),
            pem.replacen("\nM", "\nM=", 1),
            pem.replacen("\nMI", "\nM\u{e9}", 1),
        ] {
            assert_eq!(
                refusal(decode_certificates(damaged.as_bytes(), "bad.pem")),
                format!("bad.pem: {NOT_BASE64}"),
                "{damaged}"
            );
        }
        // Without its padding, as OpenSSL refuses it too.
        let short = certificate_pem(&der[..10]);
        assert!(short.contains("=="), "{short}");
        assert_eq!(
            refusal(decode_certificates(
                short.replace('=', "").as_bytes(),
                "bad.pem"
            )),
            format!("bad.pem: {NOT_BASE64}")
        );
        let key = to_pem("PRIVATE KEY", &der).replacen("MI", "M!", 1);
        assert_eq!(
            refusal(decode_private_key(key.as_bytes(), "key.pem")),
            format!("key.pem: {NOT_BASE64}")
        );
    }

    #[test]
    fn empty_input_or_pem_without_certificates_holds_no_certificate() {
        for (bytes, kind) in [
            (Vec::new(), FileKind::Empty),
            (b" \r\n\n".to_vec(), FileKind::Empty),
            (
                to_pem("PRIVATE KEY", &[2, 1, 0]).into_bytes(),
                FileKind::PrivateKey,
            ),
            // A BEGIN line starts a line: a certificate stored in a ZIP
            // archive is not read out of it.
            (
                format!(
                    "PK\x03\x04\x14\0cert.pem{}",
                    certificate_pem(&cert_der("a.example"))
                )
                .into_bytes(),
                FileKind::Zip,
            ),
        ] {
            match decode_certificates(&bytes, "none.pem") {
                Err(CertError::NoCertificate { found, .. }) => assert_eq!(found, kind),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn requests_and_pkcs7_keep_their_messages() {
        let der = cert_der("a.example");
        let csr = to_pem("CERTIFICATE REQUEST", &der);
        let windows = format!(
            "Request for mail\r\n{}",
            to_pem("NEW CERTIFICATE REQUEST", &der).replace('\n', "\r\n")
        );
        for text in [csr.clone(), csr.replace('\n', " \r\n"), windows] {
            assert_eq!(
                crate::csr::decode_request(text.as_bytes(), "req.csr").expect(&text),
                der
            );
        }
        assert_eq!(
            refusal(crate::csr::decode_request(&csr.as_bytes()[..csr.len() - 30], "req.csr")),
            "req.csr is truncated or damaged (the request's BEGIN line has no END line); copy the whole file again"
        );
        assert_eq!(
            refusal(crate::csr::decode_request(
                csr.replacen("MI", "M!", 1).as_bytes(),
                "req.csr"
            )),
            format!("req.csr is not a valid certificate request: {NOT_BASE64}")
        );
        // What a cut request still looks like, when another command gets it.
        assert_eq!(
            FileKind::of(&csr.as_bytes()[..csr.len() / 2]),
            FileKind::CertificateRequest
        );

        let p7 = to_pem("PKCS7", &der);
        assert_eq!(
            refusal(crate::bundle::read_certificates(&p7.as_bytes()[..p7.len() - 30], "answer.p7b")),
            "answer.p7b is truncated or damaged (the PKCS7 block has no END line); copy the whole file again"
        );
        assert_eq!(
            refusal(crate::bundle::read_certificates(
                p7.replacen("MI", "M!", 1).as_bytes(),
                "answer.p7b"
            )),
            format!("PKCS7: {NOT_BASE64}")
        );
    }

    #[test]
    fn written_pem_is_64_columns_with_lf_as_openssl_writes_it() {
        assert_eq!(
            to_pem("X", b"hello"),
            "-----BEGIN X-----\naGVsbG8=\n-----END X-----\n"
        );
        assert_eq!(to_pem("X", b""), "-----BEGIN X-----\n-----END X-----\n");
        let der = cert_der("a.example");
        let text = certificate_pem(&der);
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(
            body[..body.len() - 1].iter().all(|l| l.len() == 64),
            "{text}"
        );
        assert!(body[body.len() - 1].len() <= 64);
        assert_eq!(
            decode_certificates(text.as_bytes(), "x").expect("read"),
            vec![der]
        );
    }
}
