#!/usr/bin/env bash
# rdb.sh — RDB snapshots side by side: ferrocache vs redis-server on the same 1M keys
# (10-byte keys, 100-byte values), each pinned to CPU 0, on loopback.
#
#   bash benches/rdb.sh              # KEYS=1000000 by default
#   KEYS=200000 bash benches/rdb.sh  # quicker
#
# For each server and each load: BGSAVE wall time (BGSAVE until rdb_bgsave_in_progress:0),
# memory at rest and the peak during the save (PSS of the server plus its children, so
# redis-server's fork child counts only for the pages it does not share), the file size, and
# the worst round trip of a command issued continuously by one client during the save. Loads
# (LOADS, default "get set set8"): get = the client only reads (no write load); set = it
# overwrites keys spread over the keyspace, which is what makes a fork copy pages and
# ferrocache's snapshot copy entries; set8 = the same plus 8 connections overwriting keys in
# pipelines of 100 as fast as they can. Then the load time of one dump.rdb (the one redis-server wrote) in
# both: from start to the first answered PING.
# Writes nothing to the repository; everything lives in a temp dir that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
LOADS=${LOADS:-get set set8}
FC_PORT=${FC_PORT:-7341}
RS_PORT=${RS_PORT:-7342}
# FC_BIN=path runs another ferrocache binary (an earlier build, to compare) instead of building.
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

# wait_up PORT PID: the server answers PING, and it is ours (another process may hold the port).
wait_up() { for _ in $(seq 600); do kill -0 "$2" 2>/dev/null || break; [ "$(redis-cli -p "$1" PING 2>/dev/null)" = PONG ] && return 0; sleep 0.01; done; echo "server $2 on port $1 did not start (port taken? set FC_PORT/RS_PORT)" >&2; exit 1; }
start_fc() { mkdir -p "$out/fc"; taskset -c 0 "$FC_BIN" --port "$FC_PORT" --bind 127.0.0.1 --save "" --dir "$out/fc" >"$out/fc.log" 2>&1 & echo $!; }
start_rs() { mkdir -p "$out/rs"; taskset -c 0 redis-server --port "$RS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$out/rs" --logfile "$out/rs.log" >/dev/null 2>&1 & echo $!; }

# Samples PSS of a process and its children every 5 ms and the round trip of GETs until the
# save is over; prints "rest_kb peak_kb max_latency_ms seconds".
cat > "$out/watch.py" <<'EOF'
import os, socket, sys, time, threading
pid, port, keys, load = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
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
control = socket.create_connection(("127.0.0.1", port))
def probe_loop():
    # Runs from before BGSAVE: a pause while the snapshot instant is taken counts too.
    global worst, worst_before
    i = 0
    while not done.is_set():
        t = time.monotonic()
        saving = started is not None
        key = b"key:%06d" % (i * 7919 % keys)
        if load != "get":
            # Overwrites keys spread over the whole keyspace: the writes that make a fork copy pages.
            cmd(probe, b"SET", key, b"w" * 100)
        else:
            cmd(probe, b"GET", key)
        if saving:
            worst = max(worst, time.monotonic() - t)
        else:
            worst_before = max(worst_before, time.monotonic() - t)
        i += 1
def writer_loop(n):
    # load "set8": 8 more connections overwriting keys in pipelines of 100, as fast as they go.
    sock = socket.create_connection(("127.0.0.1", port))
    i = n
    while not done.is_set():
        batch = []
        for _ in range(100):
            key = b"key:%06d" % (i * 104729 % keys)
            batch.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, b"x" * 100))
            i += 8
        sock.sendall(b"".join(batch))
        replies = b""
        while replies.count(b"\n") < 100:
            replies += sock.recv(65536)
prober = threading.Thread(target=probe_loop)
prober.start()
writers = [threading.Thread(target=writer_loop, args=(n,)) for n in range(8 if load == "set8" else 0)]
for w in writers:
    w.start()
# The same probe for a second before the save: the machine's own noise, to read `worst` against.
time.sleep(1.0)
started = time.monotonic()
assert cmd(control, b"BGSAVE").startswith(b"+"), "BGSAVE refused"
while b"rdb_bgsave_in_progress:0" not in cmd(control, b"INFO", b"persistence"):
    time.sleep(0.01)
elapsed = time.monotonic() - started
done.set()
prober.join()
for w in writers:
    w.join()
print(rest, peak, f"{worst * 1000:.1f}", f"{elapsed:.2f}", f"{worst_before * 1000:.1f}")
EOF

echo "keys: $KEYS x 100 B values"
# worst_cmd_ms: the worst round trip during the save; before_ms: the same probe's worst in the second before it.
printf "%-13s %5s %10s %10s %10s %8s %10s %13s %10s\n" server load bgsave_s rest_MB peak_MB peak/rest file_MB worst_cmd_ms before_ms
for load in $LOADS; do
  for who in ferrocache redis-server; do
    # A fresh server per run: memory freed by an earlier save stays in the allocator.
    if [ "$who" = ferrocache ]; then pid=$(start_fc); port=$FC_PORT; dir=$out/fc; else pid=$(start_rs); port=$RS_PORT; dir=$out/rs; fi
    pids+=("$pid")
    wait_up "$port" "$pid"
    redis-cli -p "$port" --pipe < "$out/load.resp" >/dev/null
    sleep 1
    read -r rest peak worst secs before < <(python3 "$out/watch.py" "$pid" "$port" "$KEYS" "$load")
    size=$(stat -c %s "$dir/dump.rdb")
    awk -v w="$who" -v m="$load" -v s="$secs" -v r="$rest" -v p="$peak" -v f="$size" -v l="$worst" -v b="$before" \
      'BEGIN{printf "%-13s %5s %10s %10.1f %10.1f %8.2f %10.1f %13s %10s\n", w, m, s, r/1024, p/1024, p/r, f/1048576, l, b}'
    redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    wait "$pid" 2>/dev/null || true
  done
done

echo
echo "load time of redis-server's dump.rdb ($(stat -c %s "$out/rs/dump.rdb") bytes), start to first PING"
cp "$out/rs/dump.rdb" "$out/fc/dump.rdb"
for who in ferrocache redis-server; do
  t0=$(date +%s.%N)
  if [ "$who" = ferrocache ]; then pid=$(start_fc); port=$FC_PORT; else pid=$(start_rs); port=$RS_PORT; fi
  pids+=("$pid")
  wait_up "$port" "$pid"
  t1=$(date +%s.%N)
  keys=$(redis-cli -p "$port" DBSIZE)
  # Peak RSS of the process so far (the load) against its RSS once loaded, in MB.
  hwm=$(awk '/^VmHWM/{print $2}' "/proc/$pid/status")
  rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
  awk -v w="$who" -v a="$t0" -v b="$t1" -v k="$keys" -v h="$hwm" -v r="$rss" \
    'BEGIN{printf "%-13s %6.2f s  (%s keys)  peak RSS %.1f MB, after %.1f MB (%.2fx)\n", w, b-a, k, h/1024, r/1024, h/r}'
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$pid" 2>/dev/null || true
done
