//! Thumbprints as Windows and Exchange show them: SHA-1 of the DER in
//! upper-case hex. SHA-256 beside it for modern tooling.

use sha1::Digest;

/// SHA-1 of `der`, upper-case hex (the Windows thumbprint).
pub fn thumbprint(der: &[u8]) -> String {
    upper_hex(&sha1::Sha1::digest(der))
}

/// SHA-256 of `der`, upper-case hex.
pub fn sha256_hex(der: &[u8]) -> String {
    upper_hex(&sha2::Sha256::digest(der))
}

pub fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// Normalises what a user typed as a thumbprint prefix: spaces and colons
/// removed (Windows shows "9f 1c ..." in its dialogs), upper case.
/// `None` when it is not hexadecimal.
pub fn normalize_prefix(input: &str) -> Option<String> {
    let cleaned: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!cleaned.is_empty() && cleaned.chars().all(|c| c.is_ascii_hexdigit())).then_some(cleaned)
}
