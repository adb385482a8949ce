#!/usr/bin/env bash
# The whole test suite: installs the real peers, then runs every test of
# the workspace (unit, integration against OpenSSL/Python/Dovecot/Postfix/
# pebble, and the outside suites).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-peers.sh
cargo test --workspace --locked
# The fuzz targets (their own workspace, run by scripts/fuzz.sh) still
# build against the crates as they are now; the main target directory is
# shared so that little is compiled twice.
CARGO_TARGET_DIR=target cargo check --manifest-path fuzz/Cargo.toml --bins --quiet
