/*
 * cmd_run — `ariadne run -n N [options] PROGRAM ARGS...`: the launcher.
 * It builds the run's topology, creates the control region (runtime/ctl.h),
 * starts N node processes of PROGRAM on this host, copies their output to
 * its own with a "[i] " prefix per line, and watches them: when one dies
 * without ari_finalize it tells the others (ctl->ending and their bells),
 * gives them --grace-ms to leave, then kills what is left. It returns the
 * worst exit status of the nodes.
 *
 * Every node runs in a process group of its own, so that a signal for the
 * node also reaches whatever it started (a shell's children), and nothing
 * a node leaves behind outlives it.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/topo.h"
#include "dpu/files.h"
#include "runtime/ctl.h"
#include "runtime/fault.h"
#include "cluster/rank.h"
#include "run_cluster.h"
#include "tool.h"

#define RUN_PORTS_DEFAULT 8u
#define RUN_MEM_DEFAULT (1ull << 30)
#define RUN_TIMEOUT_MS_DEFAULT 30000u
#define RUN_GRACE_MS_DEFAULT 5000u
#define RUN_RING_HUGE (16ull << 20)      /* rings that carry a 2 MiB page */
#define RUN_RINGS_HUGE_MAX (1ull << 30) /* ... unless they would take more */
#define RUN_GRACE_MS_MAX 3600000u
/* A line longer than this is passed on in pieces of this size, each prefixed. */
#define RUN_LINE_MAX (64u * 1024u)
/* After the last node is reaped, how long a process that escaped its node's
 * process group (setsid) may keep the node's pipes open, silent, before the
 * launcher stops reading them. */
#define RUN_DRAIN_MS 1000u
/* Reads of an exited node's pipes before its exit is reported (each up to
 * RUN_LINE_MAX bytes). */
#define RUN_DRAIN_TURNS_MAX 64u
/* "[255] " and its NUL fit. */
#define RUN_PREFIX_MAX 8u
#define RUN_ENV_TIMEOUT "ARI_TIMEOUT_MS"
#define RUN_ENV_NODES "ARI_NODES"
#define RUN_EXIT_EXEC_FAILED 127

extern char **environ;

_Static_assert(CTL_NODES_MAX <= 1000u, "the prefix and node slots assume few nodes");
_Static_assert(RUN_PORTS_DEFAULT <= TOPO_PORTS_MAX, "the default must be a valid --ports");

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

typedef struct {
    uint32_t nodes;          /* -n; 0 until given */
    uint32_t ports;
    const char *topo;        /* NULL: the default for N and ports */
    uint64_t mem_bytes;
    uint64_t ring_capacity;
    bool ring_set;           /* --ring given: no automatic size */
    uint32_t timeout_ms;
    uint32_t grace_ms;
    bool timeout_given;
    bool stats;
    const char *stats_json;  /* NULL: no JSON */
    char **program;          /* PROGRAM ARGS..., NULL-terminated (argv's tail) */
    run_cluster_options_t cluster; /* --hosts, --key, ...: a run across hosts */
} run_options_t;

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: ariadne run -n N [options] PROGRAM [ARGS...]\n"
            "\n"
            "Starts N node processes of PROGRAM on this host, joined by the topology's\n"
            "links (shared-memory rings in one control region). Every line a node writes\n"
            "is copied to this command's stdout or stderr with the prefix '[i] '. The exit\n"
            "status is the worst (largest) of the nodes' (at least 1 if a node died); 127\n"
            "if PROGRAM cannot be run.\n"
            "Options end at the first argument that is not one, or at '--'.\n"
            "\n"
            "  -n N              nodes, 1 to %u (required)\n"
            "  --topo SPEC       topology (default: mesh:N when N-1 <= --ports, else\n"
            "                    random:N:K:1 with K = --ports). A full spec must have N\n"
            "                    nodes; these short forms take N from -n:\n"
            "                      mesh  ring  hypercube  tree:K  random:K:SEED\n"
            "                      opt:K:SEED  smallworld:K:SEED\n"
            "                    (full specs: see 'ariadne topo --help'; file:PATH too)\n"
            "  --ports K         most links a node may have, 1 to %u (default %u)\n"
            "  --mem SIZE        global memory each node may map (default 1G); a number\n"
            "                    with an optional K, M, G or T suffix (powers of 1024)\n"
            "  --ring BYTES      bytes per link ring, a power of two from %u to %llu\n"
            "                    (default %u; suffixes as --mem); 16M when the host has\n"
            "                    huge pages reserved and all rings fit in 1G, so that a\n"
            "                    ring can carry a 2 MiB page (ARI_HUGE)\n"
            "  --timeout-ms MS   longest wait of any call in the nodes (default %u, or\n"
            "                    the environment's " RUN_ENV_TIMEOUT ")\n"
            "  --grace-ms MS     after a node dies or this command gets SIGINT/SIGTERM,\n"
            "                    how long the others have to exit before they are killed\n"
            "                    (default %u)\n"
            "  --stats           print every node's counters at the end (stderr)\n"
            "  --stats-json FILE write them as a JSON array to FILE (across hosts: FILE\n"
            "                    holds {host}, each host writing its own nodes there)\n"
            "  -h, --help        this text\n"
            "\n"
            "Across hosts (docs/CLUSTER.md):\n"
            "  --hosts FILE      start the nodes on the hosts FILE lists (NAME ADDRESS\n"
            "                    SLOTS [launch = TEMPLATE] a line), one agent a host\n"
            "  --key FILE        the cluster key every host holds ('ariadne keygen FILE');\n"
            "                    with it and no --hosts under srun or mpirun, every\n"
            "                    process is one node, its rank from the launcher\n"
            "  --coordinator ADDR[:PORT]  where the join is coordinated: the launcher\n"
            "                    listens there (default: its address toward the first\n"
            "                    host, any port); under srun/mpirun, rank 0 (needs PORT)\n"
            "  --transport tcp|ucx  links between hosts (default tcp)\n"
            "  --heartbeat MS    a link silent this long is down and its traffic is\n"
            "                    rerouted (default %u)\n"
            "  --seal            authenticate and encrypt every message between hosts\n"
            "\n"
            "Each node gets ARI_NODE (its id), ARI_NODES (N) and " CTL_ENV_FD " (the\n"
            "control region's descriptor) in its environment, and /dev/null as stdin.\n"
            "\n"
            "examples: ariadne run -n 4 ./my_program --size 100\n"
            "          ariadne run -n 16 --topo torus2d:4x4 --mem 2G --stats ./bench\n"
            "          ariadne run -n 3 -- sh -c 'echo node $ARI_NODE of $ARI_NODES'\n",
            CTL_NODES_MAX, TOPO_PORTS_MAX, RUN_PORTS_DEFAULT, SHMRING_CAPACITY_MIN,
            (unsigned long long)SHMRING_CAPACITY_MAX, CTL_RING_DEFAULT, RUN_TIMEOUT_MS_DEFAULT,
            RUN_GRACE_MS_DEFAULT, BRIDGE_HEARTBEAT_MS_DEFAULT);
}

static int run_parse_u64(const char *name, const char *text, uint64_t min, uint64_t max,
                         uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || text[0] == '+' ||
        text[0] == ' ' || value < min || value > max) {
        fprintf(stderr, "ariadne run: %s needs a whole number from %" PRIu64 " to %" PRIu64
                        ", not '%s'\n", name, min, max, text);
        return -1;
    }
    *out = value;
    return 0;
}

/* A size: decimal digits and an optional K, M, G or T (powers of 1024). */
static int run_parse_size_text(const char *text, uint64_t *out)
{
    uint64_t value = 0;
    const char *cursor = text;
    for (; *cursor >= '0' && *cursor <= '9'; cursor++) {
        if (value > (UINT64_MAX - 9) / 10)
            return -1;
        value = value * 10 + (uint64_t)(*cursor - '0');
    }
    if (cursor == text)
        return -1;
    static const char units[] = "KMGT";
    unsigned shift = 0;
    if (*cursor != 0) {
        const char *unit = strchr(units, *cursor & ~0x20);
        if (unit == NULL || cursor[1] != 0)
            return -1;
        shift = 10u * (unsigned)(unit - units + 1);
    }
    if (shift > 0 && value > (UINT64_MAX >> shift))
        return -1;
    *out = value << shift;
    return 0;
}

static int run_parse_size(const char *name, const char *text, uint64_t *out)
{
    uint64_t value;
    if (run_parse_size_text(text, &value) != 0) {
        fprintf(stderr, "ariadne run: %s needs a size such as 65536, 512M or 2G (suffixes K, "
                        "M, G, T are powers of 1024), not '%s'\n", name, text);
        return -1;
    }
    if (value == 0) {
        fprintf(stderr, "ariadne run: %s must be more than 0, not '%s'\n", name, text);
        return -1;
    }
    *out = value;
    return 0;
}

static int run_parse_ring(const char *text, uint64_t *out)
{
    uint64_t value;
    if (run_parse_size("--ring", text, &value) != 0)
        return -1;
    if (value < SHMRING_CAPACITY_MIN || value > SHMRING_CAPACITY_MAX ||
        (value & (value - 1)) != 0) {
        fprintf(stderr, "ariadne run: --ring must be a power of two from %u to %llu bytes, "
                        "not '%s'\n", SHMRING_CAPACITY_MIN,
                (unsigned long long)SHMRING_CAPACITY_MAX, text);
        return -1;
    }
    *out = value;
    return 0;
}

enum {
    OPT_TOPO = 1000, OPT_PORTS, OPT_MEM, OPT_RING, OPT_TIMEOUT, OPT_GRACE, OPT_STATS,
    OPT_STATS_JSON, OPT_NODES, OPT_HOSTS, OPT_KEY, OPT_COORDINATOR, OPT_TRANSPORT,
    OPT_HEARTBEAT, OPT_SEAL, OPT_AGENT,
};

static const struct option run_long_options[] = {
    {"nodes", required_argument, NULL, OPT_NODES},
    {"topo", required_argument, NULL, OPT_TOPO},
    {"ports", required_argument, NULL, OPT_PORTS},
    {"mem", required_argument, NULL, OPT_MEM},
    {"ring", required_argument, NULL, OPT_RING},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"grace-ms", required_argument, NULL, OPT_GRACE},
    {"stats", no_argument, NULL, OPT_STATS},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"hosts", required_argument, NULL, OPT_HOSTS},
    {"key", required_argument, NULL, OPT_KEY},
    {"coordinator", required_argument, NULL, OPT_COORDINATOR},
    {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
    {"seal", no_argument, NULL, OPT_SEAL},
    {"agent", required_argument, NULL, OPT_AGENT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int run_parse_cluster_option(int option, const char *arg, run_cluster_options_t *c);

/* One option with its value; returns 0, or -1 after printing why not. */
static int run_parse_option(int option, const char *arg, run_options_t *o)
{
    uint64_t n;
    switch (option) {
    case 'n':
    case OPT_NODES:
        if (run_parse_u64("-n", arg, 1, CTL_NODES_MAX, &n) != 0)
            return -1;
        o->nodes = (uint32_t)n;
        return 0;
    case OPT_PORTS:
        if (run_parse_u64("--ports", arg, 1, TOPO_PORTS_MAX, &n) != 0)
            return -1;
        o->ports = (uint32_t)n;
        return 0;
    case OPT_TIMEOUT:
        if (run_parse_u64("--timeout-ms", arg, 1, UINT32_MAX, &n) != 0)
            return -1;
        o->timeout_ms = (uint32_t)n;
        o->timeout_given = true;
        return 0;
    case OPT_GRACE:
        if (run_parse_u64("--grace-ms", arg, 0, RUN_GRACE_MS_MAX, &n) != 0)
            return -1;
        o->grace_ms = (uint32_t)n;
        return 0;
    case OPT_TOPO: o->topo = arg; return 0;
    case OPT_MEM: return run_parse_size("--mem", arg, &o->mem_bytes);
    case OPT_RING: o->ring_set = true; return run_parse_ring(arg, &o->ring_capacity);
    case OPT_STATS: o->stats = true; return 0;
    case OPT_STATS_JSON: o->stats_json = arg; return 0;
    default: return run_parse_cluster_option(option, arg, &o->cluster);
    }
}

/* The options of a run across hosts. */
static int run_parse_cluster_option(int option, const char *arg, run_cluster_options_t *c)
{
    uint64_t n;
    switch (option) {
    case OPT_HOSTS: c->hosts_file = arg; return 0;
    case OPT_KEY: c->key_file = arg; return 0;
    case OPT_COORDINATOR: c->coordinator = arg; return 0;
    case OPT_SEAL: c->seal = true; return 0;
    case OPT_TRANSPORT:
        if (link_kind_parse(arg, &c->transport) == ARI_OK)
            return 0;
        fprintf(stderr, "ariadne run: --transport must be tcp or ucx, not '%s'\n", arg);
        return -1;
    case OPT_HEARTBEAT:
        if (run_parse_u64("--heartbeat", arg, 10, 600000, &n) != 0)
            return -1;
        c->heartbeat_ms = (uint32_t)n;
        return 0;
    case OPT_AGENT:
        if (run_parse_u64("--agent", arg, 0, CLUSTER_NODES_MAX - 1, &n) != 0)
            return -1;
        c->agent = (int)n;
        return 0;
    default: return -1; /* NEVER: getopt only returns the options above */
    }
}

/* The environment's ARI_TIMEOUT_MS stands in for an absent --timeout-ms. */
static int run_timeout_from_env(run_options_t *o)
{
    const char *text = getenv(RUN_ENV_TIMEOUT);
    if (o->timeout_given || text == NULL || text[0] == 0)
        return 0;
    uint64_t n;
    if (run_parse_u64(RUN_ENV_TIMEOUT " (environment)", text, 1, UINT32_MAX, &n) != 0)
        return -1;
    o->timeout_ms = (uint32_t)n;
    return 0;
}

/* Returns -1 when the options are fine, else the exit status. */
static int run_parse_options(int argc, char **argv, run_options_t *o)
{
    *o = (run_options_t){.ports = RUN_PORTS_DEFAULT, .mem_bytes = RUN_MEM_DEFAULT,
                         .ring_capacity = CTL_RING_DEFAULT,
                         .timeout_ms = RUN_TIMEOUT_MS_DEFAULT,
                         .grace_ms = RUN_GRACE_MS_DEFAULT,
                         .cluster = {.transport = LINK_TCP,
                                     .heartbeat_ms = BRIDGE_HEARTBEAT_MS_DEFAULT,
                                     .agent = RUN_AGENT_NONE}};
    int option;
    optind = 0; /* 0, not 1: GNU getopt then starts afresh (tests call this many times) */
    opterr = 0;
    /* '+': stop at the first non-option, which is PROGRAM; ':': report a
     * missing value apart from an unknown option. */
    while ((option = getopt_long(argc, argv, "+:n:h", run_long_options, NULL)) != -1) {
        if (option == 'h') {
            run_usage(stdout);
            return 0;
        } else if (option == ':') {
            fprintf(stderr, "ariadne run: %s needs a value (see 'ariadne run --help')\n",
                    argv[optind - 1]);
            return 2;
        } else if (option == '?') {
            if (optopt > 0 && optopt < 128)
                fprintf(stderr, "ariadne run: unknown option '-%c' (see 'ariadne run --help')\n",
                        optopt);
            else
                fprintf(stderr, "ariadne run: unknown option or unexpected value '%s' (see "
                                "'ariadne run --help')\n", argv[optind - 1]);
            return 2;
        } else if (run_parse_option(option, optarg, o) != 0) {
            return 2;
        }
    }
    if (o->nodes == 0 && run_cluster_is_agent(&o->cluster) && o->cluster.hosts_file == NULL) {
        cluster_rank_t rank;
        char error[256];
        if (cluster_rank_from_env(environ, &rank, error, sizeof error) != ARI_OK) {
            fprintf(stderr, "ariadne run: %s\n", error);
            return 2;
        }
        o->nodes = rank.size; /* under srun or mpirun: one node a process */
    }
    if (o->nodes == 0) {
        fprintf(stderr, "ariadne run: -n N (the number of nodes) is required "
                        "(see 'ariadne run --help')\n");
        return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "ariadne run: missing PROGRAM to run (see 'ariadne run --help')\n");
        return 2;
    }
    o->program = argv + optind;
    return run_timeout_from_env(o) == 0 ? -1 : 2;
}

/* ------------------------------------------------------------------------
 * The topology
 * ------------------------------------------------------------------------ */

/* How many ':'-separated fields follow the kind in `spec`. */
static unsigned run_spec_fields(const char *spec)
{
    unsigned fields = 0;
    for (; *spec; spec++)
        fields += *spec == ':';
    return fields;
}

static bool run_spec_is(const char *spec, const char *kind)
{
    size_t length = strlen(kind);
    return strncmp(spec, kind, length) == 0 && (spec[length] == 0 || spec[length] == ':');
}

/* Completes a short form (no node count) with N into `out`. Returns 0, or
 * -1 after printing why not. A full spec is copied as it is. */
static int run_spec_complete(const char *spec, uint32_t nodes, char *out, size_t size)
{
    unsigned fields = run_spec_fields(spec);
    const char *rest = strchr(spec, ':');
    int length;
    if ((run_spec_is(spec, "mesh") || run_spec_is(spec, "ring")) && fields == 0) {
        length = snprintf(out, size, "%s:%u", spec, nodes);
    } else if (run_spec_is(spec, "hypercube") && fields == 0) {
        if (nodes < 2 || (nodes & (nodes - 1)) != 0) {
            fprintf(stderr, "ariadne run: --topo hypercube needs -n to be a power of two "
                            "(at least 2), not %u\n", nodes);
            return -1;
        }
        length = snprintf(out, size, "hypercube:%d", __builtin_ctz(nodes));
    } else if ((run_spec_is(spec, "tree") && fields == 1) ||
               ((run_spec_is(spec, "random") || run_spec_is(spec, "opt") ||
                 run_spec_is(spec, "smallworld")) && fields == 2)) {
        length = snprintf(out, size, "%.*s:%u%s", (int)(rest - spec), spec, nodes, rest);
    } else {
        length = snprintf(out, size, "%s", spec);
    }
    if (length < 0 || (size_t)length >= size) {
        fprintf(stderr, "ariadne run: --topo %s: longer than %zu characters\n", spec,
                size - 1);
        return -1;
    }
    return 0;
}

/* Builds `spec` and checks it fits N and --ports. Returns 0 with
 * *ring_count_out, or -1 after printing why not (quietly when `quiet`). */
static int run_topo_check(const char *spec, const run_options_t *o, bool quiet,
                          uint32_t *ring_count_out)
{
    char error[TOPO_ERROR_MAX];
    topo_t *topo;
    if (topo_build(spec, dpu_file_read, NULL, &topo, error, sizeof error) != ARI_OK) {
        if (!quiet)
            fprintf(stderr, "ariadne run: --topo %s\n", error);
        return -1;
    }
    int result = -1;
    if (topo->nodes != o->nodes) {
        fprintf(stderr, "ariadne run: --topo %s has %u nodes, but -n is %u\n", spec,
                topo->nodes, o->nodes);
    } else if (topo->degree_max > o->ports) {
        fprintf(stderr, "ariadne run: --topo %s gives a node %u links, more than --ports %u "
                        "(raise --ports or choose a sparser topology)\n", spec,
                topo->degree_max, o->ports);
    } else {
        *ring_count_out = topo->offsets[topo->nodes];
        result = 0;
    }
    topo_free(topo);
    return result;
}

/* The default: a full mesh when it fits the ports, else a random regular
 * graph of degree --ports (or one less, when N * ports is odd). */
static int run_topo_default(const run_options_t *o, char *spec, size_t size,
                            uint32_t *ring_count_out)
{
    if (o->nodes - 1 <= o->ports) {
        snprintf(spec, size, "mesh:%u", o->nodes);
        return run_topo_check(spec, o, false, ring_count_out);
    }
    for (uint32_t degree = o->ports; degree + 1 >= o->ports && degree >= 1; degree--) {
        snprintf(spec, size, "random:%u:%u:1", o->nodes, degree);
        if (run_topo_check(spec, o, true, ring_count_out) == 0)
            return 0;
    }
    fprintf(stderr, "ariadne run: no default topology for -n %u with --ports %u; "
                    "give one with --topo\n", o->nodes, o->ports);
    return -1;
}

/* Resolves --topo into the full spec the nodes will rebuild and the number
 * of rings (ports) it needs. Returns 0, or -1 after printing why not. */
static int run_topo_resolve(const run_options_t *o, char spec[CTL_TOPO_MAX],
                            uint32_t *ring_count_out)
{
    /* One node has no links, and topo_build wants at least two nodes: the
     * run still names its (empty) topology mesh:1. */
    if (o->nodes == 1) {
        if (o->topo != NULL && strcmp(o->topo, "mesh") != 0 && strcmp(o->topo, "mesh:1") != 0) {
            fprintf(stderr, "ariadne run: a run of 1 node has no links: --topo must be mesh "
                            "or mesh:1 (or left out), not '%s'\n", o->topo);
            return -1;
        }
        snprintf(spec, CTL_TOPO_MAX, "mesh:1");
        *ring_count_out = 0;
        return 0;
    }
    if (o->topo == NULL)
        return run_topo_default(o, spec, CTL_TOPO_MAX, ring_count_out);
    if (run_spec_complete(o->topo, o->nodes, spec, CTL_TOPO_MAX) != 0)
        return -1;
    return run_topo_check(spec, o, false, ring_count_out);
}

/* ------------------------------------------------------------------------
 * Signals: the handler only notes what came and wakes poll() through a pipe.
 * ------------------------------------------------------------------------ */

static const int run_signals[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP};
#define RUN_SIGNALS_COUNT (sizeof run_signals / sizeof run_signals[0])

static int run_wake_pipe[2] = {-1, -1};
static volatile sig_atomic_t run_stop_count;  /* SIGINT/SIGTERM/SIGHUP received */
static volatile sig_atomic_t run_stop_signal; /* the latest of them */
static struct sigaction run_saved_actions[RUN_SIGNALS_COUNT];
static sigset_t run_saved_mask;

static void run_signal_handler(int signo)
{
    int saved_errno = errno;
    if (signo != SIGCHLD) {
        run_stop_signal = signo;
        run_stop_count++;
    }
    char byte = (char)signo;
    ssize_t ignored = write(run_wake_pipe[1], &byte, 1); /* a full pipe still wakes poll */
    (void)ignored;
    errno = saved_errno;
}

static int run_signals_install(void)
{
    if (pipe2(run_wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "ariadne run: cannot make a pipe: %s\n", strerror(errno));
        return -1;
    }
    run_stop_count = 0;
    run_stop_signal = 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = run_signal_handler;
    sigemptyset(&action.sa_mask);
    /* SA_RESTART keeps stdio's writes whole; poll() still returns EINTR. */
    action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigset_t signals;
    sigemptyset(&signals);
    for (size_t i = 0; i < RUN_SIGNALS_COUNT; i++) {
        sigaction(run_signals[i], &action, &run_saved_actions[i]);
        sigaddset(&signals, run_signals[i]);
    }
    /* A caller may have blocked them (a test runner blocks SIGCHLD): the
     * loop sleeps in poll() until one comes, so they must get through. */
    sigprocmask(SIG_UNBLOCK, &signals, &run_saved_mask);
    return 0;
}

/* Puts the caller's handlers and mask back (also in a child before exec,
 * so a node starts as if the launcher were not there). */
static void run_signals_reset(void)
{
    for (size_t i = 0; i < RUN_SIGNALS_COUNT; i++)
        sigaction(run_signals[i], &run_saved_actions[i], NULL);
    sigprocmask(SIG_SETMASK, &run_saved_mask, NULL);
}

static void run_signals_restore(void)
{
    run_signals_reset();
    close(run_wake_pipe[0]);
    close(run_wake_pipe[1]);
    run_wake_pipe[0] = run_wake_pipe[1] = -1;
}

/* Returns whether a signal came since the last call. */
static bool run_wake_drain(void)
{
    char bytes[64];
    bool woken = false;
    while (read(run_wake_pipe[0], bytes, sizeof bytes) > 0)
        woken = true;
    return woken;
}

/* ------------------------------------------------------------------------
 * The run's state
 * ------------------------------------------------------------------------ */

typedef struct {
    int fd;       /* the read end; -1 once at end of file */
    char *line;   /* RUN_LINE_MAX bytes: the start of a line not yet complete */
    size_t length;
} run_stream_t;

typedef struct {
    pid_t pid;          /* 0: not started */
    bool running;       /* started and not reaped */
    bool signalled;     /* the launcher sent it a signal: its death is no news */
    bool killed;        /* the launcher sent it SIGKILL */
    int exit_code;
    uint32_t prefix_length;
    char prefix[RUN_PREFIX_MAX]; /* "[i] " */
    run_stream_t streams[2];     /* its stdout, its stderr */
} run_node_t;

typedef enum {
    RUN_ENDING_NONE = 0, /* running normally */
    RUN_ENDING_DEATH,    /* a node died: the others have the grace period */
    RUN_ENDING_SIGNAL,   /* the launcher was told to stop */
    RUN_ENDING_FAILED,   /* the launcher could not start every node */
} run_ending_t;

typedef struct {
    run_options_t options;
    run_agent_t *agent;        /* a run across hosts: this host's agent, else NULL */
    uint32_t first, count;     /* the nodes this process starts (all, on one host) */
    char spec[CTL_TOPO_MAX];
    uint32_t ring_count;
    int ctl_fd;
    ctl_header_t *ctl;
    run_node_t *nodes;
    uint32_t started;
    uint32_t running;
    run_ending_t ending;
    uint32_t first_dead;
    int exit_failure;          /* 0, or the launcher's own exit status (1, 127) */
    int64_t ending_since_ns;
    int64_t kill_at_ns;        /* 0: no kill pending */
    int64_t drain_until_ns;    /* 0: some node still runs */
    FILE *stats_json;
    char *emit_line;           /* RUN_PREFIX_MAX + RUN_LINE_MAX + 1 bytes */
    struct pollfd *poll_fds;   /* the wake pipe, then every open stream */
    uint32_t *poll_streams;    /* poll_fds[k + 1] is node x stream (node * 2 + stream) */
} run_t;

static int64_t run_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static int run_alloc(run_t *run)
{
    uint32_t nodes = run->options.nodes;
    run->nodes = calloc(nodes, sizeof *run->nodes);
    run->poll_fds = calloc(2 * (size_t)nodes + 1, sizeof *run->poll_fds);
    run->poll_streams = calloc(2 * (size_t)nodes, sizeof *run->poll_streams);
    run->emit_line = malloc(RUN_PREFIX_MAX + RUN_LINE_MAX + 1);
    if (run->nodes == NULL || run->poll_fds == NULL || run->poll_streams == NULL ||
        run->emit_line == NULL)
        return -1;
    for (uint32_t i = 0; i < nodes; i++) {
        run_node_t *n = &run->nodes[i];
        n->prefix_length = (uint32_t)snprintf(n->prefix, sizeof n->prefix, "[%u] ", i);
        for (int s = 0; s < 2; s++) {
            run->nodes[i].streams[s].fd = -1;
            if ((run->nodes[i].streams[s].line = malloc(RUN_LINE_MAX)) == NULL)
                return -1;
        }
    }
    return 0;
}

static void run_free(run_t *run)
{
    for (uint32_t i = 0; run->nodes != NULL && i < run->options.nodes; i++) {
        for (int s = 0; s < 2; s++) {
            if (run->nodes[i].streams[s].fd >= 0)
                close(run->nodes[i].streams[s].fd);
            free(run->nodes[i].streams[s].line);
        }
    }
    free(run->nodes);
    free(run->poll_fds);
    free(run->poll_streams);
    free(run->emit_line);
}

/* ------------------------------------------------------------------------
 * Output: whole lines, each with its node's prefix
 * ------------------------------------------------------------------------ */

/* Writes "[node] " and the bytes (which may hold NULs), ending in a newline,
 * in one call so that an unbuffered stderr gets the line in one write. */
static void run_emit(run_t *run, uint32_t node, int stream, const char *bytes, size_t length)
{
    char *line = run->emit_line;
    size_t used = run->nodes[node].prefix_length;
    memcpy(line, run->nodes[node].prefix, used);
    memcpy(line + used, bytes, length);
    used += length;
    if (length == 0 || bytes[length - 1] != '\n')
        line[used++] = '\n';
    fwrite(line, 1, used, stream == 0 ? stdout : stderr);
}

/* Passes on every complete line in the buffer; `scanned` bytes at its
 * start are known to hold no newline. A full buffer goes out as a piece. */
static void run_stream_lines(run_t *run, uint32_t node, int which, run_stream_t *s,
                             size_t scanned)
{
    size_t start = 0;
    const char *newline;
    while ((newline = memchr(s->line + scanned, '\n', s->length - scanned)) != NULL) {
        size_t end = (size_t)(newline - s->line) + 1;
        run_emit(run, node, which, s->line + start, end - start);
        start = scanned = end;
    }
    s->length -= start;
    memmove(s->line, s->line + start, s->length);
    if (s->length == RUN_LINE_MAX) {
        run_emit(run, node, which, s->line, s->length);
        s->length = 0;
    }
}

static void run_stream_close(run_t *run, uint32_t node, int which, run_stream_t *s)
{
    if (s->length > 0)
        run_emit(run, node, which, s->line, s->length); /* the last line had no newline */
    s->length = 0;
    close(s->fd);
    s->fd = -1;
}

/* Returns 1 when it read bytes, 0 when there were none yet, -1 at the end. */
static int run_stream_read(run_t *run, uint32_t node, int which)
{
    run_stream_t *s = &run->nodes[node].streams[which];
    ssize_t n = read(s->fd, s->line + s->length, RUN_LINE_MAX - s->length);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        run_stream_close(run, node, which, s);
        return -1;
    }
    size_t scanned = s->length;
    s->length += (size_t)n;
    run_stream_lines(run, node, which, s, scanned);
    return 1;
}

/* ------------------------------------------------------------------------
 * Starting the nodes
 * ------------------------------------------------------------------------ */

/* In the child: becomes node `node` and runs PROGRAM. On failure the errno
 * goes up `status_fd` (close-on-exec, so a successful exec closes it). */
static void run_child(run_t *run, uint32_t node, const int out[2], const int err[2],
                      int status_fd, pid_t launcher)
{
    run_signals_reset();
    /* A node must not outlive its launcher; the getppid check catches a
     * launcher that died before the prctl took effect. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != launcher)
        _exit(RUN_EXIT_EXEC_FAILED);
    setpgid(0, 0);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0 && null_fd != STDIN_FILENO) {
        dup2(null_fd, STDIN_FILENO);
        close(null_fd);
    }
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    ctl_node(run->ctl, node)->pid = (int32_t)getpid();
    char text[16];
    snprintf(text, sizeof text, "%d", run->ctl_fd);
    setenv(CTL_ENV_FD, text, 1);
    snprintf(text, sizeof text, "%u", node);
    setenv(CTL_ENV_NODE, text, 1);
    snprintf(text, sizeof text, "%u", run->options.nodes);
    setenv(RUN_ENV_NODES, text, 1);
    /* A run across hosts: the node wakes its agent through this eventfd,
     * which must outlive the exec (it is close-on-exec in the agent). */
    if (run->ctl->agent_fd >= 0)
        fcntl(run->ctl->agent_fd, F_SETFD, 0);
    /* Reports name the host as the hosts file does (under srun the node
     * takes this machine's name itself). */
    if (run->agent != NULL && run->agent->hosts_loaded)
        setenv("ARI_HOST", run->agent->names[run->agent->self], 1);
    execvp(run->options.program[0], run->options.program);
    int error = errno;
    ssize_t ignored = write(status_fd, &error, sizeof error);
    (void)ignored;
    _exit(RUN_EXIT_EXEC_FAILED);
}

static void run_close_pair(int fds[2])
{
    for (int k = 0; k < 2; k++) {
        if (fds[k] >= 0)
            close(fds[k]);
        fds[k] = -1;
    }
}

/* Waits for the child's exec: end of file means it ran, an int is errno. */
static int run_exec_result(int status_fd)
{
    int error = 0;
    ssize_t n;
    do {
        n = read(status_fd, &error, sizeof error);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof error ? error : 0;
}

/* Forks node `node`. Returns 0, or -1 when it could not be started (the
 * reason is printed and run->exit_failure set). */
static int run_node_start(run_t *run, uint32_t node)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
        pipe2(status, O_CLOEXEC) != 0) {
        fprintf(stderr, "ariadne run: cannot make pipes for node %u: %s\n", node,
                strerror(errno));
        goto err_pipes;
    }
    ctl_node_t *slot = ctl_node(run->ctl, node);
    /* Before the fork: the node itself moves the state on from here. */
    atomic_store(&slot->state, CTL_NODE_STARTED);
    pid_t launcher = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "ariadne run: cannot start node %u: fork: %s\n", node, strerror(errno));
        atomic_store(&slot->state, CTL_NODE_EMPTY);
        goto err_pipes;
    }
    if (pid == 0)
        run_child(run, node, out, err, status[1], launcher);
    setpgid(pid, pid); /* the child does it too; whoever is first wins the race */
    slot->pid = (int32_t)pid;
    run_node_t *n = &run->nodes[node];
    n->pid = pid;
    n->running = true;
    n->streams[0].fd = out[0];
    n->streams[1].fd = err[0];
    close(out[1]);
    close(err[1]);
    close(status[1]);
    run->started++;
    run->running++;
    int error = run_exec_result(status[0]);
    close(status[0]);
    if (error == 0)
        return 0;
    fprintf(stderr, "ariadne run: cannot run '%s': %s\n", run->options.program[0],
            strerror(error));
    run->exit_failure = RUN_EXIT_EXEC_FAILED;
    n->signalled = true; /* its exit is explained already */
    return -1;
err_pipes:
    run_close_pair(out);
    run_close_pair(err);
    run_close_pair(status);
    run->exit_failure = 1;
    return -1;
}

/* ------------------------------------------------------------------------
 * Ending: deaths, signals, the grace period
 * ------------------------------------------------------------------------ */

/* Signals node's whole process group. */
static void run_node_signal(run_t *run, uint32_t node, int signo)
{
    run_node_t *n = &run->nodes[node];
    if (!n->running)
        return;
    kill(-n->pid, signo);
    n->signalled = true;
    n->killed |= signo == SIGKILL;
}

static void run_begin_ending(run_t *run, run_ending_t why, int64_t now_ns)
{
    if (run->ending == RUN_ENDING_NONE) {
        run->ending = why;
        run->ending_since_ns = now_ns;
    }
    int64_t kill_at = now_ns + (int64_t)run->options.grace_ms * 1000000;
    if (run->kill_at_ns == 0 || kill_at < run->kill_at_ns)
        run->kill_at_ns = kill_at;
}

static void run_describe_death(uint32_t node, int wait_status, uint32_t state, bool first)
{
    const char *ending = first ? "; ending the run" : "";
    if (WIFSIGNALED(wait_status)) {
        int signo = WTERMSIG(wait_status);
        fprintf(stderr, "ariadne run: node %u was killed by signal %d (%s)%s\n", node, signo,
                strsignal(signo), ending);
    } else if (WEXITSTATUS(wait_status) == 0 && state == CTL_NODE_JOINED) {
        fprintf(stderr, "ariadne run: node %u exited (status 0) after ari_init without "
                        "finishing ari_finalize%s\n", node, ending);
    } else {
        fprintf(stderr, "ariadne run: node %u exited with status %d before ari_finalize%s\n",
                node, WEXITSTATUS(wait_status), ending);
    }
}

/* A node left without ari_finalize: tell every other node (ctl->ending and
 * its bell) so that calls waiting on it fail with ARI_EPEER. */
static void run_node_dead(run_t *run, uint32_t node, int wait_status, uint32_t state)
{
    atomic_store(&ctl_node(run->ctl, node)->state, CTL_NODE_DEAD);
    uint32_t expected = 0;
    atomic_compare_exchange_strong(&run->ctl->ending, &expected, node + 1);
    for (uint32_t j = 0; j < run->options.nodes; j++)
        bell_ring(&ctl_node(run->ctl, j)->bell);
    if (run->nodes[node].signalled)
        return;
    bool first = run->ending == RUN_ENDING_NONE;
    run_describe_death(node, wait_status, state, first);
    if (first) {
        run->first_dead = node;
        run_begin_ending(run, RUN_ENDING_DEATH, run_now_ns());
    }
}

static void run_node_exited(run_t *run, uint32_t node, int wait_status)
{
    run_node_t *n = &run->nodes[node];
    int code = WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
    n->exit_code = code;
    n->running = false;
    run->running--;
    ctl_node_t *slot = ctl_node(run->ctl, node);
    slot->exit_code = code;
    uint32_t state = atomic_load(&slot->state);
    if (state != CTL_NODE_FINISHED && (code != 0 || state == CTL_NODE_JOINED))
        run_node_dead(run, node, wait_status, state);
    if (run->running == 0)
        run->drain_until_ns = run_now_ns() + (int64_t)RUN_DRAIN_MS * 1000000;
}

/* Passes on what a node that has exited left in its pipes, so that its last
 * words come before the launcher's verdict on it. Bounded: a process that
 * escaped the node's group may still be writing; the loop reads the rest. */
static void run_node_drain(run_t *run, uint32_t node)
{
    run_stream_t *streams = run->nodes[node].streams;
    for (uint32_t turn = 0; turn < RUN_DRAIN_TURNS_MAX; turn++) {
        struct pollfd fds[2];
        nfds_t count = 0;
        int which[2];
        for (int s = 0; s < 2; s++) {
            if (streams[s].fd >= 0) {
                which[count] = s;
                fds[count++] = (struct pollfd){.fd = streams[s].fd, .events = POLLIN};
            }
        }
        if (count == 0 || poll(fds, count, 0) <= 0)
            break;
        for (nfds_t k = 0; k < count; k++) {
            if (fds[k].revents != 0)
                run_stream_read(run, node, which[k]);
        }
    }
    fflush(stdout);
}

/* Reaps every node that has exited. The leader is looked at first without
 * reaping it, so that its process group id cannot be reused while what the
 * node left running in the group is killed. */
static void run_reap(run_t *run)
{
    for (uint32_t i = 0; i < run->options.nodes; i++) {
        run_node_t *n = &run->nodes[i];
        if (!n->running)
            continue;
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)n->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid != n->pid)
            continue;
        kill(-n->pid, SIGKILL);
        run_node_drain(run, i);
        int wait_status;
        if (waitpid(n->pid, &wait_status, 0) == n->pid)
            run_node_exited(run, i, wait_status);
    }
}

static void run_kill_survivors(run_t *run, int64_t now_ns)
{
    double seconds = (double)(now_ns - run->ending_since_ns) / 1e9;
    for (uint32_t i = 0; i < run->options.nodes; i++) {
        run_node_t *n = &run->nodes[i];
        if (!n->running || n->killed)
            continue;
        if (run->ending == RUN_ENDING_DEATH)
            fprintf(stderr, "ariadne run: node %u still running %.1f s after node %u died; "
                            "killed\n", i, seconds, run->first_dead);
        else if (run->ending == RUN_ENDING_SIGNAL)
            fprintf(stderr, "ariadne run: node %u still running %.1f s after SIGTERM; "
                            "killed\n", i, seconds);
        run_node_signal(run, i, SIGKILL);
    }
    run->kill_at_ns = 0;
}

static const char *run_signal_name(int signo)
{
    return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "SIGHUP";
}

/* SIGINT, SIGTERM or SIGHUP to the launcher: SIGTERM to every node, SIGKILL
 * after the grace period; a second one kills at once. */
static void run_handle_stop(run_t *run, int signo, bool again, int64_t now_ns)
{
    if (again) {
        if (run->running > 0)
            fprintf(stderr, "ariadne run: %s again; killing every node\n",
                    run_signal_name(signo));
        run_begin_ending(run, RUN_ENDING_SIGNAL, now_ns);
        run->kill_at_ns = now_ns;
        return;
    }
    if (run->running > 0)
        fprintf(stderr, "ariadne run: %s; sending SIGTERM to every node (SIGKILL in %.1f s)\n",
                run_signal_name(signo), run->options.grace_ms / 1000.0);
    run_begin_ending(run, RUN_ENDING_SIGNAL, now_ns);
    run->ending = RUN_ENDING_SIGNAL;
    run->ending_since_ns = now_ns;
    for (uint32_t i = 0; i < run->options.nodes; i++)
        run_node_signal(run, i, SIGTERM);
}

/* ------------------------------------------------------------------------
 * The loop: output, deaths and deadlines, until every node is gone
 * ------------------------------------------------------------------------ */

static nfds_t run_poll_build(run_t *run)
{
    nfds_t count = 1;
    run->poll_fds[0] = (struct pollfd){.fd = run_wake_pipe[0], .events = POLLIN};
    for (uint32_t i = 0; i < run->options.nodes; i++) {
        for (int s = 0; s < 2; s++) {
            if (run->nodes[i].streams[s].fd < 0)
                continue;
            run->poll_streams[count - 1] = i * 2 + (uint32_t)s;
            run->poll_fds[count++] = (struct pollfd){.fd = run->nodes[i].streams[s].fd,
                                                     .events = POLLIN};
        }
    }
    return count;
}

static int run_poll_timeout_ms(const run_t *run, int64_t now_ns)
{
    int64_t deadline = run->kill_at_ns;
    /* An agent looks at the region now and then: another host may end the run. */
    if (run->agent != NULL && run->ending == RUN_ENDING_NONE)
        deadline = now_ns + 100000000;
    if (run->drain_until_ns != 0 && (deadline == 0 || run->drain_until_ns < deadline))
        deadline = run->drain_until_ns;
    if (deadline == 0)
        return -1;
    if (deadline <= now_ns)
        return 0;
    return (int)((deadline - now_ns + 999999) / 1000000);
}

static void run_streams_close_all(run_t *run)
{
    for (uint32_t i = 0; i < run->options.nodes; i++) {
        for (int s = 0; s < 2; s++) {
            if (run->nodes[i].streams[s].fd >= 0)
                run_stream_close(run, i, s, &run->nodes[i].streams[s]);
        }
    }
}

/* One turn: wait for output, a signal or a deadline, and handle it. */
static void run_turn(run_t *run, int *stops_seen)
{
    nfds_t count = run_poll_build(run);
    int ready = poll(run->poll_fds, count, run_poll_timeout_ms(run, run_now_ns()));
    if (ready < 0 && errno != EINTR) {
        fprintf(stderr, "ariadne run: poll: %s\n", strerror(errno));
        run_streams_close_all(run); /* NEVER: poll fails only on bad arguments */
        return;
    }
    bool ended = false, data = false;
    for (nfds_t k = 1; ready > 0 && k < count; k++) {
        uint32_t stream = run->poll_streams[k - 1];
        if (run->poll_fds[k].revents == 0)
            continue;
        int result = run_stream_read(run, stream / 2, (int)(stream % 2));
        ended |= result < 0;
        data |= result > 0;
    }
    fflush(stdout);
    /* Output still flowing after the last node exited (the launcher may
     * have been slow to write it) is not given up on. */
    if (data && run->drain_until_ns != 0)
        run->drain_until_ns = run_now_ns() + (int64_t)RUN_DRAIN_MS * 1000000;
    /* SIGCHLD says a node exited; so, most of the time, does the end of
     * its output (a second chance should a SIGCHLD go astray). */
    if (run_wake_drain() || ended)
        run_reap(run);
    int stops = run_stop_count;
    if (stops != *stops_seen) {
        run_handle_stop(run, run_stop_signal, *stops_seen > 0, run_now_ns());
        *stops_seen = stops;
    }
    int64_t now = run_now_ns();
    if (run->agent != NULL && run->ending == RUN_ENDING_NONE && atomic_load(&run->ctl->ending))
        run_begin_ending(run, RUN_ENDING_DEATH, now); /* another host ended it: the grace */
    if (run->kill_at_ns != 0 && now >= run->kill_at_ns)
        run_kill_survivors(run, now);
    if (run->drain_until_ns != 0 && now >= run->drain_until_ns)
        run_streams_close_all(run);
}

static bool run_streams_open(const run_t *run)
{
    for (uint32_t i = 0; i < run->options.nodes; i++) {
        if (run->nodes[i].streams[0].fd >= 0 || run->nodes[i].streams[1].fd >= 0)
            return true;
    }
    return false;
}

static void run_loop(run_t *run)
{
    int stops_seen = 0;
    while (run->running > 0 || run_streams_open(run))
        run_turn(run, &stops_seen);
    fflush(stdout);
}

/* Starts every node, stopping at the first that cannot be started or at a
 * signal; what was started is then stopped by the loop. */
static void run_start_all(run_t *run)
{
    fflush(NULL); /* nothing buffered may be written twice by a child */
    for (uint32_t i = run->first; i < run->first + run->count && run_stop_count == 0; i++) {
        if (run_node_start(run, i) != 0) {
            run->ending = RUN_ENDING_FAILED;
            run->ending_since_ns = run_now_ns();
            for (uint32_t j = 0; j < run->options.nodes; j++)
                run_node_signal(run, j, SIGKILL);
            return;
        }
    }
}

/* ------------------------------------------------------------------------
 * --stats and --stats-json
 * ------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    size_t offset; /* in ctl_stats_t */
} run_counter_t;

#define RUN_DPU(field) {#field, offsetof(ctl_stats_t, dpu) + offsetof(dpu_stats_t, field)}
#define RUN_RT(field) {#field, offsetof(ctl_stats_t, field)}

static const run_counter_t run_counters_protocol[] = {
    RUN_DPU(messages_in), RUN_DPU(messages_out), RUN_DPU(bytes_out), RUN_DPU(malformed),
    RUN_DPU(stray), RUN_DPU(ref_fails), RUN_DPU(evictions), RUN_DPU(resyncs),
    RUN_DPU(retries), RUN_DPU(writes_ordered), RUN_DPU(atomics_ordered),
};
static const run_counter_t run_counters_runtime[] = {
    RUN_RT(faults), RUN_RT(pages_mapped), RUN_RT(stores), RUN_RT(gets), RUN_RT(atomics),
    RUN_RT(barriers), RUN_RT(link_waits), RUN_RT(sleeps), RUN_RT(entries_at_exit),
    RUN_RT(pages_at_exit),
};
#define RUN_COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define RUN_COLUMNS_MAX 16u
_Static_assert(RUN_COUNT(run_counters_protocol) <= RUN_COLUMNS_MAX, "a table's columns");
_Static_assert(RUN_COUNT(run_counters_runtime) <= RUN_COLUMNS_MAX, "a table's columns");

static uint64_t run_counter(const ctl_stats_t *stats, const run_counter_t *counter)
{
    uint64_t value;
    memcpy(&value, (const uint8_t *)stats + counter->offset, sizeof value);
    return value;
}

static const char *run_fault_mode_name(uint64_t mode)
{
    return mode == 1 ? "userfaultfd" : mode == 2 ? "mprotect" : "unknown";
}

static const ctl_stats_t *run_stats_of(const run_t *run, uint32_t node)
{
    const ctl_stats_t *stats = &ctl_node(run->ctl, node)->stats;
    return stats->valid == 1 ? stats : NULL;
}

/* A column is as wide as its name or its total, whichever is wider. */
static int run_column_width(const run_t *run, const run_counter_t *counter)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < run->options.nodes; i++) {
        const ctl_stats_t *stats = run_stats_of(run, i);
        total += stats != NULL ? run_counter(stats, counter) : 0;
    }
    int width = snprintf(NULL, 0, "%" PRIu64, total);
    int name = (int)strlen(counter->name);
    return name > width ? name : width;
}

static void run_stats_table(const run_t *run, const char *title, const run_counter_t *counters,
                            size_t count, bool fault_mode)
{
    int widths[RUN_COLUMNS_MAX];
    assert(count <= RUN_COLUMNS_MAX);
    fprintf(stderr, "%-8s", title);
    for (size_t c = 0; c < count; c++) {
        widths[c] = run_column_width(run, &counters[c]);
        fprintf(stderr, " %*s", widths[c], counters[c].name);
    }
    fprintf(stderr, fault_mode ? "  fault_mode\n" : "\n");
    uint64_t totals[RUN_COLUMNS_MAX] = {0};
    for (uint32_t i = 0; i < run->options.nodes; i++) {
        const ctl_stats_t *stats = run_stats_of(run, i);
        if (stats == NULL)
            continue;
        fprintf(stderr, "node %-3u", i);
        for (size_t c = 0; c < count; c++) {
            uint64_t value = run_counter(stats, &counters[c]);
            totals[c] += value;
            fprintf(stderr, " %*" PRIu64, widths[c], value);
        }
        if (fault_mode)
            fprintf(stderr, "  %s", run_fault_mode_name(stats->fault_mode));
        fputc('\n', stderr);
    }
    fprintf(stderr, "%-8s", "total");
    for (size_t c = 0; c < count; c++)
        fprintf(stderr, " %*" PRIu64, widths[c], totals[c]);
    fputc('\n', stderr);
}

static void run_stats_print(const run_t *run)
{
    uint32_t reported = 0;
    for (uint32_t i = 0; i < run->options.nodes; i++)
        reported += run_stats_of(run, i) != NULL;
    fprintf(stderr, "ariadne run: statistics of %u of %u nodes", reported, run->options.nodes);
    if (reported < run->options.nodes)
        fprintf(stderr, " (a node reports them in ari_finalize)");
    fputc('\n', stderr);
    if (reported == 0)
        return;
    run_stats_table(run, "protocol", run_counters_protocol, RUN_COUNT(run_counters_protocol),
                    false);
    run_stats_table(run, "runtime", run_counters_runtime, RUN_COUNT(run_counters_runtime),
                    true);
}

static void run_json_counters(FILE *out, const ctl_stats_t *stats,
                              const run_counter_t *counters, size_t count)
{
    for (size_t c = 0; c < count; c++)
        fprintf(out, ", \"%s\": %" PRIu64, counters[c].name, run_counter(stats, &counters[c]));
}

/* Returns 0, or 1 when the file could not be written. */
static int run_stats_write_json(const run_t *run)
{
    FILE *out = run->stats_json;
    bool first = true;
    fprintf(out, "[");
    for (uint32_t i = 0; i < run->options.nodes; i++) {
        const ctl_stats_t *stats = run_stats_of(run, i);
        if (stats == NULL)
            continue;
        fprintf(out, "%s\n  {\"node\": %u", first ? "" : ",", i);
        run_json_counters(out, stats, run_counters_protocol, RUN_COUNT(run_counters_protocol));
        run_json_counters(out, stats, run_counters_runtime, RUN_COUNT(run_counters_runtime));
        fprintf(out, ", \"fault_mode\": \"%s\"}", run_fault_mode_name(stats->fault_mode));
        first = false;
    }
    fprintf(out, "\n]\n");
    if (ferror(out) || fflush(out) != 0) {
        fprintf(stderr, "ariadne run: cannot write --stats-json %s: %s\n",
                run->options.stats_json, strerror(errno));
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------ */

#define RUN_HOST_MARK "{host}"

/* Opens --stats-json: across hosts each agent writes its own nodes to the
 * path with {host} replaced by its host's name. Returns 0 or 2. */
static int run_stats_open(run_t *run, const char *host)
{
    const char *path = run->options.stats_json;
    char *expanded = NULL;
    size_t size = 0;
    FILE *text = open_memstream(&expanded, &size);
    if (text == NULL) {
        fprintf(stderr, "ariadne run: --stats-json: %s\n", strerror(errno));
        return 2;
    }
    size_t mark = strlen(RUN_HOST_MARK);
    for (const char *p = path; *p != '\0';) {
        bool here = host != NULL && strncmp(p, RUN_HOST_MARK, mark) == 0;
        if (here)
            fputs(host, text);
        else
            fputc(*p, text);
        p += here ? mark : 1;
    }
    fclose(text);
    run->stats_json = expanded != NULL ? fopen(expanded, "we") : NULL;
    if (run->stats_json == NULL)
        fprintf(stderr, "ariadne run: cannot write --stats-json %s: %s\n",
                expanded != NULL ? expanded : path, strerror(errno));
    free(expanded);
    return run->stats_json != NULL ? 0 : 2;
}

/* Everything that can be refused before a process starts: exit status 2. */
static int run_prepare(run_t *run)
{
    if (run_topo_resolve(&run->options, run->spec, &run->ring_count) != 0)
        return 2;
    const char *path = run->options.stats_json;
    bool across = run_cluster_is_launcher(&run->options.cluster) ||
                  run_cluster_is_agent(&run->options.cluster);
    if (path != NULL && across && strstr(path, RUN_HOST_MARK) == NULL) {
        fprintf(stderr, "ariadne run: --stats-json across hosts needs " RUN_HOST_MARK
                        " in FILE: each host's agent writes its own nodes there (e.g. "
                        "--stats-json /tmp/stats-" RUN_HOST_MARK ".json)\n");
        return 2;
    }
    if (path != NULL && !across)
        return run_stats_open(run, NULL);
    return 0; /* an agent opens it once it knows its host's name */
}

static int run_ctl_create(run_t *run)
{
    run_options_t *o = &run->options;
    /* A 2 MiB page (ARI_HUGE) crosses a link as one message, at most a
     * quarter of a ring: with huge pages on the host, rings of 16 MiB,
     * unless that would take more than 1 GiB. */
    /* Not with --seal: a sealed frame carries about 1 MiB (the nodes then
     * say why they serve no 2 MiB pages). */
    if (!o->ring_set && !o->cluster.seal && fault_huge_pool(false) > 0 &&
        (uint64_t)run->ring_count * RUN_RING_HUGE <= RUN_RINGS_HUGE_MAX)
        o->ring_capacity = RUN_RING_HUGE;
    ctl_params_t params = {
        .nodes = o->nodes, .ports = o->ports, .ring_count = run->ring_count,
        .ring_capacity = o->ring_capacity, .mem_bytes = o->mem_bytes,
        .flags = o->stats || o->stats_json != NULL ? CTL_FLAG_STATS : 0,
        .timeout_ms = o->timeout_ms, .topo_spec = run->spec,
        .agent_fd = run->agent != NULL ? bridge_agent_fd(run->agent->bridge) : -1};
    int status = ctl_create(&params, &run->ctl_fd, &run->ctl);
    if (status != ARI_OK) {
        fprintf(stderr, "ariadne run: cannot create the control region (%u nodes, %u rings "
                        "of %" PRIu64 " bytes): %s\n", o->nodes, run->ring_count,
                o->ring_capacity, ari_strerror(status));
        return -1;
    }
    return 0;
}

/* A node's descriptors 0-2 are made by dup2 from the launcher's pipes: none
 * of those (nor the region's) may be 0-2 itself, which can only happen when
 * the launcher was started with one of them closed. */
static void run_std_fds_fill(void)
{
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int null_fd = open("/dev/null", O_RDWR);
            if (null_fd >= 0 && null_fd != fd)
                close(null_fd); /* NEVER: open returns the lowest free descriptor */
        }
    }
}

static int run_exit_status(const run_t *run)
{
    if (run->exit_failure != 0)
        return run->exit_failure;
    int worst = 0;
    for (uint32_t i = run->first; i < run->first + run->started; i++) {
        if (run->nodes[i].exit_code > worst)
            worst = run->nodes[i].exit_code;
    }
    /* A node died (left without finishing ari_finalize): the run failed,
     * even when every process said 0. */
    if (worst == 0 && run->ending == RUN_ENDING_DEATH)
        worst = 1;
    return worst;
}

/* With the region made and the signals caught: start, watch, report. */
static int run_execute(run_t *run)
{
    if (run_alloc(run) != 0) {
        fprintf(stderr, "ariadne run: out of memory for %u nodes\n", run->options.nodes);
        return 1;
    }
    if (run->agent != NULL && run_agent_start(run->agent, run->ctl, run->options.timeout_ms) != 0)
        return 1;
    run_start_all(run);
    run_loop(run);
    if (run->agent != NULL)
        run_agent_finish(run->agent, run->options.timeout_ms);
    run->agent = NULL;
    int exit_status = run_exit_status(run);
    if (run->options.stats)
        run_stats_print(run);
    if (run->stats_json != NULL && run_stats_write_json(run) != 0 && exit_status == 0)
        exit_status = 1;
    return exit_status;
}

/* The run options every agent gets again (run_cluster_launch). */
static int run_launch_hosts(run_t *run)
{
    const run_options_t *o = &run->options;
    char text[5][32];
    char *words[18];
    size_t n = 0;
    snprintf(text[0], sizeof text[0], "%u", o->ports);
    snprintf(text[1], sizeof text[1], "%" PRIu64, o->mem_bytes);
    snprintf(text[2], sizeof text[2], "%u", o->timeout_ms);
    snprintf(text[3], sizeof text[3], "%u", o->grace_ms);
    snprintf(text[4], sizeof text[4], "%" PRIu64, o->ring_capacity);
    words[n++] = "--ports";
    words[n++] = text[0];
    words[n++] = "--mem";
    words[n++] = text[1];
    words[n++] = "--timeout-ms";
    words[n++] = text[2];
    words[n++] = "--grace-ms";
    words[n++] = text[3];
    if (o->ring_set) {
        words[n++] = "--ring";
        words[n++] = text[4];
    }
    if (o->stats)
        words[n++] = "--stats";
    if (o->stats_json != NULL) { /* with {host}: run_prepare saw to it */
        words[n++] = "--stats-json";
        words[n++] = (char *)o->stats_json;
    }
    words[n] = NULL;
    return run_cluster_launch(&o->cluster, o->nodes, run->spec, words, o->program);
}

int tool_run_main(int argc, char **argv)
{
    run_t run;
    memset(&run, 0, sizeof run);
    run.ctl_fd = -1;
    int exit_status = run_parse_options(argc, argv, &run.options);
    if (exit_status >= 0)
        return exit_status;
    if ((exit_status = run_prepare(&run)) != 0)
        goto out_json;
    run.count = run.options.nodes;
    if (run_cluster_is_launcher(&run.options.cluster)) {
        exit_status = run_launch_hosts(&run);
        goto out_json;
    }
    run_std_fds_fill();
    run_agent_t agent;
    if (run_cluster_is_agent(&run.options.cluster)) {
        if ((exit_status = run_agent_setup(&agent, &run.options.cluster, &run.options.nodes,
                                           run.spec)) != 0)
            goto out_json;
        run.agent = &agent;
        run.first = agent.first;
        run.count = agent.count;
        if (run.options.stats_json != NULL &&
            (exit_status = run_stats_open(&run, agent.names[agent.self])) != 0) {
            run_agent_finish(run.agent, 0);
            goto out_json;
        }
    }
    exit_status = 1;
    if (run_ctl_create(&run) != 0)
        goto out_json;
    if (run_signals_install() != 0)
        goto out_ctl;
    exit_status = run_execute(&run);
    run_signals_restore();
out_ctl:
    if (run.agent != NULL)
        run_agent_finish(run.agent, 0);
    run_free(&run);
    ctl_detach(run.ctl);
    close(run.ctl_fd);
out_json:
    if (run.stats_json != NULL)
        fclose(run.stats_json);
    return exit_status;
}
