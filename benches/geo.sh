#!/usr/bin/env bash
# geo.sh — geo workloads side by side: ferrocache and redis-server on this machine, in one run,
# each server pinned to CPU 0 and redis-benchmark to CPU 1.
#
#   bash benches/geo.sh                # memory of a 1M-point geo set, then CPU per request
#   SKIP_BENCH=1 bash benches/geo.sh   # memory only
#
# Memory: fresh servers, one geo set of N (1M) points uniform over the map (members
# `member:<12 digits>`, the form redis-benchmark's __rand_int__ writes), loaded with
# redis-cli --pipe as GEOADDs of 1 000 points; reported as MEMORY USAGE of the key, the
# used_memory delta and the RSS delta, per point.
# Workloads on that set (-P 1, 50 clients): GEOSEARCH around a random member BYRADIUS 100 km
# ASC COUNT 10 (about 60 points inside), BYBOX 200 x 200 km WITHDIST WITHCOORD (about 80),
# GEOSEARCH FROMLONLAT of a fixed point BYRADIUS 500 km COUNT 5 ANY, GEODIST and GEOPOS of
# random members. The figure to quote is srv_us/op (server CPU microseconds per request, from
# /proc). Writes nothing to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
FC_PORT=${FC_PORT:-7413}
RS_PORT=${RS_PORT:-7414}
N=${N:-1000000}
REQUESTS=${REQUESTS:-100000}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/ferrocache}
out=$(mktemp -d)

. benches/harness.sh

used_memory() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }

workloads() {
  local port=$1 pid=$2 n=$REQUESTS
  run radius100km_count10 "$port" "$pid" -- -n "$n" -r "$N" GEOSEARCH geo FROMMEMBER member:__rand_int__ BYRADIUS 100 km ASC COUNT 10
  run box200km_withdist "$port" "$pid" -- -n "$n" -r "$N" GEOSEARCH geo FROMMEMBER member:__rand_int__ BYBOX 200 200 km WITHDIST WITHCOORD
  run lonlat500km_any5 "$port" "$pid" -- -n "$n" GEOSEARCH geo FROMLONLAT 13.361389 38.115556 BYRADIUS 500 km COUNT 5 ANY
  run geodist "$port" "$pid" -- -n "$n" -r "$N" GEODIST geo member:__rand_int__ member:000000000001 km
  run geopos "$port" "$pid" -- -n "$n" -r "$N" GEOPOS geo member:__rand_int__
}

# N uniform points; member j is "member:<j as 12 digits>" (indexes 0 .. N-1).
awk -v n="$N" 'BEGIN{srand(1); for (i = 0; i < n; i += 1000) {
    k = (n - i < 1000) ? n - i : 1000
    printf "*%d\r\n$6\r\nGEOADD\r\n$3\r\ngeo\r\n", 2 + 3 * k
    for (j = i; j < i + k; j++) {
      lon = sprintf("%.6f", rand() * 360 - 180); lat = sprintf("%.6f", rand() * 170 - 85)
      m = sprintf("member:%012d", j)
      printf "$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(lon), lon, length(lat), lat, length(m), m } } }' >"$out/fill.resp"

fc=$(start_fc); rs=$(start_rs); trap 'stop $fc; stop $rs; rm -rf "$out"' EXIT
wait_up "$FC_PORT"; wait_up "$RS_PORT"
for side in fc rs; do
  if [ $side = fc ]; then port=$FC_PORT pid=$fc; else port=$RS_PORT pid=$rs; fi
  rss_before=$(rss_bytes "$pid"); used_before=$(used_memory "$port")
  redis-cli -p "$port" --pipe <"$out/fill.resp" >/dev/null
  rss_after=$(rss_bytes "$pid"); used_after=$(used_memory "$port")
  usage=$(redis-cli -p "$port" MEMORY USAGE geo SAMPLES 0)
  echo "$side $(redis-cli -p "$port" ZCARD geo) $usage $((used_after - used_before)) $((rss_after - rss_before))" >>"$out/mem.txt"
done
awk '{n = $2; printf "%s: %d points, MEMORY USAGE %.1f B/point, used_memory %.1f B/point, RSS %.1f B/point\n", ($1 == "fc" ? "ferrocache  " : "redis-server"), n, $3 / n, $4 / n, $5 / n; u[$1] = $3 / n; m[$1] = $4 / n; r[$1] = $5 / n}
     END {printf "ratios ferrocache / redis-server: MEMORY USAGE %.2f, used_memory %.2f, RSS %.2f\n", u["fc"] / u["rs"], m["fc"] / m["rs"], r["fc"] / r["rs"]}' "$out/mem.txt"

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  echo
  echo "workload             ops/sec      srv_us/op   (ferrocache)"; workloads "$FC_PORT" "$fc" | tee "$out/fc.txt"
  echo "workload             ops/sec      srv_us/op   (redis-server)"; workloads "$RS_PORT" "$rs" | tee "$out/rs.txt"
  echo
  echo "ratios ferrocache / redis-server: cpu_ratio below 1.0 = less CPU per request"
  awk 'FNR==NR {fo[$1]=$2; fu[$1]=$3; next} {printf "%-20s cpu_ratio %5.2f   ops_ratio %5.2f\n", $1, fu[$1]/$3, fo[$1]/$2}' \
    "$out/fc.txt" "$out/rs.txt"
fi
