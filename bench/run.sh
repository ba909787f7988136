#!/usr/bin/env bash
# Runs every benchmark: Berth and its peer side by side, ratios printed.
# Benchmarks report numbers; they are not part of the test suite's pass/fail.
set -euo pipefail
dir=$(dirname "${BASH_SOURCE[0]}")
"$dir/load.sh"
"$dir/images.sh"
"$dir/containers.sh"
"$dir/confinement.sh"
"$dir/build.sh"
"$dir/build-copy.sh"
"$dir/registry.sh"
"$dir/engine-api.sh"
"$dir/kube.sh"
"$dir/kube-net.sh"
