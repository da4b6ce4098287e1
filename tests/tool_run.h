/*
 * tool_run — runs an `ariadne` subcommand in-process (tests are forked, so
 * its exit paths are safe) with stdout and stderr captured, or a program as
 * a child process (tool_child_run).
 */
#ifndef ARIADNE_TEST_TOOL_RUN_H
#define ARIADNE_TEST_TOOL_RUN_H

typedef struct {
    int exit_status;
    char out[16384];
    char err[2048];
} tool_run_t;

#include <stddef.h>
#include <stdio.h>

/* Reads a whole (small) file into buffer, NUL-terminated, and closes it. */
void tool_run_slurp(FILE *file, char *buffer, size_t size);

/* Reads a whole file of any size into a malloc'd, NUL-terminated string
 * (the caller frees it) and closes the file. */
char *tool_run_slurp_all(FILE *file);

/* Runs main_fn with argv = {name, args[0], ..., args[argc - 1]}. */
void tool_run(tool_run_t *run, int (*main_fn)(int, char **), const char *name, int argc,
              const char *const *args);

#include <sys/types.h>

/* Whether `pid` is gone: no such process, or a zombie nobody here reaps.
 * Looks `tries` times, 10 ms apart. */
int tool_process_gone(pid_t pid, int tries);

/* A program run as a child process, with all it printed. */
typedef struct {
    int status;      /* exit status, or 128 + the signal that killed it */
    char *out, *err; /* all of stdout and stderr, malloc'd: tool_child_free */
    double seconds;
} tool_child_t;

/* Runs argv (execvp: a name without a slash is looked up on PATH) with
 * stdin from /dev/null and the "NAME=value" settings of `env` (NULL-
 * terminated; NULL for none) added to its environment, in a process group
 * of its own. If it outlives limit_seconds the whole group is killed and
 * the test fails, showing its output. */
void tool_child_run(tool_child_t *child, char *const *argv, const char *const *env,
                    double limit_seconds);
void tool_child_free(tool_child_t *child);

#endif /* ARIADNE_TEST_TOOL_RUN_H */
