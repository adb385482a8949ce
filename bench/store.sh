#!/usr/bin/env bash
# Store benchmark: a store of 10,000 certificates, timed as whole processes
# (list, list --json, show by prefix), and self-signed creation end to end
# beside OpenSSL making the same kind of certificate in the same run.
# Usage: bench/store.sh [COUNT]   (needs hyperfine; scripts/install-peers.sh installs it)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
cargo build --release -q -p mailcert --bin mailcert --example fill_store
bin=target/release/mailcert
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MAILCERT_STORE=$work/store.db
target/release/examples/fill_store "$MAILCERT_STORE" "$count" >/dev/null
prefix=$($bin list --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[len(sys.argv)]["thumbprint"][:8])')
mkdir -p bench/out
hyperfine -N --warmup 3 --runs 20 --export-markdown bench/out/store.md \
  -n "list ($count)" "$bin list" \
  -n "list --json ($count)" "$bin list --json" \
  -n "show PREFIX" "$bin show $prefix" \
  -n "new --self-signed (ec-p256)" "$bin new --self-signed --name bench.example" \
  -n "openssl req -x509 (ec-p256)" "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $work/k.pem -out $work/c.pem -subj /CN=bench.example -addext subjectAltName=DNS:bench.example -days 1826"
cat bench/out/store.md
