#!/usr/bin/env bash
# stream.sh — stream workloads side by side: ferrocache and redis-server on this machine, in one
# run, each server pinned to CPU 0 and redis-benchmark to CPU 1.
#
#   bash benches/stream.sh             # CPU per request, then memory per entry
#   SKIP_MEM=1 bash benches/stream.sh  # CPU per request only
#
# Workloads: XADD * (one field, 16-byte value) into one stream, -P 16 and -P 1; XREADGROUP
# GROUP g c COUNT 10 ... > (each call delivers 10 entries into the PEL), -P 1; XACK of a random
# pending ID of a 1 M-entry PEL, -P 1. The figure to quote is srv_us/op (server CPU
# microseconds per request, from /proc).
# Memory: RSS growth of a fresh server after 1 M XADD * of one field and a 16-byte value, per
# entry. Writes nothing to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
FC_PORT=${FC_PORT:-7421}
RS_PORT=${RS_PORT:-7422}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/ferrocache}
out=$(mktemp -d)

. benches/harness.sh

workloads() {
  local port=$1 pid=$2
  redis-cli -p "$port" FLUSHALL >/dev/null
  run xadd_p16 "$port" "$pid" -- -c 50 -n 1000000 -P 16 XADD s '*' field value-0123456789
  run xadd_p1 "$port" "$pid" -- -c 50 -n 200000 XADD s2 '*' field value-0123456789
  redis-cli -p "$port" XGROUP CREATE s g 0 >/dev/null
  run xreadgroup10_p1 "$port" "$pid" -- -c 50 -n 100000 XREADGROUP GROUP g c COUNT 10 STREAMS s '>'
  for k in $(seq 0 99); do
    redis-cli -p "$port" EVAL "for i=1,10000 do redis.call('XADD',KEYS[1],(i+ARGV[1]*10000)..'-1','f','v') end" 1 ack "$k" >/dev/null
  done
  redis-cli -p "$port" XGROUP CREATE ack g 0 >/dev/null
  redis-cli -p "$port" XREADGROUP GROUP g c COUNT 1000000 STREAMS ack '>' >/dev/null
  # Random IDs of the PEL: __rand_int__ is zero-padded, which the ID parser accepts.
  run xack_p1 "$port" "$pid" -- -c 50 -n 200000 -r 1000000 XACK ack g __rand_int__-1
}

fc=$(start_fc); rs=$(start_rs); trap 'stop $fc; stop $rs; rm -rf "$out"' EXIT
wait_up "$FC_PORT"; wait_up "$RS_PORT"
if [ "${SKIP_BENCH:-0}" != 1 ]; then
echo "workload         ops/sec      srv_us/op   (ferrocache)"; workloads "$FC_PORT" "$fc" | tee "$out/fc.txt"
echo "workload         ops/sec      srv_us/op   (redis-server)"; workloads "$RS_PORT" "$rs" | tee "$out/rs.txt"
echo
echo "ratios ferrocache / redis-server: cpu_ratio below 1.0 = less CPU per request"
awk 'FNR==NR {fo[$1]=$2; fu[$1]=$3; next} {printf "%-16s cpu_ratio %5.2f   ops_ratio %5.2f\n", $1, fu[$1]/$3, fo[$1]/$2}' \
  "$out/fc.txt" "$out/rs.txt"
fi

if [ "${SKIP_MEM:-0}" != 1 ]; then
  # Fresh servers: memory freed by FLUSHALL stays in each allocator and would hide the cost.
  stop "$fc"; stop "$rs"
  fc=$(start_fc); rs=$(start_rs)
  wait_up "$FC_PORT"; wait_up "$RS_PORT"
  for side in fc rs; do
    if [ $side = fc ]; then port=$FC_PORT pid=$fc; else port=$RS_PORT pid=$rs; fi
    before=$(rss_bytes "$pid")
    taskset -c 1 redis-benchmark -p "$port" -q -c 50 -n 1000000 -P 16 XADD big '*' field value-0123456789 >/dev/null
    after=$(rss_bytes "$pid")
    echo "$side $(redis-cli -p "$port" XLEN big) $before $after" >>"$out/mem.txt"
  done
  awk '{per = ($4 - $3) / $2; printf "%s: %d entries, %.1f B/entry (RSS)\n", ($1 == "fc" ? "ferrocache  " : "redis-server"), $2, per; b[$1] = per}
       END {printf "memory ratio ferrocache / redis-server: %.2f\n", b["fc"] / b["rs"]}' "$out/mem.txt"
fi
