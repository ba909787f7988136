#!/usr/bin/env bash
# Installs everything Berth's build, tests and benches need on a Debian bookworm
# machine. Run as root. Idempotent: packages already installed are left alone,
# and apt-get is skipped entirely when nothing is missing.
set -euo pipefail

# Build: system libraries the Swift targets link (GRDB → sqlite, CZstd → zstd,
# BerthArchive → zlib), libstdc++'s static archive (release binaries link it, see
# StaticLibraries/), and pkg-config to find them.
build_packages=(libsqlite3-dev libzstd-dev zlib1g-dev libstdc++-12-dev pkg-config)
# Runtime: OCI runtimes, CNI plugins, NAT.
runtime_packages=(runc crun containernetworking-plugins iptables iproute2 tini dnsmasq-base)
# Base images built offline from the Debian mirror (scripts/make-base-images.sh).
image_packages=(busybox-static mmdebstrap debian-archive-keyring mount)
# Interop peers: the Docker daemon, the CNCF registry, skopeo and umoci; docker-compose 1.29
# (which drives the Engine API through Debian's docker-py) for `berth serve`; kubectl 1.32 for its
# Kubernetes API, and podman (with catatonit, its pause process), whose `kube play` is the Kubernetes
# benchmark's peer; containerd's ctr pulls from Berth's registry as a real cluster's node does; dig
# and dnsperf query the cluster DNS, conntrack clears the flows of removed Service endpoints, and
# nginx serves Ingresses.
peer_packages=(docker.io docker-registry skopeo umoci docker-compose kubectl podman catatonit containerd bind9-dnsutils dnsperf conntrack
    nginx-light)
# Scripts, tests and benches (gcc and libc6-dev build the confinement tests' static probe).
tool_packages=(hyperfine jq zstd curl tar gzip python3 ca-certificates apache2-utils openssl wrk nftables gcc libc6-dev)

packages=("${build_packages[@]}" "${runtime_packages[@]}" "${image_packages[@]}"
    "${peer_packages[@]}" "${tool_packages[@]}")

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: must run as root (apt-get install)" >&2
    exit 1
fi

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$package")
done

# API clients from PyPI, for the python3 on the PATH: docker-py and Testcontainers for the Engine
# API, the Kubernetes Python client, and kubernetes-validate, which checks every manifest in the
# tests and examples against the schemas of the Kubernetes version Berth's /version reports (scripts/kube-schema-gen.py
# reads Berth's schema table from the same schemas).
python_packages=(docker==7.1.0 testcontainers kubernetes==37.0.3 kubernetes-validate==1.32.0)
install_python_packages() {
    if python3 -c 'import docker, testcontainers, kubernetes, kubernetes_validate; assert docker.__version__ == "7.1.0"' 2>/dev/null; then
        return
    fi
    echo "install-deps: installing ${python_packages[*]} from PyPI"
    python3 -m pip install -q --root-user-action=ignore "${python_packages[@]}" ||
        python3 -m pip install -q --break-system-packages "${python_packages[@]}"
}

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    install_python_packages
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# docker.io and docker-registry would start system services on their default
# socket and port, and the system daemon's docker0 bridge would clash with the
# peer daemon's (scripts/peer-docker.sh). A policy-rc.d that forbids starting
# services (as in Docker's Debian images) stops that; it is removed afterwards.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
log=$(mktemp /tmp/berth-install-deps.XXXXXX.log)
# Quiet on success; on failure show the tail of apt's output so the cause is visible.
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    echo "install-deps: apt-get failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
rm -f "$log"
install_python_packages
echo "install-deps: done"
