#!/usr/bin/env bash
# mailcert's front end against nginx, side by side in one run, on the same
# certificate, the same backend and the same clients:
#
#   - server CPU per full handshake (utime+stime from /proc, before/after),
#     TLS 1.3 + X25519, client resumption off, ECDSA P-256 and RSA-2048:
#     implicit TLS (nginx `stream` TLS termination) and IMAP STARTTLS
#     (nginx `mail` proxy, `starttls only`)
#   - server CPU per resumed handshake (TLS 1.3 tickets)
#   - IMAP proxy throughput: a large FETCH through implicit TLS
#   - memory per idle TLS connection (RSS delta over IDLE connections)
#
# Usage: bench/front.sh [SECONDS_PER_RUN]   (env: IDLE=10000, FETCH_MB=16)
# Needs root for `ulimit -n` above the default, nginx with its stream and
# mail modules, openssl and /usr/bin/python3 (scripts/install-peers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
IDLE=${IDLE:-10000}
# Each idle client connection costs the front end two descriptors (client
# and backend): stay under the hard limit of open files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
MAXIDLE=$(( ($(ulimit -n) - 200) / 2 ))
if [ "$IDLE" -gt "$MAXIDLE" ]; then
  echo "note: open-files limit $(ulimit -n) allows $MAXIDLE idle connections, not $IDLE" >&2
  IDLE=$MAXIDLE
fi
FETCH_MB=${FETCH_MB:-16}
BIN=target/release/mailcert
[ -x "$BIN" ] || cargo build --release --locked -p mailcert
. bench/lib.sh

BACKEND=$(port)
$PY $HELP backend "$BACKEND" $((FETCH_MB * 1024 * 1024)) & PIDS+=($!)
wait_port "$BACKEND"

declare -A R
for key in ec rsa; do
  d=$W/$key; mkdir -p "$d/nginx"
  self_signed "$d" $key
  # mailcert: the same certificate imported into a fresh store, pinned on the listeners.
  export MAILCERT_STORE=$d/store.db
  "$BIN" import "$d/both.pem" >/dev/null 2>&1
  thumb=$(thumbprint "$d/cert.pem")
  M_TLS=$(port); M_STARTTLS=$(port); N_TLS=$(port); N_STARTTLS=$(port)
  cat > "$d/mailcert.toml" <<TOML
[limits]
max_connections = 40000
$(imaps_listener "$M_TLS" "$BACKEND" "$thumb")
[[listener]]
name = "imap"
protocol = "imap"
tls = "starttls-required"
bind = "127.0.0.1:$M_STARTTLS"
backend = "127.0.0.1:$BACKEND"
certificate = "$thumb"
TOML
  MAILCERT_LOG=error "$BIN" serve --config "$d/mailcert.toml" >"$d/mailcert.log" 2>&1 & MPID=$!; PIDS+=($MPID)
  cat > "$d/nginx/nginx.conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
load_module /usr/lib/nginx/modules/ngx_mail_module.so;
daemon off;
worker_processes 2;
worker_rlimit_nofile 65536;
pid $d/nginx/nginx.pid;
error_log stderr error;
events { worker_connections 40000; }
stream {
$(nginx_tls_stream "$N_TLS" "$d" "$BACKEND")
}
mail {
  auth_http 127.0.0.1:1/unused;
  server {
    listen 127.0.0.1:$N_STARTTLS;
    protocol imap;
    starttls only;
    ssl_certificate $d/cert.pem;
    ssl_certificate_key $d/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
  }
}
NGINX
  nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" -e stderr >"$d/nginx.log" 2>&1 & NPID=$!; PIDS+=($NPID)
  wait_port "$M_TLS"; wait_port "$M_STARTTLS"; wait_port "$N_TLS"; wait_port "$N_STARTTLS"
  sleep 0.5
  NW=($(pgrep -P "$NPID")); NALL=("$NPID" "${NW[@]}")

  read -r R[$key.full.m] R[$key.full.mn] < <(measure "$MPID" -- s_time "$M_TLS" -new)
  read -r R[$key.full.n] R[$key.full.nn] < <(measure "${NALL[@]}" -- s_time "$N_TLS" -new)
  read -r R[$key.stls.m] R[$key.stls.mn] < <(measure "$MPID" -- $PY $HELP starttls "$M_STARTTLS" "$SECS")
  read -r R[$key.stls.n] R[$key.stls.nn] < <(measure "${NALL[@]}" -- $PY $HELP starttls "$N_STARTTLS" "$SECS")
  if [ $key = ec ]; then
    read -r R[res.m] R[res.mn] < <(measure "$MPID" -- $PY $HELP resume "$M_TLS" "$SECS")
    read -r R[res.n] R[res.nn] < <(measure "${NALL[@]}" -- $PY $HELP resume "$N_TLS" "$SECS")
    R[fetch.m]=$($PY $HELP fetch "$M_TLS" $((FETCH_MB * 1024 * 1024)) 8)
    R[fetch.n]=$($PY $HELP fetch "$N_TLS" $((FETCH_MB * 1024 * 1024)) 8)
    for who in m n; do
      if [ $who = m ]; then p=$M_TLS; pids=("$MPID"); else p=$N_TLS; pids=("${NALL[@]}"); fi
      before=$(rss "${pids[@]}")
      mkfifo "$W/hold.$who"
      $PY $HELP idle "$p" "$IDLE" < "$W/hold.$who" > "$W/idle.$who" 2>&1 & IPID=$!
      exec 7>"$W/hold.$who"
      for _ in $(seq 1 1200); do grep -q ready "$W/idle.$who" && break; kill -0 $IPID 2>/dev/null || break; sleep 0.1; done
      got=$(awk '/ready/ {print $2}' "$W/idle.$who"); got=${got:-0}
      after=$(rss "${pids[@]}")
      R[idle.$who]=$(awk -v a="$after" -v b="$before" -v n="$got" 'BEGIN { if (n > 0) printf "%.1f", (a - b) / n; else print "n/a" }')
      R[idle.$who.n]=$got
      exec 7>&-
      wait $IPID 2>/dev/null || true
    done
  fi
  kill "$MPID" "$NPID" 2>/dev/null || true
  wait "$MPID" "$NPID" 2>/dev/null || true
done

cat <<TABLE
| measure | mailcert | nginx | mailcert/nginx |
|---|---:|---:|---:|
| CPU µs per full handshake, implicit TLS, ECDSA P-256 | ${R[ec.full.m]} | ${R[ec.full.n]} | $(ratio "${R[ec.full.m]}" "${R[ec.full.n]}") |
| CPU µs per full handshake, implicit TLS, RSA-2048 | ${R[rsa.full.m]} | ${R[rsa.full.n]} | $(ratio "${R[rsa.full.m]}" "${R[rsa.full.n]}") |
| CPU µs per IMAP STARTTLS session, ECDSA P-256 | ${R[ec.stls.m]} | ${R[ec.stls.n]} | $(ratio "${R[ec.stls.m]}" "${R[ec.stls.n]}") |
| CPU µs per IMAP STARTTLS session, RSA-2048 | ${R[rsa.stls.m]} | ${R[rsa.stls.n]} | $(ratio "${R[rsa.stls.m]}" "${R[rsa.stls.n]}") |
| CPU µs per resumed IMAP session (TLS 1.3 ticket, greeting read), ECDSA | ${R[res.m]} | ${R[res.n]} | $(ratio "${R[res.m]}" "${R[res.n]}") |
| IMAP FETCH throughput through implicit TLS, MB/s | ${R[fetch.m]} | ${R[fetch.n]} | $(ratio "${R[fetch.m]}" "${R[fetch.n]}") |
| RSS kB per idle TLS connection (${R[idle.m.n]} / ${R[idle.n.n]} conns) | ${R[idle.m]} | ${R[idle.n]} | $(ratio "${R[idle.m]}" "${R[idle.n]}") |

handshakes counted: full ECDSA ${R[ec.full.mn]} / ${R[ec.full.nn]}, full RSA ${R[rsa.full.mn]} / ${R[rsa.full.nn]}, STARTTLS ECDSA ${R[ec.stls.mn]} / ${R[ec.stls.nn]}, STARTTLS RSA ${R[rsa.stls.mn]} / ${R[rsa.stls.nn]}, resumed ${R[res.mn]} / ${R[res.nn]} (mailcert / nginx), ${SECS} s per run.
TABLE
