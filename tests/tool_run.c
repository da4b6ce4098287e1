/*
 * tool_run — in-process runs of the command's subcommands, for tests.
 */
#include "tool_run.h"

#include <stdio.h>
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
