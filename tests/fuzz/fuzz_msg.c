/*
 * libFuzzer target for the wire format: any byte string either decodes
 * into messages that re-encode to exactly the bytes they came from, or
 * fails with an ARI_EMSG_* code. Walks a batch of concatenated messages.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t again[MSG_DATA_MAX + 64 * 1024];
    size_t at = 0;
    while (at < size) {
        msg_t msg;
        size_t used = 0, length = 0;
        int status = msg_decode(data + at, size - at, &msg, &used);
        if (status != ARI_OK) {
            if (status > ARI_EMSG_SHORT || status < ARI_EMSG_SPACE)
                abort();
            return 0;
        }
        if (used < MSG_HEADER_SIZE || used > size - at)
            abort();
        if (msg_encode(&msg, again, sizeof again, &length) != ARI_OK || length != used ||
            memcmp(again, data + at, used) != 0)
            abort();
        at += used;
    }
    return 0;
}
