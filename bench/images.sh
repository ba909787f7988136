#!/usr/bin/env bash
# `berth images` and `berth image inspect` on a store with COUNT images, next
# to `docker images` / `docker image inspect` on the peer daemon holding the
# same COUNT images. The images are imports of the busybox rootfs made distinct
# by a label, so they share one layer. Timed with hyperfine; prints mean ms.
# Environment: BERTH_BIN, COUNT (200).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

count=${COUNT:-200}
require_berth
"$repo/scripts/make-base-images.sh" "$images_cache" busybox
rootfs=$images_cache/busybox-rootfs.tar
"$repo/scripts/peer-docker.sh" start
eval "$("$repo/scripts/peer-docker.sh" env)"

root=$(mktemp -d /var/tmp/berth-bench-images.XXXXXX)
results=$(mktemp -d /tmp/berth-bench-results.XXXXXX)
cleanup() {
    rm -rf "$root" "$results"
    docker images --quiet --filter reference='bench-image' | sort -u | xargs -r docker rmi --force >/dev/null 2>&1 || true
}
trap cleanup EXIT

for ((i = 1; i <= count; i++)); do
    "$berth_bin" --root "$root" import --change "LABEL n=$i" "$rootfs" "bench-image:$i" >/dev/null
    docker import --change "LABEL n=$i" "$rootfs" "bench-image:$i" >/dev/null
done
probe=bench-image:$((count / 2))

# Mean wall time in ms of a command, from hyperfine's JSON export.
mean_ms() {
    local name=$1
    shift
    hyperfine --shell=none --style none --warmup 3 --runs 30 --export-json "$results/$name.json" -- "$*" >/dev/null
    jq -r '.results[0].mean * 1000 | . * 100 | round / 100' "$results/$name.json"
}

q() { printf '%q ' "$@"; }
berth_images=$(mean_ms berth-images "$(q "$berth_bin" --root "$root" images)")
docker_images=$(mean_ms docker-images "$(q docker images)")
berth_inspect=$(mean_ms berth-inspect "$(q "$berth_bin" --root "$root" image inspect "$probe")")
docker_inspect=$(mean_ms docker-inspect "$(q docker image inspect "$probe")")

echo "images: $count images, mean of 30 runs (hyperfine, 3 warmups)"
awk -v bi="$berth_images" -v di="$docker_images" -v bx="$berth_inspect" -v dx="$docker_inspect" 'BEGIN {
    printf "  berth images          %8.2f ms   docker images          %8.2f ms   berth/docker time %.2fx\n", bi, di, bi / di
    printf "  berth image inspect   %8.2f ms   docker image inspect   %8.2f ms   berth/docker time %.2fx\n", bx, dx, bx / dx
}'
