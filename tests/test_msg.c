/*
 * Tests of src/core/msg: round trips for every type, exact bytes, and the
 * specific error for each way a byte string can be wrong.
 */
#include "core/gva.h"
#include "core/diff.h"
#include "core/msg.h"
#include "test.h"

/* Storage for the variable parts of a generated message. */
typedef struct {
    uint8_t hops[4 * MSG_HOPS_MAX];
    uint8_t data[2 * GVA_PAGE_SIZE];
    uint8_t seqs[MSG_SEQ_ENTRY_SIZE * 64];
    uint8_t queue[MSG_QUEUE_ENTRY_SIZE * 64];
} msg_storage_t;

static ari_gva_t test_page(uint64_t *rng)
{
    gva_fields_t f = {
        .ownership = test_rand_next(rng) & 1,
        .generation = (uint32_t)(test_rand_next(rng) % (GVA_GENERATION_MAX + 1)),
        .machine = (uint32_t)test_rand_next(rng),
        .offset = (test_rand_next(rng) >> 20) << GVA_PAGE_SHIFT,
    };
    return gva_make(&f);
}

static void test_msg_variable_parts(msg_t *m, uint64_t *rng, msg_storage_t *s)
{
    uint32_t hops[40];
    uint32_t hop_count = (uint32_t)(test_rand_next(rng) % 40);
    for (uint32_t i = 0; i < hop_count; i++)
        hops[i] = (uint32_t)(test_rand_next(rng) % GVA_NODES_MAX);
    m->hops = msg_hops_store(s->hops, hops, hop_count);
    if (test_rand_next(rng) & 1)
        m->hop_push = (uint32_t)(test_rand_next(rng) % GVA_NODES_MAX);
    m->offset = (uint32_t)(test_rand_next(rng) % GVA_PAGE_SIZE);
    m->data_length = (uint32_t)(test_rand_next(rng) % (GVA_PAGE_SIZE - m->offset)) + 1;
    for (uint32_t i = 0; i < m->data_length; i++)
        s->data[i] = (uint8_t)test_rand_next(rng);
    m->data = s->data;
    m->seqs = (msg_table_t){s->seqs, (uint32_t)(test_rand_next(rng) % 64)};
    for (uint32_t i = 0; i < m->seqs.count; i++)
        msg_seqs_put(s->seqs, i, (msg_seq_entry_t){(uint32_t)(test_rand_next(rng) % 1000),
                                                   test_rand_next(rng)});
    m->queue = (msg_table_t){s->queue, (uint32_t)(test_rand_next(rng) % 64)};
    for (uint32_t i = 0; i < m->queue.count; i++)
        msg_queue_put(s->queue, i,
                      (msg_queue_entry_t){(uint32_t)(test_rand_next(rng) % 1000),
                                          test_rand_next(rng), test_rand_next(rng),
                                          (uint8_t)test_rand_next(rng),
                                          (uint8_t)(test_rand_next(rng) % 64),
                                          (uint8_t)(1 + test_rand_next(rng) % 4),
                                          (uint32_t)(test_rand_next(rng) % (GVA_PAGE_SIZE / 8)) * 8});
}

/* Fixes up the fields whose type gives them rules (msg_check). */
static void test_msg_type_rules(msg_t *m, uint64_t *rng)
{
    switch (m->type) {
    case MSG_REF:
        m->count = 1 + (uint32_t)(test_rand_next(rng) % MSG_RUN_MAX);
        m->flags = (uint16_t)(test_rand_next(rng) & MSG_FLAG_NODATA);
        break;
    case MSG_PRUNE:
        m->flags = (uint16_t)(test_rand_next(rng) & MSG_FLAG_NOACK);
        break;
    case MSG_ATOMIC:
        m->op = (uint8_t)(1 + test_rand_next(rng) % 3);
        m->offset = (uint32_t)(test_rand_next(rng) % (GVA_PAGE_SIZE / 8)) * 8;
        if (m->op != MSG_ATOMIC_CAS)
            m->arg1 = 0;
        break;
    case MSG_ATOMIC_RESULT:
        m->status = -(int32_t)(test_rand_next(rng) % 2);
        break;
    case MSG_GET:
        m->length = 1 + (uint32_t)(test_rand_next(rng) % (GVA_PAGE_SIZE - m->offset));
        break;
    case MSG_REF_FAIL:
    case MSG_ERROR:
        m->status = ARI_EBUSY;
        m->op = m->type == MSG_ERROR ? MSG_WRITE : 0;
        break;
    case MSG_REF_DATA:
        if (test_rand_next(rng) & 1) {
            m->flags = MSG_FLAG_NODATA;
            m->data_length = 0;
        }
        break;
    case MSG_ACQ:
        m->op = (uint8_t)(1 + test_rand_next(rng) % 4);
        m->offset = m->op == MSG_ACQ_OWN ? 0 : (uint32_t)(test_rand_next(rng) % (GVA_PAGE_SIZE / 8)) * 8;
        m->count = m->op == MSG_ACQ_BARRIER ? 1 + (uint32_t)(test_rand_next(rng) % 100) : 0;
        break;
    case MSG_GRANT:
        m->op = (uint8_t)(1 + test_rand_next(rng) % 4);
        break;
    case MSG_DENY:
        m->op = (uint8_t)(1 + test_rand_next(rng) % 2);
        m->count = m->op == MSG_DENY_QUEUED ? 1 + (uint32_t)(test_rand_next(rng) % 100) : 0;
        break;
    default:
        break;
    }
}

/* A random valid message of the given type. */
static msg_t test_msg_random(msg_type_t type, uint64_t *rng, msg_storage_t *s)
{
    msg_t m = msg_make(type);
    m.page = test_page(rng);
    m.origin = (uint32_t)(test_rand_next(rng) % GVA_NODES_MAX);
    m.generation = (uint32_t)test_rand_next(rng);
    m.seq = test_rand_next(rng);
    m.prev = test_rand_next(rng);
    m.version = test_rand_next(rng);
    m.arg0 = test_rand_next(rng);
    m.arg1 = test_rand_next(rng);
    m.timestamp = test_rand_next(rng);
    m.priority = (uint8_t)test_rand_next(rng);
    m.count = (uint32_t)test_rand_next(rng);
    test_msg_variable_parts(&m, rng, s);
    test_msg_type_rules(&m, rng);
    return m;
}

TEST_FN(msg_roundtrip_every_type)
{
    static msg_storage_t storage;
    static uint8_t wire[64 * 1024], again[64 * 1024];
    uint64_t rng = 11;
    for (int round = 0; round < 300; round++) {
        for (int type = MSG_REF; type < MSG_TYPE_END; type++) {
            msg_t m = test_msg_random((msg_type_t)type, &rng, &storage);
            size_t length = 0, consumed = 0, length2 = 0;
            CHECK_OK(msg_encode(&m, wire, sizeof wire, &length));
            CHECK_U64(length, ==, msg_encoded_size(&m));
            msg_t d;
            CHECK_OK(msg_decode(wire, length, &d, &consumed));
            CHECK_U64(consumed, ==, length);
            CHECK_INT(d.type, ==, type);
            CHECK_INT(d.hop_push, ==, MSG_HOP_NONE);
            /* Re-encoding the decoded message gives the same bytes: the
             * encoding is canonical, so every carried field survived. */
            CHECK_OK(msg_encode(&d, again, sizeof again, &length2));
            CHECK_U64(length2, ==, length);
            CHECK(memcmp(wire, again, length) == 0);
        }
    }
}

TEST_FN(msg_fields_survive)
{
    static msg_storage_t storage;
    static uint8_t wire[64 * 1024];
    uint64_t rng = 5;
    msg_t m = test_msg_random(MSG_XFER_DATA, &rng, &storage);
    m.hop_push = 77;
    size_t length, consumed;
    CHECK_OK(msg_encode(&m, wire, sizeof wire, &length));
    msg_t d;
    CHECK_OK(msg_decode(wire, length, &d, &consumed));
    CHECK(gva_equal(d.page, m.page));
    CHECK_U64(d.version, ==, m.version);
    CHECK_U64(d.origin, ==, m.origin);
    CHECK_U64(d.generation, ==, m.generation);
    CHECK_U64(d.seq, ==, m.seq);
    CHECK_U64(d.offset, ==, m.offset);
    CHECK_U64(d.data_length, ==, m.data_length);
    CHECK(memcmp(d.data, m.data, m.data_length) == 0);
    CHECK_U64(d.hops.count, ==, m.hops.count + 1);
    for (uint32_t i = 0; i < m.hops.count; i++)
        CHECK_U64(msg_hops_at(d.hops, i), ==, msg_hops_at(m.hops, i));
    CHECK_U64(msg_hops_at(d.hops, m.hops.count), ==, 77);
    CHECK_U64(d.seqs.count, ==, m.seqs.count);
    for (uint32_t i = 0; i < m.seqs.count; i++)
        CHECK_U64(msg_seqs_at(d.seqs, i).seq, ==, msg_seqs_at(m.seqs, i).seq);
    CHECK_U64(d.queue.count, ==, m.queue.count);
    for (uint32_t i = 0; i < m.queue.count; i++) {
        msg_queue_entry_t a = msg_queue_at(d.queue, i), b = msg_queue_at(m.queue, i);
        CHECK(a.origin == b.origin && a.seq == b.seq && a.timestamp == b.timestamp &&
              a.priority == b.priority && a.port == b.port && a.kind == b.kind &&
              a.offset == b.offset);
    }
    /* Fields the type does not carry come back zero. */
    CHECK_U64(d.arg0, ==, 0);
    CHECK_U64(d.timestamp, ==, 0);
}

TEST_FN(msg_exact_bytes)
{
    /* UNREF of page hi=0x0100000000000003 lo=0x5000, generation 0x0a0b0c0d,
     * from node 0x112233: little-endian everywhere, header then the fields
     * in layout order. */
    msg_t m = msg_make(MSG_UNREF);
    m.page = (ari_gva_t){0x0100000000000003ull, 0x5000};
    m.generation = 0x0a0b0c0d;
    m.origin = 0x112233;
    static const uint8_t want[] = {
        MSG_WIRE_VERSION, MSG_UNREF, 0, 0, 24, 0, 0, 0,    /* header */
        0x03, 0, 0, 0, 0, 0, 0, 0x01,                      /* page.hi */
        0x00, 0x50, 0, 0, 0, 0, 0, 0,                      /* page.lo */
        0x0d, 0x0c, 0x0b, 0x0a,                            /* generation */
        0x33, 0x22, 0x11, 0x00,                            /* origin */
    };
    uint8_t wire[64];
    size_t length;
    CHECK_OK(msg_encode(&m, wire, sizeof wire, &length));
    CHECK_U64(length, ==, sizeof want);
    CHECK(memcmp(wire, want, sizeof want) == 0);
}

/* Encodes a valid REF with three hops into wire; returns its length. */
static size_t test_msg_ref(uint8_t *wire, size_t capacity)
{
    static uint8_t hop_storage[12];
    static const uint32_t nodes[] = {4, 9, 2};
    msg_t m = msg_make(MSG_REF);
    m.page = (ari_gva_t){7, 0x3000};
    m.count = 1;
    m.origin = 4;
    m.seq = 99;
    m.hops = msg_hops_store(hop_storage, nodes, 3);
    size_t length = 0;
    CHECK_OK(msg_encode(&m, wire, capacity, &length));
    return length;
}

static int test_msg_decode_status(const uint8_t *wire, size_t length)
{
    msg_t d;
    size_t consumed;
    return msg_decode(wire, length, &d, &consumed);
}

TEST_FN(msg_decode_errors)
{
    uint8_t wire[256];
    size_t length = test_msg_ref(wire, sizeof wire);
    CHECK_OK(test_msg_decode_status(wire, length));
    /* Every strict prefix fails: short header, or a body the header says
     * is longer than the bytes given. */
    for (size_t cut = 0; cut < length; cut++) {
        int status = test_msg_decode_status(wire, cut);
        CHECK(status == (cut < MSG_HEADER_SIZE ? ARI_EMSG_SHORT : ARI_EMSG_LENGTH));
    }
    uint8_t bad[256];
    memcpy(bad, wire, length);
    bad[0] = MSG_WIRE_VERSION + 1;
    CHECK_INT(test_msg_decode_status(bad, length), ==, ARI_EMSG_VERSION);
    memcpy(bad, wire, length);
    bad[1] = 0;
    CHECK_INT(test_msg_decode_status(bad, length), ==, ARI_EMSG_TYPE);
    bad[1] = MSG_TYPE_END;
    CHECK_INT(test_msg_decode_status(bad, length), ==, ARI_EMSG_TYPE);
    memcpy(bad, wire, length);
    bad[3] = 0x80; /* a flag REF does not allow */
    CHECK_INT(test_msg_decode_status(bad, length), ==, ARI_EMSG_FIELD);
    /* One extra byte inside the body. */
    memcpy(bad, wire, length);
    bad[length] = 0;
    msg_put32(bad + 4, msg_le32(wire + 4) + 1);
    CHECK_INT(test_msg_decode_status(bad, length + 1), ==, ARI_EMSG_TRAILING);
    /* A body one byte shorter than its fields need. */
    memcpy(bad, wire, length);
    msg_put32(bad + 4, msg_le32(wire + 4) - 1);
    CHECK_INT(test_msg_decode_status(bad, length - 1), ==, ARI_EMSG_SHORT);
    /* The page must be a page identity: aligned, ref index 0. */
    memcpy(bad, wire, length);
    bad[MSG_HEADER_SIZE + 8] = 0x10; /* page.lo = 0x3010 */
    CHECK_INT(test_msg_decode_status(bad, length), ==, ARI_EMSG_FIELD);
    memcpy(bad, wire, length);
    bad[MSG_HEADER_SIZE + 4] = 1; /* ref index 1 */
    CHECK_INT(test_msg_decode_status(bad, length), ==, ARI_EMSG_FIELD);
    /* A run of zero pages. */
    memcpy(bad, wire, length);
    msg_put32(bad + MSG_HEADER_SIZE + 16, 0);
    CHECK_INT(test_msg_decode_status(bad, length), ==, ARI_EMSG_FIELD);
    /* A hop count over the bound. */
    memcpy(bad, wire, length);
    size_t hops_at = MSG_HEADER_SIZE + 16 + 4 + 4 + 8;
    bad[hops_at] = (uint8_t)(MSG_HOPS_MAX + 1);
    bad[hops_at + 1] = (uint8_t)((MSG_HOPS_MAX + 1) >> 8);
    CHECK_INT(test_msg_decode_status(bad, length), ==, ARI_EMSG_HOPS);
    /* A hop naming a node id past the GVA limit. */
    memcpy(bad, wire, length);
    msg_put32(bad + hops_at + 2, GVA_NODES_MAX);
    CHECK_INT(test_msg_decode_status(bad, length), ==, ARI_EMSG_FIELD);
}

/* The ownership messages' rules: ACQ kinds and their words, GRANT kinds,
 * queue entries, and REF_DATA that says NODATA but carries bytes. */
TEST_FN(msg_check_ownership_rules)
{
    msg_t acq = msg_make(MSG_ACQ);
    acq.page = (ari_gva_t){0, 0x1000};
    acq.op = MSG_ACQ_OWN;
    CHECK_OK(msg_check(&acq));
    acq.op = 9; /* no such kind */
    CHECK_INT(msg_check(&acq), ==, ARI_EMSG_FIELD);
    acq.op = MSG_ACQ_OWN;
    acq.offset = 8; /* OWN names no word */
    CHECK_INT(msg_check(&acq), ==, ARI_EMSG_FIELD);
    acq.op = MSG_ACQ_SEM_WAIT;
    CHECK_OK(msg_check(&acq));
    acq.offset = 12; /* not aligned */
    CHECK_INT(msg_check(&acq), ==, ARI_EMSG_FIELD);
    acq.offset = GVA_PAGE_SIZE - 4; /* the word runs past the page */
    CHECK_INT(msg_check(&acq), ==, ARI_EMSG_FIELD);
    acq.op = MSG_ACQ_BARRIER;
    acq.offset = 16;
    acq.count = 0; /* a barrier of nobody */
    CHECK_INT(msg_check(&acq), ==, ARI_EMSG_FIELD);
    acq.count = 3;
    CHECK_OK(msg_check(&acq));
    acq.op = MSG_ACQ_SEM_POST; /* only a barrier has parties */
    CHECK_INT(msg_check(&acq), ==, ARI_EMSG_FIELD);

    msg_t grant = msg_make(MSG_GRANT);
    grant.page = acq.page;
    CHECK_INT(msg_check(&grant), ==, ARI_EMSG_FIELD); /* kind 0 */
    grant.op = MSG_ACQ_BARRIER;
    CHECK_OK(msg_check(&grant));

    uint8_t queue[MSG_QUEUE_ENTRY_SIZE];
    msg_t xfer = msg_make(MSG_XFER_DATA);
    xfer.page = acq.page;
    xfer.queue = (msg_table_t){queue, 1};
    msg_queue_entry_t entry = {.origin = 3, .kind = MSG_ACQ_OWN, .port = MSG_QUEUE_PORT_HOST};
    msg_queue_put(queue, 0, entry);
    CHECK_OK(msg_check(&xfer));
    entry.kind = 0;
    msg_queue_put(queue, 0, entry);
    CHECK_INT(msg_check(&xfer), ==, ARI_EMSG_FIELD);
    entry.kind = MSG_ACQ_SEM_WAIT;
    entry.offset = 4; /* not aligned */
    msg_queue_put(queue, 0, entry);
    CHECK_INT(msg_check(&xfer), ==, ARI_EMSG_FIELD);
    entry.offset = 8;
    entry.port = 64; /* neither a port nor the host */
    msg_queue_put(queue, 0, entry);
    CHECK_INT(msg_check(&xfer), ==, ARI_EMSG_FIELD);

    uint8_t bytes[8] = {0};
    msg_t data = msg_make(MSG_REF_DATA);
    data.page = acq.page;
    data.flags = MSG_FLAG_NODATA;
    CHECK_OK(msg_check(&data));
    data.data = bytes;
    data.data_length = 8;
    CHECK_INT(msg_check(&data), ==, ARI_EMSG_FIELD);
}

TEST_FN(msg_check_rules)
{
    uint8_t data[8] = {0};
    msg_t m = msg_make(MSG_ATOMIC);
    m.page = (ari_gva_t){0, 0x1000};
    m.op = MSG_ATOMIC_FETCH_ADD;
    m.offset = 8;
    CHECK_OK(msg_check(&m));
    m.offset = 4; /* not aligned */
    CHECK_INT(msg_check(&m), ==, ARI_EMSG_FIELD);
    m.offset = GVA_PAGE_SIZE; /* past the page */
    CHECK_INT(msg_check(&m), ==, ARI_EMSG_FIELD);
    m.offset = 8;
    m.op = 9;
    CHECK_INT(msg_check(&m), ==, ARI_EMSG_FIELD);
    m.op = MSG_ATOMIC_SWAP;
    m.arg1 = 1; /* only CAS has a second operand */
    CHECK_INT(msg_check(&m), ==, ARI_EMSG_FIELD);

    msg_t w = msg_make(MSG_WRITE);
    w.page = (ari_gva_t){0, 0};
    w.data = data;
    w.offset = GVA_PAGE_SIZE - 8;
    w.data_length = 8;
    CHECK_OK(msg_check(&w));
    w.offset++; /* one byte past the page */
    CHECK_INT(msg_check(&w), ==, ARI_EMSG_FIELD);
    w.offset = 0;
    w.data_length = 0; /* empty write */
    CHECK_INT(msg_check(&w), ==, ARI_EMSG_FIELD);

    msg_t huge = msg_make(MSG_GET);
    huge.page = (ari_gva_t){(uint64_t)GVA_FLAG_HUGE << 56, GVA_HUGE_PAGE_SIZE};
    huge.offset = GVA_PAGE_SIZE * 3;
    huge.length = GVA_PAGE_SIZE;
    CHECK_OK(msg_check(&huge)); /* fine inside a 2 MiB page */
    huge.page.lo += GVA_PAGE_SIZE; /* not 2 MiB aligned */
    CHECK_INT(msg_check(&huge), ==, ARI_EMSG_FIELD);

    msg_t deny = msg_make(MSG_DENY);
    deny.op = MSG_DENY_REJECTED;
    deny.count = 3; /* a rejection has no queue position */
    CHECK_INT(msg_check(&deny), ==, ARI_EMSG_FIELD);
    deny.op = MSG_DENY_QUEUED;
    CHECK_OK(msg_check(&deny));

    msg_t e = msg_make(MSG_ERROR);
    e.status = 0; /* an error answer carries an error */
    CHECK_INT(msg_check(&e), ==, ARI_EMSG_FIELD);
    msg_t none = msg_make((msg_type_t)0);
    CHECK_INT(msg_check(&none), ==, ARI_EMSG_TYPE);

    uint8_t exact[32];
    size_t length;
    msg_t u = msg_make(MSG_UNREF);
    CHECK_INT(msg_encode(&u, exact, sizeof exact - 1, &length), ==, ARI_EMSG_SPACE);
    CHECK_OK(msg_encode(&u, exact, sizeof exact, &length));
    CHECK_U64(length, ==, sizeof exact);
}

TEST_FN(msg_batch_and_hops)
{
    uint8_t wire[512];
    size_t first = test_msg_ref(wire, sizeof wire);
    size_t second = test_msg_ref(wire + first, sizeof wire - first);
    size_t total;
    CHECK_OK(msg_peek_length(wire, first + second, &total));
    CHECK_U64(total, ==, first);
    msg_t a, b;
    size_t used;
    CHECK_OK(msg_decode(wire, first + second, &a, &used));
    CHECK_U64(used, ==, first);
    CHECK_OK(msg_decode(wire + used, first + second - used, &b, &used));
    CHECK_U64(used, ==, second);
    /* Hops: the origin first, the last forwarder last; find cuts loops. */
    CHECK_U64(a.hops.count, ==, 3);
    CHECK_U64(msg_hops_at(a.hops, 0), ==, 4);
    CHECK_U64(msg_hops_at(a.hops, 2), ==, 2);
    CHECK_INT(msg_hops_find(a.hops, 9), ==, 1);
    CHECK_INT(msg_hops_find(a.hops, 5), ==, -1);
    /* Popping the last hop is a shorter view; pushing appends. */
    msg_t reply = msg_make(MSG_REF_FAIL);
    reply.page = a.page;
    reply.status = ARI_EBUSY;
    reply.hops = a.hops;
    reply.hops.count--;
    reply.hop_push = 31;
    size_t length;
    CHECK_OK(msg_encode(&reply, wire, sizeof wire, &length));
    msg_t r;
    CHECK_OK(msg_decode(wire, length, &r, &used));
    CHECK_U64(r.hops.count, ==, 3);
    CHECK_U64(msg_hops_at(r.hops, 1), ==, 9);
    CHECK_U64(msg_hops_at(r.hops, 2), ==, 31);
    CHECK_STR(msg_type_name(MSG_XFER_DONE), "XFER_DONE");
    CHECK_STR(msg_type_name((msg_type_t)99), "UNKNOWN");
}

/* Random and mutated byte strings: each decodes into a message that
 * re-encodes to the same bytes, or fails with an ARI_EMSG_* code. This is
 * the fuzz target's property, run deterministically in every check. */
TEST_FN(msg_decode_random_bytes)
{
    static msg_storage_t storage;
    static uint8_t wire[64 * 1024], again[64 * 1024];
    uint64_t rng = 3;
    int decoded = 0;
    for (int i = 0; i < 200000; i++) {
        size_t length;
        msg_t m = test_msg_random((msg_type_t)(MSG_REF + i % (MSG_TYPE_END - 1)), &rng,
                                  &storage);
        CHECK_OK(msg_encode(&m, wire, sizeof wire, &length));
        int flips = 1 + (int)(test_rand_next(&rng) % 4);
        for (int f = 0; f < flips; f++)
            wire[test_rand_next(&rng) % length] ^= (uint8_t)(1u << (test_rand_next(&rng) % 8));
        if (test_rand_next(&rng) % 4 == 0)
            length = test_rand_next(&rng) % (length + 1);
        msg_t d;
        size_t used, length2;
        int status = msg_decode(wire, length, &d, &used);
        if (status != ARI_OK) {
            CHECK(status <= ARI_EMSG_SHORT && status >= ARI_EMSG_SPACE);
            continue;
        }
        decoded++;
        CHECK_OK(msg_encode(&d, again, sizeof again, &length2));
        CHECK_U64(length2, ==, used);
        CHECK(memcmp(wire, again, used) == 0);
    }
    CHECK_INT(decoded, >, 1000); /* the mutations left some messages valid */
}

/* ------------------------------------------------------------------------
 * Diffs (src/core/diff.c): the runs of a plain-store writer's changes
 * ------------------------------------------------------------------------ */

typedef struct {
    uint8_t *page;
    uint32_t runs;
    uint32_t last_end;
    int overlaps;
} diff_target_t;

static void diff_apply_run(void *ctx, uint32_t offset, const uint8_t *bytes, uint32_t length)
{
    diff_target_t *t = ctx;
    if (t->runs > 0 && offset <= t->last_end)
        t->overlaps++; /* runs never touch: an unchanged byte ends each */
    memcpy(t->page + offset, bytes, length);
    t->last_end = offset + length;
    t->runs++;
}

/* Random pages and changes: applying the diff to the twin gives the page,
 * no run carries an unchanged byte, and the diff passes diff_check. */
TEST_FN(msg_diff_roundtrip)
{
    static uint8_t page[4096], twin[4096], copy[4096], out[4096 * 6];
    uint64_t rng = 11;
    for (int round = 0; round < 3000; round++) {
        for (uint32_t i = 0; i < sizeof twin; i++)
            twin[i] = (uint8_t)test_rand_next(&rng);
        memcpy(page, twin, sizeof page);
        int changes = (int)(test_rand_next(&rng) % 64);
        if (round % 100 == 0)
            changes = 4096; /* every byte, or near it */
        for (int c = 0; c < changes; c++) {
            uint32_t at = (uint32_t)(test_rand_next(&rng) % sizeof page);
            uint32_t n = 1 + (uint32_t)(test_rand_next(&rng) % 24);
            for (uint32_t k = at; k < at + n && k < sizeof page; k++)
                page[k] = (uint8_t)(page[k] + 1 + test_rand_next(&rng) % 255);
        }
        if (round % 7 == 0) /* alternating bytes: the worst case */
            for (uint32_t k = 0; k < sizeof page; k += 2)
                page[k] = (uint8_t)~twin[k];
        size_t length = diff_make(page, twin, sizeof page, out, sizeof out);
        CHECK_U64(length, <=, diff_bound(sizeof page));
        if (memcmp(page, twin, sizeof page) == 0) {
            CHECK_U64(length, ==, 0);
            continue;
        }
        CHECK_OK(diff_check(out, length, sizeof page));
        memcpy(copy, twin, sizeof copy);
        diff_target_t t = {.page = copy};
        diff_each(out, length, diff_apply_run, &t);
        CHECK(memcmp(copy, page, sizeof page) == 0);
        CHECK_INT(t.overlaps, ==, 0);
    }
}

TEST_FN(msg_diff_rejects)
{
    uint8_t d[32] = {0};
    /* A run at 4090 of 8 bytes leaves the page. */
    msg_put32(d, 4090);
    msg_put32(d + 4, 8);
    CHECK_INT(diff_check(d, 16, 4096), ==, ARI_EMSG_FIELD);
    /* Empty run; empty diff; header cut short; bytes cut short. */
    msg_put32(d, 0);
    msg_put32(d + 4, 0);
    CHECK_INT(diff_check(d, 8, 4096), ==, ARI_EMSG_FIELD);
    CHECK_INT(diff_check(d, 0, 4096), ==, ARI_EMSG_FIELD);
    msg_put32(d + 4, 4);
    CHECK_INT(diff_check(d, 6, 4096), ==, ARI_EMSG_FIELD);
    CHECK_INT(diff_check(d, 10, 4096), ==, ARI_EMSG_FIELD);
    CHECK_OK(diff_check(d, 12, 4096));
    /* A second run that goes back, or overlaps the first. */
    msg_put32(d + 12, 2);
    msg_put32(d + 16, 1);
    CHECK_INT(diff_check(d, 21, 4096), ==, ARI_EMSG_FIELD);
    msg_put32(d + 12, 4);
    CHECK_OK(diff_check(d, 21, 4096));
    /* On the wire: a WRITE with the flag must carry a good diff at offset 0. */
    msg_t m = msg_make(MSG_WRITE);
    m.page = (ari_gva_t){0, 4096};
    m.flags = MSG_FLAG_DIFF;
    m.data = d;
    m.data_length = 21;
    uint32_t hop = 0;
    uint8_t hops[4];
    m.hops = msg_hops_store(hops, &hop, 1);
    CHECK_OK(msg_check(&m));
    m.offset = 8;
    CHECK_INT(msg_check(&m), ==, ARI_EMSG_FIELD);
    m.offset = 0;
    m.data_length = 20;
    CHECK_INT(msg_check(&m), ==, ARI_EMSG_FIELD);
    m.data_length = 21;
    m.type = MSG_GET; /* only WRITE and UPDATE may carry the flag */
    m.length = 8;
    CHECK_INT(msg_check(&m), ==, ARI_EMSG_FIELD);
}
