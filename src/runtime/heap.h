/*
 * heap — the layout of the symmetric global heap and its allocators.
 *
 * Every node maps the global heap at the same virtual address, so an
 * address means the same global byte everywhere. The heap is split in two
 * halves of HEAP_SLOT_NODES slots each:
 *
 *   [0, half)     one slot per node: what ari_alloc on that node returns.
 *                 The node of a slot is the birth node of its pages.
 *   [half, 2 half) the collective region: what ari_alloc_all returns, the
 *                 same on every node because every node makes the same
 *                 calls in the same order. Its pages are born at node 0,
 *                 or (ARI_SPREAD) page i at node i mod N.
 *
 * A slot (and the collective region, scaled) is split into arenas by kind:
 * the first half path-cache pages of 4 KiB, the next quarter ownership
 * pages, the last quarter 2 MiB pages; so a page's kind, and with it the
 * flags of its global address, follow from where it is.
 *
 * The global address of a byte: hi = flags << 56 | birth node, lo = its
 * offset from the heap's base. The first page of every slot (and of the
 * collective region) is never allocated, so no global address is {0, 0};
 * the collective region's first allocation is the runtime's page (the
 * barrier word, born at node 0).
 *
 * Allocations are whole pages. Each arena keeps its live allocations in a
 * sorted, bounded array: a bump pointer first, then first fit in the gaps.
 */
#ifndef ARIADNE_RUNTIME_HEAP_H
#define ARIADNE_RUNTIME_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "ariadne.h"

#define HEAP_SLOT_NODES 256u
/* ThreadSanitizer keeps application memory below 512 GiB on x86_64, and
 * AddressSanitizer's shadow leaves no room for two 32 TiB views: under
 * either the heap shrinks. Every node of a run must agree (ari_init checks). */
#if defined(__SANITIZE_THREAD__)
#define HEAP_BASE 0x1000000000ull            /* 64 GiB */
#define HEAP_SLOT_BYTES (512ull << 20)       /* 512 MiB per node */
#elif defined(__SANITIZE_ADDRESS__)
#define HEAP_BASE 0x200000000000ull          /* 32 TiB */
#define HEAP_SLOT_BYTES (4ull << 30)         /* 4 GiB per node: 2 TiB in all */
#else
#define HEAP_BASE 0x200000000000ull          /* 32 TiB */
#define HEAP_SLOT_BYTES (64ull << 30)        /* 64 GiB per node */
#endif
#define HEAP_HALF_BYTES ((uint64_t)HEAP_SLOT_NODES * HEAP_SLOT_BYTES)
#define HEAP_BYTES (2 * HEAP_HALF_BYTES)
#define HEAP_ALLOCS_MAX 65536u /* live allocations per arena */

typedef enum { HEAP_KIND_PATHCACHE = 0, HEAP_KIND_OWNERSHIP = 1, HEAP_KIND_HUGE = 2 } heap_kind_t;
#define HEAP_KINDS 3u

typedef struct {
    uint64_t start;   /* offset from the heap base */
    uint64_t bytes;   /* whole pages */
    unsigned flags;   /* ARI_* allocation flags */
} heap_alloc_t;

typedef struct {
    uint64_t start, end; /* offsets from the heap base */
    uint64_t page;       /* page size of the kind */
    uint64_t bump;       /* everything from here to end is free */
    heap_alloc_t *allocs;
    uint32_t count;
} heap_arena_t;

/* Where an address is: its arena, birth node and global address. */
typedef struct {
    bool collective;
    heap_kind_t kind;
    uint32_t machine;        /* birth node (owner: pages do not move in part 1) */
    uint64_t offset;         /* from the heap base */
    uint64_t page_bytes;
    const heap_alloc_t *alloc; /* the allocation, when this node knows it (else NULL) */
} heap_place_t;

typedef struct {
    uint32_t node, nodes;
    heap_arena_t own[HEAP_KINDS];  /* this node's slot */
    heap_arena_t coll[HEAP_KINDS]; /* the collective region */
} heap_t;

int heap_init(heap_t *heap, uint32_t node, uint32_t nodes);
void heap_destroy(heap_t *heap);

static inline bool heap_contains(uint64_t address)
{
    return address >= HEAP_BASE && address - HEAP_BASE < HEAP_BYTES;
}

/* ARI_EFAULT when outside the heap; otherwise fills *place. */
int heap_locate(const heap_t *heap, uint64_t address, heap_place_t *place);
/* The page's global address (page identity: in-page offset cleared). */
ari_gva_t heap_page_gva(const heap_place_t *place);
/* The address a global address means here, or 0 when it is not in the heap
 * or its flags disagree with where it points. */
uint64_t heap_address_of(ari_gva_t gva);

/* Reserves pages: in this node's slot (collective false) or the collective
 * region. ARI_OK and *alloc_out; ARI_ENOMEM when the arena is full;
 * ARI_EBUSY when it holds HEAP_ALLOCS_MAX allocations. */
int heap_alloc(heap_t *heap, bool collective, heap_kind_t kind, uint64_t bytes, unsigned flags,
               heap_alloc_t *alloc_out);
/* Forgets the allocation starting at `offset`; ARI_EFAULT if there is none. */
int heap_free(heap_t *heap, bool collective, heap_kind_t kind, uint64_t offset,
              heap_alloc_t *freed_out);
/* The birth node of a page of a collective allocation. */
uint32_t heap_collective_machine(const heap_t *heap, const heap_alloc_t *alloc, uint64_t offset);

#endif /* ARIADNE_RUNTIME_HEAP_H */
