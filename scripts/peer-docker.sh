#!/usr/bin/env bash
# A private Docker daemon (Debian's docker.io 20.10) for interop tests and
# benchmarks, isolated from any system Docker by its own socket and directories.
#   scripts/peer-docker.sh start   start it (if not running) and make sure
#                                  busybox:latest exists (imported from the
#                                  busybox rootfs of scripts/make-base-images.sh)
#   scripts/peer-docker.sh stop    stop it and remove all of its state
#   scripts/peer-docker.sh env     print the environment for the docker CLI:
#                                  eval "$(scripts/peer-docker.sh env)"
# The docker CLI may be newer than the daemon (client 28.x, daemon API 1.41):
# the client negotiates the API version down on its own, so DOCKER_API_VERSION
# is not needed. No buildx plugin is installed, so DOCKER_BUILDKIT=0 selects the
# legacy builder for `docker build`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
socket=/tmp/peer-docker.sock
data_root=/tmp/peer-docker
exec_root=/tmp/peer-docker-exec
pidfile=/tmp/peer-docker.pid
logfile=/tmp/peer-docker.log
images_cache=${BERTH_IMAGES_CACHE:-$repo/images-cache}
# shellcheck source=detach.sh
source "$repo/scripts/detach.sh"

export DOCKER_HOST=unix://$socket DOCKER_BUILDKIT=0

log() { echo "peer-docker: $*" >&2; }
fail() { echo "peer-docker: $*" >&2; exit 1; }

daemon_pid() {
    local pid
    [ -s "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

answers() { docker info >/dev/null 2>&1; }

start() {
    if daemon_pid >/dev/null && answers; then
        ensure_busybox
        return
    fi
    command -v dockerd >/dev/null || fail "dockerd not found: run scripts/install-deps.sh (docker.io)"
    # A daemon that died leaves its pidfile and socket behind; dockerd refuses to
    # start over a live pidfile, so clear stale state first.
    stop_daemon
    mkdir -p "$data_root" "$exec_root"
    # The daemon must outlive this script and the caller's process group, and must
    # not inherit the lock (fd 9), or the next start would wait forever.
    detach "$logfile" dockerd --host "unix://$socket" --data-root "$data_root" \
        --exec-root "$exec_root" --pidfile "$pidfile"
    local pid=$! waited=0
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$logfile" >&2
            fail "dockerd exited during startup (log: $logfile)"
        fi
        if [ $waited -ge 300 ]; then
            tail -n 30 "$logfile" >&2
            fail "dockerd did not answer within 30 s (log: $logfile)"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    log "running (pid $pid, log $logfile)"
    ensure_busybox
}

ensure_busybox() {
    docker image inspect busybox:latest >/dev/null 2>&1 && return
    "$repo/scripts/make-base-images.sh" "$images_cache" busybox >&2
    docker import --change 'CMD ["sh"]' "$images_cache/busybox-rootfs.tar" busybox:latest >/dev/null
    log "imported busybox:latest"
}

stop_daemon() {
    local pid
    if pid=$(daemon_pid); then
        kill -TERM "$pid"
        local waited=0
        while kill -0 "$pid" 2>/dev/null; do
            if [ $waited -ge 200 ]; then
                log "dockerd did not stop within 20 s; killing it"
                kill -KILL "$pid" 2>/dev/null || true
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
    fi
    # Containers the daemon failed to tear down leave mounts (overlay roots,
    # shm, netns) under its directories; unmount deepest first before removing.
    local dir mountpoint
    for dir in "$data_root" "$exec_root"; do
        awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
            sort -r | while read -r mountpoint; do
                umount -l "$mountpoint" 2>/dev/null || true
            done
    done
    rm -f "$pidfile" "$socket"
}

stop() {
    stop_daemon
    rm -rf "$data_root" "$exec_root"
    # dockerd leaves its default bridge behind (a later start recreates it);
    # a system Docker daemon, if one runs, still needs it.
    if ip link show docker0 >/dev/null 2>&1 && ! pgrep -x dockerd >/dev/null; then
        ip link delete docker0 || true
    fi
}

# Tests run in parallel may start or stop the daemon at the same time: one at a time.
lock() {
    exec 9>/tmp/peer-docker.lock
    flock 9
}

case ${1:-} in
    start) lock && start ;;
    stop) lock && stop ;;
    env) echo "export DOCKER_HOST=unix://$socket DOCKER_BUILDKIT=0" ;;
    *) fail "usage: $0 start|stop|env" ;;
esac
