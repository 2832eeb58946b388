#!/usr/bin/env bash
# End-to-end check of the container image (docker/Dockerfile) with podman: installs podman if
# missing, builds the static release binary, builds the image, runs it with a published
# loopback port, talks to it with redis-cli, checks the process runs as uid 999, then removes
# the container and the image. Exits 0 when every check passed, 1 otherwise.
#
# tests/run.sh runs it last when it can (root or passwordless sudo; FERROCACHE_SKIP_CONTAINER=1
# skips it). By hand: sudo tests/container.sh   (from anywhere: it cds to the repository)
# Environment: PORT (host port, default a free one in 20000-30000), KEEP_IMAGE=1 to keep the
# image, SKIP_BUILD=1 to reuse an already built static binary.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
NAME="ferrocache-container-test-$$"
IMAGE="ferrocache:test"
TARGET=x86_64-unknown-linux-gnu
# The Dockerfile copies the binary from the build context, so build inside the repository.
unset CARGO_TARGET_DIR
BINARY="target/$TARGET/release/ferrocache"
WORK=$(mktemp -d)
failures=0

log() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }
check() { # check <description> <expected> <actual>
    if [ "$2" = "$3" ]; then printf 'ok   %s\n' "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# podman's defaults assume systemd and cgroup v2 ulimits; this sandbox has neither.
cat > "$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = []
EOF
export CONTAINERS_CONF="$WORK/containers.conf"
podman_() { podman --runtime runc --cgroup-manager=cgroupfs "$@"; }

cleanup() {
    podman_ rm -f "$NAME" >/dev/null 2>&1 || true
    podman_ volume rm -f "$NAME-data" >/dev/null 2>&1 || true
    if [ "${KEEP_IMAGE:-0}" != 1 ]; then podman_ rmi -f "$IMAGE" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
    log "installing podman and runc"
    DEBIAN_FRONTEND=noninteractive apt-get install -y podman runc >/dev/null
fi
command -v redis-cli >/dev/null || {
    log "installing redis-tools (redis-cli)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y redis-tools >/dev/null
}

if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -x "$BINARY" ]; then
    log "building the static release binary ($TARGET, crt-static)"
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target "$TARGET"
    strip "$BINARY"
fi
if file "$BINARY" | grep -Eq 'statically linked|static-pie linked'; then
    printf 'ok   binary is statically linked (%s bytes)\n' "$(stat -c %s "$BINARY")"
else
    fail "binary is not statically linked: $(file "$BINARY")"
fi

log "building $IMAGE"
podman_ build -q --layers=false -t "$IMAGE" -f docker/Dockerfile . >/dev/null
size=$(podman_ image inspect "$IMAGE" --format '{{.Size}}')
printf 'ok   image built, %s bytes\n' "$size"
# The image is the binary and a config file; redis:7-alpine is about 40 MB uncompressed.
[ "$size" -lt 16000000 ] || fail "image is $size bytes, more than 16 MB"

PORT=${PORT:-}
if [ -z "$PORT" ]; then
    for _ in $(seq 50); do
        PORT=$(shuf -i 20000-30000 -n 1)
        ss -ltn | grep -q ":$PORT " || break
    done
fi

log "running on 127.0.0.1:$PORT with --maxmemory 64mb"
# The image defaults come from FERROCACHE_BASE_CONFIG; the config file is also passed explicitly
# here to check that a config file as first argument works with them
# (see docker/README.md, "Arguments").
podman_ run -d --name "$NAME" -p "127.0.0.1:$PORT:6379" "$IMAGE" \
    /etc/ferrocache/ferrocache.conf --maxmemory 64mb >/dev/null

ready=""
for _ in $(seq 100); do
    if [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ]; then ready=1; break; fi
    sleep 0.1
done
[ -n "$ready" ] || { podman_ logs "$NAME" || true; fail "no PONG on port $PORT"; }
check "PING" "PONG" "$(redis-cli -p "$PORT" ping 2>&1)"
check "CONFIG GET maxmemory" "$(printf 'maxmemory\n67108864')" \
    "$(redis-cli -p "$PORT" config get maxmemory 2>&1)"
check "CONFIG GET dir" "$(printf 'dir\n/data')" "$(redis-cli -p "$PORT" config get dir 2>&1)"
check "SET in /data-backed server" "OK" "$(redis-cli -p "$PORT" set container:k v 2>&1)"
check "GET" "v" "$(redis-cli -p "$PORT" get container:k 2>&1)"

pid=$(podman_ inspect "$NAME" --format '{{.State.Pid}}')
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "?")
check "server process uid" "999" "$uid"
check "image user" "999:999" "$(podman_ image inspect "$IMAGE" --format '{{.Config.User}}')"
check "entrypoint" "[/ferrocache]" "$(podman_ image inspect "$IMAGE" --format '{{.Config.Entrypoint}}')"
check "working dir" "/data" "$(podman_ image inspect "$IMAGE" --format '{{.Config.WorkingDir}}')"
# `ls -ln` on the container's /data through its root filesystem, no shell needed inside.
root=$(podman_ mount "$NAME")
check "/data owner" "999:999" "$(stat -c %u:%g "$root/data")"
podman_ umount "$NAME" >/dev/null || true

log "SIGTERM (podman stop) shuts down cleanly as PID 1"
podman_ stop -t 10 "$NAME" >/dev/null
check "exit code after podman stop" "0" "$(podman_ inspect "$NAME" --format '{{.State.ExitCode}}')"
podman_ rm -f "$NAME" >/dev/null

wait_pong() { # wait_pong <redis-cli args...>
    for _ in $(seq 100); do
        [ "$(redis-cli -p "$PORT" "$@" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    return 1
}

log "options only, with a password (replaces CMD: protected-mode is on, but a password is set)"
podman_ run -d --name "$NAME" -p "127.0.0.1:$PORT:6379" "$IMAGE" \
    --maxmemory 64mb --requirepass container-pw >/dev/null
wait_pong -a container-pw --no-auth-warning || fail "no PONG with the password"
check "AUTH'd PING" "PONG" "$(redis-cli -p "$PORT" -a container-pw --no-auth-warning ping 2>&1)"
check "NOAUTH without it" "NOAUTH Authentication required." \
    "$(redis-cli -p "$PORT" ping 2>&1 | head -1)"
podman_ rm -f "$NAME" >/dev/null

log "options only, no password (redis:7-alpine answers; see docker/README.md)"
podman_ run -d --name "$NAME" -p "127.0.0.1:$PORT:6379" "$IMAGE" --maxmemory 64mb >/dev/null
wait_pong || true
reply=$(redis-cli -p "$PORT" ping 2>&1 | head -1)
check "options-only form answers (image defaults apply)" "PONG" "$reply"
check "options-only form applies its option" "67108864" \
    "$(redis-cli -p "$PORT" config get maxmemory | tail -1)"
podman_ rm -f "$NAME" >/dev/null

log "compose-style command: redis-server --maxmemory 32mb"
podman_ run -d --name "$NAME" -p "127.0.0.1:$PORT:6379" "$IMAGE" redis-server --maxmemory 32mb >/dev/null
wait_pong || true
check "a leading redis-server is the program name, not a config file" "33554432" \
    "$(redis-cli -p "$PORT" config get maxmemory 2>&1 | tail -1)"
podman_ rm -f "$NAME" >/dev/null

log "config file as the first argument"
cat > "$WORK/redis.conf" <<'EOF'
bind * -::*
protected-mode no
maxmemory 32mb
EOF
podman_ run -d --name "$NAME" -p "127.0.0.1:$PORT:6379" \
    -v "$WORK/redis.conf:/usr/local/etc/redis/redis.conf:ro" "$IMAGE" \
    /usr/local/etc/redis/redis.conf >/dev/null
wait_pong || fail "no PONG with a mounted redis.conf"
check "mounted redis.conf" "$(printf 'maxmemory\n33554432')" \
    "$(redis-cli -p "$PORT" config get maxmemory 2>&1)"

podman_ rm -f "$NAME" >/dev/null

log "health check inside the image (no shell): /ferrocache ping"
podman_ run -d --name "$NAME" -p "127.0.0.1:$PORT:6379" "$IMAGE" --requirepass hc-pw >/dev/null
wait_pong -a hc-pw --no-auth-warning || fail "no PONG before the health check"
check "ferrocache ping in the container" "PONG" \
    "$(podman_ exec -e REDISCLI_AUTH=hc-pw "$NAME" /ferrocache ping 2>&1)"
if podman_ exec "$NAME" /ferrocache ping >/dev/null 2>&1; then
    fail "ferrocache ping without the password should fail"
else
    printf 'ok   ferrocache ping without the password fails\n'
fi
podman_ rm -f "$NAME" >/dev/null

log "a named volume with --appendonly yes: data back after a restart and after kill -9"
VOLUME="$NAME-data"
podman_ volume create "$VOLUME" >/dev/null
run_aof() {
    podman_ run -d --name "$NAME" -p "127.0.0.1:$PORT:6379" -v "$VOLUME:/data" "$IMAGE" \
        --appendonly yes --appendfsync always >/dev/null
    wait_pong || fail "no PONG with the volume"
}
run_aof
for i in $(seq 1 100); do echo "SET aof:$i v$i"; done | redis-cli -p "$PORT" >/dev/null
check "keys written" "100" "$(redis-cli -p "$PORT" dbsize 2>&1)"
podman_ stop -t 10 "$NAME" >/dev/null
podman_ start "$NAME" >/dev/null
wait_pong || fail "no PONG after podman start"
check "keys back after stop/start" "100" "$(redis-cli -p "$PORT" dbsize 2>&1)"
check "a value back after stop/start" "v42" "$(redis-cli -p "$PORT" get aof:42 2>&1)"
check "appendonly after restart" "1" \
    "$(redis-cli -p "$PORT" info persistence | tr -d '\r' | awk -F: '/^aof_enabled:/ {print $2}')"
check "write after restart" "OK" "$(redis-cli -p "$PORT" set aof:last after-restart 2>&1)"
podman_ kill -s KILL "$NAME" >/dev/null
podman_ wait "$NAME" >/dev/null 2>&1 || true
podman_ rm -f "$NAME" >/dev/null
run_aof
check "keys back in a new container after kill -9" "101" "$(redis-cli -p "$PORT" dbsize 2>&1)"
check "last acknowledged write survived kill -9" "after-restart" \
    "$(redis-cli -p "$PORT" get aof:last 2>&1)"
podman_ rm -f "$NAME" >/dev/null
podman_ volume rm -f "$VOLUME" >/dev/null

if [ "$failures" -eq 0 ]; then
    log "all container checks passed"
    exit 0
fi
log "$failures container check(s) failed"
exit 1
