//! Key types administrators choose from, and key generation (aws-lc-rs
//! through rcgen: ring cannot generate RSA keys).

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, RsaKeySize};

use crate::error::CertError;
use crate::tlv;

/// The key types `--key` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    #[default]
    EcP256,
    EcP384,
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyType {
    pub const ALL: [KeyType; 5] = [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    /// The key type of an existing certificate, from its key description
    /// (`CertSummary::key_algorithm`), for renewals "with the same key type".
    pub fn from_description(description: &str) -> Option<KeyType> {
        description.parse().ok()
    }

    /// Generates a fresh key pair of this type.
    pub fn generate(self) -> Result<KeyPair, CertError> {
        let failed = |e: rcgen::Error| CertError::Generate {
            what: format!("a {} key", self.as_str()),
            reason: e.to_string(),
        };
        match self {
            KeyType::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyType::EcP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyType::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
            }
            KeyType::Rsa3072 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072)
            }
            KeyType::Rsa4096 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)
            }
        }
        .map_err(failed)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown key type '{s}': choose one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096"
                )
            })
    }
}

/// The RSA key sizes this project signs with and clients accept.
pub const MIN_RSA_BITS: u32 = 2048;
pub const MAX_RSA_BITS: u32 = 8192;

/// An RSA key (`rsa-N` in the CLI's words) below [`MIN_RSA_BITS`].
pub fn is_weak_rsa(key_algorithm: &str, bits: u32) -> bool {
    key_algorithm.starts_with("rsa-") && bits < MIN_RSA_BITS
}

/// Loads a private key (PKCS#8, SEC1 or PKCS#1 DER) so it can sign. An
/// RSA key outside 2048–8192 bits is refused with that reason: aws-lc-rs
/// does not sign with one, and clients would refuse its signatures anyway.
pub fn load_key(der: &[u8]) -> Result<KeyPair, CertError> {
    KeyPair::try_from(der).map_err(|e| match weak_rsa(der) {
        Some(weak) if weak.bits < MIN_RSA_BITS => CertError::WeakKey {
            what: "the private key".into(),
            bits: weak.bits,
        },
        Some(big) => CertError::BadKey {
            what: "the private key".into(),
            reason: format!(
                "RSA-{} is larger than this server's TLS library signs with (8192 bits at most); use a key of 2048 to 8192 bits",
                big.bits
            ),
        },
        None => CertError::BadKey {
            what: "the private key".into(),
            reason: e.to_string(),
        },
    })
}

/// The SubjectPublicKeyInfo DER of a private key, to compare with a
/// certificate's or a request's.
pub fn key_spki(key: &KeyPair) -> Vec<u8> {
    rcgen::PublicKeyData::subject_public_key_info(key)
}

/// A private key as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// PKCS#8 DER.
    pub pkcs8: Vec<u8>,
    /// The SubjectPublicKeyInfo DER it belongs to.
    pub spki: Vec<u8>,
}

/// Reads a private key (PKCS#8, SEC1 or PKCS#1 DER) to store it and match
/// it to its certificate. Unlike [`load_key`], an RSA key under 2048 bits
/// is read too: it cannot sign here, but it belongs to a certificate that
/// may be imported, shown and warned about.
pub fn read_key(der: &[u8]) -> Result<StoredKey, CertError> {
    match load_key(der) {
        Ok(pair) => Ok(StoredKey {
            pkcs8: pair.serialize_der(),
            spki: key_spki(&pair),
        }),
        Err(e) => match weak_rsa(der) {
            Some(weak) => Ok(StoredKey {
                pkcs8: weak.pkcs8,
                spki: weak.spki,
            }),
            None => Err(e),
        },
    }
}

/// Does the private key (PKCS#8 DER) belong to the public key `spki_der`?
pub fn key_matches_spki(key_der: &[u8], spki_der: &[u8]) -> bool {
    read_key(key_der).is_ok_and(|key| key.spki == spki_der)
}

/// An RSA private key of a size aws-lc-rs refuses (under 2048 or over
/// 8192 bits), read by hand.
struct WeakRsa {
    bits: u32,
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
}

const RSA_ALGORITHM: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// `der` as an RSA private key (PKCS#8 or PKCS#1) whose modulus is outside
/// 2048–8192 bits: its public key from the modulus and exponent it holds.
fn weak_rsa(der: &[u8]) -> Option<WeakRsa> {
    let (outer, _) = tlv::split(der)?;
    let fields = tlv::elements(outer.content)?;
    // PKCS#8: version, AlgorithmIdentifier (rsaEncryption), OCTET STRING;
    // otherwise PKCS#1 itself.
    let pkcs1: &[u8] = match fields.as_slice() {
        [_, alg, key, ..] if alg.tag == 0x30 && key.tag == 0x04 => {
            if alg.whole != RSA_ALGORITHM {
                return None;
            }
            key.content
        }
        _ => der,
    };
    let (rsa, _) = tlv::split(pkcs1)?;
    let rsa_fields = tlv::elements(rsa.content)?;
    // version, modulus, publicExponent, then the private fields.
    let [version, modulus, exponent, ..] = rsa_fields.as_slice() else {
        return None;
    };
    if rsa_fields.len() < 9 || [version, modulus, exponent].iter().any(|f| f.tag != 0x02) {
        return None;
    }
    // An all-zero modulus counts 0 bits: no key at all.
    let bits = crate::spki::modulus_bits(modulus.content);
    if bits == 0 || (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return None;
    }
    let public = tlv::encode(0x30, &[modulus.whole, exponent.whole].concat());
    let mut bit_string = vec![0u8];
    bit_string.extend(public);
    let spki = tlv::encode(
        0x30,
        &[RSA_ALGORITHM, &tlv::encode(0x03, &bit_string)].concat(),
    );
    let pkcs8 = tlv::encode(
        0x30,
        &[
            &[0x02, 0x01, 0x00][..],
            RSA_ALGORITHM,
            &tlv::encode(0x04, rsa.whole),
        ]
        .concat(),
    );
    Some(WeakRsa { bits, pkcs8, spki })
}
