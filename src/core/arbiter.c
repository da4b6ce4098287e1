/*
 * arbiter — pin state and waiter queues of the pages a node owns.
 *
 * Pages with state are few (pinned or contended ones), so they sit in a
 * small dense array searched linearly; each page's queue is allocated
 * with it (queue_max waiters) and freed when the page goes idle.
 */
#include "arbiter.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "gva.h"

struct arbiter {
    arbiter_page_t *pages;
    uint32_t count, capacity, pages_max, queue_max;
};

int arbiter_create(uint32_t pages_max, uint32_t queue_max, arbiter_t **arbiter_out)
{
    if (pages_max == 0 || queue_max == 0 || queue_max > MSG_QUEUE_MAX)
        return ARI_EINVAL;
    arbiter_t *arbiter = calloc(1, sizeof *arbiter);
    if (arbiter == NULL)
        return ARI_ENOMEM;
    arbiter->pages_max = pages_max;
    arbiter->queue_max = queue_max;
    *arbiter_out = arbiter;
    return ARI_OK;
}

void arbiter_destroy(arbiter_t *arbiter)
{
    if (arbiter == NULL)
        return;
    for (uint32_t i = 0; i < arbiter->count; i++)
        free(arbiter->pages[i].waiters);
    free(arbiter->pages);
    free(arbiter);
}

arbiter_page_t *arbiter_find(arbiter_t *arbiter, ari_gva_t page)
{
    for (uint32_t i = 0; i < arbiter->count; i++) {
        if (gva_equal(arbiter->pages[i].page, page))
            return &arbiter->pages[i];
    }
    return NULL;
}

arbiter_page_t *arbiter_get(arbiter_t *arbiter, ari_gva_t page)
{
    arbiter_page_t *state = arbiter_find(arbiter, page);
    if (state != NULL)
        return state;
    if (arbiter->count == arbiter->pages_max)
        return NULL;
    if (arbiter->count == arbiter->capacity) {
        uint32_t capacity = arbiter->capacity == 0 ? 4 : arbiter->capacity * 2;
        if (capacity > arbiter->pages_max)
            capacity = arbiter->pages_max;
        arbiter_page_t *pages = realloc(arbiter->pages, capacity * sizeof *pages);
        if (pages == NULL)
            return NULL;
        arbiter->pages = pages;
        arbiter->capacity = capacity;
    }
    arbiter_waiter_t *waiters = calloc(arbiter->queue_max, sizeof *waiters);
    if (waiters == NULL)
        return NULL;
    state = &arbiter->pages[arbiter->count++];
    *state = (arbiter_page_t){.page = page, .waiters = waiters, .in_use = true};
    return state;
}

void arbiter_forget(arbiter_t *arbiter, arbiter_page_t *state)
{
    uint32_t index = (uint32_t)(state - arbiter->pages);
    assert(index < arbiter->count); /* a state of this arbiter */
    free(state->waiters);
    arbiter->pages[index] = arbiter->pages[--arbiter->count];
}

void arbiter_tidy(arbiter_t *arbiter, arbiter_page_t *state)
{
    if (state != NULL && !state->pinned && state->count == 0)
        arbiter_forget(arbiter, state);
}

/* Does a (just arrived) go before b (arrived in the same step)? */
static bool arbiter_before(const arbiter_waiter_t *a, const arbiter_waiter_t *b)
{
    if (a->priority != b->priority)
        return a->priority > b->priority;
    if (a->timestamp != b->timestamp)
        return a->timestamp < b->timestamp;
    return a->port < b->port;
}

int arbiter_enqueue(arbiter_t *arbiter, arbiter_page_t *state, const arbiter_waiter_t *waiter,
                    uint32_t *position_out)
{
    if (state->count >= arbiter->queue_max)
        return ARI_EBUSY;
    uint32_t at = state->count;
    while (at > 0 && state->waiters[at - 1].arrival_ns == waiter->arrival_ns &&
           arbiter_before(waiter, &state->waiters[at - 1]))
        at--;
    memmove(&state->waiters[at + 1], &state->waiters[at],
            (state->count - at) * sizeof *state->waiters);
    state->waiters[at] = *waiter;
    state->count++;
    *position_out = at + 1;
    return ARI_OK;
}

int arbiter_append(arbiter_t *arbiter, arbiter_page_t *state, const arbiter_waiter_t *waiter)
{
    if (state->count >= arbiter->queue_max)
        return ARI_EBUSY;
    state->waiters[state->count++] = *waiter;
    return ARI_OK;
}

arbiter_waiter_t arbiter_remove(arbiter_page_t *state, uint32_t index)
{
    assert(index < state->count);
    arbiter_waiter_t waiter = state->waiters[index];
    memmove(&state->waiters[index], &state->waiters[index + 1],
            (state->count - index - 1) * sizeof *state->waiters);
    state->count--;
    return waiter;
}

int64_t arbiter_first(const arbiter_page_t *state, uint8_t kind, uint32_t offset)
{
    for (uint32_t i = 0; i < state->count; i++) {
        if (state->waiters[i].kind == kind &&
            (offset == UINT32_MAX || state->waiters[i].offset == offset))
            return i;
    }
    return -1;
}

int64_t arbiter_find_waiter(const arbiter_page_t *state, uint32_t origin, uint64_t seq)
{
    for (uint32_t i = 0; i < state->count; i++) {
        if (state->waiters[i].origin == origin && state->waiters[i].seq == seq)
            return i;
    }
    return -1;
}

arbiter_page_t *arbiter_pin_expired(arbiter_t *arbiter, uint64_t now_ns)
{
    for (uint32_t i = 0; i < arbiter->count; i++) {
        if (arbiter->pages[i].pinned && arbiter->pages[i].pin_deadline_ns <= now_ns)
            return &arbiter->pages[i];
    }
    return NULL;
}

uint64_t arbiter_next_deadline(const arbiter_t *arbiter)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < arbiter->count; i++) {
        if (arbiter->pages[i].pinned && arbiter->pages[i].pin_deadline_ns < next)
            next = arbiter->pages[i].pin_deadline_ns;
    }
    return next;
}

msg_queue_entry_t arbiter_waiter_to_wire(const arbiter_waiter_t *w)
{
    msg_queue_entry_t entry = {.origin = w->origin, .seq = w->seq, .timestamp = w->timestamp,
                               .priority = w->priority, .port = w->port, .kind = w->kind,
                               .offset = w->offset};
    return entry;
}

arbiter_waiter_t arbiter_waiter_from_wire(msg_queue_entry_t entry, uint64_t arrival_ns)
{
    arbiter_waiter_t w = {.origin = entry.origin, .seq = entry.seq, .timestamp = entry.timestamp,
                          .arrival_ns = arrival_ns, .offset = entry.offset,
                          .priority = entry.priority, .port = entry.port, .kind = entry.kind};
    return w;
}
