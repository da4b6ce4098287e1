/*
 * rt_check — the runtime's integration checks, one program with a
 * subcommand per property, run by tests/test_runtime.c as a user runs a
 * program:
 *
 *   ariadne run -n N [--topo SPEC] build/rt/rt_check CASE [ARGS]
 *   build/rt/rt_check single            (no launcher: a run of one node)
 *
 * Each case prints one line per node saying what it verified and exits 0
 * only when every check passed (rt.h: a failed check prints file:line and
 * exits 1). Cases that are about a process stopping (plainstore, badload,
 * killed) end that way on purpose; the test checks how. gvazero shows a
 * known bug: node 0's first allocation has the global address {0, 0},
 * which ari_gva_of documents as its failure value.
 */
#include "rt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS_PER_PAGE (PAGE / sizeof(uint64_t))

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* Every node's pointer `mine`, exchanged through a collective table written
 * with ari_store and read back fresh with ari_get. Returns a private array
 * of ari_node_count() pointers (malloc'd). Collective. */
static void **rt_publish(void *mine)
{
    int nodes = ari_node_count();
    void **table = ari_alloc_all((size_t)nodes * sizeof(void *), ARI_PATHCACHE);
    CHECK(table != NULL);
    CHECK_OK(ari_store(&table[ari_node_id()], &mine, sizeof mine));
    CHECK_OK(ari_barrier());
    void **all = malloc((size_t)nodes * sizeof(void *));
    CHECK(all != NULL);
    CHECK_OK(ari_get(all, table, (size_t)nodes * sizeof(void *)));
    CHECK_OK(ari_barrier()); /* nobody frees the table while another reads it */
    CHECK_OK(ari_free(table));
    return all;
}

/* The value of word i of the cold case's pattern: never zero, never
 * repeating in a way a misplaced page could hide. */
static uint64_t rt_pattern(uint64_t i)
{
    uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull;
    return z ^ (z >> 29);
}

/* ------------------------------------------------------------------------
 * counter ROUNDS: fetch-add and CAS from every node on one word
 * ------------------------------------------------------------------------ */

static int case_counter(int argc, char **argv)
{
    uint64_t rounds = rt_arg_u64(argc, argv, 2, 200, 1, 10000000);
    int me = ari_node_id(), nodes = ari_node_count();
    uint64_t *words = ari_alloc_all(2 * sizeof(uint64_t), ARI_PATHCACHE);
    CHECK(words != NULL);
    for (uint64_t i = 0; i < rounds; i++) {
        uint64_t old;
        CHECK_OK(ari_fetch_add_u64(&words[0], 1, &old));
        CHECK(old < rounds * (uint64_t)nodes);
        /* A replica may be behind: the CAS says so, and we retry with
         * what the owner holds. */
        uint64_t seen = ((volatile uint64_t *)words)[1];
        for (;;) {
            CHECK_OK(ari_cas_u64(&words[1], seen, seen + 1, &old));
            if (old == seen)
                break;
            seen = old;
        }
    }
    CHECK_OK(ari_barrier());
    uint64_t want = rounds * (uint64_t)nodes, got[2];
    CHECK_OK(ari_get(got, words, sizeof got));
    CHECK_U64(got[0], ==, want);
    CHECK_U64(got[1], ==, want);
    /* The replica catches up on its own: updates are asynchronous. */
    uint64_t seen;
    if (!rt_wait_u64(&words[0], want, 5.0, &seen) || !rt_wait_u64(&words[1], want, 5.0, &seen))
        RT_FAIL("the replica shows %llu after 5 s, the owner %llu", (unsigned long long)seen,
                (unsigned long long)want);
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(words));
    printf("counter: node %d of %d: fetch-add and cas totals %llu exact (ari_get and replica)\n",
           me, nodes, (unsigned long long)want);
    return 0;
}

/* ------------------------------------------------------------------------
 * ryw: read-your-writes with plain loads on pages another node owns
 * ------------------------------------------------------------------------ */

static int case_ryw(int argc, char **argv)
{
    uint64_t values = rt_arg_u64(argc, argv, 2, 300, 1, 1000000);
    int me = ari_node_id(), nodes = ari_node_count();
    /* Page i is owned by node i mod N: node `me` writes page me + 1 (owned
     * by the next node) and the first bytes of page me + 2, which no other
     * node writes. */
    uint8_t *base = ari_alloc_all((size_t)(nodes + 2) * PAGE, ARI_SPREAD);
    CHECK(base != NULL);
    uint8_t *page = base + (size_t)(me + 1) * PAGE;
    volatile uint64_t *words = (volatile uint64_t *)(void *)page;
    ari_location_t where;
    CHECK_OK(ari_where(page, &where));
    CHECK_U64(where.owner, ==, (uint64_t)((me + 1) % nodes));
    /* Once before any store, so the stores below meet a replica. */
    CHECK_U64(words[128], ==, 0);
    for (uint64_t i = 1; i <= values; i++) {
        uint64_t value = (uint64_t)me << 48 | i;
        size_t word = 128 + (size_t)(i % 256);
        CHECK_OK(ari_store(page + word * 8, &value, sizeof value));
        if (words[word] != value)
            RT_FAIL("plain load after ari_store %llu: word %zu holds %#llx, want %#llx",
                    (unsigned long long)i, word, (unsigned long long)words[word],
                    (unsigned long long)value);
    }
    /* Stores spanning the boundary between two pages of different owners. */
    uint8_t bytes[200], back[200];
    for (int round = 0; round < 20; round++) {
        size_t length = round % 2 == 0 ? 16 : sizeof bytes;
        for (size_t i = 0; i < length; i++)
            bytes[i] = (uint8_t)(me * 31 + round * 7 + (int)i + 1);
        uint8_t *at = page + PAGE - length / 2;
        CHECK_OK(ari_store(at, bytes, length));
        for (size_t i = 0; i < length; i++)
            back[i] = ((volatile uint8_t *)at)[i];
        if (memcmp(back, bytes, length) != 0)
            RT_FAIL("a %zu-byte store across a page boundary (round %d) does not read back",
                    length, round);
    }
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(base));
    printf("ryw: node %d: %llu stores to node %d's page and 20 across a page boundary read "
           "back with plain loads\n", me, (unsigned long long)values, (me + 1) % nodes);
    return 0;
}

/* ------------------------------------------------------------------------
 * converge: replicas reach the owner's final values
 * ------------------------------------------------------------------------ */

static int case_converge(int argc, char **argv)
{
    uint64_t writes = rt_arg_u64(argc, argv, 2, 2000, 1, 10000000);
    int me = ari_node_id();
    enum { SPOTS = 64 };
    volatile uint64_t *words = ari_alloc_all(PAGE, ARI_PATHCACHE); /* owned by node 0 */
    CHECK(words != NULL);
    uint64_t sum = 0;
    for (size_t i = 0; i < SPOTS; i++) /* every node holds a replica before the writes */
        sum += words[i * 8];
    CHECK_U64(sum, ==, 0);
    CHECK_OK(ari_barrier());
    if (me == 0) {
        for (uint64_t n = 1; n <= writes; n++) {
            uint64_t value = n;
            CHECK_OK(ari_store((void *)&words[(n % SPOTS) * 8], &value, sizeof value));
        }
    }
    CHECK_OK(ari_barrier());
    /* The last write to spot s was the largest n <= writes with n % SPOTS == s. */
    double start = rt_now_s();
    for (uint64_t s = 0; s < SPOTS; s++) {
        uint64_t back = (writes % SPOTS + SPOTS - s) % SPOTS;
        uint64_t want = back < writes ? writes - back : 0;
        uint64_t seen;
        double left = 10.0 - (rt_now_s() - start);
        if (!rt_wait_u64(&words[s * 8], want, left > 0 ? left : 0, &seen))
            RT_FAIL("spot %llu holds %llu 10 s after the writes ended, want %llu",
                    (unsigned long long)s, (unsigned long long)seen, (unsigned long long)want);
    }
    double waited_ms = (rt_now_s() - start) * 1e3;
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free((void *)words));
    printf("converge: node %d: replica equals the owner's %d final values after %.1f ms\n", me,
           SPOTS, waited_ms);
    return 0;
}

/* ------------------------------------------------------------------------
 * order: a reader never sees a counter go backwards
 * ------------------------------------------------------------------------ */

static int case_order(int argc, char **argv)
{
    uint64_t count = rt_arg_u64(argc, argv, 2, 3000, 1, 100000000);
    int me = ari_node_id(), nodes = ari_node_count();
    int writer = nodes - 1; /* with 2 or more nodes not the owner (node 0) */
    volatile uint64_t *word = ari_alloc_all(PAGE, ARI_PATHCACHE);
    CHECK(word != NULL);
    CHECK_U64(*word, ==, 0); /* readers hold a replica before the first write */
    CHECK_OK(ari_barrier());
    if (me == writer) {
        for (uint64_t n = 1; n <= count; n++)
            CHECK_OK(ari_store((void *)word, &n, sizeof n));
        CHECK_U64(*word, ==, count);
    } else {
        double deadline = rt_now_s() + 10.0;
        uint64_t last = 0, changes = 0, polls = 0;
        while (last != count) {
            uint64_t seen = *word;
            if (seen < last || seen > count)
                RT_FAIL("the counter went from %llu to %llu", (unsigned long long)last,
                        (unsigned long long)seen);
            changes += seen != last;
            last = seen;
            if ((++polls & 1023) == 0) {
                if (rt_now_s() > deadline)
                    RT_FAIL("the counter is at %llu of %llu after 10 s",
                            (unsigned long long)last, (unsigned long long)count);
                sched_yield();
            }
        }
        printf("order: node %d: %llu polls saw %llu increasing values up to %llu\n", me,
               (unsigned long long)polls, (unsigned long long)changes,
               (unsigned long long)count);
    }
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free((void *)word));
    if (me == writer)
        printf("order: node %d: wrote 1..%llu with ari_store\n", me, (unsigned long long)count);
    return 0;
}

/* ------------------------------------------------------------------------
 * where: owners, hops, distances and states on a ring
 * ------------------------------------------------------------------------ */

static int rt_ring_distance(int a, int b, int nodes)
{
    int d = a > b ? a - b : b - a;
    return d < nodes - d ? d : nodes - d;
}

static void rt_where_check(const void *ptr, int owner, int want_state)
{
    int me = ari_node_id(), hops = rt_ring_distance(me, owner, ari_node_count());
    int distance = hops == 0 ? ARI_LOCAL : hops == 1 ? ARI_NEIGHBOR : ARI_REMOTE;
    ari_location_t l;
    CHECK_OK(ari_where(ptr, &l));
    if ((int)l.owner != owner || l.hops != hops || l.distance != distance ||
        l.tier != ARI_MEM || l.state != want_state)
        RT_FAIL("ari_where(node %d's page): owner %u hops %d distance %d tier %d state %d; "
                "want owner %d hops %d distance %d tier %d state %d",
                owner, l.owner, l.hops, l.distance, l.tier, l.state, owner, hops, distance,
                ARI_MEM, want_state);
}

static int case_where(void)
{
    int me = ari_node_id(), nodes = ari_node_count();
    uint64_t *mine = ari_alloc(PAGE, ARI_PATHCACHE);
    CHECK(mine != NULL);
    uint64_t stamp = 1000 + (uint64_t)me;
    CHECK_OK(ari_store(mine, &stamp, sizeof stamp));
    void **pages = rt_publish(mine);
    CHECK(pages[me] == mine);
    for (int n = 0; n < nodes; n++)
        rt_where_check(pages[n], n, n == me ? ARI_STATE_MASTER : ARI_STATE_UNMAPPED);
    /* Nobody touches a page before every node has seen it untouched:
     * a relay on the way holds no copy this node could mistake. */
    CHECK_OK(ari_barrier());
    for (int n = 0; n < nodes; n++) {
        const volatile uint64_t *word = pages[n];
        if (n % 2 == 0)
            CHECK_OK(ari_prefault(pages[n], PAGE));
        if (*word != 1000 + (uint64_t)n)
            RT_FAIL("node %d's page holds %llu", n, (unsigned long long)*word);
        rt_where_check(pages[n], n, n == me ? ARI_STATE_MASTER : ARI_STATE_VALID);
    }
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(mine));
    free(pages);
    printf("where: node %d of %d: owners, ring hops, distances and states right for every "
           "node's page\n", me, nodes);
    return 0;
}

/* ------------------------------------------------------------------------
 * errors: bad arguments and addresses get the documented codes
 * ------------------------------------------------------------------------ */

static void rt_errors_before_init(void)
{
    CHECK(ari_node_count() == 1 && ari_node_id() == 0);
    CHECK_NULL(ari_alloc(PAGE, 0), ARI_EINIT);
    CHECK_ERR(ari_barrier(), ARI_EINIT);
    CHECK_ERR(ari_finalize(), ARI_EINIT);
}

static void rt_errors_alloc(void)
{
    CHECK_NULL(ari_alloc(0, 0), ARI_EINVAL);
    CHECK_NULL(ari_alloc(PAGE, 0x80), ARI_EINVAL);
    CHECK_NULL(ari_alloc(PAGE, ARI_SPREAD), ARI_EINVAL);
    CHECK_NULL(ari_alloc(PAGE, ARI_OWNERSHIP | ARI_HUGE), ARI_EINVAL);
    CHECK_NULL(ari_alloc(PAGE, ARI_HUGE), ARI_ENOTSUP); /* no huge pages reserved here */
    CHECK_NULL(ari_alloc_all(PAGE, 0x80), ARI_EINVAL);  /* collective, fails alike everywhere */
    CHECK_NULL(ari_alloc_all(0, 0), ARI_EINVAL);
    /* An allocation the heap has no room for leaves the others whole: its
     * undo once freed and punched a stale range (this node's pages). */
    uint64_t *kept = ari_alloc(PAGE, 0);
    CHECK(kept != NULL);
    kept[0] = 4242;
    CHECK_NULL(ari_alloc((size_t)1 << 60, 0), ARI_ENOMEM);
    CHECK_U64(kept[0], ==, 4242);
    uint64_t *next = ari_alloc(PAGE, 0);
    CHECK(next != NULL && next != kept);
    CHECK_OK(ari_free(next));
    CHECK_OK(ari_free(kept));
}

static void rt_errors_addresses(uint64_t *own, uint64_t *shared, void *other)
{
    uint64_t local[4] = {0};
    CHECK_ERR(ari_free(local), ARI_EFAULT);
    CHECK_ERR(ari_free((uint8_t *)own + PAGE), ARI_EFAULT); /* middle of an allocation */
    CHECK_ERR(ari_free(own + 1), ARI_EFAULT);
    if (other != NULL)
        CHECK_ERR(ari_free(other), ARI_EPERM);
    CHECK_ERR(ari_store(local, &local[1], 8), ARI_EFAULT);
    CHECK_ERR(ari_store(own, NULL, 8), ARI_EINVAL);
    CHECK_ERR(ari_store(own, local, 0), ARI_EINVAL);
    CHECK_ERR(ari_fetch_add_u64((uint64_t *)(void *)((uint8_t *)shared + 4), 1, NULL),
              ARI_EINVAL);
    CHECK_ERR(ari_cas_u64((uint64_t *)(void *)((uint8_t *)shared + 1), 0, 1, NULL), ARI_EINVAL);
    CHECK_ERR(ari_fetch_add_u64(local, 1, NULL), ARI_EFAULT);
    CHECK_ERR(ari_get(own, shared, 8), ARI_EINVAL); /* into global memory */
    CHECK_ERR(ari_get(local, local + 1, 8), ARI_EFAULT);
    ari_location_t l;
    CHECK_ERR(ari_where(local, &l), ARI_EFAULT);
    CHECK_ERR(ari_where(NULL, &l), ARI_EFAULT);
    CHECK_ERR(ari_where((const void *)(uintptr_t)4096, &l), ARI_EFAULT);
    CHECK_ERR(ari_where(own, NULL), ARI_EINVAL);
    CHECK_ERR(ari_prefault(local, sizeof local), ARI_EFAULT);
    CHECK_ERR(ari_unmap(local, sizeof local), ARI_EFAULT);
    ari_gva_t none = ari_gva_of(local);
    CHECK(none.hi == 0 && none.lo == 0 && ari_errno() == ARI_EFAULT);
    none = ari_gva_of(NULL);
    CHECK(none.hi == 0 && none.lo == 0 && ari_errno() == ARI_EFAULT);
    /* Addresses that name no heap byte: past the heap, a replica's ref
     * index, a slot's page said to be born elsewhere. */
    CHECK_NULL(ari_map((ari_gva_t){0, UINT64_MAX - PAGE}, 8), ARI_EFAULT);
    CHECK_NULL(ari_map((ari_gva_t){(uint64_t)1 << 32, 0}, 8), ARI_EFAULT);
    ari_gva_t own_gva = ari_gva_of(own);
    CHECK_NULL(ari_map((ari_gva_t){own_gva.hi + 1, own_gva.lo}, 8), ARI_EFAULT);
}

/* ari_gva_of and ari_map are inverses on allocated memory, anywhere in it. */
static void rt_errors_roundtrip(const void *ptr, size_t bytes)
{
    for (size_t at = 0; at < bytes; at += bytes / 4 + 24) {
        const uint8_t *p = (const uint8_t *)ptr + at;
        ari_gva_t gva = ari_gva_of(p);
        char text[ARI_GVA_TEXT_MAX];
        ari_gva_t parsed;
        CHECK_OK(ari_gva_parse(ari_gva_format(gva, text), &parsed));
        void *back = ari_map(parsed, 8);
        if (back != p)
            RT_FAIL("ari_map(ari_gva_of(%p) = %s) gives %p", (const void *)p, text, back);
    }
}

static void rt_errors_strerror(void)
{
    for (int code = ARI_EPEER; code >= ARI_ELINK; code--) {
        const char *text = ari_strerror(code);
        if (text == NULL || strlen(text) < 8 || strstr(text, "unknown") != NULL)
            RT_FAIL("ari_strerror(%d) is \"%s\"", code, text != NULL ? text : "(null)");
    }
}

static int case_errors(int argc, char **argv)
{
    rt_errors_before_init();
    rt_init(&argc, &argv);
    CHECK_ERR(ari_init(&argc, &argv), ARI_EINIT);
    int me = ari_node_id(), nodes = ari_node_count();
    rt_errors_alloc();
    uint64_t *own = ari_alloc(2 * PAGE, ARI_PATHCACHE);
    uint64_t *shared = ari_alloc_all(PAGE, ARI_PATHCACHE);
    CHECK(own != NULL && shared != NULL);
    void **owns = rt_publish(own);
    rt_errors_addresses(own, shared, nodes > 1 ? owns[(me + 1) % nodes] : NULL);
    rt_errors_roundtrip(own, 2 * PAGE);
    rt_errors_roundtrip(shared, PAGE);
    if (nodes > 1)
        rt_errors_roundtrip(owns[(me + 1) % nodes], PAGE);
    rt_errors_strerror();
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(own));
    CHECK_OK(ari_free(shared));
    CHECK_ERR(ari_free(own), ARI_EFAULT); /* twice */
    free(owns);
    rt_finalize();
    CHECK_ERR(ari_barrier(), ARI_EINIT); /* after ari_finalize */
    CHECK_NULL(ari_alloc(PAGE, 0), ARI_EINIT);
    printf("errors: node %d: every bad argument and address got its code\n", me);
    return 0;
}

/* ------------------------------------------------------------------------
 * gvazero: a real allocation's global address is never the error value
 * ------------------------------------------------------------------------ */

static int case_gvazero(void)
{
    int me = ari_node_id();
    void *first = ari_alloc(PAGE, ARI_PATHCACHE); /* this node's first allocation */
    CHECK(first != NULL);
    ari_gva_t gva = ari_gva_of(first);
    char text[ARI_GVA_TEXT_MAX];
    if (gva.hi == 0 && gva.lo == 0)
        RT_FAIL("ari_gva_of(this node's first allocation %p) is %s, the value documented as "
                "the failure of ari_gva_of", first, ari_gva_format(gva, text));
    CHECK_OK(ari_free(first));
    printf("gvazero: node %d: first allocation's global address %s is not {0, 0}\n", me,
           ari_gva_format(gva, text));
    return 0;
}

/* ------------------------------------------------------------------------
 * plainstore, badload: accesses that must stop the process
 * ------------------------------------------------------------------------ */

/* A store into another node's slot where nothing was allocated: the
 * owner says there is no such page, and the store stops the process. */
static int case_plainstore(void)
{
    int me = ari_node_id(), nodes = ari_node_count();
    uint8_t *page = me == 0 ? ari_alloc(PAGE, ARI_PATHCACHE) : NULL;
    CHECK(me != 0 || page != NULL);
    void **pages = rt_publish(page);
    volatile uint64_t *nowhere = (volatile uint64_t *)(void *)((uint8_t *)pages[0] + (64u << 20));
    if (me == nodes - 1) {
        fprintf(stderr, "plainstore: node %d: storing into %p\n", me, (void *)nowhere);
        *nowhere = 42;
        RT_FAIL("a plain store into unallocated global memory went through");
    }
    int status = ari_barrier(); /* the storer never comes */
    printf("plainstore: node %d: ari_barrier: %s\n", me, ari_strerror(status));
    return 3;
}

/* ------------------------------------------------------------------------
 * stores ROUNDS: plain stores from every node into one page, published
 * by barriers; flushstore ROUNDS: a store, a flush, a store
 * ------------------------------------------------------------------------ */

static uint64_t rt_mark(uint64_t round, uint64_t node, uint64_t k)
{
    return rt_pattern(round * 4099 + node * 64 + k) | 1;
}

static int case_stores(int argc, char **argv)
{
    int me = ari_node_id(), nodes = ari_node_count();
    uint64_t rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 50;
    CHECK(nodes <= 64);
    /* One page every node writes a different part of (false sharing), and
     * a page per node that only its owner writes. */
    uint64_t *shared = ari_alloc_all(PAGE, ARI_PATHCACHE);
    uint64_t *spread = ari_alloc_all((size_t)nodes * PAGE, ARI_SPREAD);
    CHECK(shared != NULL && spread != NULL);
    if (me % 2 == 1)
        CHECK_U64(shared[0], ==, 0); /* odd nodes write a page they hold a replica of */
    CHECK_OK(ari_barrier());
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t k = 0; k < 8; k++)
            shared[(uint64_t)me * 8 + k] = rt_mark(r, (uint64_t)me, k);
        /* Single bytes next to other nodes' bytes, in one word. */
        ((volatile uint8_t *)&shared[WORDS_PER_PAGE - 1])[me % 8] = (uint8_t)(r + (uint64_t)me);
        uint64_t *mine = spread + (size_t)me * WORDS_PER_PAGE;
        for (uint64_t k = 0; k < WORDS_PER_PAGE; k += 7)
            mine[k] = rt_mark(r, (uint64_t)me, k);
        CHECK_OK(ari_barrier());
        for (int n = 0; n < nodes; n++) {
            for (uint64_t k = 0; k < 8; k++)
                CHECK_U64(shared[(uint64_t)n * 8 + k], ==, rt_mark(r, (uint64_t)n, k));
            if (n < 8)
                CHECK_U64(((volatile uint8_t *)&shared[WORDS_PER_PAGE - 1])[n], ==,
                          (uint8_t)(r + (uint64_t)n));
            const uint64_t *theirs = spread + (size_t)n * WORDS_PER_PAGE;
            for (uint64_t k = 0; k < WORDS_PER_PAGE; k += 7)
                CHECK_U64(theirs[k], ==, rt_mark(r, (uint64_t)n, k));
        }
        CHECK_OK(ari_barrier()); /* everyone has checked before the next round writes */
    }
    printf("stores: node %d: %llu rounds of plain stores from %d nodes seen everywhere\n", me,
           (unsigned long long)rounds, nodes);
    return 0;
}

static int case_flushstore(int argc, char **argv)
{
    int me = ari_node_id();
    uint64_t rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 50;
    uint64_t *word = ari_alloc_all(PAGE, ARI_PATHCACHE);
    CHECK(word != NULL);
    for (uint64_t r = 0; r < rounds; r++) {
        /* Node 0 writes word 0, node 1 word 1, each twice around a flush:
         * the echo of the first must not undo the second. */
        if (me < 2) {
            word[me] = 2 * r + 1;
            CHECK_OK(ari_flush());
            word[me] = 2 * r + 2;
            CHECK_U64(word[me], ==, 2 * r + 2);
        }
        CHECK_OK(ari_barrier());
        CHECK_U64(word[0], ==, 2 * r + 2);
        if (ari_node_count() > 1)
            CHECK_U64(word[1], ==, 2 * r + 2);
        CHECK_OK(ari_barrier());
    }
    printf("flushstore: node %d: %llu rounds of store, flush, store kept the last value\n", me,
           (unsigned long long)rounds);
    return 0;
}

/* ------------------------------------------------------------------------
 * mutex ROUNDS: a counter and a log written with plain stores under a mutex
 * ------------------------------------------------------------------------ */

static int case_mutex(int argc, char **argv)
{
    int me = ari_node_id(), nodes = ari_node_count();
    uint64_t rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 100;
    uint64_t total = rounds * (uint64_t)nodes;
    /* The mutex alone in its page; the counter and the log elsewhere,
     * spread so that the log's pages have different owners. */
    ari_mutex_t *mutex = ari_alloc_all(PAGE, ARI_PATHCACHE);
    uint64_t *counter = ari_alloc_all(PAGE, ARI_PATHCACHE);
    uint64_t *log = ari_alloc_all((size_t)(total * 8 + PAGE), ARI_SPREAD);
    CHECK(mutex != NULL && counter != NULL && log != NULL);
    for (uint64_t i = 0; i < rounds; i++) {
        CHECK_OK(ari_mutex_lock(mutex));
        uint64_t c = *counter;
        CHECK(c < total);
        log[c] = (uint64_t)me + 1;
        *counter = c + 1;
        CHECK_OK(ari_mutex_unlock(mutex));
    }
    CHECK_OK(ari_barrier());
    CHECK_U64(*counter, ==, total);
    uint64_t *seen = calloc((size_t)nodes, sizeof *seen);
    CHECK(seen != NULL);
    for (uint64_t i = 0; i < total; i++) {
        CHECK(log[i] >= 1 && log[i] <= (uint64_t)nodes);
        seen[log[i] - 1]++;
    }
    for (int n = 0; n < nodes; n++)
        CHECK_U64(seen[n], ==, rounds);
    /* Errors: unlocking what this node does not hold. */
    CHECK_ERR(ari_mutex_unlock(mutex), ARI_EPERM);
    CHECK_OK(ari_barrier());
    printf("mutex: node %d: counter %llu exact, every increment logged once\n", me,
           (unsigned long long)*counter);
    free(seen);
    return 0;
}

/* sem: node 0 writes, then posts a permit per other node; each waits,
 * then must see what node 0 wrote. */
static int case_sem(int argc, char **argv)
{
    int me = ari_node_id(), nodes = ari_node_count();
    uint64_t rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 20;
    ari_sem_t *sem = ari_alloc_all(PAGE, ARI_PATHCACHE);
    uint64_t *data = ari_alloc_all(4 * PAGE, ARI_SPREAD);
    CHECK(sem != NULL && data != NULL);
    if (me == 0)
        CHECK_OK(ari_sem_init(sem, 0));
    CHECK_OK(ari_barrier());
    for (uint64_t r = 0; r < rounds; r++) {
        if (me == 0) {
            for (uint64_t k = 0; k < 4 * WORDS_PER_PAGE; k += 61)
                data[k] = rt_mark(r, 0, k);
            for (int n = 1; n < nodes; n++)
                CHECK_OK(ari_sem_post(sem));
        } else {
            CHECK_OK(ari_sem_wait(sem));
            for (uint64_t k = 0; k < 4 * WORDS_PER_PAGE; k += 61)
                CHECK_U64(data[k], ==, rt_mark(r, 0, k));
        }
        CHECK_OK(ari_barrier());
    }
    printf("sem: node %d: %llu rounds: every wait saw what the poster wrote\n", me,
           (unsigned long long)rounds);
    return 0;
}

/* ------------------------------------------------------------------------
 * owned ROUNDS: ownership pages, taken in turns, by faults and by pins
 * ------------------------------------------------------------------------ */

/* Waits for *turn == want with plain loads of an ownership page: every
 * load may move the page, so the waiter pauses between looks. */
static void rt_wait_turn(volatile uint64_t *turn, uint64_t want)
{
    while (*turn != want)
        usleep(20);
}

/* Turns: in round r node r mod N checks that the data shows every earlier
 * round's marks, adds its own, and passes the turn on; all with plain
 * loads and stores of ownership pages (pages born at different nodes). */
static void rt_owned_turns(uint64_t rounds)
{
    int me = ari_node_id(), nodes = ari_node_count();
    uint64_t *turn = ari_alloc_all(PAGE, ARI_OWNERSHIP);
    uint64_t *data = ari_alloc_all(4 * PAGE, ARI_OWNERSHIP | ARI_SPREAD);
    CHECK(turn != NULL && data != NULL);
    for (uint64_t r = 0; r < rounds; r++) {
        if (r % (uint64_t)nodes != (uint64_t)me)
            continue;
        rt_wait_turn(turn, r);
        for (uint64_t k = 0; k < r; k++) /* every earlier turn, on every page */
            for (uint64_t p = 0; p < 4; p++)
                CHECK_U64(data[p * WORDS_PER_PAGE + k], ==,
                          rt_mark(k, k % (uint64_t)nodes, p));
        for (uint64_t p = 0; p < 4; p++)
            data[p * WORDS_PER_PAGE + r] = rt_mark(r, (uint64_t)me, p);
        *turn = r + 1;
    }
    rt_wait_turn(turn, rounds);
    ari_location_t where;
    CHECK_OK(ari_where(turn, &where));
    /* Others read it too, so it may have moved on already. */
    CHECK(where.state == ARI_STATE_UNMAPPED ||
          (where.state == ARI_STATE_MASTER && where.owner == (uint32_t)me));
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(data));
    CHECK_OK(ari_free(turn));
}

/* Pins: a counter incremented with a plain load and store (not atomic)
 * is exact only if each node has the page to itself between acquire and
 * release: on an ownership page and on a path-cache page (its master
 * moves). Then the direct atomics of ownership pages. */
static void rt_owned_pins(uint64_t rounds)
{
    int nodes = ari_node_count();
    uint64_t *owned = ari_alloc_all(PAGE, ARI_OWNERSHIP);
    uint64_t *cached = ari_alloc_all(PAGE, ARI_PATHCACHE);
    CHECK(owned != NULL && cached != NULL);
    uint64_t total = rounds * (uint64_t)nodes;
    for (uint64_t i = 0; i < rounds; i++) {
        CHECK_OK(ari_acquire(owned, 8));
        CHECK_OK(ari_acquire(owned, 8)); /* pinned here already: a no-op */
        uint64_t c = owned[0];
        CHECK(c < total);
        owned[0] = c + 1;
        CHECK_OK(ari_release(owned, 8));
        CHECK_OK(ari_acquire(cached, PAGE));
        cached[1] += 1;
        CHECK_OK(ari_release(cached, PAGE));
        uint64_t old;
        CHECK_OK(ari_fetch_add_u64(&owned[2], 1, &old));
        CHECK(old < total);
    }
    CHECK_ERR(ari_release(owned, 8), ARI_EPERM); /* not pinned here */
    /* Bad ranges: empty, and past the allocation (its next page is unallocated). */
    CHECK_ERR(ari_acquire(owned, 0), ARI_EINVAL);
    CHECK_ERR(ari_acquire(owned, 2 * PAGE), ARI_EFAULT);
    CHECK_ERR(ari_release(owned, 2 * PAGE), ARI_EFAULT);
    int local = 0;
    CHECK_ERR(ari_acquire(&local, sizeof local), ARI_EFAULT); /* not global memory */
    CHECK_OK(ari_barrier());
    CHECK_U64(owned[0], ==, total);
    CHECK_U64(owned[2], ==, total);
    uint64_t fresh;
    CHECK_OK(ari_get(&fresh, &cached[1], 8));
    CHECK_U64(fresh, ==, total);
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(cached));
    CHECK_OK(ari_free(owned));
}

static int case_owned(int argc, char **argv)
{
    uint64_t rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 20;
    rt_owned_turns(rounds);
    rt_owned_pins(rounds);
    printf("owned: node %d: %llu turns saw every earlier write; pinned counters exact\n",
           ari_node_id(), (unsigned long long)rounds);
    return 0;
}

/* ------------------------------------------------------------------------
 * latebarrier SECONDS: node 0 comes to the barrier SECONDS late; the others
 * wait for it as long as the run's limit (--timeout-ms) allows
 * ------------------------------------------------------------------------ */

static int case_latebarrier(int argc, char **argv)
{
    unsigned seconds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1;
    if (ari_node_id() == 0)
        sleep(seconds);
    CHECK_OK(ari_barrier());
    printf("latebarrier: node %d: waited for a node %u s late\n", ari_node_id(), seconds);
    return 0;
}

/* ------------------------------------------------------------------------
 * pinlimit (with ARI_PIN_MS small): the last node pins a page and forgets
 * it; node 0's acquire still gets the page once the pin limit ends it, and
 * the late release finds nothing pinned. The launcher's stderr holds the
 * holder's report, naming its host.
 * ------------------------------------------------------------------------ */

static int case_pinlimit(void)
{
    int me = ari_node_id(), last = ari_node_count() - 1;
    uint64_t *page = ari_alloc_all(PAGE, ARI_OWNERSHIP);
    CHECK(page != NULL);
    if (me == last) {
        CHECK_OK(ari_acquire(page, 8));
        page[0] = 41;
    }
    CHECK_OK(ari_barrier());
    if (me == 0) {
        CHECK_OK(ari_acquire(page, 8)); /* waits out the forgotten pin */
        CHECK_U64(page[0], ==, 41);
        page[0] = 42;
        CHECK_OK(ari_release(page, 8));
    }
    CHECK_OK(ari_barrier());
    if (me == last && me != 0)
        CHECK_ERR(ari_release(page, 8), ARI_EPERM); /* the limit ended it */
    uint64_t value;
    CHECK_OK(ari_get(&value, page, 8));
    CHECK_U64(value, ==, 42);
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(page));
    printf("pinlimit: node %d: ok\n", me);
    return 0;
}

/* ------------------------------------------------------------------------
 * capacity ROUNDS (with a small --mem): far more of others' pages are
 * read and written than the node may hold; every byte survives
 * ------------------------------------------------------------------------ */

static int case_capacity(int argc, char **argv)
{
    int me = ari_node_id(), nodes = ari_node_count();
    uint64_t rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 3;
    ari_stats_t stats;
    CHECK_OK(ari_stats(&stats));
    /* Each node owns pages worth its whole room for others, so that what
     * every node reads is (nodes - 1) times what it may hold. */
    uint64_t per_node = stats.mem_limit > 64 ? stats.mem_limit - 32 : 32;
    uint64_t pages = per_node * (uint64_t)nodes;
    uint64_t *data = ari_alloc_all(pages * PAGE, ARI_SPREAD);
    CHECK(data != NULL);
    for (uint64_t r = 0; r < rounds; r++) {
        /* Plain stores into every page: word `me` of page p. Most pages are
         * others', so dirty pages alone would pass --mem: they must be
         * flushed, never dropped. */
        for (uint64_t p = 0; p < pages; p++)
            data[p * WORDS_PER_PAGE + (uint64_t)me] = rt_mark(r, (uint64_t)me, p);
        CHECK_OK(ari_barrier());
        for (uint64_t p = 0; p < pages; p++)
            for (int n = 0; n < nodes; n++)
                CHECK_U64(data[p * WORDS_PER_PAGE + (uint64_t)n], ==,
                          rt_mark(r, (uint64_t)n, p));
        CHECK_OK(ari_barrier());
    }
    CHECK_OK(ari_stats(&stats));
    CHECK_U64(stats.mem_held, <=, stats.mem_limit);
    if (nodes > 1) {
        CHECK(stats.evictions > 0);
        /* Prefaulted pages must all stay: more than --mem holds is refused. */
        CHECK_ERR(ari_prefault(data, pages * PAGE), ARI_ENOMEM);
    }
    CHECK_OK(ari_prefault(data, 8 * PAGE));
    printf("capacity: node %d: %llu pages x %llu rounds through room for %llu: "
           "every byte kept, %llu evictions\n", me, (unsigned long long)pages,
           (unsigned long long)rounds, (unsigned long long)stats.mem_limit,
           (unsigned long long)stats.evictions);
    return 0;
}

static int case_badload(void)
{
    int me = ari_node_id(), nodes = ari_node_count();
    uint8_t *page = me == 0 ? ari_alloc(PAGE, ARI_PATHCACHE) : NULL;
    CHECK(me != 0 || page != NULL);
    void **pages = rt_publish(page);
    /* 64 MiB past node 0's only allocation: in its slot, never allocated. */
    const volatile uint64_t *nowhere =
        (const volatile uint64_t *)(void *)((uint8_t *)pages[0] + (64u << 20));
    if (me == nodes - 1) {
        fprintf(stderr, "badload: node %d: loading from %p\n", me, (const void *)nowhere);
        uint64_t value = *nowhere;
        RT_FAIL("a load from unallocated global memory gave %llu", (unsigned long long)value);
    }
    int status = ari_barrier(); /* the loader never comes */
    printf("badload: node %d: ari_barrier: %s\n", me, ari_strerror(status));
    return 3;
}

/* ------------------------------------------------------------------------
 * syscall: the kernel does not fault global pages in for us
 * ------------------------------------------------------------------------ */

/* With userfaultfd opened UFFD_USER_MODE_ONLY (what an unprivileged process
 * may open), faults raised by the kernel on behalf of a system call are not
 * delivered to the runtime, and with the mprotect fallback the untouched
 * page is PROT_NONE: either way write(2) from an untouched global page fails
 * with EFAULT. ari_prefault maps the range first, after which the kernel
 * reads it like any memory. */
static int case_syscall(void)
{
    int me = ari_node_id(), nodes = ari_node_count();
    if (nodes < 2) {
        fprintf(stderr, "syscall: needs 2 or more nodes\n");
        return 2;
    }
    uint8_t *base = ari_alloc_all((size_t)nodes * PAGE, ARI_SPREAD);
    CHECK(base != NULL);
    uint8_t pattern[PAGE];
    for (size_t i = 0; i < PAGE; i++)
        pattern[i] = (uint8_t)(i * 7 + (size_t)me + 1);
    CHECK_OK(ari_store(base + (size_t)me * PAGE, pattern, PAGE)); /* my own page */
    CHECK_OK(ari_barrier());
    int other = (me + 1) % nodes;
    uint8_t *theirs = base + (size_t)other * PAGE;
    int pipe_fds[2];
    CHECK(pipe(pipe_fds) == 0);
    errno = 0;
    ssize_t n = write(pipe_fds[1], theirs, PAGE);
    if (n != -1 || errno != EFAULT)
        RT_FAIL("write(2) from node %d's untouched page: %zd (%s), want -1 EFAULT", other, n,
                strerror(errno));
    CHECK_OK(ari_prefault(theirs, PAGE));
    n = write(pipe_fds[1], theirs, PAGE);
    if (n != (ssize_t)PAGE)
        RT_FAIL("write(2) after ari_prefault: %zd (%s)", n, n < 0 ? strerror(errno) : "short");
    uint8_t back[PAGE];
    CHECK(read(pipe_fds[0], back, PAGE) == (ssize_t)PAGE);
    for (size_t i = 0; i < PAGE; i++)
        pattern[i] = (uint8_t)(i * 7 + (size_t)other + 1);
    CHECK(memcmp(back, pattern, PAGE) == 0);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(base));
    printf("syscall: node %d: write(2) from node %d's untouched page: EFAULT; after "
           "ari_prefault: %d bytes, the owner's data\n", me, other, (int)PAGE);
    return 0;
}

/* ------------------------------------------------------------------------
 * killed: a node dies; the others' calls fail instead of hanging
 * ------------------------------------------------------------------------ */

static int case_killed(void)
{
    int me = ari_node_id(), nodes = ari_node_count();
    CHECK(nodes >= 2);
    printf("killed: node %d pid %d\n", me, (int)getpid());
    fflush(stdout);
    uint8_t *base = ari_alloc_all((size_t)nodes * PAGE, ARI_SPREAD);
    CHECK(base != NULL);
    uint64_t *word = (uint64_t *)(void *)(base + (size_t)(nodes - 1) * PAGE); /* node N-1's */
    CHECK_OK(ari_fetch_add_u64(word, 1, NULL));
    CHECK_OK(ari_barrier());
    /* A barrier reads the others' write notices after everyone arrives:
     * node N-1 dies only once every other node is past it. */
    if (me == nodes - 1) {
        uint64_t past = 0;
        double waited = rt_now_s();
        while (past < (uint64_t)nodes - 1 && rt_now_s() - waited < 20.0)
            CHECK_OK(ari_get(&past, &word[1], sizeof past));
        kill(getpid(), SIGKILL);
        pause();
    }
    CHECK_OK(ari_fetch_add_u64(&word[1], 1, NULL));
    double start = rt_now_s();
    uint64_t calls = 0;
    for (;;) {
        int status = ari_fetch_add_u64(word, 1, NULL);
        if (status != ARI_OK) {
            printf("killed: node %d: ari_fetch_add_u64 on node %d's word after %llu calls, "
                   "%.2f s: %s\n", me, nodes - 1, (unsigned long long)calls,
                   rt_now_s() - start, ari_strerror(status));
            fflush(stdout);
            if (status != ARI_EPEER && status != ARI_ETIMEDOUT)
                return 1;
            return 3;
        }
        calls++;
        if (rt_now_s() - start > 20.0)
            RT_FAIL("20 s of calls on a dead node's word without an error");
    }
}

/* ------------------------------------------------------------------------
 * single: a program started without `ariadne run`
 * ------------------------------------------------------------------------ */

static int case_single(void)
{
    CHECK(ari_node_count() == 1 && ari_node_id() == 0);
    uint64_t *own = ari_alloc(3 * PAGE, ARI_PATHCACHE);
    uint64_t *shared = ari_alloc_all(PAGE, ARI_SPREAD);
    CHECK(own != NULL && shared != NULL);
    const volatile uint64_t *view = own;
    CHECK_U64(view[0], ==, 0);
    CHECK_U64(view[WORDS_PER_PAGE * 2 + 5], ==, 0);
    for (uint64_t i = 0; i < 3 * WORDS_PER_PAGE; i += 97) {
        uint64_t value = rt_pattern(i);
        CHECK_OK(ari_store(&own[i], &value, sizeof value));
        CHECK_U64(view[i], ==, value);
    }
    uint64_t old;
    CHECK_OK(ari_fetch_add_u64(shared, 5, &old));
    CHECK_U64(old, ==, 0);
    CHECK_OK(ari_cas_u64(shared, 5, 9, &old));
    CHECK_U64(old, ==, 5);
    CHECK_OK(ari_swap_u64(shared, 11, &old));
    CHECK_U64(old, ==, 9);
    CHECK_U64(*(const volatile uint64_t *)shared, ==, 11);
    uint64_t got;
    CHECK_OK(ari_get(&got, shared, sizeof got));
    CHECK_U64(got, ==, 11);
    ari_location_t l;
    CHECK_OK(ari_where(own, &l));
    CHECK(l.owner == 0 && l.hops == 0 && l.distance == ARI_LOCAL && l.state == ARI_STATE_MASTER);
    CHECK_OK(ari_flush());
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(own));
    CHECK_OK(ari_free(shared));
    printf("single: 1 node: alloc, store, load, atomics, get, where, flush, barrier, free\n");
    return 0;
}

/* ------------------------------------------------------------------------
 * threads: the calls are thread-safe
 * ------------------------------------------------------------------------ */

enum { RT_THREADS = 4 };

typedef struct {
    uint64_t *counter;
    uint64_t *slot; /* a word of this thread's own, on a page another node owns */
    uint64_t rounds;
    int failures;
} rt_thread_t;

static void *rt_thread_main(void *arg)
{
    rt_thread_t *t = arg;
    for (uint64_t i = 1; i <= t->rounds; i++) {
        if (ari_fetch_add_u64(t->counter, 1, NULL) != ARI_OK) {
            t->failures++;
            break;
        }
        if (i % 8 == 0) {
            uint64_t value = i;
            if (ari_store(t->slot, &value, sizeof value) != ARI_OK ||
                *(const volatile uint64_t *)t->slot != value) {
                t->failures++;
                break;
            }
        }
    }
    return NULL;
}

static int case_threads(int argc, char **argv)
{
    uint64_t rounds = rt_arg_u64(argc, argv, 2, 300, 8, 10000000);
    int me = ari_node_id(), nodes = ari_node_count();
    uint8_t *base = ari_alloc_all((size_t)(nodes + 1) * PAGE, ARI_SPREAD);
    CHECK(base != NULL);
    uint64_t *counter = (uint64_t *)(void *)base; /* node 0's */
    uint64_t *slots = (uint64_t *)(void *)(base + (size_t)(me + 1) * PAGE);
    pthread_t threads[RT_THREADS];
    rt_thread_t work[RT_THREADS];
    for (int i = 0; i < RT_THREADS; i++) {
        work[i] = (rt_thread_t){.counter = counter, .slot = &slots[i * 8], .rounds = rounds};
        CHECK(pthread_create(&threads[i], NULL, rt_thread_main, &work[i]) == 0);
    }
    for (int i = 0; i < RT_THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        if (work[i].failures != 0)
            RT_FAIL("thread %d: a call failed or a store did not read back", i);
    }
    CHECK_OK(ari_barrier());
    uint64_t want = rounds * RT_THREADS * (uint64_t)nodes, got;
    CHECK_OK(ari_get(&got, counter, sizeof got));
    CHECK_U64(got, ==, want);
    uint64_t seen;
    if (!rt_wait_u64(counter, want, 5.0, &seen))
        RT_FAIL("the replica shows %llu after 5 s, the owner %llu", (unsigned long long)seen,
                (unsigned long long)want);
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(base));
    printf("threads: node %d: %d threads, fetch-add total %llu exact\n", me, RT_THREADS,
           (unsigned long long)want);
    return 0;
}

/* ------------------------------------------------------------------------
 * cold N_MiB: a sequential first read of memory another node filled
 * ------------------------------------------------------------------------ */

static int case_cold(int argc, char **argv)
{
    uint64_t mib = rt_arg_u64(argc, argv, 2, 16, 1, 4096);
    int me = ari_node_id(), nodes = ari_node_count();
    size_t bytes = (size_t)mib << 20, words = bytes / sizeof(uint64_t);
    uint64_t *data = ari_alloc_all(bytes, ARI_PATHCACHE); /* node 0 owns every page */
    CHECK(data != NULL);
    double start = rt_now_s();
    if (me == 0) {
        uint64_t chunk[WORDS_PER_PAGE];
        for (size_t page = 0; page < words / WORDS_PER_PAGE; page++) {
            for (size_t i = 0; i < WORDS_PER_PAGE; i++)
                chunk[i] = rt_pattern(page * WORDS_PER_PAGE + i);
            CHECK_OK(ari_store(&data[page * WORDS_PER_PAGE], chunk, sizeof chunk));
        }
        printf("cold: node 0: filled %llu MiB with ari_store in %.3f s\n",
               (unsigned long long)mib, rt_now_s() - start);
    }
    CHECK_OK(ari_barrier());
    if (me == 1 || nodes == 1) {
        uint64_t want = 0, sum = 0;
        for (size_t i = 0; i < words; i++)
            want += rt_pattern(i);
        const volatile uint64_t *view = data;
        start = rt_now_s();
        for (size_t i = 0; i < words; i++)
            sum += view[i];
        double seconds = rt_now_s() - start;
        if (sum != want)
            RT_FAIL("sum of %llu MiB is %#llx, want %#llx", (unsigned long long)mib,
                    (unsigned long long)sum, (unsigned long long)want);
        printf("cold: node %d: read %llu MiB cold in %.3f s (%.0f MiB/s), sum right\n", me,
               (unsigned long long)mib, seconds, seconds > 0 ? (double)mib / seconds : 0.0);
    }
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(data));
    return 0;
}

/* ------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * huge PAGES: 2 MiB pages (ARI_HUGE), PAGES born at every node; needs
 * huge pages reserved on the host. nohuge: the same call on a host
 * without them fails clearly.
 * ------------------------------------------------------------------------ */

#define HUGE_PAGE (2u << 20)
#define HUGE_WORDS (HUGE_PAGE / sizeof(uint64_t))

/* Node `writer` writes every word of huge page p with plain stores. */
static void rt_huge_fill(uint64_t *data, uint64_t p, uint64_t round)
{
    for (uint64_t w = 0; w < HUGE_WORDS; w++)
        data[p * HUGE_WORDS + w] = rt_mark(round, p, w);
}

static void rt_huge_check(const uint64_t *data, uint64_t p, uint64_t round)
{
    for (uint64_t w = 0; w < HUGE_WORDS; w++)
        if (data[p * HUGE_WORDS + w] != rt_mark(round, p, w))
            RT_FAIL("huge page %llu word %llu: %llu, want %llu", (unsigned long long)p,
                    (unsigned long long)w, (unsigned long long)data[p * HUGE_WORDS + w],
                    (unsigned long long)rt_mark(round, p, w));
}

static int case_huge(int argc, char **argv)
{
    int me = ari_node_id(), nodes = ari_node_count();
    uint64_t per = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    uint64_t pages = per * (uint64_t)nodes;
    CHECK_NULL(ari_alloc(HUGE_PAGE, ARI_HUGE | ARI_OWNERSHIP), ARI_EINVAL);
    uint64_t *data = ari_alloc_all(pages * HUGE_PAGE, ARI_HUGE | ARI_SPREAD);
    CHECK(data != NULL);
    CHECK((uintptr_t)data % HUGE_PAGE == 0);
    ari_location_t where;
    CHECK_OK(ari_where(&data[(uint64_t)me * HUGE_WORDS + 5], &where));
    CHECK(where.owner == (uint32_t)me && where.state == ARI_STATE_MASTER);
    /* Round 0: each node fills the pages born here; every node reads all. */
    for (uint64_t p = (uint64_t)me; p < pages; p += (uint64_t)nodes)
        rt_huge_fill(data, p, 0);
    CHECK_OK(ari_barrier());
    for (uint64_t p = 0; p < pages; p++)
        rt_huge_check(data, p, 0);
    /* Round 1: each node rewrites a page born at the next node with plain
     * stores on its replica (a diff of the whole page: several WRITEs). */
    CHECK_OK(ari_barrier());
    for (uint64_t p = ((uint64_t)me + 1) % (uint64_t)nodes; p < pages; p += (uint64_t)nodes)
        rt_huge_fill(data, p, 1);
    CHECK_OK(ari_barrier());
    for (uint64_t p = 0; p < pages; p++)
        rt_huge_check(data, p, 1);
    CHECK_OK(ari_barrier());
    /* Explicit calls on a page born elsewhere: ari_store across a 4 KiB
     * boundary, ari_get, and a fetch-add from every node on one word. */
    uint64_t other = ((uint64_t)me + 1) % (uint64_t)nodes;
    uint64_t words[4] = {11, 22, 33, (uint64_t)me};
    uint64_t *at = &data[other * HUGE_WORDS + 512 * (uint64_t)(me + 1) - 2];
    CHECK_OK(ari_store(at, words, sizeof words));
    uint64_t back[4];
    CHECK_OK(ari_get(back, at, sizeof back));
    CHECK(memcmp(back, words, sizeof words) == 0);
    CHECK_OK(ari_fetch_add_u64(&data[HUGE_WORDS - 1], 1, NULL));
    CHECK_OK(ari_barrier());
    uint64_t total;
    CHECK_OK(ari_get(&total, &data[HUGE_WORDS - 1], sizeof total));
    CHECK_U64(total, ==, rt_mark(1, 0, HUGE_WORDS - 1) + (uint64_t)nodes);
    /* The replica follows the owner's updates (within a bounded wait). */
    volatile uint64_t *seen = &data[HUGE_WORDS - 1];
    for (int i = 0; i < 5000 && *seen != total; i++)
        usleep(1000);
    CHECK_U64(*seen, ==, total);
    ari_stats_t stats;
    CHECK_OK(ari_stats(&stats));
    if (nodes > 1)
        CHECK_U64(stats.mem_held % (HUGE_PAGE / PAGE), ==, 0); /* whole huge pages */
    CHECK_OK(ari_unmap(data, pages * HUGE_PAGE));
    CHECK_OK(ari_prefault(data, HUGE_PAGE));
    CHECK_OK(ari_barrier());
    CHECK_OK(ari_free(data));
    /* More than the host's pool holds fails whole, with ARI_ENOMEM. */
    if (me == 0) { /* and this node's other pages stay whole */
        uint64_t *kept = ari_alloc(PAGE, 0);
        CHECK(kept != NULL);
        kept[0] = 4242;
        CHECK_NULL(ari_alloc((size_t)64 << 30, ARI_HUGE), ARI_ENOMEM);
        CHECK_U64(kept[0], ==, 4242);
        CHECK_OK(ari_free(kept));
    }
    CHECK_OK(ari_barrier());
    printf("huge: node %d: %llu pages of 2 MiB written with plain stores and read by "
           "every node, explicit calls exact\n", me, (unsigned long long)pages);
    return 0;
}

static int case_nohuge(void)
{
    int me = ari_node_id();
    CHECK_NULL(ari_alloc(HUGE_PAGE, ARI_HUGE), ARI_ENOTSUP);
    CHECK_NULL(ari_alloc_all(HUGE_PAGE, ARI_HUGE), ARI_ENOTSUP);
    uint64_t *plain = ari_alloc_all(PAGE, 0); /* the heap is still symmetric */
    CHECK(plain != NULL);
    CHECK_OK(ari_free(plain));
    printf("nohuge: node %d: ARI_HUGE refused with ARI_ENOTSUP\n", me);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ariadne run -n N [--topo SPEC] rt_check CASE [ARGS]\n"
            "cases: counter [ROUNDS]  ryw [VALUES]  converge [WRITES]  order [COUNT]\n"
            "       where (on a ring)  errors  gvazero  plainstore  badload  syscall\n"
            "       killed  single (without ariadne run)  threads [ROUNDS]  cold [MIB]\n"
            "       stores [ROUNDS]  flushstore [ROUNDS]  mutex [ROUNDS]  sem [ROUNDS]\n"
            "       owned [ROUNDS]  capacity [ROUNDS] (with a small --mem)\n"
            "       pinlimit (with ARI_PIN_MS small)  latebarrier [SECONDS]\n"
            "       huge [PAGES] (huge pages reserved)  nohuge (none reserved)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "errors") == 0)
        return case_errors(argc, argv); /* it calls ari_init itself, twice */
    if (strcmp(name, "single") == 0 && getenv("ARI_CTL_FD") != NULL) {
        fprintf(stderr, "rt_check single: run it without ariadne run\n");
        return 2;
    }
    static const char *const known[] = {"counter", "ryw", "converge", "order", "where",
                                        "gvazero", "plainstore", "badload", "syscall", "killed",
                                        "single", "threads", "cold", "stores", "flushstore",
                                        "mutex", "sem", "owned", "capacity", "huge", "nohuge",
                                        "pinlimit", "latebarrier"};
    bool found = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        found = found || strcmp(name, known[i]) == 0;
    if (!found) {
        usage();
        return 2;
    }
    rt_init(&argc, &argv);
    int result = 1;
    if (strcmp(name, "counter") == 0)
        result = case_counter(argc, argv);
    else if (strcmp(name, "ryw") == 0)
        result = case_ryw(argc, argv);
    else if (strcmp(name, "converge") == 0)
        result = case_converge(argc, argv);
    else if (strcmp(name, "order") == 0)
        result = case_order(argc, argv);
    else if (strcmp(name, "where") == 0)
        result = case_where();
    else if (strcmp(name, "gvazero") == 0)
        result = case_gvazero();
    else if (strcmp(name, "plainstore") == 0)
        result = case_plainstore();
    else if (strcmp(name, "badload") == 0)
        result = case_badload();
    else if (strcmp(name, "syscall") == 0)
        result = case_syscall();
    else if (strcmp(name, "killed") == 0)
        result = case_killed();
    else if (strcmp(name, "single") == 0)
        result = case_single();
    else if (strcmp(name, "threads") == 0)
        result = case_threads(argc, argv);
    else if (strcmp(name, "cold") == 0)
        result = case_cold(argc, argv);
    else if (strcmp(name, "stores") == 0)
        result = case_stores(argc, argv);
    else if (strcmp(name, "flushstore") == 0)
        result = case_flushstore(argc, argv);
    else if (strcmp(name, "mutex") == 0)
        result = case_mutex(argc, argv);
    else if (strcmp(name, "sem") == 0)
        result = case_sem(argc, argv);
    else if (strcmp(name, "owned") == 0)
        result = case_owned(argc, argv);
    else if (strcmp(name, "capacity") == 0)
        result = case_capacity(argc, argv);
    else if (strcmp(name, "huge") == 0)
        result = case_huge(argc, argv);
    else if (strcmp(name, "nohuge") == 0)
        result = case_nohuge();
    else if (strcmp(name, "pinlimit") == 0)
        result = case_pinlimit();
    else if (strcmp(name, "latebarrier") == 0)
        result = case_latebarrier(argc, argv);
    if (result != 0) {
        fflush(NULL);
        return result; /* a node that stops early: the run is ending anyway */
    }
    fflush(NULL);
    rt_finalize();
    return 0;
}
