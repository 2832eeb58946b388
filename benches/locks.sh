#!/usr/bin/env bash
# locks.sh — lock acquire/release cost, ferrocache vs redis-server, side by side in one run.
#
# Workloads (redis-benchmark, 50 clients, random lock names so acquisitions succeed):
#   acquire          SET lock:<n> tok NX PX 5000
#   release_delifeq  DELIFEQ lock:<n> tok                (ferrocache only: native)
#   release_evalsha  EVALSHA <redis-py release sha> 1 lock:<n> tok
# Prints ops/sec and server CPU µs per request (the stable figure on a shared VM), then the
# cost of one acquire+release round trip pair for each way, and the ratios.
# Servers pinned to CPU 0, the load generator to CPU 1.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
FC_PORT=${FC_PORT:-7321}
RS_PORT=${RS_PORT:-7322}
RELEASE="local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 end redis.call('del', KEYS[1]) return 1"
HZ=$(getconf CLK_TCK)
cargo build --release --quiet
taskset -c 0 ./target/release/ferrocache --port "$FC_PORT" --bind 127.0.0.1 >/dev/null 2>&1 & fc=$!
taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 & rs=$!
trap 'kill $fc $rs 2>/dev/null; wait $fc $rs 2>/dev/null' EXIT
for p in "$FC_PORT" "$RS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" PING >/dev/null 2>&1 && break; sleep 0.05; done
done
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12+$13}'; }
run() { # pid port label workload args...
  local pid=$1 port=$2 label=$3 wl=$4; shift 4
  local c0 c1 t0 t1 rps
  c0=$(ticks "$pid"); t0=$(date +%s.%N)
  rps=$(taskset -c 1 redis-benchmark -p "$port" -c 50 -n "$N" -r 100000 --csv "$@" 2>/dev/null | awk -F'"' 'NR==2{print $4}')
  t1=$(date +%s.%N); c1=$(ticks "$pid")
  awk -v l="$label" -v w="$wl" -v r="$rps" -v a="$c0" -v b="$c1" -v n="$N" -v hz="$HZ" \
    'BEGIN{printf "%-12s %-16s %10.0f ops/s %8.2f us/op\n", l, w, r, 1e6*(b-a)/hz/n}'
}
out=$(mktemp)
for target in "$fc $FC_PORT ferrocache" "$rs $RS_PORT redis-server"; do
  set -- $target
  sha=$(redis-cli -p "$2" SCRIPT LOAD "$RELEASE")
  run "$1" "$2" "$3" acquire SET 'lock:__rand_int__' tok NX PX 5000 | tee -a "$out"
  run "$1" "$2" "$3" release_evalsha EVALSHA "$sha" 1 'lock:__rand_int__' tok | tee -a "$out"
  if [ "$3" = ferrocache ]; then
    run "$1" "$2" "$3" release_delifeq DELIFEQ 'lock:__rand_int__' tok | tee -a "$out"
  fi
done
echo
awk '{us[$1" "$2]=$5}
  END {
    fa=us["ferrocache acquire"]; fe=us["ferrocache release_evalsha"]; fd=us["ferrocache release_delifeq"]
    ra=us["redis-server acquire"]; re=us["redis-server release_evalsha"]
    printf "acquire+release server CPU per lock: ferrocache+DELIFEQ %.2f us, ferrocache+EVALSHA %.2f us, redis-server+EVALSHA %.2f us\n", fa+fd, fa+fe, ra+re
    printf "ratios vs redis-server+EVALSHA: ferrocache+DELIFEQ %.2f, ferrocache+EVALSHA %.2f; EVALSHA alone %.2f\n", (fa+fd)/(ra+re), (fa+fe)/(ra+re), fe/re
  }' "$out"
rm -f "$out"
