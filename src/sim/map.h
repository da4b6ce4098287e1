/*
 * map — a growing open-addressing hash map for the simulator's books:
 * key (three u64s) -> two u64 values. Entries are never removed (the
 * simulator's books only grow during a run); a slot stays where it is
 * until the map grows, so pointers returned are valid until the next put.
 */
#ifndef ARIADNE_SIM_MAP_H
#define ARIADNE_SIM_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key[3];
    uint64_t value[2];
    bool used;
} sim_map_slot_t;

typedef struct {
    sim_map_slot_t *slots;
    size_t capacity, count;
} sim_map_t;

int sim_map_init(sim_map_t *map);
void sim_map_fini(sim_map_t *map);
/* The slot for a key, or NULL. */
sim_map_slot_t *sim_map_get(sim_map_t *map, uint64_t k0, uint64_t k1, uint64_t k2);
/* The slot for a key, made (values zero) if absent; NULL when out of memory. */
sim_map_slot_t *sim_map_put(sim_map_t *map, uint64_t k0, uint64_t k1, uint64_t k2);

#endif /* ARIADNE_SIM_MAP_H */
