/*
 * frame — the join's frames: header checks, decoding, encoding, the table.
 */
#include "frame.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ariadne.h"

static void frame_put16(uint8_t *out, uint16_t value)
{
    out[0] = (uint8_t)value;
    out[1] = (uint8_t)(value >> 8);
}

static void frame_put32(uint8_t *out, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(value >> (8 * i));
}

static uint16_t frame_get16(const uint8_t *in)
{
    return (uint16_t)(in[0] | in[1] << 8);
}

static uint32_t frame_get32(const uint8_t *in)
{
    return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

/* The body lengths each type may have. */
static bool frame_body_bounds(cluster_frame_type_t type, size_t *min_out, size_t *max_out)
{
    switch (type) {
    case CLUSTER_FRAME_HELLO:
        *min_out = *max_out = CLUSTER_NONCE_BYTES + 4;
        return true;
    case CLUSTER_FRAME_CHALLENGE:
        *min_out = *max_out = CLUSTER_NONCE_BYTES + CLUSTER_MAC_BYTES;
        return true;
    case CLUSTER_FRAME_CLAIM:
        *min_out = 3 + CLUSTER_MAC_BYTES;
        *max_out = CLUSTER_CLAIM_BODY_MAX;
        return true;
    case CLUSTER_FRAME_TABLE:
        *min_out = CLUSTER_SEAL_OVERHEAD + 4 + 4; /* one entry of a one-byte address */
        *max_out = CLUSTER_FRAME_BODY_MAX;
        return true;
    case CLUSTER_FRAME_REFUSE:
        *min_out = *max_out = 1;
        return true;
    }
    return false;
}

int cluster_frame_header(const uint8_t *bytes, size_t size, cluster_frame_type_t *type_out,
                         size_t *frame_size_out)
{
    if (size < CLUSTER_FRAME_HEADER_BYTES)
        return ARI_EMSG_SHORT;
    if (bytes[0] != 'A' || bytes[1] != 'J' || bytes[2] != CLUSTER_FRAME_VERSION)
        return ARI_EMSG_VERSION;
    cluster_frame_type_t type = (cluster_frame_type_t)bytes[3];
    size_t body = frame_get32(bytes + 4), min, max;
    if (!frame_body_bounds(type, &min, &max))
        return ARI_EMSG_TYPE;
    if (body < min || body > max)
        return ARI_EMSG_LENGTH;
    *type_out = type;
    *frame_size_out = CLUSTER_FRAME_HEADER_BYTES + body;
    return ARI_OK;
}

/* port(u16) addr_length(u8) addr from `size` bytes; `empty_ok` for a
 * CLAIM, whose address the coordinator may fill in. */
static int frame_endpoint_decode(const uint8_t *bytes, size_t size, bool empty_ok,
                                 cluster_endpoint_t *endpoint_out, size_t *used_out)
{
    if (size < 3)
        return ARI_EMSG_SHORT;
    size_t length = bytes[2];
    if (size < 3 + length)
        return ARI_EMSG_SHORT;
    uint16_t port = frame_get16(bytes);
    const char *addr = (const char *)bytes + 3;
    if (port == 0 || length > CLUSTER_ADDR_MAX || (length == 0 && !empty_ok) ||
        (length > 0 && cluster_addr_kind(addr, length) == 0))
        return ARI_EMSG_FIELD;
    memcpy(endpoint_out->addr, addr, length);
    endpoint_out->addr[length] = '\0';
    endpoint_out->port = port;
    *used_out = 3 + length;
    return ARI_OK;
}

static int frame_decode_body(const uint8_t *body, size_t size, cluster_frame_t *frame)
{
    size_t used = 0;
    int status;
    switch (frame->type) {
    case CLUSTER_FRAME_HELLO:
        frame->nonce = body;
        frame->node_id = frame_get32(body + CLUSTER_NONCE_BYTES);
        return ARI_OK;
    case CLUSTER_FRAME_CHALLENGE:
        frame->nonce = body;
        frame->mac = body + CLUSTER_NONCE_BYTES;
        return ARI_OK;
    case CLUSTER_FRAME_CLAIM:
        status =
            frame_endpoint_decode(body, size - CLUSTER_MAC_BYTES, true, &frame->endpoint, &used);
        if (status == ARI_EMSG_SHORT || (status == ARI_OK && used != size - CLUSTER_MAC_BYTES))
            return ARI_EMSG_LENGTH; /* addr_length disagrees with the body length */
        frame->mac = body + used;
        return status;
    case CLUSTER_FRAME_TABLE:
        frame->sealed = body;
        frame->sealed_size = size;
        return ARI_OK;
    case CLUSTER_FRAME_REFUSE:
        if (body[0] < CLUSTER_REFUSE_PROOF || body[0] > CLUSTER_REFUSE_BUSY)
            return ARI_EMSG_FIELD;
        frame->reason = (cluster_refuse_t)body[0];
        return ARI_OK;
    }
    return ARI_EMSG_TYPE; /* NEVER: the header check knows the types */
}

int cluster_frame_decode(const uint8_t *bytes, size_t size, cluster_frame_t *frame_out)
{
    cluster_frame_t frame;
    memset(&frame, 0, sizeof frame);
    int status = cluster_frame_header(bytes, size, &frame.type, &frame.size);
    if (status != ARI_OK)
        return status;
    if (size < frame.size)
        return ARI_EMSG_SHORT;
    if (size > frame.size)
        return ARI_EMSG_TRAILING;
    status = frame_decode_body(bytes + CLUSTER_FRAME_HEADER_BYTES,
                               frame.size - CLUSTER_FRAME_HEADER_BYTES, &frame);
    if (status != ARI_OK)
        return status;
    *frame_out = frame;
    return ARI_OK;
}

const char *cluster_frame_why(int status)
{
    switch (status) {
    case ARI_EMSG_SHORT:
        return "a truncated frame";
    case ARI_EMSG_VERSION:
        return "not a join frame of this version (it does not start 'A' 'J' 1)";
    case ARI_EMSG_TYPE:
        return "a frame of an unknown type";
    case ARI_EMSG_LENGTH:
        return "a frame whose length is out of bounds for its type";
    case ARI_EMSG_FIELD:
        return "a frame with a field it may not hold (an address, port or reason)";
    case ARI_EMSG_TRAILING:
        return "bytes after the frame's last field";
    default:
        return ari_strerror(status);
    }
}

size_t cluster_frame_endpoint_bytes(const cluster_endpoint_t *endpoint,
                                    uint8_t out[CLUSTER_ENDPOINT_BYTES_MAX])
{
    size_t length = strnlen(endpoint->addr, CLUSTER_ADDR_MAX);
    frame_put16(out, endpoint->port);
    out[2] = (uint8_t)length;
    memcpy(out + 3, endpoint->addr, length);
    return 3 + length;
}

static bool frame_endpoint_valid(const cluster_endpoint_t *endpoint, bool empty_ok)
{
    size_t length = strnlen(endpoint->addr, sizeof endpoint->addr);
    if (length > CLUSTER_ADDR_MAX || endpoint->port == 0)
        return false;
    return length == 0 ? empty_ok : cluster_addr_kind(endpoint->addr, length) != 0;
}

/* The body length of frame->type's fields; 0 for fields decode refuses. */
static size_t frame_body_size(const cluster_frame_t *frame)
{
    size_t min, max;
    switch (frame->type) {
    case CLUSTER_FRAME_HELLO:
        return CLUSTER_NONCE_BYTES + 4;
    case CLUSTER_FRAME_CHALLENGE:
        return CLUSTER_NONCE_BYTES + CLUSTER_MAC_BYTES;
    case CLUSTER_FRAME_CLAIM:
        return frame_endpoint_valid(&frame->endpoint, true)
                   ? 3 + strlen(frame->endpoint.addr) + CLUSTER_MAC_BYTES
                   : 0;
    case CLUSTER_FRAME_TABLE:
        frame_body_bounds(CLUSTER_FRAME_TABLE, &min, &max);
        return frame->sealed_size >= min && frame->sealed_size <= max ? frame->sealed_size : 0;
    case CLUSTER_FRAME_REFUSE:
        return frame->reason >= CLUSTER_REFUSE_PROOF && frame->reason <= CLUSTER_REFUSE_BUSY;
    }
    return 0;
}

static void frame_encode_body(const cluster_frame_t *frame, uint8_t *body)
{
    switch (frame->type) {
    case CLUSTER_FRAME_HELLO:
        memcpy(body, frame->nonce, CLUSTER_NONCE_BYTES);
        frame_put32(body + CLUSTER_NONCE_BYTES, frame->node_id);
        break;
    case CLUSTER_FRAME_CHALLENGE:
        memcpy(body, frame->nonce, CLUSTER_NONCE_BYTES);
        memcpy(body + CLUSTER_NONCE_BYTES, frame->mac, CLUSTER_MAC_BYTES);
        break;
    case CLUSTER_FRAME_CLAIM: {
        size_t used = cluster_frame_endpoint_bytes(&frame->endpoint, body);
        memcpy(body + used, frame->mac, CLUSTER_MAC_BYTES);
        break;
    }
    case CLUSTER_FRAME_TABLE:
        memcpy(body, frame->sealed, frame->sealed_size);
        break;
    case CLUSTER_FRAME_REFUSE:
        body[0] = (uint8_t)frame->reason;
        break;
    }
}

int cluster_frame_encode(const cluster_frame_t *frame, uint8_t *out, size_t out_size,
                         size_t *size_out)
{
    size_t body = frame_body_size(frame);
    if (body == 0)
        return ARI_EINVAL;
    if (out_size < CLUSTER_FRAME_HEADER_BYTES + body)
        return ARI_EMSG_SPACE;
    out[0] = 'A';
    out[1] = 'J';
    out[2] = CLUSTER_FRAME_VERSION;
    out[3] = (uint8_t)frame->type;
    frame_put32(out + 4, (uint32_t)body);
    frame_encode_body(frame, out + CLUSTER_FRAME_HEADER_BYTES);
    *size_out = CLUSTER_FRAME_HEADER_BYTES + body;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------------ */

int cluster_table_init(cluster_table_t *table, uint32_t count)
{
    if (count == 0 || count > CLUSTER_NODES_MAX)
        return ARI_EINVAL;
    table->entries = calloc(count, sizeof *table->entries);
    if (table->entries == NULL)
        return ARI_ENOMEM;
    table->count = count;
    return ARI_OK;
}

void cluster_table_free(cluster_table_t *table)
{
    free(table->entries);
    table->entries = NULL;
    table->count = 0;
}

int cluster_table_encode(const cluster_table_t *table, uint8_t *out, size_t out_size,
                         size_t *size_out)
{
    if (table->count == 0 || table->count > CLUSTER_NODES_MAX)
        return ARI_EINVAL;
    if (out_size < 4)
        return ARI_EMSG_SPACE;
    frame_put32(out, table->count);
    size_t used = 4;
    for (uint32_t i = 0; i < table->count; i++) {
        if (!frame_endpoint_valid(&table->entries[i], false))
            return ARI_EINVAL;
        if (out_size - used < CLUSTER_ENDPOINT_BYTES_MAX)
            return ARI_EMSG_SPACE;
        used += cluster_frame_endpoint_bytes(&table->entries[i], out + used);
    }
    *size_out = used;
    return ARI_OK;
}

int cluster_table_decode(const uint8_t *bytes, size_t size, cluster_table_t *table_out)
{
    if (size < 4)
        return ARI_EMSG_SHORT;
    uint32_t count = frame_get32(bytes);
    if (count == 0 || count > CLUSTER_NODES_MAX)
        return ARI_EMSG_FIELD;
    /* Each entry takes at least 4 bytes: refuse a count the bytes cannot
     * hold before allocating for it. */
    if ((size - 4) / 4 < count)
        return ARI_EMSG_SHORT;
    cluster_table_t table;
    int status = cluster_table_init(&table, count);
    if (status != ARI_OK)
        return status;
    size_t offset = 4;
    for (uint32_t i = 0; i < count && status == ARI_OK; i++) {
        size_t used = 0;
        status =
            frame_endpoint_decode(bytes + offset, size - offset, false, &table.entries[i], &used);
        offset += used;
    }
    if (status == ARI_OK && offset != size)
        status = ARI_EMSG_TRAILING;
    if (status != ARI_OK) {
        cluster_table_free(&table);
        return status;
    }
    *table_out = table;
    return ARI_OK;
}
