/*
 * order — how an owner keeps each writer's order (DESIGN §4).
 *
 * Every WRITE, ATOMIC and GET carries its origin's sequence number `seq`
 * and `prev`, the origin's previous request to the same page that was
 * still unanswered when this one left (0 if none). The owner applies a
 * request once `prev` has been applied, and holds it until then: one
 * writer's requests are applied in its order even if they took different
 * paths (after an ownership transfer or a route change).
 *
 * Records (page, origin) -> last applied seq are kept in a bounded table;
 * a record only matters while a later request of that origin may still be
 * on its way, so records idle for longer than the TTL may be reused. Held
 * requests are bounded too; past their deadline they are released anyway
 * (their `prev` was answered with an error and will never arrive).
 */
#ifndef ARIADNE_CORE_ORDER_H
#define ARIADNE_CORE_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ariadne.h"
#include "msg.h"

typedef struct order order_t;

typedef struct {
    ari_gva_t page;
    uint32_t origin;
    uint32_t port;         /* where it arrived */
    uint64_t prev;
    uint64_t deadline_ns;
    uint8_t *bytes;        /* a copy of the encoded message */
    size_t length;
    bool in_use;
} order_held_t;

/* ARI_EINVAL for zero sizes, ARI_ENOMEM. */
int order_create(uint32_t records_max, uint32_t held_max, uint64_t ttl_ns, order_t **order_out);
void order_destroy(order_t *order);

/* True when a request with this prev may be applied now. */
bool order_ready(order_t *order, ari_gva_t page, uint32_t origin, uint64_t prev);
/* Records that origin's request seq to page was applied. ARI_EBUSY when
 * every record is live (younger than the TTL): the caller refuses the
 * request rather than lose an order it promised. */
int order_applied(order_t *order, ari_gva_t page, uint32_t origin, uint64_t seq, uint64_t now_ns);
/* Can a record for (page, origin) be had now? Checked before applying. */
bool order_has_room(order_t *order, ari_gva_t page, uint32_t origin, uint64_t now_ns);

/* Holds a copy of a request until it is ready. ARI_EBUSY when held_max are
 * held, ARI_ENOMEM. Holding is rare, so the copy is allocated here. */
int order_hold(order_t *order, ari_gva_t page, uint32_t origin, uint64_t prev, uint32_t port,
               const uint8_t *bytes, size_t length, uint64_t deadline_ns);
/* A held request that is now ready, or past its deadline; NULL if none.
 * The caller handles it and then calls order_release. */
order_held_t *order_next_ready(order_t *order, uint64_t now_ns);
void order_release(order_t *order, order_held_t *held);
uint32_t order_held_count(const order_t *order);
/* Earliest held deadline, UINT64_MAX if nothing is held. */
uint64_t order_next_deadline(const order_t *order);

/* Writes up to max (origin, last seq) records of a page into out (for an
 * ownership transfer, which carries them); returns how many. */
uint32_t order_export(const order_t *order, ari_gva_t page, msg_seq_entry_t *out, uint32_t max);
/* A held request of a page, or NULL (to send on after the page moved). */
order_held_t *order_held_of(order_t *order, ari_gva_t page);

/* Forgets every record and held request of a page (it was freed). */
void order_forget_page(order_t *order, ari_gva_t page);

#endif /* ARIADNE_CORE_ORDER_H */
