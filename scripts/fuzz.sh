#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz + libFuzzer) one after the
# other, each for SECONDS (default 10), and prints how many inputs each
# one executed. Exit 1 when a target crashed: the input is kept under
# fuzz/artifacts/TARGET/ and the command to replay it is printed.
#
#   scripts/fuzz.sh                  # every target, 10 s each
#   scripts/fuzz.sh 600 pkcs12 csr   # these targets, 10 minutes each
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 0 names   # stop after 10 million inputs
#
# Environment: FUZZ_RUNS (stop after that many inputs; SECONDS 0 means no
# time limit), FUZZ_NICE (default 19: the CPU is usually shared),
# FUZZ_TIMEOUT (seconds one input may take before it counts as a hang,
# default 10), FUZZ_SANITIZER (default none: the project's code forbids
# unsafe; "address" needs nightly and is about twice as slow).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); uses the nightly
# toolchain when one is installed, else stable (possible without a
# sanitizer).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-10}
shift || true
runs=${FUZZ_RUNS:-0}
nice_level=${FUZZ_NICE:-19}
timeout=${FUZZ_TIMEOUT:-10}
sanitizer=${FUZZ_SANITIZER:-none}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "scripts/fuzz.sh: cargo-fuzz is not installed; install it with: cargo install cargo-fuzz" >&2
    exit 2
fi
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
elif [ "$sanitizer" != none ]; then
    echo "scripts/fuzz.sh: FUZZ_SANITIZER=$sanitizer needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
case "$seconds$runs" in
    *[!0-9]*) echo "scripts/fuzz.sh: SECONDS and FUZZ_RUNS are whole numbers (got '$seconds', '$runs')" >&2; exit 2 ;;
esac

mapfile -t all < <(cargo "${toolchain[@]}" fuzz list)
if [ $# -gt 0 ]; then
    targets=("$@")
    for t in "${targets[@]}"; do
        if ! printf '%s\n' "${all[@]}" | grep -qx "$t"; then
            echo "scripts/fuzz.sh: no fuzz target '$t'; the targets are: ${all[*]}" >&2
            exit 2
        fi
    done
else
    targets=("${all[@]}")
fi

# One build for all targets; a failure shows cargo's own output. -O alone
# turns debug assertions and overflow checks off; -a keeps them, so that an
# arithmetic overflow is a crash and not a wrapped value.
if ! build=$(nice -n "$nice_level" cargo "${toolchain[@]}" fuzz build -O -a -s "$sanitizer" 2>&1); then
    echo "$build" >&2
    exit 2
fi

mkdir -p target/logs
printf '%-16s %14s %10s %8s  %s\n' target executions exec/s corpus result
crashed=0
for t in "${targets[@]}"; do
    log=target/logs/$t.log
    mkdir -p "corpus/$t"
    dict=()
    [ -f "dict/$t.dict" ] && dict=("-dict=dict/$t.dict")
    limits=("-timeout=$timeout" "-print_final_stats=1")
    [ "$seconds" -gt 0 ] && limits+=("-max_total_time=$seconds")
    [ "$runs" -gt 0 ] && limits+=("-runs=$runs")
    status=ok
    if ! nice -n "$nice_level" cargo "${toolchain[@]}" fuzz run -O -a -s "$sanitizer" "$t" "corpus/$t" -- \
        "${limits[@]}" "${dict[@]}" >"$log" 2>&1; then
        status="CRASH: $(grep -o 'artifacts/[^ ]*' "$log" | tail -1)"
        crashed=1
    fi
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    size=$(find "corpus/$t" -type f | wc -l)
    printf '%-16s %14s %10s %8s  %s\n' "$t" "${executions:-?}" "${rate:-?}" "$size" "$status"
    if [ "$status" != ok ]; then
        echo "    replay: cargo ${toolchain[*]} fuzz run -O -a -s $sanitizer $t fuzz/${status#CRASH: }   (log: fuzz/$log)"
    fi
done
exit $crashed
