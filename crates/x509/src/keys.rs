//! Key types administrators choose from, and key generation (aws-lc-rs
//! through rcgen: ring cannot generate RSA keys).

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, RsaKeySize};

use crate::error::CertError;

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

/// Loads a private key (PKCS#8, SEC1 or PKCS#1 DER) so it can sign.
pub fn load_key(der: &[u8]) -> Result<KeyPair, CertError> {
    KeyPair::try_from(der).map_err(|e| CertError::BadKey {
        what: "the private key".into(),
        reason: e.to_string(),
    })
}

/// The SubjectPublicKeyInfo DER of a private key, to compare with a
/// certificate's or a request's.
pub fn key_spki(key: &KeyPair) -> Vec<u8> {
    rcgen::PublicKeyData::subject_public_key_info(key)
}

/// Does the private key (PKCS#8 DER) belong to the public key `spki_der`?
pub fn key_matches_spki(key_der: &[u8], spki_der: &[u8]) -> bool {
    load_key(key_der).is_ok_and(|key| key_spki(&key) == spki_der)
}
