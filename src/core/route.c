/*
 * route — next hops: formulas for the regular kinds, a bounded LRU cache of
 * per-destination BFS tables for the others. See route.h for why.
 */
#include "route.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE_NONE UINT32_MAX
#define ROUTE_PORT_NONE 0xffu /* the destination's own entry */

_Static_assert(TOPO_PORTS_MAX < ROUTE_PORT_NONE, "a port number never reads as 'none'");

typedef struct {
    uint32_t destination;
    uint32_t newer, older; /* LRU list links: slot indexes or ROUTE_NONE */
    uint32_t *distance;    /* hops from each node to the destination */
    uint8_t *port;         /* each node's next port toward the destination */
} route_table_t;

struct route {
    const topo_t *topo;
    route_method_t method;
    /* Per-destination tables (ROUTE_TABLES only). Slots below tables_used
     * have their arrays; the rest are allocated on first use. */
    uint32_t tables_capacity, tables_used;
    route_table_t *tables;
    uint32_t *slot_of;  /* destination -> slot, ROUTE_NONE when not cached */
    uint32_t newest, oldest;
    uint32_t *queue;    /* BFS scratch, one entry a node */
    uint64_t tables_built;
};

route_method_t route_method_for(const topo_t *topo)
{
    switch (topo->kind) {
    case TOPO_KIND_MESH:
    case TOPO_KIND_RING:
    case TOPO_KIND_TREE:
    case TOPO_KIND_TORUS2D:
    case TOPO_KIND_TORUS3D:
    case TOPO_KIND_HYPERCUBE:
        return ROUTE_ALGORITHMIC;
    default:
        return ROUTE_TABLES;
    }
}

const char *route_method_name(route_method_t method)
{
    return method == ROUTE_ALGORITHMIC ? "algorithmic" : "per-destination tables (LRU cache)";
}

route_method_t route_method(const route_t *route)
{
    return route->method;
}

uint64_t route_tables_built(const route_t *route)
{
    return route->tables_built;
}

/* ------------------------------------------------------------------------
 * Creation
 * ------------------------------------------------------------------------ */

/* Gives a slot its arrays: one block, distances then ports. */
static bool route_table_alloc(route_t *route, route_table_t *table)
{
    size_t nodes = route->topo->nodes;
    table->distance = malloc(nodes * (sizeof *table->distance + sizeof *table->port));
    if (table->distance == NULL)
        return false;
    table->port = (uint8_t *)(table->distance + nodes);
    return true;
}

static int route_tables_alloc(route_t *route, size_t cache_tables)
{
    size_t nodes = route->topo->nodes;
    size_t table_bytes = nodes * (sizeof(uint32_t) + sizeof(uint8_t));
    size_t capacity = cache_tables < nodes ? cache_tables : nodes;
    if (capacity > ROUTE_CACHE_BYTES_MAX / table_bytes)
        capacity = ROUTE_CACHE_BYTES_MAX / table_bytes;
    if (capacity == 0)
        capacity = 1; /* one table is always allowed, whatever its size */
    route->tables_capacity = (uint32_t)capacity;
    route->tables = calloc(capacity, sizeof *route->tables);
    route->slot_of = malloc(nodes * sizeof *route->slot_of);
    route->queue = malloc(nodes * sizeof *route->queue);
    if (!route->tables || !route->slot_of || !route->queue)
        return ARI_ENOMEM;
    /* The first table now, so a later allocation failure can always fall
     * back to evicting. */
    if (!route_table_alloc(route, &route->tables[0]))
        return ARI_ENOMEM;
    for (size_t v = 0; v < nodes; v++)
        route->slot_of[v] = ROUTE_NONE;
    route->newest = route->oldest = ROUTE_NONE;
    return ARI_OK;
}

int route_create(const topo_t *topo, size_t cache_tables, route_t **route_out)
{
    route_t *route = calloc(1, sizeof *route);
    if (route == NULL)
        return ARI_ENOMEM;
    route->topo = topo;
    route->method = route_method_for(topo);
    if (route->method == ROUTE_TABLES) {
        if (cache_tables == 0) {
            free(route);
            return ARI_EINVAL;
        }
        int status = route_tables_alloc(route, cache_tables);
        if (status != ARI_OK) {
            route_free(route);
            return status;
        }
    }
    *route_out = route;
    return ARI_OK;
}

void route_free(route_t *route)
{
    if (route == NULL)
        return;
    for (uint32_t slot = 0; route->tables != NULL && slot < route->tables_capacity; slot++)
        free(route->tables[slot].distance);
    free(route->tables);
    free(route->slot_of);
    free(route->queue);
    free(route);
}

/* ------------------------------------------------------------------------
 * Per-destination tables and their LRU list (newest at the head)
 * ------------------------------------------------------------------------ */

static void route_lru_unlink(route_t *route, uint32_t slot)
{
    route_table_t *table = &route->tables[slot];
    if (table->newer != ROUTE_NONE)
        route->tables[table->newer].older = table->older;
    else
        route->newest = table->older;
    if (table->older != ROUTE_NONE)
        route->tables[table->older].newer = table->newer;
    else
        route->oldest = table->newer;
}

static void route_lru_push_newest(route_t *route, uint32_t slot)
{
    route_table_t *table = &route->tables[slot];
    table->newer = ROUTE_NONE;
    table->older = route->newest;
    if (route->newest != ROUTE_NONE)
        route->tables[route->newest].newer = slot;
    route->newest = slot;
    if (route->oldest == ROUTE_NONE)
        route->oldest = slot;
}

/* Fills a table by one BFS from the destination; each node's port is the
 * lowest whose neighbour is one hop nearer, which makes ties deterministic. */
static void route_table_fill(route_t *route, route_table_t *table, uint32_t destination)
{
    const topo_t *topo = route->topo;
    uint32_t reached = topo_distances(topo, destination, table->distance, route->queue);
    assert(reached == topo->nodes); /* topologies are connected */
    (void)reached;
    table->destination = destination;
    for (uint32_t v = 0; v < topo->nodes; v++) {
        table->port[v] = ROUTE_PORT_NONE;
        if (v == destination)
            continue;
        uint32_t port = 0, first = topo->offsets[v];
        while (table->distance[topo->neighbor[first + port]] + 1 != table->distance[v])
            port++;
        assert(port < topo_degree(topo, v));
        table->port[v] = (uint8_t)port;
    }
    route->tables_built++;
}

/* The table for `destination`, built or reused; it becomes the newest. */
static const route_table_t *route_table_get(route_t *route, uint32_t destination)
{
    uint32_t slot = route->slot_of[destination];
    if (slot != ROUTE_NONE) {
        route_lru_unlink(route, slot);
        route_lru_push_newest(route, slot);
        return &route->tables[slot];
    }
    /* A fresh slot while under capacity; if its memory cannot be had, the
     * cache simply stays smaller and evicts instead. */
    if (route->tables_used < route->tables_capacity &&
        (route->tables[route->tables_used].distance != NULL ||
         route_table_alloc(route, &route->tables[route->tables_used]))) {
        slot = route->tables_used++;
    } else {
        slot = route->oldest;
        route_lru_unlink(route, slot);
        route->slot_of[route->tables[slot].destination] = ROUTE_NONE;
    }
    route_table_fill(route, &route->tables[slot], destination);
    route->slot_of[destination] = slot;
    route_lru_push_newest(route, slot);
    return &route->tables[slot];
}

/* ------------------------------------------------------------------------
 * Formulas
 * ------------------------------------------------------------------------ */

/* Ring and torus: the first dimension (x first) where the coordinates
 * differ, in its shorter direction (forward on a tie). Shortest because a
 * torus distance is the sum of independent ring distances. */
static int route_torus_port(const topo_t *topo, uint32_t dimensions, uint32_t from, uint32_t to,
                            uint32_t *distance_out)
{
    uint32_t stride = 1, distance = 0;
    int port = -1;
    for (uint32_t d = 0; d < dimensions; d++) {
        uint32_t side = topo->shape[d];
        uint32_t a = (from / stride) % side, b = (to / stride) % side;
        uint32_t forward = (b + side - a) % side;
        bool up = forward <= side - forward;
        if (forward != 0 && port < 0)
            port = (int)(2 * d + (up ? 0 : 1));
        distance += up ? forward : side - forward;
        stride *= side;
    }
    *distance_out = distance;
    return port;
}

static uint32_t route_torus_dimensions(const topo_t *topo)
{
    return topo->kind == TOPO_KIND_RING ? 1 : topo->kind == TOPO_KIND_TORUS2D ? 2 : 3;
}

/* Tree: node i's parent is (i - 1) / K. A path (K = 1) is done in O(1);
 * otherwise depths are at most log_K N steps. */
static uint32_t route_tree_depth(uint32_t arity, uint32_t node)
{
    if (arity == 1)
        return node;
    uint32_t depth = 0;
    for (; node > 0; node = (node - 1) / arity)
        depth++;
    return depth;
}

static uint32_t route_tree_lift(uint32_t arity, uint32_t node, uint32_t steps)
{
    if (arity == 1)
        return node - steps;
    for (; steps > 0; steps--)
        node = (node - 1) / arity;
    return node;
}

static int route_tree_port(const topo_t *topo, uint32_t from, uint32_t to)
{
    uint32_t arity = topo->shape[0];
    uint32_t depth_from = route_tree_depth(arity, from), depth_to = route_tree_depth(arity, to);
    if (depth_to > depth_from) {
        uint32_t child = route_tree_lift(arity, to, depth_to - depth_from - 1);
        if ((child - 1) / arity == from) /* `to` is below: go down to child */
            return (int)(child - (arity * from + 1) + (from > 0 ? 1 : 0));
    }
    assert(from > 0); /* everything is below the root */
    return 0;
}

static uint32_t route_tree_distance(const topo_t *topo, uint32_t from, uint32_t to)
{
    uint32_t arity = topo->shape[0];
    uint32_t depth_from = route_tree_depth(arity, from), depth_to = route_tree_depth(arity, to);
    if (arity == 1)
        return depth_from > depth_to ? depth_from - depth_to : depth_to - depth_from;
    uint32_t distance = 0;
    for (; depth_from > depth_to; depth_from--, distance++)
        from = (from - 1) / arity;
    for (; depth_to > depth_from; depth_to--, distance++)
        to = (to - 1) / arity;
    for (; from != to; distance += 2) {
        from = (from - 1) / arity;
        to = (to - 1) / arity;
    }
    return distance;
}

static int route_formula_port(const topo_t *topo, uint32_t from, uint32_t to)
{
    uint32_t distance;
    switch (topo->kind) {
    case TOPO_KIND_MESH:
        return (int)(to < from ? to : to - 1);
    case TOPO_KIND_HYPERCUBE:
        return __builtin_ctz(from ^ to);
    case TOPO_KIND_TREE:
        return route_tree_port(topo, from, to);
    default:
        return route_torus_port(topo, route_torus_dimensions(topo), from, to, &distance);
    }
}

static uint32_t route_formula_distance(const topo_t *topo, uint32_t from, uint32_t to)
{
    uint32_t distance;
    switch (topo->kind) {
    case TOPO_KIND_MESH:
        return 1;
    case TOPO_KIND_HYPERCUBE:
        return (uint32_t)__builtin_popcount(from ^ to);
    case TOPO_KIND_TREE:
        return route_tree_distance(topo, from, to);
    default:
        (void)route_torus_port(topo, route_torus_dimensions(topo), from, to, &distance);
        return distance;
    }
}

/* ------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------ */

int route_next_port(route_t *route, uint32_t from, uint32_t to)
{
    assert(from < route->topo->nodes && to < route->topo->nodes);
    if (from == to)
        return -1;
    if (route->method == ROUTE_ALGORITHMIC)
        return route_formula_port(route->topo, from, to);
    return route_table_get(route, to)->port[from];
}

uint32_t route_distance(route_t *route, uint32_t from, uint32_t to)
{
    assert(from < route->topo->nodes && to < route->topo->nodes);
    if (from == to)
        return 0;
    if (route->method == ROUTE_ALGORITHMIC)
        return route_formula_distance(route->topo, from, to);
    return route_table_get(route, to)->distance[from];
}
