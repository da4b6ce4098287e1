/*
 * libFuzzer target for the shared-memory ring's consumer (and producer)
 * facing a broken peer: the input is the whole ring state a peer could
 * write. Whatever it holds, shmring_peek either answers ARI_ELINK or hands
 * out a message inside the data area; pop only moves tail forward, never
 * past head; push writes only inside the data area (ASan checks that,
 * since the ring is allocated at exactly its footprint).
 *
 * Input: tail (8 bytes, little-endian), head - tail (2 bytes, so both
 * sane and insane distances are reachable), then the data area's bytes
 * from tail's offset on, wrapping at the end: the first header the
 * consumer reads is always at input byte 10, wherever tail points.
 */
#include <stdlib.h>
#include <string.h>

#include "ariadne.h"
#include "transport/shmring.h"

#define FUZZ_CAPACITY 4096u
#define FUZZ_STATE_SIZE 10u
#define FUZZ_MESSAGES_MAX 1024u /* above the 256 records a 4096-byte ring holds */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fuzz_u64(const uint8_t *bytes, size_t count)
{
    uint64_t value = 0;
    for (size_t i = 0; i < count; i++)
        value |= (uint64_t)bytes[i] << (8 * i);
    return value;
}

static shmring_t *fuzz_ring(void)
{
    static shmring_t *ring;
    if (ring == NULL) {
        ring = aligned_alloc(SHMRING_ALIGN, shmring_footprint(FUZZ_CAPACITY));
        if (ring == NULL)
            abort();
    }
    if (shmring_init(ring, FUZZ_CAPACITY) != ARI_OK)
        abort();
    return ring;
}

/* Drains what the ring claims to hold, checking each answer. */
static void fuzz_consume(shmring_t *ring)
{
    const uint8_t *end = ring->data + FUZZ_CAPACITY;
    uint64_t head = atomic_load(&ring->head);
    for (unsigned i = 0; i < FUZZ_MESSAGES_MAX; i++) {
        const uint8_t *bytes = NULL;
        long length = shmring_peek(ring, &bytes);
        if (length == 0)
            return;
        if (length < 0) {
            if (length != ARI_ELINK)
                abort();
            return;
        }
        if ((size_t)length > shmring_message_max(FUZZ_CAPACITY) || bytes < ring->data ||
            bytes > end || (size_t)(end - bytes) < (size_t)length)
            abort();
        volatile uint8_t sum = 0;
        for (long at = 0; at < length; at++)
            sum += bytes[at]; /* ASan would see a read outside */
        uint64_t tail = atomic_load(&ring->tail);
        shmring_pop(ring);
        uint64_t moved = atomic_load(&ring->tail) - tail;
        if (moved == 0 || moved > head - tail)
            abort();
    }
    abort(); /* every pop moves tail forward and never past head: we must have ended */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_STATE_SIZE)
        return 0;
    shmring_t *ring = fuzz_ring();
    uint64_t tail = fuzz_u64(data, 8);
    uint64_t head = tail + fuzz_u64(data + 8, 2);
    size_t count = size - FUZZ_STATE_SIZE, offset = tail & (FUZZ_CAPACITY - 1);
    memset(ring->data, 0, FUZZ_CAPACITY);
    for (size_t i = 0; i < count && i < FUZZ_CAPACITY; i++)
        ring->data[(offset + i) & (FUZZ_CAPACITY - 1)] = data[FUZZ_STATE_SIZE + i];
    atomic_store(&ring->tail, tail);
    atomic_store(&ring->head, head);

    int status = shmring_check(ring, FUZZ_CAPACITY);
    if (status != ARI_OK && status != ARI_ELINK)
        abort();
    fuzz_consume(ring);

    /* The producer on the same state: room and push agree and stay in. */
    static uint8_t message[FUZZ_CAPACITY / 4];
    size_t length = 1 + data[0] % shmring_message_max(FUZZ_CAPACITY);
    int room = shmring_room(ring, length);
    status = shmring_push(ring, message, length);
    if (status != (room ? ARI_OK : ARI_EBUSY))
        abort();
    return 0;
}
