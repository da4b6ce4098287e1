/*
 * dpu_impl — what the DPU's modules share inside the core: the DPU's state
 * and the helpers both protocols of a DPU use. dpu.c holds the path-cache
 * protocol (DESIGN §4), own.c the ownership-transfer protocol (DESIGN §5).
 * Nothing outside src/core/dpu.c and src/core/own.c includes this.
 */
#ifndef ARIADNE_CORE_DPU_IMPL_H
#define ARIADNE_CORE_DPU_IMPL_H

#include "arbiter.h"
#include "crumb.h"
#include "dpu.h"
#include "order.h"
#include "pcache.h"
#include "pending.h"

#define DPU_FROM_HOST UINT32_MAX /* "arrived from this node's host" */
#define DPU_VICTIM_SCAN 64u      /* LRU entries looked at per eviction */
#define DPU_TICK_BUDGET 64u      /* aged entries or held requests per tick */
#define DPU_FIELDS_BYTES 256u    /* a message's fixed fields, generously */
#define DPU_ARBITER_PAGES 4096u  /* pages pinned or waited for at one owner */

/* Stages of an arbiter request (pending_t.stage). */
#define DPU_STAGE_JOINING 1u /* waiting to be on the page's tree before sending ACQ */
#define DPU_STAGE_SENT 2u    /* ACQ on its way, or queued at the owner */

struct dpu {
    dpu_config_t config;
    dpu_world_t world;
    pcache_t *pcache;
    order_t *order;             /* made on first use: most DPUs never own a page */
    arbiter_t *arbiter;         /* likewise */
    crumb_t *crumbs;            /* likewise */
    uint8_t *xfer_tables;       /* likewise: a transfer's sequence table and queue */
    msg_seq_entry_t *xfer_seqs;
    uint32_t ports;
    const uint32_t *port_peer;  /* node on each port */
    msg_buffer_t scratch;       /* encode buffer */
    pending_table_t pending;    /* this node's outstanding host requests */
    uint64_t seq_next;
    uint64_t now_ns;            /* the time of the step being taken */
    uint32_t retries_waiting;   /* READs with a retry time set */
    uint32_t waits_timed;       /* arbiter requests with a deadline */
    bool in_step;               /* guards against the world calling back in */
    dpu_stats_t stats;
};

/* dpu.c */
void dpu_observe(dpu_t *dpu, dpu_event_kind_t kind, ari_gva_t page, uint64_t version);
void dpu_stray(dpu_t *dpu, msg_type_t type, ari_gva_t page);
order_t *dpu_order(dpu_t *dpu);
int dpu_port_to(const dpu_t *dpu, uint32_t node);
/* Writes protocol data into a copy: through world.page_write when set. */
void dpu_page_write(dpu_t *dpu, ari_gva_t page, uint8_t *memory, uint32_t offset,
                    const uint8_t *bytes, uint32_t length);
void dpu_send(dpu_t *dpu, uint32_t port, const msg_t *msg);
void dpu_send_ports(dpu_t *dpu, uint64_t ports, const msg_t *msg);
void dpu_retrace(dpu_t *dpu, msg_t *answer);
void dpu_answer_error(dpu_t *dpu, const msg_t *request, int status);
pending_t *dpu_pending_add(dpu_t *dpu, dpu_op_t op, ari_gva_t page, uint64_t cookie);
void dpu_pending_complete(dpu_t *dpu, uint32_t index, dpu_completion_t *completion);
void dpu_pending_complete_reads(dpu_t *dpu, ari_gva_t page, int status, uint64_t version);
void dpu_entry_drop_copy(dpu_t *dpu, pcache_entry_t *entry);
void dpu_send_unref(dpu_t *dpu, pcache_entry_t *entry);
void dpu_entry_release(dpu_t *dpu, pcache_entry_t *entry);
pcache_entry_t *dpu_entry_insert(dpu_t *dpu, ari_gva_t page, uint64_t now_ns);
void dpu_request(dpu_t *dpu, msg_t *request, uint32_t from, const uint8_t *bytes,
                 size_t length, uint64_t now_ns);
void dpu_send_ref(dpu_t *dpu, ari_gva_t page, uint32_t pages, uint64_t now_ns);

/* own.c: the ownership-transfer protocol */
bool own_is_arbiter_op(dpu_op_t op);
int own_submit(dpu_t *dpu, const dpu_request_t *request, uint64_t now_ns);
/* An ACQ or CANCEL reached the page's owner (this node). */
void own_owner_receive(dpu_t *dpu, pcache_entry_t *master, msg_t *msg, uint32_t from);
/* GRANT, DENY (answers, retraced or following crumbs) and XFER_DATA. */
void own_answer_receive(dpu_t *dpu, msg_t *msg, uint32_t from);
void own_xfer_receive(dpu_t *dpu, msg_t *xfer, uint32_t from);
/* This node's entry joined the page's tree (or became its owner): send
 * the ACQs that waited for it. */
void own_joined(dpu_t *dpu, pcache_entry_t *entry);
/* Joining the tree failed (the REF was answered with an error). */
void own_join_failed(dpu_t *dpu, ari_gva_t page, int status);
/* An answer for one of this node's arbiter requests reached it. */
void own_deliver(dpu_t *dpu, const msg_t *answer);
/* Time: pins past their limit, arbiter requests past their deadline. */
void own_tick(dpu_t *dpu, uint64_t now_ns);
/* The earliest pin limit; the waits' deadlines are in pending retry_at_ns,
 * which dpu_deadline scans for both protocols. */
uint64_t own_deadline(const dpu_t *dpu);
/* The page is gone (freed): forget its crumbs and arbiter state. */
void own_forget_page(dpu_t *dpu, ari_gva_t page);

#endif /* ARIADNE_CORE_DPU_IMPL_H */
