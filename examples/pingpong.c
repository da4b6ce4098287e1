/*
 * pingpong — two nodes take turns: each writes the next number with
 * ari_store into a word the other polls with plain loads. Reports the
 * one-way latency (a store, its update travelling to the other node's
 * replica, and the poll that sees it).
 *
 *   ariadne run -n 2 build/examples/pingpong [ROUNDS]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <time.h>

#include <ariadne.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int fail(const char *what, int status)
{
    fprintf(stderr, "pingpong: %s: %s\n", what, ari_strerror(status));
    return 1;
}

int main(int argc, char **argv)
{
    int status = ari_init(&argc, &argv);
    if (status != ARI_OK)
        return fail("ari_init", status);
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    int me = ari_node_id();
    if (ari_node_count() != 2 || rounds < 1) {
        fprintf(stderr, "pingpong: needs exactly 2 nodes (ariadne run -n 2) and ROUNDS >= 1\n");
        ari_finalize();
        return 2;
    }
    /* Each node owns the word it writes, on a page of its own. */
    volatile uint64_t *word = ari_alloc_all(2 * 4096, ARI_SPREAD);
    if (word == NULL)
        return fail("ari_alloc_all", ari_errno());
    volatile uint64_t *mine = word + (me == 0 ? 0 : 512), *theirs = word + (me == 0 ? 512 : 0);
    double start = now_us();
    uint64_t polls = 0;
    for (uint64_t n = 1; n <= (uint64_t)rounds; n++) {
        if (me == 0) {
            uint64_t v = 2 * n - 1;
            if ((status = ari_store((void *)mine, &v, sizeof v)) != ARI_OK)
                return fail("ari_store", status);
            while (*theirs != 2 * n)
                polls++, sched_yield();
        } else {
            while (*theirs != 2 * n - 1)
                polls++, sched_yield();
            uint64_t v = 2 * n;
            if ((status = ari_store((void *)mine, &v, sizeof v)) != ARI_OK)
                return fail("ari_store", status);
        }
    }
    double elapsed = now_us() - start;
    if (me == 0)
        printf("pingpong: %ld round trips, %.2f us each, %.2f us one way (store + update + poll)\n",
               rounds, elapsed / rounds, elapsed / rounds / 2);
    (void)polls;
    int ok = *theirs == (me == 0 ? 2 * (uint64_t)rounds : 2 * (uint64_t)rounds - 1);
    if ((status = ari_finalize()) != ARI_OK)
        return fail("ari_finalize", status);
    return ok ? 0 : 1;
}
