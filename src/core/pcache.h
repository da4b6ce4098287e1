/*
 * pcache — one DPU's path cache (DESIGN §4): page -> (upstream port toward
 * the master, downstream ports with refs behind them, local copy state),
 * with a fixed capacity, LRU order and TTL aging.
 *
 * This module is the table only: it stores, finds, orders and stamps
 * entries. What the protocol does with them (joining, pruning, sending
 * UNREF) is in dpu.c. Storage grows in chunks of 64 entries as the table
 * fills, up to its capacity, and never moves; an entry pointer stays valid
 * until the entry is removed.
 */
#ifndef ARIADNE_CORE_PCACHE_H
#define ARIADNE_CORE_PCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ariadne.h"

#define PCACHE_PORTS_MAX 64u    /* port sets are u64 bitmasks */
#define PCACHE_UP_NONE (-1)     /* no upstream: this node holds the master, or off-tree */
#define PCACHE_CAPACITY_MAX (1u << 24)

typedef enum {
    PCACHE_COPY_NONE = 0, /* no local copy: a router entry, or bookkeeping only */
    PCACHE_COPY_VALID,    /* a readable replica at `version` */
    PCACHE_COPY_INVALID,  /* a replica that must re-sync before it is read */
    PCACHE_COPY_MASTER,   /* this node owns the page */
} pcache_copy_t;

/* Entry flags. */
#define PCACHE_ON_TREE 0x01u      /* linked to a parent that stamped up_generation */
#define PCACHE_ANCHOR 0x02u       /* birth anchor: kept until the page is freed */
#define PCACHE_REF_PENDING 0x04u  /* this node's REF is on its way */
#define PCACHE_SYNC_PENDING 0x08u /* this node's SYNC is on its way */
#define PCACHE_FREEING 0x10u      /* PRUNE sent down, collecting PRUNE_ACKs */
#define PCACHE_STRICT 0x20u       /* on an ownership path (an ACQ passed): never evicted,
                                   * since a transfer or a queued waiter relies on it */

typedef struct {
    ari_gva_t page;          /* page identity */
    uint64_t down;           /* downstream ports with refs behind them */
    uint64_t prune_wait;     /* FREEING: ports whose PRUNE_ACK is awaited */
    uint64_t version;        /* version of the local copy */
    uint64_t write_seq;      /* last sequence number this node used for the page */
    uint64_t last_used_ns;   /* for LRU and TTL */
    uint32_t up_generation;  /* the generation our parent stamped on our link */
    uint32_t pending;        /* this node's outstanding requests: pins the entry */
    int8_t up;               /* port toward the master, or PCACHE_UP_NONE */
    uint8_t copy;            /* pcache_copy_t */
    uint8_t flags;           /* PCACHE_* flags */
    uint8_t prune_from;      /* FREEING: port the PRUNE came from */
    /* Table links (indices; internal). */
    uint32_t hash_next, lru_prev, lru_next, slot;
} pcache_entry_t;

typedef struct pcache pcache_t;

/* Allocates a table of `capacity` entries for a DPU with `ports` ports;
 * entries idle for ttl_ns with nothing below or local are aged out.
 * ARI_EINVAL for a zero or too large capacity or port count, ARI_ENOMEM. */
int pcache_create(uint32_t capacity, uint32_t ports, uint64_t ttl_ns, pcache_t **pcache_out);
void pcache_destroy(pcache_t *pcache);

uint32_t pcache_count(const pcache_t *pcache);
uint32_t pcache_capacity(const pcache_t *pcache);

/* The entry for a page identity, or NULL. Does not touch LRU order. */
pcache_entry_t *pcache_find(pcache_t *pcache, ari_gva_t page);
/* A new zeroed entry (up = PCACHE_UP_NONE) for a page not in the table,
 * most recently used at `now`; NULL when the table is full. */
pcache_entry_t *pcache_insert(pcache_t *pcache, ari_gva_t page, uint64_t now_ns);
void pcache_remove(pcache_t *pcache, pcache_entry_t *entry);
/* Marks the entry used at now (most recent in LRU order). */
void pcache_touch(pcache_t *pcache, pcache_entry_t *entry, uint64_t now_ns);

/* Entries the TTL may age out: nothing below, no local copy, nothing
 * pending, not an anchor or a page being freed. */
bool pcache_entry_idle(const pcache_entry_t *entry);
/* Entries capacity pressure may evict: anything but a master, an anchor, a
 * page being freed, a strict (ownership) path, or one with this node's
 * requests pending. Evicting one
 * with downstream ports prunes that subtree (the caller does it). */
bool pcache_entry_evictable(const pcache_entry_t *entry);

/* The least recently used evictable entry, looking at no more than
 * `scan_max` entries from the cold end; NULL if none. */
pcache_entry_t *pcache_victim(pcache_t *pcache, uint32_t scan_max);
/* The coldest idle entry whose TTL has run out at now, or NULL. */
pcache_entry_t *pcache_expired(pcache_t *pcache, uint64_t now_ns);

/* Stamps a fresh generation on (entry, port), as data passes down that port,
 * and adds the port to the downstream set. Returns the generation. */
uint32_t pcache_port_stamp(pcache_t *pcache, pcache_entry_t *entry, uint32_t port);
/* A fresh generation, for a link whose child picks it (an ownership
 * transfer flips the link; docs/PROTOCOL.md). */
uint32_t pcache_generation_fresh(pcache_t *pcache);
/* Adds a port to the downstream set with a generation chosen elsewhere. */
void pcache_port_set(pcache_t *pcache, pcache_entry_t *entry, uint32_t port, uint32_t generation);
/* The generation last stamped on (entry, port); 0 if never. */
uint32_t pcache_port_generation(const pcache_t *pcache, const pcache_entry_t *entry,
                                uint32_t port);

/* Calls fn for every entry (in no set order). For checks and tests. */
void pcache_each(pcache_t *pcache, void (*fn)(void *ctx, pcache_entry_t *entry), void *ctx);

static inline bool pcache_has_down(const pcache_entry_t *entry, uint32_t port)
{
    return (entry->down >> port) & 1u;
}

#endif /* ARIADNE_CORE_PCACHE_H */
