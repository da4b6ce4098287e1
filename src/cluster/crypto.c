/*
 * crypto — libsodium's presence and start.
 */
#include "crypto.h"

#include <stdio.h>

#include "ariadne.h"

#ifdef ARI_HAVE_SODIUM
#include <sodium.h>
#endif

bool cluster_crypto_available(void)
{
#ifdef ARI_HAVE_SODIUM
    return true;
#else
    return false;
#endif
}

int cluster_crypto_init(char *error, size_t error_size)
{
#ifdef ARI_HAVE_SODIUM
    /* 0: started now, 1: already started; -1: no entropy source. */
    if (sodium_init() < 0) {
        snprintf(error, error_size, "libsodium could not start (no source of randomness?)");
        return ARI_EIO;
    }
    return ARI_OK;
#else
    snprintf(error, error_size, "%s", CLUSTER_CRYPTO_MISSING);
    return ARI_ENOTSUP;
#endif
}
