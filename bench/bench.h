/*
 * bench.h — what the measurement programs of `ariadne bench` share: the
 * clock, the line format they report samples in, and the workloads of the
 * two application figures (gemm, kvstore), so that Ariadne, the MPI and
 * OpenSHMEM peers and the limits compute exactly the same thing.
 *
 * Header-only (static inline) because the peers are built with mpicc and
 * oshcc, apart from the library and the command.
 *
 * The line format, on stdout or in a file of the process's own
 * (bench_stream):
 *   @bench FIGURE VARIANT UNIT COUNT V1 V2 ...
 *       V1.. are some of the order statistics of a sample set, thinned to
 *       at most BENCH_EMIT_MAX evenly spaced (all of them when there are
 *       few), so medians, tails and CDFs survive; a set's values are
 *       spread over lines of at most BENCH_LINE_VALUES, and COUNT is the
 *       samples a line's values stand for.
 *   @skip FIGURE VARIANT REASON...
 *       the figure (or one variant, or '-' for all) cannot be measured here.
 * `ariadne bench` merges every set of one (figure, variant, system), from
 * every node and every run.
 */
#ifndef ARIADNE_BENCH_H
#define ARIADNE_BENCH_H

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Samples per run of each figure, the same for every system; `ariadne
 * bench --iters N` replaces the first of each (the main loop's count). */
#define BENCH_ITERS_ATOMIC 10000     /* fetch-add, cas, store, get */
#define BENCH_ITERS_PASSES 31        /* plain-store, replica-load: passes over 256 KiB */
#define BENCH_ITERS_PROPAGATION 5000 /* round trips */
#define BENCH_ITERS_COLD 2           /* cold reads of BENCH_COLD_MIB each */
#define BENCH_ITERS_OWNERSHIP 500    /* transfers each way */
#define BENCH_ITERS_MUTEX 1000       /* uncontended; and per contender per round */
#define BENCH_MUTEX_ROUNDS 2         /* contended rounds per number of contenders */
#define BENCH_ITERS_BARRIER 2000
#define BENCH_COLD_MIB 64u
#define BENCH_PASS_BYTES (256u << 10) /* fits in L2: the access itself is timed */
#define BENCH_WARMUP 500             /* untimed operations before the timed ones */

/* Order statistics a line carries: enough for the 99th percentile to be
 * exact to a tenth of a percentile, short enough for one launcher line. */
#define BENCH_EMIT_MAX 1000
#define BENCH_LINE_VALUES 100

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* `iters` when given (> 0), else the figure's default. */
static inline long bench_or_default(long iters, long fallback) { return iters > 0 ? iters : fallback; }

/* One pass of plain loads (summed into *sum) or stores over
 * BENCH_PASS_BYTES at p: ns per access. */
static inline double bench_access_pass(volatile uint64_t *p, int store, uint64_t pass,
                                       uint64_t *sum)
{
    size_t words = BENCH_PASS_BYTES / 8;
    double t = bench_now_ns();
    if (store) {
        for (size_t i = 0; i < words; i++)
            p[i] = pass + i;
    } else {
        uint64_t s = 0;
        for (size_t i = 0; i < words; i++)
            s += p[i];
        *sum += s;
    }
    return (bench_now_ns() - t) / (double)words;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Where the @bench and @skip lines go: stdout, or, when the environment's
 * ARI_BENCH_OUTPUT names a directory, a file of this process's own there
 * (DIR/PID.txt). `ariadne bench` sets it: mpirun forwards a rank's output
 * in chunks and tags each chunk, cutting long lines apart (lines were
 * lost); a file of one's own is never cut. */
static inline FILE *bench_stream(void)
{
    static FILE *stream;
    if (stream == NULL) {
        const char *dir = getenv("ARI_BENCH_OUTPUT");
        if (dir != NULL && dir[0] != 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%ld.txt", dir, (long)getpid());
            stream = fopen(path, "a");
        }
        if (stream == NULL)
            stream = stdout;
    }
    return stream;
}

/* Sorts the samples and prints their thinned order statistics as @bench
 * lines of at most BENCH_LINE_VALUES values each, every line written at
 * once: short enough that no launcher splits or interleaves it (mpirun's
 * --tag-output cuts longer ones). COUNT on each line is its share of the
 * samples; the shares add up to all of them. */
static inline void bench_emit(const char *figure, const char *variant, const char *unit,
                              double *samples, size_t count)
{
    if (count == 0)
        return;
    qsort(samples, count, sizeof samples[0], bench_cmp_double);
    size_t shown = count < BENCH_EMIT_MAX ? count : BENCH_EMIT_MAX;
    for (size_t first = 0; first < shown; first += BENCH_LINE_VALUES) {
        size_t last = first + BENCH_LINE_VALUES < shown ? first + BENCH_LINE_VALUES : shown;
        char line[BENCH_LINE_VALUES * 16 + 256];
        size_t share = count * last / shown - count * first / shown;
        int used = snprintf(line, sizeof line, "@bench %s %s %s %zu", figure, variant, unit,
                            share);
        for (size_t i = first; i < last && used > 0 && (size_t)used < sizeof line; i++) {
            /* The order statistic at quantile (i + 0.5) / shown. */
            size_t at = (size_t)(((double)i + 0.5) * (double)count / (double)shown);
            used += snprintf(line + used, sizeof line - (size_t)used, " %.6g",
                             samples[at < count ? at : count - 1]);
        }
        fprintf(bench_stream(), "%s\n", line);
        fflush(bench_stream());
    }
}

static inline void bench_skip(const char *figure, const char *variant, const char *reason)
{
    fprintf(bench_stream(), "@skip %s %s %s\n", figure, variant, reason);
    fflush(bench_stream());
}

/* A whole number from argv[at], or `fallback` when absent or 0; exits with
 * 2 on anything else. */
static inline long bench_arg(int argc, char **argv, int at, long fallback)
{
    if (argc <= at)
        return fallback;
    char *end;
    long value = strtol(argv[at], &end, 10);
    if (*end != '\0' || value < 0 || end == argv[at]) {
        fprintf(stderr, "bench: '%s' is not a count\n", argv[at]);
        exit(2);
    }
    return value == 0 ? fallback : value;
}

/* ------------------------------------------------------------------------
 * The critical section of the mutex figure, on three words: a counter,
 * the last holder + 1, and the time (CLOCK_MONOTONIC, shared by every
 * process of the host) at which the last holder finished its writes. A
 * handoff is from that time to the moment the next holder, another node,
 * has the lock and has read the words.
 * ------------------------------------------------------------------------ */
enum { BENCH_CS_COUNT, BENCH_CS_HOLDER, BENCH_CS_RELEASED_NS, BENCH_CS_WORDS };

/* Applies the critical section to `words` (a copy or the shared ones);
 * returns the handoff in ns, or -1 when the last holder was this node. */
static inline double bench_cs_apply(uint64_t *words, int me)
{
    double now = bench_now_ns();
    double handoff = -1;
    if (words[BENCH_CS_HOLDER] != 0 && words[BENCH_CS_HOLDER] != (uint64_t)me + 1)
        handoff = now - (double)words[BENCH_CS_RELEASED_NS];
    words[BENCH_CS_COUNT]++;
    words[BENCH_CS_HOLDER] = (uint64_t)me + 1;
    words[BENCH_CS_RELEASED_NS] = (uint64_t)bench_now_ns();
    return handoff;
}

/* Handoffs are taken in a round of turns, every node contending: a node
 * that finds it held the lock last lets it go and tries again while
 * another node still has sections to do, so every section (but the first)
 * is a handoff. `target` is the counter's value at the end of the round;
 * `left` is this node's sections still to do. Returns whether to give way. */
static inline int bench_cs_give_way(const uint64_t *words, int me, uint64_t target, long left)
{
    return words[BENCH_CS_HOLDER] == (uint64_t)me + 1 &&
           target - words[BENCH_CS_COUNT] > (uint64_t)left;
}

/* After giving way, a pause before trying again that doubles with every
 * give-way in a row (from BENCH_GIVE_WAY_MIN_NS up to BENCH_GIVE_WAY_MAX_NS)
 * and yields the CPU meanwhile: short, so that a waiter blocked in its lock
 * call is what the handoff times (not a waiter asleep in its own pause),
 * and growing, so that a waiter that polls slowly gets in too (MPI's
 * exclusive lock in OpenMPI's osc ucx: the rank owning the window took it
 * back every time otherwise, and the other starved). */
#define BENCH_GIVE_WAY_MIN_NS 200.0
#define BENCH_GIVE_WAY_MAX_NS 1e6

static inline double bench_give_way_ns(long streak)
{
    double ns = BENCH_GIVE_WAY_MIN_NS;
    for (long i = 0; i < streak && ns < BENCH_GIVE_WAY_MAX_NS; i++)
        ns *= 2;
    return ns;
}

static inline void bench_give_way_pause(long streak)
{
    double end = bench_now_ns() + bench_give_way_ns(streak);
    while (bench_now_ns() < end)
        sched_yield();
}

/* The counter's value after each phase of the mutex figure on `nodes`:
 * the uncontended sections, the contended rounds for 1..nodes, the turns. */
static inline uint64_t bench_cs_after_rounds(int nodes, long iters)
{
    uint64_t count = (uint64_t)iters;
    for (int c = 1; c <= nodes; c++)
        count += (uint64_t)c * (uint64_t)iters * BENCH_MUTEX_ROUNDS;
    return count;
}

static inline uint64_t bench_cs_after_turns(int nodes, long iters)
{
    return bench_cs_after_rounds(nodes, iters) + (uint64_t)nodes * (uint64_t)iters;
}

/* Whether node `node` of `nodes` is one of the first `contenders`,
 * counted from node 1 (node 0 holds the lock's memory, so a single
 * contender is a remote one). */
static inline int bench_contends(int node, int nodes, int contenders)
{
    return (node + nodes - 1) % nodes < contenders;
}

/* ------------------------------------------------------------------------
 * gemm: C = A x B, N x N doubles in B x B blocks; block k (row-major over
 * the grid of blocks) belongs to node k mod nodes. Small integer entries,
 * so every sum is exact and the result is checked with ==. The same
 * entries and closed form as examples/gemm.c.
 * ------------------------------------------------------------------------ */
#define BENCH_GEMM_SIZE 512u
#define BENCH_GEMM_BLOCK 64u

static inline int64_t bench_gemm_coef(uint64_t x, uint64_t salt)
{
    uint64_t z = (x * 4 + salt) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z ^= z >> 31;
    return (int64_t)(z % 7) - 3;
}

static inline double bench_gemm_a(uint64_t i, uint64_t k)
{
    return (double)(bench_gemm_coef(i, 1) + bench_gemm_coef(i, 2) * (int64_t)k);
}

static inline double bench_gemm_b(uint64_t k, uint64_t j)
{
    return (double)(bench_gemm_coef(j, 3) + bench_gemm_coef(j, 4) * (int64_t)k);
}

static inline double bench_gemm_c(uint64_t i, uint64_t j, uint64_t size)
{
    int64_t n = (int64_t)size, s1 = n * (n - 1) / 2, s2 = (n - 1) * n * (2 * n - 1) / 6;
    int64_t a0 = bench_gemm_coef(i, 1), a1 = bench_gemm_coef(i, 2);
    int64_t b0 = bench_gemm_coef(j, 3), b1 = bench_gemm_coef(j, 4);
    return (double)(a0 * b0 * n + (a0 * b1 + a1 * b0) * s1 + a1 * b1 * s2);
}

/* Fills block (bi, bj) of A or B, `block` x `block` doubles row-major. */
static inline void bench_gemm_fill(double *out, uint64_t bi, uint64_t bj, uint64_t block,
                                   int is_a)
{
    for (uint64_t r = 0; r < block; r++)
        for (uint64_t c = 0; c < block; c++) {
            uint64_t i = bi * block + r, j = bj * block + c;
            out[r * block + c] = is_a ? bench_gemm_a(i, j) : bench_gemm_b(i, j);
        }
}

/* acc += a x b on row-major blocks: the loop order of examples/gemm.c. */
static inline void bench_gemm_product(const double *a, const double *b, double *acc,
                                      uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        double *crow = acc + i * n;
        for (uint64_t k = 0; k < n; k++) {
            double x = a[i * n + k];
            const double *brow = b + k * n;
            for (uint64_t j = 0; j < n; j++)
                crow[j] += x * brow[j];
        }
    }
}

/* Checks block (bi, bj) of C; returns 1 when every entry is right. */
static inline int bench_gemm_check(const double *c, uint64_t bi, uint64_t bj, uint64_t block,
                                   uint64_t size)
{
    for (uint64_t r = 0; r < block; r++)
        for (uint64_t col = 0; col < block; col++)
            if (c[r * block + col] != bench_gemm_c(bi * block + r, bj * block + col, size))
                return 0;
    return 1;
}

/* ------------------------------------------------------------------------
 * kvstore: the workload of examples/kvstore.c (its defaults: 8192 keys in
 * 256 one-page buckets of 168 slots, 95 % reads, 80 % of operations on 20 %
 * of the keys, a tenth of reads for absent keys), for the peers and the
 * limit. A bucket's first two words are its lock (ari_mutex_t's size).
 * ------------------------------------------------------------------------ */
#define BENCH_KV_KEYS 8192u
#define BENCH_KV_BUCKETS 256u
#define BENCH_KV_SLOTS 168u
#define BENCH_KV_READ_PCT 95u
#define BENCH_KV_OPS 50000u /* per node */
#define BENCH_KV_MIX 0x9e3779b97f4a7c15ull

typedef struct {
    uint64_t key;     /* key + 1; 0: empty */
    uint64_t value;   /* key * BENCH_KV_MIX ^ updates */
    uint64_t updates;
} bench_kv_entry_t;

typedef struct {
    uint64_t lock[2];
    uint64_t count;
    uint64_t pad;
    bench_kv_entry_t slots[BENCH_KV_SLOTS];
} bench_kv_bucket_t;

_Static_assert(sizeof(bench_kv_bucket_t) <= 4096, "a bucket is one page");

static inline uint64_t bench_kv_rand(uint64_t *state)
{
    uint64_t z = (*state += BENCH_KV_MIX);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t bench_kv_bucket_of(uint64_t key)
{
    return ((key * BENCH_KV_MIX) >> 17) % BENCH_KV_BUCKETS;
}

/* One operation of the mix: the key, and whether it is a read (and of an
 * absent key). */
typedef struct {
    uint64_t key;
    int read, absent;
} bench_kv_op_t;

static inline bench_kv_op_t bench_kv_next(uint64_t *rng)
{
    const uint64_t keys = BENCH_KV_KEYS, hot = keys / 5;
    bench_kv_op_t op = {0, 0, 0};
    uint64_t pick = bench_kv_rand(rng);
    op.key = pick % 10 < 8 ? (pick >> 8) % hot : (pick >> 8) % keys;
    if (bench_kv_rand(rng) % 100 < BENCH_KV_READ_PCT) {
        op.read = 1;
        op.absent = bench_kv_rand(rng) % 10 == 0;
        if (op.absent)
            op.key += keys;
    }
    return op;
}

/* Finds `key` among a bucket's entries: its slot, or -1. */
static inline int bench_kv_find(const bench_kv_bucket_t *b, uint64_t key)
{
    uint64_t n = b->count < BENCH_KV_SLOTS ? b->count : BENCH_KV_SLOTS;
    for (uint64_t i = 0; i < n; i++)
        if (b->slots[i].key == key + 1)
            return (int)i;
    return -1;
}

/* Inserts or updates `key` in a (locked) bucket; returns the slot. */
static inline int bench_kv_put(bench_kv_bucket_t *b, uint64_t key, int insert)
{
    int slot = bench_kv_find(b, key);
    if (slot < 0) {
        if (!insert || b->count >= BENCH_KV_SLOTS)
            return -1;
        slot = (int)b->count++;
        b->slots[slot].key = key + 1;
        b->slots[slot].updates = 0;
    } else {
        b->slots[slot].updates++;
    }
    b->slots[slot].value = key * BENCH_KV_MIX ^ b->slots[slot].updates;
    return slot;
}

/* Checks every bucket: each key once, in its bucket, with its own value;
 * returns the sum of update counters, or UINT64_MAX when wrong. */
static inline uint64_t bench_kv_verify(const bench_kv_bucket_t *b, uint64_t bucket,
                                       uint64_t *keys_found)
{
    uint64_t updates = 0;
    for (uint64_t i = 0; i < b->count && i < BENCH_KV_SLOTS; i++) {
        const bench_kv_entry_t *e = &b->slots[i];
        uint64_t key = e->key - 1;
        if (e->key == 0 || key >= BENCH_KV_KEYS || bench_kv_bucket_of(key) != bucket ||
            e->value != (key * BENCH_KV_MIX ^ e->updates))
            return UINT64_MAX;
        updates += e->updates;
        (*keys_found)++;
    }
    return updates;
}

#endif /* ARIADNE_BENCH_H */
