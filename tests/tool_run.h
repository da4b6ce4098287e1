/*
 * tool_run — runs an `ariadne` subcommand in-process (tests are forked, so
 * its exit paths are safe) with stdout and stderr captured.
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

#endif /* ARIADNE_TEST_TOOL_RUN_H */
