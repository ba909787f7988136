#!/usr/bin/env bash
# `berth build` next to Docker's legacy builder (DOCKER_BUILDKIT=0 on the peer daemon) on a large
# context: `COPY data /data` of SIZE_MB MiB in FILES files, same busybox base imported into both.
# Cold build (throughput), fully cached rebuild, rebuild after one file changed; then where
# berth's cold build spends its time: the step's phases (cache key = hashing the context; the
# copy into the layer directory, archiving and digesting the layer) and, with perf installed,
# the hottest functions.
# Environment: BERTH_BIN, RUNS (3), FILES (20000), SIZE_MB (1024).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${RUNS:-3}
files=${FILES:-20000}
size_mb=${SIZE_MB:-1024}
require_berth
"$repo/scripts/make-base-images.sh" "$images_cache" busybox
"$repo/scripts/peer-docker.sh" start
eval "$("$repo/scripts/peer-docker.sh" env)"

root=$(mktemp -d /var/tmp/berth-bench-copy.XXXXXX)
context=$(mktemp -d /var/tmp/berth-bench-copy-context.XXXXXX)
cleanup() {
    rm -rf "$root" "$context"
    docker rmi --force bench-copy bench-copy-base >/dev/null 2>&1 || true
    docker image prune --force >/dev/null 2>&1 || true
}
trap cleanup EXIT

# FILES files of random data in 100 directories, SIZE_MB MiB in all.
python3 - "$context/data" "$files" "$size_mb" <<'EOF'
import os, sys
root, files, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) << 20
each = size // files
for index in range(files):
    directory = os.path.join(root, "d%02d" % (index % 100))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "f%05d.bin" % index), "wb") as out:
        out.write(os.urandom(each))
EOF
printf 'FROM bench-copy-base\nCOPY data /data\n' > "$context/Dockerfile"
"$berth_bin" --root "$root" import "$images_cache/busybox-rootfs.tar" bench-copy-base >/dev/null
docker import "$images_cache/busybox-rootfs.tar" bench-copy-base >/dev/null

time_build() {
    local start end
    start=$EPOCHREALTIME
    "$@" >/dev/null 2>&1
    end=$EPOCHREALTIME
    elapsed "$start" "$end"
}
berth_cold() { "$berth_bin" --root "$root" build --no-cache -t bench-copy "$context"; }
berth_build() { "$berth_bin" --root "$root" build -t bench-copy "$context"; }
docker_cold() { docker build --no-cache -t bench-copy "$context"; }
docker_build() { docker build -t bench-copy "$context"; }

declare -A results
for side in berth docker; do
    cold=() cached=() changed=()
    for ((run = 1; run <= runs; run++)); do
        sync
        cold+=("$(time_build "${side}_cold")")
        cached+=("$(time_build "${side}_build")")
        echo "change $run $side" >> "$context/data/d07/f00007.bin"
        changed+=("$(time_build "${side}_build")")
        [ "$side" = docker ] && docker image prune --force >/dev/null 2>&1
    done
    results[$side-cold]=$(median "${cold[@]}")
    results[$side-cached]=$(median "${cached[@]}")
    results[$side-changed]=$(median "${changed[@]}")
done

echo "build: COPY of $size_mb MiB in $files files, median of $runs runs (Docker: legacy builder)"
for kind in cold cached changed; do
    awk -v k="$kind" -v b="${results[berth-$kind]}" -v d="${results[docker-$kind]}" \
        'BEGIN { printf "  %-8s berth %7.3f s   docker %7.3f s   berth/docker %.2fx\n", k, b, d, b / d }'
done
awk -v b="${results[berth-cold]}" -v d="${results[docker-cold]}" -v m="$size_mb" \
    'BEGIN { printf "  cold COPY throughput: berth %.0f MiB/s, docker %.0f MiB/s, berth/docker %.2fx\n", m / b, m / d, d / b }'

# Where berth's cold build goes: a fully cached rebuild is start-up, hashing the context (the
# COPY's cache key) and the export; the rest of a cold build is copying the files into the layer
# directory, archiving it and digesting the archive (layers are stored uncompressed).
start=$EPOCHREALTIME
"$berth_bin" --root "$root" build --no-cache -t bench-copy "$context" --progress=plain 2>&1 \
    | grep -E '^#[0-9]+ (\[|DONE|exporting)' | sed 's/^/    /'
end=$EPOCHREALTIME
total=$(elapsed "$start" "$end")
awk -v t="$total" -v h="${results[berth-cached]}" \
    'BEGIN { printf "  berth cold %.2f s: context hashing (cache key) %.2f s, copy + tar + sha256 of the layer %.2f s, no compression\n", t, h, t - h }'
start=$EPOCHREALTIME; tar -C "$context" -cf - data | sha256sum >/dev/null; end=$EPOCHREALTIME; tarsum=$(elapsed "$start" "$end")
start=$EPOCHREALTIME; cp -a "$context/data" "$root/copy-reference"; end=$EPOCHREALTIME; copy=$(elapsed "$start" "$end"); rm -rf "$root/copy-reference"
echo "  reference on this machine: GNU tar | sha256sum of the context $tarsum s; cp -a of the context $copy s"
if command -v perf >/dev/null; then
    echo "  perf profile of a cold berth build (self time, top symbols):"
    perf record -q -F 499 -g -o "$root/perf.data" -- "$berth_bin" --root "$root" build --no-cache -t bench-copy "$context" \
        >/dev/null 2>&1
    perf report -i "$root/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
        | grep -E '^ +[0-9.]+%' | head -15 | { if command -v swift >/dev/null; then swift demangle --simplified; else cat; fi } \
        | cut -c1-150 | sed 's/^/    /'
fi
