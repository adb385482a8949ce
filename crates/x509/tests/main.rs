//! The certificate model against OpenSSL's signatures, and its laws.
//! One test binary, one module per subject.

mod openssl_signatures;
mod properties;

mailcert_testkit::every_test_file_is_a_module!();
