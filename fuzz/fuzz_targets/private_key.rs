//! Private keys as `import --key` reads them: PEM PKCS#8, SEC1, PKCS#1,
//! or DER, then loaded to sign and matched to a public key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcert_x509::{keys, pem};

fuzz_target!(|data: &[u8]| {
    let _ = pem::is_encrypted_key(data);
    let Ok(der) = pem::decode_private_key(data, "fuzz") else {
        return;
    };
    if let Ok(stored) = keys::read_key(&der) {
        assert!(
            keys::key_matches_spki(&stored.pkcs8, &stored.spki),
            "a key read must match its own public key"
        );
    }
    if let Ok(pair) = keys::load_key(&der) {
        let _ = keys::key_spki(&pair);
    }
});
