/*
 * event — the simulator's event queue: a binary heap ordered by time, ties
 * broken by the order events were pushed, so a run is deterministic.
 */
#ifndef ARIADNE_SIM_EVENT_H
#define ARIADNE_SIM_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SIM_EVENT_MESSAGE = 1, /* bytes arrive at node on port */
    SIM_EVENT_SUBMIT,      /* a host request reaches node's DPU */
    SIM_EVENT_DONE,        /* a completion reaches node's host */
    SIM_EVENT_TICK,        /* node's DPU asked for a tick */
    SIM_EVENT_OP,          /* the workload's next operation starts */
    SIM_EVENT_ROUTED,      /* a directory message reaches node on its way to cookie */
} sim_event_kind_t;

typedef struct {
    uint64_t time_ns;
    uint64_t order;        /* push order: the tie-break */
    uint8_t *bytes;        /* MESSAGE: owned by the event */
    uint64_t cookie;       /* SUBMIT, DONE: the operation; ROUTED: the destination */
    uint64_t flow;         /* MESSAGE, ROUTED: its arrow in a trace (0: none) */
    uint32_t length;
    uint32_t node;
    uint16_t port;
    uint8_t kind;
    int8_t status;         /* DONE: the completion status */
} sim_event_t;

typedef struct {
    sim_event_t *heap;
    size_t count, capacity;
    uint64_t pushed;
} sim_queue_t;

int sim_queue_init(sim_queue_t *queue);
void sim_queue_fini(sim_queue_t *queue);
/* Copies the event in (its order field is set here). ARI_ENOMEM. */
int sim_queue_push(sim_queue_t *queue, sim_event_t *event);
/* Removes the earliest event into *event_out; 0 if the queue was empty. */
int sim_queue_pop(sim_queue_t *queue, sim_event_t *event_out);

#endif /* ARIADNE_SIM_EVENT_H */
