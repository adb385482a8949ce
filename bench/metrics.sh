#!/usr/bin/env bash
# What /metrics costs, in one run:
#
#   - the time of one scrape of `serve`'s GET /metrics with a store of
#     COUNT certificates (hyperfine over curl), beside `mailcert list
#     --json` reading the same store and curl fetching a static page of
#     the same size from nginx (what the client and the HTTP exchange
#     cost alone);
#   - server CPU per full TLS handshake (utime+stime from /proc before and
#     after, two `openssl s_time -new` clients, TLS 1.3 + X25519) on the
#     same serve, alternately without and with a scrape of /metrics every
#     second, and nginx's on the same certificate in the same run.
#
# Usage: bench/metrics.sh [SECONDS_PER_RUN] [COUNT]   (default 8, 10000)
# Needs hyperfine, curl, nginx, openssl, /usr/bin/python3
# (scripts/install-peers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
COUNT=${2:-10000}
BIN=target/release/mailcert
cargo build --release --locked -q -p mailcert --bin mailcert --example fill_store
. bench/lib.sh

BACKEND=$(port)
$PY $HELP backend "$BACKEND" 1024 & PIDS+=($!)
wait_port "$BACKEND"

# The store: COUNT certificates, and the one the listener serves.
export MAILCERT_STORE=$W/store.db
target/release/examples/fill_store "$MAILCERT_STORE" "$COUNT" >/dev/null
self_signed "$W"
"$BIN" import "$W/both.pem" >/dev/null 2>&1
thumb=$(thumbprint "$W/cert.pem")
"$BIN" enable "$thumb" --services imap >/dev/null 2>&1

M_TLS=$(port); METRICS=$(port); N_TLS=$(port); N_HTTP=$(port)
cat > "$W/mailcert.toml" <<TOML
[metrics]
bind = "127.0.0.1:$METRICS"
$(imaps_listener "$M_TLS" "$BACKEND" "$thumb")
TOML
MAILCERT_LOG=error "$BIN" serve --config "$W/mailcert.toml" >"$W/mailcert.log" 2>&1 & MPID=$!; PIDS+=($MPID)
wait_port "$M_TLS"; wait_port "$METRICS"
curl -s "http://127.0.0.1:$METRICS/metrics" > "$W/page.txt"
series=$(grep -c '^x509_cert_not_after{' "$W/page.txt")
bytes=$(wc -c < "$W/page.txt")

mkdir -p "$W/nginx/www"
cp "$W/page.txt" "$W/nginx/www/metrics"
cat > "$W/nginx/nginx.conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
worker_processes 2;
pid $W/nginx/nginx.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$N_HTTP;
    root $W/nginx/www;
  }
}
stream {
$(nginx_tls_stream "$N_TLS" "$W" "$BACKEND")
}
NGINX
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e stderr >"$W/nginx.log" 2>&1 & NPID=$!; PIDS+=($NPID)
wait_port "$N_TLS"; wait_port "$N_HTTP"
sleep 0.5
NW=($(pgrep -P "$NPID")); NALL=("$NPID" "${NW[@]}")

hyperfine -N --warmup 3 --runs 30 --export-json "$W/scrape.json" \
  -n "GET /metrics ($series certificates)" "curl -s -o /dev/null http://127.0.0.1:$METRICS/metrics" \
  -n "mailcert list --json (same store)" "$BIN list --json" \
  -n "nginx static file of the same size" "curl -s -o /dev/null http://127.0.0.1:$N_HTTP/metrics" >/dev/null
ms() { $PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print("%.1f" % (r["mean"]*1000))' "$W/scrape.json" "$1"; }

# A scrape every second while the handshakes run.
scraper() { while :; do curl -s -o /dev/null "http://127.0.0.1:$METRICS/metrics"; sleep 1; done; }
declare -A R
for round in 1 2; do
  read -r R[off.$round] R[off.$round.n] < <(measure "$MPID" -- s_time "$M_TLS")
  scraper & SPID=$!
  read -r R[on.$round] R[on.$round.n] < <(measure "$MPID" -- s_time "$M_TLS")
  kill $SPID; wait $SPID 2>/dev/null || true
done
read -r R[nginx] R[nginx.n] < <(measure "${NALL[@]}" -- s_time "$N_TLS")

cat <<TABLE
| measure | value |
|---|---:|
| GET /metrics, $series certificates ($bytes bytes), mean ms | $(ms 0) |
| mailcert list --json of the same store, mean ms | $(ms 1) |
| the same page from nginx (client and HTTP alone), mean ms | $(ms 2) |

| CPU µs per full handshake (ECDSA P-256, TLS 1.3) | round 1 | round 2 |
|---|---:|---:|
| mailcert, no scrape | ${R[off.1]} | ${R[off.2]} |
| mailcert, /metrics scraped every second | ${R[on.1]} | ${R[on.2]} |
| ratio scraped / not | $(ratio "${R[on.1]}" "${R[off.1]}") | $(ratio "${R[on.2]}" "${R[off.2]}") |
| nginx (same certificate, same run) | ${R[nginx]} | |

handshakes counted: ${R[off.1.n]}, ${R[on.1.n]}, ${R[off.2.n]}, ${R[on.2.n]} (mailcert), ${R[nginx.n]} (nginx), ${SECS} s per run; CPU of the scrapes included.
TABLE
