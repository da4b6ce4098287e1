/*
 * dir — the directory baseline with an Ivy-style manager (see dir.h for
 * exactly what it sends).
 *
 * Per node: a page table (the path cache's table, used as a plain map of
 * copy state and version) and page records. A record holds what a node
 * keeps about a page beyond its copy: as the page's owner, the sharer list
 * and the pin; as its home, the manager's state (owner, free / moving /
 * pinned, the FIFO queue of waiters, the requests held while the page
 * moves). A home keeps no manager state while it owns the page itself and
 * nothing waits: no record there means "the home owns it, free".
 *
 * Sections: state; page records; sending and completing; at the owner; the
 * manager; at a requester or replica; receiving; host requests; time;
 * inspection.
 */
#include "dir.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "gva.h"
#include "pcache.h"
#include "pending.h"

/* ------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------ */

/* Requests a home holds for one page while it moves; past this the answer
 * is ARI_EBUSY (UNREF and PRUNE_ACK, which have no answer, are always held). */
#define DIR_HELD_MAX 4096u
/* Pins ended per tick (the next tick ends the rest). */
#define DIR_TICK_PINS 16u

typedef struct {
    uint32_t origin;
    uint32_t offset;    /* SEM_WAIT, BARRIER: the word */
    uint64_t seq;       /* the origin's request */
    uint8_t kind;       /* msg_acq_kind_t */
} dir_waiter_t;

typedef struct {
    uint8_t *bytes;     /* an encoded request */
    uint32_t length;
} dir_held_t;

typedef enum { DIR_FREE = 0, DIR_MOVING, DIR_PINNED } dir_state_t;

typedef struct {
    ari_gva_t page;
    bool used;
    /* As the page's owner. */
    uint32_t *sharers;
    uint32_t sharer_count, sharer_capacity;
    uint32_t prune_wait;       /* FREE: PRUNE_ACKs still to come */
    bool pinned;
    uint64_t pin_deadline_ns;
    /* As the page's home (its manager); the rest is valid when managed. */
    bool managed;
    uint8_t state;             /* dir_state_t */
    uint32_t owner, moving_to;
    dir_waiter_t *waiters;     /* FIFO */
    uint32_t waiter_count, waiter_capacity;
    dir_held_t *held;          /* FIFO */
    uint32_t held_count, held_capacity;
} dir_page_t;

struct dir {
    dpu_config_t config;
    dpu_world_t world;
    pcache_t *pages;
    dir_page_t *records;        /* open addressing, records_capacity slots */
    uint32_t records_capacity, records_count;
    uint32_t pins;              /* records pinned here */
    pending_table_t pending;
    msg_buffer_t scratch;
    uint64_t seq_next, now_ns;
    dpu_stats_t stats;
};

int dir_create(const dpu_config_t *config, const dpu_world_t *world, dir_t **dir_out)
{
    if (config->topo == NULL || config->node >= config->topo->nodes || world->send_to == NULL ||
        world->page_memory == NULL || world->page_drop == NULL || world->complete == NULL ||
        config->pending_max == 0 || config->queue_max > MSG_QUEUE_MAX)
        return ARI_EINVAL;
    dir_t *dir = calloc(1, sizeof *dir);
    if (dir == NULL)
        return ARI_ENOMEM;
    dir->config = *config;
    if (dir->config.queue_max == 0)
        dir->config.queue_max = MSG_QUEUE_MAX;
    dir->world = *world;
    dir->seq_next = 1;
    pending_table_init(&dir->pending, config->pending_max);
    dir->scratch = (msg_buffer_t){config->scratch, dpu_scratch_size(config), false};
    int status = pcache_create(config->pcache_capacity, 1, UINT64_MAX / 2, &dir->pages);
    if (status != ARI_OK) {
        free(dir);
        return status;
    }
    *dir_out = dir;
    return ARI_OK;
}

static void dir_page_free_parts(dir_page_t *rec)
{
    free(rec->sharers);
    free(rec->waiters);
    for (uint32_t i = 0; i < rec->held_count; i++)
        free(rec->held[i].bytes);
    free(rec->held);
}

void dir_destroy(dir_t *dir)
{
    if (dir == NULL)
        return;
    for (uint32_t i = 0; i < dir->records_capacity; i++)
        dir_page_free_parts(&dir->records[i]);
    free(dir->records);
    pending_table_fini(&dir->pending);
    pcache_destroy(dir->pages);
    msg_buffer_fini(&dir->scratch);
    free(dir);
}

static void dir_observe_peer(dir_t *dir, dpu_event_kind_t kind, ari_gva_t page,
                             uint64_t version, uint32_t peer, uint64_t seq)
{
    if (dir->world.observe == NULL)
        return;
    dpu_event_t event = {.kind = kind, .node = dir->config.node, .page = page,
                         .version = version, .peer = peer, .seq = seq};
    dir->world.observe(dir->world.ctx, &event);
}

static void dir_observe(dir_t *dir, dpu_event_kind_t kind, ari_gva_t page, uint64_t version,
                        uint32_t origin, uint64_t seq)
{
    if (dir->world.observe == NULL)
        return;
    dpu_event_t event = {.kind = kind, .node = dir->config.node, .page = page,
                         .version = version, .origin = origin, .seq = seq};
    dir->world.observe(dir->world.ctx, &event);
}

static uint32_t dir_home(ari_gva_t page) { return gva_machine(page); }

/* The directory keeps no write sequence in a page entry (a writer's order
 * comes from its routes), so it uses that field for the newest change a
 * copy let pass while its data was on the way: data older than that is
 * re-synced at once, since the change it missed may come from an owner the
 * data did not come from. */
static uint64_t *dir_missed(pcache_entry_t *entry) { return &entry->write_seq; }

/* ------------------------------------------------------------------------
 * Page records
 * ------------------------------------------------------------------------ */

/* Grows an array to hold one more item; NULL (and the array unchanged)
 * when out of memory. */
static void *dir_grow(void *items, uint32_t *capacity, uint32_t count, size_t size)
{
    if (count < *capacity)
        return items;
    uint32_t grown_capacity = *capacity ? 2 * *capacity : 4;
    void *grown = realloc(items, (size_t)grown_capacity * size);
    if (grown != NULL)
        *capacity = grown_capacity;
    return grown;
}

static bool dir_records_grow(dir_t *dir)
{
    uint32_t capacity = dir->records_capacity ? 2 * dir->records_capacity : 8;
    dir_page_t *grown = calloc(capacity, sizeof *grown);
    if (grown == NULL)
        return false;
    for (uint32_t i = 0; i < dir->records_capacity; i++) {
        if (!dir->records[i].used)
            continue;
        uint32_t j = (uint32_t)gva_page_hash(dir->records[i].page) & (capacity - 1);
        while (grown[j].used)
            j = (j + 1) & (capacity - 1);
        grown[j] = dir->records[i];
    }
    free(dir->records);
    dir->records = grown;
    dir->records_capacity = capacity;
    return true;
}

/* A page's record, made when `make` (NULL without memory). A make may move
 * every record: pointers to records are not kept across one. */
static dir_page_t *dir_page_find(dir_t *dir, ari_gva_t page, bool make)
{
    if (make && 2 * (dir->records_count + 1) > dir->records_capacity && !dir_records_grow(dir))
        return NULL;
    if (dir->records_capacity == 0)
        return NULL;
    uint32_t mask = dir->records_capacity - 1;
    for (uint32_t j = (uint32_t)gva_page_hash(page) & mask;; j = (j + 1) & mask) {
        dir_page_t *rec = &dir->records[j];
        if (rec->used && gva_equal(rec->page, page))
            return rec;
        if (!rec->used) {
            if (!make)
                return NULL;
            *rec = (dir_page_t){.page = page, .used = true};
            dir->records_count++;
            return rec;
        }
    }
}

/* Removing from open addressing: re-insert the run after the hole. */
static void dir_page_forget(dir_t *dir, dir_page_t *rec)
{
    dir_page_free_parts(rec);
    memset(rec, 0, sizeof *rec);
    dir->records_count--;
    uint32_t mask = dir->records_capacity - 1;
    for (uint32_t j = (uint32_t)(rec - dir->records + 1) & mask; dir->records[j].used;
         j = (j + 1) & mask) {
        dir_page_t moved = dir->records[j];
        memset(&dir->records[j], 0, sizeof moved);
        uint32_t k = (uint32_t)gva_page_hash(moved.page) & mask;
        while (dir->records[k].used)
            k = (k + 1) & mask;
        dir->records[k] = moved;
    }
}

/* Drops what a record no longer needs, and the record when nothing is left.
 * A home that owns its page, free, with nothing waiting, needs no manager
 * state. */
static void dir_page_settle(dir_t *dir, ari_gva_t page)
{
    dir_page_t *rec = dir_page_find(dir, page, false);
    if (rec == NULL)
        return;
    if (rec->managed && rec->owner == dir->config.node && rec->state == DIR_FREE &&
        rec->waiter_count == 0 && rec->held_count == 0) {
        rec->managed = false;
        free(rec->waiters);
        free(rec->held);
        rec->waiters = NULL;
        rec->held = NULL;
        rec->waiter_capacity = rec->held_capacity = 0;
    }
    if (!rec->managed && rec->sharer_count == 0 && !rec->pinned && rec->prune_wait == 0)
        dir_page_forget(dir, rec);
}

static bool dir_sharers_add(dir_page_t *rec, uint32_t node)
{
    for (uint32_t i = 0; i < rec->sharer_count; i++) {
        if (rec->sharers[i] == node)
            return true;
    }
    uint32_t *grown = dir_grow(rec->sharers, &rec->sharer_capacity, rec->sharer_count,
                               sizeof *grown);
    if (grown == NULL)
        return false;
    rec->sharers = grown;
    rec->sharers[rec->sharer_count++] = node;
    return true;
}

static void dir_sharers_remove(dir_page_t *rec, uint32_t node)
{
    for (uint32_t i = 0; i < rec->sharer_count; i++) {
        if (rec->sharers[i] == node) {
            rec->sharers[i] = rec->sharers[--rec->sharer_count];
            return;
        }
    }
}

static void dir_sharers_clear(dir_page_t *rec)
{
    free(rec->sharers);
    rec->sharers = NULL;
    rec->sharer_count = rec->sharer_capacity = 0;
}

/* The first waiter of a kind (and word, for semaphores and barriers), or -1. */
static int64_t dir_waiter_first(const dir_page_t *rec, uint8_t kind, uint32_t offset)
{
    for (uint32_t i = 0; i < rec->waiter_count; i++) {
        const dir_waiter_t *w = &rec->waiters[i];
        if (w->kind == kind && (kind == MSG_ACQ_OWN || w->offset == offset))
            return i;
    }
    return -1;
}

static dir_waiter_t dir_waiter_remove(dir_page_t *rec, uint32_t index)
{
    dir_waiter_t w = rec->waiters[index];
    memmove(&rec->waiters[index], &rec->waiters[index + 1],
            (rec->waiter_count - index - 1) * sizeof w);
    rec->waiter_count--;
    return w;
}

static void dir_pin(dir_t *dir, dir_page_t *rec)
{
    assert(!rec->pinned); /* a page is pinned once, by its owner */
    rec->pinned = true;
    rec->pin_deadline_ns = dir->config.pin_ns_max ? dir->now_ns + dir->config.pin_ns_max
                                                  : UINT64_MAX;
    dir->pins++;
}

static void dir_unpin(dir_t *dir, dir_page_t *rec)
{
    if (!rec->pinned)
        return;
    rec->pinned = false;
    dir->pins--;
}

uint64_t dir_sharer_bytes(const dir_t *dir)
{
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < dir->records_capacity; i++)
        bytes += dir->records[i].used ? 4ull * dir->records[i].sharer_count : 0;
    return bytes;
}

/* ------------------------------------------------------------------------
 * Sending and completing
 * ------------------------------------------------------------------------ */

static void dir_send(dir_t *dir, uint32_t node, const msg_t *msg)
{
    size_t length = msg_buffer_encode(&dir->scratch, msg);
    dir->stats.messages_out++;
    dir->stats.bytes_out += length;
    dir->world.send_to(dir->world.ctx, node, dir->scratch.bytes, length);
}

static void dir_deliver(dir_t *dir, const msg_t *answer);

/* To another node, or handled here when it is this one. */
static void dir_route(dir_t *dir, uint32_t node, const msg_t *msg)
{
    if (node == dir->config.node)
        dir_deliver(dir, msg);
    else
        dir_send(dir, node, msg);
}

static void dir_entry_release(dir_t *dir, pcache_entry_t *entry);

static void dir_complete_at(dir_t *dir, uint32_t index, dpu_completion_t *c)
{
    pending_t p = pending_remove_pinned(&dir->pending, dir->pages, index);
    c->cookie = p.cookie;
    c->op = (dpu_op_t)p.op;
    c->page = p.page;
    dir->world.complete(dir->world.ctx, c);
    /* The copy may have gone (dropped, pruned) while this was outstanding. */
    pcache_entry_t *entry = pcache_find(dir->pages, p.page);
    if (entry != NULL)
        dir_entry_release(dir, entry);
}

/* Completes a page's pending reads: all of them, or (satisfied_only) those
 * whose min_version the copy's version meets. */
static void dir_complete_reads(dir_t *dir, ari_gva_t page, int status, uint64_t version,
                               bool satisfied_only)
{
    for (uint32_t i = 0; i < dir->pending.count;) {
        const pending_t *p = &dir->pending.items[i];
        if (p->op == DPU_OP_READ && gva_equal(p->page, page) &&
            (!satisfied_only || p->min_version <= version)) {
            dpu_completion_t c = {.status = status, .version = version};
            dir_complete_at(dir, i, &c);
            continue;
        }
        i++;
    }
}

static bool dir_reads_waiting(const dir_t *dir, ari_gva_t page)
{
    for (uint32_t i = 0; i < dir->pending.count; i++) {
        if (dir->pending.items[i].op == DPU_OP_READ && gva_equal(dir->pending.items[i].page, page))
            return true;
    }
    return false;
}

/* Completes the request whose sequence number an answer carries. */
static bool dir_complete_seq(dir_t *dir, uint64_t seq, int status, uint64_t version)
{
    int64_t index = pending_find_seq(&dir->pending, seq, DPU_OP_READ);
    if (index < 0)
        return false;
    dpu_completion_t c = {.status = status, .version = version};
    dir_complete_at(dir, (uint32_t)index, &c);
    return true;
}

static pending_t *dir_pending_add(dir_t *dir, uint8_t op, ari_gva_t page, uint64_t cookie)
{
    return pending_add_pinned(&dir->pending, dir->pages, op, page, cookie);
}

/* A new page entry, pinned by the requests already pending on its page. */
static pcache_entry_t *dir_entry_insert(dir_t *dir, ari_gva_t page)
{
    pcache_entry_t *entry = pcache_insert(dir->pages, page, dir->now_ns);
    if (entry != NULL)
        pending_pin_new_entry(&dir->pending, entry);
    return entry;
}

/* Forgets a page entry that holds nothing and waits for nothing. */
static void dir_entry_release(dir_t *dir, pcache_entry_t *entry)
{
    if (entry->copy == PCACHE_COPY_NONE && entry->pending == 0 &&
        (entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING | PCACHE_FREEING)) == 0)
        pcache_remove(dir->pages, entry);
}

/* The answer a request gets when it cannot be served; requests without an
 * answer (UNREF, PRUNE_ACK, XFER_*) get none. */
static void dir_answer_error(dir_t *dir, const msg_t *request, int status)
{
    if (request->type == MSG_UNREF || request->type == MSG_PRUNE_ACK ||
        request->type == MSG_XFER_CONFIRM || request->type == MSG_XFER_DONE)
        return;
    msg_t error = msg_make(MSG_ERROR);
    error.page = request->page;
    error.status = status;
    error.op = (uint8_t)request->type;
    error.origin = request->origin;
    error.seq = request->seq;
    dir_route(dir, request->origin, &error);
}

/* XFER_CONFIRM (pinned) or XFER_DONE (free) to the manager. */
static void dir_tell_manager(dir_t *dir, msg_type_t type, ari_gva_t page, uint64_t version)
{
    msg_t m = msg_make(type);
    m.page = page;
    m.version = version;
    m.origin = dir->config.node;
    dir_route(dir, dir_home(page), &m);
}

/* ------------------------------------------------------------------------
 * At the owner
 * ------------------------------------------------------------------------ */

/* This node's master of a page and its memory, or NULL (not the owner, or
 * the page is being freed). */
static pcache_entry_t *dir_master(dir_t *dir, ari_gva_t page, uint8_t **memory_out)
{
    pcache_entry_t *entry = pcache_find(dir->pages, page);
    if (entry == NULL || entry->copy != PCACHE_COPY_MASTER || (entry->flags & PCACHE_FREEING))
        return NULL;
    uint8_t *memory = dir->world.page_memory(dir->world.ctx, page, false);
    if (memory == NULL)
        return NULL;
    *memory_out = memory;
    return entry;
}

static msg_t dir_answer(msg_type_t type, const pcache_entry_t *master, const msg_t *request)
{
    msg_t answer = msg_make(type);
    answer.page = master->page;
    answer.version = master->version;
    answer.origin = request->origin;
    answer.seq = request->seq;
    return answer;
}

static void dir_fan_out(dir_t *dir, ari_gva_t page, const msg_t *change)
{
    dir_page_t *rec = dir_page_find(dir, page, false);
    for (uint32_t i = 0; rec != NULL && i < rec->sharer_count; i++)
        dir_send(dir, rec->sharers[i], change);
}

/* Orders a change of the master: a version, and the change to every sharer. */
static void dir_owner_change(dir_t *dir, pcache_entry_t *master, uint32_t origin, uint64_t seq,
                             uint32_t offset, const uint8_t *bytes, uint32_t length)
{
    master->version++;
    dir_observe(dir, DPU_EVENT_ORDER, master->page, master->version, origin, seq);
    msg_t change = msg_make(length <= dir->config.update_max_bytes ? MSG_UPDATE : MSG_INVAL);
    change.page = master->page;
    change.version = master->version;
    if (change.type == MSG_UPDATE) {
        change.offset = offset;
        change.origin = origin;
        change.seq = seq;
        change.data = bytes;
        change.data_length = length;
    }
    dir_fan_out(dir, master->page, &change);
}

static void dir_owner_atomic(dir_t *dir, pcache_entry_t *master, const msg_t *request,
                             uint8_t *memory)
{
    uint64_t old, value;
    if (dpu_atomic_execute(request->op, (uint64_t *)(void *)(memory + request->offset),
                           request->arg0, request->arg1, &old, &value)) {
        dir_owner_change(dir, master, request->origin, request->seq, request->offset,
                         (const uint8_t *)&value, 8);
    }
    dir->stats.atomics_ordered++;
    msg_t result = dir_answer(MSG_ATOMIC_RESULT, master, request);
    result.arg0 = old;
    dir_route(dir, request->origin, &result);
}

/* REF or SYNC: the reader becomes a sharer (never the owner itself) and
 * gets the page. */
static void dir_owner_page(dir_t *dir, pcache_entry_t *master, const msg_t *request,
                           const uint8_t *memory)
{
    if (request->origin != dir->config.node) {
        dir_page_t *rec = dir_page_find(dir, request->page, true);
        if (rec == NULL || !dir_sharers_add(rec, request->origin)) {
            dir_answer_error(dir, request, ARI_ENOMEM);
            return;
        }
    }
    msg_t data = dir_answer(request->type == MSG_REF ? MSG_REF_DATA : MSG_SYNC_DATA, master,
                            request);
    data.data = memory;
    data.data_length = (uint32_t)gva_page_size(master->page);
    dir_route(dir, request->origin, &data);
}

/* The page goes to the requester of a forwarded ACQ(OWN), with its version
 * and sharer list; this node keeps no copy. */
static void dir_owner_transfer(dir_t *dir, pcache_entry_t *master, const msg_t *acq,
                               const uint8_t *memory)
{
    ari_gva_t page = master->page;
    if (acq->origin == dir->config.node) { /* the manager grants an owner with GRANT */
        dir->stats.stray++;
        return;
    }
    dir_page_t *rec = dir_page_find(dir, page, false);
    uint32_t count = rec != NULL ? rec->sharer_count : 0, listed = 0;
    uint8_t *table = count != 0 ? malloc((size_t)count * MSG_SEQ_ENTRY_SIZE) : NULL;
    if (count != 0 && table == NULL) {
        dir_answer_error(dir, acq, ARI_ENOMEM);
        dir_tell_manager(dir, MSG_XFER_DONE, page, master->version); /* still ours */
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (rec->sharers[i] != acq->origin)
            msg_seqs_put(table, listed++, (msg_seq_entry_t){rec->sharers[i], 0});
    }
    msg_t xfer = dir_answer(MSG_XFER_DATA, master, acq);
    xfer.data = memory;
    xfer.data_length = (uint32_t)gva_page_size(page);
    xfer.seqs = (msg_table_t){table, listed};
    dir_send(dir, acq->origin, &xfer);
    free(table);
    dir->stats.transfers_out++;
    dir_observe_peer(dir, DPU_EVENT_OWNER_LOSE, page, master->version, acq->origin, 0);
    if (rec != NULL) {
        dir_sharers_clear(rec);
        dir_unpin(dir, rec);
    }
    master->copy = PCACHE_COPY_NONE;
    dir->world.page_drop(dir->world.ctx, page);
    dir_page_settle(dir, page);
    dir_entry_release(dir, master);
}

static void dir_owner_free_done(dir_t *dir, pcache_entry_t *master);

static void dir_owner_prune_ack(dir_t *dir, const msg_t *ack)
{
    pcache_entry_t *master = pcache_find(dir->pages, ack->page);
    dir_page_t *rec = dir_page_find(dir, ack->page, false);
    if (master == NULL || master->copy != PCACHE_COPY_MASTER ||
        (master->flags & PCACHE_FREEING) == 0 || rec == NULL || rec->prune_wait == 0) {
        dir->stats.stray++;
        return;
    }
    if (--rec->prune_wait == 0)
        dir_owner_free_done(dir, master);
}

/* A request the manager sent on to this node, the page's owner (or that
 * the home, owning the page, serves itself). */
static void dir_owner_serve(dir_t *dir, const msg_t *request)
{
    if (request->type == MSG_UNREF) {
        dir_page_t *rec = dir_page_find(dir, request->page, false);
        if (rec != NULL)
            dir_sharers_remove(rec, request->origin);
        dir_page_settle(dir, request->page);
        return;
    }
    if (request->type == MSG_PRUNE_ACK) {
        dir_owner_prune_ack(dir, request);
        return;
    }
    uint8_t *memory = NULL;
    pcache_entry_t *master = dir_master(dir, request->page, &memory);
    if (master == NULL) {
        dir_answer_error(dir, request, ARI_ENOENT);
        if (request->type == MSG_ACQ && dir_home(request->page) != dir->config.node)
            dir_tell_manager(dir, MSG_XFER_DONE, request->page, 0); /* no move */
        return;
    }
    if (request->type == MSG_REF || request->type == MSG_SYNC) {
        dir_owner_page(dir, master, request, memory);
    } else if (request->type == MSG_WRITE) {
        memcpy(memory + request->offset, request->data, request->data_length);
        dir_owner_change(dir, master, request->origin, request->seq, request->offset,
                         request->data, request->data_length);
        dir->stats.writes_ordered++;
        msg_t ack = dir_answer(MSG_WRITE_ACK, master, request);
        dir_route(dir, request->origin, &ack);
    } else if (request->type == MSG_ATOMIC) {
        dir_owner_atomic(dir, master, request, memory);
    } else if (request->type == MSG_GET) {
        msg_t data = dir_answer(MSG_GET_DATA, master, request);
        data.offset = request->offset;
        data.data = memory + request->offset;
        data.data_length = request->length;
        dir_route(dir, request->origin, &data);
    } else if (request->type == MSG_ACQ && request->op == MSG_ACQ_OWN) {
        dir_owner_transfer(dir, master, request, memory);
    } else {
        dir->stats.stray++;
    }
}

static void dir_manage_forget(dir_t *dir, ari_gva_t page);

static void dir_owner_free_done(dir_t *dir, pcache_entry_t *master)
{
    ari_gva_t page = master->page;
    dir_page_t *rec = dir_page_find(dir, page, false);
    if (rec != NULL) {
        dir_sharers_clear(rec);
        dir_unpin(dir, rec);
        rec->prune_wait = 0;
    }
    dir_page_settle(dir, page);
    dir->world.page_drop(dir->world.ctx, page);
    dir_observe(dir, DPU_EVENT_DROP, page, master->version, 0, 0);
    pcache_remove(dir->pages, master);
    for (uint32_t i = 0; i < dir->pending.count;) {
        if (gva_equal(dir->pending.items[i].page, page)) {
            dpu_completion_t c = {.status = dir->pending.items[i].op == DPU_OP_FREE ? ARI_OK
                                                                              : ARI_ENOENT};
            dir_complete_at(dir, i, &c);
            continue;
        }
        i++;
    }
    if (dir_home(page) == dir->config.node) {
        dir_manage_forget(dir, page);
        return;
    }
    msg_t forget = msg_make(MSG_PRUNE); /* to the manager: the page is gone */
    forget.flags = MSG_FLAG_NOACK;
    forget.page = page;
    dir_send(dir, dir_home(page), &forget);
}

/* ------------------------------------------------------------------------
 * The manager (at the page's home)
 * ------------------------------------------------------------------------ */

/* The home's record with manager state, made (the home owning the page,
 * free) when there is none; NULL without memory. */
static dir_page_t *dir_manager_record(dir_t *dir, ari_gva_t page)
{
    dir_page_t *rec = dir_page_find(dir, page, true);
    if (rec != NULL && !rec->managed) {
        rec->managed = true;
        rec->state = DIR_FREE;
        rec->owner = dir->config.node;
    }
    return rec;
}

/* Whether a request has an answer that can carry ARI_EBUSY. */
static bool dir_answerable(const msg_t *m)
{
    return m->type != MSG_UNREF && m->type != MSG_PRUNE_ACK;
}

/* Keeps a request while the page moves, to forward it afterwards. */
static void dir_manage_hold(dir_t *dir, dir_page_t *rec, const msg_t *m)
{
    if (rec->held_count >= DIR_HELD_MAX && dir_answerable(m)) {
        dir_answer_error(dir, m, ARI_EBUSY);
        return;
    }
    dir_held_t *grown = dir_grow(rec->held, &rec->held_capacity, rec->held_count, sizeof *grown);
    if (grown == NULL) {
        dir_answer_error(dir, m, ARI_ENOMEM);
        return;
    }
    rec->held = grown;
    size_t size = msg_encoded_size(m), length;
    uint8_t *bytes = malloc(size);
    if (bytes == NULL) {
        dir_answer_error(dir, m, ARI_ENOMEM);
        return;
    }
    int status = msg_encode(m, bytes, size, &length);
    assert(status == ARI_OK); /* a message we decoded or made ourselves */
    (void)status;
    rec->held[rec->held_count++] = (dir_held_t){bytes, (uint32_t)length};
}

static void dir_manage(dir_t *dir, const msg_t *m);

/* The page has settled at its owner: the held requests go on, in order. */
static void dir_manage_flush(dir_t *dir, ari_gva_t page)
{
    dir_page_t *rec = dir_page_find(dir, page, false);
    if (rec == NULL || rec->held_count == 0)
        return;
    dir_held_t *held = rec->held;
    uint32_t count = rec->held_count;
    rec->held = NULL;
    rec->held_count = rec->held_capacity = 0;
    for (uint32_t i = 0; i < count; i++) {
        msg_t m;
        size_t used;
        int status = msg_decode(held[i].bytes, held[i].length, &m, &used);
        assert(status == ARI_OK); /* encoded by dir_manage_hold */
        (void)status;
        dir_manage(dir, &m);
        free(held[i].bytes);
    }
    free(held);
}

static void dir_manage_deny(dir_t *dir, const msg_t *acq, uint8_t kind, uint32_t position)
{
    msg_t deny = msg_make(MSG_DENY);
    deny.page = acq->page;
    deny.origin = acq->origin;
    deny.seq = acq->seq;
    deny.op = kind;
    deny.count = position;
    dir_route(dir, acq->origin, &deny);
}

/* Queues a request (FIFO) and tells the requester its place. */
static void dir_manage_enqueue(dir_t *dir, dir_page_t *rec, const msg_t *acq)
{
    dir_waiter_t *grown = rec->waiter_count < dir->config.queue_max
                              ? dir_grow(rec->waiters, &rec->waiter_capacity, rec->waiter_count,
                                         sizeof *grown)
                              : NULL;
    if (grown == NULL) {
        dir->stats.acq_rejected++;
        dir_manage_deny(dir, acq, MSG_DENY_REJECTED, 0);
        return;
    }
    rec->waiters = grown;
    rec->waiters[rec->waiter_count++] = (dir_waiter_t){acq->origin, acq->offset, acq->seq,
                                                       acq->op};
    uint32_t position = rec->waiter_count;
    dir->stats.acq_queued++;
    dir_observe_peer(dir, DPU_EVENT_QUEUED, acq->page, 0, acq->origin, position);
    dir_manage_deny(dir, acq, MSG_DENY_QUEUED, position);
}

/* Grants ownership: to the owner itself (GRANT), or by sending the ACQ on
 * to the owner, which sends the page. The page is moving until the new
 * owner confirms. */
static void dir_manage_grant(dir_t *dir, ari_gva_t page, uint32_t origin, uint64_t seq)
{
    msg_t acq = msg_make(MSG_ACQ);
    acq.page = page;
    acq.op = MSG_ACQ_OWN;
    acq.origin = origin;
    acq.seq = seq;
    dir_page_t *rec = dir_manager_record(dir, page);
    if (rec == NULL) {
        dir_answer_error(dir, &acq, ARI_ENOMEM);
        return;
    }
    rec->state = DIR_MOVING;
    rec->moving_to = origin;
    uint32_t owner = rec->owner;
    dir->stats.grants++;
    if (owner == origin) {
        msg_t grant = msg_make(MSG_GRANT);
        grant.page = page;
        grant.op = MSG_ACQ_OWN;
        grant.origin = origin;
        grant.seq = seq;
        dir_route(dir, origin, &grant);
    } else if (owner == dir->config.node) {
        dir_owner_serve(dir, &acq);
    } else {
        dir_send(dir, owner, &acq);
    }
}

/* The next queued OWN request, when the page is free. */
static void dir_manage_next(dir_t *dir, ari_gva_t page)
{
    dir_page_t *rec = dir_page_find(dir, page, false);
    int64_t index = rec != NULL && rec->managed && rec->state == DIR_FREE
                        ? dir_waiter_first(rec, MSG_ACQ_OWN, 0)
                        : -1;
    if (index < 0) {
        dir_page_settle(dir, page);
        return;
    }
    dir_waiter_t w = dir_waiter_remove(rec, (uint32_t)index);
    dir_manage_grant(dir, page, w.origin, w.seq);
}

static void dir_manage_own(dir_t *dir, const msg_t *acq)
{
    uint8_t *memory;
    dir_page_t *rec = dir_page_find(dir, acq->page, false);
    bool managed = rec != NULL && rec->managed;
    if (!managed && dir_master(dir, acq->page, &memory) == NULL) {
        dir_answer_error(dir, acq, ARI_ENOENT);
        return;
    }
    if (managed && (rec->state != DIR_FREE || dir_waiter_first(rec, MSG_ACQ_OWN, 0) >= 0)) {
        dir_manage_enqueue(dir, rec, acq);
        return;
    }
    dir_manage_grant(dir, acq->page, acq->origin, acq->seq);
}

/* XFER_CONFIRM or XFER_DONE: the page arrived (pinned or not), or its owner
 * released it, or (XFER_DONE from the owner while moving) the move failed. */
static void dir_manage_moved(dir_t *dir, const msg_t *m)
{
    dir_page_t *rec = dir_page_find(dir, m->page, false);
    bool arrived = rec != NULL && rec->managed && rec->state == DIR_MOVING &&
                   m->origin == rec->moving_to;
    bool released = rec != NULL && rec->managed && rec->state != DIR_FREE &&
                    m->type == MSG_XFER_DONE && m->origin == rec->owner;
    if (!arrived && !released) {
        dir->stats.stray++;
        return;
    }
    rec->owner = m->origin;
    rec->state = m->type == MSG_XFER_CONFIRM ? DIR_PINNED : DIR_FREE;
    dir_manage_flush(dir, m->page);
    dir_manage_next(dir, m->page);
}

/* The page is freed: every waiter and held request gets ARI_ENOENT. */
static void dir_manage_forget(dir_t *dir, ari_gva_t page)
{
    dir_page_t *rec = dir_page_find(dir, page, false);
    if (rec == NULL || !rec->managed)
        return;
    dir_waiter_t *waiters = rec->waiters;
    dir_held_t *held = rec->held;
    uint32_t waiter_count = rec->waiter_count, held_count = rec->held_count;
    rec->managed = false;
    rec->waiters = NULL;
    rec->held = NULL;
    rec->waiter_count = rec->waiter_capacity = rec->held_count = rec->held_capacity = 0;
    dir_page_settle(dir, page);
    for (uint32_t i = 0; i < waiter_count; i++) {
        msg_t acq = msg_make(MSG_ACQ);
        acq.page = page;
        acq.origin = waiters[i].origin;
        acq.seq = waiters[i].seq;
        dir_answer_error(dir, &acq, ARI_ENOENT);
    }
    for (uint32_t i = 0; i < held_count; i++) {
        msg_t m;
        size_t used;
        if (msg_decode(held[i].bytes, held[i].length, &m, &used) == ARI_OK)
            dir_answer_error(dir, &m, ARI_ENOENT);
        free(held[i].bytes);
    }
    free(waiters);
    free(held);
}

static void dir_manage_grant_word(dir_t *dir, const pcache_entry_t *master, uint32_t origin,
                                  uint64_t seq, uint8_t kind)
{
    msg_t grant = msg_make(MSG_GRANT);
    grant.page = master->page;
    grant.version = master->version;
    grant.op = kind;
    grant.origin = origin;
    grant.seq = seq;
    dir->stats.grants++;
    dir_route(dir, origin, &grant);
}

/* The last party arrived: the count goes back to 0 and every party of the
 * word is granted, in arrival order, the last one too. */
static void dir_manage_barrier_open(dir_t *dir, pcache_entry_t *master, const msg_t *acq)
{
    dir_page_t *rec = dir_page_find(dir, acq->page, false);
    uint32_t count = 0;
    dir_waiter_t *open = rec != NULL ? malloc((rec->waiter_count + 1) * sizeof *open) : NULL;
    for (uint32_t i = 0; open != NULL && i < rec->waiter_count;) {
        const dir_waiter_t *w = &rec->waiters[i];
        if (w->kind == MSG_ACQ_BARRIER && w->offset == acq->offset)
            open[count++] = dir_waiter_remove(rec, i);
        else
            i++;
    }
    if (open == NULL) { /* no memory: the waiters stay queued, this party too */
        dir_manage_enqueue(dir, rec, acq);
        return;
    }
    open[count++] = (dir_waiter_t){acq->origin, acq->offset, acq->seq, acq->op};
    for (uint32_t i = 0; i < count; i++)
        dir_manage_grant_word(dir, master, open[i].origin, open[i].seq, MSG_ACQ_BARRIER);
    free(open);
}

/* SEM_WAIT, SEM_POST, BARRIER on a word of a page the home owns. */
static void dir_manage_word_op(dir_t *dir, pcache_entry_t *master, dir_page_t *rec,
                               const msg_t *acq, uint64_t *word)
{
    switch (acq->op) {
    case MSG_ACQ_SEM_WAIT:
        if (*word == 0 || dir_waiter_first(rec, MSG_ACQ_SEM_WAIT, acq->offset) >= 0) {
            dir_manage_enqueue(dir, rec, acq);
            return;
        }
        --*word;
        dir_owner_change(dir, master, acq->origin, acq->seq, acq->offset, (uint8_t *)word, 8);
        break;
    case MSG_ACQ_SEM_POST: {
        int64_t index = dir_waiter_first(rec, MSG_ACQ_SEM_WAIT, acq->offset);
        if (index >= 0) { /* the permit goes straight to the first waiter */
            dir_waiter_t w = dir_waiter_remove(rec, (uint32_t)index);
            dir_manage_grant_word(dir, master, w.origin, w.seq, MSG_ACQ_SEM_WAIT);
        } else {
            ++*word;
            dir_owner_change(dir, master, acq->origin, acq->seq, acq->offset, (uint8_t *)word, 8);
        }
        break;
    }
    default: /* MSG_ACQ_BARRIER */
        if (*word + 1 < acq->count && rec->waiter_count >= dir->config.queue_max) {
            dir_manage_enqueue(dir, rec, acq); /* rejected: the count stays */
            return;
        }
        *word = *word + 1 >= acq->count ? 0 : *word + 1;
        dir_owner_change(dir, master, acq->origin, acq->seq, acq->offset, (uint8_t *)word, 8);
        if (*word != 0)
            dir_manage_enqueue(dir, rec, acq);
        else
            dir_manage_barrier_open(dir, master, acq);
        return;
    }
    dir_manage_grant_word(dir, master, acq->origin, acq->seq, acq->op);
}

static void dir_manage_word(dir_t *dir, const msg_t *acq, uint32_t owner)
{
    uint8_t *memory = NULL;
    pcache_entry_t *master = owner == dir->config.node ? dir_master(dir, acq->page, &memory)
                                                       : NULL;
    if (master == NULL) {
        dir_answer_error(dir, acq, owner == dir->config.node ? ARI_ENOENT : ARI_ENOTSUP);
        return;
    }
    dir_page_t *rec = dir_manager_record(dir, acq->page);
    if (rec == NULL) {
        dir_answer_error(dir, acq, ARI_ENOMEM);
        return;
    }
    dir_manage_word_op(dir, master, rec, acq, (uint64_t *)(void *)(memory + acq->offset));
    dir_page_settle(dir, acq->page);
}

/* A request reached the page's home. */
static void dir_manage(dir_t *dir, const msg_t *m)
{
    if (m->type == MSG_XFER_CONFIRM || m->type == MSG_XFER_DONE) {
        dir_manage_moved(dir, m);
        return;
    }
    if (m->type == MSG_ACQ && m->op == MSG_ACQ_OWN) {
        dir_manage_own(dir, m);
        return;
    }
    dir_page_t *rec = dir_page_find(dir, m->page, false);
    bool managed = rec != NULL && rec->managed;
    if (managed && rec->state == DIR_MOVING) {
        dir_manage_hold(dir, rec, m);
        return;
    }
    uint32_t owner = managed ? rec->owner : dir->config.node;
    if (m->type == MSG_ACQ)
        dir_manage_word(dir, m, owner);
    else if (owner == dir->config.node)
        dir_owner_serve(dir, m);
    else
        dir_send(dir, owner, m); /* Ivy's forwarding: origin and seq stay the requester's */
}

/* ------------------------------------------------------------------------
 * At a requester or a replica
 * ------------------------------------------------------------------------ */

static void dir_sync(dir_t *dir, pcache_entry_t *entry)
{
    if (entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING))
        return;
    entry->flags |= PCACHE_SYNC_PENDING;
    msg_t sync = msg_make(MSG_SYNC);
    sync.page = entry->page;
    sync.version = entry->version;
    sync.origin = dir->config.node;
    sync.seq = dir->seq_next++;
    dir_route(dir, dir_home(entry->page), &sync);
}

/* After data arrived: the reads the copy satisfies complete; the copy
 * re-syncs for the others, or when it let a newer change pass. */
static void dir_reads_answered(dir_t *dir, pcache_entry_t *entry)
{
    ari_gva_t page = entry->page;
    bool missed = *dir_missed(entry) > entry->version;
    dir_complete_reads(dir, page, ARI_OK, entry->version, true);
    entry = pcache_find(dir->pages, page); /* a valid copy keeps its entry */
    if (entry != NULL && (missed || dir_reads_waiting(dir, page)))
        dir_sync(dir, entry);
}

static void dir_install(dir_t *dir, const msg_t *data)
{
    pcache_entry_t *entry = pcache_find(dir->pages, data->page);
    if (entry == NULL) {
        dir->stats.stray++;
        return;
    }
    entry->flags &= (uint8_t)~(PCACHE_REF_PENDING | PCACHE_SYNC_PENDING);
    if (entry->copy == PCACHE_COPY_MASTER) { /* our own request, come back to us as owner */
        dir_complete_reads(dir, data->page, ARI_OK, entry->version, false);
        return;
    }
    /* A valid copy that has already moved past the data keeps its bytes. */
    if (entry->copy != PCACHE_COPY_VALID || entry->version < data->version) {
        uint8_t *memory = dir->world.page_memory(dir->world.ctx, data->page, true);
        if (memory == NULL) {
            dir_complete_reads(dir, data->page, ARI_ENOMEM, 0, false);
            return;
        }
        memcpy(memory + data->offset, data->data, data->data_length);
        entry->copy = PCACHE_COPY_VALID;
        entry->version = data->version;
        dir_observe(dir, DPU_EVENT_INSTALL, data->page, data->version, 0, 0);
    }
    dir_reads_answered(dir, entry);
}

static void dir_change(dir_t *dir, const msg_t *change)
{
    pcache_entry_t *entry = pcache_find(dir->pages, change->page);
    if (entry == NULL || entry->copy == PCACHE_COPY_MASTER)
        return;
    if (entry->copy != PCACHE_COPY_VALID || change->version <= entry->version) {
        /* dropped meanwhile, invalid (it re-syncs), or old */
        if ((entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING)) &&
            change->version > *dir_missed(entry))
            *dir_missed(entry) = change->version;
        return;
    }
    if (change->type == MSG_INVAL || change->version != entry->version + 1) {
        bool gap = change->type == MSG_UPDATE;
        entry->copy = PCACHE_COPY_INVALID;
        *dir_missed(entry) = change->version;
        dir_observe(dir, DPU_EVENT_INVALIDATE, change->page, change->version, 0, 0);
        if (gap) {
            dir->stats.resyncs++;
            dir_sync(dir, entry);
        }
        return;
    }
    uint8_t *memory = dir->world.page_memory(dir->world.ctx, change->page, false);
    assert(memory != NULL); /* a valid copy has memory */
    memcpy(memory + change->offset, change->data, change->data_length);
    entry->version = change->version;
    dir_observe(dir, DPU_EVENT_APPLY, change->page, change->version, 0, 0);
}

static void dir_prune(dir_t *dir, const msg_t *prune)
{
    pcache_entry_t *entry = pcache_find(dir->pages, prune->page);
    if (entry != NULL && entry->copy != PCACHE_COPY_MASTER) {
        if (entry->copy == PCACHE_COPY_VALID || entry->copy == PCACHE_COPY_INVALID) {
            entry->copy = PCACHE_COPY_NONE;
            dir->world.page_drop(dir->world.ctx, prune->page);
            dir_observe(dir, DPU_EVENT_DROP, prune->page, entry->version, 0, 0);
        }
        dir_entry_release(dir, entry);
    }
    msg_t ack = msg_make(MSG_PRUNE_ACK);
    ack.page = prune->page;
    ack.origin = dir->config.node;
    dir_route(dir, dir_home(prune->page), &ack);
}

/* This node owns the page now: it pins it if its ACQUIRE asked to, and
 * tells the manager (XFER_CONFIRM pinned, XFER_DONE free). */
static void dir_became_owner(dir_t *dir, uint32_t index, pcache_entry_t *master)
{
    ari_gva_t page = master->page;
    uint64_t version = master->version;
    bool pin = (dir->pending.items[index].flags & DPU_ACQUIRE_PIN) != 0;
    int status = ARI_OK;
    if (pin) {
        dir_page_t *rec = dir_page_find(dir, page, true);
        if (rec == NULL) { /* no memory to pin: the ACQUIRE fails, the page stays ours */
            pin = false;
            status = ARI_ENOMEM;
        } else if (!rec->pinned) {
            dir_pin(dir, rec);
        }
    }
    dpu_completion_t c = {.status = status, .version = version};
    dir_complete_at(dir, index, &c);
    dir_tell_manager(dir, pin ? MSG_XFER_CONFIRM : MSG_XFER_DONE, page, version);
}

/* XFER_DATA: the page, its version and its sharers arrive; this node is the
 * owner. */
static void dir_take_ownership(dir_t *dir, const msg_t *xfer)
{
    int64_t index = pending_find_seq(&dir->pending, xfer->seq, DPU_OP_READ);
    uint8_t op = index >= 0 ? dir->pending.items[index].op : 0;
    pcache_entry_t *entry = pcache_find(dir->pages, xfer->page);
    uint8_t *memory = entry != NULL && op == DPU_OP_ACQUIRE
                          ? dir->world.page_memory(dir->world.ctx, xfer->page, true)
                          : NULL;
    if (memory == NULL) { /* not ours to take (the entry is pinned by the ACQUIRE) */
        dir->stats.stray++;
        return;
    }
    memcpy(memory, xfer->data, xfer->data_length);
    entry->copy = PCACHE_COPY_MASTER;
    entry->version = xfer->version;
    dir->stats.transfers_in++;
    dir_observe_peer(dir, DPU_EVENT_OWNER_GAIN, xfer->page, xfer->version, xfer->origin, 0);
    dir_page_t *rec = xfer->seqs.count != 0 ? dir_page_find(dir, xfer->page, true) : NULL;
    for (uint32_t i = 0; rec != NULL && i < xfer->seqs.count; i++) {
        uint32_t sharer = msg_seqs_at(xfer->seqs, i).origin;
        if (sharer != dir->config.node && !dir_sharers_add(rec, sharer))
            break; /* out of memory: that sharer re-syncs on its next gap */
    }
    dir_complete_reads(dir, xfer->page, ARI_OK, xfer->version, false);
    index = pending_find_seq(&dir->pending, xfer->seq, DPU_OP_READ);
    dir_became_owner(dir, (uint32_t)index, entry);
}

/* GRANT: a semaphore or barrier answer, or ownership this node already had. */
static void dir_granted(dir_t *dir, const msg_t *grant)
{
    int64_t index = pending_find_seq(&dir->pending, grant->seq, DPU_OP_READ);
    if (grant->op != MSG_ACQ_OWN) {
        if (index < 0 || !dir_complete_seq(dir, grant->seq, ARI_OK, grant->version))
            dir->stats.stray++;
        return;
    }
    pcache_entry_t *master = pcache_find(dir->pages, grant->page);
    if (master == NULL || master->copy != PCACHE_COPY_MASTER || index < 0) {
        dir->stats.stray++;
        if (master != NULL && master->copy == PCACHE_COPY_MASTER)
            dir_tell_manager(dir, MSG_XFER_DONE, grant->page, master->version);
        return;
    }
    dir_became_owner(dir, (uint32_t)index, master);
}

static void dir_denied(dir_t *dir, const msg_t *deny)
{
    if (deny->op == MSG_DENY_REJECTED) {
        if (!dir_complete_seq(dir, deny->seq, ARI_EBUSY, 0))
            dir->stats.stray++;
    }
}

/* ------------------------------------------------------------------------
 * Receiving
 * ------------------------------------------------------------------------ */

/* An answer from the owner a page moved to can overtake the old owner's
 * UPDATEs to this node (two routes): a valid copy older than the answer
 * becomes invalid before the request completes, so that this node never
 * reads the page older than its own request saw it (read-your-writes; the
 * next read re-syncs). */
static void dir_answer_catch_up(dir_t *dir, const msg_t *answer)
{
    pcache_entry_t *entry = pcache_find(dir->pages, answer->page);
    if (answer->type == MSG_ERROR || entry == NULL || entry->copy != PCACHE_COPY_VALID ||
        entry->version >= answer->version)
        return;
    entry->copy = PCACHE_COPY_INVALID;
    if (answer->version > *dir_missed(entry))
        *dir_missed(entry) = answer->version;
    dir_observe(dir, DPU_EVENT_INVALIDATE, answer->page, answer->version, 0, 0);
}

/* WRITE_ACK, ATOMIC_RESULT, GET_DATA, ERROR: complete by seq. */
static void dir_answered(dir_t *dir, const msg_t *m)
{
    int64_t index = pending_find_seq(&dir->pending, m->seq, DPU_OP_READ);
    if (index >= 0) {
        dir_answer_catch_up(dir, m);
        dpu_completion_t c = {.status = m->type == MSG_ERROR ? m->status : ARI_OK,
                              .version = m->version, .value = m->arg0};
        if (m->type == MSG_GET_DATA) {
            c.data = m->data;
            c.length = m->data_length;
        }
        dir_complete_at(dir, (uint32_t)index, &c);
        return;
    }
    if (m->type == MSG_ERROR && (m->op == MSG_REF || m->op == MSG_SYNC)) {
        pcache_entry_t *entry = pcache_find(dir->pages, m->page);
        if (entry != NULL)
            entry->flags &= (uint8_t)~(PCACHE_REF_PENDING | PCACHE_SYNC_PENDING);
        dir_complete_reads(dir, m->page, m->status, 0, false);
        if ((entry = pcache_find(dir->pages, m->page)) != NULL)
            dir_entry_release(dir, entry);
        return;
    }
    dir->stats.stray++;
}

static void dir_deliver(dir_t *dir, const msg_t *m)
{
    bool home = dir_home(m->page) == dir->config.node;
    switch (m->type) {
    case MSG_REF: case MSG_SYNC: case MSG_WRITE: case MSG_ATOMIC: case MSG_GET:
    case MSG_UNREF: case MSG_PRUNE_ACK: case MSG_ACQ:
        if (home)
            dir_manage(dir, m);
        else
            dir_owner_serve(dir, m);
        return;
    case MSG_XFER_CONFIRM: case MSG_XFER_DONE:
        if (home)
            dir_manage(dir, m);
        else
            dir->stats.stray++;
        return;
    case MSG_XFER_DATA: dir_take_ownership(dir, m); return;
    case MSG_GRANT: dir_granted(dir, m); return;
    case MSG_DENY: dir_denied(dir, m); return;
    case MSG_REF_DATA: case MSG_SYNC_DATA: dir_install(dir, m); return;
    case MSG_UPDATE: case MSG_INVAL: dir_change(dir, m); return;
    case MSG_PRUNE:
        if (home && (m->flags & MSG_FLAG_NOACK))
            dir_manage_forget(dir, m->page);
        else
            dir_prune(dir, m);
        return;
    case MSG_WRITE_ACK: case MSG_ATOMIC_RESULT: case MSG_GET_DATA: case MSG_ERROR:
        dir_answered(dir, m);
        return;
    default:
        dir->stats.stray++;
        return;
    }
}

void dir_receive(dir_t *dir, const uint8_t *bytes, size_t length, uint64_t now_ns)
{
    dir->now_ns = now_ns;
    dir->stats.messages_in++;
    msg_t msg;
    size_t used;
    if (msg_decode(bytes, length, &msg, &used) != ARI_OK || used != length ||
        dir_home(msg.page) >= dir->config.topo->nodes) {
        dir->stats.malformed++;
        return;
    }
    dir_deliver(dir, &msg);
}

/* ------------------------------------------------------------------------
 * Host requests
 * ------------------------------------------------------------------------ */

static int dir_submit_read(dir_t *dir, const dpu_request_t *r)
{
    pcache_entry_t *entry = pcache_find(dir->pages, r->page);
    if (entry != NULL && (entry->copy == PCACHE_COPY_MASTER ||
                          (entry->copy == PCACHE_COPY_VALID && entry->version >= r->min_version))) {
        dpu_completion_t c = {.cookie = r->cookie, .op = DPU_OP_READ, .page = r->page,
                              .version = entry->version};
        dir->world.complete(dir->world.ctx, &c);
        return ARI_OK;
    }
    if (entry == NULL && (entry = dir_entry_insert(dir, r->page)) == NULL)
        return ARI_EBUSY;
    pending_t *p = dir_pending_add(dir, DPU_OP_READ, r->page, r->cookie);
    if (p == NULL) {
        dir_entry_release(dir, entry);
        return ARI_EBUSY;
    }
    p->min_version = r->min_version;
    if (entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING))
        return ARI_OK; /* merged */
    if (entry->copy == PCACHE_COPY_INVALID || entry->copy == PCACHE_COPY_VALID) {
        dir_sync(dir, entry); /* invalid, or older than the write notice */
        return ARI_OK;
    }
    entry->flags |= PCACHE_REF_PENDING;
    msg_t ref = msg_make(MSG_REF);
    ref.page = r->page;
    ref.count = 1;
    ref.origin = dir->config.node;
    ref.seq = dir->seq_next++;
    dir_route(dir, dir_home(r->page), &ref);
    return ARI_OK;
}

/* WRITE, ATOMIC, GET: to the owner through the home, or applied here when
 * this node owns the page and none of its earlier requests to it is still
 * on the way (they keep their order). */
static int dir_submit_ordered(dir_t *dir, const dpu_request_t *r)
{
    uint8_t *memory;
    bool local = dir_master(dir, r->page, &memory) != NULL &&
                 pending_newest_seq(&dir->pending, r->page, DPU_OP_READ) == 0;
    pending_t *p = dir_pending_add(dir, r->op, r->page, r->cookie);
    if (p == NULL)
        return ARI_EBUSY;
    p->seq = dir->seq_next++;
    msg_t m = msg_make(r->op == DPU_OP_WRITE ? MSG_WRITE
                       : r->op == DPU_OP_ATOMIC ? MSG_ATOMIC : MSG_GET);
    m.page = r->page;
    m.offset = r->offset;
    m.origin = dir->config.node;
    m.seq = p->seq;
    m.data = r->data;
    m.data_length = m.type == MSG_WRITE ? r->length : 0;
    m.length = m.type == MSG_GET ? r->length : 0;
    m.op = r->atomic_op;
    m.arg0 = r->arg0;
    m.arg1 = r->atomic_op == MSG_ATOMIC_CAS ? r->arg1 : 0;
    if (local)
        dir_owner_serve(dir, &m);
    else
        dir_route(dir, dir_home(r->page), &m);
    return ARI_OK;
}

static int dir_submit_create(dir_t *dir, const dpu_request_t *r)
{
    if (dir_home(r->page) != dir->config.node || pcache_find(dir->pages, r->page) != NULL ||
        dir_page_find(dir, r->page, false) != NULL)
        return ARI_EINVAL;
    pcache_entry_t *entry = dir_entry_insert(dir, r->page);
    if (entry == NULL)
        return ARI_EBUSY;
    if (dir->world.page_memory(dir->world.ctx, r->page, true) == NULL) {
        pcache_remove(dir->pages, entry);
        return ARI_ENOMEM;
    }
    entry->copy = PCACHE_COPY_MASTER;
    dpu_completion_t c = {.cookie = r->cookie, .op = DPU_OP_CREATE, .page = r->page};
    dir->world.complete(dir->world.ctx, &c);
    return ARI_OK;
}

static int dir_submit_unref(dir_t *dir, const dpu_request_t *r)
{
    pcache_entry_t *entry = pcache_find(dir->pages, r->page);
    if (entry != NULL && entry->copy == PCACHE_COPY_MASTER)
        return ARI_EINVAL;
    if (entry != NULL && entry->copy != PCACHE_COPY_NONE) {
        entry->copy = PCACHE_COPY_NONE;
        dir->world.page_drop(dir->world.ctx, r->page);
        dir_observe(dir, DPU_EVENT_DROP, r->page, entry->version, 0, 0);
        /* With a REF or SYNC on its way the data comes back and is a copy
         * again, so the owner must keep this node a sharer: no UNREF then. */
        if ((entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING)) == 0) {
            msg_t unref = msg_make(MSG_UNREF);
            unref.page = r->page;
            unref.origin = dir->config.node;
            dir_route(dir, dir_home(r->page), &unref);
        }
    }
    if (entry != NULL)
        dir_entry_release(dir, entry);
    dpu_completion_t c = {.cookie = r->cookie, .op = DPU_OP_UNREF, .page = r->page};
    dir->world.complete(dir->world.ctx, &c);
    return ARI_OK;
}

static int dir_submit_free(dir_t *dir, const dpu_request_t *r)
{
    pcache_entry_t *master = pcache_find(dir->pages, r->page);
    if (master == NULL || master->copy != PCACHE_COPY_MASTER)
        return ARI_EINVAL;
    if ((master->flags & PCACHE_FREEING) || dir_pending_add(dir, DPU_OP_FREE, r->page, r->cookie) == NULL)
        return ARI_EBUSY;
    master->flags |= PCACHE_FREEING;
    dir_page_t *rec = dir_page_find(dir, r->page, false);
    if (rec == NULL || rec->sharer_count == 0) {
        dir_owner_free_done(dir, master);
        return ARI_OK;
    }
    rec->prune_wait = rec->sharer_count;
    msg_t prune = msg_make(MSG_PRUNE);
    prune.page = r->page;
    prune.version = master->version;
    dir_fan_out(dir, r->page, &prune);
    return ARI_OK;
}

/* One arbiter request (ACQUIRE, SEM_WAIT, SEM_POST, BARRIER) per page. */
static bool dir_arbiter_pending(const dir_t *dir, ari_gva_t page)
{
    for (uint32_t i = 0; i < dir->pending.count; i++) {
        uint8_t op = dir->pending.items[i].op;
        if (gva_equal(dir->pending.items[i].page, page) &&
            (op == DPU_OP_ACQUIRE || op == DPU_OP_SEM_WAIT ||
             op == DPU_OP_SEM_POST || op == DPU_OP_BARRIER))
            return true;
    }
    return false;
}

/* ACQUIRE, SEM_WAIT, SEM_POST, BARRIER: an ACQ to the manager. An owner
 * asking for what it already has (ownership, or a pin it holds) is
 * answered at once. */
static int dir_submit_arbiter(dir_t *dir, const dpu_request_t *r)
{
    bool word = r->op != DPU_OP_ACQUIRE;
    if (word && (r->offset % 8 != 0 || (uint64_t)r->offset + 8 > gva_page_size(r->page) ||
                 (r->op == DPU_OP_BARRIER && (r->arg0 == 0 || r->arg0 > UINT32_MAX))))
        return ARI_EINVAL;
    bool pin = !word && (r->flags & DPU_ACQUIRE_PIN);
    uint8_t *memory;
    pcache_entry_t *entry = dir_master(dir, r->page, &memory);
    dir_page_t *rec = dir_page_find(dir, r->page, false);
    if (!word && entry != NULL && (!pin || (rec != NULL && rec->pinned))) {
        dpu_completion_t c = {.cookie = r->cookie, .op = r->op, .page = r->page,
                              .version = entry->version};
        dir->world.complete(dir->world.ctx, &c);
        return ARI_OK;
    }
    if (dir_arbiter_pending(dir, r->page))
        return ARI_EBUSY;
    if ((entry = pcache_find(dir->pages, r->page)) == NULL &&
        (entry = dir_entry_insert(dir, r->page)) == NULL)
        return ARI_EBUSY;
    pending_t *p = dir_pending_add(dir, (uint8_t)r->op, r->page, r->cookie);
    if (p == NULL) {
        dir_entry_release(dir, entry);
        return ARI_EBUSY;
    }
    p->seq = dir->seq_next++;
    p->flags = pin ? DPU_ACQUIRE_PIN : 0;
    msg_t acq = msg_make(MSG_ACQ);
    acq.page = r->page;
    acq.op = r->op == DPU_OP_ACQUIRE ? MSG_ACQ_OWN : r->op == DPU_OP_SEM_WAIT ? MSG_ACQ_SEM_WAIT
             : r->op == DPU_OP_SEM_POST ? MSG_ACQ_SEM_POST : MSG_ACQ_BARRIER;
    acq.origin = dir->config.node;
    acq.seq = p->seq;
    acq.timestamp = dir->now_ns;
    acq.priority = r->priority;
    acq.offset = word ? r->offset : 0;
    acq.count = r->op == DPU_OP_BARRIER ? (uint32_t)r->arg0 : 0;
    dir_route(dir, dir_home(r->page), &acq);
    return ARI_OK;
}

/* RELEASE: unpin; the manager hands the page on. */
static int dir_submit_release(dir_t *dir, const dpu_request_t *r)
{
    uint8_t *memory;
    pcache_entry_t *master = dir_master(dir, r->page, &memory);
    dir_page_t *rec = dir_page_find(dir, r->page, false);
    if (master == NULL || rec == NULL || !rec->pinned)
        return ARI_EINVAL;
    uint64_t version = master->version;
    dir_unpin(dir, rec);
    dir_page_settle(dir, r->page);
    dpu_completion_t c = {.cookie = r->cookie, .op = DPU_OP_RELEASE, .page = r->page,
                          .version = version};
    dir->world.complete(dir->world.ctx, &c);
    dir_tell_manager(dir, MSG_XFER_DONE, r->page, version);
    return ARI_OK;
}

int dir_submit(dir_t *dir, const dpu_request_t *r, uint64_t now_ns)
{
    dir->now_ns = now_ns;
    if (!gva_equal(r->page, gva_page(r->page)) || dir_home(r->page) >= dir->config.topo->nodes ||
        gva_page_size(r->page) > dir->config.page_bytes_max)
        return ARI_EINVAL;
    switch (r->op) {
    case DPU_OP_CREATE: return dir_submit_create(dir, r);
    case DPU_OP_READ: return dir_submit_read(dir, r);
    case DPU_OP_UNREF: return dir_submit_unref(dir, r);
    case DPU_OP_FREE: return dir_submit_free(dir, r);
    case DPU_OP_WRITE:
    case DPU_OP_ATOMIC:
    case DPU_OP_GET: return dir_submit_ordered(dir, r);
    case DPU_OP_ACQUIRE:
    case DPU_OP_SEM_WAIT:
    case DPU_OP_SEM_POST:
    case DPU_OP_BARRIER: return dir_submit_arbiter(dir, r);
    case DPU_OP_RELEASE: return dir_submit_release(dir, r);
    }
    return ARI_EINVAL;
}

/* ------------------------------------------------------------------------
 * Time: pins past their limit
 * ------------------------------------------------------------------------ */

uint64_t dir_deadline(const dir_t *dir)
{
    uint64_t deadline = UINT64_MAX;
    for (uint32_t i = 0; dir->pins > 0 && i < dir->records_capacity; i++) {
        const dir_page_t *rec = &dir->records[i];
        if (rec->used && rec->pinned && rec->pin_deadline_ns < deadline)
            deadline = rec->pin_deadline_ns;
    }
    return deadline;
}

/* A pin held too long is a host fault: reported, and ended as a RELEASE
 * would end it, so the queue moves on. */
uint64_t dir_tick(dir_t *dir, uint64_t now_ns)
{
    dir->now_ns = now_ns;
    ari_gva_t expired[DIR_TICK_PINS];
    uint32_t count = 0;
    for (uint32_t i = 0; dir->pins > 0 && i < dir->records_capacity && count < DIR_TICK_PINS; i++) {
        dir_page_t *rec = &dir->records[i];
        if (rec->used && rec->pinned && rec->pin_deadline_ns <= now_ns)
            expired[count++] = rec->page;
    }
    for (uint32_t i = 0; i < count; i++) {
        dir_page_t *rec = dir_page_find(dir, expired[i], false);
        pcache_entry_t *master = pcache_find(dir->pages, expired[i]);
        if (rec == NULL || !rec->pinned || master == NULL)
            continue;
        dir_unpin(dir, rec);
        dir->stats.pins_expired++;
        dir_observe(dir, DPU_EVENT_PIN_EXPIRED, expired[i], master->version, 0, 0);
        dir_page_settle(dir, expired[i]);
        dir_tell_manager(dir, MSG_XFER_DONE, expired[i], master->version);
    }
    return dir_deadline(dir);
}

/* ------------------------------------------------------------------------
 * Inspection
 * ------------------------------------------------------------------------ */

const dpu_stats_t *dir_stats(const dir_t *dir) { return &dir->stats; }
uint32_t dir_entries(const dir_t *dir) { return pcache_count(dir->pages); }
uint32_t dir_records(const dir_t *dir) { return dir->records_count; }

bool dir_pinned(const dir_t *dir, ari_gva_t page)
{
    dir_page_t *rec = dir_page_find((dir_t *)dir, page, false);
    return rec != NULL && rec->pinned;
}

bool dir_copy(dir_t *dir, ari_gva_t page, uint8_t *copy_out, uint64_t *version_out)
{
    pcache_entry_t *entry = pcache_find(dir->pages, page);
    if (entry == NULL)
        return false;
    *copy_out = entry->copy;
    *version_out = entry->version;
    return true;
}

typedef struct {
    void (*fn)(void *, ari_gva_t, uint8_t, uint64_t);
    void *ctx;
} dir_each_t;

static void dir_each_entry(void *ctx, pcache_entry_t *entry)
{
    dir_each_t *each = ctx;
    each->fn(each->ctx, entry->page, entry->copy, entry->version);
}

void dir_each(dir_t *dir, void (*fn)(void *ctx, ari_gva_t page, uint8_t copy, uint64_t version),
              void *ctx)
{
    dir_each_t each = {fn, ctx};
    pcache_each(dir->pages, dir_each_entry, &each);
}
