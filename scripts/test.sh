#!/usr/bin/env bash
# The whole test suite: installs the real peers, then runs every test of
# the workspace (unit, integration against OpenSSL/Python/Dovecot/Postfix/
# pebble, and the outside suites).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-peers.sh
cargo test --workspace --locked
