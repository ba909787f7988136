#!/usr/bin/env bash
# Container start-up and footprint, Berth next to the peer Docker daemon, same busybox rootfs:
#   - `run --rm busybox true`, median of RUNS (20);
#   - `run -d -p` of busybox httpd until the first HTTP 200 through the published port, median
#     of HTTP_RUNS (5);
#   - RSS of one idle container's monitor (berth-monitor) vs containerd-shim-runc-v2, read after
#     both containers have idled for a second;
#   - `ps` with COUNT (100) containers running.
# Environment: BERTH_BIN, RUNS, HTTP_RUNS, COUNT.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${RUNS:-20} http_runs=${HTTP_RUNS:-5} count=${COUNT:-100}
require_berth
"$repo/scripts/make-base-images.sh" "$images_cache" busybox
rootfs=$images_cache/busybox-rootfs.tar
"$repo/scripts/peer-docker.sh" start
eval "$("$repo/scripts/peer-docker.sh" env)"

root=$(mktemp -d /var/tmp/berth-bench-containers.XXXXXX)
berth() { "$berth_bin" --root "$root" "$@"; }
cleanup() {
    berth ps -aq 2>/dev/null | xargs -r "$berth_bin" --root "$root" rm -f >/dev/null 2>&1 || true
    docker ps -aq --filter label=berth-bench | xargs -r docker rm -f >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap cleanup EXIT
berth import --change 'CMD ["sh"]' "$rootfs" busybox >/dev/null

# Seconds a command takes, median of $runs.
median_of_runs() {
    local times=() start end
    for ((run = 1; run <= runs; run++)); do
        start=$EPOCHREALTIME
        "$@" >/dev/null
        end=$EPOCHREALTIME
        times+=("$(elapsed "$start" "$end")")
    done
    median "${times[@]}"
}

# Seconds from `run -d -p` to the first HTTP 200 through the published port.
until_http_200() {
    local port=$1 start end
    shift
    start=$EPOCHREALTIME
    "$@" >/dev/null
    until curl -fs --max-time 1 -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.002; done
    end=$EPOCHREALTIME
    elapsed "$start" "$end"
}

berth_true=$(median_of_runs berth run --rm --network none busybox true)
docker_true=$(median_of_runs docker run --rm --network none --label berth-bench busybox true)
berth_true_bridge=$(median_of_runs berth run --rm busybox true)
docker_true_bridge=$(median_of_runs docker run --rm --label berth-bench busybox true)

# Each side starts HTTP_RUNS web servers in turn; the last of each stays up for the RSS reading.
httpd=(httpd -f -p 80 -h /var/www)
berth_https=() docker_https=()
for ((run = 1; run <= http_runs; run++)); do
    berth_https+=("$(until_http_200 $((18180 + run)) berth run -d --name "bench-web-$run" -p $((18180 + run)):80 busybox "${httpd[@]}")")
    docker_https+=("$(until_http_200 $((18280 + run)) docker run -d --label berth-bench --name "bench-web-$run" -p $((18280 + run)):80 busybox "${httpd[@]}")")
    if ((run < http_runs)); then
        berth rm -f "bench-web-$run" >/dev/null
        docker rm -f "bench-web-$run" >/dev/null
    fi
done
berth_http=$(median "${berth_https[@]}")
docker_http=$(median "${docker_https[@]}")
sleep 1
monitor_pid=$(pgrep -f "berth-monitor .*$(berth inspect -f '{{.Id}}' "bench-web-$http_runs")" | head -n 1)
shim_pid=$(pgrep -f containerd-shim-runc-v2 | head -n 1)
berth_rss=$(awk '/VmRSS/ { print $2 }' "/proc/$monitor_pid/status")
shim_rss=$(awk '/VmRSS/ { print $2 }' "/proc/$shim_pid/status")
berth rm -f "bench-web-$http_runs" >/dev/null
docker rm -f "bench-web-$http_runs" >/dev/null

for ((i = 1; i <= count; i++)); do
    berth run -d --network none busybox sleep 600 >/dev/null
done
hyperfine --shell=none --style none --warmup 2 --runs 10 --export-json "$root/ps.json" -- "$berth_bin --root $root ps" >/dev/null
berth_ps=$(jq -r '.results[0].mean * 1000 | . * 100 | round / 100' "$root/ps.json")

echo "containers: busybox, median of $runs runs (HTTP: of $http_runs)"
awk -v bt="$berth_true" -v dt="$docker_true" -v bb="$berth_true_bridge" -v db="$docker_true_bridge" \
    -v bh="$berth_http" -v dh="$docker_http" -v br="$berth_rss" -v sr="$shim_rss" -v bp="$berth_ps" -v n="$count" 'BEGIN {
    printf "  run --rm true (--network none)  berth %6.3f s   docker %6.3f s   berth/docker %.2fx\n", bt, dt, bt / dt
    printf "  run --rm true (bridge)          berth %6.3f s   docker %6.3f s   berth/docker %.2fx\n", bb, db, bb / db
    printf "  run -d -p until HTTP 200        berth %6.3f s   docker %6.3f s   berth/docker %.2fx\n", bh, dh, bh / dh
    printf "  idle RSS: berth monitor %d kB   containerd-shim-runc-v2 %d kB   ratio %.2fx\n", br, sr, br / sr
    printf "  ps with %d running: berth %.2f ms\n", n, bp
}'
