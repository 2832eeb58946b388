#!/usr/bin/env bash
# side_by_side.sh — the same redis-benchmark workloads against ferrocache and redis-server on
# this machine, in one run, and the ratios between them.
#
#   bash benches/side_by_side.sh            # 1 worker thread (server pinned to CPU 0)
#   WORKERS=2 bash benches/side_by_side.sh  # ferrocache on CPUs 0-1 (redis-server stays single-threaded)
#   RUNS=3 bash benches/side_by_side.sh     # repeat; the least noisy run of each workload counts
#
# Both servers are pinned with taskset (the load generator runs on CPU 1, see bench.sh). The
# figure to quote is srv_us/op: server CPU microseconds per request, stable on a noisy shared
# VM where ops/sec is not. Also reports memory per key (1M keys, 100-byte values).
# Environment: BENCH (path to bench.sh), MEMKEY (path to memkey.sh), N_P1, N_P16, WORKLOADS,
# SKIP_MEM=1 to skip the memory run. Writes nothing to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-../shared/bench/bench.sh}
MEMKEY=${MEMKEY:-../shared/bench/memkey.sh}
WORKERS=${WORKERS:-1}
export N_P1=${N_P1:-300000} N_P16=${N_P16:-2000000}
export WORKLOADS=${WORKLOADS:-"set_p1 get_p1 set_p16 get_p16 mset10_p1 incr_p1 session_setex_p1"}
FC_PORT=${FC_PORT:-7311}
RS_PORT=${RS_PORT:-7312}
cargo build --release --quiet
out=$(mktemp -d)
cpus=0; [ "$WORKERS" = 2 ] && cpus=0-1

# Each server starts in an empty directory of its own: a dump.rdb left in the working directory
# would otherwise be loaded by both.
mkdir -p "$out/fc" "$out/rs"
start_fc() { taskset -c "$cpus" ./target/release/ferrocache --port "$FC_PORT" --bind 127.0.0.1 --dir "$out/fc" --save "" --appendonly no >"$out/fc.log" 2>&1 & echo $!; }
start_rs() { taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --dir "$out/rs" --save "" --appendonly no >"$out/rs.log" 2>&1 & echo $!; }
wait_up() { for _ in $(seq 100); do redis-cli -p "$1" PING >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start" >&2; exit 1; }
# The servers are not this shell's children (started in command substitutions): wait until the
# process is gone, so the next one can bind the same port.
stop() { kill "$1" 2>/dev/null || true; for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done; }

fc=$(start_fc); rs=$(start_rs); trap 'stop $fc; stop $rs' EXIT
wait_up "$FC_PORT"; wait_up "$RS_PORT"
SERVER_PID=$fc bash "$BENCH" 127.0.0.1 "$FC_PORT" ferrocache | tee "$out/fc.txt" || true  # bench.sh may end on a false test
SERVER_PID=$rs bash "$BENCH" 127.0.0.1 "$RS_PORT" redis-server | tee "$out/rs.txt" || true

echo
echo "ratios ferrocache / redis-server (workers=$WORKERS); srv_us/op below 1.0 = less CPU per request"
printf "%-20s %12s %12s %10s %10s\n" workload fc_us/op rs_us/op cpu_ratio ops_ratio
# With RUNS > 1 the least noisy (lowest CPU, highest throughput) run of each workload counts.
awk 'FNR==NR && $1=="ferrocache" && $8+0>0 {if (!($2 in fc_us) || $8+0<fc_us[$2]) fc_us[$2]=$8+0; if ($4+0>fc_ops[$2]) fc_ops[$2]=$4+0; next}
     $1=="redis-server" && $8+0>0 {if (!($2 in rs_us) || $8+0<rs_us[$2]) rs_us[$2]=$8+0; if ($4+0>rs_ops[$2]) rs_ops[$2]=$4+0}
     END {for (w in fc_us) if (w in rs_us && rs_us[w]+0>0 && rs_ops[w]+0>0)
            printf "%-20s %12s %12s %10.2f %10.2f\n", w, fc_us[w], rs_us[w], fc_us[w]/rs_us[w], fc_ops[w]/rs_ops[w]}' \
    "$out/fc.txt" "$out/rs.txt" | sort

if [ "${SKIP_MEM:-0}" != 1 ]; then
  echo
  # Fresh servers: memory freed by FLUSHALL stays in each allocator and would hide the cost.
  stop "$fc"; stop "$rs"
  fc=$(start_fc); rs=$(start_rs); trap 'stop $fc; stop $rs' EXIT
  wait_up "$FC_PORT"; wait_up "$RS_PORT"
  fcm=$(SERVER_PID=$fc bash "$MEMKEY" 127.0.0.1 "$FC_PORT" | awk '/VmRSS/{print $6}')
  rsm=$(SERVER_PID=$rs bash "$MEMKEY" 127.0.0.1 "$RS_PORT" | awk '/VmRSS/{print $6}')
  echo "memory per key (RSS, 1M keys x 100 B): ferrocache $fcm B, redis-server $rsm B, ratio $(awk -v a="$fcm" -v b="$rsm" 'BEGIN{printf "%.2f", a/b}')"
fi
rm -rf "$out"
