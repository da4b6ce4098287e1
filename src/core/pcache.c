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
/* Entries live in chunks allocated as the table fills, so a DPU that never
 * sees a page costs a few hundred bytes, and an entry never moves. */
#define PCACHE_CHUNK_SHIFT 6u
#define PCACHE_CHUNK (1u << PCACHE_CHUNK_SHIFT)
#define PCACHE_BUCKETS_MIN 16u

struct pcache {
    pcache_entry_t **chunks;    /* chunk_count chunks of PCACHE_CHUNK entries */
    uint32_t **generations;     /* per chunk: PCACHE_CHUNK x ports stamps */
    uint32_t *buckets;          /* bucket_mask + 1 heads, PCACHE_NIL when empty */
    uint32_t capacity, ports, count;
    uint32_t made;              /* slots handed out so far (free ones included) */
    uint32_t chunk_count;
    uint32_t bucket_mask;
    uint32_t free_head;         /* freed slots, chained through hash_next */
    uint32_t lru_head, lru_tail; /* most and least recently used */
    uint32_t generation_next;
    uint64_t ttl_ns;
};

_Static_assert(PCACHE_PORTS_MAX <= 64, "down is a u64 bitmask");
_Static_assert(PCACHE_CAPACITY_MAX < PCACHE_NIL, "indices must not reach the nil mark");

static pcache_entry_t *pcache_at(const pcache_t *pcache, uint32_t index)
{
    return &pcache->chunks[index >> PCACHE_CHUNK_SHIFT][index & (PCACHE_CHUNK - 1)];
}

static uint32_t *pcache_generations_of(const pcache_t *pcache, uint32_t index)
{
    return &pcache->generations[index >> PCACHE_CHUNK_SHIFT]
                               [(size_t)(index & (PCACHE_CHUNK - 1)) * pcache->ports];
}

static uint32_t pcache_index(const pcache_t *pcache, const pcache_entry_t *entry)
{
    /* The slot's own index is kept in the entry, since chunks are apart. */
    assert(entry->slot < pcache->made && pcache_at(pcache, entry->slot) == entry);
    return entry->slot;
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
    uint32_t chunks = (capacity + PCACHE_CHUNK - 1) / PCACHE_CHUNK;
    pcache->chunks = calloc(chunks, sizeof *pcache->chunks);
    pcache->generations = calloc(chunks, sizeof *pcache->generations);
    pcache->buckets = malloc(sizeof *pcache->buckets * PCACHE_BUCKETS_MIN);
    if (pcache->chunks == NULL || pcache->generations == NULL || pcache->buckets == NULL) {
        pcache_destroy(pcache);
        return ARI_ENOMEM;
    }
    memset(pcache->buckets, 0xff, sizeof *pcache->buckets * PCACHE_BUCKETS_MIN);
    pcache->capacity = capacity;
    pcache->ports = ports;
    pcache->bucket_mask = PCACHE_BUCKETS_MIN - 1;
    pcache->ttl_ns = ttl_ns;
    pcache->generation_next = 1;
    pcache->lru_head = pcache->lru_tail = pcache->free_head = PCACHE_NIL;
    *pcache_out = pcache;
    return ARI_OK;
}

void pcache_destroy(pcache_t *pcache)
{
    if (pcache == NULL)
        return;
    for (uint32_t i = 0; i < pcache->chunk_count; i++) {
        free(pcache->chunks[i]);
        free(pcache->generations[i]);
    }
    free(pcache->chunks);
    free(pcache->generations);
    free(pcache->buckets);
    free(pcache);
}

/* Doubles the buckets when the table is fuller than one entry a bucket. */
static void pcache_rehash(pcache_t *pcache)
{
    uint32_t count = pcache->bucket_mask + 1;
    if (pcache->count < count)
        return;
    uint32_t *buckets = malloc(sizeof *buckets * count * 2);
    if (buckets == NULL)
        return; /* longer chains, still correct */
    memset(buckets, 0xff, sizeof *buckets * count * 2);
    free(pcache->buckets);
    pcache->buckets = buckets;
    pcache->bucket_mask = count * 2 - 1;
    for (uint32_t i = pcache->lru_head; i != PCACHE_NIL; i = pcache_at(pcache, i)->lru_next) {
        pcache_entry_t *entry = pcache_at(pcache, i);
        uint32_t bucket = pcache_bucket(pcache, entry->page);
        entry->hash_next = buckets[bucket];
        buckets[bucket] = i;
    }
}

/* A free slot: a freed one, or the next never used (allocating its chunk);
 * PCACHE_NIL when the table is at capacity or memory ran out. */
static uint32_t pcache_slot_take(pcache_t *pcache)
{
    if (pcache->free_head != PCACHE_NIL) {
        uint32_t index = pcache->free_head;
        pcache->free_head = pcache_at(pcache, index)->hash_next;
        return index;
    }
    if (pcache->made == pcache->capacity)
        return PCACHE_NIL;
    uint32_t chunk = pcache->made >> PCACHE_CHUNK_SHIFT;
    if (chunk == pcache->chunk_count) {
        pcache->chunks[chunk] = calloc(PCACHE_CHUNK, sizeof **pcache->chunks);
        pcache->generations[chunk] = calloc((size_t)PCACHE_CHUNK * pcache->ports,
                                            sizeof **pcache->generations);
        if (pcache->chunks[chunk] == NULL || pcache->generations[chunk] == NULL) {
            free(pcache->chunks[chunk]);
            free(pcache->generations[chunk]);
            pcache->chunks[chunk] = NULL;
            pcache->generations[chunk] = NULL;
            return PCACHE_NIL;
        }
        pcache->chunk_count++;
    }
    return pcache->made++;
}

uint32_t pcache_count(const pcache_t *pcache) { return pcache->count; }
uint32_t pcache_capacity(const pcache_t *pcache) { return pcache->capacity; }

pcache_entry_t *pcache_find(pcache_t *pcache, ari_gva_t page)
{
    if (pcache->count == 0)
        return NULL; /* most DPUs of a large network: spare the bucket load */
    for (uint32_t i = pcache->buckets[pcache_bucket(pcache, page)]; i != PCACHE_NIL;
         i = pcache_at(pcache, i)->hash_next) {
        pcache_entry_t *entry = pcache_at(pcache, i);
        if (gva_equal(entry->page, page))
            return entry;
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * LRU list
 * ------------------------------------------------------------------------ */

static void pcache_lru_unlink(pcache_t *pcache, uint32_t index)
{
    pcache_entry_t *entry = pcache_at(pcache, index);
    if (entry->lru_prev != PCACHE_NIL)
        pcache_at(pcache, entry->lru_prev)->lru_next = entry->lru_next;
    else
        pcache->lru_head = entry->lru_next;
    if (entry->lru_next != PCACHE_NIL)
        pcache_at(pcache, entry->lru_next)->lru_prev = entry->lru_prev;
    else
        pcache->lru_tail = entry->lru_prev;
}

static void pcache_lru_push_head(pcache_t *pcache, uint32_t index)
{
    pcache_entry_t *entry = pcache_at(pcache, index);
    entry->lru_prev = PCACHE_NIL;
    entry->lru_next = pcache->lru_head;
    if (pcache->lru_head != PCACHE_NIL)
        pcache_at(pcache, pcache->lru_head)->lru_prev = index;
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
    uint32_t index = pcache_slot_take(pcache);
    if (index == PCACHE_NIL)
        return NULL;
    pcache_entry_t *entry = pcache_at(pcache, index);
    memset(entry, 0, sizeof *entry);
    entry->slot = index;
    entry->page = page;
    entry->up = PCACHE_UP_NONE;
    entry->last_used_ns = now_ns;
    memset(pcache_generations_of(pcache, index), 0, sizeof(uint32_t) * pcache->ports);
    uint32_t bucket = pcache_bucket(pcache, page);
    entry->hash_next = pcache->buckets[bucket];
    pcache->buckets[bucket] = index;
    pcache_lru_push_head(pcache, index);
    pcache->count++;
    pcache_rehash(pcache);
    return entry;
}

void pcache_remove(pcache_t *pcache, pcache_entry_t *entry)
{
    uint32_t index = pcache_index(pcache, entry);
    uint32_t *link = &pcache->buckets[pcache_bucket(pcache, entry->page)];
    while (*link != index) {
        assert(*link != PCACHE_NIL); /* the entry must be in its chain */
        link = &pcache_at(pcache, *link)->hash_next;
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
                            PCACHE_SYNC_PENDING | PCACHE_STRICT)) == 0;
}

pcache_entry_t *pcache_victim(pcache_t *pcache, uint32_t scan_max)
{
    uint32_t index = pcache->lru_tail;
    for (uint32_t scanned = 0; index != PCACHE_NIL && scanned < scan_max; scanned++) {
        pcache_entry_t *entry = pcache_at(pcache, index);
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
        pcache_entry_t *entry = pcache_at(pcache, index);
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
    pcache_generations_of(pcache, pcache_index(pcache, entry))[port] = generation;
    entry->down |= 1ull << port;
    return generation;
}

uint32_t pcache_generation_fresh(pcache_t *pcache)
{
    uint32_t generation = pcache->generation_next++;
    if (pcache->generation_next == 0)
        pcache->generation_next = 1;
    return generation;
}

void pcache_port_set(pcache_t *pcache, pcache_entry_t *entry, uint32_t port, uint32_t generation)
{
    assert(port < pcache->ports);
    pcache_generations_of(pcache, pcache_index(pcache, entry))[port] = generation;
    entry->down |= 1ull << port;
    /* Our own later stamps come after it, so they never repeat it soon. */
    if ((int32_t)(generation - pcache->generation_next) >= 0) {
        pcache->generation_next = generation + 1;
        if (pcache->generation_next == 0)
            pcache->generation_next = 1;
    }
}

uint32_t pcache_port_generation(const pcache_t *pcache, const pcache_entry_t *entry,
                                uint32_t port)
{
    assert(port < pcache->ports);
    return pcache_generations_of(pcache, pcache_index(pcache, entry))[port];
}

void pcache_each(pcache_t *pcache, void (*fn)(void *ctx, pcache_entry_t *entry), void *ctx)
{
    uint32_t index = pcache->lru_head;
    while (index != PCACHE_NIL) {
        uint32_t next = pcache_at(pcache, index)->lru_next;
        fn(ctx, pcache_at(pcache, index));
        index = next;
    }
}
