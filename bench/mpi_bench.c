/*
 * mpi_bench — the MPI one-sided peer of `ariadne bench`: the same figures
 * through OpenMPI's RMA, samples as @bench lines (bench/bench.h).
 *
 *   mpirun --mca osc ucx -n N build/bench/mpi_bench FIGURE [ITERS]
 *
 * Every window is opened with MPI_Win_lock_all (a passive-target epoch)
 * on every rank, and every operation is completed with MPI_Win_flush
 * before it is timed as done. Rank 1 asks, rank 0 holds the memory and
 * waits in MPI_Barrier (OpenMPI spins in it, progressing). Built only where
 * mpicc exists (make bench-progs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <mpi.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int me, nodes;

static void die(const char *what)
{
    fprintf(stderr, "mpi_bench: rank %d: %s\n", me, what);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

static double *samples_new(long count)
{
    double *s = calloc((size_t)count, sizeof *s);
    if (s == NULL)
        die("out of memory");
    return s;
}

/* A window of `bytes` on every rank, zeroed; with `all`, in a passive-
 * target epoch to every rank (MPI_Win_lock_all), else with none (the
 * window is then used under MPI_Win_lock). */
static void *win_open_epoch(size_t bytes, MPI_Win *win, int all)
{
    void *base;
    if (MPI_Win_allocate((MPI_Aint)bytes, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, win) !=
        MPI_SUCCESS)
        die("MPI_Win_allocate failed");
    memset(base, 0, bytes);
    MPI_Barrier(MPI_COMM_WORLD);
    if (all)
        MPI_Win_lock_all(0, *win);
    return base;
}

static void *win_open(size_t bytes, MPI_Win *win) { return win_open_epoch(bytes, win, 1); }

static void win_close_epoch(MPI_Win *win, int all)
{
    MPI_Barrier(MPI_COMM_WORLD);
    if (all)
        MPI_Win_unlock_all(*win);
    MPI_Win_free(win);
}

static void win_close(MPI_Win *win) { win_close_epoch(win, 1); }

/* ------------------------------------------------------------------------
 * Remote operations, rank 1 -> rank 0
 * ------------------------------------------------------------------------ */

static void remote_op(const char *figure, MPI_Win win, uint64_t i)
{
    uint64_t one = 1, old = 0, value = i, desired = i + 1;
    if (strcmp(figure, "fetch-add") == 0) {
        MPI_Fetch_and_op(&one, &old, MPI_UINT64_T, 0, 0, MPI_SUM, win);
    } else if (strcmp(figure, "cas") == 0) {
        MPI_Compare_and_swap(&desired, &value, &old, MPI_UINT64_T, 0, 0, win);
    } else if (strcmp(figure, "store") == 0) {
        MPI_Put(&value, 1, MPI_UINT64_T, 0, 8, 1, MPI_UINT64_T, win);
    } else {
        MPI_Get(&value, 1, MPI_UINT64_T, 0, 0, 1, MPI_UINT64_T, win);
    }
    MPI_Win_flush(0, win);
    if (strcmp(figure, "cas") == 0 && old != i)
        die("MPI_Compare_and_swap found another value");
}

static void fig_remote(const char *figure, long iters)
{
    MPI_Win win;
    win_open(4096, &win);
    if (me == 1) {
        double *lat = samples_new(iters);
        uint64_t i = 0;
        for (; i < BENCH_WARMUP; i++)
            remote_op(figure, win, i);
        for (long n = 0; n < iters; n++, i++) {
            double t = bench_now_ns();
            remote_op(figure, win, i);
            lat[n] = bench_now_ns() - t;
        }
        bench_emit(figure, figure, "ns", lat, (size_t)iters);
        free(lat);
    }
    win_close(&win);
}

/* ------------------------------------------------------------------------
 * Propagation: ranks 0 and 1 take turns, each putting the next number into
 * a word of the other's window (+ flush), which the other polls in its own
 * window with plain loads (MPI_Win_sync, yielding the CPU between polls).
 * ------------------------------------------------------------------------ */

static void prop_wait(volatile uint64_t *word, uint64_t value, MPI_Win win)
{
    while (*word != value) {
        MPI_Win_sync(win);
        sched_yield();
    }
}

static void prop_put(uint64_t value, MPI_Win win)
{
    MPI_Put(&value, 1, MPI_UINT64_T, 1 - me, 0, 1, MPI_UINT64_T, win);
    MPI_Win_flush(1 - me, win);
}

static void fig_propagation(long iters)
{
    MPI_Win win;
    volatile uint64_t *word = win_open(4096, &win);
    double *lat = samples_new(iters);
    const long warm = 100;
    for (long n = 1; me < 2 && n <= warm + iters; n++) {
        uint64_t ping = 2 * (uint64_t)n - 1, pong = 2 * (uint64_t)n;
        if (me == 0) {
            double t = bench_now_ns();
            prop_put(ping, win);
            prop_wait(word, pong, win);
            if (n > warm)
                lat[n - warm - 1] = (bench_now_ns() - t) / 2;
        } else {
            prop_wait(word, ping, win);
            prop_put(pong, win);
        }
    }
    if (me == 0)
        bench_emit("propagation", "put", "ns", lat, (size_t)iters);
    free(lat);
    win_close(&win);
}

/* ------------------------------------------------------------------------
 * Cold reads: rank 1 gets BENCH_COLD_MIB of rank 0's window into memory
 * it has not touched yet (as Ariadne's reader maps fresh pages), one
 * MPI_Get and a flush.
 * ------------------------------------------------------------------------ */

static void fig_cold(long reps)
{
    size_t bytes = (size_t)BENCH_COLD_MIB << 20, n = bytes / 8;
    MPI_Win win;
    uint64_t *base = win_open(bytes, &win);
    if (me == 0) {
        for (size_t i = 0; i < n; i++)
            base[i] = i;
        MPI_Win_sync(win);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double *gbs = samples_new(reps);
    for (long r = 0; me == 1 && r < reps; r++) {
        uint64_t *dst = malloc(bytes), sum = 0;
        if (dst == NULL)
            die("out of memory");
        double t = bench_now_ns();
        MPI_Get(dst, (int)n, MPI_UINT64_T, 0, 0, (int)n, MPI_UINT64_T, win);
        MPI_Win_flush(0, win);
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
    win_close(&win);
}

/* ------------------------------------------------------------------------
 * Mutex: MPI's own mutual exclusion, an exclusive passive-target lock on
 * rank 0 (MPI_Win_lock(MPI_LOCK_EXCLUSIVE)), the critical section's words
 * got and put back under it. A spin lock of MPI_Compare_and_swap would be
 * the other way, but OpenMPI 4.1's osc ucx takes a lock of its own around
 * every atomic, and a rank spinning with CAS on its own window starved the
 * holder's unlocking CAS for seconds (a hang, in practice).
 * ------------------------------------------------------------------------ */

/* bench_give_way_pause, driving MPI's progress meanwhile: OpenMPI 4.1's
 * osc ucx completes the release of rank 0's lock on its own window only
 * when rank 0 next enters MPI, so a rank that merely waited kept the lock,
 * and the waiter starved for good. */
static void give_way_pause(long streak)
{
    double end = bench_now_ns() + bench_give_way_ns(streak);
    int flag;
    while (bench_now_ns() < end) {
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        sched_yield();
    }
}

/* One section; returns the handoff (-1: none), or -2 when this rank gave
 * way in a round of turns (target > 0). */
static double mutex_section(MPI_Win win, uint64_t target, long left)
{
    uint64_t words[BENCH_CS_WORDS];
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win);
    MPI_Get(words, BENCH_CS_WORDS, MPI_UINT64_T, 0, 0, BENCH_CS_WORDS, MPI_UINT64_T, win);
    MPI_Win_flush(0, win);
    if (target > 0 && bench_cs_give_way(words, me, target, left)) {
        MPI_Win_unlock(0, win);
        return -2;
    }
    double handoff = bench_cs_apply(words, me);
    MPI_Put(words, BENCH_CS_WORDS, MPI_UINT64_T, 0, 0, BENCH_CS_WORDS, MPI_UINT64_T, win);
    MPI_Win_unlock(0, win);
    return handoff;
}

static double mutex_round(MPI_Win win, int contenders, long iters)
{
    MPI_Barrier(MPI_COMM_WORLD);
    double t = bench_now_ns();
    for (long i = 0; bench_contends(me, nodes, contenders) && i < iters; i++)
        mutex_section(win, 0, 0);
    MPI_Barrier(MPI_COMM_WORLD);
    return (double)contenders * (double)iters / ((bench_now_ns() - t) / 1e9);
}

static void mutex_turns(MPI_Win win, long iters)
{
    double *handoffs = samples_new(iters);
    long count = 0;
    uint64_t target = bench_cs_after_turns(nodes, iters);
    MPI_Barrier(MPI_COMM_WORLD);
    for (long left = iters, streak = 0; left > 0;) {
        double h = mutex_section(win, target, left);
        if (h == -2) {
            give_way_pause(streak++);
            continue;
        }
        streak = 0;
        left--;
        if (h >= 0)
            handoffs[count++] = h;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    bench_emit("mutex", "handoff", "ns", handoffs, (size_t)count);
    free(handoffs);
}

static void fig_mutex(long iters)
{
    MPI_Win win;
    uint64_t *base = win_open_epoch(4096, &win, 0);
    double *lat = samples_new(iters);
    for (long i = 0; me == 1 && i < iters; i++) {
        double t = bench_now_ns();
        mutex_section(win, 0, 0);
        lat[i] = bench_now_ns() - t;
    }
    if (me == 1)
        bench_emit("mutex", "uncontended", "ns", lat, (size_t)iters);
    for (int c = 1; c <= nodes; c++) {
        double rate[BENCH_MUTEX_ROUNDS];
        for (int r = 0; r < BENCH_MUTEX_ROUNDS; r++)
            rate[r] = mutex_round(win, c, iters);
        char variant[32];
        snprintf(variant, sizeof variant, "contenders-%d", c);
        if (me == 1)
            bench_emit("mutex", variant, "ops/s", rate, BENCH_MUTEX_ROUNDS);
    }
    mutex_turns(win, iters);
    if (me == 0) {
        MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win);
        if (base[BENCH_CS_COUNT] != bench_cs_after_turns(nodes, iters))
            die("the mutex counter is wrong: the lock failed");
        MPI_Win_unlock(0, win);
    }
    free(lat);
    win_close_epoch(&win, 0);
}

static void fig_barrier(long iters)
{
    double *lat = samples_new(iters);
    for (int i = 0; i < BENCH_WARMUP / 10; i++)
        MPI_Barrier(MPI_COMM_WORLD);
    for (long i = 0; i < iters; i++) {
        double t = bench_now_ns();
        MPI_Barrier(MPI_COMM_WORLD);
        lat[i] = bench_now_ns() - t;
    }
    bench_emit("barrier", "barrier", "ns", lat, (size_t)iters);
    free(lat);
}

/* ------------------------------------------------------------------------
 * gemm: block k of A and B lives in rank k mod N's window (slot k / N);
 * each rank computes its blocks of C, getting each block of A and B it
 * needs once and keeping it (as Ariadne keeps replicas).
 * ------------------------------------------------------------------------ */

#define GEMM_N BENCH_GEMM_BLOCK
#define GEMM_GRID (BENCH_GEMM_SIZE / BENCH_GEMM_BLOCK)
#define GEMM_BLOCK_BYTES (GEMM_N * GEMM_N * sizeof(double))

typedef struct {
    MPI_Win win;
    double *local;  /* this rank's blocks, in the window */
    double *cache;  /* every block, once got */
    char *have;
} gemm_matrix_t;

static const double *gemm_block(gemm_matrix_t *m, uint64_t k)
{
    int owner = (int)(k % (uint64_t)nodes);
    uint64_t slot = k / (uint64_t)nodes;
    if (owner == me)
        return m->local + slot * GEMM_N * GEMM_N;
    double *copy = m->cache + k * GEMM_N * GEMM_N;
    if (!m->have[k]) {
        MPI_Get(copy, GEMM_N * GEMM_N, MPI_DOUBLE, owner, (MPI_Aint)(slot * GEMM_BLOCK_BYTES),
                GEMM_N * GEMM_N, MPI_DOUBLE, m->win);
        MPI_Win_flush(owner, m->win);
        m->have[k] = 1;
    }
    return copy;
}

static void gemm_open(gemm_matrix_t *m, int is_a)
{
    uint64_t slots = (GEMM_GRID * GEMM_GRID + (uint64_t)nodes - 1) / (uint64_t)nodes;
    m->local = win_open(slots * GEMM_BLOCK_BYTES, &m->win);
    m->cache = malloc(GEMM_GRID * GEMM_GRID * GEMM_BLOCK_BYTES);
    m->have = calloc(GEMM_GRID * GEMM_GRID, 1);
    if (m->cache == NULL || m->have == NULL)
        die("out of memory");
    for (uint64_t k = (uint64_t)me; k < GEMM_GRID * GEMM_GRID; k += (uint64_t)nodes)
        bench_gemm_fill(m->local + k / (uint64_t)nodes * GEMM_N * GEMM_N, k / GEMM_GRID,
                        k % GEMM_GRID, GEMM_N, is_a);
    MPI_Win_sync(m->win);
}

static void gemm_close(gemm_matrix_t *m)
{
    free(m->cache);
    free(m->have);
    win_close(&m->win);
}

static void fig_gemm(void)
{
    gemm_matrix_t a, b;
    gemm_open(&a, 1);
    gemm_open(&b, 0);
    double *c = malloc(GEMM_BLOCK_BYTES);
    if (c == NULL)
        die("out of memory");
    int wrong = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    double t = bench_now_ns();
    for (uint64_t k = (uint64_t)me; k < GEMM_GRID * GEMM_GRID; k += (uint64_t)nodes) {
        uint64_t bi = k / GEMM_GRID, bj = k % GEMM_GRID;
        memset(c, 0, GEMM_BLOCK_BYTES);
        for (uint64_t bk = 0; bk < GEMM_GRID; bk++)
            bench_gemm_product(gemm_block(&a, bi * GEMM_GRID + bk),
                               gemm_block(&b, bk * GEMM_GRID + bj), c, GEMM_N);
        wrong |= !bench_gemm_check(c, bi, bj, GEMM_N, BENCH_GEMM_SIZE);
    }
    MPI_Barrier(MPI_COMM_WORLD);
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
 * kvstore: bucket b in rank b mod N's window (slot b / N, a page each).
 * MPI's locks are per window and target rank, so the bucket's rank is
 * locked: an update takes MPI_Win_lock(MPI_LOCK_EXCLUSIVE), gets the
 * bucket, puts back the entry and the count; a read takes the shared lock
 * and gets the bucket. (Per-bucket CAS spin locks hang OpenMPI 4.1's osc
 * ucx under contention: see the mutex figure.)
 * ------------------------------------------------------------------------ */

#define KV_BUCKET_BYTES 4096u

static MPI_Aint kv_disp(uint64_t bucket)
{
    return (MPI_Aint)(bucket / (uint64_t)nodes * KV_BUCKET_BYTES);
}

static int kv_owner(uint64_t bucket) { return (int)(bucket % (uint64_t)nodes); }

/* Gets a bucket under a lock the caller holds. */
static void kv_get_locked(MPI_Win win, uint64_t bucket, bench_kv_bucket_t *copy)
{
    MPI_Get(copy, sizeof *copy, MPI_BYTE, kv_owner(bucket), kv_disp(bucket), sizeof *copy,
            MPI_BYTE, win);
    MPI_Win_flush(kv_owner(bucket), win);
}

static void kv_get(MPI_Win win, uint64_t bucket, bench_kv_bucket_t *copy)
{
    MPI_Win_lock(MPI_LOCK_SHARED, kv_owner(bucket), 0, win);
    kv_get_locked(win, bucket, copy);
    MPI_Win_unlock(kv_owner(bucket), win);
}

static void kv_update(MPI_Win win, uint64_t key, int insert)
{
    uint64_t bucket = bench_kv_bucket_of(key);
    int owner = kv_owner(bucket);
    MPI_Aint disp = kv_disp(bucket);
    bench_kv_bucket_t copy;
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, owner, 0, win);
    kv_get_locked(win, bucket, &copy);
    int slot = bench_kv_put(&copy, key, insert);
    if (slot < 0 && insert)
        die("kvstore: a bucket is full");
    if (slot >= 0) {
        MPI_Put(&copy.slots[slot], sizeof copy.slots[slot], MPI_BYTE, owner,
                disp + (MPI_Aint)(offsetof(bench_kv_bucket_t, slots) +
                                  (size_t)slot * sizeof(bench_kv_entry_t)),
                sizeof copy.slots[slot], MPI_BYTE, win);
        MPI_Put(&copy.count, 1, MPI_UINT64_T, owner,
                disp + (MPI_Aint)offsetof(bench_kv_bucket_t, count), 1, MPI_UINT64_T, win);
    }
    MPI_Win_unlock(owner, win);
}

/* Rank 0 checks the whole table; returns whether it is right. */
static int kv_check(MPI_Win win, uint64_t updates_all)
{
    uint64_t keys = 0, updates = 0;
    bench_kv_bucket_t copy;
    for (uint64_t b = 0; b < BENCH_KV_BUCKETS; b++) {
        kv_get(win, b, &copy);
        uint64_t u = bench_kv_verify(&copy, b, &keys);
        if (u == UINT64_MAX)
            return 0;
        updates += u;
    }
    return keys == BENCH_KV_KEYS && updates == updates_all;
}

static void fig_kvstore(void)
{
    MPI_Win win;
    win_open_epoch((BENCH_KV_BUCKETS + (uint64_t)nodes - 1) / (uint64_t)nodes * KV_BUCKET_BYTES,
                   &win, 0);
    for (uint64_t k = (uint64_t)me; k < BENCH_KV_KEYS; k += (uint64_t)nodes)
        kv_update(win, k, 1);
    uint64_t rng = 0x5eed + (uint64_t)me * 7919, updates = 0, updates_all = 0;
    int wrong = 0;
    bench_kv_bucket_t copy;
    MPI_Barrier(MPI_COMM_WORLD);
    double t = bench_now_ns();
    for (uint64_t i = 0; i < BENCH_KV_OPS; i++) {
        bench_kv_op_t op = bench_kv_next(&rng);
        if (op.read) {
            kv_get(win, bench_kv_bucket_of(op.key), &copy);
            wrong |= op.absent && bench_kv_find(&copy, op.key) >= 0;
        } else {
            kv_update(win, op.key, 0);
            updates++;
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double seconds = (bench_now_ns() - t) / 1e9;
    MPI_Reduce(&updates, &updates_all, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    if (wrong || (me == 0 && !kv_check(win, updates_all)))
        die("kvstore: the table is wrong");
    double rate = (double)nodes * BENCH_KV_OPS / seconds;
    if (me == 0)
        bench_emit("kvstore", "kvstore", "ops/s", &rate, 1);
    win_close_epoch(&win, 0);
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
        bench_skip("ownership", "-", "MPI has no equivalent: window memory stays at the rank "
                   "that allocated it");
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
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &nodes);
    const char *figure = argc > 1 ? argv[1] : "";
    long iters = bench_arg(argc, argv, 2, 0);
    if (nodes < 2) {
        fprintf(stderr, "mpi_bench: run it on 2 or more ranks: mpirun -n 2 %s FIGURE\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    if (!run_figure(figure, iters)) {
        if (me == 0)
            fprintf(stderr, "usage: mpirun -n N %s FIGURE [ITERS]\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    MPI_Finalize();
    return 0;
}
