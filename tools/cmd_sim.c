/*
 * cmd_sim — `ariadne sim --topo SPEC --workload W [--ops N] [--seed S] [--json]`:
 * runs the path-cache protocol in the deterministic simulator, prints the
 * figures and the checks, exits non-zero if any check failed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/topo.h"
#include "dpu/files.h"
#include "sim/sim.h"
#include "sim/trace.h"
#include "tool.h"

static void sim_usage(FILE *out)
{
    fprintf(out,
            "usage: ariadne sim --topo SPEC [--workload W] [--ops N] [--seed S] [--json]\n"
            "                   [--protocol pathcache|directory] [more options below]\n"
            "\n"
            "Runs the path-cache protocol on a simulated cluster, deterministically for a\n"
            "seed, then checks DESIGN §4's guarantees. Exit status 0 when every check is 0.\n"
            "\n"
            "workloads (--workload):\n"
            "  readmostly       16 pages, 8 readers each, 5%% writes of up to 64 bytes\n"
            "  writeheavy       16 pages, 4 readers each, 50%% writes up to 2 KiB (large = INVAL)\n"
            "  atomics-hotspot  1 page, 8 readers, 90%% fetch-adds on one counter\n"
            "  uniform          32 pages, any node writes, atomics and gets, 30%% changes\n"
            "  mixed            6 pages; writes, atomics, gets, unrefs and frees at once\n"
            "  trace:FILE       replay a recorded access trace (format in docs/SIMULATOR.md)\n"
            "ownership workloads (DESIGN §5; --readers adds path-cache readers and writers\n"
            "on the same pages, whose replicas follow the page from owner to owner):\n"
            "  migratory        4 pages, 2000 operations: 60%% are sessions (a node acquires a\n"
            "                   page pinned, writes 1-4 times at the new owner, releases),\n"
            "                   10%% path-cache changes by the 2 readers, the rest reads\n"
            "  lock-contend:N   N nodes take turns at one lock page guarding a counter on\n"
            "                   another page: ACQUIRE(pin), READ the counter with the last\n"
            "                   holder's write notice as min_version, WRITE it + 1, leave the\n"
            "                   notice in the lock page, RELEASE; --ops critical sections in\n"
            "                   all (200); the counter must end exact. Default N 4, no readers\n"
            "  barrier:N        N nodes meet at a barrier (one page word), --ops rounds (50):\n"
            "                   each writes its slot of a page, leaves the write's version in\n"
            "                   the barrier page, arrives; then READs the notices and every\n"
            "                   slot with min_version and must see this round's values\n"
            "\n"
            "workload options:\n"
            "  --ops N            operations (default 10000)\n"
            "  --pages N          pages in play\n"
            "  --readers N        replicas per page (0: none, ownership workloads only)\n"
            "  --write-ratio X    share of operations that change a page (0..1)\n"
            "  --unref-ratio X    share that drop a replica\n"
            "  --free-ratio X     share that free a page (it comes back, next generation)\n"
            "  --write-bytes N    writes are 1..N bytes\n"
            "  --interval NS      mean time between operations (default 200)\n"
            "  --warmup           every reader reads its pages once before the operations\n"
            "  --own-ratio X      migratory: share of operations that are sessions (0.6)\n"
            "  --hold-ns NS       an owner holds its pin this long before RELEASE (0)\n"
            "protocol options:\n"
            "  --protocol P       pathcache (Ariadne, default) or directory (the baseline:\n"
            "                     the home keeps every sharer and unicasts each change)\n"
            "  --cache N          path-cache entries per DPU (default 4096)\n"
            "  --update-max N     changes up to N bytes go as UPDATE, larger as INVAL (1024)\n"
            "  --pending N        outstanding requests per node (256)\n"
            "  --pin-ns NS        longest a page stays pinned (100000000); checks: every\n"
            "                     acquire is granted within contenders x (this + one transfer)\n"
            "model options (defaults):\n"
            "  --hop-ns NS        link latency per hop (100)\n"
            "  --gbps G           link bandwidth (400)\n"
            "  --step-ns NS       DPU time per step (50)\n"
            "  --host-ns NS       host <-> DPU latency (500)\n"
            "  --jitter-ns NS     random extra delay per message, up to (50)\n"
            "  --burst-ratio X    chance a message stalls its link (0.001)\n"
            "  --burst-ns NS      length of a stall (2000)\n"
            "  --events-max N     bound on events; hitting it fails the run\n"
            "output:\n"
            "  --trace-out FILE   write a Chrome/Perfetto trace JSON of the message flow\n"
            "                     (a track per DPU, an arrow per message; open it in\n"
            "                     ui.perfetto.dev or chrome://tracing); small runs only\n"
            "  --trace-max N      stop tracing after N trace events (default 400000)\n"
            "  --seed S           the run's seed (default 1)\n"
            "  --json             one JSON object (keys in docs/SIMULATOR.md)\n"
            "\n"
            "\n"
            "examples: ariadne sim --topo random:64:4:1 --workload mixed --ops 5000 --seed 7\n"
            "          ariadne sim --topo torus2d:8x8 --workload lock-contend:16 --readers 4 --json\n");
}

typedef struct {
    const char *topo;
    const char *trace_path;   /* --workload trace:FILE */
    const char *trace_out;    /* --trace-out FILE */
    bool ops_given;
    bool json;
    sim_config_t config;
} sim_args_t;

static int sim_parse_u64(const char *name, const char *text, uint64_t min, uint64_t max,
                         uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value < min ||
        value > max) {
        fprintf(stderr, "ariadne sim: %s needs a whole number from %" PRIu64 " to %" PRIu64
                        ", not '%s'\n", name, min, max, text);
        return -1;
    }
    *out = value;
    return 0;
}

static int sim_parse_ratio(const char *name, const char *text, double max, double *out)
{
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value >= 0 && value <= max)) {
        fprintf(stderr, "ariadne sim: %s needs a number from 0 to %g, not '%s'\n", name, max,
                text);
        return -1;
    }
    *out = value;
    return 0;
}

enum {
    OPT_TOPO = 1000, OPT_WORKLOAD, OPT_OPS, OPT_SEED, OPT_JSON, OPT_PAGES, OPT_READERS,
    OPT_WRITE_RATIO, OPT_UNREF_RATIO, OPT_FREE_RATIO, OPT_WRITE_BYTES, OPT_INTERVAL,
    OPT_CACHE, OPT_UPDATE_MAX, OPT_PENDING, OPT_HOP, OPT_GBPS, OPT_STEP, OPT_HOST,
    OPT_JITTER, OPT_BURST_RATIO, OPT_BURST_NS, OPT_EVENTS, OPT_HELP, OPT_PROTOCOL, OPT_WARMUP,
    OPT_TRACE_OUT, OPT_TRACE_MAX, OPT_OWN_RATIO, OPT_HOLD, OPT_PIN,
};

static const struct option sim_options[] = {
    {"topo", required_argument, NULL, OPT_TOPO},
    {"workload", required_argument, NULL, OPT_WORKLOAD},
    {"ops", required_argument, NULL, OPT_OPS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"json", no_argument, NULL, OPT_JSON},
    {"pages", required_argument, NULL, OPT_PAGES},
    {"readers", required_argument, NULL, OPT_READERS},
    {"write-ratio", required_argument, NULL, OPT_WRITE_RATIO},
    {"unref-ratio", required_argument, NULL, OPT_UNREF_RATIO},
    {"free-ratio", required_argument, NULL, OPT_FREE_RATIO},
    {"write-bytes", required_argument, NULL, OPT_WRITE_BYTES},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"cache", required_argument, NULL, OPT_CACHE},
    {"update-max", required_argument, NULL, OPT_UPDATE_MAX},
    {"pending", required_argument, NULL, OPT_PENDING},
    {"hop-ns", required_argument, NULL, OPT_HOP},
    {"gbps", required_argument, NULL, OPT_GBPS},
    {"step-ns", required_argument, NULL, OPT_STEP},
    {"host-ns", required_argument, NULL, OPT_HOST},
    {"jitter-ns", required_argument, NULL, OPT_JITTER},
    {"burst-ratio", required_argument, NULL, OPT_BURST_RATIO},
    {"burst-ns", required_argument, NULL, OPT_BURST_NS},
    {"events-max", required_argument, NULL, OPT_EVENTS},
    {"help", no_argument, NULL, OPT_HELP},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"warmup", no_argument, NULL, OPT_WARMUP},
    {"trace-out", required_argument, NULL, OPT_TRACE_OUT},
    {"trace-max", required_argument, NULL, OPT_TRACE_MAX},
    {"own-ratio", required_argument, NULL, OPT_OWN_RATIO},
    {"hold-ns", required_argument, NULL, OPT_HOLD},
    {"pin-ns", required_argument, NULL, OPT_PIN},
    {NULL, 0, NULL, 0},
};

/* Options that set a workload parameter are applied after --workload's
 * defaults, whatever their order on the command line. */
static int sim_parse_workload_option(int option, const char *arg, sim_workload_t *w)
{
    uint64_t n;
    switch (option) {
    case OPT_OPS: return sim_parse_u64("--ops", arg, 0, 1ull << 40, &w->ops);
    case OPT_PAGES:
        if (sim_parse_u64("--pages", arg, 1, 1u << 20, &n) != 0)
            return -1;
        w->pages = (uint32_t)n;
        return 0;
    case OPT_READERS:
        if (sim_parse_u64("--readers", arg, 0, 1u << 24, &n) != 0)
            return -1;
        w->readers = (uint32_t)n;
        return 0;
    case OPT_WRITE_BYTES:
        if (sim_parse_u64("--write-bytes", arg, 1, 1u << 21, &n) != 0)
            return -1;
        w->write_bytes_max = (uint32_t)n;
        return 0;
    case OPT_WRITE_RATIO: return sim_parse_ratio("--write-ratio", arg, 1, &w->write_ratio);
    case OPT_UNREF_RATIO: return sim_parse_ratio("--unref-ratio", arg, 1, &w->unref_ratio);
    case OPT_FREE_RATIO: return sim_parse_ratio("--free-ratio", arg, 1, &w->free_ratio);
    case OPT_INTERVAL: return sim_parse_u64("--interval", arg, 1, 1ull << 40, &w->interval_ns);
    case OPT_WARMUP: w->warmup = true; return 0;
    case OPT_OWN_RATIO: return sim_parse_ratio("--own-ratio", arg, 1, &w->own_ratio);
    case OPT_HOLD: return sim_parse_u64("--hold-ns", arg, 0, 1ull << 40, &w->hold_ns);
    }
    return 1; /* not a workload option */
}

static int sim_parse_model_option(int option, const char *arg, sim_config_t *c)
{
    uint64_t n;
    switch (option) {
    case OPT_SEED: return sim_parse_u64("--seed", arg, 0, UINT64_MAX, &c->seed);
    case OPT_CACHE:
        if (sim_parse_u64("--cache", arg, 1, 1u << 24, &n) != 0)
            return -1;
        c->dpu.pcache_capacity = (uint32_t)n;
        return 0;
    case OPT_UPDATE_MAX:
        if (sim_parse_u64("--update-max", arg, 0, 1u << 21, &n) != 0)
            return -1;
        c->dpu.update_max_bytes = (uint32_t)n;
        return 0;
    case OPT_PENDING:
        if (sim_parse_u64("--pending", arg, 1, 1u << 20, &n) != 0)
            return -1;
        c->dpu.pending_max = (uint32_t)n;
        return 0;
    case OPT_HOP: return sim_parse_u64("--hop-ns", arg, 0, 1ull << 40, &c->hop_latency_ns);
    case OPT_GBPS: return sim_parse_ratio("--gbps", arg, 1e6, &c->link_gbps);
    case OPT_STEP: return sim_parse_u64("--step-ns", arg, 0, 1ull << 40, &c->dpu_step_ns);
    case OPT_HOST: return sim_parse_u64("--host-ns", arg, 0, 1ull << 40, &c->host_latency_ns);
    case OPT_JITTER: return sim_parse_u64("--jitter-ns", arg, 0, 1ull << 40, &c->jitter_ns);
    case OPT_BURST_RATIO: return sim_parse_ratio("--burst-ratio", arg, 1, &c->burst_ratio);
    case OPT_BURST_NS: return sim_parse_u64("--burst-ns", arg, 0, 1ull << 40, &c->burst_ns);
    case OPT_EVENTS: return sim_parse_u64("--events-max", arg, 1, UINT64_MAX, &c->events_max);
    case OPT_TRACE_MAX:
        return sim_parse_u64("--trace-max", arg, 1, 1ull << 32, &c->trace_events_max);
    case OPT_PIN: return sim_parse_u64("--pin-ns", arg, 1, 1ull << 40, &c->dpu.pin_ns_max);
    }
    return 1;
}

/* What the simulator would refuse, said in the options' words. */
static int sim_check_args(const sim_args_t *args)
{
    const sim_workload_t *w = &args->config.workload;
    bool ownership = w->kind == SIM_WORKLOAD_MIGRATORY || w->kind == SIM_WORKLOAD_LOCK_CONTEND ||
                     w->kind == SIM_WORKLOAD_BARRIER;
    double sum = w->write_ratio + w->unref_ratio + w->free_ratio + w->own_ratio;
    if (sum > 1.0) {
        fprintf(stderr, "ariadne sim: --write-ratio, --unref-ratio, --free-ratio and --own-ratio "
                        "add up to %g, more than 1\n", sum);
        return 1;
    }
    if (!ownership && w->readers == 0) {
        fprintf(stderr, "ariadne sim: --readers 0 is for the ownership workloads only\n");
        return 1;
    }
    if (ownership && w->free_ratio > 0) {
        fprintf(stderr, "ariadne sim: --free-ratio is not for the ownership workloads\n");
        return 1;
    }
    if (w->kind != SIM_WORKLOAD_MIGRATORY && w->own_ratio > 0) {
        fprintf(stderr, "ariadne sim: --own-ratio is for the migratory workload only\n");
        return 1;
    }
    if ((w->kind == SIM_WORKLOAD_LOCK_CONTEND || w->kind == SIM_WORKLOAD_BARRIER) &&
        w->pages != 2) {
        fprintf(stderr, "ariadne sim: %s uses 2 pages (the %s page and the data page); drop "
                        "--pages\n", sim_workload_name(w->kind),
                w->kind == SIM_WORKLOAD_BARRIER ? "barrier" : "lock");
        return 1;
    }
    return 0;
}

/* Returns 0 to run, 1 for bad input, 2 for a usage error, -1 after --help. */
static int sim_parse(int argc, char **argv, sim_args_t *args)
{
    sim_config_default(&args->config);
    sim_workload_kind_t kind = SIM_WORKLOAD_READMOSTLY;
    uint32_t parties = 0;
    sim_workload_t overrides;
    memset(&overrides, 0, sizeof overrides);
    int option;
    optind = 0; /* 0, not 1: GNU getopt then starts afresh (tests call this twice) */
    opterr = 0;
    /* First pass: the workload kind, the topology, and everything else. */
    while ((option = getopt_long(argc, argv, "", sim_options, NULL)) != -1) {
        if (option == OPT_HELP) {
            sim_usage(stdout);
            return -1;
        } else if (option == OPT_TOPO) {
            args->topo = optarg;
        } else if (option == OPT_JSON) {
            args->json = true;
        } else if (option == OPT_TRACE_OUT) {
            args->trace_out = optarg;
        } else if (option == OPT_PROTOCOL) {
            if (sim_protocol_parse(optarg, &args->config.protocol) != ARI_OK) {
                fprintf(stderr, "ariadne sim: unknown protocol '%s' (pathcache or directory)\n",
                        optarg);
                return 1;
            }
        } else if (option == OPT_WORKLOAD && strncmp(optarg, "trace:", 6) == 0) {
            kind = SIM_WORKLOAD_TRACE;
            args->trace_path = optarg + 6;
        } else if (option == OPT_WORKLOAD) {
            if (sim_workload_parse_spec(optarg, &kind, &parties) != ARI_OK) {
                fprintf(stderr, "ariadne sim: unknown workload '%s' (see --help; lock-contend:N "
                                "and barrier:N take 1 to %u parties)\n", optarg,
                        SIM_PARTIES_MAX);
                return 1;
            }
        } else if (option == '?') {
            fprintf(stderr, "ariadne sim: unknown option or missing value: '%s' (see --help)\n",
                    argv[optind - 1]);
            return 2;
        } else if (sim_parse_model_option(option, optarg, &args->config) < 0) {
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ariadne sim: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (args->topo == NULL) {
        fprintf(stderr, "ariadne sim: --topo SPEC is required (see --help)\n");
        return 2;
    }
    sim_workload_default(kind, &args->config.workload);
    if (parties != 0)
        args->config.workload.parties = parties;
    optind = 0;
    while ((option = getopt_long(argc, argv, "", sim_options, NULL)) != -1) {
        if (sim_parse_workload_option(option, optarg, &args->config.workload) < 0)
            return 1;
        args->ops_given |= option == OPT_OPS;
    }
    return sim_check_args(args);
}

static void sim_print_replay(const sim_args_t *args, int argc, char **argv)
{
    fprintf(stderr, "ariadne sim: checks failed; replay with:\n  ariadne");
    for (int i = 0; i < argc; i++)
        fprintf(stderr, " %s", argv[i]);
    bool seeded = false;
    for (int i = 0; i < argc; i++)
        seeded |= strcmp(argv[i], "--seed") == 0 || strncmp(argv[i], "--seed=", 7) == 0;
    if (!seeded)
        fprintf(stderr, " --seed %" PRIu64, args->config.seed);
    fputc('\n', stderr);
}

static double sim_per(uint64_t count, uint64_t per)
{
    return per ? (double)count / (double)per : 0.0;
}

/* The ownership protocol's figures (zero for the other workloads). */
static void sim_print_json_ownership(const sim_args_t *args, const sim_result_t *r)
{
    printf(" \"parties\": %u, \"acquires\": %" PRIu64 ", \"acquired\": %" PRIu64
           ", \"releases\": %" PRIu64 ", \"transfers\": %" PRIu64 ", \"acquires_queued\": %"
           PRIu64 ", \"pins_expired\": %" PRIu64 ", \"sections\": %" PRIu64
           ", \"barrier_rounds\": %" PRIu64 ",\n", args->config.workload.parties, r->acquires,
           r->acquired, r->releases, r->transfers, r->acquires_queued, r->pins_expired,
           r->sections, r->barrier_rounds);
    printf(" \"transfer_ns_p50\": %" PRIu64 ", \"transfer_ns_p99\": %" PRIu64
           ", \"handoff_ns_p50\": %" PRIu64 ", \"handoff_ns_p99\": %" PRIu64
           ", \"acquire_wait_ns\": {\"p50\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64
           "}, \"wait_bound_ns\": %" PRIu64 ",\n", r->transfer_ns.p50, r->transfer_ns.p99,
           r->handoff_ns.p50, r->handoff_ns.p99, r->acquire_wait_ns.p50, r->acquire_wait_ns.p99,
           r->acquire_wait_ns.max, r->wait_bound_ns);
    printf(" \"acquires_per_ms\": %.1f, \"arbiter_messages\": %" PRIu64
           ", \"arbiter_traversals\": %" PRIu64 ", \"messages_per_acquire\": %.2f"
           ", \"traversals_per_acquire\": %.2f, \"messages_per_barrier\": %.2f"
           ", \"traversals_per_barrier\": %.2f,\n", r->acquires_per_ms, r->arbiter_messages,
           r->arbiter_traversals, sim_per(r->arbiter_messages, r->acquired),
           sim_per(r->arbiter_traversals, r->acquired),
           sim_per(r->arbiter_messages, r->barrier_rounds),
           sim_per(r->arbiter_traversals, r->barrier_rounds));
}

static void sim_print_json(const sim_args_t *args, const sim_result_t *r)
{
    const sim_workload_t *w = &args->config.workload;
    double ops = r->ops_submitted ? (double)r->ops_submitted : 1;
    printf("{\"topo\": \"%s\", \"protocol\": \"%s\", \"workload\": \"%s\", \"seed\": %" PRIu64
           ", \"nodes\": %u,\n", args->topo, sim_protocol_name(args->config.protocol),
           sim_workload_name(w->kind), args->config.seed, r->nodes);
    printf(" \"ops\": %" PRIu64 ", \"ops_completed\": %" PRIu64 ", \"ops_failed\": %" PRIu64
           ", \"ops_busy\": %" PRIu64 ",\n", r->ops_submitted, r->ops_completed, r->ops_failed,
           r->ops_busy);
    printf(" \"reads\": %" PRIu64 ", \"writes\": %" PRIu64 ", \"atomics\": %" PRIu64
           ", \"gets\": %" PRIu64 ", \"unrefs\": %" PRIu64 ", \"frees\": %" PRIu64 ",\n",
           r->reads, r->writes, r->atomics, r->gets, r->unrefs, r->frees);
    printf(" \"events\": %" PRIu64 ", \"messages\": %" PRIu64 ", \"link_traversals\": %" PRIu64
           ", \"bytes\": %" PRIu64 ",\n", r->events, r->messages, r->link_traversals, r->bytes);
    printf(" \"messages_per_op\": %.3f, \"link_traversals_per_op\": %.3f, \"bytes_per_op\": %.1f,\n",
           (double)r->messages / ops, (double)r->link_traversals / ops, (double)r->bytes / ops);
    double changes = r->writes + r->atomics ? (double)(r->writes + r->atomics) : 1;
    printf(" \"write_traversals\": %" PRIu64 ", \"traversals_per_write\": %.2f,\n",
           r->write_traversals, (double)r->write_traversals / changes);
    printf(" \"propagation_ns\": {\"p50\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64
           "},\n", r->propagation_ns.p50, r->propagation_ns.p99, r->propagation_ns.max);
    printf(" \"propagation_hops\": {\"p50\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64
           "},\n", r->propagation_hops.p50, r->propagation_hops.p99, r->propagation_hops.max);
    printf(" \"atomic_latency_ns\": {\"p50\": %" PRIu64 ", \"p99\": %" PRIu64 "},\n",
           r->atomic_latency_ns.p50, r->atomic_latency_ns.p99);
    printf(" \"pcache_entries_mean\": %.3f, \"pcache_entries_max\": %u, \"sharer_bytes\": %" PRIu64
           ",\n", r->pcache_entries_mean, r->pcache_entries_max, r->sharer_bytes);
    printf(" \"ref_fails\": %" PRIu64 ", \"evictions\": %" PRIu64 ", \"resyncs\": %" PRIu64
           ", \"stale_unrefs\": %" PRIu64 ",\n", r->ref_fails, r->evictions, r->resyncs,
           r->stale_unrefs);
    sim_print_json_ownership(args, r);
    printf(" \"sim_time_ns\": %" PRIu64 ", \"wall_seconds\": %.3f, \"loop_seconds\": %.3f,"
           " \"events_per_second\": %.0f, \"messages_per_second\": %.0f,\n", r->sim_time_ns,
           r->wall_seconds, r->loop_seconds,
           r->loop_seconds > 0 ? (double)r->events / r->loop_seconds : 0.0,
           r->loop_seconds > 0 ? (double)r->link_traversals / r->loop_seconds : 0.0);
    printf(" \"checks\": {\"order_violations\": %" PRIu64 ", \"ryw_violations\": %" PRIu64
           ", \"atomic_violations\": %" PRIu64 ", \"writer_order_violations\": %" PRIu64
           ", \"unconverged\": %" PRIu64 ", \"leaked_entries\": %" PRIu64 ", \"stuck_ops\": %" PRIu64
           ", \"event_limit_hit\": %" PRIu64 ",\n  \"owner_violations\": %" PRIu64
           ", \"exclusion_violations\": %" PRIu64 ", \"starvation_violations\": %" PRIu64
           ", \"tree_violations\": %" PRIu64 ", \"counter_violations\": %" PRIu64
           ", \"barrier_violations\": %" PRIu64 "},\n", r->order_violations, r->ryw_violations,
           r->atomic_violations, r->writer_order_violations, r->unconverged, r->leaked_entries,
           r->stuck_ops, r->event_limit_hit, r->owner_violations, r->exclusion_violations,
           r->starvation_violations, r->tree_violations, r->counter_violations,
           r->barrier_violations);
    printf(" \"state_hash\": \"%016" PRIx64 "\", \"ok\": %s}\n", r->state_hash,
           sim_result_violations(r) == 0 ? "true" : "false");
}

static void sim_print_table_ownership(const sim_result_t *r)
{
    printf("  acquires             %" PRIu64 " (%" PRIu64 " done, %" PRIu64 " queued first), %"
           PRIu64 " transfers, %" PRIu64 " pins expired\n", r->acquires, r->acquired,
           r->acquires_queued, r->transfers, r->pins_expired);
    printf("  transfer             p50 %" PRIu64 " ns, p99 %" PRIu64 " ns (uncontended); handoff"
           " p50 %" PRIu64 " ns, p99 %" PRIu64 " ns\n", r->transfer_ns.p50, r->transfer_ns.p99,
           r->handoff_ns.p50, r->handoff_ns.p99);
    printf("  acquire wait         p50 %" PRIu64 " ns, max %" PRIu64 " ns (bound %" PRIu64
           " ns); %.1f acquires per ms\n", r->acquire_wait_ns.p50, r->acquire_wait_ns.max,
           r->wait_bound_ns, r->acquires_per_ms);
    printf("  arbiter messages     %.2f per acquire (%.2f link traversals)",
           sim_per(r->arbiter_messages, r->acquired), sim_per(r->arbiter_traversals, r->acquired));
    if (r->barrier_rounds > 0)
        printf("; %.2f per barrier (%.2f)", sim_per(r->arbiter_messages, r->barrier_rounds),
               sim_per(r->arbiter_traversals, r->barrier_rounds));
    printf("\n");
    if (r->sections + r->barrier_rounds > 0)
        printf("  completed            %" PRIu64 " critical sections, %" PRIu64 " barrier rounds\n",
               r->sections, r->barrier_rounds);
}

static void sim_print_table(const sim_args_t *args, const sim_result_t *r)
{
    double ops = r->ops_submitted ? (double)r->ops_submitted : 1;
    printf("ariadne sim: %s, %s, %s, seed %" PRIu64 ", %u nodes\n", args->topo,
           sim_protocol_name(args->config.protocol), sim_workload_name(args->config.workload.kind),
           args->config.seed, r->nodes);
    printf("  operations           %" PRIu64 " (%" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
           " atomics, %" PRIu64 " gets, %" PRIu64 " unrefs, %" PRIu64 " frees)\n",
           r->ops_submitted, r->reads, r->writes, r->atomics, r->gets, r->unrefs, r->frees);
    printf("  failed / busy        %" PRIu64 " / %" PRIu64 "\n", r->ops_failed, r->ops_busy);
    printf("  messages per op      %.3f (link traversals %.3f, bytes %.1f)\n",
           (double)r->messages / ops, (double)r->link_traversals / ops, (double)r->bytes / ops);
    double changes = r->writes + r->atomics ? (double)(r->writes + r->atomics) : 1;
    printf("  per write or atomic  %.2f link traversals (request, answer, updates, invalidations)\n",
           (double)r->write_traversals / changes);
    printf("  propagation          p50 %" PRIu64 " ns, p99 %" PRIu64 " ns, max %" PRIu64
           " ns (hops p50 %" PRIu64 ", max %" PRIu64 ")\n", r->propagation_ns.p50,
           r->propagation_ns.p99, r->propagation_ns.max, r->propagation_hops.p50,
           r->propagation_hops.max);
    printf("  atomic latency       p50 %" PRIu64 " ns, p99 %" PRIu64 " ns\n",
           r->atomic_latency_ns.p50, r->atomic_latency_ns.p99);
    printf("  entries per DPU      mean %.2f, max %u", r->pcache_entries_mean, r->pcache_entries_max);
    if (args->config.protocol == SIM_PROTOCOL_DIRECTORY)
        printf("; sharer lists %" PRIu64 " bytes", r->sharer_bytes);
    printf("\n");
    printf("  ref fails, evictions %" PRIu64 ", %" PRIu64 "; resyncs %" PRIu64 "\n", r->ref_fails,
           r->evictions, r->resyncs);
    printf("  events               %" PRIu64 " in %.3f s of event loop (%.0f per second; messages"
           " between DPUs %.0f per second), %.3f s in all, simulated %.3f ms\n",
           r->events, r->loop_seconds, r->loop_seconds > 0 ? (double)r->events / r->loop_seconds : 0,
           r->loop_seconds > 0 ? (double)r->link_traversals / r->loop_seconds : 0,
           r->wall_seconds, (double)r->sim_time_ns / 1e6);
    if (r->acquires + r->barrier_arrivals > 0)
        sim_print_table_ownership(r);
    printf("  checks               order %" PRIu64 ", read-your-writes %" PRIu64 ", atomics %" PRIu64
           ", writer order %" PRIu64 ", unconverged %" PRIu64 ", leaked %" PRIu64 ", stuck %" PRIu64
           "%s\n", r->order_violations, r->ryw_violations, r->atomic_violations,
           r->writer_order_violations, r->unconverged, r->leaked_entries, r->stuck_ops,
           r->event_limit_hit ? ", EVENT LIMIT HIT" : "");
    printf("  ownership checks     owner %" PRIu64 ", exclusion %" PRIu64 ", starvation %" PRIu64
           ", tree %" PRIu64 ", counter %" PRIu64 ", barrier %" PRIu64 "\n", r->owner_violations,
           r->exclusion_violations, r->starvation_violations, r->tree_violations,
           r->counter_violations, r->barrier_violations);
    printf("  state hash           %016" PRIx64 "\n", r->state_hash);
    printf("  result               %s\n", sim_result_violations(r) == 0 ? "ok" : "FAILED");
}

/* Reads and parses --workload trace:FILE; every error names file and line. */
static int sim_load_trace(sim_args_t *args, const topo_t *topo, sim_trace_t **trace_out)
{
    char error[TOPO_ERROR_MAX];
    char *text = NULL;
    size_t size = 0;
    int status = dpu_file_read(NULL, args->trace_path, &text, &size, error, sizeof error);
    if (status == ARI_OK)
        status = sim_trace_parse(args->trace_path, text, size, topo->nodes, trace_out, error,
                                 sizeof error);
    free(text);
    if (status != ARI_OK) {
        fprintf(stderr, "ariadne sim: %s\n", status == ARI_ENOMEM ? "out of memory" : error);
        return -1;
    }
    sim_workload_t *w = &args->config.workload;
    w->trace = *trace_out;
    w->pages = (*trace_out)->pages;
    if (!args->ops_given || w->ops > (*trace_out)->count)
        w->ops = (*trace_out)->count;
    return 0;
}

int tool_sim_main(int argc, char **argv)
{
    sim_args_t args;
    memset(&args, 0, sizeof args);
    int parsed = sim_parse(argc, argv, &args);
    if (parsed != 0)
        return parsed < 0 ? 0 : parsed;
    char error[TOPO_ERROR_MAX];
    topo_t *topo = NULL;
    int status = topo_build(args.topo, dpu_file_read, NULL, &topo, error, sizeof error);
    if (status != ARI_OK) {
        fprintf(stderr, "ariadne sim: %s\n", error);
        return 1;
    }
    if (args.config.workload.parties > topo->nodes &&
        (args.config.workload.kind == SIM_WORKLOAD_LOCK_CONTEND ||
         args.config.workload.kind == SIM_WORKLOAD_BARRIER)) {
        fprintf(stderr, "ariadne sim: %s:%u needs %u nodes; %s has %u\n",
                sim_workload_name(args.config.workload.kind), args.config.workload.parties,
                args.config.workload.parties, args.topo, topo->nodes);
        topo_free(topo);
        return 1;
    }
    sim_trace_t *trace = NULL;
    if (args.trace_path != NULL && sim_load_trace(&args, topo, &trace) != 0) {
        topo_free(topo);
        return 1;
    }
    FILE *trace_file = NULL;
    if (args.trace_out != NULL && (trace_file = fopen(args.trace_out, "w")) == NULL) {
        fprintf(stderr, "ariadne sim: cannot write %s: %s\n", args.trace_out, strerror(errno));
        topo_free(topo);
        sim_trace_free(trace);
        return 1;
    }
    args.config.trace_out = trace_file;
    sim_result_t result;
    status = sim_run(topo, &args.config, &result);
    topo_free(topo);
    sim_trace_free(trace);
    if (trace_file != NULL && fclose(trace_file) != 0 && status == ARI_OK) {
        fprintf(stderr, "ariadne sim: writing %s failed: %s\n", args.trace_out, strerror(errno));
        return 1;
    }
    if (status != ARI_OK) {
        fprintf(stderr, "ariadne sim: %s\n", ari_strerror(status));
        return 1;
    }
    if (args.json)
        sim_print_json(&args, &result);
    else
        sim_print_table(&args, &result);
    if (sim_result_violations(&result) != 0) {
        sim_print_replay(&args, argc, argv);
        return 1;
    }
    return 0;
}
