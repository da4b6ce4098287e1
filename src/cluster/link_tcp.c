/*
 * link_tcp — links over TCP: non-blocking sockets in one epoll set
 * (level-triggered), each message framed as a u32 little-endian length and
 * its bytes, a send queue per connection, and a timerfd for connect
 * timeouts so a caller asleep on the descriptor wakes for them.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ariadne.h"
#include "link_impl.h"

#define LINK_TCP_PREFIX_BYTES 4u
#define LINK_TCP_SCRATCH_BYTES ((size_t)64 << 10) /* one recv into the net's buffer */
#define LINK_TCP_CHUNK_BYTES ((size_t)64 << 10)   /* small messages share queue chunks */
#define LINK_TCP_TURN_BYTES ((size_t)4 << 20)     /* read, and written, per connection per turn */
#define LINK_TCP_EVENTS_MAX 64                    /* epoll events per turn */
#define LINK_TCP_ACCEPTS_MAX 16                   /* connections accepted per turn */
#define LINK_TCP_IOV_MAX 64                       /* queue chunks per sendmsg */
#define LINK_TCP_BACKLOG 128

/* epoll tags: the low half is a connection id or one of these; the high
 * half a connection's generation, so an event for a socket closed earlier
 * in the same turn is recognised and dropped. */
#define LINK_TCP_TAG_LISTENER LINK_CONNS_MAX
#define LINK_TCP_TAG_TIMER (LINK_CONNS_MAX + 1u)

_Static_assert(LINK_MESSAGE_MAX <= UINT32_MAX, "a length fits the u32 prefix");
_Static_assert(LINK_TCP_SCRATCH_BYTES > LINK_TCP_PREFIX_BYTES, "a prefix fits one read");
_Static_assert(LINK_TCP_TURN_BYTES >= LINK_TCP_SCRATCH_BYTES, "a turn reads at least once");
_Static_assert(LINK_QUEUE_MAX >= LINK_MESSAGE_MAX, "an empty queue takes any message");

typedef enum {
    LINK_TCP_FREE = 0,
    LINK_TCP_CONNECTING, /* a non-blocking connect is in flight */
    LINK_TCP_OPEN,
    LINK_TCP_FAILED, /* died; its socket is closed and `closed` is not reported yet */
} link_tcp_state_t;

/* Part of the send queue: frames back to back, `sent` of them written. */
typedef struct link_tcp_chunk {
    struct link_tcp_chunk *next;
    size_t size, capacity, sent;
    uint8_t bytes[];
} link_tcp_chunk_t;

typedef struct {
    link_tcp_state_t state;
    int fd;
    uint32_t generation; /* grows whenever the slot's socket goes */
    uint32_t watching;   /* the epoll events registered */
    int64_t deadline_ms; /* CONNECTING: when it gives up */
    link_targets_t targets;
    uint32_t target_next;
    /* Receiving: the prefix so far, then the body of a message that did
     * not arrive in one read. */
    uint8_t prefix[LINK_TCP_PREFIX_BYTES];
    size_t prefix_have;
    uint8_t *body;
    size_t body_length, body_have;
    /* Sending. */
    link_tcp_chunk_t *queue_head, *queue_tail;
    size_t queued;
    /* FAILED: what `closed` will say. */
    int status;
    char why[LINK_WHY_MAX];
    char peer[LINK_PEER_NAME_MAX];
} link_tcp_conn_t;

typedef struct {
    link_net_t base; /* first: link_net_t * and link_tcp_net_t * convert */
    int epoll_fd, listen_fd, timer_fd;
    int reserve_fd; /* closed to accept (and drop) a connection when out of descriptors */
    uint16_t port;
    int64_t timer_armed_ms;
    uint32_t connecting, failed; /* connections in those states */
    uint32_t id_next;            /* where the search for a free id starts */
    link_tcp_conn_t conns[LINK_CONNS_MAX];
    uint8_t scratch[LINK_TCP_SCRATCH_BYTES];
} link_tcp_net_t;

static link_tcp_net_t *link_tcp_net(link_net_t *net)
{
    return (link_tcp_net_t *)net;
}

static const link_tcp_net_t *link_tcp_net_const(const link_net_t *net)
{
    return (const link_tcp_net_t *)net;
}

/* ------------------------------------------------------------------------
 * Connection slots
 * ------------------------------------------------------------------------ */

static uint64_t link_tcp_tag(const link_tcp_net_t *net, uint32_t id)
{
    return (uint64_t)net->conns[id].generation << 32 | id;
}

static int link_tcp_watch(link_tcp_net_t *net, uint32_t id, uint32_t events)
{
    link_tcp_conn_t *conn = &net->conns[id];
    if (events == conn->watching)
        return ARI_OK;
    struct epoll_event event = {.events = events, .data.u64 = link_tcp_tag(net, id)};
    int op = conn->watching == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(net->epoll_fd, op, conn->fd, &event) != 0)
        return ARI_EIO;
    conn->watching = events;
    return ARI_OK;
}

/* An open connection asks for EPOLLOUT only while its queue holds bytes. */
static int link_tcp_watch_open(link_tcp_net_t *net, uint32_t id)
{
    link_tcp_conn_t *conn = &net->conns[id];
    return link_tcp_watch(net, id, EPOLLIN | (conn->queue_head != NULL ? EPOLLOUT : 0u));
}

static void link_tcp_set_state(link_tcp_net_t *net, link_tcp_conn_t *conn, link_tcp_state_t state)
{
    net->connecting -= conn->state == LINK_TCP_CONNECTING;
    net->failed -= conn->state == LINK_TCP_FAILED;
    conn->state = state;
    net->connecting += state == LINK_TCP_CONNECTING;
    net->failed += state == LINK_TCP_FAILED;
}

/* Closes the socket alone (a connect moving to its next address). */
static void link_tcp_socket_close(link_tcp_conn_t *conn)
{
    if (conn->fd >= 0)
        close(conn->fd); /* also leaves the epoll set */
    conn->fd = -1;
    conn->watching = 0;
    conn->generation++;
}

/* Gives back everything the connection holds; the slot keeps its state. */
static void link_tcp_conn_release(link_tcp_conn_t *conn)
{
    link_tcp_socket_close(conn);
    free(conn->body);
    conn->body = NULL;
    conn->body_length = conn->body_have = conn->prefix_have = 0;
    while (conn->queue_head != NULL) {
        link_tcp_chunk_t *next = conn->queue_head->next;
        free(conn->queue_head);
        conn->queue_head = next;
    }
    conn->queue_tail = NULL;
    conn->queued = 0;
}

/* The connection died: its resources go now, its `closed` at the end of
 * this turn or the next (never from outside link_progress). */
static void link_tcp_conn_fail(link_tcp_net_t *net, uint32_t id, int status, const char *why)
{
    link_tcp_conn_t *conn = &net->conns[id];
    assert(conn->state == LINK_TCP_CONNECTING || conn->state == LINK_TCP_OPEN);
    link_tcp_conn_release(conn);
    conn->status = status;
    snprintf(conn->why, sizeof conn->why, "%s", why);
    link_tcp_set_state(net, conn, LINK_TCP_FAILED);
}

static void link_tcp_conn_free(link_tcp_net_t *net, uint32_t id)
{
    link_tcp_conn_t *conn = &net->conns[id];
    link_tcp_conn_release(conn);
    link_tcp_set_state(net, conn, LINK_TCP_FREE);
    conn->peer[0] = '\0';
}

/* A free id, searched from after the last one taken so ids are not
 * reused at once; LINK_NO_CONN when all are taken. */
static uint32_t link_tcp_conn_take(link_tcp_net_t *net)
{
    for (uint32_t i = 0; i < LINK_CONNS_MAX; i++) {
        uint32_t id = (net->id_next + i) % LINK_CONNS_MAX;
        link_tcp_conn_t *conn = &net->conns[id];
        if (conn->state == LINK_TCP_FREE) {
            net->id_next = (id + 1) % LINK_CONNS_MAX;
            conn->fd = -1;
            conn->watching = 0;
            conn->status = ARI_OK;
            conn->why[0] = '\0';
            return id;
        }
    }
    return LINK_NO_CONN;
}

/* Reports every failed connection: each id is freed, then `closed`. */
static int link_tcp_report_failed(link_tcp_net_t *net)
{
    int reported = 0;
    for (uint32_t id = 0; id < LINK_CONNS_MAX && net->failed > 0; id++) {
        link_tcp_conn_t *conn = &net->conns[id];
        if (conn->state != LINK_TCP_FAILED)
            continue;
        int status = conn->status;
        char why[LINK_WHY_MAX];
        snprintf(why, sizeof why, "%s", conn->why);
        link_tcp_conn_free(net, id);
        net->base.events.closed(net->base.events.ctx, id, status, why);
        reported++;
    }
    return reported;
}

/* ------------------------------------------------------------------------
 * Sending
 * ------------------------------------------------------------------------ */

/* The status and phrase of a failed send or receive. */
static int link_tcp_errno_status(int code, const char *verb, char why[LINK_WHY_MAX])
{
    if (code == ECONNRESET || code == EPIPE) {
        snprintf(why, LINK_WHY_MAX, code == EPIPE ? "closed the connection"
                                                  : "reset the connection");
        return ARI_EPEER;
    }
    snprintf(why, LINK_WHY_MAX, "%s failed: %s", verb, strerror(code));
    return ARI_EIO;
}

/* One sendmsg: 0 with *sent_out (0 when the socket is full), or an errno. */
static int link_tcp_write(int fd, struct iovec *iov, size_t count, size_t *sent_out)
{
    struct msghdr message = {.msg_iov = iov, .msg_iovlen = count};
    for (;;) {
        ssize_t put = sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (put >= 0) {
            *sent_out = (size_t)put;
            return 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *sent_out = 0;
            return 0;
        }
        if (errno != EINTR)
            return errno;
    }
}

/* Appends the frame prefix || bytes less its first `skip` bytes, all or
 * nothing: ARI_ENOMEM leaves the queue as it was. */
static int link_tcp_queue_append(link_tcp_conn_t *conn, const uint8_t prefix[LINK_TCP_PREFIX_BYTES],
                                 const uint8_t *bytes, size_t length, size_t skip)
{
    size_t total = LINK_TCP_PREFIX_BYTES + length - skip;
    link_tcp_chunk_t *tail = conn->queue_tail;
    if (tail == NULL || tail->capacity - tail->size < total) {
        size_t capacity = total > LINK_TCP_CHUNK_BYTES ? total : LINK_TCP_CHUNK_BYTES;
        link_tcp_chunk_t *chunk = malloc(sizeof *chunk + capacity);
        if (chunk == NULL)
            return ARI_ENOMEM;
        *chunk = (link_tcp_chunk_t){.next = NULL, .size = 0, .capacity = capacity, .sent = 0};
        if (tail != NULL)
            tail->next = chunk;
        else
            conn->queue_head = chunk;
        conn->queue_tail = tail = chunk;
    }
    if (skip < LINK_TCP_PREFIX_BYTES) {
        memcpy(tail->bytes + tail->size, prefix + skip, LINK_TCP_PREFIX_BYTES - skip);
        tail->size += LINK_TCP_PREFIX_BYTES - skip;
        skip = 0;
    } else {
        skip -= LINK_TCP_PREFIX_BYTES;
    }
    memcpy(tail->bytes + tail->size, bytes + skip, length - skip);
    tail->size += length - skip;
    conn->queued += total;
    return ARI_OK;
}

/* Drops `sent` bytes from the head of the queue. */
static void link_tcp_queue_consume(link_tcp_conn_t *conn, size_t sent)
{
    conn->queued -= sent;
    while (sent > 0) {
        link_tcp_chunk_t *head = conn->queue_head;
        size_t take = head->size - head->sent < sent ? head->size - head->sent : sent;
        head->sent += take;
        sent -= take;
        if (head->sent == head->size) {
            conn->queue_head = head->next;
            if (conn->queue_head == NULL)
                conn->queue_tail = NULL;
            free(head);
        }
    }
}

/* Writes what the socket takes from the queue, up to a turn's worth. */
static void link_tcp_flush(link_tcp_net_t *net, uint32_t id)
{
    link_tcp_conn_t *conn = &net->conns[id];
    size_t budget = LINK_TCP_TURN_BYTES;
    while (conn->queue_head != NULL && budget > 0) {
        struct iovec iov[LINK_TCP_IOV_MAX];
        size_t count = 0, offered = 0;
        for (link_tcp_chunk_t *chunk = conn->queue_head; chunk != NULL && count < LINK_TCP_IOV_MAX;
             chunk = chunk->next) {
            iov[count++] = (struct iovec){chunk->bytes + chunk->sent, chunk->size - chunk->sent};
            offered += chunk->size - chunk->sent;
        }
        size_t sent;
        int code = link_tcp_write(conn->fd, iov, count, &sent);
        if (code != 0) {
            char why[LINK_WHY_MAX];
            int status = link_tcp_errno_status(code, "send", why);
            link_tcp_conn_fail(net, id, status, why);
            return;
        }
        link_tcp_queue_consume(conn, sent);
        budget -= sent < budget ? sent : budget;
        if (sent < offered)
            break; /* the socket is full */
    }
    if (link_tcp_watch_open(net, id) != ARI_OK)
        link_tcp_conn_fail(net, id, ARI_EIO, "epoll_ctl failed");
}

static int link_tcp_send(link_net_t *base, uint32_t id, const uint8_t *bytes, size_t length)
{
    link_tcp_net_t *net = link_tcp_net(base);
    link_tcp_conn_t *conn = &net->conns[id];
    if (conn->state != LINK_TCP_OPEN)
        return ARI_EPEER;
    if (conn->queued >= LINK_QUEUE_MAX)
        return ARI_EBUSY;
    uint8_t prefix[LINK_TCP_PREFIX_BYTES];
    link_put_u32(prefix, (uint32_t)length);
    size_t sent = 0;
    if (conn->queue_head == NULL) {
        /* Nothing waits before it: straight to the socket, copied only
         * if the socket does not take it all. */
        struct iovec iov[2] = {{prefix, sizeof prefix}, {(void *)bytes, length}};
        int code = link_tcp_write(conn->fd, iov, 2, &sent);
        if (code != 0) {
            char why[LINK_WHY_MAX];
            link_tcp_conn_fail(net, id, link_tcp_errno_status(code, "send", why), why);
            return ARI_EPEER;
        }
        if (sent == sizeof prefix + length)
            return ARI_OK;
    }
    if (link_tcp_queue_append(conn, prefix, bytes, length, sent) != ARI_OK) {
        if (sent == 0)
            return ARI_ENOMEM;
        link_tcp_conn_fail(net, id, ARI_EIO, "no memory for the rest of a message");
        return ARI_EPEER;
    }
    if (link_tcp_watch_open(net, id) != ARI_OK) {
        link_tcp_conn_fail(net, id, ARI_EIO, "epoll_ctl failed");
        return ARI_EPEER;
    }
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Receiving
 * ------------------------------------------------------------------------ */

/* Hands one message to the caller; false when the callback closed the
 * connection (or it is otherwise gone). */
static bool link_tcp_deliver(link_tcp_net_t *net, uint32_t id, const uint8_t *bytes,
                             size_t length, int *events)
{
    link_tcp_conn_t *conn = &net->conns[id];
    uint32_t generation = conn->generation;
    net->base.events.received(net->base.events.ctx, id, bytes, length);
    (*events)++;
    return conn->generation == generation && conn->state == LINK_TCP_OPEN;
}

/* Cuts `size` bytes read from the socket into messages; false when the
 * connection is gone. */
static bool link_tcp_parse(link_tcp_net_t *net, uint32_t id, const uint8_t *bytes, size_t size,
                           int *events)
{
    link_tcp_conn_t *conn = &net->conns[id];
    while (size > 0) {
        if (conn->body == NULL) {
            size_t take = LINK_TCP_PREFIX_BYTES - conn->prefix_have;
            take = take < size ? take : size;
            memcpy(conn->prefix + conn->prefix_have, bytes, take);
            conn->prefix_have += take;
            bytes += take;
            size -= take;
            if (conn->prefix_have < LINK_TCP_PREFIX_BYTES)
                break;
            conn->prefix_have = 0;
            uint32_t length = link_get_u32(conn->prefix);
            if (length == 0 || length > LINK_MESSAGE_MAX) {
                char why[LINK_WHY_MAX];
                snprintf(why, sizeof why, "sent a message length of %u bytes (1 to %zu allowed)",
                         length, LINK_MESSAGE_MAX);
                link_tcp_conn_fail(net, id, ARI_EMSG_LENGTH, why);
                return false;
            }
            if (size >= length) { /* whole in this read: no copy */
                if (!link_tcp_deliver(net, id, bytes, length, events))
                    return false;
                bytes += length;
                size -= length;
                continue;
            }
            conn->body = malloc(length);
            if (conn->body == NULL) {
                link_tcp_conn_fail(net, id, ARI_EIO, "no memory to receive a message");
                return false;
            }
            conn->body_length = length;
            conn->body_have = 0;
        }
        size_t take = conn->body_length - conn->body_have;
        take = take < size ? take : size;
        memcpy(conn->body + conn->body_have, bytes, take);
        conn->body_have += take;
        bytes += take;
        size -= take;
        if (conn->body_have == conn->body_length) {
            uint8_t *body = conn->body; /* ours now: the callback may close the connection */
            conn->body = NULL;
            bool alive = link_tcp_deliver(net, id, body, conn->body_length, events);
            free(body);
            if (!alive)
                return false;
        }
    }
    return true;
}

/* Reads what is ready, up to a turn's worth, delivering whole messages. A
 * large message's body is read straight into its buffer. */
static int link_tcp_read(link_tcp_net_t *net, uint32_t id)
{
    link_tcp_conn_t *conn = &net->conns[id];
    int events = 0;
    size_t budget = LINK_TCP_TURN_BYTES;
    while (budget > 0) {
        size_t want = conn->body != NULL ? conn->body_length - conn->body_have : 0;
        bool direct = want >= LINK_TCP_SCRATCH_BYTES;
        uint8_t *into = direct ? conn->body + conn->body_have : net->scratch;
        ssize_t got = recv(conn->fd, into, direct ? want : LINK_TCP_SCRATCH_BYTES, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (got <= 0) {
            char why[LINK_WHY_MAX];
            int status = got == 0 ? ARI_EPEER : link_tcp_errno_status(errno, "receive", why);
            link_tcp_conn_fail(net, id, status, got == 0 ? "closed the connection" : why);
            break;
        }
        budget -= (size_t)got < budget ? (size_t)got : budget;
        if (direct) {
            conn->body_have += (size_t)got;
            if (conn->body_have < conn->body_length)
                continue;
            uint8_t *body = conn->body;
            conn->body = NULL;
            bool alive = link_tcp_deliver(net, id, body, conn->body_length, &events);
            free(body);
            if (!alive)
                break;
        } else if (!link_tcp_parse(net, id, net->scratch, (size_t)got, &events)) {
            break;
        }
    }
    return events;
}

/* ------------------------------------------------------------------------
 * Connecting and accepting
 * ------------------------------------------------------------------------ */

static void link_tcp_nodelay(int fd)
{
    int one = 1; /* messages go out as they are sent, not when a segment fills */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Starts a connect to the next address: 0, or (none left) the errno of
 * the last address that failed, `last` if none was tried. */
static int link_tcp_connect_next(link_tcp_net_t *net, uint32_t id, int last)
{
    link_tcp_conn_t *conn = &net->conns[id];
    while (conn->target_next < conn->targets.count) {
        uint32_t target = conn->target_next++;
        const struct sockaddr *address = (const struct sockaddr *)&conn->targets.address[target];
        link_sockaddr_name(address, conn->peer);
        int fd = socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, address, conn->targets.length[target]) != 0 && errno != EINPROGRESS) {
            last = errno;
            close(fd);
            continue;
        }
        conn->fd = fd;
        if (link_tcp_watch(net, id, EPOLLOUT) != ARI_OK) {
            last = errno;
            link_tcp_socket_close(conn);
            continue;
        }
        return 0;
    }
    return last;
}

static void link_tcp_connect_failed(link_tcp_net_t *net, uint32_t id, int code)
{
    char why[LINK_WHY_MAX];
    snprintf(why, sizeof why, "cannot connect to %s: %s", net->conns[id].peer, strerror(code));
    link_tcp_conn_fail(net, id, ARI_EIO, why);
}

static int link_tcp_connect(link_net_t *base, const char *addr, uint16_t port, int timeout_ms,
                            uint32_t *conn_out, char *error, size_t error_size)
{
    link_tcp_net_t *net = link_tcp_net(base);
    link_targets_t targets;
    int status = link_resolve(addr, port, AF_UNSPEC, &targets, error, error_size);
    if (status != ARI_OK)
        return status;
    uint32_t id = link_tcp_conn_take(net);
    if (id == LINK_NO_CONN) {
        link_error(error, error_size, "cannot connect to %s:%u: %u connections are open", addr,
                   (unsigned)port, LINK_CONNS_MAX);
        return ARI_EBUSY;
    }
    link_tcp_conn_t *conn = &net->conns[id];
    conn->targets = targets;
    conn->target_next = 0;
    conn->deadline_ms = link_now_ms() + timeout_ms;
    link_tcp_set_state(net, conn, LINK_TCP_CONNECTING);
    int code = link_tcp_connect_next(net, id, EHOSTUNREACH);
    if (code != 0)
        link_tcp_connect_failed(net, id, code); /* reported by the next progress */
    link_timer_set(net->timer_fd, conn->deadline_ms < net->timer_armed_ms ? conn->deadline_ms
                                                                          : net->timer_armed_ms,
                   &net->timer_armed_ms);
    *conn_out = id;
    return ARI_OK;
}

/* The socket of a connect in flight is writable or failed. */
static int link_tcp_connect_done(link_tcp_net_t *net, uint32_t id)
{
    link_tcp_conn_t *conn = &net->conns[id];
    int code = 0;
    socklen_t length = sizeof code;
    if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0)
        code = errno;
    if (code == EINPROGRESS || code == EALREADY)
        return 0;
    if (code != 0) {
        link_tcp_socket_close(conn);
        code = link_tcp_connect_next(net, id, code);
        if (code != 0)
            link_tcp_connect_failed(net, id, code);
        return 0;
    }
    link_tcp_nodelay(conn->fd);
    link_tcp_set_state(net, conn, LINK_TCP_OPEN);
    if (link_tcp_watch_open(net, id) != ARI_OK) {
        link_tcp_conn_fail(net, id, ARI_EIO, "epoll_ctl failed");
        return 0;
    }
    net->base.events.connected(net->base.events.ctx, id);
    return 1;
}

/* Accepts one connection when out of descriptors, only to close it: the
 * listener would otherwise stay readable and the loop spin. */
static void link_tcp_accept_drop(link_tcp_net_t *net)
{
    if (net->reserve_fd < 0)
        return;
    close(net->reserve_fd);
    int fd = accept(net->listen_fd, NULL, NULL);
    if (fd >= 0)
        close(fd);
    net->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int link_tcp_accept(link_tcp_net_t *net)
{
    int events = 0;
    for (int i = 0; i < LINK_TCP_ACCEPTS_MAX; i++) {
        struct sockaddr_storage peer;
        socklen_t length = sizeof peer;
        int fd = accept4(net->listen_fd, (struct sockaddr *)&peer, &length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                link_tcp_accept_drop(net);
            else if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            break; /* EAGAIN: none left */
        }
        uint32_t id = link_tcp_conn_take(net);
        if (id == LINK_NO_CONN) {
            close(fd); /* full: the peer sees its connection closed */
            continue;
        }
        link_tcp_conn_t *conn = &net->conns[id];
        conn->fd = fd;
        link_tcp_nodelay(fd);
        link_sockaddr_name((const struct sockaddr *)&peer, conn->peer);
        if (link_tcp_watch(net, id, EPOLLIN) != ARI_OK) {
            link_tcp_conn_free(net, id);
            continue;
        }
        link_tcp_set_state(net, conn, LINK_TCP_OPEN);
        net->base.events.accepted(net->base.events.ctx, id, conn->peer);
        events++;
    }
    return events;
}

/* Fails the connects past their deadline and sets the timer for the
 * nearest one left. */
static void link_tcp_deadlines(link_tcp_net_t *net)
{
    int64_t now = link_now_ms(), nearest = INT64_MAX;
    for (uint32_t id = 0; id < LINK_CONNS_MAX && net->connecting > 0; id++) {
        link_tcp_conn_t *conn = &net->conns[id];
        if (conn->state != LINK_TCP_CONNECTING)
            continue;
        if (conn->deadline_ms <= now) {
            char why[LINK_WHY_MAX];
            snprintf(why, sizeof why, "cannot connect to %s: no answer in time", conn->peer);
            link_tcp_conn_fail(net, id, ARI_ETIMEDOUT, why);
        } else if (conn->deadline_ms < nearest) {
            nearest = conn->deadline_ms;
        }
    }
    link_timer_set(net->timer_fd, nearest, &net->timer_armed_ms);
}

/* ------------------------------------------------------------------------
 * Progress
 * ------------------------------------------------------------------------ */

static int link_tcp_conn_ready(link_tcp_net_t *net, uint32_t id, uint32_t ready)
{
    link_tcp_conn_t *conn = &net->conns[id];
    if (conn->state == LINK_TCP_CONNECTING)
        return link_tcp_connect_done(net, id);
    if (conn->state != LINK_TCP_OPEN)
        return 0;
    uint32_t generation = conn->generation;
    int events = 0;
    if (ready & (EPOLLIN | EPOLLHUP | EPOLLERR))
        events += link_tcp_read(net, id); /* recv reports a socket's error */
    if ((ready & EPOLLOUT) && conn->generation == generation && conn->state == LINK_TCP_OPEN)
        link_tcp_flush(net, id);
    return events;
}

static int link_tcp_progress(link_net_t *base)
{
    link_tcp_net_t *net = link_tcp_net(base);
    int events = link_tcp_report_failed(net);
    struct epoll_event ready[LINK_TCP_EVENTS_MAX];
    int count;
    do
        count = epoll_wait(net->epoll_fd, ready, LINK_TCP_EVENTS_MAX, 0);
    while (count < 0 && errno == EINTR);
    if (count < 0)
        return ARI_EIO;
    for (int i = 0; i < count; i++) {
        uint32_t tag = (uint32_t)ready[i].data.u64;
        if (tag == LINK_TCP_TAG_LISTENER) {
            events += link_tcp_accept(net);
        } else if (tag == LINK_TCP_TAG_TIMER) {
            link_timer_drain(net->timer_fd);
        } else if (tag < LINK_CONNS_MAX &&
                   net->conns[tag].generation == (uint32_t)(ready[i].data.u64 >> 32)) {
            events += link_tcp_conn_ready(net, tag, ready[i].events);
        }
    }
    link_tcp_deadlines(net);
    return events + link_tcp_report_failed(net);
}

static bool link_tcp_arm(link_net_t *base)
{
    /* Level-triggered epoll: the descriptor stays readable while anything
     * is ready. Only failures found outside progress wait on us. */
    return link_tcp_net(base)->failed == 0;
}

/* ------------------------------------------------------------------------
 * The rest of the table
 * ------------------------------------------------------------------------ */

static size_t link_tcp_queued(const link_net_t *base, uint32_t id)
{
    return link_tcp_net_const(base)->conns[id].queued;
}

static const char *link_tcp_peer_name(const link_net_t *base, uint32_t id)
{
    const link_tcp_conn_t *conn = &link_tcp_net_const(base)->conns[id];
    return conn->state == LINK_TCP_FREE ? "?" : conn->peer;
}

static void link_tcp_close(link_net_t *base, uint32_t id)
{
    link_tcp_net_t *net = link_tcp_net(base);
    if (net->conns[id].state != LINK_TCP_FREE)
        link_tcp_conn_free(net, id);
}

static uint16_t link_tcp_port(const link_net_t *base)
{
    return link_tcp_net_const(base)->port;
}

static int link_tcp_fd(const link_net_t *base)
{
    return link_tcp_net_const(base)->epoll_fd;
}

static void link_tcp_net_close(link_net_t *base)
{
    link_tcp_net_t *net = link_tcp_net(base);
    for (uint32_t id = 0; id < LINK_CONNS_MAX; id++)
        link_tcp_conn_release(&net->conns[id]);
    if (net->listen_fd >= 0)
        close(net->listen_fd);
    if (net->timer_fd >= 0)
        close(net->timer_fd);
    if (net->reserve_fd >= 0)
        close(net->reserve_fd);
    if (net->epoll_fd >= 0)
        close(net->epoll_fd);
    free(net);
}

static const link_ops_t link_tcp_ops = {
    .net_close = link_tcp_net_close,
    .port = link_tcp_port,
    .fd = link_tcp_fd,
    .arm = link_tcp_arm,
    .progress = link_tcp_progress,
    .connect = link_tcp_connect,
    .send = link_tcp_send,
    .queued = link_tcp_queued,
    .peer_name = link_tcp_peer_name,
    .close = link_tcp_close,
};

/* ------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------ */

/* A listening socket at one address: 0 or an errno. `dual`: an IPv6
 * socket that takes IPv4 connections too. */
static int link_tcp_listen_at(const struct sockaddr *address, socklen_t length, bool dual,
                              int *fd_out)
{
    int fd = socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int one = 1, zero = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (dual && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) ||
        bind(fd, address, length) != 0 || listen(fd, LINK_TCP_BACKLOG) != 0) {
        int code = errno;
        close(fd);
        return code;
    }
    *fd_out = fd;
    return 0;
}

/* Listens on listen_addr:port; NULL is every address, IPv6 and IPv4 on
 * one socket where the host has IPv6. */
static int link_tcp_listen(link_tcp_net_t *net, const char *listen_addr, uint16_t port,
                           char *error, size_t error_size)
{
    int code;
    if (listen_addr == NULL) {
        struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
                                    .sin6_addr = IN6ADDR_ANY_INIT};
        struct sockaddr_in any4 = {.sin_family = AF_INET, .sin_port = htons(port),
                                   .sin_addr.s_addr = htonl(INADDR_ANY)};
        code = link_tcp_listen_at((struct sockaddr *)&any6, sizeof any6, true, &net->listen_fd);
        if (code == EAFNOSUPPORT)
            code = link_tcp_listen_at((struct sockaddr *)&any4, sizeof any4, false, &net->listen_fd);
    } else {
        link_targets_t targets;
        int status = link_resolve(listen_addr, port, AF_UNSPEC, &targets, error, error_size);
        if (status != ARI_OK)
            return status;
        code = EADDRNOTAVAIL;
        for (uint32_t i = 0; i < targets.count && code != 0; i++)
            code = link_tcp_listen_at((struct sockaddr *)&targets.address[i], targets.length[i],
                                      false, &net->listen_fd);
    }
    if (code != 0) {
        link_error(error, error_size, "cannot listen on %s:%u: %s",
                   listen_addr ? listen_addr : "*", (unsigned)port, strerror(code));
        return ARI_EIO;
    }
    struct sockaddr_storage bound;
    socklen_t length = sizeof bound;
    if (getsockname(net->listen_fd, (struct sockaddr *)&bound, &length) != 0) {
        link_error(error, error_size, "getsockname: %s", strerror(errno));
        return ARI_EIO;
    }
    net->port = link_sockaddr_port((struct sockaddr *)&bound);
    return ARI_OK;
}

static int link_tcp_epoll_add(int epoll_fd, int fd, uint32_t tag)
{
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0 ? ARI_OK : ARI_EIO;
}

int link_tcp_open(const char *listen_addr, uint16_t port, const link_events_t *events,
                  link_net_t **net_out, char *error, size_t error_size)
{
    link_tcp_net_t *net = calloc(1, sizeof *net);
    if (net == NULL) {
        link_error(error, error_size, "no memory for a link net");
        return ARI_ENOMEM;
    }
    net->base = (link_net_t){.ops = &link_tcp_ops, .kind = LINK_TCP, .events = *events};
    net->listen_fd = net->timer_fd = net->reserve_fd = -1;
    net->timer_armed_ms = INT64_MAX;
    for (uint32_t id = 0; id < LINK_CONNS_MAX; id++)
        net->conns[id].fd = -1;
    net->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    int status = net->epoll_fd < 0 ? ARI_EIO : link_timer_open(&net->timer_fd);
    if (status != ARI_OK) {
        link_error(error, error_size, "cannot create an epoll set or timer: %s", strerror(errno));
        goto err_net;
    }
    status = link_tcp_listen(net, listen_addr, port, error, error_size);
    if (status != ARI_OK)
        goto err_net;
    if (link_tcp_epoll_add(net->epoll_fd, net->listen_fd, LINK_TCP_TAG_LISTENER) != ARI_OK ||
        link_tcp_epoll_add(net->epoll_fd, net->timer_fd, LINK_TCP_TAG_TIMER) != ARI_OK) {
        link_error(error, error_size, "epoll_ctl: %s", strerror(errno));
        status = ARI_EIO;
        goto err_net;
    }
    net->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    *net_out = &net->base;
    return ARI_OK;

err_net:
    link_tcp_net_close(&net->base);
    return status;
}
