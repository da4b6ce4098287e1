/*
 * link — message connections between the hosts of a run, over TCP or UCX
 * (docs/CLUSTER.md, "Links between hosts").
 *
 * One link_net_t per process: the transport's context, a listener, and up
 * to LINK_CONNS_MAX connections. It is driven by one thread, event by
 * event, and never blocks: link_progress does whatever I/O is ready and
 * reports it through the callbacks; link_net_fd is a descriptor that
 * becomes readable when there may be something to do, so an idle caller
 * sleeps in poll/epoll on it (after link_arm says it may).
 *
 * Every connection carries whole messages, in order, reliably, as long as
 * it lives (TCP: a length prefix; UCX: active messages, with sequence
 * numbers wherever UCX does not promise order). When it dies (the peer
 * closed, reset or failed, or a connect failed) the `closed` callback says
 * so once, and the id is never reported again. Liveness beyond that (a
 * peer that went silent) is the caller's: it sends heartbeats.
 *
 * Sends never block: a message is copied into the connection's queue.
 * A queue past LINK_QUEUE_MAX bytes refuses more (ARI_EBUSY) until it
 * drains: that is the back-pressure.
 */
#ifndef ARIADNE_CLUSTER_LINK_H
#define ARIADNE_CLUSTER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINK_CONNS_MAX 256u               /* connections per process */
#define LINK_MESSAGE_MAX ((size_t)8 << 20) /* bytes in one message */
#define LINK_QUEUE_MAX ((size_t)64 << 20)  /* queued bytes per connection */
#define LINK_NO_CONN UINT32_MAX

typedef enum {
    LINK_TCP = 1,
    LINK_UCX = 2,
} link_kind_t;

typedef struct link_net link_net_t;

/* What link_progress reports; called from inside link_progress only. */
typedef struct {
    void *ctx;
    /* A peer connected to our listener: a new connection. */
    void (*accepted)(void *ctx, uint32_t conn, const char *peer_name);
    /* A connect we started completed. */
    void (*connected)(void *ctx, uint32_t conn);
    /* One whole message, as the peer sent it; the bytes are valid only
     * during the call. */
    void (*received)(void *ctx, uint32_t conn, const uint8_t *bytes, size_t length);
    /* The connection is gone (`status`: ARI_EPEER closed or reset,
     * ARI_EIO failed, ARI_ETIMEDOUT a connect that did not complete;
     * `why`: a phrase for a log line). Its id is free after the call. */
    void (*closed)(void *ctx, uint32_t conn, int status, const char *why);
} link_events_t;

/* Opens the transport and listens on listen_addr:port (listen_addr NULL:
 * every address). ARI_ENOTSUP for LINK_UCX in a build without UCX, with
 * LINK_UCX_MISSING; ARI_EIO / ARI_ENOMEM / ARI_EINVAL with a message. */
int link_net_open(link_kind_t kind, const char *listen_addr, uint16_t port,
                  const link_events_t *events, link_net_t **net_out, char *error,
                  size_t error_size);
void link_net_close(link_net_t *net);

/* The port the listener took (the kernel's choice when opened with 0). */
uint16_t link_net_port(const link_net_t *net);
/* Readable when link_progress may have work: poll it. */
int link_net_fd(const link_net_t *net);
/* Before sleeping on the descriptor: false when there is work already (do
 * not sleep, call link_progress). */
bool link_arm(link_net_t *net);
/* Does the I/O that is ready and fires the callbacks. Returns how many
 * events it reported (0: idle), or ARI_EIO when the transport itself failed. */
int link_progress(link_net_t *net);

/* Starts connecting to addr:port (an address, or a name resolved now);
 * `connected` or `closed` follows from link_progress. A connect that has
 * not completed within timeout_ms is closed with ARI_ETIMEDOUT.
 * ARI_EBUSY when LINK_CONNS_MAX connections are open; ARI_EIO with a
 * message. */
int link_connect(link_net_t *net, const char *addr, uint16_t port, int timeout_ms,
                 uint32_t *conn_out, char *error, size_t error_size);
/* Queues one message of 1 to LINK_MESSAGE_MAX bytes (copied). ARI_EBUSY
 * when the connection's queue holds LINK_QUEUE_MAX bytes or more (nothing
 * queued: retry after progress), ARI_EPEER when it is closed or not
 * connected yet, ARI_EINVAL for a bad length. */
int link_send(link_net_t *net, uint32_t conn, const uint8_t *bytes, size_t length);
/* Bytes queued and not yet handed to the network. */
size_t link_queued(const link_net_t *net, uint32_t conn);
/* "addr:port" of the other end, for log lines. */
const char *link_peer_name(const link_net_t *net, uint32_t conn);
/* Closes one connection now (queued bytes are dropped; no `closed` call). */
void link_close(link_net_t *net, uint32_t conn);

/* "tcp" / "ucx". */
const char *link_kind_name(link_kind_t kind);
/* Parses "tcp" or "ucx": ARI_EINVAL otherwise. */
int link_kind_parse(const char *text, link_kind_t *kind_out);
/* Whether this build has UCX. */
bool link_ucx_available(void);

#define LINK_UCX_MISSING                                                                \
    "this build of Ariadne has no UCX (Debian: apt-get install libucx-dev, then rebuild; " \
    "--transport tcp needs nothing)"

#endif /* ARIADNE_CLUSTER_LINK_H */
