#!/usr/bin/env bash
# BullMQ jobs per second through one worker and server CPU per job, ferrocache and redis-server
# side by side in one run
# (both pinned to CPU 0; the Node.js worker on CPU 1). Needs tests/node's packages
# (tests/run.sh installs them) and a release build. RUNS=3 N=5000 by default; FC=<binary> runs
# another ferrocache build instead of this tree's.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
N=${N:-5000}
FC_PORT=${FC_PORT:-7431}
RS_PORT=${RS_PORT:-7432}
export NODE_PATH="$PWD/tests/node/node_modules"
FC=${FC:-./target/release/ferrocache}
taskset -c 0 "$FC" --port "$FC_PORT" --bind 127.0.0.1 --save "" >/dev/null 2>&1 &
fc=$!
taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --save "" >/dev/null 2>&1 &
rs=$!
trap 'kill $fc $rs 2>/dev/null || true' EXIT
sleep 1
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
HZ=$(getconf CLK_TCK)
# One line per run and server: the worker's jobs per second (bound by the Node.js worker as
# much as by the server) and the server's CPU per job (user + system), the figure to compare.
one() { # label pid port
    local c0 c1
    printf 'run %s %-13s ' "$run" "$1:"
    c0=$(ticks "$2")
    taskset -c 1 node benches/bullmq_throughput.js "$3" "$N" | tr -d '\n'
    c1=$(ticks "$2")
    awk -v a="$c0" -v b="$c1" -v n="$N" -v hz="$HZ" 'BEGIN {printf ", server CPU %.1f us/job\n", 1e6 * (b - a) / hz / n}'
}
for run in $(seq "$RUNS"); do
    one ferrocache "$fc" "$FC_PORT"
    one redis-server "$rs" "$RS_PORT"
done
