/*
 * bmsg — encoding and checking the agents' messages (bmsg.h).
 */
#include "bmsg.h"

#include <string.h>

#include "ariadne.h"

static void bmsg_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void bmsg_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t bmsg_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t bmsg_get64(const uint8_t *p)
{
    return (uint64_t)bmsg_get32(p) | (uint64_t)bmsg_get32(p + 4) << 32;
}

static void bmsg_header(uint8_t *out, bmsg_type_t type)
{
    out[0] = 'A';
    out[1] = 'L';
    out[2] = BMSG_VERSION;
    out[3] = (uint8_t)type;
}

/* DATA's records: each whole, at least one, control records well formed. */
static int bmsg_records_check(const uint8_t *p, size_t size)
{
    if (size == 0)
        return ARI_EMSG_SHORT;
    while (size > 0) {
        if (size < BMSG_RECORD_HEADER_BYTES)
            return ARI_EMSG_SHORT;
        uint32_t ring = bmsg_get32(p), length = bmsg_get32(p + 4);
        if (length == 0)
            return ARI_EMSG_FIELD;
        if (length > size - BMSG_RECORD_HEADER_BYTES)
            return ARI_EMSG_SHORT;
        if (ring == BMSG_RING_CONTROL) {
            bmsg_control_t control;
            int status = bmsg_control_decode(p + BMSG_RECORD_HEADER_BYTES, length, &control);
            if (status != ARI_OK)
                return status;
        }
        p += BMSG_RECORD_HEADER_BYTES + length;
        size -= BMSG_RECORD_HEADER_BYTES + length;
    }
    return ARI_OK;
}

static int bmsg_decode_body(const uint8_t *p, size_t size, bmsg_t *m)
{
    size_t need;
    switch (m->type) {
    case BMSG_HELLO:
        need = 8 + BMSG_NONCE_BYTES;
        if (size < need)
            return ARI_EMSG_SHORT;
        m->host = bmsg_get32(p);
        m->hosts = bmsg_get32(p + 4);
        m->nonce = p + 8;
        if (m->hosts == 0 || m->hosts > BMSG_HOSTS_MAX || m->host >= m->hosts)
            return ARI_EMSG_FIELD;
        break;
    case BMSG_PROOF:
        need = BMSG_MAC_BYTES;
        if (size < need)
            return ARI_EMSG_SHORT;
        m->mac = p;
        break;
    case BMSG_BEAT:
        need = 0;
        break;
    case BMSG_LSA:
        if (size < 16)
            return ARI_EMSG_SHORT;
        m->origin = bmsg_get32(p);
        m->seq = bmsg_get64(p + 4);
        m->count = bmsg_get32(p + 12);
        if (m->origin >= BMSG_HOSTS_MAX || m->count > BMSG_HOSTS_MAX)
            return ARI_EMSG_FIELD;
        need = 16 + (size_t)m->count * 4;
        if (size < need)
            return ARI_EMSG_SHORT;
        m->list = p + 16;
        for (uint32_t i = 0; i < m->count; i++) {
            if (bmsg_get32(m->list + 4 * i) >= BMSG_HOSTS_MAX)
                return ARI_EMSG_FIELD;
        }
        break;
    case BMSG_DATA:
    case BMSG_ACK:
        if (size < 16)
            return ARI_EMSG_SHORT;
        m->src = bmsg_get32(p);
        m->dst = bmsg_get32(p + 4);
        m->seq = bmsg_get64(p + 8);
        if (m->src >= BMSG_HOSTS_MAX || m->dst >= BMSG_HOSTS_MAX || m->src == m->dst)
            return ARI_EMSG_FIELD;
        if (m->type == BMSG_ACK) {
            need = 16;
            break;
        }
        if (m->seq == 0)
            return ARI_EMSG_FIELD;
        m->records = p + 16;
        m->records_size = size - 16;
        return bmsg_records_check(m->records, m->records_size);
    default:
        return ARI_EMSG_TYPE;
    }
    return size == need ? ARI_OK : ARI_EMSG_TRAILING;
}

int bmsg_decode(const uint8_t *bytes, size_t size, bmsg_t *out)
{
    memset(out, 0, sizeof *out);
    if (size < BMSG_HEADER_BYTES)
        return ARI_EMSG_SHORT;
    if (bytes[0] != 'A' || bytes[1] != 'L' || bytes[2] != BMSG_VERSION)
        return ARI_EMSG_VERSION;
    out->type = (bmsg_type_t)bytes[3];
    return bmsg_decode_body(bytes + BMSG_HEADER_BYTES, size - BMSG_HEADER_BYTES, out);
}

bool bmsg_record_next(const bmsg_t *m, size_t *offset, bmsg_record_t *out)
{
    if (*offset >= m->records_size)
        return false;
    const uint8_t *p = m->records + *offset;
    out->ring = bmsg_get32(p);
    out->length = bmsg_get32(p + 4);
    out->bytes = p + BMSG_RECORD_HEADER_BYTES;
    *offset += BMSG_RECORD_HEADER_BYTES + out->length;
    return true;
}

int bmsg_control_decode(const uint8_t *bytes, size_t size, bmsg_control_t *out)
{
    memset(out, 0, sizeof *out);
    if (size < 1)
        return ARI_EMSG_SHORT;
    out->kind = (bmsg_control_kind_t)bytes[0];
    size_t need;
    switch (out->kind) {
    case BMSG_CONTROL_STATE: need = 9; break;
    case BMSG_CONTROL_DRAINED: need = 5; break;
    case BMSG_CONTROL_ENDING: need = 5; break;
    case BMSG_CONTROL_FINISHED: need = 1; break;
    default: return ARI_EMSG_TYPE;
    }
    if (size < need)
        return ARI_EMSG_SHORT;
    if (size > need)
        return ARI_EMSG_TRAILING;
    if (out->kind == BMSG_CONTROL_STATE) {
        out->node = bmsg_get32(bytes + 1);
        out->value = bmsg_get32(bytes + 5);
    } else if (out->kind == BMSG_CONTROL_DRAINED) {
        out->value = bmsg_get32(bytes + 1);
    } else if (out->kind == BMSG_CONTROL_ENDING) {
        out->node = bmsg_get32(bytes + 1);
    }
    return ARI_OK;
}

size_t bmsg_encode_hello(uint8_t *out, size_t size, uint32_t host, uint32_t hosts,
                         const uint8_t nonce[BMSG_NONCE_BYTES])
{
    size_t n = BMSG_HEADER_BYTES + 8 + BMSG_NONCE_BYTES;
    if (size < n)
        return 0;
    bmsg_header(out, BMSG_HELLO);
    bmsg_put32(out + 4, host);
    bmsg_put32(out + 8, hosts);
    memcpy(out + 12, nonce, BMSG_NONCE_BYTES);
    return n;
}

size_t bmsg_encode_proof(uint8_t *out, size_t size, const uint8_t mac[BMSG_MAC_BYTES])
{
    size_t n = BMSG_HEADER_BYTES + BMSG_MAC_BYTES;
    if (size < n)
        return 0;
    bmsg_header(out, BMSG_PROOF);
    memcpy(out + 4, mac, BMSG_MAC_BYTES);
    return n;
}

size_t bmsg_encode_beat(uint8_t *out, size_t size)
{
    if (size < BMSG_HEADER_BYTES)
        return 0;
    bmsg_header(out, BMSG_BEAT);
    return BMSG_HEADER_BYTES;
}

size_t bmsg_encode_lsa(uint8_t *out, size_t size, uint32_t origin, uint64_t seq,
                       const uint32_t *hosts, uint32_t count)
{
    size_t n = BMSG_HEADER_BYTES + 16 + (size_t)count * 4;
    if (size < n)
        return 0;
    bmsg_header(out, BMSG_LSA);
    bmsg_put32(out + 4, origin);
    bmsg_put64(out + 8, seq);
    bmsg_put32(out + 16, count);
    for (uint32_t i = 0; i < count; i++)
        bmsg_put32(out + 20 + 4 * i, hosts[i]);
    return n;
}

static size_t bmsg_encode_pair(uint8_t *out, size_t size, bmsg_type_t type, uint32_t src,
                               uint32_t dst, uint64_t seq)
{
    if (size < BMSG_DATA_HEADER_BYTES)
        return 0;
    bmsg_header(out, type);
    bmsg_put32(out + 4, src);
    bmsg_put32(out + 8, dst);
    bmsg_put64(out + 12, seq);
    return BMSG_DATA_HEADER_BYTES;
}

size_t bmsg_encode_ack(uint8_t *out, size_t size, uint32_t src, uint32_t dst, uint64_t seq)
{
    return bmsg_encode_pair(out, size, BMSG_ACK, src, dst, seq);
}

size_t bmsg_encode_data_header(uint8_t *out, size_t size, uint32_t src, uint32_t dst,
                               uint64_t seq)
{
    return bmsg_encode_pair(out, size, BMSG_DATA, src, dst, seq);
}

size_t bmsg_encode_record(uint8_t *out, size_t size, uint32_t ring, const uint8_t *bytes,
                          uint32_t length)
{
    size_t n = BMSG_RECORD_HEADER_BYTES + (size_t)length;
    if (size < n)
        return 0;
    bmsg_put32(out, ring);
    bmsg_put32(out + 4, length);
    memcpy(out + BMSG_RECORD_HEADER_BYTES, bytes, length);
    return n;
}

size_t bmsg_encode_control(uint8_t *out, size_t size, const bmsg_control_t *c)
{
    size_t n = c->kind == BMSG_CONTROL_STATE ? 9 : c->kind == BMSG_CONTROL_FINISHED ? 1 : 5;
    if (size < n)
        return 0;
    out[0] = (uint8_t)c->kind;
    if (c->kind == BMSG_CONTROL_STATE) {
        bmsg_put32(out + 1, c->node);
        bmsg_put32(out + 5, c->value);
    } else if (c->kind == BMSG_CONTROL_DRAINED) {
        bmsg_put32(out + 1, c->value);
    } else if (c->kind == BMSG_CONTROL_ENDING) {
        bmsg_put32(out + 1, c->node);
    }
    return n;
}
