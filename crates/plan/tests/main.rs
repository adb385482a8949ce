//! The planner on the documented cases and on bad input. One test
//! binary, one module per subject.

mod cases;
mod input;

mailcert_testkit::every_test_file_is_a_module!();
