/*
 * Tests of src/core/topo (generators, spec and file errors, figures, the
 * Moore bound), src/dpu/files and the `ariadne topo` command.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/topo.h"
#include "dpu/files.h"
#include "test.h"
#include "tool_run.h"
#include "../tools/tool.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static topo_t *topo_test_build(const char *spec)
{
    char error[TOPO_ERROR_MAX];
    topo_t *topo = NULL;
    int status = topo_build(spec, dpu_file_read, NULL, &topo, error, sizeof error);
    if (status != ARI_OK)
        test_fail(__FILE__, __LINE__, "topo_build(%s): %d %s", spec, status, error);
    return topo;
}

/* Sum of distances over ordered pairs and the diameter, by one plain BFS
 * per source written here, independent of the code under test. */
static void topo_test_plain_figures(const topo_t *topo, uint64_t *sum_out, uint32_t *diameter_out)
{
    uint32_t n = topo->nodes;
    uint32_t *distance = malloc(n * sizeof *distance), *queue = malloc(n * sizeof *queue);
    CHECK(distance != NULL && queue != NULL);
    uint64_t sum = 0;
    uint32_t diameter = 0;
    for (uint32_t s = 0; s < n; s++) {
        memset(distance, 0xff, n * sizeof *distance);
        uint32_t head = 0, tail = 0;
        distance[s] = 0;
        queue[tail++] = s;
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
        CHECK_INT(tail, ==, n);
        for (uint32_t v = 0; v < n; v++) {
            sum += distance[v];
            if (distance[v] > diameter)
                diameter = distance[v];
        }
    }
    free(distance);
    free(queue);
    *sum_out = sum;
    *diameter_out = diameter;
}

/* Simple graph, ports consistent, degrees within [least, most], the
 * recorded degree and link counts right. */
static void topo_test_check_graph(const topo_t *topo, uint32_t least, uint32_t most)
{
    uint64_t ports = 0;
    uint32_t degree_min = UINT32_MAX, degree_max = 0;
    for (uint32_t u = 0; u < topo->nodes; u++) {
        uint32_t degree = topo_degree(topo, u);
        CHECK_INT(degree, >=, least);
        CHECK_INT(degree, <=, most);
        CHECK_INT(degree, <=, TOPO_PORTS_MAX);
        degree_min = degree < degree_min ? degree : degree_min;
        degree_max = degree > degree_max ? degree : degree_max;
        ports += degree;
        for (uint32_t p = 0; p < degree; p++) {
            uint32_t v = topo_neighbor(topo, u, p);
            CHECK_INT(v, <, topo->nodes);
            CHECK_INT(v, !=, u);
            for (uint32_t q = p + 1; q < degree; q++)
                CHECK_INT(topo_neighbor(topo, u, q), !=, v);
            uint32_t back = topo_peer_port(topo, u, p);
            CHECK_INT(back, <, topo_degree(topo, v));
            CHECK_INT(topo_neighbor(topo, v, back), ==, u);
            CHECK_INT(topo_peer_port(topo, v, back), ==, p);
        }
    }
    CHECK_INT(topo->degree_min, ==, degree_min);
    CHECK_INT(topo->degree_max, ==, degree_max);
    CHECK_U64(topo->links * 2, ==, ports);
}

static bool topo_test_same(const topo_t *a, const topo_t *b)
{
    if (a->nodes != b->nodes || a->links != b->links)
        return false;
    size_t ports = a->offsets[a->nodes];
    return memcmp(a->offsets, b->offsets, (a->nodes + 1) * sizeof *a->offsets) == 0 &&
           memcmp(a->neighbor, b->neighbor, ports * sizeof *a->neighbor) == 0 &&
           memcmp(a->peer_port, b->peer_port, ports) == 0;
}

/* Writes `text` to a fresh temp file; returns its path (static buffer). */
static const char *topo_test_file(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/ariadne-topo-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    size_t length = strlen(text);
    CHECK_INT(write(fd, text, length), ==, (long long)length);
    close(fd);
    return path;
}

/* ------------------------------------------------------------------------
 * Known values and figures
 * ------------------------------------------------------------------------ */

TEST_FN(topo_known_values)
{
    topo_figures_t f;
    for (int bfs = 0; bfs < 2; bfs++) {
        topo_t *topo = topo_test_build("ring:8");
        CHECK_OK(bfs ? topo_figures_bfs(topo, &f) : topo_figures(topo, &f));
        CHECK_INT(f.diameter, ==, 4);
        CHECK_U64(f.distance_sum * 7, ==, 16 * (uint64_t)f.pairs); /* ASPL 16/7 */
        CHECK_INT(f.closed_form, ==, !bfs);
        topo_free(topo);

        topo = topo_test_build("hypercube:10");
        CHECK_OK(bfs ? topo_figures_bfs(topo, &f) : topo_figures(topo, &f));
        CHECK_INT(f.nodes, ==, 1024);
        CHECK_INT(f.links, ==, 5120);
        CHECK_INT(f.diameter, ==, 10);
        CHECK_U64(f.distance_sum * 1023, ==, 5120 * (uint64_t)f.pairs); /* 5120/1023 */
        topo_free(topo);

        topo = topo_test_build("torus2d:8x8");
        CHECK_OK(bfs ? topo_figures_bfs(topo, &f) : topo_figures(topo, &f));
        CHECK_INT(f.diameter, ==, 8);
        CHECK_INT(f.degree_min, ==, 4);
        CHECK_INT(f.degree_max, ==, 4);
        topo_free(topo);
    }
    /* The Petersen graph meets the Moore bound: 10 nodes, degree 3,
     * diameter 2, ASPL 15/9. */
    const char *petersen = "0 1\n1 2\n2 3\n3 4\n4 0\n0 5\n1 6\n2 7\n3 8\n4 9\n"
                           "5 7\n7 9\n9 6\n6 8\n8 5\n";
    topo_t *topo;
    char error[TOPO_ERROR_MAX];
    CHECK_OK(topo_from_edge_list("petersen", petersen, strlen(petersen), &topo, error,
                                 sizeof error));
    CHECK_OK(topo_figures(topo, &f));
    CHECK_INT(f.diameter, ==, 2);
    CHECK_INT(f.moore_diameter, ==, 2);
    CHECK_U64(f.distance_sum, ==, 10 * 15);
    CHECK(f.aspl == f.moore_aspl);
    topo_free(topo);
}

TEST_FN(topo_moore_bound)
{
    uint32_t diameter;
    uint64_t sum;
    /* N = 1024, k = 8: layers of 8, 56, 392, then 567 of the 1023 others
     * at distance 4: 8 + 112 + 1176 + 2268 = 3564. */
    CHECK_OK(topo_moore(1024, 8, &diameter, &sum));
    CHECK_INT(diameter, ==, 4);
    CHECK_U64(sum, ==, 3564);
    /* N = 100, k = 4: 4, 12, 36, then 47 at 4: 4 + 24 + 108 + 188. */
    CHECK_OK(topo_moore(100, 4, &diameter, &sum));
    CHECK_INT(diameter, ==, 4);
    CHECK_U64(sum, ==, 324);
    /* k = 2 is a ring: two nodes per layer. */
    CHECK_OK(topo_moore(8, 2, &diameter, &sum));
    CHECK_INT(diameter, ==, 4);
    CHECK_U64(sum, ==, 16);
    CHECK_OK(topo_moore(9, 2, &diameter, &sum));
    CHECK_INT(diameter, ==, 4);
    CHECK_U64(sum, ==, 20);
    /* k = 1 reaches exactly one other node; k = 0 none. */
    CHECK_OK(topo_moore(2, 1, &diameter, &sum));
    CHECK_INT(diameter, ==, 1);
    CHECK_U64(sum, ==, 1);
    CHECK_INT(topo_moore(3, 1, &diameter, &sum), ==, ARI_ETOPO_DEGREE);
    CHECK_INT(topo_moore(2, 0, &diameter, &sum), ==, ARI_ETOPO_DEGREE);
    CHECK_OK(topo_moore(1, 0, &diameter, &sum));
    CHECK_INT(diameter, ==, 0);
    /* The diameter is the least D with 1 + k sum_{i<D} (k-1)^i >= N. */
    for (uint32_t k = 2; k <= 64; k += 7) {
        for (uint32_t n = 2; n < 5000; n = n * 3 / 2 + 1) {
            CHECK_OK(topo_moore(n, k, &diameter, &sum));
            uint64_t reach = 1, layer = k;
            uint32_t d = 0;
            while (reach < n) {
                reach += layer;
                layer *= k - 1;
                d++;
            }
            CHECK_INT(diameter, ==, d);
            CHECK_U64(sum, >=, (uint64_t)(n - 1) * (d > 0 ? 1 : 0));
        }
    }
    /* Large sizes do not overflow. */
    CHECK_OK(topo_moore(TOPO_NODES_MAX, 64, &diameter, &sum));
    CHECK_INT(diameter, ==, 4);
    CHECK_OK(topo_moore(TOPO_NODES_MAX, 2, &diameter, &sum));
    CHECK_INT(diameter, ==, TOPO_NODES_MAX / 2);
}

/* Formulas (ring, torus, hypercube, mesh, trees) agree with the BFS, and the
 * BFS agrees with a plain BFS per source, across batch widths. */
TEST_FN(topo_figures_agree)
{
    static const char *const specs[] = {
        "ring:3", "ring:4", "ring:9", "ring:100", "ring:131", "torus2d:3x3", "torus2d:3x4",
        "torus2d:5x7", "torus3d:3x3x3", "torus3d:3x4x5", "torus3d:4x4x6", "hypercube:1",
        "hypercube:2", "hypercube:5", "hypercube:8", "mesh:2", "mesh:3", "mesh:12", "mesh:65",
        "tree:2:1", "tree:40:1", "tree:31:2", "tree:100:3", "tree:300:7", "tree:100:64",
        "tree:65:64", "smallworld:70:4:1", "random:200:5:3", "random:129:8:1",
        "random:1100:3:2", "random:400:3:5", "torus2d:20x20", "opt:40:3:1:200",
        "smallworld:3:2:1",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        topo_t *topo = topo_test_build(specs[i]);
        topo_figures_t formula, bfs;
        CHECK_OK(topo_figures(topo, &formula));
        CHECK_OK(topo_figures_bfs(topo, &bfs));
        uint64_t sum;
        uint32_t diameter;
        topo_test_plain_figures(topo, &sum, &diameter);
        if (formula.distance_sum != sum || bfs.distance_sum != sum ||
            formula.diameter != diameter || bfs.diameter != diameter)
            test_fail(__FILE__, __LINE__, "%s: sum %llu/%llu/%llu diameter %u/%u/%u",
                      specs[i], (unsigned long long)formula.distance_sum,
                      (unsigned long long)bfs.distance_sum, (unsigned long long)sum,
                      formula.diameter, bfs.diameter, diameter);
        CHECK_U64(formula.pairs, ==, (uint64_t)topo->nodes * (topo->nodes - 1));
        CHECK(formula.aspl >= formula.moore_aspl);
        CHECK_INT(formula.diameter, >=, formula.moore_diameter);
        topo_free(topo);
    }
}

/* ------------------------------------------------------------------------
 * Generators
 * ------------------------------------------------------------------------ */

TEST_FN(topo_generator_shapes)
{
    static const struct {
        const char *spec;
        uint32_t nodes, degree_least, degree_most;
    } cases[] = {
        {"mesh:2", 2, 1, 1},          {"mesh:65", 65, 64, 64},
        {"ring:3", 3, 2, 2},          {"ring:1000", 1000, 2, 2},
        {"tree:2:1", 2, 1, 1},        {"tree:1000:3", 1000, 1, 4},
        {"tree:65:64", 65, 1, 64},    {"tree:5:100", 5, 1, 4},
        {"torus2d:3x3", 9, 4, 4},     {"torus2d:4x9", 36, 4, 4},
        {"torus3d:3x3x3", 27, 6, 6},  {"torus3d:3x5x4", 60, 6, 6},
        {"hypercube:1", 2, 1, 1},     {"hypercube:12", 4096, 12, 12},
        {"smallworld:3:2:1", 3, 2, 2}, {"smallworld:500:6:9", 500, 2, 6},
        {"smallworld:10:9:1", 10, 2, 9}, {"random:2:1:5", 2, 1, 1},
        {"random:4:2:1", 4, 2, 2},    {"random:11:2:1", 11, 2, 2},
        {"random:500:3:1", 500, 3, 3}, {"random:300:8:2", 300, 8, 8},
        {"random:65:64:1", 65, 64, 64}, {"random:100:64:3", 100, 64, 64},
        {"random:70:40:3", 70, 40, 40}, {"opt:64:4:1:300", 64, 4, 4},
        {"opt:10:9:1", 10, 9, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        topo_t *topo = topo_test_build(cases[i].spec);
        CHECK_INT(topo->nodes, ==, cases[i].nodes);
        topo_test_check_graph(topo, cases[i].degree_least, cases[i].degree_most);
        uint64_t sum;
        uint32_t diameter;
        topo_test_plain_figures(topo, &sum, &diameter); /* checks connected */
        topo_free(topo);
    }
    /* Ports mean what routing expects of them. */
    topo_t *topo = topo_test_build("tree:20:3");
    for (uint32_t u = 1; u < 20; u++)
        CHECK_INT(topo_neighbor(topo, u, 0), ==, (u - 1) / 3);
    topo_free(topo);
    topo = topo_test_build("torus3d:3x4x5");
    CHECK_INT(topo_neighbor(topo, 0, 0), ==, 1);
    CHECK_INT(topo_neighbor(topo, 0, 1), ==, 2);
    CHECK_INT(topo_neighbor(topo, 0, 2), ==, 3);
    CHECK_INT(topo_neighbor(topo, 0, 3), ==, 9);
    CHECK_INT(topo_neighbor(topo, 0, 4), ==, 12);
    CHECK_INT(topo_neighbor(topo, 0, 5), ==, 48);
    CHECK_INT(topo_peer_port(topo, 0, 4), ==, 5);
    topo_free(topo);
    topo = topo_test_build("hypercube:4");
    CHECK_INT(topo_neighbor(topo, 5, 3), ==, 13);
    CHECK_INT(topo_peer_port(topo, 5, 3), ==, 3);
    topo_free(topo);
    /* A small world keeps its ring. */
    topo = topo_test_build("smallworld:200:5:4");
    CHECK_INT(topo->kind, ==, TOPO_KIND_SMALLWORLD);
    CHECK(topo->links > 200);
    for (uint32_t u = 0; u < 200; u++) {
        bool next = false;
        for (uint32_t p = 0; p < topo_degree(topo, u); p++)
            next |= topo_neighbor(topo, u, p) == (u + 1) % 200;
        CHECK(next);
    }
    topo_free(topo);
    CHECK_STR(topo_kind_name(TOPO_KIND_TORUS3D), "torus3d");
}

TEST_FN(topo_deterministic)
{
    static const char *const seeded[][3] = {
        {"random:300:6:1", "random:300:6:1", "random:300:6:2"},
        {"smallworld:300:6:1", "smallworld:300:6:1", "smallworld:300:6:2"},
        {"opt:64:4:7:300", "opt:64:4:7:300", "opt:64:4:8:300"},
        {"random:16:3:0", "random:16:3:0", "random:16:3:18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof seeded / sizeof seeded[0]; i++) {
        topo_t *a = topo_test_build(seeded[i][0]);
        topo_t *b = topo_test_build(seeded[i][1]);
        topo_t *c = topo_test_build(seeded[i][2]);
        CHECK(topo_test_same(a, b));
        CHECK(!topo_test_same(a, c));
        topo_free(a);
        topo_free(b);
        topo_free(c);
    }
    topo_t *a = topo_test_build("torus2d:5x6"), *b = topo_test_build("torus2d:5x6");
    CHECK(topo_test_same(a, b));
    topo_free(a);
    topo_free(b);
}

TEST_FN(topo_opt_improves)
{
    topo_figures_t random_figures, opt_figures;
    topo_t *random = topo_test_build("random:128:4:1");
    topo_t *opt = topo_test_build("opt:128:4:1");
    CHECK_OK(topo_figures(random, &random_figures));
    CHECK_OK(topo_figures(opt, &opt_figures));
    topo_test_check_graph(opt, 4, 4);
    CHECK_INT(opt->kind, ==, TOPO_KIND_OPT);
    CHECK(opt_figures.aspl < random_figures.aspl);
    CHECK(opt_figures.aspl >= opt_figures.moore_aspl);
    /* Swaps only ever lower the total, so more of them never hurt. */
    topo_t *few = topo_test_build("opt:128:4:1:500");
    topo_figures_t few_figures;
    CHECK_OK(topo_figures(few, &few_figures));
    CHECK(few_figures.distance_sum <= random_figures.distance_sum);
    CHECK(opt_figures.distance_sum <= few_figures.distance_sum);
    /* Zero swaps is the random graph itself. */
    topo_t *none = topo_test_build("opt:128:4:1:0");
    CHECK(memcmp(none->neighbor, random->neighbor, random->offsets[128] * 4) == 0);
    printf("random:128:4:1 ASPL %.4f, opt:128:4:1 %.4f, Moore %.4f\n", random_figures.aspl,
           opt_figures.aspl, opt_figures.moore_aspl);
    topo_free(random);
    topo_free(opt);
    topo_free(few);
    topo_free(none);
}

/* ------------------------------------------------------------------------
 * Bad specs and files
 * ------------------------------------------------------------------------ */

TEST_FN(topo_bad_specs)
{
    static const struct {
        const char *spec;
        int status;
    } cases[] = {
        {"", ARI_ETOPO_SPEC},
        {"ring", ARI_ETOPO_SPEC},
        {"ring:", ARI_ETOPO_SPEC},
        {"ring:abc", ARI_ETOPO_SPEC},
        {"ring:8x", ARI_ETOPO_SPEC},
        {"ring:8:", ARI_ETOPO_SPEC},
        {"ring:-8", ARI_ETOPO_SPEC},
        {"ring:+8", ARI_ETOPO_SPEC},
        {"ring: 8", ARI_ETOPO_SPEC},
        {"ring:0x10", ARI_ETOPO_SPEC},
        {"ring:99999999999999999999999", ARI_ETOPO_SPEC},
        {"RING:8", ARI_ETOPO_SPEC},
        {"donut:8", ARI_ETOPO_SPEC},
        {"tree:8", ARI_ETOPO_SPEC},
        {"tree::2", ARI_ETOPO_SPEC},
        {"torus2d:8", ARI_ETOPO_SPEC},
        {"torus2d:8x", ARI_ETOPO_SPEC},
        {"torus2d:8y8", ARI_ETOPO_SPEC},
        {"torus3d:4x4", ARI_ETOPO_SPEC},
        {"torus3d:4x4x4x4", ARI_ETOPO_SPEC},
        {"random:10:3", ARI_ETOPO_SPEC},
        {"random:10:3:", ARI_ETOPO_SPEC},
        {"random:10:4:1:5", ARI_ETOPO_SPEC},
        {"random:10:4:18446744073709551616", ARI_ETOPO_SPEC},
        {"opt:10:4:1:", ARI_ETOPO_SPEC},
        {"opt:10:4:1:x", ARI_ETOPO_SPEC},
        {"file:", ARI_ETOPO_SPEC},
        {"ring:0", ARI_ETOPO_SIZE},
        {"ring:2", ARI_ETOPO_SIZE},
        {"ring:4194305", ARI_ETOPO_SIZE},
        {"ring:18446744073709551615", ARI_ETOPO_SIZE},
        {"mesh:0", ARI_ETOPO_SIZE},
        {"tree:1:2", ARI_ETOPO_SIZE},
        {"torus2d:2x8", ARI_ETOPO_SIZE},
        {"torus2d:8x0", ARI_ETOPO_SIZE},
        {"torus3d:3x3x2", ARI_ETOPO_SIZE},
        {"torus3d:1024x1024x1024", ARI_ETOPO_SIZE},
        {"hypercube:0", ARI_ETOPO_SIZE},
        {"hypercube:23", ARI_ETOPO_SIZE},
        {"random:1:1:1", ARI_ETOPO_SIZE},
        {"smallworld:2:2:1", ARI_ETOPO_SIZE},
        {"mesh:66", ARI_ETOPO_DEGREE},
        {"tree:8:0", ARI_ETOPO_DEGREE},
        {"tree:1000:64", ARI_ETOPO_DEGREE},
        {"tree:66:65", ARI_ETOPO_DEGREE},
        {"random:11:3:1", ARI_ETOPO_DEGREE},
        {"random:10:10:1", ARI_ETOPO_DEGREE},
        {"random:10:0:1", ARI_ETOPO_DEGREE},
        {"random:100:65:1", ARI_ETOPO_DEGREE},
        {"random:4:1:1", ARI_ETOPO_DEGREE},
        {"opt:9:3:1", ARI_ETOPO_DEGREE},
        {"smallworld:10:1:1", ARI_ETOPO_DEGREE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char error[TOPO_ERROR_MAX] = "";
        topo_t *topo = (topo_t *)&error; /* must stay untouched */
        int status = topo_build(cases[i].spec, dpu_file_read, NULL, &topo, error, sizeof error);
        if (status != cases[i].status)
            test_fail(__FILE__, __LINE__, "'%s': status %d (%s), expected %d: %s",
                      cases[i].spec, status, ari_strerror(status), cases[i].status, error);
        CHECK(topo == (topo_t *)&error);
        CHECK(strlen(error) > 10);
        CHECK(strchr(error, '\n') == NULL);
        printf("%-36s %s\n", cases[i].spec, error);
    }
    /* Messages say what is wrong. */
    char error[TOPO_ERROR_MAX];
    topo_t *topo;
    CHECK_INT(topo_build("torus2d:2x8", NULL, NULL, &topo, error, sizeof error), ==,
              ARI_ETOPO_SIZE);
    CHECK(strstr(error, "at least 3") != NULL);
    CHECK_INT(topo_build("ring:8x", NULL, NULL, &topo, error, sizeof error), ==, ARI_ETOPO_SPEC);
    CHECK(strstr(error, "trailing") != NULL);
    CHECK_INT(topo_build("file:x", NULL, NULL, &topo, error, sizeof error), ==, ARI_ENOTSUP);
    /* A tiny error buffer is cut, never overrun; none at all is fine. */
    char small[8];
    CHECK_INT(topo_build("ring:x", NULL, NULL, &topo, small, sizeof small), ==, ARI_ETOPO_SPEC);
    CHECK_INT(strlen(small), ==, 7);
    CHECK_INT(topo_build("ring:x", NULL, NULL, &topo, NULL, 0), ==, ARI_ETOPO_SPEC);
}

TEST_FN(topo_file_errors)
{
    static const struct {
        const char *text;
        int status;
        const char *message; /* after "PATH:" */
    } cases[] = {
        {"0 1\n1 2\n2 2\n", ARI_ETOPO_FILE, "3: self-loop 2 2"},
        {"0 1\n1 2\n# x\n2 1\n", ARI_ETOPO_FILE, "4: duplicate link 2 1 (first on line 2)"},
        {"0 1\n1 x\n", ARI_ETOPO_FILE, "2: expected two node ids 'a b', got '1 x'"},
        {"0 1\n\n1\n", ARI_ETOPO_FILE, "3: expected two node ids"},
        {"0 1 2\n", ARI_ETOPO_FILE, "1: expected two node ids"},
        {"0 1\n1 2x\n", ARI_ETOPO_FILE, "2: expected two node ids"},
        {"0 -1\n", ARI_ETOPO_FILE, "1: expected two node ids"},
        {"0 1\n1 4194304\n", ARI_ETOPO_SIZE, "2: node id 4194304 is too large"},
        {"0 99999999999999999999\n", ARI_ETOPO_SIZE, "1: node id 99999999999999999999 is"},
        {"0 1\n1 3\n", ARI_ETOPO_DISCONNECTED, "2: node 2 has no links"},
        {"0 1\n2 3\n", ARI_ETOPO_DISCONNECTED, "2: link 2 3 is not connected to node 0"},
        {"# nothing\n\n", ARI_ETOPO_FILE, "2: no links"},
        {"", ARI_ETOPO_FILE, "1: no links"},
        {"0 1\n1\t2 \r\n\0 3\n", ARI_ETOPO_FILE, "3: expected two node ids 'a b', got '?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t length = strlen(cases[i].text);
        if (i == sizeof cases / sizeof cases[0] - 1)
            length = 14; /* the one with a NUL byte inside */
        const char *path = topo_test_file("");
        FILE *file = fopen(path, "wb");
        CHECK(file != NULL);
        CHECK_INT(fwrite(cases[i].text, 1, length, file), ==, (long long)length);
        fclose(file);
        char spec[96], error[TOPO_ERROR_MAX], expected[160];
        snprintf(spec, sizeof spec, "file:%s", path);
        snprintf(expected, sizeof expected, "%s:%s", path, cases[i].message);
        topo_t *topo;
        int status = topo_build(spec, dpu_file_read, NULL, &topo, error, sizeof error);
        unlink(path);
        if (status != cases[i].status || strncmp(error, expected, strlen(expected)) != 0)
            test_fail(__FILE__, __LINE__, "case %zu: status %d, error '%s', expected %d '%s'", i,
                      status, error, cases[i].status, expected);
    }
    /* A degree over the port limit: a star of 65 leaves fails on line 65. */
    char text[2048] = "";
    for (int leaf = 1; leaf <= 65; leaf++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "0 %d\n", leaf);
    topo_t *topo;
    char error[TOPO_ERROR_MAX];
    CHECK_INT(topo_from_edge_list("star.txt", text, strlen(text), &topo, error, sizeof error), ==,
              ARI_ETOPO_DEGREE);
    CHECK_STR(error, "star.txt:65: node 0 has more than 64 links");
    /* An unreadable file is an I/O error with the reason. */
    CHECK_INT(topo_build("file:/nonexistent/edges.txt", dpu_file_read, NULL, &topo, error,
                         sizeof error),
              ==, ARI_EIO);
    CHECK_STR(error, "cannot open /nonexistent/edges.txt: No such file or directory");
    CHECK_INT(topo_build("file:/tmp", dpu_file_read, NULL, &topo, error, sizeof error), ==,
              ARI_EIO);
    CHECK(strstr(error, "/tmp") != NULL);
}

TEST_FN(topo_file_valid)
{
    const char *path = topo_test_file("# a square with a tail\n"
                                      "0 1   # first\n"
                                      "\n"
                                      "1\t2\r\n"
                                      "  2 3\n"
                                      "3 0\n"
                                      "4 3"); /* no final newline */
    char spec[96];
    snprintf(spec, sizeof spec, "file:%s", path);
    topo_t *topo = topo_test_build(spec);
    unlink(path);
    CHECK_INT(topo->kind, ==, TOPO_KIND_FILE);
    CHECK_INT(topo->nodes, ==, 5);
    CHECK_INT(topo->links, ==, 5);
    topo_test_check_graph(topo, 1, 3);
    /* Ports in file order. */
    CHECK_INT(topo_neighbor(topo, 3, 0), ==, 2);
    CHECK_INT(topo_neighbor(topo, 3, 1), ==, 0);
    CHECK_INT(topo_neighbor(topo, 3, 2), ==, 4);
    topo_figures_t f;
    CHECK_OK(topo_figures(topo, &f));
    CHECK_INT(f.diameter, ==, 3);
    topo_free(topo);
    /* A tree from a file gets the tree formula. */
    const char *tree = "0 1\n0 2\n2 3\n3 4\n2 5\n";
    char error[TOPO_ERROR_MAX];
    CHECK_OK(topo_from_edge_list("tree", tree, strlen(tree), &topo, error, sizeof error));
    CHECK_OK(topo_figures(topo, &f));
    CHECK(f.closed_form);
    CHECK_INT(f.diameter, ==, 4);
    uint64_t sum;
    uint32_t diameter;
    topo_test_plain_figures(topo, &sum, &diameter);
    CHECK_U64(f.distance_sum, ==, sum);
    topo_free(topo);
}

/* Random specs and edge lists, mostly malformed: each is either a valid
 * graph or one clean error with a message, never a crash or an abort. */
TEST_FN(topo_garbage_inputs)
{
    static const char *const kinds[] = {"mesh:", "ring:", "tree:", "torus2d:", "torus3d:",
                                        "hypercube:", "smallworld:", "random:", "bogus:", "",
                                        "ring", "file:"};
    static const char *const tokens[] = {"", "0", "1", "2", "3", "4", "7", "12", "64", "65",
                                         "x", "-1", "+3", " 5", "abc", "99999999999999999999",
                                         "3x3", "4x3x5", ":", "09"};
    uint64_t rng = 42;
    int built = 0;
    for (int i = 0; i < 3000; i++) {
        char spec[128];
        size_t kind = test_rand_next(&rng) % (sizeof kinds / sizeof kinds[0]);
        size_t length = (size_t)snprintf(spec, sizeof spec, "%s", kinds[kind]);
        int fields = (int)(test_rand_next(&rng) % 5);
        bool torus = strncmp(kinds[kind], "torus", 5) == 0;
        for (int f = 0; f < fields && length < 100; f++) {
            /* Mostly plausible pieces, so that many specs get built. */
            bool odd = test_rand_next(&rng) % 4 == 0;
            const char *separator = f == 0 ? "" : (torus != odd) ? "x" : ":";
            char number[8];
            snprintf(number, sizeof number, "%u", (unsigned)(2 + test_rand_next(&rng) % 12));
            size_t token = test_rand_next(&rng) % (sizeof tokens / sizeof tokens[0]);
            length += (size_t)snprintf(spec + length, sizeof spec - length, "%s%s", separator,
                                       test_rand_next(&rng) % 3 ? number : tokens[token]);
        }
        char error[TOPO_ERROR_MAX] = "";
        topo_t *topo = NULL;
        int status = topo_build(spec, NULL, NULL, &topo, error, sizeof error);
        if (status == ARI_OK) {
            /* mesh:1, a run of one node, is the one graph without links */
            topo_test_check_graph(topo, topo->nodes == 1 ? 0 : 1, TOPO_PORTS_MAX);
            topo_free(topo);
            built++;
        } else {
            CHECK(topo == NULL);
            CHECK((status <= ARI_ETOPO_SPEC && status >= ARI_ETOPO_DISCONNECTED) ||
                  status == ARI_ENOTSUP);
            CHECK(error[0] != 0);
        }
    }
    static const char alphabet[] = "0123456789012345 \t\r\n\n\n#x-";
    for (int i = 0; i < 3000; i++) {
        char text[160];
        size_t size = test_rand_next(&rng) % sizeof text;
        for (size_t b = 0; b < size; b++)
            text[b] = alphabet[test_rand_next(&rng) % (sizeof alphabet - 1)];
        char error[TOPO_ERROR_MAX] = "";
        topo_t *topo = NULL;
        int status = topo_from_edge_list("g", text, size, &topo, error, sizeof error);
        if (status == ARI_OK) {
            topo_test_check_graph(topo, 1, TOPO_PORTS_MAX);
            topo_free(topo);
            built++;
        } else {
            CHECK(status <= ARI_ETOPO_SPEC && status >= ARI_ETOPO_DISCONNECTED);
            unsigned line;
            CHECK(sscanf(error, "g:%u: ", &line) == 1 && line >= 1);
        }
    }
    printf("%d of 6000 random inputs were valid graphs\n", built);
    CHECK(built > 100); /* the generator does reach the builders */
}

/* ------------------------------------------------------------------------
 * The command, in process
 * ------------------------------------------------------------------------ */

typedef tool_run_t topo_tool_run_t;

/* Runs `ariadne topo ARGS...` with stdout and stderr captured. */
static void topo_test_tool(topo_tool_run_t *run, int argc, const char *const *args)
{
    tool_run(run, tool_topo_main, "topo", argc, args);
}

/* The number after "\"key\": " in a JSON object, or -1. */
static double topo_test_json_number(const char *json, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(json, pattern);
    return at != NULL ? strtod(at + strlen(pattern), NULL) : -1;
}

TEST_FN(topo_tool_json)
{
    topo_tool_run_t run;
    topo_test_tool(&run, 2, (const char *[]){"ring:8", "--json"});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_STR(run.err, "");
    CHECK(run.out[0] == '{' && strchr(run.out, '\n') == strrchr(run.out, '\n'));
    CHECK(topo_test_json_number(run.out, "nodes") == 8);
    CHECK(topo_test_json_number(run.out, "links") == 8);
    CHECK(topo_test_json_number(run.out, "degree_min") == 2);
    CHECK(topo_test_json_number(run.out, "degree_max") == 2);
    CHECK(topo_test_json_number(run.out, "diameter") == 4);
    CHECK(topo_test_json_number(run.out, "moore_diameter") == 4);
    double aspl = topo_test_json_number(run.out, "aspl");
    CHECK(aspl > 2.2857142 && aspl < 2.2857143);
    double moore = topo_test_json_number(run.out, "moore_aspl");
    CHECK(moore > 2.2857142 && moore < 2.2857143);
    CHECK(topo_test_json_number(run.out, "aspl_ratio") == 1);
    CHECK(topo_test_json_number(run.out, "seconds") >= 0);
    CHECK(strstr(run.out, "\"spec\": \"ring:8\"") != NULL);
    CHECK(strstr(run.out, "\"routing\": \"algorithmic\"") != NULL);

    topo_test_tool(&run, 3, (const char *[]){"--json", "random:64:4:1", "--bfs"});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK(topo_test_json_number(run.out, "nodes") == 64);
    CHECK(topo_test_json_number(run.out, "links") == 128);
    CHECK(strstr(run.out, "\"routing\": \"tables\"") != NULL);
    CHECK(strstr(run.out, "\"figures\": \"bfs\"") != NULL);

    /* The table names every figure. */
    topo_test_tool(&run, 1, (const char *[]){"hypercube:4"});
    CHECK_INT(run.exit_status, ==, 0);
    static const char *const rows[] = {"nodes ", "links ", "degree ", "diameter ", "aspl ",
                                       "moore diameter ", "moore aspl ", "aspl / moore ",
                                       "routing ", "seconds "};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        CHECK(strstr(run.out, rows[i]) != NULL);
}

TEST_FN(topo_tool_dot)
{
    const char *path = topo_test_file("");
    topo_tool_run_t run;
    topo_test_tool(&run, 3, (const char *[]){"torus2d:3x4", "--dot", path});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK(strstr(run.out, "diameter") != NULL);
    FILE *file = fopen(path, "r");
    CHECK(file != NULL);
    char dot[4096];
    tool_run_slurp(file, dot, sizeof dot);
    unlink(path);
    CHECK(strncmp(dot, "graph ariadne {\n", 16) == 0);
    int links = 0;
    for (const char *at = dot; (at = strstr(at, " -- ")) != NULL; at++)
        links++;
    CHECK_INT(links, ==, 24);
    CHECK(strstr(dot, "  0 -- 1;\n") != NULL);
    /* '-' writes DOT alone to stdout. */
    topo_test_tool(&run, 2, (const char *[]){"ring:3", "--dot=-"});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_STR(run.out, "graph ariadne {\n  0 -- 1;\n  0 -- 2;\n  1 -- 2;\n}\n");
}

TEST_FN(topo_tool_errors)
{
    static const struct {
        int argc;
        const char *args[3];
        int exit_status;
        const char *message;
    } cases[] = {
        {0, {NULL}, 2, "ariadne topo: missing SPEC"},
        {1, {"--frobnicate"}, 2, "ariadne topo: unknown option '--frobnicate'"},
        {2, {"ring:8", "--dot"}, 2, "ariadne topo: --dot needs a FILE"},
        {2, {"ring:8", "ring:9"}, 2, "ariadne topo: one SPEC only"},
        {1, {"ring:x"}, 1, "ariadne topo: ring:x: node count N 'x' is not a decimal number"},
        {1, {"torus2d:2x2"}, 1, "ariadne topo: torus2d:2x2: side A is 2"},
        {1, {"mesh:100"}, 1, "ariadne topo: mesh:100: a full mesh of 100 nodes"},
        {1, {"random:5:3:1"}, 1, "ariadne topo: random:5:3:1: N * K must be even"},
        {1, {"file:/nonexistent"}, 1, "ariadne topo: cannot open /nonexistent: "},
        {3, {"ring:8", "--dot", "/nonexistent/x.dot"}, 1, "ariadne topo: cannot write"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        topo_tool_run_t run;
        topo_test_tool(&run, cases[i].argc, cases[i].args);
        if (run.exit_status != cases[i].exit_status ||
            strncmp(run.err, cases[i].message, strlen(cases[i].message)) != 0)
            test_fail(__FILE__, __LINE__, "case %zu: exit %d, stderr '%s'", i, run.exit_status,
                      run.err);
        CHECK(strchr(run.err, '\n') == run.err + strlen(run.err) - 1); /* one line */
    }
    /* A bad line in a file names its line. */
    const char *path = topo_test_file("0 1\n1 2\n2 oops\n");
    char spec[96], expected[128];
    snprintf(spec, sizeof spec, "file:%s", path);
    snprintf(expected, sizeof expected, "ariadne topo: %s:3: expected two node ids", path);
    topo_tool_run_t run;
    topo_test_tool(&run, 1, (const char *[]){spec});
    unlink(path);
    CHECK_INT(run.exit_status, ==, 1);
    CHECK(strncmp(run.err, expected, strlen(expected)) == 0);
    /* Help goes to stdout and shows every kind. */
    topo_test_tool(&run, 1, (const char *[]){"--help"});
    CHECK_INT(run.exit_status, ==, 0);
    static const char *const kinds[] = {"mesh:", "ring:", "tree:", "torus2d:", "torus3d:",
                                        "hypercube:", "smallworld:", "random:", "opt:", "file:"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        CHECK(strstr(run.out, kinds[i]) != NULL);
}
