/*
 * pending — a node's outstanding host requests: a dense, bounded table
 * both protocols keep (the path-cache DPU and the directory baseline). It
 * only stores and finds; completing is the protocol's business.
 */
#ifndef ARIADNE_CORE_PENDING_H
#define ARIADNE_CORE_PENDING_H

#include <stdbool.h>
#include <stdint.h>

#include "ariadne.h"
#include "pcache.h"

typedef struct {
    uint64_t cookie;       /* the host's, handed back in the completion */
    uint64_t seq;          /* the request's sequence number (0: none, e.g. a read) */
    uint64_t retry_at_ns;  /* when to try again (0: not waiting to); own.c: the deadline */
    ari_gva_t page;
    uint8_t op;            /* the protocol's request kind */
    uint8_t retries;
    uint8_t stage;         /* the protocol's own use (own.c: DPU_STAGE_*) */
    uint8_t priority;      /* own.c: the arbiter request's priority and flags */
    uint8_t flags;
    uint32_t offset;       /* own.c: the semaphore's or barrier's word */
    uint32_t count;        /* own.c: a barrier's parties */
    uint64_t min_version;  /* READ: complete only at this version or later */
    bool silent;           /* read-ahead: no completion goes to the host */
} pending_t;

typedef struct {
    pending_t *items;      /* items[0 .. count) in use, in no set order */
    uint32_t count, capacity, max;
} pending_table_t;

/* A table of at most `max` requests; memory grows on first use. */
void pending_table_init(pending_table_t *table, uint32_t max);
void pending_table_fini(pending_table_t *table);

/* A new zeroed request, or NULL when max are pending or memory ran out.
 * The pointer is valid until the table next changes. */
pending_t *pending_add(pending_table_t *table, uint8_t op, ari_gva_t page, uint64_t cookie);
/* Removes items[index] (the last one takes its place) and returns it. */
pending_t pending_remove(pending_table_t *table, uint32_t index);

/* The same, keeping the path cache's count of pending requests per page
 * (entry->pending, which pins the entry) in step: a page's entry holds as
 * many pins as the table holds requests for that page. */
pending_t *pending_add_pinned(pending_table_t *table, pcache_t *pcache, uint8_t op,
                              ari_gva_t page, uint64_t cookie);
pending_t pending_remove_pinned(pending_table_t *table, pcache_t *pcache, uint32_t index);
/* Pins a newly made entry once for each request already pending on its page. */
void pending_pin_new_entry(const pending_table_t *table, pcache_entry_t *entry);

/* Index of the request with this seq whose op is not `skip_op`, or -1. */
int64_t pending_find_seq(const pending_table_t *table, uint64_t seq, uint8_t skip_op);
uint32_t pending_count_page(const pending_table_t *table, ari_gva_t page);
/* The newest seq among a page's requests whose op is not `skip_op`, or 0. */
uint64_t pending_newest_seq(const pending_table_t *table, ari_gva_t page, uint8_t skip_op);
/* The newest seq among a page's requests whose op is in op_mask (bit op). */
uint64_t pending_newest_seq_of(const pending_table_t *table, ari_gva_t page, uint32_t op_mask);

#endif /* ARIADNE_CORE_PENDING_H */
