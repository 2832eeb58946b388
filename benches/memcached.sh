#!/usr/bin/env bash
# memcached.sh — memcached-protocol GET and SET against ferrocache's memcached listener and
# Debian's memcached daemon, in one run: both servers pinned to CPU 0 (memcached with one
# worker thread), the load generator (benches/memcached_load.rs) on CPU 1; server CPU
# microseconds per request and the ratio.
#
#   bash benches/memcached.sh             # unpipelined and 16-deep pipelines
#   RUNS=3 bash benches/memcached.sh      # repeat; the lowest CPU per request of each counts
#
# Environment: REQUESTS_P1 (200000), REQUESTS_P16 (1500000), CONNS (50), RUNS (1), FC_PORT
# (ferrocache's RESP port, 7413: a node must listen somewhere besides memcached-port),
# SKIP_BUILD=1 to use the release binaries already built.
# Writes nothing to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1}
REQUESTS_P1=${REQUESTS_P1:-200000}
REQUESTS_P16=${REQUESTS_P16:-1500000}
FC_MC_PORT=${FC_MC_PORT:-7411}
MC_PORT=${MC_PORT:-7412}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet
    cargo bench --bench memcached_load --no-run --quiet 2>/dev/null
fi
load=$(ls -t target/release/deps/memcached_load-* | grep -v '\.d$' | head -1)
out=$(mktemp -d)

taskset -c 0 ./target/release/ferrocache --port "${FC_PORT:-7413}" --bind 127.0.0.1 --save "" \
    --memcached-port "$FC_MC_PORT" >"$out/fc.log" 2>&1 & fc=$!
taskset -c 0 memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -t 1 -m 1024 -u "$(id -un)" >"$out/mc.log" 2>&1 & mc=$!
trap 'kill $fc $mc 2>/dev/null || true; wait $fc $mc 2>/dev/null || true; rm -rf "$out"' EXIT
for port in "$FC_MC_PORT" "$MC_PORT"; do
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
done

for run in $(seq "$RUNS"); do
    for spec in "set 1 $REQUESTS_P1" "get 1 $REQUESTS_P1" "set 16 $REQUESTS_P16" "get 16 $REQUESTS_P16"; do
        read -r op pipe n <<<"$spec"
        for server in ferrocache memcached; do
            if [ "$server" = ferrocache ]; then port=$FC_MC_PORT pid=$fc; else port=$MC_PORT pid=$mc; fi
            MC_PORT=$port SERVER_PID=$pid OP=$op PIPELINE=$pipe REQUESTS=$n LABEL=$server \
                taskset -c 1 "$load" | tee -a "$out/results.txt"
        done
    done
done

echo
echo "ferrocache / memcached: server CPU per request (below 1.0 = less), throughput"
printf "%-10s %8s %12s %12s %10s %10s\n" op pipeline fc_us/op mc_us/op cpu_ratio ops_ratio
awk '{k=$2" "$3; if ($1=="ferrocache") {if (!(k in f) || $8<f[k]) f[k]=$8; if ($5>fo[k]) fo[k]=$5}
      else {if (!(k in m) || $8<m[k]) m[k]=$8; if ($5>mo[k]) mo[k]=$5}}
     END {for (k in f) if (k in m) {split(k, a, " "); printf "%-10s %8s %12.2f %12.2f %10.2f %10.2f\n", a[1], a[2], f[k], m[k], f[k]/m[k], fo[k]/mo[k]}}' \
    "$out/results.txt" | sort
