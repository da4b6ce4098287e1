/*
 * bridge — a host's agent: rings to other hosts, over links (bridge.h).
 */
#include "bridge.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ariadne.h"
#include "cluster/bmsg.h"
#include "cluster/crypto.h"
#include "cluster/session.h"
#include "runtime/heap.h"

#ifdef ARI_HAVE_SODIUM
#include <sodium.h>
#endif

#define BRIDGE_NONE UINT32_MAX
#define BRIDGE_PENDING (UINT32_MAX - 1u)
#define BRIDGE_HANDSHAKE_NS 5000000000ull /* accept to proof */
#define BRIDGE_SPIN_NS 20000ull
#define BRIDGE_SLEEP_MAX_MS 50
#define BRIDGE_SMALL_BYTES 256u           /* a handshake or control message */
#define BRIDGE_LABEL_DIALER "ariadne-link-v1 dialer"
#define BRIDGE_LABEL_LISTENER "ariadne-link-v1 listener"

typedef enum {
    BRIDGE_RING_NONE = 0,
    BRIDGE_RING_OUT,  /* a node here sends into it for a node there: we read */
    BRIDGE_RING_IN,   /* a node there sends into it for a node here: we fill */
} bridge_ring_kind_t;

typedef enum {
    BRIDGE_LINK_DOWN = 0,
    BRIDGE_LINK_DIALING,   /* connecting */
    BRIDGE_LINK_HELLO,     /* dialer: our HELLO sent, waiting for theirs */
    BRIDGE_LINK_PROOF,     /* waiting for the other side's proof */
    BRIDGE_LINK_UP,
} bridge_link_state_t;

/* A numbered frame to one host, kept until that host acknowledges it. */
typedef struct bridge_frame {
    struct bridge_frame *next;
    uint64_t seq;
    size_t length, capacity;
    uint8_t bytes[];
} bridge_frame_t;

/* A message for a ring here that had no room yet. */
typedef struct bridge_hold {
    struct bridge_hold *next;
    uint32_t length;
    uint8_t bytes[];
} bridge_hold_t;

typedef struct {
    /* End to end: our frames to it, its frames to us. */
    uint64_t send_seq, acked, unacked_bytes, received;
    bridge_frame_t *head, *tail, *unsent, *open;
    uint64_t progress_ns;       /* when acks last advanced, or frames were resent */
    uint32_t hop;               /* next host on the way to it, BRIDGE_NONE: none */
    uint32_t hops;              /* the route's length in links (with hop) */
    bool ack_due, finished, lost;
    uint64_t unreachable_ns;    /* since when no route reaches it (0: one does) */
    /* Its links that are up, as it last flooded them. */
    uint64_t lsa_seq;
    uint32_t *lsa, lsa_count;
    /* The link to it, when it is a neighbour. */
    bool neighbour, dialer, was_up;
    bridge_link_state_t state;
    uint32_t conn;
    uint8_t nonce_mine[BMSG_NONCE_BYTES], nonce_peer[BMSG_NONCE_BYTES];
    uint64_t heard_ns, sent_ns, dial_ns, down_ns;
    cluster_endpoint_t endpoint;
    cluster_session_t session;
} bridge_host_t;

struct bridge {
    bridge_config_t config;
    const topo_t *topo;
    ctl_header_t *ctl;
    link_net_t *net;
    int efd;
    uint32_t hosts, self, heartbeat_ms;
    uint64_t beat_ns, silence_ns;
    bridge_host_t *host;
    uint32_t conn_host[LINK_CONNS_MAX];
    uint64_t conn_since[LINK_CONNS_MAX];
    /* Rings, by index: which are ours to read or fill. */
    uint32_t ring_count;
    uint8_t *ring_kind;
    uint32_t *ring_host, *ring_node; /* the other end's host; the node here */
    uint32_t *out_rings, out_count;
    bridge_hold_t **hold_head, **hold_tail;
    uint64_t hold_bytes;
    /* What the nodes here share through the control region. */
    uint32_t *last_state;
    uint32_t drained_remote, drained_sent;
    bool ending_known, finish_sent;
    uint64_t lsa_seq;
    uint8_t *scratch, *scratch_in; /* sealing; opening */
    size_t scratch_size;
    uint64_t started_ns;
    pthread_t thread;
    bool thread_started;
    _Atomic bool stop, finishing, done, ready;
    _Atomic uint32_t unready;   /* a host not yet reached, for wait_ready's message */
    uint64_t malformed, relay_drops;
};

static uint64_t bridge_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *bridge_name(const bridge_t *b, uint32_t host)
{
    return b->config.names != NULL ? b->config.names[host] : "?";
}

/* One line, written at once: agents share the launcher's stderr. */
static void bridge_log(const bridge_t *b, const char *format, const char *a, const char *c)
{
    char text[1024];
    int n = snprintf(text, sizeof text, "ariadne: host %s: ", bridge_name(b, b->self));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    if (n >= 0 && (size_t)n < sizeof text)
        snprintf(text + n, sizeof text - (size_t)n, format, a, c);
#pragma GCC diagnostic pop
    fprintf(stderr, "%s\n", text);
}

/* ------------------------------------------------------------------------
 * Proofs and seals (libsodium; never our own cryptography)
 * ------------------------------------------------------------------------ */

static void bridge_random(uint8_t *out, size_t size)
{
#ifdef ARI_HAVE_SODIUM
    randombytes_buf(out, size);
#else
    memset(out, 0, size); /* NEVER: bridge_open refuses to run without libsodium */
#endif
}

/* HMAC over the role, both nonces and both host ids. */
static void bridge_proof(const bridge_t *b, const bridge_host_t *h, uint32_t peer, bool dialer_role,
                         uint8_t mac[BMSG_MAC_BYTES])
{
#ifdef ARI_HAVE_SODIUM
    uint8_t proof_key[crypto_auth_hmacsha512256_KEYBYTES];
    crypto_kdf_derive_from_key(proof_key, sizeof proof_key, CLUSTER_KDF_PROOF, CLUSTER_KDF_CONTEXT,
                               b->config.key->bytes);
    uint32_t dialer = h->dialer ? b->self : peer, listener = h->dialer ? peer : b->self;
    const uint8_t *nd = h->dialer ? h->nonce_mine : h->nonce_peer;
    const uint8_t *nl = h->dialer ? h->nonce_peer : h->nonce_mine;
    uint8_t ids[8];
    for (int i = 0; i < 4; i++) {
        ids[i] = (uint8_t)(dialer >> (8 * i));
        ids[4 + i] = (uint8_t)(listener >> (8 * i));
    }
    const char *label = dialer_role ? BRIDGE_LABEL_DIALER : BRIDGE_LABEL_LISTENER;
    crypto_auth_hmacsha512256_state state;
    crypto_auth_hmacsha512256_init(&state, proof_key, sizeof proof_key);
    crypto_auth_hmacsha512256_update(&state, (const uint8_t *)label, strlen(label) + 1);
    crypto_auth_hmacsha512256_update(&state, nd, BMSG_NONCE_BYTES);
    crypto_auth_hmacsha512256_update(&state, nl, BMSG_NONCE_BYTES);
    crypto_auth_hmacsha512256_update(&state, ids, sizeof ids);
    crypto_auth_hmacsha512256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
    sodium_memzero(proof_key, sizeof proof_key);
#else
    (void)b, (void)h, (void)peer, (void)dialer_role;
    memset(mac, 0, BMSG_MAC_BYTES);
#endif
}

static bool bridge_proof_ok(const bridge_t *b, const bridge_host_t *h, uint32_t peer,
                            bool dialer_role, const uint8_t *mac)
{
    uint8_t expected[BMSG_MAC_BYTES];
    bridge_proof(b, h, peer, dialer_role, expected);
#ifdef ARI_HAVE_SODIUM
    return crypto_verify_32(expected, mac) == 0;
#else
    (void)mac;
    return false; /* never reached: the join refuses to run without libsodium */
#endif
}

static int bridge_seal_start(bridge_t *b, bridge_host_t *h, uint32_t peer)
{
    if (!b->config.seal)
        return ARI_OK;
    uint32_t dialer = h->dialer ? b->self : peer, listener = h->dialer ? peer : b->self;
    char error[160];
    return cluster_session_derive(b->config.key, h->dialer ? h->nonce_mine : h->nonce_peer,
                                  h->dialer ? h->nonce_peer : h->nonce_mine,
                                  dialer << 16 | listener,
                                  h->dialer ? CLUSTER_SIDE_NODE : CLUSTER_SIDE_COORDINATOR,
                                  &h->session, error, sizeof error);
}

/* ------------------------------------------------------------------------
 * Sending on links
 * ------------------------------------------------------------------------ */

/* One message on the link to neighbour `to`, sealed when asked. */
static int bridge_link_send(bridge_t *b, uint32_t to, const uint8_t *bytes, size_t length)
{
    bridge_host_t *h = &b->host[to];
    if (h->conn == BRIDGE_NONE || h->state == BRIDGE_LINK_DOWN ||
        h->state == BRIDGE_LINK_DIALING)
        return ARI_EPEER;
    if (b->config.seal && h->state == BRIDGE_LINK_UP) {
        size_t sealed;
        int status = cluster_session_seal(&h->session, bytes, length, b->scratch,
                                          b->scratch_size, &sealed);
        if (status != ARI_OK)
            return status;
        bytes = b->scratch;
        length = sealed;
    }
    int status = link_send(b->net, h->conn, bytes, length);
    if (status == ARI_OK)
        h->sent_ns = bridge_now_ns();
    return status;
}

/* One message toward host `dst`, by its route. */
static int bridge_route_send(bridge_t *b, uint32_t dst, const uint8_t *bytes, size_t length)
{
    uint32_t hop = b->host[dst].hop;
    if (hop == BRIDGE_NONE || b->host[hop].state != BRIDGE_LINK_UP)
        return ARI_EPEER;
    return bridge_link_send(b, hop, bytes, length);
}

/* Sends what host `dst` has not been sent yet, in order, while links take it. */
static uint32_t bridge_push(bridge_t *b, uint32_t dst)
{
    bridge_host_t *h = &b->host[dst];
    uint32_t sent = 0;
    while (h->unsent != NULL && bridge_route_send(b, dst, h->unsent->bytes,
                                                  h->unsent->length) == ARI_OK) {
        h->unsent = h->unsent->next;
        sent++;
    }
    return sent;
}

/* Closes the frame being filled for `dst`: it takes the next number. */
static void bridge_frame_close(bridge_t *b, uint32_t dst)
{
    bridge_host_t *h = &b->host[dst];
    bridge_frame_t *f = h->open;
    if (f == NULL)
        return;
    h->open = NULL;
    f->seq = ++h->send_seq;
    bmsg_encode_data_header(f->bytes, f->capacity, b->self, dst, f->seq);
    if (h->tail != NULL)
        h->tail->next = f;
    else
        h->head = f;
    h->tail = f;
    if (h->unsent == NULL)
        h->unsent = f;
    if (h->head == f)
        h->progress_ns = bridge_now_ns();
    h->unacked_bytes += f->length;
}

/* Appends one record to the frame being filled for `dst`. */
static int bridge_record_add(bridge_t *b, uint32_t dst, uint32_t ring, const uint8_t *bytes,
                             uint32_t length)
{
    bridge_host_t *h = &b->host[dst];
    size_t need = BMSG_RECORD_HEADER_BYTES + (size_t)length;
    if (h->open != NULL && h->open->length + need > h->open->capacity)
        bridge_frame_close(b, dst);
    if (h->open == NULL) {
        size_t capacity = BMSG_DATA_HEADER_BYTES + need;
        if (capacity < BRIDGE_BATCH_BYTES)
            capacity = BRIDGE_BATCH_BYTES;
        bridge_frame_t *f = malloc(sizeof *f + capacity);
        if (f == NULL)
            return ARI_ENOMEM;
        f->next = NULL;
        f->capacity = capacity;
        f->length = BMSG_DATA_HEADER_BYTES;
        h->open = f;
    }
    bridge_frame_t *f = h->open;
    f->length += bmsg_encode_record(f->bytes + f->length, f->capacity - f->length, ring, bytes,
                                    length);
    return ARI_OK;
}

static void bridge_control_send(bridge_t *b, uint32_t dst, const bmsg_control_t *control)
{
    uint8_t bytes[BMSG_CONTROL_BYTES_MAX];
    size_t n = bmsg_encode_control(bytes, sizeof bytes, control);
    if (bridge_record_add(b, dst, BMSG_RING_CONTROL, bytes, (uint32_t)n) != ARI_OK)
        bridge_log(b, "out of memory for a control message to host %s%s", bridge_name(b, dst), "");
}

static void bridge_control_all(bridge_t *b, const bmsg_control_t *control)
{
    for (uint32_t h = 0; h < b->hosts; h++) {
        if (h != b->self && !b->host[h].lost)
            bridge_control_send(b, h, control);
    }
}

/* ------------------------------------------------------------------------
 * Routes: link-state over the links that are up
 * ------------------------------------------------------------------------ */

static bool bridge_lsa_has(const bridge_host_t *h, uint32_t host)
{
    for (uint32_t i = 0; i < h->lsa_count; i++) {
        if (h->lsa[i] == host)
            return true;
    }
    return false;
}

/* Host `origin`'s link-state, to neighbour `to`. */
static void bridge_lsa_send(bridge_t *b, uint32_t origin, uint32_t to)
{
    bridge_host_t *o = &b->host[origin];
    size_t size = BMSG_HEADER_BYTES + 16 + (size_t)o->lsa_count * 4;
    uint8_t *bytes = malloc(size);
    if (bytes == NULL)
        return; /* a later change floods it again */
    size_t n = bmsg_encode_lsa(bytes, size, origin, o->lsa_seq, o->lsa, o->lsa_count);
    bridge_link_send(b, to, bytes, n);
    free(bytes);
}

static void bridge_lsa_flood(bridge_t *b, uint32_t origin, uint32_t except)
{
    for (uint32_t h = 0; h < b->hosts; h++) {
        if (h != except && b->host[h].neighbour && b->host[h].state == BRIDGE_LINK_UP)
            bridge_lsa_send(b, origin, h);
    }
}

/* BFS from here over links both ends say are up; a host whose first hop
 * changed gets every unacknowledged frame again on the new route (its
 * bridge drops what it has already). */
static void bridge_routes(bridge_t *b, bool log)
{
    uint32_t *queue = malloc(b->hosts * sizeof *queue), *first = malloc(b->hosts * sizeof *first);
    uint32_t *hops = malloc(b->hosts * sizeof *hops);
    if (queue == NULL || first == NULL || hops == NULL) {
        free(queue);
        free(first);
        free(hops);
        return;
    }
    for (uint32_t h = 0; h < b->hosts; h++)
        first[h] = BRIDGE_NONE;
    uint32_t head = 0, tail = 0;
    queue[tail++] = b->self;
    first[b->self] = b->self;
    hops[b->self] = 0;
    while (head < tail) {
        uint32_t u = queue[head++];
        const bridge_host_t *hu = &b->host[u];
        for (uint32_t i = 0; i < hu->lsa_count; i++) {
            uint32_t v = hu->lsa[i];
            if (v >= b->hosts || first[v] != BRIDGE_NONE || !bridge_lsa_has(&b->host[v], u))
                continue;
            first[v] = u == b->self ? v : first[u];
            hops[v] = hops[u] + 1;
            queue[tail++] = v;
        }
    }
    uint64_t now = bridge_now_ns();
    for (uint32_t d = 0; d < b->hosts; d++) {
        bridge_host_t *h = &b->host[d];
        if (d == b->self || first[d] == h->hop)
            continue;
        uint32_t before = h->hop, hops_before = h->hops;
        h->hop = first[d];
        h->hops = h->hop != BRIDGE_NONE ? hops[d] : 0;
        uint32_t resent = 0;
        for (bridge_frame_t *f = h->head; f != h->unsent; f = f->next)
            resent++;
        h->unsent = h->head;
        h->progress_ns = now;
        /* Said when a failure forced it: a longer route, or frames to send
         * again. A link coming up (a route as short or shorter, nothing in
         * flight) is no news. */
        bool forced = h->hops > hops_before || resent > 0;
        if (log && forced && atomic_load(&b->ready) && h->hop != BRIDGE_NONE &&
            before != BRIDGE_NONE && !b->finish_sent &&
            !h->finished && !b->host[before].finished) {
            char text[128];
            snprintf(text, sizeof text, "%s now (rerouted, %u frame%s resent)",
                     bridge_name(b, h->hop), resent, resent == 1 ? "" : "s");
            bridge_log(b, "traffic to host %s goes through host %s", bridge_name(b, d), text);
        }
        if (h->hop == BRIDGE_NONE && h->unreachable_ns == 0)
            h->unreachable_ns = now;
        if (h->hop != BRIDGE_NONE)
            h->unreachable_ns = 0;
    }
    free(queue);
    free(first);
    free(hops);
}

/* Our own links changed: a new link-state, flooded, and new routes. */
static void bridge_links_changed(bridge_t *b)
{
    bridge_host_t *me = &b->host[b->self];
    me->lsa_count = 0;
    for (uint32_t h = 0; h < b->hosts; h++) {
        if (b->host[h].neighbour && b->host[h].state == BRIDGE_LINK_UP)
            me->lsa[me->lsa_count++] = h;
    }
    me->lsa_seq = ++b->lsa_seq;
    bridge_lsa_flood(b, b->self, BRIDGE_NONE);
    bridge_routes(b, true);
}

/* ------------------------------------------------------------------------
 * Links: up, down, handshakes
 * ------------------------------------------------------------------------ */

static void bridge_link_down(bridge_t *b, uint32_t peer, const char *why)
{
    bridge_host_t *h = &b->host[peer];
    bool was_up = h->state == BRIDGE_LINK_UP;
    if (h->conn != BRIDGE_NONE) {
        link_close(b->net, h->conn);
        b->conn_host[h->conn] = BRIDGE_NONE;
    }
    h->conn = BRIDGE_NONE;
    h->state = BRIDGE_LINK_DOWN;
    uint64_t now = bridge_now_ns();
    h->dial_ns = now + b->beat_ns;
    if (!was_up)
        return;
    h->down_ns = now;
    if (!b->finish_sent && !h->finished) /* hosts leaving at the end close their links */
        bridge_log(b, "link to host %s down (%s)", bridge_name(b, peer), why);
    bridge_links_changed(b);
}

static void bridge_link_up(bridge_t *b, uint32_t peer)
{
    bridge_host_t *h = &b->host[peer];
    h->state = BRIDGE_LINK_UP;
    h->heard_ns = h->sent_ns = bridge_now_ns();
    if (h->was_up)
        bridge_log(b, "link to host %s up again%s", bridge_name(b, peer), "");
    h->was_up = true;
    /* The new neighbour learns every link-state we know. */
    for (uint32_t o = 0; o < b->hosts; o++) {
        if (o != b->self && b->host[o].lsa_seq > 0)
            bridge_lsa_send(b, o, peer);
    }
    bridge_links_changed(b);
}

static void bridge_send_small(bridge_t *b, uint32_t conn, const uint8_t *bytes, size_t n)
{
    if (n > 0)
        link_send(b->net, conn, bytes, n);
}

static void bridge_dial(bridge_t *b, uint32_t peer, uint64_t now)
{
    bridge_host_t *h = &b->host[peer];
    char error[256];
    uint32_t conn;
    h->dial_ns = now + b->beat_ns;
    int status = link_connect(b->net, h->endpoint.addr, h->endpoint.port,
                              (int)b->heartbeat_ms, &conn, error, sizeof error);
    if (status != ARI_OK)
        return; /* tried again after a beat */
    h->conn = conn;
    h->state = BRIDGE_LINK_DIALING;
    b->conn_host[conn] = peer;
}

/* A connection we accepted said HELLO: who is it? */
static void bridge_hello_in(bridge_t *b, uint32_t conn, const bmsg_t *m)
{
    uint32_t peer = m->host;
    const char *from = link_peer_name(b->net, conn);
    if (m->hosts != b->hosts || peer >= b->hosts || !b->host[peer].neighbour ||
        b->host[peer].dialer || peer == b->self) {
        bridge_log(b, "refused a link from %s: %s", from,
                   "it is not a neighbour of this host in this run");
        link_close(b->net, conn);
        b->conn_host[conn] = BRIDGE_NONE;
        return;
    }
    bridge_host_t *h = &b->host[peer];
    if (h->conn != BRIDGE_NONE)
        bridge_link_down(b, peer, "it connected again");
    h->conn = conn;
    b->conn_host[conn] = peer;
    memcpy(h->nonce_peer, m->nonce, BMSG_NONCE_BYTES);
    bridge_random(h->nonce_mine, BMSG_NONCE_BYTES);
    uint8_t bytes[BRIDGE_SMALL_BYTES], mac[BMSG_MAC_BYTES];
    bridge_send_small(b, conn, bytes,
                      bmsg_encode_hello(bytes, sizeof bytes, b->self, b->hosts, h->nonce_mine));
    bridge_proof(b, h, peer, false, mac);
    bridge_send_small(b, conn, bytes, bmsg_encode_proof(bytes, sizeof bytes, mac));
    h->state = BRIDGE_LINK_PROOF;
    h->heard_ns = bridge_now_ns();
}

/* A handshake message on a link that is not up yet. */
static void bridge_handshake(bridge_t *b, uint32_t peer, const bmsg_t *m)
{
    bridge_host_t *h = &b->host[peer];
    const char *from = link_peer_name(b->net, h->conn);
    if (h->dialer && h->state == BRIDGE_LINK_HELLO && m->type == BMSG_HELLO) {
        if (m->host != peer || m->hosts != b->hosts) {
            bridge_log(b, "host at %s is not the one expected there (%s)", from,
                       bridge_name(b, peer));
            bridge_link_down(b, peer, "wrong host");
            return;
        }
        memcpy(h->nonce_peer, m->nonce, BMSG_NONCE_BYTES);
        h->state = BRIDGE_LINK_PROOF;
        return;
    }
    if (h->state == BRIDGE_LINK_PROOF && m->type == BMSG_PROOF) {
        if (!bridge_proof_ok(b, h, peer, !h->dialer, m->mac)) {
            bridge_log(b, "refused the link with %s: its proof does not verify (it does not "
                          "hold the cluster key); it learned nothing", from, "");
            bridge_link_down(b, peer, "refused");
            return;
        }
        if (h->dialer) {
            uint8_t bytes[BRIDGE_SMALL_BYTES], mac[BMSG_MAC_BYTES];
            bridge_proof(b, h, peer, true, mac);
            bridge_send_small(b, h->conn, bytes, bmsg_encode_proof(bytes, sizeof bytes, mac));
        }
        if (bridge_seal_start(b, h, peer) != ARI_OK) {
            bridge_link_down(b, peer, "cannot derive its session key");
            return;
        }
        bridge_link_up(b, peer);
        return;
    }
    bridge_log(b, "link with %s: an unexpected message during the handshake%s", from, "");
    bridge_link_down(b, peer, "handshake broken");
}

/* ------------------------------------------------------------------------
 * Receiving
 * ------------------------------------------------------------------------ */

static void bridge_ending_set(bridge_t *b, uint32_t node)
{
    uint32_t expected = 0;
    atomic_compare_exchange_strong(&b->ctl->ending, &expected, node + 1);
    b->ending_known = true;
    for (uint32_t n = 0; n < b->ctl->nodes; n++) {
        if (b->config.host_of[n] == b->self)
            bell_ring(&ctl_node(b->ctl, n)->bell);
    }
}

static void bridge_control_in(bridge_t *b, uint32_t src, const bmsg_control_t *c)
{
    uint32_t nodes = b->ctl->nodes;
    switch (c->kind) {
    case BMSG_CONTROL_STATE:
        if (c->node < nodes && b->config.host_of[c->node] == src && c->value <= CTL_NODE_DEAD &&
            c->value > atomic_load(&ctl_node(b->ctl, c->node)->state))
            atomic_store(&ctl_node(b->ctl, c->node)->state, c->value);
        return;
    case BMSG_CONTROL_DRAINED:
        if (c->value <= nodes) {
            b->drained_remote += c->value;
            atomic_fetch_add(&b->ctl->drained, c->value);
        }
        return;
    case BMSG_CONTROL_ENDING:
        if (c->node >= nodes)
            return;
        if (!b->ending_known) {
            char text[64], pages[160];
            snprintf(text, sizeof text, "%u (on host %s)", c->node,
                     bridge_name(b, b->config.host_of[c->node]));
            snprintf(pages, sizeof pages, "0x%llx to 0x%llx",
                     (unsigned long long)(HEAP_BASE + c->node * HEAP_SLOT_BYTES),
                     (unsigned long long)(HEAP_BASE + (c->node + 1) * HEAP_SLOT_BYTES));
            bridge_log(b, "node %s left the run without ari_finalize; the pages it owned are "
                          "lost (born there: %s, and any whose ownership moved there); ending "
                          "the run", text, pages);
        }
        bridge_ending_set(b, c->node);
        return;
    case BMSG_CONTROL_FINISHED:
        b->host[src].finished = true;
        return;
    }
}

/* Puts one message into an IN ring here, behind any it holds already. */
static void bridge_ring_fill(bridge_t *b, uint32_t ring, const uint8_t *bytes, uint32_t length)
{
    if (b->hold_head[ring] == NULL &&
        shmring_push(ctl_ring(b->ctl, ring), bytes, length) == ARI_OK) {
        ctl_wake(b->ctl, b->ring_node[ring]);
        return;
    }
    bridge_hold_t *hold = malloc(sizeof *hold + length);
    if (hold == NULL) {
        bridge_log(b, "out of memory holding a message for a ring%s%s", "", "");
        bridge_ending_set(b, b->ring_node[ring]);
        return;
    }
    hold->next = NULL;
    hold->length = length;
    memcpy(hold->bytes, bytes, length);
    if (b->hold_tail[ring] != NULL)
        b->hold_tail[ring]->next = hold;
    else
        b->hold_head[ring] = hold;
    b->hold_tail[ring] = hold;
    b->hold_bytes += length;
}

static void bridge_data_in(bridge_t *b, const bmsg_t *m)
{
    bridge_host_t *h = &b->host[m->src];
    h->ack_due = true;
    if (m->seq != h->received + 1 || b->hold_bytes > BRIDGE_HOLD_BYTES)
        return; /* a copy (seq below), a gap, or no room: its sender resends */
    h->received = m->seq;
    size_t offset = 0;
    bmsg_record_t r;
    while (bmsg_record_next(m, &offset, &r)) {
        if (r.ring == BMSG_RING_CONTROL) {
            bmsg_control_t c;
            if (bmsg_control_decode(r.bytes, r.length, &c) == ARI_OK)
                bridge_control_in(b, m->src, &c);
        } else if (r.ring < b->ring_count && b->ring_kind[r.ring] == BRIDGE_RING_IN &&
                   b->ring_host[r.ring] == m->src) {
            bridge_ring_fill(b, r.ring, r.bytes, r.length);
        } else if (b->malformed++ == 0) {
            bridge_log(b, "host %s sent a message for a ring it has no link to; dropped "
                          "(do both hosts run the same topology?)%s", bridge_name(b, m->src), "");
        }
    }
}

static void bridge_ack_in(bridge_t *b, const bmsg_t *m)
{
    bridge_host_t *h = &b->host[m->src];
    if (m->seq <= h->acked || m->seq > h->send_seq)
        return;
    h->acked = m->seq;
    h->progress_ns = bridge_now_ns();
    while (h->head != NULL && h->head->seq <= m->seq) {
        bridge_frame_t *f = h->head;
        h->head = f->next;
        if (h->unsent == f)
            h->unsent = f->next;
        h->unacked_bytes -= f->length;
        free(f);
    }
    if (h->head == NULL)
        h->tail = NULL;
}

static void bridge_lsa_in(bridge_t *b, uint32_t from, const bmsg_t *m)
{
    if (m->origin >= b->hosts || m->origin == b->self)
        return;
    bridge_host_t *o = &b->host[m->origin];
    if (m->seq <= o->lsa_seq)
        return;
    o->lsa_seq = m->seq;
    o->lsa_count = 0;
    for (uint32_t i = 0; i < m->count && o->lsa_count < b->hosts; i++) {
        const uint8_t *p = m->list + 4 * i;
        uint32_t host = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                        (uint32_t)p[3] << 24;
        if (host < b->hosts)
            o->lsa[o->lsa_count++] = host;
    }
    bridge_lsa_flood(b, m->origin, from);
    bridge_routes(b, true);
}

/* A message on an established link from neighbour `peer`. */
static void bridge_message_in(bridge_t *b, uint32_t peer, const uint8_t *bytes, size_t length)
{
    bridge_host_t *h = &b->host[peer];
    h->heard_ns = bridge_now_ns();
    if (b->config.seal && h->state == BRIDGE_LINK_UP) {
        char error[160];
        size_t plain;
        if (length > b->scratch_size ||
            cluster_session_open(&h->session, bytes, length, b->scratch_in, b->scratch_size,
                                 &plain, error, sizeof error) != ARI_OK) {
            bridge_link_down(b, peer, "a message that does not authenticate");
            return;
        }
        bytes = b->scratch_in;
        length = plain;
    }
    bmsg_t m;
    int status = bmsg_decode(bytes, length, &m);
    if (status != ARI_OK) {
        bridge_log(b, "link to host %s carried a malformed message (%s); closing it",
                   bridge_name(b, peer), ari_strerror(status));
        bridge_link_down(b, peer, "malformed message");
        return;
    }
    if (h->state != BRIDGE_LINK_UP) {
        bridge_handshake(b, peer, &m);
        return;
    }
    if (m.type == BMSG_LSA) {
        bridge_lsa_in(b, peer, &m);
    } else if ((m.type == BMSG_DATA || m.type == BMSG_ACK) && m.dst != b->self) {
        if (m.dst >= b->hosts || m.src >= b->hosts ||
            bridge_route_send(b, m.dst, bytes, length) != ARI_OK)
            b->relay_drops++; /* resent end to end */
    } else if (m.type == BMSG_DATA && m.src < b->hosts) {
        bridge_data_in(b, &m);
    } else if (m.type == BMSG_ACK && m.src < b->hosts) {
        bridge_ack_in(b, &m);
    } else if (m.type != BMSG_BEAT) {
        bridge_link_down(b, peer, "an unexpected message");
    }
}

static void bridge_on_accepted(void *ctx, uint32_t conn, const char *peer_name)
{
    bridge_t *b = ctx;
    (void)peer_name;
    b->conn_host[conn] = BRIDGE_PENDING;
    b->conn_since[conn] = bridge_now_ns();
}

static void bridge_on_connected(void *ctx, uint32_t conn)
{
    bridge_t *b = ctx;
    uint32_t peer = b->conn_host[conn];
    if (peer >= b->hosts)
        return;
    bridge_host_t *h = &b->host[peer];
    bridge_random(h->nonce_mine, BMSG_NONCE_BYTES);
    uint8_t bytes[BRIDGE_SMALL_BYTES];
    bridge_send_small(b, conn, bytes,
                      bmsg_encode_hello(bytes, sizeof bytes, b->self, b->hosts, h->nonce_mine));
    h->state = BRIDGE_LINK_HELLO;
    h->heard_ns = bridge_now_ns();
}

static void bridge_on_received(void *ctx, uint32_t conn, const uint8_t *bytes, size_t length)
{
    bridge_t *b = ctx;
    uint32_t peer = b->conn_host[conn];
    if (peer == BRIDGE_PENDING) {
        bmsg_t m;
        if (bmsg_decode(bytes, length, &m) != ARI_OK || m.type != BMSG_HELLO) {
            bridge_log(b, "refused a link from %s: %s", link_peer_name(b->net, conn),
                       "its first message is not a well-formed HELLO");
            link_close(b->net, conn);
            b->conn_host[conn] = BRIDGE_NONE;
            return;
        }
        bridge_hello_in(b, conn, &m);
        return;
    }
    if (peer < b->hosts)
        bridge_message_in(b, peer, bytes, length);
}

static void bridge_on_closed(void *ctx, uint32_t conn, int status, const char *why)
{
    bridge_t *b = ctx;
    (void)status;
    uint32_t peer = b->conn_host[conn];
    b->conn_host[conn] = BRIDGE_NONE;
    if (peer >= b->hosts)
        return;
    b->host[peer].conn = BRIDGE_NONE; /* the id is gone: no link_close for it */
    bridge_link_down(b, peer, why);
}

/* ------------------------------------------------------------------------
 * The rings and the control region
 * ------------------------------------------------------------------------ */

/* Messages nodes here put in rings toward other hosts go into frames. */
static uint32_t bridge_rings_read(bridge_t *b)
{
    uint32_t moved = 0;
    for (uint32_t i = 0; i < b->out_count; i++) {
        uint32_t ring = b->out_rings[i], dst = b->ring_host[ring];
        shmring_t *r = ctl_ring(b->ctl, ring);
        while (b->host[dst].unacked_bytes < BRIDGE_WINDOW_BYTES) {
            const uint8_t *bytes;
            long length = shmring_peek(r, &bytes);
            if (length == 0)
                break;
            if (length < 0) {
                bridge_log(b, "a ring here holds malformed data (%s); ending the run%s",
                           ari_strerror((int)length), "");
                bridge_ending_set(b, b->ring_node[ring]);
                break;
            }
            if (b->host[dst].lost || bridge_record_add(b, dst, ring, bytes,
                                                       (uint32_t)length) == ARI_OK) {
                shmring_pop(r);
                moved++;
            } else {
                break;
            }
        }
    }
    for (uint32_t d = 0; d < b->hosts; d++)
        bridge_frame_close(b, d);
    return moved;
}

static uint32_t bridge_holds_drain(bridge_t *b)
{
    uint32_t moved = 0;
    if (b->hold_bytes == 0)
        return 0;
    for (uint32_t ring = 0; ring < b->ring_count; ring++) {
        bool pushed = false;
        while (b->hold_head[ring] != NULL) {
            bridge_hold_t *hold = b->hold_head[ring];
            if (shmring_push(ctl_ring(b->ctl, ring), hold->bytes, hold->length) != ARI_OK)
                break;
            b->hold_head[ring] = hold->next;
            if (hold->next == NULL)
                b->hold_tail[ring] = NULL;
            b->hold_bytes -= hold->length;
            free(hold);
            pushed = true;
            moved++;
        }
        if (pushed)
            ctl_wake(b->ctl, b->ring_node[ring]);
    }
    return moved;
}

/* What the nodes here did that the other hosts must learn. */
static uint32_t bridge_ctl_watch(bridge_t *b)
{
    uint32_t work = 0;
    for (uint32_t n = 0; n < b->ctl->nodes; n++) {
        if (b->config.host_of[n] != b->self)
            continue;
        uint32_t state = atomic_load(&ctl_node(b->ctl, n)->state);
        if (state != b->last_state[n]) {
            b->last_state[n] = state;
            bmsg_control_t c = {BMSG_CONTROL_STATE, n, state};
            bridge_control_all(b, &c);
            work++;
        }
    }
    uint32_t drained = atomic_load(&b->ctl->drained) - b->drained_remote;
    if (drained != b->drained_sent) {
        bmsg_control_t c = {BMSG_CONTROL_DRAINED, 0, drained - b->drained_sent};
        b->drained_sent = drained;
        bridge_control_all(b, &c);
        work++;
    }
    uint32_t ending = atomic_load(&b->ctl->ending);
    if (ending != 0 && !b->ending_known) {
        b->ending_known = true;
        bmsg_control_t c = {BMSG_CONTROL_ENDING, ending - 1, 0};
        bridge_control_all(b, &c);
        work++;
    }
    if (atomic_load(&b->finishing) && !b->finish_sent) {
        b->finish_sent = true;
        bmsg_control_t c = {BMSG_CONTROL_FINISHED, 0, 0};
        bridge_control_all(b, &c);
        work++;
    }
    return work;
}

/* ------------------------------------------------------------------------
 * Time: heartbeats, dials, resends, lost hosts
 * ------------------------------------------------------------------------ */

static void bridge_host_lost(bridge_t *b, uint32_t d, uint64_t now)
{
    bridge_host_t *h = &b->host[d];
    h->lost = true;
    if (h->finished || atomic_load(&b->done))
        return;
    uint32_t first = BRIDGE_NONE, last = 0;
    for (uint32_t n = 0; n < b->ctl->nodes; n++) {
        if (b->config.host_of[n] == d) {
            first = first == BRIDGE_NONE ? n : first;
            last = n;
        }
    }
    if (first == BRIDGE_NONE)
        return;
    char text[256];
    snprintf(text, sizeof text,
             "no link has reached it for %" PRIu64 " ms; its nodes %u to %u are lost, with "
             "the pages they owned (born there: 0x%llx to 0x%llx, and any whose ownership "
             "moved there); ending the run",
             (now - h->unreachable_ns) / 1000000, first, last,
             (unsigned long long)(HEAP_BASE + first * HEAP_SLOT_BYTES),
             (unsigned long long)(HEAP_BASE + (last + 1) * HEAP_SLOT_BYTES));
    bridge_log(b, "host %s is lost: %s", bridge_name(b, d), text);
    if (!b->ending_known) {
        bmsg_control_t c = {BMSG_CONTROL_ENDING, first, 0};
        bridge_control_all(b, &c);
    }
    bridge_ending_set(b, first);
}

static void bridge_timers(bridge_t *b, uint64_t now)
{
    uint8_t beat[BMSG_HEADER_BYTES];
    size_t beat_size = bmsg_encode_beat(beat, sizeof beat);
    for (uint32_t p = 0; p < b->hosts; p++) {
        bridge_host_t *h = &b->host[p];
        if (h->neighbour && h->state == BRIDGE_LINK_UP) {
            if (now - h->heard_ns > b->silence_ns) {
                char why[64];
                snprintf(why, sizeof why, "nothing heard for %" PRIu64 " ms",
                         (now - h->heard_ns) / 1000000);
                bridge_link_down(b, p, why);
            } else if (now - h->sent_ns >= b->beat_ns) {
                bridge_link_send(b, p, beat, beat_size);
            }
        } else if (h->neighbour && h->state != BRIDGE_LINK_DOWN && h->state != BRIDGE_LINK_DIALING &&
                   now - h->heard_ns > BRIDGE_HANDSHAKE_NS) {
            bridge_link_down(b, p, "its handshake took too long");
        }
        if (h->neighbour && h->dialer && h->state == BRIDGE_LINK_DOWN && now >= h->dial_ns &&
            !h->lost)
            bridge_dial(b, p, now);
        /* Frames sent and not acknowledged for two silences: resent. */
        if (h->head != NULL && h->unsent != h->head && now - h->progress_ns > 2 * b->silence_ns) {
            h->unsent = h->head;
            h->progress_ns = now;
        }
        if (p != b->self && atomic_load(&b->ready) && h->hop == BRIDGE_NONE && !h->lost &&
            h->unreachable_ns != 0 && now - h->unreachable_ns > 2 * b->silence_ns)
            bridge_host_lost(b, p, now);
    }
    for (uint32_t c = 0; c < LINK_CONNS_MAX; c++) {
        if (b->conn_host[c] == BRIDGE_PENDING && now - b->conn_since[c] > BRIDGE_HANDSHAKE_NS) {
            bridge_log(b, "dropped %s: %s", link_peer_name(b->net, c),
                       "it did not finish its handshake in time");
            link_close(b->net, c);
            b->conn_host[c] = BRIDGE_NONE;
        }
    }
}

static void bridge_acks_send(bridge_t *b)
{
    uint8_t bytes[BMSG_DATA_HEADER_BYTES];
    for (uint32_t s = 0; s < b->hosts; s++) {
        bridge_host_t *h = &b->host[s];
        if (!h->ack_due)
            continue;
        size_t n = bmsg_encode_ack(bytes, sizeof bytes, b->self, s, h->received);
        if (bridge_route_send(b, s, bytes, n) == ARI_OK)
            h->ack_due = false;
    }
}

static void bridge_ready_check(bridge_t *b)
{
    for (uint32_t h = 0; h < b->hosts; h++) {
        if (h == b->self)
            continue;
        if ((b->host[h].neighbour && b->host[h].state != BRIDGE_LINK_UP) ||
            b->host[h].hop == BRIDGE_NONE) {
            atomic_store(&b->unready, h);
            return;
        }
    }
    atomic_store(&b->ready, true);
}

static bool bridge_all_done(const bridge_t *b)
{
    for (uint32_t h = 0; h < b->hosts; h++) {
        const bridge_host_t *x = &b->host[h];
        if (h != b->self && !x->lost && (!x->finished || x->head != NULL || x->open != NULL))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------------
 * The thread
 * ------------------------------------------------------------------------ */

static uint32_t bridge_turn(bridge_t *b)
{
    int events = link_progress(b->net);
    uint32_t work = events > 0 ? (uint32_t)events : 0;
    work += bridge_ctl_watch(b);
    work += bridge_rings_read(b);
    work += bridge_holds_drain(b);
    uint64_t now = bridge_now_ns();
    bridge_timers(b, now);
    for (uint32_t d = 0; d < b->hosts; d++) {
        bridge_frame_close(b, d);
        if (d != b->self)
            work += bridge_push(b, d);
    }
    bridge_acks_send(b);
    if (!atomic_load(&b->ready))
        bridge_ready_check(b);
    if (b->finish_sent && bridge_all_done(b))
        atomic_store(&b->done, true);
    return work;
}

/* Work waiting in rings we read (with room to send it). */
static bool bridge_rings_busy(const bridge_t *b)
{
    for (uint32_t i = 0; i < b->out_count; i++) {
        uint32_t ring = b->out_rings[i];
        if (!shmring_empty(ctl_ring(b->ctl, ring)) &&
            b->host[b->ring_host[ring]].unacked_bytes < BRIDGE_WINDOW_BYTES)
            return true;
    }
    return false;
}

static void bridge_sleep(bridge_t *b)
{
    atomic_exchange(&b->ctl->agent_polling, 0); /* seq_cst: before we look at the rings */
    if (!bridge_rings_busy(b) && link_arm(b->net)) {
        int timeout = (int)(b->beat_ns / 1000000);
        if (timeout > BRIDGE_SLEEP_MAX_MS)
            timeout = BRIDGE_SLEEP_MAX_MS;
        if (b->hold_bytes > 0)
            timeout = 1; /* nobody tells us when a ring here has room again */
        struct pollfd fds[2] = {{.fd = b->efd, .events = POLLIN},
                                {.fd = link_net_fd(b->net), .events = POLLIN}};
        if (poll(fds, 2, timeout) > 0 && (fds[0].revents & POLLIN)) {
            eventfd_t value;
            eventfd_read(b->efd, &value);
        }
    }
    atomic_store(&b->ctl->agent_polling, 1);
}

static void *bridge_main(void *arg)
{
    bridge_t *b = arg;
    uint64_t spin_start = bridge_now_ns();
    atomic_store(&b->ctl->agent_polling, 1);
    while (!atomic_load(&b->stop)) {
        if (bridge_turn(b) > 0) {
            spin_start = bridge_now_ns();
            continue;
        }
        if (bridge_now_ns() - spin_start < BRIDGE_SPIN_NS) {
            sched_yield();
            continue;
        }
        bridge_sleep(b);
    }
    atomic_store(&b->ctl->agent_polling, 0);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Life
 * ------------------------------------------------------------------------ */

/* Which rings cross to other hosts, and which hosts are neighbours. */
static int bridge_rings_classify(bridge_t *b)
{
    const topo_t *t = b->topo;
    b->ring_count = t->offsets[t->nodes];
    b->ring_kind = calloc(b->ring_count + 1, 1);
    b->ring_host = calloc(b->ring_count + 1, sizeof *b->ring_host);
    b->ring_node = calloc(b->ring_count + 1, sizeof *b->ring_node);
    b->out_rings = calloc(b->ring_count + 1, sizeof *b->out_rings);
    b->hold_head = calloc(b->ring_count + 1, sizeof *b->hold_head);
    b->hold_tail = calloc(b->ring_count + 1, sizeof *b->hold_tail);
    if (b->ring_kind == NULL || b->ring_host == NULL || b->ring_node == NULL ||
        b->out_rings == NULL || b->hold_head == NULL || b->hold_tail == NULL)
        return ARI_ENOMEM;
    for (uint32_t u = 0; u < t->nodes; u++) {
        for (uint32_t p = 0; p < topo_degree(t, u); p++) {
            uint32_t v = topo_neighbor(t, u, p), ring = t->offsets[u] + p;
            uint32_t hu = b->config.host_of[u], hv = b->config.host_of[v];
            if (hu == hv || (hu != b->self && hv != b->self))
                continue;
            b->ring_kind[ring] = hu == b->self ? BRIDGE_RING_OUT : BRIDGE_RING_IN;
            b->ring_host[ring] = hu == b->self ? hv : hu;
            b->ring_node[ring] = hu == b->self ? u : v; /* the node here */
            if (hu == b->self)
                b->out_rings[b->out_count++] = ring;
            uint32_t other = hu == b->self ? hv : hu;
            b->host[other].neighbour = true;
            b->host[other].dialer = b->self < other;
        }
    }
    return ARI_OK;
}

int bridge_open(const bridge_config_t *config, const topo_t *topo, bridge_t **bridge_out,
                char *error, size_t error_size)
{
    int status = cluster_crypto_init(error, error_size);
    if (status != ARI_OK)
        return status;
    if (config->hosts == 0 || config->hosts > BMSG_HOSTS_MAX || config->self >= config->hosts) {
        snprintf(error, error_size, "host %u of %u is not a host of the run", config->self,
                 config->hosts);
        return ARI_EINVAL;
    }
    bridge_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return ARI_ENOMEM;
    b->config = *config;
    b->topo = topo;
    b->hosts = config->hosts;
    b->self = config->self;
    b->efd = -1;
    b->heartbeat_ms = config->heartbeat_ms != 0 ? config->heartbeat_ms : BRIDGE_HEARTBEAT_MS_DEFAULT;
    b->silence_ns = (uint64_t)b->heartbeat_ms * 1000000ull;
    b->beat_ns = b->silence_ns / 5;
    for (uint32_t c = 0; c < LINK_CONNS_MAX; c++)
        b->conn_host[c] = BRIDGE_NONE;
    b->host = calloc(b->hosts, sizeof *b->host);
    b->last_state = calloc(topo->nodes, sizeof *b->last_state);
    b->scratch_size = LINK_MESSAGE_MAX + CLUSTER_SEAL_OVERHEAD;
    b->scratch = config->seal ? malloc(b->scratch_size) : NULL;
    b->scratch_in = config->seal ? malloc(b->scratch_size) : NULL;
    status = b->host == NULL || b->last_state == NULL ||
                     (config->seal && (b->scratch == NULL || b->scratch_in == NULL))
                 ? ARI_ENOMEM : ARI_OK;
    for (uint32_t h = 0; status == ARI_OK && h < b->hosts; h++) {
        b->host[h].hop = BRIDGE_NONE;
        b->host[h].conn = BRIDGE_NONE;
        if ((b->host[h].lsa = calloc(b->hosts, sizeof *b->host[h].lsa)) == NULL)
            status = ARI_ENOMEM;
    }
    b->host[b->self].hop = b->self;
    if (status == ARI_OK)
        status = bridge_rings_classify(b);
    if (status == ARI_OK && (b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        status = ARI_EIO;
    if (status != ARI_OK) {
        snprintf(error, error_size, "cannot set up the links to other hosts: %s",
                 ari_strerror(status));
        bridge_close(b);
        return status;
    }
    link_events_t events = {b, bridge_on_accepted, bridge_on_connected, bridge_on_received,
                            bridge_on_closed};
    status = link_net_open(config->transport, config->listen_addr, config->listen_port, &events,
                           &b->net, error, error_size);
    if (status != ARI_OK) {
        bridge_close(b);
        return status;
    }
    *bridge_out = b;
    return ARI_OK;
}

uint16_t bridge_port(const bridge_t *b) { return link_net_port(b->net); }
int bridge_agent_fd(const bridge_t *b) { return b->efd; }

int bridge_start(bridge_t *b, ctl_header_t *ctl, const cluster_table_t *table, char *error,
                 size_t error_size)
{
    if (table->count != b->hosts || ctl->nodes != b->topo->nodes ||
        ctl->ring_count != b->ring_count) {
        snprintf(error, error_size, "the join's table (%u hosts) or the control region (%u "
                 "nodes, %u rings) does not match this run", table->count, ctl->nodes,
                 ctl->ring_count);
        return ARI_EINVAL;
    }
    if (b->config.seal && shmring_message_max(ctl->ring_capacity) + BMSG_DATA_HEADER_BYTES +
                              BMSG_RECORD_HEADER_BYTES > CLUSTER_SEAL_PLAIN_MAX) {
        snprintf(error, error_size, "--seal carries at most %zu bytes a message; rings of "
                 "%llu bytes carry more (use a smaller --ring)", (size_t)CLUSTER_SEAL_PLAIN_MAX,
                 (unsigned long long)ctl->ring_capacity);
        return ARI_EINVAL;
    }
    b->ctl = ctl;
    for (uint32_t n = 0; n < ctl->nodes; n++)
        atomic_store(&ctl_node(ctl, n)->remote, b->config.host_of[n] != b->self);
    for (uint32_t h = 0; h < b->hosts; h++)
        b->host[h].endpoint = table->entries[h];
    b->started_ns = bridge_now_ns();
    bridge_links_changed(b);
    if (pthread_create(&b->thread, NULL, bridge_main, b) != 0) {
        snprintf(error, error_size, "cannot start the agent's thread");
        return ARI_ENOMEM;
    }
    b->thread_started = true;
    return ARI_OK;
}

int bridge_wait_ready(bridge_t *b, uint32_t timeout_ms, char *error, size_t error_size)
{
    uint64_t limit = bridge_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (!atomic_load(&b->ready)) {
        if (bridge_now_ns() >= limit) {
            uint32_t h = atomic_load(&b->unready);
            snprintf(error, error_size, "host %s was not reached within %u ms (is its agent "
                     "running, and its address %s:%u reachable from here?)",
                     bridge_name(b, h), timeout_ms, b->host[h].endpoint.addr,
                     b->host[h].endpoint.port);
            return ARI_ETIMEDOUT;
        }
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    return ARI_OK;
}

void bridge_finish(bridge_t *b, uint32_t linger_ms)
{
    if (!b->thread_started)
        return;
    atomic_store(&b->finishing, true);
    eventfd_write(b->efd, 1);
    uint64_t limit = bridge_now_ns() + (uint64_t)linger_ms * 1000000ull;
    while (!atomic_load(&b->done) && bridge_now_ns() < limit) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}

static void bridge_free_frames(bridge_host_t *h)
{
    while (h->head != NULL) {
        bridge_frame_t *f = h->head;
        h->head = f->next;
        free(f);
    }
    free(h->open);
    free(h->lsa);
}

void bridge_close(bridge_t *b)
{
    if (b == NULL)
        return;
    if (b->thread_started) {
        atomic_store(&b->done, true);
        atomic_store(&b->stop, true);
        eventfd_write(b->efd, 1);
        pthread_join(b->thread, NULL);
    }
    if (b->net != NULL)
        link_net_close(b->net);
    for (uint32_t h = 0; b->host != NULL && h < b->hosts; h++)
        bridge_free_frames(&b->host[h]);
    for (uint32_t r = 0; b->hold_head != NULL && r < b->ring_count; r++) {
        while (b->hold_head[r] != NULL) {
            bridge_hold_t *hold = b->hold_head[r];
            b->hold_head[r] = hold->next;
            free(hold);
        }
    }
    if (b->efd >= 0)
        close(b->efd);
    free(b->host);
    free(b->last_state);
    free(b->scratch);
    free(b->scratch_in);
    free(b->ring_kind);
    free(b->ring_host);
    free(b->ring_node);
    free(b->out_rings);
    free(b->hold_head);
    free(b->hold_tail);
    free(b);
}
