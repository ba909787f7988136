#!/usr/bin/env bash
# Builds the libFuzzer harnesses, replays every committed corpus input, then fuzzes each harness
# briefly from its corpus; any crash, hang (30 s) or excess memory (2 GB) fails the run.
# Usage: fuzz/run.sh [SECONDS]   SECONDS of fuzzing per harness (default 30; 0 replays only).
# FUZZ_HARNESSES="oci template" limits the run to those harnesses.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds=${1:-30}
harnesses=(${FUZZ_HARNESSES:-dockerfile archive oci registry template})
flags=(--scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)

work=$(mktemp -d /tmp/berth-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "fuzz/run.sh: building the harnesses (.build-fuzz)"
if ! swift build "${flags[@]}" > "$work/build.log" 2>&1; then
    # The sanitizer runtime's symbols draw one linker warning each.
    grep -v "Cannot export local symbol" "$work/build.log" | tail -n 60
    echo "fuzz/run.sh: the harnesses did not build (log above)" >&2
    exit 1
fi
bin=$(swift build "${flags[@]}" --show-bin-path)

# Swift's own crash backtracer would take the signal before libFuzzer saves the input. Leaks are
# not checked: Foundation leaks in paths Berth cannot change (NSRegularExpression on a bad pattern).
export SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0
for harness in "${harnesses[@]}"; do
    corpus=corpus/$harness
    # libFuzzer first runs every corpus input (the regression check), then fuzzes; new inputs go
    # to a scratch directory, so the committed corpus stays as it is.
    limit=(-max_total_time="$seconds") then=", then fuzzing for ${seconds}s"
    [ "$seconds" -gt 0 ] || limit=(-runs=0) then=""
    echo "fuzz/run.sh: $harness: replaying $(ls "$corpus" | wc -l) inputs$then"
    mkdir -p "$work/$harness" "$work/$harness-artifacts"
    if ! "$bin/fuzz-$harness" "${limit[@]}" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 -dict="dict/$harness.dict" \
        -artifact_prefix="$work/$harness-artifacts/" "$work/$harness" "$corpus" > "$work/$harness.log" 2>&1; then
        tail -n 60 "$work/$harness.log"
        for input in "$work/$harness-artifacts"/*; do
            [ -e "$input" ] || continue
            echo "fuzz/run.sh: $harness: failing input $(basename "$input") (base64): $(base64 -w0 "$input")"
        done
        echo "fuzz/run.sh: $harness: an input fails (log above)" >&2
        exit 1
    fi
    grep -E "^stat::number_of_executed_units|^Done" "$work/$harness.log" | tr '\n' ' '
    echo
done
echo "fuzz/run.sh: ${#harnesses[@]} harnesses passed"
