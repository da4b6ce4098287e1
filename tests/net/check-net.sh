#!/usr/bin/env bash
# tests/net/check-net.sh — `make check-net`: runs across hosts, the hosts being
# network namespaces on this machine wired as the run's topology
# (tests/net/netns.sh; docs/CLUSTER.md, "Test hosts: make check-net").
#
#   bash tests/net/check-net.sh [BUILD] [PART...]
#
# BUILD is the build directory (build). PARTS, in this order by default:
#   ring      examples on ring:5 (hosts 2 links apart talk through a third)
#   random    examples on random:6:3:7
#   ucx       examples on ring:5 with --transport ucx, and reroute with it
#   paced     net_stream on ring:5 with an add every 200 us: each add must wake
#             the sleeping nodes and agents on its way; count checked, median
#             reported
#   reroute   a data link taken down while net_stream runs on ring:5: the run
#             must end with the right count, and an agent log the link down
#             and the reroute; the longest pause is the time from the link's
#             failure to rerouted traffic
#   key       one host holds another key: the run is refused within seconds,
#             with no program output
# then a summary. Every run is bounded by `timeout`; the namespaces and the
# test keys are removed on every exit (and leftovers of an aborted run at the
# start). Needs root and iproute2: without them it says so and fails.
#
# Environment: NET_DELAY (netem delay of each data link, 200us; 0 for none),
# NET_RATE (the token bucket used instead where the kernel has no netem),
# CHECK_NET_HEARTBEAT (ms, 300), CHECK_NET_KEEP=1 (keep the work directory).
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
build=build
if [ $# -gt 0 ] && [ -d "$1" ]; then build=$1; shift; fi
case $build in /*) ;; *) build=$root/$build ;; esac
parts=${*:-ring random ucx paced reroute key}
export ARIADNE=$build/ariadne
. "$root/tests/net/netns.sh"

heartbeat_ms=${CHECK_NET_HEARTBEAT:-300}
keydir=/etc/ariadne-test          # one key for all; /etc/netns/ari-h2/... overrides it in one
key=$keydir/cluster.key
coordinator=$NET_MGMT_NET.1       # the launcher, on the management bridge; any port
started=$(date +%s.%N)
failures=0
summary=()
work=

say() { echo "check-net: $*"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }

cleanup() {
    net_down
    rm -rf "$keydir"
    if [ -n "$work" ] && [ -z "${CHECK_NET_KEEP:-}" ]; then rm -rf "$work"; fi
}

# ------------------------------------------------------------------------
# Preconditions: never skipped silently.
# ------------------------------------------------------------------------
if ! net_can; then
    echo "check-net: FAILED: cannot build test hosts on this machine (see above)" >&2
    exit 1
fi
for f in "$ARIADNE" "$build/net/net_stream" "$build/examples/counter" "$build/examples/kvstore" \
         "$build/examples/linkedlist" "$build/examples/gemm"; do
    [ -x "$f" ] || { echo "check-net: FAILED: $f not found (make check-net builds it)" >&2; exit 1; }
done
if ! "$ARIADNE" run --help 2>&1 | grep -q -- '--hosts'; then
    echo "check-net: FAILED: $ARIADNE has no 'run --hosts'" >&2
    exit 1
fi
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup                                   # what an aborted run left
work=$(mktemp -d /tmp/ariadne-check-net.XXXXXX)
mkdir -p "$keydir"
"$ARIADNE" keygen "$key" >/dev/null || { echo "check-net: FAILED: ariadne keygen $key" >&2; exit 1; }

# ------------------------------------------------------------------------
# Runs and checks
# ------------------------------------------------------------------------

# The work files of run NAME, less their suffix (.out, .err).
out() { echo "$work/${1//[^A-Za-z0-9._-]/_}"; }

# run NAME SECONDS ARGS...: `ariadne run --hosts` bounded by timeout, output
# in $(out NAME).out and .err, status in $status, wall time in $seconds.
run() {
    local name=$1 limit=$2 t; shift 2
    t=$(date +%s.%N)
    timeout "$limit" "$ARIADNE" run --hosts "$work/hosts" --key "$key" --coordinator "$coordinator" \
        "$@" > "$(out "$name").out" 2> "$(out "$name").err"
    status=$?
    seconds=$(elapsed "$t")
}

# The failure of run NAME, with its output.
run_failed() { # NAME WHY
    say "FAIL: $1: $2 (exit $status after $seconds s)"
    echo "--- stdout (last 20 lines):"; tail -20 "$(out "$1").out"
    echo "--- stderr (last 20 lines):"; tail -20 "$(out "$1").err"
    failures=$((failures + 1))
    summary+=("FAIL  $1: $2")
}

# want NAME TEXT: a line of the run's stdout holds TEXT (fixed string).
want() { grep -qF -- "$2" "$(out "$1").out" || { run_failed "$1" "no '$2' in its output"; return 1; }; }

passed() { # NAME WHAT
    say "ok: $1 ($seconds s)"
    summary+=("ok    $1: $2, $seconds s")
}

# One example run on N hosts of SPEC, checked as tests/test_examples.c and
# tests/test_runtime.c check it: status 0, every node's verdict line.
run_extra=()    # more `ariadne run` options for example(), e.g. --transport ucx
example() { # SPEC N NAME ARGS...
    local spec=$1 n=$2 name=$3 tag i; shift 3
    tag="$spec $name${run_extra[*]:+ (${run_extra[*]})}"
    run "$tag" 90 -n "$n" --topo "$spec" "${run_extra[@]}" "$build/examples/$name" "$@"
    [ "$status" = 0 ] || { run_failed "$tag" "exit status $status"; return; }
    case $name in
        counter)
            local total=$(($1 * n))
            for ((i = 0; i < n; i++)); do
                want "$tag" "[$i] node $i: fetch-add total $total, cas total $total, expected $total: ok" || return
            done ;;
        kvstore)
            for ((i = 0; i < n; i++)); do want "$tag" "[$i] kvstore: node $i: verified $2 keys" || return; done
            want "$tag" "ops/s" || return ;;
        linkedlist)
            for ((i = 0; i < n; i++)); do want "$tag" "[$i] linkedlist: node $i: verified" || return; done
            want "$tag" "[0] linkedlist: node 0: verified $(($2 + n * $4)) cells ($2 built + $n nodes x $4 appended)" || return ;;
        gemm)
            for ((i = 0; i < n; i++)); do want "$tag" "[$i] gemm: node $i: verified" || return; done
            want "$tag" "[0] gemm: node 0: verified n=$2 block=$4" || return ;;
    esac
    passed "$tag" "every node verified"
}

hosts() { # SPEC: fresh test hosts laid out as SPEC
    net_up "$1" "$work" 2>"$work/netns.log" || { cat "$work/netns.log"; return 1; }
    say "$(cat "$work/netns.log" | sed 's/^netns: //')"
    shaping=$(cat "$NET_STATE/shaping")
}

part_examples() { # SPEC N
    local spec=$1 n=$2
    hosts "$spec" || { failures=$((failures + 1)); summary+=("FAIL  $spec: no test hosts"); return; }
    example "$spec" "$n" counter 500
    example "$spec" "$n" kvstore --keys 2000 --buckets 64 --ops 1500 --read-pct 80
    example "$spec" "$n" linkedlist --cells 300 --appends 60
    example "$spec" "$n" gemm --size 128 --block 32
}

# ucx: ring:5 again with links over UCX (its TCP transport: the hosts file
# sets UCX_TLS=tcp), relayed the same way, and the reroute below over them.
part_ucx() {
    hosts ring:5 || { failures=$((failures + 1)); summary+=("FAIL  ring:5 ucx: no test hosts"); return; }
    run_extra=(--transport ucx)
    example ring:5 5 counter 500
    example ring:5 5 kvstore --keys 2000 --buckets 64 --ops 1500 --read-pct 80
    run_extra=()
    part_reroute --transport ucx
}

# paced: ring:5, node 0 does a fetch-add at node 2 (two hops) every 200 us
# for 3 s, so the nodes and agents on the way sleep between adds and each
# add must wake them: the count must be exact, and the median add is
# reported, not judged (speed belongs to make bench-net; an agent that is
# not woken shows here as some 50 ms an add, its poll timeout).
part_paced() {
    local tag="ring:5 paced stream" line median
    hosts ring:5 || { failures=$((failures + 1)); summary+=("FAIL  $tag: no test hosts"); return; }
    run "$tag" 60 -n 5 --topo ring:5 "$build/net/net_stream" 3 0 200
    [ "$status" = 0 ] || { run_failed "$tag" "exit status $status"; return; }
    want "$tag" "[0] net_stream: node 0 -> node 2 (2 hops)" || return
    line=$(grep -F "net_stream: max pause" "$(out "$tag").out")
    case $line in
        *", ok") ;;
        *) run_failed "$tag" "net_stream's count is wrong or missing: '$line'"; return ;;
    esac
    median=$(printf '%s\n' "$line" | sed -n 's/.*median \([0-9]*\) us.*/\1/p')
    say "ok: $tag: ${line#*\] } ($seconds s)"
    summary+=("ok    $tag: an add every 200 us, median $median us, count exact, $seconds s")
}

# reroute: ring:5, node 0 streams fetch-adds at node 2, two hops away
# through host 1 (the other way round is three); once it runs, the link
# between hosts 1 and 2 goes down at host 1's end. Hosts 0 and 2 are then
# joined only through hosts 4 and 3, which relay (no host forwards IP).
pauses=()      # net_stream's longest pause of each reroute run
part_reroute() { # [ariadne run options, e.g. --transport ucx]
    local tag="ring:5 reroute${*:+ ($*)}" line i
    hosts ring:5 || { failures=$((failures + 1)); summary+=("FAIL  $tag: no test hosts"); return; }
    : > "$(out "$tag").out"
    ( run "$tag" 60 -n 5 --topo ring:5 --heartbeat "$heartbeat_ms" "$@" "$build/net/net_stream" 6
      echo "$status $seconds" > "$(out "$tag").status" ) &
    local runner=$!
    for ((i = 0; i < 300; i++)); do
        grep -q "net_stream: started" "$(out "$tag").out" && break
        sleep 0.1
    done
    sleep 1.5
    ip -n "${NET_PREFIX}1" link set to-h2 down
    wait "$runner"
    read -r status seconds < "$(out "$tag").status"
    [ "$status" = 0 ] || { run_failed "$tag" "exit status $status"; return; }
    want "$tag" "[0] net_stream: node 0 -> node 2 (2 hops)" || return
    line=$(grep -F "net_stream: max pause" "$(out "$tag").out")
    case $line in
        *", ok") ;;
        *) run_failed "$tag" "net_stream's count is wrong or missing: '$line'"; return ;;
    esac
    local pause_ms
    pause_ms=$(printf '%s\n' "$line" | sed -n 's/.*max pause \([0-9.]*\) ms.*/\1/p')
    # An agent saw the link go, and traffic was rerouted after that.
    if ! grep -qE "link to host ${NET_PREFIX}[12] down" "$(out "$tag").err"; then
        run_failed "$tag" "no agent logged 'link to host ${NET_PREFIX}2 down' (or ${NET_PREFIX}1)"; return
    fi
    if ! sed -n "/link to host ${NET_PREFIX}[12] down/,\$p" "$(out "$tag").err" | grep -q "rerouted"; then
        run_failed "$tag" "no 'rerouted' logged after the link went down"; return
    fi
    say "ok: $tag: ${line#*\] } ($seconds s)"
    summary+=("ok    $tag: link ${NET_PREFIX}1--${NET_PREFIX}2 down mid-run, count exact, reroute logged, $seconds s")
    pauses+=("$pause_ms ms (links over ${2:-tcp})")
}

# key: host ari-h2 reads another key at the same path (ip netns exec binds
# /etc/netns/ari-h2/* over /etc/*): its agent must refuse the coordinator.
part_key() {
    local tag="ring:5 wrong key" other=/etc/netns/${NET_PREFIX}2/ariadne-test
    hosts ring:5 || { failures=$((failures + 1)); summary+=("FAIL  $tag: no test hosts"); return; }
    mkdir -p "$other" && "$ARIADNE" keygen "$other/cluster.key" >/dev/null ||
        { failures=$((failures + 1)); summary+=("FAIL  $tag: cannot write $other"); return; }
    if cmp -s "$key" <(ip netns exec "${NET_PREFIX}2" cat "$key") ||
       ! cmp -s "$key" <(ip netns exec "${NET_PREFIX}1" cat "$key"); then
        failures=$((failures + 1)); summary+=("FAIL  $tag: the per-namespace key did not take effect")
        rm -rf "$other"; return
    fi
    run "$tag" 30 -n 5 --topo ring:5 "$build/examples/counter" 100
    rm -rf "$other"
    if [ "$status" = 0 ] || [ "$status" = 124 ]; then
        run_failed "$tag" "want a refusal (non-zero exit within seconds)"; return
    fi
    if ! grep -q "did not prove it holds the cluster key" "$(out "$tag").err"; then
        run_failed "$tag" "no 'did not prove it holds the cluster key' on stderr"; return
    fi
    if grep -q '^\[[0-9]*\] ' "$(out "$tag").out"; then
        run_failed "$tag" "the program printed something"; return
    fi
    if awk -v s="$seconds" 'BEGIN {exit !(s > 10)}'; then
        run_failed "$tag" "refused, but only after $seconds s"; return
    fi
    passed "$tag" "refused (exit $status), no program output"
}

say "build $build; parts: $parts; heartbeat $heartbeat_ms ms"
for part in $parts; do
    case $part in
        ring) part_examples ring:5 5 ;;
        random) part_examples random:6:3:7 6 ;;
        ucx) part_ucx ;;
        paced) part_paced ;;
        reroute) part_reroute ;;
        key) part_key ;;
        *) say "unknown part '$part' (ring, random, ucx, paced, reroute, key)"; exit 2 ;;
    esac
done

echo
echo "check-net summary (data links: ${shaping:-none built}):"
printf '  %s\n' "${summary[@]}"
[ ${#pauses[@]} -gt 0 ] && echo "  time from link failure to rerouted traffic (net_stream's longest pause, heartbeat $heartbeat_ms ms): $(printf '%s; ' "${pauses[@]}")"
echo "  $(elapsed "$started") s in all; $failures failed"
[ "$failures" = 0 ]
