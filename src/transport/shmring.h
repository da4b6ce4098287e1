/*
 * shmring — a bounded single-producer single-consumer ring of messages in
 * shared memory: one direction of one link between two node processes on
 * one host (DESIGN §1: links are FIFO and reliable).
 *
 * The ring lives in memory both processes map (the run's control region,
 * src/runtime/ctl.h). The producer is one thread at a time of the sending
 * node (its DPU lock serialises them); the consumer likewise. Positions are
 * byte counters that only grow; a record is an 8-byte header (length, tag)
 * and the bytes, padded to 8. A record that would cross the end of the data
 * area is preceded by a wrap record filling the rest.
 *
 * The peer is another process and may be broken: the consumer checks every
 * header it reads and reports ARI_ELINK instead of trusting a bad one.
 * Back-pressure: push never blocks; a full ring answers ARI_EBUSY and the
 * caller keeps the message (src/dpu/link.c queues it) until there is room.
 */
#ifndef ARIADNE_TRANSPORT_SHMRING_H
#define ARIADNE_TRANSPORT_SHMRING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHMRING_ALIGN 64u
#define SHMRING_CAPACITY_MIN 4096u
#define SHMRING_CAPACITY_MAX (1ull << 30)

typedef struct {
    _Atomic uint64_t head; /* bytes ever written (producer) */
    uint8_t pad0[SHMRING_ALIGN - sizeof(uint64_t)];
    _Atomic uint64_t tail; /* bytes ever consumed (consumer) */
    uint8_t pad1[SHMRING_ALIGN - sizeof(uint64_t)];
    uint64_t capacity;     /* bytes of data area, a power of two */
    uint64_t magic;        /* SHMRING_MAGIC once initialised */
    uint8_t pad2[SHMRING_ALIGN - 2 * sizeof(uint64_t)];
    uint8_t data[];
} shmring_t;

#define SHMRING_MAGIC 0x676e6972696e6441ull /* "Aniring" */

/* Bytes of shared memory a ring of `capacity` needs (a multiple of 64). */
size_t shmring_footprint(uint64_t capacity);
/* Initialises a ring in `memory` (shmring_footprint bytes, 64-aligned).
 * ARI_EINVAL when capacity is not a power of two in [MIN, MAX]. */
int shmring_init(void *memory, uint64_t capacity);
/* Checks a ring someone else initialised: ARI_ELINK if its header is bad. */
int shmring_check(const shmring_t *ring, uint64_t capacity);
/* The longest message a ring of this capacity takes (a quarter of it). */
size_t shmring_message_max(uint64_t capacity);

/* Producer: appends one message. ARI_OK; ARI_EBUSY when there is no room
 * now (nothing written); ARI_EINVAL when length is 0 or above the max. */
int shmring_push(shmring_t *ring, const uint8_t *bytes, size_t length);
/* Whether a message of `length` would fit now (producer side). */
int shmring_room(const shmring_t *ring, size_t length);

/* Consumer: the next message, contiguous, without consuming it. Returns
 * its length (> 0) and sets *bytes_out; 0 when the ring is empty;
 * ARI_ELINK (negative) when the producer wrote a header that cannot be. */
long shmring_peek(shmring_t *ring, const uint8_t **bytes_out);
/* Consumer: consumes the message shmring_peek returned. */
void shmring_pop(shmring_t *ring);
/* Whether the ring has nothing to read (cheap, for idle checks). */
int shmring_empty(const shmring_t *ring);

#endif /* ARIADNE_TRANSPORT_SHMRING_H */
