/*
 * node — the node process: its DPU driver, its views of global memory, its
 * heap, and the state every public call shares (src/runtime/api.c).
 */
#ifndef ARIADNE_RUNTIME_NODE_H
#define ARIADNE_RUNTIME_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"
#include "dpu/driver.h"
#include "fault.h"
#include "heap.h"

#define NODE_READAHEAD_DEFAULT 64u /* pages asked for by one fault */

typedef struct {
    _Atomic bool ready;
    ctl_header_t *ctl;
    int ctl_fd;
    uint32_t id, count;
    driver_t *driver;
    fault_t *fault;
    pthread_mutex_t heap_lock; /* heap and owned_bytes */
    heap_t heap;
    uint64_t mem_bytes, owned_bytes;
    uint32_t readahead;
    bool huge;                 /* 2 MiB pages can be served (node_huge_ready) */
    char huge_why[200];        /* else why not */
    ari_gva_t runtime_page;    /* the barrier word's page, born at node 0 */
    uint64_t fails_seen;       /* node_agree: the failure count last read */
    _Atomic uint32_t barrier_busy;
    char host[64];             /* where this node runs, for reports: ARI_HOST or the host name */
    uint64_t pin_ms;           /* the pin limit (ARI_PIN_MS), for reports */
    _Atomic uint32_t pin_reports; /* pins reported held past their limit */
    _Atomic uint64_t stores, gets, atomics, barriers, locks, pages_mapped;
} node_t;

extern node_t node_g;

/* ARI_EINIT unless ari_init succeeded (and ari_finalize has not run). */
int node_check(void);
/* Records a failed call's status for ari_errno and returns it. */
int node_fail(int status);

/* ARI_OK when this run serves 2 MiB pages; else ARI_ENOTSUP, having said
 * why on stderr once. */
int node_huge_ready(void);
/* Where a heap address is, with its page's global address. */
int node_place(const void *ptr, heap_place_t *place_out, ari_gva_t *page_out);
/* Makes the pages of [address, address + bytes) valid and readable here.
 * Used by faults (one page, with read-ahead) and by ari_prefault. */
int node_make_readable(uint64_t address, uint64_t bytes, bool readahead);
/* After a write this node made at `version`: waits until its own replica
 * (if any) shows that version, so a plain load reads its own writes. */
int node_see_own_write(ari_gva_t page, uint64_t version);
/* Runs one request on a fresh ticket. */
int node_call(dpu_request_t *request, uint8_t *get_dst, driver_result_t *result_out);
/* Submits `count` requests made by `make` on as few tickets as the bounds
 * allow, waiting for each batch. */
int node_call_many(uint64_t count, void (*make)(void *ctx, uint64_t i, dpu_request_t *r),
                   void *ctx);
/* Collective: every node gives its outcome of one step; ARI_OK when every
 * node's was, else this node's failure or, where this node succeeded,
 * ARI_ENOMEM. Two barriers and a read of the runtime page. */
int node_agree(int status);
/* The run-wide barrier (DPU_OP_BARRIER on the runtime page). */
int node_barrier(void);
/* An atomic on the aligned u64 at `address` (msg_atomic_op_t), after
 * flushing the page if this node has it dirty. */
int node_atomic(uint64_t address, uint8_t op, uint64_t arg0, uint64_t arg1, uint64_t *old_out);
/* A fresh read of the u64 at `address` from its owner. */
int node_get_u64(uint64_t address, uint64_t *value_out);
/* Under the driver's lock: whether this node holds the page valid (or owns it). */
bool node_page_valid(ari_gva_t page);
/* A load or store (`access`) that faulted and cannot be served: it has no
 * caller to return an error to, so the process stops, saying why. */
__attribute__((noreturn)) void node_stop(const char *access, uint64_t address, int status);

#endif /* ARIADNE_RUNTIME_NODE_H */
