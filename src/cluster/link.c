/*
 * link — the calls of link.h: the checks every backend shares, then its
 * table; and the helpers of link_impl.h.
 */
#include "link.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ariadne.h"
#include "link_impl.h"
#include "net.h"

/* The longest a link waits for a host name to resolve (addresses from the
 * join are numeric and take no time). */
#define LINK_RESOLVE_MS 5000

/* ------------------------------------------------------------------------
 * Kinds
 * ------------------------------------------------------------------------ */

const char *link_kind_name(link_kind_t kind)
{
    switch (kind) {
    case LINK_TCP:
        return "tcp";
    case LINK_UCX:
        return "ucx";
    }
    return "?";
}

int link_kind_parse(const char *text, link_kind_t *kind_out)
{
    if (text == NULL)
        return ARI_EINVAL;
    if (strcmp(text, "tcp") == 0) {
        *kind_out = LINK_TCP;
        return ARI_OK;
    }
    if (strcmp(text, "ucx") == 0) {
        *kind_out = LINK_UCX;
        return ARI_OK;
    }
    return ARI_EINVAL;
}

bool link_ucx_available(void)
{
#ifdef ARI_HAVE_UCX
    return true;
#else
    return false;
#endif
}

/* ------------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------------ */

/* Callbacks a caller left NULL do nothing, so backends call every one. */
static void link_ignore_accepted(void *ctx, uint32_t conn, const char *peer_name)
{
    (void)ctx, (void)conn, (void)peer_name;
}

static void link_ignore_connected(void *ctx, uint32_t conn)
{
    (void)ctx, (void)conn;
}

static void link_ignore_received(void *ctx, uint32_t conn, const uint8_t *bytes, size_t length)
{
    (void)ctx, (void)conn, (void)bytes, (void)length;
}

static void link_ignore_closed(void *ctx, uint32_t conn, int status, const char *why)
{
    (void)ctx, (void)conn, (void)status, (void)why;
}

int link_net_open(link_kind_t kind, const char *listen_addr, uint16_t port,
                  const link_events_t *events, link_net_t **net_out, char *error,
                  size_t error_size)
{
    if (events == NULL || net_out == NULL) {
        link_error(error, error_size, "link_net_open needs events and net_out");
        return ARI_EINVAL;
    }
    link_events_t complete = *events;
    if (complete.accepted == NULL)
        complete.accepted = link_ignore_accepted;
    if (complete.connected == NULL)
        complete.connected = link_ignore_connected;
    if (complete.received == NULL)
        complete.received = link_ignore_received;
    if (complete.closed == NULL)
        complete.closed = link_ignore_closed;
    switch (kind) {
    case LINK_TCP:
        return link_tcp_open(listen_addr, port, &complete, net_out, error, error_size);
    case LINK_UCX:
#ifdef ARI_HAVE_UCX
        return link_ucx_open(listen_addr, port, &complete, net_out, error, error_size);
#else
        link_error(error, error_size, "%s", LINK_UCX_MISSING);
        return ARI_ENOTSUP;
#endif
    }
    link_error(error, error_size, "unknown link kind %d (tcp or ucx)", (int)kind);
    return ARI_EINVAL;
}

void link_net_close(link_net_t *net)
{
    if (net == NULL)
        return;
    assert(!net->in_progress && "link_net_close from inside a callback");
    net->ops->net_close(net);
}

uint16_t link_net_port(const link_net_t *net)
{
    return net->ops->port(net);
}

int link_net_fd(const link_net_t *net)
{
    return net->ops->fd(net);
}

bool link_arm(link_net_t *net)
{
    return net->ops->arm(net);
}

int link_progress(link_net_t *net)
{
    assert(!net->in_progress && "link_progress from inside a callback");
    net->in_progress = true;
    int result = net->ops->progress(net);
    net->in_progress = false;
    return result;
}

int link_connect(link_net_t *net, const char *addr, uint16_t port, int timeout_ms,
                 uint32_t *conn_out, char *error, size_t error_size)
{
    if (addr == NULL || conn_out == NULL || port == 0 || timeout_ms <= 0) {
        link_error(error, error_size, "link_connect needs an address, a port from 1 to 65535 "
                                      "and a timeout above 0 ms");
        return ARI_EINVAL;
    }
    return net->ops->connect(net, addr, port, timeout_ms, conn_out, error, error_size);
}

int link_send(link_net_t *net, uint32_t conn, const uint8_t *bytes, size_t length)
{
    if (length == 0 || length > LINK_MESSAGE_MAX || bytes == NULL || conn >= LINK_CONNS_MAX)
        return ARI_EINVAL;
    return net->ops->send(net, conn, bytes, length);
}

size_t link_queued(const link_net_t *net, uint32_t conn)
{
    return conn < LINK_CONNS_MAX ? net->ops->queued(net, conn) : 0;
}

const char *link_peer_name(const link_net_t *net, uint32_t conn)
{
    return conn < LINK_CONNS_MAX ? net->ops->peer_name(net, conn) : "?";
}

void link_close(link_net_t *net, uint32_t conn)
{
    if (conn < LINK_CONNS_MAX)
        net->ops->close(net, conn);
}

/* ------------------------------------------------------------------------
 * Helpers for the backends
 * ------------------------------------------------------------------------ */

void link_error(char *error, size_t error_size, const char *format, ...)
{
    if (error == NULL || error_size == 0)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(error, error_size, format, args);
    va_end(args);
}

int link_resolve(const char *addr, uint16_t port, int family, link_targets_t *targets_out,
                 char *error, size_t error_size)
{
    struct addrinfo hints = {.ai_family = family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG},
                    *found = NULL;
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", (unsigned)port);
    int64_t deadline = cluster_net_now_ms() + LINK_RESOLVE_MS;
    int code = cluster_net_lookup(addr, port_text, &hints, deadline, &found);
    if (code == EAI_NONAME || code == EAI_ADDRFAMILY) {
        /* AI_ADDRCONFIG hides loopback addresses on a host whose only
         * interface is lo (a fresh network namespace): ask again without. */
        hints.ai_flags = AI_NUMERICSERV;
        code = cluster_net_lookup(addr, port_text, &hints, deadline, &found);
    }
    if (code != 0 && code != CLUSTER_NET_LOOKUP_TIMEOUT && family != AF_UNSPEC) {
        /* Is it there in another family? Then say that. */
        hints.ai_family = AF_UNSPEC;
        if (cluster_net_lookup(addr, port_text, &hints, deadline, &found) == 0) {
            freeaddrinfo(found);
            link_error(error, error_size, "%s has no IPv4 address (UCX links take IPv4 alone: "
                       "UCX 1.13 over TCP fails on IPv6)", addr);
            return ARI_EIO;
        }
    }
    if (code != 0) {
        link_error(error, error_size, "cannot resolve %s: %s", addr, cluster_net_lookup_why(code));
        return ARI_EIO;
    }
    link_targets_t targets = {.count = 0};
    for (const struct addrinfo *each = found; each != NULL && targets.count < LINK_TARGETS_MAX;
         each = each->ai_next) {
        if ((each->ai_family != AF_INET && each->ai_family != AF_INET6) ||
            each->ai_addrlen > sizeof targets.address[0])
            continue;
        memcpy(&targets.address[targets.count], each->ai_addr, each->ai_addrlen);
        targets.length[targets.count++] = each->ai_addrlen;
    }
    freeaddrinfo(found);
    if (targets.count == 0) {
        link_error(error, error_size, "cannot resolve %s: no IPv4 or IPv6 address", addr);
        return ARI_EIO;
    }
    *targets_out = targets;
    return ARI_OK;
}

uint16_t link_sockaddr_port(const struct sockaddr *address)
{
    if (address->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)address)->sin_port);
    if (address->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
    return 0;
}

void link_sockaddr_name(const struct sockaddr *address, char name[LINK_PEER_NAME_MAX])
{
    char text[INET6_ADDRSTRLEN];
    const struct sockaddr_in6 *six = (const struct sockaddr_in6 *)address;
    if (address->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&six->sin6_addr)) {
        /* An IPv4 peer of a dual-stack listener: named as IPv4. */
        struct sockaddr_in four = {.sin_family = AF_INET, .sin_port = six->sin6_port};
        memcpy(&four.sin_addr, six->sin6_addr.s6_addr + 12, 4);
        link_sockaddr_name((const struct sockaddr *)&four, name);
        return;
    }
    const void *binary = address->sa_family == AF_INET
                             ? (const void *)&((const struct sockaddr_in *)address)->sin_addr
                             : (const void *)&((const struct sockaddr_in6 *)address)->sin6_addr;
    if ((address->sa_family != AF_INET && address->sa_family != AF_INET6) ||
        inet_ntop(address->sa_family, binary, text, sizeof text) == NULL) {
        snprintf(name, LINK_PEER_NAME_MAX, "?");
        return;
    }
    snprintf(name, LINK_PEER_NAME_MAX, address->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
             text, (unsigned)link_sockaddr_port(address));
}

int64_t link_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int link_timer_open(int *timer_fd_out)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return ARI_EIO;
    *timer_fd_out = fd;
    return ARI_OK;
}

void link_timer_set(int timer_fd, int64_t deadline_ms, int64_t *armed_ms)
{
    if (deadline_ms == *armed_ms)
        return;
    struct itimerspec when = {{0, 0}, {0, 0}};
    if (deadline_ms != INT64_MAX) {
        /* An absolute time of 0 would disarm: a deadline already past is
         * one nanosecond after the epoch, which fires at once. */
        when.it_value.tv_sec = deadline_ms / 1000;
        when.it_value.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
        if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
            when.it_value.tv_nsec = 1;
    }
    if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &when, NULL) == 0)
        *armed_ms = deadline_ms;
}

void link_timer_drain(int timer_fd)
{
    uint64_t expirations;
    while (read(timer_fd, &expirations, sizeof expirations) < 0 && errno == EINTR)
        continue;
}
