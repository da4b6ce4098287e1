#!/bin/sh
# tests/verify.sh — checks the ownership-transfer model src/core/own.pml
# exhaustively with spin (docs/VERIFY.md). `make verify` runs it.
#
#   sh tests/verify.sh              every topology: safety, then each ltl claim
#   sh tests/verify.sh 2            one topology
#   sh tests/verify.sh --mutants    every mutation of the model must be caught
#
# Safety: assertions and invalid end states (pan built with -DSAFETY).
# Liveness: each ltl claim, acceptance cycles under weak fairness (pan -a -f).
# A check fails on any error, and also when the search was incomplete.
# Work files go to a fresh build/verify/run.*/. VERIFY_JOBS (default 2) checks run at once;
# VERIFY_DEFINES adds spin -D flags (e.g. -DMUTANT=8, -DOWNER_NO_CUT).
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
model=$root/src/core/own.pml
spin=${SPIN:-spin}
cc=${CC:-cc}
jobs=${VERIFY_JOBS:-2}
extra=${VERIFY_DEFINES:-}      # more spin -D flags, e.g. -DMUTANT=8
depth=${VERIFY_DEPTH:-20000}   # pan -m; the deepest search is under 1000

if ! command -v "$spin" >/dev/null 2>&1; then
    echo "verify: spin not found; on Debian: apt-get install spin" >&2
    exit 1
fi
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "verify: no C compiler ($cc) for spin's verifier;" \
        "on Debian: apt-get install build-essential" >&2
    exit 1
fi

mutants=0
topos=""
for arg in "$@"; do
    case $arg in
    --mutants) mutants=1 ;;
    1|2|3) topos="$topos $arg" ;;
    *) echo "usage: sh tests/verify.sh [--mutants] [1|2|3]..." >&2; exit 2 ;;
    esac
done
[ -n "$topos" ] || topos="1 2 3"

# COLLAPSE: exhaustive, compressed state vectors (no bitstate, no hash
# compaction). Mutants mostly fail at once: compile fast rather than run fast.
opt=-O2
[ "$mutants" -eq 0 ] || opt=-O1
pan_flags="$opt -w -DMEMLIM=4096 -DCOLLAPSE"

# build DIR VERIFIERS DEFINES...: spin -a in DIR, then the verifiers named
# (pan.safety: -DSAFETY, no claim; pan.live: the ltl claims, weak fairness for
# up to 24 processes), compiled at once. DIR/claims lists the ltl claims.
build() {
    dir=$1; verifiers=$2; shift 2
    rm -rf "$dir" && mkdir -p "$dir" || return 1
    (cd "$dir" && "$spin" "$@" -a "$model" >spin.out 2>&1) || {
        echo "verify: spin -a $* failed:" >&2; cat "$dir/spin.out" >&2; return 1; }
    sed -n 's/^ltl \([A-Za-z0-9_]*\):.*/\1/p' "$dir/spin.out" >"$dir/claims"
    echo "$*" >"$dir/defines"
    compile "$dir" $verifiers
}

# compile DIR VERIFIER...
compile() {
    dir=$1; shift
    for v in "$@"; do
        case $v in
        safety) (cd "$dir" && $cc $pan_flags -DSAFETY -DNOCLAIM -o pan.safety pan.c >cc.safety.out 2>&1) & ;;
        live) (cd "$dir" && $cc $pan_flags -DNFAIR=3 -o pan.live pan.c >cc.live.out 2>&1) & ;;
        esac
    done
    wait
    for v in "$@"; do
        [ -x "$dir/pan.$v" ] && continue
        echo "verify: compiling pan.$v failed:" >&2
        cat "$dir/cc.$v.out" >&2
        return 1
    done
}

# run DIR CHECK: runs one check (safety or a claim name) in DIR/CHECK/ (where
# a trail would go); its output goes to DIR/CHECK.out.
run() {
    mkdir -p "$1/$2" || return 1
    if [ "$2" = safety ]; then
        (cd "$1/$2" && ../pan.safety -m$depth >../safety.out 2>&1)
    else
        (cd "$1/$2" && ../pan.live -a -f -m$depth -N "$2" >"../$2.out" 2>&1)
    fi
}

# verdict FILE: prints "ok" or the reason the check failed.
verdict() {
    f=$1
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$f" | tail -1)
    if [ -z "$errors" ]; then
        reason=$(grep -m1 -E 'error|memory' "$f")
        echo "no result: ${reason:-pan ended early}"
    elif [ "$errors" -gt 0 ]; then
        reason=$(grep -m1 -E '^pan:[0-9]+: ' "$f" | sed 's/^pan:[0-9]*: //')
        echo "${reason:-errors: $errors}"
    elif grep -q -E 'max search depth too small' "$f"; then
        echo "incomplete: max search depth too small (raise -m)"
    elif grep -q -E 'Search not completed|out of memory' "$f"; then
        echo "incomplete: search not completed"
    else
        echo ok
    fi
}

states() { sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$1" | tail -1; }
seconds() { sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$1" | tail -1; }

# checks DIR LABEL CHECK...: runs the checks (safety or claim names), $jobs at
# a time, prints one line per check; counts into $passed / $failed; sets
# $first_fail (and stops there when $stop_on_fail is 1).
checks() {
    dir=$1; label=$2; shift 2
    while [ $# -gt 0 ]; do
        batch=""
        i=0
        while [ $i -lt "$jobs" ] && [ $# -gt 0 ]; do
            run "$dir" "$1" &
            batch="$batch $1"
            shift
            i=$((i + 1))
        done
        wait
        for c in $batch; do
            v=$(verdict "$dir/$c.out")
            if [ "$v" = ok ]; then
                passed=$((passed + 1)); result=ok
            else
                failed=$((failed + 1)); result="FAIL ($v)"
                [ -n "$first_fail" ] || first_fail="$label $c: $v"
                [ -f "$dir/$c/own.pml.trail" ] && replays="$replays
  (cd $dir/$c && spin $(cat "$dir/defines") -t -k own.pml.trail -p -s -r $model)"
            fi
            n=$(states "$dir/$c.out")
            printf '%-10s %-7s %10s states %7s s  %s\n' "$label" "$c" "$n" \
                "$(seconds "$dir/$c.out")" "$result"
            total_states=$(awk -v a="$total_states" -v b="${n:-0}" 'BEGIN { printf "%d", a + b }')
        done
        [ "$stop_on_fail" -eq 1 ] && [ -n "$first_fail" ] && return 0
    done
}

# A fresh directory per run, so runs never share files; removed when all is
# well, kept (with its trails) when something failed.
mkdir -p "$root/build/verify" && work=$(mktemp -d "$root/build/verify/run.XXXXXX") || exit 1
start=$(date +%s)
passed=0; failed=0; total_states=0; first_fail=""; replays=""; stop_on_fail=$mutants

if [ "$mutants" -eq 0 ]; then
    echo "verify: $("$spin" -V | head -1); model $model"
    for t in $topos; do
        build "$work/topo$t" "safety live" -DTOPO=$t $extra || exit 1
        checks "$work/topo$t" "topo$t" safety $(cat "$work/topo$t/claims")
    done
    elapsed=$(( $(date +%s) - start ))
    echo "verify: $passed passed, $failed failed ($total_states states, ${elapsed} s)"
    [ "$failed" -eq 0 ] || { echo "verify: to replay a failure:$replays" >&2; exit 1; }
    rm -rf "$work"
    exit 0
fi

# Mutations (see the top of own.pml): each must make some check fail. So must
# OWNER_NO_CUT, the owner answering along a hop list it did not cut.
survived=0
for m in 1 2 3 4 5 6 7 8 9 10 NO_CUT; do
    caught=""
    for t in $topos; do
        defs="-DTOPO=$t -DMUTANT=$m"
        [ "$m" = NO_CUT ] && defs="-DTOPO=$t -DOWNER_NO_CUT"
        dir=$work/mutant$m-topo$t
        build "$dir" safety $defs >/dev/null || exit 1
        passed=0; failed=0; first_fail=""
        checks "$dir" "M$m topo$t" safety >"$dir/lines"
        if [ -z "$first_fail" ]; then
            compile "$dir" live || exit 1
            checks "$dir" "M$m topo$t" $(cat "$dir/claims") >>"$dir/lines"
        fi
        if [ -n "$first_fail" ]; then caught=$first_fail; break; fi
    done
    if [ -n "$caught" ]; then
        echo "caught   $caught"
    else
        echo "SURVIVED M$m"
        survived=$((survived + 1))
    fi
done
elapsed=$(( $(date +%s) - start ))
echo "verify --mutants: $survived survived (${elapsed} s)"
[ "$survived" -eq 0 ] || exit 1
rm -rf "$work"
