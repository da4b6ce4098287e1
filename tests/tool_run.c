/*
 * tool_run — in-process runs of the command's subcommands, for tests.
 */
#include "tool_run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
