/*
 * driver — drives one core DPU (core/dpu.h) from real inputs: the node's
 * shared-memory links (transport/shmring.h in the run's control region,
 * runtime/ctl.h), the clock, and the node's application threads.
 *
 * One lock guards the DPU. Whoever holds it makes progress: the driver's
 * own progress thread, or an application thread that waits for an answer
 * (it drives its DPU itself rather than waiting for another thread to wake,
 * DESIGN §6). Idle threads spin briefly, then sleep on the node's doorbell;
 * a peer that pushes into one of our rings rings it only when no thread of
 * ours is polling, so a busy node pays no system call per message.
 *
 * Requests are tracked by tickets: a slot in a bounded table, named by
 * index and generation. A wait that gives up (time limit, dead peer)
 * closes its ticket, and a completion that arrives later finds a newer
 * generation and is dropped: nothing ever writes into a caller's frame
 * after the call returned.
 *
 * Sends never block: a full ring queues the message in the link's outbox
 * (bounded by DRIVER_OUTBOX_MAX bytes), drained as the peer makes room, in
 * order. Host requests wait while outboxes hold more than
 * DRIVER_OUTBOX_SOFT: that is the back-pressure the application feels.
 */
#ifndef ARIADNE_DPU_DRIVER_H
#define ARIADNE_DPU_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dpu.h"
#include "runtime/ctl.h"

#define DRIVER_TICKETS_MAX 1024u
#define DRIVER_OUTBOX_SOFT ((uint64_t)8 << 20)
#define DRIVER_OUTBOX_MAX ((uint64_t)1 << 30)

typedef struct driver driver_t;

/* What the node (src/runtime) does for the DPU; called under the lock. */
typedef struct {
    void *ctx;
    uint8_t *(*page_memory)(void *ctx, ari_gva_t page, bool create);
    void (*page_drop)(void *ctx, ari_gva_t page);
    void (*observe)(void *ctx, const dpu_event_t *event); /* optional */
    void (*page_write)(void *ctx, ari_gva_t page, uint8_t *memory, uint32_t offset,
                       const uint8_t *bytes, uint32_t length); /* optional (dpu_world_t) */
    void (*page_leave)(void *ctx, ari_gva_t page);         /* optional (dpu_world_t) */
} driver_hooks_t;

typedef struct {
    uint32_t slot;
    uint32_t generation;
} driver_ticket_t;

/* What a ticket's requests came to. */
typedef struct {
    int status;       /* the first failure, else ARI_OK */
    uint64_t version; /* the highest page version the answers reflect */
    uint64_t value;   /* ATOMIC: the old value (of the last one) */
} driver_result_t;

/* Builds the topology from ctl's spec, the routes and the DPU (config:
 * the caller's base; node, topo, route are set here). ARI_EINVAL when the
 * region and the topology disagree; `error` gets one line. */
int driver_create(ctl_header_t *ctl, uint32_t node, const dpu_config_t *config,
                  const driver_hooks_t *hooks, driver_t **driver_out, char *error,
                  size_t error_size);
/* Stops the progress thread (if started) and frees everything. */
void driver_destroy(driver_t *driver);
/* Starts the progress thread. */
int driver_start(driver_t *driver);

void driver_lock(driver_t *driver);
void driver_unlock(driver_t *driver);
/* The DPU, for inspection and submissions; only under the lock. */
dpu_t *driver_dpu(driver_t *driver);
const topo_t *driver_topo(const driver_t *driver);
route_t *driver_route(driver_t *driver);

/* Under the lock: a new ticket, for one or more requests.
 * ARI_EBUSY when every ticket is taken. */
int driver_ticket_open(driver_t *driver, driver_ticket_t *ticket_out);
/* Under the lock: submits one request on a ticket. For GET, the answer's
 * bytes are copied to `get_dst` when it arrives (NULL otherwise). The
 * request's cookie is the driver's. Returns dpu_submit's status. */
int driver_submit(driver_t *driver, driver_ticket_t ticket, dpu_request_t *request,
                  uint8_t *get_dst);
/* Not under the lock: waits until every request on the ticket completed,
 * driving progress; closes the ticket. ARI_EPEER when the run is ending,
 * ARI_ETIMEDOUT past the run's time limit; else the result's status. */
int driver_wait(driver_t *driver, driver_ticket_t ticket, driver_result_t *result_out);
/* Closes a ticket without waiting (under the lock). */
void driver_ticket_close(driver_t *driver, driver_ticket_t ticket);

/* Not under the lock: one request, submitted and waited for. */
int driver_call(driver_t *driver, dpu_request_t *request, uint8_t *get_dst,
                driver_result_t *result_out);

/* Not under the lock: waits (driving progress) until outboxes drain below
 * the soft bound. ARI_EPEER / ARI_ETIMEDOUT as driver_wait. */
int driver_throttle(driver_t *driver);
/* Not under the lock: makes progress for up to `ns`, e.g. while draining. */
void driver_poll_for(driver_t *driver, uint64_t ns);

/* ARI_EPEER once the run is ending (a node died, or a link broke). */
int driver_failed(const driver_t *driver);
/* The node whose death ends the run, or -1. */
int driver_dead_node(const driver_t *driver);
/* Bytes queued in outboxes (for statistics and drains). */
uint64_t driver_outbox_bytes(const driver_t *driver);
uint64_t driver_link_waits(const driver_t *driver);
uint64_t driver_sleeps(const driver_t *driver);
/* The run's time limit for one wait. */
uint64_t driver_timeout_ns(const driver_t *driver);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t driver_now_ns(void);

#endif /* ARIADNE_DPU_DRIVER_H */
