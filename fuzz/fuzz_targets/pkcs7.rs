//! PKCS#7 / CMS SignedData answers (`.p7b`, `.p7c`), DER or BER.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ders) = mailcert_x509::bundle::decode_pkcs7(data, "fuzz") {
        assert!(!ders.is_empty(), "success means at least one certificate");
    }
});
