/*
 * frame — the wire format of the cluster join (docs/CLUSTER.md): five
 * frame types, each an 8-byte header and a body, little-endian.
 *
 *   header: 'A' 'J' version(1) type(1) body_length(u32)
 *   HELLO      node -> coordinator   nonce[32] node_id(u32)
 *   CHALLENGE  coordinator -> node   nonce[32] mac[32]
 *   CLAIM      node -> coordinator   port(u16) addr_length(u8) addr mac[32]
 *   TABLE      coordinator -> node   sealed table (session.h): counter(u64) box
 *   REFUSE     coordinator -> node   reason(u8)
 *
 * The table, once opened: count(u32), then per node id in order
 * port(u16) addr_length(u8) addr.
 *
 * Pure code: decoding checks every length and field and never trusts the
 * header; it is fuzzed (tests/fuzz/fuzz_join.c).
 */
#ifndef ARIADNE_CLUSTER_FRAME_H
#define ARIADNE_CLUSTER_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "hosts.h"

#define CLUSTER_FRAME_VERSION 1u
#define CLUSTER_FRAME_HEADER_BYTES 8u
#define CLUSTER_NONCE_BYTES 32u
#define CLUSTER_MAC_BYTES 32u     /* crypto_auth (HMAC-SHA-512-256) */
#define CLUSTER_SEAL_OVERHEAD 24u /* a sealed frame's counter (8) and MAC (16) */
#define CLUSTER_ENDPOINT_BYTES_MAX (2u + 1u + CLUSTER_ADDR_MAX)
#define CLUSTER_TABLE_BYTES_MAX (4u + CLUSTER_NODES_MAX * CLUSTER_ENDPOINT_BYTES_MAX)
#define CLUSTER_FRAME_BODY_MAX (CLUSTER_TABLE_BYTES_MAX + CLUSTER_SEAL_OVERHEAD)
#define CLUSTER_CLAIM_BODY_MAX (CLUSTER_ENDPOINT_BYTES_MAX + CLUSTER_MAC_BYTES)

_Static_assert(CLUSTER_ADDR_MAX <= 255u, "an address length is one byte");
_Static_assert(CLUSTER_FRAME_BODY_MAX <= (2u << 20), "a table frame stays within 2 MiB");

typedef enum {
    CLUSTER_FRAME_HELLO = 1,
    CLUSTER_FRAME_CHALLENGE = 2,
    CLUSTER_FRAME_CLAIM = 3,
    CLUSTER_FRAME_TABLE = 4,
    CLUSTER_FRAME_REFUSE = 5,
} cluster_frame_type_t;

/* Why a coordinator refused a node (REFUSE's reason). */
typedef enum {
    CLUSTER_REFUSE_PROOF = 1,      /* the node's proof did not verify: not our key */
    CLUSTER_REFUSE_NODE_RANGE = 2, /* the node id is not below the run's size */
    CLUSTER_REFUSE_NODE_TAKEN = 3, /* another node has joined with that id */
    CLUSTER_REFUSE_MALFORMED = 4,  /* a frame broke the wire format */
    CLUSTER_REFUSE_BUSY = 5,       /* too many joins in progress at once */
} cluster_refuse_t;

/* A decoded frame. Pointers point into the decoded bytes. Fields by type:
 * HELLO nonce, node_id; CHALLENGE nonce, mac; CLAIM endpoint (its addr may
 * be empty: "the address you see me at"), mac; TABLE sealed, sealed_size;
 * REFUSE reason. */
typedef struct {
    cluster_frame_type_t type;
    size_t size; /* header and body */
    const uint8_t *nonce, *mac, *sealed;
    size_t sealed_size;
    uint32_t node_id;
    cluster_endpoint_t endpoint;
    cluster_refuse_t reason;
} cluster_frame_t;

/* Node id -> where that node listens. */
typedef struct {
    uint32_t count;
    cluster_endpoint_t *entries;
} cluster_table_t;

/* Checks a header (the first 8 of `size` bytes) and returns the whole
 * frame's size through *frame_size_out, so a reader knows how much more
 * to read and never reads more than a frame of that type can hold.
 * ARI_EMSG_SHORT (fewer than 8 bytes), ARI_EMSG_VERSION (not 'A' 'J' 1:
 * another wire format, or another version of this one), ARI_EMSG_TYPE,
 * ARI_EMSG_LENGTH (a body length that type cannot have). */
int cluster_frame_header(const uint8_t *bytes, size_t size, cluster_frame_type_t *type_out,
                         size_t *frame_size_out);

/* Decodes exactly one frame of `size` bytes: the header's errors, and
 * ARI_EMSG_SHORT (truncated), ARI_EMSG_TRAILING (bytes after it),
 * ARI_EMSG_LENGTH (a field's length disagrees with the body), ARI_EMSG_FIELD
 * (an address, port or reason that is not allowed). */
int cluster_frame_decode(const uint8_t *bytes, size_t size, cluster_frame_t *frame_out);

/* A phrase for a decoding status, for messages and logs: e.g.
 * "not a join frame of this version (it does not start 'A' 'J' 1)". */
const char *cluster_frame_why(int status);

/* Encodes the fields of frame->type (as listed above). ARI_EMSG_SPACE when
 * out_size is too small, ARI_EINVAL for fields decode would refuse. */
int cluster_frame_encode(const cluster_frame_t *frame, uint8_t *out, size_t out_size,
                         size_t *size_out);

/* The bytes of an endpoint as CLAIM and the table carry them: port(u16)
 * addr_length(u8) addr. Returns their count (at most
 * CLUSTER_ENDPOINT_BYTES_MAX). */
size_t cluster_frame_endpoint_bytes(const cluster_endpoint_t *endpoint,
                                    uint8_t out[CLUSTER_ENDPOINT_BYTES_MAX]);

/* A table of `count` (1 to CLUSTER_NODES_MAX) empty entries: ARI_EINVAL,
 * ARI_ENOMEM. Free with cluster_table_free. */
int cluster_table_init(cluster_table_t *table, uint32_t count);
void cluster_table_free(cluster_table_t *table);

/* The table's bytes; every entry must have an address and a port. */
int cluster_table_encode(const cluster_table_t *table, uint8_t *out, size_t out_size,
                         size_t *size_out);

/* Decodes a table (allocating its entries; free with cluster_table_free):
 * ARI_EMSG_SHORT, ARI_EMSG_TRAILING, ARI_EMSG_FIELD (a count of 0 or past
 * CLUSTER_NODES_MAX, an empty or invalid address, port 0), ARI_ENOMEM. */
int cluster_table_decode(const uint8_t *bytes, size_t size, cluster_table_t *table_out);

#endif /* ARIADNE_CLUSTER_FRAME_H */
