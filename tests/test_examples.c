/*
 * The self-checking examples as a user runs them: `ariadne run` starts
 * build/examples/linkedlist and build/examples/gemm on 2 to 8 nodes, on a
 * mesh and a ring (and once with the mprotect fallback), and each test
 * checks that every node printed its "verified" line and that a bad
 * argument is refused with the usage line and exit status 2. The binaries
 * come from the environment `make check` sets: ARI_TOOL (the ariadne
 * command) and ARI_BUILD (the build directory).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tool_run.h"

#define EX_ARGS_MAX 32
#define EX_RUN_SECONDS 20.0 /* one run's limit, times ARI_TEST_TIMEOUT_SCALE */

static double ex_scale(void)
{
    const char *text = getenv("ARI_TEST_TIMEOUT_SCALE");
    double scale = text != NULL ? strtod(text, NULL) : 1.0;
    return scale > 0 ? scale : 1.0;
}

/* build/examples/NAME, in ARI_BUILD when set. */
static void ex_program(char path[PATH_MAX], const char *name)
{
    const char *build = getenv("ARI_BUILD") != NULL ? getenv("ARI_BUILD") : "build";
    snprintf(path, PATH_MAX, "%s/examples/%s", build, name);
}

/* Runs `ariadne run ARGS` (NULL last) with ARI_FAULTS=faults when that is
 * not NULL. */
static void ex_launch(tool_child_t *run, const char *faults, ...)
{
    char *argv[EX_ARGS_MAX];
    int argc = 0;
    argv[argc++] = getenv("ARI_TOOL") != NULL ? getenv("ARI_TOOL") : "build/ariadne";
    argv[argc++] = "run";
    va_list list;
    va_start(list, faults);
    for (const char *arg; (arg = va_arg(list, const char *)) != NULL;) {
        CHECK(argc < EX_ARGS_MAX - 1);
        argv[argc++] = (char *)arg;
    }
    va_end(list);
    argv[argc] = NULL;
    char setting[64];
    snprintf(setting, sizeof setting, "ARI_FAULTS=%s", faults != NULL ? faults : "");
    const char *env[] = {setting, NULL};
    tool_child_run(run, argv, faults != NULL ? env : NULL, EX_RUN_SECONDS * ex_scale());
}

/* The whole run in a failure message. */
#define EX_FAIL_RUN(run, ...)                                                              \
    do {                                                                                   \
        char ex_what_[4096];                                                                \
        snprintf(ex_what_, sizeof ex_what_, __VA_ARGS__);                                  \
        test_fail(__FILE__, __LINE__, "%s\nexit %d after %.2f s\nstdout:\n%s\nstderr:\n%s", \
                  ex_what_, (run)->status, (run)->seconds, (run)->out, (run)->err);       \
    } while (0)

#define EX_HAS(run, text, want)                                                            \
    do {                                                                                   \
        if (strstr((text), (want)) == NULL)                                                \
            EX_FAIL_RUN(run, "no \"%s\" in the output", (want));                           \
    } while (0)

/* A run that must end with status 0 and every node's "NAME: node I:
 * verified" line; node 0's must start with `node0_line`. */
static void ex_check_verified(tool_child_t *run, const char *name, int nodes,
                              const char *node0_line, const char *shape)
{
    if (run->status != 0)
        EX_FAIL_RUN(run, "examples/%s on %d nodes (%s) failed", name, nodes, shape);
    for (int i = 0; i < nodes; i++) {
        char want[96];
        snprintf(want, sizeof want, "[%d] %s: node %d: verified", i, name, i);
        EX_HAS(run, run->out, want);
    }
    EX_HAS(run, run->out, node0_line);
    printf("%s on %d nodes (%s): %.3f s\n", name, nodes, shape, run->seconds);
}

/* A bad argument: the usage line and exit status 2. */
static void ex_check_usage(tool_child_t *run, const char *name)
{
    char usage[64];
    snprintf(usage, sizeof usage, "usage: ariadne run -n N %s", name);
    if (run->status != 2)
        EX_FAIL_RUN(run, "%s with a bad argument: want exit status 2", name);
    EX_HAS(run, run->err, usage);
}

/* ------------------------------------------------------------------------
 * linkedlist: plain stores and pointers, appends under one mutex
 * ------------------------------------------------------------------------ */

/* Built by node 0, walked by all; every node appends under one mutex and
 * the whole list is checked again (length, sum, each node's order). */
TEST_FN(rt_linkedlist)
{
    char program[PATH_MAX];
    ex_program(program, "linkedlist");
    /* nodes, topology, --cells, --appends, ARI_FAULTS */
    static const char *const shapes[][5] = {{"2", "mesh", "1000", "150", NULL},
                                            {"4", "mesh", "600", "80", NULL},
                                            {"5", "ring", "300", "30", NULL},
                                            {"8", "ring", "200", "15", NULL},
                                            {"3", "mesh", "300", "40", "mprotect"}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const char *const *s = shapes[i];
        int nodes = atoi(s[0]);
        char want[128], shape[64];
        snprintf(want, sizeof want, "[0] linkedlist: node 0: verified %d cells (%s built + %d "
                 "nodes x %s appended)", atoi(s[2]) + nodes * atoi(s[3]), s[2], nodes, s[3]);
        snprintf(shape, sizeof shape, "%s%s%s", s[1], s[4] ? ", ARI_FAULTS=" : "",
                 s[4] ? s[4] : "");
        tool_child_t run;
        ex_launch(&run, s[4], "-n", s[0], "--topo", s[1], program, "--cells", s[2],
                  "--appends", s[3], NULL);
        ex_check_verified(&run, "linkedlist", nodes, want, shape);
        EX_HAS(&run, run.out, "under one mutex");
        tool_child_free(&run);
    }
    tool_child_t run;
    ex_launch(&run, NULL, "-n", "2", program, "--cells", "many", NULL);
    ex_check_usage(&run, "linkedlist");
    tool_child_free(&run);
}

/* ------------------------------------------------------------------------
 * gemm: blocks of A, B and C in each node's own pages
 * ------------------------------------------------------------------------ */

/* Every entry of C against its closed form, on every node. */
TEST_FN(rt_gemm)
{
    char program[PATH_MAX];
    ex_program(program, "gemm");
    /* nodes, topology, --size, --block, ARI_FAULTS */
    static const char *const shapes[][5] = {{"2", "mesh", "256", "64", NULL},
                                            {"4", "mesh", "256", "32", NULL},
                                            {"5", "ring", "128", "32", NULL},
                                            {"8", "ring", "128", "16", NULL},
                                            {"3", "mesh", "128", "64", "mprotect"}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const char *const *s = shapes[i];
        int nodes = atoi(s[0]);
        char want[128], shape[64];
        snprintf(want, sizeof want, "[0] gemm: node 0: verified n=%s block=%s", s[2], s[3]);
        snprintf(shape, sizeof shape, "%s%s%s", s[1], s[4] ? ", ARI_FAULTS=" : "",
                 s[4] ? s[4] : "");
        tool_child_t run;
        ex_launch(&run, s[4], "-n", s[0], "--topo", s[1], program, "--size", s[2], "--block",
                  s[3], NULL);
        ex_check_verified(&run, "gemm", nodes, want, shape);
        EX_HAS(&run, run.out, "GFLOP/s");
        tool_child_free(&run);
    }
    /* A block that is not a power of two, and a size its block does not divide. */
    tool_child_t run;
    ex_launch(&run, NULL, "-n", "2", program, "--block", "48", NULL);
    ex_check_usage(&run, "gemm");
    tool_child_free(&run);
    ex_launch(&run, NULL, "-n", "2", program, "--size", "100", NULL);
    ex_check_usage(&run, "gemm");
    tool_child_free(&run);
}
