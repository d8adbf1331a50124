#!/usr/bin/env bash
# The reliability campaigns, bounded in time: every libFuzzer target in fuzz/ (cargo-fuzz),
# one at a time, then the long proptest run of tests/properties.rs.
#
#   scripts/fuzz.sh                  # both campaigns (about 15 minutes on 2 cores)
#   scripts/fuzz.sh fuzz [TARGET...] # fuzz targets only: decode_state transcoding upcast envelope
#   scripts/fuzz.sh proptest         # the proptest campaign only
#
# Settings (environment):
#   RUNS=1000000      inputs per fuzz target (libFuzzer -runs)
#   MAX_TIME=600      seconds per fuzz target at most (libFuzzer -max_total_time)
#   CASES=1000000     cases per untrusted-input property (PROPTEST_CASES)
#   REPLAY_CASES=20000  cases per application property (PROPTEST_REPLAY_CASES)
#   JOBS=1            cargo build jobs
#
# cargo-fuzz needs nightly rustc flags (-Z sanitizer=address); this script runs it on the
# stable toolchain with RUSTC_BOOTSTRAP=1 (for the fuzz build only), and installs cargo-fuzz
# from crates.io if it is missing. Seeds are in fuzz/seeds/<target>; libFuzzer adds what it
# finds to fuzz/corpus/<target>, crashes go to fuzz/artifacts/<target>, logs to fuzz/logs.
# Each property runs alone (one core), within MAX_TIME seconds.
# Exits non-zero on the first crash or failing property.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-1000000}"
MAX_TIME="${MAX_TIME:-600}"
CASES="${CASES:-1000000}"
REPLAY_CASES="${REPLAY_CASES:-20000}"
JOBS="${JOBS:-1}"
TARGETS=(decode_state transcoding upcast envelope)

fuzz() {
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=("${TARGETS[@]}")
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked -j "$JOBS"
    cd "$root/fuzz"
    mkdir -p logs
    export RUSTC_BOOTSTRAP=1 CARGO_BUILD_JOBS="$JOBS"
    cargo fuzz build --fuzz-dir . >logs/build.log 2>&1 || { tail -n 40 logs/build.log; return 1; }
    for target in "${targets[@]}"; do
        mkdir -p "corpus/$target"
        echo "== fuzz $target: $RUNS inputs, at most ${MAX_TIME}s"
        local start=$SECONDS status=0
        timeout --kill-after=30 "$((MAX_TIME + 120))" \
            cargo fuzz run --fuzz-dir . "$target" "corpus/$target" "seeds/$target" -- \
            -runs="$RUNS" -max_total_time="$MAX_TIME" -dict=dict/json.dict \
            -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
            >"logs/$target.log" 2>&1 || status=$?
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^Done|SUMMARY|panicked' \
            "logs/$target.log" || true
        echo "   exit $status after $((SECONDS - start))s (log: fuzz/logs/$target.log)"
        [ "$status" -eq 0 ] || { tail -n 40 "logs/$target.log"; return "$status"; }
    done
}

proptest() {
    cd "$root"
    echo "== proptest: $CASES cases per untrusted-input property, $REPLAY_CASES per application property"
    cargo test --release -j "$JOBS" --test properties --no-run 2>&1 | tail -n 1
    local tests
    tests=$(cargo test -q --release --test properties -- --list 2>/dev/null | sed -n 's/: test$//p')
    mkdir -p fuzz/logs
    for test in $tests; do
        local start=$SECONDS status=0 log="fuzz/logs/proptest-${test//::/-}.log"
        PROPTEST_CASES="$CASES" PROPTEST_REPLAY_CASES="$REPLAY_CASES" \
            timeout --kill-after=30 "$MAX_TIME" \
            cargo test -q --release --test properties -- --exact "$test" >"$log" 2>&1 ||
            status=$?
        echo "   $test: exit $status after $((SECONDS - start))s (log: $log)"
        [ "$status" -eq 0 ] || { tail -n 40 "$log"; return "$status"; }
    done
}

case "${1:-all}" in
    fuzz) shift; fuzz "$@" ;;
    proptest) proptest ;;
    all) fuzz && proptest ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
esac
