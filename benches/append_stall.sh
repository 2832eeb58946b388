#!/usr/bin/env bash
# GET latency on other keys while one key grows by 1 MB APPENDs (200 per round, up to 100 MB and
# more), against the same GET load alone; ferrocache and redis-server side by side, same run.
# Issue 16's bar: GET p99 with the APPENDs within 2x of GET p99 without them.
#
#   bash benches/append_stall.sh            (uses target/release/ferrocache)
#   GETS=300000 ROUNDS=3 bash benches/append_stall.sh
#
# Servers are pinned to CPU 0, the clients to CPU 1. Loopback only; every loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRO=${FERRO:-target/release/ferrocache}
GETS=${GETS:-200000}
ROUNDS=${ROUNDS:-5}
[ -x "$FERRO" ] || { echo "build first: cargo build --release" >&2; exit 2; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing (redis-tools)" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# p50,p99,max in ms of a GET run (redis-benchmark --csv columns).
get_latency() {
    taskset -c 1 redis-benchmark -h 127.0.0.1 -p "$1" -t get -n "$GETS" -c 10 -r 10000 -d 100 --csv \
        | awk -F'","' '/^"GET"/ {gsub(/"/, "", $7); gsub(/"/, "", $8); print $5 "," $7 "," $8}'
}

# One APPEND loop: ROUNDS rounds of 200 x 1 MB appends to one key, then DEL; stops early when
# $work/stop exists.
append_loop() {
    taskset -c 1 python3 - "$1" "$ROUNDS" "$work/stop" <<'EOF'
import os, sys, redis
port, rounds, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
r = redis.Redis(port=port)
chunk = b"x" * (1 << 20)
for _ in range(rounds):
    for _ in range(200):
        if os.path.exists(stop):
            sys.exit(0)
        r.append("big", chunk)
    r.delete("big")
EOF
}

run_one() {
    local name=$1 port=$2
    taskset -c 1 redis-benchmark -h 127.0.0.1 -p "$port" -t set -n 10000 -r 10000 -d 100 -q >/dev/null
    local base; base=$(get_latency "$port")
    rm -f "$work/stop"
    append_loop "$port" &
    local loop=$!
    sleep 0.5
    local loaded; loaded=$(get_latency "$port")
    touch "$work/stop"
    wait "$loop" || true
    echo "$name,$base,$loaded"
}

port_f=$(free_port)
taskset -c 0 "$FERRO" --port "$port_f" --bind 127.0.0.1 --save "" --dir "$work" >/dev/null 2>&1 &
pids+=($!)
port_r=$(free_port)
taskset -c 0 redis-server --port "$port_r" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null 2>&1 &
pids+=($!)
for p in "$port_f" "$port_r"; do
    for _ in $(seq 100); do redis-cli -p "$p" PING >/dev/null 2>&1 && break; sleep 0.1; done
done

echo "server,base_p50_ms,base_p99_ms,base_max_ms,append_p50_ms,append_p99_ms,append_max_ms"
run_one ferrocache "$port_f"
run_one redis-server "$port_r"
