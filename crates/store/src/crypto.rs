//! Private keys at rest: AES-256-GCM under the store key, a 32-byte random
//! key kept in its own 0600 file beside the database.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

/// Bound into every ciphertext so that a blob from another kind of record
/// cannot be swapped in.
const AAD: &[u8] = b"mailcert private key v1";
/// What the store encrypts to prove the key file belongs to it.
pub(crate) const KEY_CHECK: &[u8] = b"mailcert store key check";

pub struct StoreKey(LessSafeKey);

impl StoreKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        // AES-256 takes any 32 bytes; the constructor only fails on length.
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).expect("32-byte AES key");
        StoreKey(LessSafeKey::new(unbound))
    }

    pub fn generate() -> [u8; 32] {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).expect("system random generator");
        bytes
    }

    /// nonce || ciphertext || tag
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("system random generator");
        let mut data = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut data,
            )
            .expect("AES-GCM sealing of a small buffer");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(AAD), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// Lower-case hex, as the key file and the ACME digests are written.
pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of hex text; `None` unless every character pairs up.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
