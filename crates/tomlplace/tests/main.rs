//! Where an offset of a TOML document is: properties over generated
//! documents.

mod properties;

mailcert_testkit::every_test_file_is_a_module!();
