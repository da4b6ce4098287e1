/*
 * bmsg — the messages between the agents of a run across hosts
 * (src/cluster/bridge.h, docs/CLUSTER.md "Between agents"), each one link
 * message (link.h), little-endian:
 *
 *   header   'A' 'L' version(1) type(1)
 *   HELLO    host(u32) hosts(u32) nonce[32]     who I am, my fresh nonce
 *   PROOF    mac[32]                            I hold the cluster key
 *   BEAT     (nothing)                          I am alive (heartbeat)
 *   LSA      origin(u32) seq(u64) count(u32) host(u32)[count]
 *                                               origin's links that are up
 *   DATA     src(u32) dst(u32) seq(u64) records  src's seq-th frame to dst
 *   ACK      src(u32) dst(u32) seq(u64)         src has every frame of dst's
 *                                               up to seq
 *
 * A DATA frame's records are ring(u32) length(u32) bytes: a message a node
 * of src sent into ring `ring` for a node of dst, or (ring
 * BMSG_RING_CONTROL) a control record: kind(u8) and its fields.
 *
 * Pure code: decoding checks every length and field before anything is
 * trusted (fuzzed by tests/fuzz/fuzz_bmsg.c).
 */
#ifndef ARIADNE_CLUSTER_BMSG_H
#define ARIADNE_CLUSTER_BMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BMSG_VERSION 1u
#define BMSG_HEADER_BYTES 4u
#define BMSG_NONCE_BYTES 32u
#define BMSG_MAC_BYTES 32u
#define BMSG_HOSTS_MAX 4096u
#define BMSG_DATA_HEADER_BYTES (BMSG_HEADER_BYTES + 16u)
#define BMSG_RECORD_HEADER_BYTES 8u
#define BMSG_RING_CONTROL UINT32_MAX
#define BMSG_CONTROL_BYTES_MAX 16u

typedef enum {
    BMSG_HELLO = 1,
    BMSG_PROOF = 2,
    BMSG_BEAT = 3,
    BMSG_LSA = 4,
    BMSG_DATA = 5,
    BMSG_ACK = 6,
} bmsg_type_t;

/* A decoded message; pointers point into the decoded bytes. */
typedef struct {
    bmsg_type_t type;
    uint32_t host, hosts;        /* HELLO */
    const uint8_t *nonce, *mac;  /* HELLO, PROOF */
    uint32_t origin, count;      /* LSA */
    const uint8_t *list;         /* LSA: count hosts, u32 each */
    uint32_t src, dst;           /* DATA, ACK */
    uint64_t seq;                /* LSA, DATA, ACK */
    const uint8_t *records;      /* DATA */
    size_t records_size;
} bmsg_t;

typedef struct {
    uint32_t ring;
    uint32_t length;
    const uint8_t *bytes;
} bmsg_record_t;

typedef enum {
    BMSG_CONTROL_STATE = 1,    /* node(u32) state(u32): a node of src moved on */
    BMSG_CONTROL_DRAINED = 2,  /* count(u32): more nodes of src are drained */
    BMSG_CONTROL_ENDING = 3,   /* node(u32): the run ends, that node died */
    BMSG_CONTROL_FINISHED = 4, /* every node of src is gone */
} bmsg_control_kind_t;

typedef struct {
    bmsg_control_kind_t kind;
    uint32_t node, value;
} bmsg_control_t;

/* Checks a whole message: header, type, every field's bounds (hosts below
 * BMSG_HOSTS_MAX; an LSA's list inside it; DATA's records each whole and
 * at least one). ARI_EMSG_SHORT, _VERSION, _TYPE, _FIELD, _TRAILING. */
int bmsg_decode(const uint8_t *bytes, size_t size, bmsg_t *out);
/* The next record of a decoded DATA message: `*offset` starts at 0.
 * False at the end. */
bool bmsg_record_next(const bmsg_t *message, size_t *offset, bmsg_record_t *out);
/* Decodes a control record's bytes: ARI_EMSG_* when malformed. */
int bmsg_control_decode(const uint8_t *bytes, size_t size, bmsg_control_t *out);

/* Encoders return the bytes written, or 0 when `size` is too small. */
size_t bmsg_encode_hello(uint8_t *out, size_t size, uint32_t host, uint32_t hosts,
                         const uint8_t nonce[BMSG_NONCE_BYTES]);
size_t bmsg_encode_proof(uint8_t *out, size_t size, const uint8_t mac[BMSG_MAC_BYTES]);
size_t bmsg_encode_beat(uint8_t *out, size_t size);
size_t bmsg_encode_lsa(uint8_t *out, size_t size, uint32_t origin, uint64_t seq,
                       const uint32_t *hosts, uint32_t count);
size_t bmsg_encode_ack(uint8_t *out, size_t size, uint32_t src, uint32_t dst, uint64_t seq);
/* DATA: the header (BMSG_DATA_HEADER_BYTES), then records appended. */
size_t bmsg_encode_data_header(uint8_t *out, size_t size, uint32_t src, uint32_t dst,
                               uint64_t seq);
size_t bmsg_encode_record(uint8_t *out, size_t size, uint32_t ring, const uint8_t *bytes,
                          uint32_t length);
size_t bmsg_encode_control(uint8_t *out, size_t size, const bmsg_control_t *control);

#endif /* ARIADNE_CLUSTER_BMSG_H */
