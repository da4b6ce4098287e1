/*
 * arbiter — the owner's side of the ownership-transfer protocol for the
 * pages it owns (DESIGN §5): whether a page is pinned and until when, and
 * its queue of waiters in arbitration order.
 *
 * Order: arrival order; waiters that arrive in the same step (same time)
 * are ordered by priority (higher first), then the older timestamp (the
 * longest waiting), then the lower arrival port. State exists only for
 * pages that are pinned or have waiters, so a node holding thousands of
 * idle masters keeps none; `pages_max` bounds how many at once.
 */
#ifndef ARIADNE_CORE_ARBITER_H
#define ARIADNE_CORE_ARBITER_H

#include <stdbool.h>
#include <stdint.h>

#include "ariadne.h"
#include "msg.h"

typedef struct {
    uint32_t origin;      /* the waiting node */
    uint64_t seq;         /* its request's sequence number (answers carry it) */
    uint64_t timestamp;   /* when it asked (for "longest waiting") */
    uint64_t arrival_ns;  /* when it reached an owner (for "same batch") */
    uint32_t offset;      /* SEM_WAIT, BARRIER: the word */
    uint8_t priority;
    uint8_t port;         /* where it arrived, or MSG_QUEUE_PORT_HOST */
    uint8_t kind;         /* msg_acq_kind_t */
} arbiter_waiter_t;

typedef struct {
    ari_gva_t page;
    bool pinned;
    bool held;                  /* the pin is a DPU_ACQUIRE_HOLD: it ends silently */
    uint64_t pin_deadline_ns;
    uint32_t count;             /* waiters[0 .. count) in order */
    arbiter_waiter_t *waiters;  /* queue_max of them */
    bool in_use;
} arbiter_page_t;

typedef struct arbiter arbiter_t;

/* ARI_EINVAL for zero sizes or queue_max > MSG_QUEUE_MAX, ARI_ENOMEM. */
int arbiter_create(uint32_t pages_max, uint32_t queue_max, arbiter_t **arbiter_out);
void arbiter_destroy(arbiter_t *arbiter);

/* A page's state, or NULL if it has none. */
arbiter_page_t *arbiter_find(arbiter_t *arbiter, ari_gva_t page);
/* Its state, made if needed; NULL when pages_max pages have state. */
arbiter_page_t *arbiter_get(arbiter_t *arbiter, ari_gva_t page);
/* Drops the state of a page that is neither pinned nor waited for. */
void arbiter_tidy(arbiter_t *arbiter, arbiter_page_t *state);
/* Drops a page's state whatever it holds (it moved away or was freed). */
void arbiter_forget(arbiter_t *arbiter, arbiter_page_t *state);

/* Queues a waiter in arbitration order. ARI_EBUSY when the queue is full.
 * *position_out: 1 for the first. */
int arbiter_enqueue(arbiter_t *arbiter, arbiter_page_t *state, const arbiter_waiter_t *waiter,
                    uint32_t *position_out);
/* Appends a waiter that keeps its place (a queue carried by a transfer).
 * ARI_EBUSY when the queue is full. */
int arbiter_append(arbiter_t *arbiter, arbiter_page_t *state, const arbiter_waiter_t *waiter);
/* Removes and returns waiters[index]. */
arbiter_waiter_t arbiter_remove(arbiter_page_t *state, uint32_t index);
/* Index of the first waiter of a kind (any word if offset is UINT32_MAX), or -1. */
int64_t arbiter_first(const arbiter_page_t *state, uint8_t kind, uint32_t offset);
/* Index of an origin's waiter with this seq, or -1. */
int64_t arbiter_find_waiter(const arbiter_page_t *state, uint32_t origin, uint64_t seq);

/* A pinned page whose pin ran out at now, or NULL. */
arbiter_page_t *arbiter_pin_expired(arbiter_t *arbiter, uint64_t now_ns);
/* The earliest pin deadline, UINT64_MAX if nothing is pinned. */
uint64_t arbiter_next_deadline(const arbiter_t *arbiter);

/* Wire form of a queue entry and back. */
msg_queue_entry_t arbiter_waiter_to_wire(const arbiter_waiter_t *waiter);
arbiter_waiter_t arbiter_waiter_from_wire(msg_queue_entry_t entry, uint64_t arrival_ns);

#endif /* ARIADNE_CORE_ARBITER_H */
