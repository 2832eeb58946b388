#!/usr/bin/env bash
# BullMQ jobs per second through one worker, ferrocache and redis-server side by side in one run
# (both pinned to CPU 0; the Node.js worker on CPU 1). Needs tests/node's packages
# (tests/run.sh installs them) and a release build. RUNS=3 N=5000 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
N=${N:-5000}
FC_PORT=${FC_PORT:-7431}
RS_PORT=${RS_PORT:-7432}
export NODE_PATH="$PWD/tests/node/node_modules"
taskset -c 0 ./target/release/ferrocache --port "$FC_PORT" --bind 127.0.0.1 --save "" >/dev/null 2>&1 &
fc=$!
taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --save "" >/dev/null 2>&1 &
rs=$!
trap 'kill $fc $rs 2>/dev/null || true' EXIT
sleep 1
for run in $(seq "$RUNS"); do
    printf 'run %s ferrocache:   ' "$run"
    taskset -c 1 node benches/bullmq_throughput.js "$FC_PORT" "$N"
    printf 'run %s redis-server: ' "$run"
    taskset -c 1 node benches/bullmq_throughput.js "$RS_PORT" "$N"
done
