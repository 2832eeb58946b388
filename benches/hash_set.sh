#!/usr/bin/env bash
# hash_set.sh — hash and set workloads side by side: ferrocache and redis-server on this machine,
# in one run, each server pinned to CPU 0 and redis-benchmark to CPU 1.
#
#   bash benches/hash_set.sh               # throughput + CPU per request, then memory per element
#   SKIP_MEM=1 bash benches/hash_set.sh    # throughput only
#   SKIP_BENCH=1 bash benches/hash_set.sh  # memory only
#
# Workloads: redis-benchmark's HSET (random fields of one growing hash), SADD (random members of
# one growing set) and SPOP (from that set), all with -P 16. The figure to quote is srv_us/op
# (server CPU microseconds per request, from /proc), steadier on a shared VM than ops/sec.
# Memory: RSS growth of a fresh server after one 1 M-field hash (13-byte fields, 13-byte values)
# and, separately, one 1 M-member set (13-byte members), per element; beside it the growth of
# INFO's used_memory (the bytes the server holds: RSS minus it is what the allocator keeps
# resident besides, such as pages freed but not yet given back). Writes nothing to the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
FC_PORT=${FC_PORT:-7421}
RS_PORT=${RS_PORT:-7422}
N=${N:-1000000}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/ferrocache}
out=$(mktemp -d)

. benches/harness.sh
used_memory() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }

workloads() {
  local port=$1 pid=$2
  redis-cli -p "$port" FLUSHALL >/dev/null
  run hset_p16 "$port" "$pid" -- -t hset -n 1000000 -r 1000000 -P 16
  run sadd_p16 "$port" "$pid" -- -t sadd -n 1000000 -r 1000000 -P 16
  run spop_p16 "$port" "$pid" -- -t spop -n 1000000 -P 16
}

# fill KIND: RESP for one 1 M-element hash (KIND=hash) or set (KIND=set), 1000 per command.
fill() {
  awk -v n="$N" -v kind="$1" 'BEGIN{for (i = 0; i < n; i += 1000) {
      if (kind == "hash") printf "*%d\r\n$4\r\nHSET\r\n$3\r\nbig\r\n", 2 + 2 * 1000
      else printf "*%d\r\n$4\r\nSADD\r\n$3\r\nbig\r\n", 2 + 1000
      for (j = i; j < i + 1000; j++) { f = sprintf("field:%07d", j); v = sprintf("value:%07d", j)
        printf "$%d\r\n%s\r\n", length(f), f
        if (kind == "hash") printf "$%d\r\n%s\r\n", length(v), v } } }'
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
  for kind in hash set; do
    fill "$kind" >"$out/fill.resp"
    # Fresh servers: memory freed by FLUSHALL stays in each allocator and would hide the cost.
    stop "$fc"; stop "$rs"
    fc=$(start_fc); rs=$(start_rs)
    wait_up "$FC_PORT"; wait_up "$RS_PORT"
    : >"$out/mem.txt"
    for side in fc rs; do
      if [ $side = fc ]; then port=$FC_PORT pid=$fc; else port=$RS_PORT pid=$rs; fi
      before=$(rss_bytes "$pid"); used_before=$(used_memory "$port")
      redis-cli -p "$port" --pipe <"$out/fill.resp" >/dev/null
      sleep 1
      after=$(rss_bytes "$pid"); used_after=$(used_memory "$port")
      len=$(redis-cli -p "$port" EVAL "return redis.call('type', 'big').ok == 'hash' and redis.call('hlen', 'big') or redis.call('scard', 'big')" 0)
      echo "$side $len $before $after $used_before $used_after" >>"$out/mem.txt"
    done
    echo "$kind of $N elements:"
    awk '{per = ($4 - $3) / $2; printf "  %s: %d elements, %.1f B/element, %.0f elements/MB (RSS); used_memory %.1f B/element\n", ($1 == "fc" ? "ferrocache  " : "redis-server"), $2, per, 1048576 / per, ($6 - $5) / $2; b[$1] = per}
         END {printf "  memory ratio ferrocache / redis-server: %.2f\n", b["fc"] / b["rs"]}' "$out/mem.txt"
  done
fi
