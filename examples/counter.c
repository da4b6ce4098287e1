/*
 * counter — every node adds to one global counter with ari_fetch_add_u64
 * and ari_cas_u64; the total is checked on every node.
 *
 *   ariadne run -n 4 build/examples/counter [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>

#include <ariadne.h>

static int fail(const char *what, int status)
{
    fprintf(stderr, "counter: %s: %s\n", what, ari_strerror(status));
    return 1;
}

int main(int argc, char **argv)
{
    int status = ari_init(&argc, &argv);
    if (status != ARI_OK)
        return fail("ari_init", status);
    uint64_t rounds = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000;
    int me = ari_node_id(), nodes = ari_node_count();
    /* Two words on one page owned by node 0; the same pointer on every node. */
    uint64_t *words = ari_alloc_all(2 * sizeof(uint64_t), ARI_PATHCACHE);
    if (words == NULL)
        return fail("ari_alloc_all", ari_errno());
    for (uint64_t i = 0; i < rounds; i++) {
        if ((status = ari_fetch_add_u64(&words[0], 1, NULL)) != ARI_OK)
            return fail("ari_fetch_add_u64", status);
        /* The same increment by compare-and-swap: retry until it lands. */
        uint64_t seen = words[1], old;
        for (;;) {
            if ((status = ari_cas_u64(&words[1], seen, seen + 1, &old)) != ARI_OK)
                return fail("ari_cas_u64", status);
            if (old == seen)
                break;
            seen = old;
        }
    }
    if ((status = ari_barrier()) != ARI_OK)
        return fail("ari_barrier", status);
    uint64_t got[2];
    if ((status = ari_get(got, words, sizeof got)) != ARI_OK)
        return fail("ari_get", status);
    uint64_t want = rounds * (uint64_t)nodes;
    int wrong = got[0] != want || got[1] != want;
    printf("node %d: fetch-add total %llu, cas total %llu, expected %llu: %s\n", me,
           (unsigned long long)got[0], (unsigned long long)got[1], (unsigned long long)want,
           wrong ? "WRONG" : "ok");
    if ((status = ari_finalize()) != ARI_OK)
        return fail("ari_finalize", status);
    return wrong;
}
