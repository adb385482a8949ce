#!/usr/bin/env bash
# A fleet on PostgreSQL against one server on SQLite, side by side in one
# run, on the same certificates and the same clients:
#
#   - propagation: `mailcert enable` on one node until a client of another
#     node is served the new certificate (fresh TLS sessions), median, p99
#     and max over ROUNDS changes; beside it the same on a SQLite store
#     and its own front end (which polls the file)
#   - `list` and `list --json` of COUNT certificates (hyperfine), on
#     PostgreSQL and on SQLite
#   - server CPU per full handshake (utime+stime from /proc, before/after,
#     two `openssl s_time -new` clients), a node on PostgreSQL and one on
#     SQLite: certificates are served from memory, so the store should not
#     show
#
# Usage: bench/fleet.sh [ROUNDS] [COUNT] [SECONDS_PER_RUN]   (defaults 50 10000 8)
# Needs PostgreSQL's server binaries, hyperfine, openssl and /usr/bin/python3
# (scripts/install-peers.sh). As root, the throwaway cluster runs as nobody.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-50}
COUNT=${2:-10000}
SECS=${3:-8}
cargo build --release -q --locked -p mailcert --bin mailcert --example fill_store
BIN=$PWD/target/release/mailcert
FILL=$PWD/target/release/examples/fill_store
. bench/lib.sh
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "no PostgreSQL server (run scripts/install-peers.sh)" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u nobody --); else AS_PG=(); fi
bench_cleanup_more() {
  [ -d "$W/pg/data" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate stop >/dev/null 2>&1 || true
}

# A throwaway cluster with PostgreSQL's defaults (fsync on: commits are as
# durable as SQLite's synchronous = FULL).
PGPORT=$(port)
mkdir -p "$W/pg/data" "$W/pg/sock"
PGPW=bench-$RANDOM$RANDOM
echo "$PGPW" > "$W/pg/pw"
[ "$(id -u)" = 0 ] && chown -R nobody "$W/pg"
"${AS_PG[@]}" "$PGBIN/initdb" -D "$W/pg/data" -U mailcert --pwfile "$W/pg/pw" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >/dev/null
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$W/pg/data" -l "$W/pg/log" -w \
  -o "-p $PGPORT -k $W/pg/sock -c listen_addresses=127.0.0.1" start >/dev/null
echo "*:*:*:mailcert:$PGPW" > "$W/pgpass"; chmod 600 "$W/pgpass"
createdb() { PGPASSWORD=$PGPW "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U mailcert -d postgres -c "CREATE DATABASE $1"; }
url() { echo "postgres://mailcert@127.0.0.1:$PGPORT/$1?passfile=$W/pgpass&sslmode=disable"; }

# Two certificates for the same name from one CA that the stores trust, so
# that either beats each node's own self-signed certificate.
C=$W/certs; mkdir -p "$C"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/ca.key" -out "$C/ca.pem" \
  -days 30 -subj "/CN=bench fleet CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
for leaf in a b; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$leaf.key" -out "$C/$leaf.csr" -subj /CN=bench.example.test 2>/dev/null
  printf 'subjectAltName=DNS:bench.example.test\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' > "$C/$leaf.ext"
  openssl x509 -req -in "$C/$leaf.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 30 -extfile "$C/$leaf.ext" -out "$C/$leaf.pem" 2>/dev/null
  cat "$C/$leaf.pem" "$C/$leaf.key" > "$C/$leaf.bundle"
done
A=$(openssl x509 -in "$C/a.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
B=$(openssl x509 -in "$C/b.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')

BACKEND=$(port)
$PY $HELP backend "$BACKEND" 1024 & PIDS+=($!)
wait_port "$BACKEND"

# Starts `mailcert serve` as NODE on the store in the environment with an
# HTTPS listener on PORT; prints its pid.
serve() {
  local node=$1 port=$2 dir=$W/node-$1
  mkdir -p "$dir"
  cat > "$dir/mailcert.toml" <<TOML
[[listener]]
name = "https"
protocol = "https"
tls = "implicit"
bind = "127.0.0.1:$port"
backend = "127.0.0.1:$BACKEND"
hostname = "bench.example.test"
TOML
  MAILCERT_LOG=warn "$BIN" serve --config "$dir/mailcert.toml" --node "$node" >"$dir/out.log" 2>"$dir/err.log" &
  echo $!
}
prepare() { # the store in the environment: trust the CA, import A and B
  "$BIN" trust add "$C/ca.pem" >/dev/null 2>&1
  "$BIN" import "$C/a.bundle" >/dev/null 2>&1
  "$BIN" import "$C/b.bundle" >/dev/null 2>&1
  "$BIN" enable "$A" --services https >/dev/null 2>&1
}

declare -A R
# --- PostgreSQL: two nodes; the change is made as ex1, seen through ex2.
createdb prop
export MAILCERT_STORE MAILCERT_STORE_KEY_FILE MAILCERT_NODE
MAILCERT_STORE=$(url prop); MAILCERT_STORE_KEY_FILE=$W/fleet.key; MAILCERT_NODE=ex1
prepare
P1=$(port); P2=$(port)
N1=$(serve ex1 "$P1"); PIDS+=($N1)
N2=$(serve ex2 "$P2"); PIDS+=($N2)
wait_port "$P1"; wait_port "$P2"
read -r R[pg.p50] R[pg.p99] R[pg.max] R[pg.cli] < <($PY $HELP propagation "$P2" "$ROUNDS" "$BIN" "$B" "$A")
# --- SQLite: one server, its own front end.
MAILCERT_STORE=$W/sqlite/store.db; unset MAILCERT_STORE_KEY_FILE
prepare
P3=$(port)
N3=$(serve local "$P3"); PIDS+=($N3)
wait_port "$P3"
read -r R[sq.p50] R[sq.p99] R[sq.max] R[sq.cli] < <($PY $HELP propagation "$P3" "$ROUNDS" "$BIN" "$B" "$A")

# --- Handshake CPU: ex2 (PostgreSQL) and the SQLite server, same certificate.
read -r R[cpu.pg] R[cpu.pgn] < <(measure "$N2" -- s_time "$P2")
read -r R[cpu.sq] R[cpu.sqn] < <(measure "$N3" -- s_time "$P3")
kill "$N1" "$N2" "$N3" 2>/dev/null || true

# --- list of COUNT certificates.
createdb many
LIST_PG=$(url many)
MAILCERT_STORE_KEY_FILE=$W/many.key "$FILL" "$LIST_PG" "$COUNT" >/dev/null
"$FILL" "$W/many.db" "$COUNT" >/dev/null
mkdir -p bench/out
hyperfine -N --warmup 3 --runs 20 --export-json "$W/list.json" --export-markdown bench/out/fleet-list.md \
  -n "list, PostgreSQL" "env MAILCERT_STORE=$LIST_PG MAILCERT_STORE_KEY_FILE=$W/many.key $BIN list" \
  -n "list, SQLite" "env MAILCERT_STORE=$W/many.db $BIN list" \
  -n "list --json, PostgreSQL" "env MAILCERT_STORE=$LIST_PG MAILCERT_STORE_KEY_FILE=$W/many.key $BIN list --json" \
  -n "list --json, SQLite" "env MAILCERT_STORE=$W/many.db $BIN list --json" >/dev/null
read -r R[list.pg] R[list.sq] R[json.pg] R[json.sq] < <($PY -c '
import json, sys
means = {r["command"]: r["mean"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
print(*("%.0f" % means[k] for k in ("list, PostgreSQL", "list, SQLite", "list --json, PostgreSQL", "list --json, SQLite")))' "$W/list.json")

cat <<TABLE
| measure | PostgreSQL | SQLite | PostgreSQL/SQLite |
|---|---:|---:|---:|
| enable → served, median ms (PostgreSQL: another node; SQLite: its own front end) | ${R[pg.p50]} | ${R[sq.p50]} | $(ratio "${R[pg.p50]}" "${R[sq.p50]}") |
| enable → served, p99 ms ($ROUNDS changes) | ${R[pg.p99]} | ${R[sq.p99]} | $(ratio "${R[pg.p99]}" "${R[sq.p99]}") |
| enable → served, max ms | ${R[pg.max]} | ${R[sq.max]} | $(ratio "${R[pg.max]}" "${R[sq.max]}") |
| the enable command alone, median ms | ${R[pg.cli]} | ${R[sq.cli]} | $(ratio "${R[pg.cli]}" "${R[sq.cli]}") |
| \`list\`, $COUNT certificates, mean ms | ${R[list.pg]} | ${R[list.sq]} | $(ratio "${R[list.pg]}" "${R[list.sq]}") |
| \`list --json\`, $COUNT certificates, mean ms | ${R[json.pg]} | ${R[json.sq]} | $(ratio "${R[json.pg]}" "${R[json.sq]}") |
| server CPU µs per full handshake (ECDSA P-256, TLS 1.3) | ${R[cpu.pg]} | ${R[cpu.sq]} | $(ratio "${R[cpu.pg]}" "${R[cpu.sq]}") |

handshakes counted: ${R[cpu.pgn]} (PostgreSQL node) / ${R[cpu.sqn]} (SQLite), ${SECS} s each.
TABLE
