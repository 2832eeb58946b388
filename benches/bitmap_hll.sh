#!/usr/bin/env bash
# bitmap_hll.sh — bitmaps and HyperLogLogs side by side: ferrocache and redis-server on this
# machine, in one run, each server pinned to CPU 0 and redis-benchmark to CPU 1.
#
#   bash benches/bitmap_hll.sh               # CPU per request, then memory
#   SKIP_MEM=1 bash benches/bitmap_hll.sh    # CPU per request only
#
# Workloads: SETBIT at random offsets below 1M into one bitmap (redis-cli --pipe); BITCOUNT of that
# 125 KB bitmap (-P 1); PFADD of random elements into one HyperLogLog (-P 16, it turns dense
# early); PFCOUNT of it (cached), and PFCOUNT of two keys (the union is computed every time).
# The figure to quote is srv_us/op (server CPU microseconds per request, from /proc).
# Memory: RSS and used_memory growth of fresh servers for one bitmap of 1M bits set in
# increasing order (125 000 SETBITs), and for 1 000 dense HyperLogLogs (PFMERGE copies of one).
# Writes nothing to the repository.
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
  pipe_run setbit_pipe "$port" "$pid" "$out/setbit.resp" 1000000
  run bitcount_p1 "$port" "$pid" -- -n 20000 BITCOUNT bm
  run pfadd_p16 "$port" "$pid" -- -n 1000000 -r 1000000 -P 16 PFADD hll element:__rand_int__
  redis-cli -p "$port" PFADD hll2 a b c >/dev/null
  run pfcount_p1 "$port" "$pid" -- -n 100000 PFCOUNT hll
  run pfcount2_p1 "$port" "$pid" -- -n 20000 PFCOUNT hll hll2
}

# pipe_run NAME PORT PID FILE N: streams FILE (N requests) through redis-cli --pipe (one
# connection, deeply pipelined; redis-benchmark's random integers are zero-padded, which bit
# offsets refuse): prints "name ops/sec srv_us/op".
pipe_run() {
  local name=$1 port=$2 pid=$3 file=$4 n=$5
  local hz; hz=$(getconf CLK_TCK)
  local before; before=$(cpu_ticks "$pid")
  local t0; t0=$(date +%s.%N)
  taskset -c 1 redis-cli -p "$port" --pipe <"$file" >/dev/null
  local t1; t1=$(date +%s.%N)
  local after; after=$(cpu_ticks "$pid")
  awk -v name="$name" -v t=$((after - before)) -v hz="$hz" -v n="$n" -v w="$(echo "$t1 - $t0" | bc)" \
    'BEGIN{printf "%-16s %12.0f %10.3f\n", name, n / w, t / hz * 1e6 / n}'
}

used_memory() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }

fc=$(start_fc); rs=$(start_rs); trap 'stop $fc; stop $rs; rm -rf "$out"' EXIT
wait_up "$FC_PORT"; wait_up "$RS_PORT"
awk 'BEGIN{srand(7); for (i = 0; i < 1000000; i++) { o = sprintf("%d", int(rand() * 1000000))
    printf "*4\r\n$6\r\nSETBIT\r\n$2\r\nbm\r\n$%d\r\n%s\r\n$1\r\n1\r\n", length(o), o } }' >"$out/setbit.resp"
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
  awk 'BEGIN{for (i = 0; i < 1000000; i += 8) { o = sprintf("%d", i)
      printf "*4\r\n$6\r\nSETBIT\r\n$2\r\nbm\r\n$%d\r\n%s\r\n$1\r\n1\r\n", length(o), o } }' >"$out/bits.resp"
  awk 'BEGIN{printf "*%d\r\n$5\r\nPFADD\r\n$4\r\nseed\r\n", 2 + 5000
      for (i = 0; i < 5000; i++) { e = sprintf("e%d", i); printf "$%d\r\n%s\r\n", length(e), e }
      for (i = 0; i < 1000; i++) { k = sprintf("hll:%04d", i)
        printf "*3\r\n$7\r\nPFMERGE\r\n$%d\r\n%s\r\n$4\r\nseed\r\n", length(k), k } }' >"$out/hll.resp"
  for side in fc rs; do
    if [ $side = fc ]; then port=$FC_PORT pid=$fc; else port=$RS_PORT pid=$rs; fi
    r0=$(rss_bytes "$pid"); u0=$(used_memory "$port")
    redis-cli -p "$port" --pipe <"$out/bits.resp" >/dev/null
    sleep 1
    r1=$(rss_bytes "$pid"); u1=$(used_memory "$port")
    redis-cli -p "$port" --pipe <"$out/hll.resp" >/dev/null
    sleep 1
    r2=$(rss_bytes "$pid"); u2=$(used_memory "$port")
    enc=$(redis-cli -p "$port" PFDEBUG ENCODING hll:0999)
    echo "$side $r0 $r1 $r2 $u0 $u1 $u2 $enc" >>"$out/mem.txt"
  done
  awk '{name = ($1 == "fc" ? "ferrocache  " : "redis-server")
        printf "%s: bitmap of 1M bits: RSS +%d B, used_memory +%d B; 1000 %s HLLs: %.0f B/HLL RSS, %.0f B/HLL used_memory\n",
          name, $3 - $2, $6 - $5, $8, ($4 - $3) / 1000, ($7 - $6) / 1000 }' "$out/mem.txt"
fi
