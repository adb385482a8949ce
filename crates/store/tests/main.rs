//! The store on SQLite and PostgreSQL: creation, chains, and the
//! conformance suite every store runs. One test binary, one module per
//! subject.

mod chains;
mod conformance;
mod creation;

mailcert_testkit::every_test_file_is_a_module!();
