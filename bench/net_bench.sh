#!/usr/bin/env bash
# bench/net_bench.sh — `make bench-net`: Ariadne between two hosts beside
# OpenSHMEM between the same two, on this machine. The hosts are network
# namespaces joined by one veth (tests/net/netns.sh, topology mesh:2).
#
#   bash bench/net_bench.sh [BUILD]        BUILD: the build directory (build)
#
# Ariadne runs twice, its links between hosts over TCP (--transport tcp) and
# over UCX (--transport ucx: UCX's TCP transport, as the hosts file's
# template sets UCX_TLS=tcp). Figures (node/PE 1 asks, node/PE 0 owns and
# waits in a barrier):
#   fetch-add 8 B   ari_bench fetch-add          shmem_bench fetch-add
#   get 8 B         ari_bench get (ari_get)      shmem_bench get (shmem_getmem)
#   get 4 KiB       net_get 4096 (ari_get)       net_get_shmem 4096 (shmem_getmem)
# Ariadne runs under `ariadne run --hosts --key`, the launcher in the root
# namespace being the join's coordinator on the management bridge. OpenSHMEM
# is Open MPI's oshmem under oshrun, its daemons started in the namespaces by
# an rsh agent (netns.sh), over UCX's TCP transport on the veth only
# (UCX_TLS=tcp, UCX_NET_DEVICES), unbound (--bind-to none: each daemon thinks
# its host has every core to itself, and binding would put both PEs on core 0:
# 8 ms an operation). Two more settings keep Open MPI 4.1 from tripping on
# hosts that share one kernel: --mca rtc ^hwloc (orted crashed about one run
# in three in hwloc_shmem_topology_write) and PMIX_MCA_gds=hash (PMIx's
# shared-memory store logged errors).
#
# Each figure runs NET_BENCH_REPS times (3) with NET_BENCH_ITERS samples (1000);
# the table shows the median of every sample of every run, and Ariadne / SHMEM.
# NET_BENCH_SHAPED=1 adds a second round with the links slowed as check-net
# slows them (netem delay, or a token bucket where the kernel has no netem).
# NET_BENCH_KEEP=1 keeps the work directory (every run's output) in /tmp.
# Needs root and iproute2; a system that cannot run says why in its column.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
export ARIADNE=$build/ariadne
. "$root/tests/net/netns.sh"

iters=${NET_BENCH_ITERS:-1000}
reps=${NET_BENCH_REPS:-3}
coordinator=$NET_MGMT_NET.1:17499
work=$(mktemp -d /tmp/ariadne-bench-net.XXXXXX)

cleanup() { net_down; [ -n "${NET_BENCH_KEEP:-}" ] || rm -rf "$work"; }

net_can || { echo "bench-net: cannot build test hosts here (see above)" >&2; rm -rf "$work"; exit 1; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for f in "$ARIADNE" "$build/bench/ari_bench" "$build/net/net_get"; do
    [ -x "$f" ] || { echo "bench-net: $f not found; run make bench-net" >&2; exit 1; }
done

# The values of every @bench line for FIGURE VARIANT in the files given.
values() { # FIGURE VARIANT FILE...
    local figure=$1 variant=$2; shift 2
    cat "$@" 2>/dev/null | sed -n "s/.*@bench $figure $variant ns [0-9]* //p" | tr ' ' '\n' | grep .
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR) printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

ariadne_hosts() { "$ARIADNE" run --help 2>&1 | grep -q -- --hosts; }

# One Ariadne run: its output appended to $work/ari-FIGURE; false on failure.
# A port for each Ariadne run: the agents of a run that just ended leave
# their listening port in TIME_WAIT, which UCX's listener cannot bind again
# for a minute (it sets no SO_REUSEADDR).
port=$NET_PORT
ariadne_run() { # NAME TRANSPORT PROGRAM ARGS...
    local name=$1 transport=$2; shift 2
    port=$((port + 1))
    sed "s/:[0-9]* 1 launch/:$port 1 launch/" "$work/hosts" > "$work/hosts.run"
    timeout 120 "$ARIADNE" run --hosts "$work/hosts.run" --key "$work/cluster.key" -n 2 \
        --coordinator "$coordinator" --transport "$transport" "$@" \
        >> "$work/ari-$transport-$name" 2>> "$work/ari-$transport-$name.err"
}

# One oshrun; each PE writes its samples to a file of its own in $work/shmem-NAME/.
shmem_run() { # NAME PROGRAM ARGS...
    local name=$1; shift
    mkdir -p "$work/shmem-$name"
    PMIX_MCA_gds=hash ARI_BENCH_OUTPUT=$work/shmem-$name OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        timeout 120 oshrun --bind-to none --mca plm_rsh_agent "$work/rsh-agent" \
        --mca oob_tcp_if_include "$NET_MGMT_NET.0/24" --host "$NET_HOST_NET.1:1,$NET_HOST_NET.2:1" \
        -n 2 -x UCX_TLS=tcp -x ARI_BENCH_OUTPUT --mca spml ucx --mca osc ^rdma --mca btl ^openib \
        --mca pml_ucx_tls any --mca pml_ucx_devices any --mca rtc ^hwloc "$@" \
        >> "$work/shmem-$name.out" 2>> "$work/shmem-$name.err"
}

# The figures: NAME FIGURE VARIANT, then the Ariadne and SHMEM commands.
figures=(fetch-add get get-4k)
declare -A fig_line=([fetch-add]="fetch-add fetch-add" [get]="get get" [get-4k]="get 4096")
declare -A fig_label=([fetch-add]="fetch-add 8 B" [get]="get 8 B" [get-4k]="get 4 KiB")
ari_cmd() { case $1 in
    fetch-add) echo "$build/bench/ari_bench fetch-add $iters" ;;
    get) echo "$build/bench/ari_bench get $iters" ;;
    get-4k) echo "$build/net/net_get 4096 $iters" ;; esac; }
shmem_cmd() { case $1 in
    fetch-add) echo "$build/bench/shmem_bench fetch-add $iters" ;;
    get) echo "$build/bench/shmem_bench get $iters" ;;
    get-4k) echo "$build/net/net_get_shmem 4096 $iters" ;; esac; }

# Why a system cannot run here, or nothing.
ari_why=
ariadne_hosts || ari_why="ariadne run has no --hosts in this build"
shmem_why=
command -v oshrun >/dev/null 2>&1 || shmem_why="no oshrun (apt-get install openmpi-bin libopenmpi-dev)"
[ -z "$shmem_why" ] && [ ! -x "$build/bench/shmem_bench" ] && shmem_why="no $build/bench/shmem_bench (make bench-net with oshcc)"

# One round on fresh hosts: every figure, both systems; prints the rows.
us() { [ -n "$1" ] && awk -v v="$1" 'BEGIN {printf "%.1f us", v / 1000}'; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v s="$2" 'BEGIN {printf "%.2f", a / s}'; else echo -; fi; }
row() { printf '%-14s %-12s %12s %12s %12s %10s %10s\n' "$@"; }

# One round on fresh hosts: every figure, every system; prints the rows.
round() { # LABEL (the links' shaping)
    local label=$1 name transport tcp_v ucx_v shmem_v
    rm -rf "$work"/ari-* "$work"/shmem-*
    for name in "${figures[@]}"; do
        for transport in tcp ucx; do
            for ((r = 0; r < reps; r++)); do
                if [ -z "$ari_why" ] && ! ariadne_run "$name" "$transport" $(ari_cmd "$name"); then
                    echo "bench-net: Ariadne ($transport) $name failed:" >&2
                    tail -5 "$work/ari-$transport-$name.err" >&2
                    break
                fi
            done
        done
        for ((r = 0; r < reps; r++)); do
            if [ -z "$shmem_why" ] && ! shmem_run "$name" $(shmem_cmd "$name"); then
                echo "bench-net: SHMEM $name failed:" >&2; tail -5 "$work/shmem-$name.err" >&2
                break
            fi
        done
        tcp_v=$(values ${fig_line[$name]} "$work/ari-tcp-$name" | median)
        ucx_v=$(values ${fig_line[$name]} "$work/ari-ucx-$name" | median)
        shmem_v=$(values ${fig_line[$name]} "$work"/shmem-"$name"/* "$work/shmem-$name.out" | median)
        row "${fig_label[$name]}" "$label" "$(us "$tcp_v")" "$(us "$ucx_v")" "$(us "$shmem_v")" \
            "$(ratio "$tcp_v" "$shmem_v")" "$(ratio "$ucx_v" "$shmem_v")"
    done
}

setup() { # DELAY
    NET_DELAY=$1 net_up mesh:2 "$work" 2>"$work/netns.log" || { cat "$work/netns.log" >&2; exit 1; }
    LINK_LABEL=$(sed "s/ (.*//" "$NET_STATE/shaping")
    SHAPING_NOTES=$(sed -n "s/.*(\(.*\))/\1/p" "$NET_STATE/shaping")
    net_rsh_agent "$work" || exit 1
    [ -f "$work/cluster.key" ] || "$ARIADNE" keygen "$work/cluster.key" >/dev/null || exit 1
}

echo "bench-net: 2 hosts (network namespaces) joined by one veth; $reps runs x $iters samples a figure"
echo "Ariadne: ariadne run --hosts --transport tcp|ucx (coordinator $coordinator); SHMEM: oshrun, UCX over TCP on the veth"
[ -n "$ari_why" ] && echo "Ariadne: not measured: $ari_why"
[ -n "$shmem_why" ] && echo "SHMEM: not measured: $shmem_why"
echo
row figure link "Ariadne tcp" "Ariadne ucx" "SHMEM" "tcp/SHMEM" "ucx/SHMEM"
setup 0
round veth
if [ "${NET_BENCH_SHAPED:-0}" = 1 ]; then
    setup "${NET_DELAY_SHAPED:-200us}"
    round shaped
    echo "(shaped: $LINK_LABEL on both ends of the veth${SHAPING_NOTES:+; $SHAPING_NOTES})"
fi
echo
echo "Medians of every sample (latency of one operation, node 1 -> node 0); lower is better;"
echo "tcp/SHMEM and ucx/SHMEM are Ariadne's median over SHMEM's."
