/*
 * Tests of src/core/route: every pair reaches its destination along a
 * shortest path, deterministically, whatever the cache size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/route.h"
#include "core/topo.h"
#include "test.h"

/* One of every kind, small enough for all N^2 pairs. */
static const char *const route_test_specs[] = {
    "mesh:2",          "mesh:9",           "ring:3",          "ring:8",
    "ring:11",         "tree:2:1",         "tree:12:1",       "tree:40:2",
    "tree:50:3",       "tree:9:100",       "torus2d:3x3",     "torus2d:4x6",
    "torus3d:3x3x3",   "torus3d:4x3x5",    "hypercube:1",     "hypercube:6",
    "smallworld:40:4:1", "random:40:3:1",  "random:64:5:2",   "opt:32:3:1:100",
};
#define ROUTE_TEST_SPECS (sizeof route_test_specs / sizeof route_test_specs[0])

static topo_t *route_test_topo(const char *spec)
{
    char error[TOPO_ERROR_MAX];
    topo_t *topo = NULL;
    int status = topo_build(spec, NULL, NULL, &topo, error, sizeof error);
    if (status != ARI_OK)
        test_fail(__FILE__, __LINE__, "topo_build(%s): %s", spec, error);
    return topo;
}

/* distance[s * n + t] by a plain BFS per source. */
static uint32_t *route_test_distances(const topo_t *topo)
{
    uint32_t n = topo->nodes;
    uint32_t *all = malloc((size_t)n * n * sizeof *all), *queue = malloc(n * sizeof *queue);
    CHECK(all != NULL && queue != NULL);
    for (uint32_t s = 0; s < n; s++)
        CHECK_INT(topo_distances(topo, s, all + (size_t)s * n, queue), ==, n);
    free(queue);
    return all;
}

TEST_FN(route_all_pairs_shortest)
{
    for (size_t i = 0; i < ROUTE_TEST_SPECS; i++) {
        topo_t *topo = route_test_topo(route_test_specs[i]);
        uint32_t n = topo->nodes, *distance = route_test_distances(topo);
        topo_figures_t figures;
        CHECK_OK(topo_figures(topo, &figures));
        route_t *route;
        CHECK_OK(route_create(topo, 8, &route));
        for (uint32_t from = 0; from < n; from++) {
            for (uint32_t to = 0; to < n; to++) {
                uint32_t want = distance[(size_t)to * n + from];
                uint32_t hops = route_distance(route, from, to);
                if (hops != want)
                    test_fail(__FILE__, __LINE__, "%s: distance %u -> %u is %u, BFS says %u",
                              route_test_specs[i], from, to, hops, want);
                CHECK_INT(hops, <=, figures.diameter);
                /* Walk it: each hop a real port, each one step nearer. */
                uint32_t at = from, walked = 0;
                int port;
                while ((port = route_next_port(route, at, to)) >= 0) {
                    CHECK_INT(port, <, topo_degree(topo, at));
                    uint32_t next = topo_neighbor(topo, at, (uint32_t)port);
                    if (distance[(size_t)to * n + next] + 1 != distance[(size_t)to * n + at])
                        test_fail(__FILE__, __LINE__, "%s: %u -> %u: port %d of %u is no nearer",
                                  route_test_specs[i], from, to, port, at);
                    at = next;
                    CHECK_INT(++walked, <=, want);
                }
                CHECK_INT(port, ==, -1);
                CHECK_INT(at, ==, to);
                CHECK_INT(walked, ==, want);
            }
        }
        route_free(route);
        free(distance);
        topo_free(topo);
    }
}

/* The same ports from fresh routes, any cache size and query order; and for
 * table kinds, the lowest port that gets nearer. */
TEST_FN(route_deterministic)
{
    static const size_t capacities[] = {1, 2, 3, 1000};
    for (size_t i = 0; i < ROUTE_TEST_SPECS; i++) {
        topo_t *topo = route_test_topo(route_test_specs[i]);
        uint32_t n = topo->nodes, *distance = route_test_distances(topo);
        int8_t *first = malloc((size_t)n * n);
        CHECK(first != NULL);
        for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
            route_t *route;
            CHECK_OK(route_create(topo, capacities[c], &route));
            for (uint32_t k = 0; k < n * n; k++) {
                /* Odd capacities walk the pairs backwards, by source. */
                uint32_t index = c % 2 ? n * n - 1 - k : k;
                uint32_t from = c % 2 ? index % n : index / n, to = c % 2 ? index / n : index % n;
                int port = route_next_port(route, from, to);
                if (c == 0)
                    first[(size_t)from * n + to] = (int8_t)port;
                else
                    CHECK_INT(port, ==, first[(size_t)from * n + to]);
            }
            route_free(route);
        }
        if (route_method_for(topo) == ROUTE_TABLES) {
            for (uint32_t from = 0; from < n; from++) {
                for (uint32_t to = 0; to < n; to++) {
                    if (from == to)
                        continue;
                    int lowest = 0;
                    while (distance[(size_t)to * n + topo_neighbor(topo, from, (uint32_t)lowest)] +
                               1 !=
                           distance[(size_t)to * n + from])
                        lowest++;
                    CHECK_INT(first[(size_t)from * n + to], ==, lowest);
                }
            }
        }
        free(first);
        free(distance);
        topo_free(topo);
    }
}

TEST_FN(route_cache_lru)
{
    topo_t *topo = route_test_topo("random:50:4:9");
    CHECK_INT(route_method_for(topo), ==, ROUTE_TABLES);
    route_t *route;
    CHECK_INT(route_create(topo, 0, &route), ==, ARI_EINVAL);
    CHECK_OK(route_create(topo, 2, &route));
    CHECK_INT(route_method(route), ==, ROUTE_TABLES);
    CHECK_INT(route_tables_built(route), ==, 0);
    CHECK_INT(route_next_port(route, 3, 3), ==, -1); /* no table needed */
    CHECK_INT(route_distance(route, 3, 3), ==, 0);
    CHECK_INT(route_tables_built(route), ==, 0);
    (void)route_next_port(route, 1, 10); /* miss: [10] */
    (void)route_next_port(route, 2, 11); /* miss: [11 10] */
    (void)route_distance(route, 3, 10);  /* hit: [10 11] */
    CHECK_INT(route_tables_built(route), ==, 2);
    (void)route_next_port(route, 4, 12); /* miss, evicts 11: [12 10] */
    CHECK_INT(route_tables_built(route), ==, 3);
    (void)route_next_port(route, 5, 10); /* hit */
    CHECK_INT(route_tables_built(route), ==, 3);
    (void)route_next_port(route, 6, 11); /* miss, evicts 12 */
    CHECK_INT(route_tables_built(route), ==, 4);
    (void)route_next_port(route, 7, 10); /* hit */
    (void)route_next_port(route, 7, 12); /* miss */
    CHECK_INT(route_tables_built(route), ==, 5);
    route_free(route);
    /* A capacity above N is clamped; every destination then stays. */
    CHECK_OK(route_create(topo, 1u << 30, &route));
    for (int round = 0; round < 3; round++) {
        for (uint32_t to = 0; to < 50; to++)
            (void)route_next_port(route, (to + 1) % 50, to);
    }
    CHECK_INT(route_tables_built(route), ==, 50);
    route_free(route);
    topo_free(topo);

    /* Algorithmic kinds ignore the capacity and build nothing. */
    static const char *const regular[] = {"mesh:5", "ring:5", "tree:5:2", "torus2d:3x3",
                                          "torus3d:3x3x3", "hypercube:3"};
    for (size_t i = 0; i < sizeof regular / sizeof regular[0]; i++) {
        topo = route_test_topo(regular[i]);
        CHECK_OK(route_create(topo, 0, &route));
        CHECK_INT(route_method(route), ==, ROUTE_ALGORITHMIC);
        CHECK(route_next_port(route, 0, 1) >= 0);
        CHECK_INT(route_tables_built(route), ==, 0);
        route_free(route);
        topo_free(topo);
    }
    CHECK_STR(route_method_name(ROUTE_ALGORITHMIC), "algorithmic");
}

/* Large regular topologies route without tables: spot checks against the
 * structure, where a full BFS per pair would be slow. */
TEST_FN(route_large_regular)
{
    topo_t *topo = route_test_topo("torus3d:32x32x64");
    route_t *route;
    CHECK_OK(route_create(topo, 1, &route));
    uint32_t corner = 16 + 32 * (16 + 32 * 32); /* (16, 16, 32): the far corner */
    CHECK_INT(route_distance(route, 0, corner), ==, 64);
    CHECK_INT(route_next_port(route, 0, corner), ==, 0); /* x first, forward on a tie */
    CHECK_INT(route_next_port(route, 0, 31), ==, 1);     /* x - 1 is shorter */
    CHECK_INT(route_next_port(route, 0, 32 * 3), ==, 2); /* y + 3 */
    CHECK_INT(route_next_port(route, 0, 1024 * 63), ==, 5);
    route_free(route);
    topo_free(topo);

    topo = route_test_topo("hypercube:16");
    CHECK_OK(route_create(topo, 1, &route));
    CHECK_INT(route_distance(route, 0, 0xffff), ==, 16);
    CHECK_INT(route_next_port(route, 0x00f0, 0x0ff0), ==, 8);
    route_free(route);
    topo_free(topo);

    topo = route_test_topo("tree:100000:1"); /* a path: O(1) per query */
    CHECK_OK(route_create(topo, 1, &route));
    CHECK_INT(route_distance(route, 99999, 3), ==, 99996);
    CHECK_INT(route_next_port(route, 5, 99999), ==, 1);
    CHECK_INT(route_next_port(route, 5, 0), ==, 0);
    CHECK_INT(route_next_port(route, 0, 7), ==, 0);
    route_free(route);
    topo_free(topo);
}
