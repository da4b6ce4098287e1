/*
 * test.h — what a test file needs: CHECK macros that stop the test with the
 * failing expression and its values. Tests are registered in test_list.h.
 */
#ifndef ARIADNE_TEST_H
#define ARIADNE_TEST_H

#include <stdint.h>
#include <string.h>

#define TEST_FN(name) void test_##name(void)

/* Prototypes of every registered test. */
#define TEST(name, timeout_s) TEST_FN(name);
#include "test_list.h"
#undef TEST

/* Prints "file:line: message" and ends the test as failed. */
__attribute__((noreturn, format(printf, 3, 4))) void test_fail(const char *file, int line,
                                                              const char *fmt, ...);

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond))                                                                  \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                        \
    } while (0)

#define CHECK_INT(a, op, b)                                                           \
    do {                                                                              \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);               \
        if (!(check_a_ op check_b_))                                                  \
            test_fail(__FILE__, __LINE__, "CHECK_INT(%s %s %s): %lld vs %lld", #a, #op, \
                      #b, check_a_, check_b_);                                        \
    } while (0)

#define CHECK_U64(a, op, b)                                                           \
    do {                                                                              \
        unsigned long long check_a_ = (unsigned long long)(a),                        \
                           check_b_ = (unsigned long long)(b);                        \
        if (!(check_a_ op check_b_))                                                  \
            test_fail(__FILE__, __LINE__, "CHECK_U64(%s %s %s): %#llx vs %#llx", #a,   \
                      #op, #b, check_a_, check_b_);                                   \
    } while (0)

#define CHECK_STR(a, b)                                                               \
    do {                                                                              \
        const char *check_a_ = (a), *check_b_ = (b);                                  \
        if (strcmp(check_a_, check_b_) != 0)                                          \
            test_fail(__FILE__, __LINE__, "CHECK_STR(%s, %s): \"%s\" vs \"%s\"", #a, #b, \
                      check_a_, check_b_);                                            \
    } while (0)

/* Checks a status is ARI_OK, printing its name if not. */
#define CHECK_OK(expr)                                                                \
    do {                                                                              \
        int check_s_ = (expr);                                                        \
        if (check_s_ != 0)                                                            \
            test_fail(__FILE__, __LINE__, "CHECK_OK(%s): %d (%s)", #expr, check_s_,   \
                      ari_strerror(check_s_));                                        \
    } while (0)

/* A small deterministic generator for tests that want varied inputs. */
static inline uint64_t test_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif /* ARIADNE_TEST_H */
