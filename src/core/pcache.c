/*
 * pcache — a fixed-capacity hash table of path-cache entries with an LRU
 * list and per-(entry, port) generations, all in arrays allocated once.
 */
#include "pcache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "gva.h"

#define PCACHE_NIL UINT32_MAX

struct pcache {
    pcache_entry_t *entries;   /* capacity slots */
    uint32_t *buckets;         /* bucket_count heads, PCACHE_NIL when empty */
    uint32_t *generations;     /* capacity x ports stamps */
    uint32_t capacity, ports, count;
    uint32_t bucket_mask;
    uint32_t free_head;        /* free slots, chained through hash_next */
    uint32_t lru_head, lru_tail; /* most and least recently used */
    uint32_t generation_next;
    uint64_t ttl_ns;
};

_Static_assert(PCACHE_PORTS_MAX <= 64, "down is a u64 bitmask");
_Static_assert(PCACHE_CAPACITY_MAX < PCACHE_NIL, "indices must not reach the nil mark");

static uint32_t pcache_index(const pcache_t *pcache, const pcache_entry_t *entry)
{
    ptrdiff_t index = entry - pcache->entries;
    assert(index >= 0 && (uint32_t)index < pcache->capacity);
    return (uint32_t)index;
}

static uint32_t pcache_bucket(const pcache_t *pcache, ari_gva_t page)
{
    return (uint32_t)gva_page_hash(page) & pcache->bucket_mask;
}

int pcache_create(uint32_t capacity, uint32_t ports, uint64_t ttl_ns, pcache_t **pcache_out)
{
    if (capacity == 0 || capacity > PCACHE_CAPACITY_MAX || ports == 0 ||
        ports > PCACHE_PORTS_MAX)
        return ARI_EINVAL;
    pcache_t *pcache = calloc(1, sizeof *pcache);
    if (pcache == NULL)
        return ARI_ENOMEM;
    uint32_t buckets = 1;
    while (buckets < capacity)
        buckets <<= 1;
    pcache->entries = calloc(capacity, sizeof *pcache->entries);
    pcache->buckets = malloc(sizeof *pcache->buckets * buckets);
    pcache->generations = calloc((size_t)capacity * ports, sizeof *pcache->generations);
    if (pcache->entries == NULL || pcache->buckets == NULL || pcache->generations == NULL) {
        pcache_destroy(pcache);
        return ARI_ENOMEM;
    }
    memset(pcache->buckets, 0xff, sizeof *pcache->buckets * buckets);
    pcache->capacity = capacity;
    pcache->ports = ports;
    pcache->bucket_mask = buckets - 1;
    pcache->ttl_ns = ttl_ns;
    pcache->generation_next = 1;
    pcache->lru_head = pcache->lru_tail = PCACHE_NIL;
    for (uint32_t i = 0; i < capacity; i++)
        pcache->entries[i].hash_next = i + 1 < capacity ? i + 1 : PCACHE_NIL;
    pcache->free_head = 0;
    *pcache_out = pcache;
    return ARI_OK;
}

void pcache_destroy(pcache_t *pcache)
{
    if (pcache == NULL)
        return;
    free(pcache->entries);
    free(pcache->buckets);
    free(pcache->generations);
    free(pcache);
}

uint32_t pcache_count(const pcache_t *pcache) { return pcache->count; }
uint32_t pcache_capacity(const pcache_t *pcache) { return pcache->capacity; }

pcache_entry_t *pcache_find(pcache_t *pcache, ari_gva_t page)
{
    for (uint32_t i = pcache->buckets[pcache_bucket(pcache, page)]; i != PCACHE_NIL;
         i = pcache->entries[i].hash_next) {
        if (gva_equal(pcache->entries[i].page, page))
            return &pcache->entries[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * LRU list
 * ------------------------------------------------------------------------ */

static void pcache_lru_unlink(pcache_t *pcache, uint32_t index)
{
    pcache_entry_t *entry = &pcache->entries[index];
    if (entry->lru_prev != PCACHE_NIL)
        pcache->entries[entry->lru_prev].lru_next = entry->lru_next;
    else
        pcache->lru_head = entry->lru_next;
    if (entry->lru_next != PCACHE_NIL)
        pcache->entries[entry->lru_next].lru_prev = entry->lru_prev;
    else
        pcache->lru_tail = entry->lru_prev;
}

static void pcache_lru_push_head(pcache_t *pcache, uint32_t index)
{
    pcache_entry_t *entry = &pcache->entries[index];
    entry->lru_prev = PCACHE_NIL;
    entry->lru_next = pcache->lru_head;
    if (pcache->lru_head != PCACHE_NIL)
        pcache->entries[pcache->lru_head].lru_prev = index;
    pcache->lru_head = index;
    if (pcache->lru_tail == PCACHE_NIL)
        pcache->lru_tail = index;
}

void pcache_touch(pcache_t *pcache, pcache_entry_t *entry, uint64_t now_ns)
{
    uint32_t index = pcache_index(pcache, entry);
    entry->last_used_ns = now_ns;
    if (pcache->lru_head == index)
        return;
    pcache_lru_unlink(pcache, index);
    pcache_lru_push_head(pcache, index);
}

/* ------------------------------------------------------------------------
 * Insert and remove
 * ------------------------------------------------------------------------ */

pcache_entry_t *pcache_insert(pcache_t *pcache, ari_gva_t page, uint64_t now_ns)
{
    assert(pcache_find(pcache, page) == NULL);
    if (pcache->free_head == PCACHE_NIL)
        return NULL;
    uint32_t index = pcache->free_head;
    pcache_entry_t *entry = &pcache->entries[index];
    pcache->free_head = entry->hash_next;
    memset(entry, 0, sizeof *entry);
    entry->page = page;
    entry->up = PCACHE_UP_NONE;
    entry->last_used_ns = now_ns;
    memset(&pcache->generations[(size_t)index * pcache->ports], 0,
           sizeof *pcache->generations * pcache->ports);
    uint32_t bucket = pcache_bucket(pcache, page);
    entry->hash_next = pcache->buckets[bucket];
    pcache->buckets[bucket] = index;
    pcache_lru_push_head(pcache, index);
    pcache->count++;
    return entry;
}

void pcache_remove(pcache_t *pcache, pcache_entry_t *entry)
{
    uint32_t index = pcache_index(pcache, entry);
    uint32_t *link = &pcache->buckets[pcache_bucket(pcache, entry->page)];
    while (*link != index) {
        assert(*link != PCACHE_NIL); /* the entry must be in its chain */
        link = &pcache->entries[*link].hash_next;
    }
    *link = entry->hash_next;
    pcache_lru_unlink(pcache, index);
    entry->hash_next = pcache->free_head;
    pcache->free_head = index;
    assert(pcache->count > 0);
    pcache->count--;
}

/* ------------------------------------------------------------------------
 * Aging and eviction
 * ------------------------------------------------------------------------ */

bool pcache_entry_idle(const pcache_entry_t *entry)
{
    return entry->down == 0 && entry->copy == PCACHE_COPY_NONE && entry->pending == 0 &&
           (entry->flags & (PCACHE_ANCHOR | PCACHE_FREEING)) == 0;
}

bool pcache_entry_evictable(const pcache_entry_t *entry)
{
    return entry->copy != PCACHE_COPY_MASTER && entry->pending == 0 &&
           (entry->flags & (PCACHE_ANCHOR | PCACHE_FREEING | PCACHE_REF_PENDING |
                            PCACHE_SYNC_PENDING)) == 0;
}

pcache_entry_t *pcache_victim(pcache_t *pcache, uint32_t scan_max)
{
    uint32_t index = pcache->lru_tail;
    for (uint32_t scanned = 0; index != PCACHE_NIL && scanned < scan_max; scanned++) {
        pcache_entry_t *entry = &pcache->entries[index];
        if (pcache_entry_evictable(entry))
            return entry;
        index = entry->lru_prev;
    }
    return NULL;
}

pcache_entry_t *pcache_expired(pcache_t *pcache, uint64_t now_ns)
{
    /* Walk from the cold end; stop at the first entry still within its TTL,
     * since everything warmer was used more recently. Entries that are
     * cold but not idle are skipped, a bounded number of them. */
    uint32_t index = pcache->lru_tail;
    for (uint32_t scanned = 0; index != PCACHE_NIL && scanned < 64; scanned++) {
        pcache_entry_t *entry = &pcache->entries[index];
        if (entry->last_used_ns + pcache->ttl_ns > now_ns)
            return NULL;
        if (pcache_entry_idle(entry))
            return entry;
        index = entry->lru_prev;
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Port generations
 * ------------------------------------------------------------------------ */

uint32_t pcache_port_stamp(pcache_t *pcache, pcache_entry_t *entry, uint32_t port)
{
    assert(port < pcache->ports);
    uint32_t generation = pcache->generation_next++;
    if (pcache->generation_next == 0)
        pcache->generation_next = 1; /* 0 means "never stamped" */
    pcache->generations[(size_t)pcache_index(pcache, entry) * pcache->ports + port] = generation;
    entry->down |= 1ull << port;
    return generation;
}

uint32_t pcache_port_generation(const pcache_t *pcache, const pcache_entry_t *entry,
                                uint32_t port)
{
    assert(port < pcache->ports);
    return pcache->generations[(size_t)pcache_index(pcache, entry) * pcache->ports + port];
}

void pcache_each(pcache_t *pcache, void (*fn)(void *ctx, pcache_entry_t *entry), void *ctx)
{
    uint32_t index = pcache->lru_head;
    while (index != PCACHE_NIL) {
        uint32_t next = pcache->entries[index].lru_next;
        fn(ctx, &pcache->entries[index]);
        index = next;
    }
}
