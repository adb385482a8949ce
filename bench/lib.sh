# Shared by the benchmarks that measure servers (front.sh, metrics.sh,
# fleet.sh): sourced after `set -euo pipefail` and `cd` to the repository,
# with SECS (seconds per run) set.
#
# Gives: PY, HELP (bench/helpers.py), W (a work folder removed on exit),
# TCK, PIDS (processes killed on exit; a script that needs more done on
# exit defines `bench_cleanup_more`), and the functions below.

PY=/usr/bin/python3
HELP=bench/helpers.py
W=$(mktemp -d /tmp/mailcert-bench.XXXXXX)
chmod 755 "$W"
TCK=$(getconf CLK_TCK)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if declare -F bench_cleanup_more >/dev/null; then bench_cleanup_more; fi
  rm -rf "$W"
}
trap cleanup EXIT

# A free port on 127.0.0.1.
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits (at most 10 s) until something listens on 127.0.0.1:PORT.
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing listens on $1" >&2; return 1; }
# utime+stime (clock ticks) summed over the given pids.
cpu() { local t=0 p f; for p in "$@"; do f=($(sed 's/^.*) //' "/proc/$p/stat")); t=$((t + f[11] + f[12])); done; echo "$t"; }
# VmRSS (kB) summed over the given pids.
rss() { local t=0 p; for p in "$@"; do t=$((t + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done; echo "$t"; }
us_per() { awk -v t="$1" -v n="$2" -v k="$TCK" 'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / k / n; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "n/a") printf "%.2f", a / b; else print "n/a" }'; }

# Handshakes with two openssl s_time clients in parallel for SECS seconds:
# s_time PORT [-new|-reuse] (full handshakes by default); prints the count.
s_time() {
  local p=$1 mode=${2:--new} out=$W/stime.$RANDOM
  for i in 1 2; do openssl s_time -connect "127.0.0.1:$p" "$mode" -time "$SECS" >"$out.$i" 2>&1 & done
  wait %1 %2 2>/dev/null || true
  cat "$out".1 "$out".2 | grep -oE '^[0-9]+ connections in [0-9.]+ real' | awk '{s += $1} END {print s + 0}'
}
# CPU µs per operation of a load on servers: measure PIDS... -- COMMAND
# (which prints its count); prints "µs count".
measure() {
  local pids=() ; while [ "$1" != "--" ]; do pids+=("$1"); shift; done; shift
  local before after n; before=$(cpu "${pids[@]}"); n=$("$@"); after=$(cpu "${pids[@]}")
  echo "$(us_per $((after - before)) "$n") $n"
}

# A self-signed certificate for bench.example.test in DIR: cert.pem and
# key.pem, and both.pem (what `mailcert import` takes); KEY is ec (P-256,
# the default) or rsa (2048 bits).
self_signed() {
  local d=$1 newkey
  if [ "${2:-ec}" = ec ]; then newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); else newkey=(-newkey rsa:2048); fi
  openssl req -x509 "${newkey[@]}" -nodes -keyout "$d/key.pem" -out "$d/cert.pem" -days 30 \
    -subj /CN=bench.example.test -addext subjectAltName=DNS:bench.example.test 2>/dev/null
  cat "$d/cert.pem" "$d/key.pem" > "$d/both.pem"
}
# The thumbprint of a PEM certificate, as mailcert shows it.
thumbprint() { openssl x509 -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }

# mailcert's implicit-TLS IMAP listener on PORT, proxying to BACKEND and
# pinned to the certificate THUMB: imaps_listener PORT BACKEND THUMB
imaps_listener() {
  cat <<TOML
[[listener]]
name = "imaps"
protocol = "imap"
tls = "implicit"
bind = "127.0.0.1:$1"
backend = "127.0.0.1:$2"
certificate = "$3"
TOML
}

# The nginx `stream` server that terminates TLS on PORT with DIR's
# cert.pem and key.pem and proxies to BACKEND (full handshakes: no
# session cache; tickets on, as mailcert's): nginx_tls_stream PORT DIR BACKEND
nginx_tls_stream() {
  cat <<NGINX
  server {
    listen 127.0.0.1:$1 ssl;
    ssl_certificate $2/cert.pem;
    ssl_certificate_key $2/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets on;
    proxy_pass 127.0.0.1:$3;
  }
NGINX
}
