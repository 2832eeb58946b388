#!/usr/bin/env bash
# floor.sh — how close ferrocache's CPU per request is to the floor of its design on this
# machine: examples/bare_loop.rs (tokio reading and answering RESP with no keyspace, no checks,
# no bookkeeping), ferrocache and redis-server, each pinned to CPU 0, the same bench.sh
# workloads against each in turn, ROUNDS times interleaved. Prints the median server CPU per
# request of each and the ratios to redis-server: bare_loop/redis is the lowest ratio a tokio
# server can reach here, whatever its engine does.
#
#   bash benches/floor.sh                      # 3 rounds of get_p1 set_p1 get_p16 set_p16
#   ROUNDS=5 WORKLOADS="get_p1" bash benches/floor.sh
# Environment: BENCH (path to bench.sh), N_P1, N_P16. Writes nothing to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-../shared/bench/bench.sh}
ROUNDS=${ROUNDS:-3}
export WORKLOADS=${WORKLOADS:-"get_p1 set_p1 get_p16 set_p16"}
export N_P1=${N_P1:-300000} N_P16=${N_P16:-2000000}
cargo build --release --quiet --bin ferrocache --example bare_loop
out=$(mktemp -d)
mkdir -p "$out/fc" "$out/rs"
taskset -c 0 ./target/release/examples/bare_loop 7451 >"$out/floor.log" 2>&1 & floor=$!
taskset -c 0 ./target/release/ferrocache --port 7452 --bind 127.0.0.1 --dir "$out/fc" --save "" --appendonly no >"$out/fc.log" 2>&1 & fc=$!
taskset -c 0 redis-server --port 7453 --bind 127.0.0.1 --dir "$out/rs" --save "" --appendonly no >"$out/rs.log" 2>&1 & rs=$!
trap 'kill $floor $fc $rs 2>/dev/null || true; wait 2>/dev/null; rm -rf "$out"' EXIT
for port in 7451 7452 7453; do
  for _ in $(seq 100); do redis-cli -p $port PING >/dev/null 2>&1 && break; sleep 0.05; done
done
for round in $(seq "$ROUNDS"); do
  for server in "bare_loop 7451 $floor" "ferrocache 7452 $fc" "redis-server 7453 $rs"; do
    set -- $server
    SERVER_PID=$3 bash "$BENCH" 127.0.0.1 "$2" "$1" | awk -v l="$1" '$1==l && $8+0>0 {print l, $2, $8}' >>"$out/rows" || true
  done
done
echo "median server CPU µs per request over $ROUNDS rounds, and ratios to redis-server"
printf "%-10s %10s %11s %13s %15s %16s\n" workload bare_loop ferrocache redis-server bare_loop/redis ferrocache/redis
awk '{v[$2" "$1]=v[$2" "$1]" "$3; w[$2]=1}
     function median(s,   a, n, i, j, t) { n=split(s, a, " ");
       for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (a[j]+0<a[i]+0) {t=a[i]; a[i]=a[j]; a[j]=t}
       return n%2 ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
     END {for (k in w) { f=median(v[k" bare_loop"]); c=median(v[k" ferrocache"]); r=median(v[k" redis-server"]);
            printf "%-10s %10.2f %11.2f %13.2f %15.2f %16.2f\n", k, f, c, r, f/r, c/r }}' "$out/rows" | sort
