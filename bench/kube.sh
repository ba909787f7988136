#!/usr/bin/env bash
# Kubernetes on one node: `berth serve` driven by the real kubectl, against `podman kube play`
# (Debian's podman 4.3 with --runtime runc) on the same manifest.
#   - apply to Ready of a 1-replica Deployment (busybox httpd, a readiness probe and a hostPort):
#     Berth from `kubectl apply` until the Deployment reports the replica ready (the probe passed);
#     podman from `podman kube play` until the pod answers on its hostPort (podman 4.3 has no
#     readiness gate), median of RUNS (5);
#   - apply to Ready of 3 replicas (Berth only; the issue's goal: under 1 s);
#   - a rolling update of those 3 replicas to another image tag, `kubectl set image` until
#     `kubectl rollout status` returns (goal: under 5 s);
#   - the RSS of `berth serve` with 0 pods and with PODS (50) running, next to the k3s server's
#     documented footprint.
# Environment: BERTH_BIN, RUNS, PODS, KUBE_PORT.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${RUNS:-5} pods=${PODS:-50} kube_port=${KUBE_PORT:-16444}
require_berth
command -v kubectl >/dev/null || fail "kubectl is not installed (scripts/install-deps.sh)"
command -v podman >/dev/null || fail "podman is not installed (scripts/install-deps.sh)"
"$repo/scripts/make-base-images.sh" "$images_cache" busybox

work=$(mktemp -d /var/tmp/berth-bench-kube.XXXXXX)
root=$work/state
"$berth_bin" --root "$root" import --change 'CMD ["sh"]' "$images_cache/busybox-rootfs.tar" busybox:latest >/dev/null
"$berth_bin" --root "$root" tag busybox:latest busybox:rolled
# The manifest both sides run names podman's spelling of the local image.
"$berth_bin" --root "$root" tag busybox:latest localhost/busybox:latest
"$berth_bin" --root "$root" serve --host "unix://$work/docker.sock" --pidfile "$work/berth.pid" --kube-port "$kube_port" 2>"$work/serve.log" &
serve_pid=$!
# Podman as design.md sets it up here: runc, and no raised rlimits (the hard NOFILE limit is 20000).
export CONTAINERS_CONF=$work/containers.conf
printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"
podman() { command podman --runtime runc "$@"; }
cleanup() {
    kubectl delete deployments --all --wait=false >/dev/null 2>&1 || true
    kubectl wait --for=delete pods --all --timeout=120s >/dev/null 2>&1 || true
    podman kube down "$work/web.yaml" >/dev/null 2>&1 || true
    podman rmi -f localhost/busybox:latest >/dev/null 2>&1 || true
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    "$berth_bin" --root "$root" ps -aq | xargs -r "$berth_bin" --root "$root" rm -f >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
until curl -ks -o /dev/null "https://127.0.0.1:$kube_port/healthz"; do
    kill -0 "$serve_pid" 2>/dev/null || fail "berth serve exited: $(cat "$work/serve.log")"
    sleep 0.05
done
"$berth_bin" --root "$root" kube config --kube-port "$kube_port" >"$work/kubeconfig"
export KUBECONFIG=$work/kubeconfig
until kubectl get nodes -o name 2>/dev/null | grep -q node/; do sleep 0.1; done
podman import --change 'CMD ["sh"]' "$images_cache/busybox-rootfs.tar" localhost/busybox:latest >/dev/null

# The Deployment both sides run: $1 replicas of image $2, hostPort $3 (none when empty).
manifest() {
    local host_port=""
    [ -z "$3" ] || host_port="
              hostPort: $3"
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: $1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: httpd
          image: $2
          imagePullPolicy: IfNotPresent
          command: ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/etc"]
          ports:
            - containerPort: 8080$host_port
          readinessProbe:
            tcpSocket:
              port: 8080
            periodSeconds: 1
YAML
}

# The admin's client certificate, so the readiness polls below are plain curl requests (as the
# podman side's are) rather than kubectl start-ups of ~80 ms each.
kubectl config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$work/admin.crt"
kubectl config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$work/admin.key"
deployment_url=https://127.0.0.1:$kube_port/apis/apps/v1/namespaces/default/deployments/web

# Waits until deployment/web has $1 ready replicas.
ready_replicas() {
    until curl -ks --cert "$work/admin.crt" --key "$work/admin.key" "$deployment_url" | jq -e ".status.readyReplicas == $1" >/dev/null; do
        sleep 0.01
    done
}

remove_web() {
    kubectl delete deployment web >/dev/null
    kubectl wait --for=delete pods -l app=web --timeout=120s >/dev/null
}

manifest 1 localhost/busybox:latest 18081 >"$work/web.yaml"
berth_times=() podman_times=()
for ((run = 1; run <= runs; run++)); do
    start=$EPOCHREALTIME
    kubectl apply -f "$work/web.yaml" >/dev/null
    ready_replicas 1
    end=$EPOCHREALTIME
    berth_times+=("$(elapsed "$start" "$end")")
    remove_web
    start=$EPOCHREALTIME
    podman kube play "$work/web.yaml" >/dev/null
    until curl -s -o /dev/null http://127.0.0.1:18081/passwd; do sleep 0.02; done
    end=$EPOCHREALTIME
    podman_times+=("$(elapsed "$start" "$end")")
    podman kube down "$work/web.yaml" >/dev/null
done
berth_one=$(median "${berth_times[@]}") podman_one=$(median "${podman_times[@]}")

three_times=() roll_times=()
for ((run = 1; run <= runs; run++)); do
    manifest 3 busybox:latest "" >"$work/three.yaml"
    start=$EPOCHREALTIME
    kubectl apply -f "$work/three.yaml" >/dev/null
    ready_replicas 3
    end=$EPOCHREALTIME
    three_times+=("$(elapsed "$start" "$end")")
    start=$EPOCHREALTIME
    kubectl set image deployment/web httpd=busybox:rolled >/dev/null
    kubectl rollout status deployment/web --timeout=120s >/dev/null
    end=$EPOCHREALTIME
    roll_times+=("$(elapsed "$start" "$end")")
    remove_web
done

sleep 2
idle_rss=$(awk '/VmRSS/ { print $2 }' "/proc/$serve_pid/status")
manifest "$pods" busybox:latest "" >"$work/many.yaml"
kubectl apply -f "$work/many.yaml" >/dev/null
kubectl rollout status deployment/web --timeout=600s >/dev/null
sleep 5
busy_rss=$(awk '/VmRSS/ { print $2 }' "/proc/$serve_pid/status")

echo "kubernetes: kubectl against berth serve, and podman kube play (median of $runs runs)"
awk -v b="$berth_one" -v p="$podman_one" \
    'BEGIN { printf "  %-44s berth %6.3f s   podman %6.3f s   berth/podman %.2fx (goal <= 0.3x)\n", "1-replica Deployment, apply to Ready", b, p, b / p }'
awk -v t="$(median "${three_times[@]}")" 'BEGIN { printf "  %-44s berth %6.3f s (goal < 1 s)\n", "3 replicas, apply to Ready", t }'
awk -v t="$(median "${roll_times[@]}")" 'BEGIN { printf "  %-44s berth %6.3f s (goal < 5 s)\n", "rolling update of 3 replicas", t }'
# The figure to compare with: k3s's "Resource Profiling" page (docs.k3s.io/reference/resource-profiling,
# K3s v1.26.5) puts the minimum RAM of a K3s server with a workload, on Kine/SQLite, at 1596 M
# (control plane, kubelet and containerd together; Intel 8375C).
awk -v i="$idle_rss" -v b="$busy_rss" -v n="$pods" \
    'BEGIN { printf "  berth serve RSS: %d kB with 0 pods, %d kB with %d pods running (k3s server with a workload: 1596 M documented)\n", i, b, n }'
