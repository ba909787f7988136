#!/usr/bin/env bash
# skopeo pushes a ~500 MB, 10-layer image to Berth's registry and to the CNCF
# registry (distribution 2.8.2), then pulls it back to a dir:, side by side.
# Each run starts both registries on empty storage. Prints the median seconds,
# MB/s, the CPU seconds each server spent, and berth/distribution throughput
# ratios.
# Three more figures show how much of those times is the client's:
# - push from an OCI layout whose layers skopeo has already compressed: pushing
#   the `docker save` archive makes skopeo gzip 500 MB of random data first;
# - the client floor of a pull: skopeo copying the pulled dir: to another dir:,
#   with no server at all: it reads, hashes, writes and fsyncs every blob, one
#   after another, as a pull does. A server can only take its own part off a
#   pull, and the floor shows how little of a pull's time that is;
# - curl fetching all the image's blobs at once to /dev/null: a lighter client,
#   though on two cores still one that competes with the server for CPU.
# With wrk installed, also 64 concurrent clients GETting one manifest
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

restart_both() {
    "$repo/scripts/peer-registry.sh" stop "$peer_port" >/dev/null 2>&1
    "$repo/scripts/peer-registry.sh" start "$peer_port" 2>/dev/null
    start_berth
}

# fetch_all PORT: "seconds cpu" for curl fetching every blob of the pulled image at once.
fetch_all() {
    local start end cpu blob pids=()
    cpu=$(cpu_seconds "$2")
    start=$EPOCHREALTIME
    for blob in "${blobs[@]}"; do
        curl -sf -o /dev/null "http://127.0.0.1:$1/v2/bench/image/blobs/sha256:$blob" & pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || fail "a blob GET from port $1 failed"; done
    end=$EPOCHREALTIME
    echo "$(elapsed "$start" "$end") $(elapsed "$cpu" "$(cpu_seconds "$2")")"
}

# The layout skopeo pushes without compressing: the archive's layers, gzipped once.
skopeo --insecure-policy copy --quiet "docker-archive:$archive" "oci:$work/compressed:1" >/dev/null

peer_push=() peer_pull=() berth_push=() berth_pull=() floor=()
peer_push_cpu=() peer_pull_cpu=() berth_push_cpu=() berth_pull_cpu=()
peer_push_oci=() berth_push_oci=() peer_push_oci_cpu=() berth_push_oci_cpu=()
peer_fetch=() berth_fetch=() peer_fetch_cpu=() berth_fetch_cpu=()
for ((run = 1; run <= runs; run++)); do
    restart_both
    rm -rf "$work/pulled" "$work/floor"
    read -r t c < <(copy "docker-archive:$archive" "docker://127.0.0.1:$peer_port/bench/image:1" "$(peer_pid)")
    peer_push+=("$t") peer_push_cpu+=("$c")
    read -r t c < <(copy "docker://127.0.0.1:$peer_port/bench/image:1" "dir:$work/pulled" "$(peer_pid)")
    peer_pull+=("$t") peer_pull_cpu+=("$c")
    rm -rf "$work/pulled"
    read -r t c < <(copy "docker-archive:$archive" "docker://127.0.0.1:$berth_port/bench/image:1" "$berth_pid")
    berth_push+=("$t") berth_push_cpu+=("$c")
    read -r t c < <(copy "docker://127.0.0.1:$berth_port/bench/image:1" "dir:$work/pulled" "$berth_pid")
    berth_pull+=("$t") berth_pull_cpu+=("$c")
    read -r t _ < <(copy "dir:$work/pulled" "dir:$work/floor" "$berth_pid")
    floor+=("$t")
    mapfile -t blobs < <(find "$work/pulled" -type f -regextype egrep -regex '.*/[0-9a-f]{64}' -printf '%f\n')
    read -r t c < <(fetch_all "$peer_port" "$(peer_pid)")
    peer_fetch+=("$t") peer_fetch_cpu+=("$c")
    read -r t c < <(fetch_all "$berth_port" "$berth_pid")
    berth_fetch+=("$t") berth_fetch_cpu+=("$c")
    rm -rf "$work/pulled" "$work/floor"
    restart_both
    read -r t c < <(copy "oci:$work/compressed:1" "docker://127.0.0.1:$peer_port/bench/image:1" "$(peer_pid)")
    peer_push_oci+=("$t") peer_push_oci_cpu+=("$c")
    read -r t c < <(copy "oci:$work/compressed:1" "docker://127.0.0.1:$berth_port/bench/image:1" "$berth_pid")
    berth_push_oci+=("$t") berth_push_oci_cpu+=("$c")
done

echo "registry: ${archive_mb} MB image, ${layers} layers, skopeo, median of ${runs} runs"
# row LABEL PEER_TIMES BERTH_TIMES PEER_CPUS BERTH_CPUS (array names)
row() {
    local -n peer=$2 berth=$3 peer_cpu=$4 berth_cpu=$5
    awk -v label="$1" -v mb="$archive_mb" -v d="$(median "${peer[@]}")" -v b="$(median "${berth[@]}")" \
        -v dc="$(median "${peer_cpu[@]}")" -v bc="$(median "${berth_cpu[@]}")" 'BEGIN {
        printf "  %-22s distribution %6.2f s %6.1f MB/s (CPU %.2f s)   berth %6.2f s %6.1f MB/s (CPU %.2f s)   berth/distribution %.2fx\n",
            label, d, mb / d, dc, b, mb / b, bc, d / b
    }'
}
row "push (skopeo gzips)" peer_push berth_push peer_push_cpu berth_push_cpu
row "push (compressed)" peer_push_oci berth_push_oci peer_push_oci_cpu berth_push_oci_cpu
row "pull" peer_pull berth_pull peer_pull_cpu berth_pull_cpu
awk -v f="$(median "${floor[@]}")" -v d="$(median "${peer_pull[@]}")" 'BEGIN {
    printf "  %-22s %6.2f s with no server (skopeo dir: to dir:); distribution'"'"'s pull takes %.2fx that\n", "pull client floor", f, d / f
}'
row "pull (curl, all blobs)" peer_fetch berth_fetch peer_fetch_cpu berth_fetch_cpu

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
