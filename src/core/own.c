/*
 * own — the ownership-transfer protocol (DESIGN §5) as part of one DPU.
 *
 * Reading guide (docs/PROTOCOL.md, "Ownership transfer", says it in prose;
 * src/core/own.pml is the model spin checks):
 *   host side     own_submit: ACQUIRE, RELEASE, SEM_WAIT, SEM_POST, BARRIER.
 *                 A node not yet on the page's tree first joins it (REF
 *                 NODATA), then sends ACQ up the tree (own_joined).
 *   owner side    own_owner_receive: arbitration; the answer is at once a
 *                 GRANT, a DENY (queued, with crumbs laid on its way back,
 *                 or rejected) or the transfer itself.
 *   transfer      own_xfer_send at the owner, own_xfer_receive at every DPU
 *                 on the way (each flips its entry) and at the requester
 *                 (own_become_owner).
 *   answers       own_answer_receive forwards GRANT and DENY (by hops, or
 *                 by crumbs for a waiter granted later); own_deliver
 *                 completes the host's request.
 *   time          own_tick: pins past their limit, requests past their wait.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "dpu_impl.h"
#include "gva.h"

#define OWN_PORT_NONE UINT32_MAX

/* ------------------------------------------------------------------------
 * State made on first use
 * ------------------------------------------------------------------------ */

static arbiter_t *own_arbiter(dpu_t *dpu)
{
    if (dpu->arbiter == NULL &&
        arbiter_create(DPU_ARBITER_PAGES, dpu->config.queue_max, &dpu->arbiter) != ARI_OK)
        return NULL;
    return dpu->arbiter;
}

static crumb_t *own_crumbs(dpu_t *dpu)
{
    if (dpu->crumbs == NULL && crumb_create(dpu->config.crumbs_max, &dpu->crumbs) != ARI_OK)
        return NULL;
    return dpu->crumbs;
}

static arbiter_page_t *own_state(dpu_t *dpu, ari_gva_t page)
{
    return dpu->arbiter != NULL ? arbiter_find(dpu->arbiter, page) : NULL;
}

bool own_is_arbiter_op(dpu_op_t op)
{
    return op == DPU_OP_ACQUIRE || op == DPU_OP_SEM_WAIT || op == DPU_OP_SEM_POST ||
           op == DPU_OP_BARRIER;
}

static uint8_t own_kind_of(uint8_t op)
{
    switch (op) {
    case DPU_OP_SEM_WAIT: return MSG_ACQ_SEM_WAIT;
    case DPU_OP_SEM_POST: return MSG_ACQ_SEM_POST;
    case DPU_OP_BARRIER: return MSG_ACQ_BARRIER;
    default: return MSG_ACQ_OWN;
    }
}

/* ------------------------------------------------------------------------
 * This node's arbiter requests
 * ------------------------------------------------------------------------ */

/* Index of this node's arbiter request on a page (at most one), or -1. */
static int64_t own_pending_find(const dpu_t *dpu, ari_gva_t page)
{
    for (uint32_t i = 0; i < dpu->pending.count; i++) {
        const pending_t *p = &dpu->pending.items[i];
        if (own_is_arbiter_op((dpu_op_t)p->op) && gva_equal(p->page, page))
            return i;
    }
    return -1;
}

static int64_t own_pending_find_seq(const dpu_t *dpu, ari_gva_t page, uint64_t seq)
{
    int64_t index = own_pending_find(dpu, page);
    return index >= 0 && dpu->pending.items[index].seq == seq ? index : -1;
}

static void own_complete(dpu_t *dpu, uint32_t index, int status, uint64_t version)
{
    if (dpu->pending.items[index].retry_at_ns != 0)
        dpu->waits_timed--;
    dpu_completion_t c = {.status = status, .version = version};
    dpu_pending_complete(dpu, index, &c);
}

static msg_t own_acq_of(const dpu_t *dpu, const pending_t *p)
{
    msg_t acq = msg_make(MSG_ACQ);
    acq.page = p->page;
    acq.op = own_kind_of(p->op);
    acq.origin = dpu->config.node;
    acq.seq = p->seq;
    acq.timestamp = p->retry_at_ns - dpu->config.acquire_timeout_ns; /* when it was asked */
    acq.priority = p->priority;
    acq.offset = p->offset;
    acq.count = p->count;
    return acq;
}

/* Sends the ACQ of pending[index], or arbitrates it here if this node owns
 * the page, or joins the tree first. */
static void own_start(dpu_t *dpu, pcache_entry_t *entry, uint32_t index)
{
    pending_t *p = &dpu->pending.items[index];
    msg_t acq = own_acq_of(dpu, p);
    if (entry->copy == PCACHE_COPY_MASTER || (entry->flags & PCACHE_ON_TREE)) {
        p->stage = DPU_STAGE_SENT;
        dpu_request(dpu, &acq, DPU_FROM_HOST, NULL, 0, dpu->now_ns);
        return;
    }
    p->stage = DPU_STAGE_JOINING;
    if (entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING))
        return; /* the REF on its way puts us on the tree */
    entry->flags |= PCACHE_REF_PENDING;
    msg_t ref = msg_make(MSG_REF);
    ref.flags = MSG_FLAG_NODATA;
    ref.page = entry->page;
    ref.count = 1;
    ref.origin = dpu->config.node;
    ref.seq = dpu->seq_next++;
    dpu_request(dpu, &ref, DPU_FROM_HOST, NULL, 0, dpu->now_ns);
}

void own_joined(dpu_t *dpu, pcache_entry_t *entry)
{
    int64_t index = own_pending_find(dpu, entry->page);
    if (index >= 0 && dpu->pending.items[index].stage == DPU_STAGE_JOINING)
        own_start(dpu, entry, (uint32_t)index);
}

void own_join_failed(dpu_t *dpu, ari_gva_t page, int status)
{
    int64_t index = own_pending_find(dpu, page);
    if (index >= 0 && dpu->pending.items[index].stage == DPU_STAGE_JOINING)
        own_complete(dpu, (uint32_t)index, status, 0);
}

static int own_submit_release(dpu_t *dpu, const dpu_request_t *r);

int own_submit(dpu_t *dpu, const dpu_request_t *r, uint64_t now_ns)
{
    if (r->op == DPU_OP_RELEASE)
        return own_submit_release(dpu, r);
    if (own_pending_find(dpu, r->page) >= 0)
        return ARI_EBUSY; /* one arbiter request per page and node */
    pcache_entry_t *entry = pcache_find(dpu->pcache, r->page);
    if (entry == NULL && (entry = dpu_entry_insert(dpu, r->page, now_ns)) == NULL)
        return ARI_EBUSY;
    entry->flags |= PCACHE_STRICT;
    pending_t *p = dpu_pending_add(dpu, r->op, r->page, r->cookie);
    if (p == NULL) {
        dpu_entry_release(dpu, entry);
        return ARI_EBUSY;
    }
    p->seq = dpu->seq_next++;
    p->priority = r->priority;
    p->flags = r->flags;
    p->offset = r->offset;
    p->count = r->op == DPU_OP_BARRIER ? (uint32_t)r->arg0 : 0;
    p->retry_at_ns = now_ns + dpu->config.acquire_timeout_ns;
    dpu->waits_timed++;
    own_start(dpu, entry, dpu->pending.count - 1);
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Answers: GRANT and DENY, by hops or by crumbs
 * ------------------------------------------------------------------------ */

static void own_send_crumbed(dpu_t *dpu, msg_t *msg);

/* Hands a GRANT or DENY to the host request it answers (here). */
void own_deliver(dpu_t *dpu, const msg_t *answer)
{
    int64_t index = own_pending_find_seq(dpu, answer->page, answer->seq);
    if (index < 0) {
        if (answer->type == MSG_GRANT && answer->op == MSG_ACQ_SEM_WAIT && answer->seq != 0) {
            /* A permit for a wait we gave up: hand it back. */
            msg_t post = msg_make(MSG_ACQ);
            post.page = answer->page;
            post.op = MSG_ACQ_SEM_POST;
            post.origin = dpu->config.node;
            post.offset = answer->offset;
            dpu_request(dpu, &post, DPU_FROM_HOST, NULL, 0, dpu->now_ns);
            return;
        }
        dpu_stray(dpu, answer->type, answer->page);
        return;
    }
    if (answer->type == MSG_DENY && answer->op == MSG_DENY_QUEUED) {
        dpu->stats.acq_queued++;
        return; /* granted later, in order, without asking again */
    }
    int status = answer->type == MSG_GRANT ? ARI_OK
                 : answer->type == MSG_DENY ? ARI_EBUSY
                                            : answer->status;
    if (answer->type == MSG_DENY)
        dpu->stats.acq_rejected++;
    own_complete(dpu, (uint32_t)index, status, answer->version);
}

/* A DENY(queued) going back down lays a crumb toward its waiter. If there
 * is no room for one, the waiter is told "rejected" instead and the owner
 * is asked to drop it (CANCEL), so no grant is ever sent down a path that
 * cannot lead to it. */
static void own_deny_crumb(dpu_t *dpu, msg_t *deny, uint32_t port)
{
    crumb_t *crumbs = own_crumbs(dpu);
    if (crumbs != NULL &&
        crumb_set(crumbs, deny->page, deny->origin, (uint8_t)port) == ARI_OK)
        return;
    dpu->stats.crumb_overflows++;
    msg_t cancel = msg_make(MSG_CANCEL);
    cancel.page = deny->page;
    cancel.origin = deny->origin;
    cancel.seq = deny->seq;
    dpu_request(dpu, &cancel, DPU_FROM_HOST, NULL, 0, dpu->now_ns);
    deny->op = MSG_DENY_REJECTED;
    deny->count = 0;
}

/* Sends an answer back along its hops, laying a crumb if it queues. */
static void own_retrace(dpu_t *dpu, msg_t *answer)
{
    if (answer->hops.count > 0 && answer->type == MSG_DENY && answer->op == MSG_DENY_QUEUED) {
        int port = dpu_port_to(dpu, msg_hops_at(answer->hops, answer->hops.count - 1));
        if (port >= 0)
            own_deny_crumb(dpu, answer, (uint32_t)port);
    }
    dpu_retrace(dpu, answer);
}

void own_answer_receive(dpu_t *dpu, msg_t *msg, uint32_t from)
{
    (void)from;
    if (msg->hops.count > 0)
        own_retrace(dpu, msg);
    else if (msg->origin == dpu->config.node)
        own_deliver(dpu, msg);
    else
        own_send_crumbed(dpu, msg);
}

/* The port a crumb names toward a waiter, removing the crumb; OWN_PORT_NONE
 * if there is none. */
static uint32_t own_crumb_take(dpu_t *dpu, ari_gva_t page, uint32_t origin)
{
    uint8_t port;
    if (dpu->crumbs == NULL || !crumb_get(dpu->crumbs, page, origin, &port))
        return OWN_PORT_NONE;
    crumb_remove(dpu->crumbs, page, origin);
    return port < dpu->ports ? port : OWN_PORT_NONE;
}

static void own_send_crumbed(dpu_t *dpu, msg_t *msg)
{
    if (msg->origin == dpu->config.node) {
        own_deliver(dpu, msg);
        return;
    }
    uint32_t port = own_crumb_take(dpu, msg->page, msg->origin);
    if (port == OWN_PORT_NONE) {
        dpu_stray(dpu, msg->type, msg->page); /* its waiter gave up and was told so */
        return;
    }
    dpu_send(dpu, port, msg);
}

/* An answer from the owner to a request that arrived from `from`. */
static void own_answer(dpu_t *dpu, const pcache_entry_t *master, const msg_t *request,
                       msg_type_t type, uint8_t op, uint32_t count)
{
    msg_t answer = msg_make(type);
    answer.page = master->page;
    answer.version = master->version;
    answer.op = op;
    answer.count = count;
    answer.offset = request->offset;
    answer.origin = request->origin;
    answer.seq = request->seq;
    answer.hops = request->hops;
    if (request->origin == dpu->config.node && request->hops.count == 0)
        own_deliver(dpu, &answer);
    else
        own_retrace(dpu, &answer);
}

/* A GRANT to a waiter taken off the queue, following its crumbs. */
static void own_grant_waiter(dpu_t *dpu, const pcache_entry_t *master,
                             const arbiter_waiter_t *waiter)
{
    msg_t grant = msg_make(MSG_GRANT);
    grant.page = master->page;
    grant.version = master->version;
    grant.op = waiter->kind;
    grant.offset = waiter->offset;
    grant.origin = waiter->origin;
    grant.seq = waiter->seq;
    dpu->stats.grants++;
    own_send_crumbed(dpu, &grant);
}

static void own_reject_waiter(dpu_t *dpu, const pcache_entry_t *master,
                              const arbiter_waiter_t *waiter)
{
    msg_t deny = msg_make(MSG_DENY);
    deny.page = master->page;
    deny.op = MSG_DENY_REJECTED;
    deny.origin = waiter->origin;
    deny.seq = waiter->seq;
    own_send_crumbed(dpu, &deny);
}

/* ------------------------------------------------------------------------
 * Crumbs moved by a transfer
 * ------------------------------------------------------------------------ */

/* As a transfer passes (in by port a, out by port b; either may be none),
 * the crumbs of the waiters it carries are re-pointed so that every waiter
 * is reached from the new owner (docs/PROTOCOL.md, "Transfer"). */
static void own_recrumb(dpu_t *dpu, ari_gva_t page, msg_table_t queue, uint32_t a, uint32_t b)
{
    crumb_t *crumbs = own_crumbs(dpu);
    for (uint32_t i = 0; i < queue.count && crumbs != NULL; i++) {
        msg_queue_entry_t w = msg_queue_at(queue, i);
        if (w.origin == dpu->config.node)
            continue; /* grants for this node are delivered here */
        uint8_t port;
        if (crumb_get(crumbs, page, w.origin, &port)) {
            if (port == b)
                crumb_remove(crumbs, page, w.origin);
        } else if (a != OWN_PORT_NONE && crumb_set(crumbs, page, w.origin, (uint8_t)a) != ARI_OK) {
            dpu->stats.crumb_overflows++; /* that waiter times out and cancels */
        }
    }
}

/* ------------------------------------------------------------------------
 * The transfer
 * ------------------------------------------------------------------------ */

static bool own_xfer_buffers(dpu_t *dpu)
{
    if (dpu->xfer_tables == NULL)
        dpu->xfer_tables = malloc((size_t)dpu->config.origins_max * MSG_SEQ_ENTRY_SIZE +
                                  (size_t)dpu->config.queue_max * MSG_QUEUE_ENTRY_SIZE);
    if (dpu->xfer_seqs == NULL)
        dpu->xfer_seqs = malloc((size_t)dpu->config.origins_max * sizeof *dpu->xfer_seqs);
    return dpu->xfer_tables != NULL && dpu->xfer_seqs != NULL;
}

/* Fills the transfer's tables: the page's sequence records and the queue
 * that goes with it. */
static void own_xfer_tables(dpu_t *dpu, msg_t *xfer, const arbiter_page_t *state)
{
    uint32_t seqs = dpu->order != NULL
                        ? order_export(dpu->order, xfer->page, dpu->xfer_seqs,
                                       dpu->config.origins_max)
                        : 0;
    for (uint32_t i = 0; i < seqs; i++)
        msg_seqs_put(dpu->xfer_tables, i, dpu->xfer_seqs[i]);
    xfer->seqs = (msg_table_t){dpu->xfer_tables, seqs};
    uint8_t *queue = dpu->xfer_tables + (size_t)seqs * MSG_SEQ_ENTRY_SIZE;
    uint32_t waiters = state != NULL ? state->count : 0;
    for (uint32_t i = 0; i < waiters; i++)
        msg_queue_put(queue, i, arbiter_waiter_to_wire(&state->waiters[i]));
    xfer->queue = (msg_table_t){queue, waiters};
}

/* Requests the old owner held for their turn go on toward the new one. */
static void own_resend_held(dpu_t *dpu, ari_gva_t page)
{
    if (dpu->order == NULL)
        return;
    order_held_t *held;
    while ((held = order_held_of(dpu->order, page)) != NULL) {
        msg_t msg;
        size_t used;
        int status = msg_decode(held->bytes, held->length, &msg, &used);
        assert(status == ARI_OK); /* it decoded when it arrived */
        (void)status;
        dpu_request(dpu, &msg, held->port, held->bytes, held->length, dpu->now_ns);
        order_release(dpu->order, held);
    }
    order_forget_page(dpu->order, page);
}

/* Sends the page to a requester: by `hops` (granted at once) or, when
 * hops is NULL, by the crumbs toward it (granted from the queue). The
 * waiter must already be off the queue. */
static void own_xfer_send(dpu_t *dpu, pcache_entry_t *master, uint32_t origin, uint64_t seq,
                          const msg_hops_t *hops)
{
    uint32_t port = OWN_PORT_NONE;
    msg_t xfer = msg_make(MSG_XFER_DATA);
    if (hops != NULL && hops->count > 0) {
        int p = dpu_port_to(dpu, msg_hops_at(*hops, hops->count - 1));
        port = p >= 0 ? (uint32_t)p : OWN_PORT_NONE;
        xfer.hops = (msg_hops_t){hops->le, hops->count - 1};
    } else if (hops == NULL) {
        port = own_crumb_take(dpu, master->page, origin);
    }
    uint8_t *memory = dpu->world.page_memory(dpu->world.ctx, master->page, false);
    if (port == OWN_PORT_NONE || memory == NULL || !own_xfer_buffers(dpu)) {
        dpu_stray(dpu, MSG_ACQ, master->page); /* the requester times out and cancels */
        return;
    }
    if (dpu->world.page_leave != NULL)
        dpu->world.page_leave(dpu->world.ctx, master->page); /* no store lands after the copy */
    arbiter_page_t *state = own_state(dpu, master->page);
    xfer.page = master->page;
    xfer.version = master->version;
    xfer.origin = origin;
    xfer.seq = seq;
    xfer.data = memory;
    xfer.data_length = (uint32_t)gva_page_size(master->page);
    xfer.generation = pcache_generation_fresh(dpu->pcache);
    own_xfer_tables(dpu, &xfer, state);
    own_recrumb(dpu, master->page, xfer.queue, OWN_PORT_NONE, port);
    /* The master's entry becomes a tree node under the new owner. */
    master->copy = PCACHE_COPY_NONE;
    master->up = (int8_t)port;
    master->up_generation = xfer.generation;
    master->down &= ~(1ull << port);
    master->flags |= PCACHE_ON_TREE | PCACHE_STRICT;
    dpu_send(dpu, port, &xfer);
    dpu->world.page_drop(dpu->world.ctx, master->page);
    dpu->stats.transfers_out++;
    if (dpu->world.observe != NULL) {
        dpu_event_t event = {.kind = DPU_EVENT_OWNER_LOSE, .node = dpu->config.node,
                             .page = master->page, .version = master->version, .peer = origin};
        dpu->world.observe(dpu->world.ctx, &event);
    }
    if (state != NULL)
        arbiter_forget(dpu->arbiter, state);
    ari_gva_t page = master->page;
    own_resend_held(dpu, page);
    pcache_entry_t *entry = pcache_find(dpu->pcache, page);
    if (entry != NULL)
        dpu_entry_release(dpu, entry); /* nothing left here but the path */
}

/* Grants ownership to this node's own request (it owns the page now). */
static void own_grant_local(dpu_t *dpu, pcache_entry_t *master, uint64_t seq);

/* The page is free again (unpinned): the first OWN waiter gets it. */
static void own_hand_on(dpu_t *dpu, pcache_entry_t *master)
{
    arbiter_page_t *state = own_state(dpu, master->page);
    if (state == NULL || state->pinned)
        return;
    int64_t index = arbiter_first(state, MSG_ACQ_OWN, UINT32_MAX);
    if (index < 0) {
        arbiter_tidy(dpu->arbiter, state);
        return;
    }
    arbiter_waiter_t waiter = arbiter_remove(state, (uint32_t)index);
    if (waiter.origin == dpu->config.node)
        own_grant_local(dpu, master, waiter.seq);
    else
        own_xfer_send(dpu, master, waiter.origin, waiter.seq, NULL);
}

/* Pins the page for pending[index] (or, a hold, keeps it briefly). */
static void own_pin(dpu_t *dpu, pcache_entry_t *master, uint32_t index)
{
    arbiter_t *arbiter = own_arbiter(dpu);
    arbiter_page_t *state = arbiter != NULL ? arbiter_get(arbiter, master->page) : NULL;
    if (state == NULL) {
        own_complete(dpu, index, ARI_ENOMEM, 0);
        return;
    }
    bool hold = (dpu->pending.items[index].flags & DPU_ACQUIRE_PIN) == 0;
    state->pinned = true;
    state->held = hold;
    state->pin_deadline_ns = dpu->now_ns + (hold ? dpu->config.own_hold_ns
                                                 : dpu->config.pin_ns_max);
    own_complete(dpu, index, ARI_OK, master->version);
}

static void own_grant_local(dpu_t *dpu, pcache_entry_t *master, uint64_t seq)
{
    ari_gva_t page = master->page;
    int64_t index = own_pending_find_seq(dpu, page, seq);
    if (index >= 0 && dpu->pending.items[index].op == DPU_OP_ACQUIRE) {
        if (dpu->pending.items[index].flags & (DPU_ACQUIRE_PIN | DPU_ACQUIRE_HOLD)) {
            own_pin(dpu, master, (uint32_t)index);
            return;
        }
        own_complete(dpu, (uint32_t)index, ARI_OK, master->version);
    }
    master = pcache_find(dpu->pcache, page);
    if (master != NULL && master->copy == PCACHE_COPY_MASTER)
        own_hand_on(dpu, master); /* not pinned: the next waiter may have it */
}

/* XFER_DATA reached the requester: it becomes the owner. */
static void own_become_owner(dpu_t *dpu, pcache_entry_t *entry, msg_t *xfer, uint32_t from)
{
    uint8_t *memory = dpu->world.page_memory(dpu->world.ctx, xfer->page, true);
    if (memory == NULL) {
        /* Nowhere to put the page: it stays in flight nowhere. Counted and
         * observed; a runtime sizes page memory so this cannot happen. */
        dpu->stats.crumb_overflows++;
        dpu_stray(dpu, xfer->type, xfer->page);
        return;
    }
    dpu_page_write(dpu, xfer->page, memory, 0, xfer->data, xfer->data_length);
    own_recrumb(dpu, xfer->page, xfer->queue, from, OWN_PORT_NONE);
    if ((entry->flags & PCACHE_ON_TREE) && entry->up >= 0 && (uint32_t)entry->up != from)
        dpu_send_unref(dpu, entry); /* joined elsewhere before: leave that branch */
    entry->copy = PCACHE_COPY_MASTER;
    entry->version = xfer->version;
    entry->up = PCACHE_UP_NONE;
    entry->flags &= (uint8_t)~(PCACHE_ON_TREE | PCACHE_REF_PENDING | PCACHE_SYNC_PENDING);
    entry->flags |= PCACHE_STRICT;
    pcache_port_set(dpu->pcache, entry, from, xfer->generation);
    order_t *order = dpu_order(dpu);
    for (uint32_t i = 0; i < xfer->seqs.count && order != NULL; i++) {
        msg_seq_entry_t s = msg_seqs_at(xfer->seqs, i);
        (void)order_applied(order, xfer->page, s.origin, s.seq, dpu->now_ns);
    }
    arbiter_t *arbiter = own_arbiter(dpu);
    arbiter_page_t *state = xfer->queue.count > 0 && arbiter != NULL
                                ? arbiter_get(arbiter, xfer->page) : NULL;
    for (uint32_t i = 0; i < xfer->queue.count && state != NULL; i++) {
        arbiter_waiter_t w = arbiter_waiter_from_wire(msg_queue_at(xfer->queue, i), dpu->now_ns);
        (void)arbiter_append(arbiter, state, &w); /* queue_max is the same everywhere */
    }
    dpu->stats.transfers_in++;
    dpu_observe(dpu, DPU_EVENT_OWNER_GAIN, entry->page, entry->version);
    ari_gva_t page = entry->page;
    dpu_pending_complete_reads(dpu, page, ARI_OK, entry->version);
    entry = pcache_find(dpu->pcache, page);
    assert(entry != NULL && entry->copy == PCACHE_COPY_MASTER); /* a master stays */
    own_grant_local(dpu, entry, xfer->seq);
}

/* A DPU on the way flips its entry: `from` (toward the old owner) joins
 * its downstream ports and the port toward the requester becomes `up`. */
static void own_xfer_flip(dpu_t *dpu, pcache_entry_t *entry, msg_t *xfer, uint32_t from,
                          uint32_t port)
{
    own_recrumb(dpu, xfer->page, xfer->queue, from, port);
    if ((entry->flags & PCACHE_ON_TREE) && entry->up >= 0 && (uint32_t)entry->up != from &&
        (uint32_t)entry->up != port)
        dpu_send_unref(dpu, entry); /* it hung elsewhere: leave that branch */
    entry->down &= ~(1ull << port);
    pcache_port_set(dpu->pcache, entry, from, xfer->generation);
    entry->up = (int8_t)port;
    entry->up_generation = pcache_generation_fresh(dpu->pcache);
    entry->flags |= PCACHE_ON_TREE | PCACHE_STRICT;
    xfer->generation = entry->up_generation;
}

void own_xfer_receive(dpu_t *dpu, msg_t *xfer, uint32_t from)
{
    pcache_entry_t *entry = pcache_find(dpu->pcache, xfer->page);
    if (entry == NULL && (entry = dpu_entry_insert(dpu, xfer->page, dpu->now_ns)) == NULL) {
        dpu->stats.crumb_overflows++; /* no room even for a path entry: counted */
        dpu_stray(dpu, xfer->type, xfer->page);
        return;
    }
    pcache_touch(dpu->pcache, entry, dpu->now_ns);
    if (xfer->origin == dpu->config.node && xfer->hops.count == 0) {
        own_become_owner(dpu, entry, xfer, from);
        return;
    }
    uint32_t port = OWN_PORT_NONE;
    if (xfer->hops.count > 0) {
        int p = dpu_port_to(dpu, msg_hops_at(xfer->hops, xfer->hops.count - 1));
        port = p >= 0 ? (uint32_t)p : OWN_PORT_NONE;
        xfer->hops.count--;
    } else {
        port = own_crumb_take(dpu, xfer->page, xfer->origin);
    }
    if (port == OWN_PORT_NONE || port == from) {
        /* No way on (its waiter gave up): the page stops here, and this
         * node owns it; its queue moves on from here. Counted as stray so
         * a regression shows in the simulator's figures. */
        dpu_stray(dpu, xfer->type, xfer->page);
        own_become_owner(dpu, entry, xfer, from);
        return;
    }
    own_xfer_flip(dpu, entry, xfer, from, port);
    dpu_send(dpu, port, xfer);
}

/* ------------------------------------------------------------------------
 * The owner: arbitration
 * ------------------------------------------------------------------------ */

static arbiter_waiter_t own_waiter_of(const dpu_t *dpu, const msg_t *acq, uint32_t from)
{
    arbiter_waiter_t w = {.origin = acq->origin, .seq = acq->seq, .timestamp = acq->timestamp,
                          .arrival_ns = dpu->now_ns, .offset = acq->offset,
                          .priority = acq->priority,
                          .port = from == DPU_FROM_HOST ? MSG_QUEUE_PORT_HOST : (uint8_t)from,
                          .kind = acq->op};
    return w;
}

/* Queues a request and answers DENY: queued at its position, or rejected. */
static void own_queue(dpu_t *dpu, pcache_entry_t *master, const msg_t *acq, uint32_t from)
{
    arbiter_t *arbiter = own_arbiter(dpu);
    arbiter_page_t *state = arbiter != NULL ? arbiter_get(arbiter, master->page) : NULL;
    arbiter_waiter_t waiter = own_waiter_of(dpu, acq, from);
    uint32_t position = 0;
    if (state == NULL || arbiter_enqueue(arbiter, state, &waiter, &position) != ARI_OK) {
        arbiter_tidy(arbiter, state);
        own_answer(dpu, master, acq, MSG_DENY, MSG_DENY_REJECTED, 0);
        return;
    }
    if (dpu->world.observe != NULL) {
        dpu_event_t event = {.kind = DPU_EVENT_QUEUED, .node = dpu->config.node,
                             .page = master->page, .seq = position, .peer = acq->origin};
        dpu->world.observe(dpu->world.ctx, &event);
    }
    own_answer(dpu, master, acq, MSG_DENY, MSG_DENY_QUEUED, position);
}

static void own_arbitrate_own(dpu_t *dpu, pcache_entry_t *master, msg_t *acq, uint32_t from)
{
    arbiter_page_t *state = own_state(dpu, master->page);
    /* This node's own request may take over its hold (a pin, or a longer hold). */
    bool mine = acq->origin == dpu->config.node && state != NULL && state->held;
    bool free = state == NULL || ((!state->pinned || mine) &&
                                  arbiter_first(state, MSG_ACQ_OWN, UINT32_MAX) < 0);
    if (!free) {
        own_queue(dpu, master, acq, from);
        return;
    }
    if (acq->origin == dpu->config.node)
        own_grant_local(dpu, master, acq->seq);
    else
        own_xfer_send(dpu, master, acq->origin, acq->seq, &acq->hops);
}

static uint64_t *own_word(dpu_t *dpu, pcache_entry_t *master, uint32_t offset)
{
    uint8_t *memory = dpu->world.page_memory(dpu->world.ctx, master->page, false);
    assert(memory != NULL); /* dpu_owner_serve checked it */
    return (uint64_t *)(void *)(memory + offset);
}

/* Semaphore and barrier words change at the owner like any write: a new
 * version, and an UPDATE down the tree, so replicas of the page follow. */
static void own_word_store(dpu_t *dpu, pcache_entry_t *master, uint32_t offset, uint64_t value)
{
    uint64_t *word = own_word(dpu, master, offset);
    __atomic_store_n(word, value, __ATOMIC_RELAXED);
    master->version++;
    msg_t update = msg_make(MSG_UPDATE);
    update.page = master->page;
    update.version = master->version;
    update.offset = offset;
    update.origin = dpu->config.node;
    update.data = (const uint8_t *)word;
    update.data_length = 8;
    dpu_send_ports(dpu, master->down, &update);
}

static void own_sem_wait(dpu_t *dpu, pcache_entry_t *master, msg_t *acq, uint32_t from)
{
    uint64_t *word = own_word(dpu, master, acq->offset);
    arbiter_page_t *state = own_state(dpu, master->page);
    uint64_t value = __atomic_load_n(word, __ATOMIC_RELAXED);
    if (value > 0 && (state == NULL || arbiter_first(state, MSG_ACQ_SEM_WAIT, acq->offset) < 0)) {
        own_word_store(dpu, master, acq->offset, value - 1);
        dpu->stats.grants++;
        own_answer(dpu, master, acq, MSG_GRANT, MSG_ACQ_SEM_WAIT, 0);
        return;
    }
    own_queue(dpu, master, acq, from);
}

static void own_sem_post(dpu_t *dpu, pcache_entry_t *master, msg_t *acq)
{
    arbiter_page_t *state = own_state(dpu, master->page);
    int64_t index = state != NULL ? arbiter_first(state, MSG_ACQ_SEM_WAIT, acq->offset) : -1;
    if (index >= 0) {
        arbiter_waiter_t waiter = arbiter_remove(state, (uint32_t)index);
        arbiter_tidy(dpu->arbiter, state);
        own_grant_waiter(dpu, master, &waiter);
    } else {
        uint64_t *word = own_word(dpu, master, acq->offset);
        own_word_store(dpu, master, acq->offset, __atomic_load_n(word, __ATOMIC_RELAXED) + 1);
    }
    if (acq->seq != 0) /* a permit handed back by a DPU expects no answer */
        own_answer(dpu, master, acq, MSG_GRANT, MSG_ACQ_SEM_POST, 0);
}

static void own_barrier(dpu_t *dpu, pcache_entry_t *master, msg_t *acq, uint32_t from)
{
    uint64_t *word = own_word(dpu, master, acq->offset);
    uint64_t arrived = __atomic_load_n(word, __ATOMIC_RELAXED) + 1;
    if (arrived < acq->count) {
        own_queue(dpu, master, acq, from);
        arbiter_page_t *state = own_state(dpu, master->page);
        if (state != NULL && arbiter_find_waiter(state, acq->origin, acq->seq) >= 0)
            own_word_store(dpu, master, acq->offset, arrived); /* queued: counted */
        return;
    }
    own_word_store(dpu, master, acq->offset, 0);
    arbiter_page_t *state = own_state(dpu, master->page);
    int64_t index;
    while (state != NULL && (index = arbiter_first(state, MSG_ACQ_BARRIER, acq->offset)) >= 0) {
        arbiter_waiter_t waiter = arbiter_remove(state, (uint32_t)index);
        own_grant_waiter(dpu, master, &waiter);
    }
    arbiter_tidy(dpu->arbiter, state);
    dpu->stats.grants++;
    own_answer(dpu, master, acq, MSG_GRANT, MSG_ACQ_BARRIER, 0);
}

/* A waiter gave up: off the queue (a barrier arrival is uncounted), and a
 * DENY(rejected) along its crumbs clears them. */
static void own_cancel(dpu_t *dpu, pcache_entry_t *master, const msg_t *cancel)
{
    arbiter_page_t *state = own_state(dpu, master->page);
    int64_t index = state != NULL ? arbiter_find_waiter(state, cancel->origin, cancel->seq) : -1;
    if (index < 0)
        return; /* granted already (the grant crossed the CANCEL), or never queued */
    arbiter_waiter_t waiter = arbiter_remove(state, (uint32_t)index);
    if (waiter.kind == MSG_ACQ_BARRIER) {
        uint64_t arrived = __atomic_load_n(own_word(dpu, master, waiter.offset), __ATOMIC_RELAXED);
        own_word_store(dpu, master, waiter.offset, arrived > 0 ? arrived - 1 : 0);
    }
    own_reject_waiter(dpu, master, &waiter);
    state = own_state(dpu, master->page);
    if (state != NULL && index == 0)
        own_hand_on(dpu, master); /* the head left: the next may go */
    else
        arbiter_tidy(dpu->arbiter, state);
}

void own_owner_receive(dpu_t *dpu, pcache_entry_t *master, msg_t *msg, uint32_t from)
{
    if (msg->type == MSG_CANCEL) {
        own_cancel(dpu, master, msg);
        return;
    }
    switch (msg->op) {
    case MSG_ACQ_OWN: own_arbitrate_own(dpu, master, msg, from); break;
    case MSG_ACQ_SEM_WAIT: own_sem_wait(dpu, master, msg, from); break;
    case MSG_ACQ_SEM_POST: own_sem_post(dpu, master, msg); break;
    default: own_barrier(dpu, master, msg, from); break;
    }
}

/* ------------------------------------------------------------------------
 * Release, time, forgetting
 * ------------------------------------------------------------------------ */

static int own_submit_release(dpu_t *dpu, const dpu_request_t *r)
{
    pcache_entry_t *master = pcache_find(dpu->pcache, r->page);
    arbiter_page_t *state = own_state(dpu, r->page);
    if (master == NULL || master->copy != PCACHE_COPY_MASTER || state == NULL ||
        !state->pinned || state->held)
        return ARI_EINVAL; /* not pinned here */
    state->pinned = false;
    dpu_completion_t c = {.cookie = r->cookie, .op = DPU_OP_RELEASE, .page = r->page,
                          .status = ARI_OK, .version = master->version};
    dpu->world.complete(dpu->world.ctx, &c);
    own_hand_on(dpu, master);
    return ARI_OK;
}

static void own_tick_pins(dpu_t *dpu, uint64_t now_ns)
{
    arbiter_page_t *state;
    for (uint32_t n = 0; n < DPU_TICK_BUDGET && dpu->arbiter != NULL &&
                         (state = arbiter_pin_expired(dpu->arbiter, now_ns)) != NULL; n++) {
        state->pinned = false;
        ari_gva_t page = state->page;
        if (!state->held) { /* a hold ends by itself; a pin past its limit is a host fault */
            dpu->stats.pins_expired++;
            dpu_observe(dpu, DPU_EVENT_PIN_EXPIRED, page, 0);
        }
        state->held = false;
        pcache_entry_t *master = pcache_find(dpu->pcache, page);
        if (master != NULL && master->copy == PCACHE_COPY_MASTER)
            own_hand_on(dpu, master);
        else
            arbiter_tidy(dpu->arbiter, own_state(dpu, page));
    }
}

/* Arbiter requests past their wait: ARI_ETIMEDOUT, and a CANCEL up. */
static void own_tick_waits(dpu_t *dpu, uint64_t now_ns)
{
    for (uint32_t i = 0; i < dpu->pending.count && dpu->waits_timed > 0;) {
        pending_t *p = &dpu->pending.items[i];
        if (!own_is_arbiter_op((dpu_op_t)p->op) || p->retry_at_ns == 0 ||
            p->retry_at_ns > now_ns) {
            i++;
            continue;
        }
        msg_t cancel = msg_make(MSG_CANCEL);
        cancel.page = p->page;
        cancel.origin = dpu->config.node;
        cancel.seq = p->seq;
        bool sent = p->stage == DPU_STAGE_SENT;
        dpu->stats.acq_timeouts++;
        own_complete(dpu, i, ARI_ETIMEDOUT, 0);
        if (sent)
            dpu_request(dpu, &cancel, DPU_FROM_HOST, NULL, 0, now_ns);
        i = 0; /* the table changed */
    }
}

void own_tick(dpu_t *dpu, uint64_t now_ns)
{
    own_tick_pins(dpu, now_ns);
    own_tick_waits(dpu, now_ns);
}

uint64_t own_deadline(const dpu_t *dpu)
{
    return dpu->arbiter != NULL ? arbiter_next_deadline(dpu->arbiter) : UINT64_MAX;
}

void own_forget_page(dpu_t *dpu, ari_gva_t page)
{
    if (dpu->crumbs != NULL)
        crumb_forget_page(dpu->crumbs, page);
    arbiter_page_t *state = own_state(dpu, page);
    if (state != NULL)
        arbiter_forget(dpu->arbiter, state);
}

/* ------------------------------------------------------------------------
 * Inspection
 * ------------------------------------------------------------------------ */

uint32_t dpu_queue_length(const dpu_t *dpu, ari_gva_t page)
{
    arbiter_page_t *state = dpu->arbiter != NULL ? arbiter_find(dpu->arbiter, page) : NULL;
    return state != NULL ? state->count : 0;
}

bool dpu_pinned(const dpu_t *dpu, ari_gva_t page)
{
    arbiter_page_t *state = dpu->arbiter != NULL ? arbiter_find(dpu->arbiter, page) : NULL;
    return state != NULL && state->pinned && !state->held;
}
