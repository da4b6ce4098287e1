/*
 * Tests of src/transport/shmring and src/transport/bell: the ring's
 * contract in one process, against a byte-exact model over many seeds,
 * across two processes with the doorbell, and against a peer that writes
 * headers that cannot be; the bell's wake-ups and timeouts.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ariadne.h"
#include "core/rng.h"
#include "test.h"
#include "transport/bell.h"
#include "transport/shmring.h"

#define RING_NS_PER_MS 1000000ull
#define RING_HEADER_SIZE 8u

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static uint64_t ring_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* A ring in memory of exactly its footprint, so ASan sees any overrun. */
static shmring_t *ring_new(uint64_t capacity)
{
    size_t size = shmring_footprint(capacity);
    void *memory = aligned_alloc(SHMRING_ALIGN, size);
    CHECK(memory != NULL);
    memset(memory, 0xa5, size); /* stale bytes, never to be read as records */
    CHECK_OK(shmring_init(memory, capacity));
    return memory;
}

/* The bytes of message `key`: a pure function of it, so the reader can
 * check contents without keeping a copy. */
static void ring_fill(uint8_t *bytes, size_t length, uint64_t key)
{
    rng_t rng = rng_seeded(key);
    for (size_t at = 0; at < length; at += 8) {
        uint64_t word = rng_next(&rng);
        memcpy(bytes + at, &word, length - at < 8 ? length - at : 8);
    }
}

static int ring_matches(const uint8_t *bytes, size_t length, uint64_t key)
{
    uint8_t expect[65536];
    if (length > sizeof expect)
        return 0;
    ring_fill(expect, length, key);
    return memcmp(bytes, expect, length) == 0;
}

static void ring_push_key(shmring_t *ring, size_t length, uint64_t key)
{
    uint8_t bytes[65536];
    CHECK(length <= sizeof bytes);
    ring_fill(bytes, length, key);
    CHECK_OK(shmring_push(ring, bytes, length));
}

/* Peeks, checks the message is `key` of `length`, and pops it. */
static void ring_pop_key(shmring_t *ring, size_t length, uint64_t key)
{
    const uint8_t *bytes = NULL;
    CHECK_INT(shmring_peek(ring, &bytes), ==, (long)length);
    CHECK(bytes >= ring->data && bytes + length <= ring->data + ring->capacity);
    CHECK(ring_matches(bytes, length, key));
    shmring_pop(ring);
}

static uint64_t ring_head(shmring_t *ring) { return atomic_load(&ring->head); }
static uint64_t ring_tail(shmring_t *ring) { return atomic_load(&ring->tail); }

/* ------------------------------------------------------------------------
 * shmring_basic
 * ------------------------------------------------------------------------ */

static void ring_basic_arguments(void)
{
    static uint8_t memory[SHMRING_ALIGN + sizeof(shmring_t) + 8192] __attribute__((aligned(64)));
    CHECK_INT(shmring_init(memory, 0), ==, ARI_EINVAL);
    CHECK_INT(shmring_init(memory, SHMRING_CAPACITY_MIN / 2), ==, ARI_EINVAL);
    CHECK_INT(shmring_init(memory, SHMRING_CAPACITY_MIN + 8), ==, ARI_EINVAL);
    CHECK_INT(shmring_init(memory, SHMRING_CAPACITY_MAX * 2), ==, ARI_EINVAL);
    CHECK_INT(shmring_init(memory + 8, SHMRING_CAPACITY_MIN), ==, ARI_EINVAL);
    CHECK_OK(shmring_init(memory, 8192));
    CHECK_U64(shmring_footprint(4096), ==, sizeof(shmring_t) + 4096);
    CHECK_U64(shmring_footprint(1u << 20) % 64, ==, 0);
    CHECK_U64(shmring_message_max(4096), ==, 1024);
    CHECK_U64(shmring_message_max(1u << 20), ==, 1u << 18);
}

/* Every length from 1 to the max, alone in the ring. */
static void ring_basic_each_length(shmring_t *ring)
{
    size_t max = shmring_message_max(ring->capacity);
    uint8_t bytes[1];
    const uint8_t *out = NULL;
    CHECK(shmring_empty(ring));
    CHECK_INT(shmring_peek(ring, &out), ==, 0);
    CHECK_INT(shmring_push(ring, bytes, 0), ==, ARI_EINVAL);
    CHECK_INT(shmring_push(ring, bytes, max + 1), ==, ARI_EINVAL);
    CHECK(!shmring_room(ring, 0) && !shmring_room(ring, max + 1));
    CHECK(shmring_empty(ring) && ring_head(ring) == 0);
    for (size_t length = 1; length <= max; length++) {
        CHECK(shmring_room(ring, length));
        ring_push_key(ring, length, length);
        CHECK(!shmring_empty(ring));
        ring_pop_key(ring, length, length);
        CHECK(shmring_empty(ring));
        CHECK_INT(shmring_peek(ring, &out), ==, 0);
    }
}

/* Fills the ring, checks EBUSY writes nothing, then drains in order. */
static void ring_basic_full(shmring_t *ring)
{
    uint64_t first = 1000, key = first;
    while (shmring_room(ring, 100))
        ring_push_key(ring, 100, key++);
    CHECK_U64(key - first, >=, ring->capacity / 112 - 1);
    static uint8_t before[sizeof(shmring_t) + 4096];
    CHECK(shmring_footprint(ring->capacity) <= sizeof before);
    memcpy(before, ring, shmring_footprint(ring->capacity));
    uint8_t bytes[100] = {0};
    CHECK_INT(shmring_push(ring, bytes, 100), ==, ARI_EBUSY);
    CHECK(memcmp(before, ring, shmring_footprint(ring->capacity)) == 0);
    for (uint64_t k = first; k < key; k++)
        ring_pop_key(ring, 100, k);
    CHECK(shmring_empty(ring));
    CHECK_U64(ring_head(ring), ==, ring_tail(ring));
}

/* Records that end exactly at the end of the area need no wrap. */
static void ring_basic_exact_fit(void)
{
    shmring_t *ring = ring_new(4096);
    for (uint64_t k = 0; k < 4; k++)
        ring_push_key(ring, 1016, k); /* records of 1024 bytes */
    CHECK_U64(ring_head(ring), ==, 4096);
    CHECK(!shmring_room(ring, 1));
    for (uint64_t k = 0; k < 4; k++)
        ring_pop_key(ring, 1016, k);
    ring_push_key(ring, 1024, 9); /* from offset 0 again, no wrap */
    CHECK_U64(ring_head(ring), ==, 4096 + 1032);
    ring_pop_key(ring, 1024, 9);
    free(ring);
}

/* Many laps with lengths that do not divide the capacity. */
static void ring_basic_laps(shmring_t *ring)
{
    rng_t rng = rng_seeded(7);
    size_t max = shmring_message_max(ring->capacity);
    uint64_t pushed = 0, popped = 0, start = ring_head(ring);
    /* More than the ring can hold: it takes capacity / 16 records at most. */
    static size_t lengths[8192];
    CHECK_U64(ring->capacity / 16, <, 8192);
    while (ring_head(ring) - start < 200 * ring->capacity) {
        size_t length = 1 + (size_t)rng_below(&rng, rng_below(&rng, 2) ? 64 : max);
        if (shmring_room(ring, length)) {
            lengths[pushed % 8192] = length;
            ring_push_key(ring, length, pushed++);
        }
        while (popped < pushed && (rng_below(&rng, 3) == 0 || !shmring_room(ring, length))) {
            ring_pop_key(ring, lengths[popped % 8192], popped);
            popped++;
        }
    }
    for (; popped < pushed; popped++)
        ring_pop_key(ring, lengths[popped % 8192], popped);
    CHECK(shmring_empty(ring));
}

TEST_FN(shmring_basic)
{
    ring_basic_arguments();
    shmring_t *ring = ring_new(4096);
    ring_basic_each_length(ring);
    ring_basic_full(ring);
    ring_basic_laps(ring);
    ring_basic_full(ring); /* again, now from the middle of the area */
    free(ring);
    ring = ring_new(1u << 16);
    ring_basic_laps(ring);
    free(ring);
    ring_basic_exact_fit();
}

/* ------------------------------------------------------------------------
 * shmring_property: random interleavings against a byte-exact model
 * ------------------------------------------------------------------------ */

#define PROP_SEEDS 200u
#define PROP_STEPS 3000u
#define PROP_CAPACITY_MAX 16384u
#define PROP_ENTRIES_MAX (PROP_CAPACITY_MAX / 16u) /* the shortest record is 16 bytes */

typedef struct {
    uint64_t key;
    uint32_t length;
    uint64_t size; /* bytes it took: its record and the wrap before it */
} prop_entry_t;

typedef struct {
    uint64_t capacity, head, tail;
    prop_entry_t entries[PROP_ENTRIES_MAX];
    uint32_t first, count;
} prop_model_t;

/* What the header promises a push costs: the record, padded to 8, plus a
 * wrap filling the rest of the area if the record would cross the end. */
static uint64_t prop_model_size(const prop_model_t *model, uint64_t length)
{
    uint64_t record = RING_HEADER_SIZE + ((length + 7) & ~7ull);
    uint64_t to_end = model->capacity - (model->head & (model->capacity - 1));
    return record <= to_end ? record : to_end + record;
}

#define PROP_EXPECT(cond, ...)                                                        \
    do {                                                                              \
        if (!(cond)) {                                                                \
            snprintf(why, why_size, __VA_ARGS__);                                     \
            return 0;                                                                 \
        }                                                                             \
    } while (0)

static size_t prop_length(rng_t *rng, size_t max)
{
    switch (rng_below(rng, 4)) {
    case 0: return 1 + (size_t)rng_below(rng, 16);
    case 1: return 1 + (size_t)rng_below(rng, 200);
    case 2: return 1 + (size_t)rng_below(rng, max);
    default: return max - (size_t)rng_below(rng, 9);
    }
}

static int prop_push(shmring_t *ring, prop_model_t *model, rng_t *rng, uint64_t step,
                     char *why, size_t why_size)
{
    size_t max = shmring_message_max(model->capacity);
    size_t length = prop_length(rng, max);
    uint64_t size = prop_model_size(model, length);
    int fits = size <= model->capacity - (model->head - model->tail);
    PROP_EXPECT(shmring_room(ring, length) == fits, "step %llu: room(%zu) is %d, model %d",
                (unsigned long long)step, length, shmring_room(ring, length), fits);
    uint8_t bytes[PROP_CAPACITY_MAX / 4];
    ring_fill(bytes, length, step);
    int status = shmring_push(ring, bytes, length);
    PROP_EXPECT(status == (fits ? ARI_OK : ARI_EBUSY), "step %llu: push(%zu) gave %d, model %s",
                (unsigned long long)step, length, status, fits ? "ok" : "busy");
    if (fits) {
        prop_entry_t *entry = &model->entries[(model->first + model->count++) % PROP_ENTRIES_MAX];
        *entry = (prop_entry_t){.key = step, .length = (uint32_t)length, .size = size};
        model->head += size;
    }
    PROP_EXPECT(ring_head(ring) == model->head, "step %llu: head %llu, model %llu",
                (unsigned long long)step, (unsigned long long)ring_head(ring),
                (unsigned long long)model->head);
    return 1;
}

static int prop_pop(shmring_t *ring, prop_model_t *model, uint64_t step, char *why,
                    size_t why_size)
{
    const uint8_t *bytes = NULL;
    long length = shmring_peek(ring, &bytes);
    PROP_EXPECT(shmring_empty(ring) == (model->count == 0), "step %llu: empty() disagrees",
                (unsigned long long)step);
    if (model->count == 0) {
        PROP_EXPECT(length == 0, "step %llu: peek on empty gave %ld", (unsigned long long)step,
                    length);
        return 1;
    }
    prop_entry_t *entry = &model->entries[model->first];
    PROP_EXPECT(length == (long)entry->length, "step %llu: peek gave %ld, model %u",
                (unsigned long long)step, length, entry->length);
    PROP_EXPECT(bytes >= ring->data && bytes + length <= ring->data + model->capacity,
                "step %llu: message outside the data area", (unsigned long long)step);
    PROP_EXPECT(ring_matches(bytes, (size_t)length, entry->key),
                "step %llu: contents of message %llu differ", (unsigned long long)step,
                (unsigned long long)entry->key);
    shmring_pop(ring);
    model->tail += entry->size;
    model->first = (model->first + 1) % PROP_ENTRIES_MAX;
    model->count--;
    PROP_EXPECT(ring_tail(ring) == model->tail, "step %llu: tail %llu, model %llu",
                (unsigned long long)step, (unsigned long long)ring_tail(ring),
                (unsigned long long)model->tail);
    return 1;
}

/* One seed: a capacity, a starting position (some just below 2^64, so the
 * counters overflow mid-run) and a producer bias; 0 and `why` on failure. */
static int prop_run(uint64_t seed, char *why, size_t why_size)
{
    rng_t rng = rng_seeded(seed);
    static prop_model_t model;
    memset(&model, 0, sizeof model);
    model.capacity = 4096u << rng_below(&rng, 3);
    uint64_t start = rng_below(&rng, model.capacity / 8) * 8;
    if (seed % 4 == 0)
        start -= 8 * model.capacity;
    model.head = model.tail = start;
    shmring_t *ring = ring_new(model.capacity);
    atomic_store(&ring->head, start);
    atomic_store(&ring->tail, start);
    uint64_t push_percent = 25 + 25 * rng_below(&rng, 3);
    int ok = 1;
    for (uint64_t step = 0; ok && step < PROP_STEPS; step++) {
        uint64_t dice = rng_below(&rng, 100);
        if (dice == 0) {
            uint8_t byte = 0;
            size_t length = rng_below(&rng, 2) ? shmring_message_max(model.capacity) + 1 : 0;
            ok = shmring_push(ring, &byte, length) == ARI_EINVAL;
            if (!ok)
                snprintf(why, why_size, "step %llu: push(%zu) was not EINVAL",
                         (unsigned long long)step, length);
        } else if (dice <= push_percent) {
            ok = prop_push(ring, &model, &rng, step, why, why_size);
        } else {
            ok = prop_pop(ring, &model, step, why, why_size);
        }
    }
    while (ok && model.count > 0)
        ok = prop_pop(ring, &model, PROP_STEPS, why, why_size);
    free(ring);
    return ok;
}

TEST_FN(shmring_property)
{
    char why[256];
    uint64_t first = 1, last = PROP_SEEDS;
    const char *only = getenv("ARI_RING_SEED");
    if (only != NULL)
        first = last = strtoull(only, NULL, 10);
    for (uint64_t seed = first; seed <= last; seed++) {
        if (!prop_run(seed, why, sizeof why))
            test_fail(__FILE__, __LINE__,
                      "seed %llu: %s\nreplay: ARI_RING_SEED=%llu build/run_tests --one "
                      "shmring_property",
                      (unsigned long long)seed, why, (unsigned long long)seed);
    }
}

/* ------------------------------------------------------------------------
 * shmring_cross_process: a forked producer, the bell for idle waits
 * ------------------------------------------------------------------------ */

#define CROSS_MESSAGES 200000u
#define CROSS_CAPACITY (1u << 16)
#define CROSS_PAUSE_EVERY 4000u      /* the producer naps so the consumer sleeps */
#define CROSS_PAUSE_US 5000u
#define CROSS_LIMIT_NS (20000ull * RING_NS_PER_MS)
#define CROSS_WAIT_NS (100ull * RING_NS_PER_MS)
#define CROSS_SLEEP_LONG_NS (50ull * RING_NS_PER_MS) /* ten times a nap */
#define CROSS_SLEEPS_LONG_MAX 10u

typedef struct {
    bell_t bell;
    uint8_t pad[SHMRING_ALIGN - sizeof(bell_t)];
    /* the ring follows, 64-aligned */
} cross_shared_t;

/* Message n: its length varies, some are the longest the ring takes; the
 * first 8 bytes are its sequence number, the rest a function of it. */
static size_t cross_message(uint64_t n, uint8_t *bytes)
{
    rng_t rng = rng_seeded(n);
    size_t length = n % 997 == 0 ? shmring_message_max(CROSS_CAPACITY)
                                 : 8 + (size_t)rng_below(&rng, 248);
    memcpy(bytes, &n, sizeof n);
    ring_fill(bytes + 8, length - 8, n);
    return length;
}

static void cross_produce(cross_shared_t *shared, shmring_t *ring, pid_t parent)
{
    /* If the test dies, so does its producer. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(3);
    static uint8_t bytes[CROSS_CAPACITY / 4];
    uint64_t deadline = ring_now_ns() + CROSS_LIMIT_NS;
    for (uint64_t n = 0; n < CROSS_MESSAGES; n++) {
        size_t length = cross_message(n, bytes);
        for (int spins = 0; shmring_push(ring, bytes, length) == ARI_EBUSY; spins++) {
            if (spins % 64 == 63)
                sched_yield();
            if (spins % 1024 == 1023 && ring_now_ns() > deadline)
                _exit(2);
        }
        bell_ring(&shared->bell);
        if (n % CROSS_PAUSE_EVERY == CROSS_PAUSE_EVERY - 1)
            usleep(CROSS_PAUSE_US);
    }
    _exit(0);
}

typedef struct {
    uint64_t received, sleeps;
    uint64_t sleeps_long; /* a wake-up that came late or not at all */
} cross_counts_t;

static void cross_consume(cross_shared_t *shared, shmring_t *ring, pid_t child,
                          cross_counts_t *counts)
{
    static uint8_t expect[CROSS_CAPACITY / 4];
    uint64_t start = ring_now_ns();
    while (counts->received < CROSS_MESSAGES) {
        if (ring_now_ns() - start > CROSS_LIMIT_NS) {
            kill(child, SIGKILL);
            test_fail(__FILE__, __LINE__, "only %llu of %u messages after 20 s",
                      (unsigned long long)counts->received, CROSS_MESSAGES);
        }
        const uint8_t *bytes = NULL;
        long length = shmring_peek(ring, &bytes);
        CHECK_INT(length, >=, 0);
        if (length == 0) {
            /* Read the bell, look again, and only then sleep. */
            uint32_t seen = bell_read(&shared->bell);
            if (!shmring_empty(ring))
                continue;
            counts->sleeps++;
            uint64_t slept = ring_now_ns();
            bell_wait(&shared->bell, seen, CROSS_WAIT_NS);
            if (ring_now_ns() - slept >= CROSS_SLEEP_LONG_NS)
                counts->sleeps_long++;
            continue;
        }
        size_t expect_length = cross_message(counts->received, expect);
        CHECK_INT(length, ==, (long)expect_length);
        CHECK(memcmp(bytes, expect, expect_length) == 0);
        shmring_pop(ring);
        counts->received++;
    }
}

TEST_FN(shmring_cross_process)
{
    size_t size = sizeof(cross_shared_t) + shmring_footprint(CROSS_CAPACITY);
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(base != MAP_FAILED);
    cross_shared_t *shared = base;
    shmring_t *ring = (shmring_t *)(shared + 1);
    bell_init(&shared->bell);
    CHECK_OK(shmring_init(ring, CROSS_CAPACITY));
    fflush(NULL);
    pid_t parent = getpid();
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0)
        cross_produce(shared, ring, parent);
    cross_counts_t counts = {0};
    uint64_t start = ring_now_ns();
    cross_consume(shared, ring, child, &counts);
    int status = 0;
    CHECK_INT(waitpid(child, &status, 0), ==, child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(shmring_empty(ring));
    printf("%u messages in %.3f s; consumer slept %llu times, %llu of them long\n",
           CROSS_MESSAGES, (double)(ring_now_ns() - start) / 1e9,
           (unsigned long long)counts.sleeps, (unsigned long long)counts.sleeps_long);
    /* The producer naps 50 times, so the consumer must have slept; a bell
     * that lost wake-ups would let most of those sleeps run to the timeout
     * (the producer's next ring only shows once it does). */
    CHECK_U64(counts.sleeps, >, 0);
    CHECK_U64(counts.sleeps_long, <=, CROSS_SLEEPS_LONG_MAX);
    CHECK_INT(atomic_load(&shared->bell.sleepers), ==, 0);
    munmap(base, size);
}

/* ------------------------------------------------------------------------
 * shmring_corrupt: a peer that writes what cannot be
 * ------------------------------------------------------------------------ */

static void corrupt_header(shmring_t *ring, uint64_t offset, uint32_t length, uint32_t tag)
{
    memcpy(ring->data + offset, &length, 4);
    memcpy(ring->data + offset + 4, &tag, 4);
}

static void corrupt_positions(shmring_t *ring, uint64_t tail, uint64_t head)
{
    atomic_store(&ring->tail, tail);
    atomic_store(&ring->head, head);
}

/* Peek must say ARI_ELINK, and pop must then consume nothing. */
static void corrupt_expect_elink(shmring_t *ring, int line)
{
    const uint8_t *bytes = NULL;
    uint64_t tail = ring_tail(ring);
    long status = shmring_peek(ring, &bytes);
    if (status != ARI_ELINK)
        test_fail(__FILE__, line, "peek gave %ld, not ARI_ELINK", status);
    shmring_pop(ring);
    if (ring_tail(ring) != tail)
        test_fail(__FILE__, line, "pop moved tail past a bad record");
}
#define CORRUPT_EXPECT_ELINK(ring) corrupt_expect_elink(ring, __LINE__)

/* The two tags, learnt from what the producer writes. */
static void corrupt_learn_tags(uint32_t *message_tag, uint32_t *wrap_tag)
{
    shmring_t *ring = ring_new(4096);
    ring_push_key(ring, 10, 1);
    uint32_t field[2];
    memcpy(field, ring->data, 8);
    CHECK_INT(field[0], ==, 10);
    CHECK(ring_matches(ring->data + 8, 10, 1)); /* the documented layout */
    *message_tag = field[1];
    ring_pop_key(ring, 10, 1);
    for (uint64_t k = 0; k < 4; k++) { /* to offset 24 + 4 * 1000 = 4024 */
        ring_push_key(ring, 992, k);
        ring_pop_key(ring, 992, k);
    }
    ring_push_key(ring, 100, 5); /* 112 bytes do not fit the last 72 */
    memcpy(field, ring->data + 4024, 8);
    CHECK_INT(field[0], ==, 0);
    *wrap_tag = field[1];
    CHECK(*wrap_tag != *message_tag);
    CHECK_U64(ring_head(ring), ==, 4096 + 112);
    ring_pop_key(ring, 100, 5);
    free(ring);
}

static void corrupt_message_headers(shmring_t *ring, uint32_t tag)
{
    const uint8_t *bytes = NULL;
    corrupt_positions(ring, 0, 24);
    corrupt_header(ring, 0, 10, tag);
    CHECK_INT(shmring_peek(ring, &bytes), ==, 10); /* the control: a good record */
    corrupt_header(ring, 0, 1025, tag);            /* above message_max */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_positions(ring, 0, 2048);              /* ...even with the bytes there */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_header(ring, 0, 1024, tag);
    CHECK_INT(shmring_peek(ring, &bytes), ==, 1024);
    corrupt_positions(ring, 0, 24);
    corrupt_header(ring, 0, UINT32_MAX, tag);
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_header(ring, 0, 0, tag);               /* zero length, not a wrap */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_header(ring, 0, 17, tag);              /* longer than what head covers */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_header(ring, 0, 10, 0x12345678u);      /* unknown tag */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_header(ring, 0, 0, 0);                 /* zeroed memory */
    CORRUPT_EXPECT_ELINK(ring);
    /* A record crossing the end of the area, not preceded by a wrap. */
    corrupt_positions(ring, 4064, 4064 + 112);
    corrupt_header(ring, 4064, 100, tag);
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_header(ring, 4064, 24, tag);           /* the control: 32 bytes fit */
    CHECK_INT(shmring_peek(ring, &bytes), ==, 24);
}

static void corrupt_positions_bad(shmring_t *ring, uint32_t tag)
{
    corrupt_header(ring, 0, 10, tag);
    corrupt_positions(ring, 0, 4096 + 8);          /* head ahead by more than capacity */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_positions(ring, 0, UINT64_MAX - 7);
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_positions(ring, 48, 24);               /* head behind tail */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_positions(ring, 0, 28);                /* not on a record boundary */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_positions(ring, 4, 28);
    CORRUPT_EXPECT_ELINK(ring);
    /* A producer that sees a broken tail has no room and writes nothing. */
    uint8_t byte = 1;
    corrupt_positions(ring, 32, 24);
    CHECK_INT(shmring_push(ring, &byte, 1), ==, ARI_EBUSY);
    CHECK(!shmring_room(ring, 1));
    corrupt_positions(ring, 0, 4096 + 64);
    CHECK_INT(shmring_push(ring, &byte, 1), ==, ARI_EBUSY);
    CHECK_U64(ring_head(ring), ==, 4096 + 64);
}

static void corrupt_wraps(shmring_t *ring, uint32_t tag, uint32_t wrap)
{
    const uint8_t *bytes = NULL;
    corrupt_positions(ring, 4032, 4096 + 24);
    corrupt_header(ring, 4032, 0, wrap);
    corrupt_header(ring, 0, 10, tag);
    CHECK_INT(shmring_peek(ring, &bytes), ==, 10); /* the control: a good wrap */
    CHECK(bytes == ring->data + 8);
    corrupt_header(ring, 4032, 8, wrap);           /* a wrap with a length */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_header(ring, 4032, 0, wrap);
    corrupt_header(ring, 0, 0, wrap);              /* a wrap after a wrap */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_header(ring, 0, 100, tag);             /* what follows overruns head */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_header(ring, 0, 10, tag);
    corrupt_positions(ring, 4032, 4096);           /* a wrap with nothing after it */
    CORRUPT_EXPECT_ELINK(ring);
    corrupt_positions(ring, 4032, 4088);           /* head inside the wrap */
    CORRUPT_EXPECT_ELINK(ring);
}

/* The producer rewrites a header after peek: pop consumes nothing. */
static void corrupt_after_peek(shmring_t *ring, uint32_t tag)
{
    const uint8_t *bytes = NULL;
    corrupt_positions(ring, 0, 24);
    corrupt_header(ring, 0, 10, tag);
    CHECK_INT(shmring_peek(ring, &bytes), ==, 10);
    corrupt_header(ring, 0, 5000, tag);
    shmring_pop(ring);
    CHECK_U64(ring_tail(ring), ==, 0);
    CORRUPT_EXPECT_ELINK(ring);
    /* A capacity field that is no capacity is refused too. */
    corrupt_header(ring, 0, 10, tag);
    ring->capacity = 5000;
    CORRUPT_EXPECT_ELINK(ring);
    ring->capacity = 4096;
    CHECK_INT(shmring_peek(ring, &bytes), ==, 10);
}

static void corrupt_check_headers(shmring_t *ring)
{
    corrupt_positions(ring, 64, 64 + 4096);
    CHECK_OK(shmring_check(ring, 4096));
    CHECK_INT(shmring_check(ring, 8192), ==, ARI_ELINK); /* another capacity */
    CHECK_INT(shmring_check(ring, 4097), ==, ARI_EINVAL);
    corrupt_positions(ring, 64, 64 + 4096 + 8);
    CHECK_INT(shmring_check(ring, 4096), ==, ARI_ELINK);
    corrupt_positions(ring, 64, 56);
    CHECK_INT(shmring_check(ring, 4096), ==, ARI_ELINK);
    corrupt_positions(ring, 64, 68);
    CHECK_INT(shmring_check(ring, 4096), ==, ARI_ELINK);
    corrupt_positions(ring, 0, 0);
    CHECK_OK(shmring_check(ring, 4096));
    ring->magic ^= 1;
    CHECK_INT(shmring_check(ring, 4096), ==, ARI_ELINK);
    ring->magic ^= 1;
    ring->capacity = 8192;
    CHECK_INT(shmring_check(ring, 4096), ==, ARI_ELINK);
    CHECK_INT(shmring_check(ring, 8192), ==, ARI_OK);
    ring->capacity = 4096;
    CHECK_OK(shmring_check(ring, 4096));
    static uint8_t zeroed[sizeof(shmring_t) + 4096] __attribute__((aligned(64)));
    CHECK_INT(shmring_check((const shmring_t *)zeroed, 4096), ==, ARI_ELINK);
}

TEST_FN(shmring_corrupt)
{
    uint32_t tag = 0, wrap = 0;
    corrupt_learn_tags(&tag, &wrap);
    shmring_t *ring = ring_new(4096);
    corrupt_message_headers(ring, tag);
    corrupt_positions_bad(ring, tag);
    corrupt_wraps(ring, tag, wrap);
    corrupt_after_peek(ring, tag);
    corrupt_check_headers(ring);
    free(ring);
}

/* ------------------------------------------------------------------------
 * bell_wait_wakes
 * ------------------------------------------------------------------------ */

#define BELL_LONG_NS (10000ull * RING_NS_PER_MS)
#define BELL_SHORT_NS (200ull * RING_NS_PER_MS)
#define BELL_SLACK_NS (2000ull * RING_NS_PER_MS)

/* Waits (bounded) until someone sleeps on the bell. */
static void bell_await_sleeper(bell_t *bell)
{
    uint64_t start = ring_now_ns();
    while (atomic_load(&bell->sleepers) == 0) {
        CHECK_U64(ring_now_ns() - start, <, 5000 * RING_NS_PER_MS);
        usleep(1000);
    }
    usleep(20000); /* likely in FUTEX_WAIT by now; correct either way */
}

/* Another process sleeps on a bell in shared memory; we ring it. */
static void bell_across_processes(void)
{
    bell_t *bell = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(bell != MAP_FAILED);
    bell_init(bell);
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(bell_wait(bell, bell_read(bell), BELL_LONG_NS) == 1 ? 0 : 1);
    }
    bell_await_sleeper(bell);
    uint64_t rung = ring_now_ns();
    bell_ring(bell);
    int status = 0;
    CHECK_INT(waitpid(child, &status, 0), ==, child);
    CHECK_U64(ring_now_ns() - rung, <, BELL_SLACK_NS);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_INT(atomic_load(&bell->sleepers), ==, 0);
    munmap(bell, 4096);
}

typedef struct {
    bell_t *bell;
    uint64_t timeout_ns;
    int result;
    uint64_t elapsed_ns;
} bell_waiter_t;

static void *bell_waiter_main(void *arg)
{
    bell_waiter_t *waiter = arg;
    uint64_t start = ring_now_ns();
    waiter->result = bell_wait(waiter->bell, bell_read(waiter->bell), waiter->timeout_ns);
    waiter->elapsed_ns = ring_now_ns() - start;
    return NULL;
}

static void bell_on_signal(int signal_number) { (void)signal_number; }

/* A thread of this process sleeps; a signal does not end its wait early,
 * a ring does. */
static void bell_across_threads(void)
{
    struct sigaction action = {.sa_handler = bell_on_signal}; /* no SA_RESTART: EINTR */
    sigemptyset(&action.sa_mask);
    CHECK_INT(sigaction(SIGUSR1, &action, NULL), ==, 0);
    bell_t bell;
    bell_init(&bell);
    bell_waiter_t waiter = {.bell = &bell, .timeout_ns = BELL_LONG_NS, .result = -1};
    pthread_t thread;
    CHECK_INT(pthread_create(&thread, NULL, bell_waiter_main, &waiter), ==, 0);
    bell_await_sleeper(&bell);
    CHECK_INT(pthread_kill(thread, SIGUSR1), ==, 0);
    usleep(50000);
    CHECK_INT(atomic_load(&bell.sleepers), ==, 1); /* still waiting after the signal */
    bell_ring(&bell);
    CHECK_INT(pthread_join(thread, NULL), ==, 0);
    CHECK_INT(waiter.result, ==, 1);
    CHECK_U64(waiter.elapsed_ns, <, BELL_LONG_NS / 2);

    /* A signal in a wait that then times out: still the whole timeout. */
    waiter = (bell_waiter_t){.bell = &bell, .timeout_ns = BELL_SHORT_NS, .result = -1};
    CHECK_INT(pthread_create(&thread, NULL, bell_waiter_main, &waiter), ==, 0);
    usleep(50000);
    pthread_kill(thread, SIGUSR1);
    CHECK_INT(pthread_join(thread, NULL), ==, 0);
    CHECK_INT(waiter.result, ==, 0);
    CHECK_U64(waiter.elapsed_ns, >=, BELL_SHORT_NS);
    CHECK_U64(waiter.elapsed_ns, <, BELL_SHORT_NS + BELL_SLACK_NS);
}

static void bell_timeouts(void)
{
    bell_t bell;
    bell_init(&bell);
    uint32_t seen = bell_read(&bell);
    uint64_t start = ring_now_ns();
    CHECK_INT(bell_wait(&bell, seen, BELL_SHORT_NS), ==, 0);
    uint64_t elapsed = ring_now_ns() - start;
    CHECK_U64(elapsed, >=, BELL_SHORT_NS);
    CHECK_U64(elapsed, <, BELL_SHORT_NS + BELL_SLACK_NS);
    CHECK_INT(atomic_load(&bell.sleepers), ==, 0);
    /* Timeout 0 returns at once. */
    start = ring_now_ns();
    CHECK_INT(bell_wait(&bell, seen, 0), ==, 0);
    CHECK_U64(ring_now_ns() - start, <, BELL_SLACK_NS);
    /* A ring between the read and the wait is not lost. */
    bell_ring(&bell);
    CHECK(bell_read(&bell) != seen);
    start = ring_now_ns();
    CHECK_INT(bell_wait(&bell, seen, BELL_LONG_NS), ==, 1);
    CHECK_U64(ring_now_ns() - start, <, BELL_SLACK_NS);
    CHECK_INT(bell_wait(&bell, seen, 0), ==, 1);
    CHECK_INT(atomic_load(&bell.sleepers), ==, 0);
}

TEST_FN(bell_wait_wakes)
{
    bell_timeouts();
    bell_across_processes();
    bell_across_threads();
}
