/*
 * strict — ownership pages and pins in the runtime (strict.h).
 */
#include "strict.h"

#include "core/gva.h"
#include "core/pcache.h"
#include "budget.h"
#include "dirty.h"
#include "node.h"

/* Under the driver's lock: whether this node owns the page. */
static bool strict_is_master(ari_gva_t page)
{
    pcache_entry_t *e = pcache_find(dpu_pcache(driver_dpu(node_g.driver)), page);
    return e != NULL && e->copy == PCACHE_COPY_MASTER;
}

/* Under the driver's lock: opens an owned page in the application's view.
 * An ownership page is read and written in place; a path-cache master is
 * only made readable, since its stores go through twins (dirty.c). */
static int strict_map(uint64_t address, ari_gva_t page)
{
    int status = fault_map(node_g.fault, address, GVA_PAGE_SIZE);
    if (status == ARI_OK && gva_is_ownership(page))
        status = fault_open_write(node_g.fault, address, GVA_PAGE_SIZE);
    return status;
}

/* Asks for the page (flags: DPU_ACQUIRE_HOLD or DPU_ACQUIRE_PIN) unless it
 * is here and, for a pin, pinned already; maps it once it is. Retries
 * while a hold ran out before the page could be mapped. */
static int strict_take(uint64_t address, ari_gva_t page, uint8_t flags)
{
    for (uint32_t tries = 0; tries < STRICT_TRIES_MAX; tries++) {
        driver_lock(node_g.driver);
        dpu_t *dpu = driver_dpu(node_g.driver);
        bool have = strict_is_master(page) &&
                    (flags != DPU_ACQUIRE_PIN || dpu_pinned(dpu, page) || tries > 0);
        int status = have ? strict_map(address, page) : ARI_OK;
        driver_unlock(node_g.driver);
        if (have)
            return status;
        /* Asked without the lock: if the page arrives meanwhile, the DPU
         * grants the request here at once. */
        dpu_request_t r = {.op = DPU_OP_ACQUIRE, .page = page, .flags = flags};
        status = node_call(&r, NULL, NULL);
        if (status == ARI_EBUSY) { /* the owner's queue is full: later */
            driver_poll_for(node_g.driver, 50000);
            continue;
        }
        if (status != ARI_OK)
            return status;
    }
    return ARI_EBUSY;
}

int strict_own(uint64_t page_address)
{
    heap_place_t place;
    ari_gva_t page;
    int status = node_place((const void *)(uintptr_t)page_address, &place, &page);
    if (status == ARI_OK && place.machine != node_g.id)
        status = budget_make_room(1); /* another node's page will be held here */
    if (status != ARI_OK)
        return status;
    return strict_take(page_address & ~(uint64_t)(GVA_PAGE_SIZE - 1), page, DPU_ACQUIRE_HOLD);
}

void strict_page_leave(ari_gva_t page)
{
    uint64_t address = heap_address_of(page);
    if (address == 0)
        return;
    /* Both views share the memory: once the application's is closed (the
     * kernel shoots the mappings down before returning), the DPU's copy is
     * final. A store that faults now waits for the driver's lock. */
    (void)fault_close_write(node_g.fault, address, gva_page_size(page));
    (void)fault_unmap(node_g.fault, address, gva_page_size(page));
}

/* Calls fn on every page of [address, address + bytes), in order; with
 * `stop`, not past the first failure. Returns the first failure. */
static int strict_each(uint64_t address, uint64_t bytes, bool stop,
                       int (*fn)(uint64_t page_address, ari_gva_t page))
{
    uint64_t a = address & ~(uint64_t)(GVA_PAGE_SIZE - 1);
    int first = ARI_OK;
    for (; a < address + bytes; a += GVA_PAGE_SIZE) {
        heap_place_t place;
        ari_gva_t page;
        int status = node_place((const void *)(uintptr_t)a, &place, &page);
        if (status == ARI_OK && place.kind == HEAP_KIND_HUGE)
            status = ARI_ENOTSUP;
        if (status == ARI_OK)
            status = fn(a, page);
        if (status != ARI_OK && first == ARI_OK)
            first = status;
        if (status != ARI_OK && stop)
            return status;
    }
    return first;
}

static int strict_acquire_page(uint64_t page_address, ari_gva_t page)
{
    int status = gva_machine(page) != node_g.id ? budget_make_room(1) : ARI_OK;
    if (status != ARI_OK)
        return status;
    return strict_take(page_address, page, DPU_ACQUIRE_PIN);
}

int strict_acquire(uint64_t address, uint64_t bytes)
{
    /* This node's unpublished stores go first: a master that moves here
     * must not meet its own older diff later. */
    int status = dirty_flush();
    if (status != ARI_OK)
        return status;
    return strict_each(address, bytes, true, strict_acquire_page);
}

int strict_reclaim(uint64_t page_address)
{
    heap_place_t place;
    ari_gva_t page;
    int status = node_place((const void *)(uintptr_t)page_address, &place, &page);
    if (status != ARI_OK)
        return status;
    driver_lock(node_g.driver);
    bool here = strict_is_master(page);
    driver_unlock(node_g.driver);
    return here ? ARI_OK : strict_take(page_address, page, DPU_ACQUIRE_PIN);
}

static int strict_release_page(uint64_t page_address, ari_gva_t page)
{
    (void)page_address;
    dpu_request_t r = {.op = DPU_OP_RELEASE, .page = page};
    int status = node_call(&r, NULL, NULL);
    return status == ARI_EINVAL ? ARI_EPERM : status; /* not pinned here */
}

int strict_release(uint64_t address, uint64_t bytes)
{
    int status = dirty_flush(); /* a release point: the stores go before the pages */
    int released = strict_each(address, bytes, false, strict_release_page);
    return status != ARI_OK ? status : released;
}
