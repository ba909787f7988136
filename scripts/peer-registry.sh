#!/usr/bin/env bash
# A private CNCF distribution registry (Debian's docker-registry 2.8.2) on
# 127.0.0.1:PORT over plain http, for interop tests and benchmarks.
#   scripts/peer-registry.sh start PORT   start it (if not running) and wait until /v2/ answers
#   scripts/peer-registry.sh start PORT htpasswd
#                                         the same, requiring Basic auth (htpasswd, bcrypt)
#                                         as user "berth" with password "berth-secret"
#   scripts/peer-registry.sh stop PORT    stop it and remove its storage
#   scripts/peer-registry.sh stop-all     stop every one this script started (after a test run)
# Clients talk to it without TLS: skopeo --src-tls-verify=false / --dest-tls-verify=false.
set -euo pipefail

# shellcheck source=detach.sh
source "$(dirname "${BASH_SOURCE[0]}")/detach.sh"

fail() { echo "peer-registry: $*" >&2; exit 1; }

usage="usage: $0 start PORT [htpasswd] | stop PORT | stop-all"
if [ "$*" = stop-all ]; then
    for pidfile in /tmp/peer-registry-*.pid; do
        [ -e "$pidfile" ] || continue
        port=${pidfile#/tmp/peer-registry-}
        "$0" stop "${port%.pid}"
    done
    exit 0
fi
[ $# -ge 2 ] && [ $# -le 3 ] && [[ $2 =~ ^[0-9]+$ ]] || fail "$usage"
command=$1 port=$2 mode=${3:-open}
[ "$mode" = open ] || [ "$mode" = htpasswd ] || fail "$usage"
dir=/tmp/peer-registry-$port
pidfile=$dir.pid
logfile=$dir.log
url=http://127.0.0.1:$port/v2/

registry_pid() {
    local pid
    [ -s "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# Any HTTP answer counts: with htpasswd, /v2/ answers 401 to an anonymous client.
answers() { curl -sS -o /dev/null --max-time 2 "$url" 2>/dev/null; }

# bcrypt (cost 5) of "berth-secret", so the script needs no htpasswd tool.
htpasswd_line='berth:$2b$05$qic9X95CWFz24PXg1/aCwO5/oKy8AyrmgpCSVYbCT2JC0kNqqIbzC'

start() {
    if registry_pid >/dev/null && answers; then
        return
    fi
    command -v docker-registry >/dev/null || fail "docker-registry not found: run scripts/install-deps.sh"
    stop
    mkdir -p "$dir/storage"
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
    if [ "$mode" = htpasswd ]; then
        printf '%s\n' "$htpasswd_line" >"$dir/htpasswd"
        cat >>"$dir/config.yml" <<EOF
auth:
  htpasswd:
    realm: berth-peer-registry
    path: $dir/htpasswd
EOF
    fi
    detach "$logfile" docker-registry serve "$dir/config.yml"
    local pid=$! waited=0
    echo "$pid" >"$pidfile"
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$logfile" >&2
            fail "docker-registry exited during startup (log: $logfile)"
        fi
        [ $waited -lt 100 ] || fail "docker-registry did not answer on $url within 10 s (log: $logfile)"
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "peer-registry: running on 127.0.0.1:$port (pid $pid, log $logfile)" >&2
}

stop() {
    local pid
    if pid=$(registry_pid); then
        kill -TERM "$pid"
        local waited=0
        while kill -0 "$pid" 2>/dev/null && [ $waited -lt 50 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir" "$pidfile"
}

# Parallel tests may start or stop the same registry at the same time: one at a time.
exec 9>"$dir.lock"
flock 9
case $command in
    start) start ;;
    stop) stop ;;
    *) fail "$usage" ;;
esac
