/*
 * link_impl — what link.c shares with the backends (link_tcp.c,
 * link_ucx.c): the table of a backend's calls, the head every backend's net
 * starts with, and small helpers for addresses, errors and the connect
 * timer. Internal to src/cluster/link*.c.
 */
#ifndef ARIADNE_CLUSTER_LINK_IMPL_H
#define ARIADNE_CLUSTER_LINK_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "link.h"

/* "[ipv6]:port" is the longest peer name; a name from the caller of
 * link_connect can be longer and is cut. */
#define LINK_PEER_NAME_MAX 64u
/* A `why` for a log line, built when a connection dies. */
#define LINK_WHY_MAX 160u
/* Addresses of one name tried in turn by a connect. */
#define LINK_TARGETS_MAX 4u

/* A backend's calls; link.c has checked the connection id is below
 * LINK_CONNS_MAX and a message's length is in range before send. */
typedef struct {
    void (*net_close)(link_net_t *net);
    uint16_t (*port)(const link_net_t *net);
    int (*fd)(const link_net_t *net);
    bool (*arm)(link_net_t *net);
    int (*progress)(link_net_t *net);
    int (*connect)(link_net_t *net, const char *addr, uint16_t port, int timeout_ms,
                   uint32_t *conn_out, char *error, size_t error_size);
    int (*send)(link_net_t *net, uint32_t conn, const uint8_t *bytes, size_t length);
    size_t (*queued)(const link_net_t *net, uint32_t conn);
    const char *(*peer_name)(const link_net_t *net, uint32_t conn);
    void (*close)(link_net_t *net, uint32_t conn);
} link_ops_t;

/* The head of every backend's net (its first member). */
struct link_net {
    const link_ops_t *ops;
    link_kind_t kind;
    link_events_t events;
    bool in_progress; /* inside link_progress: the callbacks may not re-enter it */
};

/* The resolved addresses of a connect, tried in order. */
typedef struct {
    struct sockaddr_storage address[LINK_TARGETS_MAX];
    socklen_t length[LINK_TARGETS_MAX];
    uint32_t count;
} link_targets_t;

int link_tcp_open(const char *listen_addr, uint16_t port, const link_events_t *events,
                  link_net_t **net_out, char *error, size_t error_size);
int link_ucx_open(const char *listen_addr, uint16_t port, const link_events_t *events,
                  link_net_t **net_out, char *error, size_t error_size);

/* snprintf into an error buffer that may be NULL or empty. */
__attribute__((format(printf, 3, 4))) void link_error(char *error, size_t error_size,
                                                      const char *format, ...);

/* Resolves addr:port (an address or a name) into up to LINK_TARGETS_MAX
 * addresses of `family` (AF_UNSPEC: IPv4 and IPv6). ARI_EIO with a
 * message. */
int link_resolve(const char *addr, uint16_t port, int family, link_targets_t *targets_out,
                 char *error, size_t error_size);

/* "addr:port" or "[addr]:port"; "?" for other families. */
void link_sockaddr_name(const struct sockaddr *address, char name[LINK_PEER_NAME_MAX]);
/* The port of an IPv4 or IPv6 socket address; 0 for others. */
uint16_t link_sockaddr_port(const struct sockaddr *address);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t link_now_ms(void);

/* A timerfd in CLOCK_MONOTONIC that becomes readable at a deadline, so a
 * caller asleep on the net's descriptor wakes for a connect's timeout. */
int link_timer_open(int *timer_fd_out);
/* Arms it for deadline_ms (INT64_MAX: disarms); does nothing when
 * *armed_ms already holds that deadline. */
void link_timer_set(int timer_fd, int64_t deadline_ms, int64_t *armed_ms);
/* Reads the expiry count, so the descriptor is quiet until the next. */
void link_timer_drain(int timer_fd);

/* Little-endian integers on the wire. */
static inline void link_put_u32(uint8_t *bytes, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
}

static inline uint32_t link_get_u32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
           (uint32_t)bytes[3] << 24;
}

static inline void link_put_u64(uint8_t *bytes, uint64_t value)
{
    link_put_u32(bytes, (uint32_t)value);
    link_put_u32(bytes + 4, (uint32_t)(value >> 32));
}

static inline uint64_t link_get_u64(const uint8_t *bytes)
{
    return (uint64_t)link_get_u32(bytes) | (uint64_t)link_get_u32(bytes + 4) << 32;
}

#endif /* ARIADNE_CLUSTER_LINK_IMPL_H */
