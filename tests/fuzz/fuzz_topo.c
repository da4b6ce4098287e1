/*
 * libFuzzer target for topology input: any bytes as an edge-list file, and
 * any short string as a spec, either build a valid graph or fail with an
 * ARI_E* status and a one-line message. A graph that builds is checked:
 * links are symmetric (the peer port leads back) and no degree exceeds
 * the port limit.
 */
#include <stdlib.h>
#include <string.h>

#include "core/topo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_graph(const topo_t *topo)
{
    for (uint32_t u = 0; u < topo->nodes; u++) {
        if (topo_degree(topo, u) > TOPO_PORTS_MAX)
            abort();
        for (uint32_t p = 0; p < topo_degree(topo, u); p++) {
            uint32_t v = topo_neighbor(topo, u, p);
            if (v >= topo->nodes || v == u || topo_neighbor(topo, v, topo_peer_port(topo, u, p)) != u)
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char error[TOPO_ERROR_MAX];
    topo_t *topo = NULL;
    error[0] = '\0';
    int status = topo_from_edge_list("fuzz", (const char *)data, size, &topo, error, sizeof error);
    if (status == ARI_OK) {
        fuzz_check_graph(topo);
        topo_free(topo);
    } else if (status >= 0 || error[0] == '\0') {
        abort();
    }
    /* Short inputs also as a spec string; small sizes only, so a spec
     * cannot ask for a graph that takes long to build. */
    if (size < 24) {
        char spec[32];
        memcpy(spec, data, size);
        spec[size] = '\0';
        /* Keep every graph small (a hypercube:20 has a million nodes): no
         * number over 64, the product of the numbers (a torus's node count)
         * at most 4096, a hypercube at most 2^12; opt: spends a fixed work
         * budget on swaps, not at fuzzing speed. */
        unsigned long biggest = 0, product = 1;
        for (const char *p = spec; *p; p++) {
            if (*p >= '0' && *p <= '9') {
                char *end;
                unsigned long n = strtoul(p, &end, 10);
                biggest = n > biggest ? n : biggest;
                product = product > 100000 || n > 100000 ? 100001 : product * (n ? n : 1);
                p = end - 1;
            }
        }
        if (biggest > 64 || (strncmp(spec, "torus", 5) == 0 && product > 4096) ||
            strncmp(spec, "file:", 5) == 0 ||
            strncmp(spec, "opt", 3) == 0 || (strncmp(spec, "hypercube", 9) == 0 && biggest > 12))
            return 0;
        status = topo_build(spec, NULL, NULL, &topo, error, sizeof error);
        if (status == ARI_OK) {
            fuzz_check_graph(topo);
            topo_free(topo);
        } else if (status >= 0) {
            abort();
        }
    }
    return 0;
}
