/*
 * node — the node process's life (ari_init, ari_finalize), what its DPU
 * asks of it, and the faults that make global pages readable (node.h).
 */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/gva.h"
#include "core/pcache.h"
#include "budget.h"
#include "dirty.h"
#include "notice.h"
#include "strict.h"
#include "transport/shmring.h"

node_t node_g = {.ctl_fd = -1, .count = 1, .heap_lock = PTHREAD_MUTEX_INITIALIZER};

static __thread int node_errno;

int node_fail(int status)
{
    node_errno = status;
    return status;
}

int ari_errno(void) { return node_errno; }

int node_check(void) { return atomic_load(&node_g.ready) ? ARI_OK : ARI_EINIT; }

/* ------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------ */

int node_call(dpu_request_t *request, uint8_t *get_dst, driver_result_t *result_out)
{
    return driver_call(node_g.driver, request, get_dst, result_out);
}

#define NODE_BATCH 256u

int node_call_many(uint64_t count, void (*make)(void *ctx, uint64_t i, dpu_request_t *r),
                   void *ctx)
{
    uint64_t i = 0;
    uint64_t limit = driver_now_ns() + driver_timeout_ns(node_g.driver);
    while (i < count) {
        int status = driver_throttle(node_g.driver);
        if (status != ARI_OK)
            return status;
        driver_ticket_t t;
        uint32_t submitted = 0;
        driver_lock(node_g.driver);
        status = driver_ticket_open(node_g.driver, &t);
        for (; status == ARI_OK && i < count && submitted < NODE_BATCH; i++, submitted++) {
            dpu_request_t r;
            make(ctx, i, &r);
            status = driver_submit(node_g.driver, t, &r, NULL);
        }
        if (status == ARI_EBUSY && submitted > 0) { /* the DPU's table is full: wait, go on */
            i--;
            submitted--;
            status = ARI_OK;
        }
        driver_unlock(node_g.driver);
        if (status == ARI_EBUSY && driver_now_ns() < limit) {
            if (submitted == 0) { /* nothing went out: the ticket may be closed here */
                driver_lock(node_g.driver);
                driver_ticket_close(node_g.driver, t);
                driver_unlock(node_g.driver);
            }
            driver_poll_for(node_g.driver, 100000);
            continue;
        }
        int waited = driver_wait(node_g.driver, t, NULL);
        if (status == ARI_OK)
            status = waited;
        if (status != ARI_OK)
            return status;
    }
    return ARI_OK;
}

/* The word of the runtime page that counts failed collective steps. */
#define NODE_FAILS_OFFSET 64u

int node_agree(int status)
{
    uint64_t word = heap_address_of(node_g.runtime_page) + NODE_FAILS_OFFSET;
    int s = status != ARI_OK ? node_atomic(word, MSG_ATOMIC_FETCH_ADD, 1, 0, NULL) : ARI_OK;
    if (s == ARI_OK)
        s = node_barrier(); /* every count is in */
    uint64_t fails = 0;
    if (s == ARI_OK)
        s = node_get_u64(word, &fails);
    if (s == ARI_OK)
        s = node_barrier(); /* every node read it before the next step may add */
    if (s != ARI_OK)
        return s;
    bool all = fails == node_g.fails_seen;
    node_g.fails_seen = fails;
    return all ? ARI_OK : status != ARI_OK ? status : ARI_ENOMEM;
}

int node_barrier(void)
{
    dpu_request_t r = {.op = DPU_OP_BARRIER, .page = node_g.runtime_page, .offset = 0,
                       .arg0 = node_g.count};
    return node_call(&r, NULL, NULL);
}

int node_atomic(uint64_t address, uint8_t op, uint64_t arg0, uint64_t arg1, uint64_t *old_out)
{
    if (address % 8 != 0)
        return ARI_EINVAL;
    heap_place_t place;
    ari_gva_t page;
    int status = node_place((void *)(uintptr_t)address, &place, &page);
    if (status == ARI_OK && place.kind == HEAP_KIND_OWNERSHIP)
        status = ARI_ENOTSUP;
    /* The word's page dirty here: its diff first, or it would later send
     * the word's older bytes over the atomic's result. */
    if (status == ARI_OK && place.kind == HEAP_KIND_HUGE)
        status = node_huge_ready();
    if (status == ARI_OK && dirty_is(address & ~(place.page_bytes - 1)))
        status = dirty_flush();
    if (status != ARI_OK)
        return status;
    dpu_request_t r = {.op = DPU_OP_ATOMIC, .page = page,
                       .offset = (uint32_t)(address & (place.page_bytes - 1)), .atomic_op = op,
                       .arg0 = arg0, .arg1 = arg1};
    driver_result_t result;
    status = node_call(&r, NULL, &result);
    if (status == ARI_OK)
        status = node_see_own_write(page, result.version);
    if (status != ARI_OK)
        return status;
    atomic_fetch_add_explicit(&node_g.atomics, 1, memory_order_relaxed);
    if (old_out != NULL)
        *old_out = result.value;
    return ARI_OK;
}

int node_get_u64(uint64_t address, uint64_t *value_out)
{
    heap_place_t place;
    ari_gva_t page;
    int status = node_place((void *)(uintptr_t)address, &place, &page);
    if (status != ARI_OK)
        return status;
    dpu_request_t r = {.op = DPU_OP_GET, .page = page,
                       .offset = (uint32_t)(address & (place.page_bytes - 1)), .length = 8};
    return node_call(&r, (uint8_t *)value_out, NULL);
}


/* ------------------------------------------------------------------------
 * Places and pages
 * ------------------------------------------------------------------------ */

int node_place(const void *ptr, heap_place_t *place_out, ari_gva_t *page_out)
{
    pthread_mutex_lock(&node_g.heap_lock);
    int status = heap_locate(&node_g.heap, (uint64_t)(uintptr_t)ptr, place_out);
    pthread_mutex_unlock(&node_g.heap_lock);
    if (status != ARI_OK)
        return status;
    /* Pages this node can vouch for must be allocated; others' slots are
     * checked by their owners (a page that does not exist: ARI_ENOENT). */
    bool knowable = place_out->collective || place_out->machine == node_g.id;
    if (knowable && place_out->alloc == NULL)
        return ARI_EFAULT;
    if (place_out->machine >= node_g.count)
        return ARI_EFAULT;
    if (page_out != NULL)
        *page_out = heap_page_gva(place_out);
    return ARI_OK;
}

static bool node_page_readable(dpu_t *dpu, ari_gva_t page)
{
    pcache_entry_t *e = pcache_find(dpu_pcache(dpu), page);
    return e != NULL && (e->copy == PCACHE_COPY_MASTER || e->copy == PCACHE_COPY_VALID);
}

bool node_page_valid(ari_gva_t page)
{
    return node_page_readable(driver_dpu(node_g.driver), page);
}

/* The end of the run a fault at `address` may ask for. */
static uint64_t node_run_end(const heap_place_t *place, uint64_t address, uint64_t end,
                             bool readahead)
{
    uint64_t limit = end, page = place->page_bytes;
    if (readahead) /* the same bytes ahead, and at least the page itself */
        limit = address + ((uint64_t)node_g.readahead * GVA_PAGE_SIZE + page - 1) / page * page;
    if (place->alloc != NULL) {
        uint64_t alloc_end = HEAP_BASE + place->alloc->start + place->alloc->bytes;
        if (limit > alloc_end)
            limit = alloc_end;
    }
    /* A run never leaves its slot's arena (nor MSG_RUN_MAX pages). */
    uint64_t arena = HEAP_BASE + ((place->offset / (HEAP_SLOT_BYTES / 4)) + 1) * (HEAP_SLOT_BYTES / 4);
    if (limit > arena)
        limit = arena;
    if (limit > address + (uint64_t)MSG_RUN_MAX * page)
        limit = address + (uint64_t)MSG_RUN_MAX * page;
    return limit;
}

/* Under the lock: opens the readable prefix of [address, run_end). */
static int node_map_prefix(dpu_t *dpu, const heap_place_t *place, uint64_t address,
                           uint64_t run_end, uint64_t *mapped_out)
{
    heap_place_t p = *place;
    uint64_t a = address;
    for (; a < run_end; a += place->page_bytes) {
        p.offset = a - HEAP_BASE;
        if (p.collective && p.alloc != NULL)
            p.machine = heap_collective_machine(&node_g.heap, p.alloc, p.offset);
        if (!node_page_readable(dpu, heap_page_gva(&p)))
            break;
    }
    *mapped_out = (a - address) / place->page_bytes;
    if (a == address)
        return ARI_OK;
    atomic_fetch_add_explicit(&node_g.pages_mapped, *mapped_out, memory_order_relaxed);
    return fault_map(node_g.fault, address, a - address);
}

/* Asks for the run at `address` without waiting (read-ahead ahead of a
 * sequential reader): the answer arrives while it reads what it has. */
static void node_read_ahead(dpu_t *dpu, const heap_place_t *place, uint64_t address,
                            uint64_t run_end)
{
    if (address >= run_end)
        return;
    heap_place_t p = *place;
    p.offset = address - HEAP_BASE;
    if (p.collective && p.alloc != NULL)
        p.machine = heap_collective_machine(&node_g.heap, p.alloc, p.offset);
    ari_gva_t page = heap_page_gva(&p);
    if (pcache_find(dpu_pcache(dpu), page) != NULL || p.machine == node_g.id)
        return;
    uint64_t run = (run_end - address) / place->page_bytes;
    if (budget_room() < 2 * (run_end - address) / GVA_PAGE_SIZE)
        return; /* near --mem: read-ahead would only evict what was read */
    driver_ticket_t t;
    if (driver_ticket_open(node_g.driver, &t) != ARI_OK)
        return;
    dpu_request_t r = {.op = DPU_OP_READ, .page = page, .pages = (uint32_t)run};
    (void)driver_submit(node_g.driver, t, &r, NULL); /* best effort */
    driver_ticket_close(node_g.driver, t); /* its answer is only a page arriving */
}

/* One step for the page at `address`: map what is readable, or ask. */
static int node_readable_step(const heap_place_t *place, uint64_t address, uint64_t run_end,
                              bool readahead, uint64_t *mapped_out)
{
    dpu_t *dpu = driver_dpu(node_g.driver);
    uint64_t page = place->page_bytes;
    driver_lock(node_g.driver);
    int status = node_map_prefix(dpu, place, address, run_end, mapped_out);
    if (status != ARI_OK || *mapped_out > 0) {
        if (status == ARI_OK && readahead && *mapped_out * 2 >= (run_end - address) / page)
            node_read_ahead(dpu, place, address + *mapped_out * page,
                            node_run_end(place, address + *mapped_out * page, UINT64_MAX, true));
        driver_unlock(node_g.driver);
        return status;
    }
    /* A read brings others' pages: it fits in --mem, shortened to the room
     * left; with none left, room is made first (without the lock) and the
     * step is taken again. This node's own pages were reserved. */
    uint64_t room = place->machine == node_g.id ? UINT64_MAX : budget_room() / (page / GVA_PAGE_SIZE);
    if (room == 0) {
        driver_unlock(node_g.driver);
        return budget_make_room(page / GVA_PAGE_SIZE);
    }
    if (run_end > address && (run_end - address) / page > room)
        run_end = address + room * page;
    driver_ticket_t t;
    status = driver_ticket_open(node_g.driver, &t);
    if (status == ARI_OK) {
        heap_place_t p = *place;
        p.offset = address - HEAP_BASE;
        if (p.collective && p.alloc != NULL)
            p.machine = heap_collective_machine(&node_g.heap, p.alloc, p.offset);
        dpu_request_t r = {.op = DPU_OP_READ, .page = heap_page_gva(&p),
                           .pages = (uint32_t)((run_end - address) / page)};
        r.min_version = notice_floor(r.page); /* a noticed write: not older than it */
        status = driver_submit(node_g.driver, t, &r, NULL);
        if (status != ARI_OK)
            driver_ticket_close(node_g.driver, t);
    }
    driver_unlock(node_g.driver);
    if (status != ARI_OK)
        return status;
    return driver_wait(node_g.driver, t, NULL); /* then the next step maps it */
}

int node_make_readable(uint64_t address, uint64_t bytes, bool readahead)
{
    uint64_t a = address;
    uint64_t end = address + (bytes > 0 ? bytes : 1);
    uint32_t idle_steps = 0;
    while (a < end) {
        heap_place_t place;
        int status = node_place((const void *)(uintptr_t)a, &place, NULL);
        if (status != ARI_OK)
            return status;
        a &= ~(place.page_bytes - 1);
        if (place.kind == HEAP_KIND_OWNERSHIP) { /* owned to be read */
            status = strict_own(a);
            if (status != ARI_OK || readahead)
                return status;
            a += GVA_PAGE_SIZE;
            continue;
        }
        if (place.kind == HEAP_KIND_HUGE && (status = node_huge_ready()) != ARI_OK)
            return status;
        uint64_t run_end = node_run_end(&place, a, end, readahead);
        uint64_t mapped = 0;
        status = node_readable_step(&place, a, run_end, readahead, &mapped);
        if (status != ARI_OK)
            return status;
        a += mapped * place.page_bytes;
        if (readahead && mapped > 0)
            return ARI_OK; /* a fault needs its one page */
        /* A page can be invalidated between arriving and being mapped; a
         * bounded number of retries keeps that from looping forever. */
        idle_steps = mapped > 0 ? 0 : idle_steps + 1;
        if (idle_steps > 1000)
            return ARI_EBUSY;
    }
    return ARI_OK;
}

int node_see_own_write(ari_gva_t page, uint64_t version)
{
    uint64_t deadline = driver_now_ns() + 1000000; /* the update is usually a hop behind */
    dpu_t *dpu = driver_dpu(node_g.driver);
    for (;;) {
        driver_lock(node_g.driver);
        pcache_entry_t *e = pcache_find(dpu_pcache(dpu), page);
        bool behind = e != NULL && e->copy == PCACHE_COPY_VALID && e->version < version;
        driver_unlock(node_g.driver);
        if (!behind)
            return ARI_OK;
        if (driver_now_ns() >= deadline)
            break;
        driver_poll_for(node_g.driver, 20000);
    }
    dpu_request_t r = {.op = DPU_OP_READ, .page = page, .min_version = version};
    return node_call(&r, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * What the DPU and the faults ask of the node
 * ------------------------------------------------------------------------ */

static uint8_t *node_page_memory(void *ctx, ari_gva_t page, bool create)
{
    (void)ctx;
    uint64_t address = heap_address_of(page);
    if (address == 0)
        return NULL;
    /* A 2 MiB page takes the host's huge pages now, or the DPU fails the
     * request (ARI_ENOMEM) rather than touch memory the pool cannot give. */
    if (create && gva_is_huge(page) &&
        (!node_g.huge || fault_huge_reserve(node_g.fault, address, GVA_HUGE_PAGE_SIZE) != ARI_OK))
        return NULL;
    if (create) /* the memory file is sparse: a page takes memory once written */
        budget_note_held(page);
    return fault_dpu_address(node_g.fault, address - HEAP_BASE);
}

static void node_page_drop(void *ctx, ari_gva_t page)
{
    (void)ctx;
    uint64_t address = heap_address_of(page);
    if (address == 0)
        return;
    if (gva_is_ownership(page))
        strict_page_leave(page); /* its view was open for stores */
    else
        dirty_page_drop(page); /* a dirty page's diff is kept for the next flush */
    fault_discard(node_g.fault, address, gva_page_size(page));
    budget_note_dropped(page);
}

static void node_page_write(void *ctx, ari_gva_t page, uint8_t *memory, uint32_t offset,
                            const uint8_t *bytes, uint32_t length)
{
    (void)ctx;
    dirty_page_write(page, memory, offset, bytes, length);
}

/* A pin held past its limit is a fault of the program on this host
 * (DESIGN §5): said on stderr with the node and the host, so a run across
 * many hosts shows where. The first few only: a program that forgets its
 * releases would otherwise fill the log (ari_stats counts them all). */
#define NODE_PIN_REPORTS 8

static void node_report_pin(ari_gva_t page)
{
    uint32_t n = atomic_fetch_add(&node_g.pin_reports, 1);
    if (n >= NODE_PIN_REPORTS)
        return;
    char text[400];
    int length = snprintf(text, sizeof text,
                          "ariadne: node %u on host %s held a pin on %#llx past the pin limit "
                          "(ARI_PIN_MS=%llu ms), a host fault: unpinned, and the page goes on "
                          "to its next waiter%s\n",
                          node_g.id, node_g.host, (unsigned long long)heap_address_of(page),
                          (unsigned long long)node_g.pin_ms,
                          n + 1 == NODE_PIN_REPORTS ? " (later ones are counted, not said)" : "");
    if (length > 0 && write(STDERR_FILENO, text, (size_t)length) < 0)
        length = 0;
}

static void node_observe(void *ctx, const dpu_event_t *event)
{
    (void)ctx;
    if (event->kind == DPU_EVENT_PIN_EXPIRED)
        node_report_pin(event->page);
    if (event->kind != DPU_EVENT_INVALIDATE)
        return;
    uint64_t address = heap_address_of(event->page);
    /* A dirty page stays mapped with this node's stores; its flush re-syncs it. */
    if (address != 0 && !dirty_page_invalidated(event->page))
        fault_unmap(node_g.fault, address, gva_page_size(event->page));
}

/* A load faulted. It cannot be given an error: an address that is not
 * global memory, or a run that is ending, stops the process with why. */
static void node_resolve(void *ctx, uint64_t page_address)
{
    (void)ctx;
    int status = node_make_readable(page_address, 1, true);
    if (status != ARI_OK)
        node_stop("load from", page_address, status);
}

void node_stop(const char *access, uint64_t address, int status)
{
    char text[300];
    int n = snprintf(text, sizeof text, "ariadne: node %u: a %s global memory at %#llx "
                                        "failed: %s%s; stopping\n", node_g.id, access,
                     (unsigned long long)address, ari_strerror(status),
                     status != ARI_ENOMEM ? ""
                     : node_g.fault != NULL &&
                               fault_page_size(node_g.fault, address) > GVA_PAGE_SIZE
                         ? " (the host's pool of 2 MiB pages is empty, or this node holds "
                           "all the pages --mem allows)"
                         : " (this node holds all the pages --mem allows, and none of them "
                           "can be dropped)");
    if (n > 0 && write(STDERR_FILENO, text, (size_t)n) < 0)
        n = 0;
    _exit(status == ARI_EPEER ? 1 : 70);
}

static void node_page_leave(void *ctx, ari_gva_t page)
{
    (void)ctx;
    strict_page_leave(page);
}

static void node_write_fault(void *ctx, uint64_t page_address)
{
    (void)ctx;
    heap_place_t place;
    if (node_place((const void *)(uintptr_t)page_address, &place, NULL) == ARI_OK &&
        place.kind == HEAP_KIND_OWNERSHIP) {
        int status = strict_own(page_address);
        if (status != ARI_OK)
            node_stop("store to", page_address, status);
        return;
    }
    dirty_write_fault(page_address);
}

/* ------------------------------------------------------------------------
 * ari_init
 * ------------------------------------------------------------------------ */

static uint64_t node_env_u64(const char *name, uint64_t fallback)
{
    const char *text = getenv(name);
    if (text == NULL || *text == '\0')
        return fallback;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    return errno == 0 && *end == '\0' ? (uint64_t)v : fallback;
}

static int node_ctl_open(char *error, size_t error_size)
{
    const char *fd_text = getenv(CTL_ENV_FD);
    if (fd_text == NULL) { /* not started by `ariadne run`: a run of one */
        ctl_params_t p = {.nodes = 1, .ports = 1, .ring_count = 0,
                          .ring_capacity = CTL_RING_DEFAULT,
                          .mem_bytes = node_env_u64("ARI_MEM_BYTES", 1ull << 30),
                          .timeout_ms = (uint32_t)node_env_u64("ARI_TIMEOUT_MS", 30000),
                          .topo_spec = "mesh:1"};
        node_g.id = 0;
        return ctl_create(&p, &node_g.ctl_fd, &node_g.ctl);
    }
    uint64_t fd = node_env_u64(CTL_ENV_FD, UINT64_MAX);
    uint64_t id = node_env_u64(CTL_ENV_NODE, UINT64_MAX);
    int status = fd > 1000000 ? ARI_EINVAL : ctl_attach((int)fd, &node_g.ctl);
    if (status != ARI_OK) {
        snprintf(error, error_size, "%s=%s is not the control region of a run", CTL_ENV_FD,
                 fd_text);
        return status;
    }
    node_g.ctl_fd = (int)fd;
    if (id >= node_g.ctl->nodes) {
        snprintf(error, error_size, "%s is not a node of this run of %u", CTL_ENV_NODE,
                 node_g.ctl->nodes);
        return ARI_EINVAL;
    }
    node_g.id = (uint32_t)id;
    return ARI_OK;
}

static void node_dpu_config(dpu_config_t *config)
{
    dpu_config_default(config);
    uint64_t pages = node_g.mem_bytes / GVA_PAGE_SIZE;
    uint64_t capacity = pages + pages / 4 + 4096; /* replicas, masters and relays */
    config->pcache_capacity = capacity < PCACHE_CAPACITY_MAX ? (uint32_t)capacity
                                                             : PCACHE_CAPACITY_MAX;
    config->pcache_ttl_ns = node_env_u64("ARI_TTL_MS", 60000) * 1000000ull;
    config->pending_max = 4096;
    /* An owner keeps a (page, writer) order record for a TTL after each
     * write: one per page a node may own or write in that time. */
    config->origins_max = config->pcache_capacity;
    uint64_t pin_ms = node_env_u64("ARI_PIN_MS", config->pin_ns_max / 1000000);
    node_g.pin_ms = pin_ms > 0 && pin_ms < 3600000 ? pin_ms : 100;
    config->pin_ns_max = node_g.pin_ms * 1000000ull;
    /* A barrier, lock or acquire waits at the owner as long as the run's
     * limit allows, a little less, so the owner's ARI_ETIMEDOUT (with the
     * CANCEL that takes the request out of its queue) comes before this
     * node's own wait ends. */
    uint64_t timeout_ns = (uint64_t)node_g.ctl->timeout_ms * 1000000ull;
    config->acquire_timeout_ns = timeout_ns > 10 ? timeout_ns / 10 * 9 : 1;
    uint64_t hold_us = node_env_u64("ARI_HOLD_US", config->own_hold_ns / 1000);
    if (hold_us * 1000 <= config->pin_ns_max)
        config->own_hold_ns = hold_us * 1000;
}

static int node_fault_mode(fault_mode_t *mode_out, char *error, size_t error_size)
{
    const char *text = getenv("ARI_FAULTS");
    *mode_out = FAULT_AUTO;
    if (text == NULL || *text == '\0' || strcmp(text, "auto") == 0)
        return ARI_OK;
    if (strcmp(text, "uffd") == 0 || strcmp(text, "userfaultfd") == 0)
        *mode_out = FAULT_UFFD;
    else if (strcmp(text, "mprotect") == 0)
        *mode_out = FAULT_MPROTECT;
    else {
        snprintf(error, error_size, "ARI_FAULTS=%s: expected auto, uffd or mprotect", text);
        return ARI_EINVAL;
    }
    return ARI_OK;
}

/* Every node of a run must lay the heap out alike. */
static int node_heap_agree(char *error, size_t error_size)
{
    uint32_t mine = (uint32_t)((HEAP_BASE >> 20) ^ (HEAP_SLOT_BYTES >> 20) * 2654435761u) | 1u;
    uint32_t expected = 0;
    if (atomic_compare_exchange_strong(&node_g.ctl->heap_check, &expected, mine) ||
        expected == mine)
        return ARI_OK;
    snprintf(error, error_size, "the nodes of this run lay out the global heap differently "
                                "(one is built with a thread sanitizer, another without?)");
    return ARI_EINVAL;
}

static int node_wait_joined(void)
{
    uint64_t limit = driver_now_ns() + driver_timeout_ns(node_g.driver);
    for (;;) {
        uint32_t joined = 0;
        for (uint32_t n = 0; n < node_g.count; n++)
            joined += atomic_load(&ctl_node(node_g.ctl, n)->state) >= CTL_NODE_JOINED;
        if (joined == node_g.count)
            return ARI_OK;
        if (driver_failed(node_g.driver) != ARI_OK)
            return ARI_EPEER;
        if (driver_now_ns() >= limit)
            return ARI_ETIMEDOUT;
        driver_poll_for(node_g.driver, 1000000);
    }
}

static int node_runtime_page(void)
{
    heap_alloc_t alloc;
    int status = heap_alloc(&node_g.heap, true, HEAP_KIND_PATHCACHE, GVA_PAGE_SIZE, 0, &alloc);
    if (status != ARI_OK)
        return status;
    heap_place_t place;
    heap_locate(&node_g.heap, HEAP_BASE + alloc.start, &place);
    node_g.runtime_page = heap_page_gva(&place);
    if (node_g.id != 0)
        return ARI_OK;
    dpu_request_t r = {.op = DPU_OP_CREATE, .page = node_g.runtime_page};
    return node_call(&r, NULL, NULL);
}

/* The ranges of 2 MiB pages: the last quarter of every node's slot and of
 * the collective region (heap.h), backed by hugetlbfs when the links can
 * carry a 2 MiB page. Without, ARI_HUGE fails (node_huge_ready says why);
 * a failure after the first range has half-mapped the heap: init fails. */
static int node_huge_setup(dpu_config_t *config, char *error, size_t error_size)
{
    dpu_config_t huge = *config;
    huge.page_bytes_max = GVA_HUGE_PAGE_SIZE;
    if (fault_huge_pool(false) == 0) {
        snprintf(node_g.huge_why, sizeof node_g.huge_why,
                 "this host has no huge pages reserved (HugePages_Total is 0; as root: "
                 "sysctl vm.nr_hugepages=N before the run starts)");
        return ARI_OK;
    }
    if (node_g.ctl->ring_count > 0 &&
        dpu_scratch_size(&huge) > shmring_message_max(node_g.ctl->ring_capacity)) {
        snprintf(node_g.huge_why, sizeof node_g.huge_why,
                 "links of %llu bytes cannot carry a 2 MiB page (ariadne run --ring 16M)",
                 (unsigned long long)node_g.ctl->ring_capacity);
        return ARI_OK;
    }
    for (uint32_t slot = 0; slot <= node_g.count; slot++) {
        uint64_t start = slot < node_g.count ? (uint64_t)slot * HEAP_SLOT_BYTES : HEAP_HALF_BYTES;
        uint64_t size = slot < node_g.count ? HEAP_SLOT_BYTES : HEAP_HALF_BYTES;
        char why[160] = "";
        int status = fault_add_huge(node_g.fault, HEAP_BASE + start + size / 4 * 3, size / 4,
                                    why, sizeof why);
        if (status != ARI_OK && slot == 0) {
            snprintf(node_g.huge_why, sizeof node_g.huge_why, "%s", why);
            return ARI_OK;
        }
        if (status != ARI_OK) {
            snprintf(error, error_size, "%s", why);
            return status;
        }
    }
    node_g.huge = true;
    config->page_bytes_max = GVA_HUGE_PAGE_SIZE;
    return ARI_OK;
}

int node_huge_ready(void)
{
    static atomic_flag told = ATOMIC_FLAG_INIT;
    if (node_g.huge)
        return ARI_OK;
    if (!atomic_flag_test_and_set(&told))
        fprintf(stderr, "ariadne: node %u: 2 MiB pages (ARI_HUGE) are not served: %s\n",
                node_g.id, node_g.huge_why);
    return ARI_ENOTSUP;
}

/* The host named in reports: the hosts file's name in a run across hosts
 * (the agent sets ARI_HOST), else this machine's name. */
static void node_host_name(void)
{
    const char *host = getenv("ARI_HOST");
    if (host != NULL && *host != '\0')
        snprintf(node_g.host, sizeof node_g.host, "%s", host);
    else if (gethostname(node_g.host, sizeof node_g.host) != 0)
        snprintf(node_g.host, sizeof node_g.host, "?");
    node_g.host[sizeof node_g.host - 1] = '\0';
}

static int node_start(char *error, size_t error_size)
{
    node_g.count = node_g.ctl->nodes;
    node_g.mem_bytes = node_g.ctl->mem_bytes;
    node_host_name();
    atomic_store(&node_g.pin_reports, 0);
    node_g.owned_bytes = 0;
    node_g.readahead = (uint32_t)node_env_u64("ARI_READAHEAD", NODE_READAHEAD_DEFAULT);
    if (node_g.readahead == 0 || node_g.readahead > MSG_RUN_MAX)
        node_g.readahead = NODE_READAHEAD_DEFAULT;
    fault_mode_t mode;
    int status = node_fault_mode(&mode, error, error_size);
    if (status == ARI_OK)
        status = heap_init(&node_g.heap, node_g.id, node_g.count);
    if (status == ARI_OK)
        status = dirty_init((uint32_t)node_env_u64("ARI_DIRTY_MAX", DIRTY_MAX_DEFAULT));
    if (status == ARI_OK)
        status = budget_init();
    fault_hooks_t fh = {.resolve = node_resolve, .write_fault = node_write_fault,
                        .node = node_g.id};
    if (status == ARI_OK)
        status = fault_create(mode, HEAP_BASE, HEAP_BYTES, &fh, &node_g.fault, error,
                              error_size);
    dpu_config_t config;
    node_dpu_config(&config);
    node_g.huge = false;
    if (status == ARI_OK)
        status = node_huge_setup(&config, error, error_size);
    driver_hooks_t dh = {.page_memory = node_page_memory, .page_drop = node_page_drop,
                         .observe = node_observe, .page_write = node_page_write,
                         .page_leave = node_page_leave};
    if (status == ARI_OK)
        status = driver_create(node_g.ctl, node_g.id, &config, &dh, &node_g.driver, error,
                               error_size);
    if (status == ARI_OK)
        status = driver_start(node_g.driver);
    if (status == ARI_OK)
        status = node_heap_agree(error, error_size);
    if (status == ARI_OK)
        status = node_runtime_page();
    if (status == ARI_OK)
        status = notice_init(); /* the first allocation of this node's slot */
    if (status == ARI_OK) {
        atomic_store(&ctl_node(node_g.ctl, node_g.id)->state, CTL_NODE_JOINED);
        ctl_agent_wake(node_g.ctl); /* a run across hosts: tell the other hosts */
        status = node_wait_joined();
    }
    if (status == ARI_OK)
        status = fault_start(node_g.fault);
    return status;
}

static void node_teardown(void)
{
    driver_destroy(node_g.driver);
    node_g.driver = NULL;
    fault_destroy(node_g.fault);
    node_g.fault = NULL;
    dirty_fini();
    notice_fini();
    budget_fini();
    heap_destroy(&node_g.heap);
    if (node_g.ctl != NULL)
        ctl_detach(node_g.ctl);
    node_g.ctl = NULL;
    if (node_g.ctl_fd >= 0 && getenv(CTL_ENV_FD) == NULL)
        close(node_g.ctl_fd); /* our own region; a run's descriptor stays for exec'd helpers */
    node_g.ctl_fd = -1;
}

int ari_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (atomic_load(&node_g.ready) || node_g.ctl != NULL)
        return node_fail(ARI_EINIT);
    char error[256] = "";
    int status = node_ctl_open(error, sizeof error);
    if (status == ARI_OK)
        status = node_start(error, sizeof error);
    if (status != ARI_OK) {
        fprintf(stderr, "ariadne: node %u: ari_init failed: %s%s%s\n", node_g.id,
                ari_strerror(status), error[0] ? ": " : "", error);
        node_teardown();
        return node_fail(status);
    }
    atomic_store(&node_g.ready, true);
    return ARI_OK;
}

int ari_node_id(void) { return (int)node_g.id; }
int ari_node_count(void) { return (int)node_g.count; }

/* ------------------------------------------------------------------------
 * ari_finalize
 * ------------------------------------------------------------------------ */

typedef struct {
    ari_gva_t *pages;
    uint64_t count, max;
    uint32_t self;
    int copy; /* collect entries with this copy (-1: every non-master) */
} node_pages_t;

static void node_collect(void *ctx, pcache_entry_t *entry)
{
    node_pages_t *set = ctx;
    bool want = set->copy < 0 ? entry->copy != PCACHE_COPY_MASTER : entry->copy == set->copy;
    if (want && set->count < set->max)
        set->pages[set->count++] = entry->page;
}

static void node_make_op(void *ctx, uint64_t i, dpu_request_t *r)
{
    node_pages_t *set = ctx;
    memset(r, 0, sizeof *r);
    r->op = set->copy == PCACHE_COPY_MASTER ? DPU_OP_FREE : DPU_OP_UNREF;
    r->page = set->pages[i];
}

/* Unrefs every replica and relay entry (copy -1), or frees every master
 * (PCACHE_COPY_MASTER) except the runtime page unless `all`. */
static int node_drop_all(int copy, bool all)
{
    driver_lock(node_g.driver);
    pcache_t *pc = dpu_pcache(driver_dpu(node_g.driver));
    node_pages_t set = {.max = pcache_count(pc) + 1, .copy = copy};
    set.pages = malloc(set.max * sizeof *set.pages);
    if (set.pages != NULL)
        pcache_each(pc, node_collect, &set);
    driver_unlock(node_g.driver);
    if (set.pages == NULL)
        return ARI_ENOMEM;
    uint64_t kept = 0;
    for (uint64_t i = 0; i < set.count; i++) {
        if (all || !gva_equal(set.pages[i], node_g.runtime_page))
            set.pages[kept++] = set.pages[i];
    }
    set.count = kept;
    int status = node_call_many(set.count, node_make_op, &set);
    free(set.pages);
    return status;
}

/* Keeps serving links until this node's path cache is empty, then until
 * every node says the same: nobody leaves while someone needs it. */
static int node_drain(void)
{
    uint64_t limit = driver_now_ns() + 5000000000ull;
    pcache_t *pc = dpu_pcache(driver_dpu(node_g.driver));
    for (;;) {
        driver_lock(node_g.driver);
        uint32_t left = pcache_count(pc);
        driver_unlock(node_g.driver);
        if (left == 0 || driver_now_ns() >= limit)
            break;
        driver_poll_for(node_g.driver, 200000);
    }
    atomic_fetch_add(&node_g.ctl->drained, 1);
    ctl_agent_wake(node_g.ctl);
    limit = driver_now_ns() + driver_timeout_ns(node_g.driver);
    while (atomic_load(&node_g.ctl->drained) < node_g.count) {
        if (driver_failed(node_g.driver) != ARI_OK)
            return ARI_EPEER;
        if (driver_now_ns() >= limit)
            return ARI_ETIMEDOUT;
        driver_poll_for(node_g.driver, 1000000);
    }
    return ARI_OK;
}

static int node_leave(void)
{
    int status = dirty_flush(); /* no dirty byte is left behind */
    if (status == ARI_OK)
        status = node_barrier();
    if (status == ARI_OK)
        status = node_drop_all(-1, false);
    if (status == ARI_OK)
        status = node_drop_all(PCACHE_COPY_MASTER, false);
    if (status == ARI_OK)
        status = node_barrier();
    /* The last barrier joined everyone to the runtime page again. */
    if (status == ARI_OK)
        status = node_drop_all(-1, true);
    if (status == ARI_OK && node_g.id == 0)
        status = node_drop_all(PCACHE_COPY_MASTER, true);
    if (status == ARI_OK)
        status = node_drain();
    return status;
}

static void node_stats_write(void)
{
    ctl_node_t *slot = ctl_node(node_g.ctl, node_g.id);
    ctl_stats_t *s = &slot->stats;
    driver_lock(node_g.driver);
    dpu_t *dpu = driver_dpu(node_g.driver);
    s->dpu = *dpu_stats(dpu);
    s->entries_at_exit = pcache_count(dpu_pcache(dpu));
    driver_unlock(node_g.driver);
    s->faults = fault_count(node_g.fault);
    s->pages_mapped = atomic_load(&node_g.pages_mapped);
    s->stores = atomic_load(&node_g.stores);
    s->gets = atomic_load(&node_g.gets);
    s->atomics = atomic_load(&node_g.atomics);
    s->barriers = atomic_load(&node_g.barriers);
    s->link_waits = driver_link_waits(node_g.driver);
    s->sleeps = driver_sleeps(node_g.driver);
    s->pages_at_exit = fault_resident_pages(node_g.fault);
    s->fault_mode = (uint64_t)fault_mode(node_g.fault);
    atomic_thread_fence(memory_order_release);
    s->valid = 1;
}

int ari_finalize(void)
{
    if (!atomic_load(&node_g.ready))
        return node_fail(ARI_EINIT);
    int status = driver_failed(node_g.driver);
    if (status == ARI_OK)
        status = node_leave();
    node_stats_write();
    if (status == ARI_OK)
        atomic_store(&ctl_node(node_g.ctl, node_g.id)->state, CTL_NODE_FINISHED);
    ctl_agent_wake(node_g.ctl);
    atomic_store(&node_g.ready, false);
    node_teardown();
    return status == ARI_OK ? ARI_OK : node_fail(status);
}
