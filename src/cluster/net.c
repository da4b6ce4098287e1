/*
 * net — bounded TCP for the join.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ariadne.h"

/* While nothing listens at the coordinator's port yet (it may start after
 * its nodes under srun), connecting is retried this often. */
#define NET_RETRY_MS 50
#define NET_LISTEN_BACKLOG 128
#define NET_LOOKUP_MS 5000 /* a listen address given as a name */

int64_t cluster_net_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static int net_wait(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - cluster_net_now_ms();
        if (left <= 0)
            return ARI_ETIMEDOUT;
        struct pollfd entry = {.fd = fd, .events = events};
        int ready = poll(&entry, 1, left > 60000 ? 60000 : (int)left);
        if (ready > 0)
            return ARI_OK; /* also on POLLERR / POLLHUP: the next call reports it */
        if (ready < 0 && errno != EINTR)
            return ARI_EIO;
    }
}

/* ------------------------------------------------------------------------
 * Name lookups, bounded
 * ------------------------------------------------------------------------ */

int (*cluster_net_getaddrinfo)(const char *, const char *, const struct addrinfo *,
                               struct addrinfo **) = getaddrinfo;

/* One lookup in flight, shared by its thread and its asker; whichever
 * leaves last frees it (the asker leaves at its deadline). */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    bool done, abandoned;
    char *addr;
    char port[16];
    struct addrinfo hints, *found;
    int code;
} net_lookup_t;

static void net_lookup_free(net_lookup_t *lookup)
{
    if (lookup->found != NULL)
        freeaddrinfo(lookup->found);
    pthread_cond_destroy(&lookup->done_cond);
    pthread_mutex_destroy(&lookup->lock);
    free(lookup->addr);
    free(lookup);
}

static void *net_lookup_main(void *argument)
{
    net_lookup_t *lookup = argument;
    struct addrinfo *found = NULL;
    int code = cluster_net_getaddrinfo(lookup->addr, lookup->port, &lookup->hints, &found);
    pthread_mutex_lock(&lookup->lock);
    lookup->found = found;
    lookup->code = code;
    lookup->done = true;
    bool abandoned = lookup->abandoned;
    pthread_cond_signal(&lookup->done_cond);
    pthread_mutex_unlock(&lookup->lock);
    if (abandoned)
        net_lookup_free(lookup);
    return NULL;
}

static bool net_is_numeric(const char *addr)
{
    struct in6_addr bytes;
    return addr == NULL || inet_pton(AF_INET, addr, &bytes) == 1 ||
           inet_pton(AF_INET6, addr, &bytes) == 1;
}

/* Starts the lookup's thread: false when it cannot be had. */
static bool net_lookup_start(net_lookup_t *lookup)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return false;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    bool made = pthread_cond_init(&lookup->done_cond, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!made)
        return false;
    pthread_mutex_init(&lookup->lock, NULL);
    pthread_t thread;
    if (pthread_create(&thread, NULL, net_lookup_main, lookup) != 0) {
        pthread_cond_destroy(&lookup->done_cond);
        pthread_mutex_destroy(&lookup->lock);
        return false;
    }
    pthread_detach(thread);
    return true;
}

/* A name's lookup started in a thread of its own; NULL for a numeric
 * address, or when no memory or thread can be had (then it is done at once). */
static net_lookup_t *net_lookup_spawn(const char *addr, const char *port,
                                      const struct addrinfo *hints)
{
    if (net_is_numeric(addr))
        return NULL;
    net_lookup_t *lookup = calloc(1, sizeof *lookup);
    if (lookup == NULL)
        return NULL;
    lookup->addr = strdup(addr);
    lookup->hints = *hints;
    snprintf(lookup->port, sizeof lookup->port, "%s", port);
    if (lookup->addr != NULL && net_lookup_start(lookup))
        return lookup;
    free(lookup->addr);
    free(lookup);
    return NULL;
}

int cluster_net_lookup(const char *addr, const char *port, const struct addrinfo *hints,
                       int64_t deadline_ms, struct addrinfo **found_out)
{
    *found_out = NULL;
    net_lookup_t *lookup = net_lookup_spawn(addr, port, hints);
    if (lookup == NULL)
        return cluster_net_getaddrinfo(addr, port, hints, found_out);
    struct timespec until = {.tv_sec = (time_t)(deadline_ms / 1000),
                             .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    pthread_mutex_lock(&lookup->lock);
    int waited = 0;
    while (!lookup->done && waited != ETIMEDOUT)
        waited = pthread_cond_timedwait(&lookup->done_cond, &lookup->lock, &until);
    if (!lookup->done) {
        lookup->abandoned = true; /* the thread frees it */
        pthread_mutex_unlock(&lookup->lock);
        return CLUSTER_NET_LOOKUP_TIMEOUT;
    }
    pthread_mutex_unlock(&lookup->lock);
    int code = lookup->code;
    *found_out = lookup->found;
    lookup->found = NULL;
    net_lookup_free(lookup);
    return code;
}

const char *cluster_net_lookup_why(int code)
{
    return code == CLUSTER_NET_LOOKUP_TIMEOUT ? "the name lookup took too long"
           : code == EAI_SYSTEM               ? strerror(errno)
                                              : gai_strerror(code);
}

static void net_port_text(uint16_t port, char text[8])
{
    snprintf(text, 8, "%u", (unsigned)port);
}

int cluster_net_listen(const char *addr, uint16_t port, int *fd_out, uint16_t *port_out,
                       char *error, size_t error_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *found = NULL;
    char port_text[8];
    net_port_text(port, port_text);
    int code = cluster_net_lookup(addr, port_text, &hints, cluster_net_now_ms() + NET_LOOKUP_MS,
                                  &found);
    if (code != 0) {
        snprintf(error, error_size, "cannot listen on %s:%u: %s", addr ? addr : "*", port,
                 cluster_net_lookup_why(code));
        return ARI_EIO;
    }
    int fd = socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, NET_LISTEN_BACKLOG) != 0) {
        snprintf(error, error_size, "cannot listen on %s:%u: %s", addr ? addr : "*", port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(found);
        return ARI_EIO;
    }
    freeaddrinfo(found);
    struct sockaddr_storage bound;
    socklen_t length = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &length);
    *port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    *fd_out = fd;
    return ARI_OK;
}

/* One connection attempt to one resolved address: 0, or an errno. */
static int net_connect_one(const struct addrinfo *target, int64_t deadline_ms, int *fd_out)
{
    int fd = socket(target->ai_family, target->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int code = 0;
    if (connect(fd, target->ai_addr, target->ai_addrlen) != 0) {
        code = errno;
        if (code == EINPROGRESS) {
            socklen_t length = sizeof code;
            code = net_wait(fd, POLLOUT, deadline_ms) != ARI_OK                ? ETIMEDOUT
                   : getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 ? errno
                                                                               : code;
        }
    }
    if (code != 0) {
        close(fd);
        return code;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* small frames, in turns */
    *fd_out = fd;
    return 0;
}

int cluster_net_connect(const char *addr, uint16_t port, int64_t deadline_ms, int *fd_out,
                        char *error, size_t error_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV},
                    *found = NULL;
    char port_text[8];
    net_port_text(port, port_text);
    int code = cluster_net_lookup(addr, port_text, &hints, deadline_ms, &found);
    if (code != 0) {
        snprintf(error, error_size, "cannot resolve %s: %s", addr, cluster_net_lookup_why(code));
        return code == CLUSTER_NET_LOOKUP_TIMEOUT ? ARI_ETIMEDOUT : ARI_EIO;
    }
    int last = ETIMEDOUT;
    for (;;) {
        for (const struct addrinfo *target = found; target != NULL; target = target->ai_next) {
            last = net_connect_one(target, deadline_ms, fd_out);
            if (last == 0) {
                freeaddrinfo(found);
                return ARI_OK;
            }
        }
        int64_t left = deadline_ms - cluster_net_now_ms();
        if (last != ECONNREFUSED || left <= 0)
            break;
        struct timespec pause = {0, (left < NET_RETRY_MS ? left : NET_RETRY_MS) * 1000000L};
        nanosleep(&pause, NULL);
    }
    freeaddrinfo(found);
    bool timed_out = last == ETIMEDOUT || last == ECONNREFUSED;
    snprintf(error, error_size, "cannot connect to %s:%u: %s", addr, port,
             timed_out ? "timed out (is the coordinator running?)" : strerror(last));
    return timed_out ? ARI_ETIMEDOUT : ARI_EIO;
}

int cluster_net_send(int fd, const uint8_t *bytes, size_t size, int64_t deadline_ms)
{
    while (size > 0) {
        ssize_t put = send(fd, bytes, size, MSG_NOSIGNAL);
        if (put > 0) {
            bytes += put;
            size -= (size_t)put;
            continue;
        }
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return errno == EPIPE || errno == ECONNRESET ? ARI_EPEER : ARI_EIO;
        int status = net_wait(fd, POLLOUT, deadline_ms);
        if (status != ARI_OK)
            return status;
    }
    return ARI_OK;
}

/* Reads exactly `size` bytes. */
static int net_receive(int fd, uint8_t *bytes, size_t size, int64_t deadline_ms)
{
    while (size > 0) {
        ssize_t got = recv(fd, bytes, size, 0);
        if (got > 0) {
            bytes += got;
            size -= (size_t)got;
            continue;
        }
        if (got == 0)
            return ARI_EPEER;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno == ECONNRESET ? ARI_EPEER : ARI_EIO;
        int status = net_wait(fd, POLLIN, deadline_ms);
        if (status != ARI_OK)
            return status;
    }
    return ARI_OK;
}

int cluster_net_receive_frame(int fd, int64_t deadline_ms, uint8_t **frame_out, size_t *size_out)
{
    uint8_t header[CLUSTER_FRAME_HEADER_BYTES];
    int status = net_receive(fd, header, sizeof header, deadline_ms);
    cluster_frame_type_t type;
    size_t size = 0;
    if (status == ARI_OK)
        status = cluster_frame_header(header, sizeof header, &type, &size);
    if (status != ARI_OK)
        return status;
    uint8_t *frame = malloc(size);
    if (frame == NULL)
        return ARI_ENOMEM;
    memcpy(frame, header, sizeof header);
    status = net_receive(fd, frame + sizeof header, size - sizeof header, deadline_ms);
    if (status != ARI_OK) {
        free(frame);
        return status;
    }
    *frame_out = frame;
    *size_out = size;
    return ARI_OK;
}

/* The address and port of a socket address, as text. */
static int net_sockaddr_text(const struct sockaddr_storage *address, char *text, size_t size,
                             uint16_t *port_out)
{
    const void *binary;
    if (address->ss_family == AF_INET) {
        binary = &((const struct sockaddr_in *)address)->sin_addr;
        *port_out = ntohs(((const struct sockaddr_in *)address)->sin_port);
    } else if (address->ss_family == AF_INET6) {
        binary = &((const struct sockaddr_in6 *)address)->sin6_addr;
        *port_out = ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
    } else {
        return ARI_EIO;
    }
    return inet_ntop(address->ss_family, binary, text, (socklen_t)size) != NULL ? ARI_OK : ARI_EIO;
}

int cluster_net_peer_addr(int fd, char addr[CLUSTER_ADDR_MAX + 1])
{
    struct sockaddr_storage peer;
    socklen_t length = sizeof peer;
    uint16_t port;
    if (getpeername(fd, (struct sockaddr *)&peer, &length) != 0)
        return ARI_EIO;
    return net_sockaddr_text(&peer, addr, CLUSTER_ADDR_MAX + 1, &port);
}

void cluster_net_peer_name(int fd, char name[CLUSTER_PEER_NAME_MAX])
{
    struct sockaddr_storage peer;
    socklen_t length = sizeof peer;
    char addr[INET6_ADDRSTRLEN];
    uint16_t port;
    if (getpeername(fd, (struct sockaddr *)&peer, &length) != 0 ||
        net_sockaddr_text(&peer, addr, sizeof addr, &port) != ARI_OK) {
        snprintf(name, CLUSTER_PEER_NAME_MAX, "?");
        return;
    }
    snprintf(name, CLUSTER_PEER_NAME_MAX, peer.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
             (unsigned)port);
}

const char *cluster_net_why(int status)
{
    switch (status) {
    case ARI_ETIMEDOUT:
        return "timed out";
    case ARI_EPEER:
        return "closed the connection";
    case ARI_EIO:
        return "connection failed";
    case ARI_ENOMEM:
        return "out of memory";
    default:
        return cluster_frame_why(status); /* a malformed frame: ARI_EMSG_* */
    }
}
