/*
 * rank — a node's id from srun's or mpirun's environment variables.
 */
#include "rank.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ariadne.h"
#include "hosts.h"

extern char **environ;

static const struct {
    const char *rank, *size;
} rank_pairs[] = {
    {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
    {"PMI_RANK", "PMI_SIZE"},
    {"SLURM_PROCID", "SLURM_NTASKS"},
};

static const char *rank_lookup(char *const *envp, const char *name)
{
    size_t length = strlen(name);
    for (size_t i = 0; envp[i] != NULL; i++) {
        if (strncmp(envp[i], name, length) == 0 && envp[i][length] == '=')
            return envp[i] + length + 1;
    }
    return NULL;
}

/* Plain decimal digits only (no sign, blanks or "0x"), at most 9 of them. */
static bool rank_number(const char *text, uint32_t *value_out)
{
    size_t length = strlen(text);
    if (length == 0 || length > 9 || strspn(text, "0123456789") != length)
        return false;
    uint32_t value = 0;
    for (size_t i = 0; i < length; i++)
        value = value * 10 + (uint32_t)(text[i] - '0');
    *value_out = value;
    return true;
}

/* Values are quoted at most 32 bytes long in messages. */
static int rank_read_pair(char *const *envp, size_t pair, cluster_rank_t *rank_out, char *error,
                          size_t error_size)
{
    const char *rank_name = rank_pairs[pair].rank, *size_name = rank_pairs[pair].size;
    const char *rank_text = rank_lookup(envp, rank_name), *size_text = rank_lookup(envp, size_name);
    if (rank_text == NULL || size_text == NULL) {
        snprintf(error, error_size, "%s is set but %s is not (a launcher sets both)",
                 rank_text != NULL ? rank_name : size_name,
                 rank_text != NULL ? size_name : rank_name);
        return ARI_EINVAL;
    }
    uint32_t size, rank;
    if (!rank_number(size_text, &size) || size == 0 || size > CLUSTER_NODES_MAX) {
        snprintf(error, error_size, "%s is '%.32s', not a number from 1 to %u", size_name,
                 size_text, CLUSTER_NODES_MAX);
        return ARI_EINVAL;
    }
    if (!rank_number(rank_text, &rank) || rank >= size) {
        snprintf(error, error_size, "%s is '%.32s', not a number from 0 to %u (%s is %u)",
                 rank_name, rank_text, size - 1, size_name, size);
        return ARI_EINVAL;
    }
    *rank_out = (cluster_rank_t){rank, size, rank_name};
    return ARI_OK;
}

int cluster_rank_from_env(char *const *envp, cluster_rank_t *rank_out, char *error,
                          size_t error_size)
{
    if (envp == NULL)
        envp = environ;
    for (size_t pair = 0; pair < sizeof rank_pairs / sizeof rank_pairs[0]; pair++) {
        if (rank_lookup(envp, rank_pairs[pair].rank) != NULL ||
            rank_lookup(envp, rank_pairs[pair].size) != NULL)
            return rank_read_pair(envp, pair, rank_out, error, error_size);
    }
    snprintf(error, error_size,
             "no rank variables: none of OMPI_COMM_WORLD_RANK, PMI_RANK or "
             "SLURM_PROCID is set (not started by mpirun or srun)");
    return ARI_ENOTSUP;
}
