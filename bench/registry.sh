#!/usr/bin/env bash
# skopeo pushes a ~500 MB, 10-layer image to Berth's registry and to the CNCF
# registry (distribution 2.8.2), then pulls it back to a dir:, side by side.
# Each run starts both registries on empty storage. Prints the median seconds,
# MB/s and berth/distribution throughput ratios. With wrk installed, also 64
# concurrent clients GETting one manifest (requests/s, p99 latency) and each
# server's peak RSS.
# Environment: BERTH_BIN, REGISTRY_SIZE_MB (500), REGISTRY_LAYERS (10), RUNS (3).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../scripts/detach.sh
source "$repo/scripts/detach.sh"

size_mb=${REGISTRY_SIZE_MB:-500} layers=${REGISTRY_LAYERS:-10} runs=${RUNS:-3}
peer_port=5591 berth_port=5592
require_berth
command -v skopeo >/dev/null || fail "skopeo not found: run scripts/install-deps.sh"
archive=$images_cache/docker-archive-${size_mb}mb-${layers}layers.tar
"$repo/Tests/fixtures/make-docker-archive.sh" "$archive" "$size_mb" "$layers"
archive_mb=$(awk -v b="$(stat -c %s "$archive")" 'BEGIN { printf "%.1f", b / 1048576 }')
work=$(mktemp -d /var/tmp/berth-bench-registry.XXXXXX)
berth_pid=

stop_berth() {
    if [ -n "$berth_pid" ]; then
        kill -TERM "$berth_pid" 2>/dev/null || true
        while kill -0 "$berth_pid" 2>/dev/null; do sleep 0.05; done
        berth_pid=
    fi
    rm -rf "$work/berth-root"
}

start_berth() {
    stop_berth
    detach "$work/berth.log" "$berth_bin" registry serve --addr "127.0.0.1:$berth_port" --root "$work/berth-root"
    berth_pid=$!
    until curl -s -o /dev/null "http://127.0.0.1:$berth_port/v2/"; do
        kill -0 "$berth_pid" 2>/dev/null || { tail -n 20 "$work/berth.log" >&2; fail "berth registry exited"; }
        sleep 0.05
    done
}

cleanup() {
    stop_berth
    "$repo/scripts/peer-registry.sh" stop "$peer_port" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# copy SRC DEST: seconds for one skopeo copy.
copy() {
    local start
    start=$(now)
    skopeo --insecure-policy copy --quiet --src-tls-verify=false --dest-tls-verify=false "$1" "$2" >/dev/null
    elapsed "$start" "$(now)"
}

peer_push=() peer_pull=() berth_push=() berth_pull=()
for ((run = 1; run <= runs; run++)); do
    "$repo/scripts/peer-registry.sh" stop "$peer_port" >/dev/null 2>&1
    "$repo/scripts/peer-registry.sh" start "$peer_port" 2>/dev/null
    start_berth
    rm -rf "$work/pulled"
    peer_push+=("$(copy "docker-archive:$archive" "docker://127.0.0.1:$peer_port/bench/image:1")")
    peer_pull+=("$(copy "docker://127.0.0.1:$peer_port/bench/image:1" "dir:$work/pulled")")
    rm -rf "$work/pulled"
    berth_push+=("$(copy "docker-archive:$archive" "docker://127.0.0.1:$berth_port/bench/image:1")")
    berth_pull+=("$(copy "docker://127.0.0.1:$berth_port/bench/image:1" "dir:$work/pulled")")
    rm -rf "$work/pulled"
done

echo "registry: ${archive_mb} MB image, ${layers} layers, skopeo, median of ${runs} runs"
awk -v mb="$archive_mb" -v dp="$(median "${peer_push[@]}")" -v bp="$(median "${berth_push[@]}")" \
    -v dl="$(median "${peer_pull[@]}")" -v bl="$(median "${berth_pull[@]}")" 'BEGIN {
    printf "  push  distribution %7.2f s %7.1f MB/s   berth %7.2f s %7.1f MB/s   berth/distribution %.2fx\n", dp, mb / dp, bp, mb / bp, dp / bp
    printf "  pull  distribution %7.2f s %7.1f MB/s   berth %7.2f s %7.1f MB/s   berth/distribution %.2fx\n", dl, mb / dl, bl, mb / bl, dl / bl
}'

if command -v wrk >/dev/null; then
    accept='Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'
    peer_pid=$(cat "/tmp/peer-registry-$peer_port.pid")
    echo "manifest GET, 64 connections, 10 s (wrk):"
    for side in distribution berth; do
        if [ "$side" = berth ]; then port=$berth_port pid=$berth_pid; else port=$peer_port pid=$peer_pid; fi
        wrk -t2 -c64 -d10s --latency -H "$accept" "http://127.0.0.1:$port/v2/bench/image/manifests/1" >"$work/wrk-$side"
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk-$side")
        p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk-$side")
        rss=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
        printf "  %-12s %10s req/s   p99 %8s   peak RSS %7s MB\n" "$side" "$rps" "$p99" "$rss"
    done
fi
