/*
 * libFuzzer target for a DPU's input: any sequence of messages from its
 * neighbours, mixed with host requests and ticks, is handled without a
 * crash, an assertion or a leak. Node 1 of ring:4 is fuzzed; what it sends
 * is dropped; pages live in a small table.
 *
 * Input: records of [action u8][length u16 little-endian][bytes]. Action % 8: 0-1 a
 * message on that port, 2 host READ, 3 host WRITE, 4 ATOMIC, 5 UNREF,
 * 6 CREATE, FREE or an ownership request (ACQUIRE, RELEASE, SEM_WAIT,
 * SEM_POST, BARRIER), 7 tick.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dpu.h"
#include "core/gva.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PAGES 8

typedef struct {
    ari_gva_t page[FUZZ_PAGES];
    uint8_t *memory[FUZZ_PAGES];
} fuzz_world_t;

static void fuzz_send(void *ctx, uint32_t port, const uint8_t *bytes, size_t length)
{
    (void)ctx, (void)port, (void)bytes, (void)length;
}

static uint8_t *fuzz_page_memory(void *ctx, ari_gva_t page, bool create)
{
    fuzz_world_t *w = ctx;
    for (int i = 0; i < FUZZ_PAGES; i++) {
        if (w->memory[i] != NULL && gva_equal(w->page[i], page))
            return w->memory[i];
    }
    if (!create)
        return NULL;
    for (int i = 0; i < FUZZ_PAGES; i++) {
        if (w->memory[i] == NULL) {
            w->memory[i] = aligned_alloc(64, (size_t)gva_page_size(page));
            if (w->memory[i] != NULL)
                memset(w->memory[i], 0, (size_t)gva_page_size(page));
            w->page[i] = page;
            return w->memory[i];
        }
    }
    return NULL;
}

static void fuzz_page_drop(void *ctx, ari_gva_t page)
{
    fuzz_world_t *w = ctx;
    for (int i = 0; i < FUZZ_PAGES; i++) {
        if (w->memory[i] != NULL && gva_equal(w->page[i], page)) {
            free(w->memory[i]);
            w->memory[i] = NULL;
        }
    }
}

static void fuzz_complete(void *ctx, const dpu_completion_t *c) { (void)ctx, (void)c; }

static ari_gva_t fuzz_page(uint8_t selector)
{
    gva_fields_t f = {.machine = selector % 4u, .offset = (uint64_t)(selector / 4u % 4u) << 12};
    return gva_make(&f);
}

static void fuzz_host(dpu_t *dpu, uint8_t action, const uint8_t *bytes, size_t length,
                      uint64_t now)
{
    dpu_request_t r = {.page = fuzz_page(length ? bytes[0] : 0), .cookie = now};
    uint8_t pattern[16] = {1, 2, 3};
    switch (action) {
    case 2: r.op = DPU_OP_READ; r.pages = length > 1 ? bytes[1] % 4u : 1; break;
    case 3: r.op = DPU_OP_WRITE; r.offset = length > 1 ? bytes[1] * 8u : 0; r.length = 16; r.data = pattern; break;
    case 4: r.op = DPU_OP_ATOMIC; r.atomic_op = length > 1 ? bytes[1] % 4u : 1; r.offset = 8; r.arg0 = 1; break;
    case 5: r.op = DPU_OP_UNREF; break;
    default: {
        static const dpu_op_t ops[] = {DPU_OP_CREATE, DPU_OP_FREE, DPU_OP_ACQUIRE, DPU_OP_RELEASE,
                                       DPU_OP_SEM_WAIT, DPU_OP_SEM_POST, DPU_OP_BARRIER};
        r.op = ops[length > 1 ? bytes[1] % 7u : 0];
        r.flags = length > 2 ? bytes[2] & DPU_ACQUIRE_PIN : 0;
        r.offset = r.op == DPU_OP_ACQUIRE || r.op == DPU_OP_RELEASE ? 0 : 8;
        r.arg0 = length > 3 ? bytes[3] % 4u : 2;
        break;
    }
    }
    dpu_submit(dpu, &r, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static topo_t *topo;
    static route_t *route;
    char error[TOPO_ERROR_MAX];
    if (topo == NULL && (topo_build("ring:4", NULL, NULL, &topo, error, sizeof error) != 0 ||
                         route_create(topo, 8, &route) != 0))
        abort();
    fuzz_world_t world;
    memset(&world, 0, sizeof world);
    dpu_config_t config;
    dpu_config_default(&config);
    config.node = 1;
    config.topo = topo;
    config.route = route;
    config.pcache_capacity = 4;
    config.pending_max = 8;
    config.held_max = 2;
    config.origins_max = 4;
    config.hops_max = 8;
    config.queue_max = 4;
    config.crumbs_max = 4;
    dpu_world_t w = {&world, fuzz_send, fuzz_page_memory, fuzz_page_drop, fuzz_complete,
                     NULL, NULL, NULL, NULL};
    dpu_t *dpu;
    if (dpu_create(&config, &w, &dpu) != 0)
        abort();
    uint64_t now = 1;
    for (size_t at = 0; at + 3 <= size;) {
        uint8_t action = data[at] % 8u;
        size_t length = data[at + 1] | (size_t)data[at + 2] << 8;
        at += 3;
        if (length > size - at)
            length = size - at;
        const uint8_t *bytes = data + at;
        at += length;
        now += 1000;
        if (action < 2)
            dpu_receive(dpu, action, bytes, length, now);
        else if (action == 7)
            dpu_tick(dpu, now + (length ? bytes[0] : 0) * 1000000ull);
        else
            fuzz_host(dpu, action, bytes, length, now);
    }
    dpu_destroy(dpu);
    for (int i = 0; i < FUZZ_PAGES; i++)
        free(world.memory[i]);
    return 0;
}
