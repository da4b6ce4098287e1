/*
 * runner — the one test runner. Every test in test_list.h runs in a forked
 * child with a timeout, so a crash or a hang in one does not hide the rest;
 * a child's output is kept and shown only when it fails (or with -v).
 *
 *   run_tests                 all tests, two at a time
 *   run_tests PATTERN...      tests whose name starts with a pattern
 *   run_tests --one NAME      one test in this process, for gdb
 *   run_tests --list          names and timeouts
 *
 * The last line is always "N passed, N failed".
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ariadne.h"
#include "test.h"

typedef struct {
    const char *name;
    void (*fn)(void);
    int timeout_s;
} test_entry_t;

static const test_entry_t tests[] = {
#define TEST(name, timeout_s) {#name, test_##name, timeout_s},
#include "test_list.h"
#undef TEST
};
#define TESTS_COUNT (sizeof tests / sizeof tests[0])
#define RUNNER_JOBS_MAX 16

static bool runner_in_process;

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "%s:%d: ", file, line);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    fflush(NULL);
    if (runner_in_process)
        abort(); /* stop where gdb can see the frame */
    _exit(1);
}

/* ------------------------------------------------------------------------
 * Running children
 * ------------------------------------------------------------------------ */

typedef struct {
    pid_t pid;
    size_t test;
    FILE *output;
    struct timespec start;
    bool killed;
} child_t;

static double runner_seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int runner_child_start(size_t test, child_t *child)
{
    child->output = tmpfile();
    if (child->output == NULL) {
        perror("run_tests: tmpfile");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("run_tests: fork");
        fclose(child->output);
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(fileno(child->output), STDOUT_FILENO);
        dup2(fileno(child->output), STDERR_FILENO);
        tests[test].fn();
        fflush(NULL);
        _exit(0);
    }
    child->pid = pid;
    child->test = test;
    child->killed = false;
    clock_gettime(CLOCK_MONOTONIC, &child->start);
    return 0;
}

static void runner_print_output(FILE *output)
{
    char buffer[4096];
    size_t n;
    rewind(output);
    while ((n = fread(buffer, 1, sizeof buffer, output)) > 0)
        fwrite(buffer, 1, n, stdout);
}

/* Reports one finished child; returns true if it passed. */
static bool runner_child_report(child_t *child, int wait_status, bool verbose)
{
    double seconds = runner_seconds_since(&child->start);
    const char *name = tests[child->test].name;
    bool passed = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
    if (passed) {
        printf("ok   %-40s %8.3f s\n", name, seconds);
    } else if (child->killed) {
        printf("FAIL %-40s timed out after %d s\n", name, tests[child->test].timeout_s);
    } else if (WIFSIGNALED(wait_status)) {
        printf("FAIL %-40s killed by signal %d (%s)\n", name, WTERMSIG(wait_status),
               strsignal(WTERMSIG(wait_status)));
    } else {
        printf("FAIL %-40s exit status %d\n", name, WEXITSTATUS(wait_status));
    }
    if (!passed || verbose)
        runner_print_output(child->output);
    fclose(child->output);
    fflush(stdout);
    return passed;
}

static double runner_timeout_scale(void)
{
    const char *text = getenv("ARI_TEST_TIMEOUT_SCALE");
    double scale = text ? strtod(text, NULL) : 1.0;
    return scale > 0 ? scale : 1.0;
}

/* Kills children past their deadline; returns seconds until the nearest. */
static double runner_enforce_deadlines(child_t *running, size_t count, double scale)
{
    double nearest = 3600;
    for (size_t i = 0; i < count; i++) {
        double left = tests[running[i].test].timeout_s * scale -
                      runner_seconds_since(&running[i].start);
        if (left <= 0 && !running[i].killed) {
            kill(running[i].pid, SIGKILL);
            running[i].killed = true;
        }
        if (left < nearest)
            nearest = left;
    }
    return nearest > 0.01 ? nearest : 0.01;
}

/* Waits (without spinning) for one child to end; returns its index. */
static size_t runner_wait_one(child_t *running, size_t count, double scale, int *status_out)
{
    for (;;) {
        for (size_t i = 0; i < count; i++) {
            pid_t pid = waitpid(running[i].pid, status_out, WNOHANG);
            if (pid == running[i].pid)
                return i;
        }
        double wait_s = runner_enforce_deadlines(running, count, scale);
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        struct timespec timeout = {(time_t)wait_s, (long)((wait_s - (time_t)wait_s) * 1e9)};
        sigtimedwait(&chld, NULL, &timeout);
    }
}

static bool runner_selected(const char *name, int patterns_count, char **patterns)
{
    if (patterns_count == 0)
        return true;
    for (int i = 0; i < patterns_count; i++) {
        if (strncmp(name, patterns[i], strlen(patterns[i])) == 0)
            return true;
    }
    return false;
}

static int runner_run_all(int patterns_count, char **patterns, int jobs, bool verbose)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    double scale = runner_timeout_scale();
    child_t running[RUNNER_JOBS_MAX];
    size_t running_count = 0, next = 0, passed = 0, failed = 0;
    for (;;) {
        while (running_count < (size_t)jobs && next < TESTS_COUNT) {
            size_t test = next++;
            if (!runner_selected(tests[test].name, patterns_count, patterns))
                continue;
            if (runner_child_start(test, &running[running_count]) == 0)
                running_count++;
            else
                failed++;
        }
        if (running_count == 0)
            break;
        int status;
        size_t done = runner_wait_one(running, running_count, scale, &status);
        if (runner_child_report(&running[done], status, verbose))
            passed++;
        else
            failed++;
        running[done] = running[--running_count];
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

static int runner_run_one(const char *name)
{
    for (size_t i = 0; i < TESTS_COUNT; i++) {
        if (strcmp(tests[i].name, name) == 0) {
            runner_in_process = true;
            tests[i].fn();
            printf("1 passed, 0 failed\n");
            return 0;
        }
    }
    fprintf(stderr, "run_tests: no test named '%s' (see --list)\n", name);
    return 2;
}

static void runner_usage(FILE *out)
{
    fprintf(out,
            "usage: run_tests [-v] [-j JOBS] [PATTERN...]   run tests (prefix match), forked\n"
            "       run_tests --one NAME                   run one test in this process\n"
            "       run_tests --list                       list tests and timeouts\n"
            "ARI_TEST_TIMEOUT_SCALE multiplies every timeout (sanitizer builds).\n");
}

int main(int argc, char **argv)
{
    int jobs = 2;
    bool verbose = false;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        const char *arg = argv[first];
        if (strcmp(arg, "--list") == 0) {
            for (size_t i = 0; i < TESTS_COUNT; i++)
                printf("%-40s %d s\n", tests[i].name, tests[i].timeout_s);
            return 0;
        } else if (strcmp(arg, "--one") == 0 && first + 1 < argc) {
            return runner_run_one(argv[first + 1]);
        } else if (strcmp(arg, "-j") == 0 && first + 1 < argc) {
            jobs = atoi(argv[++first]);
            if (jobs < 1 || jobs > RUNNER_JOBS_MAX) {
                fprintf(stderr, "run_tests: -j takes 1 to %d\n", RUNNER_JOBS_MAX);
                return 2;
            }
        } else if (strcmp(arg, "-v") == 0) {
            verbose = true;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            runner_usage(stdout);
            return 0;
        } else {
            runner_usage(stderr);
            return 2;
        }
    }
    return runner_run_all(argc - first, argv + first, jobs, verbose);
}
