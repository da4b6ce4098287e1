/*
 * files — reading whole files with stdio, for the parts of the core that
 * take bytes from outside (e.g. topo_build's file: specs).
 */
#ifndef ARIADNE_DPU_FILES_H
#define ARIADNE_DPU_FILES_H

#include <stddef.h>

/* Largest file dpu_file_read accepts: an edge list of TOPO_NODES_MAX nodes
 * at full degree is about this size. */
#define DPU_FILE_BYTES_MAX ((size_t)1 << 31)

/* Reads the whole file `path` (a regular file or a pipe) into a malloc'd,
 * NUL-terminated buffer the caller frees; *size_out excludes the NUL.
 * `read_ctx` is unused (the signature is core/topo.h's topo_read_fn).
 * Returns 0, or ARI_EIO (cannot open or read), ARI_ERANGE (larger than
 * DPU_FILE_BYTES_MAX) or ARI_ENOMEM, with one line in `error` such as
 * "cannot open edges.txt: No such file or directory". */
int dpu_file_read(void *read_ctx, const char *path, char **data_out, size_t *size_out,
                  char *error, size_t error_size);

#endif /* ARIADNE_DPU_FILES_H */
