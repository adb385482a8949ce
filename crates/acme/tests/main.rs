//! The ACME client against a real pebble (Let's Encrypt's test server).

mod pebble;

#[test]
fn every_test_file_is_a_module_of_this_binary() {
    mailcert_testkit::assert_every_test_file_is_a_module(
        env!("CARGO_MANIFEST_DIR"),
        include_str!("main.rs"),
    );
}
