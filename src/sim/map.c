/*
 * map — linear probing, doubling at half load.
 */
#include "map.h"

#include <stdlib.h>

#include "ariadne.h"

int sim_map_init(sim_map_t *map)
{
    map->capacity = 1024;
    map->count = 0;
    map->slots = calloc(map->capacity, sizeof *map->slots);
    return map->slots == NULL ? ARI_ENOMEM : ARI_OK;
}

void sim_map_fini(sim_map_t *map)
{
    free(map->slots);
    map->slots = NULL;
}

static uint64_t sim_map_hash(uint64_t k0, uint64_t k1, uint64_t k2)
{
    uint64_t h = k0 * 0x9e3779b97f4a7c15ull ^ k1 * 0xc2b2ae3d27d4eb4full ^ k2 * 0x165667b19e3779f9ull;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

static sim_map_slot_t *sim_map_find(const sim_map_t *map, uint64_t k0, uint64_t k1, uint64_t k2)
{
    size_t mask = map->capacity - 1;
    for (size_t i = sim_map_hash(k0, k1, k2) & mask;; i = (i + 1) & mask) {
        sim_map_slot_t *slot = &map->slots[i];
        if (!slot->used || (slot->key[0] == k0 && slot->key[1] == k1 && slot->key[2] == k2))
            return slot;
    }
}

sim_map_slot_t *sim_map_get(sim_map_t *map, uint64_t k0, uint64_t k1, uint64_t k2)
{
    sim_map_slot_t *slot = sim_map_find(map, k0, k1, k2);
    return slot->used ? slot : NULL;
}

static int sim_map_grow(sim_map_t *map)
{
    sim_map_t bigger = {calloc(map->capacity * 2, sizeof *map->slots), map->capacity * 2, 0};
    if (bigger.slots == NULL)
        return ARI_ENOMEM;
    for (size_t i = 0; i < map->capacity; i++) {
        if (!map->slots[i].used)
            continue;
        sim_map_slot_t *slot = sim_map_find(&bigger, map->slots[i].key[0], map->slots[i].key[1],
                                            map->slots[i].key[2]);
        *slot = map->slots[i];
        bigger.count++;
    }
    free(map->slots);
    *map = bigger;
    return ARI_OK;
}

sim_map_slot_t *sim_map_put(sim_map_t *map, uint64_t k0, uint64_t k1, uint64_t k2)
{
    if (2 * (map->count + 1) > map->capacity && sim_map_grow(map) != ARI_OK)
        return NULL;
    sim_map_slot_t *slot = sim_map_find(map, k0, k1, k2);
    if (!slot->used) {
        *slot = (sim_map_slot_t){{k0, k1, k2}, {0, 0}, true};
        map->count++;
    }
    return slot;
}
