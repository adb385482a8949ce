//! The DNS side of DANE against Knot DNS and Unbound. One test binary,
//! one module per subject.

mod dns_peers;

#[test]
fn every_test_file_is_a_module_of_this_binary() {
    mailcert_testkit::assert_every_test_file_is_a_module(
        env!("CARGO_MANIFEST_DIR"),
        include_str!("main.rs"),
    );
}
