/*
 * join — the authenticated bootstrap of a run across hosts
 * (docs/CLUSTER.md). A coordinator (rank 0, or the launcher) listens on
 * TCP; each node connects and both prove, by challenge and response, that
 * they hold the cluster key:
 *
 *   node -> coordinator   HELLO      node nonce, claimed node id
 *   coordinator -> node   CHALLENGE  coordinator nonce, coordinator's proof
 *   node -> coordinator   CLAIM      where the node listens, node's proof
 *   coordinator -> node   TABLE      every node's address, sealed (when all joined)
 *
 * A proof is crypto_auth (HMAC-SHA-512-256), keyed by a subkey of the
 * cluster key, over a role label, both nonces, the node id (and the CLAIM's
 * endpoint). The node checks the coordinator's proof before it proves
 * anything itself, so a fake coordinator learns nothing; the coordinator
 * checks the node's before it records anything, so a node without the key
 * is refused, logged, and changes nothing. Addresses travel only in the
 * sealed TABLE, after both proofs.
 *
 * Every wait is bounded (connect, each handshake, the whole join); frames
 * are checked by frame.h before they are trusted. Without libsodium every
 * call returns ARI_ENOTSUP with CLUSTER_CRYPTO_MISSING.
 */
#ifndef ARIADNE_CLUSTER_JOIN_H
#define ARIADNE_CLUSTER_JOIN_H

#include <stdint.h>
#include <stdio.h>

#include "frame.h"
#include "key.h"
#include "session.h"

#define CLUSTER_HANDSHAKE_MS_DEFAULT 5000 /* from accept to a node's CLAIM */
#define CLUSTER_JOIN_MS_DEFAULT 60000     /* a node's whole join, the others' included */
#define CLUSTER_PENDING_MAX 64u           /* handshakes in progress at once */
#define CLUSTER_JOIN_ERROR_MAX 512u       /* an error buffer that holds every message */

typedef struct {
    const cluster_key_t *key; /* copied by open */
    uint32_t nodes;           /* the run's size, 1 to CLUSTER_NODES_MAX */
    int handshake_ms;         /* per connection; 0: CLUSTER_HANDSHAKE_MS_DEFAULT */
    FILE *log;                /* a line per refusal or drop; NULL: stderr */
} cluster_coordinator_config_t;

typedef struct cluster_coordinator cluster_coordinator_t;

/* Listens on addr:port (addr NULL: every address; port 0: the kernel
 * picks; see cluster_coordinator_port). ARI_EINVAL, ARI_EIO, ARI_ENOMEM,
 * ARI_ENOTSUP, with a message. */
int cluster_coordinator_open(const cluster_coordinator_config_t *config, const char *addr,
                             uint16_t port, cluster_coordinator_t **coordinator_out, char *error,
                             size_t error_size);

uint16_t cluster_coordinator_port(const cluster_coordinator_t *coordinator);

/* Records a node the coordinator vouches for itself (its own, when it is
 * rank 0): ARI_EINVAL when the id is out of range, taken, or the endpoint
 * has no address. */
int cluster_coordinator_add(cluster_coordinator_t *coordinator, uint32_t node_id,
                            const cluster_endpoint_t *endpoint, char *error, size_t error_size);

/* One turn of the loop, waiting at most wait_ms for something to happen:
 * accepts connections, advances handshakes, drops those past their bound
 * and joined nodes that hang up (their ids are free again). Refusals and
 * drops are logged; they are not errors of the coordinator. Returns 0, or
 * ARI_EIO when polling itself fails. */
int cluster_coordinator_step(cluster_coordinator_t *coordinator, int wait_ms);

/* Steps until every node has joined, then sends each its sealed table and
 * closes its connection. ARI_ETIMEDOUT (naming the missing ids) when they
 * have not all joined within timeout_ms; ARI_EPEER / ARI_EIO / ARI_ETIMEDOUT
 * when a node did not take its table (the others have theirs). */
int cluster_coordinator_run(cluster_coordinator_t *coordinator, int timeout_ms, char *error,
                            size_t error_size);

uint32_t cluster_coordinator_joined(const cluster_coordinator_t *coordinator);

/* The table so far: entries of nodes that have not joined have port 0. */
const cluster_table_t *cluster_coordinator_table(const cluster_coordinator_t *coordinator);

void cluster_coordinator_close(cluster_coordinator_t *coordinator);

typedef struct {
    const cluster_key_t *key;
    const char *coordinator_addr; /* address or name */
    uint16_t coordinator_port;
    uint32_t node_id;
    cluster_endpoint_t self; /* where this node listens; an empty addr: the
                              * address the coordinator sees it connect from */
    int timeout_ms;          /* the whole join; 0: CLUSTER_JOIN_MS_DEFAULT */
} cluster_join_config_t;

/* Joins: returns 0 with the whole table (free with cluster_table_free)
 * and this node's session with the coordinator. ARI_EPERM when the
 * coordinator does not prove it holds the key (nothing is sent to it
 * then) or refuses this node; ARI_ETIMEDOUT, ARI_EPEER, ARI_EIO, ARI_EMSG_*
 * (a malformed frame), ARI_ENOTSUP; each with a message naming the
 * coordinator and what went wrong. */
int cluster_node_join(const cluster_join_config_t *config, cluster_table_t *table_out,
                      cluster_session_t *session_out, char *error, size_t error_size);

#endif /* ARIADNE_CLUSTER_JOIN_H */
