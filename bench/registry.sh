#!/usr/bin/env bash
# skopeo pushes a ~500 MB, 10-layer image to Berth's registry and to the CNCF
# registry (distribution 2.8.2), then pulls it back to a dir:, side by side.
# Each run starts both registries on empty storage. Prints the median seconds,
# MB/s, the CPU seconds each server spent, and berth/distribution throughput
# ratios. With wrk installed, also 64 concurrent clients GETting one manifest
# (requests/s, p99 latency) and each server's peak RSS. Last, each server on
# fresh storage takes one BIG_BLOB_MB blob streamed by curl (chunked PATCH, then
# PUT with the digest) and reports its peak RSS.
# Environment: BERTH_BIN, REGISTRY_SIZE_MB (500), REGISTRY_LAYERS (10), RUNS (3),
# BIG_BLOB_MB (2048).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../scripts/detach.sh
source "$repo/scripts/detach.sh"

size_mb=${REGISTRY_SIZE_MB:-500} layers=${REGISTRY_LAYERS:-10} runs=${RUNS:-3} big_mb=${BIG_BLOB_MB:-2048}
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

peer_pid() { cat "/tmp/peer-registry-$peer_port.pid"; }

# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }

# Peak RSS of a process in MB.
peak_rss() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# copy SRC DEST SERVER_PID: "seconds cpu" for one skopeo copy, cpu being the
# CPU seconds the server spent on it.
copy() {
    local start end cpu
    cpu=$(cpu_seconds "$3")
    start=$EPOCHREALTIME
    skopeo --insecure-policy copy --quiet --src-tls-verify=false --dest-tls-verify=false "$1" "$2" >/dev/null
    end=$EPOCHREALTIME
    echo "$(elapsed "$start" "$end") $(elapsed "$cpu" "$(cpu_seconds "$3")")"
}

peer_push=() peer_pull=() berth_push=() berth_pull=()
peer_push_cpu=() peer_pull_cpu=() berth_push_cpu=() berth_pull_cpu=()
for ((run = 1; run <= runs; run++)); do
    "$repo/scripts/peer-registry.sh" stop "$peer_port" >/dev/null 2>&1
    "$repo/scripts/peer-registry.sh" start "$peer_port" 2>/dev/null
    start_berth
    rm -rf "$work/pulled"
    read -r t c < <(copy "docker-archive:$archive" "docker://127.0.0.1:$peer_port/bench/image:1" "$(peer_pid)")
    peer_push+=("$t") peer_push_cpu+=("$c")
    read -r t c < <(copy "docker://127.0.0.1:$peer_port/bench/image:1" "dir:$work/pulled" "$(peer_pid)")
    peer_pull+=("$t") peer_pull_cpu+=("$c")
    rm -rf "$work/pulled"
    read -r t c < <(copy "docker-archive:$archive" "docker://127.0.0.1:$berth_port/bench/image:1" "$berth_pid")
    berth_push+=("$t") berth_push_cpu+=("$c")
    read -r t c < <(copy "docker://127.0.0.1:$berth_port/bench/image:1" "dir:$work/pulled" "$berth_pid")
    berth_pull+=("$t") berth_pull_cpu+=("$c")
    rm -rf "$work/pulled"
done

echo "registry: ${archive_mb} MB image, ${layers} layers, skopeo, median of ${runs} runs"
awk -v mb="$archive_mb" -v dp="$(median "${peer_push[@]}")" -v bp="$(median "${berth_push[@]}")" \
    -v dl="$(median "${peer_pull[@]}")" -v bl="$(median "${berth_pull[@]}")" \
    -v dpc="$(median "${peer_push_cpu[@]}")" -v bpc="$(median "${berth_push_cpu[@]}")" \
    -v dlc="$(median "${peer_pull_cpu[@]}")" -v blc="$(median "${berth_pull_cpu[@]}")" 'BEGIN {
    printf "  push  distribution %7.2f s %7.1f MB/s   berth %7.2f s %7.1f MB/s   berth/distribution %.2fx\n", dp, mb / dp, bp, mb / bp, dp / bp
    printf "  pull  distribution %7.2f s %7.1f MB/s   berth %7.2f s %7.1f MB/s   berth/distribution %.2fx\n", dl, mb / dl, bl, mb / bl, dl / bl
    printf "  server CPU seconds: push distribution %.2f berth %.2f; pull distribution %.2f berth %.2f\n", dpc, bpc, dlc, blc
}'

if command -v wrk >/dev/null; then
    accept='Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'
    echo "manifest GET, 64 connections, 10 s (wrk):"
    for side in distribution berth; do
        if [ "$side" = berth ]; then port=$berth_port pid=$berth_pid; else port=$peer_port pid=$(peer_pid); fi
        wrk -t2 -c64 -d10s --latency -H "$accept" "http://127.0.0.1:$port/v2/bench/image/manifests/1" >"$work/wrk-$side"
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk-$side")
        p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk-$side")
        rss=$(peak_rss "$pid")
        printf "  %-12s %10s req/s   p99 %8s   peak RSS %7s MB\n" "$side" "$rps" "$p99" "$rss"
    done
fi

# upload_big PORT: streams a BIG_BLOB_MB blob of zeros as one chunked PATCH, then
# PUTs the digest; fails unless the registry answers 201.
upload_big() {
    local location status
    location=$(curl -sS -o /dev/null -D - -X POST "http://127.0.0.1:$1/v2/bench/big/blobs/uploads/" |
        awk 'tolower($1) == "location:" { sub(/\r$/, "", $2); print $2 }')
    [ -n "$location" ] || fail "no upload location from port $1"
    case $location in http*) ;; *) location=http://127.0.0.1:$1$location ;; esac
    location=$(head -c "$((big_mb << 20))" /dev/zero |
        curl -sS -o /dev/null -D - -X PATCH -H 'Content-Type: application/octet-stream' -H 'Expect:' -T - "$location" |
        awk 'tolower($1) == "location:" { sub(/\r$/, "", $2); print $2 }')
    [ -n "$location" ] || fail "the ${big_mb} MB PATCH to port $1 got no location back"
    case $location in http*) ;; *) location=http://127.0.0.1:$1$location ;; esac
    case $location in *\?*) location=$location\& ;; *) location=$location\? ;; esac
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "${location}digest=$big_digest")
    [ "$status" = 201 ] || fail "finishing the ${big_mb} MB upload on port $1 answered $status"
}

big_digest=sha256:$(head -c "$((big_mb << 20))" /dev/zero | sha256sum | cut -d' ' -f1)
echo "one ${big_mb} MB blob upload (curl, chunked PATCH), each server on fresh storage:"
"$repo/scripts/peer-registry.sh" stop "$peer_port" >/dev/null 2>&1
"$repo/scripts/peer-registry.sh" start "$peer_port" 2>/dev/null
start_berth
for side in distribution berth; do
    if [ "$side" = berth ]; then port=$berth_port pid=$berth_pid; else port=$peer_port pid=$(peer_pid); fi
    start=$EPOCHREALTIME
    upload_big "$port"
    end=$EPOCHREALTIME
    seconds=$(elapsed "$start" "$end")
    printf "  %-12s %7.2f s   peak RSS %7s MB\n" "$side" "$seconds" "$(peak_rss "$pid")"
done
