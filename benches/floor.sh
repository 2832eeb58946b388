#!/usr/bin/env bash
# floor.sh — how close ferrocache's CPU per request is to the floor of its design on this
# machine: examples/bare_loop.rs (reading and answering RESP with no keyspace, no checks, no
# bookkeeping) on tokio and on a plain epoll loop, ferrocache and redis-server, each pinned to
# CPU 0, the same bench.sh workloads against each in turn, ROUNDS times interleaved. Prints,
# per workload, the median server CPU per request of each (user + system, then user and system
# apart, from the server's /proc/PID/stat around each workload) and the ratios to
# redis-server: bare_loop/redis is the lowest ratio a tokio server can reach here, whatever its
# engine does, bare_epoll/redis the lowest of a server without tokio's scheduling; the system
# column is the kernel's share, which no server-side change of ours removes.
#
#   bash benches/floor.sh                      # 3 rounds of get_p1 set_p1 get_p16 set_p16
#   ROUNDS=5 WORKLOADS="get_p1" bash benches/floor.sh
# Environment: BENCH (path to bench.sh), N_P1, N_P16, FC (a ferrocache binary to use instead
# of this tree's). Writes nothing to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-../shared/bench/bench.sh}
ROUNDS=${ROUNDS:-3}
WORKLOADS=${WORKLOADS:-"get_p1 set_p1 get_p16 set_p16"}
export N_P1=${N_P1:-300000} N_P16=${N_P16:-2000000}
cargo build --release --quiet --bin ferrocache --example bare_loop
FC=${FC:-./target/release/ferrocache}
out=$(mktemp -d)
mkdir -p "$out/fc" "$out/rs"
taskset -c 0 ./target/release/examples/bare_loop 7451 >"$out/floor.log" 2>&1 & floor=$!
taskset -c 0 ./target/release/examples/bare_loop 7454 epoll >"$out/epoll.log" 2>&1 & epoll=$!
taskset -c 0 "$FC" --port 7452 --bind 127.0.0.1 --dir "$out/fc" --save "" --appendonly no >"$out/fc.log" 2>&1 & fc=$!
taskset -c 0 redis-server --port 7453 --bind 127.0.0.1 --dir "$out/rs" --save "" --appendonly no >"$out/rs.log" 2>&1 & rs=$!
trap 'kill $floor $epoll $fc $rs 2>/dev/null || true; wait 2>/dev/null; rm -rf "$out"' EXIT
for port in 7451 7454 7452 7453; do
  for _ in $(seq 100); do redis-cli -p $port PING >/dev/null 2>&1 && break; sleep 0.05; done
done
# bench.sh's keys, once per server (bare_loop answers any GET without them)
for port in 7452 7453; do
  WORKLOADS=get_p1 N_P1=1000 bash "$BENCH" 127.0.0.1 $port >/dev/null || true
done
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12, $13}'; }
for round in $(seq "$ROUNDS"); do
  for wl in $WORKLOADS; do
    case $wl in *_p16) n=$N_P16 ;; *) n=$N_P1 ;; esac
    for server in "bare_loop 7451 $floor" "bare_epoll 7454 $epoll" "ferrocache 7452 $fc" "redis-server 7453 $rs"; do
      set -- $server
      read -r u0 s0 < <(ticks "$3")
      WORKLOADS=$wl PRELOAD=0 bash "$BENCH" 127.0.0.1 "$2" "$1" >/dev/null || true
      read -r u1 s1 < <(ticks "$3")
      echo "$wl $1 $((u1 - u0)) $((s1 - s0)) $n" >>"$out/rows"
    done
  done
done
hz=$(getconf CLK_TCK)
echo "median server CPU µs per request over $ROUNDS rounds (user+system = user + system), and ratios to redis-server"
printf "%-9s %-22s %-22s %-22s %-22s %6s %6s %6s\n" workload bare_loop bare_epoll ferrocache redis-server floor epoll fc
awk -v hz="$hz" '{k=$1" "$2; us=1e6/hz/$5; t[k]=t[k]" "($3+$4)*us; u[k]=u[k]" "$3*us; s[k]=s[k]" "$4*us; w[$1]=1}
     function median(v,   a, n, i, j, x) { n=split(v, a, " ");
       for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (a[j]+0<a[i]+0) {x=a[i]; a[i]=a[j]; a[j]=x}
       return n%2 ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
     function cell(k) { return sprintf("%.2f = %.2f + %.2f", median(t[k]), median(u[k]), median(s[k])) }
     END {for (x in w) { f=median(t[x" bare_loop"]); e=median(t[x" bare_epoll"]); c=median(t[x" ferrocache"]);
            r=median(t[x" redis-server"]);
            printf "%-9s %-22s %-22s %-22s %-22s %6.2f %6.2f %6.2f\n", x, cell(x" bare_loop"), cell(x" bare_epoll"),
              cell(x" ferrocache"), cell(x" redis-server"), f/r, e/r, c/r }}' "$out/rows" | sort
