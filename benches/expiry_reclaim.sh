#!/usr/bin/env bash
# expiry_reclaim.sh HOST PORT [N]
#
# How fast does a server reclaim keys that expire while nobody reads them?
# Loads N keys (default 1,000,000; 100-byte values) that all expire at the same absolute instant
# (PXAT, a few seconds after the load ends), sends no reads, and polls DBSIZE every 50 ms from
# that instant until it reaches 0 (bounded at 120 s). Prints the time to 50%, 90%, 99% and 100%
# reclaimed. Run it against ferrocache and redis-server on the same machine and compare.
set -u
HOST=${1:?usage: expiry_reclaim.sh HOST PORT [N]}
PORT=${2:?usage: expiry_reclaim.sh HOST PORT [N]}
N=${3:-1000000}
CLI=(redis-cli -h "$HOST" -p "$PORT")
"${CLI[@]}" FLUSHALL >/dev/null
now_ms() { date +%s%3N; }
load_start=$(now_ms)
# Deadline: 5 s plus a generous load time (3 us per key), so no key expires during the load.
deadline=$(( load_start + 5000 + N * 3 / 1000 ))
awk -v n="$N" -v at="$deadline" 'BEGIN{
  v=""; for(i=0;i<100;i++) v=v "x";
  for(i=0;i<n;i++){ k=sprintf("exp:%010d", i);
    printf "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n$4\r\nPXAT\r\n$%d\r\n%s\r\n", length(k), k, v, length(at), at }
}' | "${CLI[@]}" --pipe >/dev/null 2>&1
loaded=$("${CLI[@]}" DBSIZE)
load_end=$(now_ms)
if [ "$load_end" -ge "$deadline" ]; then echo "load took too long; raise the margin" >&2; exit 2; fi
echo "loaded $loaded keys in $((load_end - load_start)) ms; all expire at +$((deadline - load_end)) ms"
while [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.01; done
t50=""; t90=""; t99=""
while :; do
  t=$(( $(now_ms) - deadline ))
  left=$("${CLI[@]}" DBSIZE)
  gone=$(( loaded - left ))
  [ -z "$t50" ] && [ $((gone * 100)) -ge $((loaded * 50)) ] && t50=$t
  [ -z "$t90" ] && [ $((gone * 100)) -ge $((loaded * 90)) ] && t90=$t
  [ -z "$t99" ] && [ $((gone * 100)) -ge $((loaded * 99)) ] && t99=$t
  if [ "$left" -eq 0 ]; then echo "reclaimed: 50% ${t50} ms, 90% ${t90} ms, 99% ${t99} ms, 100% ${t} ms"; break; fi
  if [ "$t" -gt 120000 ]; then echo "reclaimed: 50% ${t50:-n/a} ms, 90% ${t90:-n/a} ms, 99% ${t99:-n/a} ms; $left keys left after 120 s"; break; fi
  sleep 0.05
done
