/*
 * session — authenticated frames between a node and its coordinator (and,
 * later, between hosts on untrusted networks): each frame is sealed with
 * libsodium's crypto_secretbox under a key derived from the cluster key
 * and both sides' join nonces, and carries a counter so a replayed,
 * reordered or dropped frame is refused (docs/CLUSTER.md).
 *
 *   sealed frame: counter(u64, little-endian) MAC(16) ciphertext
 *
 * Without libsodium every call returns ARI_ENOTSUP.
 */
#ifndef ARIADNE_CLUSTER_SESSION_H
#define ARIADNE_CLUSTER_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "key.h"

/* Largest plaintext one sealed frame carries. */
#define CLUSTER_SEAL_PLAIN_MAX (CLUSTER_FRAME_BODY_MAX - CLUSTER_SEAL_OVERHEAD)

typedef enum {
    CLUSTER_SIDE_COORDINATOR = 1,
    CLUSTER_SIDE_NODE = 2,
} cluster_side_t;

/* One side of a session. Each direction has its own counters, and the
 * direction is part of every nonce, so the two sides never seal under the
 * same nonce. */
typedef struct {
    uint8_t key[32];
    uint64_t send_next;    /* the counter the next sealed frame takes */
    uint64_t receive_next; /* the counter the next opened frame must carry */
    cluster_side_t side;
} cluster_session_t;

/* Derives both sides' session key from the cluster key, the node's and
 * the coordinator's nonces and the node id (BLAKE2b keyed with a subkey of
 * the cluster key). Returns 0, or ARI_ENOTSUP / ARI_EIO with a message. */
int cluster_session_derive(const cluster_key_t *key, const uint8_t nonce_node[CLUSTER_NONCE_BYTES],
                           const uint8_t nonce_coordinator[CLUSTER_NONCE_BYTES], uint32_t node_id,
                           cluster_side_t side, cluster_session_t *session_out, char *error,
                           size_t error_size);

/* Seals `plain_size` bytes (at most CLUSTER_SEAL_PLAIN_MAX) into `out`,
 * which needs plain_size + CLUSTER_SEAL_OVERHEAD bytes: ARI_EMSG_SPACE,
 * ARI_EINVAL (too large), ARI_ERANGE (the counter is spent), ARI_ENOTSUP. */
int cluster_session_seal(cluster_session_t *session, const uint8_t *plain, size_t plain_size,
                         uint8_t *out, size_t out_size, size_t *size_out);

/* Opens a sealed frame into `plain_out` (room for sealed_size -
 * CLUSTER_SEAL_OVERHEAD bytes). It must authenticate under this session
 * and carry the next counter of its direction. ARI_EMSG_SHORT, ARI_EMSG_SPACE,
 * ARI_EPERM (altered, sealed under another key, replayed, reordered or
 * after a lost frame: the message says which), ARI_ENOTSUP. When it fails
 * the counter stays and plain_out holds none of the frame's bytes. */
int cluster_session_open(cluster_session_t *session, const uint8_t *sealed, size_t sealed_size,
                         uint8_t *plain_out, size_t plain_size, size_t *size_out, char *error,
                         size_t error_size);

void cluster_session_wipe(cluster_session_t *session);

#endif /* ARIADNE_CLUSTER_SESSION_H */
