//! What a file that is not what a command expected looks like, so that
//! the error can name it ("a certificate request (CSR)", "a ZIP archive")
//! and say what to do with it. Recognised by content, never by the file's
//! name: a `.pfx` may hold anything.

use std::fmt;

use x509_parser::prelude::{FromDer, X509CertificationRequest};

use crate::cert::CertSummary;

/// What the bytes of a file look like.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    Empty,
    Pkcs12,
    /// PEM `CERTIFICATE` blocks, or one DER certificate.
    Certificate,
    /// PKCS#7 / CMS (`.p7b`, PEM or DER).
    Pkcs7,
    CertificateRequest,
    PrivateKey,
    PublicKey,
    RevocationList,
    SshKey,
    OpenPgp,
    /// PEM with labels this program does not read.
    OtherPem(String),
    /// ASN.1 (DER) that is none of the above.
    OtherDer,
    Zip,
    Gzip,
    Pdf,
    Image(&'static str),
    Executable,
    SqliteDatabase,
    /// Old Microsoft Office file or Outlook message (`.msg`).
    OleCompound,
    Html,
    Json,
    /// Text, with its first line (shortened, control characters removed).
    Text(String),
    Binary,
}

impl FileKind {
    /// Reads the first bytes (and, for PEM and DER, the structure).
    pub fn of(bytes: &[u8]) -> FileKind {
        let trimmed = trim_start(bytes);
        if trimmed.is_empty() {
            return FileKind::Empty;
        }
        if let Some(kind) = pem_kind(trimmed) {
            return kind;
        }
        if let Some(kind) = magic(bytes) {
            return kind;
        }
        if bytes[0] == 0x30 {
            return der_kind(bytes);
        }
        text_or_binary(bytes)
    }

    /// A few words for an error message: "a certificate request (CSR)".
    pub fn words(&self) -> String {
        match self {
            FileKind::Empty => "an empty file".into(),
            FileKind::Pkcs12 => "a PKCS#12 (.pfx/.p12) file".into(),
            FileKind::Certificate => "a certificate".into(),
            FileKind::Pkcs7 => "a PKCS#7 (.p7b) file".into(),
            FileKind::CertificateRequest => "a certificate request (CSR)".into(),
            FileKind::PrivateKey => "a private key without its certificate".into(),
            FileKind::PublicKey => "a public key, not a certificate".into(),
            FileKind::RevocationList => "a certificate revocation list (CRL)".into(),
            FileKind::SshKey => "an SSH key".into(),
            FileKind::OpenPgp => "an OpenPGP (GnuPG) key or message".into(),
            FileKind::OtherPem(labels) => format!("PEM holding {labels}"),
            FileKind::OtherDer => {
                "ASN.1 (DER) data that is no certificate, request, key or PKCS#12".into()
            }
            FileKind::Zip => "a ZIP archive".into(),
            FileKind::Gzip => "a gzip-compressed file".into(),
            FileKind::Pdf => "a PDF document".into(),
            FileKind::Image(kind) => format!("a {kind} image"),
            FileKind::Executable => "a program (executable)".into(),
            FileKind::SqliteDatabase => "an SQLite database".into(),
            FileKind::OleCompound => "an Outlook message (.msg) or old Office document".into(),
            FileKind::Html => {
                "an HTML page (a download that saved the web page instead of the file?)".into()
            }
            FileKind::Json => "JSON".into(),
            FileKind::Text(first) => format!("text starting \"{first}\""),
            FileKind::Binary => "binary data of no kind this program knows".into(),
        }
    }

    /// What to do instead, when something can be said.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            FileKind::CertificateRequest => {
                "send it to the CA; its answer is what `mailcert complete` takes"
            }
            FileKind::PrivateKey => {
                "import the certificate with it: `mailcert import CERT.pem --key KEY.pem`"
            }
            FileKind::Zip | FileKind::Gzip => "unpack it; the certificate files are inside",
            FileKind::OleCompound | FileKind::Pdf | FileKind::Html => {
                "save the certificate itself (.pfx, .cer, .pem or .p7b) from where it came"
            }
            FileKind::SqliteDatabase => {
                "a mailcert store is opened with --store, not imported; export what it holds with `mailcert export`"
            }
            _ => return None,
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "it looks like {}", self.words())?;
        if let Some(hint) = self.hint() {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let bom: &[u8] = b"\xEF\xBB\xBF";
    let bytes = bytes.strip_prefix(bom).unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// The labels of the BEGIN lines of `text`, in order: `None` for a BEGIN
/// line that does not end in dashes. Read from the lines alone, so that a
/// file whose bodies are damaged or cut still says what it was meant to
/// hold (the `pem` crate only returns whole, decodable blocks).
pub(crate) fn begin_labels(text: &str) -> impl Iterator<Item = Option<&str>> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix("-----BEGIN "))
        .map(|rest| rest.trim_end().strip_suffix("-----"))
}

/// PEM, by the labels of its `-----BEGIN` lines.
fn pem_kind(bytes: &[u8]) -> Option<FileKind> {
    let text = String::from_utf8_lossy(bytes);
    let labels: Vec<&str> = begin_labels(&text).flatten().collect();
    if labels.is_empty() {
        if text.trim_start().starts_with("-----BEGIN PGP") {
            return Some(FileKind::OpenPgp);
        }
        return None;
    }
    let has = |wanted: &[&str]| labels.iter().any(|l| wanted.contains(l));
    Some(
        if has(&["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"]) {
            FileKind::Certificate
        } else if has(&["PKCS7", "CMS"]) {
            FileKind::Pkcs7
        } else if has(&["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]) {
            FileKind::CertificateRequest
        } else if has(&["OPENSSH PRIVATE KEY"]) {
            FileKind::SshKey
        } else if labels.iter().any(|l| l.ends_with("PRIVATE KEY")) {
            FileKind::PrivateKey
        } else if labels.iter().any(|l| l.ends_with("PUBLIC KEY")) {
            FileKind::PublicKey
        } else if has(&["X509 CRL"]) {
            FileKind::RevocationList
        } else if labels.iter().any(|l| l.starts_with("PGP ")) {
            FileKind::OpenPgp
        } else {
            let mut unique: Vec<&str> = Vec::new();
            for l in labels {
                if !unique.contains(&l) {
                    unique.push(l);
                }
            }
            FileKind::OtherPem(
                unique
                    .iter()
                    .map(|l| format!("'{l}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        },
    )
}

fn magic(bytes: &[u8]) -> Option<FileKind> {
    let starts = |m: &[u8]| bytes.starts_with(m);
    Some(if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        FileKind::Zip
    } else if starts(b"\x1f\x8b") {
        FileKind::Gzip
    } else if starts(b"%PDF") {
        FileKind::Pdf
    } else if starts(b"\x89PNG") {
        FileKind::Image("PNG")
    } else if starts(b"\xff\xd8\xff") {
        FileKind::Image("JPEG")
    } else if starts(b"GIF8") {
        FileKind::Image("GIF")
    } else if starts(b"\x7fELF") || starts(b"MZ") {
        FileKind::Executable
    } else if starts(b"SQLite format 3\0") {
        FileKind::SqliteDatabase
    } else if starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
        FileKind::OleCompound
    } else if starts(b"ssh-") || starts(b"ecdsa-sha2-") {
        FileKind::SshKey
    } else {
        return None;
    })
}

/// ASN.1 SEQUENCE: a certificate, a PKCS#7 or PKCS#12, a request, a key.
fn der_kind(bytes: &[u8]) -> FileKind {
    let der = crate::ber::ber_to_der(bytes, "").unwrap_or_else(|_| bytes.to_vec());
    if CertSummary::from_der(&der).is_ok() {
        return FileKind::Certificate;
    }
    if X509CertificationRequest::from_der(&der).is_ok() {
        return FileKind::CertificateRequest;
    }
    if crate::keys::read_key(&der).is_ok() {
        return FileKind::PrivateKey;
    }
    // SEQUENCE { INTEGER 3, ... } starts every PFX; SEQUENCE { OID ... }
    // a ContentInfo (PKCS#7).
    let header = match der.get(1) {
        Some(b) if *b < 0x80 => 2,
        Some(b) => 2 + usize::from(b & 0x7f),
        None => return FileKind::OtherDer,
    };
    match der.get(header..header + 3) {
        Some([0x02, 0x01, 0x03]) => FileKind::Pkcs12,
        Some([0x06, ..]) => FileKind::Pkcs7,
        _ => FileKind::OtherDer,
    }
}

fn text_or_binary(bytes: &[u8]) -> FileKind {
    let sample = &bytes[..bytes.len().min(4096)];
    let text = match std::str::from_utf8(sample) {
        Ok(text) => text,
        // A sample cut inside its last character is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&sample[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return FileKind::Binary,
    };
    let printable = text
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .count();
    if text.is_empty() || printable * 100 < text.chars().count() * 95 {
        return FileKind::Binary;
    }
    let start = text.trim_start();
    let lower = start
        .get(..start.len().min(64))
        .unwrap_or("")
        .to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        return FileKind::Html;
    }
    if start.starts_with('{') || start.starts_with('[') {
        return FileKind::Json;
    }
    let first: String = start
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect();
    FileKind::Text(first)
}

#[cfg(test)]
mod tests {
    use super::FileKind;

    #[test]
    fn common_mistakes_are_named() {
        let pem = |label: &str| format!("-----BEGIN {label}-----\nAAAA\n-----END {label}-----\n");
        for (bytes, expected) in [
            (Vec::new(), FileKind::Empty),
            (b"  \n".to_vec(), FileKind::Empty),
            (
                pem("CERTIFICATE REQUEST").into_bytes(),
                FileKind::CertificateRequest,
            ),
            (pem("EC PRIVATE KEY").into_bytes(), FileKind::PrivateKey),
            (
                pem("ENCRYPTED PRIVATE KEY").into_bytes(),
                FileKind::PrivateKey,
            ),
            (pem("PUBLIC KEY").into_bytes(), FileKind::PublicKey),
            (pem("OPENSSH PRIVATE KEY").into_bytes(), FileKind::SshKey),
            (pem("X509 CRL").into_bytes(), FileKind::RevocationList),
            (pem("PKCS7").into_bytes(), FileKind::Pkcs7),
            (b"PK\x03\x04rest".to_vec(), FileKind::Zip),
            (b"%PDF-1.7".to_vec(), FileKind::Pdf),
            (
                b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1....".to_vec(),
                FileKind::OleCompound,
            ),
            (b"<!DOCTYPE html><html>".to_vec(), FileKind::Html),
            (
                b"hello world\nsecond".to_vec(),
                FileKind::Text("hello world".into()),
            ),
            (vec![0x30, 0x03, 0x02, 0x01, 0x07], FileKind::OtherDer),
            ((0..=255u8).cycle().take(3000).collect(), FileKind::Binary),
            (
                b"|\xff\xfe binary after one printable byte".to_vec(),
                FileKind::Binary,
            ),
        ] {
            assert_eq!(FileKind::of(&bytes), expected, "{bytes:?}");
        }
        assert!(FileKind::PrivateKey.to_string().contains("--key"));
    }
}
