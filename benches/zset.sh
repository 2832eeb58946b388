#!/usr/bin/env bash
# zset.sh — sorted-set workloads side by side: ferrocache and redis-server on this machine, in
# one run, each server pinned to CPU 0 and redis-benchmark to CPU 1.
#
#   bash benches/zset.sh               # throughput + CPU per request, then memory per member
#   SKIP_MEM=1 bash benches/zset.sh    # throughput only
#
# Workloads: ZADD of random members into one growing set (-P 16), ZPOPMIN from it (-P 16),
# ZRANGE 0 99 WITHSCORES of a 1 000-member set (-P 1), ZRANK of random members of a ~600 K
# member set (-P 16). The figure to quote is srv_us/op (server CPU microseconds per request,
# from /proc), steadier on a shared VM than ops/sec.
# Memory: RSS growth of a fresh server after one 1 M-member set (14-byte members, scores in
# pseudo-random order), per member. Writes nothing to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
FC_PORT=${FC_PORT:-7411}
RS_PORT=${RS_PORT:-7412}
N=${N:-1000000}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/ferrocache}
out=$(mktemp -d)

. benches/harness.sh

workloads() {
  local port=$1 pid=$2
  redis-cli -p "$port" FLUSHALL >/dev/null
  run zadd_p16 "$port" "$pid" -- -t zadd -n 1000000 -r 1000000 -P 16
  run zpopmin_p16 "$port" "$pid" -- -t zpopmin -n 1000000 -P 16
  redis-cli -p "$port" EVAL "for i=1,1000 do redis.call('zadd', KEYS[1], i, 'm'..i) end" 1 small >/dev/null
  run zrange100_p1 "$port" "$pid" -- -n 100000 ZRANGE small 0 99 WITHSCORES
  redis-benchmark -p "$port" -q -t zadd -n 1000000 -r 1000000 -P 16 >/dev/null
  run zrank_p16 "$port" "$pid" -- -n 1000000 -r 1000000 -P 16 ZRANK myzset element:__rand_int__
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
  awk -v n="$N" 'BEGIN{for (i = 0; i < n; i += 1000) {
      printf "*%d\r\n$4\r\nZADD\r\n$3\r\nbig\r\n", 2 + 2 * 1000
      for (j = i; j < i + 1000; j++) { s = sprintf("%d", (j * 7919) % 1000003); m = sprintf("member:%07d", j)
        printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(s), s, length(m), m } } }' >"$out/fill.resp"
  for side in fc rs; do
    if [ $side = fc ]; then port=$FC_PORT pid=$fc; else port=$RS_PORT pid=$rs; fi
    before=$(rss_bytes "$pid")
    redis-cli -p "$port" --pipe <"$out/fill.resp" >/dev/null
    after=$(rss_bytes "$pid")
    echo "$side $(redis-cli -p "$port" ZCARD big) $before $after" >>"$out/mem.txt"
  done
  awk '{per = ($4 - $3) / $2; printf "%s: %d members, %.1f B/member, %.0f members/MB (RSS)\n", ($1 == "fc" ? "ferrocache  " : "redis-server"), $2, per, 1048576 / per; b[$1] = per}
       END {printf "memory ratio ferrocache / redis-server: %.2f\n", b["fc"] / b["rs"]}' "$out/mem.txt"
fi
