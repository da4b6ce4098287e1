/*
 * session — sealing and opening frames with libsodium's crypto_secretbox.
 */
#include "session.h"

#include <stdio.h>
#include <string.h>

#include "ariadne.h"
#include "crypto.h"

#ifdef ARI_HAVE_SODIUM
#include <sodium.h>
_Static_assert(CLUSTER_SEAL_OVERHEAD == 8 + crypto_secretbox_MACBYTES, "counter and MAC");
_Static_assert(sizeof(((cluster_session_t *)0)->key) == crypto_secretbox_KEYBYTES, "a box key");

/* The session key's input after the nonces: the node id. */
#define SESSION_INPUT_BYTES (2 * CLUSTER_NONCE_BYTES + 4)

int cluster_session_derive(const cluster_key_t *key, const uint8_t nonce_node[CLUSTER_NONCE_BYTES],
                           const uint8_t nonce_coordinator[CLUSTER_NONCE_BYTES], uint32_t node_id,
                           cluster_side_t side, cluster_session_t *session_out, char *error,
                           size_t error_size)
{
    int status = cluster_crypto_init(error, error_size);
    if (status != ARI_OK)
        return status;
    uint8_t base[crypto_kdf_KEYBYTES], input[SESSION_INPUT_BYTES];
    crypto_kdf_derive_from_key(base, sizeof base, CLUSTER_KDF_SESSION, CLUSTER_KDF_CONTEXT,
                               key->bytes);
    memcpy(input, nonce_node, CLUSTER_NONCE_BYTES);
    memcpy(input + CLUSTER_NONCE_BYTES, nonce_coordinator, CLUSTER_NONCE_BYTES);
    for (int i = 0; i < 4; i++)
        input[2 * CLUSTER_NONCE_BYTES + i] = (uint8_t)(node_id >> (8 * i));
    cluster_session_t session = {.side = side};
    crypto_generichash(session.key, sizeof session.key, input, sizeof input, base, sizeof base);
    sodium_memzero(base, sizeof base);
    *session_out = session;
    sodium_memzero(&session, sizeof session);
    return ARI_OK;
}

/* Direction byte, then the counter: unique for each frame of a session. */
static void session_nonce(cluster_side_t sender, uint64_t counter,
                          uint8_t nonce[crypto_secretbox_NONCEBYTES])
{
    memset(nonce, 0, crypto_secretbox_NONCEBYTES);
    nonce[0] = (uint8_t)sender;
    for (int i = 0; i < 8; i++)
        nonce[8 + i] = (uint8_t)(counter >> (8 * i));
}

int cluster_session_seal(cluster_session_t *session, const uint8_t *plain, size_t plain_size,
                         uint8_t *out, size_t out_size, size_t *size_out)
{
    if (plain_size > CLUSTER_SEAL_PLAIN_MAX)
        return ARI_EINVAL;
    if (out_size < plain_size + CLUSTER_SEAL_OVERHEAD)
        return ARI_EMSG_SPACE;
    if (session->send_next == UINT64_MAX)
        return ARI_ERANGE;
    uint64_t counter = session->send_next++;
    uint8_t nonce[crypto_secretbox_NONCEBYTES];
    session_nonce(session->side, counter, nonce);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(counter >> (8 * i));
    crypto_secretbox_easy(out + 8, plain, plain_size, nonce, session->key);
    *size_out = plain_size + CLUSTER_SEAL_OVERHEAD;
    return ARI_OK;
}

int cluster_session_open(cluster_session_t *session, const uint8_t *sealed, size_t sealed_size,
                         uint8_t *plain_out, size_t plain_size, size_t *size_out, char *error,
                         size_t error_size)
{
    if (sealed_size < CLUSTER_SEAL_OVERHEAD) {
        snprintf(error, error_size,
                 "sealed frame of %zu bytes is shorter than its counter and "
                 "MAC (%u)",
                 sealed_size, CLUSTER_SEAL_OVERHEAD);
        return ARI_EMSG_SHORT;
    }
    size_t size = sealed_size - CLUSTER_SEAL_OVERHEAD;
    if (plain_size < size) {
        snprintf(error, error_size, "sealed frame of %zu bytes does not fit %zu", sealed_size,
                 plain_size);
        return ARI_EMSG_SPACE;
    }
    uint64_t counter = 0;
    for (int i = 0; i < 8; i++)
        counter |= (uint64_t)sealed[i] << (8 * i);
    uint8_t nonce[crypto_secretbox_NONCEBYTES];
    cluster_side_t sender =
        session->side == CLUSTER_SIDE_NODE ? CLUSTER_SIDE_COORDINATOR : CLUSTER_SIDE_NODE;
    session_nonce(sender, counter, nonce);
    if (crypto_secretbox_open_easy(plain_out, sealed + 8, sealed_size - 8, nonce, session->key) !=
        0) {
        snprintf(error, error_size,
                 "frame does not authenticate (altered on the way, or sealed "
                 "under another key)");
        return ARI_EPERM;
    }
    /* Authentic but not the next one: an attacker replaying or reordering
     * frames it saw, or a frame lost. */
    if (counter != session->receive_next) {
        sodium_memzero(plain_out, size);
        snprintf(error, error_size, "%s (counter %llu, expected %llu)",
                 counter < session->receive_next ? "replayed frame"
                                                 : "frame out of order, or one was lost",
                 (unsigned long long)counter, (unsigned long long)session->receive_next);
        return ARI_EPERM;
    }
    session->receive_next++;
    *size_out = size;
    return ARI_OK;
}

void cluster_session_wipe(cluster_session_t *session)
{
    sodium_memzero(session, sizeof *session);
}

#else /* no libsodium: every call says so */

int cluster_session_derive(const cluster_key_t *key, const uint8_t nonce_node[CLUSTER_NONCE_BYTES],
                           const uint8_t nonce_coordinator[CLUSTER_NONCE_BYTES], uint32_t node_id,
                           cluster_side_t side, cluster_session_t *session_out, char *error,
                           size_t error_size)
{
    (void)key, (void)nonce_node, (void)nonce_coordinator, (void)node_id, (void)side;
    (void)session_out;
    return cluster_crypto_init(error, error_size);
}

int cluster_session_seal(cluster_session_t *session, const uint8_t *plain, size_t plain_size,
                         uint8_t *out, size_t out_size, size_t *size_out)
{
    (void)session, (void)plain, (void)plain_size, (void)out, (void)out_size, (void)size_out;
    return ARI_ENOTSUP;
}

int cluster_session_open(cluster_session_t *session, const uint8_t *sealed, size_t sealed_size,
                         uint8_t *plain_out, size_t plain_size, size_t *size_out, char *error,
                         size_t error_size)
{
    (void)session, (void)sealed, (void)sealed_size, (void)plain_out, (void)plain_size;
    (void)size_out;
    return cluster_crypto_init(error, error_size);
}

void cluster_session_wipe(cluster_session_t *session)
{
    explicit_bzero(session, sizeof *session);
}

#endif
