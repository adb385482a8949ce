//! The `mailcert` binary end to end, as administrators and scripts use
//! it, against the real peers (OpenSSL, Python's clients, curl, pebble,
//! PostgreSQL, Chromium). One test binary, one module per subject: the
//! harness is `mailcert_testkit`'s [`Cli`].

use mailcert_testkit::Cli;

mod acme;
mod acme_serve;
mod any_ca;
mod check_bound;
mod check_cli;
mod check_mta_sts;
mod console;
mod crash;
mod dane;
mod dane_postfix;
mod dane_publish;
mod dane_renewal;
mod dist_units;
mod events;
mod fleet;
mod hostname;
mod https_sni;
mod lifecycle;
mod metrics;
mod monitoring;
mod mta_sts;
mod plan;
mod plan_caa;
mod preflight;
mod privileges;
mod probe;
mod remove;
mod schedule;
mod serve;
mod serve_outside;
mod served_chain;
mod store_location;

/// The binary under test.
pub const MAILCERT: &str = env!("CARGO_BIN_EXE_mailcert");

/// A fresh directory with the store `store.db` (not created yet).
pub fn cli() -> Cli {
    Cli::new(MAILCERT)
}

mailcert_testkit::every_test_file_is_a_module!();
