//! Password-protected private keys (encrypted PKCS#8: PBES2 with PBKDF2
//! or scrypt), with the password the seeds were written with ("fuzz").
//! The key derivation's cost comes from the file: it must stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = mailcert_x509::pem::decrypt_private_key(data, "fuzz", "fuzz") {
        let _ = mailcert_x509::keys::read_key(&der);
    }
});
