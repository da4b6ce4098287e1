#!/bin/sh
# bench/topo.sh — exact figures of a few large topologies: wall seconds and
# the average shortest path (ASPL) against the Moore bound. Figures only, not
# a test; run the rows one after another (each uses one core).
#
#   sh bench/topo.sh path/to/ariadne        (make bench does this)
#
# Rows with --bfs time the bit-parallel BFS where a closed form exists.
set -eu

tool=${1:-}
if [ -z "$tool" ] || [ ! -x "$tool" ]; then
    echo "usage: sh bench/topo.sh path/to/ariadne" >&2
    exit 2
fi

# Wall clock in seconds with a fraction where date(1) has %N (GNU).
now() {
    t=$(date +%s.%N)
    case $t in *N*) date +%s ;; *) echo "$t" ;; esac
}

# One field of the one-line JSON object in $json.
field() {
    printf '%s\n' "$json" | sed -n "s/.*\"$1\": \"*\([^,\"}]*\)\"*[,}].*/\1/p"
}

printf '%-26s %8s %6s %5s %10s %10s %7s  %s\n' \
    spec seconds nodes diam aspl moore_aspl ratio figures
for row in "random:65536:8:1" "opt:1024:8:1" "torus3d:32x32x64" "torus3d:32x32x64 --bfs" \
           "hypercube:16" "hypercube:16 --bfs"; do
    start=$(now)
    # $row is split on purpose: a spec and maybe --bfs.
    if ! json=$("$tool" topo $row --json); then
        echo "bench/topo.sh: '$tool topo $row --json' failed" >&2
        exit 1
    fi
    end=$(now)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    printf '%-26s %8s %6s %5s %10.6f %10.6f %7.4f  %s\n' "$row" "$seconds" \
        "$(field nodes)" "$(field diameter)" "$(field aspl)" "$(field moore_aspl)" \
        "$(field aspl_ratio)" "$(field figures)"
done
