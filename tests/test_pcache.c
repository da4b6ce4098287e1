/*
 * Unit tests of src/core/pcache: capacity, LRU order, TTL aging, per-port
 * generations, and which entries may be evicted.
 */
#include <stdlib.h>

#include "core/gva.h"
#include "core/pcache.h"
#include "test.h"

static ari_gva_t test_pcache_page(uint64_t n)
{
    gva_fields_t f = {.machine = (uint32_t)(n % 7), .offset = n << GVA_PAGE_SHIFT};
    return gva_make(&f);
}

TEST_FN(pcache_capacity)
{
    pcache_t *pc;
    CHECK_INT(pcache_create(0, 4, 100, &pc), ==, ARI_EINVAL);
    CHECK_INT(pcache_create(8, 0, 100, &pc), ==, ARI_EINVAL);
    CHECK_INT(pcache_create(8, PCACHE_PORTS_MAX + 1, 100, &pc), ==, ARI_EINVAL);
    CHECK_OK(pcache_create(100, 4, 1000, &pc));
    for (uint64_t i = 0; i < 100; i++)
        CHECK(pcache_insert(pc, test_pcache_page(i), i) != NULL);
    CHECK_INT(pcache_count(pc), ==, 100);
    CHECK(pcache_insert(pc, test_pcache_page(100), 100) == NULL); /* full */
    for (uint64_t i = 0; i < 100; i++) {
        pcache_entry_t *e = pcache_find(pc, test_pcache_page(i));
        CHECK(e != NULL && gva_equal(e->page, test_pcache_page(i)));
        CHECK_INT(e->up, ==, PCACHE_UP_NONE);
    }
    CHECK(pcache_find(pc, test_pcache_page(100)) == NULL);
    /* Removing frees a slot for a new page; the others stay findable. */
    pcache_remove(pc, pcache_find(pc, test_pcache_page(42)));
    CHECK(pcache_find(pc, test_pcache_page(42)) == NULL);
    CHECK(pcache_insert(pc, test_pcache_page(100), 100) != NULL);
    for (uint64_t i = 0; i <= 100; i++)
        CHECK((pcache_find(pc, test_pcache_page(i)) != NULL) == (i != 42));
    pcache_destroy(pc);
}

TEST_FN(pcache_churn)
{
    /* Random inserts and removes against a plain array model. */
    pcache_t *pc;
    CHECK_OK(pcache_create(64, 8, 1000, &pc));
    bool present[512] = {false};
    uint32_t count = 0;
    uint64_t rng = 9;
    for (int step = 0; step < 100000; step++) {
        uint64_t n = test_rand_next(&rng) % 512;
        pcache_entry_t *e = pcache_find(pc, test_pcache_page(n));
        CHECK((e != NULL) == present[n]);
        if (e != NULL) {
            pcache_remove(pc, e);
            present[n] = false;
            count--;
        } else if (count < 64) {
            CHECK(pcache_insert(pc, test_pcache_page(n), (uint64_t)step) != NULL);
            present[n] = true;
            count++;
        } else {
            CHECK(pcache_insert(pc, test_pcache_page(n), (uint64_t)step) == NULL);
        }
        CHECK_INT(pcache_count(pc), ==, count);
    }
    pcache_destroy(pc);
}

TEST_FN(pcache_lru_victim)
{
    pcache_t *pc;
    CHECK_OK(pcache_create(8, 4, 1000, &pc));
    pcache_entry_t *e[8];
    for (uint64_t i = 0; i < 8; i++)
        e[i] = pcache_insert(pc, test_pcache_page(i), i);
    /* The coldest entry is the victim... */
    CHECK(pcache_victim(pc, 8) == e[0]);
    /* ...until it is touched. */
    pcache_touch(pc, e[0], 100);
    CHECK(pcache_victim(pc, 8) == e[1]);
    /* Masters, anchors, pages being freed, and entries with requests
     * pending are never victims; one with downstream ports is. */
    e[1]->copy = PCACHE_COPY_MASTER;
    e[2]->flags |= PCACHE_ANCHOR;
    e[3]->pending = 1;
    e[4]->flags |= PCACHE_FREEING;
    e[5]->flags |= PCACHE_REF_PENDING;
    e[6]->down = 0x3;
    CHECK(pcache_victim(pc, 8) == e[6]);
    /* The scan is bounded. */
    CHECK(pcache_victim(pc, 5) == NULL);
    e[6]->copy = PCACHE_COPY_MASTER;
    e[7]->copy = PCACHE_COPY_MASTER;
    e[0]->copy = PCACHE_COPY_MASTER;
    CHECK(pcache_victim(pc, 8) == NULL);
    pcache_destroy(pc);
}

TEST_FN(pcache_ttl)
{
    pcache_t *pc;
    CHECK_OK(pcache_create(16, 4, 1000, &pc));
    pcache_entry_t *a = pcache_insert(pc, test_pcache_page(1), 0);
    pcache_entry_t *b = pcache_insert(pc, test_pcache_page(2), 500);
    pcache_entry_t *c = pcache_insert(pc, test_pcache_page(3), 600);
    CHECK(pcache_expired(pc, 999) == NULL); /* nothing past its TTL yet */
    CHECK(pcache_expired(pc, 1000) == a);
    /* An entry with something below it or a local copy is not idle. */
    a->down = 1;
    CHECK(pcache_expired(pc, 1000) == NULL);
    CHECK(pcache_expired(pc, 1500) == b);
    b->copy = PCACHE_COPY_VALID;
    CHECK(pcache_expired(pc, 1600) == c);
    pcache_touch(pc, c, 1600);
    CHECK(pcache_expired(pc, 2000) == NULL);
    CHECK(pcache_expired(pc, 2600) == c);
    c->flags |= PCACHE_ANCHOR;
    CHECK(pcache_expired(pc, 1u << 30) == NULL);
    pcache_destroy(pc);
}

TEST_FN(pcache_generations)
{
    pcache_t *pc;
    CHECK_OK(pcache_create(4, 8, 1000, &pc));
    pcache_entry_t *e = pcache_insert(pc, test_pcache_page(1), 0);
    CHECK_INT(pcache_port_generation(pc, e, 3), ==, 0);
    uint32_t g1 = pcache_port_stamp(pc, e, 3);
    CHECK(pcache_has_down(e, 3) && !pcache_has_down(e, 2));
    CHECK_INT(pcache_port_generation(pc, e, 3), ==, g1);
    uint32_t g2 = pcache_port_stamp(pc, e, 3);
    CHECK(g2 > g1); /* every pass of data down a port is a newer generation */
    uint32_t g3 = pcache_port_stamp(pc, e, 7);
    CHECK(g3 > g2 && pcache_has_down(e, 7));
    CHECK_INT(pcache_port_generation(pc, e, 3), ==, g2);
    /* A slot reused by another page starts with no generations. */
    pcache_remove(pc, e);
    pcache_entry_t *f = pcache_insert(pc, test_pcache_page(2), 0);
    CHECK(f == e);
    CHECK_INT(pcache_port_generation(pc, f, 3), ==, 0);
    CHECK_U64(f->down, ==, 0);
    pcache_destroy(pc);
}
