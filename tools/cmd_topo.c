/*
 * cmd_topo — `ariadne topo SPEC [--json] [--dot FILE]`. (placeholder until
 * src/core/topo lands)
 */
#include <stdio.h>

#include "tool.h"

int tool_topo_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "ariadne topo: not built yet\n");
    return 1;
}
