//! The store on SQLite and PostgreSQL: creation, chains, and the
//! conformance suite every store runs. One test binary, one module per
//! subject.

mod chains;
mod conformance;
mod creation;

#[test]
fn every_test_file_is_a_module_of_this_binary() {
    mailcert_testkit::assert_every_test_file_is_a_module(
        env!("CARGO_MANIFEST_DIR"),
        include_str!("main.rs"),
    );
}
