//! Signature algorithms: their names in the words OpenSSL and Windows use,
//! and a verifier that tells a signature that does not match from one it
//! cannot check.
//!
//! rustls-webpki accepts only what a TLS client should accept today, so it
//! reports SHA-1, RSA keys under 2048 bits and RSASSA-PSS with a salt other
//! than the hash length as "unsupported". Those certificates are old or
//! unusual, not forged: this module checks them with aws-lc-rs so that the
//! status says what is really wrong (a weak algorithm, a warning) and keeps
//! "altered or damaged" for signatures that truly do not match. It also
//! gives webpki the extra algorithms ([`webpki_algorithms`]) so that path
//! validation itself stays webpki's.

use std::sync::Mutex;

use aws_lc_rs::signature::{self as lc, RsaParameters, RsaPssSaltLength, VerificationAlgorithm};
use rustls_pki_types::SignatureVerificationAlgorithm;
use rustls_pki_types::{AlgorithmIdentifier as WebpkiAlgId, InvalidSignature};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use crate::tlv;

/// A hash function, as signature algorithms name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Md2,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_oid(oid: &str) -> Option<Hash> {
        Some(match oid {
            "1.2.840.113549.2.2" => Hash::Md2,
            "1.2.840.113549.2.5" => Hash::Md5,
            "1.3.14.3.2.26" => Hash::Sha1,
            "2.16.840.1.101.3.4.2.4" => Hash::Sha224,
            "2.16.840.1.101.3.4.2.1" => Hash::Sha256,
            "2.16.840.1.101.3.4.2.2" => Hash::Sha384,
            "2.16.840.1.101.3.4.2.3" => Hash::Sha512,
            _ => return None,
        })
    }

    /// As in `sha256WithRSAEncryption`.
    fn short(self) -> &'static str {
        match self {
            Hash::Md2 => "md2",
            Hash::Md5 => "md5",
            Hash::Sha1 => "sha1",
            Hash::Sha224 => "sha224",
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
        }
    }

    /// As administrators write it: `SHA-256`.
    pub fn words(self) -> &'static str {
        match self {
            Hash::Md2 => "MD2",
            Hash::Md5 => "MD5",
            Hash::Sha1 => "SHA-1",
            Hash::Sha224 => "SHA-224",
            Hash::Sha256 => "SHA-256",
            Hash::Sha384 => "SHA-384",
            Hash::Sha512 => "SHA-512",
        }
    }

    /// Broken or deprecated for signatures: clients refuse certificates
    /// signed with it.
    pub fn is_weak(self) -> bool {
        matches!(self, Hash::Md2 | Hash::Md5 | Hash::Sha1)
    }
}

/// What a signature AlgorithmIdentifier says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    RsaPkcs1(Hash),
    RsaPss {
        hash: Hash,
        mgf_hash: Hash,
        salt: u32,
    },
    Ecdsa(Hash),
    Dsa(Hash),
    Ed25519,
    Ed448,
    /// Not one of the above (or malformed): its readable name.
    Other(String),
}

impl Scheme {
    /// Reads an AlgorithmIdentifier.
    pub fn of(alg: &AlgorithmIdentifier<'_>) -> Scheme {
        let oid = alg.algorithm.to_id_string();
        let rsa = |h| Scheme::RsaPkcs1(h);
        match oid.as_str() {
            "1.2.840.113549.1.1.2" => rsa(Hash::Md2),
            "1.2.840.113549.1.1.4" => rsa(Hash::Md5),
            "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => rsa(Hash::Sha1),
            "1.2.840.113549.1.1.14" => rsa(Hash::Sha224),
            "1.2.840.113549.1.1.11" => rsa(Hash::Sha256),
            "1.2.840.113549.1.1.12" => rsa(Hash::Sha384),
            "1.2.840.113549.1.1.13" => rsa(Hash::Sha512),
            "1.2.840.113549.1.1.10" => pss(alg),
            "1.2.840.10045.4.1" => Scheme::Ecdsa(Hash::Sha1),
            "1.2.840.10045.4.3.1" => Scheme::Ecdsa(Hash::Sha224),
            "1.2.840.10045.4.3.2" => Scheme::Ecdsa(Hash::Sha256),
            "1.2.840.10045.4.3.3" => Scheme::Ecdsa(Hash::Sha384),
            "1.2.840.10045.4.3.4" => Scheme::Ecdsa(Hash::Sha512),
            "1.2.840.10040.4.3" => Scheme::Dsa(Hash::Sha1),
            "2.16.840.1.101.3.4.3.1" => Scheme::Dsa(Hash::Sha224),
            "2.16.840.1.101.3.4.3.2" => Scheme::Dsa(Hash::Sha256),
            "1.3.101.112" => Scheme::Ed25519,
            "1.3.101.113" => Scheme::Ed448,
            _ => Scheme::Other(
                x509_parser::objects::oid2sn(&alg.algorithm, x509_parser::objects::oid_registry())
                    .map(str::to_string)
                    .unwrap_or_else(|_| format!("an unknown algorithm (OID {oid})")),
            ),
        }
    }

    /// The name `show` prints: OpenSSL's short names, PSS with its hash.
    pub fn name(&self) -> String {
        match self {
            Scheme::RsaPkcs1(h) => format!("{}WithRSAEncryption", h.short()),
            Scheme::RsaPss {
                hash,
                mgf_hash,
                salt,
            } => {
                let mgf = if mgf_hash == hash {
                    String::new()
                } else {
                    format!(", MGF1 with {}", mgf_hash.words())
                };
                format!("rsassa-pss ({}{mgf}, salt {salt})", hash.words())
            }
            Scheme::Ecdsa(h) => format!("ecdsa-with-{}", h.short().to_ascii_uppercase()),
            Scheme::Dsa(h) => format!("dsa-with-{}", h.short().to_ascii_uppercase()),
            Scheme::Ed25519 => "ED25519".into(),
            Scheme::Ed448 => "ED448".into(),
            Scheme::Other(name) => name.clone(),
        }
    }

    /// The hash the signature relies on.
    pub fn hash(&self) -> Option<Hash> {
        match self {
            Scheme::RsaPkcs1(h) | Scheme::Ecdsa(h) | Scheme::Dsa(h) => Some(*h),
            Scheme::RsaPss { hash, mgf_hash, .. } => {
                Some(if mgf_hash.is_weak() { *mgf_hash } else { *hash })
            }
            _ => None,
        }
    }
}

fn pss(alg: &AlgorithmIdentifier<'_>) -> Scheme {
    let malformed = || Scheme::Other("rsassa-pss (with malformed parameters)".into());
    let Some(params) = alg.parameters.as_ref() else {
        return malformed();
    };
    let Ok(params) = RsaSsaPssParams::try_from(params) else {
        return malformed();
    };
    let Ok(mgf) = params.mask_gen_algorithm() else {
        return malformed();
    };
    let hash = Hash::from_oid(&params.hash_algorithm_oid().to_id_string());
    let mgf_hash = Hash::from_oid(&mgf.hash.to_id_string());
    match (hash, mgf_hash) {
        (Some(hash), Some(mgf_hash))
            if mgf.mgf.to_id_string() == "1.2.840.113549.1.1.8" && params.trailer_field() == 1 =>
        {
            Scheme::RsaPss {
                hash,
                mgf_hash,
                salt: params.salt_length(),
            }
        }
        _ => malformed(),
    }
}

/// The weak hash a signature algorithm name (as stored) relies on: SHA-1,
/// MD5 or MD2. Also recognises the raw OIDs older versions stored.
pub fn weak_hash(name: &str) -> Option<Hash> {
    let lower = name.to_ascii_lowercase();
    if lower.contains("md5") || lower == "1.2.840.113549.1.1.4" {
        Some(Hash::Md5)
    } else if lower.contains("md2") || lower == "1.2.840.113549.1.1.2" {
        Some(Hash::Md2)
    } else if lower.contains("sha1")
        || lower.contains("sha-1")
        || matches!(
            lower.as_str(),
            "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" | "1.2.840.10040.4.3" | "1.3.14.3.2.29"
        )
    {
        Some(Hash::Sha1)
    } else {
        None
    }
}

/// The outcome of checking one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Verified,
    /// The signature does not match the data and the key: altered,
    /// damaged, or signed by another key.
    Mismatch,
    /// The signature cannot be checked; the reason names the algorithm or
    /// the key (e.g. "md5WithRSAEncryption", "an RSA key of 512 bits").
    Unsupported(String),
}

/// The signer's key, as far as verification needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    Ec(Curve),
    Ed25519,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn words(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }
}

fn key_kind(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyKind, String> {
    match spki.algorithm.algorithm.to_id_string().as_str() {
        // rsaEncryption, and RSASSA-PSS keys (the same RSAPublicKey).
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => Ok(KeyKind::Rsa),
        "1.2.840.10045.2.1" => {
            let curve = crate::spki::named_curve(spki);
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => Ok(KeyKind::Ec(Curve::P256)),
                Some("1.3.132.0.34") => Ok(KeyKind::Ec(Curve::P384)),
                Some("1.3.132.0.35") => Ok(KeyKind::Ec(Curve::P521)),
                Some(other) => Err(format!("an EC key on an unsupported curve ({other})")),
                None => Err("an EC key without a named curve".into()),
            }
        }
        "1.3.101.112" => Ok(KeyKind::Ed25519),
        "1.2.840.10040.4.1" => Err("a DSA key".into()),
        other => Err(format!("a key of an unknown kind (OID {other})")),
    }
}

/// The aws-lc-rs verifier for a scheme and a key, or why there is none.
enum Verifier {
    Rsa(RsaParameters),
    Fixed(&'static dyn VerificationAlgorithm),
}

fn verifier(scheme: &Scheme, key: KeyKind, key_bytes: &[u8]) -> Result<Verifier, String> {
    let name = scheme.name();
    let mismatch = || format!("{name} with {}", key_words(key));
    match (scheme, key) {
        (Scheme::RsaPkcs1(hash), KeyKind::Rsa) => {
            let params = match hash {
                Hash::Sha1 => lc::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                Hash::Sha256 => lc::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                Hash::Sha384 => lc::RSA_PKCS1_2048_8192_SHA384,
                Hash::Sha512 => lc::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                _ => return Err(name),
            };
            rsa_in_range(params, key_bytes, &name).map(Verifier::Rsa)
        }
        (
            Scheme::RsaPss {
                hash,
                mgf_hash,
                salt,
            },
            KeyKind::Rsa,
        ) if hash == mgf_hash => {
            let params = match hash {
                Hash::Sha256 => lc::RSA_PSS_2048_8192_SHA256,
                Hash::Sha384 => lc::RSA_PSS_2048_8192_SHA384,
                Hash::Sha512 => lc::RSA_PSS_2048_8192_SHA512,
                _ => return Err(name),
            };
            let salt = u16::try_from(*salt).map_err(|_| name.clone())?;
            let params = params.with_pss_salt_length(RsaPssSaltLength::Custom(salt));
            rsa_in_range(params, key_bytes, &name).map(Verifier::Rsa)
        }
        (Scheme::Ecdsa(hash), KeyKind::Ec(curve)) => {
            let alg: &'static dyn VerificationAlgorithm = match (curve, hash) {
                (Curve::P256, Hash::Sha1) => &lc::ECDSA_P256_SHA1_ASN1,
                (Curve::P256, Hash::Sha256) => &lc::ECDSA_P256_SHA256_ASN1,
                (Curve::P256, Hash::Sha384) => &lc::ECDSA_P256_SHA384_ASN1,
                (Curve::P256, Hash::Sha512) => &lc::ECDSA_P256_SHA512_ASN1,
                (Curve::P384, Hash::Sha256) => &lc::ECDSA_P384_SHA256_ASN1,
                (Curve::P384, Hash::Sha384) => &lc::ECDSA_P384_SHA384_ASN1,
                (Curve::P384, Hash::Sha512) => &lc::ECDSA_P384_SHA512_ASN1,
                (Curve::P521, Hash::Sha1) => &lc::ECDSA_P521_SHA1_ASN1,
                (Curve::P521, Hash::Sha224) => &lc::ECDSA_P521_SHA224_ASN1,
                (Curve::P521, Hash::Sha256) => &lc::ECDSA_P521_SHA256_ASN1,
                (Curve::P521, Hash::Sha384) => &lc::ECDSA_P521_SHA384_ASN1,
                (Curve::P521, Hash::Sha512) => &lc::ECDSA_P521_SHA512_ASN1,
                _ => return Err(format!("{name} on a {} key", curve.words())),
            };
            Ok(Verifier::Fixed(alg))
        }
        (Scheme::Ed25519, KeyKind::Ed25519) => Ok(Verifier::Fixed(&lc::ED25519)),
        (Scheme::RsaPss { .. }, KeyKind::Rsa) => Err(name),
        (Scheme::RsaPkcs1(_) | Scheme::RsaPss { .. } | Scheme::Ecdsa(_) | Scheme::Ed25519, _) => {
            Err(mismatch())
        }
        _ => Err(name),
    }
}

fn key_words(key: KeyKind) -> String {
    match key {
        KeyKind::Rsa => "an RSA key".into(),
        KeyKind::Ec(curve) => format!("an EC {} key", curve.words()),
        KeyKind::Ed25519 => "an Ed25519 key".into(),
    }
}

/// RSA verification parameters, if the key's size is one aws-lc-rs checks.
fn rsa_in_range(params: RsaParameters, key: &[u8], name: &str) -> Result<RsaParameters, String> {
    let bits = RsaParameters::public_modulus_len(key)
        .map_err(|_| "an RSA key that cannot be read".to_string())?;
    if bits < params.min_modulus_len() || bits > params.max_modulus_len() {
        return Err(format!("{name} with an RSA key of {bits} bits"));
    }
    Ok(params)
}

fn check_raw(scheme: &Scheme, key: KeyKind, key_bytes: &[u8], msg: &[u8], sig: &[u8]) -> Check {
    let verifier = match verifier(scheme, key, key_bytes) {
        Ok(v) => v,
        Err(why) => return Check::Unsupported(why),
    };
    let result = match &verifier {
        Verifier::Rsa(params) => params.verify_sig(key_bytes, msg, sig),
        Verifier::Fixed(alg) => alg.verify_sig(key_bytes, msg, sig),
    };
    match result {
        Ok(()) => Check::Verified,
        Err(_) => Check::Mismatch,
    }
}

/// Checks a signature over `signed` (a TBSCertificate, a CSR's info…) made
/// with `alg` by the holder of `signer`.
pub fn check_signature(
    signed: &[u8],
    alg: &AlgorithmIdentifier<'_>,
    signature: &[u8],
    signer: &SubjectPublicKeyInfo<'_>,
) -> Check {
    let key = match key_kind(signer) {
        Ok(key) => key,
        Err(why) => return Check::Unsupported(why),
    };
    check_raw(
        &Scheme::of(alg),
        key,
        &signer.subject_public_key.data,
        signed,
        signature,
    )
}

/// Does the key in `issuer_spki_der` (a SubjectPublicKeyInfo) sign `cert_der`?
pub fn check_certificate(cert_der: &[u8], issuer_spki_der: &[u8]) -> Check {
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return Check::Unsupported("a certificate that cannot be parsed".into());
    };
    let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(issuer_spki_der) else {
        return Check::Unsupported("an issuer key that cannot be parsed".into());
    };
    check_signature(
        cert.tbs_certificate.as_ref(),
        &cert.signature_algorithm,
        &cert.signature_value.data,
        &spki,
    )
}

/// A signature algorithm webpki does not carry, verified as [`check_raw`]
/// does. `signature` and `key` are AlgorithmIdentifier contents, compared
/// byte for byte by webpki.
#[derive(Debug)]
struct Extra {
    signature: &'static [u8],
    key: &'static [u8],
    scheme: Scheme,
    key_kind: KeyKind,
}

impl SignatureVerificationAlgorithm for Extra {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        match check_raw(&self.scheme, self.key_kind, public_key, message, signature) {
            Check::Verified => Ok(()),
            Check::Mismatch | Check::Unsupported(_) => Err(InvalidSignature),
        }
    }

    fn public_key_alg_id(&self) -> WebpkiAlgId {
        WebpkiAlgId::from_slice(self.key)
    }

    fn signature_alg_id(&self) -> WebpkiAlgId {
        WebpkiAlgId::from_slice(self.signature)
    }
}

const RSA_KEY: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
const EC_P256_KEY: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07,
];
const EC_P521_KEY: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23,
];

/// `sha*WithRSAEncryption` identifiers: PKCS#1 arc, last byte, with the
/// NULL parameters RFC 4055 asks for or without (both are seen).
macro_rules! rsa_pkcs1 {
    ($last:expr, $hash:expr) => {
        [
            Extra {
                signature: &[
                    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, $last, 0x05, 0x00,
                ],
                key: RSA_KEY,
                scheme: Scheme::RsaPkcs1($hash),
                key_kind: KeyKind::Rsa,
            },
            Extra {
                signature: &[
                    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, $last,
                ],
                key: RSA_KEY,
                scheme: Scheme::RsaPkcs1($hash),
                key_kind: KeyKind::Rsa,
            },
        ]
    };
}

static RSA_SHA1: [Extra; 2] = rsa_pkcs1!(0x05, Hash::Sha1);
static RSA_SHA256: [Extra; 2] = rsa_pkcs1!(0x0b, Hash::Sha256);
static RSA_SHA384: [Extra; 2] = rsa_pkcs1!(0x0c, Hash::Sha384);
static RSA_SHA512: [Extra; 2] = rsa_pkcs1!(0x0d, Hash::Sha512);

static OTHERS: [Extra; 3] = [
    // sha1WithRSA under the OIW arc (1.3.14.3.2.29), from old Windows CAs.
    Extra {
        signature: &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1d, 0x05, 0x00],
        key: RSA_KEY,
        scheme: Scheme::RsaPkcs1(Hash::Sha1),
        key_kind: KeyKind::Rsa,
    },
    Extra {
        signature: &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01],
        key: EC_P256_KEY,
        scheme: Scheme::Ecdsa(Hash::Sha1),
        key_kind: KeyKind::Ec(Curve::P256),
    },
    Extra {
        signature: &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01],
        key: EC_P521_KEY,
        scheme: Scheme::Ecdsa(Hash::Sha1),
        key_kind: KeyKind::Ec(Curve::P521),
    },
];

/// RSASSA-PSS identifiers met so far. webpki compares identifiers byte for
/// byte and wants them `'static`; PSS parameters vary (salt length), so
/// each distinct one is kept once for the life of the process: a handful
/// of bytes per CA, never per certificate.
static PSS_SEEN: Mutex<Vec<&'static Extra>> = Mutex::new(Vec::new());

fn pss_algorithm(content: &[u8]) -> Option<&'static Extra> {
    let mut seen = PSS_SEEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(found) = seen.iter().find(|e| e.signature == content) {
        return Some(found);
    }
    let wrapped = tlv::encode(0x30, content);
    let (_, alg) = AlgorithmIdentifier::from_der(&wrapped).ok()?;
    let scheme @ Scheme::RsaPss { .. } = Scheme::of(&alg) else {
        return None;
    };
    let extra: &'static Extra = Box::leak(Box::new(Extra {
        signature: Box::leak(content.to_vec().into_boxed_slice()),
        key: RSA_KEY,
        scheme,
        key_kind: KeyKind::Rsa,
    }));
    seen.push(extra);
    Some(extra)
}

/// The algorithms to give webpki for a path through `certs` (leaf and
/// intermediates, whose signatures it checks): the legacy ones above,
/// RSASSA-PSS as these certificates use it, then webpki's own. The RSA
/// PKCS#1 entries come first: they take keys from 1024 bits, which webpki's
/// refuse with an error that would read as a bad signature.
pub fn webpki_algorithms(certs: &[&[u8]]) -> Vec<&'static dyn SignatureVerificationAlgorithm> {
    let mut out: Vec<&'static dyn SignatureVerificationAlgorithm> = Vec::new();
    for group in [&RSA_SHA1, &RSA_SHA256, &RSA_SHA384, &RSA_SHA512] {
        out.extend(
            group
                .iter()
                .map(|e| e as &dyn SignatureVerificationAlgorithm),
        );
    }
    out.extend(
        OTHERS
            .iter()
            .map(|e| e as &dyn SignatureVerificationAlgorithm),
    );
    for der in certs {
        if let Some(extra) = signature_algorithm_content(der).and_then(pss_algorithm) {
            if !out
                .iter()
                .any(|a| a.signature_alg_id().as_ref() == extra.signature)
            {
                out.push(extra);
            }
        }
    }
    out.extend(webpki::ALL_VERIFICATION_ALGS.iter().copied());
    out
}

/// The contents of a certificate's outer signatureAlgorithm, exactly as
/// encoded (what webpki compares).
fn signature_algorithm_content(cert_der: &[u8]) -> Option<&[u8]> {
    let (cert, _) = tlv::split(cert_der)?;
    let parts = tlv::elements(cert.content)?;
    Some(parts.get(1)?.content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_hashes_are_recognised_in_names_and_old_oids() {
        assert_eq!(weak_hash("ecdsa-with-SHA1"), Some(Hash::Sha1));
        assert_eq!(weak_hash("sha1WithRSAEncryption"), Some(Hash::Sha1));
        assert_eq!(weak_hash("rsassa-pss (SHA-1, salt 20)"), Some(Hash::Sha1));
        assert_eq!(weak_hash("1.2.840.10045.4.1"), Some(Hash::Sha1));
        assert_eq!(weak_hash("md5WithRSAEncryption"), Some(Hash::Md5));
        assert_eq!(weak_hash("ecdsa-with-SHA256"), None);
        assert_eq!(weak_hash("rsassa-pss (SHA-256, salt 32)"), None);
    }
}
