/*
 * dpu — one node's DPU as pure code: the path-cache protocol of DESIGN §4.
 *
 * A DPU is driven by three inputs, each with the current time:
 *   dpu_receive  a message arrived on a port
 *   dpu_submit   this node's host asks for something (read, write, ...)
 *   dpu_tick     time passed (TTL aging, retries)
 * and acts on the world only through dpu_world_t: sending on a port,
 * page memory, completing host requests, and an optional observer that
 * the simulator's checks and traces use. The simulator and the runtime
 * drive the same code; neither is visible from here.
 *
 * Everything is bounded by dpu_config_t and allocated by dpu_create.
 * The world's callbacks must not call back into the DPU (asserted): a
 * driver queues what a callback wants to do and does it after the step.
 * Page memory must be 8-byte aligned (atomics and updates store words).
 */
#ifndef ARIADNE_CORE_DPU_H
#define ARIADNE_CORE_DPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ariadne.h"
#include "msg.h"
#include "route.h"
#include "topo.h"

typedef struct dpu dpu_t;

/* ------------------------------------------------------------------------
 * Host requests and their completions
 * ------------------------------------------------------------------------ */

typedef enum {
    DPU_OP_CREATE = 1, /* become the owner of a new page (birth node only) */
    DPU_OP_READ,       /* make the local replica valid (REF or SYNC if needed) */
    DPU_OP_WRITE,      /* write bytes at the owner (write-through) */
    DPU_OP_ATOMIC,     /* CAS, fetch-add or swap of an aligned u64 at the owner */
    DPU_OP_GET,        /* fresh read answered by the owner */
    DPU_OP_UNREF,      /* drop the local replica */
    DPU_OP_FREE,       /* owner only: prune every branch, then forget the page */
    /* The ownership-transfer protocol (DESIGN §5, docs/PROTOCOL.md). One
     * arbiter request (ACQUIRE, SEM_WAIT, SEM_POST, BARRIER) per page and
     * node may be outstanding at a time: a second gets ARI_EBUSY. */
    DPU_OP_ACQUIRE,    /* become the owner; flags DPU_ACQUIRE_PIN also pins it. Completes
                        * when this node owns the page: ARI_OK; ARI_EBUSY when the owner's
                        * queue is full; ARI_ETIMEDOUT after acquire_timeout_ns in the
                        * queue (the request is cancelled) */
    DPU_OP_RELEASE,    /* owner: unpin; the page goes to the first queued acquirer */
    DPU_OP_SEM_WAIT,   /* take a permit of the counting semaphore in the u64 at `offset` */
    DPU_OP_SEM_POST,   /* give a permit back (or wake the first waiter) */
    DPU_OP_BARRIER,    /* arrive at the barrier whose count is the u64 at `offset`, for
                        * `arg0` parties; completes when all have arrived */
} dpu_op_t;

#define DPU_ACQUIRE_PIN 0x01u /* ACQUIRE: pin until RELEASE (at most pin_ns_max) */
#define DPU_WRITE_DIFF 0x02u  /* WRITE: data is a diff (diff.h) of `length` bytes, offset 0:
                               * one version for all its runs */
#define DPU_ACQUIRE_HOLD 0x04u /* ACQUIRE: keep the page for own_hold_ns before it moves on,
                                * so the access whose fault asked for it gets to run (a
                                * page handed on at once would make faulting nodes livelock).
                                * Not a pin: it ends by itself, silently */

typedef struct {
    dpu_op_t op;
    ari_gva_t page;      /* page identity (gva_page) */
    uint32_t offset;     /* WRITE, ATOMIC, GET: byte offset in the page */
    uint32_t length;     /* WRITE, GET: bytes */
    uint32_t pages;      /* READ: pages in a run (0 or 1: one page). One completion,
                          * for the first page; the others are read ahead */
    const uint8_t *data; /* WRITE: bytes, copied before dpu_submit returns */
    uint8_t atomic_op;   /* msg_atomic_op_t */
    uint64_t arg0, arg1; /* ATOMIC operands */
    uint64_t cookie;     /* handed back in the completion */
    uint64_t min_version; /* READ: a valid copy older than this re-syncs first (the
                           * write notices of a release, DESIGN §4.1); 0: any */
    uint8_t priority;    /* ACQUIRE, SEM_WAIT, BARRIER: arbitration priority (higher first) */
    uint8_t flags;       /* ACQUIRE: DPU_ACQUIRE_PIN; WRITE: DPU_WRITE_DIFF */
} dpu_request_t;

typedef struct {
    uint64_t cookie;
    dpu_op_t op;
    int status;          /* ARI_OK or an ARI_E* code */
    ari_gva_t page;
    uint64_t version;    /* the page version the answer reflects */
    uint64_t value;      /* ATOMIC: the old value */
    const uint8_t *data; /* GET: the bytes, valid during the callback only */
    uint32_t length;
} dpu_completion_t;

/* ------------------------------------------------------------------------
 * What the DPU tells observers (checks, traces, statistics)
 * ------------------------------------------------------------------------ */

typedef enum {
    DPU_EVENT_INSTALL = 1, /* a replica got whole-page data at `version` */
    DPU_EVENT_APPLY,       /* a replica applied the UPDATE making `version` */
    DPU_EVENT_INVALIDATE,  /* a replica became invalid at `version` */
    DPU_EVENT_ORDER,       /* the owner ordered a write or atomic as `version` */
    DPU_EVENT_DROP,        /* a replica was dropped (unref, eviction, prune) */
    DPU_EVENT_MALFORMED,   /* a message failed to decode (status says why) */
    DPU_EVENT_STRAY,       /* a valid message with nothing to act on, dropped */
    DPU_EVENT_REF_FAIL,    /* a REF_DATA was turned into REF_FAIL here */
    DPU_EVENT_EVICT,       /* an entry was evicted under capacity pressure */
    DPU_EVENT_OWNER_LOSE,  /* this node sent the page away to `peer` (XFER_DATA) */
    DPU_EVENT_OWNER_GAIN,  /* this node became the owner at `version` */
    DPU_EVENT_PIN_EXPIRED, /* a pin was held past pin_ns_max: a host fault; unpinned */
    DPU_EVENT_QUEUED,      /* the owner queued `peer`'s request at position `seq` */
} dpu_event_kind_t;

typedef struct {
    dpu_event_kind_t kind;
    uint32_t node;
    ari_gva_t page;
    uint64_t version;
    uint32_t origin;     /* ORDER: the writer */
    uint64_t seq;        /* ORDER: its sequence number */
    int status;
    msg_type_t type;     /* MALFORMED, STRAY: the message type if known */
    uint32_t peer;       /* OWNER_LOSE: the new owner; QUEUED: the requester */
} dpu_event_t;

/* ------------------------------------------------------------------------
 * The world
 * ------------------------------------------------------------------------ */

typedef struct {
    void *ctx;
    /* Sends one encoded message on a port; the bytes are valid during the
     * call only. The link is FIFO and reliable (DESIGN §1). */
    void (*send)(void *ctx, uint32_t port, const uint8_t *bytes, size_t length);
    /* This node's copy of a page: the master or a replica, page-size bytes.
     * With create, a zeroed copy is made if there is none; NULL when there
     * is none (or no memory for one). */
    uint8_t *(*page_memory)(void *ctx, ari_gva_t page, bool create);
    /* Forgets this node's copy of a page. */
    void (*page_drop)(void *ctx, ari_gva_t page);
    /* A host request finished. */
    void (*complete)(void *ctx, const dpu_completion_t *completion);
    /* Optional (NULL): protocol events, for checks and traces. */
    void (*observe)(void *ctx, const dpu_event_t *event);
    /* The directory baseline (dir.h) only: sends to a node, routed. */
    void (*send_to)(void *ctx, uint32_t node, const uint8_t *bytes, size_t length);
    /* Optional (NULL: an aligned word copy): writes bytes the protocol
     * brings (page data, updates, writes and atomics ordered here) into
     * this node's copy. A runtime whose host writes pages with plain
     * stores uses it to keep the host's unpublished bytes and its twin
     * right (src/runtime/dirty.c). */
    void (*page_write)(void *ctx, ari_gva_t page, uint8_t *memory, uint32_t offset,
                       const uint8_t *bytes, uint32_t length);
    /* Optional (NULL: nothing to do): this node's master is about to be
     * sent away by an ownership transfer. The host must stop touching it
     * before its bytes are read (DESIGN §5: the owner unmaps the master),
     * or a store landing between the copy and page_drop would be lost. */
    void (*page_leave)(void *ctx, ari_gva_t page);
} dpu_world_t;

typedef struct {
    uint32_t node;              /* this DPU's node id */
    const topo_t *topo;         /* shared, read-only */
    route_t *route;             /* shared; next hop by static route */
    uint32_t pcache_capacity;   /* path-cache entries */
    uint64_t pcache_ttl_ns;     /* idle entries age out after this */
    uint32_t update_max_bytes;  /* changes up to this size go down as UPDATE, larger as INVAL */
    uint32_t hops_max;          /* REF hop bound: 2 x diameter, at most MSG_HOPS_MAX */
    uint32_t pending_max;       /* this node's outstanding host requests */
    uint32_t origins_max;       /* (page, origin) sequence records at owners */
    uint32_t held_max;          /* early writes an owner holds for their turn */
    uint32_t retries_max;       /* REF retries after REF_FAIL or a too-long path */
    uint64_t retry_ns;          /* delay before a retry */
    uint64_t hold_ns;           /* longest an early request is held at an owner */
    uint32_t page_bytes_max;    /* largest page this DPU handles (4 KiB, or 2 MiB with huge pages) */
    uint64_t pin_ns_max;        /* longest a page stays pinned (default 100 ms) */
    uint64_t acquire_timeout_ns;/* longest an arbiter request waits in a queue */
    uint64_t own_hold_ns;       /* how long DPU_ACQUIRE_HOLD keeps a page (default 50 us) */
    uint32_t queue_max;         /* waiters in one page's arbiter queue (<= MSG_QUEUE_MAX) */
    uint32_t crumbs_max;        /* (page, waiter) -> port records kept on the way */
    /* Optional: an encode buffer of dpu_scratch_size() bytes the caller
     * owns, shared by DPUs that never step at the same time (a simulator's
     * thousands). NULL: the DPU allocates its own when it first sends. */
    uint8_t *scratch;
} dpu_config_t;

/* Bytes of encode buffer a DPU with this config needs. */
size_t dpu_scratch_size(const dpu_config_t *config);

/* Executes an atomic (msg_atomic_op_t) on an aligned word of a master:
 * stores the new value and returns true when the word changes hands (a CAS
 * that fails changes nothing); *old_out is the value before. Shared by
 * every protocol that orders atomics at an owner. */
bool dpu_atomic_execute(uint8_t op, uint64_t *word, uint64_t arg0, uint64_t arg1,
                        uint64_t *old_out, uint64_t *new_out);

/* Copies bytes into page memory with aligned 8-byte stores, merging the
 * partial words at the edges, so a concurrent reader never sees an aligned
 * u64 torn (DESIGN §4). The default page_write. */
void dpu_copy_words(uint8_t *page, uint32_t offset, const uint8_t *src, uint32_t length);

/* Sensible defaults for a node of `topo` (caller sets node, topo, route). */
void dpu_config_default(dpu_config_t *config);

/* ARI_EINVAL for a config out of range, ARI_ENOMEM. */
int dpu_create(const dpu_config_t *config, const dpu_world_t *world, dpu_t **dpu_out);
void dpu_destroy(dpu_t *dpu);

/* A message arrived on `port`. Malformed or stray input is counted,
 * reported to the observer and dropped; it never stops the DPU. */
void dpu_receive(dpu_t *dpu, uint32_t port, const uint8_t *bytes, size_t length,
                 uint64_t now_ns);

/* A host request. ARI_OK: a completion will follow (possibly before this
 * returns). Otherwise no completion follows: ARI_EINVAL for a malformed
 * request, ARI_EBUSY when pending_max requests are outstanding. */
int dpu_submit(dpu_t *dpu, const dpu_request_t *request, uint64_t now_ns);

/* Time passed: ages idle path-cache entries out (call it at least every
 * pcache_ttl_ns / 2 for that), sends due retries, releases held requests
 * past their deadline. Returns dpu_deadline(). */
uint64_t dpu_tick(dpu_t *dpu, uint64_t now_ns);
/* When the DPU next needs a tick for a retry or a held request
 * (UINT64_MAX: not for those). Cheap; call it after every step. */
uint64_t dpu_deadline(const dpu_t *dpu);

/* ------------------------------------------------------------------------
 * Inspection, for checks, tests and statistics
 * ------------------------------------------------------------------------ */

typedef struct {
    uint64_t messages_in, messages_out, bytes_out;
    uint64_t malformed, stray, stale_unrefs;
    uint64_t ref_fails, evictions, aged_out, resyncs, retries;
    uint64_t writes_ordered, atomics_ordered, held_early;
    uint64_t transfers_out, transfers_in, acq_queued, acq_rejected, acq_timeouts;
    uint64_t pins_expired, grants, crumb_overflows;
} dpu_stats_t;

const dpu_stats_t *dpu_stats(const dpu_t *dpu);
uint32_t dpu_node(const dpu_t *dpu);
struct pcache *dpu_pcache(dpu_t *dpu);
uint32_t dpu_pending(const dpu_t *dpu);
/* Waiters queued at this node's arbiter for a page it owns (0 if none). */
uint32_t dpu_queue_length(const dpu_t *dpu, ari_gva_t page);
/* Whether this node holds a page pinned (DPU_ACQUIRE_PIN; a hold is not a pin). */
bool dpu_pinned(const dpu_t *dpu, ari_gva_t page);

#endif /* ARIADNE_CORE_DPU_H */
