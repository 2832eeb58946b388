#!/usr/bin/env bash
# User-space instructions per request, ferrocache against redis-server, counted by callgrind.
#
# The CPU-per-request benchmarks (bench.sh, side_by_side.sh) are the trusted figure, but on a
# shared 2-core machine their rounds move by 10-20%, more than most single changes to the hot
# path. Instruction counts do not move with the load: the same binary and workload give the
# same count to within about 0.3% for ferrocache (redis-server's moves by up to 3%, its batches
# depending on timing). They leave out the kernel (which is most of an unpipelined
# request) and cache misses, so they tell whether a change made the server's own work smaller,
# not how fast it runs; confirm with the CPU benchmarks before quoting a speed-up.
#
# Each server runs under `valgrind --tool=callgrind` with instrumentation off; redis-benchmark
# runs the workload once to fill the keyspace, then once more with instrumentation on, and the
# count is divided by the requests of that second run.
#
# Usage: benches/instructions.sh [FERROCACHE_BIN] [REQUESTS]
#   FERROCACHE_BIN  default target/release/ferrocache
#   REQUESTS        requests per measured run (default 100000; unpipelined runs use a third)
#   WORKLOADS       default "set_p16 get_p16 get_p1 set_p1"
# Needs valgrind, redis-server and redis-benchmark.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:-target/release/ferrocache}
REQUESTS=${2:-100000}
WORKLOADS=${WORKLOADS:-"set_p16 get_p16 get_p1 set_p1"}
PORT=${PORT:-7481}
for tool in valgrind callgrind_control callgrind_annotate redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "instructions.sh: $tool is not installed" >&2; exit 1; }
done

WORK=$(mktemp -d)
SERVER=
cleanup() {
    if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# count BINARY ARGS...: instructions per request of the measured run.
count() {
    local binary=$1 requests=$2
    shift 2
    local out=$WORK/callgrind.out extra=()
    [[ $(basename "$binary") == redis-server ]] && extra=(--appendonly no)
    rm -f "$out"*
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
        "$binary" --port "$PORT" --bind 127.0.0.1 --save "" --dir "$WORK" "${extra[@]}" \
        >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 300); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.2
    done
    redis-benchmark -p "$PORT" -q -n "$requests" "$@" >/dev/null 2>&1
    callgrind_control -i on "$SERVER" >/dev/null 2>&1
    redis-benchmark -p "$PORT" -q -n "$requests" "$@" >/dev/null 2>&1
    callgrind_control -i off "$SERVER" >/dev/null 2>&1
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=
    local total
    total=$(callgrind_annotate "$out"* 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    echo $((total / requests))
}

printf '%-10s %12s %12s %7s\n' workload ferrocache redis-server ratio
for wl in $WORKLOADS; do
    case $wl in
        set_p16) args=(-t set -P 16) n=$REQUESTS ;;
        get_p16) args=(-t get -P 16) n=$REQUESTS ;;
        set_p1) args=(-t set) n=$((REQUESTS / 3)) ;;
        get_p1) args=(-t get) n=$((REQUESTS / 3)) ;;
        incr_p1) args=(-t incr) n=$((REQUESTS / 3)) ;;
        mset_p1) args=(-t mset) n=$((REQUESTS / 3)) ;;
        *) echo "instructions.sh: unknown workload $wl" >&2; exit 1 ;;
    esac
    args+=(-r 100000 -d 100 -c 50)
    ours=$(count "$BIN" "$n" "${args[@]}")
    theirs=$(count "$(command -v redis-server)" "$n" "${args[@]}")
    printf '%-10s %12d %12d %7.2f\n' "$wl" "$ours" "$theirs" "$(echo "scale=4; $ours / $theirs" | bc)"
done
