/*
 * dpu — the path-cache protocol (DESIGN §4) as one DPU's pure state machine.
 *
 * Reading guide. Requests (REF, SYNC, WRITE, ATOMIC, GET) travel toward the
 * owner: by up pointer once on the page's tree, else by static route to the
 * birth node; each forwarder appends itself to the hop list. Answers
 * (REF_DATA, SYNC_DATA, WRITE_ACK, ATOMIC_RESULT, GET_DATA, REF_FAIL, ERROR)
 * retrace that list backwards; an answer whose list is empty has reached
 * its origin. Changes (UPDATE, INVAL, PRUNE) flow down the tree's
 * downstream ports; UNREF and PRUNE_ACK flow up.
 *
 * Sections: state and helpers; entries; sending; requests toward the owner;
 * the owner; answers; changes down the tree; branches up the tree; host
 * requests; time.
 */
#include "dpu.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "dpu_impl.h"
#include "gva.h"

/* ------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------ */

void dpu_config_default(dpu_config_t *config)
{
    memset(config, 0, sizeof *config);
    config->pcache_capacity = 4096;
    config->pcache_ttl_ns = 1000000000ull; /* 1 s */
    config->update_max_bytes = 1024;
    config->hops_max = 64;
    config->pending_max = 256;
    config->origins_max = 1024;
    config->held_max = 256; /* a transfer can deliver a whole pipeline of one writer early */
    config->retries_max = 4;
    config->retry_ns = 100000;            /* 100 us */
    config->hold_ns = 10000000;           /* 10 ms */
    config->page_bytes_max = GVA_PAGE_SIZE;
    config->pin_ns_max = 100000000ull;        /* 100 ms (DESIGN §5) */
    config->acquire_timeout_ns = 10000000000ull; /* 10 s */
    config->own_hold_ns = 50000;                  /* 50 us: a woken thread's access */
    config->queue_max = 64;
    config->crumbs_max = 65536;
}

void dpu_observe(dpu_t *dpu, dpu_event_kind_t kind, ari_gva_t page, uint64_t version)
{
    if (dpu->world.observe == NULL)
        return;
    dpu_event_t event = {.kind = kind, .node = dpu->config.node, .page = page,
                         .version = version};
    dpu->world.observe(dpu->world.ctx, &event);
}

static int dpu_config_check(const dpu_config_t *c)
{
    if (c->topo == NULL || c->route == NULL || c->node >= c->topo->nodes)
        return ARI_EINVAL;
    if (topo_degree(c->topo, c->node) > PCACHE_PORTS_MAX || c->pcache_capacity == 0 ||
        c->hops_max == 0 || c->hops_max > MSG_HOPS_MAX || c->pending_max == 0 ||
        c->origins_max == 0 || c->held_max == 0 || c->pin_ns_max == 0 ||
        c->acquire_timeout_ns == 0 || c->queue_max == 0 || c->queue_max > MSG_QUEUE_MAX ||
        c->crumbs_max == 0 ||
        (c->page_bytes_max != GVA_PAGE_SIZE && c->page_bytes_max != GVA_HUGE_PAGE_SIZE))
        return ARI_EINVAL;
    return ARI_OK;
}

size_t dpu_scratch_size(const dpu_config_t *config)
{
    return MSG_HEADER_SIZE + DPU_FIELDS_BYTES + 4u * MSG_HOPS_MAX + config->page_bytes_max;
}

/* Most DPUs of a large simulation never own a page, hold a request or
 * send: what only some need is allocated on first use (a slow path). */
order_t *dpu_order(dpu_t *dpu)
{
    if (dpu->order == NULL &&
        order_create(dpu->config.origins_max, dpu->config.held_max, dpu->config.pcache_ttl_ns,
                     &dpu->order) != ARI_OK)
        return NULL;
    return dpu->order;
}

int dpu_create(const dpu_config_t *config, const dpu_world_t *world, dpu_t **dpu_out)
{
    int status = dpu_config_check(config);
    if (status != ARI_OK)
        return status;
    if (world->send == NULL || world->page_memory == NULL || world->page_drop == NULL ||
        world->complete == NULL)
        return ARI_EINVAL;
    dpu_t *dpu = calloc(1, sizeof *dpu);
    if (dpu == NULL)
        return ARI_ENOMEM;
    dpu->config = *config;
    dpu->world = *world;
    dpu->ports = topo_degree(config->topo, config->node);
    dpu->port_peer = &config->topo->neighbor[config->topo->offsets[config->node]];
    dpu->scratch = (msg_buffer_t){config->scratch, dpu_scratch_size(config), false};
    dpu->seq_next = 1;
    pending_table_init(&dpu->pending, config->pending_max);
    status = pcache_create(config->pcache_capacity, dpu->ports > 0 ? dpu->ports : 1,
                           config->pcache_ttl_ns, &dpu->pcache);
    if (status != ARI_OK) {
        dpu_destroy(dpu);
        return status;
    }
    *dpu_out = dpu;
    return ARI_OK;
}

void dpu_destroy(dpu_t *dpu)
{
    if (dpu == NULL)
        return;
    pcache_destroy(dpu->pcache);
    order_destroy(dpu->order);
    arbiter_destroy(dpu->arbiter);
    crumb_destroy(dpu->crumbs);
    free(dpu->xfer_tables);
    free(dpu->xfer_seqs);
    msg_buffer_fini(&dpu->scratch);
    pending_table_fini(&dpu->pending);
    free(dpu);
}

const dpu_stats_t *dpu_stats(const dpu_t *dpu) { return &dpu->stats; }
uint32_t dpu_node(const dpu_t *dpu) { return dpu->config.node; }
struct pcache *dpu_pcache(dpu_t *dpu) { return dpu->pcache; }
uint32_t dpu_pending(const dpu_t *dpu) { return dpu->pending.count; }

/* The port whose link leads to a neighbour, or -1. */
int dpu_port_to(const dpu_t *dpu, uint32_t node)
{
    for (uint32_t port = 0; port < dpu->ports; port++) {
        if (dpu->port_peer[port] == node)
            return (int)port;
    }
    return -1;
}

/* Copies bytes into page memory with aligned 8-byte stores, merging the
 * partial words at the edges, so a concurrent reader never sees an aligned
 * u64 torn (DESIGN §4). */
void dpu_copy_words(uint8_t *page, uint32_t offset, const uint8_t *src, uint32_t length)
{
    uint32_t end = offset + length;
    for (uint32_t word = offset & ~7u; word < end; word += 8) {
        uint64_t value;
        uint32_t from = word < offset ? offset : word;
        uint32_t to = word + 8 < end ? word + 8 : end;
        if (from == word && to == word + 8) {
            memcpy(&value, src + (word - offset), 8);
        } else {
            value = __atomic_load_n((uint64_t *)(void *)(page + word), __ATOMIC_RELAXED);
            memcpy((uint8_t *)&value + (from - word), src + (from - offset), to - from);
        }
        __atomic_store_n((uint64_t *)(void *)(page + word), value, __ATOMIC_RELAXED);
    }
}

void dpu_page_write(dpu_t *dpu, ari_gva_t page, uint8_t *memory, uint32_t offset,
                    const uint8_t *bytes, uint32_t length)
{
    if (dpu->world.page_write != NULL)
        dpu->world.page_write(dpu->world.ctx, page, memory, offset, bytes, length);
    else
        dpu_copy_words(memory, offset, bytes, length);
}

typedef struct {
    dpu_t *dpu;
    ari_gva_t page;
    uint8_t *memory;
} dpu_run_target_t;

static void dpu_write_run(void *ctx, uint32_t offset, const uint8_t *bytes, uint32_t length)
{
    dpu_run_target_t *t = ctx;
    dpu_page_write(t->dpu, t->page, t->memory, offset, bytes, length);
}

/* Applies a WRITE's or UPDATE's data: one range, or a diff's runs. */
static void dpu_write_data(dpu_t *dpu, uint8_t *memory, const msg_t *msg)
{
    if (msg->flags & MSG_FLAG_DIFF) {
        dpu_run_target_t t = {dpu, msg->page, memory};
        diff_each(msg->data, msg->data_length, dpu_write_run, &t);
    } else {
        dpu_page_write(dpu, msg->page, memory, msg->offset, msg->data, msg->data_length);
    }
}

/* ------------------------------------------------------------------------
 * Pending host requests
 * ------------------------------------------------------------------------ */

pending_t *dpu_pending_add(dpu_t *dpu, dpu_op_t op, ari_gva_t page, uint64_t cookie)
{
    return pending_add_pinned(&dpu->pending, dpu->pcache, (uint8_t)op, page, cookie);
}

void dpu_entry_release(dpu_t *dpu, pcache_entry_t *entry);

/* Completes and removes pending[index]. */
void dpu_pending_complete(dpu_t *dpu, uint32_t index, dpu_completion_t *completion)
{
    pending_t p = pending_remove_pinned(&dpu->pending, dpu->pcache, index);
    completion->cookie = p.cookie;
    completion->op = (dpu_op_t)p.op;
    completion->page = p.page;
    if (!p.silent)
        dpu->world.complete(dpu->world.ctx, completion);
    /* The host may have dropped its copy while this was outstanding. */
    pcache_entry_t *entry = pcache_find(dpu->pcache, p.page);
    if (entry != NULL)
        dpu_entry_release(dpu, entry);
}

static void dpu_sync(dpu_t *dpu, pcache_entry_t *entry, uint64_t now_ns);

static bool dpu_reads_waiting(const dpu_t *dpu, ari_gva_t page)
{
    for (uint32_t i = 0; i < dpu->pending.count; i++) {
        if (dpu->pending.items[i].op == DPU_OP_READ && gva_equal(dpu->pending.items[i].page, page))
            return true;
    }
    return false;
}

/* Completes every READ waiting on a page, but for those that asked for a
 * later version than `version` (a write notice): true if any such remain. */
static bool dpu_pending_complete_reads_at(dpu_t *dpu, ari_gva_t page, int status,
                                          uint64_t version)
{
    bool later = false;
    for (uint32_t i = 0; i < dpu->pending.count;) {
        pending_t *p = &dpu->pending.items[i];
        if (p->op == DPU_OP_READ && gva_equal(p->page, page) && status == ARI_OK &&
            p->min_version > version) {
            later = true;
            i++;
            continue;
        }
        if (p->op == DPU_OP_READ && gva_equal(p->page, page)) {
            dpu_completion_t c = {.status = status, .version = version};
            dpu_pending_complete(dpu, i, &c);
            continue; /* the slot now holds another request */
        }
        i++;
    }
    return later;
}

void dpu_pending_complete_reads(dpu_t *dpu, ari_gva_t page, int status, uint64_t version)
{
    (void)dpu_pending_complete_reads_at(dpu, page, status, version);
}

/* ------------------------------------------------------------------------
 * Sending
 * ------------------------------------------------------------------------ */

static void dpu_send_bytes(dpu_t *dpu, uint32_t port, const uint8_t *bytes, size_t length)
{
    assert(port < dpu->ports);
    dpu->stats.messages_out++;
    dpu->stats.bytes_out += length;
    dpu->world.send(dpu->world.ctx, port, bytes, length);
}

static size_t dpu_encode(dpu_t *dpu, const msg_t *msg)
{
    return msg_buffer_encode(&dpu->scratch, msg);
}

void dpu_send(dpu_t *dpu, uint32_t port, const msg_t *msg)
{
    size_t length = dpu_encode(dpu, msg);
    dpu_send_bytes(dpu, port, dpu->scratch.bytes, length);
}

/* Sends one message to every port of a set. */
void dpu_send_ports(dpu_t *dpu, uint64_t ports, const msg_t *msg)
{
    if (ports == 0)
        return;
    size_t length = dpu_encode(dpu, msg);
    for (uint32_t port = 0; ports != 0; port++, ports >>= 1) {
        if (ports & 1u)
            dpu_send_bytes(dpu, port, dpu->scratch.bytes, length);
    }
}

void dpu_stray(dpu_t *dpu, msg_type_t type, ari_gva_t page)
{
    dpu->stats.stray++;
    if (dpu->world.observe != NULL) {
        dpu_event_t event = {.kind = DPU_EVENT_STRAY, .node = dpu->config.node, .page = page,
                             .type = type};
        dpu->world.observe(dpu->world.ctx, &event);
    }
}

static void dpu_deliver(dpu_t *dpu, const msg_t *answer);

/* Sends an answer one hop back along its list, or delivers it here when
 * the list is used up (this node is the origin). */
void dpu_retrace(dpu_t *dpu, msg_t *answer)
{
    if (answer->hops.count == 0) {
        dpu_deliver(dpu, answer);
        return;
    }
    uint32_t next = msg_hops_at(answer->hops, answer->hops.count - 1);
    int port = dpu_port_to(dpu, next);
    if (port < 0) {
        dpu_stray(dpu, answer->type, answer->page);
        return;
    }
    answer->hops.count--;
    dpu_send(dpu, (uint32_t)port, answer);
}

/* An ERROR answer to a request, back along the request's hops. */
void dpu_answer_error(dpu_t *dpu, const msg_t *request, int status)
{
    msg_t error = msg_make(MSG_ERROR);
    error.page = request->page;
    error.status = status;
    error.op = (uint8_t)request->type;
    error.origin = request->origin;
    error.seq = request->seq;
    error.hops = request->hops;
    dpu_retrace(dpu, &error);
}

/* ------------------------------------------------------------------------
 * Entries
 * ------------------------------------------------------------------------ */

/* Drops this node's copy of a page, if it has one (not the master). */
void dpu_entry_drop_copy(dpu_t *dpu, pcache_entry_t *entry)
{
    if (entry->copy != PCACHE_COPY_VALID && entry->copy != PCACHE_COPY_INVALID)
        return;
    entry->copy = PCACHE_COPY_NONE;
    dpu->world.page_drop(dpu->world.ctx, entry->page);
    dpu_observe(dpu, DPU_EVENT_DROP, entry->page, entry->version);
}

void dpu_send_unref(dpu_t *dpu, pcache_entry_t *entry)
{
    if ((entry->flags & PCACHE_ON_TREE) == 0 || entry->up < 0)
        return;
    msg_t unref = msg_make(MSG_UNREF);
    unref.page = entry->page;
    unref.generation = entry->up_generation;
    unref.origin = dpu->config.node;
    dpu_send(dpu, (uint32_t)entry->up, &unref);
}

/* Deletes an entry that holds nothing any more, releasing its branch up
 * the tree (DESIGN §4: an entry with no downstream left is deleted and the
 * UNREF goes on up). */
void dpu_entry_release(dpu_t *dpu, pcache_entry_t *entry)
{
    const uint8_t busy = PCACHE_ANCHOR | PCACHE_FREEING | PCACHE_REF_PENDING |
                         PCACHE_SYNC_PENDING;
    if (entry->down != 0 || entry->copy != PCACHE_COPY_NONE || entry->pending != 0 ||
        (entry->flags & busy) != 0)
        return;
    dpu_send_unref(dpu, entry);
    pcache_remove(dpu->pcache, entry);
}

/* Evicts an entry under capacity pressure: the subtree below is pruned
 * (without acknowledgements), this node's copy dropped, the branch above
 * released. */
static void dpu_entry_evict(dpu_t *dpu, pcache_entry_t *entry)
{
    assert(pcache_entry_evictable(entry));
    msg_t prune = msg_make(MSG_PRUNE);
    prune.flags = MSG_FLAG_NOACK;
    prune.page = entry->page;
    prune.version = entry->version;
    dpu_send_ports(dpu, entry->down, &prune);
    dpu_entry_drop_copy(dpu, entry);
    dpu_send_unref(dpu, entry);
    dpu->stats.evictions++;
    dpu_observe(dpu, DPU_EVENT_EVICT, entry->page, entry->version);
    pcache_remove(dpu->pcache, entry);
}

/* A new entry, evicting the coldest evictable one if the table is full;
 * NULL if there is no room even so. */
pcache_entry_t *dpu_entry_insert(dpu_t *dpu, ari_gva_t page, uint64_t now_ns)
{
    pcache_entry_t *entry = pcache_insert(dpu->pcache, page, now_ns);
    if (entry == NULL) {
        pcache_entry_t *victim = pcache_victim(dpu->pcache, DPU_VICTIM_SCAN);
        if (victim == NULL)
            return NULL;
        dpu_entry_evict(dpu, victim);
        entry = pcache_insert(dpu->pcache, page, now_ns);
        assert(entry != NULL);
    }
    pending_pin_new_entry(&dpu->pending, entry);
    return entry;
}

/* ------------------------------------------------------------------------
 * Requests toward the owner
 * ------------------------------------------------------------------------ */

#define DPU_HERE (-1)

/* Where a request for a page goes from here: DPU_HERE when this node owns
 * it, a port, or ARI_ENOENT when the page does not exist. */
static int dpu_next_port(dpu_t *dpu, const pcache_entry_t *entry, ari_gva_t page, bool run)
{
    if (entry != NULL && entry->copy == PCACHE_COPY_MASTER)
        return DPU_HERE;
    if (!run && entry != NULL && (entry->flags & PCACHE_ON_TREE) && entry->up >= 0)
        return entry->up;
    uint32_t birth = gva_machine(page);
    if (birth == dpu->config.node || birth >= dpu->config.topo->nodes)
        return ARI_ENOENT; /* born here and gone, or born nowhere */
    int port = route_next_port(dpu->config.route, dpu->config.node, birth);
    assert(port >= 0 && (uint32_t)port < dpu->ports);
    return port;
}

static void dpu_owner_serve(dpu_t *dpu, pcache_entry_t *master, msg_t *request,
                            uint32_t from, const uint8_t *bytes, size_t length, uint64_t now_ns);
static void dpu_send_page(dpu_t *dpu, pcache_entry_t *entry, const msg_t *request,
                          uint32_t from, msg_type_t type, const uint8_t *memory);
static void dpu_join_answer(dpu_t *dpu, pcache_entry_t *entry, msg_t *ref, uint32_t from);

/* A request that finds this DPU already in its hops looped (it chased an
 * owner that moved, or a route turned): the loop is cut here, so answers
 * retrace a simple path, and it continues as if it had come from the hop
 * before; if it is our own, as if from our host. */
static void dpu_request_cut_loop(dpu_t *dpu, msg_t *request, uint32_t *from,
                                 const uint8_t **bytes)
{
    int64_t here = msg_hops_find(request->hops, dpu->config.node);
    if (here < 0)
        return;
    request->hops.count = (uint32_t)here;
    *bytes = NULL; /* a held copy must be the cut one */
    if (here == 0) {
        *from = DPU_FROM_HOST;
        return;
    }
    int back = dpu_port_to(dpu, msg_hops_at(request->hops, (uint32_t)here - 1));
    if (back >= 0)
        *from = (uint32_t)back;
}

/* Moves a request one step toward the owner, or serves it here. `from` is
 * the port it came in on (DPU_FROM_HOST for this node's own). */
void dpu_request(dpu_t *dpu, msg_t *request, uint32_t from, const uint8_t *bytes,
                        size_t length, uint64_t now_ns)
{
    if (from != DPU_FROM_HOST)
        dpu_request_cut_loop(dpu, request, &from, &bytes);
    pcache_entry_t *entry = pcache_find(dpu->pcache, request->page);
    bool run = request->type == MSG_REF && request->count > 1;
    if (entry != NULL) {
        pcache_touch(dpu->pcache, entry, now_ns);
        if (request->type == MSG_ACQ)
            entry->flags |= PCACHE_STRICT; /* a transfer or a waiter will rely on it */
    }
    int port = dpu_next_port(dpu, entry, request->page, run);
    if (port == DPU_HERE) {
        dpu_owner_serve(dpu, entry, request, from, bytes, length, now_ns);
        return;
    }
    if (port < 0) {
        dpu_answer_error(dpu, request, port);
        return;
    }
    /* A REF that meets a valid replica already on the tree joins there and
     * is answered from it: updates after this point pass through here. */
    /* Only from below: an ownership transfer may have turned this entry's
     * up toward the requester, and joining there would make a cycle. */
    bool from_below = from != DPU_FROM_HOST && entry != NULL && (int)from != entry->up;
    if (request->type == MSG_REF && !run && from_below &&
        entry->copy == PCACHE_COPY_VALID && (entry->flags & PCACHE_FREEING) == 0 &&
        (request->flags & MSG_FLAG_NODATA) == 0) {
        dpu_join_answer(dpu, entry, request, from);
        return;
    }
    /* A REF that only builds a path joins at the first entry on the tree. */
    if (request->type == MSG_REF && (request->flags & MSG_FLAG_NODATA) && from_below &&
        (entry->flags & PCACHE_ON_TREE) && (entry->flags & PCACHE_FREEING) == 0) {
        dpu_send_page(dpu, entry, request, from, MSG_REF_DATA, NULL);
        return;
    }
    /* A REF's path is bounded by 2 x diameter (it retries past it, DESIGN
     * §4). Other requests follow the tree, which ownership transfers may
     * have made deeper than that; loops are cut, so their path is simple
     * and only the wire bounds it. */
    uint32_t bound = request->type == MSG_REF ? dpu->config.hops_max : MSG_HOPS_MAX - 1;
    if (request->hops.count + 1 > bound) {
        dpu_answer_error(dpu, request, ARI_ELOOP);
        return;
    }
    request->hop_push = dpu->config.node;
    dpu_send(dpu, (uint32_t)port, request);
}

/* ------------------------------------------------------------------------
 * The owner
 * ------------------------------------------------------------------------ */

/* Data for a REF or SYNC, sent down the port it came from (stamping that
 * port with a new generation as the data passes) or delivered here. */
static void dpu_send_page(dpu_t *dpu, pcache_entry_t *entry, const msg_t *request,
                          uint32_t from, msg_type_t type, const uint8_t *memory)
{
    msg_t data = msg_make(type);
    data.page = entry->page;
    data.version = entry->version;
    data.data = memory;
    data.data_length = memory != NULL ? (uint32_t)gva_page_size(entry->page) : 0;
    if (memory == NULL)
        data.flags = MSG_FLAG_NODATA; /* the path only */
    data.hops = request->hops;
    if (from == DPU_FROM_HOST) {
        dpu_retrace(dpu, &data);
        return;
    }
    if (data.hops.count == 0) {
        dpu_stray(dpu, request->type, request->page); /* a request must name its origin */
        return;
    }
    data.generation = pcache_port_stamp(dpu->pcache, entry, from);
    data.hops.count--; /* the last hop is the neighbour on `from` */
    dpu_send(dpu, from, &data);
}

static void dpu_join_answer(dpu_t *dpu, pcache_entry_t *entry, msg_t *ref, uint32_t from)
{
    uint8_t *memory = dpu->world.page_memory(dpu->world.ctx, entry->page, false);
    if (memory == NULL) {
        dpu_answer_error(dpu, ref, ARI_ENOMEM);
        return;
    }
    dpu_send_page(dpu, entry, ref, from, MSG_REF_DATA, memory);
}

/* Serves every page of a read-ahead run that this node owns. */
static void dpu_owner_serve_run(dpu_t *dpu, msg_t *ref, uint32_t from)
{
    uint64_t page_size = gva_page_size(ref->page);
    for (uint32_t i = 0; i < ref->count; i++) {
        msg_t one = *ref;
        one.page.lo = ref->page.lo + i * page_size;
        one.count = 1;
        pcache_entry_t *entry = pcache_find(dpu->pcache, one.page);
        uint8_t *memory = entry != NULL && entry->copy == PCACHE_COPY_MASTER &&
                                  (entry->flags & PCACHE_FREEING) == 0
                              ? dpu->world.page_memory(dpu->world.ctx, one.page, false)
                              : NULL;
        if (memory == NULL)
            dpu_answer_error(dpu, &one, ARI_ENOENT);
        else
            dpu_send_page(dpu, entry, &one, from, MSG_REF_DATA, memory);
    }
}

/* Sends a change down every branch: UPDATE when small, INVAL when large. */
static void dpu_propagate(dpu_t *dpu, pcache_entry_t *master, const msg_t *write,
                          uint32_t offset, const uint8_t *bytes, uint32_t length)
{
    msg_t change = msg_make(length <= dpu->config.update_max_bytes ? MSG_UPDATE : MSG_INVAL);
    change.page = master->page;
    change.version = master->version;
    if (change.type == MSG_UPDATE) {
        change.flags = write->type == MSG_WRITE ? (uint16_t)(write->flags & MSG_FLAG_DIFF) : 0;
        change.offset = offset;
        change.origin = write->origin;
        change.seq = write->seq;
        change.data = bytes;
        change.data_length = length;
    }
    dpu_send_ports(dpu, master->down, &change);
}

/* An answer from the owner to a request, carrying the page's version and
 * retracing the request's hops. */
static msg_t dpu_owner_answer(msg_type_t type, const pcache_entry_t *master, const msg_t *request)
{
    msg_t answer = msg_make(type);
    answer.page = master->page;
    answer.version = master->version;
    answer.origin = request->origin;
    answer.seq = request->seq;
    answer.hops = request->hops;
    return answer;
}

/* Records that a request was served, for its origin's later ones. */
static void dpu_owner_served(dpu_t *dpu, const pcache_entry_t *master, const msg_t *request,
                             uint64_t now_ns)
{
    int status = order_applied(dpu_order(dpu), master->page, request->origin, request->seq, now_ns);
    assert(status == ARI_OK); /* room was checked before serving */
    (void)status;
}

static void dpu_owner_ordered(dpu_t *dpu, pcache_entry_t *master, const msg_t *request,
                              uint64_t now_ns)
{
    master->version++;
    dpu_owner_served(dpu, master, request, now_ns);
    if (dpu->world.observe != NULL) {
        dpu_event_t event = {.kind = DPU_EVENT_ORDER, .node = dpu->config.node,
                             .page = master->page, .version = master->version,
                             .origin = request->origin, .seq = request->seq};
        dpu->world.observe(dpu->world.ctx, &event);
    }
}

static void dpu_owner_write(dpu_t *dpu, pcache_entry_t *master, msg_t *write, uint8_t *memory,
                            uint64_t now_ns)
{
    dpu_write_data(dpu, memory, write);
    dpu_owner_ordered(dpu, master, write, now_ns);
    dpu->stats.writes_ordered++;
    dpu_propagate(dpu, master, write, write->offset, write->data, write->data_length);
    msg_t ack = dpu_owner_answer(MSG_WRITE_ACK, master, write);
    dpu_retrace(dpu, &ack);
}

bool dpu_atomic_execute(uint8_t op, uint64_t *word, uint64_t arg0, uint64_t arg1,
                        uint64_t *old_out, uint64_t *new_out)
{
    uint64_t old = __atomic_load_n(word, __ATOMIC_RELAXED), value;
    bool changes = true;
    switch (op) {
    case MSG_ATOMIC_CAS: changes = old == arg0; value = arg1; break;
    case MSG_ATOMIC_FETCH_ADD: value = old + arg0; break;
    default: value = arg0; break; /* swap; msg_check allows no other op */
    }
    if (changes)
        __atomic_store_n(word, value, __ATOMIC_RELAXED);
    *old_out = old;
    *new_out = value;
    return changes;
}

/* Executes an atomic on the master's aligned u64. A CAS that fails
 * changes nothing and takes no version. */
static void dpu_owner_atomic(dpu_t *dpu, pcache_entry_t *master, msg_t *atomic,
                             uint8_t *memory, uint64_t now_ns)
{
    /* Executed on a copy of the word, then written like any other data,
     * so a host's twin of the page learns it too. */
    uint64_t word = __atomic_load_n((uint64_t *)(void *)(memory + atomic->offset),
                                    __ATOMIC_RELAXED);
    uint64_t old, value;
    if (dpu_atomic_execute(atomic->op, &word, atomic->arg0, atomic->arg1, &old, &value)) {
        dpu_page_write(dpu, master->page, memory, atomic->offset, (const uint8_t *)&value, 8);
        dpu_owner_ordered(dpu, master, atomic, now_ns);
        dpu_propagate(dpu, master, atomic, atomic->offset, (const uint8_t *)&value, 8);
    } else {
        dpu_owner_served(dpu, master, atomic, now_ns);
    }
    dpu->stats.atomics_ordered++;
    msg_t result = dpu_owner_answer(MSG_ATOMIC_RESULT, master, atomic);
    result.arg0 = old;
    dpu_retrace(dpu, &result);
}

static void dpu_owner_get(dpu_t *dpu, pcache_entry_t *master, msg_t *get, uint8_t *memory,
                          uint64_t now_ns)
{
    dpu_owner_served(dpu, master, get, now_ns);
    msg_t data = dpu_owner_answer(MSG_GET_DATA, master, get);
    data.offset = get->offset;
    data.data = memory + get->offset;
    data.data_length = get->length;
    dpu_retrace(dpu, &data);
}

/* A WRITE, ATOMIC or GET: applied in its origin's order, or held until its
 * predecessor has been applied (bounded), or refused as busy. */
static void dpu_owner_ordered_request(dpu_t *dpu, pcache_entry_t *master, msg_t *request,
                                      uint32_t from, const uint8_t *bytes, size_t length,
                                      uint8_t *memory, uint64_t now_ns)
{
    order_t *order = dpu_order(dpu);
    if (order == NULL) {
        dpu_answer_error(dpu, request, ARI_ENOMEM);
        return;
    }
    if (!order_ready(order, master->page, request->origin, request->prev)) {
        if (bytes == NULL) { /* this node's own request: hold its encoding */
            length = dpu_encode(dpu, request);
            bytes = dpu->scratch.bytes;
        }
        int status = order_hold(order, master->page, request->origin, request->prev, from,
                                bytes, length, now_ns + dpu->config.hold_ns);
        if (status != ARI_OK)
            dpu_answer_error(dpu, request, status);
        else
            dpu->stats.held_early++;
        return;
    }
    if (!order_has_room(order, master->page, request->origin, now_ns)) {
        dpu_answer_error(dpu, request, ARI_EBUSY);
        return;
    }
    if (request->type == MSG_WRITE)
        dpu_owner_write(dpu, master, request, memory, now_ns);
    else if (request->type == MSG_ATOMIC)
        dpu_owner_atomic(dpu, master, request, memory, now_ns);
    else
        dpu_owner_get(dpu, master, request, memory, now_ns);
}

static void dpu_owner_serve(dpu_t *dpu, pcache_entry_t *master, msg_t *request,
                            uint32_t from, const uint8_t *bytes, size_t length, uint64_t now_ns)
{
    if (request->type == MSG_REF && request->count > 1) {
        dpu_owner_serve_run(dpu, request, from);
        return;
    }
    uint8_t *memory = dpu->world.page_memory(dpu->world.ctx, master->page, false);
    if ((master->flags & PCACHE_FREEING) || memory == NULL) {
        dpu_answer_error(dpu, request, memory == NULL ? ARI_ENOMEM : ARI_ENOENT);
        return;
    }
    switch (request->type) {
    case MSG_REF:
    case MSG_SYNC:
        if (from == DPU_FROM_HOST) { /* our own, come back: we own the page now */
            master->flags &= (uint8_t)~(PCACHE_REF_PENDING | PCACHE_SYNC_PENDING);
            dpu_pending_complete_reads(dpu, master->page, ARI_OK, master->version);
            own_joined(dpu, master);
            break;
        }
        dpu_send_page(dpu, master, request, from,
                      request->type == MSG_REF ? MSG_REF_DATA : MSG_SYNC_DATA,
                      request->flags & MSG_FLAG_NODATA ? NULL : memory);
        break;
    case MSG_ACQ:
    case MSG_CANCEL:
        own_owner_receive(dpu, master, request, from);
        break;
    default:
        dpu_owner_ordered_request(dpu, master, request, from, bytes, length, memory, now_ns);
        break;
    }
}

/* ------------------------------------------------------------------------
 * Answers
 * ------------------------------------------------------------------------ */

/* Installs whole-page data into this node's replica and wakes its readers. */
static void dpu_install(dpu_t *dpu, pcache_entry_t *entry, const msg_t *data)
{
    entry->flags &= (uint8_t)~(PCACHE_REF_PENDING | PCACHE_SYNC_PENDING);
    if (data->flags & MSG_FLAG_NODATA) {
        /* On the tree now, without a copy: the ACQs that waited go, and
         * reads merged with this REF ask again for data. */
        own_joined(dpu, entry);
        entry = pcache_find(dpu->pcache, data->page);
        if (entry != NULL && entry->copy == PCACHE_COPY_NONE &&
            dpu_reads_waiting(dpu, data->page)) {
            entry->flags |= PCACHE_REF_PENDING;
            dpu_send_ref(dpu, data->page, 1, dpu->now_ns);
        }
        return;
    }
    uint8_t *memory = dpu->world.page_memory(dpu->world.ctx, entry->page, true);
    if (memory == NULL) {
        /* Completing the reads may release the entry already: look again. */
        dpu_pending_complete_reads(dpu, data->page, ARI_ENOMEM, 0);
        entry = pcache_find(dpu->pcache, data->page);
        if (entry != NULL)
            dpu_entry_release(dpu, entry);
        return;
    }
    dpu_page_write(dpu, entry->page, memory, data->offset, data->data, data->data_length);
    entry->copy = PCACHE_COPY_VALID;
    entry->version = data->version;
    dpu_observe(dpu, DPU_EVENT_INSTALL, entry->page, entry->version);
    bool later = dpu_pending_complete_reads_at(dpu, entry->page, ARI_OK, entry->version);
    entry = pcache_find(dpu->pcache, data->page);
    if (later && entry != NULL && entry->copy == PCACHE_COPY_VALID)
        dpu_sync(dpu, entry, dpu->now_ns); /* a write notice names a later version */
    if (entry != NULL)
        own_joined(dpu, entry);
}

/* No room for an entry: the data becomes REF_FAIL for the requester and
 * the port the parent stamped is released (DESIGN §4). */
static void dpu_ref_fail(dpu_t *dpu, msg_t *data, uint32_t from)
{
    dpu->stats.ref_fails++;
    dpu_observe(dpu, DPU_EVENT_REF_FAIL, data->page, data->version);
    msg_t unref = msg_make(MSG_UNREF);
    unref.page = data->page;
    unref.generation = data->generation;
    unref.origin = dpu->config.node;
    dpu_send(dpu, from, &unref);
    msg_t fail = msg_make(MSG_REF_FAIL);
    fail.page = data->page;
    fail.status = ARI_EBUSY;
    fail.hops = data->hops;
    dpu_retrace(dpu, &fail);
}

/* REF_DATA or SYNC_DATA coming down from `from`: the entry here joins the
 * tree below that port, and the data goes on down (stamping the port it
 * passes) or is installed here. */
static void dpu_page_data(dpu_t *dpu, msg_t *data, uint32_t from, uint64_t now_ns)
{
    pcache_entry_t *entry = pcache_find(dpu->pcache, data->page);
    if (entry == NULL)
        entry = dpu_entry_insert(dpu, data->page, now_ns);
    if (entry == NULL || (entry->flags & PCACHE_FREEING)) {
        if (entry == NULL)
            dpu_ref_fail(dpu, data, from);
        else
            dpu_stray(dpu, data->type, data->page);
        return;
    }
    if (entry->copy == PCACHE_COPY_MASTER ||
        ((entry->flags & PCACHE_ON_TREE) && entry->up >= 0 && entry->up != (int8_t)from)) {
        /* Already on the tree by another parent (or its root): the data took
         * a path an ownership transfer has since turned around. Trust the
         * tree, and tell the sender we are not its child. */
        msg_t unref = msg_make(MSG_UNREF);
        unref.page = data->page;
        unref.generation = data->generation;
        unref.origin = dpu->config.node;
        dpu_send(dpu, from, &unref);
        if (entry->copy == PCACHE_COPY_MASTER && data->hops.count == 0) {
            dpu_stray(dpu, data->type, data->page); /* our reads completed when the page came */
            return;
        }
    } else {
        entry->up = (int8_t)from;
        entry->up_generation = data->generation;
        entry->flags |= PCACHE_ON_TREE;
    }
    if (data->flags & MSG_FLAG_NODATA)
        entry->flags |= PCACHE_STRICT; /* an ownership path */
    pcache_touch(dpu->pcache, entry, now_ns);
    if (data->hops.count == 0) {
        dpu_install(dpu, entry, data);
        return;
    }
    uint32_t next = msg_hops_at(data->hops, data->hops.count - 1);
    int port = dpu_port_to(dpu, next);
    if (port < 0) {
        dpu_stray(dpu, data->type, data->page);
        dpu_entry_release(dpu, entry);
        return;
    }
    data->generation = pcache_port_stamp(dpu->pcache, entry, (uint32_t)port);
    data->hops.count--;
    dpu_send(dpu, (uint32_t)port, data);
}

static void dpu_deliver_read_error(dpu_t *dpu, const msg_t *answer, int status)
{
    pcache_entry_t *entry = pcache_find(dpu->pcache, answer->page);
    if (entry != NULL)
        entry->flags &= (uint8_t)~(PCACHE_REF_PENDING | PCACHE_SYNC_PENDING);
    dpu_pending_complete_reads(dpu, answer->page, status, 0);
    own_join_failed(dpu, answer->page, status);
    entry = pcache_find(dpu->pcache, answer->page);
    if (entry != NULL)
        dpu_entry_release(dpu, entry);
}

/* A path too long (a loop) is retried a bounded number of times. */
static bool dpu_schedule_retry(dpu_t *dpu, ari_gva_t page)
{
    bool any = false;
    for (uint32_t i = 0; i < dpu->pending.count; i++) {
        pending_t *p = &dpu->pending.items[i];
        if (p->op != DPU_OP_READ || !gva_equal(p->page, page) ||
            p->retries >= dpu->config.retries_max)
            continue;
        p->retries++;
        if (p->retry_at_ns == 0)
            dpu->retries_waiting++;
        p->retry_at_ns = dpu->now_ns + dpu->config.retry_ns * p->retries;
        any = true;
    }
    return any;
}

/* A REF or SYNC that failed: a too-long path is tried again later. */
static void dpu_read_error(dpu_t *dpu, const msg_t *answer)
{
    if (answer->status == ARI_ELOOP && dpu_schedule_retry(dpu, answer->page)) {
        pcache_entry_t *entry = pcache_find(dpu->pcache, answer->page);
        if (entry != NULL)
            entry->flags &= (uint8_t)~(PCACHE_REF_PENDING | PCACHE_SYNC_PENDING);
        return;
    }
    dpu_deliver_read_error(dpu, answer, answer->status);
}

/* An answer that reached its origin: this node. */
static void dpu_deliver(dpu_t *dpu, const msg_t *answer)
{
    int64_t index = -1;
    dpu_completion_t c = {.status = ARI_OK, .version = answer->version};
    switch (answer->type) {
    case MSG_REF_FAIL:
        dpu_deliver_read_error(dpu, answer, answer->status);
        return;
    case MSG_GRANT:
    case MSG_DENY:
        own_deliver(dpu, answer);
        return;
    case MSG_ERROR:
        if (answer->op == MSG_REF || answer->op == MSG_SYNC) {
            dpu_read_error(dpu, answer);
            return;
        }
        if (answer->op == MSG_ACQ || answer->op == MSG_CANCEL) {
            own_deliver(dpu, answer);
            return;
        }
        c.status = answer->status;
        c.version = 0;
        break;
    case MSG_ATOMIC_RESULT:
        c.value = answer->arg0;
        break;
    case MSG_GET_DATA:
        c.data = answer->data;
        c.length = answer->data_length;
        break;
    default:
        break;
    }
    index = pending_find_seq(&dpu->pending, answer->seq, DPU_OP_READ);
    if (index < 0 || answer->origin != dpu->config.node) {
        dpu_stray(dpu, answer->type, answer->page);
        return;
    }
    dpu_pending_complete(dpu, (uint32_t)index, &c);
}

/* ------------------------------------------------------------------------
 * Changes down the tree
 * ------------------------------------------------------------------------ */

/* The entry a change from `from` applies to: on the tree, below `from`. */
static pcache_entry_t *dpu_entry_below(dpu_t *dpu, const msg_t *msg, uint32_t from)
{
    pcache_entry_t *entry = pcache_find(dpu->pcache, msg->page);
    if (entry == NULL || (entry->flags & PCACHE_ON_TREE) == 0 || entry->up != (int8_t)from) {
        dpu_stray(dpu, msg->type, msg->page);
        return NULL;
    }
    return entry;
}

static void dpu_sync(dpu_t *dpu, pcache_entry_t *entry, uint64_t now_ns);

static void dpu_update(dpu_t *dpu, const msg_t *update, const uint8_t *bytes, size_t length,
                       uint32_t from, uint64_t now_ns)
{
    pcache_entry_t *entry = dpu_entry_below(dpu, update, from);
    if (entry == NULL)
        return;
    for (uint32_t port = 0; port < dpu->ports; port++) {
        if (pcache_has_down(entry, port))
            dpu_send_bytes(dpu, port, bytes, length);
    }
    if (entry->copy != PCACHE_COPY_VALID || update->version <= entry->version)
        return; /* no copy, an invalid one (it re-syncs), or an old change */
    if (update->version != entry->version + 1) {
        /* A gap: never skip silently, re-sync (DESIGN §4, guarantee 1). */
        entry->copy = PCACHE_COPY_INVALID;
        dpu_observe(dpu, DPU_EVENT_INVALIDATE, entry->page, update->version);
        dpu->stats.resyncs++;
        dpu_sync(dpu, entry, now_ns);
        return;
    }
    uint8_t *memory = dpu->world.page_memory(dpu->world.ctx, entry->page, false);
    assert(memory != NULL); /* a valid copy has memory */
    dpu_write_data(dpu, memory, update);
    entry->version = update->version;
    dpu_observe(dpu, DPU_EVENT_APPLY, entry->page, entry->version);
}

static void dpu_inval(dpu_t *dpu, const msg_t *inval, const uint8_t *bytes, size_t length,
                      uint32_t from)
{
    pcache_entry_t *entry = dpu_entry_below(dpu, inval, from);
    if (entry == NULL)
        return;
    for (uint32_t port = 0; port < dpu->ports; port++) {
        if (pcache_has_down(entry, port))
            dpu_send_bytes(dpu, port, bytes, length);
    }
    if (entry->copy == PCACHE_COPY_VALID && inval->version > entry->version) {
        entry->copy = PCACHE_COPY_INVALID;
        dpu_observe(dpu, DPU_EVENT_INVALIDATE, entry->page, inval->version);
    }
}

/* Fails this node's requests on a page that is gone. */
static void dpu_fail_page(dpu_t *dpu, ari_gva_t page)
{
    for (uint32_t i = 0; i < dpu->pending.count;) {
        if (gva_equal(dpu->pending.items[i].page, page)) {
            dpu_completion_t c = {.status = ARI_ENOENT};
            dpu_pending_complete(dpu, i, &c);
            continue;
        }
        i++;
    }
}

/* The branch below this entry is gone: finish freeing here. */
static void dpu_prune_finish(dpu_t *dpu, pcache_entry_t *entry)
{
    ari_gva_t page = entry->page;
    bool master = entry->copy == PCACHE_COPY_MASTER;
    uint8_t from = entry->prune_from;
    if (master) {
        entry->copy = PCACHE_COPY_NONE;
        dpu->world.page_drop(dpu->world.ctx, page);
        dpu_observe(dpu, DPU_EVENT_DROP, page, entry->version);
        if (dpu->order != NULL)
            order_forget_page(dpu->order, page);
    } else {
        dpu_entry_drop_copy(dpu, entry);
    }
    pcache_remove(dpu->pcache, entry);
    if (master) {
        /* The FREE request is the one pending op FREE on this page. */
        for (uint32_t i = 0; i < dpu->pending.count; i++) {
            if (dpu->pending.items[i].op == DPU_OP_FREE && gva_equal(dpu->pending.items[i].page, page)) {
                dpu_completion_t c = {.status = ARI_OK};
                dpu_pending_complete(dpu, i, &c);
                break;
            }
        }
    } else {
        msg_t ack = msg_make(MSG_PRUNE_ACK);
        ack.page = page;
        dpu_send(dpu, from, &ack);
    }
    own_forget_page(dpu, page);
    dpu_fail_page(dpu, page);
}

/* PRUNE sends the branch below down with this entry; an eviction's PRUNE
 * (NOACK) detaches it at once, a free's waits for the branch's acks. */
static void dpu_prune(dpu_t *dpu, const msg_t *prune, const uint8_t *bytes, size_t length,
                      uint32_t from)
{
    bool ack = (prune->flags & MSG_FLAG_NOACK) == 0;
    pcache_entry_t *entry = pcache_find(dpu->pcache, prune->page);
    if (entry == NULL || (entry->flags & PCACHE_ON_TREE) == 0 || entry->up != (int8_t)from ||
        (entry->flags & PCACHE_FREEING)) {
        if (ack) { /* nothing here below that port: the branch is gone */
            msg_t done = msg_make(MSG_PRUNE_ACK);
            done.page = prune->page;
            dpu_send(dpu, from, &done);
        }
        return;
    }
    uint64_t down = entry->down;
    for (uint32_t port = 0; port < dpu->ports; port++) {
        if ((down >> port) & 1u)
            dpu_send_bytes(dpu, port, bytes, length);
    }
    entry->down = 0;
    entry->flags &= (uint8_t)~PCACHE_ON_TREE;
    entry->up = PCACHE_UP_NONE;
    if (!ack) {
        dpu_entry_drop_copy(dpu, entry);
        dpu_entry_release(dpu, entry);
        return;
    }
    entry->flags |= PCACHE_FREEING;
    entry->prune_wait = down;
    entry->prune_from = (uint8_t)from;
    if (down == 0)
        dpu_prune_finish(dpu, entry);
}

/* ------------------------------------------------------------------------
 * Branches up the tree
 * ------------------------------------------------------------------------ */

/* Serial comparison, so generations may wrap. */
static bool dpu_generation_older(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

static void dpu_unref(dpu_t *dpu, const msg_t *unref, uint32_t from)
{
    pcache_entry_t *entry = pcache_find(dpu->pcache, unref->page);
    if (entry == NULL || !pcache_has_down(entry, from) || (entry->flags & PCACHE_FREEING)) {
        dpu->stats.stale_unrefs++;
        return;
    }
    uint32_t current = pcache_port_generation(dpu->pcache, entry, from);
    if (unref->generation != current) {
        /* Older: it crossed data going down and the new branch stands.
         * Newer than anything stamped: not ours to trust. */
        if (!dpu_generation_older(unref->generation, current))
            dpu_stray(dpu, unref->type, unref->page);
        else
            dpu->stats.stale_unrefs++;
        return;
    }
    entry->down &= ~(1ull << from);
    dpu_entry_release(dpu, entry);
}

static void dpu_prune_ack(dpu_t *dpu, const msg_t *ack, uint32_t from)
{
    pcache_entry_t *entry = pcache_find(dpu->pcache, ack->page);
    if (entry == NULL || (entry->flags & PCACHE_FREEING) == 0 ||
        ((entry->prune_wait >> from) & 1u) == 0) {
        dpu_stray(dpu, ack->type, ack->page);
        return;
    }
    entry->prune_wait &= ~(1ull << from);
    if (entry->prune_wait == 0)
        dpu_prune_finish(dpu, entry);
}

/* ------------------------------------------------------------------------
 * Receiving
 * ------------------------------------------------------------------------ */

static void dpu_dispatch(dpu_t *dpu, msg_t *msg, uint32_t port, const uint8_t *bytes,
                         size_t length, uint64_t now_ns)
{
    switch (msg->type) {
    case MSG_REF:
    case MSG_SYNC:
    case MSG_WRITE:
    case MSG_ATOMIC:
    case MSG_GET:
    case MSG_ACQ:
    case MSG_CANCEL:
        dpu_request(dpu, msg, port, bytes, length, now_ns);
        break;
    case MSG_GRANT:
    case MSG_DENY:
        own_answer_receive(dpu, msg, port);
        break;
    case MSG_XFER_DATA:
        own_xfer_receive(dpu, msg, port);
        break;
    case MSG_REF_DATA:
    case MSG_SYNC_DATA:
        dpu_page_data(dpu, msg, port, now_ns);
        break;
    case MSG_REF_FAIL:
    case MSG_WRITE_ACK:
    case MSG_ATOMIC_RESULT:
    case MSG_GET_DATA:
    case MSG_ERROR:
        dpu_retrace(dpu, msg);
        break;
    case MSG_UPDATE:
        dpu_update(dpu, msg, bytes, length, port, now_ns);
        break;
    case MSG_INVAL:
        dpu_inval(dpu, msg, bytes, length, port);
        break;
    case MSG_UNREF:
        dpu_unref(dpu, msg, port);
        break;
    case MSG_PRUNE:
        dpu_prune(dpu, msg, bytes, length, port);
        break;
    case MSG_PRUNE_ACK:
        dpu_prune_ack(dpu, msg, port);
        break;
    default: /* ownership messages and heartbeats: not this protocol's */
        dpu_stray(dpu, msg->type, msg->page);
        break;
    }
}

static void dpu_tick_held(dpu_t *dpu, uint64_t now_ns);
static void dpu_receive_step(dpu_t *dpu, uint32_t port, const uint8_t *bytes, size_t length);
static void dpu_step_begin(dpu_t *dpu, uint64_t now_ns);
static void dpu_step_end(dpu_t *dpu);

void dpu_receive(dpu_t *dpu, uint32_t port, const uint8_t *bytes, size_t length,
                 uint64_t now_ns)
{
    dpu_step_begin(dpu, now_ns);
    dpu_receive_step(dpu, port, bytes, length);
    dpu_step_end(dpu);
}

static void dpu_receive_step(dpu_t *dpu, uint32_t port, const uint8_t *bytes, size_t length)
{
    uint64_t now_ns = dpu->now_ns;
    dpu->stats.messages_in++;
    msg_t msg;
    size_t used;
    int status = port < dpu->ports ? msg_decode(bytes, length, &msg, &used) : ARI_EINVAL;
    if (status == ARI_OK && used != length)
        status = ARI_EMSG_TRAILING;
    if (status == ARI_OK && gva_page_size(msg.page) > dpu->config.page_bytes_max)
        status = ARI_EMSG_FIELD;
    if (status != ARI_OK) {
        dpu->stats.malformed++;
        if (dpu->world.observe != NULL) {
            dpu_event_t event = {.kind = DPU_EVENT_MALFORMED, .node = dpu->config.node,
                                 .status = status};
            dpu->world.observe(dpu->world.ctx, &event);
        }
        return;
    }
    dpu_dispatch(dpu, &msg, port, bytes, length, now_ns);
}

/* ------------------------------------------------------------------------
 * Host requests
 * ------------------------------------------------------------------------ */

static void dpu_sync(dpu_t *dpu, pcache_entry_t *entry, uint64_t now_ns)
{
    if (entry->flags & (PCACHE_SYNC_PENDING | PCACHE_REF_PENDING))
        return; /* merged with the one on its way */
    msg_t sync = msg_make(MSG_SYNC);
    sync.page = entry->page;
    sync.version = entry->version;
    sync.origin = dpu->config.node;
    sync.seq = dpu->seq_next++;
    entry->flags |= PCACHE_SYNC_PENDING;
    dpu_request(dpu, &sync, DPU_FROM_HOST, NULL, 0, now_ns);
}

void dpu_send_ref(dpu_t *dpu, ari_gva_t page, uint32_t pages, uint64_t now_ns)
{
    msg_t ref = msg_make(MSG_REF);
    ref.page = page;
    ref.count = pages;
    ref.origin = dpu->config.node;
    ref.seq = dpu->seq_next++;
    dpu_request(dpu, &ref, DPU_FROM_HOST, NULL, 0, now_ns);
}

/* READ of one page: answered now from a valid copy, merged with a REF or
 * SYNC already on its way, or the start of one. */
static int dpu_submit_read_one(dpu_t *dpu, ari_gva_t page, uint64_t cookie, bool send,
                               bool silent, uint64_t min_version, uint64_t now_ns)
{
    pcache_entry_t *entry = pcache_find(dpu->pcache, page);
    if (entry != NULL && (entry->copy == PCACHE_COPY_MASTER ||
                          (entry->copy == PCACHE_COPY_VALID && entry->version >= min_version))) {
        pcache_touch(dpu->pcache, entry, now_ns);
        dpu_completion_t c = {.cookie = cookie, .op = DPU_OP_READ, .page = page,
                              .status = ARI_OK, .version = entry->version};
        if (!silent)
            dpu->world.complete(dpu->world.ctx, &c);
        return ARI_OK;
    }
    if (entry == NULL && (entry = dpu_entry_insert(dpu, page, now_ns)) == NULL)
        return ARI_EBUSY;
    pending_t *p = dpu_pending_add(dpu, DPU_OP_READ, page, cookie);
    if (p == NULL) {
        dpu_entry_release(dpu, entry);
        return ARI_EBUSY;
    }
    p->silent = silent;
    p->min_version = min_version;
    if (entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING))
        return ARI_OK; /* merged: one network request answers every waiter */
    if ((entry->copy == PCACHE_COPY_INVALID || entry->copy == PCACHE_COPY_VALID) &&
        (entry->flags & PCACHE_ON_TREE)) {
        dpu_sync(dpu, entry, now_ns); /* invalid, or older than a write notice */
        return ARI_OK;
    }
    entry->flags |= PCACHE_REF_PENDING;
    if (send)
        dpu_send_ref(dpu, page, 1, now_ns);
    return ARI_OK;
}

static int dpu_submit_read(dpu_t *dpu, const dpu_request_t *r, uint64_t now_ns)
{
    uint32_t pages = r->pages > 1 ? r->pages : 1;
    uint64_t page_size = gva_page_size(r->page);
    if (pages > MSG_RUN_MAX || dpu->pending.count + pages > dpu->pending.max ||
        r->page.lo > UINT64_MAX - pages * page_size)
        return pages > MSG_RUN_MAX ? ARI_EINVAL : ARI_EBUSY;
    /* A run asks once for the pages none of whose state is known here. */
    bool fresh_run = pages > 1;
    for (uint32_t i = 0; i < pages && fresh_run; i++) {
        ari_gva_t page = {r->page.hi, r->page.lo + i * page_size};
        fresh_run = pcache_find(dpu->pcache, page) == NULL;
    }
    for (uint32_t i = 0; i < pages; i++) {
        ari_gva_t page = {r->page.hi, r->page.lo + i * page_size};
        int status = dpu_submit_read_one(dpu, page, r->cookie, !fresh_run, i > 0,
                                         i == 0 ? r->min_version : 0, now_ns);
        if (status != ARI_OK && i == 0)
            return status;
        if (status != ARI_OK) { /* the rest of a run is read-ahead: ask for what has room */
            fresh_run = false;
            break;
        }
    }
    if (fresh_run)
        dpu_send_ref(dpu, r->page, pages, now_ns);
    return ARI_OK;
}

/* WRITE, ATOMIC and GET: pipelined, ordered by seq and prev. */
static int dpu_submit_ordered(dpu_t *dpu, const dpu_request_t *r, uint64_t now_ns)
{
    /* Only writes, atomics and gets are ordered by the owner: an arbiter
     * request's seq is never "applied" and must not be waited for. */
    uint64_t prev = pending_newest_seq_of(&dpu->pending, r->page,
                                          1u << DPU_OP_WRITE | 1u << DPU_OP_ATOMIC |
                                              1u << DPU_OP_GET);
    pending_t *p = dpu_pending_add(dpu, r->op, r->page, r->cookie);
    if (p == NULL)
        return ARI_EBUSY;
    p->seq = dpu->seq_next++;
    msg_type_t type = r->op == DPU_OP_WRITE ? MSG_WRITE : r->op == DPU_OP_ATOMIC ? MSG_ATOMIC
                                                                                : MSG_GET;
    msg_t msg = msg_make(type);
    msg.page = r->page;
    msg.offset = r->offset;
    msg.origin = dpu->config.node;
    msg.seq = p->seq;
    msg.prev = prev;
    msg.data = r->data;
    msg.data_length = type == MSG_WRITE ? r->length : 0;
    if (type == MSG_WRITE && (r->flags & DPU_WRITE_DIFF))
        msg.flags = MSG_FLAG_DIFF;
    msg.length = type == MSG_GET ? r->length : 0;
    msg.op = r->atomic_op;
    msg.arg0 = r->arg0;
    msg.arg1 = r->atomic_op == MSG_ATOMIC_CAS ? r->arg1 : 0;
    dpu_request(dpu, &msg, DPU_FROM_HOST, NULL, 0, now_ns);
    return ARI_OK;
}

static int dpu_submit_create(dpu_t *dpu, const dpu_request_t *r, uint64_t now_ns)
{
    if (gva_machine(r->page) != dpu->config.node || pcache_find(dpu->pcache, r->page) != NULL)
        return ARI_EINVAL;
    pcache_entry_t *entry = dpu_entry_insert(dpu, r->page, now_ns);
    if (entry == NULL)
        return ARI_EBUSY;
    if (dpu->world.page_memory(dpu->world.ctx, r->page, true) == NULL) {
        pcache_remove(dpu->pcache, entry);
        return ARI_ENOMEM;
    }
    entry->copy = PCACHE_COPY_MASTER;
    entry->flags |= PCACHE_ANCHOR;
    dpu_completion_t c = {.cookie = r->cookie, .op = DPU_OP_CREATE, .page = r->page};
    dpu->world.complete(dpu->world.ctx, &c);
    return ARI_OK;
}

static int dpu_submit_unref(dpu_t *dpu, const dpu_request_t *r)
{
    pcache_entry_t *entry = pcache_find(dpu->pcache, r->page);
    if (entry != NULL && entry->copy == PCACHE_COPY_MASTER)
        return ARI_EINVAL; /* the owner frees; it does not unref */
    if (entry != NULL) {
        dpu_entry_drop_copy(dpu, entry);
        dpu_entry_release(dpu, entry); /* waits for pending requests, if any */
    }
    dpu_completion_t c = {.cookie = r->cookie, .op = DPU_OP_UNREF, .page = r->page};
    dpu->world.complete(dpu->world.ctx, &c);
    return ARI_OK;
}

static int dpu_submit_free(dpu_t *dpu, const dpu_request_t *r)
{
    pcache_entry_t *entry = pcache_find(dpu->pcache, r->page);
    if (entry == NULL || entry->copy != PCACHE_COPY_MASTER)
        return ARI_EINVAL;
    if (entry->flags & PCACHE_FREEING)
        return ARI_EBUSY;
    if (dpu_pending_add(dpu, DPU_OP_FREE, r->page, r->cookie) == NULL)
        return ARI_EBUSY;
    msg_t prune = msg_make(MSG_PRUNE);
    prune.page = entry->page;
    prune.version = entry->version;
    dpu_send_ports(dpu, entry->down, &prune);
    entry->flags |= PCACHE_FREEING;
    entry->flags &= (uint8_t)~PCACHE_ANCHOR;
    entry->prune_wait = entry->down;
    entry->down = 0;
    if (entry->prune_wait == 0)
        dpu_prune_finish(dpu, entry);
    return ARI_OK;
}

static int dpu_request_check(const dpu_t *dpu, const dpu_request_t *r)
{
    uint64_t page_size = gva_page_size(r->page);
    if (!gva_equal(r->page, gva_page(r->page)) || page_size > dpu->config.page_bytes_max ||
        gva_machine(r->page) >= dpu->config.topo->nodes)
        return ARI_EINVAL;
    switch (r->op) {
    case DPU_OP_WRITE:
        if (r->flags & DPU_WRITE_DIFF)
            return r->offset == 0 && r->length <= MSG_DATA_MAX &&
                           diff_check(r->data, r->length, page_size) == ARI_OK
                       ? ARI_OK : ARI_EINVAL;
        return r->data != NULL && r->length >= 1 && r->offset + (uint64_t)r->length <= page_size
                   ? ARI_OK : ARI_EINVAL;
    case DPU_OP_GET:
        return r->length >= 1 && r->offset + (uint64_t)r->length <= page_size ? ARI_OK
                                                                               : ARI_EINVAL;
    case DPU_OP_ATOMIC:
        return r->offset % 8 == 0 && r->offset + 8ull <= page_size &&
                       r->atomic_op >= MSG_ATOMIC_CAS && r->atomic_op <= MSG_ATOMIC_SWAP
                   ? ARI_OK : ARI_EINVAL;
    case DPU_OP_CREATE:
    case DPU_OP_READ:
    case DPU_OP_UNREF:
    case DPU_OP_FREE:
        return ARI_OK;
    case DPU_OP_ACQUIRE:
    case DPU_OP_RELEASE:
        return r->offset == 0 ? ARI_OK : ARI_EINVAL;
    case DPU_OP_SEM_WAIT:
    case DPU_OP_SEM_POST:
    case DPU_OP_BARRIER:
        return r->offset % 8 == 0 && r->offset + 8ull <= page_size &&
                       (r->op != DPU_OP_BARRIER || (r->arg0 >= 1 && r->arg0 <= UINT32_MAX))
                   ? ARI_OK : ARI_EINVAL;
    }
    return ARI_EINVAL;
}

static int dpu_submit_step(dpu_t *dpu, const dpu_request_t *request, uint64_t now_ns)
{
    int status = dpu_request_check(dpu, request);
    if (status != ARI_OK)
        return status;
    switch (request->op) {
    case DPU_OP_CREATE: return dpu_submit_create(dpu, request, now_ns);
    case DPU_OP_READ: return dpu_submit_read(dpu, request, now_ns);
    case DPU_OP_UNREF: return dpu_submit_unref(dpu, request);
    case DPU_OP_FREE: return dpu_submit_free(dpu, request);
    case DPU_OP_ACQUIRE:
    case DPU_OP_RELEASE:
    case DPU_OP_SEM_WAIT:
    case DPU_OP_SEM_POST:
    case DPU_OP_BARRIER: return own_submit(dpu, request, now_ns);
    default: return dpu_submit_ordered(dpu, request, now_ns);
    }
}

int dpu_submit(dpu_t *dpu, const dpu_request_t *request, uint64_t now_ns)
{
    dpu_step_begin(dpu, now_ns);
    int status = dpu_submit_step(dpu, request, dpu->now_ns);
    dpu_step_end(dpu);
    return status;
}

/* ------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------ */

static void dpu_tick_aging(dpu_t *dpu, uint64_t now_ns)
{
    for (uint32_t n = 0; n < DPU_TICK_BUDGET; n++) {
        pcache_entry_t *entry = pcache_expired(dpu->pcache, now_ns);
        if (entry == NULL)
            break;
        dpu->stats.aged_out++;
        dpu_send_unref(dpu, entry);
        pcache_remove(dpu->pcache, entry);
    }
}

static void dpu_tick_held(dpu_t *dpu, uint64_t now_ns)
{
    for (uint32_t n = 0; n < DPU_TICK_BUDGET && dpu->order != NULL; n++) {
        order_held_t *held = order_next_ready(dpu->order, now_ns);
        if (held == NULL)
            break;
        msg_t msg;
        size_t used;
        int status = msg_decode(held->bytes, held->length, &msg, &used);
        assert(status == ARI_OK); /* it decoded when it arrived */
        (void)status;
        /* Past its deadline, its predecessor is not coming (it failed on
         * its way): apply it rather than hold it forever. */
        msg.prev = 0;
        dpu_request(dpu, &msg, held->port, held->bytes, held->length, now_ns);
        order_release(dpu->order, held);
    }
}

static void dpu_tick_retries(dpu_t *dpu, uint64_t now_ns)
{
    for (uint32_t i = 0; i < dpu->pending.count && dpu->retries_waiting > 0; i++) {
        pending_t *p = &dpu->pending.items[i];
        if (p->op != DPU_OP_READ || p->retry_at_ns == 0 || p->retry_at_ns > now_ns)
            continue;
        p->retry_at_ns = 0;
        dpu->retries_waiting--;
        pcache_entry_t *entry = pcache_find(dpu->pcache, p->page);
        if (entry != NULL && (entry->flags & (PCACHE_REF_PENDING | PCACHE_SYNC_PENDING)) == 0) {
            dpu->stats.retries++;
            entry->flags |= PCACHE_REF_PENDING;
            dpu_send_ref(dpu, p->page, 1, now_ns);
        }
    }
}

uint64_t dpu_deadline(const dpu_t *dpu)
{
    uint64_t next = dpu->order != NULL ? order_next_deadline(dpu->order) : UINT64_MAX;
    /* One pass for both users of retry_at_ns: READ retries and the waits
     * of arbiter requests (own.c). */
    for (uint32_t i = 0; i < dpu->pending.count && dpu->retries_waiting + dpu->waits_timed > 0;
         i++) {
        uint64_t at = dpu->pending.items[i].retry_at_ns;
        if (at != 0 && at < next)
            next = at;
    }
    uint64_t pins = own_deadline(dpu);
    return pins < next ? pins : next;
}

static void dpu_step_begin(dpu_t *dpu, uint64_t now_ns)
{
    assert(!dpu->in_step); /* the world must not call into the DPU from a callback */
    dpu->in_step = true;
    if (now_ns > dpu->now_ns)
        dpu->now_ns = now_ns; /* time never runs backwards inside the core */
}

static void dpu_step_end(dpu_t *dpu)
{
    /* Requests held for their turn may be ready now; handled here, at the
     * top of the step, so a served request never re-enters the owner. */
    if (dpu->order != NULL && order_held_count(dpu->order) > 0)
        dpu_tick_held(dpu, dpu->now_ns);
    dpu->in_step = false;
}

uint64_t dpu_tick(dpu_t *dpu, uint64_t now_ns)
{
    dpu_step_begin(dpu, now_ns);
    dpu_tick_aging(dpu, dpu->now_ns);
    dpu_tick_retries(dpu, dpu->now_ns);
    own_tick(dpu, dpu->now_ns);
    dpu_step_end(dpu);
    return dpu_deadline(dpu);
}
