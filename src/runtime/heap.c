/*
 * heap — the global heap's layout and allocators (heap.h).
 */
#include "heap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/gva.h"

static uint64_t heap_kind_page(heap_kind_t kind)
{
    return kind == HEAP_KIND_HUGE ? GVA_HUGE_PAGE_SIZE : GVA_PAGE_SIZE;
}

/* The arenas of a region of `size` bytes at `start`: halves, quarters. */
static int heap_arenas_init(heap_arena_t arenas[HEAP_KINDS], uint64_t start, uint64_t size)
{
    uint64_t bounds[HEAP_KINDS + 1] = {start, start + size / 2, start + size / 2 + size / 4,
                                       start + size};
    for (uint32_t k = 0; k < HEAP_KINDS; k++) {
        heap_arena_t *a = &arenas[k];
        a->start = bounds[k];
        a->end = bounds[k + 1];
        a->page = heap_kind_page((heap_kind_t)k);
        a->bump = a->start;
        a->count = 0;
        /* A slot's first page is never handed out: node 0's would have the
         * global address {0, 0}, which ari_gva_of uses for "no address". */
        if (a->start % HEAP_SLOT_BYTES == 0)
            a->bump += a->page;
        a->allocs = malloc(HEAP_ALLOCS_MAX * sizeof *a->allocs);
        if (a->allocs == NULL)
            return ARI_ENOMEM;
    }
    return ARI_OK;
}

int heap_init(heap_t *heap, uint32_t node, uint32_t nodes)
{
    assert(node < nodes && nodes <= HEAP_SLOT_NODES);
    memset(heap, 0, sizeof *heap);
    heap->node = node;
    heap->nodes = nodes;
    int status = heap_arenas_init(heap->own, (uint64_t)node * HEAP_SLOT_BYTES, HEAP_SLOT_BYTES);
    if (status == ARI_OK)
        status = heap_arenas_init(heap->coll, HEAP_HALF_BYTES, HEAP_HALF_BYTES);
    if (status != ARI_OK)
        heap_destroy(heap);
    return status;
}

void heap_destroy(heap_t *heap)
{
    for (uint32_t k = 0; k < HEAP_KINDS; k++) {
        free(heap->own[k].allocs);
        free(heap->coll[k].allocs);
        heap->own[k].allocs = heap->coll[k].allocs = NULL;
    }
}

/* The kind of an offset inside a region of `size` bytes starting at `start`. */
static heap_kind_t heap_kind_at(uint64_t start, uint64_t size, uint64_t offset)
{
    uint64_t in = offset - start;
    if (in < size / 2)
        return HEAP_KIND_PATHCACHE;
    return in < size / 2 + size / 4 ? HEAP_KIND_OWNERSHIP : HEAP_KIND_HUGE;
}

/* The live allocation containing `offset`, or NULL (binary search). */
static const heap_alloc_t *heap_arena_find(const heap_arena_t *a, uint64_t offset)
{
    uint32_t lo = 0, hi = a->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a->allocs[mid].start + a->allocs[mid].bytes <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < a->count && a->allocs[lo].start <= offset)
        return &a->allocs[lo];
    return NULL;
}

uint32_t heap_collective_machine(const heap_t *heap, const heap_alloc_t *alloc, uint64_t offset)
{
    if ((alloc->flags & ARI_SPREAD) == 0)
        return 0;
    uint64_t page = (alloc->flags & ARI_HUGE) ? GVA_HUGE_PAGE_SIZE : GVA_PAGE_SIZE;
    return (uint32_t)(((offset - alloc->start) / page) % heap->nodes);
}

int heap_locate(const heap_t *heap, uint64_t address, heap_place_t *place)
{
    if (!heap_contains(address))
        return ARI_EFAULT;
    memset(place, 0, sizeof *place);
    uint64_t offset = address - HEAP_BASE;
    place->offset = offset;
    place->collective = offset >= HEAP_HALF_BYTES;
    if (place->collective) {
        place->kind = heap_kind_at(HEAP_HALF_BYTES, HEAP_HALF_BYTES, offset);
        place->alloc = heap_arena_find(&heap->coll[place->kind], offset);
        place->machine = place->alloc != NULL
                             ? heap_collective_machine(heap, place->alloc, offset)
                             : 0;
    } else {
        uint32_t machine = (uint32_t)(offset / HEAP_SLOT_BYTES);
        place->machine = machine;
        place->kind = heap_kind_at((uint64_t)machine * HEAP_SLOT_BYTES, HEAP_SLOT_BYTES, offset);
        if (machine == heap->node)
            place->alloc = heap_arena_find(&heap->own[place->kind], offset);
    }
    place->page_bytes = heap_kind_page(place->kind);
    return ARI_OK;
}

ari_gva_t heap_page_gva(const heap_place_t *place)
{
    uint64_t flags = (place->kind == HEAP_KIND_OWNERSHIP ? GVA_FLAG_OWNERSHIP : 0) |
                     (place->kind == HEAP_KIND_HUGE ? GVA_FLAG_HUGE : 0);
    ari_gva_t gva = {flags << 56 | place->machine, place->offset & ~(place->page_bytes - 1)};
    return gva;
}

uint64_t heap_address_of(ari_gva_t gva)
{
    if (gva.lo % HEAP_SLOT_BYTES < GVA_PAGE_SIZE)
        return 0; /* a slot's first page: never allocated */
    if (gva.lo >= HEAP_BYTES || gva_ref(gva) != GVA_REF_MASTER || gva_generation(gva) != 0)
        return 0;
    heap_place_t place;
    heap_t none = {.node = UINT32_MAX, .nodes = 1};
    if (heap_locate(&none, HEAP_BASE + gva.lo, &place) != ARI_OK)
        return 0;
    ari_gva_t expect = heap_page_gva(&place);
    if ((expect.hi >> 56) != (gva.hi >> 56))
        return 0;
    /* A slot's pages are born at the slot's node; collective ones at any. */
    if (!place.collective && gva_machine(gva) != place.machine)
        return 0;
    if (place.collective && gva_machine(gva) >= HEAP_SLOT_NODES)
        return 0;
    return HEAP_BASE + gva.lo;
}

/* Inserts an allocation, keeping the array sorted by start. */
static void heap_arena_insert(heap_arena_t *a, const heap_alloc_t *alloc)
{
    uint32_t at = a->count;
    while (at > 0 && a->allocs[at - 1].start > alloc->start)
        at--;
    memmove(&a->allocs[at + 1], &a->allocs[at], (a->count - at) * sizeof *a->allocs);
    a->allocs[at] = *alloc;
    a->count++;
}

/* First fit in the gaps between live allocations, below the bump. */
static bool heap_arena_gap(const heap_arena_t *a, uint64_t bytes, uint64_t *start_out)
{
    uint64_t cursor = a->start + (a->start % HEAP_SLOT_BYTES == 0 ? a->page : 0);
    for (uint32_t i = 0; i < a->count; i++) {
        if (a->allocs[i].start - cursor >= bytes) {
            *start_out = cursor;
            return true;
        }
        cursor = a->allocs[i].start + a->allocs[i].bytes;
    }
    if (a->bump - cursor >= bytes) {
        *start_out = cursor;
        return true;
    }
    return false;
}

int heap_alloc(heap_t *heap, bool collective, heap_kind_t kind, uint64_t bytes, unsigned flags,
               heap_alloc_t *alloc_out)
{
    heap_arena_t *a = collective ? &heap->coll[kind] : &heap->own[kind];
    if (a->count >= HEAP_ALLOCS_MAX)
        return ARI_EBUSY;
    if (bytes == 0 || bytes > a->end - a->start)
        return ARI_ENOMEM;
    uint64_t rounded = (bytes + a->page - 1) & ~(a->page - 1);
    uint64_t start;
    if (a->end - a->bump >= rounded) {
        start = a->bump;
        a->bump += rounded;
    } else if (!heap_arena_gap(a, rounded, &start)) {
        return ARI_ENOMEM;
    }
    heap_alloc_t alloc = {start, rounded, flags};
    heap_arena_insert(a, &alloc);
    *alloc_out = alloc;
    return ARI_OK;
}

int heap_free(heap_t *heap, bool collective, heap_kind_t kind, uint64_t offset,
              heap_alloc_t *freed_out)
{
    heap_arena_t *a = collective ? &heap->coll[kind] : &heap->own[kind];
    const heap_alloc_t *found = heap_arena_find(a, offset);
    if (found == NULL || found->start != offset)
        return ARI_EFAULT;
    uint32_t at = (uint32_t)(found - a->allocs);
    *freed_out = *found;
    memmove(&a->allocs[at], &a->allocs[at + 1], (a->count - at - 1) * sizeof *a->allocs);
    a->count--;
    /* The top allocation going away gives its room back to the bump. */
    uint64_t first = a->start + (a->start % HEAP_SLOT_BYTES == 0 ? a->page : 0);
    uint64_t top = a->count > 0 ? a->allocs[a->count - 1].start + a->allocs[a->count - 1].bytes
                                : first;
    if (freed_out->start + freed_out->bytes == a->bump)
        a->bump = top;
    return ARI_OK;
}
