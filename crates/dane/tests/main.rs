//! The DNS side of DANE against Knot DNS and Unbound. One test binary,
//! one module per subject.

mod dns_peers;

mailcert_testkit::every_test_file_is_a_module!();
