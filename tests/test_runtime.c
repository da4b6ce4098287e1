/*
 * The runtime as a user runs it: `ariadne run` starts nodes of
 * build/rt/rt_check (tests/rt/rt_check.c), one process each, on this host,
 * and each test checks the run's exit status and what the nodes printed.
 * The binaries come from the environment `make check` sets: ARI_TOOL (the
 * ariadne command) and ARI_BUILD (the build directory).
 *
 * Every run that should end cleanly also writes --stats-json, and every
 * node must report no path-cache entry (entries_at_exit) and no mapped page
 * (pages_at_exit) left after ari_finalize.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ariadne.h"
#include "test.h"
#include "tool_run.h"

/* ------------------------------------------------------------------------
 * Running programs
 * ------------------------------------------------------------------------ */

#define RT_ARGS_MAX 40
#define RT_RUN_SECONDS 20.0 /* one run's limit, times ARI_TEST_TIMEOUT_SCALE */

typedef tool_child_t rt_run_t; /* tool_run.h */

static double rt_scale(void)
{
    const char *text = getenv("ARI_TEST_TIMEOUT_SCALE");
    double scale = text != NULL ? strtod(text, NULL) : 1.0;
    return scale > 0 ? scale : 1.0;
}

/* An absolute path, so that runs as another user (setpriv) find it too. */
static const char *rt_path(const char *env, const char *fallback, const char *tail)
{
    static char paths[4][PATH_MAX];
    static int next;
    const char *dir = getenv(env);
    char joined[PATH_MAX];
    snprintf(joined, sizeof joined, "%s%s", dir != NULL ? dir : fallback, tail);
    char *path = paths[next++ % 4];
    if (realpath(joined, path) == NULL)
        test_fail(__FILE__, __LINE__, "%s: %s (run the tests with make check)", joined,
                  strerror(errno));
    return path;
}

static const char *rt_tool(void) { return rt_path("ARI_TOOL", "build/ariadne", ""); }
static const char *rt_check_path(void) { return rt_path("ARI_BUILD", "build", "/rt/rt_check"); }

static char *rt_slurp(FILE *file) { return tool_run_slurp_all(file); }

/* Runs argv (execvp, so "setpriv" is found on PATH) with ARI_FAULTS set to
 * `faults` when not NULL, killed whole if it outlives RT_RUN_SECONDS. */
static void rt_spawn(rt_run_t *run, const char *faults, char *const *argv)
{
    char setting[64];
    snprintf(setting, sizeof setting, "ARI_FAULTS=%s", faults != NULL ? faults : "");
    const char *env[] = {setting, NULL};
    tool_child_run(run, argv, faults != NULL ? env : NULL, RT_RUN_SECONDS * rt_scale());
}

static void rt_free(rt_run_t *run) { tool_child_free(run); }

/* Runs `ariadne run ARGS` (a NULL-terminated list), where the argument
 * "@rt" stands for build/rt/rt_check. */
static void rt_launch_list(rt_run_t *run, const char *faults, const char *const *args)
{
    char *argv[RT_ARGS_MAX];
    int argc = 0;
    argv[argc++] = (char *)rt_tool();
    argv[argc++] = "run";
    for (; *args != NULL; args++) {
        CHECK(argc < RT_ARGS_MAX - 1);
        argv[argc++] = (char *)(strcmp(*args, "@rt") == 0 ? rt_check_path() : *args);
    }
    argv[argc] = NULL;
    rt_spawn(run, faults, argv);
}

/* The same with the arguments listed in the call, NULL last. */
static void rt_launch(rt_run_t *run, const char *faults, ...)
{
    const char *args[RT_ARGS_MAX];
    int count = 0;
    va_list list;
    va_start(list, faults);
    for (const char *arg; (arg = va_arg(list, const char *)) != NULL;) {
        CHECK(count < RT_ARGS_MAX - 1);
        args[count++] = arg;
    }
    va_end(list);
    args[count] = NULL;
    rt_launch_list(run, faults, args);
}

/* The whole run in a failure message. */
#define RT_FAIL_RUN(run, ...)                                                              \
    do {                                                                                   \
        char rt_what_[4096];                                                                \
        snprintf(rt_what_, sizeof rt_what_, __VA_ARGS__);                                  \
        test_fail(__FILE__, __LINE__, "%s\nexit %d after %.2f s\nstdout:\n%s\nstderr:\n%s", \
                  rt_what_, (run)->status, (run)->seconds, (run)->out, (run)->err);       \
    } while (0)

#define RT_HAS(run, text, want)                                                            \
    do {                                                                                   \
        if (strstr((text), (want)) == NULL)                                                \
            RT_FAIL_RUN(run, "no \"%s\" in the output", (want));                           \
    } while (0)

/* ------------------------------------------------------------------------
 * Statistics at exit
 * ------------------------------------------------------------------------ */

/* A path for --stats-json in a fresh directory anyone may write to, so a
 * run as user nobody creates the file itself (fs.protected_regular forbids
 * opening another user's file in sticky /tmp for writing). */
static void rt_json_path(char path[64])
{
    char dir[] = "/tmp/ariadne-rt-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK(chmod(dir, 0777) == 0);
    snprintf(path, 64, "%s/stats.json", dir);
}

static void rt_json_remove(const char *path)
{
    char dir[64];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    CHECK(slash != NULL);
    *slash = 0;
    unlink(path);
    rmdir(dir);
}

/* Every occurrence of "key": N in the file: how many, each value, summed. */
static int rt_json_values(const char *json, const char *key, uint64_t *values, int max)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    int count = 0;
    for (const char *at = json; (at = strstr(at, pattern)) != NULL; at += strlen(pattern)) {
        if (count < max)
            values[count] = strtoull(at + strlen(pattern), NULL, 10);
        count++;
    }
    return count;
}

/* Reads the statistics file of a run of `nodes`, checks every node left
 * nothing behind and, when `mode` is not NULL, that it served faults that
 * way ("userfaultfd" or "mprotect"). Returns the text (malloc'd). */
static char *rt_stats_check(rt_run_t *run, const char *path, int nodes, const char *mode)
{
    FILE *file = fopen(path, "r");
    if (file == NULL)
        RT_FAIL_RUN(run, "no --stats-json file %s: %s", path, strerror(errno));
    char *json = rt_slurp(file);
    rt_json_remove(path);
    uint64_t values[256];
    if (rt_json_values(json, "node", values, 256) != nodes)
        RT_FAIL_RUN(run, "--stats-json has not %d nodes:\n%s", nodes, json);
    static const char *const clean[] = {"entries_at_exit", "pages_at_exit"};
    for (size_t k = 0; k < 2; k++) {
        CHECK_INT(rt_json_values(json, clean[k], values, 256), ==, nodes);
        for (int i = 0; i < nodes; i++) {
            if (values[i] != 0)
                RT_FAIL_RUN(run, "node %d: %s is %llu, not 0:\n%.3000s", i, clean[k],
                            (unsigned long long)values[i], json);
        }
    }
    if (mode != NULL) {
        char want[64];
        snprintf(want, sizeof want, "\"fault_mode\": \"%s\"", mode);
        int count = 0;
        for (const char *at = json; (at = strstr(at, want)) != NULL; at += strlen(want))
            count++;
        if (count != nodes)
            RT_FAIL_RUN(run, "not every node served faults by %s:\n%.3000s", mode, json);
    }
    return json;
}

/* Runs `ariadne run -n NODES [OPTIONS] rt_check CASE [ARGS]`: the options
 * and the case's words come as one NULL-terminated list, the case first
 * after "@rt". It must exit 0, every node print "CASE: node I", and leave
 * nothing behind. Returns the statistics (malloc'd) through *json_out when
 * that is not NULL. */
static void rt_case_ok(const char *faults, const char *mode, int nodes, char **json_out, ...)
{
    char path[64], count[16];
    rt_json_path(path);
    snprintf(count, sizeof count, "%d", nodes);
    const char *argv[RT_ARGS_MAX];
    int argc = 0;
    argv[argc++] = "-n";
    argv[argc++] = count;
    argv[argc++] = "--stats-json";
    argv[argc++] = path;
    va_list args;
    va_start(args, json_out);
    const char *name = NULL;
    for (const char *arg; (arg = va_arg(args, const char *)) != NULL;) {
        CHECK(argc < RT_ARGS_MAX - 1);
        if (argc > 0 && strcmp(argv[argc - 1], "@rt") == 0)
            name = arg;
        argv[argc++] = arg;
    }
    va_end(args);
    argv[argc] = NULL;
    CHECK(name != NULL);
    rt_run_t run;
    rt_launch_list(&run, faults, argv);
    if (run.status != 0) {
        rt_json_remove(path);
        RT_FAIL_RUN(&run, "rt_check %s on %d nodes%s%s failed", name, nodes,
                    faults ? " with ARI_FAULTS=" : "", faults ? faults : "");
    }
    char *json = rt_stats_check(&run, path, nodes, mode);
    for (int i = 0; i < nodes; i++) {
        char want[64];
        snprintf(want, sizeof want, "[%d] %s: node %d", i, name, i);
        if (strcmp(name, "cold") == 0 && i > 1)
            continue; /* nodes 0 and 1 are the cold case's only actors */
        RT_HAS(&run, run.out, want);
    }
    printf("%s on %d nodes%s%s: %.3f s\n", name, nodes, faults ? ", ARI_FAULTS=" : "",
           faults ? faults : "", run.seconds);
    if (json_out != NULL)
        *json_out = json;
    else
        free(json);
    rt_free(&run);
}

/* ------------------------------------------------------------------------
 * Whether a process is gone (no such process, or a zombie nobody reaps).
 * ------------------------------------------------------------------------ */

static int rt_process_gone(pid_t pid) { return tool_process_gone(pid, 200); }

/* ------------------------------------------------------------------------
 * Correctness on many nodes
 * ------------------------------------------------------------------------ */

TEST_FN(rt_counter_mesh)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "counter", "300", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "@rt", "counter", "200", NULL);
    rt_case_ok(NULL, NULL, 8, NULL, "--topo", "mesh", "@rt", "counter", "60", NULL);
}

TEST_FN(rt_counter_ring)
{
    rt_case_ok(NULL, NULL, 4, NULL, "--topo", "ring", "@rt", "counter", "200", NULL);
    rt_case_ok(NULL, NULL, 8, NULL, "--topo", "ring", "@rt", "counter", "60", NULL);
}

TEST_FN(rt_ryw)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "ryw", NULL);
    rt_case_ok(NULL, NULL, 5, NULL, "--topo", "ring", "@rt", "ryw", "200", NULL);
}

TEST_FN(rt_converge)
{
    rt_case_ok(NULL, NULL, 3, NULL, "@rt", "converge", NULL);
    rt_case_ok(NULL, NULL, 6, NULL, "--topo", "ring", "@rt", "converge", "1000", NULL);
}

TEST_FN(rt_order)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "order", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "--topo", "ring", "@rt", "order", "2000", NULL);
}

TEST_FN(rt_where_ring)
{
    rt_case_ok(NULL, NULL, 5, NULL, "--topo", "ring", "@rt", "where", NULL);
    rt_case_ok(NULL, NULL, 8, NULL, "--topo", "ring", "@rt", "where", NULL);
}

TEST_FN(rt_threads)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "threads", NULL);
    rt_case_ok(NULL, NULL, 3, NULL, "--topo", "ring", "@rt", "threads", "100", NULL);
}

/* A cold sequential read of 16 MiB another node filled (read-ahead). */
TEST_FN(rt_cold)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "cold", "16", NULL);
}

/* Many replicas and relays (a ring of 3: node 1 reads node 0's pages over
 * a link), all gone after ari_finalize; the check means something only if
 * pages were mapped. */
TEST_FN(rt_clean_exit)
{
    char *json;
    rt_case_ok(NULL, NULL, 3, &json, "--topo", "ring", "@rt", "cold", "8", NULL);
    uint64_t mapped[3];
    CHECK_INT(rt_json_values(json, "pages_mapped", mapped, 3), ==, 3);
    CHECK_U64(mapped[1], >=, 8 * 256);
    free(json);
    rt_case_ok(NULL, NULL, 4, NULL, "--topo", "ring", "@rt", "ryw", "50", NULL);
}

/* ------------------------------------------------------------------------
 * Errors and stops
 * ------------------------------------------------------------------------ */

TEST_FN(rt_errors)
{
    rt_case_ok(NULL, NULL, 3, NULL, "@rt", "errors", NULL);
    /* A run of one: no other node's memory to be refused. */
    rt_run_t run;
    char *argv[] = {(char *)rt_check_path(), "errors", NULL};
    rt_spawn(&run, NULL, argv);
    if (run.status != 0)
        RT_FAIL_RUN(&run, "rt_check errors without ariadne run failed");
    RT_HAS(&run, run.out, "errors: node 0: every bad argument");
    rt_free(&run);
}

/* ari_gva_of documents {0, 0} as its failure, yet it is the global address
 * of node 0's first allocation (slot 0, offset 0). */
TEST_FN(rt_gva_zero)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "gvazero", NULL);
}

/* A plain store into global memory nobody allocated stops the process
 * with a message naming the address and why; the run ends. */
static void rt_plainstore(const char *faults)
{
    rt_run_t run;
    rt_launch(&run, faults, "-n", "3", "@rt", "plainstore", NULL);
    if (run.status == 0)
        RT_FAIL_RUN(&run, "a store into unallocated global memory: want a failed run");
    RT_HAS(&run, run.err, "[2] ariadne: node 2: a store to global memory at ");
    RT_HAS(&run, run.err, ari_strerror(ARI_ENOENT));
    RT_HAS(&run, run.err, "ariadne run: node 2 exited with status 70");
    rt_free(&run);
}

TEST_FN(rt_plainstore)
{
    rt_plainstore(NULL);
    rt_plainstore("mprotect");
}

/* Plain stores from every node into one page (different words and single
 * bytes of one word) and into pages of every owner, published by barriers. */
TEST_FN(rt_stores)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "stores", "40", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "@rt", "stores", "20", NULL);
    rt_case_ok(NULL, NULL, 5, NULL, "--topo", "ring", "@rt", "stores", "10", NULL);
    rt_case_ok("mprotect", "mprotect", 3, NULL, "@rt", "stores", "10", NULL);
}

/* A store, a flush, another store to the same word: the first one's echo
 * never undoes the second; everyone sees the last value. */
TEST_FN(rt_flushstore)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "flushstore", "60", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "--topo", "ring", "@rt", "flushstore", "30", NULL);
}

/* A counter and a log written with plain stores under a mutex, from every
 * node: the count is exact and every increment is logged exactly once. */
TEST_FN(rt_mutex)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "mutex", "150", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "@rt", "mutex", "60", NULL);
    rt_case_ok(NULL, NULL, 8, NULL, "--topo", "ring", "@rt", "mutex", "20", NULL);
    rt_case_ok("mprotect", "mprotect", 3, NULL, "@rt", "mutex", "40", NULL);
}

/* A barrier waits as long as the run's limit allows: a node 11 s late
 * (past the owner's old fixed 10 s wait) under --timeout-ms 20000. */
TEST_FN(rt_late_barrier)
{
    rt_case_ok(NULL, NULL, 3, NULL, "--timeout-ms", "20000", "@rt", "latebarrier", "11", NULL);
}

/* Semaphore posts release what the poster wrote to the waiters. */
TEST_FN(rt_sem)
{
    rt_case_ok(NULL, NULL, 3, NULL, "@rt", "sem", "15", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "--topo", "ring", "@rt", "sem", "10", NULL);
}

/* Ownership pages taken in turns see every earlier write; pinned pages
 * (ownership and path-cache) give exact non-atomic counters; direct
 * atomics on ownership pages are exact. */
TEST_FN(rt_owned)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "owned", "60", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "@rt", "owned", "30", NULL);
    rt_case_ok(NULL, NULL, 8, NULL, "--topo", "ring", "@rt", "owned", "12", NULL);
    rt_case_ok("mprotect", "mprotect", 3, NULL, "@rt", "owned", "30", NULL);
}

/* A small --mem: each node reads and writes several times the others'
 * pages it may hold; clean replicas are evicted and refetched, dirty ones
 * flushed first, and every byte arrives. */
TEST_FN(rt_capacity)
{
    rt_case_ok(NULL, NULL, 2, NULL, "--mem", "1M", "@rt", "capacity", "3", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "--mem", "1M", "@rt", "capacity", "2", NULL);
    rt_case_ok(NULL, NULL, 5, NULL, "--topo", "ring", "--mem", "1M", "@rt", "capacity", "1",
               NULL);
    rt_case_ok("mprotect", "mprotect", 3, NULL, "--mem", "1M", "@rt", "capacity", "2", NULL);
}

/* The host's huge page pool: a /proc/sys/vm or /proc/meminfo number. */
static long rt_huge_read(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    long value = -1;
    char line[128], format[64];
    snprintf(format, sizeof format, "%s%%ld", key);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, format, &value) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return value;
}

static bool rt_huge_set(long pages)
{
    FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");
    bool ok = f != NULL && fprintf(f, "%ld\n", pages) > 0;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    return ok;
}

/* 2 MiB pages (ARI_HUGE). Without huge pages on the host, the allocation
 * fails with ARI_ENOTSUP and a message. With them (as root the test
 * reserves what it needs and gives it back), pages written with plain
 * stores are read by every node, on mesh and ring, with userfaultfd and
 * mprotect; the pool comes back whole after each run. */
TEST_FN(rt_huge)
{
    const long need = 24; /* the most the runs below hold at once, plus room */
    long total = rt_huge_read("/proc/meminfo", "HugePages_Total:");
    long reserved = rt_huge_read("/proc/sys/vm/nr_hugepages", "");
    if (total == 0) {
        rt_run_t run;
        rt_launch(&run, NULL, "-n", "2", "@rt", "nohuge", NULL);
        if (run.status != 0)
            RT_FAIL_RUN(&run, "rt_check nohuge failed");
        RT_HAS(&run, run.out, "[1] nohuge: node 1: ARI_HUGE refused");
        RT_HAS(&run, run.err, "no huge pages reserved");
        rt_free(&run);
    }
    long free_before = rt_huge_read("/proc/meminfo", "HugePages_Free:");
    bool raised = false;
    if (free_before < need) {
        if (geteuid() != 0 || reserved < 0 || !rt_huge_set(reserved + need - free_before)) {
            printf("rt_huge: %ld huge pages free and no way to reserve more (not root): "
                   "only the refusal was checked\n", free_before);
            return;
        }
        raised = true;
        free_before = rt_huge_read("/proc/meminfo", "HugePages_Free:");
        if (free_before < need) { /* the kernel found too little contiguous memory */
            rt_huge_set(reserved);
            printf("rt_huge: the kernel reserved only %ld huge pages: refusal checked only\n",
                   free_before);
            return;
        }
    }
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "huge", "2", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "--topo", "ring", "@rt", "huge", "1", NULL);
    rt_case_ok("mprotect", "mprotect", 3, NULL, "@rt", "huge", "1", NULL);
    long free_after = rt_huge_read("/proc/meminfo", "HugePages_Free:");
    if (raised)
        rt_huge_set(reserved);
    CHECK(free_after == free_before); /* every page given back */
}

/* A load from global memory nobody allocated stops the process with a
 * message: from another node's slot (the owner says no such page) and
 * from this node's own (a run of one). */
TEST_FN(rt_badload)
{
    rt_run_t run;
    rt_launch(&run, NULL, "-n", "3", "@rt", "badload", NULL);
    if (run.status == 0)
        RT_FAIL_RUN(&run, "a load from unallocated global memory: want a failed run");
    RT_HAS(&run, run.err, "[2] ariadne: node 2: a load from global memory at ");
    RT_HAS(&run, run.err, "failed: ");
    RT_HAS(&run, run.err, ari_strerror(ARI_ENOENT));
    RT_HAS(&run, run.err, "ariadne run: node 2 exited with status ");
    rt_free(&run);
    char *argv[] = {(char *)rt_check_path(), "badload", NULL};
    rt_spawn(&run, NULL, argv);
    if (run.status == 0 || run.status >= 128)
        RT_FAIL_RUN(&run, "a load from unallocated global memory (one node): want an exit");
    RT_HAS(&run, run.err, "ariadne: node 0: a load from global memory at ");
    RT_HAS(&run, run.err, ari_strerror(ARI_EFAULT));
    rt_free(&run);
}

TEST_FN(rt_syscall)
{
    rt_case_ok(NULL, NULL, 2, NULL, "@rt", "syscall", NULL);
    rt_case_ok(NULL, NULL, 4, NULL, "--topo", "ring", "@rt", "syscall", NULL);
}

/* A node killed after joining: the others' calls on its memory fail with
 * ARI_EPEER (or time out) within a bounded time, they exit, the run ends
 * with the killed node's status and no process is left. */
TEST_FN(rt_killed)
{
    rt_run_t run;
    rt_launch(&run, NULL, "-n", "4", "--grace-ms", "5000", "--timeout-ms", "4000", "@rt",
              "killed", NULL);
    if (run.status != 128 + SIGKILL)
        RT_FAIL_RUN(&run, "want exit %d (node 3 killed by SIGKILL)", 128 + SIGKILL);
    if (run.seconds > 4.5 * rt_scale())
        RT_FAIL_RUN(&run, "the run took %.1f s to end", run.seconds);
    RT_HAS(&run, run.err, "ariadne run: node 3 was killed by signal 9");
    for (int i = 0; i < 3; i++) {
        char want[80];
        snprintf(want, sizeof want, "[%d] killed: node %d: ari_fetch_add_u64 on node 3's", i, i);
        RT_HAS(&run, run.out, want);
        snprintf(want, sizeof want, "ariadne run: node %d exited with status 3", i);
        RT_HAS(&run, run.err, want);
    }
    if (strstr(run.out, ari_strerror(ARI_EPEER)) == NULL &&
        strstr(run.out, ari_strerror(ARI_ETIMEDOUT)) == NULL)
        RT_FAIL_RUN(&run, "no node reported ARI_EPEER or ARI_ETIMEDOUT");
    int pids = 0;
    for (const char *at = run.out; (at = strstr(at, " pid ")) != NULL; at += 5) {
        pid_t pid = (pid_t)atoi(at + 5);
        CHECK(pid > 1);
        if (!rt_process_gone(pid))
            RT_FAIL_RUN(&run, "node process %d is still there", (int)pid);
        pids++;
    }
    CHECK_INT(pids, ==, 4);
    printf("killed: run ended in %.2f s\n", run.seconds);
    rt_free(&run);
}

/* ------------------------------------------------------------------------
 * Other ways to run
 * ------------------------------------------------------------------------ */

/* A program started without `ariadne run` is a run of one node. */
TEST_FN(rt_single)
{
    rt_run_t run;
    char *argv[] = {(char *)rt_check_path(), "single", NULL};
    rt_spawn(&run, NULL, argv);
    if (run.status != 0)
        RT_FAIL_RUN(&run, "rt_check single failed");
    RT_HAS(&run, run.out, "single: 1 node: ");
    rt_free(&run);
    char *counter[] = {(char *)rt_check_path(), "counter", "100", NULL};
    rt_spawn(&run, NULL, counter);
    if (run.status != 0)
        RT_FAIL_RUN(&run, "rt_check counter as one node failed");
    RT_HAS(&run, run.out, "counter: node 0 of 1: fetch-add and cas totals 100 exact");
    rt_free(&run);
}

/* The fallback without userfaultfd: SIGSEGV and mprotect. */
TEST_FN(rt_mprotect)
{
    rt_case_ok("mprotect", "mprotect", 4, NULL, "--topo", "ring", "@rt", "counter", "100",
               NULL);
    rt_case_ok("mprotect", "mprotect", 3, NULL, "@rt", "ryw", NULL);
    rt_case_ok("mprotect", "mprotect", 3, NULL, "@rt", "converge", NULL);
    rt_case_ok("mprotect", "mprotect", 5, NULL, "--topo", "ring", "@rt", "where", NULL);
    rt_case_ok("mprotect", "mprotect", 2, NULL, "@rt", "syscall", NULL);
    rt_case_ok("mprotect", "mprotect", 2, NULL, "@rt", "cold", "8", NULL);
    rt_plainstore("mprotect");
}

/* The examples, as the README runs them. */
TEST_FN(rt_examples)
{
    const char *build = getenv("ARI_BUILD") != NULL ? getenv("ARI_BUILD") : "build";
    char counter[PATH_MAX], pingpong[PATH_MAX];
    snprintf(counter, sizeof counter, "%s/examples/counter", build);
    snprintf(pingpong, sizeof pingpong, "%s/examples/pingpong", build);
    rt_run_t run;
    rt_launch(&run, NULL, "-n", "2", counter, "200", NULL);
    if (run.status != 0)
        RT_FAIL_RUN(&run, "examples/counter failed");
    RT_HAS(&run, run.out, "[0] node 0: fetch-add total 400, cas total 400, expected 400: ok");
    RT_HAS(&run, run.out, "[1] node 1: fetch-add total 400, cas total 400, expected 400: ok");
    rt_free(&run);
    rt_launch(&run, NULL, "-n", "2", pingpong, "500", NULL);
    if (run.status != 0)
        RT_FAIL_RUN(&run, "examples/pingpong failed");
    RT_HAS(&run, run.out, "[0] pingpong: 500 round trips");
    rt_free(&run);
}

/* The key-value store checks itself (every key once, no lost update) on
 * 2 to 8 nodes, on a mesh and a ring. */
TEST_FN(rt_kvstore)
{
    const char *build = getenv("ARI_BUILD") != NULL ? getenv("ARI_BUILD") : "build";
    char kvstore[PATH_MAX];
    snprintf(kvstore, sizeof kvstore, "%s/examples/kvstore", build);
    static const char *const shapes[][3] = {{"2", "mesh", "3000"}, {"4", "mesh", "1500"},
                                            {"5", "ring", "600"}, {"8", "ring", "300"}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        rt_run_t run;
        rt_launch(&run, NULL, "-n", shapes[i][0], "--topo", shapes[i][1], kvstore, "--keys",
                  "2000", "--buckets", "64", "--ops", shapes[i][2], "--read-pct", "80", NULL);
        if (run.status != 0)
            RT_FAIL_RUN(&run, "examples/kvstore on %s nodes (%s) failed", shapes[i][0],
                        shapes[i][1]);
        RT_HAS(&run, run.out, "[0] kvstore: node 0: verified 2000 keys");
        RT_HAS(&run, run.out, "ops/s");
        rt_free(&run);
    }
    /* A bad argument is refused with the usage line. */
    rt_run_t run;
    rt_launch(&run, NULL, "-n", "2", kvstore, "--keys", "many", NULL);
    if (run.status == 0)
        RT_FAIL_RUN(&run, "kvstore --keys many: want a failure");
    RT_HAS(&run, run.err, "usage: ariadne run -n N kvstore");
    rt_free(&run);
}

/* ------------------------------------------------------------------------
 * An unprivileged user
 * ------------------------------------------------------------------------ */

/* The first directory or file on the way to `path` user nobody may not
 * reach (no x for others on a directory, no r or x on the file), for the
 * SKIP note; NULL if the permission bits let nobody through. */
static const char *rt_blocked_component(const char *path, char *component, size_t size)
{
    snprintf(component, size, "%s", path);
    for (char *slash = component + 1;; slash++) {
        char *next = strchr(slash, '/');
        if (next != NULL)
            *next = 0;
        struct stat st;
        bool blocked = stat(component, &st) != 0 ||
                       (S_ISDIR(st.st_mode) && (st.st_mode & S_IXOTH) == 0) ||
                       (!S_ISDIR(st.st_mode) && (st.st_mode & (S_IROTH | S_IXOTH)) == 0);
        if (blocked)
            return component;
        if (next == NULL)
            return NULL;
        *next = '/';
        slash = next;
    }
}

#define RT_NOBODY "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"

/* Whether user nobody can run the command and the test program. */
static bool rt_nobody_can_run(void)
{
    const char *files[] = {rt_tool(), rt_check_path(),
                           rt_path("ARI_BUILD", "build", "/libariadne.so")};
    for (size_t i = 0; i < 3; i++) {
        char *argv[] = {RT_NOBODY, "test", i < 2 ? "-x" : "-r", (char *)files[i], NULL};
        rt_run_t run;
        rt_spawn(&run, NULL, argv);
        int status = run.status;
        rt_free(&run);
        if (status == 127)
            return printf("SKIP: setpriv (util-linux) is not installed\n"), false;
        if (status != 0) {
            char component[PATH_MAX];
            const char *blocked = rt_blocked_component(files[i], component, sizeof component);
            if (blocked == NULL)
                test_fail(__FILE__, __LINE__, "user nobody cannot run %s, yet its path's "
                          "permission bits allow it", files[i]);
            printf("SKIP: user nobody cannot reach %s: %s is closed to others (file "
                   "permissions; the build is under a directory only its owner may enter)\n",
                   files[i], blocked);
            return false;
        }
    }
    return true;
}

/* Runs rt_check CASE on 2 nodes as user nobody, which must use fault mode `mode`. */
static void rt_nobody_case(const char *name, const char *mode)
{
    char path[64];
    rt_json_path(path);
    char *argv[] = {RT_NOBODY, (char *)rt_tool(), "run", "-n", "2", "--stats-json", path,
                    (char *)rt_check_path(), (char *)name, NULL};
    rt_run_t run;
    rt_spawn(&run, NULL, argv);
    if (run.status != 0)
        RT_FAIL_RUN(&run, "rt_check %s as user nobody failed", name);
    char want[64];
    snprintf(want, sizeof want, "[1] %s: node 1", name);
    RT_HAS(&run, run.out, want);
    free(rt_stats_check(&run, path, 2, mode));
    printf("%s as user nobody: exit %d, %.3f s\n", name, run.status, run.seconds);
    rt_free(&run);
}

/* Root runs the cases again as user nobody: userfaultfd must work without
 * privileges (it is opened user-mode-only), so the fault mode must be the
 * one root gets. Not root: every other test already ran unprivileged. */
TEST_FN(rt_unprivileged)
{
    if (geteuid() != 0) {
        printf("not root (uid %d): the other runtime tests already ran unprivileged\n",
               (int)geteuid());
        return;
    }
    if (!rt_nobody_can_run())
        return;
    char *json;
    rt_case_ok(NULL, NULL, 2, &json, "@rt", "counter", "50", NULL);
    const char *mode = strstr(json, "\"fault_mode\": \"userfaultfd\"") != NULL ? "userfaultfd"
                                                                              : "mprotect";
    free(json);
    rt_nobody_case("counter", mode);
    rt_nobody_case("ryw", mode);
    rt_nobody_case("converge", mode);
    rt_nobody_case("stores", mode);
    rt_nobody_case("mutex", mode);
}
