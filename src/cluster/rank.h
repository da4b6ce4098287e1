/*
 * rank — a node's id and the run's size from the variables a launcher
 * sets in each process's environment, for runs started by srun or mpirun
 * instead of `ariadne run --hosts` (docs/CLUSTER.md).
 */
#ifndef ARIADNE_CLUSTER_RANK_H
#define ARIADNE_CLUSTER_RANK_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t rank;      /* this process's node id, 0 to size - 1 */
    uint32_t size;      /* nodes in the run, 1 to CLUSTER_NODES_MAX */
    const char *source; /* the variable the rank came from, e.g. "SLURM_PROCID" */
} cluster_rank_t;

/* Reads the first pair that is set, in this order: OMPI_COMM_WORLD_RANK
 * and OMPI_COMM_WORLD_SIZE (Open MPI's mpirun), PMI_RANK and PMI_SIZE
 * (MPICH's mpiexec, srun --mpi=pmi2), SLURM_PROCID and SLURM_NTASKS (srun).
 * The MPI launchers come first because a batch script's own SLURM_PROCID
 * (0) is inherited by every process mpirun starts under it.
 * `envp` is an environ-style array ending in NULL (NULL: the process's
 * environment). Returns 0 and fills *rank_out; ARI_ENOTSUP when none of
 * the variables is set (not started by one of these launchers); ARI_EINVAL
 * when a pair is half set, not a decimal number, or out of range, with a
 * message such as "SLURM_PROCID is '3x', not a number from 0 to 3". */
int cluster_rank_from_env(char *const *envp, cluster_rank_t *rank_out, char *error,
                          size_t error_size);

#endif /* ARIADNE_CLUSTER_RANK_H */
