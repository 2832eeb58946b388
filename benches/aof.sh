#!/usr/bin/env bash
# aof.sh — AOF write throughput and latency, ferrocache vs redis-server side by side, both with
# appendonly yes on the same disk, each server pinned to CPU 0 (redis-benchmark runs on CPU 1).
#
#   bash benches/aof.sh               # the two workloads of issue #4
#   N_PIPE=2000000 N_ALWAYS=300000 bash benches/aof.sh
#   REWRITE_KEYS=1000000 bash benches/aof.sh   # also: worst GET latency during a rewrite
#
# Workloads: pipelined SET (-P 16, 50 clients) with appendfsync everysec, and unpipelined SET
# from 50 clients with appendfsync always. Reports ops/sec, p50 and p99 (ms) and the ratios.
# With REWRITE_KEYS set, loads that many keys and measures the worst latency a PING/GET client
# sees while BGREWRITEAOF runs. Loopback only; every loop is bounded; nothing is written to the
# repository (data lives in a temp dir removed at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
N_PIPE=${N_PIPE:-1000000}
N_ALWAYS=${N_ALWAYS:-200000}
FC_PORT=${FC_PORT:-7321}
RS_PORT=${RS_PORT:-7322}
REWRITE_KEYS=${REWRITE_KEYS:-0}
WORKLOADS=${WORKLOADS-"everysec always"}   # WORKLOADS="" with REWRITE_KEYS for the rewrite only
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT

wait_up() { for _ in $(seq 200); do redis-cli -p "$1" PING >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start" >&2; exit 1; }

start_pair() { # $1 = appendfsync policy
  rm -rf "$out/fc" "$out/rs"; mkdir -p "$out/fc" "$out/rs"
  taskset -c 0 "$target/release/ferrocache" --port "$FC_PORT" --bind 127.0.0.1 --dir "$out/fc" \
    --appendonly yes --appendfsync "$1" --aof-use-rdb-preamble no >"$out/fc.log" 2>&1 &
  fc=$!; pids+=("$fc")
  taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --dir "$out/rs" --save "" \
    --appendonly yes --appendfsync "$1" --aof-use-rdb-preamble no >"$out/rs.log" 2>&1 &
  rs=$!; pids+=("$rs")
  wait_up "$FC_PORT"; wait_up "$RS_PORT"
}

stop_pair() { kill "$fc" "$rs" 2>/dev/null || true; wait "$fc" "$rs" 2>/dev/null || true; }

# Prints "ops p50 p99" from redis-benchmark --csv.
bench() { # port n pipeline
  taskset -c 1 redis-benchmark -p "$1" -t set -n "$2" -P "$3" -c 50 -r 1000000 --csv 2>/dev/null |
    awk -F'"' '/"SET"/ {print $4, $10, $14}'
}

row() { # name fc_line rs_line
  read -r fo fp50 fp99 <<<"$2"; read -r ro rp50 rp99 <<<"$3"
  printf "%-26s %10s %10s %8.2f   p50 %s/%s ms   p99 %s/%s ms\n" "$1" "$fo" "$ro" \
    "$(awk -v a="$fo" -v b="$ro" 'BEGIN{print a/b}')" "$fp50" "$rp50" "$fp99" "$rp99"
}

echo "workload                   fc ops/s   rs ops/s    ratio   latency fc/rs"
if [[ " $WORKLOADS " == *" everysec "* ]]; then
  start_pair everysec
  fc_line=$(bench "$FC_PORT" "$N_PIPE" 16); rs_line=$(bench "$RS_PORT" "$N_PIPE" 16)
  row "SET -P16 c50 everysec" "$fc_line" "$rs_line"
  stop_pair
fi
if [[ " $WORKLOADS " == *" always "* ]]; then
  start_pair always
  fc_line=$(bench "$FC_PORT" "$N_ALWAYS" 1); rs_line=$(bench "$RS_PORT" "$N_ALWAYS" 1)
  row "SET -P1 c50 always" "$fc_line" "$rs_line"
  stop_pair
fi

if [ "$REWRITE_KEYS" -gt 0 ]; then
  start_pair everysec
  for port in "$FC_PORT" "$RS_PORT"; do
    taskset -c 1 redis-benchmark -p "$port" -t set -n "$REWRITE_KEYS" -r "$REWRITE_KEYS" -P 64 -c 8 -d 100 -q >/dev/null 2>&1
    # The same GET load without a rewrite first: on a shared machine the max is noisy.
    read -r p99 worst < <(taskset -c 1 redis-benchmark -p "$port" -t get -n "$((REWRITE_KEYS / 2))" -c 10 -r "$REWRITE_KEYS" --csv 2>/dev/null | awk -F'"' '/"GET"/ {print $14, $16}')
    echo "port $port, $REWRITE_KEYS keys, no rewrite: GET p99 ${p99} ms, max ${worst} ms"
    # GET clients on random keys while BGREWRITEAOF runs: every shard is locked (so the
    # snapshot copies are felt); the max latency is the worst command latency seen.
    taskset -c 1 redis-benchmark -p "$port" -t get -n "$((REWRITE_KEYS / 2))" -c 10 -r "$REWRITE_KEYS" --csv >"$out/lat.$port" 2>/dev/null &
    lat=$!
    sleep 0.5
    redis-cli -p "$port" BGREWRITEAOF >/dev/null
    for _ in $(seq 600); do
      [ "$(redis-cli -p "$port" INFO persistence | tr -d '\r' | awk -F: '/^aof_rewrite_in_progress/{print $2}')" = 0 ] && break
      sleep 0.1
    done
    secs=$(redis-cli -p "$port" INFO persistence | tr -d '\r' | awk -F: '/^aof_last_rewrite_time_sec/{print $2}')
    wait "$lat" || true
    read -r p99 worst < <(awk -F'"' '/"GET"/ {print $14, $16}' "$out/lat.$port")
    echo "rewrite of $REWRITE_KEYS keys on port $port: ${secs}s; GET under it: p99 ${p99} ms, max ${worst} ms"
  done
  stop_pair
fi
