/*
 * link_ucx — links over UCX (built with ARI_HAVE_UCX): one ucp context and
 * worker, a ucp_listener, client-server endpoints with peer error handling,
 * and active messages (eager or rendezvous, as UCX chooses).
 *
 * UCX calls back from inside ucp_worker_progress; those callbacks only
 * record what happened (a message held, an endpoint failed, a connection
 * request queued) and link_progress hands it on to the caller afterwards,
 * so the caller's callbacks may send or close freely.
 *
 * Every message carries a header of our own (LINK_UCX_HEADER_BYTES): its
 * type, the receiver's connection id and token, the sender's, and a
 * sequence number per connection and direction. UCX does not promise order
 * between eager messages and rendezvous ones on an endpoint, so a receiver
 * holds messages that arrive early (bounded) and delivers in sequence.
 *
 * Messages up to LINK_UCX_EAGER_MAX go eager, larger ones rendezvous. An
 * eager send completes as soon as UCX has copied it, so a sender could
 * pour eager messages past a rendezvous one the receiver has not fetched
 * yet, and the receiver would have to hold them all. So a rendezvous send
 * in flight is a barrier: later messages wait in the connection's own
 * queue until it completes. That queue and the sends in flight together
 * are what LINK_QUEUE_MAX bounds.
 *
 * A connection starts with a handshake: the client's HELLO (sequence 0,
 * sent with UCP_AM_SEND_FLAG_REPLY so the server learns which of its
 * endpoints it came on) and the server's WELCOME (its sequence 0). The
 * server reports `accepted` on the HELLO, the client `connected` on the
 * WELCOME. link_close sends a BYE if it can go at once, then closes the
 * endpoint with UCP_EP_CLOSE_FLAG_FORCE.
 */
#ifdef ARI_HAVE_UCX

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

#include "ariadne.h"
#include "link_impl.h"

#define LINK_UCX_AM_ID 17u
#define LINK_UCX_HEADER_BYTES 32u
#define LINK_UCX_PROGRESS_MAX 64          /* ucp_worker_progress calls per turn */
#define LINK_UCX_DELIVER_MAX 4096u        /* messages delivered per connection per turn */
#define LINK_UCX_REQUESTS_MAX 64u         /* connection requests waiting for a turn */
#define LINK_UCX_HOLD_MAX 65536u          /* messages held per connection */
#define LINK_UCX_HOLD_BYTES_MAX (LINK_QUEUE_MAX + LINK_MESSAGE_MAX)
#define LINK_UCX_IMMEDIATE_MAX 8192u      /* messages tried without a copy first */
#define LINK_UCX_EAGER_MAX ((size_t)64 << 10) /* larger messages go rendezvous */
#define LINK_UCX_HELLO_MS 10000           /* an accepted endpoint's wait for the HELLO */
#define LINK_UCX_CLOSE_MS 1000            /* link_net_close's wait for endpoints to close */

/* epoll tags of the net's descriptor. */
#define LINK_UCX_TAG_WORKER 1u
#define LINK_UCX_TAG_TIMER 2u

_Static_assert(LINK_UCX_HOLD_BYTES_MAX >= LINK_MESSAGE_MAX, "one message is never too many");
_Static_assert(LINK_UCX_DELIVER_MAX <= LINK_UCX_HOLD_MAX, "a turn delivers what is held");
_Static_assert(LINK_UCX_IMMEDIATE_MAX <= LINK_UCX_EAGER_MAX, "the fast path is eager");
_Static_assert(LINK_UCX_EAGER_MAX < LINK_MESSAGE_MAX, "large messages go rendezvous");

typedef enum {
    LINK_UCX_HELLO = 1, /* client to server: the first message */
    LINK_UCX_WELCOME,   /* server to client: the answer */
    LINK_UCX_DATA,
    LINK_UCX_BYE, /* the sender is closing */
} link_ucx_type_t;

typedef struct {
    uint8_t type;
    uint32_t to_conn, to_token;     /* the receiver's; LINK_NO_CONN in a HELLO */
    uint32_t from_conn, from_token; /* the sender's */
    uint64_t sequence;
} link_ucx_header_t;

typedef enum {
    LINK_UCX_FREE = 0,
    LINK_UCX_CONNECTING, /* client: HELLO sent, waiting for the WELCOME */
    LINK_UCX_ACCEPTING,  /* server: endpoint made, waiting for the HELLO */
    LINK_UCX_OPEN,
    LINK_UCX_FAILED, /* gone; `closed` is not reported yet */
} link_ucx_state_t;

struct link_ucx_net;

/* A message received and not yet delivered. */
typedef struct link_ucx_held {
    struct link_ucx_held *next; /* by sequence in its connection; or in the net's orphans */
    uint64_t sequence;
    link_ucx_type_t type;
    uint32_t from_conn, from_token;
    bool receiving;      /* a rendezvous receive into `bytes` is in flight */
    ucs_status_t status; /* of that receive */
    struct link_ucx_net *net;
    size_t length;
    uint8_t bytes[];
} link_ucx_held_t;

/* A message copied for UCX: waiting in its connection's queue, or handed
 * to UCX and not completed (its bytes are ours until then; `generation`
 * tells whether its connection still exists). */
typedef struct link_ucx_send {
    struct link_ucx_send *prev, *next; /* the connection's waiting, or the net's in flight */
    struct link_ucx_net *net;
    uint32_t conn, generation;
    link_ucx_type_t type;
    bool rendezvous;
    size_t length;
    uint8_t header[LINK_UCX_HEADER_BYTES];
    uint8_t bytes[];
} link_ucx_send_t;

typedef struct {
    struct link_ucx_net *net;
    link_ucx_state_t state;
    uint32_t id;
    uint32_t generation; /* also its token: grows whenever the slot is released */
    ucp_ep_h ep;
    uint32_t peer_conn, peer_token;
    uint64_t send_next, receive_next;
    size_t in_flight;       /* bytes of sends UCX has not completed */
    bool rendezvous_flying; /* one of them is rendezvous: nothing else goes */
    struct link_ucx_send *waiting_head, *waiting_tail;
    size_t waiting_bytes;
    link_ucx_held_t *held_head, *held_tail;
    uint32_t held_count;
    size_t held_bytes;
    int64_t deadline_ms; /* CONNECTING or ACCEPTING */
    link_targets_t targets;
    uint32_t target_next;
    ucs_status_t error; /* reported by UCX; handled by the next turn */
    int status;         /* ours (ARI_E*), a protocol fault; or FAILED's */
    char why[LINK_WHY_MAX];
    char peer[LINK_PEER_NAME_MAX];
} link_ucx_conn_t;

typedef struct link_ucx_net {
    link_net_t base; /* first: link_net_t * and link_ucx_net_t * convert */
    ucp_context_h context;
    ucp_worker_h worker;
    ucp_listener_h listener;
    int epoll_fd, timer_fd;
    int64_t timer_armed_ms;
    uint16_t port;
    bool work; /* something for the next turn to hand on: do not sleep */
    ucp_conn_request_h requests[LINK_UCX_REQUESTS_MAX];
    uint32_t requests_count;
    link_ucx_send_t *sending;
    link_ucx_held_t *orphans; /* receives in flight for connections that are gone */
    uint32_t closing;         /* endpoint closes in flight */
    uint32_t id_next;
    uint64_t dropped; /* messages for no connection of ours */
    link_ucx_conn_t conns[LINK_CONNS_MAX];
} link_ucx_net_t;

static link_ucx_net_t *link_ucx_net(link_net_t *net)
{
    return (link_ucx_net_t *)net;
}

static const link_ucx_net_t *link_ucx_net_const(const link_net_t *net)
{
    return (const link_ucx_net_t *)net;
}

/* ------------------------------------------------------------------------
 * The header
 * ------------------------------------------------------------------------ */

static void link_ucx_header_encode(const link_ucx_header_t *header,
                                   uint8_t bytes[LINK_UCX_HEADER_BYTES])
{
    memset(bytes, 0, LINK_UCX_HEADER_BYTES);
    bytes[0] = header->type;
    link_put_u32(bytes + 4, header->to_conn);
    link_put_u32(bytes + 8, header->to_token);
    link_put_u32(bytes + 12, header->from_conn);
    link_put_u32(bytes + 16, header->from_token);
    link_put_u64(bytes + 24, header->sequence);
}

static bool link_ucx_header_decode(const void *data, size_t length, link_ucx_header_t *header)
{
    const uint8_t *bytes = data;
    if (length != LINK_UCX_HEADER_BYTES || bytes[0] < LINK_UCX_HELLO || bytes[0] > LINK_UCX_BYE)
        return false;
    header->type = bytes[0];
    header->to_conn = link_get_u32(bytes + 4);
    header->to_token = link_get_u32(bytes + 8);
    header->from_conn = link_get_u32(bytes + 12);
    header->from_token = link_get_u32(bytes + 16);
    header->sequence = link_get_u64(bytes + 24);
    return true;
}

/* ------------------------------------------------------------------------
 * Connection slots
 * ------------------------------------------------------------------------ */

static void link_ucx_on_closed(void *request, ucs_status_t status, void *user_data)
{
    (void)status;
    link_ucx_net_t *net = user_data;
    net->closing--;
    ucp_request_free(request);
}

/* Closes an endpoint at once: what is in flight on it is dropped. */
static void link_ucx_ep_close(link_ucx_net_t *net, ucp_ep_h ep)
{
    ucp_request_param_t param = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_CALLBACK |
                        UCP_OP_ATTR_FIELD_USER_DATA,
        .flags = UCP_EP_CLOSE_FLAG_FORCE,
        .cb.send = link_ucx_on_closed,
        .user_data = net,
    };
    ucs_status_ptr_t request = ucp_ep_close_nbx(ep, &param);
    if (UCS_PTR_IS_PTR(request))
        net->closing++;
}

/* Gives back what the connection holds; the slot keeps its state. Held
 * messages whose receive is still in flight become orphans, freed when
 * UCX is done with their bytes. */
static void link_ucx_conn_release(link_ucx_net_t *net, link_ucx_conn_t *conn)
{
    if (conn->ep != NULL)
        link_ucx_ep_close(net, conn->ep);
    conn->ep = NULL;
    while (conn->held_head != NULL) {
        link_ucx_held_t *held = conn->held_head;
        conn->held_head = held->next;
        if (held->receiving) {
            held->next = net->orphans;
            net->orphans = held;
        } else {
            free(held);
        }
    }
    conn->held_tail = NULL;
    conn->held_count = 0;
    conn->held_bytes = 0;
    while (conn->waiting_head != NULL) {
        struct link_ucx_send *send = conn->waiting_head;
        conn->waiting_head = send->next;
        free(send);
    }
    conn->waiting_tail = NULL;
    conn->waiting_bytes = 0;
    conn->in_flight = 0;
    conn->rendezvous_flying = false;
    conn->error = UCS_OK;
    conn->generation++; /* sends still in flight no longer count against it */
}

static void link_ucx_conn_free(link_ucx_net_t *net, link_ucx_conn_t *conn)
{
    link_ucx_conn_release(net, conn);
    conn->state = LINK_UCX_FREE;
    conn->peer[0] = '\0';
}

/* The connection died: `closed` is reported at the end of this turn. */
static void link_ucx_conn_fail(link_ucx_net_t *net, link_ucx_conn_t *conn, int status,
                               const char *why)
{
    link_ucx_conn_release(net, conn);
    conn->state = LINK_UCX_FAILED;
    conn->status = status;
    snprintf(conn->why, sizeof conn->why, "%s", why);
    net->work = true;
}

/* Marks a fault found inside a UCX callback, for the next turn. */
static void link_ucx_conn_fault(link_ucx_conn_t *conn, int status, const char *why)
{
    if (conn->status != ARI_OK)
        return; /* the first fault is the one to tell */
    conn->status = status;
    snprintf(conn->why, sizeof conn->why, "%s", why);
    conn->net->work = true;
}

static link_ucx_conn_t *link_ucx_conn_take(link_ucx_net_t *net)
{
    for (uint32_t i = 0; i < LINK_CONNS_MAX; i++) {
        uint32_t id = (net->id_next + i) % LINK_CONNS_MAX;
        link_ucx_conn_t *conn = &net->conns[id];
        if (conn->state != LINK_UCX_FREE)
            continue;
        net->id_next = (id + 1) % LINK_CONNS_MAX;
        conn->ep = NULL;
        conn->peer_conn = LINK_NO_CONN;
        conn->peer_token = 0;
        conn->send_next = conn->receive_next = 0;
        conn->error = UCS_OK;
        conn->status = ARI_OK;
        conn->why[0] = '\0';
        return conn;
    }
    return NULL;
}

/* The connection a message is for: id and token must match one that is
 * connecting or open. */
static link_ucx_conn_t *link_ucx_conn_find(link_ucx_net_t *net, uint32_t id, uint32_t token)
{
    if (id >= LINK_CONNS_MAX)
        return NULL;
    link_ucx_conn_t *conn = &net->conns[id];
    if (conn->generation != token ||
        (conn->state != LINK_UCX_OPEN && conn->state != LINK_UCX_CONNECTING))
        return NULL;
    return conn;
}

static link_ucx_conn_t *link_ucx_conn_by_ep(link_ucx_net_t *net, ucp_ep_h ep)
{
    for (uint32_t id = 0; id < LINK_CONNS_MAX; id++)
        if (net->conns[id].state == LINK_UCX_ACCEPTING && net->conns[id].ep == ep)
            return &net->conns[id];
    return NULL;
}

/* ------------------------------------------------------------------------
 * Sending
 * ------------------------------------------------------------------------ */

static void link_ucx_send_unlink(link_ucx_net_t *net, link_ucx_send_t *send)
{
    if (send->prev != NULL)
        send->prev->next = send->next;
    else
        net->sending = send->next;
    if (send->next != NULL)
        send->next->prev = send->prev;
}

/* UCX is done with a message's bytes (sent, or dropped with its endpoint). */
static void link_ucx_on_sent(void *request, ucs_status_t status, void *user_data)
{
    link_ucx_send_t *send = user_data;
    link_ucx_net_t *net = send->net;
    link_ucx_conn_t *conn = &net->conns[send->conn];
    if (conn->generation == send->generation) {
        conn->in_flight -= send->length;
        if (send->rendezvous)
            conn->rendezvous_flying = false;
        if (status != UCS_OK && conn->error == UCS_OK)
            conn->error = status;
        net->work = true; /* the queue shrank, or waiting sends may go */
    }
    link_ucx_send_unlink(net, send);
    free(send);
    ucp_request_free(request);
}

static uint32_t link_ucx_am_flags(link_ucx_type_t type, size_t length)
{
    uint32_t flags = length > LINK_UCX_EAGER_MAX ? UCP_AM_SEND_FLAG_RNDV : UCP_AM_SEND_FLAG_EAGER;
    return type == LINK_UCX_HELLO ? flags | UCP_AM_SEND_FLAG_REPLY : flags;
}

/* The header of the connection's next message. */
static void link_ucx_header_next(const link_ucx_conn_t *conn, link_ucx_type_t type,
                                 uint8_t encoded[LINK_UCX_HEADER_BYTES])
{
    link_ucx_header_t header = {type, conn->peer_conn, conn->peer_token, conn->id,
                                conn->generation, conn->send_next};
    link_ucx_header_encode(&header, encoded);
}

/* A copy of a message, for the queue or for UCX to send from. */
static link_ucx_send_t *link_ucx_send_copy(link_ucx_net_t *net, link_ucx_conn_t *conn,
                                           link_ucx_type_t type, const uint8_t *bytes,
                                           size_t length)
{
    link_ucx_send_t *send = malloc(sizeof *send + length);
    if (send == NULL)
        return NULL;
    *send = (link_ucx_send_t){.prev = NULL, .next = NULL, .net = net, .conn = conn->id,
                              .generation = conn->generation, .type = type,
                              .rendezvous = length > LINK_UCX_EAGER_MAX, .length = length};
    if (length > 0)
        memcpy(send->bytes, bytes, length);
    return send;
}

/* Hands a copied message to UCX (taking its ownership): freed at once if
 * UCX is done with it, else tracked until UCX completes it. */
static ucs_status_t link_ucx_post_copy(link_ucx_net_t *net, link_ucx_conn_t *conn,
                                       link_ucx_send_t *send)
{
    link_ucx_header_next(conn, send->type, send->header);
    ucp_request_param_t param = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_CALLBACK |
                        UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMORY_TYPE,
        .flags = link_ucx_am_flags(send->type, send->length),
        .cb.send = link_ucx_on_sent,
        .user_data = send,
        .memory_type = UCS_MEMORY_TYPE_HOST,
    };
    ucs_status_ptr_t request = ucp_am_send_nbx(conn->ep, LINK_UCX_AM_ID, send->header,
                                               sizeof send->header, send->bytes, send->length,
                                               &param);
    if (UCS_PTR_IS_ERR(request)) {
        free(send);
        return UCS_PTR_STATUS(request);
    }
    conn->send_next++;
    if (request == NULL) {
        free(send);
        return UCS_OK;
    }
    send->prev = NULL;
    send->next = net->sending;
    if (net->sending != NULL)
        net->sending->prev = send;
    net->sending = send;
    conn->in_flight += send->length;
    conn->rendezvous_flying |= send->rendezvous;
    return UCS_OK;
}

/* Hands one message to UCX now: without a copy when UCX takes it at once,
 * else copied. */
static ucs_status_t link_ucx_post(link_ucx_net_t *net, link_ucx_conn_t *conn,
                                  link_ucx_type_t type, const uint8_t *bytes, size_t length)
{
    if (length <= LINK_UCX_IMMEDIATE_MAX) {
        uint8_t encoded[LINK_UCX_HEADER_BYTES];
        link_ucx_header_next(conn, type, encoded);
        ucp_request_param_t param = {
            .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_MEMORY_TYPE |
                            UCP_OP_ATTR_FLAG_FORCE_IMM_CMPL,
            .flags = link_ucx_am_flags(type, length),
            .memory_type = UCS_MEMORY_TYPE_HOST,
        };
        ucs_status_ptr_t request = ucp_am_send_nbx(conn->ep, LINK_UCX_AM_ID, encoded,
                                                   sizeof encoded, bytes, length, &param);
        if (request == NULL) {
            conn->send_next++;
            return UCS_OK;
        }
        assert(UCS_PTR_IS_ERR(request)); /* FORCE_IMM_CMPL never leaves a request */
        if (UCS_PTR_STATUS(request) != UCS_ERR_NO_RESOURCE)
            return UCS_PTR_STATUS(request);
    }
    link_ucx_send_t *send = link_ucx_send_copy(net, conn, type, bytes, length);
    return send != NULL ? link_ucx_post_copy(net, conn, send) : UCS_ERR_NO_MEMORY;
}

/* Hands waiting messages to UCX while no rendezvous send is in flight. */
static void link_ucx_flush(link_ucx_net_t *net, link_ucx_conn_t *conn)
{
    while (conn->waiting_head != NULL && !conn->rendezvous_flying && conn->error == UCS_OK) {
        link_ucx_send_t *send = conn->waiting_head;
        conn->waiting_head = send->next;
        if (conn->waiting_head == NULL)
            conn->waiting_tail = NULL;
        conn->waiting_bytes -= send->length;
        ucs_status_t status = link_ucx_post_copy(net, conn, send);
        if (status != UCS_OK)
            conn->error = status;
    }
}

static int link_ucx_send(link_net_t *base, uint32_t id, const uint8_t *bytes, size_t length)
{
    link_ucx_net_t *net = link_ucx_net(base);
    link_ucx_conn_t *conn = &net->conns[id];
    if (conn->state != LINK_UCX_OPEN || conn->error != UCS_OK || conn->status != ARI_OK)
        return ARI_EPEER;
    if (conn->in_flight + conn->waiting_bytes >= LINK_QUEUE_MAX)
        return ARI_EBUSY;
    if (conn->rendezvous_flying || conn->waiting_head != NULL) {
        link_ucx_send_t *send = link_ucx_send_copy(net, conn, LINK_UCX_DATA, bytes, length);
        if (send == NULL)
            return ARI_ENOMEM;
        if (conn->waiting_tail != NULL)
            conn->waiting_tail->next = send;
        else
            conn->waiting_head = send;
        conn->waiting_tail = send;
        conn->waiting_bytes += length;
        return ARI_OK;
    }
    ucs_status_t status = link_ucx_post(net, conn, LINK_UCX_DATA, bytes, length);
    if (status == UCS_ERR_NO_MEMORY)
        return ARI_ENOMEM;
    if (status != UCS_OK) {
        conn->error = status; /* reported as `closed` by the next turn */
        net->work = true;
        return ARI_EPEER;
    }
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Receiving (inside UCX's callbacks: record only)
 * ------------------------------------------------------------------------ */

/* A rendezvous receive finished. */
static void link_ucx_on_received(void *request, ucs_status_t status, size_t length,
                                 void *user_data)
{
    link_ucx_held_t *held = user_data;
    held->receiving = false;
    held->status = status == UCS_OK && length != held->length ? UCS_ERR_MESSAGE_TRUNCATED : status;
    held->net->work = true;
    ucp_request_free(request);
}

/* Puts a message in its place by sequence; false (and a fault) when it
 * repeats one, is too far ahead, or holds too much. */
static bool link_ucx_hold(link_ucx_conn_t *conn, link_ucx_held_t *held)
{
    char why[LINK_WHY_MAX];
    if (held->sequence < conn->receive_next ||
        held->sequence - conn->receive_next >= LINK_UCX_HOLD_MAX ||
        conn->held_count >= LINK_UCX_HOLD_MAX ||
        conn->held_bytes + held->length > LINK_UCX_HOLD_BYTES_MAX) {
        snprintf(why, sizeof why, "sent message %llu while %llu was due and %u held (bounds: %u "
                 "messages, %zu bytes)", (unsigned long long)held->sequence,
                 (unsigned long long)conn->receive_next, conn->held_count, LINK_UCX_HOLD_MAX,
                 LINK_UCX_HOLD_BYTES_MAX);
        link_ucx_conn_fault(conn, ARI_EIO, why);
        return false;
    }
    link_ucx_held_t **place = &conn->held_head;
    if (conn->held_tail != NULL && conn->held_tail->sequence < held->sequence)
        place = &conn->held_tail->next; /* the usual case: in order */
    else
        while (*place != NULL && (*place)->sequence < held->sequence)
            place = &(*place)->next;
    if (*place != NULL && (*place)->sequence == held->sequence) {
        snprintf(why, sizeof why, "sent message %llu twice", (unsigned long long)held->sequence);
        link_ucx_conn_fault(conn, ARI_EIO, why);
        return false;
    }
    held->next = *place;
    *place = held;
    if (held->next == NULL)
        conn->held_tail = held;
    conn->held_count++;
    conn->held_bytes += held->length;
    return true;
}

/* The connection a message belongs to, or NULL (dropped). */
static link_ucx_conn_t *link_ucx_message_conn(link_ucx_net_t *net, const link_ucx_header_t *header,
                                              const ucp_am_recv_param_t *param)
{
    if (header->type != LINK_UCX_HELLO)
        return link_ucx_conn_find(net, header->to_conn, header->to_token);
    if (!(param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP))
        return NULL;
    return link_ucx_conn_by_ep(net, param->reply_ep);
}

static ucs_status_t link_ucx_on_message(void *arg, const void *header_bytes,
                                        size_t header_length, void *data, size_t length,
                                        const ucp_am_recv_param_t *param)
{
    link_ucx_net_t *net = arg;
    bool rendezvous = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
    ucs_status_t refuse = rendezvous ? UCS_ERR_REJECTED : UCS_OK;
    link_ucx_header_t header;
    link_ucx_conn_t *conn = NULL;
    if (link_ucx_header_decode(header_bytes, header_length, &header))
        conn = link_ucx_message_conn(net, &header, param);
    if (conn == NULL || conn->status != ARI_OK) {
        net->dropped++;
        return refuse;
    }
    bool data_type = header.type == LINK_UCX_DATA;
    if (data_type ? length == 0 || length > LINK_MESSAGE_MAX : length != 0) {
        char why[LINK_WHY_MAX];
        snprintf(why, sizeof why, "sent a message of %zu bytes (1 to %zu allowed)", length,
                 LINK_MESSAGE_MAX);
        link_ucx_conn_fault(conn, ARI_EMSG_LENGTH, why);
        return refuse;
    }
    link_ucx_held_t *held = malloc(sizeof *held + length);
    if (held == NULL) {
        link_ucx_conn_fault(conn, ARI_EIO, "no memory to receive a message");
        return refuse;
    }
    *held = (link_ucx_held_t){.next = NULL, .sequence = header.sequence, .type = header.type,
                              .from_conn = header.from_conn, .from_token = header.from_token,
                              .receiving = rendezvous, .status = UCS_OK, .net = net,
                              .length = length};
    if (!link_ucx_hold(conn, held)) {
        free(held);
        return refuse;
    }
    net->work = true;
    if (!rendezvous) {
        memcpy(held->bytes, data, length);
        return UCS_OK;
    }
    ucp_request_param_t receive = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                        UCP_OP_ATTR_FIELD_MEMORY_TYPE,
        .cb.recv_am = link_ucx_on_received,
        .user_data = held,
        .memory_type = UCS_MEMORY_TYPE_HOST,
    };
    ucs_status_ptr_t request = ucp_am_recv_data_nbx(net->worker, data, held->bytes, length,
                                                    &receive);
    if (request == NULL || UCS_PTR_IS_ERR(request)) {
        held->receiving = false;
        held->status = UCS_PTR_STATUS(request);
    }
    return UCS_INPROGRESS; /* the receive owns the descriptor now */
}

static void link_ucx_on_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    link_ucx_conn_t *conn = arg;
    if (conn->ep != ep || conn->error != UCS_OK)
        return; /* an endpoint already closed, or a second report */
    conn->error = status;
    conn->net->work = true;
}

static void link_ucx_on_request(ucp_conn_request_h request, void *arg)
{
    link_ucx_net_t *net = arg;
    if (net->requests_count == LINK_UCX_REQUESTS_MAX) {
        ucp_listener_reject(net->listener, request); /* bounded: the client sees a refusal */
        return;
    }
    net->requests[net->requests_count++] = request;
    net->work = true;
}

/* ------------------------------------------------------------------------
 * Connecting and accepting
 * ------------------------------------------------------------------------ */

static ucs_status_t link_ucx_ep_create(link_ucx_net_t *net, link_ucx_conn_t *conn,
                                       ucp_ep_params_t *params)
{
    params->field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
    params->err_mode = UCP_ERR_HANDLING_MODE_PEER;
    params->err_handler.cb = link_ucx_on_error;
    params->err_handler.arg = conn;
    return ucp_ep_create(net->worker, params, &conn->ep);
}

/* Starts the client's side at its next address: an endpoint and the
 * HELLO. Returns UCS_OK, or the last failure when no address is left. */
static ucs_status_t link_ucx_connect_next(link_ucx_net_t *net, link_ucx_conn_t *conn,
                                          ucs_status_t last)
{
    while (conn->target_next < conn->targets.count) {
        uint32_t target = conn->target_next++;
        const struct sockaddr *address = (const struct sockaddr *)&conn->targets.address[target];
        link_sockaddr_name(address, conn->peer);
        ucp_ep_params_t params = {
            .field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR,
            .flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER,
            .sockaddr = {.addr = address, .addrlen = conn->targets.length[target]},
        };
        conn->error = UCS_OK;
        conn->send_next = conn->receive_next = 0;
        last = link_ucx_ep_create(net, conn, &params);
        if (last != UCS_OK) {
            conn->ep = NULL;
            continue;
        }
        last = link_ucx_post(net, conn, LINK_UCX_HELLO, NULL, 0);
        if (last == UCS_OK)
            return UCS_OK;
        link_ucx_ep_close(net, conn->ep);
        conn->ep = NULL;
        conn->generation++; /* a HELLO in flight speaks for an endpoint that is gone */
    }
    return last;
}

static void link_ucx_connect_failed(link_ucx_net_t *net, link_ucx_conn_t *conn,
                                    ucs_status_t status)
{
    char why[LINK_WHY_MAX];
    snprintf(why, sizeof why, "cannot connect to %s: %s", conn->peer, ucs_status_string(status));
    link_ucx_conn_fail(net, conn, ARI_EIO, why);
}

static int link_ucx_connect(link_net_t *base, const char *addr, uint16_t port, int timeout_ms,
                            uint32_t *conn_out, char *error, size_t error_size)
{
    link_ucx_net_t *net = link_ucx_net(base);
    link_targets_t targets;
    int status = link_resolve(addr, port, AF_INET, &targets, error, error_size);
    if (status != ARI_OK)
        return status;
    link_ucx_conn_t *conn = link_ucx_conn_take(net);
    if (conn == NULL) {
        link_error(error, error_size, "cannot connect to %s:%u: %u connections are open", addr,
                   (unsigned)port, LINK_CONNS_MAX);
        return ARI_EBUSY;
    }
    conn->targets = targets;
    conn->target_next = 0;
    conn->deadline_ms = link_now_ms() + timeout_ms;
    conn->state = LINK_UCX_CONNECTING;
    ucs_status_t started = link_ucx_connect_next(net, conn, UCS_ERR_UNREACHABLE);
    if (started != UCS_OK)
        link_ucx_connect_failed(net, conn, started); /* reported by the next turn */
    if (conn->deadline_ms < net->timer_armed_ms)
        link_timer_set(net->timer_fd, conn->deadline_ms, &net->timer_armed_ms);
    *conn_out = conn->id;
    return ARI_OK;
}

/* Makes endpoints for the connection requests the listener queued; each
 * becomes a connection when its HELLO arrives. */
static void link_ucx_accept(link_ucx_net_t *net)
{
    for (uint32_t i = 0; i < net->requests_count; i++) {
        ucp_conn_request_h request = net->requests[i];
        link_ucx_conn_t *conn = link_ucx_conn_take(net);
        if (conn == NULL) {
            ucp_listener_reject(net->listener, request);
            continue;
        }
        ucp_conn_request_attr_t attr = {.field_mask = UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ADDR};
        if (ucp_conn_request_query(request, &attr) == UCS_OK)
            link_sockaddr_name((const struct sockaddr *)&attr.client_address, conn->peer);
        else
            snprintf(conn->peer, sizeof conn->peer, "?");
        ucp_ep_params_t params = {.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST,
                                  .conn_request = request};
        if (link_ucx_ep_create(net, conn, &params) != UCS_OK) {
            conn->ep = NULL;
            continue; /* the slot stays free */
        }
        conn->state = LINK_UCX_ACCEPTING;
        conn->deadline_ms = link_now_ms() + LINK_UCX_HELLO_MS;
    }
    net->requests_count = 0;
}

/* ------------------------------------------------------------------------
 * Progress: hand on what the callbacks recorded
 * ------------------------------------------------------------------------ */

/* One held message, its turn come. Returns 1 when it fired a callback. */
static int link_ucx_deliver_one(link_ucx_net_t *net, link_ucx_conn_t *conn, link_ucx_held_t *held)
{
    uint32_t id = conn->id;
    const link_events_t *events = &net->base.events;
    switch (held->type) {
    case LINK_UCX_HELLO:
        if (conn->state != LINK_UCX_ACCEPTING)
            break;
        conn->peer_conn = held->from_conn;
        conn->peer_token = held->from_token;
        conn->state = LINK_UCX_OPEN;
        if (link_ucx_post(net, conn, LINK_UCX_WELCOME, NULL, 0) != UCS_OK) {
            link_ucx_conn_free(net, conn); /* never reported: nobody knows it */
            return 0;
        }
        events->accepted(events->ctx, id, conn->peer);
        return 1;
    case LINK_UCX_WELCOME:
        if (conn->state != LINK_UCX_CONNECTING)
            break;
        conn->peer_conn = held->from_conn;
        conn->peer_token = held->from_token;
        conn->state = LINK_UCX_OPEN;
        events->connected(events->ctx, id);
        return 1;
    case LINK_UCX_DATA:
        if (conn->state != LINK_UCX_OPEN)
            break;
        events->received(events->ctx, id, held->bytes, held->length);
        return 1;
    case LINK_UCX_BYE:
        if (conn->state != LINK_UCX_OPEN)
            break;
        link_ucx_conn_fail(net, conn, ARI_EPEER, "closed the connection");
        return 0;
    }
    char why[LINK_WHY_MAX];
    snprintf(why, sizeof why, "sent a message of type %d out of turn", (int)held->type);
    link_ucx_conn_fail(net, conn, ARI_EIO, why);
    return 0;
}

/* Delivers the held messages whose turn has come, up to a turn's worth. */
static int link_ucx_deliver(link_ucx_net_t *net, link_ucx_conn_t *conn)
{
    int events = 0;
    uint32_t generation = conn->generation;
    for (uint32_t n = 0; n < LINK_UCX_DELIVER_MAX; n++) {
        link_ucx_held_t *held = conn->held_head;
        if (held == NULL || held->sequence != conn->receive_next || held->receiving)
            return events;
        conn->held_head = held->next;
        if (conn->held_head == NULL)
            conn->held_tail = NULL;
        conn->held_count--;
        conn->held_bytes -= held->length;
        conn->receive_next++;
        if (held->status != UCS_OK) {
            char why[LINK_WHY_MAX];
            snprintf(why, sizeof why, "a message's receive failed: %s",
                     ucs_status_string(held->status));
            free(held);
            link_ucx_conn_fail(net, conn, ARI_EIO, why);
            return events;
        }
        events += link_ucx_deliver_one(net, conn, held);
        free(held);
        if (conn->generation != generation || conn->state != LINK_UCX_OPEN)
            return events; /* closed, by the peer or by the callback */
    }
    net->work = true; /* more next turn */
    return events;
}

/* Turns an endpoint failure or a fault into the connection's end. */
static void link_ucx_conn_check(link_ucx_net_t *net, link_ucx_conn_t *conn)
{
    if (conn->status != ARI_OK) {
        char why[LINK_WHY_MAX];
        snprintf(why, sizeof why, "%s", conn->why);
        if (conn->state == LINK_UCX_ACCEPTING)
            link_ucx_conn_free(net, conn);
        else
            link_ucx_conn_fail(net, conn, conn->status, why);
        return;
    }
    if (conn->error == UCS_OK)
        return;
    const link_ucx_held_t *head = conn->held_head;
    if (conn->state == LINK_UCX_OPEN && head != NULL && head->sequence == conn->receive_next &&
        !head->receiving) {
        net->work = true; /* what arrived before the failure goes first, next turn */
        return;
    }
    ucs_status_t error = conn->error;
    if (conn->state == LINK_UCX_CONNECTING) {
        link_ucx_ep_close(net, conn->ep);
        conn->ep = NULL;
        conn->generation++;
        ucs_status_t next = link_ucx_connect_next(net, conn, error);
        if (next != UCS_OK)
            link_ucx_connect_failed(net, conn, next);
    } else if (conn->state == LINK_UCX_ACCEPTING) {
        link_ucx_conn_free(net, conn);
    } else {
        bool reset = error == UCS_ERR_CONNECTION_RESET || error == UCS_ERR_NOT_CONNECTED ||
                     error == UCS_ERR_ENDPOINT_TIMEOUT || error == UCS_ERR_CANCELED;
        char why[LINK_WHY_MAX];
        snprintf(why, sizeof why, "%s (%s)", reset ? "reset the connection" : "failed",
                 ucs_status_string(error));
        link_ucx_conn_fail(net, conn, reset ? ARI_EPEER : ARI_EIO, why);
    }
}

static int link_ucx_report_failed(link_ucx_net_t *net, link_ucx_conn_t *conn)
{
    int status = conn->status;
    char why[LINK_WHY_MAX];
    snprintf(why, sizeof why, "%s", conn->why);
    link_ucx_conn_free(net, conn);
    net->base.events.closed(net->base.events.ctx, conn->id, status, why);
    return 1;
}

/* Fails connects past their deadline, drops accepted endpoints whose
 * HELLO never came, and sets the timer for the nearest deadline left. */
static void link_ucx_deadlines(link_ucx_net_t *net)
{
    int64_t now = link_now_ms(), nearest = INT64_MAX;
    for (uint32_t id = 0; id < LINK_CONNS_MAX; id++) {
        link_ucx_conn_t *conn = &net->conns[id];
        if (conn->state != LINK_UCX_CONNECTING && conn->state != LINK_UCX_ACCEPTING)
            continue;
        if (conn->deadline_ms > now) {
            nearest = conn->deadline_ms < nearest ? conn->deadline_ms : nearest;
        } else if (conn->state == LINK_UCX_ACCEPTING) {
            link_ucx_conn_free(net, conn);
        } else {
            char why[LINK_WHY_MAX];
            snprintf(why, sizeof why, "cannot connect to %s: no answer in time", conn->peer);
            link_ucx_conn_fail(net, conn, ARI_ETIMEDOUT, why);
        }
    }
    link_timer_set(net->timer_fd, nearest, &net->timer_armed_ms);
}

/* Frees the orphans whose receives have finished. */
static void link_ucx_sweep_orphans(link_ucx_net_t *net)
{
    link_ucx_held_t **place = &net->orphans;
    while (*place != NULL) {
        link_ucx_held_t *held = *place;
        if (held->receiving) {
            place = &held->next;
            continue;
        }
        *place = held->next;
        free(held);
    }
}

static int link_ucx_progress(link_net_t *base)
{
    link_ucx_net_t *net = link_ucx_net(base);
    link_timer_drain(net->timer_fd);
    net->work = false;
    for (int i = 0; i < LINK_UCX_PROGRESS_MAX && ucp_worker_progress(net->worker) != 0; i++)
        continue;
    link_ucx_accept(net);
    int events = 0;
    for (uint32_t id = 0; id < LINK_CONNS_MAX; id++) {
        link_ucx_conn_t *conn = &net->conns[id];
        if (conn->state == LINK_UCX_FREE || conn->state == LINK_UCX_FAILED)
            continue;
        /* What arrived before a failure is delivered before it. */
        events += link_ucx_deliver(net, conn);
        if (conn->state == LINK_UCX_OPEN)
            link_ucx_flush(net, conn);
        if (conn->state != LINK_UCX_FREE && conn->state != LINK_UCX_FAILED)
            link_ucx_conn_check(net, conn);
    }
    link_ucx_deadlines(net);
    for (uint32_t id = 0; id < LINK_CONNS_MAX; id++)
        if (net->conns[id].state == LINK_UCX_FAILED)
            events += link_ucx_report_failed(net, &net->conns[id]);
    link_ucx_sweep_orphans(net);
    return events;
}

static bool link_ucx_arm(link_net_t *base)
{
    link_ucx_net_t *net = link_ucx_net(base);
    if (net->work)
        return false;
    /* UCS_ERR_BUSY: events are pending; call progress, do not sleep. */
    return ucp_worker_arm(net->worker) == UCS_OK;
}

/* ------------------------------------------------------------------------
 * The rest of the table
 * ------------------------------------------------------------------------ */

static size_t link_ucx_queued(const link_net_t *base, uint32_t id)
{
    const link_ucx_conn_t *conn = &link_ucx_net_const(base)->conns[id];
    return conn->state == LINK_UCX_OPEN ? conn->in_flight + conn->waiting_bytes : 0;
}

static const char *link_ucx_peer_name(const link_net_t *base, uint32_t id)
{
    const link_ucx_conn_t *conn = &link_ucx_net_const(base)->conns[id];
    return conn->state == LINK_UCX_FREE || conn->state == LINK_UCX_ACCEPTING ? "?" : conn->peer;
}

static void link_ucx_close(link_net_t *base, uint32_t id)
{
    link_ucx_net_t *net = link_ucx_net(base);
    link_ucx_conn_t *conn = &net->conns[id];
    if (conn->state == LINK_UCX_FREE || conn->state == LINK_UCX_ACCEPTING)
        return; /* an accepting endpoint is not the caller's yet */
    if (conn->state == LINK_UCX_OPEN && conn->error == UCS_OK) {
        /* A BYE if it can go at once (the force close drops anything
         * queued); without it the peer sees a reset. */
        uint8_t encoded[LINK_UCX_HEADER_BYTES];
        link_ucx_header_next(conn, LINK_UCX_BYE, encoded);
        ucp_request_param_t param = {.op_attr_mask = UCP_OP_ATTR_FLAG_FORCE_IMM_CMPL};
        ucs_status_ptr_t request = ucp_am_send_nbx(conn->ep, LINK_UCX_AM_ID, encoded,
                                                   sizeof encoded, NULL, 0, &param);
        assert(!UCS_PTR_IS_PTR(request));
        (void)request;
    }
    link_ucx_conn_free(net, conn);
}

static uint16_t link_ucx_port(const link_net_t *base)
{
    return link_ucx_net_const(base)->port;
}

static int link_ucx_fd(const link_net_t *base)
{
    return link_ucx_net_const(base)->epoll_fd;
}

static void link_ucx_net_close(link_net_t *base)
{
    link_ucx_net_t *net = link_ucx_net(base);
    if (net->worker != NULL) {
        for (uint32_t id = 0; id < LINK_CONNS_MAX; id++)
            link_ucx_close(&net->base, id); /* a BYE where it can go */
        for (uint32_t id = 0; id < LINK_CONNS_MAX; id++)
            if (net->conns[id].state != LINK_UCX_FREE)
                link_ucx_conn_free(net, &net->conns[id]);
        for (uint32_t i = 0; i < net->requests_count; i++)
            ucp_listener_reject(net->listener, net->requests[i]);
        net->requests_count = 0;
        if (net->listener != NULL)
            ucp_listener_destroy(net->listener);
        int64_t deadline = link_now_ms() + LINK_UCX_CLOSE_MS;
        while (net->closing > 0 && link_now_ms() < deadline)
            ucp_worker_progress(net->worker);
        ucp_worker_destroy(net->worker);
    }
    if (net->context != NULL)
        ucp_cleanup(net->context);
    /* UCX is gone: what it never completed is ours to free. */
    while (net->sending != NULL) {
        link_ucx_send_t *send = net->sending;
        net->sending = send->next;
        free(send);
    }
    for (link_ucx_held_t *held = net->orphans, *next; held != NULL; held = next) {
        next = held->next;
        free(held);
    }
    if (net->timer_fd >= 0)
        close(net->timer_fd);
    if (net->epoll_fd >= 0)
        close(net->epoll_fd);
    free(net);
}

static const link_ops_t link_ucx_ops = {
    .net_close = link_ucx_net_close,
    .port = link_ucx_port,
    .fd = link_ucx_fd,
    .arm = link_ucx_arm,
    .progress = link_ucx_progress,
    .connect = link_ucx_connect,
    .send = link_ucx_send,
    .queued = link_ucx_queued,
    .peer_name = link_ucx_peer_name,
    .close = link_ucx_close,
};

/* ------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------ */

static int link_ucx_start(link_ucx_net_t *net, char *error, size_t error_size)
{
    ucp_config_t *config;
    ucs_status_t status = ucp_config_read(NULL, NULL, &config);
    if (status != UCS_OK) {
        link_error(error, error_size, "UCX: cannot read its configuration (UCX_* variables): %s",
                   ucs_status_string(status));
        return ARI_EIO;
    }
    ucp_params_t params = {.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_NAME,
                           .features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP,
                           .name = "ariadne"};
    status = ucp_init(&params, config, &net->context);
    ucp_config_release(config);
    if (status != UCS_OK) {
        net->context = NULL;
        link_error(error, error_size, "UCX: ucp_init: %s (are the transports in UCX_TLS there?)",
                   ucs_status_string(status));
        return ARI_EIO;
    }
    ucp_worker_params_t worker_params = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                                         .thread_mode = UCS_THREAD_MODE_SINGLE};
    status = ucp_worker_create(net->context, &worker_params, &net->worker);
    if (status != UCS_OK) {
        net->worker = NULL;
        link_error(error, error_size, "UCX: ucp_worker_create: %s", ucs_status_string(status));
        return ARI_EIO;
    }
    ucp_worker_attr_t attr = {.field_mask = UCP_WORKER_ATTR_FIELD_MAX_AM_HEADER};
    if (ucp_worker_query(net->worker, &attr) != UCS_OK ||
        attr.max_am_header < LINK_UCX_HEADER_BYTES) {
        link_error(error, error_size, "UCX: the transports take no %u-byte message headers",
                   LINK_UCX_HEADER_BYTES);
        return ARI_EIO;
    }
    ucp_am_handler_param_t handler = {
        .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                      UCP_AM_HANDLER_PARAM_FIELD_ARG | UCP_AM_HANDLER_PARAM_FIELD_FLAGS,
        .id = LINK_UCX_AM_ID,
        .cb = link_ucx_on_message,
        .arg = net,
        .flags = UCP_AM_FLAG_WHOLE_MSG,
    };
    status = ucp_worker_set_am_recv_handler(net->worker, &handler);
    if (status != UCS_OK) {
        link_error(error, error_size, "UCX: ucp_worker_set_am_recv_handler: %s",
                   ucs_status_string(status));
        return ARI_EIO;
    }
    return ARI_OK;
}

static ucs_status_t link_ucx_listen_at(link_ucx_net_t *net, const struct sockaddr *address,
                                       socklen_t length)
{
    ucp_listener_params_t params = {
        .field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER,
        .sockaddr = {.addr = address, .addrlen = length},
        .conn_handler = {.cb = link_ucx_on_request, .arg = net},
    };
    return ucp_listener_create(net->worker, &params, &net->listener);
}

/* A listener on listen_addr:port; NULL is every IPv4 address. UCX links
 * are IPv4 alone: UCX 1.13's TCP connection manager refuses IPv4 clients
 * of a dual-stack IPv6 listener (it finds no interface for the mapped
 * address), and its TCP transport fails to wire up IPv6 peers (refused,
 * or with UCX_TCP_AF_PRIO=inet6 a heap overflow inside
 * ucs_sockaddr_str). */
static int link_ucx_listen(link_ucx_net_t *net, const char *listen_addr, uint16_t port,
                           char *error, size_t error_size)
{
    ucs_status_t status = UCS_ERR_INVALID_ADDR;
    if (listen_addr == NULL) {
        struct sockaddr_in any4 = {.sin_family = AF_INET, .sin_port = htons(port),
                                   .sin_addr.s_addr = htonl(INADDR_ANY)};
        status = link_ucx_listen_at(net, (struct sockaddr *)&any4, sizeof any4);
    } else {
        link_targets_t targets;
        int resolved = link_resolve(listen_addr, port, AF_INET, &targets,
                                    error, error_size);
        if (resolved != ARI_OK)
            return resolved;
        for (uint32_t i = 0; i < targets.count && status != UCS_OK; i++)
            status = link_ucx_listen_at(net, (struct sockaddr *)&targets.address[i],
                                        targets.length[i]);
    }
    if (status != UCS_OK) {
        net->listener = NULL;
        link_error(error, error_size, "cannot listen on %s:%u with UCX: %s",
                   listen_addr ? listen_addr : "*", (unsigned)port, ucs_status_string(status));
        return ARI_EIO;
    }
    ucp_listener_attr_t attr = {.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR};
    if (ucp_listener_query(net->listener, &attr) != UCS_OK) {
        link_error(error, error_size, "UCX: ucp_listener_query failed");
        return ARI_EIO;
    }
    net->port = link_sockaddr_port((const struct sockaddr *)&attr.sockaddr);
    return ARI_OK;
}

/* The net's descriptor: an epoll set of the worker's descriptor and the
 * timer, so a caller asleep on it wakes for connect deadlines too. */
static int link_ucx_descriptor(link_ucx_net_t *net, char *error, size_t error_size)
{
    int worker_fd;
    ucs_status_t status = ucp_worker_get_efd(net->worker, &worker_fd);
    if (status != UCS_OK) {
        link_error(error, error_size, "UCX: ucp_worker_get_efd: %s", ucs_status_string(status));
        return ARI_EIO;
    }
    net->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (net->epoll_fd < 0 || link_timer_open(&net->timer_fd) != ARI_OK) {
        link_error(error, error_size, "cannot create an epoll set or timer: %s", strerror(errno));
        return ARI_EIO;
    }
    struct epoll_event worker = {.events = EPOLLIN, .data.u32 = LINK_UCX_TAG_WORKER};
    struct epoll_event timer = {.events = EPOLLIN, .data.u32 = LINK_UCX_TAG_TIMER};
    if (epoll_ctl(net->epoll_fd, EPOLL_CTL_ADD, worker_fd, &worker) != 0 ||
        epoll_ctl(net->epoll_fd, EPOLL_CTL_ADD, net->timer_fd, &timer) != 0) {
        link_error(error, error_size, "epoll_ctl: %s", strerror(errno));
        return ARI_EIO;
    }
    return ARI_OK;
}

int link_ucx_open(const char *listen_addr, uint16_t port, const link_events_t *events,
                  link_net_t **net_out, char *error, size_t error_size)
{
    link_ucx_net_t *net = calloc(1, sizeof *net);
    if (net == NULL) {
        link_error(error, error_size, "no memory for a link net");
        return ARI_ENOMEM;
    }
    net->base = (link_net_t){.ops = &link_ucx_ops, .kind = LINK_UCX, .events = *events};
    net->epoll_fd = net->timer_fd = -1;
    net->timer_armed_ms = INT64_MAX;
    for (uint32_t id = 0; id < LINK_CONNS_MAX; id++) {
        net->conns[id].net = net;
        net->conns[id].id = id;
        net->conns[id].generation = 1;
    }
    int status = link_ucx_start(net, error, error_size);
    if (status == ARI_OK)
        status = link_ucx_listen(net, listen_addr, port, error, error_size);
    if (status == ARI_OK)
        status = link_ucx_descriptor(net, error, error_size);
    if (status != ARI_OK)
        goto err_net;
    *net_out = &net->base;
    return ARI_OK;

err_net:
    link_ucx_net_close(&net->base);
    return status;
}

#else

/* ISO C wants something in a translation unit. */
typedef int link_ucx_absent_t;

#endif /* ARI_HAVE_UCX */
