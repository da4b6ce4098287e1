/*
 * key — the cluster key: 32 secret bytes every node of a cluster holds,
 * kept in a file of 64 hex digits and a newline that only its owner may
 * read (docs/CLUSTER.md). `ariadne keygen FILE` writes one.
 */
#ifndef ARIADNE_CLUSTER_KEY_H
#define ARIADNE_CLUSTER_KEY_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_KEY_BYTES 32u
#define CLUSTER_KEY_FILE_MAX 256u /* bytes read from a key file, at most */

typedef struct {
    uint8_t bytes[CLUSTER_KEY_BYTES];
} cluster_key_t;

/* Parses a key file's text: exactly 64 hex digits (either case), then
 * nothing, "\n" or "\r\n". An all-zero key is refused (an unfilled file).
 * Returns 0, or ARI_EINVAL with "FILE: ..." in `error`; the message never
 * quotes the file's bytes. Pure code. */
int cluster_key_parse(const char *text, size_t length, const char *file_name,
                      cluster_key_t *key_out, char *error, size_t error_size);

/* Reads the key file at `path`: a regular file that neither group nor
 * others may access (ARI_EPERM otherwise, naming the chmod that fixes it),
 * then as cluster_key_parse. ARI_EIO when it cannot be read. */
int cluster_key_load(const char *path, cluster_key_t *key_out, char *error, size_t error_size);

/* Draws a new key from libsodium's generator. ARI_ENOTSUP without it. */
int cluster_key_generate(cluster_key_t *key_out, char *error, size_t error_size);

/* Writes a key file, mode 0600, never over an existing file (ARI_EIO with
 * "FILE: exists already ..."). */
int cluster_key_save(const char *path, const cluster_key_t *key, char *error, size_t error_size);

/* Clears a key in a way the compiler does not remove. */
void cluster_key_wipe(cluster_key_t *key);

#endif /* ARIADNE_CLUSTER_KEY_H */
