//! The STARTTLS dialects: line limits and round trips between the two
//! sides. One test binary, one module per subject.

mod line_limits;
mod roundtrip;

#[test]
fn every_test_file_is_a_module_of_this_binary() {
    mailcert_testkit::assert_every_test_file_is_a_module(
        env!("CARGO_MANIFEST_DIR"),
        include_str!("main.rs"),
    );
}
