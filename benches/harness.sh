# harness.sh — sourced by the per-type side-by-side scripts (hash_set.sh, list.sh, zset.sh).
# Expects FC_PORT, RS_PORT, BIN (the ferrocache binary) and out (a scratch directory). Both
# servers run pinned to CPU 0 in the scratch directory with snapshots off, so no dump is loaded
# or left behind; redis-benchmark runs on CPU 1.

start_fc() { taskset -c 0 "$BIN" --port "$FC_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$out" >"$out/fc.log" 2>&1 & echo $!; }
start_rs() { taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$out" >"$out/rs.log" 2>&1 & echo $!; }
wait_up() { for _ in $(seq 100); do redis-cli -p "$1" PING >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start" >&2; exit 1; }
# The servers are not children of the calling shell (started in $(...)): poll until gone.
stop() { kill "$1" 2>/dev/null || true; while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_bytes() { awk '/VmRSS/{print $2 * 1024}' "/proc/$1/status"; }

# run NAME PORT PID -- redis-benchmark arguments: prints "name ops/sec srv_us/op".
run() {
  local name=$1 port=$2 pid=$3; shift 4
  local hz; hz=$(getconf CLK_TCK)
  local before; before=$(cpu_ticks "$pid")
  local rps; rps=$(taskset -c 1 redis-benchmark -p "$port" -q "$@" | tr '\r' '\n' | awk '/requests per second/{for (i = 2; i <= NF; i++) if ($i == "requests") v = $(i - 1)} END{print v}')
  local after; after=$(cpu_ticks "$pid")
  local n; n=$(printf '%s\n' "$@" | awk 'p{print; exit} $0=="-n"{p=1}')
  awk -v name="$name" -v rps="$rps" -v t=$((after - before)) -v hz="$hz" -v n="$n" \
    'BEGIN{printf "%-16s %12s %10.3f\n", name, rps, t / hz * 1e6 / n}'
}
