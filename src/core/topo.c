/*
 * topo — building topologies from spec strings, and their exact figures.
 *
 * Sections: errors and allocation; the CSR form; spec parsing; the regular
 * kinds; random pairing (random, smallworld); the bit-parallel BFS; the
 * optimiser (opt); edge lists (file); figures and the Moore bound; the spec
 * dispatcher.
 */
#include "topo.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* ------------------------------------------------------------------------
 * Errors and allocation
 * ------------------------------------------------------------------------ */

__attribute__((format(printf, 4, 5))) static int topo_error(int status, char *error,
                                                           size_t error_size,
                                                           const char *format, ...)
{
    if (error != NULL && error_size > 0) {
        va_list args;
        va_start(args, format);
        vsnprintf(error, error_size, format, args);
        va_end(args);
    }
    return status;
}

void topo_free(topo_t *topo)
{
    if (topo == NULL)
        return;
    free(topo->offsets);
    free(topo->neighbor);
    free(topo->peer_port);
    free(topo);
}

/* A topology with its arrays allocated; offsets, neighbours and peer ports
 * are the caller's to fill. NULL when memory runs out. */
static topo_t *topo_alloc(topo_kind_t kind, uint32_t nodes, uint64_t ports_total)
{
    assert(nodes <= TOPO_NODES_MAX);
    assert(ports_total <= (uint64_t)TOPO_NODES_MAX * TOPO_PORTS_MAX);
    topo_t *topo = calloc(1, sizeof *topo);
    if (topo == NULL)
        return NULL;
    topo->kind = kind;
    topo->nodes = nodes;
    size_t ports = ports_total > 0 ? (size_t)ports_total : 1;
    topo->offsets = malloc(((size_t)nodes + 1) * sizeof *topo->offsets);
    topo->neighbor = malloc(ports * sizeof *topo->neighbor);
    topo->peer_port = malloc(ports * sizeof *topo->peer_port);
    if (topo->offsets == NULL || topo->neighbor == NULL || topo->peer_port == NULL) {
        topo_free(topo);
        return NULL;
    }
    return topo;
}

/* ------------------------------------------------------------------------
 * The CSR form: once offsets and neighbours are filled, topo_finish pairs
 * every port with its peer and checks the graph is simple.
 * ------------------------------------------------------------------------ */

/* Finds, for each link, the port on the far side. Each node scans at most
 * TOPO_PORTS_MAX ports of a neighbour, so this is O(links * degree). */
static void topo_peers_compute(topo_t *topo)
{
    const uint32_t *offsets = topo->offsets;
    for (uint32_t u = 0; u < topo->nodes; u++) {
        for (uint32_t e = offsets[u]; e < offsets[u + 1]; e++) {
            uint32_t v = topo->neighbor[e];
            assert(v < topo->nodes && v != u);
            if (v < u)
                continue; /* paired from v's side already */
            uint32_t f = offsets[v];
            while (f < offsets[v + 1] && topo->neighbor[f] != u)
                f++;
            assert(f < offsets[v + 1]); /* links are symmetric */
            topo->peer_port[e] = (uint8_t)(f - offsets[v]);
            topo->peer_port[f] = (uint8_t)(e - offsets[u]);
        }
    }
}

/* Pairs ports, fills degrees and links, and asserts the invariants every
 * generator promises: no self-loops, no duplicate links, peers agree. A
 * duplicate link shows up here as two ports claiming the same peer. */
static void topo_finish(topo_t *topo)
{
    topo_peers_compute(topo);
    topo->degree_min = UINT32_MAX;
    topo->degree_max = 0;
    for (uint32_t u = 0; u < topo->nodes; u++) {
        uint32_t degree = topo_degree(topo, u);
        assert(degree <= TOPO_PORTS_MAX);
        if (degree < topo->degree_min)
            topo->degree_min = degree;
        if (degree > topo->degree_max)
            topo->degree_max = degree;
        for (uint32_t port = 0; port < degree; port++) {
            uint32_t v = topo_neighbor(topo, u, port);
            uint32_t back = topo_peer_port(topo, u, port);
            assert(topo_neighbor(topo, v, back) == u);
            assert(topo_peer_port(topo, v, back) == port);
        }
    }
    assert(topo->offsets[topo->nodes] % 2 == 0);
    topo->links = topo->offsets[topo->nodes] / 2;
}

uint32_t topo_distances(const topo_t *topo, uint32_t source, uint32_t *distance,
                        uint32_t *queue)
{
    assert(source < topo->nodes);
    for (uint32_t v = 0; v < topo->nodes; v++)
        distance[v] = UINT32_MAX;
    uint32_t head = 0, tail = 0;
    distance[source] = 0;
    queue[tail++] = source;
    while (head < tail) {
        uint32_t u = queue[head++];
        for (uint32_t e = topo->offsets[u]; e < topo->offsets[u + 1]; e++) {
            uint32_t v = topo->neighbor[e];
            if (distance[v] == UINT32_MAX) {
                distance[v] = distance[u] + 1;
                queue[tail++] = v;
            }
        }
    }
    return tail;
}

/* ------------------------------------------------------------------------
 * Spec parsing. Numbers are plain decimal digits: no sign, no spaces, no
 * hex; a number that does not fit 64 bits is an error, not a wrap.
 * ------------------------------------------------------------------------ */

typedef struct {
    const char *spec;   /* the whole spec, for messages */
    const char *format; /* e.g. "tree:N:K", for messages */
    const char *cursor; /* next character to read */
    char *error;
    size_t error_size;
} topo_parser_t;

/* Reads the decimal field `what` at the cursor. `after` is the character
 * that must follow it (':' or 'x'), or 0 for the last field of the spec;
 * with `may_end`, the spec may also end after it (an optional next field). */
static int topo_parse_number(topo_parser_t *parser, const char *what, char after, bool may_end,
                             uint64_t *value_out)
{
    const char *start = parser->cursor, *end = start;
    uint64_t value = 0;
    bool overflow = false;
    for (; *end >= '0' && *end <= '9'; end++) {
        unsigned digit = (unsigned)(*end - '0');
        if (value > (UINT64_MAX - digit) / 10)
            overflow = true;
        value = value * 10 + digit;
    }
    int length = (int)(end - start), shown = length + (int)strcspn(end, (char[]){after, 0});
    if (end == start && (*end == 0 || *end == after))
        return topo_error(ARI_ETOPO_SPEC, parser->error, parser->error_size,
                          "%s: missing %s (expected %s)", parser->spec, what, parser->format);
    if (end == start || (after != 0 && *end != after && *end != 0))
        return topo_error(ARI_ETOPO_SPEC, parser->error, parser->error_size,
                          "%s: %s '%.*s' is not a decimal number (expected %s)", parser->spec,
                          what, shown, start, parser->format);
    if (overflow)
        return topo_error(ARI_ETOPO_SPEC, parser->error, parser->error_size,
                          "%s: %s '%.*s' is too large", parser->spec, what, length, start);
    if (after == 0 && *end != 0)
        return topo_error(ARI_ETOPO_SPEC, parser->error, parser->error_size,
                          "%s: trailing characters '%s' after %s (expected %s)", parser->spec,
                          end, what, parser->format);
    if (after != 0 && *end == 0 && !may_end)
        return topo_error(ARI_ETOPO_SPEC, parser->error, parser->error_size,
                          "%s: incomplete, nothing after %s (expected %s)", parser->spec, what,
                          parser->format);
    parser->cursor = after != 0 && *end == after ? end + 1 : end;
    *value_out = value;
    return ARI_OK;
}

/* Node counts share one rule: at least `least`, at most TOPO_NODES_MAX. */
static int topo_check_nodes(topo_parser_t *parser, uint64_t nodes, uint64_t least)
{
    if (nodes < least || nodes > TOPO_NODES_MAX)
        return topo_error(ARI_ETOPO_SIZE, parser->error, parser->error_size,
                          "%s: node count %llu is out of range (%llu to %u)", parser->spec,
                          (unsigned long long)nodes, (unsigned long long)least,
                          TOPO_NODES_MAX);
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Regular kinds: each fills its neighbours from a formula, so its ports mean
 * something the routing module can compute with (see topo_kind_t).
 * ------------------------------------------------------------------------ */

static int topo_regular_alloc(topo_kind_t kind, uint32_t nodes, uint32_t degree,
                              topo_t **topo_out)
{
    topo_t *topo = topo_alloc(kind, nodes, (uint64_t)nodes * degree);
    if (topo == NULL)
        return ARI_ENOMEM;
    for (uint32_t u = 0; u <= nodes; u++)
        topo->offsets[u] = u * degree;
    *topo_out = topo;
    return ARI_OK;
}

static int topo_build_mesh(topo_parser_t *parser, topo_t **topo_out)
{
    uint64_t nodes;
    int status = topo_parse_number(parser, "node count N", 0, false, &nodes);
    if (status != ARI_OK || (status = topo_check_nodes(parser, nodes, 1)) != ARI_OK)
        return status;
    if (nodes - 1 > TOPO_PORTS_MAX)
        return topo_error(ARI_ETOPO_DEGREE, parser->error, parser->error_size,
                          "%s: a full mesh of %llu nodes needs degree %llu, more than the "
                          "%u ports a node has (mesh:%u is the largest)",
                          parser->spec, (unsigned long long)nodes,
                          (unsigned long long)nodes - 1, TOPO_PORTS_MAX, TOPO_PORTS_MAX + 1);
    topo_t *topo;
    uint32_t n = (uint32_t)nodes;
    if ((status = topo_regular_alloc(TOPO_KIND_MESH, n, n - 1, &topo)) != ARI_OK)
        return status;
    for (uint32_t u = 0; u < n; u++) {
        for (uint32_t port = 0; port < n - 1; port++)
            topo->neighbor[topo->offsets[u] + port] = port < u ? port : port + 1;
    }
    *topo_out = topo;
    return ARI_OK;
}

/* Fills a torus of up to three dimensions (x fastest): port 2d leads to +1
 * along dimension d, port 2d + 1 to -1. A ring is the one-dimensional torus. */
static void topo_torus_fill(topo_t *topo, const uint32_t *sides, uint32_t dimensions)
{
    uint32_t degree = 2 * dimensions;
    for (uint32_t u = 0; u < topo->nodes; u++) {
        uint32_t stride = 1;
        for (uint32_t d = 0; d < dimensions; d++) {
            uint32_t side = sides[d];
            uint32_t coordinate = (u / stride) % side;
            uint32_t up = coordinate + 1 == side ? u - coordinate * stride : u + stride;
            uint32_t down = coordinate == 0 ? u + (side - 1) * stride : u - stride;
            topo->neighbor[u * degree + 2 * d] = up;
            topo->neighbor[u * degree + 2 * d + 1] = down;
            stride *= side;
        }
    }
}

static int topo_build_ring(topo_parser_t *parser, topo_t **topo_out)
{
    uint64_t nodes;
    int status = topo_parse_number(parser, "node count N", 0, false, &nodes);
    if (status != ARI_OK || (status = topo_check_nodes(parser, nodes, 3)) != ARI_OK)
        return status;
    topo_t *topo;
    if ((status = topo_regular_alloc(TOPO_KIND_RING, (uint32_t)nodes, 2, &topo)) != ARI_OK)
        return status;
    topo->shape[0] = (uint32_t)nodes;
    topo_torus_fill(topo, topo->shape, 1);
    *topo_out = topo;
    return ARI_OK;
}

/* torus2d:AxB and torus3d:AxBxC. Sides of 2 would join a node to the same
 * neighbour on both of a dimension's ports (a duplicate link), so each side
 * is at least 3. */
static int topo_build_torus(topo_parser_t *parser, uint32_t dimensions, topo_t **topo_out)
{
    static const char *const names[3] = {"side A", "side B", "side C"};
    uint64_t sides[3] = {1, 1, 1}, nodes = 1;
    for (uint32_t d = 0; d < dimensions; d++) {
        char after = d + 1 < dimensions ? 'x' : 0;
        int status = topo_parse_number(parser, names[d], after, false, &sides[d]);
        if (status != ARI_OK)
            return status;
    }
    for (uint32_t d = 0; d < dimensions; d++) {
        if (sides[d] < 3 || sides[d] > TOPO_NODES_MAX)
            return topo_error(ARI_ETOPO_SIZE, parser->error, parser->error_size,
                              "%s: %s is %llu; each torus side must be at least 3 (a side "
                              "of 2 would make duplicate links) and the whole at most %u "
                              "nodes",
                              parser->spec, names[d], (unsigned long long)sides[d],
                              TOPO_NODES_MAX);
        nodes *= sides[d];
        if (nodes > TOPO_NODES_MAX)
            return topo_error(ARI_ETOPO_SIZE, parser->error, parser->error_size,
                              "%s: more than %u nodes", parser->spec, TOPO_NODES_MAX);
    }
    topo_kind_t kind = dimensions == 2 ? TOPO_KIND_TORUS2D : TOPO_KIND_TORUS3D;
    topo_t *topo;
    int status = topo_regular_alloc(kind, (uint32_t)nodes, 2 * dimensions, &topo);
    if (status != ARI_OK)
        return status;
    for (uint32_t d = 0; d < 3; d++)
        topo->shape[d] = (uint32_t)sides[d];
    topo_torus_fill(topo, topo->shape, dimensions);
    *topo_out = topo;
    return ARI_OK;
}

static int topo_build_hypercube(topo_parser_t *parser, topo_t **topo_out)
{
    uint64_t dimension;
    int status = topo_parse_number(parser, "dimension D", 0, false, &dimension);
    if (status != ARI_OK)
        return status;
    uint32_t most = 0;
    while ((1u << (most + 1)) <= TOPO_NODES_MAX)
        most++;
    if (dimension < 1 || dimension > most)
        return topo_error(ARI_ETOPO_SIZE, parser->error, parser->error_size,
                          "%s: dimension %llu is out of range (1 to %u, for 2^D nodes)",
                          parser->spec, (unsigned long long)dimension, most);
    uint32_t d = (uint32_t)dimension;
    topo_t *topo;
    if ((status = topo_regular_alloc(TOPO_KIND_HYPERCUBE, 1u << d, d, &topo)) != ARI_OK)
        return status;
    topo->shape[0] = d;
    for (uint32_t u = 0; u < topo->nodes; u++) {
        for (uint32_t bit = 0; bit < d; bit++)
            topo->neighbor[u * d + bit] = u ^ (1u << bit);
    }
    *topo_out = topo;
    return ARI_OK;
}

/* Children of node u in a K-ary tree of `nodes` nodes: K u + 1 .. K u + K. */
static uint32_t topo_tree_children(uint64_t nodes, uint64_t arity, uint64_t u)
{
    uint64_t first = arity * u + 1;
    if (first >= nodes)
        return 0;
    return (uint32_t)(nodes - first < arity ? nodes - first : arity);
}

static int topo_build_tree(topo_parser_t *parser, topo_t **topo_out)
{
    uint64_t nodes, arity;
    int status = topo_parse_number(parser, "node count N", ':', false, &nodes);
    if (status != ARI_OK ||
        (status = topo_parse_number(parser, "arity K", 0, false, &arity)) != ARI_OK ||
        (status = topo_check_nodes(parser, nodes, 2)) != ARI_OK)
        return status;
    if (arity == 0)
        return topo_error(ARI_ETOPO_DEGREE, parser->error, parser->error_size,
                          "%s: arity K must be at least 1", parser->spec);
    /* An arity beyond N - 1 gives the same star as N - 1: clamp it so the
     * arithmetic below stays small. Node 1 has the most ports after the root. */
    if (arity > nodes - 1)
        arity = nodes - 1;
    uint64_t degree_max = topo_tree_children(nodes, arity, 0);
    if (1 + (uint64_t)topo_tree_children(nodes, arity, 1) > degree_max)
        degree_max = 1 + topo_tree_children(nodes, arity, 1);
    if (degree_max > TOPO_PORTS_MAX)
        return topo_error(ARI_ETOPO_DEGREE, parser->error, parser->error_size,
                          "%s: a node would have %llu links, more than the %u ports a node "
                          "has (K <= %u, or K <= %u when N <= K + 1)",
                          parser->spec, (unsigned long long)degree_max, TOPO_PORTS_MAX,
                          TOPO_PORTS_MAX - 1, TOPO_PORTS_MAX);
    uint32_t n = (uint32_t)nodes, k = (uint32_t)arity;
    topo_t *topo = topo_alloc(TOPO_KIND_TREE, n, 2 * ((uint64_t)n - 1));
    if (topo == NULL)
        return ARI_ENOMEM;
    topo->shape[0] = k;
    uint32_t port = 0;
    for (uint32_t u = 0; u < n; u++) {
        topo->offsets[u] = port;
        if (u > 0)
            topo->neighbor[port++] = (u - 1) / k;
        uint32_t children = topo_tree_children(n, k, u);
        for (uint32_t c = 0; c < children; c++)
            topo->neighbor[port++] = k * u + 1 + c;
    }
    topo->offsets[n] = port;
    assert(port == 2 * (n - 1));
    *topo_out = topo;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Random pairing. Graphs under construction live in an adjacency table with
 * a fixed number of slots per node; free ports ("stubs") are paired at
 * random, refusing pairs that would make a self-loop or a duplicate link
 * (Steger and Wormald's method), so no attempt is thrown away for one bad
 * pair as the plain configuration model would.
 * ------------------------------------------------------------------------ */

/* Consecutive refused pairs before looking for the valid ones exhaustively. */
#define TOPO_PAIR_TRIES 64u
/* Largest number of stubs the exhaustive look is allowed over. */
#define TOPO_PAIR_ENUMERATE_MAX 1024u
/* Fresh attempts at a connected random graph before giving up. */
#define TOPO_RANDOM_ATTEMPTS_MAX 64u

typedef struct {
    uint32_t nodes, slots; /* slots per node: the degree bound */
    uint32_t *adjacency;   /* nodes * slots */
    uint8_t *degree;       /* nodes */
} topo_adj_t;

static int topo_adj_init(topo_adj_t *adj, uint32_t nodes, uint32_t slots)
{
    adj->nodes = nodes;
    adj->slots = slots;
    adj->adjacency = malloc((size_t)nodes * slots * sizeof *adj->adjacency);
    adj->degree = calloc(nodes, sizeof *adj->degree);
    if (adj->adjacency == NULL || adj->degree == NULL) {
        free(adj->adjacency);
        free(adj->degree);
        return ARI_ENOMEM;
    }
    return ARI_OK;
}

static void topo_adj_destroy(topo_adj_t *adj)
{
    free(adj->adjacency);
    free(adj->degree);
}

static bool topo_adj_has(const topo_adj_t *adj, uint32_t u, uint32_t v)
{
    const uint32_t *row = adj->adjacency + (size_t)u * adj->slots;
    for (uint32_t i = 0; i < adj->degree[u]; i++) {
        if (row[i] == v)
            return true;
    }
    return false;
}

static void topo_adj_link(topo_adj_t *adj, uint32_t u, uint32_t v)
{
    assert(u != v && !topo_adj_has(adj, u, v));
    assert(adj->degree[u] < adj->slots && adj->degree[v] < adj->slots);
    adj->adjacency[(size_t)u * adj->slots + adj->degree[u]++] = v;
    adj->adjacency[(size_t)v * adj->slots + adj->degree[v]++] = u;
}

static bool topo_adj_connected(const topo_adj_t *adj, uint32_t *queue, uint8_t *seen)
{
    memset(seen, 0, adj->nodes);
    uint32_t head = 0, tail = 0;
    queue[tail++] = 0;
    seen[0] = 1;
    while (head < tail) {
        uint32_t u = queue[head++];
        for (uint32_t i = 0; i < adj->degree[u]; i++) {
            uint32_t v = adj->adjacency[(size_t)u * adj->slots + i];
            if (!seen[v]) {
                seen[v] = 1;
                queue[tail++] = v;
            }
        }
    }
    return tail == adj->nodes;
}

/* The CSR topology of a finished adjacency table, ports in slot order. */
static topo_t *topo_adj_export(const topo_adj_t *adj, topo_kind_t kind)
{
    uint64_t ports = 0;
    for (uint32_t u = 0; u < adj->nodes; u++)
        ports += adj->degree[u];
    topo_t *topo = topo_alloc(kind, adj->nodes, ports);
    if (topo == NULL)
        return NULL;
    uint32_t port = 0;
    for (uint32_t u = 0; u < adj->nodes; u++) {
        topo->offsets[u] = port;
        memcpy(topo->neighbor + port, adj->adjacency + (size_t)u * adj->slots,
               adj->degree[u] * sizeof *topo->neighbor);
        port += adj->degree[u];
    }
    topo->offsets[adj->nodes] = port;
    return topo;
}

static bool topo_pair_valid(const topo_adj_t *adj, uint32_t u, uint32_t v)
{
    return u != v && !topo_adj_has(adj, u, v);
}

/* When random picks keep failing, near the end of a pairing: counts the
 * valid stub pairs and picks one of them at random. False if there is none
 * (or too many stubs left to look at all pairs). */
static bool topo_pair_pick_valid(const topo_adj_t *adj, const uint32_t *stubs, size_t count,
                                 rng_t *rng, size_t *i_out, size_t *j_out)
{
    if (count > TOPO_PAIR_ENUMERATE_MAX)
        return false;
    uint64_t valid = 0;
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i + 1; j < count; j++)
            valid += topo_pair_valid(adj, stubs[i], stubs[j]);
    }
    if (valid == 0)
        return false;
    uint64_t pick = rng_below(rng, valid);
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i + 1; j < count; j++) {
            if (topo_pair_valid(adj, stubs[i], stubs[j]) && pick-- == 0) {
                *i_out = i;
                *j_out = j;
                return true;
            }
        }
    }
    assert(false); /* the second pass sees the same valid pairs */
    return false;
}

/* Pairs the stubs (one entry per free port, naming its node) at random into
 * links. True when every stub was paired; false when the rest cannot be
 * (the leftovers are then simply unpaired). */
static bool topo_pair_stubs(topo_adj_t *adj, uint32_t *stubs, size_t count, rng_t *rng)
{
    uint32_t failures = 0;
    while (count >= 2) {
        size_t i = (size_t)rng_below(rng, count);
        size_t j = (size_t)rng_below(rng, count - 1);
        if (j >= i)
            j++;
        if (!topo_pair_valid(adj, stubs[i], stubs[j])) {
            if (++failures < TOPO_PAIR_TRIES)
                continue;
            if (!topo_pair_pick_valid(adj, stubs, count, rng, &i, &j))
                return false;
        }
        failures = 0;
        topo_adj_link(adj, stubs[i], stubs[j]);
        if (i < j) {
            size_t larger = j;
            j = i;
            i = larger;
        }
        stubs[i] = stubs[--count];
        stubs[j] = stubs[--count];
    }
    return count == 0;
}

/* Fills `stubs` with `per_node` free ports for every node. */
static size_t topo_stubs_fill(uint32_t *stubs, uint32_t nodes, uint32_t per_node)
{
    size_t count = 0;
    for (uint32_t u = 0; u < nodes; u++) {
        for (uint32_t i = 0; i < per_node; i++)
            stubs[count++] = u;
    }
    return count;
}

/* A random K-regular graph for a dense K (K > (N-1)/2), built as the
 * complement of a random sparse one: pairing is easy when few ports are
 * taken. Every such graph is connected (two non-adjacent nodes share a
 * neighbour). N <= 2 * TOPO_PORTS_MAX + 1 here. */
static int topo_random_dense(topo_adj_t *adj, uint32_t degree, rng_t *rng)
{
    uint32_t nodes = adj->nodes, missing = nodes - 1 - degree;
    topo_adj_t complement;
    if (topo_adj_init(&complement, nodes, missing > 0 ? missing : 1) != ARI_OK)
        return ARI_ENOMEM;
    uint32_t *stubs = malloc(((size_t)nodes * missing + 1) * sizeof *stubs);
    int status = stubs != NULL ? ARI_ETOPO_DEGREE : ARI_ENOMEM;
    for (uint32_t attempt = 0; stubs != NULL && attempt < TOPO_RANDOM_ATTEMPTS_MAX; attempt++) {
        memset(complement.degree, 0, nodes);
        size_t count = topo_stubs_fill(stubs, nodes, missing);
        if (topo_pair_stubs(&complement, stubs, count, rng)) {
            status = ARI_OK;
            break;
        }
    }
    if (status == ARI_OK) {
        memset(adj->degree, 0, nodes);
        for (uint32_t u = 0; u < nodes; u++) {
            for (uint32_t v = u + 1; v < nodes; v++) {
                if (!topo_adj_has(&complement, u, v))
                    topo_adj_link(adj, u, v);
            }
        }
    }
    free(stubs);
    topo_adj_destroy(&complement);
    return status;
}

/* A random Hamiltonian cycle: the only connected 2-regular graphs are
 * cycles, and pairing stubs would mostly give several. */
static int topo_random_cycle(topo_adj_t *adj, rng_t *rng)
{
    uint32_t *order = malloc((size_t)adj->nodes * sizeof *order);
    if (order == NULL)
        return ARI_ENOMEM;
    for (uint32_t u = 0; u < adj->nodes; u++)
        order[u] = u;
    for (uint32_t u = adj->nodes - 1; u > 0; u--) {
        uint32_t other = (uint32_t)rng_below(rng, (uint64_t)u + 1);
        uint32_t swap = order[u];
        order[u] = order[other];
        order[other] = swap;
    }
    memset(adj->degree, 0, adj->nodes);
    for (uint32_t u = 0; u < adj->nodes; u++)
        topo_adj_link(adj, order[u], order[(u + 1) % adj->nodes]);
    free(order);
    return ARI_OK;
}

/* A random connected K-regular graph; N * K even and K < N checked. */
static int topo_random_regular(topo_adj_t *adj, uint32_t degree, rng_t *rng)
{
    uint32_t nodes = adj->nodes;
    if (2 * degree > nodes - 1)
        return topo_random_dense(adj, degree, rng);
    if (degree == 2)
        return topo_random_cycle(adj, rng);
    uint32_t *stubs = malloc((size_t)nodes * degree * sizeof *stubs);
    uint32_t *queue = malloc((size_t)nodes * sizeof *queue);
    uint8_t *seen = malloc(nodes);
    int status = stubs && queue && seen ? ARI_ETOPO_DEGREE : ARI_ENOMEM;
    for (uint32_t attempt = 0; status == ARI_ETOPO_DEGREE && attempt < TOPO_RANDOM_ATTEMPTS_MAX;
         attempt++) {
        memset(adj->degree, 0, nodes);
        size_t count = topo_stubs_fill(stubs, nodes, degree);
        if (topo_pair_stubs(adj, stubs, count, rng) && topo_adj_connected(adj, queue, seen))
            status = ARI_OK;
    }
    free(stubs);
    free(queue);
    free(seen);
    return status;
}

/* No candidate-swap count given: opt picks one from N and K. */
#define TOPO_OPT_SWAPS_DEFAULT UINT64_MAX

/* The shared arguments of random, opt and smallworld: N:K:SEED, and for
 * opt (swaps_out not NULL) an optional :SWAPS. */
static int topo_parse_nks(topo_parser_t *parser, uint64_t least_nodes, uint32_t *nodes_out,
                          uint32_t *degree_out, uint64_t *seed_out, uint64_t *swaps_out)
{
    uint64_t nodes, degree;
    char after_seed = swaps_out != NULL ? ':' : 0;
    int status = topo_parse_number(parser, "node count N", ':', false, &nodes);
    if (status != ARI_OK ||
        (status = topo_parse_number(parser, "degree K", ':', false, &degree)) != ARI_OK ||
        (status = topo_parse_number(parser, "seed", after_seed, true, seed_out)) != ARI_OK)
        return status;
    if (swaps_out != NULL) {
        *swaps_out = TOPO_OPT_SWAPS_DEFAULT;
        if (parser->cursor[-1] == ':' &&
            (status = topo_parse_number(parser, "swap count", 0, false, swaps_out)) != ARI_OK)
            return status;
    }
    if ((status = topo_check_nodes(parser, nodes, least_nodes)) != ARI_OK)
        return status;
    if (degree == 0 || degree > TOPO_PORTS_MAX || degree >= nodes)
        return topo_error(ARI_ETOPO_DEGREE, parser->error, parser->error_size,
                          "%s: degree K = %llu must be 1 to %u and less than N", parser->spec,
                          (unsigned long long)degree, TOPO_PORTS_MAX);
    *nodes_out = (uint32_t)nodes;
    *degree_out = (uint32_t)degree;
    return ARI_OK;
}

/* random:N:K:SEED, and the start of opt:N:K:SEED[:SWAPS]. */
static int topo_random_parse_build(topo_parser_t *parser, topo_adj_t *adj, uint64_t *seed_out,
                                   uint64_t *swaps_out)
{
    uint32_t nodes, degree;
    int status = topo_parse_nks(parser, 2, &nodes, &degree, seed_out, swaps_out);
    if (status != ARI_OK)
        return status;
    if ((uint64_t)nodes * degree % 2 != 0)
        return topo_error(ARI_ETOPO_DEGREE, parser->error, parser->error_size,
                          "%s: N * K must be even (every link has two ends)", parser->spec);
    if (degree == 1 && nodes > 2)
        return topo_error(ARI_ETOPO_DEGREE, parser->error, parser->error_size,
                          "%s: a 1-regular graph of more than 2 nodes is not connected",
                          parser->spec);
    if ((status = topo_adj_init(adj, nodes, degree)) != ARI_OK)
        return status;
    rng_t rng = rng_seeded(*seed_out);
    status = topo_random_regular(adj, degree, &rng);
    if (status != ARI_OK) {
        topo_adj_destroy(adj);
        return topo_error(status, parser->error, parser->error_size,
                          "%s: could not build a connected random regular graph%s",
                          parser->spec, status == ARI_ENOMEM ? " (out of memory)" : "");
    }
    return ARI_OK;
}

static int topo_build_random(topo_parser_t *parser, topo_t **topo_out)
{
    topo_adj_t adj;
    uint64_t seed;
    int status = topo_random_parse_build(parser, &adj, &seed, NULL);
    if (status != ARI_OK)
        return status;
    topo_t *topo = topo_adj_export(&adj, TOPO_KIND_RANDOM);
    topo_adj_destroy(&adj);
    if (topo == NULL)
        return ARI_ENOMEM;
    *topo_out = topo;
    return ARI_OK;
}

/* smallworld:N:K:SEED — a ring (ports 0 and 1 of node 0; ring links come
 * first everywhere) plus random shortcuts on the K - 2 other ports, paired
 * like random's stubs. A port is left free when no valid partner is left,
 * so degrees are between 2 and K and the ring keeps the graph connected. */
static int topo_build_smallworld(topo_parser_t *parser, topo_t **topo_out)
{
    uint32_t nodes, degree;
    uint64_t seed;
    int status = topo_parse_nks(parser, 3, &nodes, &degree, &seed, NULL);
    if (status != ARI_OK)
        return status;
    if (degree < 2)
        return topo_error(ARI_ETOPO_DEGREE, parser->error, parser->error_size,
                          "%s: degree K must be at least 2 (the ring takes two ports)",
                          parser->spec);
    topo_adj_t adj;
    if ((status = topo_adj_init(&adj, nodes, degree)) != ARI_OK)
        return status;
    uint32_t *stubs = malloc(((size_t)nodes * (degree - 2) + 1) * sizeof *stubs);
    if (stubs == NULL) {
        topo_adj_destroy(&adj);
        return ARI_ENOMEM;
    }
    for (uint32_t u = 0; u < nodes; u++)
        topo_adj_link(&adj, u, (u + 1) % nodes);
    rng_t rng = rng_seeded(seed);
    size_t count = topo_stubs_fill(stubs, nodes, degree - 2);
    (void)topo_pair_stubs(&adj, stubs, count, &rng); /* leftovers stay free */
    free(stubs);
    topo_t *topo = topo_adj_export(&adj, TOPO_KIND_SMALLWORLD);
    topo_adj_destroy(&adj);
    if (topo == NULL)
        return ARI_ENOMEM;
    *topo_out = topo;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Bit-parallel BFS: one BFS from each of up to 64 * words sources at once.
 * Bit s of a node's word set says "source s has reached this node"; one
 * level ORs the frontier sets of a node's neighbours, so a level costs
 * links * words word operations for all the batch's sources together.
 * ------------------------------------------------------------------------ */

#define TOPO_BFS_WORDS_MAX 16u
/* Above this many nodes a batch is one word wide, to keep the three bit
 * arrays (3 * 8 * words bytes a node) small. */
#define TOPO_BFS_WIDE_NODES_MAX (1u << 20)

typedef struct {
    uint32_t words; /* 64-bit words per node: batch width / 64 */
    uint64_t *frontier, *next, *visited;
} topo_bfs_t;

typedef struct {
    __uint128_t distance_sum;
    uint64_t pairs_reached;
    uint32_t diameter;
    bool aborted; /* the sum limit was certain to be reached */
} topo_bfs_result_t;

static int topo_bfs_init(topo_bfs_t *bfs, uint32_t nodes)
{
    uint32_t words = 1;
    while (words < TOPO_BFS_WORDS_MAX && (uint64_t)words * 64 < nodes &&
           nodes <= TOPO_BFS_WIDE_NODES_MAX)
        words *= 2;
    bfs->words = words;
    size_t bytes = (size_t)nodes * words * sizeof(uint64_t);
    bytes = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple */
    bfs->frontier = aligned_alloc(64, bytes);
    bfs->next = aligned_alloc(64, bytes);
    bfs->visited = aligned_alloc(64, bytes);
    if (bfs->frontier == NULL || bfs->next == NULL || bfs->visited == NULL) {
        free(bfs->frontier);
        free(bfs->next);
        free(bfs->visited);
        return ARI_ENOMEM;
    }
    return ARI_OK;
}

static void topo_bfs_destroy(topo_bfs_t *bfs)
{
    free(bfs->frontier);
    free(bfs->next);
    free(bfs->visited);
}

#if defined(__GNUC__) && !defined(__clang__)
#define TOPO_UNROLL _Pragma("GCC unroll 16")
#else
#define TOPO_UNROLL
#endif

/* One level for every node: next = (OR of the neighbours' frontier) minus
 * visited; visited gains next. Returns how many (source, node) pairs were
 * reached for the first time. `words` is a constant in each caller so the
 * inner loops unroll and vectorise. */
static inline __attribute__((always_inline)) uint64_t
topo_bfs_level(uint32_t nodes, const uint32_t *restrict offsets,
               const uint32_t *restrict neighbor, const uint64_t *restrict frontier,
               uint64_t *restrict next, uint64_t *restrict visited, const uint32_t words)
{
    uint64_t fresh_total = 0;
    for (uint32_t v = 0; v < nodes; v++) {
        uint64_t gather[TOPO_BFS_WORDS_MAX] = {0};
        for (uint32_t e = offsets[v]; e < offsets[v + 1]; e++) {
            const uint64_t *from = frontier + (size_t)neighbor[e] * words;
            for (uint32_t w = 0; w < words; w++)
                gather[w] |= from[w];
        }
        uint64_t *seen = visited + (size_t)v * words, *out = next + (size_t)v * words;
        /* Two loops: the first stays in vector registers, the second
         * counts from the (cached) words just stored. */
        for (uint32_t w = 0; w < words; w++) {
            uint64_t fresh = gather[w] & ~seen[w];
            seen[w] |= fresh;
            out[w] = fresh;
        }
        TOPO_UNROLL
        for (uint32_t w = 0; w < words; w++)
            fresh_total += (uint64_t)__builtin_popcountll(out[w]);
    }
    return fresh_total;
}

/* On x86-64 with GCC, each width also gets AVX-512 and AVX2 (+ POPCNT)
 * clones, picked at load time for the CPU at hand; the portable build would
 * call a libgcc popcount per word and is 3 to 4 times slower. Clang (the fuzz
 * build) gets the portable version. */
/* Sanitizer runtimes are not ready when ifunc resolvers run at load time
 * (ThreadSanitizer crashes there), so sanitizer builds take the portable one. */
#if defined(__x86_64__) && defined(__GNUC__) && __GNUC__ >= 11 && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#define TOPO_BFS_TARGETS                                                                    \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TOPO_BFS_TARGETS
#endif

#define TOPO_BFS_LEVEL_WIDTH(words_)                                                        \
    TOPO_BFS_TARGETS static uint64_t topo_bfs_level_##words_(                                \
        uint32_t nodes, const uint32_t *offsets, const uint32_t *neighbor,                   \
        const uint64_t *frontier, uint64_t *next, uint64_t *visited)                         \
    {                                                                                        \
        return topo_bfs_level(nodes, offsets, neighbor, frontier, next, visited, words_);    \
    }
TOPO_BFS_LEVEL_WIDTH(1)
TOPO_BFS_LEVEL_WIDTH(2)
TOPO_BFS_LEVEL_WIDTH(4)
TOPO_BFS_LEVEL_WIDTH(8)
TOPO_BFS_LEVEL_WIDTH(16)
_Static_assert(TOPO_BFS_WORDS_MAX == 16, "one level function per width up to the maximum");

static uint64_t topo_bfs_level_any(const topo_t *topo, topo_bfs_t *bfs)
{
    switch (bfs->words) {
    case 1:
        return topo_bfs_level_1(topo->nodes, topo->offsets, topo->neighbor, bfs->frontier,
                                bfs->next, bfs->visited);
    case 2:
        return topo_bfs_level_2(topo->nodes, topo->offsets, topo->neighbor, bfs->frontier,
                                bfs->next, bfs->visited);
    case 4:
        return topo_bfs_level_4(topo->nodes, topo->offsets, topo->neighbor, bfs->frontier,
                                bfs->next, bfs->visited);
    case 8:
        return topo_bfs_level_8(topo->nodes, topo->offsets, topo->neighbor, bfs->frontier,
                                bfs->next, bfs->visited);
    default:
        assert(bfs->words == 16);
        return topo_bfs_level_16(topo->nodes, topo->offsets, topo->neighbor, bfs->frontier,
                                bfs->next, bfs->visited);
    }
}

/* BFS from sources first .. first + count - 1, adding into *result. Stops
 * early (result->aborted) once the distance sum is sure to reach
 * `sum_limit`: every pair not reached yet is at least one level further,
 * and each of the `later_sources` still to run adds at least N - 1. */
static void topo_bfs_batch(const topo_t *topo, topo_bfs_t *bfs, uint32_t first, uint32_t count,
                           uint64_t later_sources, __uint128_t sum_limit,
                           topo_bfs_result_t *result)
{
    size_t words = bfs->words;
    size_t bytes = (size_t)topo->nodes * words * sizeof(uint64_t);
    memset(bfs->frontier, 0, bytes);
    memset(bfs->visited, 0, bytes);
    for (uint32_t s = 0; s < count; s++)
        bfs->visited[(size_t)(first + s) * words + s / 64] |= 1ull << (s % 64);
    /* Level 1 is each source's own ports: pushed from the sources, which
     * is cheaper than pulling at every node. */
    uint64_t pairs = (uint64_t)count * (topo->nodes - 1), reached = 0;
    for (uint32_t s = 0; s < count; s++) {
        uint64_t bit = 1ull << (s % 64);
        for (uint32_t e = topo->offsets[first + s]; e < topo->offsets[first + s + 1]; e++) {
            size_t word = (size_t)topo->neighbor[e] * words + s / 64;
            bfs->frontier[word] |= bit;
            bfs->visited[word] |= bit;
            reached++;
        }
    }
    if (reached > 0) {
        result->distance_sum += reached;
        if (result->diameter < 1)
            result->diameter = 1;
    }
    for (uint32_t level = 2; reached > 0 && reached < pairs; level++) {
        uint64_t fresh = topo_bfs_level_any(topo, bfs);
        if (fresh == 0)
            break; /* disconnected: the caller sees reached < pairs */
        reached += fresh;
        result->distance_sum += (__uint128_t)level * fresh;
        if (level > result->diameter)
            result->diameter = level;
        uint64_t *swap = bfs->frontier;
        bfs->frontier = bfs->next;
        bfs->next = swap;
        __uint128_t bound = result->distance_sum + (__uint128_t)(level + 1) * (pairs - reached) +
                            (__uint128_t)later_sources * (topo->nodes - 1);
        if (bound >= sum_limit) {
            result->aborted = true;
            break;
        }
    }
    result->pairs_reached += reached;
}

/* All-pairs distance sum and diameter. ARI_ETOPO_DISCONNECTED when some pair
 * is unreachable; *result is then incomplete. */
static int topo_bfs_all(const topo_t *topo, topo_bfs_t *bfs, __uint128_t sum_limit,
                        topo_bfs_result_t *result)
{
    memset(result, 0, sizeof *result);
    uint32_t batch = bfs->words * 64;
    for (uint32_t first = 0; first < topo->nodes; first += batch) {
        uint32_t count = topo->nodes - first < batch ? topo->nodes - first : batch;
        uint64_t before = result->pairs_reached;
        topo_bfs_batch(topo, bfs, first, count, topo->nodes - first - count, sum_limit, result);
        if (result->aborted)
            return ARI_OK;
        if (result->pairs_reached - before != (uint64_t)count * (topo->nodes - 1))
            return ARI_ETOPO_DISCONNECTED;
    }
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * The optimiser (opt:N:K:SEED[:SWAPS]). Starts from random:N:K:SEED and
 * tries edge swaps: links a-b and c-d become a-c and b-d. Degrees stay K; a
 * swap is kept only if the graph stays simple and connected and its total
 * distance drops, measured exactly by the bit-parallel BFS (which gives up
 * on a candidate as soon as it cannot beat the best). Most candidates lose,
 * so most evaluations stop one level early.
 *
 * SWAPS is the number of candidates to try. Without it the count comes from
 * a fixed work budget divided by the cost of one evaluation, so the result
 * is a function of the spec alone (never of a clock) and a run costs about
 * the same at any size: some 10 s here for opt:1024:8:1. The cost of one
 * evaluation grows as N^2 K, so past about 10,000 nodes the budget would buy
 * too few swaps to matter; the default is then none at all (opt equals
 * random) and only an explicit SWAPS spends the time.
 * ------------------------------------------------------------------------ */

/* Work budget for the default candidate count. An evaluation costs about
 * nodes * (nodes / 64) * diameter * (degree + 6) units (each level reads
 * every link's source words, plus per-node work), some 90 ps each here while
 * the bit arrays fit the cache (and more beyond). */
#define TOPO_OPT_WORK (1ull << 37)
/* Small graphs evaluate fast; this keeps their default run short too. */
#define TOPO_OPT_CANDIDATES_MAX 200000u
/* Fewer default candidates than this are not worth their time. */
#define TOPO_OPT_CANDIDATES_MIN 1000u

/* The default candidate count for a start graph of this diameter. */
static uint64_t topo_opt_candidates(uint32_t nodes, uint32_t degree, uint32_t diameter)
{
    uint64_t evaluation = (uint64_t)nodes * ((nodes + 63) / 64) * diameter * (degree + 6);
    uint64_t candidates = TOPO_OPT_WORK / (evaluation > 0 ? evaluation : 1);
    if (candidates < TOPO_OPT_CANDIDATES_MIN)
        return 0;
    return candidates < TOPO_OPT_CANDIDATES_MAX ? candidates : TOPO_OPT_CANDIDATES_MAX;
}

/* The slot of u that holds v. */
static uint32_t topo_opt_slot(const topo_adj_t *adj, uint32_t u, uint32_t v)
{
    const uint32_t *row = adj->adjacency + (size_t)u * adj->slots;
    uint32_t slot = 0;
    while (row[slot] != v)
        slot++;
    assert(slot < adj->degree[u]);
    return slot;
}

/* Picks a random swap a-b, c-d -> a-c, b-d that keeps the graph simple and
 * writes its four slots (a->b, b->a, c->d, d->c); false if this pick fails. */
static bool topo_opt_pick(const topo_adj_t *adj, rng_t *rng, uint32_t node[4], uint32_t slot[4])
{
    uint32_t k = adj->slots;
    uint64_t first = rng_below(rng, (uint64_t)adj->nodes * k);
    uint64_t second = rng_below(rng, (uint64_t)adj->nodes * k);
    node[0] = (uint32_t)(first / k);
    slot[0] = (uint32_t)(first % k);
    node[2] = (uint32_t)(second / k);
    slot[2] = (uint32_t)(second % k);
    node[1] = adj->adjacency[first];
    node[3] = adj->adjacency[second];
    assert(adj->degree[node[0]] == k && adj->degree[node[2]] == k); /* regular */
    if (node[0] == node[2] || node[0] == node[3] || node[1] == node[2] || node[1] == node[3])
        return false;
    if (topo_adj_has(adj, node[0], node[2]) || topo_adj_has(adj, node[1], node[3]))
        return false;
    slot[1] = topo_opt_slot(adj, node[1], node[0]);
    slot[3] = topo_opt_slot(adj, node[3], node[2]);
    return true;
}

/* Applies a picked swap; applying it twice restores the graph. */
static void topo_opt_swap(topo_adj_t *adj, const uint32_t node[4], const uint32_t slot[4])
{
    static const uint32_t partner[4] = {2, 3, 0, 1}; /* a-c, b-d, or back */
    uint32_t *row[4];
    for (uint32_t i = 0; i < 4; i++)
        row[i] = adj->adjacency + (size_t)node[i] * adj->slots;
    uint32_t next[4];
    for (uint32_t i = 0; i < 4; i++)
        next[i] = row[i][slot[i]] == node[i ^ 1] ? node[partner[i]] : node[i ^ 1];
    for (uint32_t i = 0; i < 4; i++)
        row[i][slot[i]] = next[i];
}

/* Tries `candidates` swaps (TOPO_OPT_SWAPS_DEFAULT: the budget's count). */
static int topo_opt_improve(topo_adj_t *adj, uint64_t seed, uint64_t candidates)
{
    uint32_t k = adj->slots, nodes = adj->nodes;
    topo_t view = {.kind = TOPO_KIND_OPT, .nodes = nodes, .neighbor = adj->adjacency};
    view.offsets = malloc(((size_t)nodes + 1) * sizeof *view.offsets);
    topo_bfs_t bfs;
    if (view.offsets == NULL || topo_bfs_init(&bfs, nodes) != ARI_OK) {
        free(view.offsets);
        return ARI_ENOMEM;
    }
    for (uint32_t u = 0; u <= nodes; u++)
        view.offsets[u] = u * k;
    topo_bfs_result_t best, candidate;
    int status = topo_bfs_all(&view, &bfs, ~(__uint128_t)0, &best);
    assert(status == ARI_OK); /* random graphs are built connected */
    if (candidates == TOPO_OPT_SWAPS_DEFAULT)
        candidates = topo_opt_candidates(nodes, k, best.diameter);
    /* A separate stream from the one that built the start graph. */
    rng_t rng = rng_seeded(seed ^ 0x6f70745f73776170ull);
    for (uint64_t i = 0; i < candidates; i++) {
        uint32_t node[4], slot[4];
        if (!topo_opt_pick(adj, &rng, node, slot))
            continue;
        topo_opt_swap(adj, node, slot);
        status = topo_bfs_all(&view, &bfs, best.distance_sum, &candidate);
        if (status == ARI_OK && !candidate.aborted &&
            candidate.distance_sum < best.distance_sum)
            best = candidate;
        else
            topo_opt_swap(adj, node, slot);
    }
    topo_bfs_destroy(&bfs);
    free(view.offsets);
    return ARI_OK;
}

static int topo_build_opt(topo_parser_t *parser, topo_t **topo_out)
{
    topo_adj_t adj;
    uint64_t seed, swaps;
    int status = topo_random_parse_build(parser, &adj, &seed, &swaps);
    if (status != ARI_OK)
        return status;
    status = topo_opt_improve(&adj, seed, swaps);
    topo_t *topo = status == ARI_OK ? topo_adj_export(&adj, TOPO_KIND_OPT) : NULL;
    topo_adj_destroy(&adj);
    if (topo == NULL)
        return ARI_ENOMEM;
    *topo_out = topo;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Edge lists (file:PATH). Every error names the line it was found on, in
 * file order: syntax, ids, self-loops, duplicates and degrees while reading;
 * isolated nodes and a disconnected graph after, each pinned to the line
 * that shows it.
 * ------------------------------------------------------------------------ */

typedef struct {
    uint32_t a, b, line;
} topo_edge_t;

typedef struct {
    const char *name;
    char *error;
    size_t error_size;
    topo_edge_t *edges;
    size_t edges_count, edges_capacity;
    uint8_t *degree;          /* links per node id seen so far */
    uint32_t nodes;           /* highest id + 1 */
    uint32_t nodes_capacity;  /* entries in degree */
    uint32_t nodes_line;      /* line where the highest id first appeared */
    uint64_t *seen_keys;      /* open-addressing set of links; TOPO_SEEN_EMPTY = free */
    uint32_t *seen_lines;     /* line each link was first seen on */
    size_t seen_capacity, seen_count;
} topo_edges_t;

#define TOPO_SEEN_EMPTY UINT64_MAX
/* Characters of a bad line quoted in its message. */
#define TOPO_EXCERPT_MAX 48

/* A printable copy of (the start of) a line for a message. */
static const char *topo_excerpt(const char *text, size_t length, char out[TOPO_EXCERPT_MAX + 4])
{
    size_t n = length < TOPO_EXCERPT_MAX ? length : TOPO_EXCERPT_MAX;
    for (size_t i = 0; i < n; i++)
        out[i] = text[i] >= ' ' && text[i] <= '~' ? text[i] : '?';
    strcpy(out + n, length > n ? "..." : "");
    return out;
}

/* Inserts link {a, b}; returns the line it was already on, or 0 if new. */
static int topo_seen_insert(topo_edges_t *list, uint32_t a, uint32_t b, uint32_t line,
                            uint32_t *first_line_out)
{
    if (2 * (list->seen_count + 1) > list->seen_capacity) {
        topo_edges_t grown = *list;
        grown.seen_capacity = list->seen_capacity ? 2 * list->seen_capacity : 1024;
        grown.seen_keys = malloc(grown.seen_capacity * sizeof *grown.seen_keys);
        grown.seen_lines = malloc(grown.seen_capacity * sizeof *grown.seen_lines);
        if (grown.seen_keys == NULL || grown.seen_lines == NULL) {
            free(grown.seen_keys);
            free(grown.seen_lines);
            return ARI_ENOMEM;
        }
        memset(grown.seen_keys, 0xff, grown.seen_capacity * sizeof *grown.seen_keys);
        grown.seen_count = 0;
        for (size_t i = 0; i < list->seen_capacity; i++) {
            uint64_t key = list->seen_keys[i];
            if (key != TOPO_SEEN_EMPTY)
                (void)topo_seen_insert(&grown, (uint32_t)(key >> 32), (uint32_t)key,
                                       list->seen_lines[i], first_line_out);
        }
        free(list->seen_keys);
        free(list->seen_lines);
        list->seen_keys = grown.seen_keys;
        list->seen_lines = grown.seen_lines;
        list->seen_capacity = grown.seen_capacity;
    }
    uint64_t key = a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
    size_t mask = list->seen_capacity - 1;
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & mask;
    for (; list->seen_keys[i] != TOPO_SEEN_EMPTY; i = (i + 1) & mask) {
        if (list->seen_keys[i] == key) {
            *first_line_out = list->seen_lines[i];
            return ARI_OK;
        }
    }
    list->seen_keys[i] = key;
    list->seen_lines[i] = line;
    list->seen_count++;
    *first_line_out = 0;
    return ARI_OK;
}

/* Makes degree[] cover node id `id`. */
static int topo_edges_cover(topo_edges_t *list, uint32_t id)
{
    if (id < list->nodes_capacity)
        return ARI_OK;
    uint32_t capacity = list->nodes_capacity ? list->nodes_capacity : 1024;
    while (capacity <= id)
        capacity *= 2;
    uint8_t *degree = realloc(list->degree, capacity);
    if (degree == NULL)
        return ARI_ENOMEM;
    memset(degree + list->nodes_capacity, 0, capacity - list->nodes_capacity);
    list->degree = degree;
    list->nodes_capacity = capacity;
    return ARI_OK;
}

static int topo_edges_add(topo_edges_t *list, uint32_t a, uint32_t b, uint32_t line)
{
    if (a == b)
        return topo_error(ARI_ETOPO_FILE, list->error, list->error_size, "%s:%u: self-loop %u %u",
                          list->name, line, a, b);
    uint32_t high = a > b ? a : b, first_line;
    int status = topo_edges_cover(list, high);
    if (status != ARI_OK || (status = topo_seen_insert(list, a, b, line, &first_line)) != ARI_OK)
        return status;
    if (first_line != 0)
        return topo_error(ARI_ETOPO_FILE, list->error, list->error_size,
                          "%s:%u: duplicate link %u %u (first on line %u)", list->name, line, a,
                          b, first_line);
    uint32_t ends[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        if (++list->degree[ends[i]] > TOPO_PORTS_MAX)
            return topo_error(ARI_ETOPO_DEGREE, list->error, list->error_size,
                              "%s:%u: node %u has more than %u links", list->name, line,
                              ends[i], TOPO_PORTS_MAX);
    }
    if (high >= list->nodes) {
        list->nodes = high + 1;
        list->nodes_line = line;
    }
    if (list->edges_count == list->edges_capacity) {
        size_t capacity = list->edges_capacity ? 2 * list->edges_capacity : 1024;
        topo_edge_t *edges = realloc(list->edges, capacity * sizeof *edges);
        if (edges == NULL)
            return ARI_ENOMEM;
        list->edges = edges;
        list->edges_capacity = capacity;
    }
    list->edges[list->edges_count++] = (topo_edge_t){a, b, line};
    return ARI_OK;
}

/* One line: blank, a comment, or "a b" with an optional comment. */
static int topo_edges_line(topo_edges_t *list, const char *text, size_t length, uint32_t line)
{
    const char *hash = memchr(text, '#', length);
    size_t end = hash != NULL ? (size_t)(hash - text) : length, i = 0, count = 0;
    uint64_t ids[2];
    const char *token[2];
    int token_length[2];
    char excerpt[TOPO_EXCERPT_MAX + 4];
    for (;;) {
        while (i < end && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
            i++;
        if (i == end)
            break;
        size_t start = i;
        uint64_t value = 0;
        for (; i < end && text[i] >= '0' && text[i] <= '9'; i++)
            value = value <= UINT32_MAX ? value * 10 + (uint64_t)(text[i] - '0') : value;
        bool separated = i == end || text[i] == ' ' || text[i] == '\t' || text[i] == '\r';
        if (i == start || !separated || count == 2)
            return topo_error(ARI_ETOPO_FILE, list->error, list->error_size,
                              "%s:%u: expected two node ids 'a b', got '%s'", list->name, line,
                              topo_excerpt(text, end, excerpt));
        token[count] = text + start;
        token_length[count] = (int)(i - start);
        ids[count++] = value;
    }
    if (count == 0)
        return ARI_OK;
    if (count == 1)
        return topo_error(ARI_ETOPO_FILE, list->error, list->error_size,
                          "%s:%u: expected two node ids 'a b', got '%s'", list->name, line,
                          topo_excerpt(text, end, excerpt));
    for (size_t t = 0; t < 2; t++) {
        if (ids[t] >= TOPO_NODES_MAX)
            return topo_error(ARI_ETOPO_SIZE, list->error, list->error_size,
                              "%s:%u: node id %.*s is too large (ids run from 0 to %u)",
                              list->name, line, token_length[t] > 24 ? 24 : token_length[t],
                              token[t], TOPO_NODES_MAX - 1);
    }
    return topo_edges_add(list, (uint32_t)ids[0], (uint32_t)ids[1], line);
}

/* Reads every line; returns the number of lines through *lines_out. */
static int topo_edges_read(topo_edges_t *list, const char *data, size_t size,
                           uint32_t *lines_out)
{
    uint32_t line = 0;
    size_t start = 0;
    while (start < size) {
        const char *newline = memchr(data + start, '\n', size - start);
        size_t end = newline != NULL ? (size_t)(newline - data) : size;
        int status = topo_edges_line(list, data + start, end - start, ++line);
        if (status != ARI_OK)
            return status;
        start = end + 1;
    }
    *lines_out = line;
    return ARI_OK;
}

/* After reading: every id from 0 to the highest has a link, and all links
 * form one graph. Builds the topology (ports in file order) on success. */
static int topo_edges_build(topo_edges_t *list, uint32_t lines, topo_t **topo_out)
{
    if (list->edges_count == 0)
        return topo_error(ARI_ETOPO_FILE, list->error, list->error_size,
                          "%s:%u: no links (expected one 'a b' pair a line)", list->name,
                          lines > 0 ? lines : 1);
    for (uint32_t u = 0; u < list->nodes; u++) {
        if (list->degree[u] == 0)
            return topo_error(ARI_ETOPO_DISCONNECTED, list->error, list->error_size,
                              "%s:%u: node %u has no links, though this line makes ids run "
                              "from 0 to %u",
                              list->name, list->nodes_line, u, list->nodes - 1);
    }
    topo_t *topo = topo_alloc(TOPO_KIND_FILE, list->nodes, 2 * (uint64_t)list->edges_count);
    uint32_t *distance = malloc((size_t)list->nodes * sizeof *distance);
    uint32_t *queue = malloc((size_t)list->nodes * sizeof *queue);
    int status = topo && distance && queue ? ARI_OK : ARI_ENOMEM;
    if (status == ARI_OK) {
        uint32_t port = 0;
        for (uint32_t u = 0; u <= list->nodes; u++) {
            topo->offsets[u] = port; /* advanced to the node's end below */
            port += u < list->nodes ? list->degree[u] : 0;
        }
        for (size_t i = 0; i < list->edges_count; i++) {
            const topo_edge_t *edge = &list->edges[i];
            topo->neighbor[topo->offsets[edge->a]++] = edge->b;
            topo->neighbor[topo->offsets[edge->b]++] = edge->a;
        }
        for (uint32_t u = 0; u < list->nodes; u++)
            topo->offsets[u] -= list->degree[u];
        topo_finish(topo);
        if (topo_distances(topo, 0, distance, queue) < list->nodes) {
            size_t i = 0;
            while (distance[list->edges[i].a] != UINT32_MAX)
                i++;
            status = topo_error(ARI_ETOPO_DISCONNECTED, list->error, list->error_size,
                                "%s:%u: link %u %u is not connected to node 0 (the graph is "
                                "in pieces)",
                                list->name, list->edges[i].line, list->edges[i].a,
                                list->edges[i].b);
        }
    }
    free(distance);
    free(queue);
    if (status != ARI_OK) {
        topo_free(topo);
        return status;
    }
    *topo_out = topo;
    return ARI_OK;
}

int topo_from_edge_list(const char *name, const char *data, size_t size, topo_t **topo_out,
                        char *error, size_t error_size)
{
    topo_edges_t list = {.name = name, .error = error, .error_size = error_size};
    if (error != NULL && error_size > 0)
        error[0] = 0;
    uint32_t lines = 0;
    int status = topo_edges_read(&list, data, size, &lines);
    if (status == ARI_OK)
        status = topo_edges_build(&list, lines, topo_out);
    if (status == ARI_ENOMEM && error != NULL && error_size > 0 && error[0] == 0)
        topo_error(status, error, error_size, "%s: out of memory", name);
    free(list.edges);
    free(list.degree);
    free(list.seen_keys);
    free(list.seen_lines);
    return status;
}

/* ------------------------------------------------------------------------
 * Figures and the Moore bound
 * ------------------------------------------------------------------------ */

int topo_moore(uint32_t nodes, uint32_t degree, uint32_t *diameter_out,
               uint64_t *distance_sum_out)
{
    uint64_t remaining = nodes > 0 ? nodes - 1 : 0, layer = degree, sum = 0;
    uint32_t diameter = 0;
    while (remaining > 0) {
        if (layer == 0)
            return ARI_ETOPO_DEGREE; /* degree 0, or degree 1 past two nodes */
        diameter++;
        uint64_t take = layer < remaining ? layer : remaining;
        sum += diameter * take;
        remaining -= take;
        /* Saturate: once a layer could hold everyone, its exact size does
         * not matter and the product must not overflow. */
        layer = layer > remaining ? layer : layer * (degree - 1);
    }
    *diameter_out = diameter;
    *distance_sum_out = sum;
    return ARI_OK;
}

/* What every method shares: counts, degrees and the Moore bound. */
static void topo_figures_base(const topo_t *topo, topo_figures_t *figures)
{
    assert(topo->nodes >= 2);
    memset(figures, 0, sizeof *figures);
    figures->nodes = topo->nodes;
    figures->links = topo->links;
    figures->degree_min = topo->degree_min;
    figures->degree_max = topo->degree_max;
    figures->pairs = (uint64_t)topo->nodes * (topo->nodes - 1);
    int status = topo_moore(topo->nodes, topo->degree_max, &figures->moore_diameter,
                            &figures->moore_distance_sum);
    assert(status == ARI_OK); /* a connected graph of N >= 2 has one */
    (void)status;
    figures->moore_aspl = (double)figures->moore_distance_sum / (topo->nodes - 1);
}

/* A torus's distance is the sum of its dimensions' ring distances. From one
 * node of an n-ring the distances add up to floor(n^2 / 4); over all ordered
 * pairs of the torus each dimension then contributes
 * floor(n^2 / 4) * N * (N / n). A ring is one dimension, a hypercube D
 * dimensions of side 2. */
static void topo_figures_torus(topo_figures_t *figures, const uint32_t *sides,
                               uint32_t dimensions)
{
    uint64_t nodes = figures->nodes;
    for (uint32_t d = 0; d < dimensions; d++) {
        uint64_t side = sides[d];
        assert(nodes % side == 0);
        figures->distance_sum += (__uint128_t)(side * side / 4) * nodes * (nodes / side);
        figures->diameter += (uint32_t)(side / 2);
    }
}

/* In a tree, the link above a subtree of s nodes lies on the path of every
 * pair with one end inside and one outside: 2 s (N - s) ordered pairs. The
 * diameter is the eccentricity of a node farthest from any node. */
static int topo_figures_tree(const topo_t *topo, topo_figures_t *figures)
{
    uint32_t nodes = topo->nodes;
    uint32_t *distance = malloc((size_t)nodes * sizeof *distance);
    uint32_t *queue = malloc((size_t)nodes * sizeof *queue);
    uint32_t *size = malloc((size_t)nodes * sizeof *size);
    int status = distance && queue && size ? ARI_OK : ARI_ENOMEM;
    if (status == ARI_OK && topo_distances(topo, 0, distance, queue) < nodes)
        status = ARI_ETOPO_DISCONNECTED;
    if (status == ARI_OK) {
        for (uint32_t v = 0; v < nodes; v++)
            size[v] = 1;
        for (uint32_t i = nodes - 1; i > 0; i--) {
            uint32_t v = queue[i], e = topo->offsets[v];
            while (distance[topo->neighbor[e]] + 1 != distance[v])
                e++; /* the parent: the one neighbour a level up */
            size[topo->neighbor[e]] += size[v];
            figures->distance_sum += 2 * (__uint128_t)size[v] * (nodes - size[v]);
        }
        uint32_t far = queue[nodes - 1];
        (void)topo_distances(topo, far, distance, queue);
        figures->diameter = distance[queue[nodes - 1]];
    }
    free(distance);
    free(queue);
    free(size);
    return status;
}

static void topo_figures_finish(topo_figures_t *figures)
{
    figures->aspl = (double)figures->distance_sum / (double)figures->pairs;
}

int topo_figures_bfs(const topo_t *topo, topo_figures_t *figures_out)
{
    if (topo->nodes < 2)
        return ARI_ETOPO_SIZE; /* a single node has no paths to measure */
    topo_figures_t figures;
    topo_figures_base(topo, &figures);
    topo_bfs_t bfs;
    if (topo_bfs_init(&bfs, topo->nodes) != ARI_OK)
        return ARI_ENOMEM;
    topo_bfs_result_t result;
    int status = topo_bfs_all(topo, &bfs, ~(__uint128_t)0, &result);
    topo_bfs_destroy(&bfs);
    if (status != ARI_OK)
        return status;
    assert(!result.aborted && result.pairs_reached == figures.pairs);
    figures.diameter = result.diameter;
    figures.distance_sum = result.distance_sum;
    topo_figures_finish(&figures);
    *figures_out = figures;
    return ARI_OK;
}

int topo_figures(const topo_t *topo, topo_figures_t *figures_out)
{
    if (topo->nodes < 2)
        return ARI_ETOPO_SIZE; /* a single node has no paths to measure */
    topo_figures_t figures;
    topo_figures_base(topo, &figures);
    figures.closed_form = true;
    uint32_t cube_sides[32];
    switch (topo->kind) {
    case TOPO_KIND_MESH:
        figures.diameter = 1;
        figures.distance_sum = figures.pairs;
        break;
    case TOPO_KIND_RING:
        topo_figures_torus(&figures, topo->shape, 1);
        break;
    case TOPO_KIND_TORUS2D:
    case TOPO_KIND_TORUS3D:
        topo_figures_torus(&figures, topo->shape, topo->kind == TOPO_KIND_TORUS2D ? 2 : 3);
        break;
    case TOPO_KIND_HYPERCUBE:
        assert(topo->shape[0] <= 32);
        for (uint32_t d = 0; d < topo->shape[0]; d++)
            cube_sides[d] = 2;
        topo_figures_torus(&figures, cube_sides, topo->shape[0]);
        break;
    default:
        if (topo->links + 1 != topo->nodes)
            return topo_figures_bfs(topo, figures_out);
        int status = topo_figures_tree(topo, &figures);
        if (status != ARI_OK)
            return status;
        break;
    }
    topo_figures_finish(&figures);
    *figures_out = figures;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * The spec dispatcher
 * ------------------------------------------------------------------------ */

static int topo_build_torus2d(topo_parser_t *parser, topo_t **topo_out)
{
    return topo_build_torus(parser, 2, topo_out);
}

static int topo_build_torus3d(topo_parser_t *parser, topo_t **topo_out)
{
    return topo_build_torus(parser, 3, topo_out);
}

typedef struct {
    topo_kind_t kind;
    const char *name;
    const char *format;
    int (*build)(topo_parser_t *parser, topo_t **topo_out); /* NULL: file */
} topo_kind_entry_t;

static const topo_kind_entry_t topo_kinds[] = {
    {TOPO_KIND_MESH, "mesh", "mesh:N", topo_build_mesh},
    {TOPO_KIND_RING, "ring", "ring:N", topo_build_ring},
    {TOPO_KIND_TREE, "tree", "tree:N:K", topo_build_tree},
    {TOPO_KIND_TORUS2D, "torus2d", "torus2d:AxB", topo_build_torus2d},
    {TOPO_KIND_TORUS3D, "torus3d", "torus3d:AxBxC", topo_build_torus3d},
    {TOPO_KIND_HYPERCUBE, "hypercube", "hypercube:D", topo_build_hypercube},
    {TOPO_KIND_SMALLWORLD, "smallworld", "smallworld:N:K:SEED", topo_build_smallworld},
    {TOPO_KIND_RANDOM, "random", "random:N:K:SEED", topo_build_random},
    {TOPO_KIND_OPT, "opt", "opt:N:K:SEED[:SWAPS]", topo_build_opt},
    {TOPO_KIND_FILE, "file", "file:PATH", NULL},
};
#define TOPO_KINDS_COUNT (sizeof topo_kinds / sizeof topo_kinds[0])

const char *topo_kind_name(topo_kind_t kind)
{
    for (size_t i = 0; i < TOPO_KINDS_COUNT; i++) {
        if (topo_kinds[i].kind == kind)
            return topo_kinds[i].name;
    }
    return "unknown";
}

static int topo_build_file(const char *spec, const char *path, topo_read_fn read,
                           void *read_ctx, topo_t **topo_out, char *error, size_t error_size)
{
    if (path[0] == 0)
        return topo_error(ARI_ETOPO_SPEC, error, error_size,
                          "%s: missing path (expected file:PATH)", spec);
    if (read == NULL)
        return topo_error(ARI_ENOTSUP, error, error_size,
                          "%s: no file reader given for file: specs", spec);
    char *data = NULL;
    size_t size = 0;
    int status = read(read_ctx, path, &data, &size, error, error_size);
    if (status != ARI_OK) {
        if (error != NULL && error_size > 0 && error[0] == 0)
            topo_error(status, error, error_size, "%s: %s", path, ari_strerror(status));
        return status;
    }
    status = topo_from_edge_list(path, data, size, topo_out, error, error_size);
    free(data);
    return status;
}

int topo_build(const char *spec, topo_read_fn read, void *read_ctx, topo_t **topo_out,
               char *error, size_t error_size)
{
    if (error != NULL && error_size > 0)
        error[0] = 0;
    if (spec == NULL || spec[0] == 0)
        return topo_error(ARI_ETOPO_SPEC, error, error_size,
                          "empty topology spec (for example ring:8)");
    size_t name_length = strcspn(spec, ":");
    const topo_kind_entry_t *entry = NULL;
    for (size_t i = 0; i < TOPO_KINDS_COUNT; i++) {
        if (strlen(topo_kinds[i].name) == name_length &&
            strncmp(spec, topo_kinds[i].name, name_length) == 0)
            entry = &topo_kinds[i];
    }
    if (entry == NULL)
        return topo_error(ARI_ETOPO_SPEC, error, error_size,
                          "%s: unknown topology kind '%.*s' (mesh, ring, tree, torus2d, "
                          "torus3d, hypercube, smallworld, random, opt or file)",
                          spec, name_length > 32 ? 32 : (int)name_length, spec);
    if (spec[name_length] != ':')
        return topo_error(ARI_ETOPO_SPEC, error, error_size, "%s: missing parameters (expected %s)",
                          spec, entry->format);
    if (entry->build == NULL)
        return topo_build_file(spec, spec + name_length + 1, read, read_ctx, topo_out, error,
                               error_size);
    topo_parser_t parser = {spec, entry->format, spec + name_length + 1, error, error_size};
    topo_t *topo = NULL;
    int status = entry->build(&parser, &topo);
    if (status != ARI_OK) {
        if (error != NULL && error_size > 0 && error[0] == 0)
            topo_error(status, error, error_size, "%s: %s", spec, ari_strerror(status));
        return status;
    }
    topo_finish(topo);
    *topo_out = topo;
    return ARI_OK;
}
