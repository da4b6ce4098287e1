/*
 * rng — a small seeded generator (splitmix64) for the core's deterministic
 * choices, e.g. building random:N:k:SEED. The core never calls rand(): every
 * random value is a pure function of a seed the caller gave.
 */
#ifndef ARIADNE_CORE_RNG_H
#define ARIADNE_CORE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} rng_t;

static inline rng_t rng_seeded(uint64_t seed)
{
    rng_t rng = {seed ^ 0x6a09e667f3bcc909ull};
    return rng;
}

static inline uint64_t rng_next(rng_t *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound > 0, without modulo bias (Lemire). */
static inline uint64_t rng_below(rng_t *rng, uint64_t bound)
{
    __uint128_t m = (__uint128_t)rng_next(rng) * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = -bound % bound;
        while (low < threshold) {
            m = (__uint128_t)rng_next(rng) * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

#endif /* ARIADNE_CORE_RNG_H */
