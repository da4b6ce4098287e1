/*
 * `ariadne sim` as a user runs it: its JSON, and a clear one-line error and
 * a non-zero exit for every kind of bad input.
 */
#include <stdlib.h>
#include <unistd.h>

#include "../tools/tool.h"
#include "test.h"
#include "tool_run.h"

static void sim_tool(tool_run_t *run, int argc, const char *const *args)
{
    tool_run(run, tool_sim_main, "sim", argc, args);
}

TEST_FN(sim_tool_json)
{
    tool_run_t run;
    sim_tool(&run, 7, (const char *[]){"--topo", "ring:8", "--workload", "mixed", "--ops", "300",
                                       "--json"});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_STR(run.err, "");
    static const char *const keys[] = {
        "\"protocol\": \"pathcache\"", "\"ops\": ", "\"link_traversals_per_op\": ",
        "\"traversals_per_write\": ", "\"propagation_ns\": {\"p50\": ", "\"atomic_latency_ns\": ",
        "\"pcache_entries_mean\": ", "\"sharer_bytes\": ", "\"events_per_second\": ",
        "\"checks\": {\"order_violations\": 0", "\"state_hash\": ", "\"ok\": true"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strstr(run.out, keys[i]) == NULL)
            test_fail(__FILE__, __LINE__, "no %s in %s", keys[i], run.out);
    }
    sim_tool(&run, 5, (const char *[]){"--topo", "ring:8", "--protocol", "directory", "--json"});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK(strstr(run.out, "\"protocol\": \"directory\"") != NULL);
}

TEST_FN(sim_tool_errors)
{
    static const struct {
        const char *args[6];
        int argc;
        int exit_status;
        const char *want;
    } cases[] = {
        {{"--workload", "mixed"}, 2, 2, "--topo SPEC is required"},
        {{"--topo", "ring:2"}, 2, 1, "ring:2"},
        {{"--topo", "ring:8", "--workload", "heavy"}, 4, 1, "unknown workload 'heavy'"},
        {{"--topo", "ring:8", "--protocol", "mesi"}, 4, 1, "unknown protocol 'mesi'"},
        {{"--topo", "ring:8", "--ops", "12x"}, 4, 1, "--ops needs a whole number"},
        {{"--topo", "ring:8", "--ops", "-3"}, 4, 1, "--ops needs a whole number"},
        {{"--topo", "ring:8", "--write-ratio", "1.5"}, 4, 1, "--write-ratio needs a number"},
        {{"--topo", "ring:8", "--cache", "0"}, 4, 1, "--cache needs a whole number"},
        {{"--topo", "ring:8", "--frobnicate"}, 3, 2, "unknown option"},
        {{"--topo", "ring:8", "extra"}, 3, 2, "unexpected argument 'extra'"},
        {{"--topo", "ring:8", "--workload", "trace:/nonexistent/t"}, 4, 1, "/nonexistent/t"},
        {{"--topo", "ring:8", "--trace-out", "/nonexistent/dir/t.json"}, 4, 1, "cannot write"},
        {{"--topo", "ring:8", "--write-ratio", "0.9", "--unref-ratio", "0.5"}, 6, 1,
         "add up to 1.4, more than 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tool_run_t run;
        sim_tool(&run, cases[i].argc, cases[i].args);
        if (run.exit_status != cases[i].exit_status ||
            strncmp(run.err, "ariadne sim: ", 13) != 0 || strstr(run.err, cases[i].want) == NULL)
            test_fail(__FILE__, __LINE__, "case %zu: exit %d, stderr \"%s\", want %d and \"%s\"", i,
                      run.exit_status, run.err, cases[i].exit_status, cases[i].want);
        CHECK_STR(run.out, "");
    }
    /* A bad trace line is reported with its file and line. */
    char path[] = "/tmp/ariadne-trace-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    static const char text[] = "page 0 1\n100 2 read 0\n200 2 write 0 9000 1\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    char workload[64];
    snprintf(workload, sizeof workload, "trace:%s", path);
    tool_run_t run;
    sim_tool(&run, 4, (const char *[]){"--topo", "ring:8", "--workload", workload});
    unlink(path);
    char want[64];
    snprintf(want, sizeof want, "%s:3: ", path);
    CHECK_INT(run.exit_status, ==, 1);
    CHECK(strstr(run.err, want) != NULL);
}
