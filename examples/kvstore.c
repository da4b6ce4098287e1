/*
 * kvstore — a hash table in global memory under a YCSB-like mix of reads
 * and updates, with a mutex per bucket; checks its own result.
 *
 *   ariadne run -n 4 build/examples/kvstore [--keys K] [--ops N] [--read-pct P]
 *                                           [--buckets B] [--quiet]
 *
 * Each bucket is one page (so its mutex, count and entries live together):
 * written with plain stores under the bucket's mutex; read with plain loads
 * from this node's replica, no lock taken (a read sees a value some update
 * wrote, and every node's own updates). The table's pages are spread over
 * the nodes (ARI_SPREAD), so each node owns a share of the buckets.
 *
 * Load: node n inserts the keys k with k % N == n. Run: every node does
 * --ops operations on keys drawn with a hot set (80 % of operations on
 * 20 % of the keys); a tenth of the reads ask for keys never inserted.
 * Check: after a barrier every key is present exactly once, holds its own
 * key, and the sum of its update counters equals the updates all nodes
 * made (no lost update); node 0 prints the summary.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ariadne.h>

#define KV_PAGE 4096u
#define KV_SLOTS 168u

typedef struct {
    uint64_t key;     /* key + 1; 0: empty */
    uint64_t value;   /* key * KV_MIX ^ updates: checkable */
    uint64_t updates; /* updates this key has had */
} kv_entry_t;

typedef struct {
    ari_mutex_t lock;
    uint64_t count;
    uint64_t pad;
    kv_entry_t slots[KV_SLOTS];
} kv_bucket_t;

_Static_assert(sizeof(kv_bucket_t) <= KV_PAGE, "a bucket is one page");

#define KV_MIX 0x9e3779b97f4a7c15ull

typedef struct {
    uint64_t reads, hits, misses_expected, updates, inserts;
    double seconds;
    ari_stats_t stats;
} kv_report_t;

static int kv_fail(const char *what, int status)
{
    fprintf(stderr, "kvstore: node %d: %s: %s\n", ari_node_id(), what, ari_strerror(status));
    return 1;
}

static uint64_t kv_rand(uint64_t *state)
{
    uint64_t z = (*state += KV_MIX);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t kv_hash(uint64_t key) { return (key * KV_MIX) >> 17; }

static double kv_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static kv_bucket_t *kv_bucket(kv_bucket_t *table, uint64_t buckets, uint64_t key)
{
    return &table[kv_hash(key) % buckets];
}

/* A lock-free read from this node's replica: the value, or 0 if absent. */
static int kv_get(kv_bucket_t *b, uint64_t key, uint64_t *value_out)
{
    uint64_t n = b->count < KV_SLOTS ? b->count : KV_SLOTS;
    for (uint64_t i = 0; i < n; i++) {
        if (b->slots[i].key == key + 1) {
            *value_out = b->slots[i].value;
            return 1;
        }
    }
    return 0;
}

/* Under the bucket's mutex: insert, or update an existing key. */
static int kv_put(kv_bucket_t *b, uint64_t key, int insert)
{
    int status = ari_mutex_lock(&b->lock);
    if (status != ARI_OK)
        return status;
    uint64_t n = b->count;
    uint64_t i = 0;
    while (i < n && b->slots[i].key != key + 1)
        i++;
    if (i == n) {
        if (!insert || n == KV_SLOTS) {
            ari_mutex_unlock(&b->lock);
            return insert ? ARI_ENOMEM : ARI_ENOENT;
        }
        b->slots[i].key = key + 1;
        b->slots[i].updates = 0;
        b->count = n + 1;
    } else {
        b->slots[i].updates++;
    }
    b->slots[i].value = key * KV_MIX ^ b->slots[i].updates;
    return ari_mutex_unlock(&b->lock);
}

static void kv_usage(void)
{
    fprintf(stderr, "usage: ariadne run -n N kvstore [--keys K] [--ops N] [--read-pct P] "
                    "[--buckets B] [--quiet]\n");
}

static int kv_args(int argc, char **argv, uint64_t *keys, uint64_t *ops, uint64_t *read_pct,
                   uint64_t *buckets, int *quiet)
{
    for (int i = 1; i < argc; i++) {
        uint64_t *target = strcmp(argv[i], "--keys") == 0       ? keys
                           : strcmp(argv[i], "--ops") == 0      ? ops
                           : strcmp(argv[i], "--read-pct") == 0 ? read_pct
                           : strcmp(argv[i], "--buckets") == 0  ? buckets
                                                                : NULL;
        if (strcmp(argv[i], "--quiet") == 0) {
            *quiet = 1;
            continue;
        }
        char *end = NULL;
        if (target == NULL || i + 1 >= argc ||
            (*target = strtoull(argv[i + 1], &end, 10), *end != '\0')) {
            kv_usage();
            return 0;
        }
        i++;
    }
    if (*keys == 0 || *buckets == 0 || *read_pct > 100 || *keys > *buckets * KV_SLOTS * 3 / 4) {
        fprintf(stderr, "kvstore: --keys must be 1 .. 3/4 of --buckets x %u, --read-pct 0 .. 100\n",
                KV_SLOTS);
        return 0;
    }
    return 1;
}

/* The run phase: YCSB-like, hot set of 20 % of the keys taking 80 %. */
static int kv_run(kv_bucket_t *table, uint64_t buckets, uint64_t keys, uint64_t ops,
                  uint64_t read_pct, kv_report_t *r)
{
    uint64_t rng = 0x5eed + (uint64_t)ari_node_id() * 7919;
    uint64_t hot = keys / 5 > 0 ? keys / 5 : 1;
    double start = kv_now();
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t pick = kv_rand(&rng);
        uint64_t key = pick % 10 < 8 ? (pick >> 8) % hot : (pick >> 8) % keys;
        if (kv_rand(&rng) % 100 < read_pct) {
            int absent = kv_rand(&rng) % 10 == 0;
            if (absent) {
                key += keys; /* never inserted */
                r->misses_expected++;
            }
            uint64_t value;
            r->reads++;
            if (kv_get(kv_bucket(table, buckets, key), key, &value)) {
                r->hits++;
                if (absent || (value ^ key * KV_MIX) > ops * (uint64_t)ari_node_count()) {
                    fprintf(stderr, "kvstore: key %llu read a value no update wrote\n",
                            (unsigned long long)key);
                    return ARI_EINVAL;
                }
            }
        } else {
            int status = kv_put(kv_bucket(table, buckets, key), key, 0);
            if (status != ARI_OK)
                return status;
            r->updates++;
        }
    }
    r->seconds = kv_now() - start;
    return ARI_OK;
}

/* After the run: every key once, holding its own key; updates add up. */
static int kv_verify(kv_bucket_t *table, uint64_t buckets, uint64_t keys, uint64_t all_updates)
{
    uint64_t found = 0, updates = 0;
    for (uint64_t b = 0; b < buckets; b++) {
        for (uint64_t i = 0; i < table[b].count; i++) {
            const kv_entry_t *e = &table[b].slots[i];
            uint64_t key = e->key - 1;
            if (e->key == 0 || key >= keys || kv_hash(key) % buckets != b ||
                e->value != (key * KV_MIX ^ e->updates)) {
                fprintf(stderr, "kvstore: bucket %llu slot %llu is wrong\n",
                        (unsigned long long)b, (unsigned long long)i);
                return 0;
            }
            found++;
            updates += e->updates;
        }
    }
    if (found != keys || updates != all_updates) {
        fprintf(stderr, "kvstore: %llu keys (want %llu), %llu updates counted (want %llu)\n",
                (unsigned long long)found, (unsigned long long)keys,
                (unsigned long long)updates, (unsigned long long)all_updates);
        return 0;
    }
    return 1;
}

static void kv_since(ari_stats_t *s, const ari_stats_t *before)
{
    s->messages_out -= before->messages_out;
    s->messages_in -= before->messages_in;
    s->bytes_out -= before->bytes_out;
    s->read_faults -= before->read_faults;
    s->write_faults -= before->write_faults;
    s->flushes -= before->flushes;
    s->diffs -= before->diffs;
    s->diff_bytes -= before->diff_bytes;
    s->notices_published -= before->notices_published;
    s->notices_absorbed -= before->notices_absorbed;
    s->resyncs -= before->resyncs;
    s->atomics -= before->atomics;
    s->locks -= before->locks;
}

static void kv_summary(const kv_report_t *reports, int nodes, uint64_t keys, uint64_t buckets,
                       uint64_t read_pct)
{
    kv_report_t t;
    memset(&t, 0, sizeof t);
    uint64_t messages = 0, diffs = 0, diff_bytes = 0, resyncs = 0;
    for (int n = 0; n < nodes; n++) {
        t.reads += reports[n].reads;
        t.hits += reports[n].hits;
        t.misses_expected += reports[n].misses_expected;
        t.updates += reports[n].updates;
        if (reports[n].seconds > t.seconds)
            t.seconds = reports[n].seconds;
        messages += reports[n].stats.messages_out;
        diffs += reports[n].stats.diffs;
        diff_bytes += reports[n].stats.diff_bytes;
        resyncs += reports[n].stats.resyncs;
    }
    uint64_t ops = t.reads + t.updates;
    printf("kvstore: %d nodes, %llu keys in %llu buckets (one page each, spread), "
           "%llu%% reads\n", nodes, (unsigned long long)keys, (unsigned long long)buckets,
           (unsigned long long)read_pct);
    printf("  %llu operations in %.3f s: %.0f ops/s (%llu reads, %llu updates)\n",
           (unsigned long long)ops, t.seconds, (double)ops / t.seconds,
           (unsigned long long)t.reads, (unsigned long long)t.updates);
    printf("  read hit rate %.1f%% (%.1f%% of reads asked for absent keys)\n",
           t.reads ? 100.0 * (double)t.hits / (double)t.reads : 0.0,
           t.reads ? 100.0 * (double)t.misses_expected / (double)t.reads : 0.0);
    printf("  messages per operation %.2f; %llu diffs, %.0f bytes each; %llu replicas "
           "re-synced by write notices\n", ops ? (double)messages / (double)ops : 0.0,
           (unsigned long long)diffs, diffs ? (double)diff_bytes / (double)diffs : 0.0,
           (unsigned long long)resyncs);
    printf("  per node, during the run (the path cache as it stood at its end):\n");
    printf("  node  ops/s     msgs-out  read-faults  write-faults  locks   "
           "path cache: masters replicas relays\n");
    for (int n = 0; n < nodes; n++) {
        const kv_report_t *r = &reports[n];
        printf("  %4d  %8.0f  %8llu  %11llu  %12llu  %6llu  %20llu %8llu %6llu\n", n,
               (double)(r->reads + r->updates) / r->seconds,
               (unsigned long long)r->stats.messages_out, (unsigned long long)r->stats.read_faults,
               (unsigned long long)r->stats.write_faults, (unsigned long long)r->stats.locks,
               (unsigned long long)r->stats.masters, (unsigned long long)r->stats.replicas,
               (unsigned long long)r->stats.relays);
    }
}

int main(int argc, char **argv)
{
    int status = ari_init(&argc, &argv);
    if (status != ARI_OK)
        return kv_fail("ari_init", status);
    uint64_t keys = 8192, ops = 20000, read_pct = 95, buckets = 256;
    int quiet = 0;
    if (!kv_args(argc, argv, &keys, &ops, &read_pct, &buckets, &quiet))
        return 2;
    int me = ari_node_id(), nodes = ari_node_count();
    kv_bucket_t *table = ari_alloc_all(buckets * KV_PAGE, ARI_SPREAD);
    kv_report_t *reports = ari_alloc_all((size_t)nodes * sizeof(kv_report_t), ARI_PATHCACHE);
    uint64_t *updates_made = ari_alloc_all(sizeof(uint64_t), ARI_PATHCACHE);
    if (table == NULL || reports == NULL || updates_made == NULL)
        return kv_fail("ari_alloc_all", ari_errno());
    for (uint64_t k = (uint64_t)me; k < keys; k += (uint64_t)nodes) {
        if ((status = kv_put(kv_bucket(table, buckets, k), k, 1)) != ARI_OK)
            return kv_fail("insert", status);
    }
    if ((status = ari_barrier()) != ARI_OK)
        return kv_fail("ari_barrier", status);
    kv_report_t mine;
    memset(&mine, 0, sizeof mine);
    ari_stats_t before;
    if ((status = ari_stats(&before)) != ARI_OK)
        return kv_fail("ari_stats", status);
    if ((status = kv_run(table, buckets, keys, ops, read_pct, &mine)) != ARI_OK)
        return kv_fail("run", status);
    if ((status = ari_fetch_add_u64(updates_made, mine.updates, NULL)) != ARI_OK)
        return kv_fail("ari_fetch_add_u64", status);
    if ((status = ari_stats(&mine.stats)) != ARI_OK)
        return kv_fail("ari_stats", status);
    kv_since(&mine.stats, &before); /* the run's share; the path cache as it is now */
    reports[me] = mine; /* a plain store into global memory, published by the barrier */
    if ((status = ari_barrier()) != ARI_OK)
        return kv_fail("ari_barrier", status);
    if (!kv_verify(table, buckets, keys, *updates_made))
        return 1;
    if (me == 0 && !quiet)
        kv_summary(reports, nodes, keys, buckets, read_pct);
    printf("kvstore: node %d: verified %llu keys, %llu updates from all nodes\n", me,
           (unsigned long long)keys, (unsigned long long)*updates_made);
    if ((status = ari_barrier()) != ARI_OK)
        return kv_fail("ari_barrier", status);
    if ((status = ari_finalize()) != ARI_OK)
        return kv_fail("ari_finalize", status);
    return 0;
}
