#!/bin/sh
# bench/sim_compare.sh: the path-cache protocol against the directory baseline,
# one page read by 1024 nodes (1023 on 1024-node graphs), a quarter of the
# operations writes or atomics, on each topology. Prints a markdown table:
# link traversals per write (request + answer + every UPDATE/INVAL hop), their
# ratio, and the propagation delay from the owner to the replicas.
#   sh bench/sim_compare.sh build/ariadne [small|large|all]
set -eu
ariadne=${1:-build/ariadne}
which=${2:-all}
# Mean gap between operations: 5 us, so a write comes every 20 us and the home
# of the directory is not saturated (set INTERVAL=200 to see it saturate).
interval=${INTERVAL:-5000}

json() { # json KEY TEXT
    printf '%s\n' "$2" | tr ',' '\n' | sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" | head -1
}
prop() { # prop WHICH TEXT  (p50, p99 or max of propagation_ns)
    printf '%s\n' "$2" | sed -n 's/.*"propagation_ns": {\([^}]*\)}.*/\1/p' | tr ',' '\n' |
        sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"
}

run() { # run SPEC READERS OPS
    spec=$1 readers=$2 ops=$3
    pc=$("$ariadne" sim --protocol pathcache --topo "$spec" --workload readmostly --pages 1 \
        --readers "$readers" --warmup --ops "$ops" --write-ratio 0.25 --interval "$interval" --json)
    dir=$("$ariadne" sim --protocol directory --topo "$spec" --workload readmostly --pages 1 \
        --readers "$readers" --warmup --ops "$ops" --write-ratio 0.25 --interval "$interval" --json)
    tp=$(json traversals_per_write "$pc")
    td=$(json traversals_per_write "$dir")
    ratio=$(awk -v a="$tp" -v b="$td" 'BEGIN { printf "%.3f", a / b }')
    printf '| %s | %s | %s | %s | %s | %s / %s / %s | %s / %s / %s | %s | %s |\n' "$spec" \
        "$(json nodes "$pc")" "$tp" "$td" "$ratio" \
        "$(prop p50 "$pc")" "$(prop p99 "$pc")" "$(prop max "$pc")" \
        "$(prop p50 "$dir")" "$(prop p99 "$dir")" "$(prop max "$dir")" \
        "$(json pcache_entries_max "$pc")" "$(json sharer_bytes "$dir")"
}

echo "| topology | nodes | traversals/write, path cache | directory | ratio | propagation ns p50/p99/max, path cache | directory | max entries per DPU | directory sharer bytes |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
if [ "$which" != large ]; then
    run torus3d:8x8x16 1023 4000
    run random:1024:8:1 1023 4000
    run opt:1024:8:1 1023 4000
fi
if [ "$which" != small ]; then
    run torus3d:32x32x64 1024 4000
    run random:65536:8:1 1024 4000
fi
