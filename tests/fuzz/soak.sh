#!/usr/bin/env bash
# Coverage-guided soak run of one fuzz target (or all of them) with libFuzzer:
#
#     bash tests/fuzz/soak.sh TARGET SECONDS     # request restore rdb aof config acl command_args, or all
#
# Builds fuzz/ with cargo-fuzz on the stable toolchain (no sanitizer: `--sanitizer none`; the
# targets check their own properties and peak allocation, see src/fuzz_api.rs), seeds
# fuzz/corpus/TARGET from tests/fuzz/seeds/TARGET, and runs for SECONDS (per target with `all`).
# A failing input is written to fuzz/artifacts/TARGET/ and the script exits 1; replay it with
#     cargo fuzz run --sanitizer none -O TARGET fuzz/artifacts/TARGET/crash-...
# then add a regression test next to the parser's unit tests. Never part of CI (see
# tests/fuzz_props.rs for the bounded run that is).
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGETS=(request restore rdb aof config acl command_args)
target=${1:?usage: soak.sh TARGET|all SECONDS}
seconds=${2:?usage: soak.sh TARGET|all SECONDS}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --quiet
fi

run_one() {
    local t=$1
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    cp -n "tests/fuzz/seeds/$t/"*.bin "fuzz/corpus/$t/" 2>/dev/null || true
    local before
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    # request inputs must reach past the 64 KiB inline limit
    local max_len=65536
    [ "$t" = request ] && max_len=70000
    (cd fuzz && cargo fuzz build --sanitizer none -O "$t")
    echo "== $t for ${seconds}s"
    # -timeout: one input taking 10 s is a hang (2 s is kept as a slow unit); -rss_limit_mb:
    # the whole process's memory.
    (cd fuzz && cargo fuzz run --sanitizer none -O "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -report_slow_units=2 -rss_limit_mb=2048 -max_len="$max_len" \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 2>&1) \
        | grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|thread .* panicked)|panicked at|Broken|crash-|timeout-|oom-' || true
    local after
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    if [ "$after" -gt "$before" ]; then
        echo "!! $t: new failing input(s) in fuzz/artifacts/$t/"
        return 1
    fi
    echo "   $t: no failure; corpus $(find "fuzz/corpus/$t" -type f | wc -l) inputs"
}

status=0
if [ "$target" = all ]; then
    for t in "${TARGETS[@]}"; do run_one "$t" || status=1; done
else
    run_one "$target" || status=1
fi
exit $status
