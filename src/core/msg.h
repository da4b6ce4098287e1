/*
 * msg — the wire format of every message between DPUs (DESIGN §4, §5).
 *
 * Encoding: an 8-byte header, then the body, every integer little-endian,
 * written and read byte by byte (never a struct cast onto the wire):
 *
 *   u8 version | u8 type | u16 flags | u32 body_length | body ...
 *
 * Each type's body is a fixed sequence of fields (the layout table in
 * msg.c, documented in docs/WIRE.md). Variable parts (hop lists, data,
 * the transfer tables) carry their own count and are bounded.
 *
 * Decoding never trusts its input: any byte string either decodes into a
 * message that passes msg_check() or returns a specific ARI_EMSG_* code.
 * Decoding is zero-copy: the hop list, data and tables of a decoded message
 * point into the buffer it was decoded from, which must outlive the msg_t.
 *
 * Messages may be concatenated in one buffer (the compressor batches many a
 * link send); msg_decode reports how many bytes each one used.
 */
#ifndef ARIADNE_CORE_MSG_H
#define ARIADNE_CORE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ariadne.h"

/* Bump when any layout changes; a DPU rejects other versions. */
#define MSG_WIRE_VERSION 4u
#define MSG_HEADER_SIZE 8u

/* Bounds. A hop list is 2 x diameter at most (DESIGN §4); the wire allows
 * any topology whose doubled diameter fits MSG_HOPS_MAX. */
#define MSG_HOPS_MAX 1024u
#define MSG_DATA_MAX (2u << 20)   /* one huge page */
#define MSG_RUN_MAX 512u          /* pages in one REF run */
#define MSG_SEQS_MAX 65536u       /* origins in a transferred sequence table */
#define MSG_QUEUE_MAX 1024u       /* entries in a transferred ACQ queue */
#define MSG_HOP_NONE UINT32_MAX   /* "no hop to push" */
#define MSG_SEQ_ENTRY_SIZE 12u    /* u32 origin, u64 seq */
#define MSG_QUEUE_ENTRY_SIZE 27u  /* u32 origin, u64 seq, u64 timestamp, u8 priority,
                                   * u8 port, u8 kind, u32 offset */

typedef enum {
    MSG_REF = 1,       /* page (run), origin, seq, hops: ask for a replica */
    MSG_REF_DATA,      /* page, version, generation, offset, data, hops */
    MSG_REF_FAIL,      /* page, status, hops: no room on the way */
    MSG_WRITE,         /* page, offset, data, origin, seq, prev, hops */
    MSG_WRITE_ACK,     /* page, version, origin, seq, hops */
    MSG_ATOMIC,        /* page, offset, op, arg0, arg1, origin, seq, prev, hops */
    MSG_ATOMIC_RESULT, /* page, version, status, old value, origin, seq, hops */
    MSG_GET,           /* page, offset, length, origin, seq, prev, hops */
    MSG_GET_DATA,      /* page, version, offset, data, origin, seq, hops */
    MSG_UPDATE,        /* page, version, offset, data, origin, seq */
    MSG_INVAL,         /* page, version */
    MSG_SYNC,          /* page, version held, origin, seq, hops */
    MSG_SYNC_DATA,     /* page, version, generation, offset, data, hops */
    MSG_UNREF,         /* page, generation, origin (the node dropping its branch) */
    MSG_PRUNE,         /* page, version: drop the branch (freed, or evicted: NOACK) */
    MSG_PRUNE_ACK,     /* page: the branch below is gone */
    MSG_ACQ,           /* page, op (kind), origin, seq, timestamp, priority, offset,
                        * count (BARRIER parties), hops */
    MSG_GRANT,         /* page, version, op (kind), origin, seq, hops */
    MSG_DENY,          /* page, origin, seq, kind (op), position (count), hops */
    MSG_CANCEL,        /* page, origin, seq, hops */
    MSG_XFER_DATA,     /* page, version, generation, origin, seq, offset, data, seqs, queue,
                        * hops */
    MSG_XFER_CONFIRM,  /* page, version, origin, hops */
    MSG_XFER_DONE,     /* page, version, origin (new owner), hops */
    MSG_HEARTBEAT,     /* origin (sender), seq, timestamp */
    MSG_ERROR,         /* page, status, op (type answered), origin, seq, hops */
    MSG_TYPE_END
} msg_type_t;

/* Header flags, allowed per type (msg_check). */
#define MSG_FLAG_NODATA 0x0001u /* REF, REF_DATA: build the path only (ownership pages) */
#define MSG_FLAG_NOACK 0x0002u  /* PRUNE: an eviction, no PRUNE_ACK wanted */
#define MSG_FLAG_DIFF 0x0004u   /* WRITE, UPDATE: data is runs of changed bytes (diff.h), offset 0 */

typedef enum { MSG_ATOMIC_CAS = 1, MSG_ATOMIC_FETCH_ADD, MSG_ATOMIC_SWAP } msg_atomic_op_t;
typedef enum { MSG_DENY_QUEUED = 1, MSG_DENY_REJECTED } msg_deny_kind_t;
/* What an ACQ asks the page's arbiter for (ACQ and GRANT op, queue entry kind). */
typedef enum {
    MSG_ACQ_OWN = 1,  /* become the owner (the page moves) */
    MSG_ACQ_SEM_WAIT, /* take a permit of the semaphore at offset */
    MSG_ACQ_SEM_POST, /* give one back */
    MSG_ACQ_BARRIER,  /* arrive at the barrier at offset, for count parties */
} msg_acq_kind_t;
#define MSG_QUEUE_PORT_HOST 0xFFu /* queue entry port: the owner's own host */

/* A hop list: node ids, little-endian u32 each, in wire order (the origin
 * first, the last forwarder last). A view, not a copy. */
typedef struct {
    const uint8_t *le;
    uint32_t count;
} msg_hops_t;

/* A table of fixed-size little-endian entries (transfer tables). */
typedef struct {
    const uint8_t *le;
    uint32_t count;
} msg_table_t;

/* One decoded (or to-be-encoded) message. Fields a type does not carry are
 * ignored by the encoder and zero after decoding. */
typedef struct {
    msg_type_t type;
    uint16_t flags;
    uint8_t op;          /* ATOMIC op; ACQ, GRANT: msg_acq_kind_t; DENY kind; ERROR: type answered */
    uint8_t priority;    /* ACQ */
    ari_gva_t page;      /* page identity: ref index 0, page-aligned */
    uint32_t origin;     /* node that issued the request */
    uint32_t generation; /* per-(page, port) generation */
    uint32_t count;      /* REF: pages in the run; DENY: queue position; ACQ BARRIER: parties */
    uint32_t offset;     /* byte offset in the page */
    uint32_t length;     /* GET: bytes asked for */
    int32_t status;      /* REF_FAIL, ATOMIC_RESULT, ERROR: an ARI_E* code */
    uint64_t seq;        /* the origin's sequence number, unique per origin */
    uint64_t prev;       /* WRITE, ATOMIC, GET: the origin's previous request to
                          * this page still unanswered when this one left, or 0;
                          * the owner applies this one only after that one */
    uint64_t version;    /* per-page version */
    uint64_t arg0, arg1; /* ATOMIC: operands; ATOMIC_RESULT: arg0 = old value */
    uint64_t timestamp;  /* ACQ, CANCEL, HEARTBEAT */
    msg_hops_t hops;
    uint32_t hop_push;   /* encode only: a node appended to hops, or MSG_HOP_NONE */
    const uint8_t *data;
    uint32_t data_length;
    msg_table_t seqs;    /* XFER_DATA: per-origin sequence table */
    msg_table_t queue;   /* XFER_DATA: the ACQ queue */
} msg_t;

/* A message of the given type with every field zero and no hop to push. */
msg_t msg_make(msg_type_t type);

/* Checks what the wire cannot express on its own: known type, allowed
 * flags, page identity, offsets inside the page, bounded counts, valid
 * atomic op and deny kind. ARI_OK or ARI_EMSG_FIELD / ARI_EMSG_HOPS. */
int msg_check(const msg_t *msg);

/* Bytes msg_encode will write (the header included). */
size_t msg_encoded_size(const msg_t *msg);

/* Encodes a checked message into buffer. ARI_EMSG_SPACE when it does not
 * fit (nothing useful written), or msg_check's error. */
int msg_encode(const msg_t *msg, uint8_t *buffer, size_t capacity, size_t *length_out);

/* Decodes the first message of buffer. On success sets *msg_out (whose
 * views point into buffer) and *consumed_out (header + body bytes). */
int msg_decode(const uint8_t *buffer, size_t length, msg_t *msg_out, size_t *consumed_out);

/* Reads only the header: the full length of the first message, so a stream
 * transport knows how many bytes to wait for. */
int msg_peek_length(const uint8_t *buffer, size_t length, size_t *total_out);

const char *msg_type_name(msg_type_t type);

/* An encode buffer for one sender: the caller's bytes (shared by senders
 * that never encode at the same time), or allocated on first use. */
typedef struct {
    uint8_t *bytes;
    size_t size;
    bool owned;
} msg_buffer_t;

/* Encodes one of our own messages (valid by construction: asserted) into
 * the buffer; returns its length. */
size_t msg_buffer_encode(msg_buffer_t *buffer, const msg_t *msg);
void msg_buffer_fini(msg_buffer_t *buffer);

/* ------------------------------------------------------------------------
 * Views
 * ------------------------------------------------------------------------ */
static inline uint32_t msg_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t msg_le64(const uint8_t *p)
{
    return (uint64_t)msg_le32(p) | (uint64_t)msg_le32(p + 4) << 32;
}

static inline void msg_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void msg_put64(uint8_t *p, uint64_t v)
{
    msg_put32(p, (uint32_t)v);
    msg_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t msg_hops_at(msg_hops_t hops, uint32_t index)
{
    return msg_le32(hops.le + 4u * index);
}

/* Writes node ids into storage (4 bytes each) and returns the view. */
msg_hops_t msg_hops_store(uint8_t *storage, const uint32_t *nodes, uint32_t count);
/* Index of node in the list, or -1. A REF that finds its DPU already in
 * the list cuts the loop there (DESIGN §4). */
int64_t msg_hops_find(msg_hops_t hops, uint32_t node);

typedef struct {
    uint32_t origin;
    uint64_t seq;
} msg_seq_entry_t;

typedef struct {
    uint32_t origin;
    uint64_t seq;        /* the waiter's request (answers carry it) */
    uint64_t timestamp;
    uint8_t priority;
    uint8_t port;        /* arrival port at the owner that queued it, or MSG_QUEUE_PORT_HOST */
    uint8_t kind;        /* msg_acq_kind_t */
    uint32_t offset;     /* SEM_WAIT, BARRIER: the word */
} msg_queue_entry_t;

msg_seq_entry_t msg_seqs_at(msg_table_t table, uint32_t index);
msg_queue_entry_t msg_queue_at(msg_table_t table, uint32_t index);
/* Write one entry into storage of MSG_*_ENTRY_SIZE bytes per entry. */
void msg_seqs_put(uint8_t *storage, uint32_t index, msg_seq_entry_t entry);
void msg_queue_put(uint8_t *storage, uint32_t index, msg_queue_entry_t entry);

#endif /* ARIADNE_CORE_MSG_H */
