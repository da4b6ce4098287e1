/*
 * net_get_shmem — the OpenSHMEM half of tests/net/net_get.c for
 * `make bench-net`: PE 1 gets SIZE bytes (default 4 KiB) of PE 0's
 * symmetric memory with shmem_getmem, ITERS times after a warm-up, and
 * checks them; PE 0 waits in shmem_barrier_all. Samples as
 * `@bench get SIZE ns ...` lines (bench/bench.h). Built with oshcc.
 *
 *   oshrun -n 2 build/net/net_get_shmem [SIZE [ITERS]]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <shmem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define GET_SIZE_MAX (1u << 20)

static void die(const char *what)
{
    fprintf(stderr, "net_get_shmem: PE %d: %s\n", shmem_my_pe(), what);
    shmem_global_exit(1);
    exit(1);
}

static void reads(const uint8_t *symmetric, size_t size, long iters)
{
    uint8_t *buffer = malloc(size);
    double *ns = calloc((size_t)iters, sizeof *ns);
    if (buffer == NULL || ns == NULL)
        die("out of memory");
    for (int i = 0; i < BENCH_WARMUP; i++)
        shmem_getmem(buffer, symmetric, size, 0);
    for (long i = 0; i < iters; i++) {
        double t = bench_now_ns();
        shmem_getmem(buffer, symmetric, size, 0);
        ns[i] = bench_now_ns() - t;
    }
    for (size_t i = 0; i < size; i++)
        if (buffer[i] != (uint8_t)(i * 7 + 1))
            die("a byte read is wrong");
    char variant[32];
    snprintf(variant, sizeof variant, "%zu", size);
    bench_emit("get", variant, "ns", ns, (size_t)iters);
    free(ns);
    free(buffer);
}

int main(int argc, char **argv)
{
    shmem_init();
    long size = bench_arg(argc, argv, 1, 4096), iters = bench_arg(argc, argv, 2, 2000);
    if (shmem_n_pes() < 2 || size > GET_SIZE_MAX) {
        if (shmem_my_pe() == 0)
            fprintf(stderr, "usage: oshrun -n 2 net_get_shmem [SIZE [ITERS]] (SIZE at most %u)\n",
                    GET_SIZE_MAX);
        shmem_finalize();
        return 2;
    }
    uint8_t *symmetric = shmem_malloc((size_t)size);
    if (symmetric == NULL)
        die("shmem_malloc failed");
    for (long i = 0; i < size; i++)
        symmetric[i] = (uint8_t)(i * 7 + 1);
    shmem_barrier_all();
    if (shmem_my_pe() == 1)
        reads(symmetric, (size_t)size, iters);
    shmem_barrier_all();
    shmem_free(symmetric);
    shmem_finalize();
    return 0;
}
