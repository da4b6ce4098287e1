/*
 * net — TCP for the cluster join: listening, connecting and whole reads
 * and writes, each bounded by a deadline (poll), on non-blocking sockets
 * that never raise SIGPIPE.
 */
#ifndef ARIADNE_CLUSTER_NET_H
#define ARIADNE_CLUSTER_NET_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* "[ipv6]:port" is the longest peer name. */
#define CLUSTER_PEER_NAME_MAX 64u

/* Milliseconds of CLOCK_MONOTONIC, for deadlines. */
int64_t cluster_net_now_ms(void);

/* Listens on addr:port (addr NULL: every address; port 0: one the kernel
 * picks, returned in *port_out). ARI_EIO with a message. */
int cluster_net_listen(const char *addr, uint16_t port, int *fd_out, uint16_t *port_out,
                       char *error, size_t error_size);

/* getaddrinfo of addr:port (port given) bounded by deadline_ms: a numeric
 * address (or NULL) is
 * looked up at once; a name in a thread of its own, given up on at the
 * deadline (the thread ends by itself and frees what it found). Returns 0
 * with *found_out (freeaddrinfo), getaddrinfo's code, or
 * CLUSTER_NET_LOOKUP_TIMEOUT; cluster_net_lookup_why gives the phrase. */
#define CLUSTER_NET_LOOKUP_TIMEOUT (-1000)
int cluster_net_lookup(const char *addr, const char *port, const struct addrinfo *hints,
                       int64_t deadline_ms, struct addrinfo **found_out);
const char *cluster_net_lookup_why(int code);
/* The lookup itself, replaceable by tests (a resolver that hangs). */
extern int (*cluster_net_getaddrinfo)(const char *, const char *, const struct addrinfo *,
                                      struct addrinfo **);

/* Connects to addr:port (a name is resolved first, within the deadline),
 * retrying while nothing listens there yet, until deadline_ms.
 * ARI_ETIMEDOUT or ARI_EIO with a message. */
int cluster_net_connect(const char *addr, uint16_t port, int64_t deadline_ms, int *fd_out,
                        char *error, size_t error_size);

/* Writes all `size` bytes: ARI_ETIMEDOUT, ARI_EPEER (the peer closed the
 * connection), ARI_EIO. */
int cluster_net_send(int fd, const uint8_t *bytes, size_t size, int64_t deadline_ms);

/* Reads one whole frame into a malloc'd buffer the caller frees: its
 * header first, which must be valid (cluster_frame_header's ARI_EMSG_*
 * codes) before the body is read. ARI_ETIMEDOUT, ARI_EPEER (closed before
 * a whole frame), ARI_EIO, ARI_ENOMEM. */
int cluster_net_receive_frame(int fd, int64_t deadline_ms, uint8_t **frame_out, size_t *size_out);

/* "addr:port" or "[addr]:port" of the other end; "?" if unknown. */
void cluster_net_peer_name(int fd, char name[CLUSTER_PEER_NAME_MAX]);

/* The other end's address alone (no port): 0, or ARI_EIO. */
int cluster_net_peer_addr(int fd, char addr[CLUSTER_ADDR_MAX + 1]);

/* A phrase for the ARI_ETIMEDOUT / ARI_EPEER / ARI_EIO / ARI_EMSG_* status
 * of a read or write, e.g. "closed the connection". */
const char *cluster_net_why(int status);

#endif /* ARIADNE_CLUSTER_NET_H */
