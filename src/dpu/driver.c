/*
 * driver — one core DPU driven by links, the clock and the node's threads
 * (driver.h).
 */
#include "driver.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpu/files.h"

/* How long a thread polls before it sleeps on the bell: long enough that a
 * request-answer exchange between two nodes never sleeps, short enough
 * that an idle node costs nothing measurable. */
#define DRIVER_SPIN_NS 50000ull
#define DRIVER_SLEEP_MAX_NS 20000000ull /* 20 ms: ending and ticks are noticed */
#define DRIVER_BATCH 64u                /* messages per port per step */

typedef struct outbox_msg {
    struct outbox_msg *next;
    uint32_t length;
    uint8_t bytes[];
} outbox_msg_t;

typedef struct {
    shmring_t *tx;      /* we push */
    shmring_t *rx;      /* the neighbour pushes, we pop */
    uint32_t peer;      /* the neighbour's node id */
    outbox_msg_t *head, *tail;
    uint64_t queued;    /* bytes in the outbox */
} driver_link_t;

typedef struct {
    uint32_t generation;
    bool open;
    _Atomic uint32_t remaining;
    int status;
    uint64_t version, value;
    uint8_t *get_dst;
} driver_slot_t;

struct driver {
    pthread_mutex_t lock;
    ctl_header_t *ctl;
    ctl_node_t *self;
    uint32_t node;
    topo_t *topo;
    route_t *route;
    dpu_t *dpu;
    driver_hooks_t hooks;
    uint32_t ports;
    driver_link_t *links;
    _Atomic uint64_t outbox_bytes;  /* read without the lock by throttling waiters */
    _Atomic uint64_t next_tick_ns;  /* read without the lock by sleepers */
    uint64_t tick_period_ns, timeout_ns;
    driver_slot_t slots[DRIVER_TICKETS_MAX];
    uint32_t free_slots[DRIVER_TICKETS_MAX];
    uint32_t free_count;
    pthread_t thread;
    bool thread_started;
    _Atomic bool stopping;
    _Atomic uint64_t link_waits, sleeps;
    _Atomic uint32_t waiters;       /* application threads waiting for answers */
    _Atomic uintptr_t spinner;      /* the one thread allowed to spin now (0: none) */
    bool link_broken;
};

uint64_t driver_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Links
 * ------------------------------------------------------------------------ */

/* A peer learns of a message by polling, or by its bell when nobody polls;
 * a peer on another host, through this host's agent. */
static void driver_wake_peer(driver_t *d, uint32_t peer) { ctl_wake(d->ctl, peer); }

static bool driver_outbox_push(driver_t *d, driver_link_t *link, const uint8_t *bytes,
                               size_t length)
{
    if (d->outbox_bytes + length > DRIVER_OUTBOX_MAX) {
        /* A peer that takes nothing for a gigabyte is stuck: end the run
         * rather than grow without bound. */
        fprintf(stderr, "ariadne: node %u: the link to node %u took nothing for %llu bytes; "
                        "ending the run\n", d->node, link->peer,
                (unsigned long long)d->outbox_bytes);
        d->link_broken = true;
        return false;
    }
    outbox_msg_t *m = malloc(sizeof *m + length);
    if (m == NULL) {
        d->link_broken = true;
        return false;
    }
    m->next = NULL;
    m->length = (uint32_t)length;
    memcpy(m->bytes, bytes, length);
    if (link->tail != NULL)
        link->tail->next = m;
    else
        link->head = m;
    link->tail = m;
    link->queued += length;
    d->outbox_bytes += length;
    atomic_fetch_add_explicit(&d->link_waits, 1, memory_order_relaxed);
    return true;
}

/* The DPU's world: one encoded message on a port, in order. */
static void driver_world_send(void *ctx, uint32_t port, const uint8_t *bytes, size_t length)
{
    driver_t *d = ctx;
    assert(port < d->ports);
    driver_link_t *link = &d->links[port];
    if (driver_failed(d) != ARI_OK)
        return; /* the run is ending: nobody will read it */
    if (link->head == NULL && shmring_push(link->tx, bytes, length) == ARI_OK) {
        driver_wake_peer(d, link->peer);
        return;
    }
    driver_outbox_push(d, link, bytes, length);
}

/* Moves queued messages into rings that have room again. */
static uint32_t driver_outbox_drain(driver_t *d)
{
    uint32_t moved = 0;
    for (uint32_t p = 0; p < d->ports && d->outbox_bytes > 0; p++) {
        driver_link_t *link = &d->links[p];
        bool pushed = false;
        while (link->head != NULL &&
               shmring_push(link->tx, link->head->bytes, link->head->length) == ARI_OK) {
            outbox_msg_t *m = link->head;
            link->head = m->next;
            if (link->head == NULL)
                link->tail = NULL;
            link->queued -= m->length;
            d->outbox_bytes -= m->length;
            free(m);
            pushed = true;
            moved++;
        }
        if (pushed)
            driver_wake_peer(d, link->peer);
    }
    return moved;
}

static void driver_outbox_clear(driver_t *d)
{
    for (uint32_t p = 0; p < d->ports; p++) {
        while (d->links[p].head != NULL) {
            outbox_msg_t *m = d->links[p].head;
            d->links[p].head = m->next;
            free(m);
        }
        d->links[p].tail = NULL;
        d->links[p].queued = 0;
    }
    d->outbox_bytes = 0;
}

/* Delivers up to DRIVER_BATCH messages from one port. */
static uint32_t driver_receive_port(driver_t *d, uint32_t port, uint64_t now_ns)
{
    driver_link_t *link = &d->links[port];
    uint32_t n = 0;
    while (n < DRIVER_BATCH) {
        const uint8_t *bytes;
        long length = shmring_peek(link->rx, &bytes);
        if (length == 0)
            break;
        if (length < 0) {
            if (!d->link_broken)
                fprintf(stderr, "ariadne: node %u: the link from node %u carried malformed "
                                "data (%s); ending the run\n", d->node, link->peer,
                        ari_strerror((int)length));
            d->link_broken = true;
            break;
        }
        dpu_receive(d->dpu, port, bytes, (size_t)length, now_ns);
        shmring_pop(link->rx);
        n++;
    }
    return n;
}

static bool driver_rings_busy(const driver_t *d)
{
    for (uint32_t p = 0; p < d->ports; p++) {
        if (!shmring_empty(d->links[p].rx))
            return true;
    }
    return d->outbox_bytes > 0;
}

/* ------------------------------------------------------------------------
 * Progress
 * ------------------------------------------------------------------------ */

/* One step under the lock: every port's messages, outboxes, due ticks.
 * Returns how much it did (0: idle). */
static uint32_t driver_progress_locked(driver_t *d)
{
    uint64_t now = driver_now_ns();
    uint32_t work = 0;
    for (uint32_t p = 0; p < d->ports; p++)
        work += driver_receive_port(d, p, now);
    if (d->outbox_bytes > 0)
        work += driver_outbox_drain(d);
    if (now >= d->next_tick_ns) {
        uint64_t deadline = dpu_tick(d->dpu, now);
        uint64_t periodic = now + d->tick_period_ns;
        d->next_tick_ns = deadline < periodic ? deadline : periodic;
        work++;
    } else {
        uint64_t deadline = dpu_deadline(d->dpu);
        if (deadline < d->next_tick_ns)
            d->next_tick_ns = deadline;
    }
    if (d->link_broken) {
        uint32_t expected = 0;
        atomic_compare_exchange_strong(&d->ctl->ending, &expected, d->node + 1);
    }
    if (driver_failed(d) != ARI_OK && d->outbox_bytes > 0)
        driver_outbox_clear(d);
    return work;
}

static __thread char driver_thread_tag; /* its address names the calling thread */

/* One spinner per node: more would take the cores the answers need (on a
 * machine with fewer cores than busy threads, spinners measure the
 * scheduler). A waiting application thread has the first claim; the
 * progress thread spins only when nobody waits. */
static bool driver_spin_claim(driver_t *d, bool waiter)
{
    uintptr_t me = (uintptr_t)&driver_thread_tag, cur = atomic_load(&d->spinner);
    if (!waiter && atomic_load(&d->waiters) > 0) {
        if (cur == me)
            atomic_store(&d->spinner, 0);
        return false;
    }
    if (cur == me)
        return true;
    return cur == 0 && atomic_compare_exchange_strong(&d->spinner, &cur, me);
}

static void driver_spin_release(driver_t *d)
{
    uintptr_t me = (uintptr_t)&driver_thread_tag;
    atomic_compare_exchange_strong(&d->spinner, &me, 0);
}

/* Polls without the lock held by us; sleeps on the bell when idle.
 * `remaining` (may be NULL) ends the wait early. */
static void driver_idle(driver_t *d, uint64_t spin_start, uint64_t limit_ns,
                        _Atomic uint32_t *remaining, bool waiter)
{
    uint64_t now = driver_now_ns();
    if (now - spin_start < DRIVER_SPIN_NS && driver_spin_claim(d, waiter)) {
        /* Yielding, not pausing: with more busy threads than cores (the
         * application's, other nodes') a spinner must not hold a core
         * another thread needs to answer us. Measured on 2 cores, pausing
         * instead doubled fetch-add and pingpong latency. */
        sched_yield();
        return;
    }
    driver_spin_release(d);
    ctl_node_t *self = d->self;
    atomic_fetch_sub(&self->pollers, 1);
    uint32_t seen = bell_read(&self->bell);
    bool spun_out = now - spin_start >= DRIVER_SPIN_NS;
    bool quiet = (!spun_out || !driver_rings_busy(d)) && driver_failed(d) == ARI_OK &&
                 (remaining == NULL || atomic_load(remaining) > 0) &&
                 !atomic_load(&d->stopping);
    if (quiet) {
        uint64_t wait = DRIVER_SLEEP_MAX_NS;
        uint64_t tick = atomic_load_explicit(&d->next_tick_ns, memory_order_relaxed);
        if (tick > now && tick - now < wait)
            wait = tick - now;
        if (tick <= now)
            wait = 1000;
        if (limit_ns > now && limit_ns - now < wait)
            wait = limit_ns - now;
        atomic_fetch_add_explicit(&d->sleeps, 1, memory_order_relaxed);
        bell_wait(&self->bell, seen, wait);
    }
    atomic_fetch_add(&self->pollers, 1);
}

static void *driver_thread_main(void *arg)
{
    driver_t *d = arg;
    atomic_fetch_add(&d->self->pollers, 1);
    uint64_t spin_start = driver_now_ns();
    while (!atomic_load(&d->stopping)) {
        uint32_t work = 0;
        if (pthread_mutex_trylock(&d->lock) == 0) {
            work = driver_progress_locked(d);
            pthread_mutex_unlock(&d->lock);
        }
        if (work > 0) {
            spin_start = driver_now_ns();
            continue;
        }
        driver_idle(d, spin_start, UINT64_MAX, NULL, false);
    }
    driver_spin_release(d);
    atomic_fetch_sub(&d->self->pollers, 1);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Tickets and completions
 * ------------------------------------------------------------------------ */

static uint64_t driver_cookie(driver_ticket_t t) { return (uint64_t)t.slot << 32 | t.generation; }

static void driver_world_complete(void *ctx, const dpu_completion_t *c)
{
    driver_t *d = ctx;
    uint32_t index = (uint32_t)(c->cookie >> 32);
    if (index >= DRIVER_TICKETS_MAX)
        return;
    driver_slot_t *slot = &d->slots[index];
    if (!slot->open || slot->generation != (uint32_t)c->cookie)
        return; /* its waiter gave up: nobody may be written to */
    if (c->status != ARI_OK && slot->status == ARI_OK)
        slot->status = c->status;
    if (c->version > slot->version)
        slot->version = c->version;
    slot->value = c->value;
    if (c->data != NULL && slot->get_dst != NULL)
        memcpy(slot->get_dst, c->data, c->length);
    assert(atomic_load(&slot->remaining) > 0);
    if (atomic_fetch_sub_explicit(&slot->remaining, 1, memory_order_release) == 1)
        bell_ring(&d->self->bell); /* a waiter of ours may sleep */
}

int driver_ticket_open(driver_t *d, driver_ticket_t *ticket_out)
{
    if (d->free_count == 0)
        return ARI_EBUSY;
    uint32_t index = d->free_slots[--d->free_count];
    driver_slot_t *slot = &d->slots[index];
    assert(!slot->open);
    slot->open = true;
    slot->status = ARI_OK;
    slot->version = 0;
    slot->value = 0;
    slot->get_dst = NULL;
    atomic_store(&slot->remaining, 0);
    ticket_out->slot = index;
    ticket_out->generation = slot->generation;
    return ARI_OK;
}

void driver_ticket_close(driver_t *d, driver_ticket_t t)
{
    driver_slot_t *slot = &d->slots[t.slot];
    assert(slot->open && slot->generation == t.generation);
    slot->open = false;
    slot->generation++;
    slot->get_dst = NULL;
    d->free_slots[d->free_count++] = t.slot;
}

int driver_submit(driver_t *d, driver_ticket_t t, dpu_request_t *request, uint8_t *get_dst)
{
    driver_slot_t *slot = &d->slots[t.slot];
    assert(slot->open && slot->generation == t.generation);
    if (driver_failed(d) != ARI_OK)
        return ARI_EPEER;
    if (get_dst != NULL)
        slot->get_dst = get_dst;
    request->cookie = driver_cookie(t);
    atomic_fetch_add(&slot->remaining, 1);
    int status = dpu_submit(d->dpu, request, driver_now_ns());
    if (status != ARI_OK)
        atomic_fetch_sub(&slot->remaining, 1);
    return status;
}

/* Waits, driving progress, until `remaining` reaches 0 or a limit. */
static int driver_wait_remaining(driver_t *d, _Atomic uint32_t *remaining)
{
    uint64_t limit = driver_now_ns() + d->timeout_ns;
    uint64_t spin_start = driver_now_ns();
    int status = ARI_OK;
    atomic_fetch_add(&d->self->pollers, 1);
    atomic_fetch_add(&d->waiters, 1);
    while (atomic_load_explicit(remaining, memory_order_acquire) > 0) {
        if ((status = driver_failed(d)) != ARI_OK)
            break;
        if (pthread_mutex_trylock(&d->lock) == 0) {
            uint32_t work = driver_progress_locked(d);
            pthread_mutex_unlock(&d->lock);
            if (work > 0) {
                spin_start = driver_now_ns();
                continue;
            }
        }
        if (driver_now_ns() >= limit) {
            status = ARI_ETIMEDOUT;
            break;
        }
        driver_idle(d, spin_start, limit, remaining, true);
    }
    atomic_fetch_sub(&d->waiters, 1);
    driver_spin_release(d);
    atomic_fetch_sub(&d->self->pollers, 1);
    return status;
}

int driver_wait(driver_t *d, driver_ticket_t t, driver_result_t *result_out)
{
    driver_slot_t *slot = &d->slots[t.slot];
    int status = driver_wait_remaining(d, &slot->remaining);
    pthread_mutex_lock(&d->lock);
    if (status == ARI_OK)
        status = slot->status;
    if (result_out != NULL) {
        result_out->status = status;
        result_out->version = slot->version;
        result_out->value = slot->value;
    }
    driver_ticket_close(d, t);
    pthread_mutex_unlock(&d->lock);
    return status;
}

int driver_call(driver_t *d, dpu_request_t *request, uint8_t *get_dst,
                driver_result_t *result_out)
{
    int status = driver_throttle(d);
    if (status != ARI_OK)
        return status;
    driver_ticket_t t;
    pthread_mutex_lock(&d->lock);
    status = driver_ticket_open(d, &t);
    if (status == ARI_OK) {
        status = driver_submit(d, t, request, get_dst);
        if (status != ARI_OK)
            driver_ticket_close(d, t);
    }
    pthread_mutex_unlock(&d->lock);
    if (status != ARI_OK)
        return status;
    return driver_wait(d, t, result_out);
}

int driver_throttle(driver_t *d)
{
    uint64_t limit = driver_now_ns() + d->timeout_ns;
    while (atomic_load_explicit(&d->outbox_bytes, memory_order_relaxed) > DRIVER_OUTBOX_SOFT) {
        if (driver_failed(d) != ARI_OK)
            return ARI_EPEER;
        if (driver_now_ns() >= limit)
            return ARI_ETIMEDOUT;
        driver_poll_for(d, 100000);
    }
    return driver_failed(d);
}

void driver_poll_for(driver_t *d, uint64_t ns)
{
    uint64_t end = driver_now_ns() + ns;
    atomic_fetch_add(&d->self->pollers, 1);
    uint64_t spin_start = driver_now_ns();
    while (driver_now_ns() < end && driver_failed(d) == ARI_OK) {
        pthread_mutex_lock(&d->lock);
        uint32_t work = driver_progress_locked(d);
        pthread_mutex_unlock(&d->lock);
        if (work > 0)
            spin_start = driver_now_ns();
        else
            driver_idle(d, spin_start, end, NULL, true);
    }
    driver_spin_release(d);
    atomic_fetch_sub(&d->self->pollers, 1);
}

/* ------------------------------------------------------------------------
 * The world's memory and events: the node's
 * ------------------------------------------------------------------------ */

static uint8_t *driver_world_page_memory(void *ctx, ari_gva_t page, bool create)
{
    driver_t *d = ctx;
    return d->hooks.page_memory(d->hooks.ctx, page, create);
}

static void driver_world_page_drop(void *ctx, ari_gva_t page)
{
    driver_t *d = ctx;
    d->hooks.page_drop(d->hooks.ctx, page);
}

static void driver_world_page_write(void *ctx, ari_gva_t page, uint8_t *memory, uint32_t offset,
                                    const uint8_t *bytes, uint32_t length)
{
    driver_t *d = ctx;
    d->hooks.page_write(d->hooks.ctx, page, memory, offset, bytes, length);
}

static void driver_world_page_leave(void *ctx, ari_gva_t page)
{
    driver_t *d = ctx;
    d->hooks.page_leave(d->hooks.ctx, page);
}

static void driver_world_observe(void *ctx, const dpu_event_t *event)
{
    driver_t *d = ctx;
    if (d->hooks.observe != NULL)
        d->hooks.observe(d->hooks.ctx, event);
}

/* ------------------------------------------------------------------------
 * Life
 * ------------------------------------------------------------------------ */

static int driver_links_init(driver_t *d, char *error, size_t error_size)
{
    uint32_t first = d->topo->offsets[d->node];
    d->ports = topo_degree(d->topo, d->node);
    if (d->ctl->ring_count != d->topo->offsets[d->topo->nodes]) {
        snprintf(error, error_size, "the run has %u rings but topology %s has %u ports",
                 d->ctl->ring_count, d->ctl->topo_spec, d->topo->offsets[d->topo->nodes]);
        return ARI_EINVAL;
    }
    d->links = calloc(d->ports > 0 ? d->ports : 1, sizeof *d->links);
    if (d->links == NULL)
        return ARI_ENOMEM;
    for (uint32_t p = 0; p < d->ports; p++) {
        uint32_t peer = topo_neighbor(d->topo, d->node, p);
        uint32_t peer_port = d->topo->peer_port[first + p];
        d->links[p].peer = peer;
        d->links[p].tx = ctl_ring(d->ctl, first + p);
        d->links[p].rx = ctl_ring(d->ctl, d->topo->offsets[peer] + peer_port);
    }
    return ARI_OK;
}

static int driver_topo_init(driver_t *d, char *error, size_t error_size)
{
    int status = topo_build(d->ctl->topo_spec, dpu_file_read, NULL, &d->topo, error, error_size);
    if (status != ARI_OK)
        return status;
    if (d->topo->nodes != d->ctl->nodes || d->node >= d->topo->nodes) {
        snprintf(error, error_size, "topology %s has %u nodes, the run %u (this is node %u)",
                 d->ctl->topo_spec, d->topo->nodes, d->ctl->nodes, d->node);
        return ARI_EINVAL;
    }
    status = route_create(d->topo, 4096, &d->route);
    if (status != ARI_OK)
        snprintf(error, error_size, "cannot build routes: %s", ari_strerror(status));
    return status;
}

static int driver_dpu_init(driver_t *d, const dpu_config_t *base, char *error, size_t error_size)
{
    dpu_config_t config = *base;
    config.node = d->node;
    config.topo = d->topo;
    config.route = d->route;
    dpu_world_t world = {d, driver_world_send, driver_world_page_memory, driver_world_page_drop,
                         driver_world_complete, driver_world_observe, NULL,
                         d->hooks.page_write != NULL ? driver_world_page_write : NULL,
                         d->hooks.page_leave != NULL ? driver_world_page_leave : NULL};
    if (d->ports > 0 && dpu_scratch_size(&config) > shmring_message_max(d->ctl->ring_capacity)) {
        snprintf(error, error_size, "rings of %llu bytes cannot carry a %zu-byte message",
                 (unsigned long long)d->ctl->ring_capacity, dpu_scratch_size(&config));
        return ARI_EINVAL;
    }
    int status = dpu_create(&config, &world, &d->dpu);
    if (status != ARI_OK)
        snprintf(error, error_size, "cannot create the DPU: %s", ari_strerror(status));
    d->tick_period_ns = config.pcache_ttl_ns / 4;
    if (d->tick_period_ns > 100000000ull)
        d->tick_period_ns = 100000000ull;
    return status;
}

int driver_create(ctl_header_t *ctl, uint32_t node, const dpu_config_t *config,
                  const driver_hooks_t *hooks, driver_t **driver_out, char *error,
                  size_t error_size)
{
    if (node >= ctl->nodes) {
        snprintf(error, error_size, "node %u is not in a run of %u", node, ctl->nodes);
        return ARI_EINVAL;
    }
    driver_t *d = calloc(1, sizeof *d);
    if (d == NULL)
        return ARI_ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->ctl = ctl;
    d->self = ctl_node(ctl, node);
    d->node = node;
    d->hooks = *hooks;
    d->timeout_ns = (uint64_t)ctl->timeout_ms * 1000000ull;
    for (uint32_t i = 0; i < DRIVER_TICKETS_MAX; i++)
        d->free_slots[i] = DRIVER_TICKETS_MAX - 1 - i;
    d->free_count = DRIVER_TICKETS_MAX;
    int status = driver_topo_init(d, error, error_size);
    if (status == ARI_OK)
        status = driver_links_init(d, error, error_size);
    if (status == ARI_OK)
        status = driver_dpu_init(d, config, error, error_size);
    if (status != ARI_OK) {
        driver_destroy(d);
        return status;
    }
    *driver_out = d;
    return ARI_OK;
}

int driver_start(driver_t *d)
{
    assert(!d->thread_started);
    if (pthread_create(&d->thread, NULL, driver_thread_main, d) != 0)
        return ARI_ENOMEM;
    d->thread_started = true;
    return ARI_OK;
}

void driver_destroy(driver_t *d)
{
    if (d == NULL)
        return;
    if (d->thread_started) {
        atomic_store(&d->stopping, true);
        bell_ring(&d->self->bell);
        pthread_join(d->thread, NULL);
    }
    if (d->links != NULL)
        driver_outbox_clear(d);
    free(d->links);
    if (d->dpu != NULL)
        dpu_destroy(d->dpu);
    if (d->route != NULL)
        route_free(d->route);
    if (d->topo != NULL)
        topo_free(d->topo);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void driver_lock(driver_t *d) { pthread_mutex_lock(&d->lock); }
void driver_unlock(driver_t *d) { pthread_mutex_unlock(&d->lock); }
dpu_t *driver_dpu(driver_t *d) { return d->dpu; }
const topo_t *driver_topo(const driver_t *d) { return d->topo; }
route_t *driver_route(driver_t *d) { return d->route; }
uint64_t driver_outbox_bytes(const driver_t *d) { return d->outbox_bytes; }
uint64_t driver_link_waits(const driver_t *d) { return atomic_load(&d->link_waits); }
uint64_t driver_sleeps(const driver_t *d) { return atomic_load(&d->sleeps); }
uint64_t driver_timeout_ns(const driver_t *d) { return d->timeout_ns; }

int driver_failed(const driver_t *d)
{
    return atomic_load_explicit(&d->ctl->ending, memory_order_relaxed) != 0 ? ARI_EPEER : ARI_OK;
}

int driver_dead_node(const driver_t *d)
{
    uint32_t ending = atomic_load(&d->ctl->ending);
    return ending == 0 ? -1 : (int)ending - 1;
}
