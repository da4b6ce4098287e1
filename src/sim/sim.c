/*
 * sim — the discrete-event simulator: one core DPU per node, links with
 * latency, bandwidth, jitter and stalls (FIFO kept), a host per node that
 * runs the workload, and the checks of DESIGN §4 after the run.
 *
 * A run has three phases, each run until no event is left:
 *   1. operations: the workload's requests arrive (Poisson) at their nodes;
 *      then every valid replica must equal its master (convergence);
 *   2. unref: every node drops every replica; then only the owners'
 *      entries may remain (no leak);
 *   3. free: every owner frees every page; then no entry may remain.
 * The ownership workloads (DESIGN §5) run agents: a lock contender, a
 * barrier party or a migratory session is a node issuing a script of
 * requests, each when the one before completes. Ownership is followed from
 * the DPUs' events (one owner per page at every instant, mutual exclusion,
 * waits against their bound), and at the end of phases 1 and 2 the masters
 * and every page's path-cache tree are checked where nothing is in flight.
 */
#include "sim.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/dir.h"
#include "core/gva.h"
#include "core/pcache.h"
#include "core/rng.h"
#include "event.h"
#include "map.h"
#include "trace.h"

/* ------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------ */

typedef struct {
    uint64_t busy_until_ns;    /* serialisation: the link sends one message at a time */
    uint64_t last_arrival_ns;  /* FIFO: nothing arrives before its predecessor */
    uint64_t stall_until_ns;   /* a burst in progress */
} sim_link_t;

#define SIM_NONE UINT32_MAX

typedef struct {
    ari_gva_t gva;        /* current identity: the generation moves on at each free */
    uint32_t birth;
    uint32_t *readers;
    bool freeing;
    /* Ownership as the observer sees it (OWNER_LOSE / OWNER_GAIN events). */
    uint32_t owner;       /* the node holding the master, SIM_NONE: none */
    uint32_t moving_to;   /* where the page's XFER_DATA is going */
    uint32_t masters, in_flight;
    uint64_t lose_version;
    uint32_t holder;      /* the node holding it pinned, SIM_NONE: nobody */
    uint32_t release_node;
    uint64_t release_ns;  /* the last RELEASE of a pin, at the DPU */
    uint32_t sessions, sessions_max; /* migratory sessions on it now, and at most */
} sim_page_t;

typedef struct {
    dpu_request_t request;
    uint8_t *data;        /* WRITE bytes until submitted */
    uint64_t start_ns;    /* when the host issued it */
    uint64_t submit_ns;   /* when it reached the DPU */
    uint64_t version;     /* the completion's version */
    uint32_t node;
    uint32_t page;        /* index in pages, or UINT32_MAX for setup/teardown */
    uint32_t agent;       /* the agent it belongs to, + 1 (0: none) */
    int status;
    bool done;
} sim_op_t;

/* An agent: one node running a scripted sequence of requests, each issued
 * when the one before completes: a lock contender, a barrier party, a
 * migratory session. */
typedef enum {
    SIM_STEP_BEGIN = 0,     /* lock: claim a section; barrier: start a round */
    SIM_STEP_ACQUIRE,       /* ACQUIRE with pin */
    SIM_STEP_READ_COUNTER,  /* lock: READ the counter page, min_version = the notice */
    SIM_STEP_WRITE_COUNTER, /* lock: the counter + 1 */
    SIM_STEP_WRITE_NOTICE,  /* lock: the counter's version into the lock page; barrier: the
                             * slot's version into this party's notice word */
    SIM_STEP_WRITE_DATA,    /* migratory: a write at the new owner */
    SIM_STEP_HOLD,          /* hold_ns before RELEASE */
    SIM_STEP_RELEASE,
    SIM_STEP_WRITE_SLOT,    /* barrier: this party's slot = the round */
    SIM_STEP_BARRIER,
    SIM_STEP_READ_NOTICES,  /* barrier: READ the barrier page, min_version = the grant's */
    SIM_STEP_READ_SLOTS,    /* barrier: READ the slots, min_version = the newest notice */
    SIM_STEP_FINISHED,
} sim_step_t;

typedef struct {
    uint32_t node;
    uint32_t index;        /* lock: contender; barrier: party (its slot) */
    uint32_t page;         /* the page its ACQUIRE takes */
    uint8_t step;          /* sim_step_t */
    uint32_t writes_left;  /* migratory */
    uint64_t round;        /* barrier: 1, 2, ... */
    uint64_t notice;       /* the version the next READ must reach */
    uint64_t value;        /* lock: the counter read */
} sim_agent_t;

typedef struct {
    uint64_t *values;
    size_t count, capacity;
} sim_samples_t;

typedef struct sim sim_t;

typedef struct {
    sim_t *sim;
    uint32_t node;
} sim_node_ctx_t;

/* What the simulator needs of a protocol: the path-cache DPU or the
 * directory baseline, driven the same way. */
typedef void (*sim_copy_fn)(void *ctx, ari_gva_t page, uint8_t copy, uint64_t version);
typedef struct {
    int (*create)(const dpu_config_t *config, const dpu_world_t *world, void **node_out);
    void (*destroy)(void *node);
    int (*submit)(void *node, const dpu_request_t *request, uint64_t now_ns);
    uint64_t (*tick)(void *node, uint64_t now_ns);
    uint64_t (*deadline)(const void *node);
    const dpu_stats_t *(*stats)(const void *node);
    bool (*copy)(void *node, ari_gva_t page, uint8_t *copy_out, uint64_t *version_out);
    void (*each)(void *node, sim_copy_fn fn, void *ctx);
    uint32_t (*entries)(void *node);
} sim_ops_t;

struct sim {
    const topo_t *topo;
    route_t *route;
    sim_config_t config;
    sim_result_t *result;
    const sim_ops_t *proto;
    void **dpus;           /* one protocol node per simulated node */
    sim_node_ctx_t *ctx;
    sim_link_t *links;     /* one per (node, port), CSR order */
    uint8_t *scratch;      /* one encode buffer for every DPU: they step one at a time */
    uint64_t *tick_at;     /* per node: the tick already queued, or UINT64_MAX */
    sim_queue_t queue;
    uint64_t now_ns;
    rng_t rng;
    sim_map_t copies;      /* (node, page): value[0] buffer, value[1] last version + 1 */
    sim_map_t orders;      /* (page, version): value[0] time ordered */
    sim_map_t writers;     /* (page, origin): value[0] last seq ordered */
    sim_page_t *pages;
    sim_op_t *ops;
    size_t ops_count, ops_capacity;
    uint64_t ops_started;  /* workload operations issued so far */
    sim_samples_t propagation_ns, propagation_hops, atomic_ns, hotspot_olds;
    uint64_t hotspot_adds;
    /* Ownership workloads */
    sim_agent_t *agents;
    uint32_t agents_count, agents_capacity, agents_active;
    uint32_t *agents_free; /* finished migratory sessions' slots, for reuse */
    uint32_t agents_free_count;
    sim_map_t acquiring;   /* (node, page): value[0] ACQUIRE's DPU time, value[1] 1 if queued */
    sim_map_t sessions;    /* migratory: (node, page index): value[0] 1 while in a session */
    sim_map_t versions;    /* (page): value[0] the last version ordered */
    sim_samples_t transfer_ns, handoff_ns, wait_ns;
    uint64_t sections_started, counter_acked;
    uint64_t ops_start_ns, ops_end_ns;
    uint64_t transfer_bound_ns; /* one transfer, however the links fall */
    uint32_t reserved_bytes;    /* the workload's own words at the start of every page */
    uint64_t trace_written, flow_next;
    /* Message bytes are reused, not freed: a free list per size class. */
    void *pool[2];
    uint32_t pool_count[2];
    uint8_t *trace_named;  /* per node: its track has a name in the trace */
    int error;             /* first internal error (out of memory) */
};

#define SIM_HOTSPOT_WORD 0u
#define SIM_PAGE_LOCK 0u       /* lock-contend: the lock page; barrier: the barrier page */
#define SIM_PAGE_DATA 1u       /* lock-contend: the counter page; barrier: the slots page */
#define SIM_NOTICE_OFFSET 8u   /* lock page: the last holder's write notice */
#define SIM_SESSION_WRITES_MAX 4u

void sim_workload_default(sim_workload_kind_t kind, sim_workload_t *w)
{
    memset(w, 0, sizeof *w);
    w->kind = kind;
    w->ops = 10000;
    w->interval_ns = 200;
    w->pages = 16;
    w->readers = 8;
    w->write_bytes_max = 64;
    switch (kind) {
    case SIM_WORKLOAD_READMOSTLY: w->write_ratio = 0.05; break;
    case SIM_WORKLOAD_WRITEHEAVY: w->write_ratio = 0.5; w->readers = 4; w->write_bytes_max = 2048; break;
    case SIM_WORKLOAD_ATOMICS_HOTSPOT: w->pages = 1; w->write_ratio = 0.9; break;
    case SIM_WORKLOAD_UNIFORM: w->pages = 32; w->write_ratio = 0.3; w->write_bytes_max = 256; break;
    case SIM_WORKLOAD_MIXED:
        w->pages = 6;
        w->readers = 4;
        w->write_ratio = 0.35;
        w->write_bytes_max = 1500;
        w->unref_ratio = 0.1;
        w->free_ratio = 0.02;
        break;
    case SIM_WORKLOAD_TRACE: /* everything comes from the trace */
        w->readers = 1;
        w->write_ratio = 0;
        break;
    case SIM_WORKLOAD_MIGRATORY:
        w->pages = 4;
        w->readers = 2;
        w->write_ratio = 0.1;
        w->own_ratio = 0.6;
        w->ops = 2000;
        w->interval_ns = 2000;
        break;
    case SIM_WORKLOAD_LOCK_CONTEND:
    case SIM_WORKLOAD_BARRIER: /* the lock or barrier page and the data page */
        w->pages = 2;
        w->readers = 0;
        w->write_ratio = 0.3;
        w->parties = 4;
        w->ops = kind == SIM_WORKLOAD_BARRIER ? 50 : 200;
        w->interval_ns = 1000;
        break;
    }
}

static const char *const sim_workload_names[] = {
    [SIM_WORKLOAD_READMOSTLY] = "readmostly", [SIM_WORKLOAD_WRITEHEAVY] = "writeheavy",
    [SIM_WORKLOAD_ATOMICS_HOTSPOT] = "atomics-hotspot", [SIM_WORKLOAD_UNIFORM] = "uniform",
    [SIM_WORKLOAD_MIXED] = "mixed", [SIM_WORKLOAD_TRACE] = "trace",
    [SIM_WORKLOAD_MIGRATORY] = "migratory", [SIM_WORKLOAD_LOCK_CONTEND] = "lock-contend",
    [SIM_WORKLOAD_BARRIER] = "barrier",
};

int sim_workload_parse(const char *name, sim_workload_kind_t *kind_out)
{
    for (int k = SIM_WORKLOAD_READMOSTLY; k <= SIM_WORKLOAD_BARRIER; k++) {
        if (k != SIM_WORKLOAD_TRACE && strcmp(name, sim_workload_names[k]) == 0) {
            *kind_out = (sim_workload_kind_t)k;
            return ARI_OK;
        }
    }
    return ARI_EINVAL;
}

int sim_workload_parse_spec(const char *spec, sim_workload_kind_t *kind_out,
                            uint32_t *parties_out)
{
    char name[32];
    const char *colon = strchr(spec, ':');
    size_t length = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    sim_workload_kind_t kind;
    if (length >= sizeof name)
        return ARI_EINVAL;
    memcpy(name, spec, length);
    name[length] = '\0';
    if (sim_workload_parse(name, &kind) != ARI_OK)
        return ARI_EINVAL;
    uint32_t parties = 0;
    if (colon != NULL) {
        char *end;
        unsigned long value = strtoul(colon + 1, &end, 10);
        if ((kind != SIM_WORKLOAD_LOCK_CONTEND && kind != SIM_WORKLOAD_BARRIER) ||
            !(colon[1] >= '0' && colon[1] <= '9') || *end != '\0' || value < 1 ||
            value > SIM_PARTIES_MAX)
            return ARI_EINVAL;
        parties = (uint32_t)value;
    }
    *kind_out = kind;
    *parties_out = parties;
    return ARI_OK;
}

const char *sim_workload_name(sim_workload_kind_t kind)
{
    return kind >= SIM_WORKLOAD_READMOSTLY && kind <= SIM_WORKLOAD_BARRIER
               ? sim_workload_names[kind]
               : "unknown";
}

void sim_config_default(sim_config_t *config)
{
    memset(config, 0, sizeof *config);
    config->seed = 1;
    config->protocol = SIM_PROTOCOL_PATHCACHE;
    config->hop_latency_ns = 100;
    config->link_gbps = 400;
    config->dpu_step_ns = 50;
    config->host_latency_ns = 500;
    config->jitter_ns = 50;
    config->burst_ratio = 0.001;
    config->burst_ns = 2000;
    dpu_config_default(&config->dpu);
    if (config->dpu.pin_ns_max == 0)
        config->dpu.pin_ns_max = 100000000ull; /* DESIGN §5: 100 ms */
    sim_workload_default(SIM_WORKLOAD_READMOSTLY, &config->workload);
    config->events_max = 2000000000ull;
    config->trace_events_max = 400000;
}

uint64_t sim_result_violations(const sim_result_t *r)
{
    return r->order_violations + r->ryw_violations + r->atomic_violations +
           r->writer_order_violations + r->unconverged + r->leaked_entries + r->stuck_ops +
           r->event_limit_hit + r->owner_violations + r->exclusion_violations +
           r->starvation_violations + r->tree_violations + r->counter_violations +
           r->barrier_violations;
}

static void sim_fail(sim_t *sim, int status)
{
    if (sim->error == ARI_OK)
        sim->error = status;
}

static void sim_sample(sim_t *sim, sim_samples_t *samples, uint64_t value)
{
    if (samples->count == samples->capacity) {
        size_t capacity = samples->capacity ? samples->capacity * 2 : 1024;
        uint64_t *grown = realloc(samples->values, capacity * sizeof *grown);
        if (grown == NULL) {
            sim_fail(sim, ARI_ENOMEM);
            return;
        }
        samples->values = grown;
        samples->capacity = capacity;
    }
    samples->values[samples->count++] = value;
}

static void sim_push(sim_t *sim, sim_event_t *event)
{
    if (sim_queue_push(&sim->queue, event) != ARI_OK) {
        free(event->bytes);
        sim_fail(sim, ARI_ENOMEM);
    }
}

/* ------------------------------------------------------------------------
 * The world each DPU sees
 * ------------------------------------------------------------------------ */

static double sim_uniform(sim_t *sim) { return (double)rng_next(&sim->rng) / 18446744073709551616.0; }

/* ------------------------------------------------------------------------
 * Chrome/Perfetto trace of the message flow: a track per DPU (named on
 * first use), a slice where a DPU handles a message, an arrow per message.
 * ------------------------------------------------------------------------ */

static bool sim_trace_room(sim_t *sim, uint64_t events)
{
    if (sim->config.trace_out == NULL || sim->trace_written + events > sim->config.trace_events_max)
        return false;
    sim->trace_written += events;
    return true;
}

static void sim_trace_track(sim_t *sim, uint32_t node)
{
    if (sim->trace_named == NULL || sim->trace_named[node])
        return;
    sim->trace_named[node] = 1;
    fprintf(sim->config.trace_out,
            ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%u,"
            "\"args\":{\"name\":\"DPU %u\"}}", node, node);
}

/* A slice on a DPU's track, with the start or the end of a message arrow. */
static void sim_trace_message(sim_t *sim, uint32_t node, const uint8_t *bytes, size_t length,
                              uint64_t at_ns, uint64_t flow, bool sending, uint32_t peer)
{
    const char *name = length > 1 ? msg_type_name((msg_type_t)bytes[1]) : "?";
    double ts = (double)at_ns / 1000.0, dur = (double)sim->config.dpu_step_ns / 1000.0;
    sim_trace_track(sim, node);
    fprintf(sim->config.trace_out,
            ",\n{\"name\":\"%s\",\"cat\":\"msg\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
            "\"pid\":0,\"tid\":%u,\"args\":{\"%s\":%u,\"bytes\":%zu}}",
            name, ts, dur > 0 ? dur : 0.001, node, sending ? "to" : "from", peer, length);
    fprintf(sim->config.trace_out,
            ",\n{\"name\":\"%s\",\"cat\":\"msg\",\"ph\":\"%s\",%s\"id\":%llu,"
            "\"ts\":%.3f,\"pid\":0,\"tid\":%u}",
            name, sending ? "s" : "f", sending ? "" : "\"bp\":\"e\",",
            (unsigned long long)flow, ts, node);
}

static void sim_trace_begin(sim_t *sim)
{
    if (sim->config.trace_out == NULL)
        return;
    sim->trace_named = calloc(sim->topo->nodes, 1);
    if (sim->trace_named == NULL) {
        sim_fail(sim, ARI_ENOMEM);
        return;
    }
    fprintf(sim->config.trace_out,
            "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
            "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,"
            "\"args\":{\"name\":\"ariadne sim (%s)\"}}",
            sim_protocol_name(sim->config.protocol));
}

static void sim_trace_end(sim_t *sim)
{
    if (sim->config.trace_out == NULL || sim->trace_named == NULL)
        return;
    fprintf(sim->config.trace_out, "\n]}\n");
    free(sim->trace_named);
    sim->trace_named = NULL;
}

/* Puts bytes on the link behind a port of `from`: it leaves after the DPU
 * step, once the link is free (and not stalled), takes size / bandwidth,
 * then the hop latency plus jitter, and never overtakes the message before
 * it on the same link. `destination` is for routed (directory) messages. */
static void sim_link_send(sim_t *sim, uint32_t from, uint32_t port, uint8_t *bytes,
                          size_t length, sim_event_kind_t kind, uint32_t destination)
{
    const topo_t *topo = sim->topo;
    sim_link_t *link = &sim->links[topo->offsets[from] + port];
    uint64_t depart = sim->now_ns + sim->config.dpu_step_ns;
    if (link->busy_until_ns > depart)
        depart = link->busy_until_ns;
    if (link->stall_until_ns > depart)
        depart = link->stall_until_ns;
    uint64_t serialise = (uint64_t)((double)length * 8.0 / sim->config.link_gbps);
    link->busy_until_ns = depart + serialise;
    uint64_t jitter = sim->config.jitter_ns ? rng_below(&sim->rng, sim->config.jitter_ns + 1) : 0;
    if (sim->config.burst_ratio > 0 && sim_uniform(sim) < sim->config.burst_ratio)
        link->stall_until_ns = depart + sim->config.burst_ns;
    uint64_t arrive = depart + serialise + sim->config.hop_latency_ns + jitter;
    if (arrive < link->last_arrival_ns)
        arrive = link->last_arrival_ns; /* links are FIFO */
    link->last_arrival_ns = arrive;
    sim_event_t event = {.time_ns = arrive, .kind = (uint8_t)kind,
                         .node = topo_neighbor(topo, from, port),
                         .port = (uint16_t)topo_peer_port(topo, from, port),
                         .length = (uint32_t)length, .bytes = bytes, .cookie = destination};
    if (sim_trace_room(sim, 4)) {
        event.flow = ++sim->flow_next;
        sim_trace_message(sim, from, bytes, length, sim->now_ns, event.flow, true, event.node);
    }
    sim->result->link_traversals++;
    sim->result->bytes += length;
    if (length > 1 && bytes[1] < MSG_TYPE_END)
        sim->result->traversals_by_type[bytes[1]]++;
    sim_push(sim, &event);
}

/* Size classes of message buffers: most messages are small; page data
 * takes a whole encode buffer. */
#define SIM_POOL_SMALL 512u
#define SIM_POOL_KEEP_MAX 65536u

static size_t sim_pool_size(const sim_t *sim, int size_class)
{
    return size_class == 0 ? SIM_POOL_SMALL : dpu_scratch_size(&sim->config.dpu);
}

static uint8_t *sim_copy_bytes(sim_t *sim, const uint8_t *bytes, size_t length)
{
    int size_class = length <= SIM_POOL_SMALL ? 0 : 1;
    uint8_t *copy = sim->pool[size_class];
    if (copy != NULL) {
        memcpy(&sim->pool[size_class], copy, sizeof(void *));
        sim->pool_count[size_class]--;
    } else if ((copy = malloc(sim_pool_size(sim, size_class))) == NULL) {
        sim_fail(sim, ARI_ENOMEM);
        return NULL;
    }
    assert(length <= sim_pool_size(sim, size_class)); /* DPUs encode into scratch-size buffers */
    memcpy(copy, bytes, length);
    return copy;
}

static void sim_release_bytes(sim_t *sim, uint8_t *bytes, size_t length)
{
    int size_class = length <= SIM_POOL_SMALL ? 0 : 1;
    if (sim->pool_count[size_class] == SIM_POOL_KEEP_MAX) {
        free(bytes);
        return;
    }
    memcpy(bytes, &sim->pool[size_class], sizeof(void *));
    sim->pool[size_class] = bytes;
    sim->pool_count[size_class]++;
}

static void sim_pool_free(sim_t *sim)
{
    for (int size_class = 0; size_class < 2; size_class++) {
        while (sim->pool[size_class] != NULL) {
            void *next;
            memcpy(&next, sim->pool[size_class], sizeof next);
            free(sim->pool[size_class]);
            sim->pool[size_class] = next;
        }
    }
}

static bool sim_fault_drops(sim_t *sim, const uint8_t *bytes, size_t length)
{
    if (sim->config.fault_drop_update_ratio > 0 && length > 1 && bytes[1] == MSG_UPDATE &&
        sim_uniform(sim) < sim->config.fault_drop_update_ratio) {
        sim->result->dropped_updates++;
        return true;
    }
    return false;
}

/* A DPU's outgoing message, copied for its journey (NULL when the fault
 * injection drops it or memory ran out). */
static uint8_t *sim_outgoing(sim_t *sim, const uint8_t *bytes, size_t length)
{
    if (sim_fault_drops(sim, bytes, length))
        return NULL;
    uint8_t *copy = sim_copy_bytes(sim, bytes, length);
    if (copy != NULL)
        sim->result->messages++;
    if (copy != NULL && length > 1 && bytes[1] < MSG_TYPE_END)
        sim->result->messages_by_type[bytes[1]]++;
    return copy;
}

static void sim_world_send(void *ctx, uint32_t port, const uint8_t *bytes, size_t length)
{
    sim_node_ctx_t *nc = ctx;
    uint8_t *copy = sim_outgoing(nc->sim, bytes, length);
    if (copy != NULL)
        sim_link_send(nc->sim, nc->node, port, copy, length, SIM_EVENT_MESSAGE, 0);
}

/* A routed message one hop further toward its destination. */
static void sim_route_on(sim_t *sim, uint32_t at, uint32_t destination, uint8_t *bytes,
                         size_t length)
{
    int port = route_next_port(sim->route, at, destination);
    assert(port >= 0); /* at != destination */
    sim_link_send(sim, at, (uint32_t)port, bytes, length, SIM_EVENT_ROUTED, destination);
}

static void sim_world_send_to(void *ctx, uint32_t node, const uint8_t *bytes, size_t length)
{
    sim_node_ctx_t *nc = ctx;
    uint8_t *copy = sim_outgoing(nc->sim, bytes, length);
    if (copy != NULL)
        sim_route_on(nc->sim, nc->node, node, copy, length);
}

static uint8_t *sim_world_page_memory(void *ctx, ari_gva_t page, bool create)
{
    sim_node_ctx_t *nc = ctx;
    sim_t *sim = nc->sim;
    sim_map_slot_t *slot = create ? sim_map_put(&sim->copies, nc->node, page.hi, page.lo)
                                  : sim_map_get(&sim->copies, nc->node, page.hi, page.lo);
    if (slot == NULL)
        return NULL;
    if (slot->value[0] == 0 && create) {
        size_t size = (size_t)gva_page_size(page);
        void *memory = aligned_alloc(64, size);
        if (memory == NULL)
            return NULL;
        memset(memory, 0, size);
        slot->value[0] = (uint64_t)(uintptr_t)memory;
    }
    return (uint8_t *)(uintptr_t)slot->value[0];
}

static void sim_world_page_drop(void *ctx, ari_gva_t page)
{
    sim_node_ctx_t *nc = ctx;
    sim_map_slot_t *slot = sim_map_get(&nc->sim->copies, nc->node, page.hi, page.lo);
    if (slot == NULL)
        return;
    free((void *)(uintptr_t)slot->value[0]);
    slot->value[0] = 0;
}

/* Read-your-writes: when a write or atomic is acknowledged, the writer's
 * own valid replica already shows it (DESIGN §4, guarantee 2). */
static void sim_check_ryw(sim_t *sim, uint32_t node, const dpu_completion_t *c)
{
    if (c->status != ARI_OK || (c->op != DPU_OP_WRITE && c->op != DPU_OP_ATOMIC))
        return;
    uint8_t copy;
    uint64_t version;
    if (sim->proto->copy(sim->dpus[node], c->page, &copy, &version) &&
        copy == PCACHE_COPY_VALID && version < c->version) {
        sim->result->ryw_violations++;
        if (getenv("ARI_SIM_DEBUG"))
            fprintf(stderr, "read-your-writes: node %u op %d page %llx:%llx acked %llu replica %llu at %llu ns\n",
                    node, c->op, (unsigned long long)c->page.hi, (unsigned long long)c->page.lo,
                    (unsigned long long)c->version, (unsigned long long)version,
                    (unsigned long long)sim->now_ns);
    }
}

static void sim_completed(sim_t *sim, uint32_t node, sim_op_t *op, const dpu_completion_t *c);

static void sim_world_complete(void *ctx, const dpu_completion_t *c)
{
    sim_node_ctx_t *nc = ctx;
    sim_t *sim = nc->sim;
    sim_check_ryw(sim, nc->node, c);
    sim_op_t *op = &sim->ops[c->cookie];
    op->version = c->version;
    sim_completed(sim, nc->node, op, c);
    if (c->status == ARI_OK && op->request.op == DPU_OP_ATOMIC && op->page == 0 &&
        sim->config.workload.kind == SIM_WORKLOAD_ATOMICS_HOTSPOT &&
        op->request.offset == SIM_HOTSPOT_WORD && op->request.atomic_op == MSG_ATOMIC_FETCH_ADD) {
        sim_sample(sim, &sim->hotspot_olds, c->value);
        sim->hotspot_adds++;
    }
    sim_event_t done = {.time_ns = sim->now_ns + sim->config.dpu_step_ns +
                                   sim->config.host_latency_ns,
                        .kind = SIM_EVENT_DONE, .node = nc->node, .cookie = c->cookie,
                        .status = (int8_t)c->status};
    sim_push(sim, &done);
}

/* ------------------------------------------------------------------------
 * Observing the protocol: order, propagation, writer order
 * ------------------------------------------------------------------------ */

static sim_page_t *sim_page_of(sim_t *sim, ari_gva_t gva);
static void sim_debug(sim_t *sim, const char *check, const char *what, uint32_t node,
                      ari_gva_t page);

/* The node holding a page's master as the observer saw it, else its birth node. */
static uint32_t sim_owner_of(sim_t *sim, ari_gva_t gva)
{
    sim_page_t *page = sim_page_of(sim, gva);
    return page != NULL && page->owner != SIM_NONE ? page->owner : gva_machine(gva);
}

static void sim_observe_replica(sim_t *sim, const dpu_event_t *e)
{
    sim_map_slot_t *slot = sim_map_put(&sim->copies, e->node, e->page.hi, e->page.lo);
    if (slot == NULL) {
        sim_fail(sim, ARI_ENOMEM);
        return;
    }
    uint64_t seen = slot->value[1]; /* last version + 1, 0 if none */
    if (e->kind == DPU_EVENT_INVALIDATE) {
        /* The change reached the replica as an invalidation: it counts
         * for propagation, but the replica's data did not move. */
    } else if (e->kind == DPU_EVENT_INSTALL) {
        if (e->version + 1 < seen)
            sim->result->order_violations++; /* a replica went back in time */
        slot->value[1] = e->version + 1;
        return;
    } else {
        if (seen != e->version)
            sim->result->order_violations++; /* applied out of order or with a gap */
        slot->value[1] = e->version + 1;
    }
    sim_map_slot_t *ordered = sim_map_get(&sim->orders, e->page.hi, e->page.lo, e->version);
    if (ordered != NULL) {
        sim_sample(sim, &sim->propagation_ns, sim->now_ns - ordered->value[0]);
        sim_sample(sim, &sim->propagation_hops,
                   route_distance(sim->route, e->node, sim_owner_of(sim, e->page)));
    }
}

static void sim_observe_order(sim_t *sim, const dpu_event_t *e)
{
    sim_map_slot_t *ordered = sim_map_put(&sim->orders, e->page.hi, e->page.lo, e->version);
    sim_map_slot_t *writer = sim_map_put(&sim->writers, e->page.hi, e->page.lo, e->origin);
    if (ordered == NULL || writer == NULL) {
        sim_fail(sim, ARI_ENOMEM);
        return;
    }
    ordered->value[0] = sim->now_ns;
    if (writer->value[0] >= e->seq) {
        sim->result->writer_order_violations++;
        if (getenv("ARI_SIM_DEBUG"))
            fprintf(stderr, "writer order: node %u ordered seq %llu of origin %u after seq %llu "
                    "(version %llu) page %llx:%llx at %llu ns\n", e->node,
                    (unsigned long long)e->seq, e->origin, (unsigned long long)writer->value[0],
                    (unsigned long long)e->version, (unsigned long long)e->page.hi,
                    (unsigned long long)e->page.lo, (unsigned long long)sim->now_ns);
    }
    writer->value[0] = e->seq;
    /* One version per change, whichever node owns the page: versions travel
     * with it, so an owner that orders a version already given out (two
     * owners at once) or an older one is caught here. */
    sim_map_slot_t *last = sim_map_put(&sim->versions, e->page.hi, e->page.lo, 0);
    if (last == NULL) {
        sim_fail(sim, ARI_ENOMEM);
        return;
    }
    if (e->version <= last->value[0]) {
        sim->result->order_violations++;
        sim_debug(sim, "order", "a version ordered twice, or going back", e->node, e->page);
    }
    last->value[0] = e->version;
}

/* ------------------------------------------------------------------------
 * Observing ownership: one owner per page at every instant, mutual
 * exclusion of pins, transfer and handoff times, waits against their bound
 * ------------------------------------------------------------------------ */

/* The simulator's page for a GVA, or NULL (not one of ours, or an older
 * generation). Page i lives at offset (i + 1) pages of its birth node. */
static sim_page_t *sim_page_of(sim_t *sim, ari_gva_t gva)
{
    uint64_t index = gva_offset(gva) >> GVA_PAGE_SHIFT;
    if (sim->pages == NULL || index == 0 || index > sim->config.workload.pages)
        return NULL;
    sim_page_t *page = &sim->pages[index - 1];
    return gva_equal(page->gva, gva) ? page : NULL;
}

static void sim_debug(sim_t *sim, const char *check, const char *what, uint32_t node,
                      ari_gva_t page)
{
    if (getenv("ARI_SIM_DEBUG"))
        fprintf(stderr, "%s: %s: node %u page %llx:%llx at %llu ns\n", check, what, node,
                (unsigned long long)page.hi, (unsigned long long)page.lo,
                (unsigned long long)sim->now_ns);
}

static void sim_owner_violation(sim_t *sim, const char *what, uint32_t node, ari_gva_t page)
{
    sim->result->owner_violations++;
    sim_debug(sim, "owner", what, node, page);
}

/* OWNER_LOSE: the owner sent the page away. Before: one master, nothing in
 * flight; after: no master, one transfer in flight. */
static void sim_observe_lose(sim_t *sim, const dpu_event_t *e)
{
    sim_page_t *page = sim_page_of(sim, e->page);
    if (page == NULL)
        return;
    if (page->owner != e->node || page->masters != 1 || page->in_flight != 0)
        sim_owner_violation(sim, "a page sent away by a node not its only owner", e->node,
                            e->page);
    page->masters = 0;
    page->in_flight = 1;
    page->owner = SIM_NONE;
    page->moving_to = e->peer;
    page->lose_version = e->version;
    sim->result->transfers++;
}

/* OWNER_GAIN: the transfer in flight arrived where it was sent, with the
 * version it left with. */
static void sim_observe_gain(sim_t *sim, const dpu_event_t *e)
{
    sim_page_t *page = sim_page_of(sim, e->page);
    if (page == NULL)
        return;
    if (page->in_flight != 1 || page->masters != 0 || page->moving_to != e->node)
        sim_owner_violation(sim, "a page gained with no transfer to this node", e->node,
                            e->page);
    else if (e->version != page->lose_version)
        sim_owner_violation(sim, "a page gained at another version than it left", e->node,
                            e->page);
    page->masters = 1;
    page->in_flight = 0;
    page->owner = e->node;
    sim_map_slot_t *acquire = sim_map_get(&sim->acquiring, e->node, e->page.hi, e->page.lo);
    if (acquire != NULL && acquire->value[0] != 0 && acquire->value[1] == 0)
        sim_sample(sim, &sim->transfer_ns, sim->now_ns - (acquire->value[0] - 1));
}

static void sim_observe_queued(sim_t *sim, const dpu_event_t *e)
{
    sim_map_slot_t *acquire = sim_map_get(&sim->acquiring, e->peer, e->page.hi, e->page.lo);
    if (acquire != NULL && acquire->value[0] != 0) {
        acquire->value[1] = 1;
        sim->result->acquires_queued++;
    }
}

static void sim_observe_pin_expired(sim_t *sim, const dpu_event_t *e)
{
    sim_page_t *page = sim_page_of(sim, e->page);
    sim->result->pins_expired++;
    sim_debug(sim, "pin", "expired (a host fault: the holder kept it too long)", e->node,
              e->page);
    if (page != NULL && page->holder == e->node)
        page->holder = SIM_NONE;
}

static void sim_world_observe(void *ctx, const dpu_event_t *e)
{
    sim_node_ctx_t *nc = ctx;
    switch (e->kind) {
    case DPU_EVENT_INSTALL:
    case DPU_EVENT_APPLY:
    case DPU_EVENT_INVALIDATE:
        sim_observe_replica(nc->sim, e);
        break;
    case DPU_EVENT_ORDER:
        sim_observe_order(nc->sim, e);
        break;
    case DPU_EVENT_OWNER_LOSE: sim_observe_lose(nc->sim, e); break;
    case DPU_EVENT_OWNER_GAIN: sim_observe_gain(nc->sim, e); break;
    case DPU_EVENT_QUEUED: sim_observe_queued(nc->sim, e); break;
    case DPU_EVENT_PIN_EXPIRED: sim_observe_pin_expired(nc->sim, e); break;
    default:
        break;
    }
}

/* How many nodes may want a page at once: a wait is bounded by this many
 * pins and transfers ahead of it. */
static uint64_t sim_contenders(const sim_t *sim, const sim_page_t *page)
{
    const sim_workload_t *w = &sim->config.workload;
    if (w->kind == SIM_WORKLOAD_LOCK_CONTEND)
        return w->parties;
    return page->sessions_max > 0 ? page->sessions_max : 1;
}

/* No starvation: a queued acquirer is granted within contenders x (pin
 * limit + one transfer). Unchecked without a pin limit. */
static void sim_check_wait(sim_t *sim, const sim_page_t *page, uint32_t node, uint64_t wait)
{
    uint64_t pin = sim->config.dpu.pin_ns_max;
    if (pin == 0)
        return;
    uint64_t bound = sim_contenders(sim, page) * (pin + sim->transfer_bound_ns);
    if (bound > sim->result->wait_bound_ns)
        sim->result->wait_bound_ns = bound;
    if (wait > bound) {
        sim->result->starvation_violations++;
        sim_debug(sim, "starvation", "an acquire waited past its bound", node, page->gva);
    }
}

/* An ACQUIRE completed at the DPU: this node owns the page; pinned, no
 * other node holds it pinned (mutual exclusion). */
static void sim_acquired(sim_t *sim, uint32_t node, const sim_op_t *op, const dpu_completion_t *c)
{
    sim_page_t *page = sim_page_of(sim, c->page);
    sim_map_slot_t *acquire = sim_map_get(&sim->acquiring, node, c->page.hi, c->page.lo);
    if (acquire != NULL)
        acquire->value[0] = 0;
    if (c->status != ARI_OK || page == NULL)
        return;
    sim->result->acquired++;
    uint64_t wait = sim->now_ns - op->submit_ns;
    sim_sample(sim, &sim->wait_ns, wait);
    sim_check_wait(sim, page, node, wait);
    if (page->owner != node || page->masters != 1)
        sim_owner_violation(sim, "an ACQUIRE completed at a node not the owner", node, c->page);
    if (op->request.flags & DPU_ACQUIRE_PIN) {
        if (page->holder != SIM_NONE && page->holder != node) {
            sim->result->exclusion_violations++;
            sim_debug(sim, "exclusion", "acquired while another node holds the pin", node,
                      c->page);
        }
        page->holder = node;
    }
    if (page->release_node != SIM_NONE && page->release_node != node &&
        page->release_ns >= op->submit_ns)
        sim_sample(sim, &sim->handoff_ns, sim->now_ns - page->release_ns);
}

/* A host request reached its node's DPU: what the ownership checks need
 * to know before the DPU acts on it. */
static bool sim_debug_ops(void)
{
    const char *debug = getenv("ARI_SIM_DEBUG");
    return debug != NULL && strcmp(debug, "ops") == 0;
}

static void sim_submitting(sim_t *sim, uint32_t node, sim_op_t *op)
{
    op->submit_ns = sim->now_ns;
    if (sim_debug_ops())
        fprintf(stderr, "%llu ns: node %u submits #%llu op %d page %llx:%llx offset %u\n",
                (unsigned long long)sim->now_ns, node, (unsigned long long)op->request.cookie,
                op->request.op, (unsigned long long)op->request.page.hi,
                (unsigned long long)op->request.page.lo, op->request.offset);
    sim_page_t *page = sim_page_of(sim, op->request.page);
    if (op->request.op == DPU_OP_ACQUIRE) {
        sim->result->acquires++;
        sim_map_slot_t *acquire = sim_map_put(&sim->acquiring, node, op->request.page.hi,
                                              op->request.page.lo);
        if (acquire == NULL) {
            sim_fail(sim, ARI_ENOMEM);
            return;
        }
        acquire->value[0] = sim->now_ns + 1; /* 0 means none */
        acquire->value[1] = 0;
    } else if (op->request.op == DPU_OP_RELEASE) {
        sim->result->releases++;
        if (page != NULL && page->holder == node) {
            page->holder = SIM_NONE;
            page->release_node = node;
            page->release_ns = sim->now_ns;
        }
    } else if (op->request.op == DPU_OP_BARRIER) {
        sim->result->barrier_arrivals++;
    }
}

static void sim_agent_capture(sim_t *sim, const sim_op_t *op, const dpu_completion_t *c);

/* A completion at the DPU (before the host hears of it): owners made and
 * freed, acquires, and what an agent's READ saw. */
static void sim_completed(sim_t *sim, uint32_t node, sim_op_t *op, const dpu_completion_t *c)
{
    sim_page_t *page = sim_page_of(sim, c->page);
    if (sim_debug_ops())
        fprintf(stderr, "%llu ns: node %u completes #%llu op %d status %d version %llu\n",
                (unsigned long long)sim->now_ns, node, (unsigned long long)c->cookie, c->op,
                c->status, (unsigned long long)c->version);
    if (c->status == ARI_OK && page != NULL && c->op == DPU_OP_CREATE) {
        page->owner = node;
        page->masters = 1;
        page->in_flight = 0;
    } else if (c->status == ARI_OK && page != NULL && c->op == DPU_OP_FREE) {
        page->owner = SIM_NONE;
        page->masters = 0;
    } else if (c->op == DPU_OP_ACQUIRE) {
        sim_acquired(sim, node, op, c);
    }
    sim_agent_capture(sim, op, c);
}

/* ------------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------------ */

static sim_op_t *sim_op_new(sim_t *sim, uint32_t node, uint32_t page, dpu_op_t kind, ari_gva_t gva)
{
    if (sim->ops_count == sim->ops_capacity) {
        size_t capacity = sim->ops_capacity ? sim->ops_capacity * 2 : 1024;
        sim_op_t *grown = realloc(sim->ops, capacity * sizeof *grown);
        if (grown == NULL) {
            sim_fail(sim, ARI_ENOMEM);
            return NULL;
        }
        sim->ops = grown;
        sim->ops_capacity = capacity;
    }
    sim_op_t *op = &sim->ops[sim->ops_count];
    memset(op, 0, sizeof *op);
    op->node = node;
    op->page = page;
    op->start_ns = sim->now_ns;
    op->request.op = kind;
    op->request.page = gva;
    op->request.cookie = sim->ops_count++;
    return op;
}

/* Queues an operation to reach its node's DPU after the host latency. */
static void sim_op_issue(sim_t *sim, sim_op_t *op)
{
    sim->result->ops_submitted++;
    sim_event_t submit = {.time_ns = sim->now_ns + sim->config.host_latency_ns,
                          .kind = SIM_EVENT_SUBMIT, .node = op->node,
                          .cookie = op->request.cookie};
    sim_push(sim, &submit);
}

static void sim_op_write_data(sim_t *sim, sim_op_t *op)
{
    /* The workload's own words at the start of the page are left alone. */
    uint32_t max = sim->config.workload.write_bytes_max;
    uint32_t room = (uint32_t)gva_page_size(op->request.page) - sim->reserved_bytes;
    if (max > room)
        max = room;
    uint32_t length = 1 + (uint32_t)rng_below(&sim->rng, max);
    op->request.offset = sim->reserved_bytes + (uint32_t)rng_below(&sim->rng, room - length + 1);
    op->request.length = length;
    op->data = malloc(length);
    if (op->data == NULL) {
        sim_fail(sim, ARI_ENOMEM);
        return;
    }
    for (uint32_t i = 0; i < length; i++)
        op->data[i] = (uint8_t)rng_next(&sim->rng);
    op->request.data = op->data;
}

static void sim_op_atomic(sim_t *sim, sim_op_t *op, bool hotspot)
{
    op->request.op = DPU_OP_ATOMIC;
    if (hotspot) { /* a counter: fetch-adds of 1 must return 0, 1, 2, ... once each */
        op->request.offset = SIM_HOTSPOT_WORD;
        op->request.atomic_op = MSG_ATOMIC_FETCH_ADD;
        op->request.arg0 = 1;
        return;
    }
    uint32_t words = (uint32_t)(gva_page_size(op->request.page) / 8);
    uint32_t first = sim->reserved_bytes > 8 ? sim->reserved_bytes / 8 : 1;
    op->request.offset = 8 * (first + (uint32_t)rng_below(&sim->rng, words - first));
    op->request.atomic_op = (uint8_t)(1 + rng_below(&sim->rng, 3));
    op->request.arg0 = rng_below(&sim->rng, 4);
    op->request.arg1 = rng_next(&sim->rng);
}

/* A change: a write, an atomic or a fresh read, from a reader or anyone. */
static void sim_op_change(sim_t *sim, sim_op_t *op)
{
    const sim_workload_t *w = &sim->config.workload;
    if (w->kind == SIM_WORKLOAD_ATOMICS_HOTSPOT) {
        sim_op_atomic(sim, op, true);
        return;
    }
    double u = sim_uniform(sim);
    if (u < 0.7) {
        op->request.op = DPU_OP_WRITE;
        sim_op_write_data(sim, op);
    } else if (u < 0.9) {
        sim_op_atomic(sim, op, false);
    } else {
        op->request.op = DPU_OP_GET;
        uint32_t page_size = (uint32_t)gva_page_size(op->request.page);
        op->request.length = 1 + (uint32_t)rng_below(&sim->rng, 64);
        op->request.offset = sim->reserved_bytes +
                             (uint32_t)rng_below(&sim->rng, page_size - sim->reserved_bytes -
                                                                op->request.length + 1);
    }
}

/* ------------------------------------------------------------------------
 * Agents: lock contenders, barrier parties, migratory sessions. Each runs
 * a script of requests, the next issued when the one before completes.
 * ------------------------------------------------------------------------ */

static bool sim_agent_workload(const sim_workload_t *w)
{
    return w->kind == SIM_WORKLOAD_LOCK_CONTEND || w->kind == SIM_WORKLOAD_BARRIER;
}

static sim_op_t *sim_agent_op(sim_t *sim, uint32_t agent, uint32_t page, dpu_op_t kind)
{
    sim_op_t *op = sim_op_new(sim, sim->agents[agent].node, page, kind, sim->pages[page].gva);
    if (op != NULL)
        op->agent = agent + 1;
    return op;
}

/* An 8-byte WRITE of `value` at `offset` (NULL when out of memory). */
static sim_op_t *sim_agent_write_word(sim_t *sim, uint32_t agent, uint32_t page,
                                      uint32_t offset, uint64_t value)
{
    sim_op_t *op = sim_agent_op(sim, agent, page, DPU_OP_WRITE);
    if (op == NULL)
        return NULL;
    if ((op->data = malloc(8)) == NULL) {
        sim_fail(sim, ARI_ENOMEM);
        return NULL;
    }
    memcpy(op->data, &value, 8);
    op->request.offset = offset;
    op->request.length = 8;
    op->request.data = op->data;
    sim_op_issue(sim, op);
    return op;
}

/* A READ that must see at least `min_version` (a write notice). */
static void sim_agent_read(sim_t *sim, uint32_t agent, uint32_t page, uint64_t min_version)
{
    sim_op_t *op = sim_agent_op(sim, agent, page, DPU_OP_READ);
    if (op == NULL)
        return;
    op->request.min_version = sim->config.fault_ignore_notices ? 0 : min_version;
    sim_op_issue(sim, op);
}

static void sim_agent_sleep(sim_t *sim, uint32_t agent, uint64_t ns)
{
    sim_event_t wake = {.time_ns = sim->now_ns + ns, .kind = SIM_EVENT_OP, .cookie = agent + 1};
    sim_push(sim, &wake);
}

static uint32_t sim_agent_new(sim_t *sim, uint32_t node, uint32_t page)
{
    uint32_t agent;
    if (sim->agents_free_count > 0) {
        agent = sim->agents_free[--sim->agents_free_count];
    } else {
        if (sim->agents_count == sim->agents_capacity) {
            uint32_t capacity = sim->agents_capacity ? 2 * sim->agents_capacity : 64;
            sim_agent_t *grown = realloc(sim->agents, capacity * sizeof *grown);
            uint32_t *free_grown = grown != NULL ? realloc(sim->agents_free,
                                                           capacity * sizeof *free_grown)
                                                 : NULL;
            if (grown != NULL)
                sim->agents = grown;
            if (free_grown == NULL) {
                sim_fail(sim, ARI_ENOMEM);
                return SIM_NONE;
            }
            sim->agents_free = free_grown;
            sim->agents_capacity = capacity;
        }
        agent = sim->agents_count++;
    }
    sim->agents[agent] = (sim_agent_t){.node = node, .page = page, .round = 1};
    sim->agents_active++;
    return agent;
}

static void sim_agent_finish(sim_t *sim, uint32_t agent)
{
    sim_agent_t *a = &sim->agents[agent];
    a->step = SIM_STEP_FINISHED;
    sim->agents_active--;
    if (sim->config.workload.kind != SIM_WORKLOAD_MIGRATORY)
        return;
    sim->pages[a->page].sessions--;
    sim_map_slot_t *busy = sim_map_get(&sim->sessions, a->node, a->page, 0);
    if (busy != NULL)
        busy->value[0] = 0;
    sim->agents_free[sim->agents_free_count++] = agent;
}

static void sim_agent_issue(sim_t *sim, uint32_t agent);

/* Lock: claim the next critical section; barrier: start the next round. */
static void sim_agent_begin(sim_t *sim, uint32_t agent)
{
    sim_agent_t *a = &sim->agents[agent];
    const sim_workload_t *w = &sim->config.workload;
    if (w->kind == SIM_WORKLOAD_LOCK_CONTEND) {
        if (sim->sections_started >= w->ops) {
            sim_agent_finish(sim, agent);
            return;
        }
        sim->sections_started++;
        a->step = SIM_STEP_ACQUIRE;
    } else {
        if (a->round > w->ops) {
            sim_agent_finish(sim, agent);
            return;
        }
        a->step = SIM_STEP_WRITE_SLOT;
    }
    sim_agent_issue(sim, agent);
}

static void sim_agent_issue_pinned(sim_t *sim, uint32_t agent, dpu_op_t kind)
{
    sim_op_t *op = sim_agent_op(sim, agent, sim->agents[agent].page, kind);
    if (op == NULL)
        return;
    if (kind == DPU_OP_ACQUIRE)
        op->request.flags = DPU_ACQUIRE_PIN;
    sim_op_issue(sim, op);
}

/* Issues the request of the agent's step. */
static void sim_agent_issue(sim_t *sim, uint32_t agent)
{
    sim_agent_t *a = &sim->agents[agent];
    const sim_workload_t *w = &sim->config.workload;
    sim_op_t *op;
    switch ((sim_step_t)a->step) {
    case SIM_STEP_BEGIN: sim_agent_begin(sim, agent); return;
    case SIM_STEP_ACQUIRE: sim_agent_issue_pinned(sim, agent, DPU_OP_ACQUIRE); return;
    case SIM_STEP_READ_COUNTER: sim_agent_read(sim, agent, SIM_PAGE_DATA, a->notice); return;
    case SIM_STEP_WRITE_COUNTER:
        sim_agent_write_word(sim, agent, SIM_PAGE_DATA, 0, a->value + 1);
        return;
    case SIM_STEP_WRITE_NOTICE:
        sim_agent_write_word(sim, agent, SIM_PAGE_LOCK,
                             w->kind == SIM_WORKLOAD_LOCK_CONTEND ? SIM_NOTICE_OFFSET
                                                                  : 8 + 8 * a->index,
                             a->notice);
        return;
    case SIM_STEP_WRITE_DATA:
        if ((op = sim_agent_op(sim, agent, a->page, DPU_OP_WRITE)) != NULL) {
            sim_op_write_data(sim, op);
            sim_op_issue(sim, op);
        }
        return;
    case SIM_STEP_HOLD:
        if (w->hold_ns > 0) {
            sim_agent_sleep(sim, agent, w->hold_ns);
            return;
        }
        a->step = SIM_STEP_RELEASE;
        sim_agent_issue_pinned(sim, agent, DPU_OP_RELEASE);
        return;
    case SIM_STEP_RELEASE: sim_agent_issue_pinned(sim, agent, DPU_OP_RELEASE); return;
    case SIM_STEP_WRITE_SLOT:
        op = sim_agent_write_word(sim, agent, SIM_PAGE_DATA, 8 * a->index, a->round);
        if (op != NULL && sim->config.fault_ignore_notices) { /* arrive without waiting */
            op->agent = 0;
            a->step = SIM_STEP_BARRIER;
            sim_agent_issue(sim, agent);
        }
        return;
    case SIM_STEP_BARRIER:
        if ((op = sim_agent_op(sim, agent, SIM_PAGE_LOCK, DPU_OP_BARRIER)) != NULL) {
            op->request.arg0 = w->parties;
            sim_op_issue(sim, op);
        }
        return;
    case SIM_STEP_READ_NOTICES: sim_agent_read(sim, agent, SIM_PAGE_LOCK, a->notice); return;
    case SIM_STEP_READ_SLOTS: sim_agent_read(sim, agent, SIM_PAGE_DATA, a->notice); return;
    case SIM_STEP_FINISHED: return;
    }
}

/* A request failed or was refused: a migratory session ends at a failed
 * ACQUIRE; a RELEASE refused (its pin had expired) ends the section; the
 * rest is tried again after a pause. True when handled here. */
static bool sim_agent_failed(sim_t *sim, uint32_t agent)
{
    sim_agent_t *a = &sim->agents[agent];
    const sim_workload_t *w = &sim->config.workload;
    if (a->step == SIM_STEP_RELEASE)
        return false;
    if (a->step == SIM_STEP_ACQUIRE && w->kind == SIM_WORKLOAD_MIGRATORY) {
        sim_agent_finish(sim, agent);
        return true;
    }
    if (a->step == SIM_STEP_ACQUIRE) { /* lock: the section is claimed again later */
        sim->sections_started--;
        a->step = SIM_STEP_BEGIN;
    }
    sim_agent_sleep(sim, agent, w->interval_ns);
    return true;
}

/* The agent's request completed (at its host): the next step. */
static void sim_agent_done(sim_t *sim, uint32_t agent, int status, uint64_t version)
{
    sim_agent_t *a = &sim->agents[agent];
    bool lock = sim->config.workload.kind == SIM_WORKLOAD_LOCK_CONTEND;
    const char *debug = getenv("ARI_SIM_DEBUG");
    if (debug != NULL && strcmp(debug, "agents") == 0)
        fprintf(stderr, "agent %u (node %u): step %u done, status %d, version %llu, at %llu ns\n",
                agent, a->node, a->step, status, (unsigned long long)version,
                (unsigned long long)sim->now_ns);
    if (status != ARI_OK && sim_agent_failed(sim, agent))
        return;
    switch ((sim_step_t)a->step) {
    case SIM_STEP_ACQUIRE:
        a->step = lock ? SIM_STEP_READ_COUNTER : SIM_STEP_WRITE_DATA;
        a->writes_left = 1 + (uint32_t)rng_below(&sim->rng, SIM_SESSION_WRITES_MAX);
        break;
    case SIM_STEP_READ_COUNTER: a->step = SIM_STEP_WRITE_COUNTER; break;
    case SIM_STEP_WRITE_COUNTER:
        sim->counter_acked++;
        a->notice = version; /* the write notice: the counter page's version */
        a->step = SIM_STEP_WRITE_NOTICE;
        break;
    case SIM_STEP_WRITE_NOTICE: a->step = lock ? SIM_STEP_HOLD : SIM_STEP_BARRIER; break;
    case SIM_STEP_WRITE_DATA:
        a->step = --a->writes_left > 0 ? SIM_STEP_WRITE_DATA : SIM_STEP_HOLD;
        break;
    case SIM_STEP_RELEASE:
        if (!lock) {
            sim_agent_finish(sim, agent);
            return;
        }
        sim->result->sections++;
        a->step = SIM_STEP_BEGIN;
        break;
    case SIM_STEP_WRITE_SLOT:
        a->notice = version; /* this party's write notice for the round */
        a->step = SIM_STEP_WRITE_NOTICE;
        break;
    case SIM_STEP_BARRIER:
        a->notice = version; /* the barrier page as of the last arrival */
        a->step = SIM_STEP_READ_NOTICES;
        break;
    case SIM_STEP_READ_NOTICES: a->step = SIM_STEP_READ_SLOTS; break;
    case SIM_STEP_READ_SLOTS:
        sim->result->barrier_rounds += a->index == 0;
        a->round++;
        a->step = SIM_STEP_BEGIN;
        break;
    default:
        return;
    }
    sim_agent_issue(sim, agent);
}

/* A hold or a pause is over. */
static void sim_agent_wake(sim_t *sim, uint32_t agent)
{
    if (sim->agents[agent].step == SIM_STEP_HOLD)
        sim->agents[agent].step = SIM_STEP_RELEASE;
    sim_agent_issue(sim, agent);
}

/* A word of a node's copy of page `index` (master or replica). */
static bool sim_word(sim_t *sim, uint32_t node, uint32_t index, uint32_t offset,
                     uint64_t *value_out)
{
    ari_gva_t gva = sim->pages[index].gva;
    sim_map_slot_t *copy = sim_map_get(&sim->copies, node, gva.hi, gva.lo);
    if (copy == NULL || copy->value[0] == 0)
        return false;
    memcpy(value_out, (const uint8_t *)(uintptr_t)copy->value[0] + offset, 8);
    return true;
}

/* Lock: the holder's READ of the counter saw every earlier section's
 * increment (the write notice at work). */
static void sim_capture_counter(sim_t *sim, sim_agent_t *a, const sim_op_t *op,
                                const dpu_completion_t *c)
{
    if (!sim_word(sim, a->node, SIM_PAGE_DATA, 0, &a->value) ||
        c->version < op->request.min_version || a->value != sim->counter_acked) {
        sim->result->counter_violations++;
        if (getenv("ARI_SIM_DEBUG"))
            fprintf(stderr, "counter: node %u read %llu at version %llu (notice %llu), %llu "
                    "increments acknowledged, at %llu ns\n", a->node,
                    (unsigned long long)a->value, (unsigned long long)c->version,
                    (unsigned long long)op->request.min_version,
                    (unsigned long long)sim->counter_acked, (unsigned long long)sim->now_ns);
    }
}

/* Barrier: the notices, then every party's slot as of this round. */
static void sim_capture_barrier(sim_t *sim, sim_agent_t *a, const sim_op_t *op,
                                const dpu_completion_t *c)
{
    uint32_t parties = sim->config.workload.parties;
    bool slots = a->step == SIM_STEP_READ_SLOTS;
    uint64_t bad = c->version < op->request.min_version;
    if (!slots)
        a->notice = 0;
    for (uint32_t j = 0; j < parties; j++) {
        uint64_t word = 0;
        bool read = sim_word(sim, a->node, slots ? SIM_PAGE_DATA : SIM_PAGE_LOCK,
                             slots ? 8 * j : 8 + 8 * j, &word);
        if (!slots && word > a->notice)
            a->notice = word;
        bad += !read || (slots && word < a->round);
    }
    if (bad != 0) {
        sim->result->barrier_violations += bad;
        if (getenv("ARI_SIM_DEBUG"))
            fprintf(stderr, "barrier: node %u round %llu read %s at version %llu (notice %llu): "
                    "%llu stale, at %llu ns\n", a->node, (unsigned long long)a->round,
                    slots ? "the slots" : "the notices", (unsigned long long)c->version,
                    (unsigned long long)op->request.min_version, (unsigned long long)bad,
                    (unsigned long long)sim->now_ns);
    }
}

/* What an agent's request saw, taken when the DPU completes it (its copy
 * may change before the host hears of it). */
static void sim_agent_capture(sim_t *sim, const sim_op_t *op, const dpu_completion_t *c)
{
    if (op->agent == 0 || c->status != ARI_OK)
        return;
    sim_agent_t *a = &sim->agents[op->agent - 1];
    switch (a->step) {
    case SIM_STEP_ACQUIRE: /* lock: the last holder's notice, from the master's bytes */
        if (sim->config.workload.kind == SIM_WORKLOAD_LOCK_CONTEND &&
            !sim_word(sim, a->node, SIM_PAGE_LOCK, SIM_NOTICE_OFFSET, &a->notice))
            sim->result->counter_violations++;
        return;
    case SIM_STEP_READ_COUNTER: sim_capture_counter(sim, a, op, c); return;
    case SIM_STEP_READ_NOTICES:
    case SIM_STEP_READ_SLOTS: sim_capture_barrier(sim, a, op, c); return;
    default: return;
    }
}

/* Lock and barrier: the parties are distinct nodes drawn by the seed. */
static void sim_agents_start(sim_t *sim)
{
    const sim_workload_t *w = &sim->config.workload;
    uint32_t nodes = sim->topo->nodes;
    uint8_t *taken = calloc(nodes, 1);
    if (taken == NULL) {
        sim_fail(sim, ARI_ENOMEM);
        return;
    }
    for (uint32_t i = 0; i < w->parties; i++) {
        uint32_t node = (uint32_t)rng_below(&sim->rng, nodes);
        while (taken[node])
            node = (node + 1) % nodes;
        taken[node] = 1;
        uint32_t agent = sim_agent_new(sim, node, SIM_PAGE_LOCK);
        if (agent == SIM_NONE)
            break;
        sim->agents[agent].index = i;
        sim_agent_issue(sim, agent);
    }
    free(taken);
}

/* Migratory: a session on page `index` by a node not already in one on it. */
static void sim_session_start(sim_t *sim, uint32_t index)
{
    uint32_t nodes = sim->topo->nodes, node = (uint32_t)rng_below(&sim->rng, nodes);
    sim_map_slot_t *busy = NULL;
    for (uint32_t tries = 0; tries < nodes; tries++, node = (node + 1) % nodes) {
        if ((busy = sim_map_put(&sim->sessions, node, index, 0)) == NULL) {
            sim_fail(sim, ARI_ENOMEM);
            return;
        }
        if (busy->value[0] == 0)
            break;
    }
    if (busy->value[0] != 0)
        return; /* every node is in a session on this page */
    uint32_t agent = sim_agent_new(sim, node, index);
    if (agent == SIM_NONE)
        return;
    busy->value[0] = 1;
    sim_page_t *page = &sim->pages[index];
    if (++page->sessions > page->sessions_max)
        page->sessions_max = page->sessions;
    sim->agents[agent].step = SIM_STEP_ACQUIRE;
    sim_agent_issue(sim, agent);
}

/* Picks and issues the workload's next operation. */
static void sim_op_next(sim_t *sim)
{
    const sim_workload_t *w = &sim->config.workload;
    uint32_t index = (uint32_t)rng_below(&sim->rng, w->pages);
    sim_page_t *page = &sim->pages[index];
    if (w->readers == 0) { /* migratory without readers: sessions only */
        sim_session_start(sim, index);
        return;
    }
    uint32_t reader = page->readers[rng_below(&sim->rng, w->readers)];
    bool anyone = w->kind == SIM_WORKLOAD_UNIFORM || w->kind == SIM_WORKLOAD_MIXED;
    double u = sim_uniform(sim);
    double changes = w->free_ratio + w->unref_ratio + w->write_ratio;
    sim_op_t *op;
    if (u >= changes && u < changes + w->own_ratio) {
        sim_session_start(sim, index);
        return;
    } else if (u < w->free_ratio && !page->freeing) {
        page->freeing = true;
        op = sim_op_new(sim, page->birth, index, DPU_OP_FREE, page->gva);
    } else if (u < w->free_ratio + w->unref_ratio) {
        op = sim_op_new(sim, reader, index, DPU_OP_UNREF, page->gva);
    } else if (u < w->free_ratio + w->unref_ratio + w->write_ratio) {
        uint32_t node = anyone ? (uint32_t)rng_below(&sim->rng, sim->topo->nodes) : reader;
        op = sim_op_new(sim, node, index, DPU_OP_READ, page->gva);
        if (op != NULL)
            sim_op_change(sim, op);
    } else {
        op = sim_op_new(sim, reader, index, DPU_OP_READ, page->gva);
    }
    if (op != NULL)
        sim_op_issue(sim, op);
}

/* The trace's next request, at its time. */
static void sim_trace_next(sim_t *sim)
{
    const sim_trace_t *trace = sim->config.workload.trace;
    const sim_trace_op_t *t = &trace->ops[sim->ops_started];
    sim_page_t *page = &sim->pages[t->page];
    sim_op_t *op = sim_op_new(sim, t->node, t->page, t->op, page->gva);
    if (op == NULL)
        return;
    op->request.offset = t->offset;
    op->request.length = t->length;
    op->request.pages = t->pages;
    op->request.atomic_op = t->atomic_op;
    op->request.arg0 = t->arg0;
    op->request.arg1 = t->arg1;
    if (t->op == DPU_OP_WRITE) {
        op->data = malloc(t->length);
        if (op->data == NULL) {
            sim_fail(sim, ARI_ENOMEM);
            return;
        }
        for (uint32_t i = 0; i < t->length; i++)
            op->data[i] = (uint8_t)rng_next(&sim->rng);
        op->request.data = op->data;
    }
    if (t->op == DPU_OP_FREE) {
        if (page->freeing) { /* already going: nothing to do twice */
            op->done = true;
            op->status = ARI_EBUSY;
            return;
        }
        page->freeing = true;
    }
    sim_op_issue(sim, op);
}

static void sim_on_op(sim_t *sim)
{
    const sim_workload_t *w = &sim->config.workload;
    if (w->kind == SIM_WORKLOAD_TRACE) {
        sim_trace_next(sim);
        if (++sim->ops_started < w->ops) {
            uint64_t at = w->trace->ops[sim->ops_started].time_ns;
            sim_event_t next = {.time_ns = at > sim->now_ns ? at : sim->now_ns,
                                .kind = SIM_EVENT_OP};
            sim_push(sim, &next);
        }
        return;
    }
    if (sim->ops_start_ns == 0)
        sim->ops_start_ns = sim->now_ns;
    if (sim_agent_workload(w)) {
        /* The parties run their scripts; readers and writers, if any, keep
         * coming on the same pages while they do. */
        if (sim->ops_started++ == 0)
            sim_agents_start(sim);
        else
            sim_op_next(sim);
        if (w->readers == 0 || sim->agents_active == 0)
            return;
    } else {
        sim_op_next(sim);
        if (++sim->ops_started >= w->ops)
            return;
    }
    /* Poisson arrivals: exponential gaps with the workload's mean. */
    double gap = -log(1.0 - sim_uniform(sim)) * (double)w->interval_ns;
    sim_event_t next = {.time_ns = sim->now_ns + 1 + (uint64_t)gap, .kind = SIM_EVENT_OP};
    sim_push(sim, &next);
}

static void sim_schedule_tick(sim_t *sim, uint32_t node)
{
    uint64_t at = sim->proto->deadline(sim->dpus[node]);
    if (at == UINT64_MAX || at >= sim->tick_at[node])
        return;
    sim->tick_at[node] = at;
    sim_event_t tick = {.time_ns = at > sim->now_ns ? at : sim->now_ns, .kind = SIM_EVENT_TICK,
                        .node = node};
    sim_push(sim, &tick);
}

static void sim_on_submit(sim_t *sim, const sim_event_t *event)
{
    sim_op_t *op = &sim->ops[event->cookie];
    switch (op->request.op) {
    case DPU_OP_READ: sim->result->reads++; break;
    case DPU_OP_WRITE: sim->result->writes++; break;
    case DPU_OP_ATOMIC: sim->result->atomics++; break;
    case DPU_OP_GET: sim->result->gets++; break;
    case DPU_OP_UNREF: sim->result->unrefs++; break;
    case DPU_OP_FREE: sim->result->frees++; break;
    default: break;
    }
    sim_submitting(sim, event->node, op);
    int status = sim->proto->submit(sim->dpus[event->node], &op->request, sim->now_ns);
    op = &sim->ops[event->cookie]; /* still in place: the DPU adds no operations */
    free(op->data);
    op->data = NULL;
    op->request.data = NULL;
    if (status != ARI_OK) { /* refused: no completion follows */
        op->done = true;
        op->status = status;
        if (status == ARI_EBUSY)
            sim->result->ops_busy++;
        else
            sim->result->ops_failed++;
        if (op->request.op == DPU_OP_FREE && op->page != UINT32_MAX)
            sim->pages[op->page].freeing = false;
        sim_map_slot_t *acquire = op->request.op == DPU_OP_ACQUIRE
                                      ? sim_map_get(&sim->acquiring, event->node,
                                                    op->request.page.hi, op->request.page.lo)
                                      : NULL;
        if (acquire != NULL)
            acquire->value[0] = 0;
        if (op->agent != 0)
            sim_agent_done(sim, op->agent - 1, status, 0);
    }
    sim_schedule_tick(sim, event->node);
}

/* A freed page comes back as the same address with the next generation. */
static void sim_page_recreate(sim_t *sim, uint32_t index)
{
    sim_page_t *page = &sim->pages[index];
    gva_fields_t f;
    gva_split(page->gva, &f);
    f.generation = (f.generation + 1) % (GVA_GENERATION_MAX + 1);
    page->gva = gva_make(&f);
    page->freeing = false;
    sim_op_t *op = sim_op_new(sim, page->birth, index, DPU_OP_CREATE, page->gva);
    if (op != NULL)
        sim_op_issue(sim, op);
}

static void sim_on_done(sim_t *sim, const sim_event_t *event)
{
    sim_op_t *op = &sim->ops[event->cookie];
    assert(!op->done); /* one completion per request */
    op->done = true;
    op->status = event->status;
    sim->result->ops_completed++;
    if (event->status != ARI_OK)
        sim->result->ops_failed++;
    if (op->request.op == DPU_OP_ATOMIC && event->status == ARI_OK)
        sim_sample(sim, &sim->atomic_ns, sim->now_ns - op->start_ns);
    if (op->request.op == DPU_OP_FREE && op->page != UINT32_MAX &&
        sim->result->event_limit_hit == 0) {
        if (event->status == ARI_OK && sim->ops_started < sim->config.workload.ops)
            sim_page_recreate(sim, op->page);
        else
            sim->pages[op->page].freeing = event->status == ARI_OK;
    }
    if (op->page != UINT32_MAX)
        sim->ops_end_ns = sim->now_ns; /* the last workload completion so far */
    if (op->agent != 0) /* last: it adds operations (op moves) */
        sim_agent_done(sim, op->agent - 1, event->status, op->version);
}

/* ------------------------------------------------------------------------
 * The loop
 * ------------------------------------------------------------------------ */

/* ARI_SIM_DEBUG=msgs: every message as it arrives, decoded. */
static void sim_debug_message(const sim_t *sim, const sim_event_t *event)
{
    msg_t m;
    size_t used;
    if (msg_decode(event->bytes, event->length, &m, &used) != ARI_OK)
        return;
    fprintf(stderr, "%llu ns: node %u <- %u %s page %llx:%llx origin %u seq %llu prev %llu "
            "version %llu op %u count %u hops %u\n", (unsigned long long)sim->now_ns,
            event->node, topo_neighbor(sim->topo, event->node, event->port),
            msg_type_name(m.type), (unsigned long long)m.page.hi, (unsigned long long)m.page.lo,
            m.origin, (unsigned long long)m.seq, (unsigned long long)m.prev,
            (unsigned long long)m.version, m.op, m.count, m.hops.count);
}

static void sim_handle(sim_t *sim, sim_event_t *event)
{
    static int debug = -1;
    if (debug < 0)
        debug = getenv("ARI_SIM_DEBUG") != NULL && strcmp(getenv("ARI_SIM_DEBUG"), "msgs") == 0;
    if (debug && (event->kind == SIM_EVENT_MESSAGE || event->kind == SIM_EVENT_ROUTED))
        sim_debug_message(sim, event);
    if (event->flow != 0)
        sim_trace_message(sim, event->node, event->bytes, event->length, sim->now_ns, event->flow,
                          false, topo_neighbor(sim->topo, event->node, event->port));
    switch (event->kind) {
    case SIM_EVENT_MESSAGE:
        dpu_receive(sim->dpus[event->node], event->port, event->bytes, event->length,
                    sim->now_ns);
        sim_release_bytes(sim, event->bytes, event->length);
        sim_schedule_tick(sim, event->node);
        break;
    case SIM_EVENT_ROUTED:
        if (event->node != event->cookie) { /* a DPU on the way forwards it */
            sim_route_on(sim, event->node, (uint32_t)event->cookie, event->bytes, event->length);
            break;
        }
        dir_receive(sim->dpus[event->node], event->bytes, event->length, sim->now_ns);
        sim_release_bytes(sim, event->bytes, event->length);
        break;
    case SIM_EVENT_SUBMIT:
        sim_on_submit(sim, event);
        break;
    case SIM_EVENT_DONE:
        sim_on_done(sim, event);
        break;
    case SIM_EVENT_TICK:
        if (sim->tick_at[event->node] == event->time_ns)
            sim->tick_at[event->node] = UINT64_MAX;
        sim->proto->tick(sim->dpus[event->node], sim->now_ns);
        sim_schedule_tick(sim, event->node);
        break;
    case SIM_EVENT_OP:
        if (event->cookie != 0)
            sim_agent_wake(sim, (uint32_t)event->cookie - 1);
        else
            sim_on_op(sim);
        break;
    }
}

/* Runs until no event is left (or the event bound is reached). */
static double sim_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void sim_drain(sim_t *sim)
{
    double started = sim_seconds();
    sim_event_t event;
    while (sim->error == ARI_OK && sim_queue_pop(&sim->queue, &event)) {
        if (sim->result->events >= sim->config.events_max) {
            free(event.bytes);
            sim->result->event_limit_hit = 1;
            break;
        }
        sim->result->events++;
        assert(event.time_ns >= sim->now_ns); /* time never runs backwards */
        sim->now_ns = event.time_ns;
        sim_handle(sim, &event);
    }
    sim->result->loop_seconds += sim_seconds() - started;
}

/* ------------------------------------------------------------------------
 * Checks after each phase
 * ------------------------------------------------------------------------ */

typedef struct {
    sim_t *sim;
    uint32_t node;
    uint64_t hash;
    bool after_free;
} sim_walk_t;

static uint64_t sim_hash_bytes(uint64_t hash, const void *bytes, size_t length)
{
    const uint8_t *p = bytes;
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ p[i]) * 0x100000001b3ull;
    return hash;
}

/* Convergence: every valid replica equals its master, bytes and version. */
static void sim_check_replica(void *ctx, ari_gva_t page, uint8_t copy, uint64_t version)
{
    sim_walk_t *walk = ctx;
    sim_t *sim = walk->sim;
    if (copy != PCACHE_COPY_VALID)
        return;
    uint32_t owner = sim_owner_of(sim, page);
    uint8_t master_copy = PCACHE_COPY_NONE;
    uint64_t master_version = 0;
    bool master = sim->proto->copy(sim->dpus[owner], page, &master_copy, &master_version) &&
                  master_copy == PCACHE_COPY_MASTER;
    sim_map_slot_t *mine = sim_map_get(&sim->copies, walk->node, page.hi, page.lo);
    sim_map_slot_t *theirs = sim_map_get(&sim->copies, owner, page.hi, page.lo);
    if (!master || mine == NULL || theirs == NULL || master_version != version ||
        memcmp((void *)(uintptr_t)mine->value[0], (void *)(uintptr_t)theirs->value[0],
               (size_t)gva_page_size(page)) != 0) {
        sim->result->unconverged++;
        if (getenv("ARI_SIM_DEBUG")) {
            size_t at = 0, size = (size_t)gva_page_size(page);
            const uint8_t *a = mine != NULL ? (const uint8_t *)(uintptr_t)mine->value[0] : NULL;
            const uint8_t *b = theirs != NULL ? (const uint8_t *)(uintptr_t)theirs->value[0] : NULL;
            while (a != NULL && b != NULL && at < size && a[at] == b[at])
                at++;
            fprintf(stderr, "unconverged: node %u page %llx:%llx version %llu master %llu at "
                    "node %u (%s, first differing byte %zu)\n", walk->node,
                    (unsigned long long)page.hi, (unsigned long long)page.lo,
                    (unsigned long long)version, (unsigned long long)master_version, owner,
                    master ? "bytes" : "no master", at);
        }
    }
}

static void sim_count_entry(void *ctx, ari_gva_t page, uint8_t copy, uint64_t version)
{
    sim_walk_t *walk = ctx;
    uint64_t fields[4] = {page.hi, page.lo, version, copy};
    walk->hash = sim_hash_bytes(walk->hash, fields, sizeof fields);
    sim_map_slot_t *mine = sim_map_get(&walk->sim->copies, walk->node, page.hi, page.lo);
    if (mine != NULL && mine->value[0] != 0)
        walk->hash = sim_hash_bytes(walk->hash, (void *)(uintptr_t)mine->value[0],
                                    (size_t)gva_page_size(page));
}

/* Leaks: entries other than masters (after unref), or any (after free). */
static void sim_count_leak(void *ctx, ari_gva_t page, uint8_t copy, uint64_t version)
{
    sim_walk_t *walk = ctx;
    if (copy != PCACHE_COPY_MASTER || walk->after_free) {
        walk->sim->result->leaked_entries++;
        if (getenv("ARI_SIM_DEBUG"))
            fprintf(stderr, "leaked: node %u page %llx:%llx copy %u version %llu\n", walk->node,
                    (unsigned long long)page.hi, (unsigned long long)page.lo, copy,
                    (unsigned long long)version);
    }
}

static void sim_check_convergence(sim_t *sim)
{
    uint64_t total = 0;
    uint32_t max = 0;
    for (uint32_t node = 0; node < sim->topo->nodes; node++) {
        sim_walk_t walk = {sim, node, 0, false};
        sim->proto->each(sim->dpus[node], sim_check_replica, &walk);
        uint32_t count = sim->proto->entries(sim->dpus[node]);
        total += count;
        if (count > max)
            max = count;
        if (sim->config.protocol == SIM_PROTOCOL_DIRECTORY)
            sim->result->sharer_bytes += dir_sharer_bytes(sim->dpus[node]);
    }
    sim->result->pcache_entries_mean = (double)total / sim->topo->nodes;
    sim->result->pcache_entries_max = max;
}

static void sim_state_hash(sim_t *sim)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (uint32_t node = 0; node < sim->topo->nodes; node++) {
        sim_walk_t walk = {sim, node, hash, false};
        sim->proto->each(sim->dpus[node], sim_count_entry, &walk);
        hash = walk.hash;
        const dpu_stats_t *st = sim->proto->stats(sim->dpus[node]);
        hash = sim_hash_bytes(hash, st, sizeof *st);
    }
    hash = sim_hash_bytes(hash, &sim->result->events, sizeof sim->result->events);
    hash = sim_hash_bytes(hash, &sim->now_ns, sizeof sim->now_ns);
    sim->result->state_hash = hash;
}

static void sim_count_leaf_leak(void *ctx, pcache_entry_t *entry)
{
    sim_walk_t *walk = ctx;
    if (entry->copy != PCACHE_COPY_MASTER && (entry->flags & PCACHE_ANCHOR) == 0 &&
        entry->down == 0)
        sim_count_leak(ctx, entry->page, entry->copy, entry->version);
    (void)walk;
}

/* After every replica is dropped only masters may remain, and for a page
 * whose owner moved, its birth anchor and the entries between the two
 * (DESIGN §4): in the path cache a leaf that is neither is a leak (the
 * tree check covers the entries above it). After every page is freed,
 * nothing may remain, directory records included. */
static void sim_check_leaks(sim_t *sim, bool after_free)
{
    bool pathcache = sim->config.protocol == SIM_PROTOCOL_PATHCACHE;
    for (uint32_t node = 0; node < sim->topo->nodes; node++) {
        sim_walk_t walk = {sim, node, 0, after_free};
        if (pathcache && !after_free)
            pcache_each(dpu_pcache(sim->dpus[node]), sim_count_leaf_leak, &walk);
        else
            sim->proto->each(sim->dpus[node], sim_count_leak, &walk);
        if (!pathcache && after_free)
            sim->result->leaked_entries += dir_records(sim->dpus[node]);
    }
}

/* Atomics are linearizable: the hotspot counter's fetch-adds of 1 saw
 * 0, 1, ..., n-1 once each, and the master holds n. */
static int sim_compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void sim_check_hotspot(sim_t *sim)
{
    if (sim->config.workload.kind != SIM_WORKLOAD_ATOMICS_HOTSPOT ||
        sim->config.workload.free_ratio > 0)
        return; /* a freed counter starts again from zero */
    sim_samples_t *olds = &sim->hotspot_olds;
    qsort(olds->values, olds->count, sizeof *olds->values, sim_compare_u64);
    for (size_t i = 0; i < olds->count; i++) {
        if (olds->values[i] != i)
            sim->result->atomic_violations++;
    }
    sim_page_t *page = &sim->pages[0];
    sim_map_slot_t *master = sim_map_get(&sim->copies, sim_owner_of(sim, page->gva),
                                         page->gva.hi, page->gva.lo);
    uint64_t value = 0;
    if (master != NULL && master->value[0] != 0)
        memcpy(&value, (void *)(uintptr_t)master->value[0] + SIM_HOTSPOT_WORD, 8);
    if (value != sim->hotspot_adds)
        sim->result->atomic_violations++;
}

/* ------------------------------------------------------------------------
 * Ownership checks at quiescent points (nothing in flight): one master per
 * live page, where the events put it; the path-cache entries of a page
 * form one tree rooted at its owner; the lock's counter is exact.
 * ------------------------------------------------------------------------ */

typedef struct {
    sim_t *sim;
    uint32_t node;
    uint32_t *masters;  /* per page index */
} sim_owner_walk_t;

static void sim_count_master(void *ctx, ari_gva_t gva, uint8_t copy, uint64_t version)
{
    sim_owner_walk_t *walk = ctx;
    (void)version;
    if (copy != PCACHE_COPY_MASTER)
        return;
    sim_page_t *page = sim_page_of(walk->sim, gva);
    if (page == NULL) {
        sim_owner_violation(walk->sim, "a master of a page that is gone", walk->node, gva);
        return;
    }
    walk->masters[page - walk->sim->pages]++;
    if (page->owner != walk->node)
        sim_owner_violation(walk->sim, "a master where no transfer put it", walk->node, gva);
}

static void sim_check_masters(sim_t *sim)
{
    uint32_t pages = sim->config.workload.pages;
    sim_owner_walk_t walk = {sim, 0, calloc(pages, sizeof *walk.masters)};
    if (walk.masters == NULL) {
        sim_fail(sim, ARI_ENOMEM);
        return;
    }
    for (walk.node = 0; walk.node < sim->topo->nodes; walk.node++)
        sim->proto->each(sim->dpus[walk.node], sim_count_master, &walk);
    /* Created and not freed (as the completions said): exactly one master,
     * where the last transfer put it, and no transfer still in flight. */
    for (uint32_t i = 0; i < pages; i++) {
        const sim_page_t *page = &sim->pages[i];
        if (walk.masters[i] != page->masters || page->in_flight != 0)
            sim_owner_violation(sim, "masters found differ from the transfers observed",
                                page->owner, page->gva);
    }
    free(walk.masters);
}

static void sim_tree_violation(sim_t *sim, const char *what, uint32_t node, ari_gva_t page)
{
    sim->result->tree_violations++;
    sim_debug(sim, "tree", what, node, page);
}

static pcache_entry_t *sim_entry_at(sim_t *sim, uint32_t node, ari_gva_t page)
{
    return pcache_find(dpu_pcache(sim->dpus[node]), page);
}

/* Up pointers from an entry lead to the page's owner, each parent listing
 * the child's port among its down ports, without a cycle. */
static void sim_tree_climb(sim_t *sim, uint32_t node, const pcache_entry_t *entry)
{
    const topo_t *topo = sim->topo;
    ari_gva_t page = entry->page;
    for (uint32_t steps = 0; steps <= topo->nodes; steps++) {
        if (entry->copy == PCACHE_COPY_MASTER) {
            if (sim_page_of(sim, page) != NULL && sim_owner_of(sim, page) != node)
                sim_tree_violation(sim, "a tree rooted elsewhere than the owner", node, page);
            return;
        }
        if (entry->up < 0 || (uint32_t)entry->up >= topo_degree(topo, node)) {
            sim_tree_violation(sim, "an entry on the tree with no way up", node, page);
            return;
        }
        uint32_t parent = topo_neighbor(topo, node, (uint32_t)entry->up);
        uint32_t back = topo_peer_port(topo, node, (uint32_t)entry->up);
        const pcache_entry_t *above = sim_entry_at(sim, parent, page);
        if (above == NULL || !pcache_has_down(above, back)) {
            sim_tree_violation(sim, "a parent that does not list its child", node, page);
            return;
        }
        node = parent;
        entry = above;
    }
    sim_tree_violation(sim, "up pointers in a cycle", node, page);
}

/* Every down port leads to a child entry whose up pointer comes back. */
static void sim_tree_children(sim_t *sim, uint32_t node, const pcache_entry_t *entry)
{
    for (uint32_t port = 0; port < topo_degree(sim->topo, node); port++) {
        if (!pcache_has_down(entry, port))
            continue;
        uint32_t child = topo_neighbor(sim->topo, node, port);
        const pcache_entry_t *below = sim_entry_at(sim, child, entry->page);
        if (below == NULL || (below->flags & PCACHE_ON_TREE) == 0 ||
            below->up != (int8_t)topo_peer_port(sim->topo, node, port) ||
            below->copy == PCACHE_COPY_MASTER)
            sim_tree_violation(sim, "a down port with no child behind it", node, entry->page);
    }
}

static void sim_tree_entry(void *ctx, pcache_entry_t *entry)
{
    sim_walk_t *walk = ctx;
    if (entry->copy == PCACHE_COPY_MASTER || (entry->flags & PCACHE_ON_TREE)) {
        sim_tree_climb(walk->sim, walk->node, entry);
        sim_tree_children(walk->sim, walk->node, entry);
    } else if (entry->down != 0 || entry->copy == PCACHE_COPY_VALID) {
        sim_tree_violation(walk->sim, "an entry off the tree with a branch or a valid copy",
                           walk->node, entry->page);
    }
}

static void sim_check_tree(sim_t *sim)
{
    if (sim->config.protocol != SIM_PROTOCOL_PATHCACHE)
        return;
    for (uint32_t node = 0; node < sim->topo->nodes; node++) {
        sim_walk_t walk = {sim, node, 0, false};
        pcache_each(dpu_pcache(sim->dpus[node]), sim_tree_entry, &walk);
    }
}

/* Lock: the counter equals the increments acknowledged, one per section. */
static void sim_check_counter(sim_t *sim)
{
    if (sim->config.workload.kind != SIM_WORKLOAD_LOCK_CONTEND)
        return;
    uint64_t value = 0;
    ari_gva_t gva = sim->pages[SIM_PAGE_DATA].gva;
    if (!sim_word(sim, sim_owner_of(sim, gva), SIM_PAGE_DATA, 0, &value) ||
        value != sim->counter_acked || sim->counter_acked != sim->result->sections) {
        sim->result->counter_violations++;
        sim_debug(sim, "counter", "the counter differs from the sections", 0, gva);
    }
}

static void sim_check_quiescent(sim_t *sim)
{
    sim_check_masters(sim);
    sim_check_tree(sim);
}

/* ------------------------------------------------------------------------
 * Phases
 * ------------------------------------------------------------------------ */

/* Teardown requests are queued first and issued after the walk: a walk
 * must not change the table it walks. */
static void sim_teardown_unref(void *ctx, ari_gva_t page, uint8_t copy, uint64_t version)
{
    sim_walk_t *walk = ctx;
    (void)version;
    if (copy != PCACHE_COPY_VALID && copy != PCACHE_COPY_INVALID)
        return;
    sim_op_t *op = sim_op_new(walk->sim, walk->node, UINT32_MAX, DPU_OP_UNREF, page);
    if (op != NULL)
        sim_op_issue(walk->sim, op);
}

static void sim_teardown_free(void *ctx, ari_gva_t page, uint8_t copy, uint64_t version)
{
    sim_walk_t *walk = ctx;
    (void)version;
    if (copy != PCACHE_COPY_MASTER)
        return;
    sim_op_t *op = sim_op_new(walk->sim, walk->node, UINT32_MAX, DPU_OP_FREE, page);
    if (op != NULL)
        sim_op_issue(walk->sim, op);
}

static void sim_phase(sim_t *sim, sim_copy_fn fn)
{
    for (uint32_t node = 0; node < sim->topo->nodes; node++) {
        sim_walk_t walk = {sim, node, 0, false};
        sim->proto->each(sim->dpus[node], fn, &walk);
    }
    sim_drain(sim);
}

static void sim_count_stuck(sim_t *sim)
{
    for (size_t i = 0; i < sim->ops_count; i++) {
        const sim_op_t *op = &sim->ops[i];
        if (op->done)
            continue;
        sim->result->stuck_ops++;
        if (getenv("ARI_SIM_DEBUG"))
            fprintf(stderr, "stuck: node %u op %d page %llx:%llx issued at %llu ns, at the DPU "
                    "at %llu ns\n", op->node, op->request.op,
                    (unsigned long long)op->request.page.hi,
                    (unsigned long long)op->request.page.lo, (unsigned long long)op->start_ns,
                    (unsigned long long)op->submit_ns);
    }
}

/* ------------------------------------------------------------------------
 * The two protocols behind one table
 * ------------------------------------------------------------------------ */

static int sim_pc_create(const dpu_config_t *c, const dpu_world_t *w, void **out)
{
    return dpu_create(c, w, (dpu_t **)out);
}
static void sim_pc_destroy(void *n) { dpu_destroy(n); }
static int sim_pc_submit(void *n, const dpu_request_t *r, uint64_t now) { return dpu_submit(n, r, now); }
static uint64_t sim_pc_tick(void *n, uint64_t now) { return dpu_tick(n, now); }
static uint64_t sim_pc_deadline(const void *n) { return dpu_deadline(n); }
static const dpu_stats_t *sim_pc_stats(const void *n) { return dpu_stats(n); }
static uint32_t sim_pc_entries(void *n) { return pcache_count(dpu_pcache(n)); }

static bool sim_pc_copy(void *n, ari_gva_t page, uint8_t *copy_out, uint64_t *version_out)
{
    pcache_entry_t *entry = pcache_find(dpu_pcache(n), page);
    if (entry == NULL)
        return false;
    *copy_out = entry->copy;
    *version_out = entry->version;
    return true;
}

typedef struct {
    sim_copy_fn fn;
    void *ctx;
} sim_pc_each_t;

static void sim_pc_each_entry(void *ctx, pcache_entry_t *entry)
{
    sim_pc_each_t *each = ctx;
    each->fn(each->ctx, entry->page, entry->copy, entry->version);
}

static void sim_pc_each(void *n, sim_copy_fn fn, void *ctx)
{
    sim_pc_each_t each = {fn, ctx};
    pcache_each(dpu_pcache(n), sim_pc_each_entry, &each);
}

static const sim_ops_t sim_pathcache_ops = {
    sim_pc_create, sim_pc_destroy, sim_pc_submit, sim_pc_tick, sim_pc_deadline,
    sim_pc_stats, sim_pc_copy, sim_pc_each, sim_pc_entries,
};

static int sim_dir_create(const dpu_config_t *c, const dpu_world_t *w, void **out)
{
    return dir_create(c, w, (dir_t **)out);
}
static void sim_dir_destroy(void *n) { dir_destroy(n); }
static int sim_dir_submit(void *n, const dpu_request_t *r, uint64_t now) { return dir_submit(n, r, now); }
static uint64_t sim_dir_tick(void *n, uint64_t now) { return dir_tick(n, now); }
static uint64_t sim_dir_deadline(const void *n) { return dir_deadline(n); }
static const dpu_stats_t *sim_dir_stats(const void *n) { return dir_stats(n); }
static bool sim_dir_copy(void *n, ari_gva_t page, uint8_t *copy_out, uint64_t *version_out)
{
    return dir_copy(n, page, copy_out, version_out);
}
static void sim_dir_each(void *n, sim_copy_fn fn, void *ctx) { dir_each(n, fn, ctx); }
static uint32_t sim_dir_entries(void *n) { return dir_entries(n); }

static const sim_ops_t sim_directory_ops = {
    sim_dir_create, sim_dir_destroy, sim_dir_submit, sim_dir_tick, sim_dir_deadline,
    sim_dir_stats, sim_dir_copy, sim_dir_each, sim_dir_entries,
};

int sim_protocol_parse(const char *name, sim_protocol_t *protocol_out)
{
    if (strcmp(name, "pathcache") == 0 || strcmp(name, "path-cache") == 0)
        *protocol_out = SIM_PROTOCOL_PATHCACHE;
    else if (strcmp(name, "directory") == 0)
        *protocol_out = SIM_PROTOCOL_DIRECTORY;
    else
        return ARI_EINVAL;
    return ARI_OK;
}

const char *sim_protocol_name(sim_protocol_t protocol)
{
    return protocol == SIM_PROTOCOL_DIRECTORY ? "directory" : "pathcache";
}

/* ------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------ */

static int sim_setup_dpus(sim_t *sim)
{
    uint32_t nodes = sim->topo->nodes;
    sim->dpus = calloc(nodes, sizeof *sim->dpus);
    sim->ctx = calloc(nodes, sizeof *sim->ctx);
    sim->links = calloc(sim->topo->offsets[nodes], sizeof *sim->links);
    sim->tick_at = malloc(nodes * sizeof *sim->tick_at);
    sim->scratch = malloc(dpu_scratch_size(&sim->config.dpu));
    if (sim->dpus == NULL || sim->ctx == NULL || sim->links == NULL || sim->tick_at == NULL ||
        sim->scratch == NULL)
        return ARI_ENOMEM;
    for (uint32_t node = 0; node < nodes; node++) {
        sim->tick_at[node] = UINT64_MAX;
        sim->ctx[node] = (sim_node_ctx_t){sim, node};
        dpu_config_t config = sim->config.dpu;
        config.node = node;
        config.topo = sim->topo;
        config.route = sim->route;
        config.scratch = sim->scratch;
        dpu_world_t world = {&sim->ctx[node], sim_world_send, sim_world_page_memory,
                             sim_world_page_drop, sim_world_complete, sim_world_observe,
                             sim_world_send_to, NULL, NULL};
        int status = sim->proto->create(&config, &world, &sim->dpus[node]);
        if (status != ARI_OK)
            return status;
    }
    return ARI_OK;
}

/* A page's readers: distinct nodes other than its birth node while there
 * are enough of them, drawn with replacement beyond that. */
static void sim_pick_readers(sim_t *sim, sim_page_t *page)
{
    uint32_t nodes = sim->topo->nodes, readers = sim->config.workload.readers;
    uint8_t *taken = readers < nodes ? calloc((nodes + 7) / 8, 1) : NULL;
    for (uint32_t r = 0; r < readers; r++) {
        uint32_t node;
        do {
            node = (uint32_t)rng_below(&sim->rng, nodes - 1);
            node = node >= page->birth ? node + 1 : node; /* never the owner */
        } while (taken != NULL && (taken[node / 8] >> (node % 8)) & 1);
        if (taken != NULL)
            taken[node / 8] |= (uint8_t)(1u << (node % 8));
        page->readers[r] = node;
    }
    free(taken);
}

/* Pages are born on random nodes, each read by `readers` other nodes. */
static int sim_setup_pages(sim_t *sim)
{
    const sim_workload_t *w = &sim->config.workload;
    uint32_t nodes = sim->topo->nodes;
    sim->pages = calloc(w->pages, sizeof *sim->pages);
    if (sim->pages == NULL)
        return ARI_ENOMEM;
    for (uint32_t i = 0; i < w->pages; i++) {
        sim_page_t *page = &sim->pages[i];
        page->birth = w->trace != NULL ? w->trace->births[i] : (uint32_t)rng_below(&sim->rng, nodes);
        if (page->birth == UINT32_MAX) { /* a trace index never declared */
            page->freeing = true;
            continue;
        }
        gva_fields_t f = {.machine = page->birth, .offset = (uint64_t)(i + 1) << GVA_PAGE_SHIFT};
        page->gva = gva_make(&f);
        page->owner = page->holder = page->release_node = SIM_NONE;
        page->readers = malloc((w->readers ? w->readers : 1) * sizeof *page->readers);
        if (page->readers == NULL)
            return ARI_ENOMEM;
        sim_pick_readers(sim, page);
        sim_op_t *op = sim_op_new(sim, page->birth, i, DPU_OP_CREATE, page->gva);
        if (op == NULL)
            return ARI_ENOMEM;
        sim_op_issue(sim, op);
    }
    return ARI_OK;
}

static int sim_config_check(const topo_t *topo, const sim_config_t *c)
{
    const sim_workload_t *w = &c->workload;
    if ((w->kind == SIM_WORKLOAD_TRACE) != (w->trace != NULL) ||
        (w->trace != NULL && (w->pages != w->trace->pages || w->ops > w->trace->count)))
        return ARI_EINVAL;
    bool ownership = w->kind == SIM_WORKLOAD_MIGRATORY || sim_agent_workload(w);
    if (topo->nodes < 2 || c->link_gbps <= 0 ||
        (c->protocol != SIM_PROTOCOL_PATHCACHE && c->protocol != SIM_PROTOCOL_DIRECTORY) ||
        w->pages == 0 || (w->readers == 0 && !ownership) ||
        w->pages > (1u << 20) || w->write_bytes_max == 0 || w->write_ratio < 0 ||
        w->unref_ratio < 0 || w->free_ratio < 0 || !(w->own_ratio >= 0) ||
        w->write_ratio + w->unref_ratio + w->free_ratio + w->own_ratio > 1.0 ||
        c->burst_ratio < 0 || c->burst_ratio > 1)
        return ARI_EINVAL;
    /* Ownership workloads free no pages; sessions are migratory's alone;
     * a lock or barrier takes two pages and a node per party. */
    if ((ownership && w->free_ratio > 0) ||
        (w->kind != SIM_WORKLOAD_MIGRATORY && w->own_ratio > 0) ||
        (sim_agent_workload(w) && (w->pages != 2 || w->parties == 0 ||
                                   w->parties > SIM_PARTIES_MAX || w->parties > topo->nodes)))
        return ARI_EINVAL;
    return ARI_OK;
}

/* T, the time one transfer may take however the links fall: four one-way
 * trips across an upper bound of the diameter (twice node 0's
 * eccentricity), each hop a step, the latency, the largest jitter, a stall
 * and a page's serialisation. A wait is checked against contenders x (pin
 * limit + T). */
static int sim_setup_bounds(sim_t *sim)
{
    uint32_t nodes = sim->topo->nodes, eccentricity = 0;
    uint32_t *distance = malloc(nodes * sizeof *distance), *queue = malloc(nodes * sizeof *queue);
    if (distance == NULL || queue == NULL) {
        free(distance);
        free(queue);
        return ARI_ENOMEM;
    }
    topo_distances(sim->topo, 0, distance, queue);
    for (uint32_t node = 0; node < nodes; node++)
        eccentricity = distance[node] > eccentricity ? distance[node] : eccentricity;
    free(distance);
    free(queue);
    const sim_config_t *c = &sim->config;
    uint64_t page_ns = (uint64_t)((double)c->dpu.page_bytes_max * 8.0 / c->link_gbps) + 1;
    uint64_t hop_ns = c->dpu_step_ns + c->hop_latency_ns + c->jitter_ns + c->burst_ns + page_ns;
    sim->transfer_bound_ns = 4 * (2 * (uint64_t)eccentricity + 1) * hop_ns;
    if (sim_agent_workload(&c->workload))
        sim->reserved_bytes = 64 + 8 * c->workload.parties;
    return ARI_OK;
}

static void sim_quantiles(sim_samples_t *samples, sim_quantiles_t *out)
{
    memset(out, 0, sizeof *out);
    if (samples->count == 0)
        return;
    qsort(samples->values, samples->count, sizeof *samples->values, sim_compare_u64);
    out->p50 = samples->values[(samples->count - 1) / 2];
    out->p99 = samples->values[(samples->count - 1) * 99 / 100];
    out->max = samples->values[samples->count - 1];
}

/* Every reader reads each of its pages once, and the run waits for all of
 * it: the operations then start on fully built trees (or sharer lists). */
static void sim_warmup(sim_t *sim)
{
    sim_drain(sim); /* the pages' CREATEs */
    const sim_workload_t *w = &sim->config.workload;
    for (uint32_t i = 0; i < w->pages; i++) {
        for (uint32_t r = 0; r < w->readers; r++) {
            sim_page_t *page = &sim->pages[i];
            sim_op_t *op = sim_op_new(sim, page->readers[r], i, DPU_OP_READ, page->gva);
            if (op == NULL)
                return;
            op->start_ns = sim->now_ns;
            sim_op_issue(sim, op);
        }
    }
    sim_drain(sim);
    memset(sim->result->traversals_by_type, 0, sizeof sim->result->traversals_by_type);
    memset(sim->result->messages_by_type, 0, sizeof sim->result->messages_by_type);
}

static void sim_collect(sim_t *sim)
{
    sim_result_t *r = sim->result;
    const uint64_t *t = r->traversals_by_type;
    r->write_traversals = t[MSG_WRITE] + t[MSG_WRITE_ACK] + t[MSG_ATOMIC] +
                          t[MSG_ATOMIC_RESULT] + t[MSG_UPDATE] + t[MSG_INVAL];
    sim_quantiles(&sim->propagation_ns, &r->propagation_ns);
    sim_quantiles(&sim->propagation_hops, &r->propagation_hops);
    sim_quantiles(&sim->atomic_ns, &r->atomic_latency_ns);
    sim_quantiles(&sim->transfer_ns, &r->transfer_ns);
    sim_quantiles(&sim->handoff_ns, &r->handoff_ns);
    sim_quantiles(&sim->wait_ns, &r->acquire_wait_ns);
    uint64_t span = sim->ops_end_ns > sim->ops_start_ns ? sim->ops_end_ns - sim->ops_start_ns : 0;
    r->acquires_per_ms = span > 0 ? (double)r->acquired * 1e6 / (double)span : 0;
    static const msg_type_t arbiter[] = {MSG_ACQ, MSG_GRANT, MSG_DENY, MSG_CANCEL,
                                         MSG_XFER_DATA, MSG_XFER_CONFIRM, MSG_XFER_DONE};
    for (size_t i = 0; i < sizeof arbiter / sizeof arbiter[0]; i++) {
        r->arbiter_messages += r->messages_by_type[arbiter[i]];
        r->arbiter_traversals += t[arbiter[i]];
    }
    for (uint32_t node = 0; node < sim->topo->nodes; node++) {
        const dpu_stats_t *st = sim->proto->stats(sim->dpus[node]);
        r->ref_fails += st->ref_fails;
        r->evictions += st->evictions;
        r->resyncs += st->resyncs;
        r->stale_unrefs += st->stale_unrefs;
        r->malformed += st->malformed;
        r->stray += st->stray;
    }
}

static void sim_free(sim_t *sim)
{
    for (uint32_t node = 0; sim->dpus != NULL && node < sim->topo->nodes; node++)
        sim->proto->destroy(sim->dpus[node]);
    for (size_t i = 0; sim->copies.slots != NULL && i < sim->copies.capacity; i++) {
        if (sim->copies.slots[i].used)
            free((void *)(uintptr_t)sim->copies.slots[i].value[0]);
    }
    for (uint32_t i = 0; sim->pages != NULL && i < sim->config.workload.pages; i++)
        free(sim->pages[i].readers);
    for (size_t i = 0; i < sim->ops_count; i++)
        free(sim->ops[i].data);
    sim_queue_fini(&sim->queue);
    sim_map_fini(&sim->copies);
    sim_map_fini(&sim->orders);
    sim_map_fini(&sim->writers);
    sim_map_fini(&sim->acquiring);
    sim_map_fini(&sim->sessions);
    sim_map_fini(&sim->versions);
    free(sim->agents);
    free(sim->agents_free);
    free(sim->transfer_ns.values);
    free(sim->handoff_ns.values);
    free(sim->wait_ns.values);
    free(sim->dpus);
    free(sim->ctx);
    free(sim->links);
    free(sim->tick_at);
    free(sim->scratch);
    free(sim->trace_named);
    sim_pool_free(sim);
    free(sim->pages);
    free(sim->ops);
    free(sim->propagation_ns.values);
    free(sim->propagation_hops.values);
    free(sim->atomic_ns.values);
    free(sim->hotspot_olds.values);
    route_free(sim->route);
}

static int sim_setup(sim_t *sim, const topo_t *topo, const sim_config_t *config)
{
    int status = sim_config_check(topo, config);
    if (status != ARI_OK)
        return status;
    sim->topo = topo;
    sim->config = *config;
    sim->proto = config->protocol == SIM_PROTOCOL_DIRECTORY ? &sim_directory_ops
                                                          : &sim_pathcache_ops;
    sim->rng = rng_seeded(config->seed);
    status = route_create(topo, 4096, &sim->route);
    if (status == ARI_OK)
        status = sim_queue_init(&sim->queue);
    if (status == ARI_OK)
        status = sim_map_init(&sim->copies);
    if (status == ARI_OK)
        status = sim_map_init(&sim->orders);
    if (status == ARI_OK)
        status = sim_map_init(&sim->writers);
    if (status == ARI_OK)
        status = sim_map_init(&sim->acquiring);
    if (status == ARI_OK)
        status = sim_map_init(&sim->sessions);
    if (status == ARI_OK)
        status = sim_map_init(&sim->versions);
    if (status == ARI_OK)
        status = sim_setup_bounds(sim);
    if (status == ARI_OK)
        status = sim_setup_dpus(sim);
    if (status == ARI_OK)
        status = sim_setup_pages(sim);
    return status;
}

int sim_run(const topo_t *topo, const sim_config_t *config, sim_result_t *result_out)
{
    sim_t sim;
    memset(&sim, 0, sizeof sim);
    sim_result_t result;
    memset(&result, 0, sizeof result);
    sim.result = &result;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status = sim_setup(&sim, topo, config);
    if (status == ARI_OK) {
        sim_trace_begin(&sim);
        if (config->workload.warmup)
            sim_warmup(&sim);
        sim_event_t first = {.time_ns = sim.now_ns + 1000, .kind = SIM_EVENT_OP};
        if (config->workload.trace != NULL && config->workload.trace->ops[0].time_ns > first.time_ns)
            first.time_ns = config->workload.trace->ops[0].time_ns;
        if (config->workload.ops > 0)
            sim_push(&sim, &first);
        sim_drain(&sim);
        sim_check_convergence(&sim);
        sim_check_hotspot(&sim);
        sim_check_counter(&sim);
        sim_check_quiescent(&sim);
        sim_state_hash(&sim);
        sim_phase(&sim, sim_teardown_unref);
        sim_check_leaks(&sim, false);
        sim_check_quiescent(&sim);
        sim_phase(&sim, sim_teardown_free);
        sim_check_leaks(&sim, true);
        sim_count_stuck(&sim);
        sim_collect(&sim);
        sim_trace_end(&sim);
        status = sim.error;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    result.nodes = topo->nodes;
    result.sim_time_ns = sim.now_ns;
    result.wall_seconds = (double)(end.tv_sec - start.tv_sec) +
                          (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    sim_free(&sim);
    if (status == ARI_OK)
        *result_out = result;
    return status;
}
