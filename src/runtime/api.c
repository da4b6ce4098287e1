/*
 * api — the public calls of include/ariadne.h on top of the node
 * (node.h): allocation, addresses, explicit reads and writes, atomics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ariadne.h"
#include "core/gva.h"
#include "core/pcache.h"
#include "budget.h"
#include "dirty.h"
#include "node.h"
#include "notice.h"
#include "strict.h"

#define API_CHECK(fail_value)                                                         \
    do {                                                                              \
        int api_status_ = node_check();                                               \
        if (api_status_ != ARI_OK) {                                                  \
            node_fail(api_status_);                                                   \
            return fail_value;                                                        \
        }                                                                             \
    } while (0)

/* ------------------------------------------------------------------------
 * Allocation
 * ------------------------------------------------------------------------ */

static int api_kind(unsigned flags, bool collective, heap_kind_t *kind_out)
{
    if ((flags & ~(ARI_OWNERSHIP | ARI_HUGE | ARI_SPREAD)) != 0 ||
        (!collective && (flags & ARI_SPREAD)))
        return ARI_EINVAL;
    if ((flags & ARI_OWNERSHIP) && (flags & ARI_HUGE))
        return ARI_EINVAL;
    if ((flags & ARI_HUGE) && node_huge_ready() != ARI_OK)
        return ARI_ENOTSUP;
    *kind_out = (flags & ARI_OWNERSHIP) ? HEAP_KIND_OWNERSHIP
                : (flags & ARI_HUGE)    ? HEAP_KIND_HUGE
                                        : HEAP_KIND_PATHCACHE;
    return ARI_OK;
}

/* Takes the host's huge pages for the 2 MiB pages born here before any is
 * made, so that an allocation the pool cannot hold fails whole, and says
 * why. */
static int api_huge_reserve(const heap_alloc_t *alloc, bool collective, uint64_t pages)
{
    uint64_t taken = 0;
    int status = ARI_OK;
    for (uint64_t a = alloc->start; a < alloc->start + alloc->bytes && status == ARI_OK;
         a += GVA_HUGE_PAGE_SIZE) {
        uint32_t machine = collective ? heap_collective_machine(&node_g.heap, alloc, a) : node_g.id;
        if (machine != node_g.id)
            continue;
        status = fault_huge_reserve(node_g.fault, HEAP_BASE + a, GVA_HUGE_PAGE_SIZE);
        taken = a + GVA_HUGE_PAGE_SIZE - alloc->start;
    }
    if (status == ARI_OK)
        return ARI_OK;
    (void)fault_discard(node_g.fault, HEAP_BASE + alloc->start, taken); /* give them back */
    uint64_t total = fault_huge_pool(false);
    if (total == 0)
        fprintf(stderr, "ariadne: node %u: ARI_HUGE: this host has no huge pages reserved "
                        "(HugePages_Total is 0; as root: sysctl vm.nr_hugepages=N)\n",
                node_g.id);
    else
        fprintf(stderr, "ariadne: node %u: ARI_HUGE: %llu pages of 2 MiB wanted, the host's "
                        "pool has %llu free of %llu (sysctl vm.nr_hugepages)\n",
                node_g.id, (unsigned long long)pages,
                (unsigned long long)fault_huge_pool(true), (unsigned long long)total);
    return status;
}

typedef struct {
    uint64_t start;     /* heap offset of the first page */
    uint32_t machine;   /* create only the pages born here */
    const heap_alloc_t *alloc;
    bool collective;
    heap_kind_t kind;
    dpu_op_t op;
    uint64_t *pages;    /* the pages' offsets this node acts on */
} api_pages_t;

static void api_make_page_op(void *ctx, uint64_t i, dpu_request_t *r)
{
    api_pages_t *set = ctx;
    heap_place_t place = {.collective = set->collective, .kind = set->kind,
                          .machine = node_g.id, .offset = set->pages[i],
                          .page_bytes = set->kind == HEAP_KIND_HUGE ? GVA_HUGE_PAGE_SIZE
                                                                    : GVA_PAGE_SIZE};
    memset(r, 0, sizeof *r);
    r->op = set->op;
    r->page = heap_page_gva(&place);
}

/* Creates (or frees) the pages of an allocation that are born here. A
 * page to be freed that moved away (an ownership page, or one acquired)
 * is taken back first: only its owner may free it. */
static int api_pages_op(const heap_alloc_t *alloc, bool collective, heap_kind_t kind,
                        dpu_op_t op)
{
    uint64_t page = kind == HEAP_KIND_HUGE ? GVA_HUGE_PAGE_SIZE : GVA_PAGE_SIZE;
    uint64_t total = alloc->bytes / page;
    api_pages_t set = {.collective = collective, .kind = kind, .op = op,
                       .pages = malloc((total > 0 ? total : 1) * sizeof(uint64_t))};
    if (set.pages == NULL)
        return ARI_ENOMEM;
    uint64_t mine = 0;
    for (uint64_t i = 0; i < total; i++) {
        uint64_t offset = alloc->start + i * page;
        uint32_t machine = collective ? heap_collective_machine(&node_g.heap, alloc, offset)
                                      : node_g.id;
        if (machine == node_g.id)
            set.pages[mine++] = offset;
    }
    int status = ARI_OK;
    for (uint64_t i = 0; i < mine && op == DPU_OP_FREE; i++) {
        status = strict_reclaim(HEAP_BASE + set.pages[i]);
        if (status != ARI_OK)
            break;
    }
    if (status == ARI_OK)
        status = node_call_many(mine, api_make_page_op, &set);
    free(set.pages);
    return status;
}

/* Bytes of an allocation whose pages are born here. */
static uint64_t api_bytes_born_here(const heap_alloc_t *alloc, bool collective)
{
    uint64_t page = (alloc->flags & ARI_HUGE) ? GVA_HUGE_PAGE_SIZE : GVA_PAGE_SIZE;
    uint64_t total = alloc->bytes / page;
    if (!collective)
        return alloc->bytes;
    if ((alloc->flags & ARI_SPREAD) == 0)
        return node_g.id == 0 ? alloc->bytes : 0;
    return (total / node_g.count + (node_g.id < total % node_g.count ? 1 : 0)) * page;
}

/* Takes the range back after a failure (its pages too, when made). */
static void api_alloc_undo(const heap_alloc_t *alloc, bool collective, heap_kind_t kind,
                           uint64_t mine, bool made)
{
    if (made)
        (void)api_pages_op(alloc, collective, kind, DPU_OP_FREE);
    else if (kind == HEAP_KIND_HUGE)
        (void)fault_discard(node_g.fault, HEAP_BASE + alloc->start, alloc->bytes);
    heap_alloc_t undone;
    pthread_mutex_lock(&node_g.heap_lock);
    heap_free(&node_g.heap, collective, kind, alloc->start, &undone);
    node_g.owned_bytes -= mine;
    pthread_mutex_unlock(&node_g.heap_lock);
}

/* Reserves the range and makes the pages born here. `*held` tells whether
 * the range is still reserved, `*made` whether its pages were made. */
static int api_alloc_here(size_t bytes, unsigned flags, bool collective, heap_kind_t kind,
                          heap_alloc_t *alloc, uint64_t *mine, bool *held, bool *made)
{
    pthread_mutex_lock(&node_g.heap_lock);
    int status = heap_alloc(&node_g.heap, collective, kind, bytes, flags, alloc);
    /* Only a range the heap gave is held (and undone on failure): when the
     * heap has no room, *alloc says nothing, and undoing it punched holes
     * in whatever its stale start named (the runtime page's barrier word
     * among them). */
    *held = status == ARI_OK;
    *mine = status == ARI_OK ? api_bytes_born_here(alloc, collective) : 0;
    if (status == ARI_OK && node_g.owned_bytes + *mine > node_g.mem_bytes) {
        status = ARI_ENOMEM; /* past --mem: never an overcommit */
        *mine = 0;           /* held: undone below, with nothing owned */
    }
    if (status == ARI_OK)
        node_g.owned_bytes += *mine;
    pthread_mutex_unlock(&node_g.heap_lock);
    *made = false;
    if (status == ARI_OK && kind == HEAP_KIND_HUGE)
        status = api_huge_reserve(alloc, collective, *mine / GVA_HUGE_PAGE_SIZE);
    if (status == ARI_OK) {
        status = api_pages_op(alloc, collective, kind, DPU_OP_CREATE);
        *made = true; /* perhaps some: freeing them all is harmless */
    }
    return status;
}

static void *api_alloc(size_t bytes, unsigned flags, bool collective)
{
    heap_kind_t kind;
    int status = bytes == 0 ? ARI_EINVAL : api_kind(flags, collective, &kind);
    if (status != ARI_OK) {
        node_fail(status);
        return NULL;
    }
    heap_alloc_t alloc;
    uint64_t mine;
    bool held, made;
    status = api_alloc_here(bytes, flags, collective, kind, &alloc, &mine, &held, &made);
    /* Collective: every node must come out with the same heap, so all
     * agree on the outcome (nobody touches a page before its owner made
     * it, either: the agreement is a barrier). */
    if (collective && status != ARI_EPEER)
        status = node_agree(status);
    if (status != ARI_OK && held)
        api_alloc_undo(&alloc, collective, kind, mine, made && status != ARI_EPEER);
    if (status != ARI_OK) {
        node_fail(status == ARI_EBUSY ? ARI_ENOMEM : status);
        return NULL;
    }
    return (void *)(uintptr_t)(HEAP_BASE + alloc.start);
}

void *ari_alloc(size_t bytes, unsigned flags)
{
    API_CHECK(NULL);
    return api_alloc(bytes, flags, false);
}

void *ari_alloc_all(size_t bytes, unsigned flags)
{
    API_CHECK(NULL);
    return api_alloc(bytes, flags, true);
}

int ari_free(void *ptr)
{
    API_CHECK(node_fail(ARI_EINIT));
    heap_place_t place;
    int status = node_place(ptr, &place, NULL);
    if (status != ARI_OK)
        return node_fail(ARI_EFAULT);
    if (!place.collective && place.machine != node_g.id)
        return node_fail(ARI_EPERM);
    if (place.alloc == NULL || place.alloc->start != place.offset)
        return node_fail(ARI_EFAULT);
    heap_alloc_t alloc = *place.alloc;
    /* Collective: nobody may still be using a page while its birth node
     * takes it back to free it. */
    if (place.collective)
        status = node_barrier();
    if (status == ARI_OK)
        status = api_pages_op(&alloc, place.collective, place.kind, DPU_OP_FREE);
    if (status == ARI_OK && place.collective)
        status = node_barrier(); /* the range is reused only once every node freed it */
    pthread_mutex_lock(&node_g.heap_lock);
    heap_alloc_t freed;
    if (heap_free(&node_g.heap, place.collective, place.kind, alloc.start, &freed) == ARI_OK)
        node_g.owned_bytes -= api_bytes_born_here(&freed, place.collective);
    pthread_mutex_unlock(&node_g.heap_lock);
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

/* ------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------ */

ari_gva_t ari_gva_of(const void *ptr)
{
    ari_gva_t none = {0, 0};
    API_CHECK(none);
    heap_place_t place;
    ari_gva_t page;
    if (node_place(ptr, &place, &page) != ARI_OK) {
        node_fail(ARI_EFAULT);
        return none;
    }
    page.lo = place.offset;
    return page;
}

/* The range [ptr, ptr + bytes) lies in the heap (bytes may be 0). */
static int api_range(const void *ptr, size_t bytes)
{
    uint64_t a = (uint64_t)(uintptr_t)ptr;
    if (!heap_contains(a) || bytes > HEAP_BYTES || (bytes > 0 && !heap_contains(a + bytes - 1)))
        return ARI_EFAULT;
    return ARI_OK;
}

void *ari_map(ari_gva_t gva, size_t bytes)
{
    API_CHECK(NULL);
    uint64_t address = heap_address_of(gva_page(gva));
    if (address == 0 || gva_ref(gva) != GVA_REF_MASTER) {
        node_fail(ARI_EFAULT);
        return NULL;
    }
    address += gva_page_offset(gva);
    heap_place_t place;
    if (api_range((void *)(uintptr_t)address, bytes) != ARI_OK ||
        node_place((void *)(uintptr_t)address, &place, NULL) != ARI_OK) {
        node_fail(ARI_EFAULT);
        return NULL;
    }
    return (void *)(uintptr_t)address;
}

typedef struct {
    ari_gva_t *pages;
} api_unref_t;

static void api_make_unref(void *ctx, uint64_t i, dpu_request_t *r)
{
    api_unref_t *u = ctx;
    memset(r, 0, sizeof *r);
    r->op = DPU_OP_UNREF;
    r->page = u->pages[i];
}

int ari_unmap(void *ptr, size_t bytes)
{
    API_CHECK(node_fail(ARI_EINIT));
    if (bytes == 0 || api_range(ptr, bytes) != ARI_OK)
        return node_fail(bytes == 0 ? ARI_EINVAL : ARI_EFAULT);
    uint64_t first = (uint64_t)(uintptr_t)ptr & ~(uint64_t)(GVA_PAGE_SIZE - 1);
    uint64_t end = (uint64_t)(uintptr_t)ptr + bytes;
    uint64_t total = (end - first + GVA_PAGE_SIZE - 1) / GVA_PAGE_SIZE;
    api_unref_t u = {malloc(total * sizeof(ari_gva_t))};
    if (u.pages == NULL)
        return node_fail(ARI_ENOMEM);
    uint64_t count = 0;
    for (uint64_t a = first; a < end;) {
        heap_place_t place;
        ari_gva_t page;
        if (node_place((void *)(uintptr_t)a, &place, &page) != ARI_OK) {
            free(u.pages);
            return node_fail(ARI_EFAULT);
        }
        /* The owner keeps its masters; an ownership page has no replica. */
        if (place.machine != node_g.id && place.kind != HEAP_KIND_OWNERSHIP)
            u.pages[count++] = page;
        a = (a & ~(place.page_bytes - 1)) + place.page_bytes;
    }
    int status = node_call_many(count, api_make_unref, &u);
    free(u.pages);
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

int ari_prefault(const void *ptr, size_t bytes)
{
    API_CHECK(node_fail(ARI_EINIT));
    if (bytes == 0 || api_range(ptr, bytes) != ARI_OK)
        return node_fail(bytes == 0 ? ARI_EINVAL : ARI_EFAULT);
    /* Every page must stay: others' pages beyond --mem cannot. */
    uint64_t a = (uint64_t)(uintptr_t)ptr & ~(uint64_t)(GVA_PAGE_SIZE - 1), foreign = 0;
    while (a < (uint64_t)(uintptr_t)ptr + bytes) {
        heap_place_t place;
        if (node_place((const void *)(uintptr_t)a, &place, NULL) != ARI_OK)
            return node_fail(ARI_EFAULT);
        if (place.machine != node_g.id)
            foreign += place.page_bytes / GVA_PAGE_SIZE; /* --mem counts 4 KiB units */
        a = (a & ~(place.page_bytes - 1)) + place.page_bytes;
    }
    if (foreign > budget_stats().limit)
        return node_fail(ARI_ENOMEM);
    int status = node_make_readable((uint64_t)(uintptr_t)ptr, bytes, false);
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

int ari_where(const void *ptr, ari_location_t *location_out)
{
    API_CHECK(node_fail(ARI_EINIT));
    heap_place_t place;
    ari_gva_t page;
    if (location_out == NULL)
        return node_fail(ARI_EINVAL);
    if (node_place(ptr, &place, &page) != ARI_OK)
        return node_fail(ARI_EFAULT);
    ari_location_t loc = {.tier = ARI_MEM, .owner = place.machine,
                          .state = ARI_STATE_UNMAPPED};
    driver_lock(node_g.driver);
    pcache_entry_t *e = pcache_find(dpu_pcache(driver_dpu(node_g.driver)), page);
    if (e != NULL && e->copy == PCACHE_COPY_MASTER)
        loc.owner = node_g.id; /* an acquired page: here, whoever was its birth node */
    else if (e != NULL && (e->flags & PCACHE_STRICT) && place.machine == node_g.id)
        loc.owner = UINT32_MAX; /* moved away: no node knows where without asking */
    loc.hops = loc.owner == UINT32_MAX
                   ? -1
                   : (int)route_distance(driver_route(node_g.driver), node_g.id, loc.owner);
    if (e != NULL && e->copy == PCACHE_COPY_MASTER)
        loc.state = ARI_STATE_MASTER;
    else if (e != NULL && e->copy == PCACHE_COPY_VALID)
        loc.state = ARI_STATE_VALID;
    else if (e != NULL && e->copy == PCACHE_COPY_INVALID)
        loc.state = ARI_STATE_INVALID;
    driver_unlock(node_g.driver);
    loc.distance = loc.hops == 0 ? ARI_LOCAL : loc.hops == 1 ? ARI_NEIGHBOR : ARI_REMOTE;
    *location_out = loc;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Explicit reads and writes
 * ------------------------------------------------------------------------ */

/* One page's piece of a range. */
typedef struct {
    ari_gva_t page;
    uint32_t offset, length;
    uint8_t *address; /* where it is in the heap */
    bool direct;      /* an ownership page: the access is a plain one */
} api_piece_t;

static int api_piece(uint64_t address, uint64_t end, api_piece_t *piece)
{
    heap_place_t place;
    int status = node_place((void *)(uintptr_t)address, &place, &piece->page);
    if (status != ARI_OK)
        return status;
    if (place.kind == HEAP_KIND_HUGE && (status = node_huge_ready()) != ARI_OK)
        return status;
    piece->direct = place.kind == HEAP_KIND_OWNERSHIP;
    piece->address = (uint8_t *)(uintptr_t)address;
    piece->offset = (uint32_t)(address & (place.page_bytes - 1));
    /* Pieces of a 2 MiB page stop at 4 KiB boundaries too: a WRITE's
     * bytes wait in a buffer on the stack. */
    uint64_t room = GVA_PAGE_SIZE - (address & (GVA_PAGE_SIZE - 1));
    piece->length = (uint32_t)(end - address < room ? end - address : room);
    return ARI_OK;
}

/* Calls `fn` for each page's piece of [address, address + bytes), in
 * order; `done` is how many bytes came before the piece. */
static int api_each_piece(uint64_t address, size_t bytes,
                          int (*fn)(void *ctx, const api_piece_t *piece, size_t done), void *ctx)
{
    uint64_t at = address, end = address + bytes;
    while (at < end) {
        api_piece_t piece;
        int status = api_piece(at, end, &piece);
        if (status == ARI_OK)
            status = fn(ctx, &piece, (size_t)(at - address));
        if (status != ARI_OK)
            return status;
        at += piece.length;
    }
    return ARI_OK;
}

static int api_store_piece(void *ctx, const api_piece_t *piece, size_t done)
{
    if (piece->direct) { /* faults take the page; it is the one copy */
        memcpy(piece->address, (const uint8_t *)ctx + done, piece->length);
        return ARI_OK;
    }
    /* src may itself be global memory: copied here, before the DPU's lock
     * is taken, so its faults are served like any load. */
    uint8_t buffer[GVA_PAGE_SIZE];
    memcpy(buffer, (const uint8_t *)ctx + done, piece->length);
    /* A page this node is writing with plain stores takes the bytes too,
     * or its next flush would send the older ones over them. */
    dirty_store_through(heap_address_of(piece->page) + piece->offset, buffer, piece->length);
    dpu_request_t r = {.op = DPU_OP_WRITE, .page = piece->page, .offset = piece->offset,
                       .length = piece->length, .data = buffer};
    driver_result_t result;
    int status = node_call(&r, NULL, &result);
    if (status == ARI_OK)
        status = node_see_own_write(piece->page, result.version);
    return status;
}

int ari_store(void *dst, const void *src, size_t bytes)
{
    API_CHECK(node_fail(ARI_EINIT));
    if (src == NULL || bytes == 0)
        return node_fail(ARI_EINVAL);
    if (api_range(dst, bytes) != ARI_OK)
        return node_fail(ARI_EFAULT);
    int status = api_each_piece((uint64_t)(uintptr_t)dst, bytes, api_store_piece, (void *)src);
    if (status != ARI_OK)
        return node_fail(status);
    atomic_fetch_add_explicit(&node_g.stores, 1, memory_order_relaxed);
    return ARI_OK;
}

static int api_get_piece(void *ctx, const api_piece_t *piece, size_t done)
{
    if (piece->direct) {
        memcpy((uint8_t *)ctx + done, piece->address, piece->length);
        return ARI_OK;
    }
    dpu_request_t r = {.op = DPU_OP_GET, .page = piece->page, .offset = piece->offset,
                       .length = piece->length};
    return node_call(&r, (uint8_t *)ctx + done, NULL);
}

int ari_get(void *dst, const void *src, size_t bytes)
{
    API_CHECK(node_fail(ARI_EINIT));
    if (dst == NULL || bytes == 0)
        return node_fail(ARI_EINVAL);
    if (api_range(src, bytes) != ARI_OK)
        return node_fail(ARI_EFAULT);
    if (api_range(dst, 1) == ARI_OK)
        return node_fail(ARI_EINVAL); /* the answer is copied in under the DPU's lock */
    int status = api_each_piece((uint64_t)(uintptr_t)src, bytes, api_get_piece, dst);
    if (status != ARI_OK)
        return node_fail(status);
    atomic_fetch_add_explicit(&node_g.gets, 1, memory_order_relaxed);
    return ARI_OK;
}

/* An atomic on an ownership page: the CPU's own, on the one copy (a
 * fault brings the page here first). */
static int api_atomic_direct(uint64_t *ptr, uint8_t op, uint64_t arg0, uint64_t arg1,
                             uint64_t *old_out)
{
    if ((uintptr_t)ptr % 8 != 0)
        return ARI_EINVAL;
    uint64_t old = arg0;
    switch (op) {
    case MSG_ATOMIC_FETCH_ADD: old = __atomic_fetch_add(ptr, arg0, __ATOMIC_SEQ_CST); break;
    case MSG_ATOMIC_SWAP: old = __atomic_exchange_n(ptr, arg0, __ATOMIC_SEQ_CST); break;
    default:
        (void)__atomic_compare_exchange_n(ptr, &old, arg1, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST);
        break;
    }
    atomic_fetch_add_explicit(&node_g.atomics, 1, memory_order_relaxed);
    if (old_out != NULL)
        *old_out = old;
    return ARI_OK;
}

static int api_atomic(uint64_t *ptr, uint8_t op, uint64_t arg0, uint64_t arg1, uint64_t *old_out)
{
    API_CHECK(node_fail(ARI_EINIT));
    if (api_range(ptr, 8) != ARI_OK)
        return node_fail(ARI_EFAULT);
    heap_place_t place;
    int status = node_place(ptr, &place, NULL);
    if (status == ARI_OK && place.kind == HEAP_KIND_OWNERSHIP)
        status = api_atomic_direct(ptr, op, arg0, arg1, old_out);
    else if (status == ARI_OK)
        status = node_atomic((uint64_t)(uintptr_t)ptr, op, arg0, arg1, old_out);
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

int ari_fetch_add_u64(uint64_t *ptr, uint64_t add, uint64_t *old_out)
{
    return api_atomic(ptr, MSG_ATOMIC_FETCH_ADD, add, 0, old_out);
}

int ari_cas_u64(uint64_t *ptr, uint64_t expected, uint64_t desired, uint64_t *old_out)
{
    return api_atomic(ptr, MSG_ATOMIC_CAS, expected, desired, old_out);
}

int ari_swap_u64(uint64_t *ptr, uint64_t value, uint64_t *old_out)
{
    return api_atomic(ptr, MSG_ATOMIC_SWAP, value, 0, old_out);
}



/* ------------------------------------------------------------------------
 * Pins
 * ------------------------------------------------------------------------ */

/* The range lies in allocated memory (every page of it). */
static int api_allocated(const void *ptr, size_t bytes)
{
    if (bytes == 0)
        return ARI_EINVAL;
    if (api_range(ptr, bytes) != ARI_OK)
        return ARI_EFAULT;
    uint64_t a = (uint64_t)(uintptr_t)ptr & ~(uint64_t)(GVA_PAGE_SIZE - 1);
    for (; a < (uint64_t)(uintptr_t)ptr + bytes; a += GVA_PAGE_SIZE) {
        heap_place_t place;
        if (node_place((const void *)(uintptr_t)a, &place, NULL) != ARI_OK)
            return ARI_EFAULT;
    }
    return ARI_OK;
}

int ari_acquire(void *ptr, size_t bytes)
{
    API_CHECK(node_fail(ARI_EINIT));
    int status = api_allocated(ptr, bytes);
    if (status == ARI_OK)
        status = strict_acquire((uint64_t)(uintptr_t)ptr, bytes);
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

int ari_release(void *ptr, size_t bytes)
{
    API_CHECK(node_fail(ARI_EINIT));
    int status = api_allocated(ptr, bytes);
    if (status == ARI_OK)
        status = strict_release((uint64_t)(uintptr_t)ptr, bytes);
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

/* ------------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------------ */

static void api_count_entry(void *ctx, pcache_entry_t *entry)
{
    ari_stats_t *s = ctx;
    s->entries++;
    s->masters += entry->copy == PCACHE_COPY_MASTER;
    s->replicas += entry->copy == PCACHE_COPY_VALID;
    s->relays += entry->copy == PCACHE_COPY_NONE;
}

int ari_stats(ari_stats_t *stats_out)
{
    API_CHECK(node_fail(ARI_EINIT));
    if (stats_out == NULL)
        return node_fail(ARI_EINVAL);
    ari_stats_t s;
    memset(&s, 0, sizeof s);
    driver_lock(node_g.driver);
    dpu_t *dpu = driver_dpu(node_g.driver);
    const dpu_stats_t *d = dpu_stats(dpu);
    s.messages_out = d->messages_out;
    s.messages_in = d->messages_in;
    s.bytes_out = d->bytes_out;
    s.transfers_in = d->transfers_in;
    s.transfers_out = d->transfers_out;
    pcache_each(dpu_pcache(dpu), api_count_entry, &s);
    driver_unlock(node_g.driver);
    dirty_stats_t ds = dirty_stats();
    notice_stats_t ns = notice_stats();
    s.write_faults = ds.write_faults;
    s.read_faults = fault_count(node_g.fault) - ds.write_faults;
    s.flushes = ds.flushes;
    s.diffs = ds.diffs;
    s.diff_bytes = ds.diff_bytes;
    s.notices_published = ns.published;
    s.notices_absorbed = ns.absorbed;
    s.resyncs = ns.resyncs;
    s.fallbacks = ns.fallbacks;
    budget_stats_t bs = budget_stats();
    s.mem_held = bs.held;
    s.mem_limit = bs.limit;
    s.evictions = bs.evictions;
    s.atomics = atomic_load(&node_g.atomics);
    s.locks = atomic_load(&node_g.locks);
    s.barriers = atomic_load(&node_g.barriers);
    *stats_out = s;
    return ARI_OK;
}
