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
