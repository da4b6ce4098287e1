/*
 * cmd_keygen — `ariadne keygen FILE`: writes a new cluster key for the
 * authenticated join (docs/CLUSTER.md).
 */
#include <stdio.h>
#include <string.h>

#include "cluster/key.h"
#include "tool.h"

static void keygen_usage(FILE *out)
{
    fprintf(out,
            "usage: ariadne keygen FILE\n"
            "\n"
            "Writes a new cluster key to FILE: %u random bytes as hex digits and a newline,\n"
            "mode 0600, never over an existing file. Copy it to every host (scp -p keeps the\n"
            "mode) and pass it to each node with --key FILE; a node without it cannot join.\n",
            CLUSTER_KEY_BYTES);
}

int tool_keygen_main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        keygen_usage(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        keygen_usage(stderr);
        return 2;
    }
    cluster_key_t key;
    char error[256];
    int status = cluster_key_generate(&key, error, sizeof error);
    if (status == 0)
        status = cluster_key_save(argv[1], &key, error, sizeof error);
    cluster_key_wipe(&key);
    if (status != 0) {
        fprintf(stderr, "ariadne keygen: %s\n", error);
        return 1;
    }
    printf("ariadne keygen: wrote a new cluster key to %s (mode 0600)\n", argv[1]);
    return 0;
}
