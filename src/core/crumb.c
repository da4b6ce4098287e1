/*
 * crumb — the (page, waiter) -> port records of one DPU.
 */
#include "crumb.h"

#include <assert.h>
#include <stdlib.h>

#include "gva.h"

#define CRUMB_SLOTS_MIN 16u

typedef struct {
    ari_gva_t page;
    uint32_t origin;
    uint8_t port;
    bool used;
} crumb_slot_t;

struct crumb {
    crumb_slot_t *slots;
    uint32_t mask;  /* slots - 1; 0 before the first record */
    uint32_t count, max;
};

int crumb_create(uint32_t max, crumb_t **crumb_out)
{
    if (max == 0 || max > (1u << 30))
        return ARI_EINVAL;
    crumb_t *crumb = calloc(1, sizeof *crumb);
    if (crumb == NULL)
        return ARI_ENOMEM;
    crumb->max = max;
    *crumb_out = crumb;
    return ARI_OK;
}

void crumb_destroy(crumb_t *crumb)
{
    if (crumb == NULL)
        return;
    free(crumb->slots);
    free(crumb);
}

uint32_t crumb_count(const crumb_t *crumb) { return crumb->count; }

static uint32_t crumb_home(const crumb_t *crumb, ari_gva_t page, uint32_t origin)
{
    uint64_t h = gva_page_hash(page) ^ ((uint64_t)(origin + 1) * 0x9e3779b97f4a7c15ull);
    return (uint32_t)(h ^ (h >> 29)) & crumb->mask;
}

/* The slot holding (page, origin), or the empty slot where it would go. */
static uint32_t crumb_probe(const crumb_t *crumb, ari_gva_t page, uint32_t origin)
{
    uint32_t i = crumb_home(crumb, page, origin);
    while (crumb->slots[i].used &&
           !(crumb->slots[i].origin == origin && gva_equal(crumb->slots[i].page, page)))
        i = (i + 1) & crumb->mask;
    return i;
}

/* Doubles the table (kept at most half full, so probes stay short). */
static int crumb_grow(crumb_t *crumb)
{
    uint32_t old_slots = crumb->slots == NULL ? 0 : crumb->mask + 1;
    uint32_t slots = old_slots == 0 ? CRUMB_SLOTS_MIN : old_slots * 2;
    crumb_slot_t *fresh = calloc(slots, sizeof *fresh);
    if (fresh == NULL)
        return ARI_ENOMEM;
    crumb_slot_t *old = crumb->slots;
    crumb->slots = fresh;
    crumb->mask = slots - 1;
    for (uint32_t i = 0; i < old_slots; i++) {
        if (old[i].used)
            crumb->slots[crumb_probe(crumb, old[i].page, old[i].origin)] = old[i];
    }
    free(old);
    return ARI_OK;
}

int crumb_set(crumb_t *crumb, ari_gva_t page, uint32_t origin, uint8_t port)
{
    if (crumb->slots != NULL) {
        crumb_slot_t *slot = &crumb->slots[crumb_probe(crumb, page, origin)];
        if (slot->used) {
            slot->port = port;
            return ARI_OK;
        }
    }
    if (crumb->count >= crumb->max)
        return ARI_EBUSY;
    if (crumb->slots == NULL || 2 * (crumb->count + 1) > crumb->mask + 1) {
        int status = crumb_grow(crumb);
        if (status != ARI_OK)
            return status;
    }
    crumb->slots[crumb_probe(crumb, page, origin)] =
        (crumb_slot_t){.page = page, .origin = origin, .port = port, .used = true};
    crumb->count++;
    return ARI_OK;
}

bool crumb_get(const crumb_t *crumb, ari_gva_t page, uint32_t origin, uint8_t *port_out)
{
    if (crumb->count == 0)
        return false;
    const crumb_slot_t *slot = &crumb->slots[crumb_probe(crumb, page, origin)];
    if (!slot->used)
        return false;
    *port_out = slot->port;
    return true;
}

/* Empties slot i and moves later members of its probe run back into the
 * hole, so lookups never need tombstones. */
static void crumb_delete_at(crumb_t *crumb, uint32_t i)
{
    crumb->slots[i].used = false;
    crumb->count--;
    for (uint32_t j = (i + 1) & crumb->mask; crumb->slots[j].used; j = (j + 1) & crumb->mask) {
        uint32_t home = crumb_home(crumb, crumb->slots[j].page, crumb->slots[j].origin);
        /* Move j into the hole when its home does not lie in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            crumb->slots[i] = crumb->slots[j];
            crumb->slots[j].used = false;
            i = j;
        }
    }
}

bool crumb_remove(crumb_t *crumb, ari_gva_t page, uint32_t origin)
{
    if (crumb->count == 0)
        return false;
    uint32_t i = crumb_probe(crumb, page, origin);
    if (!crumb->slots[i].used)
        return false;
    crumb_delete_at(crumb, i);
    return true;
}

void crumb_forget_page(crumb_t *crumb, ari_gva_t page)
{
    if (crumb->count == 0)
        return;
    for (uint32_t i = 0; i <= crumb->mask;) {
        if (crumb->slots[i].used && gva_equal(crumb->slots[i].page, page))
            crumb_delete_at(crumb, i); /* a later slot may have moved into i */
        else
            i++;
    }
}
