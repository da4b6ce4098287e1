#!/usr/bin/env bash
# tests/net/netns.sh — test hosts for runs across hosts: one network namespace
# per host, wired exactly as a topology, so that `ariadne run --hosts` meets a
# real network on one machine (docs/CLUSTER.md, "Test hosts: make check-net").
#
#   tests/net/netns.sh up SPEC [DIR]   build the hosts of SPEC, write DIR/hosts
#   tests/net/netns.sh down            remove every trace of them (idempotent)
#   tests/net/netns.sh show            what exists now
#   tests/net/netns.sh link A B up|down  one data link, both ends (and its routes)
#
# or, from another bash script: `. tests/net/netns.sh`, then net_up, net_down,
# net_link, net_rsh_agent (and set a trap that calls net_down: see
# tests/net/check-net.sh).
#
# SPEC is anything `ariadne topo` takes (ring:5, random:6:3:7, file:edges.txt);
# host I is node I. The layout, for hosts ari-h0 .. ari-h(N-1):
#
#   management  bridge arimgmt0 (10.98.0.1/24) in the root namespace; host I's
#               veth mgmt0 is 10.98.0.(10+I). Only the join (the launcher is the
#               coordinator) and the launcher's control use it.
#   host        10.99.0.(I+1)/32 on host0 (one end of a veth pair inside the
#               namespace, standing in for a dummy device): the address in the
#               hosts file, where the host's agent listens (port NET_PORT, 17500).
#   data links  for edge k = (a,b) of the topology, a veth pair: to-hB in ari-hA
#               and to-hA in ari-hB, a /31 (10.97.x.y), and in each namespace a
#               /32 route to the other's host address through it (source: its
#               own host address). With netem delay NET_DELAY (200us; "0" for
#               none) on both ends, or where the kernel has no netem a token
#               bucket at NET_RATE (50mbit) instead (net_shape_probe).
#
# No namespace forwards IP (net.ipv4.ip_forward=0) and none has a default
# route, so hosts that are not neighbours in the topology cannot reach each
# other through the kernel: their traffic must be relayed by Ariadne's agents.
#
# The hosts file gives each host one slot and the template
# `ip netns exec {host} env UCX_TLS=tcp UCX_NET_DEVICES=host0 {cmd}`, for
# `ariadne run --transport ucx`: the namespaces share one kernel and one
# /dev/shm, so UCX would otherwise take them for one machine and pass
# messages through shared memory instead of the links; and UCX's TCP
# transport advertises every device's address, including the /31s of links
# a neighbour cannot reach, where host0's is reachable from every neighbour.
#
# Needs root and iproute2 (ip, tc). Environment: ARIADNE (the command, default
# build/ariadne), NET_DELAY, NET_RATE, NET_PORT, NET_HOSTS_MAX (64).
set -u

NET_PREFIX=ari-h
NET_BRIDGE=arimgmt0
NET_MGMT_NET=10.98.0
NET_HOST_NET=10.99.0
NET_LINK_NET=10.97
NET_DELAY=${NET_DELAY:-200us}
NET_RATE=${NET_RATE:-50mbit}
NET_PORT=${NET_PORT:-17500}
NET_HOSTS_MAX=${NET_HOSTS_MAX:-64}
NET_STATE=/run/ariadne-netns  # what `up` built: the edge list, for `link`

net_say() { echo "netns: $*" >&2; }
net_die() { net_say "$*"; return 1; }

# Whether this machine can build the hosts at all; says why not.
net_can() {
    [ "$(id -u)" = 0 ] || { net_die "needs root (network namespaces, veths, tc); run it as root"; return 1; }
    command -v ip >/dev/null 2>&1 || { net_die "'ip' not found; on Debian: apt-get install iproute2"; return 1; }
    command -v tc >/dev/null 2>&1 || { net_die "'tc' not found; on Debian: apt-get install iproute2"; return 1; }
    ip netns list >/dev/null 2>&1 || { net_die "'ip netns' does not work here"; return 1; }
}

net_host() { echo "$NET_PREFIX$1"; }              # host I's name (and namespace)
net_host_addr() { echo "$NET_HOST_NET.$(($1 + 1))"; }
net_mgmt_addr() { echo "$NET_MGMT_NET.$(($1 + 10))"; }
# The /31 of edge K: its lower address, then the higher one.
net_link_addr() { local k=$1 side=$2 n=$(($1 * 2 + $2)); echo "$NET_LINK_NET.$((n / 256)).$((n % 256))"; }

# The edges of SPEC as "a b" lines, from `ariadne topo SPEC --dot -`.
net_edges() {
    local dot
    dot=$("${ARIADNE:-build/ariadne}" topo "$1" --dot -) || return 1
    printf '%s\n' "$dot" | sed -n 's/^ *\([0-9][0-9]*\) -- \([0-9][0-9]*\);$/\1 \2/p'
}

# The node count of SPEC.
net_nodes() {
    "${ARIADNE:-build/ariadne}" topo "$1" --json | sed -n 's/.*"nodes": *\([0-9]*\).*/\1/p'
}

# Kills what still runs in our namespaces (processes a test started there),
# deletes the namespaces (their veths go with them), the bridge, the files
# under /etc/netns of ours and the state. Safe to run any number of times,
# and after a run that was killed halfway.
net_down() {
    local ns pids
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$NET_PREFIX[0-9]+\$"); do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
        ip netns delete "$ns" 2>/dev/null
        rm -rf "/etc/netns/$ns/ariadne-test"
        rmdir "/etc/netns/$ns" 2>/dev/null
    done
    # Management veths left in the root namespace when a namespace went first.
    for ns in $(ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: \(arim[0-9]*\)[@:].*/\1/p'); do
        ip link delete "$ns" 2>/dev/null
    done
    ip link delete "$NET_BRIDGE" 2>/dev/null
    rmdir /etc/netns 2>/dev/null
    rm -rf "$NET_STATE"
    return 0
}

net_ns_base() { # I: the namespace, lo with the host address, the management veth
    local i=$1 ns
    ns=$(net_host "$i")
    ip netns add "$ns" || return 1
    ip -n "$ns" link set lo up || return 1
    # The host address on a device of its own: a veth pair with both ends
    # here does what a dummy device does (this kernel may have no dummy
    # driver), and unlike lo it is a device UCX will use for a link.
    ip -n "$ns" link add host0 type veth peer name host0p || return 1
    ip -n "$ns" link set host0p up || return 1
    ip -n "$ns" link set host0 up || return 1
    ip -n "$ns" addr add "$(net_host_addr "$i")/32" dev host0 || return 1
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0 || return 1
    ip link add "arim$i" type veth peer name mgmt0 netns "$ns" || return 1
    ip link set "arim$i" master "$NET_BRIDGE" up || return 1
    ip -n "$ns" addr add "$(net_mgmt_addr "$i")/24" dev mgmt0 || return 1
    ip -n "$ns" link set mgmt0 up
}

# The route from host A to host B's address over their link (it goes when
# the link goes down: the kernel drops routes through a device that is down).
net_route() { # A B K
    local a=$1 b=$2 k=$3 via
    if [ "$a" -lt "$b" ]; then via=$(net_link_addr "$k" 1); else via=$(net_link_addr "$k" 0); fi
    ip -n "$(net_host "$a")" route replace "$(net_host_addr "$b")/32" via "$via" \
        dev "to-h$b" src "$(net_host_addr "$a")"
}

# How the data links are slowed: netem delay NET_DELAY where the kernel has
# netem; where it has not (CONFIG_NET_SCH_NETEM unset, as on some VMs), a
# token bucket at NET_RATE with a bucket of one packet (a 4 KiB page then
# takes 4096 * 8 / rate on the wire, a small message far less); nothing when
# NET_DELAY is 0. Sets NET_SHAPING to what is used, in words.
net_shape_probe() {
    if [ "$NET_DELAY" = 0 ]; then
        NET_SHAPING=none
    elif tc qdisc add dev "$NET_BRIDGE" root netem delay 1us 2>/dev/null; then
        tc qdisc del dev "$NET_BRIDGE" root 2>/dev/null
        NET_SHAPING="netem delay $NET_DELAY"
    else
        NET_SHAPING="tbf rate $NET_RATE (this kernel has no netem)"
    fi
}

net_shape() { # NS DEV
    case $NET_SHAPING in
        none) ;;
        netem*) tc -n "$1" qdisc replace dev "$2" root netem delay "$NET_DELAY" ;;
        tbf*) tc -n "$1" qdisc replace dev "$2" root tbf rate "$NET_RATE" burst 2kb latency 100ms ;;
    esac
}

net_edge() { # K A B (A < B): the veth pair, the /31, netem, the routes
    local k=$1 a=$2 b=$3 na nb
    na=$(net_host "$a"); nb=$(net_host "$b")
    ip link add "to-h$b" netns "$na" type veth peer name "to-h$a" netns "$nb" || return 1
    ip -n "$na" addr add "$(net_link_addr "$k" 0)/31" dev "to-h$b" || return 1
    ip -n "$nb" addr add "$(net_link_addr "$k" 1)/31" dev "to-h$a" || return 1
    ip -n "$na" link set "to-h$b" up || return 1
    ip -n "$nb" link set "to-h$a" up || return 1
    net_shape "$na" "to-h$b" && net_shape "$nb" "to-h$a" || return 1
    net_route "$a" "$b" "$k" && net_route "$b" "$a" "$k"
}

# Builds the hosts of SPEC (after removing any left over) and writes DIR/hosts.
net_up() {
    local spec=$1 dir=${2:-.} edges i k a b
    net_can || return 1
    [ -x "${ARIADNE:-build/ariadne}" ] || { net_die "${ARIADNE:-build/ariadne} not found; run make first"; return 1; }
    edges=$(net_edges "$spec") || { net_die "ariadne topo '$spec' failed"; return 1; }
    NET_NODES=$(net_nodes "$spec")
    [ -n "${NET_NODES:-}" ] && [ "$NET_NODES" -ge 1 ] || { net_die "no node count for '$spec'"; return 1; }
    [ "$NET_NODES" -le "$NET_HOSTS_MAX" ] ||
        { net_die "'$spec' has $NET_NODES nodes; at most $NET_HOSTS_MAX hosts (NET_HOSTS_MAX)"; return 1; }
    net_down
    mkdir -p "$NET_STATE" "$dir" || return 1
    printf '%s\n' "$edges" > "$NET_STATE/edges"
    ip link add "$NET_BRIDGE" type bridge || return 1
    ip addr add "$NET_MGMT_NET.1/24" dev "$NET_BRIDGE" || return 1
    ip link set "$NET_BRIDGE" up || return 1
    net_shape_probe
    echo "$NET_SHAPING" > "$NET_STATE/shaping"
    for ((i = 0; i < NET_NODES; i++)); do
        net_ns_base "$i" || { net_die "cannot build host $(net_host "$i")"; return 1; }
    done
    k=0
    while read -r a b; do
        [ -n "$a" ] || continue
        net_edge "$k" "$a" "$b" || { net_die "cannot build link $a -- $b"; return 1; }
        k=$((k + 1))
    done <<< "$edges"
    {
        echo "# $NET_NODES test hosts for $spec, by tests/net/netns.sh (one slot each)"
        for ((i = 0; i < NET_NODES; i++)); do
            echo "$(net_host "$i") $(net_host_addr "$i"):$NET_PORT 1 launch = ip netns exec {host} env UCX_TLS=tcp UCX_NET_DEVICES=host0 {cmd}"
        done
    } > "$dir/hosts" || return 1
    net_say "$NET_NODES hosts, $k links ($spec), $NET_SHAPING on each; hosts file $dir/hosts"
}

# Takes the data link between hosts A and B down or up, at both ends; up
# puts its routes back.
net_link() { # A B up|down
    local a=$1 b=$2 how=$3 k=0 x y
    [ -f "$NET_STATE/edges" ] || { net_die "no test hosts (run: netns.sh up SPEC)"; return 1; }
    while read -r x y; do
        if { [ "$x" = "$a" ] && [ "$y" = "$b" ]; } || { [ "$x" = "$b" ] && [ "$y" = "$a" ]; }; then
            ip -n "$(net_host "$a")" link set "to-h$b" "$how" || return 1
            ip -n "$(net_host "$b")" link set "to-h$a" "$how" || return 1
            if [ "$how" = up ]; then
                net_route "$a" "$b" "$k" && net_route "$b" "$a" "$k"
            fi
            return
        fi
        k=$((k + 1))
    done < "$NET_STATE/edges"
    net_die "no link between hosts $a and $b"
}

# Writes DIR/rsh-agent: mpirun's (and oshrun's) rsh agent for the test hosts
# (--mca plm_rsh_agent DIR/rsh-agent --host 10.99.0.1:1,...): it runs the
# command given for host address 10.99.0.(I+1) in namespace ari-hI, with
# UCX_NET_DEVICES=host0 as the hosts file's template has it (so UCX stays
# off the management network and advertises an address every neighbour
# reaches), and a TMPDIR of the host's own under DIR (the daemons all see one
# /tmp and one host name: Open MPI's session directories collided).
net_rsh_agent() {
    local dir=$1
    cat > "$dir/rsh-agent" <<AGENT || return 1
#!/bin/sh
# written by tests/net/netns.sh: mpirun's rsh agent for the test hosts
host=\$1; shift
case \$host in
    $NET_HOST_NET.*) ;;
    *) echo "rsh-agent: '\$host' is not a test host address ($NET_HOST_NET.N)" >&2; exit 1 ;;
esac
ns=$NET_PREFIX\$((\${host##*.} - 1))
mkdir -p "$dir/tmp-\$ns" || exit 1
exec ip netns exec "\$ns" env UCX_NET_DEVICES=host0 TMPDIR="$dir/tmp-\$ns" sh -c "\$*"
AGENT
    chmod 755 "$dir/rsh-agent"
}

net_show() {
    local ns
    ip -br link show "$NET_BRIDGE" 2>/dev/null
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$NET_PREFIX[0-9]+\$" | sort -V); do
        echo "$ns:"
        ip -n "$ns" -br addr show | sed 's/^/  /'
        ip -n "$ns" route show | sed 's/^/  route /'
    done
}

# Run as a command (not sourced).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case ${1:-} in
        up) [ $# -ge 2 ] || { echo "usage: $0 up SPEC [DIR]" >&2; exit 2; }
            net_up "$2" "${3:-.}" || { net_down; exit 1; } ;;
        down) net_down ;;
        show) net_show ;;
        link) [ $# -eq 4 ] || { echo "usage: $0 link A B up|down" >&2; exit 2; }
              net_link "$2" "$3" "$4" ;;
        *) echo "usage: $0 up SPEC [DIR] | down | show | link A B up|down" >&2; exit 2 ;;
    esac
fi
