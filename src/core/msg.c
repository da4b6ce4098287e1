/*
 * msg — table-driven encoding and decoding of the wire format.
 *
 * Every message type is a fixed list of fields (msg_layouts below). One
 * encoder and one decoder walk the list, so a new type is one line of
 * table, one line of docs/WIRE.md and its rules in msg_check.
 */
#include "msg.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "gva.h"

/* ------------------------------------------------------------------------
 * Layouts
 * ------------------------------------------------------------------------ */

typedef enum {
    F_END = 0,
    F_PAGE,    /* u64 hi, u64 lo */
    F_ORIGIN,  /* u32 */
    F_GEN,     /* u32 */
    F_COUNT,   /* u32 */
    F_OFFSET,  /* u32 */
    F_LENGTH,  /* u32 */
    F_STATUS,  /* i32, two's complement */
    F_SEQ,     /* u64 */
    F_PREV,    /* u64 */
    F_VERSION, /* u64 */
    F_ARG0,    /* u64 */
    F_ARG1,    /* u64 */
    F_TIME,    /* u64 */
    F_OP,      /* u8 */
    F_PRIO,    /* u8 */
    F_HOPS,    /* u16 count, count x u32 */
    F_DATA,    /* u32 length, bytes */
    F_SEQS,    /* u32 count, count x 12 bytes */
    F_QUEUE,   /* u32 count, count x MSG_QUEUE_ENTRY_SIZE bytes */
} msg_field_t;

#define MSG_FIELDS_MAX 11

static const uint8_t msg_layouts[MSG_TYPE_END][MSG_FIELDS_MAX] = {
    [MSG_REF] = {F_PAGE, F_COUNT, F_ORIGIN, F_SEQ, F_HOPS},
    [MSG_REF_DATA] = {F_PAGE, F_VERSION, F_GEN, F_OFFSET, F_DATA, F_HOPS},
    [MSG_REF_FAIL] = {F_PAGE, F_STATUS, F_ORIGIN, F_SEQ, F_HOPS},
    [MSG_WRITE] = {F_PAGE, F_OFFSET, F_ORIGIN, F_SEQ, F_PREV, F_DATA, F_HOPS},
    [MSG_WRITE_ACK] = {F_PAGE, F_VERSION, F_ORIGIN, F_SEQ, F_HOPS},
    [MSG_ATOMIC] = {F_PAGE, F_OFFSET, F_OP, F_ARG0, F_ARG1, F_ORIGIN, F_SEQ, F_PREV, F_HOPS},
    [MSG_ATOMIC_RESULT] = {F_PAGE, F_VERSION, F_STATUS, F_ARG0, F_ORIGIN, F_SEQ, F_HOPS},
    [MSG_GET] = {F_PAGE, F_OFFSET, F_LENGTH, F_ORIGIN, F_SEQ, F_PREV, F_HOPS},
    [MSG_GET_DATA] = {F_PAGE, F_VERSION, F_OFFSET, F_ORIGIN, F_SEQ, F_DATA, F_HOPS},
    [MSG_UPDATE] = {F_PAGE, F_VERSION, F_OFFSET, F_ORIGIN, F_SEQ, F_DATA},
    [MSG_INVAL] = {F_PAGE, F_VERSION},
    [MSG_SYNC] = {F_PAGE, F_VERSION, F_ORIGIN, F_SEQ, F_HOPS},
    [MSG_SYNC_DATA] = {F_PAGE, F_VERSION, F_GEN, F_OFFSET, F_DATA, F_HOPS},
    [MSG_UNREF] = {F_PAGE, F_GEN, F_ORIGIN},
    [MSG_PRUNE] = {F_PAGE, F_VERSION},
    [MSG_PRUNE_ACK] = {F_PAGE},
    [MSG_ACQ] = {F_PAGE, F_OP, F_ORIGIN, F_SEQ, F_TIME, F_PRIO, F_OFFSET, F_COUNT, F_HOPS},
    [MSG_GRANT] = {F_PAGE, F_VERSION, F_OP, F_ORIGIN, F_SEQ, F_HOPS},
    [MSG_DENY] = {F_PAGE, F_ORIGIN, F_SEQ, F_OP, F_COUNT, F_HOPS},
    [MSG_CANCEL] = {F_PAGE, F_ORIGIN, F_SEQ, F_HOPS},
    [MSG_XFER_DATA] = {F_PAGE, F_VERSION, F_GEN, F_ORIGIN, F_SEQ, F_OFFSET, F_DATA, F_SEQS,
                       F_QUEUE, F_HOPS},
    [MSG_XFER_CONFIRM] = {F_PAGE, F_VERSION, F_ORIGIN, F_HOPS},
    [MSG_XFER_DONE] = {F_PAGE, F_VERSION, F_ORIGIN, F_HOPS},
    [MSG_HEARTBEAT] = {F_ORIGIN, F_SEQ, F_TIME},
    [MSG_ERROR] = {F_PAGE, F_STATUS, F_OP, F_ORIGIN, F_SEQ, F_HOPS},
};

static const char *const msg_type_names[MSG_TYPE_END] = {
    [MSG_REF] = "REF", [MSG_REF_DATA] = "REF_DATA", [MSG_REF_FAIL] = "REF_FAIL",
    [MSG_WRITE] = "WRITE", [MSG_WRITE_ACK] = "WRITE_ACK", [MSG_ATOMIC] = "ATOMIC",
    [MSG_ATOMIC_RESULT] = "ATOMIC_RESULT", [MSG_GET] = "GET", [MSG_GET_DATA] = "GET_DATA",
    [MSG_UPDATE] = "UPDATE", [MSG_INVAL] = "INVAL", [MSG_SYNC] = "SYNC",
    [MSG_SYNC_DATA] = "SYNC_DATA", [MSG_UNREF] = "UNREF", [MSG_PRUNE] = "PRUNE",
    [MSG_PRUNE_ACK] = "PRUNE_ACK", [MSG_ACQ] = "ACQ", [MSG_GRANT] = "GRANT",
    [MSG_DENY] = "DENY", [MSG_CANCEL] = "CANCEL", [MSG_XFER_DATA] = "XFER_DATA",
    [MSG_XFER_CONFIRM] = "XFER_CONFIRM", [MSG_XFER_DONE] = "XFER_DONE",
    [MSG_HEARTBEAT] = "HEARTBEAT", [MSG_ERROR] = "ERROR",
};

/* Queue entries name a port (port sets are 64-bit masks in the core) or the host. */
#define MSG_QUEUE_PORT_LIMIT 64u

static bool msg_acq_kind_valid(uint8_t kind)
{
    return kind >= MSG_ACQ_OWN && kind <= MSG_ACQ_BARRIER;
}

static bool msg_type_valid(uint32_t type) { return type >= MSG_REF && type < MSG_TYPE_END; }

static bool msg_has_field(msg_type_t type, msg_field_t field)
{
    for (int i = 0; i < MSG_FIELDS_MAX && msg_layouts[type][i] != F_END; i++) {
        if (msg_layouts[type][i] == field)
            return true;
    }
    return false;
}

const char *msg_type_name(msg_type_t type)
{
    return msg_type_valid((uint32_t)type) ? msg_type_names[type] : "UNKNOWN";
}

msg_t msg_make(msg_type_t type)
{
    msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = type;
    msg.hop_push = MSG_HOP_NONE;
    return msg;
}

/* ------------------------------------------------------------------------
 * Semantic checks, shared by the encoder and the decoder
 * ------------------------------------------------------------------------ */

static uint32_t msg_hops_total(const msg_t *msg)
{
    return msg->hops.count + (msg->hop_push != MSG_HOP_NONE ? 1u : 0u);
}

static int msg_check_hops(const msg_t *msg)
{
    if (msg_hops_total(msg) > MSG_HOPS_MAX)
        return ARI_EMSG_HOPS;
    for (uint32_t i = 0; i < msg->hops.count; i++) {
        if (msg_hops_at(msg->hops, i) >= GVA_NODES_MAX)
            return ARI_EMSG_FIELD;
    }
    if (msg->hop_push != MSG_HOP_NONE && msg->hop_push >= GVA_NODES_MAX)
        return ARI_EMSG_FIELD;
    return ARI_OK;
}

static bool msg_page_valid(ari_gva_t page)
{
    return gva_ref(page) == GVA_REF_MASTER && gva_page_offset(page) == 0;
}

/* offset .. offset + length must lie inside the page. */
static bool msg_range_valid(const msg_t *msg, uint64_t length)
{
    return (uint64_t)msg->offset + length <= gva_page_size(msg->page);
}

static bool msg_tables_valid(const msg_t *msg)
{
    if (msg->seqs.count > MSG_SEQS_MAX || msg->queue.count > MSG_QUEUE_MAX)
        return false;
    for (uint32_t i = 0; i < msg->seqs.count; i++) {
        if (msg_seqs_at(msg->seqs, i).origin >= GVA_NODES_MAX)
            return false;
    }
    for (uint32_t i = 0; i < msg->queue.count; i++) {
        msg_queue_entry_t entry = msg_queue_at(msg->queue, i);
        if (entry.origin >= GVA_NODES_MAX ||
            (entry.port >= MSG_QUEUE_PORT_LIMIT && entry.port != MSG_QUEUE_PORT_HOST) ||
            !msg_acq_kind_valid(entry.kind) || entry.offset % 8u != 0 ||
            (uint64_t)entry.offset + 8 > gva_page_size(msg->page))
            return false;
    }
    return true;
}

/* The rules of the types that have rules beyond their fields' ranges. */
static bool msg_type_rules_hold(const msg_t *msg)
{
    uint64_t page_size = gva_page_size(msg->page);
    switch (msg->type) {
    case MSG_REF:
        return msg->count >= 1 && msg->count <= MSG_RUN_MAX &&
               msg->page.lo <= UINT64_MAX - (uint64_t)msg->count * page_size;
    case MSG_WRITE:
    case MSG_UPDATE:
        return msg->data_length >= 1;
    case MSG_ATOMIC:
        return msg->op >= MSG_ATOMIC_CAS && msg->op <= MSG_ATOMIC_SWAP &&
               msg->offset % 8u == 0 && msg_range_valid(msg, 8) &&
               (msg->op == MSG_ATOMIC_CAS || msg->arg1 == 0);
    case MSG_ATOMIC_RESULT:
        return msg->status <= 0;
    case MSG_GET:
        return msg->length >= 1 && msg_range_valid(msg, msg->length);
    case MSG_REF_FAIL:
        return msg->status < 0;
    case MSG_ERROR:
        return msg->status < 0 && (msg->op == 0 || msg_type_valid(msg->op));
    case MSG_DENY:
        return (msg->op == MSG_DENY_QUEUED && msg->count >= 1) ||
               (msg->op == MSG_DENY_REJECTED && msg->count == 0);
    case MSG_XFER_DATA:
        return msg_tables_valid(msg);
    case MSG_ACQ:
        /* A semaphore or barrier names an aligned word; a barrier its parties. */
        return msg_acq_kind_valid(msg->op) &&
               (msg->op == MSG_ACQ_OWN ? msg->offset == 0 && msg->count == 0
                                       : msg->offset % 8u == 0 && msg_range_valid(msg, 8)) &&
               (msg->op == MSG_ACQ_BARRIER ? msg->count >= 1 : msg->op == MSG_ACQ_OWN || msg->count == 0);
    case MSG_GRANT:
        return msg_acq_kind_valid(msg->op);
    case MSG_REF_DATA:
        return (msg->flags & MSG_FLAG_NODATA) == 0 || msg->data_length == 0;
    default:
        return true;
    }
}

int msg_check(const msg_t *msg)
{
    if (!msg_type_valid((uint32_t)msg->type))
        return ARI_EMSG_TYPE;
    uint16_t flags_allowed = msg->type == MSG_REF || msg->type == MSG_REF_DATA
                                 ? MSG_FLAG_NODATA
                             : msg->type == MSG_PRUNE ? MSG_FLAG_NOACK
                             : msg->type == MSG_WRITE || msg->type == MSG_UPDATE ? MSG_FLAG_DIFF
                                                                                 : 0;
    if ((msg->flags & ~flags_allowed) != 0)
        return ARI_EMSG_FIELD;
    if (msg_has_field(msg->type, F_PAGE) && !msg_page_valid(msg->page))
        return ARI_EMSG_FIELD;
    if (msg_has_field(msg->type, F_ORIGIN) && msg->origin >= GVA_NODES_MAX)
        return ARI_EMSG_FIELD;
    if (msg_has_field(msg->type, F_OFFSET) && !msg_range_valid(msg, 0))
        return ARI_EMSG_FIELD;
    if (msg->flags & MSG_FLAG_DIFF) {
        /* Runs may carry more bytes than the page (headers): each is checked. */
        if (msg->offset != 0 || msg->data_length > MSG_DATA_MAX ||
            diff_check(msg->data, msg->data_length, gva_page_size(msg->page)) != ARI_OK)
            return ARI_EMSG_FIELD;
    } else if (msg_has_field(msg->type, F_DATA) &&
               (msg->data_length > MSG_DATA_MAX || !msg_range_valid(msg, msg->data_length))) {
        return ARI_EMSG_FIELD;
    }
    if (!msg_type_rules_hold(msg))
        return ARI_EMSG_FIELD;
    return msg_has_field(msg->type, F_HOPS) ? msg_check_hops(msg) : ARI_OK;
}

/* ------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------ */

static size_t msg_field_size(const msg_t *msg, msg_field_t field)
{
    switch (field) {
    case F_PAGE:
        return 16;
    case F_ORIGIN:
    case F_GEN:
    case F_COUNT:
    case F_OFFSET:
    case F_LENGTH:
    case F_STATUS:
        return 4;
    case F_SEQ:
    case F_PREV:
    case F_VERSION:
    case F_ARG0:
    case F_ARG1:
    case F_TIME:
        return 8;
    case F_OP:
    case F_PRIO:
        return 1;
    case F_HOPS:
        return 2 + 4 * (size_t)msg_hops_total(msg);
    case F_DATA:
        return 4 + (size_t)msg->data_length;
    case F_SEQS:
        return 4 + MSG_SEQ_ENTRY_SIZE * (size_t)msg->seqs.count;
    case F_QUEUE:
        return 4 + MSG_QUEUE_ENTRY_SIZE * (size_t)msg->queue.count;
    case F_END:
        break;
    }
    assert(!"unknown field");
    return 0;
}

size_t msg_encoded_size(const msg_t *msg)
{
    assert(msg_type_valid((uint32_t)msg->type));
    size_t size = MSG_HEADER_SIZE;
    const uint8_t *layout = msg_layouts[msg->type];
    for (int i = 0; i < MSG_FIELDS_MAX && layout[i] != F_END; i++)
        size += msg_field_size(msg, (msg_field_t)layout[i]);
    return size;
}

static uint8_t *msg_put_hops(uint8_t *p, const msg_t *msg)
{
    uint32_t total = msg_hops_total(msg);
    p[0] = (uint8_t)total;
    p[1] = (uint8_t)(total >> 8);
    p += 2;
    if (msg->hops.count > 0)
        memcpy(p, msg->hops.le, 4u * (size_t)msg->hops.count);
    p += 4u * (size_t)msg->hops.count;
    if (msg->hop_push != MSG_HOP_NONE) {
        msg_put32(p, msg->hop_push);
        p += 4;
    }
    return p;
}

static uint8_t *msg_put_bytes(uint8_t *p, uint32_t count, const uint8_t *bytes, size_t size)
{
    msg_put32(p, count);
    if (size > 0)
        memcpy(p + 4, bytes, size);
    return p + 4 + size;
}

static uint8_t *msg_put_field(uint8_t *p, const msg_t *msg, msg_field_t field)
{
    switch (field) {
    case F_PAGE:
        msg_put64(p, msg->page.hi);
        msg_put64(p + 8, msg->page.lo);
        return p + 16;
    case F_ORIGIN: msg_put32(p, msg->origin); return p + 4;
    case F_GEN: msg_put32(p, msg->generation); return p + 4;
    case F_COUNT: msg_put32(p, msg->count); return p + 4;
    case F_OFFSET: msg_put32(p, msg->offset); return p + 4;
    case F_LENGTH: msg_put32(p, msg->length); return p + 4;
    case F_STATUS: msg_put32(p, (uint32_t)msg->status); return p + 4;
    case F_SEQ: msg_put64(p, msg->seq); return p + 8;
    case F_PREV: msg_put64(p, msg->prev); return p + 8;
    case F_VERSION: msg_put64(p, msg->version); return p + 8;
    case F_ARG0: msg_put64(p, msg->arg0); return p + 8;
    case F_ARG1: msg_put64(p, msg->arg1); return p + 8;
    case F_TIME: msg_put64(p, msg->timestamp); return p + 8;
    case F_OP: *p = msg->op; return p + 1;
    case F_PRIO: *p = msg->priority; return p + 1;
    case F_HOPS: return msg_put_hops(p, msg);
    case F_DATA: return msg_put_bytes(p, msg->data_length, msg->data, msg->data_length);
    case F_SEQS:
        return msg_put_bytes(p, msg->seqs.count, msg->seqs.le,
                             MSG_SEQ_ENTRY_SIZE * (size_t)msg->seqs.count);
    case F_QUEUE:
        return msg_put_bytes(p, msg->queue.count, msg->queue.le,
                             MSG_QUEUE_ENTRY_SIZE * (size_t)msg->queue.count);
    case F_END:
        break;
    }
    assert(!"unknown field");
    return p;
}

int msg_encode(const msg_t *msg, uint8_t *buffer, size_t capacity, size_t *length_out)
{
    int status = msg_check(msg);
    if (status != ARI_OK)
        return status;
    size_t size = msg_encoded_size(msg);
    if (size > capacity)
        return ARI_EMSG_SPACE;
    assert(size - MSG_HEADER_SIZE <= UINT32_MAX);
    buffer[0] = MSG_WIRE_VERSION;
    buffer[1] = (uint8_t)msg->type;
    buffer[2] = (uint8_t)msg->flags;
    buffer[3] = (uint8_t)(msg->flags >> 8);
    msg_put32(buffer + 4, (uint32_t)(size - MSG_HEADER_SIZE));
    uint8_t *p = buffer + MSG_HEADER_SIZE;
    const uint8_t *layout = msg_layouts[msg->type];
    for (int i = 0; i < MSG_FIELDS_MAX && layout[i] != F_END; i++)
        p = msg_put_field(p, msg, (msg_field_t)layout[i]);
    assert((size_t)(p - buffer) == size);
    *length_out = size;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Decoding: a cursor that refuses to read past the body.
 * ------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} msg_cursor_t;

static const uint8_t *msg_take(msg_cursor_t *c, size_t size)
{
    if ((size_t)(c->end - c->p) < size)
        return NULL;
    const uint8_t *at = c->p;
    c->p += size;
    return at;
}

/* Reads a u32 count then count x entry_size bytes, bounded by limit. */
static int msg_take_counted(msg_cursor_t *c, size_t entry_size, uint32_t limit,
                            const uint8_t **items_out, uint32_t *count_out)
{
    const uint8_t *at = msg_take(c, 4);
    if (at == NULL)
        return ARI_EMSG_SHORT;
    uint32_t count = msg_le32(at);
    if (count > limit)
        return ARI_EMSG_FIELD;
    const uint8_t *items = msg_take(c, entry_size * count);
    if (items == NULL)
        return ARI_EMSG_SHORT;
    *items_out = items;
    *count_out = count;
    return ARI_OK;
}

static int msg_take_hops(msg_cursor_t *c, msg_t *msg)
{
    const uint8_t *at = msg_take(c, 2);
    if (at == NULL)
        return ARI_EMSG_SHORT;
    uint32_t count = (uint32_t)at[0] | (uint32_t)at[1] << 8;
    if (count > MSG_HOPS_MAX)
        return ARI_EMSG_HOPS;
    const uint8_t *items = msg_take(c, 4u * count);
    if (items == NULL)
        return ARI_EMSG_SHORT;
    msg->hops.le = items;
    msg->hops.count = count;
    return ARI_OK;
}

static int msg_take_scalar(msg_cursor_t *c, msg_t *msg, msg_field_t field)
{
    size_t size = msg_field_size(msg, field);
    const uint8_t *at = msg_take(c, size);
    if (at == NULL)
        return ARI_EMSG_SHORT;
    switch (field) {
    case F_PAGE: msg->page.hi = msg_le64(at); msg->page.lo = msg_le64(at + 8); break;
    case F_ORIGIN: msg->origin = msg_le32(at); break;
    case F_GEN: msg->generation = msg_le32(at); break;
    case F_COUNT: msg->count = msg_le32(at); break;
    case F_OFFSET: msg->offset = msg_le32(at); break;
    case F_LENGTH: msg->length = msg_le32(at); break;
    case F_STATUS: msg->status = (int32_t)msg_le32(at); break;
    case F_SEQ: msg->seq = msg_le64(at); break;
    case F_PREV: msg->prev = msg_le64(at); break;
    case F_VERSION: msg->version = msg_le64(at); break;
    case F_ARG0: msg->arg0 = msg_le64(at); break;
    case F_ARG1: msg->arg1 = msg_le64(at); break;
    case F_TIME: msg->timestamp = msg_le64(at); break;
    case F_OP: msg->op = at[0]; break;
    case F_PRIO: msg->priority = at[0]; break;
    default: assert(!"not a scalar field");
    }
    return ARI_OK;
}

static int msg_take_field(msg_cursor_t *c, msg_t *msg, msg_field_t field)
{
    switch (field) {
    case F_HOPS:
        return msg_take_hops(c, msg);
    case F_DATA:
        return msg_take_counted(c, 1, MSG_DATA_MAX, &msg->data, &msg->data_length);
    case F_SEQS:
        return msg_take_counted(c, MSG_SEQ_ENTRY_SIZE, MSG_SEQS_MAX, &msg->seqs.le,
                                &msg->seqs.count);
    case F_QUEUE:
        return msg_take_counted(c, MSG_QUEUE_ENTRY_SIZE, MSG_QUEUE_MAX, &msg->queue.le,
                                &msg->queue.count);
    default:
        return msg_take_scalar(c, msg, field);
    }
}

int msg_peek_length(const uint8_t *buffer, size_t length, size_t *total_out)
{
    if (length < MSG_HEADER_SIZE)
        return ARI_EMSG_SHORT;
    if (buffer[0] != MSG_WIRE_VERSION)
        return ARI_EMSG_VERSION;
    if (!msg_type_valid(buffer[1]))
        return ARI_EMSG_TYPE;
    *total_out = MSG_HEADER_SIZE + (size_t)msg_le32(buffer + 4);
    return ARI_OK;
}

int msg_decode(const uint8_t *buffer, size_t length, msg_t *msg_out, size_t *consumed_out)
{
    size_t total;
    int status = msg_peek_length(buffer, length, &total);
    if (status != ARI_OK)
        return status;
    if (total > length)
        return ARI_EMSG_LENGTH;
    msg_t msg = msg_make((msg_type_t)buffer[1]);
    msg.flags = (uint16_t)(buffer[2] | buffer[3] << 8);
    msg_cursor_t cursor = {buffer + MSG_HEADER_SIZE, buffer + total};
    const uint8_t *layout = msg_layouts[msg.type];
    for (int i = 0; i < MSG_FIELDS_MAX && layout[i] != F_END; i++) {
        status = msg_take_field(&cursor, &msg, (msg_field_t)layout[i]);
        if (status != ARI_OK)
            return status;
    }
    if (cursor.p != cursor.end)
        return ARI_EMSG_TRAILING;
    status = msg_check(&msg);
    if (status != ARI_OK)
        return status;
    *msg_out = msg;
    *consumed_out = total;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Views
 * ------------------------------------------------------------------------ */

msg_hops_t msg_hops_store(uint8_t *storage, const uint32_t *nodes, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        msg_put32(storage + 4u * i, nodes[i]);
    msg_hops_t hops = {storage, count};
    return hops;
}

int64_t msg_hops_find(msg_hops_t hops, uint32_t node)
{
    for (uint32_t i = 0; i < hops.count; i++) {
        if (msg_hops_at(hops, i) == node)
            return i;
    }
    return -1;
}

msg_seq_entry_t msg_seqs_at(msg_table_t table, uint32_t index)
{
    assert(index < table.count);
    const uint8_t *p = table.le + MSG_SEQ_ENTRY_SIZE * (size_t)index;
    msg_seq_entry_t entry = {msg_le32(p), msg_le64(p + 4)};
    return entry;
}

msg_queue_entry_t msg_queue_at(msg_table_t table, uint32_t index)
{
    assert(index < table.count);
    const uint8_t *p = table.le + MSG_QUEUE_ENTRY_SIZE * (size_t)index;
    msg_queue_entry_t entry = {msg_le32(p), msg_le64(p + 4), msg_le64(p + 12), p[20], p[21],
                               p[22], msg_le32(p + 23)};
    return entry;
}

void msg_seqs_put(uint8_t *storage, uint32_t index, msg_seq_entry_t entry)
{
    uint8_t *p = storage + MSG_SEQ_ENTRY_SIZE * (size_t)index;
    msg_put32(p, entry.origin);
    msg_put64(p + 4, entry.seq);
}

void msg_queue_put(uint8_t *storage, uint32_t index, msg_queue_entry_t entry)
{
    uint8_t *p = storage + MSG_QUEUE_ENTRY_SIZE * (size_t)index;
    msg_put32(p, entry.origin);
    msg_put64(p + 4, entry.seq);
    msg_put64(p + 12, entry.timestamp);
    p[20] = entry.priority;
    p[21] = entry.port;
    p[22] = entry.kind;
    msg_put32(p + 23, entry.offset);
}

/* ------------------------------------------------------------------------
 * Encode buffers
 * ------------------------------------------------------------------------ */

size_t msg_buffer_encode(msg_buffer_t *buffer, const msg_t *msg)
{
    if (buffer->bytes == NULL) {
        buffer->bytes = malloc(buffer->size);
        buffer->owned = true;
        assert(buffer->bytes != NULL); /* a sender that cannot send cannot go on */
    }
    size_t length = 0;
    int status = msg_encode(msg, buffer->bytes, buffer->size, &length);
    assert(status == ARI_OK); /* built from parts checked on the way in */
    (void)status;
    return length;
}

void msg_buffer_fini(msg_buffer_t *buffer)
{
    if (buffer->owned)
        free(buffer->bytes);
    buffer->bytes = NULL;
    buffer->owned = false;
}
