/*
 * order — per-(page, origin) records of the last applied request, and the
 * requests held until their predecessor is applied.
 */
#include "order.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "gva.h"

#define ORDER_NIL UINT32_MAX

typedef struct {
    ari_gva_t page;
    uint32_t origin;
    uint32_t next;       /* bucket chain or free list */
    uint64_t last_seq;
    uint64_t used_ns;
    bool in_use;
} order_record_t;

struct order {
    order_record_t *records;
    uint32_t *buckets;
    uint32_t records_max, bucket_mask, free_head, hand;
    order_held_t *held;
    uint32_t held_max, held_count;
    uint64_t ttl_ns;
};

int order_create(uint32_t records_max, uint32_t held_max, uint64_t ttl_ns, order_t **order_out)
{
    if (records_max == 0 || records_max >= ORDER_NIL / 2 || held_max == 0)
        return ARI_EINVAL;
    order_t *order = calloc(1, sizeof *order);
    if (order == NULL)
        return ARI_ENOMEM;
    uint32_t buckets = 1;
    while (buckets < records_max)
        buckets <<= 1;
    order->records = calloc(records_max, sizeof *order->records);
    order->buckets = malloc(sizeof *order->buckets * buckets);
    order->held = calloc(held_max, sizeof *order->held);
    if (order->records == NULL || order->buckets == NULL || order->held == NULL) {
        order_destroy(order);
        return ARI_ENOMEM;
    }
    memset(order->buckets, 0xff, sizeof *order->buckets * buckets);
    for (uint32_t i = 0; i < records_max; i++)
        order->records[i].next = i + 1 < records_max ? i + 1 : ORDER_NIL;
    order->records_max = records_max;
    order->bucket_mask = buckets - 1;
    order->held_max = held_max;
    order->ttl_ns = ttl_ns;
    *order_out = order;
    return ARI_OK;
}

void order_destroy(order_t *order)
{
    if (order == NULL)
        return;
    if (order->held != NULL) {
        for (uint32_t i = 0; i < order->held_max; i++)
            free(order->held[i].bytes);
    }
    free(order->records);
    free(order->buckets);
    free(order->held);
    free(order);
}

/* By page alone: a page's records (one per writer) share a chain, so
 * forgetting or exporting a page walks that chain, not the table. */
static uint32_t order_bucket(const order_t *order, ari_gva_t page, uint32_t origin)
{
    (void)origin;
    uint64_t h = gva_page_hash(page);
    return (uint32_t)(h ^ (h >> 32)) & order->bucket_mask;
}

static order_record_t *order_find(order_t *order, ari_gva_t page, uint32_t origin)
{
    for (uint32_t i = order->buckets[order_bucket(order, page, origin)]; i != ORDER_NIL;
         i = order->records[i].next) {
        order_record_t *r = &order->records[i];
        if (r->origin == origin && gva_equal(r->page, page))
            return r;
    }
    return NULL;
}

static void order_unlink(order_t *order, uint32_t index)
{
    order_record_t *r = &order->records[index];
    uint32_t *link = &order->buckets[order_bucket(order, r->page, r->origin)];
    while (*link != index) {
        assert(*link != ORDER_NIL); /* a record in use is in its chain */
        link = &order->records[*link].next;
    }
    *link = r->next;
    r->in_use = false;
    r->next = order->free_head;
    order->free_head = index;
}

/* Frees one record idle past the TTL, turning a clock hand over the table
 * so each call looks at a bounded number of records. */
static bool order_reclaim(order_t *order, uint64_t now_ns)
{
    for (uint32_t scanned = 0; scanned < 64 && scanned < order->records_max; scanned++) {
        uint32_t index = order->hand;
        order->hand = (order->hand + 1) % order->records_max;
        order_record_t *r = &order->records[index];
        if (r->in_use && r->used_ns + order->ttl_ns <= now_ns) {
            order_unlink(order, index);
            return true;
        }
    }
    return false;
}

bool order_ready(order_t *order, ari_gva_t page, uint32_t origin, uint64_t prev)
{
    if (prev == 0)
        return true;
    order_record_t *r = order_find(order, page, origin);
    return r != NULL && r->last_seq >= prev;
}

bool order_has_room(order_t *order, ari_gva_t page, uint32_t origin, uint64_t now_ns)
{
    return order_find(order, page, origin) != NULL || order->free_head != ORDER_NIL ||
           order_reclaim(order, now_ns);
}

int order_applied(order_t *order, ari_gva_t page, uint32_t origin, uint64_t seq, uint64_t now_ns)
{
    order_record_t *r = order_find(order, page, origin);
    if (r == NULL) {
        if (order->free_head == ORDER_NIL && !order_reclaim(order, now_ns))
            return ARI_EBUSY;
        uint32_t index = order->free_head;
        r = &order->records[index];
        order->free_head = r->next;
        uint32_t bucket = order_bucket(order, page, origin);
        *r = (order_record_t){.page = page, .origin = origin, .next = order->buckets[bucket],
                              .in_use = true};
        order->buckets[bucket] = index;
    }
    if (seq > r->last_seq)
        r->last_seq = seq;
    r->used_ns = now_ns;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Held requests
 * ------------------------------------------------------------------------ */

int order_hold(order_t *order, ari_gva_t page, uint32_t origin, uint64_t prev, uint32_t port,
               const uint8_t *bytes, size_t length, uint64_t deadline_ns)
{
    if (order->held_count == order->held_max)
        return ARI_EBUSY;
    order_held_t *slot = NULL;
    for (uint32_t i = 0; i < order->held_max && slot == NULL; i++) {
        if (!order->held[i].in_use)
            slot = &order->held[i];
    }
    assert(slot != NULL); /* held_count < held_max */
    uint8_t *copy = malloc(length);
    if (copy == NULL)
        return ARI_ENOMEM;
    memcpy(copy, bytes, length);
    *slot = (order_held_t){page, origin, port, prev, deadline_ns, copy, length, true};
    order->held_count++;
    return ARI_OK;
}

order_held_t *order_next_ready(order_t *order, uint64_t now_ns)
{
    if (order->held_count == 0)
        return NULL;
    for (uint32_t i = 0; i < order->held_max; i++) {
        order_held_t *h = &order->held[i];
        if (h->in_use && (h->deadline_ns <= now_ns || order_ready(order, h->page, h->origin, h->prev)))
            return h;
    }
    return NULL;
}

void order_release(order_t *order, order_held_t *held)
{
    assert(held->in_use && order->held_count > 0);
    free(held->bytes);
    memset(held, 0, sizeof *held);
    order->held_count--;
}

uint32_t order_held_count(const order_t *order) { return order->held_count; }

uint64_t order_next_deadline(const order_t *order)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < order->held_max && order->held_count > 0; i++) {
        if (order->held[i].in_use && order->held[i].deadline_ns < next)
            next = order->held[i].deadline_ns;
    }
    return next;
}

void order_forget_page(order_t *order, ari_gva_t page)
{
    uint32_t r = order->buckets[order_bucket(order, page, 0)];
    while (r != ORDER_NIL) {
        uint32_t next = order->records[r].next;
        if (gva_equal(order->records[r].page, page))
            order_unlink(order, r);
        r = next;
    }
    for (uint32_t i = 0; i < order->held_max; i++) {
        if (order->held[i].in_use && gva_equal(order->held[i].page, page))
            order_release(order, &order->held[i]);
    }
}

uint32_t order_export(const order_t *order, ari_gva_t page, msg_seq_entry_t *out, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = order->buckets[order_bucket(order, page, 0)]; i != ORDER_NIL && n < max;
         i = order->records[i].next) {
        const order_record_t *r = &order->records[i];
        if (gva_equal(r->page, page))
            out[n++] = (msg_seq_entry_t){r->origin, r->last_seq};
    }
    return n;
}

order_held_t *order_held_of(order_t *order, ari_gva_t page)
{
    for (uint32_t i = 0; i < order->held_max && order->held_count > 0; i++) {
        if (order->held[i].in_use && gva_equal(order->held[i].page, page))
            return &order->held[i];
    }
    return NULL;
}
