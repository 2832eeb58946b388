#!/usr/bin/env bash
# pubsub.sh — PUBLISH fan-out and tracking invalidation latency, ferrocache vs redis-server,
# side by side in one run.
#
#   PUBLISH to 1, 10 and 100 subscribers (redis-cli SUBSCRIBE processes reading to /dev/null):
#     redis-benchmark, 50 clients, -P 16; ops/sec and server CPU µs per PUBLISH.
#   Invalidation latency: a RESP3 CLIENT TRACKING reader and a writer (tests/../bench helper in
#     Python, raw sockets): time from sending the SET to the invalidation push, p50 / p99.
# Servers pinned to CPU 0, load generators to CPU 1. Bounded: N publishes per run, ROUNDS
# invalidations. Loopback only. Writes nothing to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
ROUNDS=${ROUNDS:-2000}
FC_PORT=${FC_PORT:-7331}
RS_PORT=${RS_PORT:-7332}
HZ=$(getconf CLK_TCK)
work=$(mktemp -d)
cargo build --release --quiet
taskset -c 0 ./target/release/ferrocache --port "$FC_PORT" --bind 127.0.0.1 --save "" --dir "$work" >/dev/null 2>&1 & fc=$!
taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null 2>&1 & rs=$!
subs=()
cleanup() { kill "${subs[@]}" 2>/dev/null || true; kill $fc $rs 2>/dev/null || true; wait $fc $rs 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for p in "$FC_PORT" "$RS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$p" PING >/dev/null 2>&1 && break; sleep 0.05; done
done
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12+$13}'; }
publish() { # pid port label subscribers
  local pid=$1 port=$2 label=$3 n=$4 c0 c1 rps i
  for i in $(seq "$n"); do
    taskset -c 1 redis-cli -p "$port" SUBSCRIBE bench >/dev/null 2>&1 & subs+=($!)
  done
  for _ in $(seq 200); do
    [ "$(redis-cli -p "$port" PUBSUB NUMSUB bench | tail -1)" -ge "$n" ] && break; sleep 0.05
  done
  c0=$(ticks "$pid")
  rps=$(taskset -c 1 redis-benchmark -p "$port" -c 50 -n "$N" -P 16 --csv PUBLISH bench hello 2>/dev/null | awk -F'"' 'NR==2{print $4}')
  c1=$(ticks "$pid")
  kill "${subs[@]}" 2>/dev/null || true; wait "${subs[@]}" 2>/dev/null || true; subs=()
  awk -v l="$label" -v n="$n" -v r="$rps" -v a="$c0" -v b="$c1" -v N="$N" -v hz="$HZ" \
    'BEGIN{printf "%-12s publish_to_%-4s %10.0f ops/s %8.2f us/op\n", l, n, r, 1e6*(b-a)/hz/N}'
}
out=$(mktemp)
for target in "$fc $FC_PORT ferrocache" "$rs $RS_PORT redis-server"; do
  set -- $target
  for n in 1 10 100; do publish "$1" "$2" "$3" "$n" | tee -a "$out"; done
done
echo
awk '{us[$1" "$2]=$5; ops[$1" "$2]=$3}
  END {
    for (n in us) if (n ~ /^ferrocache/) {
      w=substr(n, 12); r="redis-server " w
      printf "%-16s cpu_ratio %.2f  ops_ratio %.2f\n", w, us[n]/us[r], ops[n]/ops[r]
    }
  }' "$out" | sort
echo
echo "invalidation latency (write on one connection -> push on a RESP3 tracking connection), $ROUNDS rounds:"
for target in "$FC_PORT ferrocache" "$RS_PORT redis-server"; do
  set -- $target
  taskset -c 1 python3 - "$1" "$2" "$ROUNDS" <<'PY'
import socket, sys, time
port, label, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def conn():
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); return s
def cmd(*a):
    return b"".join([b"*%d\r\n" % len(a)] + [b"$%d\r\n%s\r\n" % (len(x), x) for x in a])
def until(s, marker):
    buf = b""
    while marker not in buf:
        buf += s.recv(65536)
reader, writer = conn(), conn()
reader.sendall(cmd(b"HELLO", b"3")); until(reader, b"modules")
reader.sendall(cmd(b"CLIENT", b"TRACKING", b"on")); until(reader, b"+OK")
samples = []
for i in range(rounds):
    reader.sendall(cmd(b"GET", b"bench:key")); until(reader, b"\r\n")
    t0 = time.perf_counter()
    writer.sendall(cmd(b"SET", b"bench:key", b"%d" % i))
    until(reader, b"invalidate")
    samples.append(time.perf_counter() - t0)
    until(writer, b"+OK")
samples.sort()
p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1e6
print(f"{label:<12} p50 {p(0.50):7.1f} us  p99 {p(0.99):7.1f} us")
PY
done
