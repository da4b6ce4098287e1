/*
 * topo — topologies (DESIGN §7): building a graph from a spec string, and the
 * figures it is measured by (diameter, exact average shortest path, and the
 * Moore bound for its size and degree).
 *
 * A topology is a connected, undirected simple graph. Every node has ports
 * 0..degree-1 and each port joins one link to a neighbour. The graph is stored
 * compactly (CSR) so that "who is on port p of node u, and which of its ports
 * is that link" is two array reads:
 *
 *   neighbor[offsets[u] + p]   the node on port p of u
 *   peer_port[offsets[u] + p]  that neighbour's port for the same link
 *
 * Building is not a hot path and allocates; the core still does no I/O, so a
 * `file:` spec reads its bytes through a function the caller passes
 * (src/dpu/files.h has the stdio one). Randomness comes only from the seed in
 * the spec (core/rng.h): the same spec always gives the same graph, ports
 * included.
 */
#ifndef ARIADNE_CORE_TOPO_H
#define ARIADNE_CORE_TOPO_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ariadne.h"

/* Ports per node. Port sets are u64 bitmasks elsewhere, hence 64. */
#define TOPO_PORTS_MAX 64u
/* Nodes per topology. Node ids are uint32_t; 2^22 keeps every CSR index of a
 * full-degree graph (2^22 * 64 = 2^28 ports) well inside uint32_t. */
#define TOPO_NODES_MAX (1u << 22)
/* A good size for the error buffers below; longer messages are cut. */
#define TOPO_ERROR_MAX 256u

_Static_assert(TOPO_PORTS_MAX <= 64u, "port sets are uint64_t bitmasks");
_Static_assert(TOPO_PORTS_MAX <= 255u, "peer_port is a uint8_t");
_Static_assert((uint64_t)TOPO_NODES_MAX * TOPO_PORTS_MAX <= UINT32_MAX,
               "CSR offsets are uint32_t");

typedef enum {
    TOPO_KIND_MESH,       /* mesh:N — port p of u leads to p < u ? p : p + 1 */
    TOPO_KIND_RING,       /* ring:N — port 0 to u + 1, port 1 to u - 1 */
    TOPO_KIND_TREE,       /* tree:N:K — port 0 to the parent (not the root), then children */
    TOPO_KIND_TORUS2D,    /* torus2d:AxB — port 2d to +1, 2d + 1 to -1 along dimension d */
    TOPO_KIND_TORUS3D,    /* torus3d:AxBxC — the same, three dimensions, x fastest */
    TOPO_KIND_HYPERCUBE,  /* hypercube:D — port b flips bit b */
    TOPO_KIND_SMALLWORLD, /* smallworld:N:K:SEED — ring ports 0 and 1, then shortcuts */
    TOPO_KIND_RANDOM,     /* random:N:K:SEED */
    TOPO_KIND_OPT,        /* opt:N:K:SEED[:SWAPS] */
    TOPO_KIND_FILE,       /* file:PATH — ports in the order links appear in the file */
} topo_kind_t;

typedef struct {
    topo_kind_t kind;
    uint32_t nodes;
    uint64_t links;
    uint32_t degree_min, degree_max;
    /* The parameters algorithmic routing needs: ring {N}; torus sides {A, B, C}
     * (C = 1 for 2D); hypercube {D}; tree {K}. Zero elsewhere. */
    uint32_t shape[3];
    uint32_t *offsets;   /* nodes + 1 entries; ports of u are offsets[u]..offsets[u+1]-1 */
    uint32_t *neighbor;  /* offsets[nodes] entries */
    uint8_t *peer_port;  /* offsets[nodes] entries */
} topo_t;

static inline uint32_t topo_degree(const topo_t *topo, uint32_t node)
{
    assert(node < topo->nodes);
    return topo->offsets[node + 1] - topo->offsets[node];
}

/* The node on port `port` of `node`. */
static inline uint32_t topo_neighbor(const topo_t *topo, uint32_t node, uint32_t port)
{
    assert(port < topo_degree(topo, node));
    return topo->neighbor[topo->offsets[node] + port];
}

/* The port of topo_neighbor(node, port) whose link leads back to `node`. */
static inline uint32_t topo_peer_port(const topo_t *topo, uint32_t node, uint32_t port)
{
    assert(port < topo_degree(topo, node));
    return topo->peer_port[topo->offsets[node] + port];
}

/* Reads the whole file `path` into a malloc'd buffer the caller frees.
 * Returns 0 and sets *data_out and *size_out, or a negative status with a
 * one-line message in `error` (e.g. ARI_EIO, "cannot open x: No such file"). */
typedef int (*topo_read_fn)(void *read_ctx, const char *path, char **data_out,
                            size_t *size_out, char *error, size_t error_size);

/* Builds the topology a spec names:
 *
 *   mesh:N  ring:N  tree:N:K  torus2d:AxB  torus3d:AxBxC  hypercube:D
 *   smallworld:N:K:SEED  random:N:K:SEED  opt:N:K:SEED[:SWAPS]  file:PATH
 *
 * `read` (with `read_ctx`) is only called for file: specs and may be NULL
 * otherwise. Returns 0 and sets *topo_out (free with topo_free), or:
 *   ARI_ETOPO_SPEC         malformed spec (unknown kind, bad or missing number,
 *                          trailing characters)
 *   ARI_ETOPO_SIZE         node count or a side out of range
 *   ARI_ETOPO_DEGREE       no graph of that kind has that degree, or a node
 *                          would exceed TOPO_PORTS_MAX
 *   ARI_ETOPO_FILE         malformed edge list (message has file:line)
 *   ARI_ETOPO_DISCONNECTED an edge list that is not one connected graph
 *   ARI_ENOTSUP            a file: spec with no `read` function
 *   ARI_ENOMEM             allocation failed
 *   or the status `read` returned.
 * Every error writes one line (no newline) into `error`. */
int topo_build(const char *spec, topo_read_fn read, void *read_ctx, topo_t **topo_out,
               char *error, size_t error_size);

/* Parses an edge list (the bytes of a file: spec; `name` is used in messages
 * as "name:line: ..."): one "a b" pair a line, '#' starts a comment, blank
 * lines allowed, node count = highest id + 1. Errors as topo_build. */
int topo_from_edge_list(const char *name, const char *data, size_t size, topo_t **topo_out,
                        char *error, size_t error_size);

void topo_free(topo_t *topo);

/* One plain BFS from `source`: distance[v] = hops from source, UINT32_MAX if
 * unreachable. `queue` is scratch of `nodes` entries and holds the reached
 * nodes in BFS order afterwards. Returns how many were reached (source
 * included). Both arrays are the caller's. */
uint32_t topo_distances(const topo_t *topo, uint32_t source, uint32_t *distance,
                        uint32_t *queue);

/* "mesh", "ring", ... */
const char *topo_kind_name(topo_kind_t kind);

/* ------------------------------------------------------------------------
 * Figures
 * ------------------------------------------------------------------------ */

typedef struct {
    uint32_t nodes;
    uint64_t links;
    uint32_t degree_min, degree_max;
    uint32_t diameter;
    /* Sum of d(u, v) over all ordered pairs u != v, exactly, and the number of
     * those pairs; aspl = distance_sum / pairs. */
    __uint128_t distance_sum;
    uint64_t pairs;
    double aspl;
    /* Moore bound for `nodes` and `degree_max` (see topo_moore). */
    uint32_t moore_diameter;
    uint64_t moore_distance_sum; /* per source, over the nodes - 1 others */
    double moore_aspl;
    /* True when diameter and distance_sum came from a formula for the kind
     * (ring, torus, hypercube, mesh, any tree) instead of the BFS. */
    bool closed_form;
} topo_figures_t;

/* Exact figures: a formula where one is known, otherwise one bit-parallel BFS
 * from every node. Returns 0, ARI_ETOPO_SIZE for a single node (no paths),
 * ARI_ETOPO_DISCONNECTED (cannot happen for a
 * graph from topo_build) or ARI_ENOMEM. */
int topo_figures(const topo_t *topo, topo_figures_t *figures_out);
/* The same, always by BFS: to check the formulas, or to time the BFS. */
int topo_figures_bfs(const topo_t *topo, topo_figures_t *figures_out);

/* The Moore bound: no graph of `nodes` nodes and maximum degree `degree` has
 * a smaller diameter or average distance. moore_diameter is the least D with
 * 1 + k * sum_{i<D} (k-1)^i >= N; the distance sum fills distance layers
 * greedily (layer i holds k (k-1)^(i-1) nodes) with the N - 1 others.
 * Returns 0, or ARI_ETOPO_DEGREE when no connected graph exists (degree 0
 * with N > 1, degree 1 with N > 2). */
int topo_moore(uint32_t nodes, uint32_t degree, uint32_t *diameter_out,
               uint64_t *distance_sum_out);

#endif /* ARIADNE_CORE_TOPO_H */
