/*
 * Property tests of the path-cache protocol in the simulator: many seeds,
 * small random topologies, every feature at once, tiny caches; the five
 * guarantees of DESIGN §4 checked after every run. A failure prints the
 * exact `ariadne sim` command that replays it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/topo.h"
#include "sim/sim.h"
#include "test.h"

/* One property run, its parameters drawn from the seed. */
typedef struct {
    char topo[64];
    uint32_t cache, pending, update_max;
    uint64_t interval, jitter;
    double burst;
} prop_params_t;

static void prop_params(uint64_t seed, prop_params_t *p)
{
    uint64_t rng = seed * 7919;
    uint32_t nodes = 6 + (uint32_t)(test_rand_next(&rng) % 11);
    uint32_t degree = 3 + (uint32_t)(test_rand_next(&rng) % 2);
    if ((nodes * degree) % 2 != 0)
        nodes++;
    snprintf(p->topo, sizeof p->topo, "random:%u:%u:%llu", nodes, degree,
             (unsigned long long)seed);
    p->cache = 2 + (uint32_t)(test_rand_next(&rng) % 6);
    p->pending = 2 + (uint32_t)(test_rand_next(&rng) % 30);
    p->update_max = (uint32_t)(test_rand_next(&rng) % 3) * 700;
    p->interval = 20 + test_rand_next(&rng) % 400;
    p->jitter = test_rand_next(&rng) % 3000;
    p->burst = (double)(test_rand_next(&rng) % 3) * 0.02;
}

static void prop_config(uint64_t seed, const prop_params_t *p, uint64_t ops, sim_config_t *c)
{
    sim_config_default(c);
    c->seed = seed;
    sim_workload_default(SIM_WORKLOAD_MIXED, &c->workload);
    c->workload.ops = ops;
    c->workload.interval_ns = p->interval;
    c->dpu.pcache_capacity = p->cache;
    c->dpu.pending_max = p->pending;
    c->dpu.update_max_bytes = p->update_max;
    c->jitter_ns = p->jitter;
    c->burst_ratio = p->burst;
    c->events_max = 10000000;
}

static void prop_replay(uint64_t seed, const prop_params_t *p, uint64_t ops)
{
    printf("replay: ariadne sim --topo %s --workload mixed --ops %llu --seed %llu --cache %u "
           "--pending %u --update-max %u --interval %llu --jitter-ns %llu --burst-ratio %g\n",
           p->topo, (unsigned long long)ops, (unsigned long long)seed, p->cache, p->pending,
           p->update_max, (unsigned long long)p->interval, (unsigned long long)p->jitter,
           p->burst);
}

static int prop_run_protocol(uint64_t seed, uint64_t ops, sim_protocol_t protocol,
                             sim_result_t *result)
{
    prop_params_t p;
    prop_params(seed, &p);
    sim_config_t config;
    prop_config(seed, &p, ops, &config);
    config.protocol = protocol;
    char error[TOPO_ERROR_MAX];
    topo_t *topo;
    CHECK_OK(topo_build(p.topo, NULL, NULL, &topo, error, sizeof error));
    int status = sim_run(topo, &config, result);
    topo_free(topo);
    if (status != ARI_OK || sim_result_violations(result) != 0) {
        printf("seed %llu: status %d, order %llu ryw %llu atomics %llu writer %llu "
               "unconverged %llu leaked %llu stuck %llu limit %llu\n",
               (unsigned long long)seed, status, (unsigned long long)result->order_violations,
               (unsigned long long)result->ryw_violations,
               (unsigned long long)result->atomic_violations,
               (unsigned long long)result->writer_order_violations,
               (unsigned long long)result->unconverged,
               (unsigned long long)result->leaked_entries, (unsigned long long)result->stuck_ops,
               (unsigned long long)result->event_limit_hit);
        if (protocol == SIM_PROTOCOL_DIRECTORY)
            printf("(add --protocol directory)\n");
        prop_replay(seed, &p, ops);
        return -1;
    }
    return 0;
}

static int prop_run(uint64_t seed, uint64_t ops, sim_result_t *result)
{
    return prop_run_protocol(seed, ops, SIM_PROTOCOL_PATHCACHE, result);
}

/* 1000 seeds. ARI_PROP_SEEDS and ARI_PROP_FIRST choose others. */
TEST_FN(sim_property_mixed)
{
    uint64_t first = getenv("ARI_PROP_FIRST") ? strtoull(getenv("ARI_PROP_FIRST"), NULL, 10) : 1;
    uint64_t seeds = getenv("ARI_PROP_SEEDS") ? strtoull(getenv("ARI_PROP_SEEDS"), NULL, 10) : 1000;
    int failures = 0;
    uint64_t evictions = 0, ref_fails = 0, stale = 0, frees = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++) {
        sim_result_t r;
        if (prop_run(seed, 300, &r) != 0 && ++failures >= 5)
            break;
        evictions += r.evictions;
        ref_fails += r.ref_fails;
        stale += r.stale_unrefs;
        frees += r.frees;
    }
    CHECK_INT(failures, ==, 0);
    /* The runs reached the races they are meant to: evictions with
     * subtrees, REF_FAIL, UNREF crossing data, frees. */
    CHECK_U64(evictions, >, 0);
    CHECK_U64(ref_fails, >, 0);
    CHECK_U64(stale, >, 0);
    CHECK_U64(frees, >, 0);
}

/* The directory baseline keeps the same guarantees on the same runs. */
TEST_FN(sim_property_directory)
{
    int failures = 0;
    for (uint64_t seed = 1; seed <= 300 && failures < 5; seed++) {
        sim_result_t r;
        failures += prop_run_protocol(seed, 300, SIM_PROTOCOL_DIRECTORY, &r) != 0;
    }
    CHECK_INT(failures, ==, 0);
}

TEST_FN(sim_deterministic)
{
    sim_result_t a, b, c;
    CHECK_OK(prop_run(42, 400, &a));
    CHECK_OK(prop_run(42, 400, &b));
    CHECK_OK(prop_run(43, 400, &c));
    CHECK_U64(a.state_hash, ==, b.state_hash);
    CHECK_U64(a.events, ==, b.events);
    CHECK_U64(a.sim_time_ns, ==, b.sim_time_ns);
    CHECK_U64(a.state_hash, !=, c.state_hash);
}

static void sim_named(const char *spec, sim_workload_kind_t kind, sim_result_t *r)
{
    sim_config_t c;
    sim_config_default(&c);
    sim_workload_default(kind, &c.workload);
    c.workload.ops = 3000;
    char error[TOPO_ERROR_MAX];
    topo_t *topo;
    CHECK_OK(topo_build(spec, NULL, NULL, &topo, error, sizeof error));
    CHECK_OK(sim_run(topo, &c, r));
    topo_free(topo);
    if (sim_result_violations(r) != 0)
        test_fail(__FILE__, __LINE__, "%s on %s: checks failed",
                  sim_workload_name(kind), spec);
}

TEST_FN(sim_workloads)
{
    sim_result_t r;
    sim_named("torus2d:4x4", SIM_WORKLOAD_READMOSTLY, &r);
    CHECK_U64(r.reads, >, r.writes);
    CHECK_U64(r.propagation_ns.p50, >, 0);
    CHECK_U64(r.propagation_ns.p50, <=, r.propagation_ns.max);
    sim_named("random:32:4:3", SIM_WORKLOAD_WRITEHEAVY, &r);
    CHECK_U64(r.writes, >, 0);
    sim_named("hypercube:4", SIM_WORKLOAD_ATOMICS_HOTSPOT, &r);
    CHECK_U64(r.atomics, >, 2000);
    CHECK_U64(r.atomic_latency_ns.p50, >, 0);
    sim_named("ring:12", SIM_WORKLOAD_UNIFORM, &r);
    CHECK_U64(r.gets, >, 0);
    CHECK(r.pcache_entries_mean > 0);
}

/* The checks can fail: drop UPDATEs on purpose (the links are no longer
 * reliable) and the simulator must notice, through a re-sync on the gap
 * or a replica that never converged. */
TEST_FN(sim_checks_catch_faults)
{
    uint64_t resyncs = 0, caught = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        sim_config_t c;
        sim_config_default(&c);
        c.seed = seed;
        sim_workload_default(SIM_WORKLOAD_READMOSTLY, &c.workload);
        c.workload.ops = 400;
        c.workload.write_ratio = 0.3;
        c.fault_drop_update_ratio = 0.2;
        char error[TOPO_ERROR_MAX];
        topo_t *topo;
        CHECK_OK(topo_build("random:16:3:1", NULL, NULL, &topo, error, sizeof error));
        sim_result_t r;
        CHECK_OK(sim_run(topo, &c, &r));
        topo_free(topo);
        CHECK_U64(r.dropped_updates, >, 0);
        resyncs += r.resyncs;
        caught += r.unconverged + r.order_violations;
    }
    CHECK_U64(resyncs, >, 0); /* gaps were found and re-synced */
    CHECK_U64(caught, >, 0);  /* and a lost last update left a replica behind */
}

TEST_FN(sim_bad_config)
{
    sim_config_t c;
    sim_config_default(&c);
    char error[TOPO_ERROR_MAX];
    topo_t *topo;
    CHECK_OK(topo_build("ring:4", NULL, NULL, &topo, error, sizeof error));
    sim_result_t r;
    c.workload.pages = 0;
    CHECK_INT(sim_run(topo, &c, &r), ==, ARI_EINVAL);
    sim_config_default(&c);
    c.workload.write_ratio = 0.9;
    c.workload.unref_ratio = 0.2;
    CHECK_INT(sim_run(topo, &c, &r), ==, ARI_EINVAL);
    sim_config_default(&c);
    c.dpu.pcache_capacity = 0;
    CHECK_INT(sim_run(topo, &c, &r), ==, ARI_EINVAL);
    topo_free(topo);
    sim_workload_kind_t kind;
    CHECK_INT(sim_workload_parse("nope", &kind), ==, ARI_EINVAL);
    CHECK_OK(sim_workload_parse("atomics-hotspot", &kind));
    CHECK_INT(kind, ==, SIM_WORKLOAD_ATOMICS_HOTSPOT);
}

/* ------------------------------------------------------------------------
 * Recorded traces
 * ------------------------------------------------------------------------ */

#include "sim/trace.h"

static int trace_status(const char *text, char *error, size_t error_size)
{
    sim_trace_t *trace = NULL;
    int status = sim_trace_parse("t.trace", text, strlen(text), 8, &trace, error, error_size);
    sim_trace_free(trace);
    return status;
}

TEST_FN(sim_trace_errors)
{
    static const struct {
        const char *text;
        const char *want; /* in the message, after "t.trace:" */
    } cases[] = {
        {"page 0 3\n100 5 rd 0\n", "2: unknown request 'rd'"},
        {"page 0 3\n100 5 read 4\n", "2: page 4 is not declared"},
        {"page 0 3\n100 9 read 0\n", "2: node '9' is not a number from 0 to 7"},
        {"page 0 3\n\n# c\n100 5 read 0\n50 5 read 0\n", "5: time 50 is before"},
        {"page 0 3\n100 5 write 0 4000 200\n", "2: bytes 4000..4200 are not inside"},
        {"page 0 3\n100 5 write 0 8\n", "2: 'write' takes 6 to 6 fields"},
        {"page 0 3\n100 5 atomic 0 4 swap 1\n", "2: atomic offset 4"},
        {"page 0 3\n100 5 atomic 0 8 cas 1\n", "2: cas takes two values"},
        {"page 0 3\n100 5 atomic 0 8 add 1\n", "2: atomic op 'add'"},
        {"page 0 3\npage 0 4\n", "2: page 0 is declared twice"},
        {"page 0 12\n", "1: birth node '12'"},
        {"page 0 3\n-5 1 read 0\n", "2: time '-5'"},
        {"page 0 3\n", "1: no requests"},
        {"100 1 read 0\n", "1: page 0 is not declared"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char error[256] = "";
        int status = trace_status(cases[i].text, error, sizeof error);
        if (status != ARI_EINVAL || strncmp(error, "t.trace:", 8) != 0 ||
            strstr(error, cases[i].want) == NULL)
            test_fail(__FILE__, __LINE__, "case %zu: status %d, message \"%s\", want \"%s\"", i,
                      status, error, cases[i].want);
    }
}

TEST_FN(sim_trace_replay)
{
    static const char text[] = "# two pages\n"
                               "page 0 3\npage 1 7\n"
                               "100 5 read 0\n120 9 read 0\n200 5 write 0 64 8\n"
                               "300 9 atomic 0 8 fetch-add 1\n350 9 get 0 0 16\n"
                               "400 2 read 1\n500 9 unref 0\n600 1 write 1 0 4000\n";
    char error[256];
    sim_trace_t *trace;
    CHECK_OK(sim_trace_parse("t", text, sizeof text - 1, 12, &trace, error, sizeof error));
    CHECK_U64(trace->count, ==, 8);
    CHECK_U64(trace->pages, ==, 2);
    topo_t *topo;
    CHECK_OK(topo_build("ring:12", NULL, NULL, &topo, error, sizeof error));
    for (int protocol = SIM_PROTOCOL_PATHCACHE; protocol <= SIM_PROTOCOL_DIRECTORY; protocol++) {
        sim_config_t c;
        sim_config_default(&c);
        c.protocol = (sim_protocol_t)protocol;
        sim_workload_default(SIM_WORKLOAD_TRACE, &c.workload);
        c.workload.trace = trace;
        c.workload.pages = trace->pages;
        c.workload.ops = trace->count;
        sim_result_t r;
        CHECK_OK(sim_run(topo, &c, &r));
        CHECK_U64(sim_result_violations(&r), ==, 0);
        CHECK_U64(r.writes, ==, 2);
        CHECK_U64(r.atomics, ==, 1);
        CHECK_U64(r.gets, ==, 1);
        CHECK_U64(r.ops_failed, ==, 0);
    }
    topo_free(topo);
    sim_trace_free(trace);
}

static size_t count_in(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* --trace-out: a Chrome trace with one arrow (s ... f) per link traversal. */
TEST_FN(sim_trace_out)
{
    for (int protocol = SIM_PROTOCOL_PATHCACHE; protocol <= SIM_PROTOCOL_DIRECTORY; protocol++) {
        FILE *out = tmpfile();
        CHECK(out != NULL);
        sim_config_t c;
        sim_config_default(&c);
        c.protocol = (sim_protocol_t)protocol;
        c.workload.ops = 60;
        c.trace_out = out;
        char error[TOPO_ERROR_MAX];
        topo_t *topo;
        CHECK_OK(topo_build("ring:6", NULL, NULL, &topo, error, sizeof error));
        sim_result_t r;
        CHECK_OK(sim_run(topo, &c, &r));
        topo_free(topo);
        long size = ftell(out);
        CHECK(size > 0);
        char *text = calloc(1, (size_t)size + 1);
        rewind(out);
        CHECK_U64(fread(text, 1, (size_t)size, out), ==, (size_t)size);
        fclose(out);
        CHECK(strncmp(text, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 39) == 0);
        CHECK(strcmp(text + size - 4, "\n]}\n") == 0);
        size_t starts = count_in(text, "\"ph\":\"s\""), ends = count_in(text, "\"ph\":\"f\"");
        CHECK_U64(starts, ==, r.link_traversals);
        CHECK_U64(ends, ==, starts);
        CHECK(count_in(text, "\"name\":\"DPU ") > 0);
        free(text);
    }
}

/* ------------------------------------------------------------------------
 * The ownership protocol (DESIGN §5): migratory pages, a contended lock, a
 * barrier, each with path-cache readers and writers on the same pages, on
 * small random topologies with jitter and link stalls, for both protocols.
 * Every check of the run must be zero (one owner per page, mutual
 * exclusion, no starvation, one tree per page, the counter exact, the
 * barrier's slots visible, and DESIGN §4's guarantees across transfers).
 * ------------------------------------------------------------------------ */

typedef struct {
    char topo[64];
    char workload[32];
    sim_workload_kind_t kind;
    uint32_t parties, readers, cache, pending, update_max;
    uint64_t ops, interval, jitter, hold, pin;
    double burst, write_ratio;
} own_params_t;

static void own_params(uint64_t seed, sim_workload_kind_t kind, own_params_t *p)
{
    uint64_t rng = seed * 104729 + (uint64_t)kind;
    uint32_t nodes = seed % 10 == 0 ? 24 + (uint32_t)(test_rand_next(&rng) % 17)
                                    : 6 + (uint32_t)(test_rand_next(&rng) % 11);
    uint32_t degree = 3 + (uint32_t)(test_rand_next(&rng) % 2);
    if ((nodes * degree) % 2 != 0)
        nodes++;
    snprintf(p->topo, sizeof p->topo, "random:%u:%u:%llu", nodes, degree,
             (unsigned long long)seed);
    p->kind = kind;
    p->parties = 2 + (uint32_t)(test_rand_next(&rng) % 5);
    p->readers = (uint32_t)(test_rand_next(&rng) % 4);
    p->cache = test_rand_next(&rng) % 3 == 0 ? 6 + (uint32_t)(test_rand_next(&rng) % 10) : 4096;
    p->pending = test_rand_next(&rng) % 3 == 0 ? 8 + (uint32_t)(test_rand_next(&rng) % 24) : 256;
    p->update_max = (uint32_t)(test_rand_next(&rng) % 3) * 700; /* 0: every change an INVAL */
    p->interval = 200 + test_rand_next(&rng) % 3000;
    p->jitter = test_rand_next(&rng) % 3000;
    p->burst = (double)(test_rand_next(&rng) % 3) * 0.02;
    p->write_ratio = (double)(test_rand_next(&rng) % 4) * 0.1;
    p->hold = test_rand_next(&rng) % 2 ? test_rand_next(&rng) % 3000 : 0;
    p->pin = 1000000; /* 1 ms: well above a critical section, so no pin runs out */
    if (kind == SIM_WORKLOAD_MIGRATORY) {
        p->ops = 200;
        p->readers = 1 + p->readers % 3;
        snprintf(p->workload, sizeof p->workload, "migratory");
    } else {
        p->ops = kind == SIM_WORKLOAD_LOCK_CONTEND ? 40 : 10;
        snprintf(p->workload, sizeof p->workload, "%s:%u", sim_workload_name(kind), p->parties);
    }
}

static void own_config(uint64_t seed, const own_params_t *p, sim_protocol_t protocol,
                       sim_config_t *c)
{
    sim_config_default(c);
    c->seed = seed;
    c->protocol = protocol;
    sim_workload_default(p->kind, &c->workload);
    c->workload.ops = p->ops;
    c->workload.readers = p->readers;
    c->workload.write_ratio = p->write_ratio;
    c->workload.interval_ns = p->interval;
    c->workload.hold_ns = p->hold;
    if (p->kind != SIM_WORKLOAD_MIGRATORY)
        c->workload.parties = p->parties;
    c->dpu.pcache_capacity = p->cache;
    c->dpu.pending_max = p->pending;
    c->dpu.update_max_bytes = p->update_max;
    c->dpu.pin_ns_max = p->pin;
    c->jitter_ns = p->jitter;
    c->burst_ratio = p->burst;
    c->events_max = 5000000;
}

static void own_replay(uint64_t seed, const own_params_t *p, sim_protocol_t protocol)
{
    printf("replay: ariadne sim --topo %s --workload %s --ops %llu --seed %llu --readers %u "
           "--write-ratio %g --interval %llu --jitter-ns %llu --burst-ratio %g --hold-ns %llu "
           "--pin-ns %llu --cache %u --pending %u --update-max %u --events-max 5000000%s\n",
           p->topo, p->workload, (unsigned long long)p->ops, (unsigned long long)seed, p->readers,
           p->write_ratio, (unsigned long long)p->interval, (unsigned long long)p->jitter,
           p->burst, (unsigned long long)p->hold, (unsigned long long)p->pin, p->cache,
           p->pending, p->update_max, protocol == SIM_PROTOCOL_DIRECTORY ? " --protocol directory" : "");
}

static int own_run(uint64_t seed, sim_workload_kind_t kind, sim_protocol_t protocol,
                   sim_result_t *r)
{
    own_params_t p;
    own_params(seed, kind, &p);
    sim_config_t config;
    own_config(seed, &p, protocol, &config);
    char error[TOPO_ERROR_MAX];
    topo_t *topo;
    CHECK_OK(topo_build(p.topo, NULL, NULL, &topo, error, sizeof error));
    if (p.parties > topo->nodes)
        config.workload.parties = topo->nodes;
    int status = sim_run(topo, &config, r);
    topo_free(topo);
    if (status == ARI_OK && sim_result_violations(r) == 0)
        return 0;
    printf("seed %llu: status %d, order %llu ryw %llu writer %llu unconverged %llu leaked %llu "
           "stuck %llu limit %llu owner %llu exclusion %llu starvation %llu tree %llu "
           "counter %llu barrier %llu\n", (unsigned long long)seed, status,
           (unsigned long long)r->order_violations, (unsigned long long)r->ryw_violations,
           (unsigned long long)r->writer_order_violations, (unsigned long long)r->unconverged,
           (unsigned long long)r->leaked_entries, (unsigned long long)r->stuck_ops,
           (unsigned long long)r->event_limit_hit, (unsigned long long)r->owner_violations,
           (unsigned long long)r->exclusion_violations,
           (unsigned long long)r->starvation_violations, (unsigned long long)r->tree_violations,
           (unsigned long long)r->counter_violations, (unsigned long long)r->barrier_violations);
    own_replay(seed, &p, protocol);
    return -1;
}

/* `seeds` seeds (ARI_OWN_SEEDS and ARI_OWN_FIRST choose others); stops
 * after 5 failures (ARI_OWN_FAILURES: another limit). The totals show the
 * runs did what they are meant to. */
static void own_property(sim_workload_kind_t kind, sim_protocol_t protocol, uint64_t seeds)
{
    uint64_t first = getenv("ARI_OWN_FIRST") ? strtoull(getenv("ARI_OWN_FIRST"), NULL, 10) : 1;
    if (getenv("ARI_OWN_SEEDS"))
        seeds = strtoull(getenv("ARI_OWN_SEEDS"), NULL, 10);
    int failures = 0, failures_max = getenv("ARI_OWN_FAILURES") ? atoi(getenv("ARI_OWN_FAILURES")) : 5;
    uint64_t transfers = 0, queued = 0, rounds = 0, sections = 0, updates = 0;
    for (uint64_t seed = first; seed < first + seeds && failures < failures_max; seed++) {
        sim_result_t r;
        if (own_run(seed, kind, protocol, &r) != 0) {
            failures++;
            continue;
        }
        transfers += r.transfers;
        queued += r.acquires_queued;
        rounds += r.barrier_rounds;
        sections += r.sections;
        updates += r.traversals_by_type[MSG_UPDATE];
    }
    CHECK_INT(failures, ==, 0);
    CHECK_U64(updates, >, 0); /* readers' replicas were kept up to date */
    if (kind == SIM_WORKLOAD_BARRIER) {
        CHECK_U64(rounds, >, 0);
    } else {
        CHECK_U64(transfers, >, 0);
        CHECK_U64(queued, >, 0); /* acquirers waited in a queue */
    }
    if (kind == SIM_WORKLOAD_LOCK_CONTEND)
        CHECK_U64(sections, >, 0);
}

TEST_FN(sim_own_migratory_directory)
{
    own_property(SIM_WORKLOAD_MIGRATORY, SIM_PROTOCOL_DIRECTORY, 500);
}

TEST_FN(sim_own_lock_directory)
{
    own_property(SIM_WORKLOAD_LOCK_CONTEND, SIM_PROTOCOL_DIRECTORY, 500);
}

TEST_FN(sim_own_barrier_directory)
{
    own_property(SIM_WORKLOAD_BARRIER, SIM_PROTOCOL_DIRECTORY, 500);
}

TEST_FN(sim_own_migratory_pathcache)
{
    own_property(SIM_WORKLOAD_MIGRATORY, SIM_PROTOCOL_PATHCACHE, 500);
}

TEST_FN(sim_own_lock_pathcache)
{
    own_property(SIM_WORKLOAD_LOCK_CONTEND, SIM_PROTOCOL_PATHCACHE, 500);
}

TEST_FN(sim_own_barrier_pathcache)
{
    own_property(SIM_WORKLOAD_BARRIER, SIM_PROTOCOL_PATHCACHE, 500);
}

/* The ownership checks can fail: without the write notices a new lock
 * holder may read a stale counter, and a barrier party a stale slot, when
 * an update takes longer than the handoff or the barrier (large jitter, no
 * host latency). Seeds run until both checks have caught one. */
TEST_FN(sim_own_checks_catch_faults)
{
    uint64_t counter = 0, barrier = 0;
    for (uint64_t seed = 1; seed <= 400 && (counter == 0 || barrier == 0); seed++) {
        int kind = counter == 0 ? SIM_WORKLOAD_LOCK_CONTEND : SIM_WORKLOAD_BARRIER;
        sim_config_t c;
        sim_config_default(&c);
        c.seed = seed;
        c.protocol = SIM_PROTOCOL_DIRECTORY;
        sim_workload_default((sim_workload_kind_t)kind, &c.workload);
        c.workload.ops = kind == SIM_WORKLOAD_BARRIER ? 10 : 40;
        c.workload.parties = 2 + seed % 6;
        c.host_latency_ns = 0;
        c.jitter_ns = 20000;
        c.fault_ignore_notices = true;
        char spec[64], error[TOPO_ERROR_MAX];
        snprintf(spec, sizeof spec, "random:24:3:%llu", (unsigned long long)seed);
        topo_t *topo;
        CHECK_OK(topo_build(spec, NULL, NULL, &topo, error, sizeof error));
        sim_result_t r;
        CHECK_OK(sim_run(topo, &c, &r));
        topo_free(topo);
        counter += r.counter_violations;
        barrier += r.barrier_violations;
        CHECK_U64(r.owner_violations + r.exclusion_violations + r.tree_violations, ==, 0);
    }
    CHECK_U64(counter, >, 0);
    CHECK_U64(barrier, >, 0);
}

/* The same seed gives the same run, ownership workloads too. */
TEST_FN(sim_own_deterministic)
{
    for (int kind = SIM_WORKLOAD_MIGRATORY; kind <= SIM_WORKLOAD_BARRIER; kind++) {
        sim_result_t a, b;
        own_run(7, (sim_workload_kind_t)kind, SIM_PROTOCOL_DIRECTORY, &a);
        own_run(7, (sim_workload_kind_t)kind, SIM_PROTOCOL_DIRECTORY, &b);
        CHECK_U64(a.state_hash, ==, b.state_hash);
        CHECK_U64(a.events, ==, b.events);
        CHECK_U64(a.transfers, ==, b.transfers);
    }
}

TEST_FN(sim_own_bad_config)
{
    sim_workload_kind_t kind;
    uint32_t parties;
    CHECK_OK(sim_workload_parse_spec("lock-contend:12", &kind, &parties));
    CHECK_INT(kind, ==, SIM_WORKLOAD_LOCK_CONTEND);
    CHECK_U64(parties, ==, 12);
    CHECK_OK(sim_workload_parse_spec("barrier", &kind, &parties));
    CHECK_U64(parties, ==, 0);
    static const char *const bad[] = {"lock-contend:0", "lock-contend:", "barrier:x",
                                      "barrier:-3", "barrier:257", "migratory:4", "mixed:2",
                                      "lock-contend:4:1", "trace"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sim_workload_parse_spec(bad[i], &kind, &parties) != ARI_EINVAL)
            test_fail(__FILE__, __LINE__, "'%s' was accepted", bad[i]);
    }
    char error[TOPO_ERROR_MAX];
    topo_t *topo;
    CHECK_OK(topo_build("ring:4", NULL, NULL, &topo, error, sizeof error));
    sim_config_t c;
    sim_result_t r;
    sim_config_default(&c);
    sim_workload_default(SIM_WORKLOAD_LOCK_CONTEND, &c.workload);
    c.workload.parties = 5; /* more than the nodes */
    CHECK_INT(sim_run(topo, &c, &r), ==, ARI_EINVAL);
    sim_workload_default(SIM_WORKLOAD_BARRIER, &c.workload);
    c.workload.pages = 3;
    CHECK_INT(sim_run(topo, &c, &r), ==, ARI_EINVAL);
    sim_workload_default(SIM_WORKLOAD_MIGRATORY, &c.workload);
    c.workload.free_ratio = 0.1;
    CHECK_INT(sim_run(topo, &c, &r), ==, ARI_EINVAL);
    sim_workload_default(SIM_WORKLOAD_MIXED, &c.workload);
    c.workload.own_ratio = 0.1;
    CHECK_INT(sim_run(topo, &c, &r), ==, ARI_EINVAL);
    topo_free(topo);
}
