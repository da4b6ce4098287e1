/*
 * sim — a deterministic discrete-event simulator running one core DPU per
 * simulated node (the same dpu.c the runtime runs) over a topology.
 *
 * Model (defaults in sim_config_default):
 *   - a link per port pair, FIFO and reliable: a message leaves at the
 *     sender's step time plus the DPU step, waits for the link to be free,
 *     takes size / bandwidth to serialise, then the hop latency plus a
 *     random jitter; it never arrives before an earlier message of the
 *     same link (FIFO), however the jitter fell;
 *   - bursts: now and then a link stalls for a while (randomised per seed);
 *   - host <-> DPU latency on every request and completion.
 * Everything random comes from the seed: the same config gives the same
 * run, event for event, and the same final state hash.
 *
 * After a run the simulator checks DESIGN §4's guarantees, and for the
 * ownership workloads DESIGN §5's (sim_result_t counts every violation;
 * all must be zero).
 */
#ifndef ARIADNE_SIM_SIM_H
#define ARIADNE_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/dpu.h"
#include "core/topo.h"

typedef enum {
    SIM_WORKLOAD_READMOSTLY = 1,
    SIM_WORKLOAD_WRITEHEAVY,
    SIM_WORKLOAD_ATOMICS_HOTSPOT,
    SIM_WORKLOAD_UNIFORM,
    SIM_WORKLOAD_MIXED,   /* everything at once: for property tests */
    SIM_WORKLOAD_TRACE,   /* a recorded access trace (trace.h) */
    /* The ownership protocol (DESIGN §5), each with path-cache readers and
     * writers on the same pages if --readers is given: */
    SIM_WORKLOAD_MIGRATORY,    /* sessions: a node acquires a page (pin), writes, releases */
    SIM_WORKLOAD_LOCK_CONTEND, /* `parties` nodes take turns at a lock guarding a counter */
    SIM_WORKLOAD_BARRIER,      /* `parties` nodes meet at a barrier, round after round */
} sim_workload_kind_t;


typedef struct {
    sim_workload_kind_t kind;
    uint32_t pages;          /* pages in play */
    uint32_t readers;        /* replicas per page (nodes that read it) */
    double write_ratio;      /* share of operations that change a page */
    uint64_t ops;            /* operations in all */
    uint32_t write_bytes_max;/* a write is 1..this many bytes */
    double unref_ratio;      /* share of operations that drop a replica (joins, races) */
    double free_ratio;       /* share of operations that free a page and make a new one */
    uint64_t interval_ns;    /* mean time between operations (Poisson arrivals) */
    bool warmup;             /* every reader reads its pages once before the operations */
    const struct sim_trace *trace; /* TRACE: the requests to replay (not owned) */
    /* Ownership workloads. `ops` counts migratory operations, lock critical
     * sections (all contenders together), or barrier rounds. */
    uint32_t parties;        /* LOCK_CONTEND: contenders; BARRIER: parties */
    double own_ratio;        /* MIGRATORY: share of operations that are sessions */
    uint64_t hold_ns;        /* an owner holds its pin this long before RELEASE */
} sim_workload_t;

typedef enum {
    SIM_PROTOCOL_PATHCACHE = 1, /* Ariadne: path caches, changes down the tree */
    SIM_PROTOCOL_DIRECTORY,     /* baseline: home keeps sharers, unicast to each (dir.h) */
} sim_protocol_t;

typedef struct {
    uint64_t seed;
    sim_protocol_t protocol;
    uint64_t hop_latency_ns;     /* per link traversal */
    double link_gbps;            /* link bandwidth */
    uint64_t dpu_step_ns;        /* a DPU's time to handle one input */
    uint64_t host_latency_ns;    /* host <-> DPU, each way */
    uint64_t jitter_ns;          /* up to this much extra per message */
    double burst_ratio;          /* chance a message finds its link stalled */
    uint64_t burst_ns;           /* how long a stall lasts */
    dpu_config_t dpu;            /* template for every DPU (node, topo, route set per node) */
    sim_workload_t workload;
    uint64_t events_max;         /* a bound on the run; exceeding it is a failure */
    /* Test only: drop this share of UPDATE messages. This breaks the link
     * model on purpose, to show the gap re-sync and the checks at work. */
    double fault_drop_update_ratio;
    /* Test only: the lock and barrier workloads' READs ignore their write
     * notices (min_version 0), and a barrier party arrives without waiting
     * for its slot's write, to show the counter and barrier checks fail
     * when release consistency is not kept. */
    bool fault_ignore_notices;
    /* Optional: write a Chrome/Perfetto trace of the message flow here (a
     * track per DPU, an arrow per message), at most trace_events_max. */
    FILE *trace_out;
    uint64_t trace_events_max;
} sim_config_t;

typedef struct {
    uint64_t p50, p99, max;
} sim_quantiles_t;

typedef struct {
    /* What ran */
    uint32_t nodes;
    uint64_t ops_submitted, ops_completed, ops_failed, ops_busy;
    uint64_t reads, writes, atomics, gets, unrefs, frees;
    uint64_t events, messages, link_traversals, bytes;
    uint64_t traversals_by_type[MSG_TYPE_END]; /* link traversals of each message type */
    uint64_t write_traversals;       /* WRITE/ATOMIC requests, their answers, UPDATE and INVAL */
    uint64_t sim_time_ns;
    double wall_seconds;             /* the whole run: setup, phases, checks */
    double loop_seconds;             /* in the event loop only: the rate's base */
    /* Figures */
    sim_quantiles_t propagation_ns;  /* owner ordered -> replica applied */
    sim_quantiles_t propagation_hops;
    sim_quantiles_t atomic_latency_ns;
    double pcache_entries_mean;      /* per DPU, at the end of the operations */
    uint32_t pcache_entries_max;
    uint64_t sharer_bytes;           /* directory: sharer lists at the homes, in all */
    uint64_t ref_fails, evictions, resyncs, stale_unrefs, malformed, stray;
    uint64_t dropped_updates;        /* by fault_drop_update_ratio */
    /* Checks: every one must be zero */
    uint64_t order_violations;       /* a replica applied out of the owner's order */
    uint64_t ryw_violations;         /* an acknowledged write not in the writer's replica */
    uint64_t atomic_violations;      /* atomics not linearizable */
    uint64_t writer_order_violations;/* one writer's requests ordered out of its order */
    uint64_t unconverged;            /* valid replicas that differ from the master */
    uint64_t leaked_entries;         /* entries left after unref (beyond anchors) or free */
    uint64_t stuck_ops;              /* operations never completed */
    uint64_t event_limit_hit;
    /* Checks of the ownership protocol: every one must be zero */
    uint64_t owner_violations;       /* a page with two owners, or none while nothing moves */
    uint64_t exclusion_violations;   /* two nodes held one page pinned at once */
    uint64_t starvation_violations;  /* an acquire waited longer than wait_bound_ns */
    uint64_t tree_violations;        /* a page's path-cache entries not one tree at its owner */
    uint64_t counter_violations;     /* lock-contend: a holder read a stale counter, or it is off */
    uint64_t barrier_violations;     /* barrier: a party missed a slot written before the barrier */
    uint64_t state_hash;
    /* Figures of the ownership protocol */
    uint64_t acquires, releases, barrier_arrivals; /* requests submitted */
    uint64_t acquired;               /* ACQUIREs completed with ARI_OK */
    uint64_t transfers, acquires_queued, pins_expired;
    uint64_t sections, barrier_rounds; /* lock critical sections, barrier rounds completed */
    sim_quantiles_t transfer_ns;     /* ACQUIRE at the DPU to ownership, never queued */
    sim_quantiles_t handoff_ns;      /* RELEASE at the holder to the next waiter's ACQUIRE done */
    sim_quantiles_t acquire_wait_ns; /* every ACQUIRE, submission to completion at the DPU */
    uint64_t wait_bound_ns;          /* the largest bound a wait was checked against */
    double acquires_per_ms;          /* ACQUIREs completed per ms of the operations phase */
    uint64_t arbiter_messages;       /* ACQ, GRANT, DENY, CANCEL, XFER_* messages sent */
    uint64_t arbiter_traversals;     /* their link crossings */
    uint64_t messages_by_type[MSG_TYPE_END];
} sim_result_t;

void sim_config_default(sim_config_t *config);
/* Defaults of a workload kind (pages, readers, write ratio, sizes). */
void sim_workload_default(sim_workload_kind_t kind, sim_workload_t *workload);
/* "readmostly", "writeheavy", "atomics-hotspot", "uniform", "mixed",
 * "migratory", "lock-contend", "barrier". */
int sim_workload_parse(const char *name, sim_workload_kind_t *kind_out);
/* The same, with the party count of "lock-contend:N" and "barrier:N"
 * (*parties_out is 0 when the spec names none). */
int sim_workload_parse_spec(const char *spec, sim_workload_kind_t *kind_out,
                            uint32_t *parties_out);
/* Most parties a lock or barrier workload takes (their slots fit a page). */
#define SIM_PARTIES_MAX 256u
const char *sim_workload_name(sim_workload_kind_t kind);
/* "pathcache" or "directory". */
int sim_protocol_parse(const char *name, sim_protocol_t *protocol_out);
const char *sim_protocol_name(sim_protocol_t protocol);

/* Runs the workload on the topology. ARI_OK when the run finished (check
 * the result's violation counts), or an error (bad config, no memory). */
int sim_run(const topo_t *topo, const sim_config_t *config, sim_result_t *result_out);

/* Sum of every violation counter: 0 means every check passed. */
uint64_t sim_result_violations(const sim_result_t *result);

#endif /* ARIADNE_SIM_SIM_H */
