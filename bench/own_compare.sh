#!/bin/sh
# bench/own_compare.sh: the ownership-transfer protocol of the path cache against
# the directory baseline's Ivy-style manager, on a few topologies. Prints three
# markdown tables:
#   1. transfer latency, uncontended: one page passed from node to node by
#      migratory sessions far apart (no readers, 20 us between sessions): from
#      the ACQUIRE reaching the requester's DPU to ownership, and the arbiter
#      messages (ACQ, GRANT, DENY, XFER_*) and link traversals per acquire;
#   2. a contended lock: lock-contend:N for N = 2, 4, ..., 64 (at most the
#      nodes): handoff latency p50 (RELEASE at the holder to the next waiter's
#      ACQUIRE done), throughput (acquires per ms of simulated time), arbiter
#      messages and traversals per acquire;
#   3. a barrier: barrier:N, arbiter messages and traversals per barrier round.
#   sh bench/own_compare.sh build/ariadne [TOPOLOGY ...]
set -eu
ariadne=${1:-build/ariadne}
[ $# -gt 0 ] && shift
topos=${*:-random:64:4:1 torus2d:8x8 ring:16}

json() { # json KEY TEXT
    printf '%s\n' "$2" | tr ',' '\n' | sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" | head -1
}

sim() { # sim PROTOCOL ARGS...: the JSON of one run; stops the script if a check fails
    protocol=$1
    shift
    "$ariadne" sim --protocol "$protocol" --json "$@" || {
        echo "own_compare: a check failed: ariadne sim --protocol $protocol $*" >&2
        exit 1
    }
}

nodes_of() { # nodes_of SPEC
    json nodes "$("$ariadne" topo "$1" --json)"
}

echo "Transfer, uncontended (migratory, 1 page, no readers, 500 sessions 20 us apart)"
echo
echo "| topology | diameter | transfer ns p50 / p99, path cache | directory | messages per acquire, path cache | directory | traversals per acquire, path cache | directory |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for spec in $topos; do
    args="--topo $spec --workload migratory --pages 1 --readers 0 --ops 500 --interval 20000"
    pc=$(sim pathcache $args)
    dir=$(sim directory $args)
    diameter=$(json diameter "$("$ariadne" topo "$spec" --json)")
    printf '| %s | %s | %s / %s | %s / %s | %s | %s | %s | %s |\n' "$spec" "$diameter" \
        "$(json transfer_ns_p50 "$pc")" "$(json transfer_ns_p99 "$pc")" \
        "$(json transfer_ns_p50 "$dir")" "$(json transfer_ns_p99 "$dir")" \
        "$(json messages_per_acquire "$pc")" "$(json messages_per_acquire "$dir")" \
        "$(json traversals_per_acquire "$pc")" "$(json traversals_per_acquire "$dir")"
done

echo
echo "A contended lock (lock-contend:N, 400 critical sections, hold 0, no readers)"
echo
echo "| topology | contenders | handoff ns p50, path cache | directory | acquires per ms, path cache | directory | messages per acquire, path cache | directory | traversals per acquire, path cache | directory |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for spec in $topos; do
    nodes=$(nodes_of "$spec")
    for n in 2 4 8 16 32 64; do
        [ "$n" -le "$nodes" ] || continue
        args="--topo $spec --workload lock-contend:$n --ops 400 --readers 0"
        pc=$(sim pathcache $args)
        dir=$(sim directory $args)
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$spec" "$n" \
            "$(json handoff_ns_p50 "$pc")" "$(json handoff_ns_p50 "$dir")" \
            "$(json acquires_per_ms "$pc")" "$(json acquires_per_ms "$dir")" \
            "$(json messages_per_acquire "$pc")" "$(json messages_per_acquire "$dir")" \
            "$(json traversals_per_acquire "$pc")" "$(json traversals_per_acquire "$dir")"
    done
done

echo
echo "A barrier (barrier:N, 20 rounds, no readers)"
echo
echo "| topology | parties | messages per barrier, path cache | directory | traversals per barrier, path cache | directory |"
echo "| --- | --- | --- | --- | --- | --- |"
for spec in $topos; do
    nodes=$(nodes_of "$spec")
    for n in 2 4 8 16 32 64; do
        [ "$n" -le "$nodes" ] || continue
        args="--topo $spec --workload barrier:$n --ops 20 --readers 0"
        pc=$(sim pathcache $args)
        dir=$(sim directory $args)
        printf '| %s | %s | %s | %s | %s | %s |\n' "$spec" "$n" \
            "$(json messages_per_barrier "$pc")" "$(json messages_per_barrier "$dir")" \
            "$(json traversals_per_barrier "$pc")" "$(json traversals_per_barrier "$dir")"
    done
done
