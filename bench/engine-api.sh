#!/usr/bin/env bash
# The same docker 28 CLI against the peer dockerd and against `berth serve`, side by side:
#   - `docker run --rm busybox true`, median of RUNS (20);
#   - `docker ps` with COUNT (100) containers and `docker images` with IMAGES (200) images,
#     median of 10 runs each;
#   - a cached `docker build` of the seed app (examples/python-helloworld), median of RUNS;
#   - idle RSS of `berth serve` against dockerd's plus containerd's.
# Environment: BERTH_BIN, RUNS, COUNT, IMAGES.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${RUNS:-20} count=${COUNT:-100} images=${IMAGES:-200}
require_berth
"$repo/scripts/make-base-images.sh" "$images_cache" busybox python-flask
"$repo/scripts/peer-docker.sh" start
peer_host=unix:///tmp/peer-docker.sock

root=$(mktemp -d /var/tmp/berth-bench-api.XXXXXX)
context=$(mktemp -d /tmp/berth-bench-api-context.XXXXXX)
socket=$root/docker.sock
"$berth_bin" --root "$root/state" serve --host "unix://$socket" --pidfile "$root/berth.pid" 2>"$root/serve.log" &
serve_pid=$!
cleanup() {
    DOCKER_HOST=unix://$socket docker ps -aq | xargs -r env DOCKER_HOST="unix://$socket" docker rm -f >/dev/null 2>&1 || true
    DOCKER_HOST=$peer_host docker ps -aq --filter label=berth-bench | xargs -r env DOCKER_HOST=$peer_host docker rm -f >/dev/null 2>&1 || true
    DOCKER_HOST=$peer_host docker images -q --filter label=berth-bench | xargs -r env DOCKER_HOST=$peer_host docker rmi -f >/dev/null 2>&1 || true
    DOCKER_HOST=$peer_host docker rmi -f bench-api-seed >/dev/null 2>&1 || true
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    rm -rf "$root" "$context"
}
trap cleanup EXIT
until curl -sf --unix-socket "$socket" http://berth/_ping >/dev/null; do sleep 0.05; done
cp -r "$repo/examples/python-helloworld/." "$context/"

export DOCKER_BUILDKIT=0
on() { local host=$1; shift; DOCKER_HOST=$host docker "$@"; }
for host in "unix://$socket" "$peer_host"; do
    on "$host" import --change 'CMD ["sh"]' "$images_cache/busybox-rootfs.tar" busybox >/dev/null
    on "$host" import --change 'CMD ["python3"]' "$images_cache/python-flask-rootfs.tar" python:3.11-flask >/dev/null
done

# Seconds a command takes, median of $2 runs.
median_of() {
    local n=$1 times=() start end
    shift
    for ((run = 1; run <= n; run++)); do
        start=$EPOCHREALTIME
        "$@" >/dev/null 2>&1
        end=$EPOCHREALTIME
        times+=("$(elapsed "$start" "$end")")
    done
    median "${times[@]}"
}

declare -A result
for side in berth docker; do
    host=$([ "$side" = berth ] && echo "unix://$socket" || echo "$peer_host")
    result[$side-run]=$(median_of "$runs" on "$host" run --rm --label berth-bench busybox true)
    on "$host" build -t bench-api-seed "$context" >/dev/null 2>&1
    result[$side-build]=$(median_of "$runs" on "$host" build -t bench-api-seed "$context")
    for ((i = 1; i <= count; i++)); do
        on "$host" run -d --network none --label berth-bench busybox sleep 600 >/dev/null
    done
    result[$side-ps]=$(median_of 10 on "$host" ps)
    for ((i = 1; i <= images; i++)); do
        printf 'FROM busybox\nLABEL berth-bench=%d\n' "$i" | on "$host" build -q -t "bench-api-image:$i" - >/dev/null 2>&1
    done
    result[$side-images]=$(median_of 10 on "$host" images)
done
sleep 2
berth_rss=$(awk '/VmRSS/ { print $2 }' "/proc/$serve_pid/status")
docker_rss=0
for name in dockerd containerd; do
    for pid in $(pgrep -x "$name"); do
        docker_rss=$((docker_rss + $(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")))
    done
done

echo "engine API: the docker 28 CLI against berth serve and dockerd (median of $runs runs; ps and images of 10)"
row() {
    awk -v what="$1" -v b="${result[berth-$2]}" -v d="${result[docker-$2]}" \
        'BEGIN { printf "  %-34s berth %6.3f s   docker %6.3f s   berth/docker %.2fx\n", what, b, d, b / d }'
}
row "run --rm busybox true" run
row "ps with $count containers" ps
row "images with $images images" images
row "cached build of the seed app" build
awk -v b="$berth_rss" -v d="$docker_rss" \
    'BEGIN { printf "  idle RSS: berth serve %d kB   dockerd + containerd %d kB   ratio %.2fx\n", b, d, b / d }'
