#!/usr/bin/env bash
# eviction.sh — maxmemory eviction side by side: ferrocache and redis-server on this machine, in
# one run, same limit, same workload; each server pinned to CPU 0, clients to CPU 1.
#
#   bash benches/eviction.sh                 # all three parts
#   PARTS="hit" bash benches/eviction.sh     # a subset of: hit mem tput
#
# hit   Hit ratio of a Zipf (s = 0.99) GET-then-SET-on-miss workload (benches/zipf_hit_ratio.py,
#       fixed seed, pipelined batches) over KEYS keys, ~10x what HIT_MAXMEMORY holds, with
#       allkeys-lru and allkeys-lfu; fresh servers per policy. Reference: an exact LRU holding as
#       many keys as each server held at the end (simulated, same batches).
# mem   Bytes per key for 1M keys with 100-byte values, without and with a TTL (memkey.sh on
#       fresh servers): INFO used_memory and /proc RSS growth per key.
# tput  Throughput while evicting: redis-benchmark SET -P 16 (50 clients, 100-byte values) over
#       a keyspace of 10M names at TPUT_MAXMEMORY with allkeys-lru, after the limit is reached;
#       requests/s and server CPU µs per request (the figure to quote on a shared VM); first
#       the same workload without a limit, for the cost of the writes alone.
#
# Build first (cargo build --release). Needs python3, redis-server, redis-benchmark, redis-cli.
# Environment: BIN (ferrocache binary), FC_PORT, RS_PORT, KEYS, REQUESTS, HIT_MAXMEMORY, SEED,
# TPUT_MAXMEMORY, TPUT_N, MEMKEY (path to memkey.sh). Writes nothing to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
FC_PORT=${FC_PORT:-7531}
RS_PORT=${RS_PORT:-7532}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/ferrocache}
PARTS=${PARTS:-"hit mem tput"}
KEYS=${KEYS:-1000000}
REQUESTS=${REQUESTS:-2000000}
SEED=${SEED:-42}
HIT_MAXMEMORY=${HIT_MAXMEMORY:-16mb}
TPUT_MAXMEMORY=${TPUT_MAXMEMORY:-20mb}
TPUT_N=${TPUT_N:-2000000}
MEMKEY=${MEMKEY:-../shared/bench/memkey.sh}
ZIPF=(taskset -c 1 python3 benches/zipf_hit_ratio.py)
ZIPF_ARGS=(--keys "$KEYS" --requests "$REQUESTS" --seed "$SEED")
out=$(mktemp -d)

. benches/harness.sh

# Fresh pair of servers with extra arguments (both get the same ones).
fresh() {
  [ -n "${fc:-}" ] && stop "$fc"
  [ -n "${rs:-}" ] && stop "$rs"
  fc=$(start_fc "$@"); rs=$(start_rs "$@")
  wait_up "$FC_PORT"; wait_up "$RS_PORT"
}
# harness.sh's starters take no extra arguments; these wrap them.
start_fc() { taskset -c 0 "$BIN" --port "$FC_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$out" "$@" >"$out/fc.log" 2>&1 & echo $!; }
start_rs() { taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$out" "$@" >"$out/rs.log" 2>&1 & echo $!; }
allocated() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '$1=="allocator_allocated"{print $2}'; }
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$1" "$2"; }
trap '[ -n "${fc:-}" ] && stop $fc; [ -n "${rs:-}" ] && stop $rs; rm -rf "$out"' EXIT

# The binary may come from another worktree or target dir: name its commit when git knows it.
commit=$(git -C "$(dirname "$BIN")" rev-parse --short HEAD 2>/dev/null || git rev-parse --short HEAD)
echo "# $(date -u +%FT%TZ) $BIN (tree at $commit) vs redis-server $(redis-server --version | awk '{print $3}'); load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ " $PARTS " == *" hit "* ]]; then
  echo
  echo "## hit ratio: Zipf s=0.99, $KEYS keys, $REQUESTS requests (first 25% not counted), seed $SEED, maxmemory $HIT_MAXMEMORY"
  printf "%-12s %-13s %9s %10s %12s %10s %9s %11s\n" policy server hit_ratio keys_held used_memory evicted seconds lru_same_keys
  for policy in allkeys-lru allkeys-lfu; do
    fresh --maxmemory "$HIT_MAXMEMORY" --maxmemory-policy "$policy"
    for side in fc rs; do
      if [ $side = fc ]; then port=$FC_PORT name=ferrocache; else port=$RS_PORT name=redis-server; fi
      "${ZIPF[@]}" run "$port" "${ZIPF_ARGS[@]}" >"$out/$policy.$side.json"
      held=$(json "$out/$policy.$side.json" keys_held)
      [ -s "$out/lru.$held.json" ] || "${ZIPF[@]}" simulate "$held" "${ZIPF_ARGS[@]}" >"$out/lru.$held.json"
      printf "%-12s %-13s %9.4f %10s %12s %10s %9s %11.4f\n" "$policy" "$name" \
        "$(json "$out/$policy.$side.json" hit_ratio)" "$held" \
        "$(json "$out/$policy.$side.json" used_memory)" "$(json "$out/$policy.$side.json" evicted_keys)" \
        "$(json "$out/$policy.$side.json" seconds)" "$(json "$out/lru.$held.json" hit_ratio)"
      errors=$(json "$out/$policy.$side.json" set_errors)
      [ "$errors" = 0 ] || echo "  ($name: $errors SETs answered with an error)"
    done
  done
fi

if [[ " $PARTS " == *" mem "* ]]; then
  echo
  echo "## bytes per key: 1M keys, 13-byte keys, 100-byte values (growth of fresh servers)"
  # used_memory is ferrocache's max(allocator, keyspace accounting); allocator_allocated is the
  # allocator alone (both servers report it with jemalloc).
  printf "%-8s %-13s %16s %16s %14s\n" ttl server used_memory_B/key allocator_B/key rss_B/key
  for ttl in 0 3600; do
    fresh
    for side in fc rs; do
      if [ $side = fc ]; then port=$FC_PORT pid=$fc name=ferrocache; else port=$RS_PORT pid=$rs name=redis-server; fi
      a0=$(allocated "$port")
      TTL=$ttl SERVER_PID=$pid bash "$MEMKEY" 127.0.0.1 "$port" >"$out/mem.$ttl.$side.txt"
      a1=$(allocated "$port")
      printf "%-8s %-13s %16s %16.1f %14s\n" "$([ $ttl = 0 ] && echo none || echo ${ttl}s)" "$name" \
        "$(awk '/^INFO used_memory /{print $5}' "$out/mem.$ttl.$side.txt")" \
        "$(awk -v a="$a0" -v b="$a1" -v n="${N:-1000000}" 'BEGIN{print (b - a) / n}')" \
        "$(awk '/^\/proc VmRSS/{print $6}' "$out/mem.$ttl.$side.txt")"
    done
  done
fi

if [[ " $PARTS " == *" tput "* ]]; then
  # The same workload without a limit first (the cost of the writes alone), then at the limit.
  for limit in 0 "$TPUT_MAXMEMORY"; do
    echo
    echo "## SET -P 16, 50 clients, 100-byte values, 10M key names, maxmemory $limit, allkeys-lru"
    fresh --maxmemory "$limit" --maxmemory-policy allkeys-lru
    for side in fc rs; do
      if [ $side = fc ]; then port=$FC_PORT pid=$fc name=ferrocache; else port=$RS_PORT pid=$rs name=redis-server; fi
      # Reach the limit first, so the measured run evicts from its first request.
      taskset -c 1 redis-benchmark -p "$port" -q -t set -P 16 -d 100 -r 10000000 -n 500000 >/dev/null
      echo "workload         ops/sec      srv_us/op   ($name, evicted before: $(redis-cli -p "$port" INFO stats | tr -d '\r' | awk -F: '$1=="evicted_keys"{print $2}'))"
      run set_p16 "$port" "$pid" -- -t set -P 16 -d 100 -r 10000000 -n "$TPUT_N" | tee "$out/tput.$side.txt"
      mem=$(redis-cli -p "$port" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"||$1=="maxmemory"{printf "%s=%s ", $1, $2}')
      echo "  after: $mem evicted_keys=$(redis-cli -p "$port" INFO stats | tr -d '\r' | awk -F: '$1=="evicted_keys"{print $2}')"
    done
    awk 'FNR==NR {fo=$2; fu=$3; next} {printf "ratio ferrocache / redis-server: cpu %.2f, ops %.2f\n", fu/$3, fo/$2}' \
      "$out/tput.fc.txt" "$out/tput.rs.txt"
  done
fi
