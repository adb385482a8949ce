//! The planner on the documented cases and on bad input. One test
//! binary, one module per subject.

mod cases;
mod input;

#[test]
fn every_test_file_is_a_module_of_this_binary() {
    mailcert_testkit::assert_every_test_file_is_a_module(
        env!("CARGO_MANIFEST_DIR"),
        include_str!("main.rs"),
    );
}
