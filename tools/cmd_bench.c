/*
 * cmd_bench — `ariadne bench`: Ariadne's microbenchmarks beside MPI
 * one-sided (OpenMPI), OpenSHMEM (OpenMPI's oshmem) and the physical
 * limits of this host, in one run.
 *
 * For each figure it runs, --reps times each: the Ariadne side under
 * `ariadne run -n N` (bench/ari_bench.c, or the examples gemm and
 * kvstore), the MPI peer under mpirun, the SHMEM peer under oshrun and the
 * limits program, each a child process in a process group of its own,
 * killed past --timeout. The programs print their samples as @bench lines
 * (bench/bench.h); this merges them per (figure, variant, system), takes
 * the median and the 99th percentile, and holds every Ariadne row against
 * the peers' and the limit's. A peer that is not installed is skipped with
 * a line saying how to install it; nothing is ever installed from here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../bench/bench.h"
#include "bench_plot.h"
#include "tool.h"

#define BENCH_NODES_DEFAULT 2
#define BENCH_NODES_MAX 64
#define BENCH_REPS_DEFAULT 3
#define BENCH_REPS_MAX 100
#define BENCH_ITERS_MAX 10000000L
#define BENCH_TIMEOUT_S_DEFAULT 300
#define BENCH_TIMEOUT_S_MAX 86400
/* After a program's process exits, how long its pipes may stay open (a
 * process that left its group) before they are no longer read. */
#define BENCH_DRAIN_MS 2000
/* Output of one program kept; the rest is read and dropped. */
#define BENCH_OUTPUT_MAX (16u << 20)
#define BENCH_NAME_MAX 32
#define BENCH_REASON_MAX 512
#define BENCH_INSTALL "apt-get install openmpi-bin libopenmpi-dev"
/* Where the programs write their sample lines (bench.h, bench_stream). */
#define BENCH_OUTPUT_ENV "ARI_BENCH_OUTPUT"

_Static_assert(BENCH_NODES_MAX <= PLOT_POINTS_MAX, "a lock line has a point per contender");

/* ------------------------------------------------------------------------
 * Systems and figures
 * ------------------------------------------------------------------------ */

typedef enum { SYS_ARIADNE, SYS_MPI, SYS_SHMEM, SYS_LIMIT, SYS_COUNT } bench_system_t;

static const char *const bench_system_names[SYS_COUNT] = {"ariadne", "mpi", "shmem", "limit"};

typedef struct {
    const char *name;
    const char *title;
    bool iters;                    /* --iters applies (a latency loop) */
    const char *setup[SYS_COUNT];  /* who does what, who spins, who sleeps */
} bench_figure_t;

static const bench_figure_t bench_figures[] = {
    {"fetch-add", "remote fetch-and-add latency, node 1 -> node 0", true,
     {"node 1 calls ari_fetch_add_u64 back to back on a word node 0 owns; node 0's "
      "application waits in ari_barrier, driving node 0's DPU (one thread spins, yielding "
      "each turn, while requests keep coming; it sleeps after 50 us without work)",
      "rank 1: MPI_Fetch_and_op(MPI_SUM) + MPI_Win_flush in an MPI_Win_lock_all epoch, back to "
      "back; rank 0 spins in MPI_Barrier (osc ucx)",
      "PE 1: shmem_ulong_atomic_fetch_add back to back; PE 0 spins in shmem_barrier_all; the "
      "atomic is PE 1's CPU's own, on PE 0's heap mapped into it",
      "one cache-line round trip: two threads pinned to two CPUs ping-pong a line, both "
      "spinning"}},
    {"cas", "remote compare-and-swap latency, node 1 -> node 0", true,
     {"node 1 calls ari_cas_u64 back to back (each succeeds); node 0 waits in ari_barrier, "
      "driving its DPU",
      "rank 1: MPI_Compare_and_swap + MPI_Win_flush; rank 0 spins in MPI_Barrier",
      "PE 1: shmem_ulong_atomic_compare_swap; PE 0 spins in shmem_barrier_all",
      "one cache-line round trip between two pinned, spinning threads"}},
    {"store", "remote store latency to acknowledgement, node 1 -> node 0", true,
     {"store: node 1 calls ari_store of 8 bytes + ari_flush (it returns when node 0 has "
      "ordered the write); node 0 waits in ari_barrier. plain-store: node 1's plain 8-byte "
      "stores over 256 KiB of node 0's pages, already open for writing (ns per store)",
      "rank 1: MPI_Put of 8 bytes + MPI_Win_flush; rank 0 spins in MPI_Barrier",
      "PE 1: shmem_putmem of 8 bytes + shmem_quiet; PE 0 spins in shmem_barrier_all",
      "store: one cache-line round trip; plain-store: plain 8-byte stores over 256 KiB of a "
      "shared memfd mapping (ns per store)"}},
    {"get", "remote read latency, node 1 -> node 0", true,
     {"get: node 1 calls ari_get of 8 bytes (answered by the owner); node 0 waits in "
      "ari_barrier. replica-load: node 1's plain 8-byte loads over 256 KiB of its replica "
      "of node 0's pages (ns per load)",
      "rank 1: MPI_Get of 8 bytes + MPI_Win_flush; rank 0 spins in MPI_Barrier",
      "PE 1: shmem_getmem of 8 bytes; PE 0 spins in shmem_barrier_all",
      "get: one cache-line round trip; replica-load: plain 8-byte loads over 256 KiB of a "
      "shared memfd mapping (ns per load)"}},
    {"propagation", "write propagation delay: the owner writes, a remote replica sees it", true,
     {"nodes 0 and 1 take turns writing the next number into a word on a page each owns "
      "(ari_store; or a plain store + ari_flush), which the other polls on its replica with "
      "plain loads, yielding the CPU between polls; half a round trip",
      "ranks 0 and 1 take turns: MPI_Put + MPI_Win_flush into the other's window, which "
      "polls its own with plain loads and MPI_Win_sync, yielding; half a round trip",
      "PEs 0 and 1 take turns: shmem_putmem + shmem_quiet into the other's word, which polls "
      "it with plain loads, yielding; half a round trip",
      "half a cache-line round trip between two pinned, spinning threads"}},
    {"read-cold", "cold sequential read bandwidth of 64 MiB another node owns", false,
     {"node 0 writes 64 MiB with ari_store; node 1 reads it with plain loads, every page a "
      "first touch (a fault fetches a run of 64 pages); 4k: 4 KiB pages; 2m: ARI_HUGE 2 MiB "
      "pages; node 0 waits in ari_barrier",
      "rank 1: one MPI_Get of rank 0's 64 MiB + MPI_Win_flush, into memory not touched before",
      "PE 1: one shmem_getmem of PE 0's 64 MiB into memory not touched before",
      "memcpy of 64 MiB between two buffers already touched, one thread"}},
    {"ownership", "ownership transfer latency: a page moves to the node that touches it", true,
     {"nodes 0 and 1 take an ARI_OWNERSHIP page from each other in turns, each turn after a "
      "barrier and a 200 us pause (the other's hold has ended; its DPU has gone to sleep and "
      "the transfer wakes it); fault: a plain store that faults; pinned: ari_acquire + store "
      "+ ari_release",
      "no equivalent: MPI window memory stays at the rank that allocated it",
      "no equivalent: symmetric memory stays at its PE",
      "one cache-line round trip between two pinned, spinning threads"}},
    {"mutex", "mutex: handoff latency, and throughput against contenders", true,
     {"ari_mutex on a page node 0 owns; the critical section reads and writes 3 words of "
      "another page of node 0's with plain loads and stores. uncontended: node 1 alone, the "
      "others in ari_barrier; contenders-C: C nodes (node 1 first) do ITERS sections each, "
      "the rest wait in ari_barrier; handoff: from the holder's last write to the next "
      "holder (another node) having the lock and the words, all nodes contending in turns "
      "(a node that finds it held the lock last lets it go and retries after a backoff "
      "from 200 ns)",
      "MPI_Win_lock(MPI_LOCK_EXCLUSIVE) on rank 0 + MPI_Get and MPI_Put of the 3 words + "
      "MPI_Win_unlock; otherwise the same (MPI_Barrier for the others)",
      "shmem_set_lock + shmem_getmem and shmem_putmem of the 3 words on PE 0 + "
      "shmem_clear_lock; otherwise the same",
      "threads of one process: a test-and-test-and-set spin lock and the same 3 words, the "
      "same rounds"}},
    {"barrier", "barrier latency, every node", true,
     {"ari_barrier back to back on every node (flush, publish write notices, arrive, read "
      "the others' notices); every node's samples",
      "MPI_Barrier back to back, every rank spinning", "shmem_barrier_all back to back",
      "a sense-reversing spin barrier of N pinned threads"}},
    {"gemm", "blocked matrix multiply throughput, 512 x 512 doubles in 64 x 64 blocks", false,
     {"examples/gemm --size 512 --block 64: each node computes the blocks of C in its own "
      "pages, reading A and B with plain loads (replicas) and storing C; GFLOP/s of the "
      "multiply, barrier to barrier",
      "the same blocks in windows; each rank gets every block of A and B it needs once "
      "(MPI_Get + flush) and keeps it; the same kernel",
      "the same with shmem_getmem",
      "N threads on one process's memory, the same kernel and blocks, caches warm (the second "
      "of two multiplies is timed)"}},
    {"kvstore", "key-value store throughput: 95% reads, updates under a lock", false,
     {"examples/kvstore --ops 50000: 8192 keys in 256 one-page buckets spread over the nodes; "
      "reads are plain loads on replicas without a lock, updates plain stores under the "
      "bucket's ari_mutex; operations per second of all nodes",
      "the table in windows: a read is MPI_Win_lock(SHARED) + MPI_Get of the bucket; an "
      "update MPI_Win_lock(EXCLUSIVE) on the bucket's rank + get + put of the entry",
      "a read is shmem_getmem of the bucket; an update takes the bucket's shmem_set_lock, "
      "gets it and puts the entry back",
      "N threads on one process's memory: reads without a lock, updates under a per-bucket "
      "spin lock"}},
};

#define BENCH_FIGURES (sizeof bench_figures / sizeof bench_figures[0])

/* The peers' and the limit's variant an Ariadne variant is held against,
 * where the names differ; every other variant is held against the same
 * name. NULL: nothing of that kind compares. */
typedef struct {
    const char *figure, *variant, *peer, *limit;
} bench_pair_t;

static const bench_pair_t bench_pairs[] = {
    {"store", "plain-store", NULL, "plain-store"},
    {"get", "replica-load", NULL, "replica-load"},
    {"propagation", "ari_store", "put", "one-way"},
    {"propagation", "store+flush", "put", "one-way"},
    {"read-cold", "4k", "get", "memcpy"},
    {"read-cold", "2m", "get", "memcpy"},
    {"ownership", "fault", NULL, "round-trip"},
    {"ownership", "pinned", NULL, "round-trip"},
};

/* ------------------------------------------------------------------------
 * Rows: one per (figure, system, variant), the samples of every run
 * ------------------------------------------------------------------------ */

typedef enum { ROW_OK, ROW_SKIPPED, ROW_FAILED } bench_status_t;

typedef struct {
    size_t figure;
    bench_system_t system;
    char variant[BENCH_NAME_MAX];
    char unit[BENCH_NAME_MAX];
    bench_status_t status;
    char reason[BENCH_REASON_MAX];
    double *values; /* ascending once finished */
    size_t count, capacity;
    uint64_t samples;
    double median, p99;
    double vs[SYS_COUNT]; /* Ariadne rows: the ratio to each system; NAN: none */
} bench_row_t;

typedef struct {
    bench_row_t *rows;
    size_t count, capacity;
} bench_table_t;

static bench_row_t *bench_row_find(bench_table_t *t, size_t figure, bench_system_t system,
                                   const char *variant)
{
    for (size_t i = 0; i < t->count; i++) {
        bench_row_t *r = &t->rows[i];
        if (r->figure == figure && r->system == system && strcmp(r->variant, variant) == 0)
            return r;
    }
    return NULL;
}

static bench_row_t *bench_row_add(bench_table_t *t, size_t figure, bench_system_t system,
                                  const char *variant)
{
    bench_row_t *r = bench_row_find(t, figure, system, variant);
    if (r != NULL)
        return r;
    if (t->count == t->capacity) {
        size_t capacity = t->capacity ? 2 * t->capacity : 64;
        bench_row_t *rows = realloc(t->rows, capacity * sizeof *rows);
        if (rows == NULL)
            return NULL;
        t->rows = rows;
        t->capacity = capacity;
    }
    r = &t->rows[t->count++];
    memset(r, 0, sizeof *r);
    r->figure = figure;
    r->system = system;
    snprintf(r->variant, sizeof r->variant, "%s", variant);
    for (int s = 0; s < SYS_COUNT; s++)
        r->vs[s] = NAN;
    return r;
}

static int bench_row_push(bench_row_t *r, double value)
{
    if (r->count == r->capacity) {
        size_t capacity = r->capacity ? 2 * r->capacity : 256;
        double *values = realloc(r->values, capacity * sizeof *values);
        if (values == NULL)
            return -1;
        r->values = values;
        r->capacity = capacity;
    }
    r->values[r->count++] = value;
    return 0;
}

/* A row that says why there is nothing to show. */
static void bench_row_note(bench_table_t *t, size_t figure, bench_system_t system,
                           const char *variant, bench_status_t status, const char *reason)
{
    bench_row_t *r = bench_row_add(t, figure, system, variant);
    if (r == NULL || r->status == ROW_FAILED)
        return;
    r->status = status;
    snprintf(r->reason, sizeof r->reason, "%s", reason);
}

static void bench_table_free(bench_table_t *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->rows[i].values);
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* Whether a bigger number is better: rates, not times. */
static bool bench_unit_rate(const char *unit) { return strcmp(unit, "ns") != 0; }

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

typedef struct {
    int nodes;
    int reps;
    long iters;          /* 0: each figure's own */
    int timeout_s;
    bool json;
    const char *csv;
    const char *plot;
    bool only[BENCH_FIGURES];
} bench_options_t;

static void bench_usage(FILE *out)
{
    fprintf(out,
            "usage: ariadne bench [--nodes N] [--only NAME,...] [--reps R] [--iters N]\n"
            "                     [--json] [--csv FILE] [--plot DIR]\n"
            "\n"
            "Measures Ariadne on N nodes of this host beside MPI one-sided (OpenMPI, osc ucx),\n"
            "OpenSHMEM (OpenMPI's oshmem) and this machine's physical limits, all in this run,\n"
            "and prints for each figure the median and the 99th percentile of every sample,\n"
            "with Ariadne's ratio to each peer and limit. What each figure does, and who\n"
            "spins and who sleeps, is printed with it (docs/PERFORMANCE.md explains them).\n"
            "\n"
            "figures:\n");
    for (size_t f = 0; f < BENCH_FIGURES; f++)
        fprintf(out, "  %-12s %s\n", bench_figures[f].name, bench_figures[f].title);
    fprintf(out,
            "\n"
            "options:\n"
            "  --nodes N      nodes (MPI ranks, SHMEM PEs, limit threads), 2 to %d (default %d;\n"
            "                 more busy processes than cores measures the scheduler, not us)\n"
            "  --only LIST    only these figures, comma-separated (default: all)\n"
            "  --reps R       runs of each program per figure, 1 to %d (default %d)\n"
            "  --iters N      samples per run of the latency figures (default: each figure's)\n"
            "  --timeout S    seconds one run may take before it is killed and its figure\n"
            "                 reported as failed (default %d)\n"
            "  --json         print the rows as JSON on stdout instead of the tables\n"
            "  --csv FILE     also write the rows as CSV to FILE\n"
            "  --plot DIR     also write SVG charts into DIR (created if missing): latency\n"
            "                 CDFs, bandwidth and throughput bars, lock throughput against\n"
            "                 contenders\n"
            "  -h, --help     this text\n"
            "\n"
            "Every row names its system: ariadne, mpi, shmem or limit. 'vs X' is Ariadne's\n"
            "median against X's: how many times longer Ariadne takes (latencies) or how many\n"
            "times less it does per second (rates); below 1, Ariadne is ahead. p99 is the\n"
            "99th percentile of a latency, and the slow tail of a rate (99%% of samples were\n"
            "at least that fast). Nothing is asserted about speed; exit status 1 means a\n"
            "run failed (its figure says why), 2 a bad argument.\n"
            "\n"
            "The programs are found next to this command, in its build tree: bench/ari_bench,\n"
            "bench/limits, bench/mpi_bench, bench/shmem_bench, examples/gemm, examples/kvstore\n"
            "('make bench-progs' builds them). The MPI and OpenSHMEM peers need OpenMPI\n"
            "(Debian: %s, then make bench-progs); where it is\n"
            "missing they are skipped with a line saying so. Nothing is installed from here.\n"
            "\n"
            "examples: ariadne bench\n"
            "          ariadne bench --only fetch-add,mutex --reps 5 --plot plots\n"
            "          ariadne bench --nodes 2 --json > bench.json\n",
            BENCH_NODES_MAX, BENCH_NODES_DEFAULT, BENCH_REPS_MAX, BENCH_REPS_DEFAULT,
            BENCH_TIMEOUT_S_DEFAULT, BENCH_INSTALL);
}

static int bench_parse_long(const char *name, const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '+' || text[0] == ' ' ||
        value < min || value > max) {
        fprintf(stderr, "ariadne bench: %s needs a whole number from %ld to %ld, not '%s'\n",
                name, min, max, text);
        return -1;
    }
    *out = value;
    return 0;
}

static int bench_figure_index(const char *name, size_t length)
{
    for (size_t f = 0; f < BENCH_FIGURES; f++)
        if (strlen(bench_figures[f].name) == length &&
            strncmp(bench_figures[f].name, name, length) == 0)
            return (int)f;
    return -1;
}

static int bench_parse_only(const char *list, bench_options_t *o)
{
    memset(o->only, 0, sizeof o->only);
    for (const char *at = list;; at++) {
        size_t length = strcspn(at, ",");
        int f = bench_figure_index(at, length);
        if (f < 0) {
            fprintf(stderr, "ariadne bench: --only: no figure '%.*s'; the figures are:",
                    (int)length, at);
            for (size_t i = 0; i < BENCH_FIGURES; i++)
                fprintf(stderr, "%s %s", i ? "," : "", bench_figures[i].name);
            fprintf(stderr, "\n");
            return -1;
        }
        o->only[f] = true;
        at += length;
        if (*at == 0)
            return 0;
    }
}

enum { OPT_NODES = 1000, OPT_ONLY, OPT_REPS, OPT_ITERS, OPT_TIMEOUT, OPT_JSON, OPT_CSV,
       OPT_PLOT };

static const struct option bench_long_options[] = {
    {"nodes", required_argument, NULL, OPT_NODES},
    {"only", required_argument, NULL, OPT_ONLY},
    {"reps", required_argument, NULL, OPT_REPS},
    {"iters", required_argument, NULL, OPT_ITERS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"csv", required_argument, NULL, OPT_CSV},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bench_parse_option(int option, const char *arg, bench_options_t *o)
{
    long n;
    switch (option) {
    case OPT_NODES:
        if (bench_parse_long("--nodes", arg, 2, BENCH_NODES_MAX, &n) != 0)
            return -1;
        o->nodes = (int)n;
        return 0;
    case OPT_REPS:
        if (bench_parse_long("--reps", arg, 1, BENCH_REPS_MAX, &n) != 0)
            return -1;
        o->reps = (int)n;
        return 0;
    case OPT_ITERS:
        return bench_parse_long("--iters", arg, 10, BENCH_ITERS_MAX, &o->iters);
    case OPT_TIMEOUT:
        if (bench_parse_long("--timeout", arg, 1, BENCH_TIMEOUT_S_MAX, &n) != 0)
            return -1;
        o->timeout_s = (int)n;
        return 0;
    case OPT_ONLY: return bench_parse_only(arg, o);
    case OPT_JSON: o->json = true; return 0;
    case OPT_CSV: o->csv = arg; return 0;
    case OPT_PLOT: o->plot = arg; return 0;
    default: return -1; /* NEVER: getopt only returns the options above */
    }
}

/* Returns -1 when the options are fine, else the exit status. */
static int bench_parse_options(int argc, char **argv, bench_options_t *o)
{
    *o = (bench_options_t){.nodes = BENCH_NODES_DEFAULT, .reps = BENCH_REPS_DEFAULT,
                           .timeout_s = BENCH_TIMEOUT_S_DEFAULT};
    for (size_t f = 0; f < BENCH_FIGURES; f++)
        o->only[f] = true;
    int option;
    optind = 0; /* 0, not 1: GNU getopt then starts afresh (tests call this many times) */
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":h", bench_long_options, NULL)) != -1) {
        if (option == 'h') {
            bench_usage(stdout);
            return 0;
        } else if (option == ':') {
            fprintf(stderr, "ariadne bench: %s needs a value (see 'ariadne bench --help')\n",
                    argv[optind - 1]);
            return 2;
        } else if (option == '?') {
            fprintf(stderr, "ariadne bench: unknown option '%s' (see 'ariadne bench --help')\n",
                    argv[optind - 1]);
            return 2;
        } else if (bench_parse_option(option, optarg, o) != 0) {
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ariadne bench: unexpected argument '%s' (see 'ariadne bench --help')\n",
                argv[optind]);
        return 2;
    }
    return -1;
}

/* ------------------------------------------------------------------------
 * The programs: next to this command's binary, peers' launchers on PATH
 * ------------------------------------------------------------------------ */

typedef struct {
    char dir[PATH_MAX];
    char ariadne[PATH_MAX], ari_bench[PATH_MAX], limits[PATH_MAX];
    char gemm[PATH_MAX], kvstore[PATH_MAX];
    char peer[SYS_COUNT][PATH_MAX];     /* mpi_bench, shmem_bench */
    char launcher[SYS_COUNT][PATH_MAX]; /* mpirun, oshrun */
    char skip[SYS_COUNT][BENCH_REASON_MAX]; /* why a peer is skipped; "" when it runs */
} bench_programs_t;

static bool bench_executable(const char *path) { return access(path, X_OK) == 0; }

/* dir + tail into out (PATH_MAX bytes), cut short if too long (such a
 * path is then simply not found). */
static void bench_join(char *out, const char *dir, const char *tail)
{
    size_t dir_length = strnlen(dir, PATH_MAX - 1);
    size_t tail_length = strnlen(tail, PATH_MAX - 1 - dir_length);
    memmove(out, dir, dir_length);
    memcpy(out + dir_length, tail, tail_length);
    out[dir_length + tail_length] = 0;
}

/* The first executable NAME on PATH, into out; false when there is none. */
static bool bench_on_path(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *at = path;; at++) {
        size_t length = strcspn(at, ":");
        snprintf(out, size, "%.*s/%s", (int)length, length ? at : ".", name);
        if (bench_executable(out))
            return true;
        at += length;
        if (*at == 0)
            return false;
    }
}

static void bench_find_peer(bench_programs_t *p, bench_system_t system, const char *launcher,
                            const char *compiler, const char *program, const char *what)
{
    char tail[64];
    snprintf(tail, sizeof tail, "/bench/%s", program);
    bench_join(p->peer[system], p->dir, tail);
    char compiler_path[PATH_MAX];
    if (!bench_on_path(launcher, p->launcher[system], PATH_MAX))
        snprintf(p->skip[system], BENCH_REASON_MAX, "%s is not installed (no %s on PATH); to "
                 "compare with it: %s, then make bench-progs", what, launcher, BENCH_INSTALL);
    else if (!bench_executable(p->peer[system]))
        snprintf(p->skip[system], BENCH_REASON_MAX, "bench/%s was not built; run make "
                 "bench-progs%s", program,
                 bench_on_path(compiler, compiler_path, sizeof compiler_path)
                     ? "" : " (it needs " BENCH_INSTALL ")");
}

/* Fills p; returns 0, or -1 after saying what is missing. */
static int bench_find_programs(bench_programs_t *p)
{
    memset(p, 0, sizeof *p);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "ariadne bench: cannot tell where this command is (/proc/self/exe): %s\n",
                strerror(errno));
        return -1;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = 0;
    bench_join(p->dir, self, "");
    bench_join(p->ariadne, p->dir, "/ariadne");
    bench_join(p->ari_bench, p->dir, "/bench/ari_bench");
    bench_join(p->limits, p->dir, "/bench/limits");
    bench_join(p->gemm, p->dir, "/examples/gemm");
    bench_join(p->kvstore, p->dir, "/examples/kvstore");
    const char *needed[] = {p->ariadne, p->ari_bench, p->limits, p->gemm, p->kvstore};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        if (!bench_executable(needed[i])) {
            fprintf(stderr, "ariadne bench: %s not found. The bench runs its programs from the "
                    "build tree of the ariadne command (%s); build them there with 'make "
                    "bench-progs'\n", needed[i], p->dir);
            return -1;
        }
    }
    bench_find_peer(p, SYS_MPI, "mpirun", "mpicc", "mpi_bench", "OpenMPI");
    bench_find_peer(p, SYS_SHMEM, "oshrun", "oshcc", "shmem_bench", "OpenSHMEM (OpenMPI's oshmem)");
    return 0;
}

/* ------------------------------------------------------------------------
 * Running a program: a process group of its own, both outputs captured,
 * killed whole past the deadline
 * ------------------------------------------------------------------------ */

typedef struct {
    char *text;
    size_t length, capacity;
    bool open;
} bench_buffer_t;

typedef struct {
    int status;      /* exit status, 128 + signal, or -1 when it could not run */
    bool timed_out;
    bench_buffer_t out, err;
} bench_child_t;

static volatile sig_atomic_t bench_child_group;

/* SIGINT/SIGTERM while a program runs: its whole group goes too. */
static void bench_on_signal(int sig)
{
    if (bench_child_group > 0)
        kill(-(pid_t)bench_child_group, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static double bench_now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void bench_read_into(int fd, bench_buffer_t *b)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) {
        b->open = n < 0 && (errno == EINTR || errno == EAGAIN);
        return;
    }
    if (b->length + (size_t)n + 1 > b->capacity && b->length + (size_t)n < BENCH_OUTPUT_MAX) {
        size_t capacity = (b->length + (size_t)n + 1) * 2;
        char *text = realloc(b->text, capacity);
        if (text == NULL)
            return;
        b->text = text;
        b->capacity = capacity;
    }
    if (b->length + (size_t)n + 1 <= b->capacity) {
        memcpy(b->text + b->length, chunk, (size_t)n);
        b->length += (size_t)n;
        b->text[b->length] = 0;
    }
}

/* In the child: never returns. */
static void bench_exec(char *const *argv, const char *const *env, int out, int err)
{
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC); /* only its copy on stdin stays */
    if (null >= 0)
        dup2(null, STDIN_FILENO);
    for (; env != NULL && *env != NULL; env++)
        putenv((char *)*env);
    execv(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Reads both pipes until they close, the child is reaped and the drain
 * time has passed, or the deadline: then the group is killed. */
static void bench_wait(pid_t pid, int fds[2], bench_buffer_t *bufs[2], double deadline,
                       bench_child_t *child)
{
    int status = 0;
    bool reaped = false;
    double drain_end = 0;
    while (bufs[0]->open || bufs[1]->open || !reaped) {
        double now = bench_now_s();
        if (!reaped && now > deadline) {
            child->timed_out = true;
            kill(-pid, SIGKILL);
            deadline = INFINITY;
        }
        if (reaped && drain_end == 0)
            drain_end = now + BENCH_DRAIN_MS / 1e3;
        if (reaped && now > drain_end)
            break;
        struct pollfd p[2] = {{bufs[0]->open ? fds[0] : -1, POLLIN, 0},
                              {bufs[1]->open ? fds[1] : -1, POLLIN, 0}};
        if (poll(p, 2, 20) > 0)
            for (int i = 0; i < 2; i++)
                if (p[i].revents != 0)
                    bench_read_into(fds[i], bufs[i]);
        if (!reaped && waitpid(pid, &status, WNOHANG) == pid)
            reaped = true;
    }
    kill(-pid, SIGKILL); /* whatever of the group is left */
    child->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void bench_run_child(char *const *argv, const char *const *env, double timeout_s,
                            bench_child_t *child)
{
    memset(child, 0, sizeof *child);
    child->status = -1;
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return;
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        bench_exec(argv, env, out[1], err[1]);
    close(out[1]);
    close(err[1]);
    if (pid > 0) {
        setpgid(pid, pid);
        bench_child_group = pid;
        child->out.open = child->err.open = true;
        int fds[2] = {out[0], err[0]};
        bench_buffer_t *bufs[2] = {&child->out, &child->err};
        bench_wait(pid, fds, bufs, bench_now_s() + timeout_s, child);
        bench_child_group = 0;
    }
    close(out[0]);
    close(err[0]);
}

static void bench_child_free(bench_child_t *child)
{
    free(child->out.text);
    free(child->err.text);
}

/* ------------------------------------------------------------------------
 * Reading what the programs print
 * ------------------------------------------------------------------------ */

/* "@bench FIGURE VARIANT UNIT COUNT V..." anywhere in a line (after a
 * launcher's prefix); adds it to the table. */
static void bench_parse_sample_line(const char *at, bench_table_t *t, size_t figure,
                                    bench_system_t system)
{
    char name[BENCH_NAME_MAX], variant[BENCH_NAME_MAX], unit[BENCH_NAME_MAX];
    unsigned long long count;
    int used = 0;
    if (sscanf(at, "@bench %31s %31s %31s %llu%n", name, variant, unit, &count, &used) != 4 ||
        strcmp(name, bench_figures[figure].name) != 0)
        return;
    bench_row_t *r = bench_row_add(t, figure, system, variant);
    if (r == NULL)
        return;
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->samples += count;
    const char *cursor = at + used;
    for (;;) {
        char *end;
        double v = strtod(cursor, &end);
        if (end == cursor || !isfinite(v))
            break;
        if (bench_row_push(r, v) != 0)
            break;
        cursor = end;
    }
}

static void bench_parse_skip_line(const char *at, bench_table_t *t, size_t figure,
                                  bench_system_t system)
{
    char name[BENCH_NAME_MAX], variant[BENCH_NAME_MAX];
    int used = 0;
    if (sscanf(at, "@skip %31s %31s %n", name, variant, &used) < 2 || used == 0 ||
        strcmp(name, bench_figures[figure].name) != 0)
        return;
    char reason[BENCH_REASON_MAX];
    snprintf(reason, sizeof reason, "%.*s", (int)strcspn(at + used, "\n"), at + used);
    bench_row_note(t, figure, system, variant, ROW_SKIPPED, reason);
}

static void bench_parse_output(const char *text, bench_table_t *t, size_t figure,
                               bench_system_t system)
{
    for (const char *line = text; line != NULL && *line; ) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        char *copy = strndup(line, length);
        if (copy != NULL) {
            char *at;
            if ((at = strstr(copy, "@bench ")) != NULL)
                bench_parse_sample_line(at, t, figure, system);
            else if ((at = strstr(copy, "@skip ")) != NULL)
                bench_parse_skip_line(at, t, figure, system);
            free(copy);
        }
        line = end ? end + 1 : NULL;
    }
}

/* An example's own report: the number before `key` on node 0's line. */
static void bench_parse_example(const char *text, const char *key, bench_table_t *t,
                                size_t figure)
{
    const char *name = bench_figures[figure].name;
    for (const char *at = strstr(text, key); at != NULL; at = strstr(at + 1, key)) {
        const char *start = at;
        while (start > text && (start[-1] == ' ' || start[-1] == '.' ||
                                (start[-1] >= '0' && start[-1] <= '9')))
            start--;
        double value = strtod(start, NULL);
        if (value > 0) {
            bench_row_t *r = bench_row_add(t, figure, SYS_ARIADNE, name);
            if (r == NULL || bench_row_push(r, value) != 0)
                return;
            snprintf(r->unit, sizeof r->unit, "%s", key);
            r->samples++;
            return;
        }
    }
    char reason[BENCH_REASON_MAX];
    snprintf(reason, sizeof reason, "examples/%s printed no '%s' figure", name, key);
    bench_row_note(t, figure, SYS_ARIADNE, "-", ROW_FAILED, reason);
}

/* ------------------------------------------------------------------------
 * One figure on one system
 * ------------------------------------------------------------------------ */

#define BENCH_ARGS_MAX 24

typedef struct {
    char *argv[BENCH_ARGS_MAX];
    int argc;
    char nodes[16], iters[24], timeout_ms[24], size[16], block[16], ops[16];
} bench_command_t;

static void bench_arg_add(bench_command_t *c, const char *arg)
{
    if (c->argc < BENCH_ARGS_MAX - 1)
        c->argv[c->argc++] = (char *)arg;
    c->argv[c->argc] = NULL;
}

static void bench_command(bench_command_t *c, const bench_programs_t *p,
                          const bench_options_t *o, size_t figure, bench_system_t system)
{
    const char *name = bench_figures[figure].name;
    memset(c, 0, sizeof *c);
    snprintf(c->nodes, sizeof c->nodes, "%d", o->nodes);
    snprintf(c->iters, sizeof c->iters, "%ld", bench_figures[figure].iters ? o->iters : 0);
    snprintf(c->timeout_ms, sizeof c->timeout_ms, "%d", o->timeout_s * 1000);
    if (system == SYS_LIMIT) {
        const char *args[] = {p->limits, name, c->nodes, c->iters};
        for (size_t i = 0; i < 4; i++)
            bench_arg_add(c, args[i]);
        return;
    }
    if (system == SYS_ARIADNE) {
        const char *args[] = {p->ariadne, "run", "-n", c->nodes, "--timeout-ms", c->timeout_ms};
        for (size_t i = 0; i < 6; i++)
            bench_arg_add(c, args[i]);
        /* The examples with the sizes the peers and the limit use (bench.h). */
        snprintf(c->size, sizeof c->size, "%u", BENCH_GEMM_SIZE);
        snprintf(c->block, sizeof c->block, "%u", BENCH_GEMM_BLOCK);
        snprintf(c->ops, sizeof c->ops, "%u", BENCH_KV_OPS);
        if (strcmp(name, "gemm") == 0) {
            const char *gemm[] = {p->gemm, "--size", c->size, "--block", c->block};
            for (size_t i = 0; i < 5; i++)
                bench_arg_add(c, gemm[i]);
        } else if (strcmp(name, "kvstore") == 0) {
            const char *kvstore[] = {p->kvstore, "--ops", c->ops};
            for (size_t i = 0; i < 3; i++)
                bench_arg_add(c, kvstore[i]);
        } else {
            bench_arg_add(c, p->ari_bench);
            bench_arg_add(c, name);
            bench_arg_add(c, c->iters);
        }
        return;
    }
    /* mpirun and oshrun, passing on where the samples go. */
    const char *args[] = {p->launcher[system], "--tag-output", "-x", BENCH_OUTPUT_ENV,
                          "--mca", "osc", system == SYS_MPI ? "ucx" : "^rdma", "-n", c->nodes};
    for (size_t i = 0; i < 9; i++)
        bench_arg_add(c, args[i]);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (o->nodes > cpus)
        bench_arg_add(c, "--oversubscribe");
    bench_arg_add(c, p->peer[system]);
    bench_arg_add(c, name);
    bench_arg_add(c, c->iters);
}

/* The last line of a program's stderr that says something, for a report. */
static void bench_last_line(const char *text, char *out, size_t size)
{
    const char *best = "";
    size_t best_length = 0;
    for (const char *line = text; line != NULL && *line;) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        if (length > 0) {
            best = line;
            best_length = length;
        }
        line = end ? end + 1 : NULL;
    }
    snprintf(out, size, "%.*s", (int)(best_length < 300 ? best_length : 300), best);
}

static char *bench_slurp(const char *path)
{
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return NULL;
    char *text = NULL;
    long size = fseek(file, 0, SEEK_END) == 0 ? ftell(file) : -1;
    if (size >= 0 && (text = malloc((size_t)size + 1)) != NULL) {
        rewind(file);
        text[fread(text, 1, (size_t)size, file)] = 0;
    }
    fclose(file);
    return text;
}

/* Parses (when `parse`) and removes every sample file in dir, then dir. */
static void bench_collect(const char *dir, bench_table_t *t, size_t figure,
                          bench_system_t system, bool parse)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%.200s", dir, e->d_name);
        char *text = parse ? bench_slurp(path) : NULL;
        if (text != NULL)
            bench_parse_output(text, t, figure, system);
        free(text);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

/* One run of one system's program for one figure; false when it failed. */
static bool bench_run_once(const bench_programs_t *p, const bench_options_t *o,
                           bench_table_t *t, size_t figure, bench_system_t system)
{
    char dir[] = "/tmp/ariadne-bench-XXXXXX", output[64];
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "ariadne bench: cannot make a directory in /tmp: %s\n", strerror(errno));
        bench_row_note(t, figure, system, "-", ROW_FAILED, "no directory for the samples");
        return false;
    }
    snprintf(output, sizeof output, BENCH_OUTPUT_ENV "=%s", dir);
    /* mpirun refuses root without these; harmless otherwise. */
    const char *env[] = {output, "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                         NULL};
    bench_command_t c;
    bench_command(&c, p, o, figure, system);
    bench_child_t child;
    bench_run_child(c.argv, env, o->timeout_s, &child);
    const char *out = child.out.text ? child.out.text : "";
    bool ok = child.status == 0 && !child.timed_out;
    bench_collect(dir, t, figure, system, ok);
    if (ok && system == SYS_ARIADNE && strcmp(bench_figures[figure].name, "gemm") == 0)
        bench_parse_example(out, "GFLOP/s", t, figure);
    else if (ok && system == SYS_ARIADNE && strcmp(bench_figures[figure].name, "kvstore") == 0)
        bench_parse_example(out, "ops/s", t, figure);
    else if (ok)
        bench_parse_output(out, t, figure, system);
    if (!ok) {
        char last[400], reason[BENCH_REASON_MAX];
        bench_last_line(child.err.text ? child.err.text : "", last, sizeof last);
        if (child.timed_out)
            snprintf(reason, sizeof reason, "%s did not finish within %d s and was killed "
                     "(--timeout)", c.argv[0], o->timeout_s);
        else
            snprintf(reason, sizeof reason, "%s exited with status %d: %s", c.argv[0],
                     child.status, last);
        bench_row_note(t, figure, system, "-", ROW_FAILED, reason);
        fprintf(stderr, "ariadne bench: %s on %s failed: %s\n", bench_figures[figure].name,
                bench_system_names[system], reason);
    }
    bench_child_free(&child);
    return ok;
}

static void bench_run_figure(const bench_programs_t *p, const bench_options_t *o,
                             bench_table_t *t, size_t figure)
{
    for (int s = 0; s < SYS_COUNT; s++) {
        if (p->skip[s][0] != 0) {
            bench_row_note(t, figure, (bench_system_t)s, "-", ROW_SKIPPED, p->skip[s]);
            continue;
        }
        for (int rep = 0; rep < o->reps; rep++)
            if (!bench_run_once(p, o, t, figure, (bench_system_t)s))
                break;
    }
}

/* ------------------------------------------------------------------------
 * Figures from samples: medians, tails, ratios
 * ------------------------------------------------------------------------ */

/* The nearest-rank quantile q of ascending values. */
static double bench_quantile(const double *values, size_t count, double q)
{
    size_t rank = (size_t)ceil(q * (double)count);
    return values[rank > 0 ? rank - 1 : 0];
}

static void bench_row_finish(bench_row_t *r)
{
    if (r->status != ROW_OK)
        return;
    if (r->count == 0) {
        r->status = ROW_FAILED;
        snprintf(r->reason, sizeof r->reason, "no samples");
        return;
    }
    qsort(r->values, r->count, sizeof r->values[0], bench_cmp_double);
    r->median = bench_quantile(r->values, r->count, 0.5);
    /* The slow tail: the 99th percentile of a time, the 1st of a rate. */
    r->p99 = bench_quantile(r->values, r->count, bench_unit_rate(r->unit) ? 0.01 : 0.99);
}

/* Where a variant goes among its figure's rows: the operation first, then
 * its plain-access form; contenders in number order before the handoffs. */
static int bench_variant_rank(const char *variant)
{
    static const char *const order[] = {"fetch-add", "cas", "store", "get", "plain-store",
                                        "replica-load", "ari_store", "store+flush", "put",
                                        "one-way", "4k", "2m", "memcpy", "fault", "pinned",
                                        "round-trip", "uncontended"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (strcmp(order[i], variant) == 0)
            return (int)i;
    int contenders;
    if (sscanf(variant, "contenders-%d", &contenders) == 1)
        return 100 + contenders;
    return 1000;
}

static int bench_row_cmp(const void *a, const void *b)
{
    const bench_row_t *x = a, *y = b;
    if (x->figure != y->figure)
        return x->figure < y->figure ? -1 : 1;
    if (x->system != y->system)
        return x->system < y->system ? -1 : 1;
    int rx = bench_variant_rank(x->variant), ry = bench_variant_rank(y->variant);
    return rx != ry ? (rx < ry ? -1 : 1) : strcmp(x->variant, y->variant);
}

/* The variant of `system` that Ariadne's `variant` is held against. */
static const char *bench_pair(const char *figure, const char *variant, bench_system_t system)
{
    for (size_t i = 0; i < sizeof bench_pairs / sizeof bench_pairs[0]; i++)
        if (strcmp(bench_pairs[i].figure, figure) == 0 &&
            strcmp(bench_pairs[i].variant, variant) == 0)
            return system == SYS_LIMIT ? bench_pairs[i].limit : bench_pairs[i].peer;
    return variant;
}

static void bench_ratios(bench_table_t *t, size_t figure)
{
    for (size_t i = 0; i < t->count; i++) {
        bench_row_t *r = &t->rows[i];
        if (r->figure != figure || r->system != SYS_ARIADNE || r->status != ROW_OK)
            continue;
        for (int s = SYS_MPI; s < SYS_COUNT; s++) {
            const char *variant =
                bench_pair(bench_figures[figure].name, r->variant, (bench_system_t)s);
            bench_row_t *other = variant ? bench_row_find(t, figure, (bench_system_t)s, variant)
                                         : NULL;
            if (other == NULL || other->status != ROW_OK || other->median <= 0 ||
                r->median <= 0 || strcmp(other->unit, r->unit) != 0)
                continue;
            r->vs[s] = bench_unit_rate(r->unit) ? other->median / r->median
                                                : r->median / other->median;
        }
    }
}

/* ------------------------------------------------------------------------
 * The table a person reads
 * ------------------------------------------------------------------------ */

static void bench_format_value(char *text, size_t size, double value, const char *unit)
{
    if (strcmp(unit, "ns") != 0 && value >= 1e6)
        snprintf(text, size, "%.3g M %s", value / 1e6, unit);
    else if (strcmp(unit, "ns") != 0 && value >= 1e4)
        snprintf(text, size, "%.3g k %s", value / 1e3, unit);
    else if (strcmp(unit, "ns") != 0)
        snprintf(text, size, value >= 100 ? "%.0f %s" : "%.3g %s", value, unit);
    else if (value < 1e3)
        snprintf(text, size, "%.3g ns", value);
    else if (value < 1e6)
        snprintf(text, size, "%.3g us", value / 1e3);
    else
        snprintf(text, size, "%.3g ms", value / 1e6);
}

static void bench_format_ratio(char *text, size_t size, double ratio)
{
    if (isnan(ratio))
        snprintf(text, size, "-");
    else
        snprintf(text, size, ratio >= 100 ? "%.0fx" : "%.2gx", ratio);
}

static void bench_print_row(FILE *out, const bench_row_t *r)
{
    if (r->status != ROW_OK) {
        fprintf(out, "  %-8s %-13s %s: %s\n", bench_system_names[r->system], r->variant,
                r->status == ROW_SKIPPED ? "skipped" : "FAILED", r->reason);
        return;
    }
    char median[32], p99[32], vs[SYS_COUNT][16];
    bench_format_value(median, sizeof median, r->median, r->unit);
    bench_format_value(p99, sizeof p99, r->p99, r->unit);
    for (int s = 0; s < SYS_COUNT; s++)
        bench_format_ratio(vs[s], sizeof vs[s], r->vs[s]);
    fprintf(out, "  %-8s %-13s %14s %14s %9llu", bench_system_names[r->system], r->variant,
            median, p99, (unsigned long long)r->samples);
    if (r->system == SYS_ARIADNE)
        fprintf(out, " %8s %8s %8s", vs[SYS_MPI], vs[SYS_SHMEM], vs[SYS_LIMIT]);
    fprintf(out, "\n");
}

static void bench_print_figure(FILE *out, const bench_table_t *t, size_t figure)
{
    const bench_figure_t *f = &bench_figures[figure];
    fprintf(out, "\n%s: %s\n", f->name, f->title);
    fprintf(out, "  %-8s %-13s %14s %14s %9s %8s %8s %8s\n", "system", "variant", "median",
            "p99", "samples", "vs mpi", "vs shmem", "vs limit");
    for (int s = 0; s < SYS_COUNT; s++)
        for (size_t i = 0; i < t->count; i++)
            if (t->rows[i].figure == figure && t->rows[i].system == (bench_system_t)s)
                bench_print_row(out, &t->rows[i]);
    for (int s = 0; s < SYS_COUNT; s++)
        fprintf(out, "  setup, %s: %s\n", bench_system_names[s], f->setup[s]);
    fflush(out);
}

/* ------------------------------------------------------------------------
 * JSON and CSV
 * ------------------------------------------------------------------------ */

static void bench_json_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void bench_json_number(FILE *out, const char *key, double value)
{
    fprintf(out, ", \"%s\": ", key);
    if (isnan(value))
        fprintf(out, "null");
    else
        fprintf(out, "%.6g", value);
}

static const char *bench_status_name(bench_status_t status)
{
    return status == ROW_OK ? "ok" : status == ROW_SKIPPED ? "skipped" : "failed";
}

static void bench_json_row(FILE *out, const bench_row_t *r)
{
    fprintf(out, "    {\"figure\": \"%s\", \"variant\": ", bench_figures[r->figure].name);
    bench_json_string(out, r->variant);
    fprintf(out, ", \"system\": \"%s\", \"status\": \"%s\"", bench_system_names[r->system],
            bench_status_name(r->status));
    if (r->status == ROW_OK) {
        fprintf(out, ", \"unit\": ");
        bench_json_string(out, r->unit);
        fprintf(out, ", \"samples\": %llu", (unsigned long long)r->samples);
        bench_json_number(out, "median", r->median);
        bench_json_number(out, "p99", r->p99);
        bench_json_number(out, "vs_mpi", r->vs[SYS_MPI]);
        bench_json_number(out, "vs_shmem", r->vs[SYS_SHMEM]);
        bench_json_number(out, "vs_limit", r->vs[SYS_LIMIT]);
        fprintf(out, ", \"setup\": ");
        bench_json_string(out, bench_figures[r->figure].setup[r->system]);
    } else {
        fprintf(out, ", \"reason\": ");
        bench_json_string(out, r->reason);
    }
    fprintf(out, "}");
}

static void bench_json(FILE *out, const bench_table_t *t, const bench_options_t *o)
{
    fprintf(out, "{\"nodes\": %d, \"reps\": %d, \"cpus\": %ld, \"rows\": [\n", o->nodes,
            o->reps, sysconf(_SC_NPROCESSORS_ONLN));
    for (size_t i = 0; i < t->count; i++) {
        bench_json_row(out, &t->rows[i]);
        fprintf(out, i + 1 < t->count ? ",\n" : "\n");
    }
    fprintf(out, "]}\n");
}

static void bench_csv_field(FILE *out, const char *text)
{
    fputc('"', out);
    for (; *text; text++) {
        if (*text == '"')
            fputc('"', out);
        fputc(*text, out);
    }
    fputc('"', out);
}

static void bench_csv_number(FILE *out, double value)
{
    if (!isnan(value))
        fprintf(out, "%.6g", value);
    fputc(',', out);
}

static int bench_csv(const char *path, const bench_table_t *t)
{
    FILE *out = fopen(path, "w");
    if (out == NULL)
        return -1;
    fprintf(out, "figure,variant,system,status,unit,samples,median,p99,vs_mpi,vs_shmem,"
                 "vs_limit,setup_or_reason\n");
    for (size_t i = 0; i < t->count; i++) {
        const bench_row_t *r = &t->rows[i];
        bool ok = r->status == ROW_OK;
        fprintf(out, "%s,", bench_figures[r->figure].name);
        bench_csv_field(out, r->variant);
        fprintf(out, ",%s,%s,%s,", bench_system_names[r->system],
                bench_status_name(r->status), ok ? r->unit : "");
        if (ok)
            fprintf(out, "%llu", (unsigned long long)r->samples);
        fputc(',', out);
        bench_csv_number(out, ok ? r->median : NAN);
        bench_csv_number(out, ok ? r->p99 : NAN);
        for (int s = SYS_MPI; s < SYS_COUNT; s++)
            bench_csv_number(out, ok ? r->vs[s] : NAN);
        bench_csv_field(out, ok ? bench_figures[r->figure].setup[r->system] : r->reason);
        fputc('\n', out);
    }
    int failed = ferror(out);
    return fclose(out) != 0 || failed ? -1 : 0;
}

/* ------------------------------------------------------------------------
 * Charts
 * ------------------------------------------------------------------------ */

#define BENCH_PLOT_SERIES PLOT_POINTS_MAX

typedef struct {
    char labels[BENCH_PLOT_SERIES][96];
    size_t count;
} bench_labels_t;

static const char *bench_label(bench_labels_t *l, const bench_row_t *r, bool with_median)
{
    char *label = l->labels[l->count++ % BENCH_PLOT_SERIES];
    char median[32];
    bench_format_value(median, sizeof median, r->median, r->unit);
    if (with_median)
        snprintf(label, sizeof l->labels[0], "%s %s (median %s)", bench_system_names[r->system],
                 r->variant, median);
    else
        snprintf(label, sizeof l->labels[0], "%s %s", bench_system_names[r->system], r->variant);
    return label;
}

/* The CDF of every latency row of one figure. */
static int bench_plot_cdf(const char *dir, const bench_table_t *t, size_t figure)
{
    plot_cdf_series_t series[BENCH_PLOT_SERIES];
    bench_labels_t labels = {.count = 0};
    size_t n = 0;
    for (size_t i = 0; i < t->count && n < BENCH_PLOT_SERIES; i++) {
        const bench_row_t *r = &t->rows[i];
        if (r->figure != figure || r->status != ROW_OK || bench_unit_rate(r->unit))
            continue;
        series[n++] = (plot_cdf_series_t){bench_system_names[r->system],
                                          bench_label(&labels, r, true), r->values, r->count};
    }
    if (n == 0)
        return 0;
    char path[PATH_MAX], title[160];
    snprintf(path, sizeof path, "%s/cdf-%s.svg", dir, bench_figures[figure].name);
    snprintf(title, sizeof title, "%s: latency CDF", bench_figures[figure].name);
    return plot_cdf(path, title, series, n);
}

/* Bars of the rate rows of some figures (all of one unit). */
static int bench_plot_bars(const char *dir, const char *file, const char *title,
                           const bench_table_t *t, const char *figure_name)
{
    plot_bar_t bars[BENCH_PLOT_SERIES];
    bench_labels_t labels = {.count = 0};
    size_t n = 0;
    const char *unit = "";
    for (size_t i = 0; i < t->count && n < BENCH_PLOT_SERIES; i++) {
        const bench_row_t *r = &t->rows[i];
        if (strcmp(bench_figures[r->figure].name, figure_name) != 0 || r->status != ROW_OK ||
            !bench_unit_rate(r->unit))
            continue;
        unit = r->unit;
        bars[n++] = (plot_bar_t){bench_system_names[r->system], bench_label(&labels, r, false),
                                 r->median, r->count > 1 ? r->p99 : 0};
    }
    if (n == 0)
        return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return plot_bars(path, title, unit, bars, n);
}

/* Lock throughput against contenders: a line per system. */
static int bench_plot_locks(const char *dir, const bench_table_t *t)
{
    plot_line_t lines[SYS_COUNT];
    size_t n = 0;
    for (int s = 0; s < SYS_COUNT; s++) {
        plot_line_t *line = &lines[n];
        memset(line, 0, sizeof *line);
        line->system = line->label = bench_system_names[s];
        for (size_t i = 0; i < t->count; i++) {
            const bench_row_t *r = &t->rows[i];
            int contenders;
            if (r->system != (bench_system_t)s || r->status != ROW_OK ||
                strcmp(bench_figures[r->figure].name, "mutex") != 0 ||
                sscanf(r->variant, "contenders-%d", &contenders) != 1 ||
                line->count == PLOT_POINTS_MAX)
                continue;
            line->x[line->count] = contenders;
            line->y[line->count++] = r->median;
        }
        n += line->count > 0;
    }
    if (n == 0)
        return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lock-throughput.svg", dir);
    return plot_lines(path, "mutex: critical sections per second against contenders (median)",
                      "contending nodes (threads for the limit)", "critical sections per second",
                      lines, n);
}

static int bench_plot(const char *dir, const bench_table_t *t)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return -1;
    for (size_t f = 0; f < BENCH_FIGURES; f++)
        if (bench_plot_cdf(dir, t, f) != 0)
            return -1;
    if (bench_plot_bars(dir, "bandwidth.svg", "read-cold: cold sequential read of 64 MiB",
                        t, "read-cold") != 0 ||
        bench_plot_bars(dir, "gemm.svg", "gemm: 512 x 512 blocked multiply", t, "gemm") != 0 ||
        bench_plot_bars(dir, "kvstore.svg", "kvstore: operations per second, all nodes", t,
                        "kvstore") != 0)
        return -1;
    return bench_plot_locks(dir, t);
}

/* ------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------ */

static void bench_print_skips(const bench_programs_t *p)
{
    for (int s = 0; s < SYS_COUNT; s++)
        if (p->skip[s][0] != 0)
            fprintf(stderr, "ariadne bench: %s: skipped: %s\n", bench_system_names[s],
                    p->skip[s]);
}

static int bench_outputs(const bench_options_t *o, const bench_table_t *t)
{
    if (o->json)
        bench_json(stdout, t, o);
    if (o->csv != NULL && bench_csv(o->csv, t) != 0) {
        fprintf(stderr, "ariadne bench: cannot write %s: %s\n", o->csv, strerror(errno));
        return 1;
    }
    if (o->plot != NULL && bench_plot(o->plot, t) != 0) {
        fprintf(stderr, "ariadne bench: cannot write the charts into %s: %s\n", o->plot,
                strerror(errno));
        return 1;
    }
    return 0;
}

int tool_bench_main(int argc, char **argv)
{
    bench_options_t o;
    int status = bench_parse_options(argc, argv, &o);
    if (status >= 0)
        return status;
    bench_programs_t *p = calloc(1, sizeof *p);
    if (p == NULL || bench_find_programs(p) != 0) {
        free(p);
        return 1;
    }
    bench_print_skips(p);
    if (!o.json)
        printf("ariadne bench: %d nodes, %d runs of each program per figure, %ld CPUs\n",
               o.nodes, o.reps, sysconf(_SC_NPROCESSORS_ONLN));
    void (*old_int)(int) = signal(SIGINT, bench_on_signal);
    void (*old_term)(int) = signal(SIGTERM, bench_on_signal);
    bench_table_t t = {0};
    for (size_t f = 0; f < BENCH_FIGURES; f++) {
        if (!o.only[f])
            continue;
        bench_run_figure(p, &o, &t, f);
        for (size_t i = 0; i < t.count; i++)
            if (t.rows[i].figure == f)
                bench_row_finish(&t.rows[i]);
        qsort(t.rows, t.count, sizeof t.rows[0], bench_row_cmp);
        bench_ratios(&t, f);
        if (!o.json)
            bench_print_figure(stdout, &t, f);
    }
    signal(SIGINT, old_int);
    signal(SIGTERM, old_term);
    status = bench_outputs(&o, &t);
    for (size_t i = 0; i < t.count; i++)
        if (t.rows[i].status == ROW_FAILED)
            status = 1;
    bench_table_free(&t);
    free(p);
    return status;
}
