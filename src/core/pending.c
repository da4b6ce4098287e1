/*
 * pending — a dense array that grows by doubling up to its bound.
 */
#include "pending.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "gva.h"

void pending_table_init(pending_table_t *table, uint32_t max)
{
    memset(table, 0, sizeof *table);
    table->max = max;
}

void pending_table_fini(pending_table_t *table)
{
    free(table->items);
    memset(table, 0, sizeof *table);
}

pending_t *pending_add(pending_table_t *table, uint8_t op, ari_gva_t page, uint64_t cookie)
{
    if (table->count == table->max)
        return NULL;
    if (table->count == table->capacity) {
        uint32_t capacity = table->capacity ? 2 * table->capacity : 4;
        if (capacity > table->max)
            capacity = table->max;
        pending_t *grown = realloc(table->items, capacity * sizeof *grown);
        if (grown == NULL)
            return NULL;
        table->items = grown;
        table->capacity = capacity;
    }
    pending_t *p = &table->items[table->count++];
    *p = (pending_t){.cookie = cookie, .page = page, .op = op};
    return p;
}

pending_t pending_remove(pending_table_t *table, uint32_t index)
{
    assert(index < table->count);
    pending_t p = table->items[index];
    table->items[index] = table->items[--table->count];
    return p;
}

pending_t *pending_add_pinned(pending_table_t *table, pcache_t *pcache, uint8_t op,
                              ari_gva_t page, uint64_t cookie)
{
    pending_t *p = pending_add(table, op, page, cookie);
    pcache_entry_t *entry = p != NULL ? pcache_find(pcache, page) : NULL;
    if (entry != NULL)
        entry->pending++;
    return p;
}

pending_t pending_remove_pinned(pending_table_t *table, pcache_t *pcache, uint32_t index)
{
    pending_t p = pending_remove(table, index);
    pcache_entry_t *entry = pcache_find(pcache, p.page);
    if (entry != NULL) {
        assert(entry->pending > 0); /* pins and requests are kept in step */
        entry->pending--;
    }
    return p;
}

void pending_pin_new_entry(const pending_table_t *table, pcache_entry_t *entry)
{
    entry->pending = pending_count_page(table, entry->page);
}

int64_t pending_find_seq(const pending_table_t *table, uint64_t seq, uint8_t skip_op)
{
    for (uint32_t i = 0; i < table->count; i++) {
        if (table->items[i].seq == seq && table->items[i].op != skip_op)
            return i;
    }
    return -1;
}

uint32_t pending_count_page(const pending_table_t *table, ari_gva_t page)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < table->count; i++)
        count += gva_equal(table->items[i].page, page);
    return count;
}

uint64_t pending_newest_seq(const pending_table_t *table, ari_gva_t page, uint8_t skip_op)
{
    uint64_t newest = 0;
    for (uint32_t i = 0; i < table->count; i++) {
        const pending_t *p = &table->items[i];
        if (p->op != skip_op && p->seq > newest && gva_equal(p->page, page))
            newest = p->seq;
    }
    return newest;
}

uint64_t pending_newest_seq_of(const pending_table_t *table, ari_gva_t page, uint32_t op_mask)
{
    uint64_t newest = 0;
    for (uint32_t i = 0; i < table->count; i++) {
        const pending_t *p = &table->items[i];
        if (((op_mask >> p->op) & 1u) && p->seq > newest && gva_equal(p->page, page))
            newest = p->seq;
    }
    return newest;
}
