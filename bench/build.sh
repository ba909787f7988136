#!/usr/bin/env bash
# `berth build` next to Docker's legacy builder (DOCKER_BUILDKIT=0 on the peer daemon) on the
# seed's Python hello-world (examples/python-helloworld), same base image imported into both:
# cold build, fully cached rebuild, and a rebuild after one context file changed.
# Environment: BERTH_BIN, RUNS (5).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${RUNS:-5}
require_berth
"$repo/scripts/make-base-images.sh" "$images_cache" python-flask
"$repo/scripts/peer-docker.sh" start
eval "$("$repo/scripts/peer-docker.sh" env)"

root=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
context=$(mktemp -d /tmp/berth-bench-context.XXXXXX)
cleanup() {
    rm -rf "$root" "$context"
    docker rmi --force bench-seed python:3.11-flask >/dev/null 2>&1 || true
}
trap cleanup EXIT
cp -r "$repo/examples/python-helloworld/." "$context/"
"$berth_bin" --root "$root" import --change 'CMD ["python3"]' "$images_cache/python-flask-rootfs.tar" python:3.11-flask >/dev/null
docker import --change 'CMD ["python3"]' "$images_cache/python-flask-rootfs.tar" python:3.11-flask >/dev/null

time_build() {
    local start end
    start=$EPOCHREALTIME
    "$@" >/dev/null 2>&1
    end=$EPOCHREALTIME
    elapsed "$start" "$end"
}
berth_build() { "$berth_bin" --root "$root" build -t bench-seed "$context"; }
docker_build() { docker build -t bench-seed "$context"; }
berth_cold() { "$berth_bin" --root "$root" build --no-cache -t bench-seed "$context"; }
docker_cold() { docker build --no-cache -t bench-seed "$context"; }

declare -A results
for side in berth docker; do
    cold=() cached=() changed=()
    for ((run = 1; run <= runs; run++)); do
        cold+=("$(time_build "${side}_cold")")
        cached+=("$(time_build "${side}_build")")
        echo "# change $run $side" >> "$context/app.py"
        changed+=("$(time_build "${side}_build")")
    done
    results[$side-cold]=$(median "${cold[@]}")
    results[$side-cached]=$(median "${cached[@]}")
    results[$side-changed]=$(median "${changed[@]}")
done

echo "build: examples/python-helloworld, median of $runs runs (Docker: legacy builder)"
for kind in cold cached changed; do
    awk -v k="$kind" -v b="${results[berth-$kind]}" -v d="${results[docker-$kind]}" \
        'BEGIN { printf "  %-8s berth %6.3f s   docker %6.3f s   berth/docker %.2fx\n", k, b, d, b / d }'
done
