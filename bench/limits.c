/*
 * limits — the physical limits `ariadne bench` holds each figure against,
 * measured on this host: what one shared-memory machine does with threads
 * and the same kind of memory. Samples as @bench lines (bench/bench.h),
 * under the figure's name and the variant each limit bounds.
 *
 *   build/bench/limits FIGURE THREADS [ITERS]
 *
 *   round trip    two threads pinned (sched_setaffinity) to the first two
 *                 CPUs this process may use ping-pong one cache line: each
 *                 stores the next number into its own line and spins on the
 *                 other's (fetch-add, cas, store, get, ownership; half of it
 *                 for propagation)
 *   plain access  loads / stores over 256 KiB of a shared memfd mapping,
 *                 the kind of mapping Ariadne's pages live in (plain-store,
 *                 replica-load)
 *   memcpy        64 MiB between two buffers already touched (read-cold)
 *   mutex, barrier, gemm, kvstore: THREADS threads on one process's memory,
 *                 the same workloads as the peers (bench.h), with a
 *                 test-and-set spin lock and a sense-reversing barrier.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define LIMITS_THREADS_MAX 256
#define LIMITS_LINE 64
/* Polls of a spin loop before it yields the CPU: pure spinning when each
 * thread has a core, no livelock when there are more threads than cores. */
#define LIMITS_SPINS 4096

static void die(const char *what)
{
    fprintf(stderr, "limits: %s\n", what);
    exit(1);
}

static void *zalloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, bytes) != 0)
        die("out of memory");
    memset(p, 0, bytes);
    return p;
}

/* ------------------------------------------------------------------------
 * CPUs and a team of threads
 * ------------------------------------------------------------------------ */

static int cpus[CPU_SETSIZE], cpu_count;

static void cpus_load(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        die("sched_getaffinity failed");
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            cpus[cpu_count++] = c;
}

static void pin(int index)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus[index % cpu_count], &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        die("sched_setaffinity failed");
}

static void spin_pause(unsigned *spins)
{
    if (++*spins % LIMITS_SPINS == 0)
        sched_yield();
}

typedef struct team team_t;
typedef void (*team_fn_t)(team_t *team, int id);

struct team {
    int threads;
    team_fn_t fn;
    pthread_barrier_t barrier;
    void *shared;
    long iters;
};

typedef struct {
    team_t *team;
    int id;
} team_member_t;

static void *team_main(void *arg)
{
    team_member_t *m = arg;
    pin(m->id);
    m->team->fn(m->team, m->id);
    return NULL;
}

/* Runs fn on `threads` threads, thread i pinned to the i-th usable CPU. */
static void team_run(int threads, team_fn_t fn, void *shared, long iters)
{
    team_t team = {.threads = threads, .fn = fn, .shared = shared, .iters = iters};
    pthread_t tids[LIMITS_THREADS_MAX];
    team_member_t members[LIMITS_THREADS_MAX];
    pthread_barrier_init(&team.barrier, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        members[i] = (team_member_t){&team, i};
        if (pthread_create(&tids[i], NULL, team_main, &members[i]) != 0)
            die("pthread_create failed");
    }
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    pthread_barrier_destroy(&team.barrier);
}

static void team_wait(team_t *team) { pthread_barrier_wait(&team->barrier); }

/* ------------------------------------------------------------------------
 * The cache-line round trip
 * ------------------------------------------------------------------------ */

typedef struct {
    _Alignas(LIMITS_LINE) _Atomic uint64_t ping;
    _Alignas(LIMITS_LINE) _Atomic uint64_t pong;
    double *lat;
} pingpong_t;

static void pingpong_fn(team_t *team, int id)
{
    pingpong_t *pp = team->shared;
    long total = BENCH_WARMUP + team->iters;
    team_wait(team);
    for (long n = 1; n <= total; n++) {
        unsigned spins = 0;
        if (id == 0) {
            double t = bench_now_ns();
            atomic_store_explicit(&pp->ping, (uint64_t)n, memory_order_release);
            while (atomic_load_explicit(&pp->pong, memory_order_acquire) != (uint64_t)n)
                spin_pause(&spins);
            if (n > BENCH_WARMUP)
                pp->lat[n - BENCH_WARMUP - 1] = bench_now_ns() - t;
        } else {
            while (atomic_load_explicit(&pp->ping, memory_order_acquire) != (uint64_t)n)
                spin_pause(&spins);
            atomic_store_explicit(&pp->pong, (uint64_t)n, memory_order_release);
        }
    }
}

/* Round trips, each timed; `half` halves them (one way). */
static void limit_round_trip(const char *figure, const char *variant, long iters, int half)
{
    if (cpu_count < 2) {
        bench_skip(figure, variant, "a cache-line round trip needs two CPUs");
        return;
    }
    pingpong_t *pp = zalloc(sizeof *pp);
    pp->lat = zalloc((size_t)iters * sizeof(double));
    team_run(2, pingpong_fn, pp, iters);
    for (long i = 0; half && i < iters; i++)
        pp->lat[i] /= 2;
    bench_emit(figure, variant, "ns", pp->lat, (size_t)iters);
    free(pp->lat);
    free(pp);
}

/* ------------------------------------------------------------------------
 * Plain loads and stores on a shared memfd mapping; memcpy
 * ------------------------------------------------------------------------ */

static void limit_plain(const char *figure, const char *variant, int store, long passes)
{
    int fd = memfd_create("limits", 0);
    if (fd < 0 || ftruncate(fd, BENCH_PASS_BYTES) != 0)
        die("memfd_create failed");
    uint64_t *p = mmap(NULL, BENCH_PASS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        die("mmap failed");
    double *ns = zalloc((size_t)passes * sizeof *ns);
    uint64_t sum = 0;
    bench_access_pass(p, 1, 0, &sum); /* first touch out of the timing */
    for (long n = 0; n < passes; n++)
        ns[n] = bench_access_pass(p, store, (uint64_t)n + 1, &sum);
    bench_emit(figure, variant, "ns", ns, (size_t)passes);
    free(ns);
    munmap(p, BENCH_PASS_BYTES);
    close(fd);
}

static void limit_memcpy(long reps)
{
    size_t bytes = (size_t)BENCH_COLD_MIB << 20;
    char *src = zalloc(bytes), *dst = zalloc(bytes);
    memset(src, 1, bytes);
    double *gbs = zalloc((size_t)reps * sizeof *gbs);
    for (long r = 0; r < reps; r++) {
        double t = bench_now_ns();
        memcpy(dst, src, bytes);
        gbs[r] = (double)bytes / (bench_now_ns() - t);
        volatile char sink = dst[(size_t)r * 4096 % bytes]; /* the copy is used */
        (void)sink;
    }
    bench_emit("read-cold", "memcpy", "GB/s", gbs, (size_t)reps);
    free(gbs);
    free(src);
    free(dst);
}

/* ------------------------------------------------------------------------
 * Mutex: a test-and-test-and-set spin lock, the critical section of
 * bench.h. Uncontended: thread 1 alone; contended: 1..THREADS contenders;
 * then a round of turns for the handoffs (phase -1).
 * ------------------------------------------------------------------------ */

typedef struct {
    _Alignas(LIMITS_LINE) _Atomic uint64_t lock;
    _Alignas(LIMITS_LINE) uint64_t words[BENCH_CS_WORDS];
    int contenders;    /* 0: uncontended; -1: turns */
    double rate;
    double *lat;       /* uncontended, thread 1 */
    double *handoffs;  /* every thread's, in the turns */
    _Atomic long handoff_count;
} mutex_t;

/* One section; returns the handoff (-1: none), or -2 when this thread
 * gave way in a round of turns (target > 0). */
static double mutex_section(mutex_t *m, int me, uint64_t target, long left)
{
    unsigned spins = 0;
    for (;;) {
        uint64_t free_word = 0;
        if (atomic_load_explicit(&m->lock, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&m->lock, &free_word, (uint64_t)me + 1,
                                                  memory_order_acquire, memory_order_relaxed))
            break;
        spin_pause(&spins);
    }
    if (target > 0 && bench_cs_give_way(m->words, me, target, left)) {
        atomic_store_explicit(&m->lock, 0, memory_order_release);
        return -2;
    }
    double handoff = bench_cs_apply(m->words, me);
    atomic_store_explicit(&m->lock, 0, memory_order_release);
    return handoff;
}

static void mutex_phase(mutex_t *m, int id, int threads, long iters)
{
    if (m->contenders == 0 && id == 1) {
        for (long i = 0; i < iters; i++) {
            double s = bench_now_ns();
            mutex_section(m, id, 0, 0);
            m->lat[i] = bench_now_ns() - s;
        }
    } else if (m->contenders > 0 && bench_contends(id, threads, m->contenders)) {
        for (long i = 0; i < iters; i++)
            mutex_section(m, id, 0, 0);
    } else if (m->contenders < 0) {
        uint64_t target = bench_cs_after_turns(threads, iters);
        for (long left = iters, streak = 0; left > 0;) {
            double h = mutex_section(m, id, target, left);
            if (h == -2) {
                bench_give_way_pause(streak++);
                continue;
            }
            streak = 0;
            left--;
            if (h >= 0)
                m->handoffs[atomic_fetch_add(&m->handoff_count, 1)] = h;
        }
    }
}

static void mutex_fn(team_t *team, int id)
{
    mutex_t *m = team->shared;
    team_wait(team);
    double t = bench_now_ns();
    mutex_phase(m, id, team->threads, team->iters);
    team_wait(team);
    if (id == 0)
        m->rate = (double)m->contenders * (double)team->iters / ((bench_now_ns() - t) / 1e9);
}

static void limit_mutex(int threads, long iters)
{
    mutex_t *m = zalloc(sizeof *m);
    m->lat = zalloc((size_t)iters * sizeof(double));
    m->handoffs = zalloc((size_t)(iters * threads) * sizeof(double));
    team_run(threads, mutex_fn, m, iters);
    bench_emit("mutex", "uncontended", "ns", m->lat, (size_t)iters);
    for (int c = 1; c <= threads; c++) {
        double rate[BENCH_MUTEX_ROUNDS];
        m->contenders = c;
        for (int r = 0; r < BENCH_MUTEX_ROUNDS; r++) {
            team_run(threads, mutex_fn, m, iters);
            rate[r] = m->rate;
        }
        char variant[32];
        snprintf(variant, sizeof variant, "contenders-%d", c);
        bench_emit("mutex", variant, "ops/s", rate, BENCH_MUTEX_ROUNDS);
    }
    m->contenders = -1;
    team_run(threads, mutex_fn, m, iters);
    if (m->words[BENCH_CS_COUNT] != bench_cs_after_turns(threads, iters))
        die("the mutex counter is wrong: the spin lock failed");
    bench_emit("mutex", "handoff", "ns", m->handoffs, (size_t)atomic_load(&m->handoff_count));
    free(m->handoffs);
    free(m->lat);
    free(m);
}

/* ------------------------------------------------------------------------
 * Barrier: sense-reversing, every thread spinning on one flag
 * ------------------------------------------------------------------------ */

typedef struct {
    _Alignas(LIMITS_LINE) _Atomic int arrived;
    _Alignas(LIMITS_LINE) _Atomic int sense;
    double *lat; /* iters per thread */
} barrier_t;

static void barrier_wait(barrier_t *b, int threads, int *local_sense)
{
    *local_sense = !*local_sense;
    if (atomic_fetch_add(&b->arrived, 1) == threads - 1) {
        atomic_store(&b->arrived, 0);
        atomic_store_explicit(&b->sense, *local_sense, memory_order_release);
        return;
    }
    unsigned spins = 0;
    while (atomic_load_explicit(&b->sense, memory_order_acquire) != *local_sense)
        spin_pause(&spins);
}

static void barrier_fn(team_t *team, int id)
{
    barrier_t *b = team->shared;
    int sense = 0;
    team_wait(team);
    for (int i = 0; i < BENCH_WARMUP / 10; i++)
        barrier_wait(b, team->threads, &sense);
    for (long i = 0; i < team->iters; i++) {
        double t = bench_now_ns();
        barrier_wait(b, team->threads, &sense);
        b->lat[(long)id * team->iters + i] = bench_now_ns() - t;
    }
}

static void limit_barrier(int threads, long iters)
{
    barrier_t *b = zalloc(sizeof *b);
    b->lat = zalloc((size_t)(iters * threads) * sizeof(double));
    team_run(threads, barrier_fn, b, iters);
    bench_emit("barrier", "barrier", "ns", b->lat, (size_t)(iters * threads));
    free(b->lat);
    free(b);
}

/* ------------------------------------------------------------------------
 * gemm: thread t computes the blocks k with k mod THREADS == t from A and B
 * in one process's memory (blocks stored one after another).
 * ------------------------------------------------------------------------ */

typedef struct {
    double *a, *b, *c;
    uint64_t grid;
    double seconds;
    _Atomic int wrong;
} gemm_t;

static double *gemm_block(double *matrix, uint64_t grid, uint64_t bi, uint64_t bj)
{
    return matrix + (bi * grid + bj) * BENCH_GEMM_BLOCK * BENCH_GEMM_BLOCK;
}

/* This thread's blocks of C, each accumulated in a private block. */
static void gemm_multiply(gemm_t *g, int id, int threads, double *acc)
{
    const uint64_t n = BENCH_GEMM_BLOCK, grid = g->grid;
    for (uint64_t k = (uint64_t)id; k < grid * grid; k += (uint64_t)threads) {
        uint64_t bi = k / grid, bj = k % grid;
        memset(acc, 0, n * n * sizeof *acc);
        for (uint64_t bk = 0; bk < grid; bk++)
            bench_gemm_product(gemm_block(g->a, grid, bi, bk), gemm_block(g->b, grid, bk, bj),
                               acc, n);
        memcpy(gemm_block(g->c, grid, bi, bj), acc, n * n * sizeof *acc);
    }
}

/* The limit is the best case: the multiply runs once to warm the caches,
 * and the second one is timed. */
static void gemm_fn(team_t *team, int id)
{
    gemm_t *g = team->shared;
    const uint64_t n = BENCH_GEMM_BLOCK, grid = g->grid;
    double *acc = zalloc(n * n * sizeof *acc);
    for (uint64_t k = (uint64_t)id; k < grid * grid; k += (uint64_t)team->threads) {
        bench_gemm_fill(gemm_block(g->a, grid, k / grid, k % grid), k / grid, k % grid, n, 1);
        bench_gemm_fill(gemm_block(g->b, grid, k / grid, k % grid), k / grid, k % grid, n, 0);
    }
    team_wait(team);
    gemm_multiply(g, id, team->threads, acc);
    team_wait(team);
    double t = bench_now_ns();
    gemm_multiply(g, id, team->threads, acc);
    team_wait(team);
    if (id == 0)
        g->seconds = (bench_now_ns() - t) / 1e9;
    for (uint64_t k = (uint64_t)id; k < grid * grid; k += (uint64_t)team->threads)
        if (!bench_gemm_check(gemm_block(g->c, grid, k / grid, k % grid), k / grid, k % grid,
                              n, BENCH_GEMM_SIZE))
            atomic_store(&g->wrong, 1);
    free(acc);
}

static void limit_gemm(int threads)
{
    size_t bytes = (size_t)BENCH_GEMM_SIZE * BENCH_GEMM_SIZE * sizeof(double);
    gemm_t g = {zalloc(bytes), zalloc(bytes), zalloc(bytes), BENCH_GEMM_SIZE / BENCH_GEMM_BLOCK,
                0, 0};
    team_run(threads, gemm_fn, &g, 1);
    if (atomic_load(&g.wrong))
        die("gemm: a block of C is wrong");
    double flops = 2.0 * BENCH_GEMM_SIZE * (double)BENCH_GEMM_SIZE * BENCH_GEMM_SIZE;
    double gflops = flops / g.seconds * 1e-9;
    bench_emit("gemm", "gemm", "GFLOP/s", &gflops, 1);
    free(g.a);
    free(g.b);
    free(g.c);
}

/* ------------------------------------------------------------------------
 * kvstore: the buckets in one process's memory; updates under a bucket's
 * spin lock (its first word), reads without it. The words a read may race
 * with are read and written as relaxed atomics, as the hardware does.
 * ------------------------------------------------------------------------ */

typedef struct {
    bench_kv_bucket_t *table;
    _Atomic uint64_t updates;
    double seconds;
    _Atomic int wrong;
} kv_t;

static void kv_lock(bench_kv_bucket_t *b)
{
    unsigned spins = 0;
    while (__atomic_exchange_n(&b->lock[0], 1, __ATOMIC_ACQUIRE) != 0)
        spin_pause(&spins);
}

static void kv_unlock(bench_kv_bucket_t *b) { __atomic_store_n(&b->lock[0], 0, __ATOMIC_RELEASE); }

/* bench_kv_put, with atomic stores of what lock-free readers look at. */
static void kv_put(bench_kv_bucket_t *b, uint64_t key, int insert)
{
    kv_lock(b);
    int slot = bench_kv_find(b, key);
    if (slot < 0 && insert && b->count < BENCH_KV_SLOTS) {
        bench_kv_entry_t *e = &b->slots[b->count];
        __atomic_store_n(&e->updates, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&e->value, key * BENCH_KV_MIX, __ATOMIC_RELAXED);
        __atomic_store_n(&e->key, key + 1, __ATOMIC_RELEASE);
        __atomic_store_n(&b->count, b->count + 1, __ATOMIC_RELEASE);
    } else if (slot >= 0) {
        bench_kv_entry_t *e = &b->slots[slot];
        uint64_t updates = e->updates + 1;
        __atomic_store_n(&e->updates, updates, __ATOMIC_RELAXED);
        __atomic_store_n(&e->value, key * BENCH_KV_MIX ^ updates, __ATOMIC_RELAXED);
    }
    kv_unlock(b);
}

static int kv_get(bench_kv_bucket_t *b, uint64_t key, uint64_t *value)
{
    uint64_t n = __atomic_load_n(&b->count, __ATOMIC_ACQUIRE);
    for (uint64_t i = 0; i < n && i < BENCH_KV_SLOTS; i++) {
        if (__atomic_load_n(&b->slots[i].key, __ATOMIC_ACQUIRE) == key + 1) {
            *value = __atomic_load_n(&b->slots[i].value, __ATOMIC_RELAXED);
            return 1;
        }
    }
    return 0;
}

static void kv_fn(team_t *team, int id)
{
    kv_t *kv = team->shared;
    for (uint64_t k = (uint64_t)id; k < BENCH_KV_KEYS; k += (uint64_t)team->threads)
        kv_put(&kv->table[bench_kv_bucket_of(k)], k, 1);
    uint64_t rng = 0x5eed + (uint64_t)id * 7919, updates = 0, value;
    team_wait(team);
    double t = bench_now_ns();
    for (uint64_t i = 0; i < BENCH_KV_OPS; i++) {
        bench_kv_op_t op = bench_kv_next(&rng);
        bench_kv_bucket_t *b = &kv->table[bench_kv_bucket_of(op.key)];
        if (!op.read) {
            kv_put(b, op.key, 0);
            updates++;
        } else if (kv_get(b, op.key, &value) && op.absent) {
            atomic_store(&kv->wrong, 1);
        }
    }
    atomic_fetch_add(&kv->updates, updates);
    team_wait(team);
    if (id == 0)
        kv->seconds = (bench_now_ns() - t) / 1e9;
}

static void limit_kvstore(int threads)
{
    kv_t kv = {zalloc(BENCH_KV_BUCKETS * sizeof(bench_kv_bucket_t)), 0, 0, 0};
    team_run(threads, kv_fn, &kv, 1);
    uint64_t keys = 0, updates = 0;
    for (uint64_t b = 0; b < BENCH_KV_BUCKETS; b++) {
        uint64_t u = bench_kv_verify(&kv.table[b], b, &keys);
        updates = u == UINT64_MAX || updates == UINT64_MAX ? UINT64_MAX : updates + u;
    }
    if (atomic_load(&kv.wrong) || keys != BENCH_KV_KEYS || updates != atomic_load(&kv.updates))
        die("kvstore: the table is wrong");
    double rate = (double)threads * BENCH_KV_OPS / kv.seconds;
    bench_emit("kvstore", "kvstore", "ops/s", &rate, 1);
    free(kv.table);
}

/* ------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------ */

static int run_figure(const char *figure, int threads, long iters)
{
    if (strcmp(figure, "fetch-add") == 0 || strcmp(figure, "cas") == 0) {
        limit_round_trip(figure, figure, bench_or_default(iters, BENCH_ITERS_ATOMIC), 0);
    } else if (strcmp(figure, "store") == 0 || strcmp(figure, "get") == 0) {
        int store = strcmp(figure, "store") == 0;
        limit_round_trip(figure, figure, bench_or_default(iters, BENCH_ITERS_ATOMIC), 0);
        limit_plain(figure, store ? "plain-store" : "replica-load", store, BENCH_ITERS_PASSES);
    } else if (strcmp(figure, "ownership") == 0) {
        limit_round_trip(figure, "round-trip", bench_or_default(iters, BENCH_ITERS_ATOMIC), 0);
    } else if (strcmp(figure, "propagation") == 0) {
        limit_round_trip(figure, "one-way", bench_or_default(iters, BENCH_ITERS_PROPAGATION), 1);
    } else if (strcmp(figure, "read-cold") == 0) {
        limit_memcpy(bench_or_default(iters, 5));
    } else if (strcmp(figure, "mutex") == 0) {
        limit_mutex(threads, bench_or_default(iters, BENCH_ITERS_MUTEX));
    } else if (strcmp(figure, "barrier") == 0) {
        limit_barrier(threads, bench_or_default(iters, BENCH_ITERS_BARRIER));
    } else if (strcmp(figure, "gemm") == 0) {
        limit_gemm(threads);
    } else if (strcmp(figure, "kvstore") == 0) {
        limit_kvstore(threads);
    } else {
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    const char *figure = argc > 1 ? argv[1] : "";
    long threads = bench_arg(argc, argv, 2, 2), iters = bench_arg(argc, argv, 3, 0);
    if (threads < 2 || threads > LIMITS_THREADS_MAX) {
        fprintf(stderr, "limits: THREADS is 2 to %d\n", LIMITS_THREADS_MAX);
        return 2;
    }
    cpus_load();
    if (!run_figure(figure, (int)threads, iters)) {
        fprintf(stderr, "usage: %s FIGURE THREADS [ITERS]\nFIGURE: fetch-add, cas, store, get, "
                "propagation, read-cold, ownership, mutex, barrier, gemm, kvstore\n", argv[0]);
        return 2;
    }
    return 0;
}
