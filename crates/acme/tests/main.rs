//! The ACME client against a real pebble (Let's Encrypt's test server).

mod pebble;

mailcert_testkit::every_test_file_is_a_module!();
