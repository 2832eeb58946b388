#!/usr/bin/env bash
# The whole test suite, as the README says: `bash tests/run.sh` from any directory.
#
# Installs what the tests need when it is missing (redis-server, the oracle of the differential
# and hostile-protocol tests; memcached and nginx for the memcached protocol and the response
# cache; redis-py and pytest for the client tests), then runs
#   1. cargo test --all-targets   unit, TCP integration, differential, protocol, Rust client tests
#                                 (benches are compiled, not run); then the integration tests
#                                 again with their servers on `--event-loop epoll`
#   2. pytest tests/python        redis-py against the debug binary (and against redis-server),
#                                 then again with that binary on `--event-loop epoll`
#   3. tests/container.sh         the container image with podman (when run as root)
# Quiet on success, loud on failure. Idempotent: a second run installs nothing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '%s\n' "tests/run.sh: $*" >&2; }

# Runs a command quietly; on failure prints everything it said and fails.
quiet() {
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        say "FAILED: $*"
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

install_redis_server() {
    if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 \
        && command -v redis-sentinel >/dev/null 2>&1; then
        return 0
    fi
    say "installing redis-server, redis-sentinel and redis-tools"
    export DEBIAN_FRONTEND=noninteractive
    # `apt-get update` only when the package lists are missing or stale.
    if ! as_root apt-get install -y -q redis-server redis-sentinel redis-tools >/dev/null 2>&1; then
        quiet as_root apt-get update -q
        quiet as_root apt-get install -y -q redis-server redis-sentinel redis-tools
    fi
    # Debian's packages start a system redis on 6379 and a sentinel on 26379; the tests never use
    # them, but stop them so they do not hold the default ports. Harmless without an init system.
    as_root service redis-server stop >/dev/null 2>&1 || true
    as_root service redis-sentinel stop >/dev/null 2>&1 || true
}

install_openssl() {
    # The TLS tests make their certificates with the openssl command.
    if command -v openssl >/dev/null 2>&1; then
        return 0
    fi
    say "installing openssl"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -q openssl >/dev/null 2>&1; then
        quiet as_root apt-get update -q
        quiet as_root apt-get install -y -q openssl
    fi
}

install_python_packages() {
    # RESP3 (`protocol=3`) needs redis-py >= 5; Debian's python3-redis may be older.
    if python3 -c 'import sys, redis, pytest, rq, celery; sys.exit(int(redis.__version__.split(".")[0]) < 5 or int(rq.__version__.split(".")[0]) < 3)' >/dev/null 2>&1; then
        return 0
    fi
    say "installing redis-py and pytest"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get install -y -q python3-pip >/dev/null 2>&1 || {
            quiet as_root apt-get update -q
            quiet as_root apt-get install -y -q python3-pip
        }
    fi
    # Debian's system Python refuses pip installs (PEP 668) unless told otherwise.
    if ! python3 -m pip install --quiet --disable-pip-version-check --upgrade redis pytest 'rq>=3' 'celery[redis]>=5' >/dev/null 2>&1; then
        quiet python3 -m pip install --quiet --disable-pip-version-check --upgrade --break-system-packages redis pytest 'rq>=3' 'celery[redis]>=5'
    fi
}

install_iproute2() {
    # `ss` reads a listening socket's backlog (tests/config.rs checks tcp-backlog).
    if command -v ss >/dev/null 2>&1; then
        return 0
    fi
    say "installing iproute2"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -q iproute2 >/dev/null 2>&1; then
        quiet as_root apt-get update -q
        quiet as_root apt-get install -y -q iproute2
    fi
}

# Debian's memcached is the oracle of tests/memcached.rs; nginx with the srcache and memc
# modules runs the response-cache recipe (tests/python/test_nginx_cache.py).
install_memcached_and_nginx() {
    if command -v memcached >/dev/null 2>&1 && command -v nginx >/dev/null 2>&1 \
        && [ -e /usr/lib/nginx/modules/ngx_http_srcache_filter_module.so ] \
        && [ -e /usr/lib/nginx/modules/ngx_http_memc_module.so ]; then
        return 0
    fi
    say "installing memcached and nginx with the srcache and memc modules"
    export DEBIAN_FRONTEND=noninteractive
    local pkgs=(memcached nginx libnginx-mod-http-srcache-filter libnginx-mod-http-memc)
    if ! as_root apt-get install -y -q "${pkgs[@]}" >/dev/null 2>&1; then
        quiet as_root apt-get update -q
        quiet as_root apt-get install -y -q "${pkgs[@]}"
    fi
    # The packages start system daemons on 11211 and 80 where there is an init system; the
    # tests start their own on free ports.
    as_root service memcached stop >/dev/null 2>&1 || true
    as_root service nginx stop >/dev/null 2>&1 || true
}

# BullMQ (tests/python/test_bullmq.py) runs on Node.js with the package of tests/node/ (no lock
# file is kept: npm resolves bullmq ^5 from the registry it is configured with).
install_node_packages() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        say "installing nodejs and npm"
        export DEBIAN_FRONTEND=noninteractive
        if ! as_root apt-get install -y -q nodejs npm >/dev/null 2>&1; then
            quiet as_root apt-get update -q
            quiet as_root apt-get install -y -q nodejs npm
        fi
    fi
    if [ -d tests/node/node_modules/bullmq ]; then
        return 0
    fi
    say "installing bullmq (tests/node)"
    (cd tests/node && quiet npm install --no-package-lock --no-audit --no-fund --silent)
}

# Debian's Ruby and ruby-redis run the Sidekiq-style flow of tests/ruby/
# (tests/python/test_sidekiq_style.py).
install_ruby() {
    if command -v ruby >/dev/null 2>&1 && ruby -e 'require "redis"' >/dev/null 2>&1; then
        return 0
    fi
    say "installing ruby and ruby-redis"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -q ruby ruby-redis >/dev/null 2>&1; then
        quiet as_root apt-get update -q
        quiet as_root apt-get install -y -q ruby ruby-redis
    fi
}

# twemproxy (Debian's nutcracker) shards keys over several ferrocache nodes in
# tests/python/test_twemproxy.py, the recipe of docs/scale-out.md.
install_nutcracker() {
    if command -v nutcracker >/dev/null 2>&1 || [ -x /usr/sbin/nutcracker ]; then
        return 0
    fi
    say "installing nutcracker (twemproxy)"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -q nutcracker >/dev/null 2>&1; then
        quiet as_root apt-get update -q
        quiet as_root apt-get install -y -q nutcracker
    fi
}

install_redis_server
install_openssl
install_nutcracker
install_memcached_and_nginx
install_python_packages
install_iproute2
install_node_packages
install_ruby

start=$SECONDS
failed=0

# cargo's output is kept aside and shown whole on failure (it names the failing tests);
# --no-fail-fast so one failing test binary does not hide failures in the others.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! cargo test --all-targets --no-fail-fast >"$log" 2>&1; then
    cat "$log" >&2
    say "cargo test FAILED"
    failed=1
fi
# One summary line from cargo's per-binary "test result: ok. N passed; M failed; K ignored" lines.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "cargo: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"

# The integration tests again with plain TCP connections on the epoll loop (`event-loop
# epoll`, net/event_loop.rs): every test's server then serves them there and moves them to
# tokio when they must wait. Nothing is rebuilt.
if ! FERROCACHE_TEST_EVENT_LOOP=epoll cargo test --tests --no-fail-fast >"$log" 2>&1; then
    cat "$log" >&2
    say "cargo test (event-loop epoll) FAILED"
    failed=1
fi
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "cargo, event-loop epoll: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"

# The Python tests run even when cargo's failed, so one run reports every failure.
if quiet cargo build --quiet; then
    export FERROCACHE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/ferrocache"
    if ! python3 -m pytest -q --tb=short -p no:cacheprovider tests/python; then
        say "pytest FAILED"
        failed=1
    fi
    # redis-py and the ecosystem libraries again, every ferrocache they start on the epoll
    # loop (`--event-loop epoll` after whatever else it is given).
    epoll_bin="$(mktemp -d)/ferrocache-epoll"
    printf '#!/bin/sh\nexec "%s" "$@" --event-loop epoll\n' "$FERROCACHE_BIN" >"$epoll_bin"
    chmod +x "$epoll_bin"
    if ! FERROCACHE_BIN="$epoll_bin" python3 -m pytest -q --tb=short -p no:cacheprovider tests/python; then
        say "pytest (event-loop epoll) FAILED"
        failed=1
    fi
    rm -rf "$(dirname "$epoll_bin")"
else
    failed=1
fi

# The container image (docker/Dockerfile) built and run with podman: needs root for apt-get and
# podman, so it runs where root is available (CI) and is skipped, with a word, elsewhere.
if [ "${FERROCACHE_SKIP_CONTAINER:-0}" = 1 ]; then
    say "container test skipped (FERROCACHE_SKIP_CONTAINER=1)"
elif [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then
    if ! quiet as_root bash tests/container.sh; then
        say "container test FAILED"
        failed=1
    fi
else
    say "container test skipped (needs root or passwordless sudo for podman)"
fi

if [ "$failed" -ne 0 ]; then
    say "FAILED after $((SECONDS - start)) s"
    exit 1
fi
say "all tests passed in $((SECONDS - start)) s"
