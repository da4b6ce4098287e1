/*
 * ari_bench — the Ariadne side of `ariadne bench`: one figure per run, its
 * samples printed as @bench lines (bench/bench.h) by the nodes that took
 * them. The measurements are rt_bench's (bench/rt_bench.c), extended to
 * every figure of the bench and made machine-readable.
 *
 *   ariadne run -n N build/bench/ari_bench FIGURE [ITERS]
 *
 * FIGURE: fetch-add, cas, store, get, propagation, read-cold, ownership,
 * mutex, barrier (gemm and kvstore are examples/gemm and examples/kvstore).
 * ITERS replaces the figure's sample count (0 or absent: the default).
 * Node 1 is the one that asks and node 0 the one that owns: a remote
 * operation is node 1 -> node 0, and every other node waits in ari_barrier.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ariadne.h>

#include "bench.h"

static void check(int status, const char *what)
{
    if (status != ARI_OK) {
        fprintf(stderr, "ari_bench: node %d: %s: %s\n", ari_node_id(), what,
                ari_strerror(status));
        exit(1);
    }
}

static void *alloc_all(size_t bytes, unsigned flags)
{
    void *p = ari_alloc_all(bytes, flags);
    if (p == NULL)
        check(ari_errno(), "ari_alloc_all");
    return p;
}

static double *samples_new(long count)
{
    double *s = calloc((size_t)count, sizeof *s);
    if (s == NULL) {
        fprintf(stderr, "ari_bench: out of memory for %ld samples\n", count);
        exit(1);
    }
    return s;
}

/* ------------------------------------------------------------------------
 * Remote operations, node 1 -> node 0: node 0's application waits in
 * ari_barrier (it drives its DPU while it spins, then sleeps), so node 0's
 * DPU answers.
 * ------------------------------------------------------------------------ */

/* One timed remote operation on `word`; `i` numbers it from 0. */
static void remote_op(const char *figure, uint64_t *word, uint64_t i)
{
    uint64_t value = i, old;
    if (strcmp(figure, "fetch-add") == 0) {
        check(ari_fetch_add_u64(word, 1, NULL), "ari_fetch_add_u64");
    } else if (strcmp(figure, "cas") == 0) {
        /* Succeeds every time: the word counts the CASes. */
        check(ari_cas_u64(word, i, i + 1, &old), "ari_cas_u64");
        if (old != i) {
            fprintf(stderr, "ari_bench: cas found %llu, want %llu\n", (unsigned long long)old,
                    (unsigned long long)i);
            exit(1);
        }
    } else if (strcmp(figure, "store") == 0) {
        check(ari_store(&word[1], &value, sizeof value), "ari_store");
        check(ari_flush(), "ari_flush");
    } else {
        check(ari_get(&value, word, sizeof value), "ari_get");
    }
}

static void fig_remote(int me, const char *figure, long iters)
{
    uint64_t *word = alloc_all(4096, 0); /* node 0 owns it */
    if (me == 1) {
        double *lat = samples_new(iters);
        uint64_t i = 0;
        for (; i < BENCH_WARMUP; i++) /* the path, caches, spinning DPUs */
            remote_op(figure, word, i);
        for (long n = 0; n < iters; n++, i++) {
            double t = bench_now_ns();
            remote_op(figure, word, i);
            lat[n] = bench_now_ns() - t;
        }
        bench_emit(figure, figure, "ns", lat, (size_t)iters);
        free(lat);
    }
    check(ari_barrier(), "ari_barrier");
    check(ari_free(word), "ari_free");
}

static void fig_plain(int me, int store, long passes)
{
    uint64_t *global = alloc_all(BENCH_PASS_BYTES, 0);
    if (me == 1) {
        double *ns = samples_new(passes);
        uint64_t sum = 0;
        if (!store)
            check(ari_prefault(global, BENCH_PASS_BYTES), "ari_prefault");
        bench_access_pass(global, store, 0, &sum); /* faults (stores: twins) out of the timing */
        for (long n = 0; n < passes; n++)
            ns[n] = bench_access_pass(global, store, (uint64_t)n + 1, &sum);
        if (store)
            check(ari_flush(), "ari_flush");
        bench_emit(store ? "store" : "get", store ? "plain-store" : "replica-load", "ns", ns,
                   (size_t)passes);
        free(ns);
    }
    check(ari_barrier(), "ari_barrier");
    check(ari_free(global), "ari_free");
}

/* ------------------------------------------------------------------------
 * Propagation: nodes 0 and 1 take turns, each writing the next number into
 * a word on a page it owns, which the other polls with plain loads on its
 * replica (yielding the CPU between polls). A round trip is two
 * propagations; each sample is half of one, timed by node 0.
 * ------------------------------------------------------------------------ */

static void prop_write(volatile uint64_t *mine, uint64_t value, int plain)
{
    if (plain) {
        *mine = value;
        check(ari_flush(), "ari_flush");
    } else {
        check(ari_store((void *)mine, &value, sizeof value), "ari_store");
    }
}

static void prop_wait(volatile uint64_t *theirs, uint64_t value)
{
    while (*theirs != value)
        sched_yield();
}

static void fig_propagation_one(int me, int nodes, long iters, int plain)
{
    volatile uint64_t *word = alloc_all((size_t)nodes * 4096, ARI_SPREAD); /* page n: node n's */
    volatile uint64_t *mine = word + (me == 0 ? 0 : 512), *theirs = word + (me == 0 ? 512 : 0);
    double *lat = me == 0 ? samples_new(iters) : NULL;
    long warm = 100;
    for (long n = 1; me < 2 && n <= warm + iters; n++) {
        uint64_t ping = 2 * (uint64_t)n - 1, pong = 2 * (uint64_t)n;
        if (me == 0) {
            double t = bench_now_ns();
            prop_write(mine, ping, plain);
            prop_wait(theirs, pong);
            if (n > warm)
                lat[n - warm - 1] = (bench_now_ns() - t) / 2;
        } else {
            prop_wait(theirs, ping);
            prop_write(mine, pong, plain);
        }
    }
    if (me == 0)
        bench_emit("propagation", plain ? "store+flush" : "ari_store", "ns", lat,
                   (size_t)iters);
    free(lat);
    check(ari_barrier(), "ari_barrier");
    check(ari_free((void *)word), "ari_free");
}

/* ------------------------------------------------------------------------
 * Cold reads: node 0 writes BENCH_COLD_MIB (a pattern), node 1 reads it
 * sequentially with plain loads, every page a first touch; GB/s per read.
 * ------------------------------------------------------------------------ */

static void cold_fill(uint64_t *global, size_t bytes)
{
    static uint64_t chunk[512];
    for (size_t off = 0; off < bytes; off += sizeof chunk) {
        for (size_t i = 0; i < 512; i++)
            chunk[i] = off / 8 + i;
        check(ari_store((char *)global + off, chunk, sizeof chunk), "ari_store");
    }
}

/* Node 1's timed read; exits when the data is wrong. */
static double cold_read(const volatile uint64_t *global, size_t bytes)
{
    uint64_t sum = 0, n = bytes / 8;
    double t = bench_now_ns();
    for (size_t i = 0; i < n; i++)
        sum += global[i];
    double ns = bench_now_ns() - t;
    if (sum != n * (n - 1) / 2) {
        fprintf(stderr, "ari_bench: read-cold read the wrong data\n");
        exit(1);
    }
    return (double)bytes / ns;
}

/* Why 2 MiB pages could not be had, with the host's pool. */
static void cold_huge_skip(int status)
{
    unsigned long total = 0, free_pages = 0;
    char line[128];
    FILE *meminfo = fopen("/proc/meminfo", "r");
    while (meminfo != NULL && fgets(line, sizeof line, meminfo) != NULL) {
        sscanf(line, "HugePages_Total: %lu", &total);
        sscanf(line, "HugePages_Free: %lu", &free_pages);
    }
    if (meminfo != NULL)
        fclose(meminfo);
    char reason[300];
    snprintf(reason, sizeof reason, "ari_alloc_all(ARI_HUGE) failed: %s; the host has %lu free "
             "of %lu huge pages, and %u MiB needs %u per node (as root: sysctl "
             "vm.nr_hugepages=N)", ari_strerror(status), free_pages, total, BENCH_COLD_MIB,
             BENCH_COLD_MIB / 2);
    bench_skip("read-cold", "2m", reason);
}

static void fig_cold(int me, long reps, int huge)
{
    const char *variant = huge ? "2m" : "4k";
    size_t bytes = (size_t)BENCH_COLD_MIB << 20;
    double *gbs = samples_new(reps);
    for (long r = 0; r < reps; r++) {
        uint64_t *global = ari_alloc_all(bytes, huge ? ARI_HUGE : 0);
        if (global == NULL && huge) {
            /* Every node gets the same answer (collective allocations
             * agree), so every node leaves the figure here. */
            if (me == 1)
                cold_huge_skip(ari_errno());
            free(gbs);
            return;
        }
        if (global == NULL)
            check(ari_errno(), "ari_alloc_all");
        if (me == 0)
            cold_fill(global, bytes);
        check(ari_barrier(), "ari_barrier");
        if (me == 1)
            gbs[r] = cold_read(global, bytes);
        check(ari_barrier(), "ari_barrier");
        check(ari_free(global), "ari_free");
    }
    if (me == 1)
        bench_emit("read-cold", variant, "GB/s", gbs, (size_t)reps);
    free(gbs);
}

/* ------------------------------------------------------------------------
 * Ownership pages: nodes 0 and 1 take the page from each other in turns,
 * each turn after a barrier and a 200 us pause (the other node's hold,
 * ARI_HOLD_US, has ended, and its DPU has gone to sleep: the transfer
 * wakes it). Timed: a store that faults, and ari_acquire + store +
 * ari_release.
 * ------------------------------------------------------------------------ */

static double own_turn(uint64_t *page, uint64_t i, int pinned)
{
    double t = bench_now_ns();
    if (pinned) {
        check(ari_acquire(page, 8), "ari_acquire");
        page[1] = i;
        check(ari_release(page, 8), "ari_release");
    } else {
        page[0] = i;
    }
    return bench_now_ns() - t;
}

static void fig_ownership(int me, long iters)
{
    uint64_t *page = alloc_all(4096, ARI_OWNERSHIP); /* born at node 0 */
    double *lat = samples_new(iters);
    for (int pinned = 0; pinned < 2; pinned++) {
        for (long i = 0; i < 2 * iters; i++) {
            check(ari_barrier(), "ari_barrier");
            usleep(200);
            if (i % 2 == me)
                lat[i / 2] = own_turn(page, (uint64_t)i, pinned);
        }
        if (me < 2)
            bench_emit("ownership", pinned ? "pinned" : "fault", "ns", lat, (size_t)iters);
    }
    free(lat);
    check(ari_barrier(), "ari_barrier");
    check(ari_free(page), "ari_free");
}

/* ------------------------------------------------------------------------
 * Mutex: the critical section of bench.h on three words of a page node 0
 * owns, the mutex on a page of its own. Uncontended: node 1 alone, the
 * others waiting in ari_barrier. Contended: 1..N contenders (from node 1
 * on), BENCH_MUTEX_ROUNDS rounds of ITERS sections each; the others wait in
 * ari_barrier. Handoffs: a round of turns with every node contending.
 * ------------------------------------------------------------------------ */

/* One section; returns the handoff (-1: none), or -2 when this node gave
 * way in a round of turns (target > 0). */
static double mutex_section(ari_mutex_t *mutex, uint64_t *data, int me, uint64_t target,
                            long left)
{
    check(ari_mutex_lock(mutex), "ari_mutex_lock");
    if (target > 0 && bench_cs_give_way(data, me, target, left)) {
        check(ari_mutex_unlock(mutex), "ari_mutex_unlock");
        return -2;
    }
    double handoff = bench_cs_apply(data, me);
    check(ari_mutex_unlock(mutex), "ari_mutex_unlock");
    return handoff;
}

static void mutex_uncontended(ari_mutex_t *mutex, uint64_t *data, int me, long iters)
{
    if (me == 1) {
        double *lat = samples_new(iters);
        for (long i = 0; i < iters; i++) {
            double t = bench_now_ns();
            mutex_section(mutex, data, me, 0, 0);
            lat[i] = bench_now_ns() - t;
        }
        bench_emit("mutex", "uncontended", "ns", lat, (size_t)iters);
        free(lat);
    }
    check(ari_barrier(), "ari_barrier");
}

/* One round with `contenders`; returns the sections per second in all. */
static double mutex_round(ari_mutex_t *mutex, uint64_t *data, int me, int nodes,
                          int contenders, long iters)
{
    check(ari_barrier(), "ari_barrier");
    double t = bench_now_ns();
    for (long i = 0; bench_contends(me, nodes, contenders) && i < iters; i++)
        mutex_section(mutex, data, me, 0, 0);
    check(ari_barrier(), "ari_barrier");
    return (double)contenders * (double)iters / ((bench_now_ns() - t) / 1e9);
}

static void mutex_turns(ari_mutex_t *mutex, uint64_t *data, int me, int nodes, long iters)
{
    double *handoffs = samples_new(iters);
    long count = 0;
    uint64_t target = bench_cs_after_turns(nodes, iters);
    check(ari_barrier(), "ari_barrier");
    for (long left = iters, streak = 0; left > 0;) {
        double h = mutex_section(mutex, data, me, target, left);
        if (h == -2) {
            bench_give_way_pause(streak++);
            continue;
        }
        streak = 0;
        left--;
        if (h >= 0)
            handoffs[count++] = h;
    }
    check(ari_barrier(), "ari_barrier");
    bench_emit("mutex", "handoff", "ns", handoffs, (size_t)count);
    free(handoffs);
}

static void fig_mutex(int me, int nodes, long iters)
{
    ari_mutex_t *mutex = alloc_all(4096, 0);
    uint64_t *data = alloc_all(4096, 0);
    mutex_uncontended(mutex, data, me, iters);
    for (int c = 1; c <= nodes; c++) {
        double rate[BENCH_MUTEX_ROUNDS];
        for (int r = 0; r < BENCH_MUTEX_ROUNDS; r++)
            rate[r] = mutex_round(mutex, data, me, nodes, c, iters);
        char variant[32];
        snprintf(variant, sizeof variant, "contenders-%d", c);
        if (me == 1)
            bench_emit("mutex", variant, "ops/s", rate, BENCH_MUTEX_ROUNDS);
    }
    mutex_turns(mutex, data, me, nodes, iters);
    /* Every section counted once: mutual exclusion held (the barrier
     * published the last holder's words). */
    uint64_t want = bench_cs_after_turns(nodes, iters);
    if (data[BENCH_CS_COUNT] != want) {
        fprintf(stderr, "ari_bench: mutex counter %llu, want %llu\n",
                (unsigned long long)data[BENCH_CS_COUNT], (unsigned long long)want);
        exit(1);
    }
    check(ari_barrier(), "ari_barrier");
    check(ari_free(data), "ari_free");
    check(ari_free(mutex), "ari_free");
}

static void fig_barrier(long iters)
{
    double *lat = samples_new(iters);
    for (int i = 0; i < BENCH_WARMUP / 10; i++)
        check(ari_barrier(), "ari_barrier");
    for (long i = 0; i < iters; i++) {
        double t = bench_now_ns();
        check(ari_barrier(), "ari_barrier");
        lat[i] = bench_now_ns() - t;
    }
    bench_emit("barrier", "barrier", "ns", lat, (size_t)iters);
    free(lat);
}

/* ------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------ */

static int run_figure(const char *figure, int me, int nodes, long iters)
{
    if (strcmp(figure, "fetch-add") == 0 || strcmp(figure, "cas") == 0 ||
        strcmp(figure, "store") == 0 || strcmp(figure, "get") == 0) {
        fig_remote(me, figure, iters > 0 ? iters : BENCH_ITERS_ATOMIC);
        if (strcmp(figure, "store") == 0 || strcmp(figure, "get") == 0)
            fig_plain(me, strcmp(figure, "store") == 0, BENCH_ITERS_PASSES);
    } else if (strcmp(figure, "propagation") == 0) {
        fig_propagation_one(me, nodes, iters > 0 ? iters : BENCH_ITERS_PROPAGATION, 0);
        fig_propagation_one(me, nodes, iters > 0 ? iters : BENCH_ITERS_PROPAGATION, 1);
    } else if (strcmp(figure, "read-cold") == 0) {
        fig_cold(me, iters > 0 ? iters : BENCH_ITERS_COLD, 0);
        fig_cold(me, iters > 0 ? iters : BENCH_ITERS_COLD, 1);
    } else if (strcmp(figure, "ownership") == 0) {
        fig_ownership(me, iters > 0 ? iters : BENCH_ITERS_OWNERSHIP);
    } else if (strcmp(figure, "mutex") == 0) {
        fig_mutex(me, nodes, iters > 0 ? iters : BENCH_ITERS_MUTEX);
    } else if (strcmp(figure, "barrier") == 0) {
        fig_barrier(iters > 0 ? iters : BENCH_ITERS_BARRIER);
    } else {
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    check(ari_init(&argc, &argv), "ari_init");
    const char *figure = argc > 1 ? argv[1] : "";
    long iters = bench_arg(argc, argv, 2, 0);
    int me = ari_node_id(), nodes = ari_node_count();
    if (nodes < 2) {
        fprintf(stderr, "ari_bench: run it on 2 or more nodes: ariadne run -n 2 %s FIGURE\n",
                argv[0]);
        return 2;
    }
    if (!run_figure(figure, me, nodes, iters)) {
        fprintf(stderr, "usage: ariadne run -n N %s FIGURE [ITERS]\nFIGURE: fetch-add, cas, "
                "store, get, propagation, read-cold, ownership, mutex, barrier\n", argv[0]);
        return 2;
    }
    check(ari_finalize(), "ari_finalize");
    return 0;
}
