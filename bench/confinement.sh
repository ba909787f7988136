#!/usr/bin/env bash
# What Docker's default confinement costs a container start, Berth next to the peer Docker daemon,
# same busybox rootfs, medians of RUNS (30), the two sides of each pair taken in turn:
#   - `berth run --rm busybox true` with the default seccomp profile against
#     `--security-opt seccomp=unconfined` (goal: at most 3 ms added);
#   - `runc run` of one prepared bundle (a Berth container's config.json) with and without its
#     seccomp section: the part of that difference runc and libseccomp spend compiling the
#     profile into a filter at every start (the same work runc does for Docker's containers);
#   - `berth run --rm busybox true` against `docker run --rm busybox true` (goal: at most 0.25x).
# Environment: BERTH_BIN, RUNS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${RUNS:-30}
require_berth
command -v jq >/dev/null || fail "jq not found: run scripts/install-deps.sh"
"$repo/scripts/make-base-images.sh" "$images_cache" busybox
rootfs=$images_cache/busybox-rootfs.tar
"$repo/scripts/peer-docker.sh" start
eval "$("$repo/scripts/peer-docker.sh" env)"

root=$(mktemp -d /var/tmp/berth-bench-confinement.XXXXXX)
berth() { "$berth_bin" --root "$root" "$@"; }
cleanup() {
    berth ps -aq 2>/dev/null | xargs -r "$berth_bin" --root "$root" rm -f >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap cleanup EXIT
berth import --change 'CMD ["sh"]' "$rootfs" busybox >/dev/null

# Seconds a command takes.
seconds() {
    local start end
    start=$EPOCHREALTIME
    "$@" >/dev/null
    end=$EPOCHREALTIME
    elapsed "$start" "$end"
}

# Times commands A and B (two strings, split on spaces) RUNS times each, alternating which goes
# first, and prints the two medians.
paired() {
    local a=() b=() run
    # shellcheck disable=SC2086
    seconds $1 >/dev/null && seconds $2 >/dev/null
    for ((run = 1; run <= runs; run++)); do
        if ((run % 2)); then
            # shellcheck disable=SC2086
            a+=("$(seconds $1)") && b+=("$(seconds $2)")
        else
            # shellcheck disable=SC2086
            b+=("$(seconds $2)") && a+=("$(seconds $1)")
        fi
    done
    echo "$(median "${a[@]}") $(median "${b[@]}")"
}

read -r confined unconfined < <(paired "berth run --rm busybox true" \
    "berth run --rm --security-opt seccomp=unconfined busybox true")

# A bundle runc can run again and again: a running container's config.json, on a plain copy of
# the rootfs, without the container's own files and network namespace, running /bin/true.
id=$(berth run -d --network none busybox sleep 600)
bundle=$root/bundle
mkdir -p "$bundle/rootfs"
tar -xf "$rootfs" -C "$bundle/rootfs"
jq --arg rootfs "$bundle/rootfs" --arg dir "$root/containers/$id" '
    .root = {path: $rootfs} | .process.args = ["/bin/true"] | .process.terminal = false
    | .mounts |= map(select((.source // "") | startswith($dir) | not))
    | .linux.cgroupsPath = "/berth-bench-confinement"' \
    "$root/containers/$id/config.json" >"$bundle/seccomp.json"
jq 'del(.linux.seccomp)' "$bundle/seccomp.json" >"$bundle/unconfined.json"
berth rm -f "$id" >/dev/null
[ "$(jq '.linux.seccomp.syscalls | length' "$bundle/seccomp.json")" -gt 0 ] || fail "the container's config.json has no seccomp profile"
runc_state=$root/runc-bench
runc_run() {
    cp "$bundle/$1.json" "$bundle/config.json"
    runc --root "$runc_state" run --bundle "$bundle" "bench-$1-$RANDOM$RANDOM"
}
read -r runc_confined runc_unconfined < <(paired "runc_run seccomp" "runc_run unconfined")

read -r berth_true docker_true < <(paired "berth run --rm busybox true" "docker run --rm busybox true")

echo "confinement: busybox, median of $runs runs each, the two sides taken in turn"
awk -v c="$confined" -v u="$unconfined" -v rc="$runc_confined" -v ru="$runc_unconfined" \
    -v bt="$berth_true" -v dt="$docker_true" 'BEGIN {
    printf "  berth run --rm true: default profile %6.3f s   seccomp=unconfined %6.3f s   added %5.1f ms (goal <= 3 ms)\n", c, u, (c - u) * 1000
    printf "    of which runc run compiling the profile: %6.3f s against %6.3f s   added %5.1f ms\n", rc, ru, (rc - ru) * 1000
    printf "  run --rm true: berth %6.3f s   docker %6.3f s   berth/docker %.2fx (goal <= 0.25x)\n", bt, dt, bt / dt
}'
