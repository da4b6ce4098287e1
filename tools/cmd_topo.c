/*
 * cmd_topo — `ariadne topo SPEC [--json] [--dot FILE] [--bfs]`: builds a
 * topology, prints its exact figures against the Moore bound, and can write
 * it as Graphviz DOT.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/route.h"
#include "core/topo.h"
#include "dpu/files.h"
#include "tool.h"

typedef struct {
    const char *spec;
    const char *dot_path; /* NULL: no DOT; "-": DOT on stdout, no figures */
    bool json;
    bool bfs;
} topo_options_t;

static void topo_usage(FILE *out)
{
    fprintf(out,
            "usage: ariadne topo SPEC [--json] [--dot FILE] [--bfs]\n"
            "\n"
            "Builds the topology SPEC and prints its figures: nodes, links, degree,\n"
            "diameter, exact average shortest path (ASPL), the Moore bound for its size\n"
            "and degree, and how it is routed.\n"
            "\n"
            "  --json      one JSON object instead of the table\n"
            "  --dot FILE  also write the graph as Graphviz DOT ('-': to stdout, alone)\n"
            "  --bfs       compute the figures by BFS even where a formula is known\n"
            "\n"
            "SPEC (numbers are decimal; a node has at most %u ports, a topology at\n"
            "most %u nodes):\n"
            "  mesh:N               full mesh, degree N-1            mesh:16\n"
            "  ring:N               ring, N >= 3                     ring:8\n"
            "  tree:N:K             K-ary tree, parent (i-1)/K       tree:1023:2\n"
            "  torus2d:AxB          2D torus, sides >= 3             torus2d:8x8\n"
            "  torus3d:AxBxC        3D torus, sides >= 3             torus3d:8x8x16\n"
            "  hypercube:D          2^D nodes, degree D              hypercube:10\n"
            "  smallworld:N:K:SEED  ring plus random shortcuts,      smallworld:1024:6:1\n"
            "                       degree <= K\n"
            "  random:N:K:SEED      random connected K-regular       random:1024:8:1\n"
            "  opt:N:K:SEED[:SWAPS] random:N:K:SEED improved by      opt:1024:8:1\n"
            "                       edge swaps for a lower ASPL;     opt:1024:8:1:5000\n"
            "                       SWAPS candidates, else a budget\n"
            "                       of some 10 s\n"
            "  file:PATH            edge list, one 'a b' a line,     file:edges.txt\n"
            "                       '#' comments, ids 0..N-1\n",
            TOPO_PORTS_MAX, TOPO_NODES_MAX);
}

/* Returns -1 when the options are fine, else the exit status. */
static int topo_parse_options(int argc, char **argv, topo_options_t *options)
{
    memset(options, 0, sizeof *options);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            topo_usage(stdout);
            return 0;
        } else if (strcmp(arg, "--json") == 0) {
            options->json = true;
        } else if (strcmp(arg, "--bfs") == 0) {
            options->bfs = true;
        } else if (strcmp(arg, "--dot") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ariadne topo: --dot needs a FILE (or - for stdout)\n");
                return 2;
            }
            options->dot_path = argv[++i];
        } else if (strncmp(arg, "--dot=", 6) == 0 && arg[6] != 0) {
            options->dot_path = arg + 6;
        } else if (arg[0] == '-' && arg[1] != 0) {
            fprintf(stderr, "ariadne topo: unknown option '%s' (see 'ariadne topo --help')\n",
                    arg);
            return 2;
        } else if (options->spec != NULL) {
            fprintf(stderr, "ariadne topo: one SPEC only, got '%s' and '%s'\n", options->spec,
                    arg);
            return 2;
        } else {
            options->spec = arg;
        }
    }
    if (options->spec == NULL) {
        fprintf(stderr, "ariadne topo: missing SPEC (see 'ariadne topo --help')\n");
        return 2;
    }
    return -1;
}

static double topo_seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Decimal text of a 128-bit count; `text` holds at least 40 bytes. */
static const char *topo_u128_text(__uint128_t value, char text[40])
{
    char digits[40];
    int count = 0;
    do {
        digits[count++] = (char)('0' + (int)(value % 10));
        value /= 10;
    } while (value > 0);
    for (int i = 0; i < count; i++)
        text[i] = digits[count - 1 - i];
    text[count] = 0;
    return text;
}

static int topo_write_dot(const topo_t *topo, const char *path)
{
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(path, "w");
    if (out == NULL) {
        fprintf(stderr, "ariadne topo: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(out, "graph ariadne {\n");
    for (uint32_t u = 0; u < topo->nodes; u++) {
        for (uint32_t port = 0; port < topo_degree(topo, u); port++) {
            uint32_t v = topo_neighbor(topo, u, port);
            if (u < v)
                fprintf(out, "  %u -- %u;\n", u, v);
        }
    }
    fprintf(out, "}\n");
    bool failed = ferror(out) != 0;
    if (to_stdout ? fflush(out) != 0 : fclose(out) != 0)
        failed = true;
    if (failed) {
        fprintf(stderr, "ariadne topo: error writing %s\n", path);
        return 1;
    }
    return 0;
}

/* The spec as a JSON string body: quotes, backslashes and controls escaped. */
static void topo_json_string(FILE *out, const char *text)
{
    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
}

static void topo_print_json(const topo_options_t *options, const topo_figures_t *figures,
                            route_method_t routing, double seconds)
{
    char sum[40];
    printf("{\"spec\": \"");
    topo_json_string(stdout, options->spec);
    printf("\", \"nodes\": %u, \"links\": %llu, \"degree_min\": %u, \"degree_max\": %u, "
           "\"diameter\": %u, \"aspl\": %.10f, \"distance_sum\": %s, \"pairs\": %llu, "
           "\"moore_diameter\": %u, \"moore_aspl\": %.10f, \"aspl_ratio\": %.6f, "
           "\"routing\": \"%s\", \"figures\": \"%s\", \"seconds\": %.3f}\n",
           figures->nodes, (unsigned long long)figures->links, figures->degree_min,
           figures->degree_max, figures->diameter, figures->aspl,
           topo_u128_text(figures->distance_sum, sum), (unsigned long long)figures->pairs,
           figures->moore_diameter, figures->moore_aspl, figures->aspl / figures->moore_aspl,
           routing == ROUTE_ALGORITHMIC ? "algorithmic" : "tables",
           figures->closed_form ? "closed form" : "bfs", seconds);
}

static void topo_print_table(const topo_options_t *options, const topo_figures_t *figures,
                             route_method_t routing, double seconds)
{
    char sum[40];
    printf("%-16s %s\n", "spec", options->spec);
    printf("%-16s %u\n", "nodes", figures->nodes);
    printf("%-16s %llu\n", "links", (unsigned long long)figures->links);
    printf("%-16s %u / %u (min / max)\n", "degree", figures->degree_min, figures->degree_max);
    printf("%-16s %u\n", "diameter", figures->diameter);
    printf("%-16s %.6f (= %s / %llu pairs)\n", "aspl", figures->aspl,
           topo_u128_text(figures->distance_sum, sum), (unsigned long long)figures->pairs);
    printf("%-16s %u\n", "moore diameter", figures->moore_diameter);
    printf("%-16s %.6f\n", "moore aspl", figures->moore_aspl);
    printf("%-16s %.4f\n", "aspl / moore", figures->aspl / figures->moore_aspl);
    printf("%-16s %s\n", "routing", route_method_name(routing));
    printf("%-16s %s\n", "figures", figures->closed_form ? "closed form" : "bit-parallel BFS");
    printf("%-16s %.3f\n", "seconds", seconds);
}

int tool_topo_main(int argc, char **argv)
{
    topo_options_t options;
    int exit_status = topo_parse_options(argc, argv, &options);
    if (exit_status >= 0)
        return exit_status;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    char error[TOPO_ERROR_MAX];
    topo_t *topo;
    int status = topo_build(options.spec, dpu_file_read, NULL, &topo, error, sizeof error);
    if (status != ARI_OK) {
        fprintf(stderr, "ariadne topo: %s\n", error);
        return 1;
    }
    if (options.dot_path != NULL && (exit_status = topo_write_dot(topo, options.dot_path)) != 0)
        goto out;
    if (options.dot_path != NULL && strcmp(options.dot_path, "-") == 0)
        goto out;
    topo_figures_t figures;
    status = options.bfs ? topo_figures_bfs(topo, &figures) : topo_figures(topo, &figures);
    if (status != ARI_OK) {
        fprintf(stderr, "ariadne topo: %s: figures: %s\n", options.spec, ari_strerror(status));
        exit_status = 1;
        goto out;
    }
    double seconds = topo_seconds_since(&start);
    if (options.json)
        topo_print_json(&options, &figures, route_method_for(topo), seconds);
    else
        topo_print_table(&options, &figures, route_method_for(topo), seconds);
    exit_status = fflush(stdout) == 0 ? 0 : 1;
out:
    topo_free(topo);
    return exit_status;
}
