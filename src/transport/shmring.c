/*
 * shmring — a single-producer single-consumer message ring in shared
 * memory (shmring.h).
 *
 * Layout of the data area: records, each an 8-byte header {u32 length,
 * u32 tag} followed by `length` bytes padded to 8, so every record starts
 * 8-aligned and a header never straddles the end. When a message's record
 * would cross the end, the producer first writes a wrap record (tag
 * SHMRING_TAG_WRAP, length 0) that fills the rest of the area, and the
 * message starts again at offset 0. A wrap and the message after it are
 * published by one store of head, so a consumer never sees a wrap alone.
 *
 * Ordering: the producer writes the bytes, then stores head with release;
 * the consumer loads head with acquire, reads, then stores tail with
 * release; the producer loads tail with acquire before reusing the space.
 *
 * Trust: head, tail and every header are in memory the peer can write.
 * The consumer reads each header field exactly once (through a volatile
 * access, so the compiler cannot re-read it after the check) and checks it
 * before use; a bad one is reported as ARI_ELINK, never asserted. The
 * message bytes handed out by shmring_peek are still in shared memory: the
 * caller decodes them as untrusted input.
 */
#include "shmring.h"

#include <string.h>

#include "ariadne.h"

#define SHMRING_HEADER_SIZE 8u
#define SHMRING_RECORD_ALIGN 8u
/* Distinct, unlikely values, so zeroed or garbage memory is never taken
 * for a record. */
#define SHMRING_TAG_MESSAGE 0x3147534du /* "MSG1" */
#define SHMRING_TAG_WRAP 0x50415257u    /* "WRAP" */

_Static_assert(sizeof(shmring_t) % SHMRING_ALIGN == 0, "data must start 64-aligned");
_Static_assert(SHMRING_CAPACITY_MIN % SHMRING_RECORD_ALIGN == 0,
               "records must tile the data area");
/* The longest record plus the largest wrap before it (both below the
 * longest record) fit an empty ring, so a message of message_max is never
 * refused forever. */
_Static_assert(2 * (SHMRING_CAPACITY_MIN / 4 + SHMRING_HEADER_SIZE + SHMRING_RECORD_ALIGN) <=
                   SHMRING_CAPACITY_MIN,
               "an empty ring must take the longest message");
/* Lengths travel in a u32 header field. */
_Static_assert(SHMRING_CAPACITY_MAX / 4 <= UINT32_MAX, "message_max must fit the header");

typedef struct {
    uint32_t length;
    uint32_t tag;
} shmring_header_t;

/* Where the consumer's next message is, once checked. */
typedef struct {
    uint64_t tail;   /* the tail it was found from */
    uint64_t offset; /* of the message's header in the data area */
    uint64_t length; /* its bytes, without header or padding */
    uint64_t used;   /* bytes from tail to the end of its record */
} shmring_next_t;

static int shmring_capacity_valid(uint64_t capacity)
{
    return capacity >= SHMRING_CAPACITY_MIN && capacity <= SHMRING_CAPACITY_MAX &&
           (capacity & (capacity - 1)) == 0;
}

/* The capacity, read once per call and checked, since the peer can write
 * it too: every bound within one call then comes from the same value.
 * 0 when it is not a valid capacity. */
static uint64_t shmring_capacity(const shmring_t *ring)
{
    uint64_t capacity = *(const volatile uint64_t *)&ring->capacity;
    return shmring_capacity_valid(capacity) ? capacity : 0;
}

static uint64_t shmring_record_size(uint64_t length)
{
    return SHMRING_HEADER_SIZE +
           ((length + SHMRING_RECORD_ALIGN - 1) & ~(uint64_t)(SHMRING_RECORD_ALIGN - 1));
}

size_t shmring_footprint(uint64_t capacity)
{
    uint64_t data = (capacity + SHMRING_ALIGN - 1) & ~(uint64_t)(SHMRING_ALIGN - 1);
    return sizeof(shmring_t) + (size_t)data;
}

int shmring_init(void *memory, uint64_t capacity)
{
    if (memory == NULL || ((uintptr_t)memory & (SHMRING_ALIGN - 1)) != 0 ||
        !shmring_capacity_valid(capacity))
        return ARI_EINVAL;
    shmring_t *ring = memory;
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    ring->capacity = capacity;
    /* The peer maps the ring after this process made it (it is started
     * later, or attaches after a handshake), so plain stores suffice. */
    ring->magic = SHMRING_MAGIC;
    return ARI_OK;
}

int shmring_check(const shmring_t *ring, uint64_t capacity)
{
    if (!shmring_capacity_valid(capacity))
        return ARI_EINVAL;
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    if (ring->magic != SHMRING_MAGIC || ring->capacity != capacity)
        return ARI_ELINK;
    /* Positions only ever grow by whole records, so both stay 8-aligned. */
    if (head - tail > capacity || ((head | tail) & (SHMRING_RECORD_ALIGN - 1)) != 0)
        return ARI_ELINK;
    return ARI_OK;
}

size_t shmring_message_max(uint64_t capacity)
{
    return (size_t)(capacity / 4);
}

/* ------------------------------------------------------------------------
 * Producer
 * ------------------------------------------------------------------------ */

/* Bytes a message of `length` takes if written at `head`: its record, plus
 * the wrap record before it when the record would cross the end. */
static uint64_t shmring_push_size(uint64_t capacity, uint64_t head, uint64_t length)
{
    uint64_t to_end = capacity - (head & (capacity - 1));
    uint64_t record = shmring_record_size(length);
    return record <= to_end ? record : to_end + record;
}

/* Free bytes as the producer sees them. A consumer that moved tail past
 * head (broken peer) leaves no room rather than a huge one. */
static uint64_t shmring_free(const shmring_t *ring, uint64_t capacity, uint64_t head)
{
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    uint64_t used = head - tail;
    return used > capacity ? 0 : capacity - used;
}

static void shmring_header_write(shmring_t *ring, uint64_t offset, uint32_t length,
                                 uint32_t tag)
{
    shmring_header_t header = {.length = length, .tag = tag};
    memcpy(ring->data + offset, &header, sizeof header);
}

int shmring_push(shmring_t *ring, const uint8_t *bytes, size_t length)
{
    uint64_t capacity = shmring_capacity(ring);
    if (length == 0 || length > shmring_message_max(capacity))
        return capacity != 0 ? ARI_EINVAL : ARI_EBUSY; /* a wrecked header has no room */
    /* Only we write head, but a broken peer could too: a misaligned one is
     * rounded down, which at worst overwrites unread bytes the consumer
     * then rejects, and never writes outside the data area. */
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed) &
                    ~(uint64_t)(SHMRING_RECORD_ALIGN - 1);
    uint64_t need = shmring_push_size(capacity, head, length);
    if (need > shmring_free(ring, capacity, head))
        return ARI_EBUSY;
    uint64_t offset = head & (capacity - 1);
    if (shmring_record_size(length) > capacity - offset) {
        shmring_header_write(ring, offset, 0, SHMRING_TAG_WRAP);
        offset = 0;
    }
    shmring_header_write(ring, offset, (uint32_t)length, SHMRING_TAG_MESSAGE);
    memcpy(ring->data + offset + SHMRING_HEADER_SIZE, bytes, length);
    atomic_store_explicit(&ring->head, head + need, memory_order_release);
    return ARI_OK;
}

int shmring_room(const shmring_t *ring, size_t length)
{
    uint64_t capacity = shmring_capacity(ring);
    if (length == 0 || length > shmring_message_max(capacity))
        return 0;
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed) &
                    ~(uint64_t)(SHMRING_RECORD_ALIGN - 1);
    return shmring_push_size(capacity, head, length) <= shmring_free(ring, capacity, head);
}

/* ------------------------------------------------------------------------
 * Consumer
 * ------------------------------------------------------------------------ */

/* One read of each field: the peer may rewrite them while we look. */
static shmring_header_t shmring_header_read(const shmring_t *ring, uint64_t offset)
{
    const volatile uint32_t *field = (const volatile uint32_t *)(ring->data + offset);
    shmring_header_t header = {.length = field[0], .tag = field[1]};
    return header;
}

/* Checks the message record at `offset` with `available` published bytes
 * from there on. */
static int shmring_message_check(uint64_t capacity, uint64_t offset, uint64_t available,
                                 shmring_header_t header)
{
    if (header.tag != SHMRING_TAG_MESSAGE || header.length == 0 ||
        header.length > shmring_message_max(capacity))
        return ARI_ELINK;
    uint64_t record = shmring_record_size(header.length);
    if (record > capacity - offset || record > available)
        return ARI_ELINK;
    return ARI_OK;
}

/* Finds and checks the next message without consuming anything: 1 and
 * *next_out, 0 when empty, ARI_ELINK when what the producer wrote cannot
 * be. Reads only within the data area whatever head, tail and headers say. */
static int shmring_next(shmring_t *ring, shmring_next_t *next_out)
{
    uint64_t capacity = shmring_capacity(ring);
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    uint64_t available = head - tail;
    if (available == 0)
        return 0;
    if (capacity == 0 || available > capacity || ((head | tail) & (SHMRING_RECORD_ALIGN - 1)) != 0)
        return ARI_ELINK;
    /* Both 8-aligned and capacity a multiple of 8: a whole header lies
     * between offset and the end, and available >= 8. */
    uint64_t offset = tail & (capacity - 1);
    uint64_t skipped = 0;
    shmring_header_t header = shmring_header_read(ring, offset);
    if (header.tag == SHMRING_TAG_WRAP) {
        /* A wrap fills the rest of the area and is always followed by a
         * message, published with it. */
        skipped = capacity - offset;
        if (header.length != 0 || available < skipped + SHMRING_HEADER_SIZE)
            return ARI_ELINK;
        available -= skipped;
        offset = 0;
        header = shmring_header_read(ring, offset);
    }
    int status = shmring_message_check(capacity, offset, available, header);
    if (status != ARI_OK)
        return status;
    next_out->tail = tail;
    next_out->offset = offset;
    next_out->length = header.length;
    next_out->used = skipped + shmring_record_size(header.length);
    return 1;
}

long shmring_peek(shmring_t *ring, const uint8_t **bytes_out)
{
    shmring_next_t next;
    int status = shmring_next(ring, &next);
    if (status <= 0)
        return status;
    *bytes_out = ring->data + next.offset + SHMRING_HEADER_SIZE;
    return (long)next.length;
}

void shmring_pop(shmring_t *ring)
{
    /* The header is checked again rather than remembered: the ring keeps
     * no consumer state outside shared memory. If the producer rewrote it
     * since shmring_peek into something bad, nothing is consumed and the
     * next shmring_peek reports ARI_ELINK. */
    shmring_next_t next;
    if (shmring_next(ring, &next) <= 0)
        return;
    atomic_store_explicit(&ring->tail, next.tail + next.used, memory_order_release);
}

int shmring_empty(const shmring_t *ring)
{
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    return atomic_load_explicit(&ring->head, memory_order_acquire) == tail;
}
