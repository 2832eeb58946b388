#!/usr/bin/env bash
# benches/tls.sh [FERROCACHE_BIN]
#
# TLS GET/SET, ferrocache beside redis-server, both over TLS with mutual TLS (the default):
# redis-benchmark --tls, 50 clients, 100-byte values, random keys out of 100000, unpipelined
# and -P 16. Each server is pinned to CPU 0 and the load generator to CPU 1. Prints per
# workload: requests/s and the server's CPU microseconds per request (utime+stime of the
# process over the run / requests), the figure that stays meaningful when the load generator
# is the bottleneck. Bounded: N_P1 / N_P16 requests per workload, 120 s cap each.
set -euo pipefail

BIN=${1:-target/release/ferrocache}
N_P1=${N_P1:-200000}
N_P16=${N_P16:-1000000}
RUNS=${RUNS:-1}
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

cd "$work"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca
printf 'subjectAltName=IP:127.0.0.1\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
for name in server client; do
    ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $name.key -out $name.csr -subj /CN=$name
    ossl x509 -req -in $name.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $name.crt -days 2 -extfile $name.ext
done
cd - >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12+$13}'; }
HZ=$(getconf CLK_TCK)
TLS=(--tls --cacert "$work/ca.crt" --cert "$work/client.crt" --key "$work/client.key")
TLS_SERVER=(--tls-cert-file "$work/server.crt" --tls-key-file "$work/server.key" --tls-ca-cert-file "$work/ca.crt")

run() {  # name pid port
    local name=$1 pid=$2 port=$3
    redis-cli -p "$port" "${TLS[@]}" FLUSHALL >/dev/null
    for wl in "set 1 $N_P1" "get 1 $N_P1" "set 16 $N_P16" "get 16 $N_P16"; do
        set -- $wl
        local before after start end out rps
        before=$(ticks "$pid"); start=$(date +%s.%N)
        out=$(taskset -c 1 timeout 120 redis-benchmark -p "$port" "${TLS[@]}" -c 50 -d 100 -r 100000 \
            -n "$3" -P "$2" -t "$1" --csv 2>/dev/null | tail -1)
        after=$(ticks "$pid"); end=$(date +%s.%N)
        rps=$(echo "$out" | awk -F'"' '{print $4}')
        awk -v n="$name" -v w="$1_p$2" -v r="$rps" -v t=$((after - before)) -v hz="$HZ" -v req="$3" \
            -v s="$start" -v e="$end" \
            'BEGIN { printf "%-11s %-8s %12s req/s  %6.2f us/req  cpu %3.0f%%\n", n, w, r, t*1e6/hz/req, 100*t/hz/(e-s) }'
    done
}

for run_no in $(seq 1 "$RUNS"); do
    port=$(free_port)
    taskset -c 0 redis-server --port 0 --tls-port "$port" "${TLS_SERVER[@]}" --save "" --appendonly no \
        --dir "$work" --logfile "$work/redis.log" &
    pids+=($!); rpid=$!
    sleep 0.5
    run redis-server "$rpid" "$port"
    kill "$rpid"; wait "$rpid" 2>/dev/null || true

    port=$(free_port)
    taskset -c 0 "$BIN" --port 0 --tls-port "$port" "${TLS_SERVER[@]}" --save "" --appendonly no \
        --dir "$work" >/dev/null 2>&1 &
    pids+=($!); fpid=$!
    sleep 0.5
    run ferrocache "$fpid" "$port"
    kill "$fpid"; wait "$fpid" 2>/dev/null || true
done
