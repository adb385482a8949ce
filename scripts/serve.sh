#!/usr/bin/env bash
# Builds mailcert in release mode and runs the TLS front end on the default
# store (created on first start with a self-signed certificate for this
# host, bound to every service) and the default configuration (written on
# first start; ports above 1024 unless run as root). The backends may be
# absent: the front end still answers TLS and tells clients, in their own
# protocol, that the mail server is not available.
#
#   scripts/serve.sh                       # default store and configuration
#   scripts/serve.sh --config my.toml      # any `mailcert serve` option
#   MAILCERT_STORE=/tmp/store.db scripts/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "serve.sh: cargo is needed (Rust 1.85 or newer)" >&2
  exit 2
fi
cargo build --release --locked -p mailcert
exec target/release/mailcert serve "$@"
