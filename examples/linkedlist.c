/*
 * linkedlist — a singly linked list in global memory, built and extended
 * with plain stores and ordinary pointers; checks its own result.
 *
 *   ariadne run -n 4 build/examples/linkedlist [--cells N] [--appends K]
 *
 * The heap is symmetric, so a pointer stored in a cell means the same
 * global byte on every node and `cell->next` is followed like any pointer.
 * Cells come from one pool (ari_alloc_all with ARI_SPREAD: page i is owned
 * by node i mod N). Each node takes its cells only from the pages it owns
 * (pages n, n + N, n + 2N, ... of the pool), so no two nodes ever allocate
 * the same cell and a node fills its own cells without a diff.
 *
 * Build: node 0 links --cells cells holding 1 .. N. A barrier publishes
 * them, and every node walks the list and checks its length, its sum and
 * its order. Append: every node appends --appends cells, one at a time,
 * each under one mutex that guards the list's head, tail and length (the
 * holder stores into the old tail's `next`, which may lie in any node's
 * page: false sharing, carried as a diff at the unlock). Check: after a
 * barrier every node walks again: N + nodes x K cells, the first N as
 * built, and each node's cells present exactly once and in the order that
 * node appended them. Node 0 prints the timing.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ariadne.h>

#define LL_PAGE 4096u
#define LL_CELLS_MAX 1000000u   /* per --cells and per --appends */
#define LL_BUILDER UINT32_MAX   /* a cell's `node` when node 0 built it */

typedef struct ll_cell {
    struct ll_cell *next;  /* NULL at the tail */
    uint64_t value;        /* what the sum adds up */
    uint32_t node;         /* the node that appended it, or LL_BUILDER */
    uint32_t seq;          /* its place among that node's cells, from 0 */
    uint64_t pad;
} ll_cell_t;

#define LL_CELLS_PER_PAGE (LL_PAGE / sizeof(ll_cell_t))
_Static_assert(LL_PAGE % sizeof(ll_cell_t) == 0, "cells do not straddle pages");

/* The list's anchor, in a page of its own (node 0 owns it); the mutex that
 * guards it is in another page, as a hot mutex should be. */
typedef struct {
    ll_cell_t *head, *tail;
    uint64_t length;
} ll_list_t;

typedef struct {
    ll_cell_t *pool;
    uint64_t pages_per_node; /* pool pages each node owns */
    int nodes;
} ll_pool_t;

static int ll_fail(const char *what, int status)
{
    fprintf(stderr, "linkedlist: node %d: %s: %s\n", ari_node_id(), what, ari_strerror(status));
    return 1;
}

static double ll_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The value of node `node`'s cell number `seq`: distinct from every
 * other cell's, so the sum notices a cell counted twice or lost. */
static uint64_t ll_value(uint32_t node, uint32_t seq)
{
    return node == LL_BUILDER ? (uint64_t)seq + 1 : ((uint64_t)node + 1) << 32 | seq;
}

/* Node `node`'s cell number `index` in the pool: in the pages it owns. */
static ll_cell_t *ll_cell(const ll_pool_t *p, int node, uint64_t index)
{
    uint64_t page = (index / LL_CELLS_PER_PAGE) * (uint64_t)p->nodes + (uint64_t)node;
    return &p->pool[page * LL_CELLS_PER_PAGE + index % LL_CELLS_PER_PAGE];
}

/* Whether `cell` points at a cell of the pool (a torn or stale pointer
 * would otherwise be followed into any memory). */
static int ll_in_pool(const ll_pool_t *p, const ll_cell_t *cell)
{
    uintptr_t start = (uintptr_t)p->pool, at = (uintptr_t)cell;
    uintptr_t bytes = (uintptr_t)(p->pages_per_node * (uint64_t)p->nodes * LL_PAGE);
    return at >= start && at - start < bytes && (at - start) % sizeof(ll_cell_t) == 0;
}

static void ll_usage(void)
{
    fprintf(stderr, "usage: ariadne run -n N linkedlist [--cells N] [--appends K]\n");
}

static int ll_args(int argc, char **argv, uint64_t *cells, uint64_t *appends)
{
    for (int i = 1; i < argc; i++) {
        uint64_t *target = strcmp(argv[i], "--cells") == 0     ? cells
                           : strcmp(argv[i], "--appends") == 0 ? appends
                                                               : NULL;
        char *end = NULL;
        if (target == NULL || i + 1 >= argc || argv[i + 1][0] < '0' || argv[i + 1][0] > '9' ||
            (*target = strtoull(argv[i + 1], &end, 10), *end != '\0')) {
            ll_usage();
            return 0;
        }
        i++;
    }
    if (*cells > LL_CELLS_MAX || *appends > LL_CELLS_MAX) {
        ll_usage();
        fprintf(stderr, "linkedlist: --cells and --appends are 0 .. %u\n", LL_CELLS_MAX);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Building, appending
 * ------------------------------------------------------------------------ */

/* Node 0 alone, before any other node looks: plain stores, no lock. */
static void ll_build(const ll_pool_t *p, ll_list_t *list, uint64_t cells)
{
    ll_cell_t *previous = NULL;
    for (uint64_t i = 0; i < cells; i++) {
        ll_cell_t *cell = ll_cell(p, 0, i);
        cell->value = ll_value(LL_BUILDER, (uint32_t)i);
        cell->node = LL_BUILDER;
        cell->seq = (uint32_t)i;
        cell->next = NULL;
        if (previous == NULL)
            list->head = cell;
        else
            previous->next = cell;
        previous = cell;
    }
    list->tail = previous;
    list->length = cells;
}

/* Appends this node's cell `cell`, already filled, under the mutex. What
 * the holder sees must be what the last holder left: the tail is the end
 * of the list, and the length counts at least this node's earlier cells. */
static int ll_append(ari_mutex_t *lock, ll_list_t *list, const ll_pool_t *p, ll_cell_t *cell,
                     uint64_t length_min)
{
    int status = ari_mutex_lock(lock);
    if (status != ARI_OK)
        return status;
    ll_cell_t *tail = list->tail;
    if ((tail == NULL) != (list->head == NULL) || (tail != NULL && !ll_in_pool(p, tail)) ||
        (tail != NULL && tail->next != NULL) || list->length < length_min) {
        fprintf(stderr, "linkedlist: node %d: under the mutex the list is not as the last "
                "holder left it: tail %p, its next %p, length %llu (at least %llu)\n",
                ari_node_id(), (void *)tail, tail != NULL && ll_in_pool(p, tail)
                ? (void *)tail->next : NULL, (unsigned long long)list->length,
                (unsigned long long)length_min);
        ari_mutex_unlock(lock);
        return ARI_EINVAL;
    }
    if (tail == NULL)
        list->head = cell;
    else
        tail->next = cell; /* a plain store into whoever's page holds the tail */
    list->tail = cell;
    list->length++;
    return ari_mutex_unlock(lock);
}

static int ll_append_all(ari_mutex_t *lock, ll_list_t *list, const ll_pool_t *p, uint64_t cells,
                         uint64_t appends)
{
    int me = ari_node_id();
    uint64_t first = me == 0 ? cells : 0; /* node 0's first cells hold the built list */
    for (uint64_t k = 0; k < appends; k++) {
        ll_cell_t *cell = ll_cell(p, me, first + k);
        cell->value = ll_value((uint32_t)me, (uint32_t)k);
        cell->node = (uint32_t)me;
        cell->seq = (uint32_t)k;
        cell->next = NULL;
        int status = ll_append(lock, list, p, cell, cells + k);
        if (status != ARI_OK)
            return status;
    }
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Walking and checking
 * ------------------------------------------------------------------------ */

/* Walks the list from its head and checks it: length, sum, the built cells
 * first and in order, then every node's `appends` cells once each and in
 * its order. Returns 1 if right; otherwise says what is wrong. */
static int ll_verify(const ll_pool_t *p, const ll_list_t *list, uint64_t cells, uint64_t appends,
                     const char *when)
{
    int nodes = p->nodes;
    uint64_t want_length = cells + (uint64_t)nodes * appends;
    uint64_t want_sum = cells * (cells + 1) / 2, sum = 0, length = 0;
    for (int n = 0; n < nodes; n++)
        for (uint64_t k = 0; k < appends; k++)
            want_sum += ll_value((uint32_t)n, (uint32_t)k);
    uint32_t *next_seq = calloc((size_t)nodes, sizeof *next_seq);
    if (next_seq == NULL)
        return fprintf(stderr, "linkedlist: out of memory\n"), 0;
    const ll_cell_t *last = NULL;
    const char *wrong = NULL;
    for (const ll_cell_t *c = list->head; c != NULL && wrong == NULL; c = c->next) {
        if (!ll_in_pool(p, c))
            wrong = "a next pointer leads out of the pool";
        else if (length >= want_length)
            wrong = "the list is longer than it should be (or has a cycle)";
        else if (length < cells && (c->node != LL_BUILDER || c->seq != length))
            wrong = "a built cell is missing or out of order";
        else if (length >= cells && (c->node >= (uint32_t)nodes || c->seq != next_seq[c->node]))
            wrong = "an appended cell is missing, repeated or out of its node's order";
        else if (c->value != ll_value(c->node, c->seq))
            wrong = "a cell holds the wrong value";
        if (wrong == NULL) {
            if (length >= cells)
                next_seq[c->node]++;
            sum += c->value;
            length++;
            last = c;
        }
    }
    free(next_seq);
    if (wrong == NULL && (length != want_length || sum != want_sum))
        wrong = "the length or the sum is wrong";
    if (wrong == NULL && (list->length != length || list->tail != last))
        wrong = "the list's length or tail disagrees with its cells";
    if (wrong != NULL)
        fprintf(stderr, "linkedlist: node %d: %s: %s, at cell %llu of the walk (sum so far "
                "%llu; want %llu cells, sum %llu; the list says %llu cells)\n", ari_node_id(),
                when, wrong, (unsigned long long)length, (unsigned long long)sum,
                (unsigned long long)want_length, (unsigned long long)want_sum,
                (unsigned long long)list->length);
    return wrong == NULL;
}

/* ------------------------------------------------------------------------
 * The run
 * ------------------------------------------------------------------------ */

typedef struct {
    double build, walk, append, check; /* seconds of each phase, barrier to barrier */
} ll_times_t;

static int ll_run(const ll_pool_t *p, ari_mutex_t *lock, ll_list_t *list, uint64_t cells,
                  uint64_t appends, ll_times_t *t)
{
    int status;
    double start = ll_now();
    if (ari_node_id() == 0)
        ll_build(p, list, cells);
    if ((status = ari_barrier()) != ARI_OK)
        return ll_fail("ari_barrier", status);
    double built = ll_now();
    if (!ll_verify(p, list, cells, 0, "after the build"))
        return 1;
    if ((status = ari_barrier()) != ARI_OK)
        return ll_fail("ari_barrier", status);
    double walked = ll_now();
    if ((status = ll_append_all(lock, list, p, cells, appends)) != ARI_OK)
        return ll_fail("append", status);
    if ((status = ari_barrier()) != ARI_OK)
        return ll_fail("ari_barrier", status);
    double appended = ll_now();
    if (!ll_verify(p, list, cells, appends, "after the appends"))
        return 1;
    if ((status = ari_barrier()) != ARI_OK)
        return ll_fail("ari_barrier", status);
    *t = (ll_times_t){built - start, walked - built, appended - walked, ll_now() - appended};
    return 0;
}

int main(int argc, char **argv)
{
    int status = ari_init(&argc, &argv);
    if (status != ARI_OK)
        return ll_fail("ari_init", status);
    uint64_t cells = 1000, appends = 200;
    if (!ll_args(argc, argv, &cells, &appends))
        return 2;
    int me = ari_node_id(), nodes = ari_node_count();
    ll_pool_t p = {NULL, (cells + appends + LL_CELLS_PER_PAGE - 1) / LL_CELLS_PER_PAGE, nodes};
    if (p.pages_per_node == 0)
        p.pages_per_node = 1;
    p.pool = ari_alloc_all(p.pages_per_node * (uint64_t)nodes * LL_PAGE, ARI_SPREAD);
    ari_mutex_t *lock = ari_alloc_all(LL_PAGE, ARI_PATHCACHE);
    ll_list_t *list = ari_alloc_all(LL_PAGE, ARI_PATHCACHE);
    if (p.pool == NULL || lock == NULL || list == NULL)
        return ll_fail("ari_alloc_all", ari_errno());
    ll_times_t t = {0, 0, 0, 0};
    if ((status = ll_run(&p, lock, list, cells, appends, &t)) != 0)
        return status;
    uint64_t total = cells + (uint64_t)nodes * appends;
    printf("linkedlist: node %d: verified %llu cells (%llu built + %d nodes x %llu appended), "
           "sum and order", me, (unsigned long long)total, (unsigned long long)cells, nodes,
           (unsigned long long)appends);
    if (me == 0)
        printf("; build %.3f s, walk %.3f s, appends %.3f s (%.0f/s under one mutex), "
               "check %.3f s", t.build, t.walk, t.append,
               t.append > 0 ? (double)nodes * (double)appends / t.append : 0.0, t.check);
    printf("\n");
    if ((status = ari_finalize()) != ARI_OK)
        return ll_fail("ari_finalize", status);
    return 0;
}
