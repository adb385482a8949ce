//! The checker end to end: offline validation against OpenSSL's verdicts
//! and x509-limbo, and live checks against OpenSSL's s_server, Dovecot
//! and hostile servers. One test binary, one module per subject.

mod common;

mod dovecot;
mod hostile;
mod limbo;
mod offline;
mod profile;
mod seconds;
mod servers;

mailcert_testkit::every_test_file_is_a_module!();
