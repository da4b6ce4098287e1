/*
 * shmem_bench — the OpenSHMEM peer of `ariadne bench` (OpenMPI's oshmem):
 * the same figures through the symmetric heap, samples as @bench lines
 * (bench/bench.h).
 *
 *   oshrun --mca osc ^rdma -n N build/bench/shmem_bench FIGURE [ITERS]
 *
 * PE 1 asks, PE 0 holds the memory and waits in shmem_barrier_all. On one
 * host oshmem maps every PE's symmetric heap into every other PE, so its
 * atomics, puts and gets are the CPU's own loads, stores and atomics on
 * mapped memory: the bound a message protocol is held against. Built only
 * where oshcc exists (make bench-progs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <shmem.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int me, nodes;

static void die(const char *what)
{
    fprintf(stderr, "shmem_bench: PE %d: %s\n", me, what);
    shmem_global_exit(1);
    exit(1);
}

static double *samples_new(long count)
{
    double *s = calloc((size_t)count, sizeof *s);
    if (s == NULL)
        die("out of memory");
    return s;
}

/* Symmetric memory, zeroed on every PE before anyone uses it. */
static void *sym_alloc(size_t bytes)
{
    void *p = shmem_malloc(bytes);
    if (p == NULL)
        die("shmem_malloc failed (SHMEM_SYMMETRIC_HEAP_SIZE too small?)");
    memset(p, 0, bytes);
    shmem_barrier_all();
    return p;
}

static void sym_free(void *p)
{
    shmem_barrier_all();
    shmem_free(p);
}

/* ------------------------------------------------------------------------
 * Remote operations, PE 1 -> PE 0
 * ------------------------------------------------------------------------ */

static void remote_op(const char *figure, unsigned long *word, unsigned long i)
{
    unsigned long value = i;
    if (strcmp(figure, "fetch-add") == 0) {
        shmem_ulong_atomic_fetch_add(word, 1, 0);
    } else if (strcmp(figure, "cas") == 0) {
        if (shmem_ulong_atomic_compare_swap(word, i, i + 1, 0) != i)
            die("shmem_ulong_atomic_compare_swap found another value");
    } else if (strcmp(figure, "store") == 0) {
        shmem_putmem(&word[1], &value, sizeof value, 0);
        shmem_quiet();
    } else {
        shmem_getmem(&value, word, sizeof value, 0);
    }
}

static void fig_remote(const char *figure, long iters)
{
    unsigned long *word = sym_alloc(4096);
    if (me == 1) {
        double *lat = samples_new(iters);
        unsigned long i = 0;
        for (; i < BENCH_WARMUP; i++)
            remote_op(figure, word, i);
        for (long n = 0; n < iters; n++, i++) {
            double t = bench_now_ns();
            remote_op(figure, word, i);
            lat[n] = bench_now_ns() - t;
        }
        bench_emit(figure, figure, "ns", lat, (size_t)iters);
        free(lat);
    }
    sym_free(word);
}

/* ------------------------------------------------------------------------
 * Propagation: PEs 0 and 1 take turns, each putting the next number into
 * the other's word (+ shmem_quiet), which the other polls with plain loads
 * (yielding the CPU between polls).
 * ------------------------------------------------------------------------ */

static void prop_wait(volatile uint64_t *word, uint64_t value)
{
    while (*word != value)
        sched_yield();
}

static void prop_put(uint64_t *word, uint64_t value)
{
    shmem_putmem(word, &value, sizeof value, 1 - me);
    shmem_quiet();
}

static void fig_propagation(long iters)
{
    uint64_t *word = sym_alloc(4096);
    double *lat = samples_new(iters);
    const long warm = 100;
    for (long n = 1; me < 2 && n <= warm + iters; n++) {
        uint64_t ping = 2 * (uint64_t)n - 1, pong = 2 * (uint64_t)n;
        if (me == 0) {
            double t = bench_now_ns();
            prop_put(word, ping);
            prop_wait(word, pong);
            if (n > warm)
                lat[n - warm - 1] = (bench_now_ns() - t) / 2;
        } else {
            prop_wait(word, ping);
            prop_put(word, pong);
        }
    }
    if (me == 0)
        bench_emit("propagation", "put", "ns", lat, (size_t)iters);
    free(lat);
    sym_free(word);
}

/* ------------------------------------------------------------------------
 * Cold reads: PE 1 gets BENCH_COLD_MIB of PE 0's symmetric memory into
 * memory it has not touched yet, with one shmem_getmem.
 * ------------------------------------------------------------------------ */

static void fig_cold(long reps)
{
    size_t bytes = (size_t)BENCH_COLD_MIB << 20, n = bytes / 8;
    uint64_t *src = sym_alloc(bytes);
    if (me == 0)
        for (size_t i = 0; i < n; i++)
            src[i] = i;
    shmem_barrier_all();
    double *gbs = samples_new(reps);
    for (long r = 0; me == 1 && r < reps; r++) {
        uint64_t *dst = malloc(bytes), sum = 0;
        if (dst == NULL)
            die("out of memory");
        double t = bench_now_ns();
        shmem_getmem(dst, src, bytes, 0);
        gbs[r] = (double)bytes / (bench_now_ns() - t);
        for (size_t i = 0; i < n; i++)
            sum += dst[i];
        free(dst);
        if (sum != n * (n - 1) / 2)
            die("read-cold read the wrong data");
    }
    if (me == 1)
        bench_emit("read-cold", "get", "GB/s", gbs, (size_t)reps);
    free(gbs);
    sym_free(src);
}

/* ------------------------------------------------------------------------
 * Mutex: shmem_set_lock / shmem_clear_lock (which completes the holder's
 * puts first), the critical section's words got from and put back to PE 0.
 * ------------------------------------------------------------------------ */

static long mutex_lock_word; /* symmetric: a global */

/* One section; returns the handoff (-1: none), or -2 when this PE gave
 * way in a round of turns (target > 0). */
static double mutex_section(uint64_t *shared, uint64_t target, long left)
{
    uint64_t words[BENCH_CS_WORDS];
    shmem_set_lock(&mutex_lock_word);
    shmem_getmem(words, shared, sizeof words, 0);
    if (target > 0 && bench_cs_give_way(words, me, target, left)) {
        shmem_clear_lock(&mutex_lock_word);
        return -2;
    }
    double handoff = bench_cs_apply(words, me);
    shmem_putmem(shared, words, sizeof words, 0);
    shmem_clear_lock(&mutex_lock_word);
    return handoff;
}

static double mutex_round(uint64_t *shared, int contenders, long iters)
{
    shmem_barrier_all();
    double t = bench_now_ns();
    for (long i = 0; bench_contends(me, nodes, contenders) && i < iters; i++)
        mutex_section(shared, 0, 0);
    shmem_barrier_all();
    return (double)contenders * (double)iters / ((bench_now_ns() - t) / 1e9);
}

static void mutex_turns(uint64_t *shared, long iters)
{
    double *handoffs = samples_new(iters);
    long count = 0;
    uint64_t target = bench_cs_after_turns(nodes, iters);
    shmem_barrier_all();
    for (long left = iters, streak = 0; left > 0;) {
        double h = mutex_section(shared, target, left);
        if (h == -2) {
            bench_give_way_pause(streak++);
            continue;
        }
        streak = 0;
        left--;
        if (h >= 0)
            handoffs[count++] = h;
    }
    shmem_barrier_all();
    bench_emit("mutex", "handoff", "ns", handoffs, (size_t)count);
    free(handoffs);
}

static void fig_mutex(long iters)
{
    uint64_t *shared = sym_alloc(4096);
    double *lat = samples_new(iters);
    for (long i = 0; me == 1 && i < iters; i++) {
        double t = bench_now_ns();
        mutex_section(shared, 0, 0);
        lat[i] = bench_now_ns() - t;
    }
    if (me == 1)
        bench_emit("mutex", "uncontended", "ns", lat, (size_t)iters);
    for (int c = 1; c <= nodes; c++) {
        double rate[BENCH_MUTEX_ROUNDS];
        for (int r = 0; r < BENCH_MUTEX_ROUNDS; r++)
            rate[r] = mutex_round(shared, c, iters);
        char variant[32];
        snprintf(variant, sizeof variant, "contenders-%d", c);
        if (me == 1)
            bench_emit("mutex", variant, "ops/s", rate, BENCH_MUTEX_ROUNDS);
    }
    mutex_turns(shared, iters);
    if (me == 0 && shared[BENCH_CS_COUNT] != bench_cs_after_turns(nodes, iters))
        die("the mutex counter is wrong: the lock failed");
    free(lat);
    sym_free(shared);
}

static void fig_barrier(long iters)
{
    double *lat = samples_new(iters);
    for (int i = 0; i < BENCH_WARMUP / 10; i++)
        shmem_barrier_all();
    for (long i = 0; i < iters; i++) {
        double t = bench_now_ns();
        shmem_barrier_all();
        lat[i] = bench_now_ns() - t;
    }
    bench_emit("barrier", "barrier", "ns", lat, (size_t)iters);
    free(lat);
}

/* ------------------------------------------------------------------------
 * gemm: block k of A and B on PE k mod N (slot k / N); each PE computes its
 * blocks of C, getting each block of A and B it needs once and keeping it.
 * ------------------------------------------------------------------------ */

#define GEMM_N BENCH_GEMM_BLOCK
#define GEMM_GRID (BENCH_GEMM_SIZE / BENCH_GEMM_BLOCK)
#define GEMM_BLOCK_DOUBLES (GEMM_N * GEMM_N)

typedef struct {
    double *local;  /* symmetric: this PE's blocks */
    double *cache;  /* every block, once got */
    char *have;
} gemm_matrix_t;

static const double *gemm_block(gemm_matrix_t *m, uint64_t k)
{
    int owner = (int)(k % (uint64_t)nodes);
    uint64_t slot = k / (uint64_t)nodes;
    if (owner == me)
        return m->local + slot * GEMM_BLOCK_DOUBLES;
    double *copy = m->cache + k * GEMM_BLOCK_DOUBLES;
    if (!m->have[k]) {
        shmem_getmem(copy, m->local + slot * GEMM_BLOCK_DOUBLES,
                     GEMM_BLOCK_DOUBLES * sizeof(double), owner);
        m->have[k] = 1;
    }
    return copy;
}

static void gemm_open(gemm_matrix_t *m, int is_a)
{
    uint64_t slots = (GEMM_GRID * GEMM_GRID + (uint64_t)nodes - 1) / (uint64_t)nodes;
    m->local = sym_alloc(slots * GEMM_BLOCK_DOUBLES * sizeof(double));
    m->cache = malloc(GEMM_GRID * GEMM_GRID * GEMM_BLOCK_DOUBLES * sizeof(double));
    m->have = calloc(GEMM_GRID * GEMM_GRID, 1);
    if (m->cache == NULL || m->have == NULL)
        die("out of memory");
    for (uint64_t k = (uint64_t)me; k < GEMM_GRID * GEMM_GRID; k += (uint64_t)nodes)
        bench_gemm_fill(m->local + k / (uint64_t)nodes * GEMM_BLOCK_DOUBLES, k / GEMM_GRID,
                        k % GEMM_GRID, GEMM_N, is_a);
}

static void gemm_close(gemm_matrix_t *m)
{
    free(m->cache);
    free(m->have);
    sym_free(m->local);
}

static void fig_gemm(void)
{
    gemm_matrix_t a, b;
    gemm_open(&a, 1);
    gemm_open(&b, 0);
    double *c = malloc(GEMM_BLOCK_DOUBLES * sizeof(double));
    if (c == NULL)
        die("out of memory");
    int wrong = 0;
    shmem_barrier_all();
    double t = bench_now_ns();
    for (uint64_t k = (uint64_t)me; k < GEMM_GRID * GEMM_GRID; k += (uint64_t)nodes) {
        uint64_t bi = k / GEMM_GRID, bj = k % GEMM_GRID;
        memset(c, 0, GEMM_BLOCK_DOUBLES * sizeof(double));
        for (uint64_t bk = 0; bk < GEMM_GRID; bk++)
            bench_gemm_product(gemm_block(&a, bi * GEMM_GRID + bk),
                               gemm_block(&b, bk * GEMM_GRID + bj), c, GEMM_N);
        wrong |= !bench_gemm_check(c, bi, bj, GEMM_N, BENCH_GEMM_SIZE);
    }
    shmem_barrier_all();
    double seconds = (bench_now_ns() - t) / 1e9;
    if (wrong)
        die("gemm: a block of C is wrong");
    double gflops = 2.0 * BENCH_GEMM_SIZE * (double)BENCH_GEMM_SIZE * BENCH_GEMM_SIZE /
                    seconds * 1e-9;
    if (me == 0)
        bench_emit("gemm", "gemm", "GFLOP/s", &gflops, 1);
    free(c);
    gemm_close(&b);
    gemm_close(&a);
}

/* ------------------------------------------------------------------------
 * kvstore: bucket b on PE b mod N (slot b / N, a page each), with a lock
 * per bucket (shmem_set_lock on a symmetric array). An update locks,
 * gets the bucket, puts back the entry and the count, unlocks; a read gets
 * the bucket without the lock.
 * ------------------------------------------------------------------------ */

typedef struct {
    bench_kv_bucket_t *table; /* symmetric: this PE's buckets */
    long *locks;              /* symmetric: one per bucket */
} kv_t;

static bench_kv_bucket_t *kv_remote(kv_t *kv, uint64_t bucket)
{
    return &kv->table[bucket / (uint64_t)nodes];
}

static void kv_get(kv_t *kv, uint64_t bucket, bench_kv_bucket_t *copy)
{
    shmem_getmem(copy, kv_remote(kv, bucket), sizeof *copy, (int)(bucket % (uint64_t)nodes));
}

static void kv_update(kv_t *kv, uint64_t key, int insert)
{
    uint64_t bucket = bench_kv_bucket_of(key);
    int owner = (int)(bucket % (uint64_t)nodes);
    bench_kv_bucket_t copy, *remote = kv_remote(kv, bucket);
    shmem_set_lock(&kv->locks[bucket]);
    kv_get(kv, bucket, &copy);
    int slot = bench_kv_put(&copy, key, insert);
    if (slot < 0 && insert)
        die("kvstore: a bucket is full");
    if (slot >= 0) {
        shmem_putmem(&remote->slots[slot], &copy.slots[slot], sizeof copy.slots[slot], owner);
        shmem_putmem(&remote->count, &copy.count, sizeof copy.count, owner);
    }
    shmem_clear_lock(&kv->locks[bucket]);
}

static int kv_check(kv_t *kv, uint64_t updates_all)
{
    uint64_t keys = 0, updates = 0;
    bench_kv_bucket_t copy;
    for (uint64_t b = 0; b < BENCH_KV_BUCKETS; b++) {
        kv_get(kv, b, &copy);
        uint64_t u = bench_kv_verify(&copy, b, &keys);
        if (u == UINT64_MAX)
            return 0;
        updates += u;
    }
    return keys == BENCH_KV_KEYS && updates == updates_all;
}

static void fig_kvstore(void)
{
    uint64_t slots = (BENCH_KV_BUCKETS + (uint64_t)nodes - 1) / (uint64_t)nodes;
    kv_t kv = {sym_alloc(slots * sizeof(bench_kv_bucket_t)),
               sym_alloc(BENCH_KV_BUCKETS * sizeof(long))};
    unsigned long *updates_all = sym_alloc(sizeof(unsigned long));
    for (uint64_t k = (uint64_t)me; k < BENCH_KV_KEYS; k += (uint64_t)nodes)
        kv_update(&kv, k, 1);
    uint64_t rng = 0x5eed + (uint64_t)me * 7919, updates = 0;
    int wrong = 0;
    bench_kv_bucket_t copy;
    shmem_barrier_all();
    double t = bench_now_ns();
    for (uint64_t i = 0; i < BENCH_KV_OPS; i++) {
        bench_kv_op_t op = bench_kv_next(&rng);
        if (op.read) {
            kv_get(&kv, bench_kv_bucket_of(op.key), &copy);
            wrong |= op.absent && bench_kv_find(&copy, op.key) >= 0;
        } else {
            kv_update(&kv, op.key, 0);
            updates++;
        }
    }
    shmem_barrier_all();
    double seconds = (bench_now_ns() - t) / 1e9;
    shmem_ulong_atomic_add(updates_all, updates, 0);
    shmem_barrier_all();
    if (wrong || (me == 0 && !kv_check(&kv, *updates_all)))
        die("kvstore: the table is wrong");
    double rate = (double)nodes * BENCH_KV_OPS / seconds;
    if (me == 0)
        bench_emit("kvstore", "kvstore", "ops/s", &rate, 1);
    sym_free(updates_all);
    sym_free(kv.locks);
    sym_free(kv.table);
}

/* ------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------ */

static int run_figure(const char *figure, long iters)
{
    if (strcmp(figure, "fetch-add") == 0 || strcmp(figure, "cas") == 0 ||
        strcmp(figure, "store") == 0 || strcmp(figure, "get") == 0)
        fig_remote(figure, bench_or_default(iters, BENCH_ITERS_ATOMIC));
    else if (strcmp(figure, "propagation") == 0)
        fig_propagation(bench_or_default(iters, BENCH_ITERS_PROPAGATION));
    else if (strcmp(figure, "read-cold") == 0)
        fig_cold(bench_or_default(iters, BENCH_ITERS_COLD));
    else if (strcmp(figure, "ownership") == 0 && me == 0)
        bench_skip("ownership", "-", "OpenSHMEM has no equivalent: symmetric memory stays at "
                   "its PE");
    else if (strcmp(figure, "mutex") == 0)
        fig_mutex(bench_or_default(iters, BENCH_ITERS_MUTEX));
    else if (strcmp(figure, "barrier") == 0)
        fig_barrier(bench_or_default(iters, BENCH_ITERS_BARRIER));
    else if (strcmp(figure, "gemm") == 0)
        fig_gemm();
    else if (strcmp(figure, "kvstore") == 0)
        fig_kvstore();
    else if (strcmp(figure, "ownership") != 0)
        return 0;
    return 1;
}

int main(int argc, char **argv)
{
    shmem_init();
    me = shmem_my_pe();
    nodes = shmem_n_pes();
    const char *figure = argc > 1 ? argv[1] : "";
    long iters = bench_arg(argc, argv, 2, 0);
    if (nodes < 2) {
        fprintf(stderr, "shmem_bench: run it on 2 or more PEs: oshrun -n 2 %s FIGURE\n", argv[0]);
        shmem_finalize();
        return 2;
    }
    if (!run_figure(figure, iters)) {
        if (me == 0)
            fprintf(stderr, "usage: oshrun -n N %s FIGURE [ITERS]\n", argv[0]);
        shmem_finalize();
        return 2;
    }
    shmem_finalize();
    return 0;
}
