# Shared pieces of the bench scripts (sourced, not run).
# BERTH_BIN selects the berth binary (default: the release build).

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
berth_bin=${BERTH_BIN:-$repo/.build/release/berth}
images_cache=${BERTH_IMAGES_CACHE:-$repo/images-cache}

fail() { echo "bench: $*" >&2; exit 1; }

require_berth() {
    [ -x "$berth_bin" ] || fail "no berth binary at $berth_bin: run \`make build\` or set BERTH_BIN"
    [ -x "$(dirname "$berth_bin")/berth-monitor" ] || fail "no berth-monitor next to $berth_bin: run \`make build\`"
}

# Wall-clock timing reads $EPOCHREALTIME (bash 5) into `start` before and `end` after what is
# timed: no fork, so the timing itself adds nothing to either side's figure.

# Prints $2 - $1 in seconds.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# Prints the median of its numeric arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
