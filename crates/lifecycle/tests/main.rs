//! The operations behind the commands on a real store. One test binary,
//! one module per subject.

mod operations;
mod prefixes;

mailcert_testkit::every_test_file_is_a_module!();
