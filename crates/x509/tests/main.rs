//! The certificate model against OpenSSL's signatures, and its laws.
//! One test binary, one module per subject.

mod openssl_signatures;
mod properties;

#[test]
fn every_test_file_is_a_module_of_this_binary() {
    mailcert_testkit::assert_every_test_file_is_a_module(
        env!("CARGO_MANIFEST_DIR"),
        include_str!("main.rs"),
    );
}
