//! The peers' launchers do what the other crates' tests rely on. One
//! test binary, one module per subject.

mod dns_peers;

mailcert_testkit::every_test_file_is_a_module!();
