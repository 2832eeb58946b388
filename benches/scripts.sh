#!/usr/bin/env bash
# scripts.sh — EVALSHA and hot-path CPU per request: a baseline ferrocache binary, this tree's
# release binary and redis-server, side by side in one run, alternating, RUNS times.
#
#   BASE=/path/to/old/ferrocache bash benches/scripts.sh
#
# Workloads (redis-benchmark, 50 clients, 100k random keys):
#   evalsha_release  EVALSHA <redis-py lock release script> 1 lock:<n> tok  (reads, no write)
#   evalsha_set      EVALSHA <return redis.call('set', KEYS[1], ARGV[1])> 1 key:<n> v
#   set_p1, get_p1   SET / GET, no pipelining (the per-command gate cost)
#   get_p16          GET, 16 pipelined
# Prints server CPU µs per request (the stable figure on a shared VM). Servers pinned to CPU 0,
# the load generator to CPU 1; one server runs at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
RUNS=${RUNS:-2}
PORT=${PORT:-7331}
BASE=${BASE:-}
RELEASE="local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 end redis.call('del', KEYS[1]) return 1"
SETTER="return redis.call('set', KEYS[1], ARGV[1])"
HZ=$(getconf CLK_TCK)
[ -x target/release/ferrocache ] || cargo build --release --quiet
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12+$13}'; }
measure() { # pid label workload args...
  local pid=$1 label=$2 wl=$3; shift 3
  local c0 c1
  c0=$(ticks "$pid")
  taskset -c 1 redis-benchmark -p "$PORT" -c 50 -n "$N" -r 100000 "$@" >/dev/null 2>&1
  c1=$(ticks "$pid")
  awk -v l="$label" -v w="$wl" -v a="$c0" -v b="$c1" -v n="$N" -v hz="$HZ" \
    'BEGIN{printf "%-14s %-16s %8.2f us/op\n", l, w, 1e6*(b-a)/hz/n}'
}
one() { # label command...
  local label=$1; shift
  taskset -c 0 "$@" >/dev/null 2>&1 & local pid=$!
  for _ in $(seq 100); do redis-cli -p "$PORT" PING >/dev/null 2>&1 && break; sleep 0.05; done
  local rel set
  rel=$(redis-cli -p "$PORT" SCRIPT LOAD "$RELEASE")
  set=$(redis-cli -p "$PORT" SCRIPT LOAD "$SETTER")
  measure "$pid" "$label" evalsha_release EVALSHA "$rel" 1 'lock:__rand_int__' tok
  measure "$pid" "$label" evalsha_set EVALSHA "$set" 1 'key:__rand_int__' v
  measure "$pid" "$label" set_p1 SET 'key:__rand_int__' v
  measure "$pid" "$label" get_p1 GET 'key:__rand_int__'
  measure "$pid" "$label" get_p16 -P 16 GET 'key:__rand_int__'
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
for run in $(seq "$RUNS"); do
  if [ -n "$BASE" ]; then
    one "base" "$BASE" --port "$PORT" --bind 127.0.0.1 --save ""
  fi
  one "ferrocache" ./target/release/ferrocache --port "$PORT" --bind 127.0.0.1 --save ""
  one "redis-server" redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no
done
