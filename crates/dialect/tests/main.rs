//! The STARTTLS dialects: line limits and round trips between the two
//! sides. One test binary, one module per subject.

mod line_limits;
mod roundtrip;

mailcert_testkit::every_test_file_is_a_module!();
