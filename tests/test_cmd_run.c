/*
 * `ariadne run`, the launcher, as a user runs it: nodes are /bin/sh scripts
 * (the node runtime is not needed), or this test binary itself in the role
 * of a node (run_node_probe) where a test needs to look into the control
 * region. The launcher runs in-process with its output captured, except
 * where the test is about the launcher as a process (signals, the binary).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tools/tool.h"
#include "runtime/ctl.h"
#include "test.h"
#include "tool_run.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

typedef struct {
    int exit_status;
    char *out;       /* the whole of stdout, malloc'd */
    char *err;
    double seconds;  /* how long the run took */
} launch_t;

static double launch_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static char *launch_slurp(FILE *file) { return tool_run_slurp_all(file); }

/* Runs `ariadne run ARGS` (NULL-terminated) in this process. */
static void launch(launch_t *run, const char *const *args)
{
    char *argv[40];
    int argc = 0;
    argv[argc++] = "run";
    for (; args[argc - 1] != NULL; argc++) {
        CHECK(argc < 39);
        argv[argc] = (char *)args[argc - 1];
    }
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    CHECK(out != NULL && err != NULL);
    fflush(NULL);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(fileno(out), STDOUT_FILENO);
    dup2(fileno(err), STDERR_FILENO);
    double start = launch_now();
    run->exit_status = tool_run_main(argc, argv);
    run->seconds = launch_now() - start;
    fflush(NULL);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    run->out = launch_slurp(out);
    run->err = launch_slurp(err);
}

static void launch_free(launch_t *run)
{
    free(run->out);
    free(run->err);
}

#define CHECK_HAS(text, want)                                                            \
    do {                                                                                 \
        if (strstr((text), (want)) == NULL)                                              \
            test_fail(__FILE__, __LINE__, "no \"%s\" in \"%s\"", (want), (text));        \
    } while (0)

static size_t count_of(const char *text, const char *want)
{
    size_t count = 0;
    for (const char *at = text; (at = strstr(at, want)) != NULL; at += strlen(want))
        count++;
    return count;
}

/* Open descriptors of this process: a run must leave none behind. */
static int fd_count(void)
{
    DIR *dir = opendir("/proc/self/fd");
    CHECK(dir != NULL);
    int count = 0;
    while (readdir(dir) != NULL)
        count++;
    closedir(dir);
    return count;
}

static int process_gone(pid_t pid) { return tool_process_gone(pid, 100); }

/* Checks every number after `key` in `text` names a process that is gone;
 * returns how many there were. */
static int check_pids_gone(const char *text, const char *key)
{
    int count = 0;
    for (const char *at = text; (at = strstr(at, key)) != NULL; at += strlen(key)) {
        pid_t pid = (pid_t)atoi(at + strlen(key));
        CHECK(pid > 1);
        if (!process_gone(pid))
            test_fail(__FILE__, __LINE__, "process %d (%s) is still there", (int)pid, key);
        count++;
    }
    return count;
}

/* ------------------------------------------------------------------------
 * The probe: a node that reports what it finds in the control region and
 * then plays the part ARI_PROBE gives it (comma-separated, one per node,
 * the last one repeated):
 *   plain         nothing more (its state stays STARTED)
 *   stats         writes counters and leaves FINISHED
 *   join-exit     JOINED, then exits 0 without finishing (a death)
 *   watch         JOINED, waits on its bell until the run is ending, prints
 *                 ending=N, leaves FINISHED
 *   finish-exit3  FINISHED, then exits with status 3 (not a death)
 * As an ordinary test (no ARI_CTL_FD) it does nothing.
 * ------------------------------------------------------------------------ */

static void probe_mode(uint32_t node, char *mode, size_t size)
{
    const char *list = getenv("ARI_PROBE");
    snprintf(mode, size, "plain");
    for (uint32_t i = 0; list != NULL && *list; i++) {
        size_t length = strcspn(list, ",");
        snprintf(mode, size, "%.*s", (int)length, list);
        if (i == node || list[length] == 0)
            return;
        list += length + 1;
    }
}

static void probe_stats(ctl_node_t *me, uint32_t node)
{
    ctl_stats_t *stats = &me->stats;
    stats->dpu.messages_in = 10 + node;
    stats->dpu.messages_out = 20 + node;
    stats->dpu.bytes_out = 1000 * (node + 1);
    stats->dpu.evictions = node;
    stats->faults = 5;
    stats->stores = 100 + node;
    stats->pages_at_exit = 0;
    stats->fault_mode = node % 2 == 0 ? 1 : 2;
    stats->valid = 1;
}

static void probe_watch(ctl_header_t *ctl, ctl_node_t *me)
{
    atomic_store(&me->state, CTL_NODE_JOINED);
    for (int i = 0; i < 500 && atomic_load(&ctl->ending) == 0; i++) {
        uint32_t seen = bell_read(&me->bell);
        if (atomic_load(&ctl->ending) != 0)
            break;
        bell_wait(&me->bell, seen, 10 * 1000 * 1000);
    }
    printf("ending=%u\n", atomic_load(&ctl->ending));
    atomic_store(&me->state, CTL_NODE_FINISHED);
}

TEST_FN(run_node_probe)
{
    const char *fd_text = getenv(CTL_ENV_FD), *node_text = getenv(CTL_ENV_NODE);
    if (fd_text == NULL)
        return;
    CHECK(node_text != NULL && getenv("ARI_NODES") != NULL);
    ctl_header_t *ctl;
    CHECK_OK(ctl_attach(atoi(fd_text), &ctl));
    uint32_t node = (uint32_t)atoi(node_text);
    CHECK(node < ctl->nodes);
    CHECK_INT(atoi(getenv("ARI_NODES")), ==, ctl->nodes);
    ctl_node_t *me = ctl_node(ctl, node);
    printf("probe node=%u nodes=%u spec=%s rings=%u ports=%u mem=%llu ring=%llu flags=%u "
           "timeout=%u state=%u pid_ok=%d\n",
           node, ctl->nodes, ctl->topo_spec, ctl->ring_count, ctl->ports,
           (unsigned long long)ctl->mem_bytes, (unsigned long long)ctl->ring_capacity,
           ctl->flags, ctl->timeout_ms, atomic_load(&me->state), me->pid == (int32_t)getpid());
    char mode[32];
    probe_mode(node, mode, sizeof mode);
    if (strcmp(mode, "stats") == 0) {
        probe_stats(me, node);
        atomic_store(&me->state, CTL_NODE_FINISHED);
    } else if (strcmp(mode, "join-exit") == 0) {
        atomic_store(&me->state, CTL_NODE_JOINED);
    } else if (strcmp(mode, "watch") == 0) {
        probe_watch(ctl, me);
    } else if (strcmp(mode, "finish-exit3") == 0) {
        atomic_store(&me->state, CTL_NODE_FINISHED);
        fflush(NULL);
        _exit(3);
    }
    fflush(NULL);
    ctl_detach(ctl);
}

/* Runs the probe on every node with the launcher options in `args` (up to
 * 12, NULL-terminated) and the roles in `roles`. */
static void launch_probe(launch_t *run, const char *roles, const char *const *args)
{
    const char *argv[24];
    int argc = 0;
    for (; args[argc] != NULL; argc++) {
        CHECK(argc < 16);
        argv[argc] = args[argc];
    }
    argv[argc++] = "--";
    /* This test binary (even if a rebuild has replaced the file since). */
    argv[argc++] = "/proc/self/exe";
    argv[argc++] = "--one";
    argv[argc++] = "run_node_probe";
    argv[argc] = NULL;
    CHECK(setenv("ARI_PROBE", roles, 1) == 0);
    launch(run, argv);
    unsetenv("ARI_PROBE");
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */

TEST_FN(run_tool_hello)
{
    launch_t run;
    int fds = fd_count();
    launch(&run, (const char *[]){"-n", "4", "--", "sh", "-c",
                                  "echo hello from $ARI_NODE of $ARI_NODES; "
                                  "echo to stderr $ARI_NODE >&2; "
                                  "readlink /proc/$$/fd/$ARI_CTL_FD", NULL});
    CHECK_INT(run.exit_status, ==, 0);
    for (int i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "[%d] hello from %d of 4\n", i, i);
        CHECK_HAS(run.out, want);
        snprintf(want, sizeof want, "[%d] to stderr %d\n", i, i);
        CHECK_HAS(run.err, want);
        snprintf(want, sizeof want, "[%d] /memfd:ariadne-ctl", i);
        CHECK_HAS(run.out, want);
    }
    CHECK_INT(count_of(run.err, "ariadne run:"), ==, 0);
    CHECK_INT(fd_count(), ==, fds);
    launch_free(&run);
    /* One node, no links; options may come in any order before PROGRAM. */
    launch(&run, (const char *[]){"--mem", "2G", "-n", "1", "sh", "-c", "echo solo $ARI_NODE",
                                  NULL});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_STR(run.out, "[0] solo 0\n");
    CHECK_STR(run.err, "");
    launch_free(&run);
}

TEST_FN(run_tool_exit_codes)
{
    launch_t run;
    launch(&run, (const char *[]){"-n", "4", "--grace-ms", "2000", "sh", "-c",
                                  "exit $ARI_NODE", NULL});
    CHECK_INT(run.exit_status, ==, 3);
    /* The first non-zero exit ends the run, the later ones are noted. */
    CHECK_INT(count_of(run.err, "; ending the run"), ==, 1);
    CHECK_HAS(run.err, "exited with status 3 before ari_finalize");
    CHECK(run.seconds < 1.5);
    launch_free(&run);
    launch(&run, (const char *[]){"-n", "3", "true", NULL});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_STR(run.out, "");
    CHECK_STR(run.err, "");
    launch_free(&run);
    /* A signal counts as 128 + its number. */
    launch(&run, (const char *[]){"-n", "2", "--grace-ms", "5000", "sh", "-c",
                                  "[ $ARI_NODE = 0 ] && kill -15 $$; exit 0", NULL});
    CHECK_INT(run.exit_status, ==, 143);
    CHECK_HAS(run.err, "ariadne run: node 0 was killed by signal 15 (Terminated); ending the run");
    launch_free(&run);
}

TEST_FN(run_tool_exec_failure)
{
    launch_t run;
    int fds = fd_count();
    launch(&run, (const char *[]){"-n", "3", "/nonexistent/ariadne-program", "x", NULL});
    CHECK_INT(fd_count(), ==, fds);
    CHECK_INT(run.exit_status, ==, 127);
    CHECK_STR(run.err, "ariadne run: cannot run '/nonexistent/ariadne-program': "
                       "No such file or directory\n");
    CHECK_STR(run.out, "");
    launch_free(&run);
    launch(&run, (const char *[]){"-n", "2", "ariadne-no-such-program-on-path", NULL});
    CHECK_INT(run.exit_status, ==, 127);
    CHECK_HAS(run.err, "cannot run 'ariadne-no-such-program-on-path'");
    launch_free(&run);
}

/* A node killed by a signal ends the run within its grace period: the
 * others are killed, processes they started too, and nothing is left. */
TEST_FN(run_tool_node_killed)
{
    launch_t run;
    int fds = fd_count();
    launch(&run, (const char *[]){"-n", "3", "--grace-ms", "500", "sh", "-c",
                                  "echo pid $$; sleep 30 & echo child $!; "
                                  "if [ $ARI_NODE = 1 ]; then kill -9 $$; fi; wait", NULL});
    CHECK_INT(run.exit_status, ==, 137);
    CHECK(run.seconds < 4.0);
    CHECK_HAS(run.err, "ariadne run: node 1 was killed by signal 9 (Killed); ending the run\n");
    /* The seconds are measured: 0.5, or a little more on a loaded machine. */
    CHECK_HAS(run.err, "ariadne run: node 0 still running 0.");
    CHECK_HAS(run.err, "ariadne run: node 2 still running 0.");
    CHECK_INT(count_of(run.err, " s after node 1 died; killed\n"), ==, 2);
    CHECK_INT(count_of(run.err, "\n"), ==, 3);
    CHECK_INT(fd_count(), ==, fds);
    CHECK_INT(check_pids_gone(run.out, "pid "), ==, 3);
    CHECK_INT(check_pids_gone(run.out, "child "), ==, 3);
    launch_free(&run);
}

TEST_FN(run_tool_partial_lines)
{
    launch_t run;
    launch(&run, (const char *[]){"-n", "2", "sh", "-c",
                                  "printf 'half a line'; printf 'err without end' >&2", NULL});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_HAS(run.out, "[0] half a line\n");
    CHECK_HAS(run.out, "[1] half a line\n");
    CHECK_HAS(run.err, "[0] err without end\n");
    CHECK_INT(strlen(run.out), ==, 2 * strlen("[0] half a line\n"));
    launch_free(&run);
    /* A line longer than 64 KiB comes in prefixed pieces; no byte is lost. */
    launch(&run, (const char *[]){"-n", "1", "sh", "-c",
                                  "head -c 100000 /dev/zero | tr '\\000' x; echo; echo after",
                                  NULL});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_INT(strlen(run.out), ==, 4 + 65536 + 1 + 4 + (100000 - 65536) + 1 + 10);
    CHECK(strncmp(run.out, "[0] xxx", 7) == 0);
    CHECK(run.out[4 + 65536] == '\n' && strncmp(run.out + 4 + 65537, "[0] xxx", 7) == 0);
    CHECK_HAS(run.out, "x\n[0] after\n");
    size_t xs = 0;
    for (const char *at = run.out; *at; at++)
        xs += *at == 'x';
    CHECK_INT(xs, ==, 100000);
    launch_free(&run);
}

/* Many nodes writing many lines at once: every line arrives whole, once,
 * with its node's prefix, and each node's lines in its order. */
TEST_FN(run_tool_many_lines)
{
    launch_t run;
    launch(&run, (const char *[]){"-n", "6", "sh", "-c",
                                  "i=0; while [ $i -lt 400 ]; do "
                                  "echo \"node $ARI_NODE line $i of a longer text\"; "
                                  "echo \"e$ARI_NODE.$i\" >&2; i=$((i+1)); done", NULL});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_INT(count_of(run.out, "\n"), ==, 6 * 400);
    CHECK_INT(count_of(run.err, "\n"), ==, 6 * 400);
    for (int node = 0; node < 6; node++) {
        const char *at = run.out;
        for (int i = 0; i < 400; i++) {
            char want[80];
            snprintf(want, sizeof want, "[%d] node %d line %d of a longer text\n", node, node, i);
            const char *found = strstr(at, want);
            if (found == NULL)
                test_fail(__FILE__, __LINE__, "missing or out of order: %s", want);
            at = found + strlen(want);
        }
    }
    launch_free(&run);
}

TEST_FN(run_tool_bad_args)
{
    static const struct {
        const char *args[10];
        const char *want;
    } cases[] = {
        {{"-n", "0", "true"}, "-n needs a whole number from 1 to 256, not '0'"},
        {{"-n", "999", "true"}, "-n needs a whole number from 1 to 256, not '999'"},
        {{"-n", "4x", "true"}, "not '4x'"},
        {{"-n"}, "-n needs a value"},
        {{"-n", "4", "--topo", "ring:5", "true"}, "--topo ring:5 has 5 nodes, but -n is 4"},
        {{"-n", "4", "--topo", "bogus:4", "true"}, "--topo "},
        {{"-n", "4", "--topo", "file:/nonexistent/edges", "true"}, "/nonexistent/edges"},
        {{"-n", "1", "--topo", "ring:3", "true"}, "a run of 1 node has no links"},
        {{"-n", "6", "--topo", "hypercube", "true"}, "power of two"},
        {{"-n", "4", "--ports", "0", "true"}, "--ports needs a whole number from 1 to 64"},
        {{"-n", "4", "--ports", "65", "true"}, "--ports needs a whole number from 1 to 64"},
        {{"-n", "8", "--ports", "4", "--topo", "mesh", "true"},
         "--topo mesh:8 gives a node 7 links, more than --ports 4"},
        {{"-n", "4", "--mem", "junk", "true"}, "--mem needs a size such as"},
        {{"-n", "4", "--mem", "12Q", "true"}, "not '12Q'"},
        {{"-n", "4", "--mem", "0", "true"}, "--mem must be more than 0"},
        {{"-n", "4", "--mem", "99999999999999999999", "true"}, "--mem needs a size"},
        {{"-n", "4", "--ring", "5000", "true"}, "--ring must be a power of two"},
        {{"-n", "4", "--ring", "1K", "true"}, "--ring must be a power of two"},
        {{"-n", "4", "--timeout-ms", "0", "true"}, "--timeout-ms needs a whole number"},
        {{"-n", "4", "--grace-ms", "-1", "true"}, "--grace-ms needs a whole number"},
        {{"-n", "4", "--frobnicate", "true"}, "unknown option"},
        {{"-n", "4", "-x", "true"}, "unknown option '-x'"},
        {{"-n", "4"}, "missing PROGRAM"},
        {{"-n", "4", "--"}, "missing PROGRAM"},
        {{"true"}, "-n N (the number of nodes) is required"},
        {{"-n", "2", "--stats-json", "/nonexistent/dir/s.json", "true"}, "cannot write"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        launch_t run;
        launch(&run, cases[i].args);
        if (run.exit_status != 2 || strncmp(run.err, "ariadne run: ", 13) != 0 ||
            strstr(run.err, cases[i].want) == NULL || count_of(run.err, "\n") != 1)
            test_fail(__FILE__, __LINE__, "case %zu: exit %d, stderr \"%s\", want 2 and \"%s\"",
                      i, run.exit_status, run.err, cases[i].want);
        CHECK_STR(run.out, "");
        launch_free(&run);
    }
    /* The environment's time limit is checked like the option's. */
    launch_t run;
    CHECK(setenv("ARI_TIMEOUT_MS", "soon", 1) == 0);
    launch(&run, (const char *[]){"-n", "2", "true", NULL});
    unsetenv("ARI_TIMEOUT_MS");
    CHECK_INT(run.exit_status, ==, 2);
    CHECK_HAS(run.err, "ARI_TIMEOUT_MS (environment) needs a whole number");
    launch_free(&run);
}

TEST_FN(run_tool_help)
{
    launch_t run;
    launch(&run, (const char *[]){"--help", NULL});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_STR(run.err, "");
    static const char *const options[] = {"-n N", "--topo", "--ports", "--mem", "--ring",
                                          "--timeout-ms", "--grace-ms", "--stats",
                                          "--stats-json", "ARI_TIMEOUT_MS", "example"};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        CHECK_HAS(run.out, options[i]);
    launch_free(&run);
    /* The real command lists it and runs it. */
    const char *tool = getenv("ARI_TOOL");
    char command[4096];
    snprintf(command, sizeof command,
             "%s --help | grep -q '^  run ' && %s run -n 2 sh -c 'echo via binary $ARI_NODE'",
             tool != NULL ? tool : "build/ariadne", tool != NULL ? tool : "build/ariadne");
    FILE *pipe = popen(command, "r");
    CHECK(pipe != NULL);
    char output[256];
    size_t n = fread(output, 1, sizeof output - 1, pipe);
    output[n] = 0;
    CHECK_INT(pclose(pipe), ==, 0);
    CHECK_HAS(output, "[0] via binary 0\n");
    CHECK_HAS(output, "[1] via binary 1\n");
}

/* What the nodes find in the control region for each way of naming the
 * topology and the other settings. */
TEST_FN(run_tool_ctl_region)
{
    static const struct {
        const char *args[14];
        const char *want;
    } cases[] = {
        {{"-n", "4", NULL}, "nodes=4 spec=mesh:4 rings=12 ports=8 mem=1073741824 ring=1048576 "
                            "flags=0 timeout=30000 state=1 pid_ok=1"},
        {{"-n", "4", "--topo", "ring", "--ports", "2", "--mem", "512M", "--ring", "64K",
          "--timeout-ms", "1234", NULL},
         "spec=ring:4 rings=8 ports=2 mem=536870912 ring=65536 flags=0 timeout=1234"},
        {{"-n", "1", NULL}, "nodes=1 spec=mesh:1 rings=0"},
        {{"-n", "12", NULL}, "spec=random:12:8:1 rings=96"},
        {{"-n", "11", "--ports", "3", NULL}, "spec=random:11:2:1 rings=22 ports=3"},
        {{"-n", "7", "--topo", "tree:2", NULL}, "spec=tree:7:2 rings=12"},
        {{"-n", "8", "--topo", "random:3:5", NULL}, "spec=random:8:3:5 rings=24"},
        {{"-n", "8", "--topo", "hypercube", NULL}, "spec=hypercube:3 rings=24"},
        {{"-n", "9", "--topo", "torus2d:3x3", "--ports", "4", NULL}, "spec=torus2d:3x3 rings=36"},
        {{"-n", "8", "--topo", "smallworld:4:2", NULL}, "spec=smallworld:8:4:2"},
        {{"-n", "3", "--stats", NULL}, "flags=1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        launch_t run;
        launch_probe(&run, "plain", cases[i].args);
        if (run.exit_status != 0 || strstr(run.out, cases[i].want) == NULL)
            test_fail(__FILE__, __LINE__, "case %zu: exit %d, out \"%s\", err \"%s\", want \"%s\"",
                      i, run.exit_status, run.out, run.err, cases[i].want);
        launch_free(&run);
    }
    /* ARI_TIMEOUT_MS stands in for --timeout-ms, and the option wins. */
    launch_t run;
    CHECK(setenv("ARI_TIMEOUT_MS", "777", 1) == 0);
    launch_probe(&run, "plain", (const char *[]){"-n", "2", NULL});
    CHECK_HAS(run.out, "[1] probe node=1 nodes=2 ");
    CHECK_HAS(run.out, "timeout=777 ");
    launch_free(&run);
    launch_probe(&run, "plain", (const char *[]){"-n", "2", "--timeout-ms", "55", NULL});
    unsetenv("ARI_TIMEOUT_MS");
    CHECK_HAS(run.out, "timeout=55 ");
    launch_free(&run);
}

/* A node that joined and left without ari_finalize is a death even with
 * status 0: the others see ctl->ending (woken by their bells), and the run
 * exits 1. A node that
 * finished and then failed is not a death, but its status counts. */
TEST_FN(run_tool_death_after_join)
{
    launch_t run;
    launch_probe(&run, "watch,join-exit,watch", (const char *[]){"-n", "3", NULL});
    CHECK_INT(run.exit_status, ==, 1); /* every process said 0, but the run failed */
    CHECK_HAS(run.err, "ariadne run: node 1 exited (status 0) after ari_init without finishing "
                       "ari_finalize; ending the run\n");
    CHECK_HAS(run.out, "[0] ending=2\n");
    CHECK_HAS(run.out, "[2] ending=2\n");
    CHECK_INT(count_of(run.err, "ariadne run:"), ==, 1);
    CHECK(run.seconds < 4.0);
    launch_free(&run);
    launch_probe(&run, "plain,finish-exit3", (const char *[]){"-n", "2", NULL});
    CHECK_INT(run.exit_status, ==, 3);
    CHECK_INT(count_of(run.err, "ariadne run:"), ==, 0);
    launch_free(&run);
}

TEST_FN(run_tool_stats)
{
    char path[] = "/tmp/ariadne-stats-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    launch_t run;
    launch_probe(&run, "stats,stats,stats,plain",
                 (const char *[]){"-n", "4", "--stats", "--stats-json", path, NULL});
    CHECK_INT(run.exit_status, ==, 0);
    CHECK_HAS(run.err, "ariadne run: statistics of 3 of 4 nodes");
    static const char *const columns[] = {
        "messages_in", "messages_out", "bytes_out", "malformed", "stray", "ref_fails",
        "evictions", "resyncs", "retries", "writes_ordered", "atomics_ordered", "faults",
        "pages_mapped", "stores", "gets", "atomics", "barriers", "link_waits", "sleeps",
        "entries_at_exit", "pages_at_exit", "fault_mode"};
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
        CHECK_HAS(run.err, columns[i]);
    CHECK_HAS(run.err, "node 0 ");
    CHECK_HAS(run.err, "node 2 ");
    CHECK(strstr(run.err, "node 3 ") == NULL);
    CHECK_INT(count_of(run.err, "total "), ==, 2);
    CHECK_HAS(run.err, "userfaultfd");
    CHECK_HAS(run.err, "mprotect");
    /* Nothing of the table is prefixed: it is the launcher's. */
    CHECK(strstr(run.err, "] messages_in") == NULL && strstr(run.err, "[0] ") == NULL);
    launch_free(&run);
    FILE *file = fopen(path, "r");
    CHECK(file != NULL);
    char *json = launch_slurp(file);
    unlink(path);
    CHECK(json[0] == '[');
    CHECK_INT(count_of(json, "\"node\": "), ==, 3);
    CHECK_HAS(json, "{\"node\": 2, \"messages_in\": 12, \"messages_out\": 22, "
                    "\"bytes_out\": 3000, ");
    CHECK_HAS(json, "\"evictions\": 1,");
    CHECK_HAS(json, "\"stores\": 101,");
    CHECK_HAS(json, "\"fault_mode\": \"mprotect\"}");
    CHECK_HAS(json, "\"fault_mode\": \"userfaultfd\"}");
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
        char key[40];
        snprintf(key, sizeof key, "\"%s\": ", columns[i]);
        CHECK_INT(count_of(json, key), ==, 3);
    }
    free(json);
}

/* SIGTERM to the launcher goes to every node as SIGTERM; a node that
 * ignores it is killed after the grace period. */
TEST_FN(run_tool_sigterm)
{
    FILE *out = tmpfile(), *err = tmpfile();
    CHECK(out != NULL && err != NULL);
    fflush(NULL);
    pid_t launcher = fork();
    CHECK(launcher >= 0);
    if (launcher == 0) {
        dup2(fileno(out), STDOUT_FILENO);
        dup2(fileno(err), STDERR_FILENO);
        char *argv[] = {"run", "-n", "3", "--grace-ms", "300", "sh", "-c",
                        "[ $ARI_NODE = 0 ] && trap '' TERM; echo pid $$; sleep 30 & "
                        "echo child $!; wait; wait", NULL};
        int status = tool_run_main(9, argv);
        fflush(NULL);
        _exit(status);
    }
    /* Wait for every node to be up. */
    char text[4096] = {0};
    for (int tries = 0; tries < 500 && count_of(text, "child ") < 3; tries++) {
        usleep(10000);
        fseek(out, 0, SEEK_SET);
        size_t n = fread(text, 1, sizeof text - 1, out);
        text[n] = 0;
    }
    CHECK_INT(count_of(text, "child "), ==, 3);
    double start = launch_now();
    CHECK(kill(launcher, SIGTERM) == 0);
    int status;
    CHECK(waitpid(launcher, &status, 0) == launcher);
    CHECK(launch_now() - start < 3.0);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), ==, 143); /* nodes 1 and 2: SIGTERM */
    char *errors = launch_slurp(err), *output = launch_slurp(out);
    CHECK_HAS(errors, "ariadne run: SIGTERM; sending SIGTERM to every node");
    CHECK_HAS(errors, "ariadne run: node 0 still running 0.");
    CHECK_HAS(errors, " s after SIGTERM; killed\n");
    CHECK(strstr(errors, "node 1 still running") == NULL);
    CHECK_INT(check_pids_gone(output, "pid "), ==, 3);
    CHECK_INT(check_pids_gone(output, "child "), ==, 3);
    free(errors);
    free(output);
}
