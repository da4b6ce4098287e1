/*
 * files — whole-file reads with stdio.
 */
#include "files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ariadne.h"

/* Reads in chunks that double, so a pipe (no size up front) works too. */
static int dpu_file_read_stream(FILE *file, const char *path, char **data_out,
                                size_t *size_out, char *error, size_t error_size)
{
    size_t capacity = 1 << 16, size = 0;
    char *data = malloc(capacity);
    if (data == NULL) {
        snprintf(error, error_size, "%s: out of memory", path);
        return ARI_ENOMEM;
    }
    for (;;) {
        if (size + 1 == capacity) {
            if (capacity >= DPU_FILE_BYTES_MAX) {
                free(data);
                snprintf(error, error_size, "%s: larger than %zu bytes", path,
                         (size_t)DPU_FILE_BYTES_MAX);
                return ARI_ERANGE;
            }
            char *grown = realloc(data, 2 * capacity);
            if (grown == NULL) {
                free(data);
                snprintf(error, error_size, "%s: out of memory", path);
                return ARI_ENOMEM;
            }
            data = grown;
            capacity *= 2;
        }
        size_t got = fread(data + size, 1, capacity - 1 - size, file);
        size += got;
        if (got == 0)
            break;
    }
    if (ferror(file)) {
        int saved = errno;
        free(data);
        snprintf(error, error_size, "cannot read %s: %s", path, strerror(saved));
        return ARI_EIO;
    }
    data[size] = 0;
    *data_out = data;
    *size_out = size;
    return ARI_OK;
}

int dpu_file_read(void *read_ctx, const char *path, char **data_out, size_t *size_out,
                  char *error, size_t error_size)
{
    (void)read_ctx;
    char ignored[1];
    if (error == NULL || error_size == 0) {
        error = ignored;
        error_size = sizeof ignored;
    }
    errno = 0;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        snprintf(error, error_size, "cannot open %s: %s", path,
                 errno != 0 ? strerror(errno) : "unknown error");
        return ARI_EIO;
    }
    int status = dpu_file_read_stream(file, path, data_out, size_out, error, error_size);
    fclose(file);
    return status;
}
