/*
 * budget — the node's share of --mem for other nodes' pages.
 *
 * A node may map at most --mem bytes of global memory: the pages born
 * here (reserved when allocated, heap.h) and the pages of others it holds
 * (replicas, valid or not, and ownership pages it acquired). budget counts
 * the second kind exactly, in a set of the pages the DPU made memory for,
 * and makes room before the node asks for more: the least recently used
 * clean replicas are dropped (DPU_OP_UNREF: their refs go too, and a
 * later load refetches them). A page written here and not yet published
 * is never dropped: when only such pages are left, their diffs are
 * flushed first (dirty.c), which is allowed at any time, and then they
 * are clean. When even that leaves no room (pins, pages waiting on
 * requests) the request fails with ARI_ENOMEM, whose message names --mem.
 *
 * Locks: budget_note_* run under the driver's lock (DPU hooks); the set
 * has a lock of its own, innermost. budget_make_room takes the driver's
 * lock itself and must be called without it.
 */
#ifndef ARIADNE_RUNTIME_BUDGET_H
#define ARIADNE_RUNTIME_BUDGET_H

#include <stdint.h>

#include "ariadne.h"

int budget_init(void);
void budget_fini(void);

/* The DPU made memory for a page (page_memory with create) / dropped it. */
void budget_note_held(ari_gva_t page);
void budget_note_dropped(ari_gva_t page);

/* Room is counted in 4 KiB units: a 2 MiB page is 512 of them. */
/* Units of others' pages this node may still take before it must evict. */
uint64_t budget_room(void);
/* Makes room for `pages` more units (evicting, flushing if need be).
 * ARI_ENOMEM when it cannot. */
int budget_make_room(uint64_t pages);

typedef struct {
    uint64_t held;       /* others' pages held now, in 4 KiB units */
    uint64_t limit;      /* how many units it may hold now (--mem less what was born here) */
    uint64_t evictions;  /* replicas dropped to make room */
    uint64_t flushes;    /* times dirty pages had to be flushed to make room */
} budget_stats_t;
budget_stats_t budget_stats(void);

#endif /* ARIADNE_RUNTIME_BUDGET_H */
