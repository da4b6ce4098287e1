/*
 * net_stream — a steady stream of remote atomics, for timing how long a run
 * stalls when a link between hosts fails (tests/net/check-net.sh).
 *
 *   ariadne run [--hosts FILE --key FILE] -n N build/net/net_stream [SECONDS [TARGET [GAP_US]]]
 *
 * Node 0 does ari_fetch_add_u64, for SECONDS (default 5), on a word of a
 * page owned by node TARGET (default, or 0: the node farthest from node 0,
 * by ari_where's hops), back to back or GAP_US microseconds apart (then the
 * nodes and agents on the way go to sleep between two adds, and each add
 * must wake them). It records the longest pause between two consecutive
 * completions (the gaps left out) and the median time of one add. Every
 * other node waits in ari_barrier. At the end node 0 reads the word and
 * checks that it equals the number of adds done:
 *
 *   [0] net_stream: node 0 -> node 2 (2 hops), 5 s, gap 0 us
 *   [0] net_stream: started
 *   [0] net_stream: max pause 812.345 ms at 2.104 s, 81234 ops, median 41 us, ok
 *
 * "started" is printed (and flushed) when the timed stream begins, so that a
 * script can break a link while it runs. Exit status 1 when the count is
 * wrong or a call fails, 2 for bad arguments.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ariadne.h>

#define STREAM_PAGE 4096
#define STREAM_SECONDS_MAX 600
#define STREAM_GAP_US_MAX 1000000
#define STREAM_WARMUP 100
#define STREAM_BUCKETS 100000 /* 1 us each: the median of adds under 100 ms */

static int fail(const char *what, int status)
{
    fprintf(stderr, "net_stream: node %d: %s: %s\n", ari_node_id(), what, ari_strerror(status));
    return 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A whole number from text within [low, high], or -1. */
static long number(const char *text, long low, long high)
{
    char *end;
    long value = strtol(text, &end, 10);
    return *text != 0 && *end == 0 && value >= low && value <= high ? value : -1;
}

/* The node whose page is most hops from node 0 (the lowest id among
 * equals); each page is read once first so that ari_where knows its path. */
static int farthest(char *pages, int nodes, int *hops_out)
{
    int best = 1, best_hops = -1;
    for (int i = 1; i < nodes; i++) {
        uint64_t value;
        ari_location_t where;
        if (ari_get(&value, pages + (size_t)i * STREAM_PAGE, sizeof value) != ARI_OK ||
            ari_where(pages + (size_t)i * STREAM_PAGE, &where) != ARI_OK)
            continue;
        if (where.hops > best_hops) {
            best = i;
            best_hops = where.hops;
        }
    }
    *hops_out = best_hops;
    return best;
}

typedef struct {
    uint64_t ops;
    double pause_max_s, pause_at_s; /* the longest pause, and when it ended */
    double median_s;                /* of one add */
} stream_result_t;

/* The median of the adds counted in buckets (1 us each, the last for all
 * longer ones). */
static double stream_median_s(const uint32_t *buckets, uint64_t count)
{
    uint64_t seen = 0;
    for (uint32_t i = 0; i < STREAM_BUCKETS; i++)
        if ((seen += buckets[i]) * 2 >= count)
            return (i + 0.5) / 1e6;
    return STREAM_BUCKETS / 1e6;
}

static int stream(uint64_t *word, double seconds, long gap_us, stream_result_t *result_out)
{
    int status = ARI_OK;
    uint32_t *buckets = calloc(STREAM_BUCKETS, sizeof *buckets);
    if (buckets == NULL)
        return ARI_ENOMEM;
    for (int i = 0; i < STREAM_WARMUP && (status = ari_fetch_add_u64(word, 1, NULL)) == ARI_OK; i++)
        ;
    printf("net_stream: started\n");
    fflush(stdout);
    stream_result_t r = {STREAM_WARMUP, 0, 0, 0};
    double start = now_s(), last = start;
    while (status == ARI_OK && last - start < seconds) {
        if (gap_us > 0) {
            nanosleep(&(struct timespec){gap_us / 1000000, gap_us % 1000000 * 1000}, NULL);
            last = now_s();
        }
        if ((status = ari_fetch_add_u64(word, 1, NULL)) != ARI_OK) {
            fprintf(stderr, "net_stream: failed after %.3f s and %llu ops\n", now_s() - start,
                    (unsigned long long)r.ops);
            break;
        }
        double t = now_s();
        if (t - last > r.pause_max_s) {
            r.pause_max_s = t - last;
            r.pause_at_s = t - start;
        }
        uint64_t us = (uint64_t)((t - last) * 1e6);
        buckets[us < STREAM_BUCKETS ? us : STREAM_BUCKETS - 1]++;
        last = t;
        r.ops++;
    }
    r.median_s = stream_median_s(buckets, r.ops - STREAM_WARMUP);
    free(buckets);
    if (status == ARI_OK)
        *result_out = r;
    return status;
}

int main(int argc, char **argv)
{
    int status = ari_init(&argc, &argv);
    if (status != ARI_OK)
        return fail("ari_init", status);
    int me = ari_node_id(), nodes = ari_node_count();
    long seconds = argc > 1 ? number(argv[1], 1, STREAM_SECONDS_MAX) : 5;
    long target = argc > 2 ? number(argv[2], 0, nodes - 1) : 0;
    long gap_us = argc > 3 ? number(argv[3], 0, STREAM_GAP_US_MAX) : 0;
    if (nodes < 2 || seconds < 0 || target < 0 || gap_us < 0 || argc > 4) {
        fprintf(stderr, "usage: ariadne run -n N net_stream [SECONDS [TARGET [GAP_US]]] (N >= 2, "
                "SECONDS 1 to %d, TARGET 0 (the farthest) to N-1, GAP_US 0 to %d)\n",
                STREAM_SECONDS_MAX, STREAM_GAP_US_MAX);
        return 2;
    }
    /* Page i is node i's. */
    char *pages = ari_alloc_all((size_t)nodes * STREAM_PAGE, ARI_SPREAD);
    if (pages == NULL)
        return fail("ari_alloc_all", ari_errno());
    int wrong = 0;
    if (me == 0) {
        int hops = -1;
        if (target == 0)
            target = farthest(pages, nodes, &hops);
        uint64_t *word = (uint64_t *)(pages + (size_t)target * STREAM_PAGE);
        ari_location_t where;
        if (hops < 0 && ari_get(&(uint64_t){0}, word, 8) == ARI_OK &&
            ari_where(word, &where) == ARI_OK)
            hops = where.hops;
        printf("net_stream: node 0 -> node %ld (%d hops), %ld s, gap %ld us\n", target, hops,
               seconds, gap_us);
        fflush(stdout);
        stream_result_t r;
        if ((status = stream(word, (double)seconds, gap_us, &r)) != ARI_OK)
            return fail("ari_fetch_add_u64", status);
        uint64_t value;
        if ((status = ari_get(&value, word, sizeof value)) != ARI_OK)
            return fail("ari_get", status);
        wrong = value != r.ops;
        printf("net_stream: max pause %.3f ms at %.3f s, %llu ops, median %.0f us, %s\n",
               r.pause_max_s * 1e3, r.pause_at_s, (unsigned long long)r.ops, r.median_s * 1e6,
               wrong ? "WRONG" : "ok");
        if (wrong)
            fprintf(stderr, "net_stream: the word holds %llu, but %llu adds were done\n",
                    (unsigned long long)value, (unsigned long long)r.ops);
    }
    if ((status = ari_barrier()) != ARI_OK)
        return fail("ari_barrier", status);
    if ((status = ari_finalize()) != ARI_OK)
        return fail("ari_finalize", status);
    return wrong;
}
