//! The front end in process: TLS with live certificate selection,
//! STARTTLS, PROXY v2, reloads, backpressure and resumption, against
//! Python's clients, Dovecot, Postfix and rustls. One test binary, one
//! module per subject.

mod support;

mod backpressure;
mod commands;
mod edges;
mod mail;
mod reload;
mod resumption;

mailcert_testkit::every_test_file_is_a_module!();
