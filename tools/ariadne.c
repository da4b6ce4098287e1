/*
 * ariadne — the command: dispatches to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "ariadne.h"
#include "tool.h"

typedef struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} tool_command_t;

static const tool_command_t commands[] = {
    {"topo", tool_topo_main, "build a topology, print its figures, write Graphviz DOT"},
    {"sim", tool_sim_main, "run the protocol in the deterministic simulator and check it"},
    {"run", tool_run_main, "start N node processes of a program on this host"},
    {"bench", tool_bench_main, "measure Ariadne beside MPI, OpenSHMEM and this host's limits"},
    {"keygen", tool_keygen_main, "write a new cluster key file (for joining across hosts)"},
};

static void tool_usage(FILE *out)
{
    fprintf(out,
            "usage: ariadne COMMAND [ARGS]\n"
            "\n"
            "Ariadne %d.%d: distributed shared memory with a 128-bit global address\n"
            "space and directory-free coherence (path caches).\n"
            "\n"
            "commands:\n",
            ARI_VERSION_MAJOR, ARI_VERSION_MINOR);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Run 'ariadne COMMAND --help' for a command's options. Topology specs\n"
            "(for topo, sim and run):\n"
            "  mesh:N                full mesh of N nodes (degree N-1, N <= 65)\n"
            "  ring:N                ring\n"
            "  tree:N:K              K-ary tree of N nodes\n"
            "  torus2d:AxB           2D torus (each side >= 3)\n"
            "  torus3d:AxBxC         3D torus (each side >= 3)\n"
            "  hypercube:D           2^D nodes\n"
            "  smallworld:N:K:SEED   ring plus random shortcuts, degree <= K\n"
            "  random:N:K:SEED       random K-regular graph\n"
            "  opt:N:K:SEED          K-regular graph optimised for low average hops\n"
            "  file:PATH             edge list: one 'a b' pair a line, '#' comments\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        tool_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        tool_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ariadne %d.%d\n", ARI_VERSION_MAJOR, ARI_VERSION_MINOR);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    }
    fprintf(stderr, "ariadne: unknown command '%s' (see 'ariadne --help')\n", argv[1]);
    return 2;
}
