#!/usr/bin/env bash
# replication.sh — ferrocache vs redis-server as a replication PRIMARY, each followed by a
# redis-server 7 replica, same run, loopback. The primary is pinned to CPU 0, the replica and the
# load generators to CPU 1.
#
#   bash benches/replication.sh              # KEYS=1000000 by default
#   KEYS=200000 bash benches/replication.sh  # quicker
#
# 1. Full sync of KEYS keys (10-byte keys, 100-byte values), diskless (the Redis 7 default) with
#    repl-diskless-sync-delay 0: time from the replica's start to its link up with every key;
#    the primary's PSS (with its children: redis-server's fork child counts only for the pages
#    it does not share) at rest and its peak during the sync; the worst round trip of a GET
#    issued continuously by one client during the sync, and before it (the machine's noise).
# 2. Lag under load: redis-benchmark -t set -P 16 -c 50 -r 100000 (N_SET requests) against the
#    primary while the replica follows; master_repl_offset minus the replica's applied offset
#    sampled every 50 ms (max and mean, in bytes), the SET throughput, and the time the replica
#    needs to catch up once the load stops.
# Writes nothing to the repository; everything lives in a temp dir that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
N_SET=${N_SET:-2000000}
FC_PORT=${FC_PORT:-7351}
RS_PORT=${RS_PORT:-7352}
REPLICA_PORT=${REPLICA_PORT:-7353}
if [ -z "${FC_BIN:-}" ]; then
  FC_BIN="${CARGO_TARGET_DIR:-target}/release/ferrocache"
  cargo build --release --quiet
fi
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT

python3 - "$KEYS" > "$out/load.resp" <<'EOF'
import sys
n = int(sys.argv[1])
value = b"v" * 100
w = sys.stdout.buffer
for i in range(n):
    key = b"key:%06d" % i
    w.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
EOF

wait_up() { for _ in $(seq 600); do kill -0 "$2" 2>/dev/null || break; [ "$(redis-cli -p "$1" PING 2>/dev/null)" = PONG ] && return 0; sleep 0.01; done; echo "server $2 on port $1 did not start" >&2; exit 1; }
start_fc() { mkdir -p "$out/fc"; taskset -c 0 "$FC_BIN" --port "$FC_PORT" --bind 127.0.0.1 --save "" --dir "$out/fc" --repl-diskless-sync-delay 0 >"$out/fc.log" 2>&1 & echo $!; }
start_rs() { mkdir -p "$out/rs"; taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$out/rs" --logfile "$out/rs.log" --repl-diskless-sync-delay 0 >/dev/null 2>&1 & echo $!; }

# Starts the replica itself (so the clock starts with it), samples the primary's PSS every 5 ms
# and a GET's round trip until the replica's link is up with every key; prints
# "rest_kb peak_kb worst_ms seconds before_ms".
cat > "$out/watch.py" <<'EOF'
import os, socket, subprocess, sys, time, threading
pid, port, rport, keys, start = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def pss_kb(p):
    try:
        for line in open(f"/proc/{p}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
def family(p):
    out = [p]
    try:
        for t in os.listdir(f"/proc/{p}/task"):
            out += [int(c) for c in open(f"/proc/{p}/task/{t}/children").read().split()]
    except OSError:
        pass
    return out
def cmd(sock, *args):
    sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    data = b""
    while True:
        data += sock.recv(65536)
        head, sep, rest = data.partition(b"\r\n")
        if not sep:
            continue
        if not head.startswith(b"$") or head == b"$-1" or len(rest) >= int(head[1:]) + 2:
            return data
rest = sum(pss_kb(p) for p in family(pid))
peak, worst, worst_before = rest, 0.0, 0.0
started = None
done = threading.Event()
def sample():
    global peak
    while not done.is_set():
        peak = max(peak, sum(pss_kb(p) for p in family(pid)))
        time.sleep(0.005)
threading.Thread(target=sample, daemon=True).start()
probe = socket.create_connection(("127.0.0.1", port))
def probe_loop():
    global worst, worst_before
    i = 0
    while not done.is_set():
        t = time.monotonic()
        syncing = started is not None
        cmd(probe, b"GET", b"key:%06d" % (i * 7919 % keys))
        if syncing:
            worst = max(worst, time.monotonic() - t)
        else:
            worst_before = max(worst_before, time.monotonic() - t)
        i += 1
prober = threading.Thread(target=probe_loop)
prober.start()
time.sleep(1.0)
started = time.monotonic()
subprocess.run(start, shell=True, check=True)
control = None
while control is None:
    try:
        control = socket.create_connection(("127.0.0.1", rport))
    except OSError:
        time.sleep(0.01)
while True:
    info = cmd(control, b"INFO", b"replication")
    if b"master_link_status:up" in info:
        size = cmd(control, b"DBSIZE")
        if size.startswith(b":%d\r\n" % keys):
            break
    time.sleep(0.01)
elapsed = time.monotonic() - started
done.set()
prober.join()
print(rest, peak, f"{worst * 1000:.1f}", f"{elapsed:.2f}", f"{worst_before * 1000:.1f}")
EOF

# Samples the lag (primary offset minus the replica's) every 50 ms while redis-benchmark runs;
# prints "max_lag_bytes mean_lag_bytes set_rps catch_up_s".
cat > "$out/lag.py" <<'EOF'
import re, socket, subprocess, sys, time
port, rport, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def info(p):
    s = socket.create_connection(("127.0.0.1", p))
    s.sendall(b"*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n")
    data = b""
    while True:
        data += s.recv(65536)
        head, sep, rest = data.partition(b"\r\n")
        if sep and len(rest) >= int(head[1:]) + 2:
            break
    s.close()
    return data.decode()
def offset(text, field):
    return int(re.search(field + r":(\d+)", text).group(1))
bench = subprocess.Popen(["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-t", "set", "-P", "16",
                          "-c", "50", "-n", str(n), "-r", "100000", "-d", "100", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
lags = []
while bench.poll() is None:
    ours = offset(info(port), "master_repl_offset")
    theirs = offset(info(rport), "slave_repl_offset")
    lags.append(max(0, ours - theirs))
    time.sleep(0.05)
out = bench.stdout.read()
stopped = time.monotonic()
target = offset(info(port), "master_repl_offset")
while offset(info(rport), "slave_repl_offset") < target:
    time.sleep(0.005)
catch_up = time.monotonic() - stopped
rps = re.search(r"([\d.]+) requests per second", out)
print(max(lags or [0]), int(sum(lags) / max(1, len(lags))), rps.group(1) if rps else "?", f"{catch_up:.3f}")
EOF

echo "keys: $KEYS x 100 B values; diskless full sync, repl-diskless-sync-delay 0"
printf "%-13s %8s %10s %10s %10s %13s %10s\n" primary sync_s rest_MB peak_MB peak/rest worst_get_ms before_ms
for who in ferrocache redis-server; do
  if [ "$who" = ferrocache ]; then pid=$(start_fc); port=$FC_PORT; else pid=$(start_rs); port=$RS_PORT; fi
  pids+=("$pid")
  wait_up "$port" "$pid"
  redis-cli -p "$port" --pipe < "$out/load.resp" >/dev/null
  sleep 1
  read -r rest peak worst secs before < <(python3 "$out/watch.py" "$pid" "$port" "$REPLICA_PORT" "$KEYS" \
    "taskset -c 1 redis-server --port $REPLICA_PORT --bind 127.0.0.1 --save '' --appendonly no --dir $out --logfile $out/replica-$who.log --replicaof 127.0.0.1 $port --daemonize yes --pidfile $out/replica.pid")
  awk -v w="$who" -v s="$secs" -v r="$rest" -v p="$peak" -v l="$worst" -v b="$before" \
    'BEGIN{printf "%-13s %8s %10.1f %10.1f %10.2f %13s %10s\n", w, s, r/1024, p/1024, p/r, l, b}'
  echo "$who" >> "$out/order"
  read -r max mean rps catch < <(python3 "$out/lag.py" "$port" "$REPLICA_PORT" "$N_SET")
  echo "$who $max $mean $rps $catch" >> "$out/lag.txt"
  redis-cli -p "$REPLICA_PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$pid" 2>/dev/null || true
  sleep 0.5
done
echo
echo "lag under redis-benchmark -t set -P 16 -c 50 -r 100000 -n $N_SET (replica on CPU 1 with the load generator)"
printf "%-13s %14s %15s %12s %11s\n" primary max_lag_bytes mean_lag_bytes set_rps catch_up_s
while read -r who max mean rps catch; do
  printf "%-13s %14s %15s %12s %11s\n" "$who" "$max" "$mean" "$rps" "$catch"
done < "$out/lag.txt"
