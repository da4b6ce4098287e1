/*
 * net_get — the latency of fetching SIZE bytes (default 4 KiB, one page)
 * from another node, the Ariadne half of `make bench-net`
 * (bench/net_bench.sh); tests/net/net_get_shmem.c is the OpenSHMEM half.
 *
 *   ariadne run [--hosts FILE --key FILE] -n 2 build/net/net_get [SIZE [ITERS]]
 *
 * Node 1 reads SIZE bytes of a buffer node 0 owns with ari_get (fresh from
 * the owner every time, never a replica), ITERS times after a warm-up, and
 * checks the bytes; node 0 waits in ari_barrier. The samples are printed as
 * `@bench get SIZE ns ...` lines (bench/bench.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ariadne.h>

#include "bench.h"

#define GET_SIZE_MAX (1u << 20)

static void check(int status, const char *what)
{
    if (status != ARI_OK) {
        fprintf(stderr, "net_get: node %d: %s: %s\n", ari_node_id(), what, ari_strerror(status));
        exit(1);
    }
}

/* Node 1's timed reads; exits when a byte is wrong. */
static void reads(const uint8_t *global, size_t size, long iters)
{
    uint8_t *buffer = malloc(size);
    double *ns = calloc((size_t)iters, sizeof *ns);
    if (buffer == NULL || ns == NULL) {
        fprintf(stderr, "net_get: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < BENCH_WARMUP; i++)
        check(ari_get(buffer, global, size), "ari_get");
    for (long i = 0; i < iters; i++) {
        double t = bench_now_ns();
        check(ari_get(buffer, global, size), "ari_get");
        ns[i] = bench_now_ns() - t;
    }
    for (size_t i = 0; i < size; i++) {
        if (buffer[i] != (uint8_t)(i * 7 + 1)) {
            fprintf(stderr, "net_get: byte %zu is %u, want %u\n", i, buffer[i],
                    (uint8_t)(i * 7 + 1));
            exit(1);
        }
    }
    char variant[32];
    snprintf(variant, sizeof variant, "%zu", size);
    bench_emit("get", variant, "ns", ns, (size_t)iters);
    free(ns);
    free(buffer);
}

int main(int argc, char **argv)
{
    check(ari_init(&argc, &argv), "ari_init");
    long size = bench_arg(argc, argv, 1, 4096), iters = bench_arg(argc, argv, 2, 2000);
    int me = ari_node_id();
    if (ari_node_count() < 2 || size > GET_SIZE_MAX) {
        fprintf(stderr, "usage: ariadne run -n 2 net_get [SIZE [ITERS]] (SIZE at most %u)\n",
                GET_SIZE_MAX);
        return 2;
    }
    uint8_t *global = ari_alloc_all((size_t)size, ARI_PATHCACHE); /* node 0's */
    if (global == NULL)
        check(ari_errno(), "ari_alloc_all");
    if (me == 0) {
        uint8_t *pattern = malloc((size_t)size);
        if (pattern == NULL)
            return 1;
        for (long i = 0; i < size; i++)
            pattern[i] = (uint8_t)(i * 7 + 1);
        check(ari_store(global, pattern, (size_t)size), "ari_store");
        free(pattern);
    }
    check(ari_barrier(), "ari_barrier");
    if (me == 1)
        reads(global, (size_t)size, iters);
    check(ari_barrier(), "ari_barrier");
    check(ari_free(global), "ari_free");
    check(ari_finalize(), "ari_finalize");
    return 0;
}
