/*
 * route — next hops along shortest paths of a topology (DESIGN §7), for the
 * simulator and the DPU. Deterministic: the same topology gives the same
 * port for every (from, to), ties included.
 *
 * A full next-hop table is N^2 entries (4 GiB at 65,536 nodes) and N BFS
 * runs to build, so there is none. Regular kinds route by formula, in O(1)
 * memory and (almost) O(1) time:
 *   mesh       the direct link
 *   ring       the shorter direction (forward on a tie)
 *   torus      dimension order: x first, then y, then z; each as a ring
 *   hypercube  flip the lowest differing bit
 *   tree       down toward `to` if it is below, else up to the parent
 * Irregular kinds (smallworld, random, opt, file) use one table per
 * destination, built on demand by one BFS from the destination and kept in
 * an LRU cache whose capacity the caller gives; a table is 5 bytes a node
 * (320 KiB at 65,536 nodes).
 * The hop a table gives is the lowest port whose neighbour is one step
 * nearer. Eviction changes nothing but speed: a rebuilt table is the same.
 *
 * Single-threaded: a route_t is owned by one thread (no locks).
 */
#ifndef ARIADNE_CORE_ROUTE_H
#define ARIADNE_CORE_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "topo.h"

typedef struct route route_t;

typedef enum {
    ROUTE_ALGORITHMIC, /* by formula from the kind's structure */
    ROUTE_TABLES,      /* per-destination tables in an LRU cache */
} route_method_t;

/* How a topology of this kind is routed. */
route_method_t route_method_for(const topo_t *topo);
/* "algorithmic" or "per-destination tables (LRU cache)". */
const char *route_method_name(route_method_t method);

/* Memory all of one route_t's tables may take; caps cache_tables. */
#define ROUTE_CACHE_BYTES_MAX ((size_t)512 << 20)

/* Creates the routing state for `topo`, which must outlive it.
 * `cache_tables` bounds the cached destination tables; it is ignored for
 * algorithmic kinds, and capped at N and at ROUTE_CACHE_BYTES_MAX / (5 N)
 * (but never below 1). A table is 5 N bytes and is allocated the first time
 * its slot is used, so memory follows the destinations really routed to:
 * at most `cache_tables` allocations over the route's life. If one fails,
 * the cache just stays smaller (routes are unchanged).
 * Returns 0, ARI_EINVAL (cache_tables == 0 for a table kind) or ARI_ENOMEM. */
int route_create(const topo_t *topo, size_t cache_tables, route_t **route_out);
void route_free(route_t *route);

route_method_t route_method(const route_t *route);

/* The port of `from` on a shortest path to `to`, or -1 when from == to.
 * May build a table (one BFS, O(links)) on a cache miss. */
int route_next_port(route_t *route, uint32_t from, uint32_t to);

/* Hops on a shortest path from `from` to `to` (0 when equal). */
uint32_t route_distance(route_t *route, uint32_t from, uint32_t to);

/* Destination tables built so far (cache misses); 0 for algorithmic kinds. */
uint64_t route_tables_built(const route_t *route);

#endif /* ARIADNE_CORE_ROUTE_H */
