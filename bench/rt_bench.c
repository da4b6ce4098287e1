/*
 * rt_bench — the runtime's figures of issue 6, each beside its limit
 * measured in the same run:
 *   read     a replica read with plain loads, against the same loop over a
 *            plain memfd mapping of the same size (the same kind of mapping)
 *   atomic   remote ari_fetch_add_u64 latency, node 1 to node 0, while node
 *            0's application waits in ari_barrier (its DPU answers)
 *   sync     mutex, handoff and barrier, each beside a fetch-add round trip
 *   own      ownership pages: a faulting store's transfer, a pinned
 *            transfer (ari_acquire/ari_release), and two nodes contending
 *   cold     a cold sequential read of SIZE MiB node 0 owns, by node 1, with
 *            plain loads, against memcpy of the same size on node 1
 *
 *   ariadne run -n 2 build/bench/rt_bench [read|atomic|sync|own|cold|all] [COLD_MIB]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <ariadne.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void check(int status, const char *what)
{
    if (status != ARI_OK) {
        fprintf(stderr, "rt_bench: %s: %s\n", what, ari_strerror(status));
        exit(1);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sums `bytes` of words `reps` times; returns ns per 8-byte load. */
static double read_loop(const volatile uint64_t *p, size_t bytes, int reps, uint64_t *sum_out)
{
    uint64_t sum = 0;
    double start = now_ns();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < bytes / 8; i++)
            sum += p[i];
    double ns = now_ns() - start;
    *sum_out += sum;
    return ns / ((double)reps * (double)(bytes / 8));
}

/* Replica reads against a plain shared mapping; the median of 15 runs each,
 * interleaved so both see the same machine. */
static void bench_read(int me)
{
    const size_t bytes = 256 << 10; /* fits in L2: the load itself is measured */
    uint64_t *global = ari_alloc_all(bytes, 0);
    if (global == NULL)
        check(ari_errno(), "ari_alloc_all");
    if (me == 1) {
        int fd = memfd_create("rt-bench", 0);
        if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0)
            exit(1);
        uint64_t *local = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        memset(local, 1, bytes);
        check(ari_prefault(global, bytes), "ari_prefault");
        uint64_t sum = 0;
        double a[15], b[15];
        for (int i = 0; i < 15; i++) {
            a[i] = read_loop(global, bytes, 20, &sum);
            b[i] = read_loop(local, bytes, 20, &sum);
        }
        qsort(a, 15, sizeof a[0], cmp_double);
        qsort(b, 15, sizeof b[0], cmp_double);
        printf("read: replica %.3f ns/load, plain memfd mapping %.3f ns/load: ratio %.3f "
               "(goal <= 1.05) [sum %llu]\n", a[7], b[7], a[7] / b[7], (unsigned long long)sum);
        munmap(local, bytes);
        close(fd);
    }
    check(ari_barrier(), "ari_barrier");
    check(ari_free(global), "ari_free");
}

static void bench_atomic(int me)
{
    enum { N = 20000 };
    uint64_t *word = ari_alloc_all(4096, 0); /* node 0 owns it */
    if (word == NULL)
        check(ari_errno(), "ari_alloc_all");
    if (me == 1) {
        static double lat[N];
        for (int i = 0; i < 1000; i++) /* warm: path, caches, spinning DPUs */
            check(ari_fetch_add_u64(word, 1, NULL), "ari_fetch_add_u64");
        for (int i = 0; i < N; i++) {
            double t = now_ns();
            check(ari_fetch_add_u64(word, 1, NULL), "ari_fetch_add_u64");
            lat[i] = now_ns() - t;
        }
        qsort(lat, N, sizeof lat[0], cmp_double);
        printf("atomic: remote fetch-add node 1 -> node 0 (node 0's application waits in "
               "ari_barrier): median %.2f us, p99 %.2f us (goal: median <= 1 us)\n",
               lat[N / 2] / 1e3, lat[N * 99 / 100] / 1e3);
    }
    check(ari_barrier(), "ari_barrier");
    check(ari_free(word), "ari_free");
}

/* Synchronisation: each figure beside a fetch-add round trip measured in
 * the same run, so the protocol's own cost shows. */
static double bench_median(double *lat, int n)
{
    qsort(lat, (size_t)n, sizeof lat[0], cmp_double);
    return lat[n / 2];
}

static void bench_sync(int me)
{
    enum { N = 2000, CONTENDED = 2000 };
    static double lat[N];
    ari_mutex_t *mutex = ari_alloc_all(4096, 0);     /* a page of its own, node 0's */
    uint64_t *data = ari_alloc_all(4096, 0);         /* what the critical section writes */
    uint64_t *word = ari_alloc_all(4096, 0);
    if (mutex == NULL || data == NULL || word == NULL)
        check(ari_errno(), "ari_alloc_all");
    double rtt = 0, lock = 0, lock_store = 0;
    if (me == 1) {
        for (int i = 0; i < N; i++) {
            double t = now_ns();
            check(ari_fetch_add_u64(word, 1, NULL), "ari_fetch_add_u64");
            lat[i] = now_ns() - t;
        }
        rtt = bench_median(lat, N);
        for (int i = 0; i < N; i++) {
            double t = now_ns();
            check(ari_mutex_lock(mutex), "ari_mutex_lock");
            check(ari_mutex_unlock(mutex), "ari_mutex_unlock");
            lat[i] = now_ns() - t;
        }
        lock = bench_median(lat, N);
        for (int i = 0; i < N; i++) {
            double t = now_ns();
            check(ari_mutex_lock(mutex), "ari_mutex_lock");
            data[0]++;
            check(ari_mutex_unlock(mutex), "ari_mutex_unlock");
            lat[i] = now_ns() - t;
        }
        lock_store = bench_median(lat, N);
    }
    check(ari_barrier(), "ari_barrier");
    /* Both nodes contend: every round takes the mutex and increments. */
    double start = now_ns();
    for (int i = 0; i < CONTENDED; i++) {
        check(ari_mutex_lock(mutex), "ari_mutex_lock");
        data[1]++;
        check(ari_mutex_unlock(mutex), "ari_mutex_unlock");
    }
    double contended = now_ns() - start;
    check(ari_barrier(), "ari_barrier");
    if (data[1] != 2u * CONTENDED) {
        fprintf(stderr, "rt_bench: contended counter %llu, want %u\n",
                (unsigned long long)data[1], 2u * CONTENDED);
        exit(1);
    }
    for (int i = 0; i < N; i++) {
        double t = now_ns();
        check(ari_barrier(), "ari_barrier");
        lat[i] = now_ns() - t;
    }
    double barrier = bench_median(lat, N);
    if (me == 1) {
        printf("sync: fetch-add round trip (node 1 -> node 0) median %.2f us: the reference\n",
               rtt / 1e3);
        printf("sync: uncontended lock+unlock from node 1 (mutex on node 0) median %.2f us "
               "= %.1f round trips\n", lock / 1e3, lock / rtt);
        printf("sync: lock + one plain store + unlock (fault, twin, diff, notice) median "
               "%.2f us = %.1f round trips\n", lock_store / 1e3, lock_store / rtt);
        printf("sync: 2 nodes contending, %d lock/store/unlock each: %.0f handoffs/s, "
               "%.2f us per critical section = %.1f round trips [counter checked]\n",
               CONTENDED, 2.0 * CONTENDED / (contended / 1e9), contended / (2.0 * CONTENDED) / 1e3,
               contended / (2.0 * CONTENDED) / rtt);
        printf("sync: barrier of 2 nodes median %.2f us = %.1f round trips\n", barrier / 1e3,
               barrier / rtt);
    }
    check(ari_barrier(), "ari_barrier");
}

/* Ownership pages: what one transfer costs, beside a fetch-add round
 * trip of the same run. Each timed access is the only one in flight: the
 * other node's application waits in ari_barrier and its DPU sends. */
static void bench_own(int me)
{
    enum { N = 1000 };
    const double CONTENDED_NS = 200e6; /* both nodes add for 200 ms */
    static double lat[N];
    uint64_t *word = ari_alloc_all(4096, 0);
    uint64_t *page = ari_alloc_all(4096, ARI_OWNERSHIP); /* born at node 0 */
    uint64_t *shared = ari_alloc_all(4096, ARI_OWNERSHIP);
    if (word == NULL || page == NULL || shared == NULL)
        check(ari_errno(), "ari_alloc_all");
    for (int i = 0; i < N && me == 1; i++) {
        double t = now_ns();
        check(ari_fetch_add_u64(word, 1, NULL), "ari_fetch_add_u64");
        lat[i] = now_ns() - t;
    }
    double rtt = me == 1 ? bench_median(lat, N) : 0;
    /* The same round trip after the pause the transfers below take: the
     * other node's DPU has gone to sleep, and waking it is part of it. */
    for (int i = 0; i < 2 * N; i++) {
        check(ari_barrier(), "ari_barrier");
        usleep(200);
        if (i % 2 == me) {
            double t = now_ns();
            check(ari_fetch_add_u64(word, 1, NULL), "ari_fetch_add_u64");
            lat[i / 2] = now_ns() - t;
        }
    }
    double rtt_idle = bench_median(lat, N);
    /* A store that faults: the page comes from the other node. The pause
     * lets the other node's hold (ARI_HOLD_US) end, so only the transfer
     * is timed. */
    for (int i = 0; i < 2 * N; i++) {
        check(ari_barrier(), "ari_barrier");
        usleep(200);
        if (i % 2 == me) {
            double t = now_ns();
            page[0] = (uint64_t)i;
            lat[i / 2] = now_ns() - t;
        }
    }
    double fault = bench_median(lat, N);
    /* ari_acquire + a store + ari_release: a pinned transfer, after the
     * same pause. */
    for (int i = 0; i < 2 * N; i++) {
        check(ari_barrier(), "ari_barrier");
        usleep(200);
        if (i % 2 == me) {
            double t = now_ns();
            check(ari_acquire(page, 8), "ari_acquire");
            page[1] = (uint64_t)i;
            check(ari_release(page, 8), "ari_release");
            lat[i / 2] = now_ns() - t;
        }
    }
    double pinned = bench_median(lat, N);
    check(ari_barrier(), "ari_barrier");
    /* Both nodes add to one word of an ownership page as fast as they can:
     * the page moves whenever a hold ends with the other node waiting. */
    double start = now_ns();
    ari_stats_t before, stats;
    check(ari_stats(&before), "ari_stats");
    uint64_t adds = 0;
    while (now_ns() - start < CONTENDED_NS) {
        check(ari_fetch_add_u64(shared, 1, NULL), "ari_fetch_add_u64");
        adds++;
    }
    double contended = now_ns() - start;
    check(ari_stats(&stats), "ari_stats");
    check(ari_fetch_add_u64(&word[8], adds, NULL), "ari_fetch_add_u64"); /* the tally */
    check(ari_barrier(), "ari_barrier");
    uint64_t tally;
    check(ari_get(&tally, &word[8], 8), "ari_get");
    if (shared[0] != tally) {
        fprintf(stderr, "rt_bench: contended ownership counter %llu, want %llu\n",
                (unsigned long long)shared[0], (unsigned long long)tally);
        exit(1);
    }
    if (me == 1) {
        printf("own: fetch-add round trip (node 1 -> node 0) median %.2f us: the reference\n",
               rtt / 1e3);
        printf("own: the same round trip to a node idle for 200 us (its DPU asleep): "
               "median %.2f us; the transfers below are timed the same way\n",
               rtt_idle / 1e3);
        printf("own: a store that faults and takes the page from the other node: median "
               "%.2f us = %.1f idle round trips\n", fault / 1e3, fault / rtt_idle);
        printf("own: ari_acquire + store + ari_release (pinned transfer): median %.2f us = "
               "%.1f idle round trips\n", pinned / 1e3, pinned / rtt_idle);
        printf("own: 2 nodes adding to one ownership word for 200 ms: %.0f adds/s in all, "
               "node 1 made %llu of %llu; the page came to node 1 %llu times, %.0f "
               "transfers/s (it moves when a %s us hold ends with the other node waiting) "
               "[counter checked]\n", (double)tally / (contended / 1e9),
               (unsigned long long)adds, (unsigned long long)tally,
               (unsigned long long)(stats.transfers_in - before.transfers_in),
               2.0 * (double)(stats.transfers_in - before.transfers_in) / (contended / 1e9),
               getenv("ARI_HOLD_US") != NULL ? getenv("ARI_HOLD_US") : "50");
    }
    check(ari_barrier(), "ari_barrier");
    check(ari_free(shared), "ari_free");
    check(ari_free(page), "ari_free");
    check(ari_free(word), "ari_free");
}

static void bench_cold(int me, size_t mib)
{
    size_t bytes = mib << 20;
    uint64_t *global = ari_alloc_all(bytes, 0);
    if (global == NULL)
        check(ari_errno(), "ari_alloc_all");
    if (me == 0) { /* a pattern, so the reader checks what it got */
        static uint64_t chunk[512];
        for (size_t off = 0; off < bytes; off += sizeof chunk) {
            for (size_t i = 0; i < 512; i++)
                chunk[i] = off / 8 + i;
            check(ari_store((char *)global + off, chunk, sizeof chunk), "ari_store");
        }
    }
    check(ari_barrier(), "ari_barrier");
    if (me == 1) {
        uint64_t sum = 0;
        double start = now_ns();
        for (size_t i = 0; i < bytes / 8; i += 1)
            sum += global[i];
        double ns = now_ns() - start;
        uint64_t n = bytes / 8, want = n * (n - 1) / 2;
        char *copy = malloc(bytes), *src = malloc(bytes);
        memset(src, 1, bytes);
        memset(copy, 0, bytes);
        memcpy(copy, src, bytes); /* first touch faults the pages in; the second is measured */
        double m0 = now_ns();
        memcpy(copy, src, bytes);
        double mns = now_ns() - m0;
        volatile char sink = copy[bytes / 2];
        (void)sink;
        double gbs = (double)bytes / ns, mgbs = (double)bytes / mns;
        printf("cold: sequential plain-load read of %zu MiB owned by node 0: %.2f GB/s; "
               "memcpy %.2f GB/s: ratio %.3f (goal >= 1.5 GB/s) %s\n", mib, gbs, mgbs,
               gbs / mgbs, sum == want ? "[data checked]" : "[DATA WRONG]");
        free(copy);
        free(src);
        if (sum != want)
            exit(1);
    }
    check(ari_barrier(), "ari_barrier");
    double f0 = now_ns();
    check(ari_free(global), "ari_free");
    if (getenv("RT_BENCH_VERBOSE") != NULL)
        printf("free of %zu MiB: %.1f ms\n", mib, (now_ns() - f0) / 1e6);
}

int main(int argc, char **argv)
{
    check(ari_init(&argc, &argv), "ari_init");
    const char *which = argc > 1 ? argv[1] : "all";
    size_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 512;
    int me = ari_node_id();
    if (ari_node_count() != 2) {
        fprintf(stderr, "rt_bench: run it on 2 nodes: ariadne run -n 2 %s\n", argv[0]);
        return 2;
    }
    int all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "read") == 0)
        bench_read(me);
    if (all || strcmp(which, "atomic") == 0)
        bench_atomic(me);
    if (all || strcmp(which, "sync") == 0)
        bench_sync(me);
    if (all || strcmp(which, "own") == 0)
        bench_own(me);
    if (all || strcmp(which, "cold") == 0)
        bench_cold(me, mib);
    check(ari_finalize(), "ari_finalize");
    return 0;
}
