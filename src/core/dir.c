/*
 * dir — the home-based directory baseline (see dir.h for what it sends).
 *
 * Per node: a page table (the path cache's table, used as a plain map of
 * copy state and version) and, at a home, a sharer list per page. Sharer
 * lists grow as readers come: a directory's memory is its weakness, and
 * the simulator reports it (dir_sharer_bytes).
 */
#include "dir.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "gva.h"
#include "pcache.h"
#include "pending.h"

typedef struct {
    ari_gva_t page;
    uint32_t *nodes;
    uint32_t count, capacity;
    uint32_t prune_wait;  /* FREE: PRUNE_ACKs still to come */
    bool used;
} dir_sharers_t;


struct dir {
    dpu_config_t config;
    dpu_world_t world;
    pcache_t *pages;
    dir_sharers_t *sharers;     /* open addressing, sharers_capacity slots */
    uint32_t sharers_capacity, sharers_count;
    pending_table_t pending;
    msg_buffer_t scratch;
    uint64_t seq_next, now_ns;
    dpu_stats_t stats;
};

int dir_create(const dpu_config_t *config, const dpu_world_t *world, dir_t **dir_out)
{
    if (config->topo == NULL || config->node >= config->topo->nodes || world->send_to == NULL ||
        world->page_memory == NULL || world->page_drop == NULL || world->complete == NULL ||
        config->pending_max == 0)
        return ARI_EINVAL;
    dir_t *dir = calloc(1, sizeof *dir);
    if (dir == NULL)
        return ARI_ENOMEM;
    dir->config = *config;
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

void dir_destroy(dir_t *dir)
{
    if (dir == NULL)
        return;
    for (uint32_t i = 0; i < dir->sharers_capacity; i++)
        free(dir->sharers[i].nodes);
    free(dir->sharers);
    pending_table_fini(&dir->pending);
    pcache_destroy(dir->pages);
    msg_buffer_fini(&dir->scratch);
    free(dir);
}

const dpu_stats_t *dir_stats(const dir_t *dir) { return &dir->stats; }
uint32_t dir_entries(const dir_t *dir) { return pcache_count(dir->pages); }

static void dir_observe(dir_t *dir, dpu_event_kind_t kind, ari_gva_t page, uint64_t version,
                        uint32_t origin, uint64_t seq)
{
    if (dir->world.observe == NULL)
        return;
    dpu_event_t event = {.kind = kind, .node = dir->config.node, .page = page,
                         .version = version, .origin = origin, .seq = seq};
    dir->world.observe(dir->world.ctx, &event);
}

/* ------------------------------------------------------------------------
 * Sharer lists (at homes)
 * ------------------------------------------------------------------------ */

static dir_sharers_t *dir_sharers_find(dir_t *dir, ari_gva_t page, bool make)
{
    if (make && 2 * (dir->sharers_count + 1) > dir->sharers_capacity) {
        uint32_t capacity = dir->sharers_capacity ? 2 * dir->sharers_capacity : 8;
        dir_sharers_t *grown = calloc(capacity, sizeof *grown);
        if (grown == NULL)
            return NULL;
        for (uint32_t i = 0; i < dir->sharers_capacity; i++) {
            if (!dir->sharers[i].used)
                continue;
            uint32_t j = (uint32_t)gva_page_hash(dir->sharers[i].page) & (capacity - 1);
            while (grown[j].used)
                j = (j + 1) & (capacity - 1);
            grown[j] = dir->sharers[i];
        }
        free(dir->sharers);
        dir->sharers = grown;
        dir->sharers_capacity = capacity;
    }
    if (dir->sharers_capacity == 0)
        return NULL;
    uint32_t mask = dir->sharers_capacity - 1;
    for (uint32_t j = (uint32_t)gva_page_hash(page) & mask;; j = (j + 1) & mask) {
        dir_sharers_t *s = &dir->sharers[j];
        if (s->used && gva_equal(s->page, page))
            return s;
        if (!s->used) {
            if (!make)
                return NULL;
            *s = (dir_sharers_t){.page = page, .used = true};
            dir->sharers_count++;
            return s;
        }
    }
}

/* Removing from open addressing: re-insert the run after the hole. */
static void dir_sharers_forget(dir_t *dir, dir_sharers_t *s)
{
    free(s->nodes);
    memset(s, 0, sizeof *s);
    dir->sharers_count--;
    uint32_t mask = dir->sharers_capacity - 1;
    for (uint32_t j = (uint32_t)(s - dir->sharers + 1) & mask; dir->sharers[j].used;
         j = (j + 1) & mask) {
        dir_sharers_t moved = dir->sharers[j];
        memset(&dir->sharers[j], 0, sizeof moved);
        uint32_t k = (uint32_t)gva_page_hash(moved.page) & mask;
        while (dir->sharers[k].used)
            k = (k + 1) & mask;
        dir->sharers[k] = moved;
    }
}

static bool dir_sharers_add(dir_sharers_t *s, uint32_t node)
{
    for (uint32_t i = 0; i < s->count; i++) {
        if (s->nodes[i] == node)
            return true;
    }
    if (s->count == s->capacity) {
        uint32_t capacity = s->capacity ? 2 * s->capacity : 4;
        uint32_t *grown = realloc(s->nodes, capacity * sizeof *grown);
        if (grown == NULL)
            return false;
        s->nodes = grown;
        s->capacity = capacity;
    }
    s->nodes[s->count++] = node;
    return true;
}

static void dir_sharers_remove(dir_sharers_t *s, uint32_t node)
{
    for (uint32_t i = 0; i < s->count; i++) {
        if (s->nodes[i] == node) {
            s->nodes[i] = s->nodes[--s->count];
            return;
        }
    }
}

uint64_t dir_sharer_bytes(const dir_t *dir)
{
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < dir->sharers_capacity; i++)
        bytes += dir->sharers[i].used ? 4ull * dir->sharers[i].count : 0;
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

static void dir_complete_reads(dir_t *dir, ari_gva_t page, int status, uint64_t version)
{
    for (uint32_t i = 0; i < dir->pending.count;) {
        if (dir->pending.items[i].op == DPU_OP_READ && gva_equal(dir->pending.items[i].page, page)) {
            dpu_completion_t c = {.status = status, .version = version};
            dir_complete_at(dir, i, &c);
            continue;
        }
        i++;
    }
}

static pending_t *dir_pending_add(dir_t *dir, dpu_op_t op, ari_gva_t page, uint64_t cookie)
{
    return pending_add_pinned(&dir->pending, dir->pages, (uint8_t)op, page, cookie);
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

/* ------------------------------------------------------------------------
 * At the home
 * ------------------------------------------------------------------------ */

static msg_t dir_answer(msg_type_t type, const pcache_entry_t *master, const msg_t *request)
{
    msg_t answer = msg_make(type);
    answer.page = master->page;
    answer.version = master->version;
    answer.origin = request->origin;
    answer.seq = request->seq;
    return answer;
}

static void dir_fan_out(dir_t *dir, const pcache_entry_t *master, const msg_t *change)
{
    dir_sharers_t *s = dir_sharers_find(dir, master->page, false);
    for (uint32_t i = 0; s != NULL && i < s->count; i++)
        dir_send(dir, s->nodes[i], change);
}

static void dir_home_change(dir_t *dir, pcache_entry_t *master, const msg_t *request,
                            uint32_t offset, const uint8_t *bytes, uint32_t length)
{
    master->version++;
    dir_observe(dir, DPU_EVENT_ORDER, master->page, master->version, request->origin,
                request->seq);
    msg_t change = msg_make(length <= dir->config.update_max_bytes ? MSG_UPDATE : MSG_INVAL);
    change.page = master->page;
    change.version = master->version;
    if (change.type == MSG_UPDATE) {
        change.offset = offset;
        change.origin = request->origin;
        change.seq = request->seq;
        change.data = bytes;
        change.data_length = length;
    }
    dir_fan_out(dir, master, &change);
}

static void dir_home_atomic(dir_t *dir, pcache_entry_t *master, const msg_t *request,
                            uint8_t *memory)
{
    uint64_t old, value;
    if (dpu_atomic_execute(request->op, (uint64_t *)(void *)(memory + request->offset),
                           request->arg0, request->arg1, &old, &value)) {
        dir_home_change(dir, master, request, request->offset, (const uint8_t *)&value, 8);
    }
    dir->stats.atomics_ordered++;
    msg_t result = dir_answer(MSG_ATOMIC_RESULT, master, request);
    result.arg0 = old;
    dir_route(dir, request->origin, &result);
}

static void dir_home_error(dir_t *dir, const msg_t *request, int status)
{
    msg_t error = msg_make(MSG_ERROR);
    error.page = request->page;
    error.status = status;
    error.op = (uint8_t)request->type;
    error.origin = request->origin;
    error.seq = request->seq;
    dir_route(dir, request->origin, &error);
}

static void dir_home_serve(dir_t *dir, const msg_t *request)
{
    pcache_entry_t *master = pcache_find(dir->pages, request->page);
    uint8_t *memory = master != NULL && master->copy == PCACHE_COPY_MASTER &&
                              (master->flags & PCACHE_FREEING) == 0
                          ? dir->world.page_memory(dir->world.ctx, request->page, false)
                          : NULL;
    if (memory == NULL) {
        dir_home_error(dir, request, ARI_ENOENT);
        return;
    }
    if (request->type == MSG_REF || request->type == MSG_SYNC) {
        dir_sharers_t *s = dir_sharers_find(dir, request->page, true);
        if (s == NULL || !dir_sharers_add(s, request->origin)) {
            dir_home_error(dir, request, ARI_ENOMEM);
            return;
        }
        msg_t data = dir_answer(request->type == MSG_REF ? MSG_REF_DATA : MSG_SYNC_DATA,
                                master, request);
        data.data = memory;
        data.data_length = (uint32_t)gva_page_size(master->page);
        dir_route(dir, request->origin, &data);
    } else if (request->type == MSG_WRITE) {
        memcpy(memory + request->offset, request->data, request->data_length);
        dir_home_change(dir, master, request, request->offset, request->data,
                        request->data_length);
        dir->stats.writes_ordered++;
        msg_t ack = dir_answer(MSG_WRITE_ACK, master, request);
        dir_route(dir, request->origin, &ack);
    } else if (request->type == MSG_ATOMIC) {
        dir_home_atomic(dir, master, request, memory);
    } else {
        msg_t data = dir_answer(MSG_GET_DATA, master, request);
        data.offset = request->offset;
        data.data = memory + request->offset;
        data.data_length = request->length;
        dir_route(dir, request->origin, &data);
    }
}

static void dir_home_free_done(dir_t *dir, pcache_entry_t *master)
{
    ari_gva_t page = master->page;
    dir_sharers_t *s = dir_sharers_find(dir, page, false);
    if (s != NULL)
        dir_sharers_forget(dir, s);
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
}

/* ------------------------------------------------------------------------
 * At a replica
 * ------------------------------------------------------------------------ */

static void dir_install(dir_t *dir, const msg_t *data)
{
    pcache_entry_t *entry = pcache_find(dir->pages, data->page);
    if (entry == NULL) {
        dir->stats.stray++;
        return;
    }
    entry->flags &= (uint8_t)~(PCACHE_REF_PENDING | PCACHE_SYNC_PENDING);
    uint8_t *memory = dir->world.page_memory(dir->world.ctx, data->page, true);
    if (memory == NULL) {
        dir_complete_reads(dir, data->page, ARI_ENOMEM, 0);
        return;
    }
    memcpy(memory + data->offset, data->data, data->data_length);
    entry->copy = PCACHE_COPY_VALID;
    entry->version = data->version;
    dir_observe(dir, DPU_EVENT_INSTALL, data->page, data->version, 0, 0);
    dir_complete_reads(dir, data->page, ARI_OK, data->version);
}

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
    dir_route(dir, gva_machine(entry->page), &sync);
}

static void dir_change(dir_t *dir, const msg_t *change)
{
    pcache_entry_t *entry = pcache_find(dir->pages, change->page);
    if (entry == NULL || entry->copy != PCACHE_COPY_VALID || change->version <= entry->version)
        return; /* dropped meanwhile, invalid (it re-syncs), or old */
    if (change->type == MSG_INVAL || change->version != entry->version + 1) {
        bool gap = change->type == MSG_UPDATE;
        entry->copy = PCACHE_COPY_INVALID;
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
    dir_route(dir, gva_machine(prune->page), &ack);
}

/* ------------------------------------------------------------------------
 * Receiving
 * ------------------------------------------------------------------------ */

/* An answer to one of this node's requests. */
static void dir_deliver(dir_t *dir, const msg_t *m)
{
    switch (m->type) {
    case MSG_REF: case MSG_SYNC: case MSG_WRITE: case MSG_ATOMIC: case MSG_GET:
        dir_home_serve(dir, m);
        return;
    case MSG_REF_DATA: case MSG_SYNC_DATA:
        dir_install(dir, m);
        return;
    case MSG_UPDATE: case MSG_INVAL:
        dir_change(dir, m);
        return;
    case MSG_PRUNE:
        dir_prune(dir, m);
        return;
    case MSG_UNREF: {
        dir_sharers_t *s = dir_sharers_find(dir, m->page, false);
        if (s != NULL)
            dir_sharers_remove(s, m->origin);
        return;
    }
    case MSG_PRUNE_ACK: {
        pcache_entry_t *master = pcache_find(dir->pages, m->page);
        dir_sharers_t *s = dir_sharers_find(dir, m->page, false);
        if (master != NULL && (master->flags & PCACHE_FREEING) && s != NULL &&
            s->prune_wait > 0 && --s->prune_wait == 0)
            dir_home_free_done(dir, master);
        return;
    }
    default:
        break;
    }
    /* WRITE_ACK, ATOMIC_RESULT, GET_DATA, ERROR: complete by seq. */
    int64_t index = pending_find_seq(&dir->pending, m->seq, DPU_OP_READ);
    if (index >= 0) {
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
        dir_complete_reads(dir, m->page, m->status, 0);
        if ((entry = pcache_find(dir->pages, m->page)) != NULL)
            dir_entry_release(dir, entry);
        return;
    }
    dir->stats.stray++;
}

void dir_receive(dir_t *dir, const uint8_t *bytes, size_t length, uint64_t now_ns)
{
    dir->now_ns = now_ns;
    dir->stats.messages_in++;
    msg_t msg;
    size_t used;
    if (msg_decode(bytes, length, &msg, &used) != ARI_OK || used != length) {
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
    if (entry != NULL && (entry->copy == PCACHE_COPY_VALID || entry->copy == PCACHE_COPY_MASTER)) {
        dpu_completion_t c = {.cookie = r->cookie, .op = DPU_OP_READ, .page = r->page,
                              .version = entry->version};
        dir->world.complete(dir->world.ctx, &c);
        return ARI_OK;
    }
    if (entry == NULL && (entry = dir_entry_insert(dir, r->page)) == NULL)
        return ARI_EBUSY;
    if (dir_pending_add(dir, DPU_OP_READ, r->page, r->cookie) == NULL) {
        dir_entry_release(dir, entry);
        return ARI_EBUSY;
    }
    if (entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING))
        return ARI_OK; /* merged */
    if (entry->copy == PCACHE_COPY_INVALID) {
        dir_sync(dir, entry);
        return ARI_OK;
    }
    entry->flags |= PCACHE_REF_PENDING;
    msg_t ref = msg_make(MSG_REF);
    ref.page = r->page;
    ref.count = 1;
    ref.origin = dir->config.node;
    ref.seq = dir->seq_next++;
    dir_route(dir, gva_machine(r->page), &ref);
    return ARI_OK;
}

static int dir_submit_ordered(dir_t *dir, const dpu_request_t *r)
{
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
    dir_route(dir, gva_machine(r->page), &m);
    return ARI_OK;
}

static int dir_submit_create(dir_t *dir, const dpu_request_t *r)
{
    if (gva_machine(r->page) != dir->config.node || pcache_find(dir->pages, r->page) != NULL)
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
         * again, so the home must keep this node a sharer: no UNREF then. */
        if ((entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING)) == 0) {
            msg_t unref = msg_make(MSG_UNREF);
            unref.page = r->page;
            unref.origin = dir->config.node;
            dir_route(dir, gva_machine(r->page), &unref);
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
    dir_sharers_t *s = dir_sharers_find(dir, r->page, false);
    if (s == NULL || s->count == 0) {
        dir_home_free_done(dir, master);
        return ARI_OK;
    }
    s->prune_wait = s->count;
    msg_t prune = msg_make(MSG_PRUNE);
    prune.page = r->page;
    prune.version = master->version;
    dir_fan_out(dir, master, &prune);
    return ARI_OK;
}

int dir_submit(dir_t *dir, const dpu_request_t *r, uint64_t now_ns)
{
    dir->now_ns = now_ns;
    if (!gva_equal(r->page, gva_page(r->page)) || gva_machine(r->page) >= dir->config.topo->nodes ||
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
    case DPU_OP_RELEASE:
    case DPU_OP_SEM_WAIT:
    case DPU_OP_SEM_POST:
    case DPU_OP_BARRIER: return ARI_ENOTSUP;
    }
    return ARI_EINVAL;
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
