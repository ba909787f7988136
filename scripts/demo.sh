#!/usr/bin/env bash
# Walks through Berth's user-visible commands, Docker's command shapes, on the
# offline base images. Each step is a function; `steps` lists them in order.
# Environment:
#   BERTH_BIN         use this binary instead of building one (make build)
#   BERTH_DEMO_ROOT   state directory (default: a fresh one, removed afterwards)
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
images_cache=${BERTH_IMAGES_CACHE:-$repo/images-cache}
berth_bin=${BERTH_BIN:-}

if [ -n "${BERTH_DEMO_ROOT:-}" ]; then
    root=$BERTH_DEMO_ROOT
    mkdir -p "$root"
else
    root=$(mktemp -d /var/tmp/berth-demo.XXXXXX)
fi

step() { printf '\n==> %s\n' "$*"; }

# Prints its arguments as a user would type them in a shell.
shell_words() {
    local word words=()
    for word in "$@"; do
        if [[ $word =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
            words+=("$word")
        else
            words+=("'${word//\'/\'\\\'\'}'")
        fi
    done
    echo "${words[*]}"
}

# Runs berth against the demo's root, echoing the command first.
berth() {
    echo "\$ berth $(shell_words "$@")"
    "$berth_bin" --root "$root" "$@"
}

build_berth() {
    if [ -n "$berth_bin" ]; then
        step "Using $berth_bin"
        return
    fi
    step "Building berth (release)"
    make -C "$repo" build
    berth_bin=$repo/.build/release/berth
}

make_base_images() {
    step "Making the offline base images"
    "$repo/scripts/make-base-images.sh" "$images_cache"
}

import_base_images() {
    step "Importing the base root filesystems as images"
    berth import --change 'CMD ["sh"]' "$images_cache/busybox-rootfs.tar" busybox:latest
    berth import --change 'CMD ["python3"]' "$images_cache/python-flask-rootfs.tar" python:3.11-flask
}

list_images() {
    step "Listing images"
    berth images
}

inspect_image() {
    step "Inspecting busybox"
    berth image inspect busybox
}

run_published_web_server() {
    step "Running busybox httpd detached with a published port"
    berth run -d --name hello-web -p 5111:80 busybox httpd -f -v -p 80 -h /var/www
    fetch http://127.0.0.1:5111/
    berth ps
    berth logs hello-web
    berth rm -f hello-web
}

# Polls a URL until it answers, then prints the page; fails if it never does.
fetch() {
    local url=$1 page="" attempt
    for attempt in $(seq 1 80); do
        page=$(curl -fsS --max-time 2 "$url" 2>/dev/null) && break
        sleep 0.25
    done
    echo "\$ curl $url"
    echo "$page"
    [ -n "$page" ] || { echo "demo: $url never answered" >&2; return 1; }
}

build_seed_app() {
    step "Building the seed's Python hello-world (examples/python-helloworld)"
    berth build -t python-helloworld "$repo/examples/python-helloworld"
    step "Rebuilding: every step comes from the cache"
    berth build -t python-helloworld "$repo/examples/python-helloworld"
}

run_seed_app() {
    step "Running it detached, published on port 5111"
    berth run -d --name python-helloworld -p 5111:5000 python-helloworld
    fetch http://127.0.0.1:5111/
    berth ps
    berth logs python-helloworld
    berth rm -f python-helloworld
}

tag_seed_app() {
    step "Tagging it for a registry"
    berth tag python-helloworld pixelpotato/python-helloworld:v1.0.0
    berth tag python-helloworld localhost:5000/pixelpotato/python-helloworld:v1.0.0
    berth images
}

registry_pid=
stop_registry() {
    if [ -n "$registry_pid" ]; then
        kill "$registry_pid" 2>/dev/null || true
        wait "$registry_pid" 2>/dev/null || true
        registry_pid=
    fi
}

push_and_pull_seed_app() {
    step "Serving a private registry on 127.0.0.1:5000"
    echo "\$ berth registry serve --addr 127.0.0.1:5000 --root $root/registry &"
    "$berth_bin" registry serve --addr 127.0.0.1:5000 --root "$root/registry" 2>"$root/registry.log" &
    registry_pid=$!
    local waited=0
    until curl -fsS -o /dev/null http://127.0.0.1:5000/v2/ 2>/dev/null; do
        [ $waited -lt 100 ] || { cat "$root/registry.log" >&2; echo "demo: the registry did not start" >&2; return 1; }
        sleep 0.1
        waited=$((waited + 1))
    done
    step "Pushing the seed app"
    berth push localhost:5000/pixelpotato/python-helloworld:v1.0.0
    berth images --digests localhost:5000/pixelpotato/python-helloworld
    step "Pulling it into a clean store and running it"
    local clean=$root/clean
    echo "\$ berth --root $clean pull localhost:5000/pixelpotato/python-helloworld:v1.0.0"
    "$berth_bin" --root "$clean" pull localhost:5000/pixelpotato/python-helloworld:v1.0.0
    echo "\$ berth --root $clean run -d --name pulled -p 5111:5000 localhost:5000/pixelpotato/python-helloworld:v1.0.0"
    "$berth_bin" --root "$clean" run -d --name pulled -p 5111:5000 localhost:5000/pixelpotato/python-helloworld:v1.0.0
    fetch http://127.0.0.1:5111/
    "$berth_bin" --root "$clean" rm -f pulled
    stop_registry
}

serve_pid=
stop_serve() {
    if [ -n "$serve_pid" ]; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
        serve_pid=
    fi
}

# Runs kubectl against the demo's `berth serve`, echoing the command first.
kubectl() {
    echo "\$ kubectl $(shell_words "$@")"
    command kubectl --kubeconfig "$root/kubeconfig" "$@"
}

deploy_seed_app_on_kubernetes() {
    step "Serving the Docker Engine API and the Kubernetes API (berth serve)"
    local kube_port=${BERTH_DEMO_KUBE_PORT:-16443}
    echo "\$ berth serve -H unix://$root/docker.sock --kube-port $kube_port &"
    "$berth_bin" --root "$root" serve -H "unix://$root/docker.sock" --pidfile "$root/serve.pid" \
        --kube-port "$kube_port" 2>"$root/serve.log" &
    serve_pid=$!
    local waited=0
    until [ -S "$root/docker.sock" ] && curl -ks -o /dev/null "https://127.0.0.1:$kube_port/healthz"; do
        [ $waited -lt 200 ] || { cat "$root/serve.log" >&2; echo "demo: berth serve did not start" >&2; return 1; }
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "\$ berth kube config --kube-port $kube_port > $root/kubeconfig"
    "$berth_bin" --root "$root" kube config --kube-port "$kube_port" >"$root/kubeconfig"
    step "Deploying the seed app: a Deployment of 3 replicas with probes, a ConfigMap file, a Secret and a Service"
    kubectl apply -f "$repo/examples/python-helloworld/k8s/"
    kubectl rollout status deployment/python-helloworld --timeout=180s
    kubectl get deployments,replicasets,pods,services,endpoints -o wide
    step "Reaching it through its Service: the ClusterIP, and the NodePort on 127.0.0.1"
    local cluster_ip node_port
    cluster_ip=$(command kubectl --kubeconfig "$root/kubeconfig" get service python-helloworld -o jsonpath='{.spec.clusterIP}')
    node_port=$(command kubectl --kubeconfig "$root/kubeconfig" get service python-helloworld -o jsonpath='{.spec.ports[0].nodePort}')
    fetch "http://$cluster_ip/"
    fetch "http://127.0.0.1:$node_port/"
    step "Scaling it to 5 replicas"
    kubectl scale deployment/python-helloworld --replicas=5
    kubectl rollout status deployment/python-helloworld --timeout=180s
    step "Rolling it to a new image tag"
    berth tag python-helloworld pixelpotato/python-helloworld:v1.0.1
    kubectl set image deployment/python-helloworld python-helloworld=pixelpotato/python-helloworld:v1.0.1
    kubectl rollout status deployment/python-helloworld --timeout=180s
    kubectl rollout history deployment/python-helloworld
    fetch "http://127.0.0.1:$node_port/"
    kubectl get pods -o wide
    kubectl delete -f "$repo/examples/python-helloworld/k8s/"
    kubectl wait --for=delete pods -l app=python-helloworld --timeout=120s
    stop_serve
    # The pods' network (its bridge is the host's) goes with the demo.
    berth network rm berth-pods
}

steps=(
    build_berth
    make_base_images
    import_base_images
    list_images
    inspect_image
    run_published_web_server
    build_seed_app
    run_seed_app
    tag_seed_app
    push_and_pull_seed_app
    deploy_seed_app_on_kubernetes
)

trap 'echo "demo: step $run_step failed" >&2' ERR
trap 'stop_registry; stop_serve; [ -n "${BERTH_DEMO_ROOT:-}" ] || rm -rf "$root"' EXIT
for run_step in "${steps[@]}"; do
    "$run_step"
done
step "Demo finished"
