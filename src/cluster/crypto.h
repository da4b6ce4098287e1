/*
 * crypto — whether this build has libsodium, and its one-time start. The
 * cluster's cryptography is libsodium's (never our own); a build without
 * it still compiles every caller, whose calls then return ARI_ENOTSUP
 * with the message below.
 */
#ifndef ARIADNE_CLUSTER_CRYPTO_H
#define ARIADNE_CLUSTER_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

/* What a build without libsodium says. */
#define CLUSTER_CRYPTO_MISSING                                                                     \
    "this build of Ariadne has no libsodium, which the cluster join needs "                        \
    "(Debian: apt-get install libsodium-dev, then rebuild)"

/* The cluster key is never used directly: libsodium's crypto_kdf derives
 * one subkey for the join's proofs and one that session keys are derived
 * from, in this context. */
#define CLUSTER_KDF_CONTEXT "AriJoin1"
#define CLUSTER_KDF_PROOF 1u
#define CLUSTER_KDF_SESSION 2u

/* True when built with libsodium (ARI_HAVE_SODIUM). */
bool cluster_crypto_available(void);

/* Starts libsodium (thread-safe, idempotent). Returns 0; ARI_ENOTSUP
 * without libsodium, or ARI_EIO if it cannot start, with a message. */
int cluster_crypto_init(char *error, size_t error_size);

#endif /* ARIADNE_CLUSTER_CRYPTO_H */
