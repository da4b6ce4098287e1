/*
 * ctl — the run's control region: one block of shared memory that
 * `ariadne run` creates (an anonymous memfd, inherited by the node
 * processes, so nothing is ever left in /dev/shm or on disk) and every node
 * maps. It holds the run's settings, one slot per node (its doorbell, its
 * state, its counters at exit) and every link's two rings.
 *
 * Layout, all offsets 64-aligned:
 *   ctl_header_t
 *   ctl_node_t[nodes]                    at nodes_offset
 *   rings[ring_count], ring_stride each  at rings_offset
 * The rings are numbered like the topology's ports (topo.h CSR order): the
 * ring node u sends into on port p is number offsets[u] + p, and u reads
 * port p from its neighbour's ring for the same link.
 *
 * A program started without `ariadne run` makes a region of its own with
 * one node and no rings (ctl_create then ctl_attach in one process).
 */
#ifndef ARIADNE_RUNTIME_CTL_H
#define ARIADNE_RUNTIME_CTL_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/dpu.h"
#include "transport/bell.h"
#include "transport/shmring.h"

#define CTL_MAGIC 0x314c544361697241ull /* "AriaCTL1" */
#define CTL_VERSION 2u
#define CTL_NODES_MAX 256u
#define CTL_TOPO_MAX 256u
#define CTL_ENV_FD "ARI_CTL_FD"     /* the control memfd's descriptor number */
#define CTL_ENV_NODE "ARI_NODE"     /* this process's node id */
#define CTL_RING_DEFAULT (1u << 20) /* bytes per ring: room for ~240 whole pages */

typedef enum {
    CTL_NODE_EMPTY = 0, /* not started */
    CTL_NODE_STARTED,   /* the launcher started its process */
    CTL_NODE_JOINED,    /* ari_init finished: it serves its links */
    CTL_NODE_FINISHED,  /* ari_finalize finished: it needs nothing more */
    CTL_NODE_DEAD,      /* it left without ari_finalize (crash, kill, exit) */
} ctl_node_state_t;

/* What a node reports at exit (ari_finalize), for `ariadne run --stats`. */
typedef struct {
    uint64_t valid;         /* 1 once written */
    dpu_stats_t dpu;        /* the core's protocol counters */
    uint64_t faults;        /* page faults served (userfaultfd or SIGSEGV) */
    uint64_t pages_mapped;  /* pages made readable in the application's view */
    uint64_t stores, gets, atomics, barriers;
    uint64_t link_waits;    /* sends that found a ring full and queued */
    uint64_t sleeps;        /* times the DPU slept on its bell */
    uint64_t entries_at_exit; /* path-cache entries left after finalize (0 = clean) */
    uint64_t pages_at_exit;   /* readable mappings left after finalize (0 = clean) */
    uint64_t fault_mode;    /* 1 userfaultfd, 2 mprotect/SIGSEGV */
} ctl_stats_t;

typedef struct {
    bell_t bell;                 /* rung when this node has work and nobody polls */
    _Atomic uint32_t pollers;    /* this node's threads polling its rings right now: a
                                  * sender rings the bell only when there are none */
    _Atomic uint32_t state;      /* ctl_node_state_t */
    int32_t pid;                 /* its process (launcher writes) */
    int32_t exit_code;           /* launcher: exit status, 128 + signal if killed */
    _Atomic uint32_t remote;     /* 1: the node runs on another host; what it would
                                  * read, this host's agent sends there (ctl_wake) */
    uint8_t pad[64 - sizeof(bell_t) - 5 * sizeof(uint32_t)];
    ctl_stats_t stats;
} __attribute__((aligned(64))) ctl_node_t;

typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t nodes;
    uint32_t ports;          /* --ports: the largest degree the topology may have */
    uint32_t ring_count;     /* = the topology's port count, offsets[nodes] */
    uint64_t ring_capacity;  /* data bytes per ring (power of two) */
    uint64_t ring_stride;    /* shmring_footprint(ring_capacity) */
    uint64_t mem_bytes;      /* --mem: global memory each node may map */
    uint64_t total_bytes;    /* size of the whole region */
    uint64_t nodes_offset;
    uint64_t rings_offset;
    uint32_t flags;          /* CTL_FLAG_* */
    uint32_t timeout_ms;     /* longest wait of any call */
    _Atomic uint32_t ending; /* launcher: 0, or 1 + the node whose death ends the run */
    _Atomic uint32_t heap_check; /* the first node's heap layout hash; the others compare */
    _Atomic uint32_t drained;    /* nodes done with ari_finalize's traffic */
    int32_t agent_fd;            /* a run across hosts: the agent's eventfd, else -1 */
    _Atomic uint32_t agent_polling; /* the agent polls: no need to write agent_fd */
    char topo_spec[CTL_TOPO_MAX]; /* the full spec, e.g. "mesh:4" */
} __attribute__((aligned(64))) ctl_header_t;

#define CTL_FLAG_STATS 0x1u  /* --stats: nodes fill ctl_stats_t at exit */

typedef struct {
    uint32_t nodes;
    uint32_t ports;
    uint32_t ring_count;
    uint64_t ring_capacity;
    uint64_t mem_bytes;
    uint32_t flags;
    uint32_t timeout_ms;
    const char *topo_spec;
    int agent_fd;            /* 0 or -1: none; else the eventfd of this host's agent (a run
                              * across hosts; never descriptor 0, which is stdin) */
} ctl_params_t;

/* Creates the region in a new memfd (not close-on-exec: children inherit
 * it). Returns ARI_OK with *fd_out and *ctl_out (mapped), ARI_EINVAL for
 * bad params, ARI_ENOMEM / ARI_EIO when the kernel refuses. */
int ctl_create(const ctl_params_t *params, int *fd_out, ctl_header_t **ctl_out);
/* Maps a region someone else created and checks its header and sizes:
 * ARI_EINVAL if it is not a well-formed control region. */
int ctl_attach(int fd, ctl_header_t **ctl_out);
/* Unmaps (the descriptor is the caller's to close). */
void ctl_detach(ctl_header_t *ctl);

static inline ctl_node_t *ctl_node(ctl_header_t *ctl, uint32_t node)
{
    return (ctl_node_t *)((uint8_t *)ctl + ctl->nodes_offset) + node;
}

/* Tells this host's agent (a run across hosts) that a ring it reads, or a
 * node's state or the drained count, changed. Free when the agent polls. */
void ctl_agent_wake(ctl_header_t *ctl);

/* Wakes node `node`: its bell when it is on this host and nobody of it
 * polls; the agent when the node is on another host. */
static inline void ctl_wake(ctl_header_t *ctl, uint32_t node)
{
    ctl_node_t *slot = ctl_node(ctl, node);
    if (atomic_load_explicit(&slot->remote, memory_order_relaxed) != 0)
        ctl_agent_wake(ctl);
    /* A read-modify-write, not a fence (ThreadSanitizer refuses fences):
     * what we pushed is visible before we look whether anyone polls. */
    else if (atomic_fetch_add_explicit(&slot->pollers, 0, memory_order_seq_cst) == 0)
        bell_ring(&slot->bell);
}

static inline shmring_t *ctl_ring(ctl_header_t *ctl, uint32_t index)
{
    return (shmring_t *)((uint8_t *)ctl + ctl->rings_offset + (uint64_t)index * ctl->ring_stride);
}

#endif /* ARIADNE_RUNTIME_CTL_H */
