#!/usr/bin/env bash
# Kill -9 trials: runs `berth load`, `build`, `run`, `pull` and `push` against one store and a
# `berth registry serve` on 127.0.0.1, kills each with SIGKILL at a random point, and checks that
# the next command works. At the end it checks the store: every blob matches its digest; once the
# containers are removed and the images pruned, no blob, snapshot or lease is left (no stale lease
# blocks collection for ever), and no mount, veth, cgroup or runc process of the store remains.
# Usage (root): scripts/kill9-trials.sh [TRIALS]   (env BERTH_BIN, default .build/debug/berth)
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
berth_bin=${BERTH_BIN:-$repo/.build/debug/berth}
trials=${1:-50}
[ "$(id -u)" -eq 0 ] || { echo "kill9-trials: needs root" >&2; exit 2; }
[ -x "$berth_bin" ] || { echo "kill9-trials: no berth binary at $berth_bin" >&2; exit 2; }

work=$(mktemp -d /tmp/berth-kill9.XXXXXX)
root=$work/root
port=$((20000 + RANDOM % 20000))
registry="127.0.0.1:$port"
problems=0
berth() { "$berth_bin" --root "$root" "$@"; }
problem() { echo "kill9-trials: PROBLEM: $*"; problems=$((problems + 1)); }

"$berth_bin" registry serve --addr "$registry" --root "$work/registry" >"$work/registry.log" 2>&1 &
registry_pid=$!
cleanup() {
    kill "$registry_pid" 2>/dev/null
    berth ps -a -q 2>/dev/null | xargs -r "$berth_bin" --root "$root" rm -f >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

berth import "$repo/images-cache/busybox-rootfs.tar" busybox >/dev/null || exit 1
mkdir -p "$work/context"
cat >"$work/context/Dockerfile" <<'EOF'
FROM busybox
ARG TRIAL
RUN echo "$TRIAL" > /trial && head -c 30000000 /dev/urandom > /blob && sleep 0.2
COPY data /data
EOF
head -c 4000000 /dev/urandom >"$work/context/data"
berth build -q --build-arg TRIAL=seed -t app "$work/context" >/dev/null || exit 1
berth save -o "$work/app.tar" app || exit 1
for _ in $(seq 50); do curl -fs "http://$registry/v2/" >/dev/null && break; sleep 0.1; done
berth tag app "$registry/app:seed" && berth push -q "$registry/app:seed" >/dev/null || exit 1

operations=(load build run pull push)
declare -A killed=()
for trial in $(seq "$trials"); do
    operation=${operations[$((trial % ${#operations[@]}))]}
    # Each is killed at a random point within `window` seconds, about how long it takes here.
    case $operation in
        load) berth rmi -f app-loaded >/dev/null 2>&1; command=(load -q -i "$work/app.tar"); window=0.4 ;;
        build) command=(build -q --no-cache --build-arg "TRIAL=$trial" -t "built:$trial" "$work/context"); window=2 ;;
        run) command=(run -d --name "run$trial" -p "$((30000 + trial)):80" busybox sleep 30); window=0.15 ;;
        pull) berth rmi -f "$registry/app:seed" >/dev/null 2>&1; command=(pull -q "$registry/app:seed"); window=0.5 ;;
        push) berth tag app "$registry/app:t$trial"; command=(push -q "$registry/app:t$trial"); window=0.5 ;;
    esac
    berth "${command[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v r="$RANDOM" -v w="$window" 'BEGIN { printf "%.3f", r / 32767 * w }')"
    if kill -KILL "$pid" 2>/dev/null; then killed[$operation]=$((${killed[$operation]:-0} + 1)); fi
    wait "$pid" 2>/dev/null
    berth images >/dev/null 2>&1 || problem "trial $trial ($operation): the next command failed: $(berth images 2>&1 | tail -1)"
done
echo "kill9-trials: $trials trials; killed mid-command: $(for op in "${operations[@]}"; do printf '%s=%s ' "$op" "${killed[$op]:-0}"; done)"

for blob in "$root"/blobs/sha256/*; do
    [ -e "$blob" ] || continue
    [ "$(sha256sum "$blob" | cut -d' ' -f1)" = "$(basename "$blob")" ] || problem "blob $(basename "$blob") does not match its digest"
done
check=$(berth save -o "$work/check.tar" app 2>&1) || problem "app cannot be saved: $check"

containers=$(berth ps -a -q --no-trunc)
veths=$(cat "$root"/network/*@*.json 2>/dev/null | jq -r '.hostVeth // empty')
echo "$containers" | xargs -r "$berth_bin" --root "$root" rm -f >/dev/null
berth image prune -a -f >/dev/null || problem "image prune failed"
berth builder prune -a -f >/dev/null || problem "builder prune failed"
left=$(ls "$root/blobs/sha256" | wc -l)
[ "$left" -eq 0 ] || problem "$left blobs left after removing every container and image"
left=$(ls "$root/snapshots" | wc -l)
[ "$left" -eq 0 ] || problem "$left snapshots left"
leases=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM leases').fetchone()[0])" "$root/metadata.db")
[ "$leases" -eq 0 ] || problem "$leases leases left"
grep -q " $root/" /proc/self/mountinfo && problem "mounts left: $(grep -c " $root/" /proc/self/mountinfo)"
pgrep -f "runc --root $root" >/dev/null && problem "runc processes left: $(pgrep -af "runc --root $root" | head -3)"
for veth in $veths; do ip link show "$veth" >/dev/null 2>&1 && problem "veth $veth is left"; done
ls "$root"/network/*@*.json >/dev/null 2>&1 && problem "network attachments left: $(ls "$root"/network/*@*.json)"
for trial in $(seq "$trials"); do
    iptables-save -t nat 2>/dev/null | grep -q -- "--dport $((30000 + trial)) " && problem "a DNAT rule for port $((30000 + trial)) is left"
done
for id in $containers; do
    find /sys/fs/cgroup -maxdepth 3 -path "*/berth/$id" 2>/dev/null | grep -q . && problem "the cgroup of container $id is left"
done

if [ "$problems" -eq 0 ]; then echo "kill9-trials: store consistent, nothing left behind"; fi
exit $((problems > 0))
