#!/usr/bin/env bash
# list.sh — list workloads side by side: ferrocache and redis-server on this machine,
# in one run, each server pinned to CPU 0 and redis-benchmark to CPU 1.
#
#   bash benches/list.sh               # throughput + CPU per request, then memory per element
#   SKIP_MEM=1 bash benches/list.sh    # throughput only
#
# Workloads: redis-benchmark's LPUSH, RPUSH, LPOP (one list, 3-byte values) with -P 16, and
# LRANGE_100 as redis-benchmark runs it (the first 100 elements of a 600-element list; given as
# a plain command so its own LPUSH prefill is not counted), with -P 4. The figure to quote is srv_us/op (server CPU microseconds per request).
# Memory: RSS growth of a fresh server after one 1 M-element list of 13-byte elements.
set -euo pipefail
cd "$(dirname "$0")/.."
FC_PORT=${FC_PORT:-7431}
RS_PORT=${RS_PORT:-7432}
N=${N:-1000000}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/ferrocache}
out=$(mktemp -d)

. benches/harness.sh

workloads() {
  local port=$1 pid=$2
  redis-cli -p "$port" FLUSHALL >/dev/null
  run lpush_p16 "$port" "$pid" -- -t lpush -n 1000000 -P 16
  run rpush_p16 "$port" "$pid" -- -t rpush -n 1000000 -P 16
  run lpop_p16 "$port" "$pid" -- -t lpop -n 1000000 -P 16
  redis-cli -p "$port" DEL lr >/dev/null
  redis-cli -p "$port" RPUSH lr $(seq 600) >/dev/null
  run lrange_100_p4 "$port" "$pid" -- -n 200000 -P 4 LRANGE lr 0 99
}

# RESP for one 1 M-element list, 1000 elements per RPUSH.
fill() {
  awk -v n="$N" 'BEGIN{for (i = 0; i < n; i += 1000) {
      printf "*%d\r\n$5\r\nRPUSH\r\n$3\r\nbig\r\n", 2 + 1000
      for (j = i; j < i + 1000; j++) { v = sprintf("value:%07d", j); printf "$%d\r\n%s\r\n", length(v), v } } }'
}

fc=$(start_fc); rs=$(start_rs); trap 'stop $fc; stop $rs; rm -rf "$out"' EXIT
wait_up "$FC_PORT"; wait_up "$RS_PORT"
echo "workload         ops/sec      srv_us/op   (ferrocache)"; workloads "$FC_PORT" "$fc" | tee "$out/fc.txt"
echo "workload         ops/sec      srv_us/op   (redis-server)"; workloads "$RS_PORT" "$rs" | tee "$out/rs.txt"
echo
echo "ratios ferrocache / redis-server: cpu_ratio below 1.0 = less CPU per request"
awk 'FNR==NR {fo[$1]=$2; fu[$1]=$3; next} {printf "%-16s cpu_ratio %5.2f   ops_ratio %5.2f\n", $1, fu[$1]/$3, fo[$1]/$2}' \
  "$out/fc.txt" "$out/rs.txt"

if [ "${SKIP_MEM:-0}" != 1 ]; then
  fill >"$out/fill.resp"
  # Fresh servers: memory freed by FLUSHALL stays in each allocator and would hide the cost.
  stop "$fc"; stop "$rs"
  fc=$(start_fc); rs=$(start_rs)
  wait_up "$FC_PORT"; wait_up "$RS_PORT"
  : >"$out/mem.txt"
  for side in fc rs; do
    if [ $side = fc ]; then port=$FC_PORT pid=$fc; else port=$RS_PORT pid=$rs; fi
    before=$(rss_bytes "$pid")
    redis-cli -p "$port" --pipe <"$out/fill.resp" >/dev/null
    sleep 1
    after=$(rss_bytes "$pid")
    len=$(redis-cli -p "$port" LLEN big)
    echo "$side $len $before $after" >>"$out/mem.txt"
  done
  echo "list of $N elements:"
  awk '{per = ($4 - $3) / $2; printf "  %s: %d elements, %.1f B/element, %.0f elements/MB (RSS)\n", ($1 == "fc" ? "ferrocache  " : "redis-server"), $2, per, 1048576 / per; b[$1] = per}
       END {printf "  memory ratio ferrocache / redis-server: %.2f\n", b["fc"] / b["rs"]}' "$out/mem.txt"
fi
