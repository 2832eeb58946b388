#!/usr/bin/env bash
# failover.sh — Sentinel failover, all-ferrocache vs all-redis-server side by side.
#
#   bash benches/failover.sh            # 5 runs of each group
#   RUNS=10 bash benches/failover.sh
#   GROUPS_RUN="ferrocache-redis-server redis-server-ferrocache" bash benches/failover.sh
#
# Each run is one pass of tests/python/test_sentinel.py for the group: a primary and two replicas
# on loopback, three redis-sentinels (down-after-milliseconds 1000), a redis-py
# Sentinel.master_for writer issuing SETs one at a time; the primary is killed with SIGKILL.
# Reported per run: failover time (SIGKILL to the writer's first successful write on the new
# primary) and the writes acknowledged to the writer that the new primary does not have (writes
# lost without WAIT) and the partial resyncs the new primary accepted from its former sibling
# (0 when the sibling had received writes the promoted one had not), then the median and range
# of each group. Runs alternate between the groups so that machine noise hits both alike. The
# ferrocache binary is the debug build the test suite uses; FERROCACHE_BIN=target/release/ferrocache
# (after `cargo build --release`) runs the release one. Every loop is bounded; data lives in temp
# dirs the test removes.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
GROUPS_RUN=${GROUPS_RUN:-"ferrocache-ferrocache redis-server-redis-server"}
cargo build --quiet
out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT
failed=0
for run in $(seq "$RUNS"); do
    for group in $GROUPS_RUN; do
        if (cd tests/python && python3 -m pytest -q -s -p no:cacheprovider test_sentinel.py -k "$group") >"$log" 2>&1; then
            grep -E '^\[.*failover:' "$log" | tee -a "$out"
        else
            echo "run $run of $group failed:" >&2
            tail -n 200 "$log" >&2
            failed=$((failed + 1))
        fi
    done
done
python3 - "$out" <<'PY'
import re, statistics, sys
rows = {}
pattern = re.compile(
    r"^\[(\S+) primary, (\S+) replicas\] failover: writer resumed ([0-9.]+) s .*"
    r"lost without WAIT: (\d+) of (\d+); partial resyncs on the new primary: (\d+)"
)
for line in open(sys.argv[1]):
    m = pattern.match(line)
    if m:
        rows.setdefault(f"{m[1]} / {m[2]}", []).append((float(m[3]), int(m[4]), int(m[5]), int(m[6])))
print("\n| primary / replicas | runs | failover time, median (range) | acked writes lost without WAIT, per run | sibling's partial resync |")
print("|---|---|---|---|---|")
for group, runs in rows.items():
    times = [t for t, _, _, _ in runs]
    lost = ", ".join(f"{l}/{n}" for _, l, n, _ in runs)
    partial = sum(1 for *_, p in runs if p > 0)
    print(
        f"| {group} | {len(runs)} | {statistics.median(times):.2f} s ({min(times):.2f}–{max(times):.2f}) "
        f"| {lost} | {partial} of {len(runs)} runs |"
    )
PY
if [ "$failed" -gt 0 ]; then
    echo "$failed run(s) failed" >&2
    exit 1
fi
