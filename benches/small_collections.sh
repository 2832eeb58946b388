#!/usr/bin/env bash
# small_collections.sh — memory per key of many small collections, ferrocache and redis-server
# side by side on this machine: N keys (100k) of each shape, each shape loaded into a fresh
# server, memory per key from the growth of /proc VmRSS and of INFO used_memory.
#
#   bash benches/small_collections.sh                  # every shape
#   SHAPES="hash10 intset10" bash benches/small_collections.sh
#
# Shapes: hash10 (HSET of 10 fields f1..f10 with values v1..v10), intset10 (SADD of the
# integers 1..10), zset10 (ZADD of 10 members m1..m10), list10 (RPUSH of e1..e10), and
# MEMORY USAGE of one key of each. Keys are "sc:<8 digits>". Writes nothing to the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
FC_PORT=${FC_PORT:-7431}
RS_PORT=${RS_PORT:-7432}
N=${N:-100000}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/ferrocache}
SHAPES=${SHAPES:-"hash10 intset10 zset10 list10"}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

gen() { # shape -> RESP commands on stdout
  awk -v n="$N" -v shape="$1" 'function bulk(s) { return sprintf("$%d\r\n%s\r\n", length(s), s) }
  BEGIN {
    for (k = 0; k < n; k++) {
      key = sprintf("sc:%08d", k)
      if (shape == "hash10") { cmd = "*22\r\n" bulk("HSET") bulk(key); for (i = 1; i <= 10; i++) cmd = cmd bulk("f" i) bulk("v" i) }
      else if (shape == "intset10") { cmd = "*12\r\n" bulk("SADD") bulk(key); for (i = 1; i <= 10; i++) cmd = cmd bulk(i "") }
      else if (shape == "zset10") { cmd = "*22\r\n" bulk("ZADD") bulk(key); for (i = 1; i <= 10; i++) cmd = cmd bulk(i "") bulk("m" i) }
      else { cmd = "*12\r\n" bulk("RPUSH") bulk(key); for (i = 1; i <= 10; i++) cmd = cmd bulk("e" i) }
      printf "%s", cmd
    }
  }'
}

rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
used() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }

measure() { # name port pid shape
  local name=$1 port=$2 pid=$3 shape=$4
  local r0 u0 r1 u1 usage
  r0=$(rss_kb "$pid"); u0=$(used "$port")
  gen "$shape" | redis-cli -p "$port" --pipe >/dev/null
  sleep 2
  r1=$(rss_kb "$pid"); u1=$(used "$port")
  usage=$(redis-cli -p "$port" MEMORY USAGE "sc:$(printf %08d $((N / 2)))")
  awk -v s="$shape" -v name="$name" -v n="$N" -v r0="$r0" -v r1="$r1" -v u0="$u0" -v u1="$u1" -v mu="$usage" \
    'BEGIN { printf "%-9s %-11s RSS %6.1f B/key  used_memory %6.1f B/key  MEMORY USAGE %s\n", s, name, (r1 - r0) * 1024 / n, (u1 - u0) / n, mu }'
}

start_wait() { # port
  for _ in $(seq 1 100); do redis-cli -p "$1" PING >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server on $1 did not start" >&2; exit 1
}

for shape in $SHAPES; do
  mkdir -p "$out/fc" "$out/rs"
  "$BIN" --port "$FC_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$out/fc" >"$out/fc.log" 2>&1 &
  fc=$!
  start_wait "$FC_PORT"
  measure ferrocache "$FC_PORT" "$fc" "$shape"
  kill "$fc"; wait "$fc" 2>/dev/null || true
  redis-server --port "$RS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$out/rs" >"$out/rs.log" 2>&1 &
  rs=$!
  start_wait "$RS_PORT"
  measure redis-server "$RS_PORT" "$rs" "$shape"
  kill "$rs"; wait "$rs" 2>/dev/null || true
done
