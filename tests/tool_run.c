/*
 * tool_run — in-process runs of the command's subcommands, and programs
 * run as child processes, for tests.
 */
#include "tool_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

void tool_run_slurp(FILE *file, char *buffer, size_t size)
{
    rewind(file);
    size_t n = fread(buffer, 1, size - 1, file);
    buffer[n] = 0;
    fclose(file);
}

void tool_run(tool_run_t *run, int (*main_fn)(int, char **), const char *name, int argc,
              const char *const *args)
{
    char *argv[32];
    CHECK(argc < 32);
    argv[0] = (char *)name;
    for (int i = 0; i < argc; i++)
        argv[i + 1] = (char *)args[i];
    argv[argc + 1] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    CHECK(out != NULL && err != NULL);
    fflush(NULL);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(fileno(out), STDOUT_FILENO);
    dup2(fileno(err), STDERR_FILENO);
    run->exit_status = main_fn(argc + 1, argv);
    fflush(NULL);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    tool_run_slurp(out, run->out, sizeof run->out);
    tool_run_slurp(err, run->err, sizeof run->err);
}

int tool_process_gone(pid_t pid, int tries)
{
    for (int i = 0; i < tries; i++) {
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return 1;
        char path[64], stat[256] = {0};
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *file = fopen(path, "r");
        if (file != NULL) {
            size_t n = fread(stat, 1, sizeof stat - 1, file);
            fclose(file);
            stat[n] = 0;
            const char *paren = strrchr(stat, ')');
            if (paren != NULL && paren[1] == ' ' && paren[2] == 'Z')
                return 1;
        }
        usleep(10000);
    }
    return 0;
}

char *tool_run_slurp_all(FILE *file)
{
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    CHECK(size >= 0);
    char *text = malloc((size_t)size + 1);
    CHECK(text != NULL);
    rewind(file);
    size_t n = fread(text, 1, (size_t)size, file);
    text[n] = 0;
    fclose(file);
    return text;
}

static double tool_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* In the child: never returns. */
static void tool_child_exec(char *const *argv, const char *const *env, FILE *out, FILE *err)
{
    setpgid(0, 0);
    dup2(fileno(out), STDOUT_FILENO);
    dup2(fileno(err), STDERR_FILENO);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, STDIN_FILENO);
    for (; env != NULL && *env != NULL; env++)
        putenv((char *)*env);
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

void tool_child_run(tool_child_t *child, char *const *argv, const char *const *env,
                    double limit_seconds)
{
    FILE *out = tmpfile(), *err = tmpfile();
    CHECK(out != NULL && err != NULL);
    fflush(NULL);
    double start = tool_now();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        tool_child_exec(argv, env, out, err);
    setpgid(pid, pid);
    int status;
    for (;;) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        CHECK(done >= 0);
        if (done == pid)
            break;
        if (tool_now() - start > limit_seconds) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            child->out = tool_run_slurp_all(out);
            child->err = tool_run_slurp_all(err);
            test_fail(__FILE__, __LINE__, "%s %s ... still running after %.0f s; killed\n"
                      "stdout:\n%s\nstderr:\n%s", argv[0], argv[1] ? argv[1] : "",
                      limit_seconds, child->out, child->err);
        }
        usleep(2000);
    }
    child->seconds = tool_now() - start;
    child->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    child->out = tool_run_slurp_all(out);
    child->err = tool_run_slurp_all(err);
}

void tool_child_free(tool_child_t *child)
{
    free(child->out);
    free(child->err);
    child->out = child->err = NULL;
}
