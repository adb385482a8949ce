//! The BER to DER converter that runs before every PKCS#7 and PKCS#12
//! parse. What it writes is DER, so converting it again changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcert_x509::ber::ber_to_der;

fuzz_target!(|data: &[u8]| {
    let _ = mailcert_x509::ber::is_indefinite(data);
    if let Ok(der) = ber_to_der(data, "fuzz") {
        let again = ber_to_der(&der, "fuzz").expect("DER written by ber_to_der reads back");
        assert_eq!(again, der, "ber_to_der is idempotent on its own output");
    }
});
