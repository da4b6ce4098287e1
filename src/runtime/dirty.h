/*
 * dirty — plain stores to global memory: twins, diffs and the merge of
 * what arrives into pages this node is writing (DESIGN §4.1).
 *
 * A store to a page that is not open for writing faults once
 * (fault.h): the page is made valid, a twin (a private copy) is taken and
 * the page opened for writing. At a release point (dirty_flush: ari_flush,
 * ari_barrier, ari_mutex_unlock, ...) every dirty page is closed again,
 * compared with its twin, and its diff goes to the owner as one WRITE,
 * ordered as one version; the version comes back as a write notice.
 *
 * While a page is dirty, what the protocol brings (updates, page data,
 * writes and atomics ordered here when this node owns it) goes through
 * dirty_page_write: into the twin always, into the page only where this
 * node has not stored since the twin was taken. So the echo of this node's
 * own diff never overwrites a later store, and other writers' bytes still
 * arrive. A dirty page that is invalidated stays mapped and is re-synced
 * after its flush; one that is dropped (evicted, aged out, freed) keeps
 * its diff for the next flush, so no dirty byte is lost.
 *
 * Bounded: at most `max_pages` pages are dirty; the store that would make
 * one more flushes first (early flushing is allowed by release consistency).
 */
#ifndef ARIADNE_RUNTIME_DIRTY_H
#define ARIADNE_RUNTIME_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

#include "ariadne.h"

#define DIRTY_MAX_DEFAULT 4096u /* dirty pages at once (16 MiB of twins) */

int dirty_init(uint32_t max_pages);
void dirty_fini(void);

/* The fault thread: a store faulted on the page at `page_address`. Ends
 * the process with a message when the page cannot be written. */
void dirty_write_fault(uint64_t page_address);

/* The DPU's page_write hook (under the driver's lock). */
void dirty_page_write(ari_gva_t page, uint8_t *memory, uint32_t offset, const uint8_t *bytes,
                      uint32_t length);
/* Under the driver's lock, before the page's memory is discarded: keeps
 * the diff of a dirty page for the next flush. */
void dirty_page_drop(ari_gva_t page);
/* Under the driver's lock, when the page's replica became invalid: true
 * when it is dirty (the caller leaves it mapped; the flush re-syncs it). */
bool dirty_page_invalidated(ari_gva_t page);

/* ari_store of bytes into a page this node may have dirty: writes them
 * into the page and its twin too, so the flush does not send older bytes
 * over them. */
void dirty_store_through(uint64_t address, const uint8_t *bytes, uint32_t length);
/* Whether the page at `page_address` is dirty here. */
bool dirty_is(uint64_t page_address);

/* Sends every dirty page's diff to its owner and waits for the answers;
 * each page's new version becomes a pending write notice (notice_add).
 * Flushes are serialised: one that returns covers every store made before
 * it began. */
int dirty_flush(void);

/* Counters for statistics. */
typedef struct {
    uint64_t write_faults, flushes, diffs, diff_bytes, merges, orphans;
} dirty_stats_t;
dirty_stats_t dirty_stats(void);

#endif /* ARIADNE_RUNTIME_DIRTY_H */
