/*
 * bridge — a host's agent in a run across hosts (docs/CLUSTER.md,
 * "Between agents"). The nodes of one host keep their shared-memory rings
 * (runtime/ctl.h); a ring whose other end is a node on another host is
 * read or filled by the bridge, which carries its messages to that host's
 * bridge over links (link.h) and puts them in the same ring there. The
 * DPUs see the topology's links as ever: FIFO and reliable.
 *
 * Bridges connect to the hosts their nodes have topology links to. Each
 * connection starts with both sides proving they hold the cluster key
 * (HMAC over both fresh nonces, as the join does); with `seal`, every
 * message after that is sealed (session.h). Heartbeats on every link: a
 * link silent for `heartbeat_ms` is down. Bridges flood which of their
 * links are up (link-state), so every bridge routes to every host over
 * the surviving links, relaying for others; frames between two hosts are
 * numbered and kept until acknowledged, and resent on the new route when a
 * route changes, so nothing acknowledged is lost and nothing is applied
 * twice or out of order.
 *
 * Bridges also carry what the nodes of a host share through the control
 * region: their states (joined, finished), how many have drained, and the
 * end of the run when a node dies. A host that no link reaches for
 * `heartbeat_ms` is lost: its nodes are reported dead, with the pages they
 * owned, and the run ends with a clear error rather than hanging.
 *
 * One thread does all of it, sleeping on the link's descriptor and an
 * eventfd the nodes write when a bridged ring fills (ctl_wake).
 */
#ifndef ARIADNE_CLUSTER_BRIDGE_H
#define ARIADNE_CLUSTER_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/frame.h"
#include "cluster/key.h"
#include "cluster/link.h"
#include "core/topo.h"
#include "runtime/ctl.h"

#define BRIDGE_HEARTBEAT_MS_DEFAULT 1000u
#define BRIDGE_WINDOW_BYTES ((uint64_t)32 << 20) /* unacknowledged bytes to one host */
#define BRIDGE_HOLD_BYTES ((uint64_t)64 << 20)   /* received, waiting for ring room */
#define BRIDGE_BATCH_BYTES ((size_t)256 << 10)   /* records packed into one frame */

typedef struct bridge bridge_t;

typedef struct {
    uint32_t hosts;             /* hosts of the run (agents) */
    uint32_t self;              /* this host's index */
    const uint32_t *host_of;    /* node -> host, for every node of the topology */
    const char *const *names;   /* host -> name, for messages */
    const cluster_key_t *key;
    link_kind_t transport;
    uint32_t heartbeat_ms;      /* 0: BRIDGE_HEARTBEAT_MS_DEFAULT */
    bool seal;                  /* seal every message between hosts */
    const char *listen_addr;    /* NULL: every address */
    uint16_t listen_port;       /* 0: the kernel picks (bridge_port) */
} bridge_config_t;

/* Listens and makes the eventfd; nothing runs yet. ARI_* with a message. */
int bridge_open(const bridge_config_t *config, const topo_t *topo, bridge_t **bridge_out,
                char *error, size_t error_size);
uint16_t bridge_port(const bridge_t *bridge);
/* The eventfd the nodes of this host write (ctl_params_t.agent_fd). */
int bridge_agent_fd(const bridge_t *bridge);
/* Starts the thread: marks the other hosts' nodes remote in `ctl`, dials
 * the neighbour hosts listed in `table` (host -> endpoint). */
int bridge_start(bridge_t *bridge, ctl_header_t *ctl, const cluster_table_t *table,
                 char *error, size_t error_size);
/* Waits until every neighbour link is up and every host reachable:
 * ARI_ETIMEDOUT naming the hosts missing. */
int bridge_wait_ready(bridge_t *bridge, uint32_t timeout_ms, char *error, size_t error_size);
/* Every node of this host is gone: tells the others, then waits (at most
 * linger_ms) until every host has said the same or is lost, still relaying. */
void bridge_finish(bridge_t *bridge, uint32_t linger_ms);
/* Stops the thread and frees everything. */
void bridge_close(bridge_t *bridge);

#endif /* ARIADNE_CLUSTER_BRIDGE_H */
