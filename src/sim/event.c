/*
 * event — binary min-heap of events on (time, push order).
 */
#include "event.h"

#include <stdbool.h>
#include <stdlib.h>

#include "ariadne.h"

int sim_queue_init(sim_queue_t *queue)
{
    queue->capacity = 1024;
    queue->count = 0;
    queue->pushed = 0;
    queue->heap = malloc(queue->capacity * sizeof *queue->heap);
    return queue->heap == NULL ? ARI_ENOMEM : ARI_OK;
}

void sim_queue_fini(sim_queue_t *queue)
{
    for (size_t i = 0; i < queue->count; i++)
        free(queue->heap[i].bytes);
    free(queue->heap);
    queue->heap = NULL;
    queue->count = 0;
}

static bool sim_event_before(const sim_event_t *a, const sim_event_t *b)
{
    return a->time_ns < b->time_ns || (a->time_ns == b->time_ns && a->order < b->order);
}

int sim_queue_push(sim_queue_t *queue, sim_event_t *event)
{
    if (queue->count == queue->capacity) {
        sim_event_t *grown = realloc(queue->heap, 2 * queue->capacity * sizeof *grown);
        if (grown == NULL)
            return ARI_ENOMEM;
        queue->heap = grown;
        queue->capacity *= 2;
    }
    event->order = queue->pushed++;
    size_t i = queue->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!sim_event_before(event, &queue->heap[parent]))
            break;
        queue->heap[i] = queue->heap[parent];
        i = parent;
    }
    queue->heap[i] = *event;
    return ARI_OK;
}

int sim_queue_pop(sim_queue_t *queue, sim_event_t *event_out)
{
    if (queue->count == 0)
        return 0;
    *event_out = queue->heap[0];
    sim_event_t last = queue->heap[--queue->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= queue->count)
            break;
        if (child + 1 < queue->count && sim_event_before(&queue->heap[child + 1], &queue->heap[child]))
            child++;
        if (!sim_event_before(&queue->heap[child], &last))
            break;
        queue->heap[i] = queue->heap[child];
        i = child;
    }
    if (queue->count > 0)
        queue->heap[i] = last;
    return 1;
}
