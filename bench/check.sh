#!/usr/bin/env bash
# Benchmark: `mailcert check` on N loopback endpoints at once, against a
# loop of `openssl s_client` over the same endpoints, in the same run.
#
#   bench/check.sh                 # 200 endpoints, ports 24000..24199
#   N=50 BASE_PORT=31000 bench/check.sh
#   MAILCERT=path/to/mailcert bench/check.sh   # skip the release build
#
# Each endpoint is an `openssl s_server` with an ECDSA P-256 certificate
# from a throwaway CA. mailcert makes two connections per endpoint (the
# handshake and the TLS 1.0/1.1 probe); it is also timed with
# --no-legacy-probe, one connection each like s_client. Prints the times
# and the ratio; asserts nothing about durations.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
BASE_PORT=${BASE_PORT:-24000}
NAME=bench.example.test

if [ -z "${MAILCERT:-}" ]; then
  cargo build --release -q -p mailcert
  MAILCERT=target/release/mailcert
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
  -out root.pem -subj "/CN=Bench Root" -days 365 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
  -out leaf.csr -subj "/CN=$NAME" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' "$NAME" > leaf.ext
openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -CAcreateserial -out leaf.pem \
  -days 60 -extfile leaf.ext 2>/dev/null

ports=()
for i in $(seq 0 $((N - 1))); do
  port=$((BASE_PORT + i))
  ports+=("$port")
  openssl s_server -quiet -accept "127.0.0.1:$port" -cert leaf.pem -key leaf.key \
    -naccept 100 </dev/null >/dev/null 2>&1 &
  pids+=("$!")
done
# Wait until every server listens (bounded).
for port in "${ports[@]}"; do
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.05
  done
done

endpoints=()
for port in "${ports[@]}"; do endpoints+=("imaps://$NAME:$port"); done

now() { date +%s.%N; }

# --connect without a port dials 127.0.0.1 on each endpoint's own port,
# while the certificate is validated for $NAME.
t0=$(now)
"$OLDPWD/$MAILCERT" check "${endpoints[@]}" --connect 127.0.0.1 --ca-file root.pem --json \
  > mailcert.json || true
t1=$(now)
"$OLDPWD/$MAILCERT" check "${endpoints[@]}" --connect 127.0.0.1 --ca-file root.pem --json \
  --no-legacy-probe > mailcert-single.json || true
t2=$(now)
ok=0
for port in "${ports[@]}"; do
  if openssl s_client -connect "127.0.0.1:$port" -servername "$NAME" -CAfile root.pem \
      -verify_hostname "$NAME" -verify_return_error </dev/null >/dev/null 2>&1; then
    ok=$((ok + 1))
  fi
done
t3=$(now)

clean=$(/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["endpoints"]
print(sum(1 for e in r if e["connected"] and not e["findings"]), len(r))' mailcert.json)

awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$N" -v ok="$ok" -v clean="$clean" 'BEGIN {
  m = b - a; s = c - b; o = d - c;
  printf "endpoints:                          %d\n", n;
  printf "mailcert check (2 connections each): %.2f s  (clean reports: %s)\n", m, clean;
  printf "mailcert check --no-legacy-probe:    %.2f s\n", s;
  printf "openssl s_client loop:               %.2f s  (verified: %d)\n", o, ok;
  printf "ratio s_client loop / mailcert:      %.1fx\n", o / m;
  printf "ratio s_client loop / single probe:  %.1fx\n", o / s;
}'
