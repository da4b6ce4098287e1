/*
 * budget — the node's share of --mem for other nodes' pages (budget.h).
 */
#include "budget.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/gva.h"
#include "core/pcache.h"
#include "dirty.h"
#include "node.h"

/* The set of held pages: heap page numbers in an open-addressed table
 * (linear probing, deletion by backward shift, so no tombstones), grown
 * by doubling. Slot value 0 is empty: page number 0 is the heap's first
 * page, which is never allocated (heap.h). */
static struct {
    pthread_mutex_t lock;
    uint64_t *slots;
    uint64_t mask; /* capacity - 1, a power of two */
    uint64_t count;    /* pages in the set */
    uint64_t units;    /* their size in 4 KiB units: a 2 MiB page is 512 */
    uint64_t evictions, flushes;
} budget_g = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define BUDGET_SLOTS_MIN 1024u

static uint64_t budget_hash(uint64_t key) { return (key * 0x9e3779b97f4a7c15ull) >> 17; }

static uint64_t budget_key(ari_gva_t page)
{
    uint64_t address = heap_address_of(page);
    return address != 0 ? (address - HEAP_BASE) / GVA_PAGE_SIZE : 0;
}

int budget_init(void)
{
    budget_g.slots = calloc(BUDGET_SLOTS_MIN, sizeof *budget_g.slots);
    budget_g.mask = BUDGET_SLOTS_MIN - 1;
    budget_g.count = budget_g.units = budget_g.evictions = budget_g.flushes = 0;
    return budget_g.slots != NULL ? ARI_OK : ARI_ENOMEM;
}

void budget_fini(void)
{
    free(budget_g.slots);
    budget_g.slots = NULL;
    budget_g.count = budget_g.units = 0;
}

/* Under the set's lock; true when the key was not there. */
static bool budget_put(uint64_t key)
{
    uint64_t i = budget_hash(key) & budget_g.mask;
    while (budget_g.slots[i] != 0 && budget_g.slots[i] != key)
        i = (i + 1) & budget_g.mask;
    if (budget_g.slots[i] != 0)
        return false;
    budget_g.slots[i] = key;
    budget_g.count++;
    return true;
}

static uint64_t budget_units_of(ari_gva_t page) { return gva_page_size(page) / GVA_PAGE_SIZE; }

/* Under the set's lock: doubles the table at half full. On no memory the
 * table stays (it is never more than 3/4 full: the set stops growing and
 * budget_room reports none). */
static bool budget_grow(void)
{
    if ((budget_g.count + 1) * 2 <= budget_g.mask + 1)
        return true;
    uint64_t old_mask = budget_g.mask;
    uint64_t *old = budget_g.slots;
    uint64_t *slots = calloc((old_mask + 1) * 2, sizeof *slots);
    if (slots == NULL)
        return (budget_g.count + 1) * 4 <= (old_mask + 1) * 3;
    budget_g.slots = slots;
    budget_g.mask = old_mask * 2 + 1;
    budget_g.count = 0;
    for (uint64_t i = 0; i <= old_mask; i++)
        if (old[i] != 0)
            budget_put(old[i]);
    free(old);
    return true;
}

void budget_note_held(ari_gva_t page)
{
    uint64_t key = budget_key(page);
    if (key == 0 || gva_machine(page) == node_g.id)
        return; /* born here: reserved when allocated */
    pthread_mutex_lock(&budget_g.lock);
    if (budget_g.slots != NULL && budget_grow() && budget_put(key))
        budget_g.units += budget_units_of(page);
    pthread_mutex_unlock(&budget_g.lock);
}

void budget_note_dropped(ari_gva_t page)
{
    uint64_t key = budget_key(page);
    if (key == 0 || gva_machine(page) == node_g.id)
        return;
    pthread_mutex_lock(&budget_g.lock);
    uint64_t i = budget_g.slots != NULL ? budget_hash(key) & budget_g.mask : 0;
    while (budget_g.slots != NULL && budget_g.slots[i] != 0 && budget_g.slots[i] != key)
        i = (i + 1) & budget_g.mask;
    if (budget_g.slots != NULL && budget_g.slots[i] == key) {
        /* Backward shift: entries after the hole that probed past it move in. */
        uint64_t hole = i;
        for (uint64_t j = (i + 1) & budget_g.mask; budget_g.slots[j] != 0;
             j = (j + 1) & budget_g.mask) {
            uint64_t home = budget_hash(budget_g.slots[j]) & budget_g.mask;
            if (((j - home) & budget_g.mask) >= ((j - hole) & budget_g.mask)) {
                budget_g.slots[hole] = budget_g.slots[j];
                hole = j;
            }
        }
        budget_g.slots[hole] = 0;
        budget_g.count--;
        budget_g.units -= budget_units_of(page);
    }
    pthread_mutex_unlock(&budget_g.lock);
}

static uint64_t budget_limit(void)
{
    pthread_mutex_lock(&node_g.heap_lock);
    uint64_t mem = node_g.mem_bytes, owned = node_g.owned_bytes;
    pthread_mutex_unlock(&node_g.heap_lock);
    return owned < mem ? (mem - owned) / GVA_PAGE_SIZE : 0;
}

static uint64_t budget_held(void)
{
    pthread_mutex_lock(&budget_g.lock);
    uint64_t held = budget_g.units;
    pthread_mutex_unlock(&budget_g.lock);
    return held;
}

uint64_t budget_room(void)
{
    uint64_t limit = budget_limit(), held = budget_held();
    return held < limit ? limit - held : 0;
}

/* ------------------------------------------------------------------------
 * Eviction
 * ------------------------------------------------------------------------ */

typedef struct {
    uint64_t used_ns;
    ari_gva_t page;
} budget_victim_t;

typedef struct {
    budget_victim_t *items;
    uint64_t count, max;
} budget_victims_t;

/* Replicas that may go: held here for another node, nothing pending on
 * them, not on an ownership path, and not written here unpublished. */
static void budget_consider(void *ctx, pcache_entry_t *e)
{
    budget_victims_t *v = ctx;
    if (e->copy != PCACHE_COPY_VALID && e->copy != PCACHE_COPY_INVALID)
        return;
    if (e->pending != 0 || (e->flags & PCACHE_STRICT) || v->count == v->max)
        return;
    uint64_t address = heap_address_of(e->page);
    if (address == 0 || dirty_is(address))
        return;
    v->items[v->count++] = (budget_victim_t){e->last_used_ns, e->page};
}

static int budget_older(const void *a, const void *b)
{
    const budget_victim_t *x = a, *y = b;
    return x->used_ns < y->used_ns ? -1 : x->used_ns > y->used_ns;
}

/* Drops up to `want` units (4 KiB) of the least recently used clean
 * replicas; returns how many units went. */
static uint64_t budget_evict(uint64_t want)
{
    driver_lock(node_g.driver);
    pcache_t *pc = dpu_pcache(driver_dpu(node_g.driver));
    budget_victims_t v = {.max = pcache_count(pc)};
    v.items = malloc((v.max > 0 ? v.max : 1) * sizeof *v.items);
    if (v.items == NULL) {
        driver_unlock(node_g.driver);
        return 0;
    }
    pcache_each(pc, budget_consider, &v);
    qsort(v.items, v.count, sizeof *v.items, budget_older);
    driver_ticket_t t;
    uint64_t gone = 0, pages = 0;
    bool open = v.count > 0 && driver_ticket_open(node_g.driver, &t) == ARI_OK;
    for (uint64_t i = 0; open && i < v.count && gone < want; i++) {
        dpu_request_t r = {.op = DPU_OP_UNREF, .page = v.items[i].page};
        if (driver_submit(node_g.driver, t, &r, NULL) == ARI_OK) /* done at once */
            gone += budget_units_of(v.items[i].page), pages++;
    }
    driver_unlock(node_g.driver);
    if (open)
        (void)driver_wait(node_g.driver, t, NULL); /* closes the ticket */
    free(v.items);
    pthread_mutex_lock(&budget_g.lock);
    budget_g.evictions += pages;
    pthread_mutex_unlock(&budget_g.lock);
    return gone;
}

int budget_make_room(uint64_t pages)
{
    for (int round = 0; round < 3; round++) {
        uint64_t limit = budget_limit(), held = budget_held();
        if (pages <= limit && held + pages <= limit)
            return ARI_OK;
        if (pages > limit)
            return ARI_ENOMEM;
        /* Evict a sixteenth of the budget beyond the need, so that a
         * streaming reader does not scan the path cache on every fault. */
        uint64_t need = held + pages - limit;
        if (budget_evict(need + limit / 16) >= need)
            continue;
        /* What is left is written here: published, it is clean. */
        pthread_mutex_lock(&budget_g.lock);
        budget_g.flushes++;
        pthread_mutex_unlock(&budget_g.lock);
        int status = dirty_flush();
        if (status != ARI_OK)
            return status;
    }
    return budget_room() >= pages ? ARI_OK : ARI_ENOMEM;
}

budget_stats_t budget_stats(void)
{
    budget_stats_t s = {.limit = budget_limit()};
    pthread_mutex_lock(&budget_g.lock);
    s.held = budget_g.units;
    s.evictions = budget_g.evictions;
    s.flushes = budget_g.flushes;
    pthread_mutex_unlock(&budget_g.lock);
    return s;
}
