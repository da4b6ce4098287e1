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
#include "core/msg.h"
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
    uint32_t bytes;    /* its size: 4 KiB, or 2 MiB */
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

/* Spare twins of 4 KiB are kept; a 2 MiB one is freed. */
static void dirty_twin_put(uint8_t *twin, uint32_t bytes)
{
    if (bytes == DIRTY_PAGE && dirty_g.pooled < dirty_g.max)
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
    dirty_twin_put(e->twin, e->bytes);
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
    uint64_t page = address & ~(fault_page_size(node_g.fault, address) - 1);
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
/* A 2 MiB page's diff, made 4 KiB at a time: no run is longer than 4 KiB,
 * so dirty_send can cut it into WRITEs at run boundaries. Returns its
 * length; *out is malloc'd (NULL when nothing changed). */
static size_t dirty_diff_huge(const uint8_t *page, const uint8_t *twin, uint32_t bytes,
                              uint8_t **out)
{
    size_t at = 0, capacity = 0;
    uint8_t *diff = NULL;
    for (uint32_t block = 0; block < bytes; block += DIRTY_PAGE) {
        if (memcmp(page + block, twin + block, DIRTY_PAGE) == 0)
            continue;
        if (capacity - at < diff_bound(DIRTY_PAGE)) {
            capacity = capacity * 2 + diff_bound(DIRTY_PAGE);
            diff = realloc(diff, capacity);
            if (diff == NULL)
                dirty_out_of_memory();
        }
        size_t n = diff_make(page + block, twin + block, DIRTY_PAGE, diff + at, capacity - at);
        for (size_t run = at; run < at + n;) { /* offsets from the block to the page */
            uint32_t offset = msg_le32(diff + run), length = msg_le32(diff + run + 4);
            msg_put32(diff + run, offset + block);
            run += DIFF_RUN_HEADER + length;
        }
        at += n;
    }
    *out = diff;
    return at;
}

static void dirty_take(dirty_entry_t *e, dirty_out_t *out)
{
    fault_close_write(node_g.fault, e->address, e->bytes);
    out->page = e->page;
    out->stale = e->stale;
    out->orphan = false;
    out->diff = NULL;
    size_t length;
    if (e->bytes != DIRTY_PAGE) {
        length = dirty_diff_huge(dirty_memory(e->address), e->twin, e->bytes, &out->diff);
    } else {
        length = diff_make(dirty_memory(e->address), e->twin, DIRTY_PAGE, dirty_g.scratch,
                           diff_bound(DIRTY_PAGE));
        if (length > 0) {
            out->diff = malloc(length);
            if (out->diff == NULL)
                dirty_out_of_memory();
            memcpy(out->diff, dirty_g.scratch, length);
        }
    }
    out->length = (uint32_t)length;
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

/* Under the driver's lock: one diff's WRITEs on a ticket. A 4 KiB page's
 * diff is one WRITE; a 2 MiB page's is cut at run boundaries into WRITEs
 * of at most MSG_DATA_MAX bytes (its runs are at most 4 KiB). */
static int dirty_submit(driver_ticket_t ticket, const dirty_out_t *out)
{
    uint32_t at = 0;
    while (at < out->length) {
        uint32_t end = at;
        while (end < out->length) {
            uint32_t run = DIFF_RUN_HEADER + msg_le32(out->diff + end + 4);
            if (end + run - at > MSG_DATA_MAX)
                break;
            end += run;
        }
        dpu_request_t r = {.op = DPU_OP_WRITE, .page = out->page, .data = out->diff + at,
                           .length = end - at, .flags = DPU_WRITE_DIFF};
        int status = driver_submit(node_g.driver, ticket, &r, NULL);
        if (status != ARI_OK)
            return status;
        at = end;
    }
    return ARI_OK;
}

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
        submitted[i] = dirty_submit(tickets[i], &outs[i]);
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
static int dirty_open(uint64_t address, ari_gva_t page, uint32_t bytes)
{
    uint32_t count = atomic_load_explicit(&dirty_g.count, memory_order_relaxed);
    uint8_t *twin = bytes == DIRTY_PAGE && dirty_g.pooled > 0 ? dirty_g.pool[--dirty_g.pooled]
                                                              : aligned_alloc(64, bytes);
    if (twin == NULL)
        return ARI_ENOMEM;
    memcpy(twin, dirty_memory(address), bytes);
    int status = fault_open_write(node_g.fault, address, bytes);
    if (status != ARI_OK) {
        dirty_twin_put(twin, bytes);
        return status;
    }
    dirty_g.entries[count] =
        (dirty_entry_t){.address = address, .page = page, .bytes = bytes, .twin = twin};
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
    uint32_t bytes = (uint32_t)place.page_bytes;
    address &= ~(place.page_bytes - 1);
    for (uint32_t attempt = 0; attempt < DIRTY_ATTEMPTS; attempt++) {
        status = node_make_readable(address, bytes, false);
        if (status != ARI_OK)
            node_stop("store to", address, status);
        driver_lock(node_g.driver);
        pthread_mutex_lock(&dirty_g.lock);
        bool full = false;
        if (dirty_find(address) != NULL) /* another thread's store opened it */
            status = fault_open_write(node_g.fault, address, bytes);
        else if (!node_page_valid(page))
            status = DIRTY_AGAIN; /* invalidated since: make it valid again */
        else if (atomic_load_explicit(&dirty_g.count, memory_order_relaxed) == dirty_g.max)
            full = true;
        else
            status = dirty_open(address, page, bytes);
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
