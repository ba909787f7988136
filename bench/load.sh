#!/usr/bin/env bash
# `docker load -i` (peer daemon) against `berth load -i` on a ~500 MB
# docker-archive with 10 layers of incompressible data. Each side loads RUNS
# times from a clean state (the image removed from the daemon; a fresh berth
# root); prints the median seconds, throughput and berth/docker throughput ratio.
# Environment: BERTH_BIN, LOAD_SIZE_MB (500), LOAD_LAYERS (10), RUNS (3).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

size_mb=${LOAD_SIZE_MB:-500} layers=${LOAD_LAYERS:-10} runs=${RUNS:-3}
require_berth
archive=$images_cache/docker-archive-${size_mb}mb-${layers}layers.tar
"$repo/Tests/fixtures/make-docker-archive.sh" "$archive" "$size_mb" "$layers"
archive_mb=$(awk -v b="$(stat -c %s "$archive")" 'BEGIN { printf "%.1f", b / 1048576 }')
tag=berth-fixture:${size_mb}mb-${layers}layers

"$repo/scripts/peer-docker.sh" start
eval "$("$repo/scripts/peer-docker.sh" env)"

docker_times=()
for ((run = 1; run <= runs; run++)); do
    docker rmi --force "$tag" >/dev/null 2>&1 || true
    start=$EPOCHREALTIME
    docker load --quiet --input "$archive" >/dev/null
    end=$EPOCHREALTIME
    docker_times+=("$(elapsed "$start" "$end")")
done
docker rmi --force "$tag" >/dev/null 2>&1 || true

berth_times=()
for ((run = 1; run <= runs; run++)); do
    root=$(mktemp -d /var/tmp/berth-bench-load.XXXXXX)
    start=$EPOCHREALTIME
    "$berth_bin" --root "$root" load --input "$archive" >/dev/null
    end=$EPOCHREALTIME
    berth_times+=("$(elapsed "$start" "$end")")
    rm -rf "$root"
done

docker_s=$(median "${docker_times[@]}")
berth_s=$(median "${berth_times[@]}")
echo "load: ${archive_mb} MB docker-archive, ${layers} layers, median of ${runs} runs"
awk -v mb="$archive_mb" -v d="$docker_s" -v b="$berth_s" 'BEGIN {
    printf "  docker load  %7.2f s  %7.1f MB/s\n", d, mb / d
    printf "  berth load   %7.2f s  %7.1f MB/s\n", b, mb / b
    printf "  berth/docker throughput: %.2fx\n", d / b
}'
