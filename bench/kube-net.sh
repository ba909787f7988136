#!/usr/bin/env bash
# Kubernetes Services on one node: `berth serve`'s Services against direct requests, in one run.
#   - requests/s with wrk at 64 connections (busybox httpd in one pod) to the pod's IP, through
#     the Service's ClusterIP and through its NodePort on 127.0.0.1 (goal: >= 0.9x of direct),
#     median of ROUNDS (3) interleaved rounds of DURATION (5) seconds;
#   - TCP connect latency p99 over CONNECTS (2000) sequential connects, direct and through the
#     ClusterIP;
#   - DNS lookups/s from inside a pod: dnsperf in the pod's network namespace against the
#     kube-dns Service's ClusterIP, for DURATION seconds;
#   - the time from a pod turning not-ready (its readiness file removed; httpGet probe every 1 s)
#     to its endpoint leaving the ready endpoints of the Service's EndpointSlice, median of RUNS (5).
# Environment: BERTH_BIN, ROUNDS, DURATION, CONNECTS, RUNS, KUBE_PORT.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A port nothing listens on unless KUBE_PORT is given: a daemon left on a fixed port would
# otherwise answer this bench's health check.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rounds=${ROUNDS:-3} duration=${DURATION:-5} connects=${CONNECTS:-2000} runs=${RUNS:-5} kube_port=${KUBE_PORT:-$(free_port)}
require_berth
for tool in kubectl wrk dnsperf nsenter jq curl python3; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh)"
done
"$repo/scripts/make-base-images.sh" "$images_cache" busybox

work=$(mktemp -d /var/tmp/berth-bench-kube-net.XXXXXX)
root=$work/state
berth() { "$berth_bin" --root "$root" "$@"; }
berth import --change 'CMD ["sh"]' "$images_cache/busybox-rootfs.tar" busybox:latest >/dev/null
"$berth_bin" --root "$root" serve --host "unix://$work/docker.sock" --pidfile "$work/berth.pid" --kube-port "$kube_port" 2>"$work/serve.log" &
serve_pid=$!
cleanup() {
    kubectl delete deployment net --wait=false >/dev/null 2>&1 || true
    kubectl delete service net >/dev/null 2>&1 || true
    kubectl wait --for=delete pods --all --timeout=120s >/dev/null 2>&1 || true
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    berth ps -aq | xargs -r "$berth_bin" --root "$root" rm -f >/dev/null 2>&1 || true
    berth network rm berth-pods >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
until curl -ks -o /dev/null "https://127.0.0.1:$kube_port/healthz"; do
    kill -0 "$serve_pid" 2>/dev/null || fail "berth serve exited: $(cat "$work/serve.log")"
    sleep 0.05
done
berth kube config --kube-port "$kube_port" >"$work/kubeconfig"
export KUBECONFIG=$work/kubeconfig
until kubectl get nodes -o name 2>/dev/null | grep -q node/; do
    kill -0 "$serve_pid" 2>/dev/null || fail "berth serve exited: $(cat "$work/serve.log")"
    sleep 0.1
done
kubectl config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$work/admin.crt"
kubectl config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$work/admin.key"
api() { curl -ks --cert "$work/admin.crt" --key "$work/admin.key" "https://127.0.0.1:$kube_port$1"; }

# One replica, so direct and Service traffic reach the same single server and differ only in the path.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: net
spec:
  replicas: 1
  selector:
    matchLabels:
      app: net
  template:
    metadata:
      labels:
        app: net
    spec:
      containers:
        - name: httpd
          image: busybox:latest
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && touch /www/ready && exec httpd -f -p 8080 -h /www"]
          ports:
            - containerPort: 8080
          readinessProbe:
            httpGet:
              path: /ready
              port: 8080
            periodSeconds: 1
            failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata:
  name: net
spec:
  type: NodePort
  selector:
    app: net
  ports:
    - port: 80
      targetPort: 8080
YAML
kubectl rollout status deployment/net --timeout=180s >/dev/null

pod=$(kubectl get pods -l app=net -o jsonpath='{.items[0].metadata.name}')
pod_ip=$(kubectl get pod "$pod" -o jsonpath='{.status.podIP}')
cluster_ip=$(kubectl get svc net -o jsonpath='{.spec.clusterIP}')
node_port=$(kubectl get svc net -o jsonpath='{.spec.ports[0].nodePort}')
dns_ip=$(kubectl get svc -n kube-system kube-dns -o jsonpath='{.spec.clusterIP}' 2>/dev/null || true)
[ -n "$cluster_ip" ] && [ -n "$node_port" ] || fail "the Service net got no ClusterIP or NodePort"
container=$(berth ps -q --filter "label=io.kubernetes.pod.name=$pod" --filter "label=io.kubernetes.container.name=httpd")
[ -n "$container" ] || fail "no container of pod $pod"
pid=$(berth inspect --format '{{.State.Pid}}' "$container")

direct=http://$pod_ip:8080/index.html
through_cluster_ip=http://$cluster_ip/index.html
through_node_port=http://127.0.0.1:$node_port/index.html
for url in "$direct" "$through_cluster_ip" "$through_node_port"; do
    until curl -sf --max-time 2 -o /dev/null "$url"; do sleep 0.1; done
done

# Requests per second wrk reports for $1.
requests_per_second() {
    wrk -t2 -c64 -d"${duration}s" "$1" | awk '/^Requests\/sec:/ { print $2 }'
}
direct_rps=() cluster_rps=() node_rps=()
for ((round = 1; round <= rounds; round++)); do
    direct_rps+=("$(requests_per_second "$direct")")
    cluster_rps+=("$(requests_per_second "$through_cluster_ip")")
    node_rps+=("$(requests_per_second "$through_node_port")")
done

# The p99 of $connects sequential TCP connects to each of $1:$2 and $3:$4, in milliseconds
# (two words). The targets alternate connect by connect, so load from elsewhere on the machine
# falls on both alike. Each connection then fetches the page, so the server's process for it ends
# at once (an idle connection would hold one of busybox httpd's forks until its timeout).
connect_p99() {
    python3 - "$connects" "$@" <<'PY'
import socket, sys, time
count = int(sys.argv[1])
targets = [(sys.argv[2], int(sys.argv[3])), (sys.argv[4], int(sys.argv[5]))]
times = [[], []]
for _ in range(count):
    for index, target in enumerate(targets):
        s = socket.socket()
        start = time.perf_counter()
        s.connect(target)
        times[index].append(time.perf_counter() - start)
        s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        while s.recv(4096):
            pass
        s.close()
print(" ".join("%.3f" % (sorted(t)[int(len(t) * 0.99) - 1] * 1000) for t in times))
PY
}
sleep 2  # wrk's last connections drain first
read -r direct_p99 service_p99 < <(connect_p99 "$pod_ip" 8080 "$cluster_ip" 80)

# DNS from inside the pod: its network namespace, the cluster DNS it is configured with.
printf 'net.default.svc.cluster.local A\nkubernetes.default.svc.cluster.local A\nnet.default.svc.cluster.local SRV\n' >"$work/queries"
dns_qps=""
if [ -n "$dns_ip" ]; then
    dns_qps=$(nsenter --net="/proc/$pid/ns/net" dnsperf -s "$dns_ip" -d "$work/queries" -l "$duration" -c 4 -Q 100000 2>&1 |
        awk '/Queries per second:/ { print $4 }' || true)
fi

# Not-ready to out of the ready endpoints: the EndpointSlice's endpoint for the pod's IP.
ready_in_slice() {
    api "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dnet" |
        jq -e --arg ip "$pod_ip" '[.items[].endpoints[]? | select(.addresses | index($ip)) | select(.conditions.ready != false)] | length > 0' >/dev/null
}
leave_times=()
for ((run = 1; run <= runs; run++)); do
    until ready_in_slice; do sleep 0.05; done
    berth exec "$container" rm /www/ready
    start=$EPOCHREALTIME
    while ready_in_slice; do sleep 0.01; done
    end=$EPOCHREALTIME
    leave_times+=("$(elapsed "$start" "$end")")
    berth exec "$container" touch /www/ready
done

echo "kubernetes networking: berth serve's Services against direct requests (wrk -c 64, median of $rounds rounds of ${duration} s)"
d=$(median "${direct_rps[@]}") c=$(median "${cluster_rps[@]}") n=$(median "${node_rps[@]}")
awk -v d="$d" -v c="$c" -v n="$n" 'BEGIN {
    printf "  %-40s %9.0f req/s\n", "direct to the pod IP", d
    printf "  %-40s %9.0f req/s   %.2fx of direct (goal >= 0.9x)\n", "through the ClusterIP", c, c / d
    printf "  %-40s %9.0f req/s   %.2fx of direct (goal >= 0.9x)\n", "through the NodePort on 127.0.0.1", n, n / d
}'
awk -v d="$direct_p99" -v s="$service_p99" -v n="$connects" \
    'BEGIN { printf "  connect p99 (%d connects): direct %.3f ms, through the ClusterIP %.3f ms (%.2fx)\n", n, d, s, s / d }'
echo "  DNS from inside a pod (dnsperf against the kube-dns ClusterIP ${dns_ip:-(no kube-dns Service)}): ${dns_qps:-no answer} lookups/s"
awk -v t="$(median "${leave_times[@]}")" -v r="$runs" \
    'BEGIN { printf "  not-ready to out of the EndpointSlice: %.3f s (median of %d; probe period 1 s)\n", t, r }'
