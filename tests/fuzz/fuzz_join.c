/*
 * libFuzzer target for the join's wire format: any bytes either decode
 * into a frame (or a table) that encodes back to exactly the same bytes,
 * or fail with an ARI_EMSG_* status; the header check agrees with the
 * decoder. With libsodium, the same bytes as a sealed frame never open.
 */
#include <stdlib.h>
#include <string.h>

#include "ariadne.h"
#include "cluster/frame.h"
#include "cluster/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_frame(const uint8_t *data, size_t size)
{
    static uint8_t again[CLUSTER_FRAME_HEADER_BYTES + CLUSTER_FRAME_BODY_MAX];
    cluster_frame_t frame;
    cluster_frame_type_t type;
    size_t frame_size, encoded;
    int status = cluster_frame_decode(data, size, &frame);
    int header = cluster_frame_header(data, size, &type, &frame_size);
    if (status == ARI_OK) {
        if (header != ARI_OK || type != frame.type || frame_size != size || frame.size != size ||
            cluster_frame_encode(&frame, again, sizeof again, &encoded) != ARI_OK ||
            encoded != size || memcmp(again, data, size) != 0)
            abort();
    } else if (status >= 0 || (header != ARI_OK && header != status)) {
        abort();
    }
}

static void fuzz_table(const uint8_t *data, size_t size)
{
    static uint8_t again[CLUSTER_TABLE_BYTES_MAX];
    cluster_table_t table;
    size_t encoded;
    int status = cluster_table_decode(data, size, &table);
    if (status != ARI_OK) {
        if (status >= 0)
            abort();
        return;
    }
    if (table.count == 0 || table.count > CLUSTER_NODES_MAX ||
        cluster_table_encode(&table, again, sizeof again, &encoded) != ARI_OK || encoded != size ||
        memcmp(again, data, size) != 0)
        abort();
    cluster_table_free(&table);
}

#ifdef ARI_HAVE_SODIUM
static void fuzz_sealed(const uint8_t *data, size_t size)
{
    static uint8_t plain[CLUSTER_SEAL_PLAIN_MAX];
    cluster_key_t key = {{1, 2, 3}};
    uint8_t nonce[CLUSTER_NONCE_BYTES] = {4};
    cluster_session_t session;
    char error[256];
    size_t opened;
    if (cluster_session_derive(&key, nonce, nonce, 0, CLUSTER_SIDE_NODE, &session, error,
                               sizeof error) != ARI_OK ||
        cluster_session_open(&session, data, size, plain, sizeof plain, &opened, error,
                             sizeof error) == ARI_OK)
        abort(); /* forging a frame without the key */
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frame(data, size);
    fuzz_table(data, size);
#ifdef ARI_HAVE_SODIUM
    fuzz_sealed(data, size);
#endif
    return 0;
}
