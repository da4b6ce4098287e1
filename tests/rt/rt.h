/*
 * rt.h — what the runtime's test programs in tests/rt share. They are built
 * like a user's program, through pkg-config, and use only the public header
 * and libc: a failed check prints where, what and the runtime's last error,
 * then exits 1, so `make check` (tests/test_runtime.c) sees the line.
 *
 * Include it first: it asks for the POSIX and GNU declarations (kill,
 * clock_gettime, pthreads) that -std=c11 alone hides.
 */
#ifndef ARIADNE_TESTS_RT_H
#define ARIADNE_TESTS_RT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ariadne.h>

/* Prints "file:line: node N: message" with the runtime's last error and
 * exits 1. Node -1: before ari_init. */
#define RT_FAIL(...)                                                                       \
    do {                                                                                   \
        fprintf(stderr, "%s:%d: node %d: ", __FILE__, __LINE__, rt_node());               \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fprintf(stderr, " (ari_errno: %s)\n", ari_strerror(ari_errno()));                 \
        fflush(NULL);                                                                      \
        exit(1);                                                                           \
    } while (0)

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond))                                                                       \
            RT_FAIL("CHECK(%s) failed", #cond);                                            \
    } while (0)

/* A call that returns a status must return ARI_OK. */
#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        int rt_status_ = (expr);                                                           \
        if (rt_status_ != ARI_OK)                                                          \
            RT_FAIL("%s returned %d: %s", #expr, rt_status_, ari_strerror(rt_status_));   \
    } while (0)

/* A call that returns a status must fail with `want`, and ari_errno agree. */
#define CHECK_ERR(expr, want)                                                              \
    do {                                                                                   \
        int rt_status_ = (expr);                                                           \
        if (rt_status_ != (want) || ari_errno() != (want))                                 \
            RT_FAIL("%s returned %d (%s), ari_errno %d, want %d (%s)", #expr, rt_status_,  \
                    ari_strerror(rt_status_), ari_errno(), (int)(want),                    \
                    ari_strerror(want));                                                   \
    } while (0)

/* A call that returns a pointer must return NULL with ari_errno `want`. */
#define CHECK_NULL(expr, want)                                                             \
    do {                                                                                   \
        const void *rt_pointer_ = (expr);                                                  \
        if (rt_pointer_ != NULL || ari_errno() != (want))                                  \
            RT_FAIL("%s returned %p, ari_errno %d (%s), want NULL and %d (%s)", #expr,     \
                    rt_pointer_, ari_errno(), ari_strerror(ari_errno()), (int)(want),      \
                    ari_strerror(want));                                                   \
    } while (0)

#define CHECK_U64(a, op, b)                                                                \
    do {                                                                                   \
        unsigned long long rt_a_ = (unsigned long long)(a), rt_b_ = (unsigned long long)(b); \
        if (!(rt_a_ op rt_b_))                                                             \
            RT_FAIL("CHECK_U64(%s %s %s): %llu vs %llu", #a, #op, #b, rt_a_, rt_b_);       \
    } while (0)

/* This node's id, or -1 before ari_init (ari_node_id says 0 then). */
static bool rt_joined;
static inline int rt_node(void) { return rt_joined ? ari_node_id() : -1; }

static inline void rt_init(int *argc, char ***argv)
{
    CHECK_OK(ari_init(argc, argv));
    rt_joined = true;
}

static inline void rt_finalize(void)
{
    CHECK_OK(ari_finalize());
    rt_joined = false;
}

static inline double rt_now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Polls a word of global memory with plain loads until it holds `want`,
 * for at most `seconds`. Returns whether it did; *seen_out gets the last
 * value read. Replicas are updated asynchronously: this is how a reader
 * waits for an update it knows is coming. */
static inline bool rt_wait_u64(const volatile uint64_t *word, uint64_t want, double seconds,
                               uint64_t *seen_out)
{
    double deadline = rt_now_s() + seconds;
    uint64_t seen = *word;
    for (uint64_t polls = 0; seen != want; polls++) {
        if ((polls & 63) == 0) {
            if (rt_now_s() > deadline)
                break;
            sched_yield(); /* nodes may outnumber the cores */
        }
        seen = *word;
    }
    if (seen_out != NULL)
        *seen_out = seen;
    return seen == want;
}

/* A checked argument: a whole number in [min, max] or the usage error. */
static inline uint64_t rt_arg_u64(int argc, char **argv, int at, uint64_t fallback, uint64_t min,
                                  uint64_t max)
{
    if (at >= argc)
        return fallback;
    char *end;
    unsigned long long value = strtoull(argv[at], &end, 10);
    if (end == argv[at] || *end != '\0' || value < min || value > max) {
        fprintf(stderr, "rt_check: '%s' must be a whole number from %llu to %llu\n", argv[at],
                (unsigned long long)min, (unsigned long long)max);
        exit(2);
    }
    return value;
}

#endif /* ARIADNE_TESTS_RT_H */
