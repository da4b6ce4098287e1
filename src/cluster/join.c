/*
 * join — the coordinator's accept loop and a node's side of the join.
 */
#include "join.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ariadne.h"
#include "crypto.h"
#include "net.h"

#ifdef ARI_HAVE_SODIUM
#include <sodium.h>

_Static_assert(CLUSTER_MAC_BYTES == crypto_auth_hmacsha512256_BYTES, "a proof is one HMAC");
_Static_assert(crypto_auth_BYTES == crypto_auth_hmacsha512256_BYTES, "crypto_auth is it");

/* Role labels end with their NUL, so neither is a prefix of the other and
 * a proof made as one role never passes as the other's. */
#define JOIN_LABEL_COORDINATOR "ariadne-join-v1 coordinator"
#define JOIN_LABEL_NODE "ariadne-join-v1 node"
#define JOIN_PROOF_KEY_BYTES crypto_auth_hmacsha512256_KEYBYTES
#define JOIN_PENDING_BYTES (CLUSTER_FRAME_HEADER_BYTES + CLUSTER_CLAIM_BODY_MAX)
#define JOIN_REFUSE_MS 100 /* how long a REFUSE may take to go out before the close */
#define JOIN_ACCEPT_PAUSE_MS 100 /* out of descriptors: how long the listener rests */

/* ------------------------------------------------------------------------
 * Proofs
 * ------------------------------------------------------------------------ */

static void join_proof_key(const cluster_key_t *key, uint8_t proof_key[JOIN_PROOF_KEY_BYTES])
{
    crypto_kdf_derive_from_key(proof_key, JOIN_PROOF_KEY_BYTES, CLUSTER_KDF_PROOF,
                               CLUSTER_KDF_CONTEXT, key->bytes);
}

/* HMAC-SHA-512-256 over label, both nonces, the node id and (for a node's
 * proof) the endpoint bytes of its CLAIM. */
static void join_proof(const uint8_t proof_key[JOIN_PROOF_KEY_BYTES], const char *label,
                       const uint8_t *nonce_node, const uint8_t *nonce_coordinator,
                       uint32_t node_id, const uint8_t *endpoint, size_t endpoint_size,
                       uint8_t mac[CLUSTER_MAC_BYTES])
{
    crypto_auth_hmacsha512256_state state;
    uint8_t id[4] = {(uint8_t)node_id, (uint8_t)(node_id >> 8), (uint8_t)(node_id >> 16),
                     (uint8_t)(node_id >> 24)};
    crypto_auth_hmacsha512256_init(&state, proof_key, JOIN_PROOF_KEY_BYTES);
    crypto_auth_hmacsha512256_update(&state, (const uint8_t *)label, strlen(label) + 1);
    crypto_auth_hmacsha512256_update(&state, nonce_node, CLUSTER_NONCE_BYTES);
    crypto_auth_hmacsha512256_update(&state, nonce_coordinator, CLUSTER_NONCE_BYTES);
    crypto_auth_hmacsha512256_update(&state, id, sizeof id);
    if (endpoint_size > 0)
        crypto_auth_hmacsha512256_update(&state, endpoint, endpoint_size);
    crypto_auth_hmacsha512256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
}

/* Compares in constant time, so timing tells a forger nothing. */
static bool join_proof_verify(const uint8_t proof_key[JOIN_PROOF_KEY_BYTES], const char *label,
                              const uint8_t *nonce_node, const uint8_t *nonce_coordinator,
                              uint32_t node_id, const uint8_t *endpoint, size_t endpoint_size,
                              const uint8_t *mac)
{
    uint8_t expected[CLUSTER_MAC_BYTES];
    join_proof(proof_key, label, nonce_node, nonce_coordinator, node_id, endpoint, endpoint_size,
               expected);
    return crypto_verify_32(expected, mac) == 0;
}

static const char *join_refuse_text(cluster_refuse_t reason)
{
    switch (reason) {
    case CLUSTER_REFUSE_PROOF:
        return "our proof did not verify there (it holds another cluster key)";
    case CLUSTER_REFUSE_NODE_RANGE:
        return "our node id is not below the run's size";
    case CLUSTER_REFUSE_NODE_TAKEN:
        return "another node has joined with our node id";
    case CLUSTER_REFUSE_MALFORMED:
        return "it found a frame of ours malformed";
    case CLUSTER_REFUSE_BUSY:
        return "too many joins were in progress there";
    }
    return "no reason given"; /* NEVER: decoding refuses unknown reasons */
}

/* ------------------------------------------------------------------------
 * The coordinator
 * ------------------------------------------------------------------------ */

typedef enum {
    JOIN_PENDING_FREE = 0,
    JOIN_PENDING_HELLO, /* accepted; waiting for the node's HELLO */
    JOIN_PENDING_CLAIM, /* challenged; waiting for its CLAIM */
} join_pending_state_t;

/* A handshake in progress. */
typedef struct {
    int fd;
    join_pending_state_t state;
    int64_t deadline_ms;
    size_t have, need; /* bytes read; the frame's size once its header is read */
    uint8_t buffer[JOIN_PENDING_BYTES];
    uint8_t nonce_node[CLUSTER_NONCE_BYTES], nonce_coordinator[CLUSTER_NONCE_BYTES];
    uint32_t node_id;
    char peer[CLUSTER_PEER_NAME_MAX];
} join_pending_t;

/* A joined node, until it has its table. */
typedef struct {
    int fd; /* -1: not joined, added locally, or done */
    cluster_session_t session;
    char peer[CLUSTER_PEER_NAME_MAX];
} join_member_t;

/* What a pollfd entry of a turn belongs to. */
#define JOIN_OWNER_LISTEN (-1)
#define JOIN_OWNER_MEMBER ((int)CLUSTER_PENDING_MAX)

struct cluster_coordinator {
    cluster_key_t key;
    uint8_t proof_key[JOIN_PROOF_KEY_BYTES];
    uint32_t nodes, joined;
    int handshake_ms;
    FILE *log;
    int listen_fd;
    int64_t accept_paused_until_ms; /* out of descriptors: the listener rests until then */
    bool accept_pause_told;
    uint16_t port;
    cluster_table_t table;  /* port 0: not joined */
    join_member_t *members; /* one a node id */
    join_pending_t pending[CLUSTER_PENDING_MAX];
    struct pollfd *polls; /* listen, pending, members: 1 + PENDING_MAX + nodes */
    int *owners;          /* JOIN_OWNER_LISTEN, a pending index, or
                           * JOIN_OWNER_MEMBER + node id */
};

__attribute__((format(printf, 3, 4))) static void
join_log(cluster_coordinator_t *coordinator, const char *peer, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(coordinator->log, "ariadne join: %s: ", peer);
    vfprintf(coordinator->log, format, args);
    fputc('\n', coordinator->log);
    fflush(coordinator->log);
    va_end(args);
}

/* Ends a handshake: logs why, tells the node the reason if there is one,
 * and closes. Nothing the handshake did is kept. */
__attribute__((format(printf, 4, 5))) static void
join_pending_drop(cluster_coordinator_t *coordinator, join_pending_t *pending,
                  cluster_refuse_t reason, const char *format, ...)
{
    char why[256];
    va_list args;
    va_start(args, format);
    vsnprintf(why, sizeof why, format, args);
    va_end(args);
    join_log(coordinator, pending->peer, "%s", why);
    if (reason != 0) {
        uint8_t frame[CLUSTER_FRAME_HEADER_BYTES + 1];
        size_t size;
        cluster_frame_t refuse = {.type = CLUSTER_FRAME_REFUSE, .reason = reason};
        if (cluster_frame_encode(&refuse, frame, sizeof frame, &size) == ARI_OK)
            cluster_net_send(pending->fd, frame, size, cluster_net_now_ms() + JOIN_REFUSE_MS);
    }
    close(pending->fd);
    sodium_memzero(pending, sizeof *pending);
    pending->fd = -1;
}

static void join_on_hello(cluster_coordinator_t *coordinator, join_pending_t *pending,
                          const cluster_frame_t *hello)
{
    memcpy(pending->nonce_node, hello->nonce, CLUSTER_NONCE_BYTES);
    pending->node_id = hello->node_id;
    randombytes_buf(pending->nonce_coordinator, CLUSTER_NONCE_BYTES);
    uint8_t mac[CLUSTER_MAC_BYTES], frame[CLUSTER_FRAME_HEADER_BYTES + 2 * CLUSTER_MAC_BYTES];
    join_proof(coordinator->proof_key, JOIN_LABEL_COORDINATOR, pending->nonce_node,
               pending->nonce_coordinator, pending->node_id, NULL, 0, mac);
    cluster_frame_t challenge = {
        .type = CLUSTER_FRAME_CHALLENGE, .nonce = pending->nonce_coordinator, .mac = mac};
    size_t size;
    int status = cluster_frame_encode(&challenge, frame, sizeof frame, &size);
    if (status == ARI_OK)
        status = cluster_net_send(pending->fd, frame, size, pending->deadline_ms);
    if (status != ARI_OK) {
        join_pending_drop(coordinator, pending, 0, "dropped: our challenge did not go out (%s)",
                          cluster_net_why(status));
        return;
    }
    pending->state = JOIN_PENDING_CLAIM;
}

/* The node's proof first: until it verifies, the claim's id and endpoint
 * are not looked at, so a peer without the key learns nothing from how
 * it is refused. */
static void join_on_claim(cluster_coordinator_t *coordinator, join_pending_t *pending,
                          const cluster_frame_t *claim)
{
    size_t endpoint_size = claim->size - CLUSTER_FRAME_HEADER_BYTES - CLUSTER_MAC_BYTES;
    uint32_t id = pending->node_id;
    if (!join_proof_verify(coordinator->proof_key, JOIN_LABEL_NODE, pending->nonce_node,
                           pending->nonce_coordinator, id,
                           pending->buffer + CLUSTER_FRAME_HEADER_BYTES, endpoint_size,
                           claim->mac)) {
        join_pending_drop(coordinator, pending, CLUSTER_REFUSE_PROOF,
                          "refused: its proof does not verify (it does not hold the "
                          "cluster key)");
        return;
    }
    if (id >= coordinator->nodes) {
        join_pending_drop(coordinator, pending, CLUSTER_REFUSE_NODE_RANGE,
                          "refused: node id %u is not below the run's %u nodes", id,
                          coordinator->nodes);
        return;
    }
    if (coordinator->table.entries[id].port != 0) {
        join_pending_drop(coordinator, pending, CLUSTER_REFUSE_NODE_TAKEN,
                          "refused: node %u has joined already (from %s)", id,
                          coordinator->members[id].peer);
        return;
    }
    cluster_endpoint_t endpoint = claim->endpoint;
    if (endpoint.addr[0] == '\0' && cluster_net_peer_addr(pending->fd, endpoint.addr) != ARI_OK) {
        join_pending_drop(coordinator, pending, 0, "dropped: its address is unknown");
        return;
    }
    join_member_t *member = &coordinator->members[id];
    char error[CLUSTER_JOIN_ERROR_MAX];
    if (cluster_session_derive(&coordinator->key, pending->nonce_node, pending->nonce_coordinator,
                               id, CLUSTER_SIDE_COORDINATOR, &member->session, error,
                               sizeof error) != ARI_OK) {
        join_pending_drop(coordinator, pending, 0, "dropped: %s", error);
        return;
    }
    member->fd = pending->fd;
    memcpy(member->peer, pending->peer, sizeof member->peer);
    coordinator->table.entries[id] = endpoint;
    coordinator->joined++;
    assert(coordinator->joined <= coordinator->nodes); /* one entry an id, checked above */
    sodium_memzero(pending, sizeof *pending);
    pending->fd = -1;
}

/* A whole frame is in the buffer. */
static void join_pending_frame(cluster_coordinator_t *coordinator, join_pending_t *pending)
{
    cluster_frame_t frame;
    int status = cluster_frame_decode(pending->buffer, pending->need, &frame);
    if (status != ARI_OK) {
        join_pending_drop(coordinator, pending, CLUSTER_REFUSE_MALFORMED, "refused: %s",
                          cluster_frame_why(status));
        return;
    }
    pending->have = pending->need = 0;
    if (frame.type == CLUSTER_FRAME_HELLO)
        join_on_hello(coordinator, pending, &frame);
    else
        join_on_claim(coordinator, pending, &frame);
}

/* Checks a header as soon as it is in: the type must be the one this
 * state waits for, whose bound keeps the frame within the buffer. */
static void join_pending_header(cluster_coordinator_t *coordinator, join_pending_t *pending)
{
    cluster_frame_type_t type,
        expected = pending->state == JOIN_PENDING_HELLO ? CLUSTER_FRAME_HELLO : CLUSTER_FRAME_CLAIM;
    size_t size;
    int status = cluster_frame_header(pending->buffer, CLUSTER_FRAME_HEADER_BYTES, &type, &size);
    if (status != ARI_OK) {
        join_pending_drop(coordinator, pending, CLUSTER_REFUSE_MALFORMED, "refused: %s",
                          cluster_frame_why(status));
        return;
    }
    if (type != expected) {
        join_pending_drop(coordinator, pending, CLUSTER_REFUSE_MALFORMED,
                          "refused: a frame of type %u where its %s belongs", (unsigned)type,
                          expected == CLUSTER_FRAME_HELLO ? "HELLO" : "CLAIM");
        return;
    }
    pending->need = size;
}

static void join_pending_read(cluster_coordinator_t *coordinator, join_pending_t *pending)
{
    size_t want = pending->need != 0 ? pending->need : CLUSTER_FRAME_HEADER_BYTES;
    ssize_t got = recv(pending->fd, pending->buffer + pending->have, want - pending->have, 0);
    if (got == 0) {
        join_pending_drop(coordinator, pending, 0, "dropped: it closed the connection %s",
                          pending->state == JOIN_PENDING_HELLO
                              ? "before its HELLO"
                              : "after our challenge (a node with another cluster key "
                                "refuses our proof)");
        return;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (got < 0) {
        join_pending_drop(coordinator, pending, 0, "dropped: %s", strerror(errno));
        return;
    }
    pending->have += (size_t)got;
    if (pending->need == 0 && pending->have == CLUSTER_FRAME_HEADER_BYTES)
        join_pending_header(coordinator, pending);
    if (pending->fd >= 0 && pending->need != 0 && pending->have == pending->need)
        join_pending_frame(coordinator, pending);
}

/* A joined node has nothing to say until its table: readable means it
 * hung up (or broke the protocol). Its id is free again. */
static void join_member_left(cluster_coordinator_t *coordinator, uint32_t id)
{
    join_member_t *member = &coordinator->members[id];
    uint8_t byte;
    ssize_t got = recv(member->fd, &byte, 1, 0);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    join_log(coordinator, member->peer, "node %u %s before its table; id %u is free again", id,
             got > 0 ? "sent data" : "left", id);
    close(member->fd);
    cluster_session_wipe(&member->session);
    memset(member, 0, sizeof *member);
    member->fd = -1;
    memset(&coordinator->table.entries[id], 0, sizeof coordinator->table.entries[id]);
    assert(coordinator->joined > 0); /* a member with a connection has joined */
    coordinator->joined--;
}

/* Accepts what is waiting, at most a slot's worth a turn. */
static void join_accept(cluster_coordinator_t *coordinator)
{
    for (uint32_t turn = 0; turn < CLUSTER_PENDING_MAX; turn++) {
        int fd = accept4(coordinator->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            /* The connection stays queued and the listener stays readable: poll
             * would return at once, turn after turn. It rests a while instead;
             * joins that finish or expire free descriptors meanwhile. */
            coordinator->accept_paused_until_ms = cluster_net_now_ms() + JOIN_ACCEPT_PAUSE_MS;
            if (!coordinator->accept_pause_told)
                join_log(coordinator, "listener", "out of file descriptors (%s): accepting "
                         "again in %d ms; raise the limit (ulimit -n) for this many hosts",
                         strerror(errno), JOIN_ACCEPT_PAUSE_MS);
            coordinator->accept_pause_told = true;
            return;
        }
        if (fd < 0)
            return; /* EAGAIN: no more; anything else: the next turn tries again */
        join_pending_t *slot = NULL;
        for (uint32_t i = 0; i < CLUSTER_PENDING_MAX && slot == NULL; i++)
            slot = coordinator->pending[i].state == JOIN_PENDING_FREE ? &coordinator->pending[i]
                                                                      : NULL;
        join_pending_t busy = {.fd = fd};
        join_pending_t *pending = slot != NULL ? slot : &busy;
        memset(pending, 0, sizeof *pending);
        pending->fd = fd;
        cluster_net_peer_name(fd, pending->peer);
        if (slot == NULL) {
            join_pending_drop(coordinator, pending, CLUSTER_REFUSE_BUSY,
                              "refused: %u joins in progress already", CLUSTER_PENDING_MAX);
            continue;
        }
        pending->state = JOIN_PENDING_HELLO;
        pending->deadline_ms = cluster_net_now_ms() + coordinator->handshake_ms;
    }
}

static void join_expire(cluster_coordinator_t *coordinator)
{
    int64_t now = cluster_net_now_ms();
    for (uint32_t i = 0; i < CLUSTER_PENDING_MAX; i++) {
        join_pending_t *pending = &coordinator->pending[i];
        if (pending->state != JOIN_PENDING_FREE && now >= pending->deadline_ms)
            join_pending_drop(coordinator, pending, 0, "dropped: %s within %d ms",
                              pending->state == JOIN_PENDING_HELLO
                                  ? "it said nothing"
                                  : "it did not answer our challenge",
                              coordinator->handshake_ms);
    }
}

/* The pollfd set of a turn; returns its size and the nearest deadline. */
static nfds_t join_poll_set(cluster_coordinator_t *coordinator, int64_t *nearest_ms)
{
    nfds_t count = 0;
    if (coordinator->accept_paused_until_ms <= cluster_net_now_ms()) {
        coordinator->polls[count] = (struct pollfd){coordinator->listen_fd, POLLIN, 0};
        coordinator->owners[count++] = JOIN_OWNER_LISTEN;
    } else if (coordinator->accept_paused_until_ms < *nearest_ms) {
        *nearest_ms = coordinator->accept_paused_until_ms;
    }
    for (uint32_t i = 0; i < CLUSTER_PENDING_MAX; i++) {
        const join_pending_t *pending = &coordinator->pending[i];
        if (pending->state == JOIN_PENDING_FREE)
            continue;
        *nearest_ms = pending->deadline_ms < *nearest_ms ? pending->deadline_ms : *nearest_ms;
        coordinator->polls[count] = (struct pollfd){pending->fd, POLLIN, 0};
        coordinator->owners[count++] = (int)i;
    }
    for (uint32_t id = 0; id < coordinator->nodes; id++) {
        if (coordinator->members[id].fd < 0)
            continue;
        coordinator->polls[count] = (struct pollfd){coordinator->members[id].fd, POLLIN, 0};
        coordinator->owners[count++] = JOIN_OWNER_MEMBER + (int)id;
    }
    return count;
}

int cluster_coordinator_step(cluster_coordinator_t *coordinator, int wait_ms)
{
    int64_t now = cluster_net_now_ms(), nearest = now + (wait_ms > 0 ? wait_ms : 0);
    nfds_t count = join_poll_set(coordinator, &nearest);
    int ready = poll(coordinator->polls, count, nearest > now ? (int)(nearest - now) : 0);
    if (ready < 0 && errno != EINTR)
        return ARI_EIO;
    bool accept_ready = false;
    for (nfds_t i = 0; ready > 0 && i < count; i++) {
        int owner = coordinator->owners[i];
        if (coordinator->polls[i].revents == 0)
            continue;
        if (owner == JOIN_OWNER_LISTEN)
            accept_ready = true;
        else if (owner < JOIN_OWNER_MEMBER)
            join_pending_read(coordinator, &coordinator->pending[owner]);
        else
            join_member_left(coordinator, (uint32_t)(owner - JOIN_OWNER_MEMBER));
    }
    if (accept_ready)
        join_accept(coordinator);
    join_expire(coordinator);
    return ARI_OK;
}

static int join_coordinator_setup(cluster_coordinator_t *coordinator,
                                  const cluster_coordinator_config_t *config)
{
    coordinator->key = *config->key;
    join_proof_key(config->key, coordinator->proof_key);
    coordinator->nodes = config->nodes;
    coordinator->handshake_ms =
        config->handshake_ms > 0 ? config->handshake_ms : CLUSTER_HANDSHAKE_MS_DEFAULT;
    coordinator->log = config->log != NULL ? config->log : stderr;
    coordinator->listen_fd = -1;
    for (uint32_t i = 0; i < CLUSTER_PENDING_MAX; i++)
        coordinator->pending[i].fd = -1;
    coordinator->members = calloc(config->nodes, sizeof *coordinator->members);
    coordinator->polls =
        calloc(1 + CLUSTER_PENDING_MAX + config->nodes, sizeof *coordinator->polls);
    coordinator->owners =
        calloc(1 + CLUSTER_PENDING_MAX + config->nodes, sizeof *coordinator->owners);
    if (coordinator->members == NULL || coordinator->polls == NULL || coordinator->owners == NULL)
        return ARI_ENOMEM;
    for (uint32_t id = 0; id < config->nodes; id++)
        coordinator->members[id].fd = -1;
    return cluster_table_init(&coordinator->table, config->nodes);
}

int cluster_coordinator_open(const cluster_coordinator_config_t *config, const char *addr,
                             uint16_t port, cluster_coordinator_t **coordinator_out, char *error,
                             size_t error_size)
{
    int status = cluster_crypto_init(error, error_size);
    if (status != ARI_OK)
        return status;
    if (config->key == NULL || config->nodes == 0 || config->nodes > CLUSTER_NODES_MAX) {
        snprintf(error, error_size,
                 "join: a coordinator needs the cluster key and 1 to %u "
                 "nodes, not %u",
                 CLUSTER_NODES_MAX, config->nodes);
        return ARI_EINVAL;
    }
    cluster_coordinator_t *coordinator = calloc(1, sizeof *coordinator);
    status = coordinator != NULL ? join_coordinator_setup(coordinator, config) : ARI_ENOMEM;
    if (status == ARI_ENOMEM)
        snprintf(error, error_size, "join: out of memory for a coordinator of %u nodes",
                 config->nodes);
    if (status == ARI_OK)
        status = cluster_net_listen(addr, port, &coordinator->listen_fd, &coordinator->port, error,
                                    error_size);
    if (status != ARI_OK) {
        cluster_coordinator_close(coordinator);
        return status;
    }
    *coordinator_out = coordinator;
    return ARI_OK;
}

uint16_t cluster_coordinator_port(const cluster_coordinator_t *coordinator)
{
    return coordinator->port;
}

uint32_t cluster_coordinator_joined(const cluster_coordinator_t *coordinator)
{
    return coordinator->joined;
}

const cluster_table_t *cluster_coordinator_table(const cluster_coordinator_t *coordinator)
{
    return &coordinator->table;
}

int cluster_coordinator_add(cluster_coordinator_t *coordinator, uint32_t node_id,
                            const cluster_endpoint_t *endpoint, char *error, size_t error_size)
{
    size_t length = strnlen(endpoint->addr, sizeof endpoint->addr);
    if (node_id >= coordinator->nodes || coordinator->table.entries[node_id].port != 0 ||
        endpoint->port == 0 || length > CLUSTER_ADDR_MAX ||
        cluster_addr_kind(endpoint->addr, length) == 0) {
        snprintf(error, error_size,
                 "join: cannot add node %u at %.64s:%u (an id below %u not "
                 "yet joined, and an address and port, are needed)",
                 node_id, endpoint->addr, endpoint->port, coordinator->nodes);
        return ARI_EINVAL;
    }
    coordinator->table.entries[node_id] = *endpoint;
    snprintf(coordinator->members[node_id].peer, CLUSTER_PEER_NAME_MAX, "this coordinator");
    coordinator->joined++;
    return ARI_OK;
}

/* Seals the table for one member and sends it: 0, or the send's status. */
static int join_send_table(cluster_coordinator_t *coordinator, uint32_t id, const uint8_t *payload,
                           size_t payload_size, uint8_t *sealed, uint8_t *frame)
{
    join_member_t *member = &coordinator->members[id];
    size_t sealed_size, frame_size;
    int status = cluster_session_seal(&member->session, payload, payload_size, sealed,
                                      payload_size + CLUSTER_SEAL_OVERHEAD, &sealed_size);
    cluster_frame_t table = {
        .type = CLUSTER_FRAME_TABLE, .sealed = sealed, .sealed_size = sealed_size};
    if (status == ARI_OK)
        status = cluster_frame_encode(&table, frame, CLUSTER_FRAME_HEADER_BYTES + sealed_size,
                                      &frame_size);
    if (status == ARI_OK)
        status = cluster_net_send(member->fd, frame, frame_size,
                                  cluster_net_now_ms() + coordinator->handshake_ms);
    close(member->fd);
    member->fd = -1;
    return status;
}

/* Every node has joined: each gets the whole table, sealed. */
static int join_publish(cluster_coordinator_t *coordinator, char *error, size_t error_size)
{
    size_t bound = 4 + (size_t)coordinator->nodes * CLUSTER_ENDPOINT_BYTES_MAX, payload_size;
    uint8_t *payload = malloc(bound), *sealed = malloc(bound + CLUSTER_SEAL_OVERHEAD),
            *frame = malloc(CLUSTER_FRAME_HEADER_BYTES + bound + CLUSTER_SEAL_OVERHEAD);
    int status = payload && sealed && frame ? ARI_OK : ARI_ENOMEM;
    if (status == ARI_OK)
        status = cluster_table_encode(&coordinator->table, payload, bound, &payload_size);
    int first = status;
    for (uint32_t id = 0; status == ARI_OK && id < coordinator->nodes; id++) {
        if (coordinator->members[id].fd < 0)
            continue;
        int sent = join_send_table(coordinator, id, payload, payload_size, sealed, frame);
        if (sent != ARI_OK) {
            join_log(coordinator, coordinator->members[id].peer,
                     "node %u did not take its table (%s)", id, cluster_net_why(sent));
            if (first == ARI_OK) {
                snprintf(error, error_size, "join: node %u (%s) did not take its table: %s", id,
                         coordinator->members[id].peer, cluster_net_why(sent));
                first = sent;
            }
        }
    }
    if (status != ARI_OK)
        snprintf(error, error_size, "join: cannot build the table: %s", ari_strerror(status));
    free(payload);
    free(sealed);
    free(frame);
    return first;
}

/* "2, 5, 7" — the first missing ids, for a timeout's message. */
static void join_missing(const cluster_coordinator_t *coordinator, char *text, size_t size)
{
    size_t used = 0;
    text[0] = '\0';
    for (uint32_t id = 0, listed = 0; id < coordinator->nodes && used < size; id++) {
        if (coordinator->table.entries[id].port != 0)
            continue;
        if (listed++ == 8) {
            snprintf(text + used, size - used, ", ...");
            return;
        }
        used += (size_t)snprintf(text + used, size - used, "%s%u", listed > 1 ? ", " : "", id);
    }
}

int cluster_coordinator_run(cluster_coordinator_t *coordinator, int timeout_ms, char *error,
                            size_t error_size)
{
    int64_t deadline = cluster_net_now_ms() + timeout_ms;
    while (coordinator->joined < coordinator->nodes) {
        int64_t left = deadline - cluster_net_now_ms();
        if (left <= 0) {
            char missing[96];
            join_missing(coordinator, missing, sizeof missing);
            snprintf(error, error_size,
                     "join: only %u of %u nodes joined within %d ms "
                     "(missing: %s)",
                     coordinator->joined, coordinator->nodes, timeout_ms, missing);
            return ARI_ETIMEDOUT;
        }
        int status = cluster_coordinator_step(coordinator, left < 1000 ? (int)left : 1000);
        if (status != ARI_OK) {
            snprintf(error, error_size, "join: poll failed: %s", strerror(errno));
            return status;
        }
    }
    return join_publish(coordinator, error, error_size);
}

void cluster_coordinator_close(cluster_coordinator_t *coordinator)
{
    if (coordinator == NULL)
        return;
    if (coordinator->listen_fd >= 0)
        close(coordinator->listen_fd);
    for (uint32_t i = 0; i < CLUSTER_PENDING_MAX; i++) {
        if (coordinator->pending[i].state != JOIN_PENDING_FREE)
            close(coordinator->pending[i].fd);
    }
    for (uint32_t id = 0; coordinator->members != NULL && id < coordinator->nodes; id++) {
        if (coordinator->members[id].fd >= 0)
            close(coordinator->members[id].fd);
    }
    cluster_table_free(&coordinator->table);
    if (coordinator->members != NULL) /* the members' session keys */
        sodium_memzero(coordinator->members, coordinator->nodes * sizeof *coordinator->members);
    free(coordinator->members);
    free(coordinator->polls);
    free(coordinator->owners);
    sodium_memzero(coordinator, sizeof *coordinator);
    free(coordinator);
}

/* ------------------------------------------------------------------------
 * A node
 * ------------------------------------------------------------------------ */

typedef struct {
    const cluster_join_config_t *config;
    int fd;
    int64_t deadline_ms;
    uint8_t proof_key[JOIN_PROOF_KEY_BYTES];
    uint8_t nonce_node[CLUSTER_NONCE_BYTES], nonce_coordinator[CLUSTER_NONCE_BYTES];
    char *error;
    size_t error_size;
} join_node_t;

__attribute__((format(printf, 3, 4))) static int join_node_error(join_node_t *node, int status,
                                                                 const char *format, ...)
{
    int prefix = snprintf(node->error, node->error_size,
                          "join: coordinator %s:%u: ", node->config->coordinator_addr,
                          node->config->coordinator_port);
    if (prefix >= 0 && (size_t)prefix < node->error_size) {
        va_list args;
        va_start(args, format);
        vsnprintf(node->error + prefix, node->error_size - (size_t)prefix, format, args);
        va_end(args);
    }
    return status;
}

/* Receives and decodes the frame `expected` (a malloc'd buffer in *bytes_out
 * that the frame points into); a REFUSE is turned into ARI_EPERM. */
static int join_node_receive(join_node_t *node, cluster_frame_type_t expected,
                             cluster_frame_t *frame_out, uint8_t **bytes_out)
{
    const char *what = expected == CLUSTER_FRAME_CHALLENGE ? "its challenge" : "the table";
    uint8_t *bytes = NULL;
    size_t size = 0;
    int status = cluster_net_receive_frame(node->fd, node->deadline_ms, &bytes, &size);
    if (status == ARI_OK)
        status = cluster_frame_decode(bytes, size, frame_out);
    if (status != ARI_OK) {
        free(bytes);
        return join_node_error(node, status, "%s while waiting for %s", cluster_net_why(status),
                               what);
    }
    if (frame_out->type == CLUSTER_FRAME_REFUSE) {
        cluster_refuse_t reason = frame_out->reason;
        free(bytes);
        return join_node_error(node, ARI_EPERM, "refused node %u: %s", node->config->node_id,
                               join_refuse_text(reason));
    }
    if (frame_out->type != expected) {
        free(bytes);
        return join_node_error(node, ARI_EMSG_TYPE, "sent a frame of type %u instead of %s",
                               (unsigned)frame_out->type, what);
    }
    *bytes_out = bytes;
    return ARI_OK;
}

/* HELLO out, CHALLENGE in: the coordinator must prove it holds the key
 * before this node proves anything. */
static int join_node_challenge(join_node_t *node)
{
    uint8_t frame[CLUSTER_FRAME_HEADER_BYTES + CLUSTER_NONCE_BYTES + 4], *bytes = NULL;
    size_t size;
    randombytes_buf(node->nonce_node, sizeof node->nonce_node);
    cluster_frame_t hello = {
        .type = CLUSTER_FRAME_HELLO, .nonce = node->nonce_node, .node_id = node->config->node_id};
    int status = cluster_frame_encode(&hello, frame, sizeof frame, &size);
    if (status == ARI_OK)
        status = cluster_net_send(node->fd, frame, size, node->deadline_ms);
    if (status != ARI_OK)
        return join_node_error(node, status, "%s while sending our hello", cluster_net_why(status));
    cluster_frame_t challenge;
    status = join_node_receive(node, CLUSTER_FRAME_CHALLENGE, &challenge, &bytes);
    if (status != ARI_OK)
        return status;
    memcpy(node->nonce_coordinator, challenge.nonce, CLUSTER_NONCE_BYTES);
    bool proven =
        join_proof_verify(node->proof_key, JOIN_LABEL_COORDINATOR, node->nonce_node,
                          node->nonce_coordinator, node->config->node_id, NULL, 0, challenge.mac);
    free(bytes);
    if (!proven)
        return join_node_error(node, ARI_EPERM,
                               "did not prove it holds the cluster key (it "
                               "has another key, or is not our coordinator); we sent it nothing "
                               "more");
    return ARI_OK;
}

static int join_node_claim(join_node_t *node)
{
    uint8_t frame[CLUSTER_FRAME_HEADER_BYTES + CLUSTER_CLAIM_BODY_MAX];
    uint8_t endpoint[CLUSTER_ENDPOINT_BYTES_MAX], mac[CLUSTER_MAC_BYTES];
    size_t endpoint_size = cluster_frame_endpoint_bytes(&node->config->self, endpoint), size;
    join_proof(node->proof_key, JOIN_LABEL_NODE, node->nonce_node, node->nonce_coordinator,
               node->config->node_id, endpoint, endpoint_size, mac);
    cluster_frame_t claim = {
        .type = CLUSTER_FRAME_CLAIM, .endpoint = node->config->self, .mac = mac};
    int status = cluster_frame_encode(&claim, frame, sizeof frame, &size);
    if (status == ARI_OK)
        status = cluster_net_send(node->fd, frame, size, node->deadline_ms);
    if (status != ARI_OK)
        return join_node_error(node, status, "%s while sending our claim", cluster_net_why(status));
    return ARI_OK;
}

/* TABLE in: opened under the session, decoded, and listing this node as
 * it claimed. */
static int join_node_table(join_node_t *node, cluster_session_t *session,
                           cluster_table_t *table_out)
{
    cluster_frame_t frame;
    uint8_t *bytes = NULL;
    int status = join_node_receive(node, CLUSTER_FRAME_TABLE, &frame, &bytes);
    if (status != ARI_OK)
        return status;
    size_t capacity = frame.sealed_size - CLUSTER_SEAL_OVERHEAD, size = 0;
    uint8_t *payload = malloc(capacity);
    char why[CLUSTER_JOIN_ERROR_MAX];
    status = payload != NULL ? cluster_session_open(session, frame.sealed, frame.sealed_size,
                                                    payload, capacity, &size, why, sizeof why)
                             : ARI_ENOMEM;
    free(bytes);
    cluster_table_t table = {0, NULL};
    if (status == ARI_OK && (status = cluster_table_decode(payload, size, &table)) != ARI_OK)
        snprintf(why, sizeof why, "malformed table: %s", cluster_frame_why(status));
    free(payload);
    uint32_t id = node->config->node_id;
    if (status == ARI_OK &&
        (id >= table.count || table.entries[id].port != node->config->self.port)) {
        cluster_table_free(&table);
        snprintf(why, sizeof why, "the table does not list node %u at port %u", id,
                 node->config->self.port);
        status = ARI_EMSG_FIELD;
    }
    if (status != ARI_OK)
        return join_node_error(node, status, "%s", status == ARI_ENOMEM ? "out of memory" : why);
    *table_out = table;
    return ARI_OK;
}

static int join_node_check(const cluster_join_config_t *config, char *error, size_t error_size)
{
    size_t length = strnlen(config->self.addr, sizeof config->self.addr);
    if (config->key == NULL || config->coordinator_addr == NULL ||
        config->node_id >= CLUSTER_NODES_MAX || config->self.port == 0 ||
        length > CLUSTER_ADDR_MAX ||
        (length > 0 && cluster_addr_kind(config->self.addr, length) == 0)) {
        snprintf(error, error_size,
                 "join: node %u needs the cluster key, the coordinator's "
                 "address, an id below %u and where it listens (a port, and a valid address "
                 "or none)",
                 config->node_id, CLUSTER_NODES_MAX);
        return ARI_EINVAL;
    }
    return ARI_OK;
}

int cluster_node_join(const cluster_join_config_t *config, cluster_table_t *table_out,
                      cluster_session_t *session_out, char *error, size_t error_size)
{
    int status = cluster_crypto_init(error, error_size);
    if (status == ARI_OK)
        status = join_node_check(config, error, error_size);
    if (status != ARI_OK)
        return status;
    join_node_t node = {.config = config, .fd = -1, .error = error, .error_size = error_size};
    node.deadline_ms = cluster_net_now_ms() +
                       (config->timeout_ms > 0 ? config->timeout_ms : CLUSTER_JOIN_MS_DEFAULT);
    join_proof_key(config->key, node.proof_key);
    status = cluster_net_connect(config->coordinator_addr, config->coordinator_port,
                                 node.deadline_ms, &node.fd, error, error_size);
    if (status == ARI_OK)
        status = join_node_challenge(&node);
    if (status == ARI_OK)
        status = join_node_claim(&node);
    cluster_session_t session;
    if (status == ARI_OK)
        status =
            cluster_session_derive(config->key, node.nonce_node, node.nonce_coordinator,
                                   config->node_id, CLUSTER_SIDE_NODE, &session, error, error_size);
    if (status == ARI_OK)
        status = join_node_table(&node, &session, table_out);
    if (node.fd >= 0)
        close(node.fd);
    if (status == ARI_OK)
        *session_out = session;
    sodium_memzero(&node, sizeof node);
    sodium_memzero(&session, sizeof session);
    return status;
}

#else /* no libsodium: the join is not available, and says why */

int cluster_coordinator_open(const cluster_coordinator_config_t *config, const char *addr,
                             uint16_t port, cluster_coordinator_t **coordinator_out, char *error,
                             size_t error_size)
{
    (void)config, (void)addr, (void)port, (void)coordinator_out;
    return cluster_crypto_init(error, error_size);
}

/* Without libsodium no coordinator is ever opened: these are never reached
 * with one. */
uint16_t cluster_coordinator_port(const cluster_coordinator_t *coordinator)
{
    (void)coordinator;
    return 0;
}

int cluster_coordinator_add(cluster_coordinator_t *coordinator, uint32_t node_id,
                            const cluster_endpoint_t *endpoint, char *error, size_t error_size)
{
    (void)coordinator, (void)node_id, (void)endpoint;
    return cluster_crypto_init(error, error_size);
}

int cluster_coordinator_step(cluster_coordinator_t *coordinator, int wait_ms)
{
    (void)coordinator, (void)wait_ms;
    return ARI_ENOTSUP;
}

int cluster_coordinator_run(cluster_coordinator_t *coordinator, int timeout_ms, char *error,
                            size_t error_size)
{
    (void)coordinator, (void)timeout_ms;
    return cluster_crypto_init(error, error_size);
}

uint32_t cluster_coordinator_joined(const cluster_coordinator_t *coordinator)
{
    (void)coordinator;
    return 0;
}

const cluster_table_t *cluster_coordinator_table(const cluster_coordinator_t *coordinator)
{
    (void)coordinator;
    return NULL;
}

void cluster_coordinator_close(cluster_coordinator_t *coordinator)
{
    (void)coordinator;
}

int cluster_node_join(const cluster_join_config_t *config, cluster_table_t *table_out,
                      cluster_session_t *session_out, char *error, size_t error_size)
{
    (void)config, (void)table_out, (void)session_out;
    return cluster_crypto_init(error, error_size);
}

#endif
