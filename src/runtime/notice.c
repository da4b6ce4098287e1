/*
 * notice — write notices in per-node logs in global memory (notice.h).
 *
 * Locks: publish_lock, then the driver's lock, then notice_g.lock
 * (notice_floor runs under the driver's); never the other way round.
 */
#include "notice.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/dpu.h"
#include "core/gva.h"
#include "core/msg.h"
#include "core/pcache.h"
#include "dirty.h"
#include "node.h"

#define NOTICE_PAGE GVA_PAGE_SIZE
#define NOTICE_VERSION_MASK ((1ull << 56) - 1)
#define NOTICE_FALLBACK 0ull /* an entry's version 0: "drop every replica" */
#define NOTICE_PROBES 16u

typedef struct {
    ari_gva_t page;
    uint64_t version;
    uint32_t hops; /* how many more nodes may forward it */
} notice_t;

static struct {
    pthread_mutex_t lock, publish_lock;
    uint64_t board;        /* this node's board: heap offset */
    uint64_t head;         /* entries appended to this node's log (publish_lock) */
    notice_t *pending;
    uint32_t pending_count;
    bool overflow;         /* more pending than a log holds: publish a fallback */
    uint64_t *seen;        /* per node: its log entries absorbed so far */
    notice_t *known;       /* open addressing by page */
    _Atomic uint64_t published, absorbed, resyncs, forwarded, fallbacks;
} notice_g = {.lock = PTHREAD_MUTEX_INITIALIZER, .publish_lock = PTHREAD_MUTEX_INITIALIZER};

notice_stats_t notice_stats(void)
{
    return (notice_stats_t){atomic_load(&notice_g.published), atomic_load(&notice_g.absorbed),
                            atomic_load(&notice_g.resyncs), atomic_load(&notice_g.forwarded),
                            atomic_load(&notice_g.fallbacks)};
}

/* ------------------------------------------------------------------------
 * Boards
 * ------------------------------------------------------------------------ */

/* The address of byte `offset` of node's board. */
static uint64_t notice_board_address(uint32_t node, uint64_t offset)
{
    uint64_t in_slot = notice_g.board - (uint64_t)node_g.id * HEAP_SLOT_BYTES;
    return HEAP_BASE + (uint64_t)node * HEAP_SLOT_BYTES + in_slot + offset;
}

static ari_gva_t notice_board_page(uint32_t node, uint64_t offset)
{
    heap_place_t place;
    int status = heap_locate(&node_g.heap, notice_board_address(node, offset), &place);
    if (status != ARI_OK)
        return (ari_gva_t){0, 0};
    return heap_page_gva(&place);
}

/* Where entry k of a log is, from the board's start. */
static uint64_t notice_entry_offset(uint64_t k)
{
    return NOTICE_PAGE + (k % NOTICE_LOG_ENTRIES) * NOTICE_ENTRY_BYTES;
}

static void notice_make_create(void *ctx, uint64_t i, dpu_request_t *r)
{
    (void)ctx;
    memset(r, 0, sizeof *r);
    r->op = DPU_OP_CREATE;
    r->page = notice_board_page(node_g.id, i * NOTICE_PAGE);
}

int notice_init(void)
{
    notice_g.seen = calloc(node_g.count, sizeof *notice_g.seen);
    notice_g.known = calloc(NOTICE_KNOWN_MAX, sizeof *notice_g.known);
    notice_g.pending = calloc(NOTICE_LOG_ENTRIES, sizeof *notice_g.pending);
    if (notice_g.seen == NULL || notice_g.known == NULL || notice_g.pending == NULL) {
        notice_fini();
        return ARI_ENOMEM;
    }
    notice_g.head = 0;
    notice_g.pending_count = 0;
    notice_g.overflow = false;
    heap_alloc_t alloc;
    pthread_mutex_lock(&node_g.heap_lock);
    int status = heap_alloc(&node_g.heap, false, HEAP_KIND_PATHCACHE,
                            (uint64_t)NOTICE_BOARD_PAGES * NOTICE_PAGE, 0, &alloc);
    pthread_mutex_unlock(&node_g.heap_lock);
    if (status != ARI_OK)
        return status;
    notice_g.board = alloc.start;
    return node_call_many(NOTICE_BOARD_PAGES, notice_make_create, NULL);
}

void notice_fini(void)
{
    free(notice_g.seen);
    free(notice_g.known);
    free(notice_g.pending);
    notice_g.seen = NULL;
    notice_g.known = NULL;
    notice_g.pending = NULL;
}

/* ------------------------------------------------------------------------
 * What this node knows: the highest noticed version per page
 * ------------------------------------------------------------------------ */

static uint32_t notice_hash(ari_gva_t page)
{
    uint64_t h = (page.lo / NOTICE_PAGE) * 0x9E3779B97F4A7C15ull ^ page.hi * 0xC2B2AE3D27D4EB4Full;
    return (uint32_t)(h >> 40) % NOTICE_KNOWN_MAX;
}

/* Under the lock: the slot of a page, or the slot to put it in (an empty
 * one, else the probe window's lowest version: a bounded cache). */
static notice_t *notice_known_slot(ari_gva_t page)
{
    uint32_t h = notice_hash(page);
    notice_t *victim = NULL;
    for (uint32_t i = 0; i < NOTICE_PROBES; i++) {
        notice_t *slot = &notice_g.known[(h + i) % NOTICE_KNOWN_MAX];
        if (gva_equal(slot->page, page))
            return slot;
        if (slot->version == 0)
            return slot;
        if (victim == NULL || slot->version < victim->version)
            victim = slot;
    }
    return victim;
}

uint64_t notice_floor(ari_gva_t page)
{
    if (notice_g.known == NULL)
        return 0;
    pthread_mutex_lock(&notice_g.lock);
    notice_t *slot = notice_known_slot(page);
    uint64_t floor = gva_equal(slot->page, page) ? slot->version : 0;
    pthread_mutex_unlock(&notice_g.lock);
    return floor;
}

/* Under the lock: records a notice; false when it was known already. */
static bool notice_learn(ari_gva_t page, uint64_t version)
{
    notice_t *slot = notice_known_slot(page);
    if (gva_equal(slot->page, page) && slot->version >= version)
        return false;
    slot->page = page;
    slot->version = version;
    return true;
}

/* Under the lock: a notice to publish at the next release. */
static void notice_pend(ari_gva_t page, uint64_t version, uint32_t hops)
{
    for (uint32_t i = 0; i < notice_g.pending_count; i++) {
        notice_t *n = &notice_g.pending[i];
        if (gva_equal(n->page, page)) {
            if (version > n->version)
                n->version = version;
            if (hops > n->hops)
                n->hops = hops;
            return;
        }
    }
    if (notice_g.pending_count == NOTICE_LOG_ENTRIES) {
        notice_g.overflow = true;
        return;
    }
    notice_g.pending[notice_g.pending_count++] = (notice_t){page, version, hops};
}

void notice_add(ari_gva_t page, uint64_t version)
{
    pthread_mutex_lock(&notice_g.lock);
    notice_learn(page, version);
    uint32_t hops = node_g.count < 255 ? node_g.count : 255;
    notice_pend(page, version, hops);
    pthread_mutex_unlock(&notice_g.lock);
}

/* ------------------------------------------------------------------------
 * Publishing
 * ------------------------------------------------------------------------ */

static void notice_entry_encode(uint8_t *out, uint64_t k, const notice_t *n)
{
    msg_put64(out, k + 1); /* never 0: a board's zero bytes are no entry */
    msg_put64(out + 8, n->page.hi);
    msg_put64(out + 16, n->page.lo);
    msg_put64(out + 24, (n->version & NOTICE_VERSION_MASK) | (uint64_t)n->hops << 56);
}

/* Under the driver's lock: writes into this node's board (its master
 * pages), where the DPU serves others' GETs from. */
static void notice_board_write(uint64_t offset, const uint8_t *bytes, uint32_t length)
{
    uint64_t address = HEAP_BASE + notice_g.board + offset;
    uint64_t page = address & ~(uint64_t)(NOTICE_PAGE - 1);
    dpu_copy_words(fault_dpu_address(node_g.fault, page - HEAP_BASE), (uint32_t)(address - page),
                   bytes, length);
}

int notice_publish(uint64_t *head_out)
{
    pthread_mutex_lock(&notice_g.publish_lock);
    pthread_mutex_lock(&notice_g.lock);
    uint32_t n = notice_g.pending_count;
    bool overflow = notice_g.overflow;
    notice_t fallback = {.version = NOTICE_FALLBACK};
    notice_t *list = overflow ? &fallback : malloc((n > 0 ? n : 1) * sizeof *list);
    if (list == NULL) {
        pthread_mutex_unlock(&notice_g.lock);
        pthread_mutex_unlock(&notice_g.publish_lock);
        return ARI_ENOMEM; /* the notices stay pending */
    }
    if (overflow)
        n = 1;
    else
        memcpy(list, notice_g.pending, n * sizeof *list);
    notice_g.pending_count = 0;
    notice_g.overflow = false;
    pthread_mutex_unlock(&notice_g.lock);
    driver_lock(node_g.driver);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t entry[NOTICE_ENTRY_BYTES];
        notice_entry_encode(entry, notice_g.head + i, &list[i]);
        notice_board_write(notice_entry_offset(notice_g.head + i), entry, sizeof entry);
    }
    notice_g.head += n;
    uint8_t head[8];
    msg_put64(head, notice_g.head);
    notice_board_write(0, head, sizeof head);
    driver_unlock(node_g.driver);
    *head_out = notice_g.head;
    pthread_mutex_unlock(&notice_g.publish_lock);
    if (!overflow)
        free(list);
    atomic_fetch_add_explicit(&notice_g.published, n, memory_order_relaxed);
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Absorbing
 * ------------------------------------------------------------------------ */

typedef struct {
    ari_gva_t *pages;
    uint64_t *versions;
    uint64_t count;
} notice_reads_t;

static void notice_make_read(void *ctx, uint64_t i, dpu_request_t *r)
{
    notice_reads_t *reads = ctx;
    memset(r, 0, sizeof *r);
    r->op = DPU_OP_READ;
    r->page = reads->pages[i];
    r->min_version = reads->versions[i];
    if (reads->versions[i] == 0)
        r->op = DPU_OP_UNREF; /* the fallback: drop it */
}

static void notice_collect_valid(void *ctx, pcache_entry_t *entry)
{
    notice_reads_t *set = ctx;
    if (entry->copy == PCACHE_COPY_VALID && set->pages != NULL) {
        uint64_t address = heap_address_of(entry->page);
        set->pages[set->count] = entry->page;
        set->versions[set->count] = 0;
        set->count += address != 0 && !dirty_is(address & ~(uint64_t)(NOTICE_PAGE - 1));
    }
}

/* The fallback: every clean replica is dropped; the next load refetches. */
static int notice_fallback(void)
{
    atomic_fetch_add_explicit(&notice_g.fallbacks, 1, memory_order_relaxed);
    int status = dirty_flush();
    if (status != ARI_OK)
        return status;
    driver_lock(node_g.driver);
    pcache_t *pc = dpu_pcache(driver_dpu(node_g.driver));
    uint64_t max = pcache_count(pc) + 1;
    notice_reads_t set = {.pages = malloc(max * sizeof(ari_gva_t)),
                          .versions = malloc(max * sizeof(uint64_t))};
    if (set.pages != NULL && set.versions != NULL)
        pcache_each(pc, notice_collect_valid, &set);
    driver_unlock(node_g.driver);
    status = set.pages != NULL && set.versions != NULL
                 ? node_call_many(set.count, notice_make_read, &set) : ARI_ENOMEM;
    free(set.pages);
    free(set.versions);
    return status;
}

/* Reads entries [from, to) of node's log. ARI_OK, or 1 when some were
 * overwritten meanwhile (the reader fell too far behind). */
static int notice_fetch(uint32_t node, uint64_t from, uint64_t to, uint8_t *out)
{
    for (uint64_t k = from; k < to;) {
        uint64_t offset = notice_entry_offset(k);
        uint64_t page_end = (offset / NOTICE_PAGE + 1) * NOTICE_PAGE;
        uint64_t n = (page_end - offset) / NOTICE_ENTRY_BYTES;
        if (n > to - k)
            n = to - k;
        if (n > NOTICE_LOG_ENTRIES - k % NOTICE_LOG_ENTRIES)
            n = NOTICE_LOG_ENTRIES - k % NOTICE_LOG_ENTRIES;
        dpu_request_t r = {.op = DPU_OP_GET, .page = notice_board_page(node, offset),
                           .offset = (uint32_t)(offset % NOTICE_PAGE),
                           .length = (uint32_t)(n * NOTICE_ENTRY_BYTES)};
        int status = node_call(&r, out + (k - from) * NOTICE_ENTRY_BYTES, NULL);
        if (status != ARI_OK)
            return status;
        k += n;
    }
    for (uint64_t k = from; k < to; k++) {
        if (msg_le64(out + (k - from) * NOTICE_ENTRY_BYTES) != k + 1)
            return 1;
    }
    return ARI_OK;
}

/* Learns the fetched entries; collects the replicas to bring up. Returns
 * 1 when an entry is a fallback marker. */
static int notice_learn_all(const uint8_t *entries, uint64_t count, notice_reads_t *reads)
{
    int fallback = ARI_OK;
    pthread_mutex_lock(&notice_g.lock);
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *e = entries + i * NOTICE_ENTRY_BYTES;
        uint64_t word = msg_le64(e + 24);
        notice_t n = {{msg_le64(e + 8), msg_le64(e + 16)}, word & NOTICE_VERSION_MASK,
                      (uint32_t)(word >> 56)};
        if (n.version == NOTICE_FALLBACK) {
            fallback = 1;
            continue;
        }
        if (!notice_learn(n.page, n.version))
            continue; /* seen already: neither again nor forwarded again */
        atomic_fetch_add_explicit(&notice_g.absorbed, 1, memory_order_relaxed);
        if (n.hops > 0) {
            notice_pend(n.page, n.version, n.hops - 1);
            atomic_fetch_add_explicit(&notice_g.forwarded, 1, memory_order_relaxed);
        }
        reads->pages[reads->count] = n.page;
        reads->versions[reads->count++] = n.version;
    }
    pthread_mutex_unlock(&notice_g.lock);
    return fallback;
}

/* Keeps only the reads of replicas this node holds valid and older. */
static void notice_keep_behind(notice_reads_t *reads)
{
    uint64_t kept = 0;
    driver_lock(node_g.driver);
    pcache_t *pc = dpu_pcache(driver_dpu(node_g.driver));
    for (uint64_t i = 0; i < reads->count; i++) {
        pcache_entry_t *e = pcache_find(pc, reads->pages[i]);
        if (e != NULL && e->copy == PCACHE_COPY_VALID && e->version < reads->versions[i]) {
            reads->pages[kept] = reads->pages[i];
            reads->versions[kept++] = reads->versions[i];
        }
    }
    driver_unlock(node_g.driver);
    reads->count = kept;
}

int notice_absorb(uint32_t releaser, uint64_t head)
{
    if (releaser == node_g.id || releaser >= node_g.count)
        return ARI_OK;
    pthread_mutex_lock(&notice_g.lock);
    uint64_t from = notice_g.seen[releaser];
    pthread_mutex_unlock(&notice_g.lock);
    if (head <= from)
        return ARI_OK;
    int status = ARI_OK;
    if (head - from > NOTICE_LOG_ENTRIES) {
        status = notice_fallback();
    } else {
        uint64_t count = head - from;
        uint8_t *entries = malloc(count * NOTICE_ENTRY_BYTES);
        notice_reads_t reads = {.pages = malloc(count * sizeof(ari_gva_t)),
                                .versions = malloc(count * sizeof(uint64_t))};
        if (entries == NULL || reads.pages == NULL || reads.versions == NULL)
            status = ARI_ENOMEM;
        if (status == ARI_OK)
            status = notice_fetch(releaser, from, head, entries);
        if (status == ARI_OK)
            status = notice_learn_all(entries, count, &reads);
        if (status == 1) {
            status = notice_fallback();
        } else if (status == ARI_OK) {
            notice_keep_behind(&reads);
            atomic_fetch_add_explicit(&notice_g.resyncs, reads.count, memory_order_relaxed);
            status = node_call_many(reads.count, notice_make_read, &reads);
        }
        free(entries);
        free(reads.pages);
        free(reads.versions);
    }
    if (status == ARI_OK) {
        pthread_mutex_lock(&notice_g.lock);
        if (head > notice_g.seen[releaser])
            notice_g.seen[releaser] = head;
        pthread_mutex_unlock(&notice_g.lock);
    }
    return status;
}

int notice_absorb_all(void)
{
    for (uint32_t node = 0; node < node_g.count; node++) {
        if (node == node_g.id)
            continue;
        uint8_t head[8];
        dpu_request_t r = {.op = DPU_OP_GET, .page = notice_board_page(node, 0), .offset = 0,
                           .length = 8};
        int status = node_call(&r, head, NULL);
        if (status == ARI_OK)
            status = notice_absorb(node, msg_le64(head));
        if (status != ARI_OK)
            return status;
    }
    return ARI_OK;
}
