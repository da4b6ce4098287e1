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

/* The ownership workloads: their figures and checks in the JSON. */
TEST_FN(sim_tool_own_json)
{
    static const char *const keys[] = {
        "\"parties\": ", "\"acquired\": ", "\"transfer_ns_p50\": ", "\"handoff_ns_p50\": ",
        "\"acquire_wait_ns\": {\"p50\": ", "\"wait_bound_ns\": ", "\"acquires_per_ms\": ",
        "\"messages_per_acquire\": ", "\"traversals_per_acquire\": ", "\"messages_per_barrier\": ",
        "\"owner_violations\": 0", "\"exclusion_violations\": 0", "\"starvation_violations\": 0",
        "\"tree_violations\": 0", "\"counter_violations\": 0", "\"barrier_violations\": 0",
        "\"ok\": true"};
    static const char *const workloads[] = {"migratory", "lock-contend:3", "barrier:4"};
    for (size_t w = 0; w < 3; w++) {
        for (int directory = 0; directory <= 1; directory++) {
            tool_run_t run;
            sim_tool(&run, 9, (const char *[]){"--topo", "ring:8", "--workload", workloads[w],
                                               "--ops", "30", "--json", "--protocol",
                                               directory ? "directory" : "pathcache"});
            CHECK_INT(run.exit_status, ==, 0);
            CHECK_STR(run.err, "");
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                if (strstr(run.out, keys[i]) == NULL)
                    test_fail(__FILE__, __LINE__, "%s: no %s in %s", workloads[w], keys[i],
                              run.out);
            }
        }
    }
    tool_run_t run;
    sim_tool(&run, 1, (const char *[]){"--help"});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK(strstr(run.out, "lock-contend:N") != NULL && strstr(run.out, "--hold-ns") != NULL &&
          strstr(run.out, "--pin-ns") != NULL && strstr(run.out, "barrier:N") != NULL);
}

TEST_FN(sim_tool_own_errors)
{
    static const struct {
        const char *args[6];
        int argc;
        const char *want;
    } cases[] = {
        {{"--topo", "ring:8", "--workload", "lock-contend:0"}, 4,
         "unknown workload 'lock-contend:0'"},
        {{"--topo", "ring:8", "--workload", "barrier:many"}, 4, "unknown workload 'barrier:many'"},
        {{"--topo", "ring:8", "--workload", "lock-contend:9"}, 4, "needs 9 nodes; ring:8 has 8"},
        {{"--topo", "ring:8", "--workload", "barrier:4", "--pages", "3"}, 6, "uses 2 pages"},
        {{"--topo", "ring:8", "--own-ratio", "0.5"}, 4, "--own-ratio is for the migratory"},
        {{"--topo", "ring:8", "--workload", "migratory", "--free-ratio", "0.1"}, 6,
         "--free-ratio is not for the ownership workloads"},
        {{"--topo", "ring:8", "--readers", "0"}, 4, "--readers 0 is for the ownership"},
        {{"--topo", "ring:8", "--hold-ns", "x"}, 4, "--hold-ns needs a whole number"},
        {{"--topo", "ring:8", "--pin-ns", "0"}, 4, "--pin-ns needs a whole number"},
        {{"--topo", "ring:8", "--workload", "migratory", "--own-ratio", "0.95"}, 6,
         "add up to 1.05, more than 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tool_run_t run;
        sim_tool(&run, cases[i].argc, cases[i].args);
        if (run.exit_status != 1 || strncmp(run.err, "ariadne sim: ", 13) != 0 ||
            strstr(run.err, cases[i].want) == NULL)
            test_fail(__FILE__, __LINE__, "case %zu: exit %d, stderr \"%s\", want \"%s\"", i,
                      run.exit_status, run.err, cases[i].want);
        CHECK_STR(run.out, "");
    }
}
