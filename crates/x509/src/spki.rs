//! What the certificate, key and signature code all read from a public
//! key: a leaf module, so that they do not import each other for it.

use x509_parser::x509::SubjectPublicKeyInfo;

/// The size in bits of an RSA modulus (big-endian, leading zeros aside).
pub(crate) fn modulus_bits(modulus: &[u8]) -> u32 {
    let trimmed: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(first) => &modulus[first..],
        None => return 0,
    };
    (trimmed.len() as u32 - 1) * 8 + (8 - trimmed[0].leading_zeros())
}

/// The OID of an EC key's named curve, as dotted text.
pub(crate) fn named_curve(spki: &SubjectPublicKeyInfo<'_>) -> Option<String> {
    spki.algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid.to_id_string())
}
