/*
 * diff — runs of changed bytes (diff.h).
 */
#include "diff.h"

#include <assert.h>
#include <string.h>

#include "ariadne.h"
#include "msg.h"

int diff_check(const uint8_t *data, size_t length, uint64_t page_size)
{
    if (data == NULL || length == 0)
        return ARI_EMSG_FIELD;
    uint64_t next = 0; /* the lowest offset the next run may start at */
    size_t at = 0;
    while (at < length) {
        if (length - at < DIFF_RUN_HEADER)
            return ARI_EMSG_FIELD;
        uint64_t offset = msg_le32(data + at), run = msg_le32(data + at + 4);
        at += DIFF_RUN_HEADER;
        if (run == 0 || offset < next || offset + run > page_size || run > length - at)
            return ARI_EMSG_FIELD;
        next = offset + run;
        at += (size_t)run;
    }
    return ARI_OK;
}

void diff_each(const uint8_t *data, size_t length, diff_run_fn fn, void *ctx)
{
    size_t at = 0;
    while (at + DIFF_RUN_HEADER <= length) {
        uint32_t offset = msg_le32(data + at), run = msg_le32(data + at + 4);
        at += DIFF_RUN_HEADER;
        assert(run <= length - at); /* checked by diff_check */
        fn(ctx, offset, data + at, run);
        at += run;
    }
}

size_t diff_bound(uint32_t size)
{
    /* Worst case: every other byte changed, a header per byte. */
    return size + ((size_t)size / 2 + 1) * DIFF_RUN_HEADER;
}

/* The first index at or after i where the buffers differ (size if none),
 * a word at a time where they agree. */
static uint32_t diff_next_change(const uint8_t *a, const uint8_t *b, uint32_t i, uint32_t size)
{
    while (i < size && (i & 7u) != 0 && a[i] == b[i])
        i++;
    while (i + 8 <= size) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            break;
        i += 8;
    }
    while (i < size && a[i] == b[i])
        i++;
    return i;
}

size_t diff_make(const uint8_t *page, const uint8_t *twin, uint32_t size, uint8_t *out,
                 size_t capacity)
{
    assert(capacity >= diff_bound(size));
    (void)capacity;
    size_t at = 0;
    uint32_t i = diff_next_change(page, twin, 0, size);
    while (i < size) {
        uint32_t end = i + 1;
        while (end < size && page[end] != twin[end])
            end++;
        msg_put32(out + at, i);
        msg_put32(out + at + 4, end - i);
        memcpy(out + at + DIFF_RUN_HEADER, page + i, end - i);
        at += DIFF_RUN_HEADER + (end - i);
        i = diff_next_change(page, twin, end, size);
    }
    return at;
}
