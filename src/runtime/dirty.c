/*
 * dirty — twins, diffs and merges for plain stores (dirty.h).
 *
 * Locks: the driver's lock, then dirty_g.lock (the DPU's hooks run under
 * the first and take the second); dirty_g.flush_lock is taken before
 * either and never while holding them.
 */
#include "dirty.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/diff.h"
#include "core/dpu.h"
#include "core/gva.h"
#include "core/pcache.h"
#include "node.h"
#include "notice.h"

#define DIRTY_PAGE GVA_PAGE_SIZE
#define DIRTY_BATCH 64u       /* diffs in flight at once */
#define DIRTY_ATTEMPTS 1000u  /* a write fault's tries before it gives up */
#define DIRTY_AGAIN 1         /* a write fault found its page invalid again: retry */

typedef struct {
    uint64_t address;  /* the page in the application's view */
    ari_gva_t page;
    uint8_t *twin;
    bool stale;        /* invalidated while dirty: re-sync after the flush */
} dirty_entry_t;

typedef struct {
    ari_gva_t page;
    uint8_t *diff;
    uint32_t length;
    bool stale;
    bool orphan;       /* its replica was dropped: the page may be gone */
} dirty_out_t;

static struct {
    pthread_mutex_t lock, flush_lock;
    uint32_t max;
    dirty_entry_t *entries;
    _Atomic uint32_t count;       /* read without the lock: 0 means "nothing to merge" */
    uint32_t *index;              /* open addressing: entry + 1, 0 empty */
    uint32_t index_mask;
    uint8_t **pool;               /* spare twins */
    uint32_t pooled;
    dirty_out_t *orphans;
    uint32_t orphan_count, orphan_max;
    uint8_t *scratch;             /* diff_make's buffer, under the lock */
    _Atomic uint64_t write_faults, flushes, diffs, diff_bytes, merges, orphaned;
} dirty_g = {.lock = PTHREAD_MUTEX_INITIALIZER, .flush_lock = PTHREAD_MUTEX_INITIALIZER};

/* ------------------------------------------------------------------------
 * The table: page address -> entry
 * ------------------------------------------------------------------------ */

static uint32_t dirty_hash(uint64_t address)
{
    return (uint32_t)((address / DIRTY_PAGE) * 0x9E3779B97F4A7C15ull >> 32) & dirty_g.index_mask;
}

static dirty_entry_t *dirty_find(uint64_t address)
{
    for (uint32_t h = dirty_hash(address);; h = (h + 1) & dirty_g.index_mask) {
        uint32_t slot = dirty_g.index[h];
        if (slot == 0)
            return NULL;
        if (dirty_g.entries[slot - 1].address == address)
            return &dirty_g.entries[slot - 1];
    }
}

static void dirty_index_put(uint64_t address, uint32_t slot)
{
    uint32_t h = dirty_hash(address);
    while (dirty_g.index[h] != 0 && dirty_g.entries[dirty_g.index[h] - 1].address != address)
        h = (h + 1) & dirty_g.index_mask;
    dirty_g.index[h] = slot;
}

/* Removes an address from the index, shifting later probes back. */
static void dirty_index_remove(uint64_t address)
{
    uint32_t h = dirty_hash(address);
    while (dirty_g.entries[dirty_g.index[h] - 1].address != address)
        h = (h + 1) & dirty_g.index_mask;
    uint32_t hole = h;
    for (uint32_t j = (h + 1) & dirty_g.index_mask; dirty_g.index[j] != 0;
         j = (j + 1) & dirty_g.index_mask) {
        uint32_t home = dirty_hash(dirty_g.entries[dirty_g.index[j] - 1].address);
        /* j's entry may fill the hole if its home is not between hole and j. */
        bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            dirty_g.index[hole] = dirty_g.index[j];
            hole = j;
        }
    }
    dirty_g.index[hole] = 0;
}

static void dirty_twin_put(uint8_t *twin)
{
    if (dirty_g.pooled < dirty_g.max)
        dirty_g.pool[dirty_g.pooled++] = twin;
    else
        free(twin);
}

/* Removes an entry (its twin back to the pool). */
static void dirty_remove(dirty_entry_t *e)
{
    uint32_t last = atomic_load_explicit(&dirty_g.count, memory_order_relaxed) - 1;
    uint32_t at = (uint32_t)(e - dirty_g.entries);
    dirty_index_remove(e->address);
    dirty_twin_put(e->twin);
    if (at != last) {
        dirty_g.entries[at] = dirty_g.entries[last];
        dirty_index_put(dirty_g.entries[at].address, at + 1);
    }
    /* Release: a DPU step that then finds no dirty page and writes the page
     * without the lock comes after this entry's diff was taken. */
    atomic_store_explicit(&dirty_g.count, last, memory_order_release);
}

/* ------------------------------------------------------------------------
 * Life
 * ------------------------------------------------------------------------ */

int dirty_init(uint32_t max_pages)
{
    if (max_pages == 0)
        max_pages = DIRTY_MAX_DEFAULT;
    uint32_t size = 1;
    while (size < 2 * max_pages)
        size <<= 1;
    dirty_g.max = max_pages;
    dirty_g.index_mask = size - 1;
    dirty_g.entries = calloc(max_pages, sizeof *dirty_g.entries);
    dirty_g.index = calloc(size, sizeof *dirty_g.index);
    dirty_g.pool = calloc(max_pages, sizeof *dirty_g.pool);
    dirty_g.scratch = malloc(diff_bound(DIRTY_PAGE));
    atomic_store(&dirty_g.count, 0);
    dirty_g.pooled = dirty_g.orphan_count = 0;
    if (dirty_g.entries == NULL || dirty_g.index == NULL || dirty_g.pool == NULL ||
        dirty_g.scratch == NULL) {
        dirty_fini();
        return ARI_ENOMEM;
    }
    return ARI_OK;
}

void dirty_fini(void)
{
    uint32_t count = atomic_load(&dirty_g.count);
    for (uint32_t i = 0; dirty_g.entries != NULL && i < count; i++)
        free(dirty_g.entries[i].twin);
    for (uint32_t i = 0; i < dirty_g.pooled; i++)
        free(dirty_g.pool[i]);
    for (uint32_t i = 0; i < dirty_g.orphan_count; i++)
        free(dirty_g.orphans[i].diff);
    free(dirty_g.entries);
    free(dirty_g.index);
    free(dirty_g.pool);
    free(dirty_g.orphans);
    free(dirty_g.scratch);
    dirty_g.entries = NULL;
    dirty_g.index = NULL;
    dirty_g.pool = NULL;
    dirty_g.orphans = NULL;
    dirty_g.scratch = NULL;
    dirty_g.pooled = dirty_g.orphan_count = dirty_g.orphan_max = 0;
    atomic_store(&dirty_g.count, 0);
}

dirty_stats_t dirty_stats(void)
{
    return (dirty_stats_t){atomic_load(&dirty_g.write_faults), atomic_load(&dirty_g.flushes),
                           atomic_load(&dirty_g.diffs), atomic_load(&dirty_g.diff_bytes),
                           atomic_load(&dirty_g.merges), atomic_load(&dirty_g.orphaned)};
}

static uint8_t *dirty_memory(uint64_t address)
{
    return fault_dpu_address(node_g.fault, address - HEAP_BASE);
}

/* ------------------------------------------------------------------------
 * Merging what arrives into a dirty page
 * ------------------------------------------------------------------------ */

/* Bytes this node has not stored since the twin take the new value; the
 * twin takes it always. The page is open for writing, so the application
 * may store into the same word meanwhile: each word is replaced by a CAS,
 * recomputed if a store got in first, so no store of its bytes is undone
 * and a reader never sees a torn u64. */
static void dirty_merge(uint8_t *page, uint8_t *twin, uint32_t offset, const uint8_t *bytes,
                        uint32_t length)
{
    uint32_t end = offset + length;
    for (uint32_t word = offset & ~7u; word < end; word += 8) {
        uint64_t *target = (uint64_t *)(void *)(page + word);
        uint32_t from = word < offset ? offset : word, to = word + 8 < end ? word + 8 : end;
        uint64_t old = __atomic_load_n(target, __ATOMIC_RELAXED), value;
        do {
            value = old;
            uint8_t *v = (uint8_t *)&value;
            for (uint32_t b = from; b < to; b++) {
                if (v[b - word] == twin[b])
                    v[b - word] = bytes[b - offset];
            }
        } while (!__atomic_compare_exchange_n(target, &old, value, false, __ATOMIC_RELAXED,
                                              __ATOMIC_RELAXED));
        memcpy(twin + from, bytes + (from - offset), to - from);
    }
}

void dirty_page_write(ari_gva_t page, uint8_t *memory, uint32_t offset, const uint8_t *bytes,
                      uint32_t length)
{
    if (atomic_load_explicit(&dirty_g.count, memory_order_acquire) == 0) {
        dpu_copy_words(memory, offset, bytes, length);
        return;
    }
    pthread_mutex_lock(&dirty_g.lock);
    dirty_entry_t *e = dirty_find(heap_address_of(page));
    if (e == NULL) {
        dpu_copy_words(memory, offset, bytes, length);
    } else {
        dirty_merge(memory, e->twin, offset, bytes, length);
        atomic_fetch_add_explicit(&dirty_g.merges, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&dirty_g.lock);
}

void dirty_store_through(uint64_t address, const uint8_t *bytes, uint32_t length)
{
    if (atomic_load_explicit(&dirty_g.count, memory_order_acquire) == 0)
        return;
    uint64_t page = address & ~(DIRTY_PAGE - 1);
    pthread_mutex_lock(&dirty_g.lock);
    dirty_entry_t *e = dirty_find(page);
    if (e != NULL) {
        uint32_t offset = (uint32_t)(address - page);
        dpu_copy_words(dirty_memory(page), offset, bytes, length);
        memcpy(e->twin + offset, bytes, length);
    }
    pthread_mutex_unlock(&dirty_g.lock);
}

bool dirty_is(uint64_t page_address)
{
    if (atomic_load_explicit(&dirty_g.count, memory_order_acquire) == 0)
        return false;
    pthread_mutex_lock(&dirty_g.lock);
    bool dirty = dirty_find(page_address) != NULL;
    pthread_mutex_unlock(&dirty_g.lock);
    return dirty;
}

bool dirty_page_invalidated(ari_gva_t page)
{
    if (atomic_load_explicit(&dirty_g.count, memory_order_acquire) == 0)
        return false;
    pthread_mutex_lock(&dirty_g.lock);
    dirty_entry_t *e = dirty_find(heap_address_of(page));
    if (e != NULL)
        e->stale = true;
    pthread_mutex_unlock(&dirty_g.lock);
    return e != NULL;
}

/* A diff with nowhere to go would be a dirty byte lost: stop, and say so. */
__attribute__((noreturn)) static void dirty_out_of_memory(void)
{
    static const char text[] = "ariadne: out of memory keeping a page's diff; stopping\n";
    if (write(STDERR_FILENO, text, sizeof text - 1) < 0)
        abort();
    abort();
}

/* Under the lock: the entry's diff, closing the page for writing. Its
 * twin goes back to the pool and the entry away. */
static void dirty_take(dirty_entry_t *e, dirty_out_t *out)
{
    fault_close_write(node_g.fault, e->address, DIRTY_PAGE);
    size_t length = diff_make(dirty_memory(e->address), e->twin, DIRTY_PAGE, dirty_g.scratch,
                              diff_bound(DIRTY_PAGE));
    out->page = e->page;
    out->stale = e->stale;
    out->orphan = false;
    out->length = (uint32_t)length;
    out->diff = NULL;
    if (length > 0) {
        out->diff = malloc(length);
        if (out->diff == NULL)
            dirty_out_of_memory();
        memcpy(out->diff, dirty_g.scratch, length);
    }
    dirty_remove(e);
}

void dirty_page_drop(ari_gva_t page)
{
    if (atomic_load_explicit(&dirty_g.count, memory_order_acquire) == 0)
        return;
    pthread_mutex_lock(&dirty_g.lock);
    dirty_entry_t *e = dirty_find(heap_address_of(page));
    if (e != NULL && dirty_g.orphan_count == dirty_g.orphan_max) {
        /* Orphans are rare (a dirty page evicted, aged out or freed) and
         * leave at the next flush; the list grows only between flushes. */
        uint32_t max = dirty_g.orphan_max ? 2 * dirty_g.orphan_max : 64;
        dirty_out_t *grown = realloc(dirty_g.orphans, max * sizeof *grown);
        if (grown == NULL)
            dirty_out_of_memory();
        dirty_g.orphans = grown;
        dirty_g.orphan_max = max;
    }
    if (e != NULL) {
        dirty_out_t *out = &dirty_g.orphans[dirty_g.orphan_count];
        dirty_take(e, out);
        out->orphan = true;
        if (out->length > 0)
            dirty_g.orphan_count++;
        atomic_fetch_add_explicit(&dirty_g.orphaned, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&dirty_g.lock);
}

/* ------------------------------------------------------------------------
 * Flushing
 * ------------------------------------------------------------------------ */

/* Sends a batch of diffs, one ticket each, and waits for their versions. */
static int dirty_send(dirty_out_t *outs, uint32_t n)
{
    driver_ticket_t tickets[DIRTY_BATCH];
    int submitted[DIRTY_BATCH];
    int status = driver_throttle(node_g.driver);
    if (status != ARI_OK)
        return status;
    driver_lock(node_g.driver);
    for (uint32_t i = 0; i < n; i++) {
        submitted[i] = driver_ticket_open(node_g.driver, &tickets[i]);
        if (submitted[i] != ARI_OK)
            continue;
        dpu_request_t r = {.op = DPU_OP_WRITE, .page = outs[i].page, .data = outs[i].diff,
                           .length = outs[i].length, .flags = DPU_WRITE_DIFF};
        submitted[i] = driver_submit(node_g.driver, tickets[i], &r, NULL);
        if (submitted[i] != ARI_OK)
            driver_ticket_close(node_g.driver, tickets[i]);
    }
    driver_unlock(node_g.driver);
    int first = ARI_OK;
    for (uint32_t i = 0; i < n; i++) {
        driver_result_t result;
        int s = submitted[i];
        if (s == ARI_OK)
            s = driver_wait(node_g.driver, tickets[i], &result);
        if (s == ARI_OK) {
            atomic_fetch_add_explicit(&dirty_g.diffs, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&dirty_g.diff_bytes, outs[i].length, memory_order_relaxed);
            notice_add(outs[i].page, result.version);
            if (outs[i].stale)
                s = node_see_own_write(outs[i].page, result.version);
        }
        if (s == ARI_ENOENT && outs[i].orphan)
            s = ARI_OK; /* the page was freed: its bytes went with it */
        if (first == ARI_OK)
            first = s;
    }
    return first;
}

/* Under the flush lock: takes every dirty page's diff and the orphans. */
static dirty_out_t *dirty_collect(uint32_t *count_out)
{
    pthread_mutex_lock(&dirty_g.lock);
    uint32_t count = atomic_load_explicit(&dirty_g.count, memory_order_relaxed);
    uint32_t total = count + dirty_g.orphan_count;
    dirty_out_t *outs = total > 0 ? malloc(total * sizeof *outs) : NULL;
    uint32_t n = 0;
    if (total > 0 && outs == NULL)
        dirty_out_of_memory();
    if (outs != NULL) {
        while (atomic_load_explicit(&dirty_g.count, memory_order_relaxed) > 0) {
            dirty_take(&dirty_g.entries[0], &outs[n]);
            if (outs[n].length > 0)
                n++;
        }
        if (dirty_g.orphan_count > 0)
            memcpy(outs + n, dirty_g.orphans, dirty_g.orphan_count * sizeof *outs);
        n += dirty_g.orphan_count;
        dirty_g.orphan_count = 0;
    }
    pthread_mutex_unlock(&dirty_g.lock);
    *count_out = n;
    return outs;
}

int dirty_flush(void)
{
    pthread_mutex_lock(&dirty_g.flush_lock);
    uint32_t n = 0;
    dirty_out_t *outs = dirty_collect(&n);
    int status = ARI_OK;
    for (uint32_t at = 0; at < n && status == ARI_OK; at += DIRTY_BATCH)
        status = dirty_send(outs + at, n - at < DIRTY_BATCH ? n - at : DIRTY_BATCH);
    for (uint32_t i = 0; i < n; i++)
        free(outs[i].diff);
    free(outs);
    atomic_fetch_add_explicit(&dirty_g.flushes, 1, memory_order_relaxed);
    pthread_mutex_unlock(&dirty_g.flush_lock);
    return status;
}

/* ------------------------------------------------------------------------
 * Write faults
 * ------------------------------------------------------------------------ */

/* Under both locks: twins a valid page and opens it for writing. */
static int dirty_open(uint64_t address, ari_gva_t page)
{
    uint32_t count = atomic_load_explicit(&dirty_g.count, memory_order_relaxed);
    uint8_t *twin = dirty_g.pooled > 0 ? dirty_g.pool[--dirty_g.pooled]
                                       : aligned_alloc(64, DIRTY_PAGE);
    if (twin == NULL)
        return ARI_ENOMEM;
    memcpy(twin, dirty_memory(address), DIRTY_PAGE);
    int status = fault_open_write(node_g.fault, address, DIRTY_PAGE);
    if (status != ARI_OK) {
        dirty_twin_put(twin);
        return status;
    }
    dirty_g.entries[count] = (dirty_entry_t){.address = address, .page = page, .twin = twin};
    dirty_index_put(address, count + 1);
    atomic_store_explicit(&dirty_g.count, count + 1, memory_order_release);
    return ARI_OK;
}

void dirty_write_fault(uint64_t address)
{
    atomic_fetch_add_explicit(&dirty_g.write_faults, 1, memory_order_relaxed);
    heap_place_t place;
    ari_gva_t page;
    int status = node_place((const void *)(uintptr_t)address, &place, &page);
    if (status != ARI_OK)
        node_stop("store to", address, status);
    for (uint32_t attempt = 0; attempt < DIRTY_ATTEMPTS; attempt++) {
        status = node_make_readable(address, DIRTY_PAGE, false);
        if (status != ARI_OK)
            node_stop("store to", address, status);
        driver_lock(node_g.driver);
        pthread_mutex_lock(&dirty_g.lock);
        bool full = false;
        if (dirty_find(address) != NULL) /* another thread's store opened it */
            status = fault_open_write(node_g.fault, address, DIRTY_PAGE);
        else if (!node_page_valid(page))
            status = DIRTY_AGAIN; /* invalidated since: make it valid again */
        else if (atomic_load_explicit(&dirty_g.count, memory_order_relaxed) == dirty_g.max)
            full = true;
        else
            status = dirty_open(address, page);
        pthread_mutex_unlock(&dirty_g.lock);
        driver_unlock(node_g.driver);
        if (status == ARI_OK && !full)
            return;
        if (full || status == ARI_EMAPS) /* flushing closes pages and frees map entries */
            status = dirty_flush();
        if (status != ARI_OK && status != DIRTY_AGAIN && status != ARI_EMAPS)
            node_stop("store to", address, status);
    }
    node_stop("store to", address, ARI_EBUSY);
}
