/*
 * Tests of the ownership protocol's tables: src/core/arbiter (queue order,
 * pins) and src/core/crumb (waiter records), against simple models.
 */
#include <stdlib.h>

#include "core/arbiter.h"
#include "core/crumb.h"
#include "core/gva.h"
#include "test.h"

static ari_gva_t own_test_page(uint32_t n)
{
    gva_fields_t f = {.machine = n % 7, .offset = (uint64_t)(n / 7) << GVA_PAGE_SHIFT};
    return gva_make(&f);
}

/* Arrival order first; in one batch priority, then the longest waiting,
 * then the lower port. */
TEST_FN(arbiter_order)
{
    arbiter_t *arbiter;
    CHECK_OK(arbiter_create(4, 8, &arbiter));
    arbiter_page_t *state = arbiter_get(arbiter, own_test_page(1));
    CHECK(state != NULL);
    uint32_t position;
    arbiter_waiter_t w = {.origin = 10, .seq = 1, .arrival_ns = 5, .kind = MSG_ACQ_OWN};
    CHECK_OK(arbiter_enqueue(arbiter, state, &w, &position));
    CHECK_INT(position, ==, 1);
    /* Same batch (time 9): 11 low priority, 12 high priority, 13 high
     * priority but younger, 14 like 12 on a higher port. */
    arbiter_waiter_t batch[4] = {
        {.origin = 11, .arrival_ns = 9, .priority = 0, .timestamp = 1, .port = 0},
        {.origin = 12, .arrival_ns = 9, .priority = 5, .timestamp = 2, .port = 1},
        {.origin = 13, .arrival_ns = 9, .priority = 5, .timestamp = 3, .port = 0},
        {.origin = 14, .arrival_ns = 9, .priority = 5, .timestamp = 2, .port = 2},
    };
    for (int i = 0; i < 4; i++)
        CHECK_OK(arbiter_enqueue(arbiter, state, &batch[i], &position));
    uint32_t expect[5] = {10, 12, 14, 13, 11};
    for (int i = 0; i < 5; i++)
        CHECK_INT(state->waiters[i].origin, ==, expect[i]);
    /* A later arrival goes last whatever its priority. */
    arbiter_waiter_t late = {.origin = 15, .arrival_ns = 10, .priority = 255};
    CHECK_OK(arbiter_enqueue(arbiter, state, &late, &position));
    CHECK_INT(position, ==, 6);
    CHECK_INT(arbiter_find_waiter(state, 13, 0), ==, 3);
    arbiter_waiter_t gone = arbiter_remove(state, 3);
    CHECK_INT(gone.origin, ==, 13);
    CHECK_INT(state->count, ==, 5);
    /* Full queue: busy. */
    for (int i = 0; i < 3; i++)
        CHECK_OK(arbiter_append(arbiter, state, &late));
    CHECK_INT(arbiter_enqueue(arbiter, state, &late, &position), ==, ARI_EBUSY);
    /* Pins and their deadlines. */
    state->pinned = true;
    state->pin_deadline_ns = 100;
    CHECK_U64(arbiter_next_deadline(arbiter), ==, 100);
    CHECK(arbiter_pin_expired(arbiter, 99) == NULL);
    CHECK(arbiter_pin_expired(arbiter, 100) == state);
    /* A queue survives the wire. */
    arbiter_waiter_t back = arbiter_waiter_from_wire(arbiter_waiter_to_wire(&state->waiters[1]), 7);
    CHECK_INT(back.origin, ==, 12);
    CHECK_INT(back.priority, ==, 5);
    CHECK_U64(back.arrival_ns, ==, 7);
    /* Page states are bounded. */
    for (uint32_t p = 2; p <= 4; p++)
        CHECK(arbiter_get(arbiter, own_test_page(p)) != NULL);
    CHECK(arbiter_get(arbiter, own_test_page(5)) == NULL);
    arbiter_page_t *idle = arbiter_find(arbiter, own_test_page(2));
    arbiter_tidy(arbiter, idle);
    CHECK(arbiter_find(arbiter, own_test_page(2)) == NULL);
    CHECK(arbiter_get(arbiter, own_test_page(5)) != NULL);
    arbiter_destroy(arbiter);
}

/* Random sets, gets, removes and page forgets against a plain array. */
TEST_FN(crumb_against_model)
{
    enum { PAGES = 9, ORIGINS = 40 };
    static int16_t model[PAGES][ORIGINS]; /* -1: none, else the port */
    for (uint64_t seed = 1; seed <= 20; seed++) {
        crumb_t *crumb;
        CHECK_OK(crumb_create(200, &crumb));
        memset(model, 0xff, sizeof model);
        uint64_t rng = seed;
        uint32_t count = 0;
        for (int step = 0; step < 4000; step++) {
            uint32_t p = (uint32_t)(test_rand_next(&rng) % PAGES);
            uint32_t o = (uint32_t)(test_rand_next(&rng) % ORIGINS);
            uint32_t action = (uint32_t)(test_rand_next(&rng) % 100);
            ari_gva_t page = own_test_page(p);
            if (action < 50) {
                uint8_t port = (uint8_t)(test_rand_next(&rng) % 64);
                int status = crumb_set(crumb, page, o, port);
                if (model[p][o] < 0 && count == 200) {
                    CHECK_INT(status, ==, ARI_EBUSY);
                } else {
                    CHECK_OK(status);
                    count += model[p][o] < 0;
                    model[p][o] = port;
                }
            } else if (action < 80) {
                bool had = crumb_remove(crumb, page, o);
                CHECK(had == (model[p][o] >= 0));
                count -= had;
                model[p][o] = -1;
            } else if (action < 82) {
                crumb_forget_page(crumb, page);
                for (int i = 0; i < ORIGINS; i++) {
                    count -= model[p][i] >= 0;
                    model[p][i] = -1;
                }
            }
            uint8_t port = 0;
            bool found = crumb_get(crumb, page, o, &port);
            CHECK(found == (model[p][o] >= 0));
            if (found)
                CHECK_INT(port, ==, model[p][o]);
            CHECK_U64(crumb_count(crumb), ==, count);
        }
        for (uint32_t p = 0; p < PAGES; p++)
            for (uint32_t o = 0; o < ORIGINS; o++) {
                uint8_t port;
                CHECK(crumb_get(crumb, own_test_page(p), o, &port) == (model[p][o] >= 0));
            }
        crumb_destroy(crumb);
    }
}
