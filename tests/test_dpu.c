/*
 * Unit tests of src/core/dpu with a hand-driven network: each directed link
 * is a FIFO the test delivers from one message at a time, so a test can
 * choose exactly which race happens.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/dpu.h"
#include "core/gva.h"
#include "core/pcache.h"
#include "test.h"

#define NET_NODES_MAX 8
#define NET_QUEUE_MAX 64

typedef struct {
    uint8_t *bytes[NET_QUEUE_MAX];
    size_t length[NET_QUEUE_MAX];
    int head, count;
} net_link_t;

typedef struct net net_t;

typedef struct {
    net_t *net;
    uint32_t node;
} net_ctx_t;

struct net {
    topo_t *topo;
    route_t *route;
    dpu_t *dpu[NET_NODES_MAX];
    net_ctx_t ctx[NET_NODES_MAX];
    net_link_t link[NET_NODES_MAX][NET_NODES_MAX]; /* [from][to] */
    uint8_t *memory[NET_NODES_MAX][4];
    ari_gva_t page_of[NET_NODES_MAX][4];
    int completions[NET_NODES_MAX];
    int last_status[NET_NODES_MAX];
    dpu_completion_t log[NET_NODES_MAX][16]; /* the latest completions, for drivers */
    int logged[NET_NODES_MAX];
    uint64_t sent[NET_NODES_MAX][MSG_TYPE_END];
    uint64_t now;
};

static void net_send(void *ctx, uint32_t port, const uint8_t *bytes, size_t length)
{
    net_ctx_t *c = ctx;
    uint32_t to = topo_neighbor(c->net->topo, c->node, port);
    net_link_t *l = &c->net->link[c->node][to];
    CHECK(l->count < NET_QUEUE_MAX);
    int slot = (l->head + l->count++) % NET_QUEUE_MAX;
    l->bytes[slot] = malloc(length);
    memcpy(l->bytes[slot], bytes, length);
    l->length[slot] = length;
    c->net->sent[c->node][bytes[1]]++;
}

static uint8_t *net_memory(void *ctx, ari_gva_t page, bool create)
{
    net_ctx_t *c = ctx;
    for (int i = 0; i < 4; i++) {
        if (c->net->memory[c->node][i] && gva_equal(c->net->page_of[c->node][i], page))
            return c->net->memory[c->node][i];
    }
    for (int i = 0; i < 4 && create; i++) {
        if (!c->net->memory[c->node][i]) {
            c->net->memory[c->node][i] = aligned_alloc(64, GVA_PAGE_SIZE);
            memset(c->net->memory[c->node][i], 0, GVA_PAGE_SIZE);
            c->net->page_of[c->node][i] = page;
            return c->net->memory[c->node][i];
        }
    }
    return NULL;
}

static void net_drop(void *ctx, ari_gva_t page)
{
    net_ctx_t *c = ctx;
    for (int i = 0; i < 4; i++) {
        if (c->net->memory[c->node][i] && gva_equal(c->net->page_of[c->node][i], page)) {
            free(c->net->memory[c->node][i]);
            c->net->memory[c->node][i] = NULL;
        }
    }
}

static void net_complete(void *ctx, const dpu_completion_t *completion)
{
    net_ctx_t *c = ctx;
    c->net->completions[c->node]++;
    c->net->last_status[c->node] = completion->status;
    if (c->net->logged[c->node] < 16)
        c->net->log[c->node][c->net->logged[c->node]++] = *completion;
}

static void net_init(net_t *net, const char *spec, uint32_t cache)
{
    memset(net, 0, sizeof *net);
    char error[TOPO_ERROR_MAX];
    CHECK_OK(topo_build(spec, NULL, NULL, &net->topo, error, sizeof error));
    CHECK_OK(route_create(net->topo, 16, &net->route));
    for (uint32_t n = 0; n < net->topo->nodes; n++) {
        net->ctx[n] = (net_ctx_t){net, n};
        dpu_config_t config;
        dpu_config_default(&config);
        config.node = n;
        config.topo = net->topo;
        config.route = net->route;
        config.pcache_capacity = cache;
        dpu_world_t world = {&net->ctx[n], net_send, net_memory, net_drop, net_complete, NULL, NULL,
                             NULL, NULL};
        CHECK_OK(dpu_create(&config, &world, &net->dpu[n]));
    }
}

static void net_fini(net_t *net)
{
    for (uint32_t n = 0; n < net->topo->nodes; n++) {
        dpu_destroy(net->dpu[n]);
        for (int i = 0; i < 4; i++)
            free(net->memory[n][i]);
        for (uint32_t m = 0; m < net->topo->nodes; m++) {
            net_link_t *l = &net->link[n][m];
            for (int k = 0; k < l->count; k++)
                free(l->bytes[(l->head + k) % NET_QUEUE_MAX]);
        }
    }
    route_free(net->route);
    topo_free(net->topo);
}

/* Delivers the next message on the link from -> to; false if it is empty. */
static bool net_deliver(net_t *net, uint32_t from, uint32_t to)
{
    net_link_t *l = &net->link[from][to];
    if (l->count == 0)
        return false;
    uint8_t *bytes = l->bytes[l->head];
    size_t length = l->length[l->head];
    l->head = (l->head + 1) % NET_QUEUE_MAX;
    l->count--;
    int port = -1;
    for (uint32_t p = 0; p < topo_degree(net->topo, to); p++) {
        if (topo_neighbor(net->topo, to, p) == from)
            port = (int)p;
    }
    CHECK(port >= 0);
    if (getenv("ARI_NET_TRACE") != NULL) {
        msg_t m;
        size_t used;
        if (msg_decode(bytes, length, &m, &used) == 0)
            fprintf(stderr, "%u->%u %s page %llx origin %u seq %llu op %u hops %u v %llu\n", from, to,
                    msg_type_name(m.type), (unsigned long long)m.page.lo, m.origin, (unsigned long long)m.seq, m.op,
                    m.hops.count, (unsigned long long)m.version);
    }
    dpu_receive(net->dpu[to], (uint32_t)port, bytes, length, ++net->now);
    free(bytes);
    return true;
}

/* Delivers everything, link by link in a fixed order, until quiet. */
static void net_settle(net_t *net)
{
    for (bool moved = true; moved;) {
        moved = false;
        for (uint32_t a = 0; a < net->topo->nodes; a++)
            for (uint32_t b = 0; b < net->topo->nodes; b++)
                moved |= net_deliver(net, a, b);
    }
}

static void net_submit(net_t *net, uint32_t node, dpu_op_t op, ari_gva_t page)
{
    dpu_request_t r = {.op = op, .page = page};
    CHECK_OK(dpu_submit(net->dpu[node], &r, ++net->now));
}

static pcache_entry_t *net_entry(net_t *net, uint32_t node, ari_gva_t page)
{
    return pcache_find(dpu_pcache(net->dpu[node]), page);
}

static ari_gva_t net_page(uint32_t birth)
{
    gva_fields_t f = {.machine = birth, .offset = 0x10000};
    return gva_make(&f);
}

/* Many reads of one page on one node: one REF on the wire, every reader answered. */
TEST_FN(dpu_reads_merge)
{
    net_t net;
    net_init(&net, "ring:4", 16);
    ari_gva_t page = net_page(0);
    net_submit(&net, 0, DPU_OP_CREATE, page);
    for (int i = 0; i < 5; i++)
        net_submit(&net, 2, DPU_OP_READ, page);
    CHECK_U64(net.sent[2][MSG_REF], ==, 1);
    CHECK_INT(net.completions[2], ==, 0);
    net_settle(&net);
    CHECK_INT(net.completions[2], ==, 5);
    CHECK_INT(net.last_status[2], ==, ARI_OK);
    CHECK_INT(net_entry(&net, 2, page)->copy, ==, PCACHE_COPY_VALID);
    /* A read of a valid replica is answered at once, with nothing sent. */
    net_submit(&net, 2, DPU_OP_READ, page);
    CHECK_INT(net.completions[2], ==, 6);
    CHECK_U64(net.sent[2][MSG_REF], ==, 1);
    net_fini(&net);
}

/* The ring's shortest routes from 2 to 0 pass 1 or 3; either way the
 * tree is a path 0 - x - 2 whose entries point the right ways. */
TEST_FN(dpu_tree_and_unref)
{
    net_t net;
    net_init(&net, "ring:5", 16);
    ari_gva_t page = net_page(0);
    net_submit(&net, 0, DPU_OP_CREATE, page);
    net_submit(&net, 2, DPU_OP_READ, page);
    net_settle(&net);
    pcache_entry_t *mid = net_entry(&net, 1, page);
    CHECK(mid != NULL);
    CHECK_INT(mid->copy, ==, PCACHE_COPY_NONE);
    CHECK(mid->down != 0 && (mid->flags & PCACHE_ON_TREE));
    CHECK_U64(net_entry(&net, 0, page)->down, !=, 0);
    /* Dropping the only replica removes every entry but the master's. */
    net_submit(&net, 2, DPU_OP_UNREF, page);
    net_settle(&net);
    CHECK(net_entry(&net, 2, page) == NULL);
    CHECK(net_entry(&net, 1, page) == NULL);
    CHECK_U64(net_entry(&net, 0, page)->down, ==, 0);
    net_fini(&net);
}

/* UNREF crossing REF_DATA on the wire (DESIGN §4): on the line 0-1-2-3,
 * node 2 forwards node 3's REF and then drops its own invalid copy; its
 * UNREF reaches 1 after data for 3 went down through 1, so it is older
 * than the port's generation and must not cut the new branch. */
TEST_FN(dpu_unref_crossing_data)
{
    net_t net;
    net_init(&net, "tree:4:1", 16); /* a line: 0 - 1 - 2 - 3 */
    ari_gva_t page = net_page(0);
    net_submit(&net, 0, DPU_OP_CREATE, page);
    net_submit(&net, 2, DPU_OP_READ, page);
    net_settle(&net);
    /* A large write invalidates 2's copy, so 2 will forward 3's REF. */
    static uint8_t big[2048];
    dpu_request_t w = {.op = DPU_OP_WRITE, .page = page, .length = sizeof big, .data = big};
    CHECK_OK(dpu_submit(net.dpu[0], &w, ++net.now));
    net_settle(&net);
    CHECK_INT(net_entry(&net, 2, page)->copy, ==, PCACHE_COPY_INVALID);
    net_submit(&net, 3, DPU_OP_READ, page);
    CHECK(net_deliver(&net, 3, 2)); /* REF reaches 2, forwarded to 1 */
    CHECK(net_deliver(&net, 2, 1)); /* REF reaches 1, forwarded to 0 */
    CHECK(net_deliver(&net, 1, 0)); /* the owner answers: REF_DATA to 1 */
    CHECK(net_deliver(&net, 0, 1)); /* REF_DATA passes 1: new generation on 1's port to 2 */
    net_submit(&net, 2, DPU_OP_UNREF, page); /* 2 has nothing below yet: UNREF goes up */
    CHECK(net_entry(&net, 2, page) == NULL);
    CHECK(net_deliver(&net, 2, 1)); /* the stale UNREF reaches 1 */
    CHECK(net_entry(&net, 1, page) != NULL);
    CHECK_U64(net_entry(&net, 1, page)->down, !=, 0); /* the new branch stands */
    net_settle(&net);
    CHECK_INT(net_entry(&net, 3, page)->copy, ==, PCACHE_COPY_VALID);
    CHECK(net_entry(&net, 2, page) != NULL); /* rebuilt by the data passing down */
    CHECK_U64(dpu_stats(net.dpu[1])->stale_unrefs, ==, 1);
    /* And the tree still comes apart cleanly. */
    net_submit(&net, 3, DPU_OP_UNREF, page);
    net_settle(&net);
    for (uint32_t n = 1; n < 4; n++)
        CHECK(net_entry(&net, n, page) == NULL);
    net_fini(&net);
}

/* Garbage on a port is counted and dropped; the DPU carries on. */
TEST_FN(dpu_malformed_input)
{
    net_t net;
    net_init(&net, "ring:4", 16);
    uint8_t junk[64];
    uint64_t rng = 1;
    for (int i = 0; i < 1000; i++) {
        for (size_t k = 0; k < sizeof junk; k++)
            junk[k] = (uint8_t)test_rand_next(&rng);
        dpu_receive(net.dpu[1], 0, junk, (size_t)(i % (int)sizeof junk), ++net.now);
    }
    dpu_receive(net.dpu[1], 7, junk, 8, ++net.now); /* a port it does not have */
    CHECK_U64(dpu_stats(net.dpu[1])->malformed, ==, 1001);
    /* Still works. */
    ari_gva_t page = net_page(0);
    net_submit(&net, 0, DPU_OP_CREATE, page);
    net_submit(&net, 1, DPU_OP_READ, page);
    net_settle(&net);
    CHECK_INT(net.last_status[1], ==, ARI_OK);
    net_fini(&net);
}

/* Bad host requests are refused with ARI_EINVAL and no completion. */
TEST_FN(dpu_bad_requests)
{
    net_t net;
    net_init(&net, "ring:4", 16);
    ari_gva_t page = net_page(0);
    dpu_request_t r = {.op = DPU_OP_READ, .page = page};
    r.page.lo += 8; /* not a page identity */
    CHECK_INT(dpu_submit(net.dpu[1], &r, 1), ==, ARI_EINVAL);
    r.page = net_page(9); /* born on a node that does not exist */
    CHECK_INT(dpu_submit(net.dpu[1], &r, 1), ==, ARI_EINVAL);
    r = (dpu_request_t){.op = DPU_OP_ATOMIC, .page = page, .offset = 4, .atomic_op = 1};
    CHECK_INT(dpu_submit(net.dpu[1], &r, 1), ==, ARI_EINVAL);
    r = (dpu_request_t){.op = DPU_OP_CREATE, .page = page};
    CHECK_INT(dpu_submit(net.dpu[1], &r, 1), ==, ARI_EINVAL); /* not its birth node */
    r = (dpu_request_t){.op = DPU_OP_FREE, .page = page};
    CHECK_INT(dpu_submit(net.dpu[1], &r, 1), ==, ARI_EINVAL); /* not the owner */
    CHECK_INT(net.completions[1], ==, 0);
    /* A page never created: the read completes with ARI_ENOENT. */
    net_submit(&net, 2, DPU_OP_READ, page);
    net_settle(&net);
    CHECK_INT(net.completions[2], ==, 1);
    CHECK_INT(net.last_status[2], ==, ARI_ENOENT);
    CHECK(net_entry(&net, 2, page) == NULL);
    net_fini(&net);
}

/* ------------------------------------------------------------------------
 * The ownership-transfer protocol (src/core/own.c)
 * ------------------------------------------------------------------------ */

static int net_submit_acq(net_t *net, uint32_t node, dpu_op_t op, ari_gva_t page,
                          uint8_t flags, uint32_t offset, uint64_t arg0)
{
    dpu_request_t r = {.op = op, .page = page, .flags = flags, .offset = offset, .arg0 = arg0};
    return dpu_submit(net->dpu[node], &r, ++net->now);
}

static void net_dump_tree(net_t *net, ari_gva_t page)
{
    for (uint32_t k = 0; k < net->topo->nodes; k++) {
        pcache_entry_t *e = net_entry(net, k, page);
        if (e != NULL)
            fprintf(stderr, "  node %u: copy %d up %d (node %d) down %llx flags %x v %llu\n", k,
                    e->copy, e->up,
                    e->up >= 0 ? (int)topo_neighbor(net->topo, k, (uint32_t)e->up) : -1,
                    (unsigned long long)e->down, e->flags, (unsigned long long)e->version);
    }
}

/* Exactly one master, and every other entry's up pointers lead to it. */
static uint32_t net_check_tree(net_t *net, ari_gva_t page)
{
    uint32_t owner = UINT32_MAX, nodes = net->topo->nodes;
    for (uint32_t n = 0; n < nodes; n++) {
        pcache_entry_t *e = net_entry(net, n, page);
        if (e != NULL && e->copy == PCACHE_COPY_MASTER) {
            CHECK(owner == UINT32_MAX);
            owner = n;
        }
    }
    CHECK(owner != UINT32_MAX);
    for (uint32_t n = 0; n < nodes; n++) {
        uint32_t at = n;
        for (uint32_t steps = 0; steps <= nodes && at != owner; steps++) {
            pcache_entry_t *e = net_entry(net, at, page);
            if (e == NULL) {
                CHECK(at == n); /* only a node off the tree has no entry */
                break;
            }
            CHECK(e->up >= 0 && (e->flags & PCACHE_ON_TREE));
            uint32_t parent = topo_neighbor(net->topo, at, (uint32_t)e->up);
            pcache_entry_t *pe = net_entry(net, parent, page);
            CHECK(pe != NULL);
            /* the parent lists us downstream */
            for (uint32_t p = 0; p < topo_degree(net->topo, parent); p++) {
                if (topo_neighbor(net->topo, parent, p) == at && !pcache_has_down(pe, p)) {
                    fprintf(stderr, "node %u's parent %u does not list it\n", at, parent);
                    net_dump_tree(net, page);
                    CHECK(pcache_has_down(pe, p));
                }
            }
            at = parent;
        }
        if (!(at == owner || net_entry(net, n, page) == NULL))
            net_dump_tree(net, page);
        CHECK(at == owner || net_entry(net, n, page) == NULL);
    }
    return owner;
}

/* Uncontended: one ACQ up and one XFER_DATA down after the join, and the
 * tree is rooted at the new owner with the old one still attached. */
TEST_FN(own_transfer_uncontended)
{
    net_t net;
    net_init(&net, "tree:7:2", 64);
    ari_gva_t page = net_page(3);
    net_submit(&net, 3, DPU_OP_CREATE, page);
    uint8_t *m = net_memory(&net.ctx[3], page, false);
    m[100] = 42;
    CHECK_OK(net_submit_acq(&net, 5, DPU_OP_ACQUIRE, page, DPU_ACQUIRE_PIN, 0, 0));
    net_settle(&net);
    CHECK_INT(net.completions[5], ==, 1);
    CHECK_INT(net.last_status[5], ==, ARI_OK);
    CHECK_INT(net_check_tree(&net, page), ==, 5);
    CHECK(dpu_pinned(net.dpu[5], page));
    CHECK_INT(net_memory(&net.ctx[5], page, false)[100], ==, 42);
    CHECK(net_memory(&net.ctx[3], page, false) == NULL);
    /* 3 -> 1 -> 0 -> 2 -> 5: four hops each way. */
    uint64_t acq = 0, xfer = 0;
    for (uint32_t n = 0; n < 7; n++) {
        acq += net.sent[n][MSG_ACQ];
        xfer += net.sent[n][MSG_XFER_DATA];
    }
    CHECK_U64(acq, ==, 4);
    CHECK_U64(xfer, ==, 4);
    CHECK_U64(dpu_stats(net.dpu[5])->transfers_in, ==, 1);
    net_fini(&net);
}

/* Contention: a second and a third acquirer are queued (DENY), then get
 * the page in order at each release, straight from the holder. */
TEST_FN(own_queue_in_order)
{
    net_t net;
    net_init(&net, "tree:7:2", 64);
    ari_gva_t page = net_page(3);
    net_submit(&net, 3, DPU_OP_CREATE, page);
    CHECK_OK(net_submit_acq(&net, 5, DPU_OP_ACQUIRE, page, DPU_ACQUIRE_PIN, 0, 0));
    net_settle(&net);
    CHECK_OK(net_submit_acq(&net, 4, DPU_OP_ACQUIRE, page, DPU_ACQUIRE_PIN, 0, 0));
    net_settle(&net);
    CHECK_OK(net_submit_acq(&net, 6, DPU_OP_ACQUIRE, page, DPU_ACQUIRE_PIN, 0, 0));
    net_settle(&net);
    CHECK_INT(net.completions[4], ==, 0);
    CHECK_INT(net.completions[6], ==, 0);
    CHECK_U64(dpu_queue_length(net.dpu[5], page), ==, 2);
    CHECK_U64(net.sent[5][MSG_DENY], ==, 2);
    CHECK_OK(net_submit_acq(&net, 5, DPU_OP_RELEASE, page, 0, 0, 0));
    net_settle(&net);
    CHECK_INT(net.completions[4], ==, 1);
    CHECK_INT(net.completions[6], ==, 0);
    CHECK_INT(net_check_tree(&net, page), ==, 4);
    CHECK_U64(dpu_queue_length(net.dpu[4], page), ==, 1);
    CHECK_OK(net_submit_acq(&net, 4, DPU_OP_RELEASE, page, 0, 0, 0));
    net_settle(&net);
    CHECK_INT(net.completions[6], ==, 1);
    CHECK_INT(net_check_tree(&net, page), ==, 6);
    /* The owner may acquire its own page at once. */
    CHECK_OK(net_submit_acq(&net, 6, DPU_OP_RELEASE, page, 0, 0, 0));
    CHECK_OK(net_submit_acq(&net, 6, DPU_OP_ACQUIRE, page, DPU_ACQUIRE_PIN, 0, 0));
    CHECK_INT(net.completions[6], ==, 3);
    net_fini(&net);
}

/* A path-cache write sent while the page moves is applied once, acked,
 * and reaches a reader's replica across the move. */
TEST_FN(own_write_across_transfer)
{
    net_t net;
    net_init(&net, "tree:7:2", 64);
    ari_gva_t page = net_page(3);
    net_submit(&net, 3, DPU_OP_CREATE, page);
    net_submit(&net, 6, DPU_OP_READ, page);
    net_settle(&net);
    CHECK_OK(net_submit_acq(&net, 5, DPU_OP_ACQUIRE, page, 0, 0, 0));
    uint8_t byte = 7;
    dpu_request_t w = {.op = DPU_OP_WRITE, .page = page, .offset = 8, .length = 1, .data = &byte};
    CHECK_OK(dpu_submit(net.dpu[4], &w, ++net.now));
    net_settle(&net);
    CHECK_INT(net.completions[4], ==, 1);
    CHECK_INT(net.last_status[4], ==, ARI_OK);
    uint32_t owner = net_check_tree(&net, page);
    CHECK_INT(owner, ==, 5);
    CHECK_INT(net_memory(&net.ctx[5], page, false)[8], ==, 7);
    CHECK_INT(net_memory(&net.ctx[6], page, false)[8], ==, 7);
    CHECK_U64(net_entry(&net, 6, page)->version, ==, net_entry(&net, 5, page)->version);
    net_fini(&net);
}

/* A counting semaphore with one permit and a barrier of three. */
TEST_FN(own_semaphore_and_barrier)
{
    net_t net;
    net_init(&net, "tree:7:2", 64);
    ari_gva_t page = net_page(3);
    net_submit(&net, 3, DPU_OP_CREATE, page);
    net_memory(&net.ctx[3], page, false)[0] = 1; /* one permit */
    CHECK_OK(net_submit_acq(&net, 4, DPU_OP_SEM_WAIT, page, 0, 0, 0));
    CHECK_OK(net_submit_acq(&net, 5, DPU_OP_SEM_WAIT, page, 0, 0, 0));
    net_settle(&net);
    CHECK_INT(net.completions[4] + net.completions[5], ==, 1);
    uint32_t waiting = net.completions[4] == 0 ? 4 : 5;
    CHECK_OK(net_submit_acq(&net, 6, DPU_OP_SEM_POST, page, 0, 0, 0));
    net_settle(&net);
    CHECK_INT(net.completions[waiting], ==, 1);
    CHECK_INT(net.completions[6], ==, 1);
    CHECK_INT(net_memory(&net.ctx[3], page, false)[0], ==, 0);
    /* Barrier on the word at 8 for three parties. */
    CHECK_OK(net_submit_acq(&net, 0, DPU_OP_BARRIER, page, 0, 8, 3));
    CHECK_OK(net_submit_acq(&net, 1, DPU_OP_BARRIER, page, 0, 8, 3));
    net_settle(&net);
    CHECK_INT(net.completions[0] + net.completions[1], ==, 0);
    CHECK_OK(net_submit_acq(&net, 2, DPU_OP_BARRIER, page, 0, 8, 3));
    net_settle(&net);
    CHECK_INT(net.completions[0], ==, 1);
    CHECK_INT(net.completions[1], ==, 1);
    CHECK_INT(net.completions[2], ==, 1);
    CHECK_INT(net_memory(&net.ctx[3], page, false)[8], ==, 0);
    net_fini(&net);
}

/* A pin held past its limit is reported and lifted; a waiter past its
 * wait is told ARI_ETIMEDOUT and withdrawn from the queue. */
TEST_FN(own_pin_limit_and_timeout)
{
    net_t net;
    net_init(&net, "ring:4", 64);
    ari_gva_t page = net_page(0);
    net_submit(&net, 0, DPU_OP_CREATE, page);
    CHECK_OK(net_submit_acq(&net, 0, DPU_OP_ACQUIRE, page, DPU_ACQUIRE_PIN, 0, 0));
    CHECK_INT(net.completions[0], ==, 2);
    CHECK_OK(net_submit_acq(&net, 2, DPU_OP_ACQUIRE, page, DPU_ACQUIRE_PIN, 0, 0));
    net_settle(&net);
    CHECK_U64(dpu_queue_length(net.dpu[0], page), ==, 1);
    /* Second acquire on the same page from the same node: busy. */
    CHECK_INT(net_submit_acq(&net, 2, DPU_OP_ACQUIRE, page, 0, 0, 0), ==, ARI_EBUSY);
    net.now += 100000001ull;
    dpu_tick(net.dpu[0], net.now);
    CHECK_U64(dpu_stats(net.dpu[0])->pins_expired, ==, 1);
    net_settle(&net);
    CHECK_INT(net.completions[2], ==, 1);
    CHECK_INT(net_check_tree(&net, page), ==, 2);
    /* Node 1 waits behind node 2's pin and gives up. */
    CHECK_OK(net_submit_acq(&net, 1, DPU_OP_ACQUIRE, page, DPU_ACQUIRE_PIN, 0, 0));
    net_settle(&net);
    CHECK_U64(dpu_queue_length(net.dpu[2], page), ==, 1);
    net.now += 10000000001ull;
    dpu_tick(net.dpu[1], net.now);
    CHECK_INT(net.last_status[1], ==, ARI_ETIMEDOUT);
    net_settle(&net);
    CHECK_U64(dpu_queue_length(net.dpu[2], page), ==, 0);
    net_fini(&net);
}

/* ------------------------------------------------------------------------
 * Property: a mutex-protected counter over random delivery orders
 * ------------------------------------------------------------------------ */

typedef enum { OWN_IDLE, OWN_ACQUIRING, OWN_READING, OWN_WRITING } own_node_state_t;

typedef struct {
    net_t net;
    ari_gva_t lock, data;
    own_node_state_t state[NET_NODES_MAX];
    uint32_t done[NET_NODES_MAX];
    int64_t holder;
    uint32_t sections;
    uint64_t rng;
} own_run_t;

/* Delivers one message from a random non-empty link; false if none. */
static bool own_run_deliver(own_run_t *run)
{
    uint32_t nodes = run->net.topo->nodes, start = (uint32_t)(test_rand_next(&run->rng) % (nodes * nodes));
    for (uint32_t k = 0; k < nodes * nodes; k++) {
        uint32_t i = (start + k) % (nodes * nodes);
        if (net_deliver(&run->net, i / nodes, i % nodes))
            return true;
    }
    return false;
}

/* The lock page's bytes 8..16 hold the write notice: the data page's
 * version after the last holder's write. */
static uint64_t own_run_notice(own_run_t *run, uint32_t node, bool set, uint64_t version)
{
    uint8_t *m = net_memory(&run->net.ctx[node], run->lock, false);
    CHECK(m != NULL); /* the holder owns the lock page */
    if (set)
        memcpy(m + 8, &version, 8);
    memcpy(&version, m + 8, 8);
    return version;
}

static void own_run_step_node(own_run_t *run, uint32_t n, const dpu_completion_t *c)
{
    net_t *net = &run->net;
    if (c->op == DPU_OP_READ && c->cookie != 77)
        return; /* a plain reader's read */
    CHECK_OK(c->status);
    switch (run->state[n]) {
    case OWN_ACQUIRING: {
        CHECK(c->op == DPU_OP_ACQUIRE);
        CHECK(run->holder < 0); /* mutual exclusion */
        run->holder = n;
        dpu_request_t r = {.op = DPU_OP_READ, .page = run->data, .cookie = 77,
                           .min_version = own_run_notice(run, n, false, 0)};
        run->state[n] = OWN_READING;
        CHECK_OK(dpu_submit(net->dpu[n], &r, ++net->now));
        break;
    }
    case OWN_READING: {
        uint64_t counter;
        memcpy(&counter, net_memory(&net->ctx[n], run->data, false), 8);
        CHECK_U64(counter, ==, run->sections); /* release consistency held */
        counter++;
        dpu_request_t w = {.op = DPU_OP_WRITE, .page = run->data, .length = 8,
                           .data = (const uint8_t *)&counter};
        run->state[n] = OWN_WRITING;
        CHECK_OK(dpu_submit(net->dpu[n], &w, ++net->now));
        break;
    }
    case OWN_WRITING:
        CHECK(c->op == DPU_OP_WRITE);
        own_run_notice(run, n, true, c->version);
        run->sections++;
        run->done[n]++;
        run->holder = -1;
        run->state[n] = OWN_IDLE;
        CHECK_OK(net_submit_acq(net, n, DPU_OP_RELEASE, run->lock, 0, 0, 0));
        break;
    case OWN_IDLE:
        break;
    }
}

static void own_run_drive(own_run_t *run, uint32_t rounds)
{
    net_t *net = &run->net;
    uint32_t nodes = net->topo->nodes;
    for (uint32_t n = 0; n < nodes; n++) {
        for (int i = 0; i < net->logged[n]; i++) {
            dpu_completion_t c = net->log[n][i];
            if (c.op != DPU_OP_RELEASE)
                own_run_step_node(run, n, &c);
        }
        net->logged[n] = 0;
        if (run->state[n] == OWN_IDLE && run->done[n] < rounds &&
            test_rand_next(&run->rng) % 4 == 0) {
            run->state[n] = OWN_ACQUIRING;
            CHECK_OK(net_submit_acq(net, n, DPU_OP_ACQUIRE, run->lock, DPU_ACQUIRE_PIN, 0, 0));
        } else if (test_rand_next(&run->rng) % 16 == 0) {
            net_submit(net, n, DPU_OP_READ, test_rand_next(&run->rng) & 1 ? run->data : run->lock);
        }
    }
}

static void own_run_seed(uint64_t seed)
{
    static const char *specs[] = {"tree:7:2", "ring:5", "mesh:4", "ring:8"};
    own_run_t *run = calloc(1, sizeof *run);
    run->rng = seed;
    const char *spec = specs[seed % 4];
    net_init(&run->net, spec, 64);
    uint32_t nodes = run->net.topo->nodes, rounds = 3;
    uint32_t lock_birth = (uint32_t)(test_rand_next(&run->rng) % nodes);
    uint32_t data_birth = (uint32_t)(test_rand_next(&run->rng) % nodes);
    run->lock = net_page(lock_birth);
    gva_fields_t f = {.machine = data_birth, .offset = 0x20000};
    run->data = gva_make(&f);
    run->holder = -1;
    net_submit(&run->net, lock_birth, DPU_OP_CREATE, run->lock);
    net_submit(&run->net, data_birth, DPU_OP_CREATE, run->data);
    run->net.logged[lock_birth] = run->net.logged[data_birth] = 0;
    for (uint32_t step = 0; step < 200000 && run->sections < nodes * rounds; step++) {
        if (!own_run_deliver(run) || test_rand_next(&run->rng) % 3 == 0)
            own_run_drive(run, rounds);
    }
    if (run->sections != nodes * rounds) {
        net_settle(&run->net);
        for (uint32_t n = 0; n < nodes; n++) {
            pcache_entry_t *e = net_entry(&run->net, n, run->lock);
            fprintf(stderr, "node %u: state %d done %u entry %s copy %d up %d down %llx flags %x "
                    "queue %u pinned %d pending %u\n", n, run->state[n], run->done[n],
                    e ? "yes" : "no", e ? e->copy : -1, e ? e->up : -9,
                    e ? (unsigned long long)e->down : 0ull, e ? e->flags : 0,
                    dpu_queue_length(run->net.dpu[n], run->lock),
                    dpu_pinned(run->net.dpu[n], run->lock), dpu_pending(run->net.dpu[n]));
        }
    }
    if (run->sections != nodes * rounds)
        fprintf(stderr, "own_property: replay with seed %llu (%s): %u of %u sections\n",
                (unsigned long long)seed, spec, run->sections, nodes * rounds);
    CHECK_U64(run->sections, ==, nodes * rounds);
    net_settle(&run->net);
    net_check_tree(&run->net, run->lock);
    net_check_tree(&run->net, run->data);
    net_fini(&run->net);
    free(run);
}

/* Every node takes the lock three times and increments a counter in a
 * path-cache page under it; random delivery orders over four topologies. */
TEST_FN(own_property_mutex_counter)
{
    const char *only = getenv("ARI_OWN_SEED");
    if (only != NULL) {
        own_run_seed(strtoull(only, NULL, 10));
        return;
    }
    for (uint64_t seed = 1; seed <= 400; seed++)
        own_run_seed(seed);
}

/* Ownership requests that make no sense get ARI_EINVAL and change nothing. */
TEST_FN(own_bad_requests)
{
    net_t net;
    net_init(&net, "ring:4", 16);
    ari_gva_t page = net_page(0);
    net_submit(&net, 0, DPU_OP_CREATE, page);
    CHECK_INT(net_submit_acq(&net, 0, DPU_OP_RELEASE, page, 0, 0, 0), ==, ARI_EINVAL); /* not pinned */
    CHECK_INT(net_submit_acq(&net, 1, DPU_OP_RELEASE, page, 0, 0, 0), ==, ARI_EINVAL); /* not the owner */
    CHECK_INT(net_submit_acq(&net, 1, DPU_OP_BARRIER, page, 0, 8, 0), ==, ARI_EINVAL); /* no parties */
    CHECK_INT(net_submit_acq(&net, 1, DPU_OP_SEM_WAIT, page, 0, 12, 0), ==, ARI_EINVAL); /* unaligned */
    CHECK_INT(net_submit_acq(&net, 1, DPU_OP_SEM_POST, page, 0, GVA_PAGE_SIZE, 0), ==, ARI_EINVAL);
    CHECK_INT(net_submit_acq(&net, 1, DPU_OP_ACQUIRE, page, 0, 8, 0), ==, ARI_EINVAL); /* OWN names no word */
    CHECK_U64(dpu_pending(net.dpu[1]), ==, 0);
    uint64_t sent = 0;
    for (int t = 0; t < MSG_TYPE_END; t++)
        sent += net.sent[1][t];
    CHECK_U64(sent, ==, 0);
    net_fini(&net);
}
