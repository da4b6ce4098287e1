/*
 * libFuzzer target for the agents' messages (src/cluster/bmsg.h): any
 * bytes either decode into a message that encodes back to exactly the same
 * bytes (records and control records included), or fail with an ARI_EMSG_*
 * status.
 */
#include <stdlib.h>
#include <string.h>

#include "ariadne.h"
#include "cluster/bmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_reencode(const bmsg_t *m, uint8_t *out, size_t out_size)
{
    switch (m->type) {
    case BMSG_HELLO: return bmsg_encode_hello(out, out_size, m->host, m->hosts, m->nonce);
    case BMSG_PROOF: return bmsg_encode_proof(out, out_size, m->mac);
    case BMSG_BEAT: return bmsg_encode_beat(out, out_size);
    case BMSG_ACK: return bmsg_encode_ack(out, out_size, m->src, m->dst, m->seq);
    case BMSG_LSA: {
        uint32_t *hosts = malloc((m->count + 1) * sizeof *hosts);
        if (hosts == NULL)
            abort();
        for (uint32_t i = 0; i < m->count; i++)
            memcpy(&hosts[i], m->list + 4 * i, 4); /* little-endian host */
        size_t n = bmsg_encode_lsa(out, out_size, m->origin, m->seq, hosts, m->count);
        free(hosts);
        return n;
    }
    case BMSG_DATA: {
        size_t n = bmsg_encode_data_header(out, out_size, m->src, m->dst, m->seq), offset = 0;
        bmsg_record_t r;
        while (bmsg_record_next(m, &offset, &r)) {
            if (r.ring == BMSG_RING_CONTROL) {
                bmsg_control_t c;
                uint8_t bytes[BMSG_CONTROL_BYTES_MAX];
                if (bmsg_control_decode(r.bytes, r.length, &c) != ARI_OK)
                    abort(); /* the decoder checked every control record */
                size_t k = bmsg_encode_control(bytes, sizeof bytes, &c);
                if (k != r.length)
                    abort();
                n += bmsg_encode_record(out + n, out_size - n, r.ring, bytes, (uint32_t)k);
            } else {
                n += bmsg_encode_record(out + n, out_size - n, r.ring, r.bytes, r.length);
            }
        }
        return n;
    }
    }
    abort(); /* NEVER: decode accepts only the types above */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bmsg_t m;
    int status = bmsg_decode(data, size, &m);
    if (status != ARI_OK) {
        if (status > ARI_EMSG_SHORT || status < ARI_EMSG_SPACE)
            abort();
        return 0;
    }
    uint8_t *again = malloc(size + 1);
    if (again == NULL)
        abort();
    size_t n = fuzz_reencode(&m, again, size + 1);
    if (n != size || memcmp(again, data, size) != 0)
        abort();
    free(again);
    return 0;
}
