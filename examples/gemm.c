/*
 * gemm — a blocked matrix multiply C = A x B over global memory, with
 * plain loads and stores; checks every entry of its own result.
 *
 *   ariadne run -n 4 build/examples/gemm [--size N] [--block B]
 *
 * The matrices are N x N doubles cut into B x B blocks. Each is one
 * ari_alloc_all with ARI_SPREAD, so page i is owned by node i mod nodes.
 * Block k (row-major over the grid of blocks) belongs to node k mod nodes
 * and lies in that node's own pages: the pages k' x nodes + owner for its
 * run of page slots k'. A block's row is contiguous (B doubles fit a page),
 * the rows of one page follow each other, and the pages of one block are
 * `nodes` pages apart. So every node writes only pages it owns: its diffs
 * are ordered where they are made, with no round trip, no page is written
 * by two nodes (no false sharing), and the others fetch replicas of what
 * they read.
 *
 * Init: each node fills the blocks of A and B it owns with plain stores.
 * Multiply: after a barrier each node computes the blocks of C it owns,
 * reading the row of blocks of A and the column of blocks of B with plain
 * loads (the first touch of a page fetches a replica, the rest read it at
 * memory speed), and stores each finished block into C. Check: after a
 * barrier every node compares every entry of C with its closed form.
 *
 * The entries are small integers, so every product and sum is exact in
 * double precision and the check compares with ==:
 *   A[i][k] = a0(i) + a1(i) k,   B[k][j] = b0(j) + b1(j) k,
 *   C[i][j] = a0 b0 N + (a0 b1 + a1 b0) S1 + a1 b1 S2,
 * with S1 = sum of k and S2 = sum of k^2 over 0 .. N-1, and coefficients
 * from -3 to 3 that vary from row to row and column to column.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ariadne.h>

#define GM_PAGE 4096u
#define GM_PAGE_DOUBLES (GM_PAGE / sizeof(double))
#define GM_BLOCK_MIN 8u
#define GM_BLOCK_MAX GM_PAGE_DOUBLES /* a block's row fits one page */
#define GM_SIZE_MAX 8192u            /* |C| < 2^53: every sum stays exact */

/* Where the blocks of a matrix lie: the same for A, B and C. */
typedef struct {
    uint64_t size;            /* N */
    uint64_t block;           /* B */
    uint64_t grid;            /* N / B blocks per side */
    uint64_t rows_per_page;   /* rows of a block in one page */
    uint64_t pages_per_block;
    uint64_t slots_per_node;  /* blocks the busiest node owns */
    int nodes;
} gm_layout_t;

static int gm_fail(const char *what, int status)
{
    fprintf(stderr, "gemm: node %d: %s: %s\n", ari_node_id(), what, ari_strerror(status));
    return 1;
}

static double gm_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static gm_layout_t gm_layout(uint64_t size, uint64_t block, int nodes)
{
    gm_layout_t l = {size, block, size / block, GM_PAGE_DOUBLES / block, 0, 0, nodes};
    if (l.rows_per_page > block)
        l.rows_per_page = block; /* a small block: one page, partly used */
    l.pages_per_block = block / l.rows_per_page;
    uint64_t blocks = l.grid * l.grid;
    l.slots_per_node = (blocks + (uint64_t)nodes - 1) / (uint64_t)nodes;
    return l;
}

static uint64_t gm_bytes(const gm_layout_t *l)
{
    return l->slots_per_node * l->pages_per_block * (uint64_t)l->nodes * GM_PAGE;
}

static int gm_owner(const gm_layout_t *l, uint64_t bi, uint64_t bj)
{
    return (int)((bi * l->grid + bj) % (uint64_t)l->nodes);
}

/* Row r of block (bi, bj): `block` contiguous doubles in the owner's pages. */
static double *gm_row(const gm_layout_t *l, double *matrix, uint64_t bi, uint64_t bj, uint64_t r)
{
    uint64_t k = bi * l->grid + bj, nodes = (uint64_t)l->nodes;
    uint64_t page_slot = (k / nodes) * l->pages_per_block + r / l->rows_per_page;
    uint64_t page = page_slot * nodes + k % nodes;
    return matrix + page * GM_PAGE_DOUBLES + (r % l->rows_per_page) * l->block;
}

/* ------------------------------------------------------------------------
 * The entries and their closed form
 * ------------------------------------------------------------------------ */

/* A coefficient from -3 to 3 for row or column x; the salts give each of
 * the four coefficients its own, unrelated sequence. */
static int64_t gm_coef(uint64_t x, uint64_t salt)
{
    uint64_t z = (x * 4 + salt) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z ^= z >> 31;
    return (int64_t)(z % 7) - 3;
}

static double gm_a(uint64_t i, uint64_t k)
{
    return (double)(gm_coef(i, 1) + gm_coef(i, 2) * (int64_t)k);
}

static double gm_b(uint64_t k, uint64_t j)
{
    return (double)(gm_coef(j, 3) + gm_coef(j, 4) * (int64_t)k);
}

static double gm_c(uint64_t i, uint64_t j, uint64_t size)
{
    int64_t n = (int64_t)size, s1 = n * (n - 1) / 2, s2 = (n - 1) * n * (2 * n - 1) / 6;
    int64_t a0 = gm_coef(i, 1), a1 = gm_coef(i, 2), b0 = gm_coef(j, 3), b1 = gm_coef(j, 4);
    return (double)(a0 * b0 * n + (a0 * b1 + a1 * b0) * s1 + a1 * b1 * s2);
}

/* ------------------------------------------------------------------------
 * The phases
 * ------------------------------------------------------------------------ */

/* Fills the blocks of A and B this node owns (its own pages). */
static void gm_init(const gm_layout_t *l, double *a, double *b)
{
    int me = ari_node_id();
    for (uint64_t bi = 0; bi < l->grid; bi++) {
        for (uint64_t bj = 0; bj < l->grid; bj++) {
            if (gm_owner(l, bi, bj) != me)
                continue;
            for (uint64_t r = 0; r < l->block; r++) {
                double *arow = gm_row(l, a, bi, bj, r), *brow = gm_row(l, b, bi, bj, r);
                uint64_t i = bi * l->block + r;
                for (uint64_t c = 0; c < l->block; c++) {
                    uint64_t j = bj * l->block + c;
                    arow[c] = gm_a(i, j);
                    brow[c] = gm_b(i, j);
                }
            }
        }
    }
}

/* acc += A(bi, bk) x B(bk, bj), acc being a private block. */
static void gm_block_product(const gm_layout_t *l, double *a, double *b, uint64_t bi,
                             uint64_t bk, uint64_t bj, double *acc, const double **rows)
{
    uint64_t n = l->block;
    for (uint64_t k = 0; k < n; k++)
        rows[k] = gm_row(l, b, bk, bj, k);
    for (uint64_t i = 0; i < n; i++) {
        const double *arow = gm_row(l, a, bi, bk, i);
        double *crow = acc + i * n;
        for (uint64_t k = 0; k < n; k++) {
            double x = arow[k];
            const double *brow = rows[k];
            for (uint64_t j = 0; j < n; j++)
                crow[j] += x * brow[j];
        }
    }
}

/* Computes the blocks of C this node owns; returns how many. */
static uint64_t gm_multiply(const gm_layout_t *l, double *a, double *b, double *c, double *acc,
                            const double **rows)
{
    int me = ari_node_id();
    uint64_t done = 0;
    for (uint64_t bi = 0; bi < l->grid; bi++) {
        for (uint64_t bj = 0; bj < l->grid; bj++) {
            if (gm_owner(l, bi, bj) != me)
                continue;
            memset(acc, 0, l->block * l->block * sizeof *acc);
            for (uint64_t bk = 0; bk < l->grid; bk++)
                gm_block_product(l, a, b, bi, bk, bj, acc, rows);
            for (uint64_t r = 0; r < l->block; r++)
                memcpy(gm_row(l, c, bi, bj, r), acc + r * l->block, l->block * sizeof *acc);
            done++;
        }
    }
    return done;
}

/* Every entry of C, against its closed form. */
static int gm_verify(const gm_layout_t *l, double *c)
{
    for (uint64_t bi = 0; bi < l->grid; bi++) {
        for (uint64_t bj = 0; bj < l->grid; bj++) {
            for (uint64_t r = 0; r < l->block; r++) {
                const double *crow = gm_row(l, c, bi, bj, r);
                uint64_t i = bi * l->block + r;
                for (uint64_t col = 0; col < l->block; col++) {
                    uint64_t j = bj * l->block + col;
                    double want = gm_c(i, j, l->size);
                    if (crow[col] != want) {
                        fprintf(stderr, "gemm: node %d: C[%llu][%llu] is %.17g, want %.17g "
                                "(block (%llu, %llu), computed by node %d)\n", ari_node_id(),
                                (unsigned long long)i, (unsigned long long)j, crow[col], want,
                                (unsigned long long)bi, (unsigned long long)bj,
                                gm_owner(l, bi, bj));
                        return 0;
                    }
                }
            }
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Arguments and the run
 * ------------------------------------------------------------------------ */

static void gm_usage(void)
{
    fprintf(stderr, "usage: ariadne run -n N gemm [--size N] [--block B]\n");
}

static int gm_args(int argc, char **argv, uint64_t *size, uint64_t *block)
{
    for (int i = 1; i < argc; i++) {
        uint64_t *target = strcmp(argv[i], "--size") == 0    ? size
                           : strcmp(argv[i], "--block") == 0 ? block
                                                             : NULL;
        char *end = NULL;
        if (target == NULL || i + 1 >= argc || argv[i + 1][0] < '0' || argv[i + 1][0] > '9' ||
            (*target = strtoull(argv[i + 1], &end, 10), *end != '\0')) {
            gm_usage();
            return 0;
        }
        i++;
    }
    if (*block < GM_BLOCK_MIN || *block > GM_BLOCK_MAX || (*block & (*block - 1)) != 0 ||
        *size == 0 || *size > GM_SIZE_MAX || *size % *block != 0) {
        gm_usage();
        fprintf(stderr, "gemm: --block is a power of two from %u to %zu, --size a multiple of "
                "it up to %u\n", GM_BLOCK_MIN, (size_t)GM_BLOCK_MAX, GM_SIZE_MAX);
        return 0;
    }
    return 1;
}

typedef struct {
    double init, multiply, check; /* seconds, barrier to barrier */
    uint64_t blocks;              /* blocks of C this node computed */
    ari_stats_t stats;            /* this node's counters over the multiply */
} gm_report_t;

static int gm_run(const gm_layout_t *l, double *a, double *b, double *c, gm_report_t *r)
{
    double *acc = malloc(l->block * l->block * sizeof *acc);
    const double **rows = malloc(l->block * sizeof *rows);
    if (acc == NULL || rows == NULL)
        return gm_fail("malloc", ARI_ENOMEM);
    int status;
    ari_stats_t before;
    double start = gm_now();
    gm_init(l, a, b);
    if ((status = ari_barrier()) != ARI_OK || (status = ari_stats(&before)) != ARI_OK)
        return gm_fail("ari_barrier after the init", status);
    double initialised = gm_now();
    r->blocks = gm_multiply(l, a, b, c, acc, rows);
    if ((status = ari_barrier()) != ARI_OK || (status = ari_stats(&r->stats)) != ARI_OK)
        return gm_fail("ari_barrier after the multiply", status);
    double multiplied = gm_now();
    free(acc);
    free(rows);
    r->stats.read_faults -= before.read_faults;
    r->stats.diffs -= before.diffs;
    r->stats.messages_out -= before.messages_out;
    if (!gm_verify(l, c))
        return 1;
    if ((status = ari_barrier()) != ARI_OK)
        return gm_fail("ari_barrier", status);
    r->init = initialised - start;
    r->multiply = multiplied - initialised;
    r->check = gm_now() - multiplied;
    return 0;
}

int main(int argc, char **argv)
{
    int status = ari_init(&argc, &argv);
    if (status != ARI_OK)
        return gm_fail("ari_init", status);
    uint64_t size = 256, block = 64;
    if (!gm_args(argc, argv, &size, &block))
        return 2;
    int me = ari_node_id(), nodes = ari_node_count();
    gm_layout_t l = gm_layout(size, block, nodes);
    double *a = ari_alloc_all(gm_bytes(&l), ARI_SPREAD);
    double *b = ari_alloc_all(gm_bytes(&l), ARI_SPREAD);
    double *c = ari_alloc_all(gm_bytes(&l), ARI_SPREAD);
    if (a == NULL || b == NULL || c == NULL)
        return gm_fail("ari_alloc_all", ari_errno());
    gm_report_t r;
    memset(&r, 0, sizeof r);
    if ((status = gm_run(&l, a, b, c, &r)) != 0)
        return status;
    double flops = 2.0 * (double)size * (double)size * (double)size;
    printf("gemm: node %d: verified n=%llu block=%llu, %llu of %llu blocks of C computed here",
           me, (unsigned long long)size, (unsigned long long)block,
           (unsigned long long)r.blocks, (unsigned long long)(l.grid * l.grid));
    if (me == 0)
        printf("; multiply %.3f s, %.2f GFLOP/s on %d nodes; init %.3f s, check %.3f s; "
               "node 0: %llu read faults, %llu diffs, %llu messages", r.multiply,
               r.multiply > 0 ? flops / r.multiply * 1e-9 : 0.0, nodes, r.init, r.check,
               (unsigned long long)r.stats.read_faults, (unsigned long long)r.stats.diffs,
               (unsigned long long)r.stats.messages_out);
    printf("\n");
    if ((status = ari_finalize()) != ARI_OK)
        return gm_fail("ari_finalize", status);
    return 0;
}
