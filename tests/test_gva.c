/*
 * Tests of src/core/gva and src/core/status.
 */
#include "core/gva.h"
#include "test.h"

TEST_FN(status_names)
{
    CHECK_STR(ari_strerror(ARI_OK), "success");
    CHECK_STR(ari_strerror(12345), "unknown status");
    /* Every code in the public ranges has its own name. */
    for (int code = -1; code >= -70; code--) {
        const char *name = ari_strerror(code);
        if (strcmp(name, "unknown status") == 0)
            continue;
        for (int other = code - 1; other >= -70; other--)
            CHECK(strcmp(name, ari_strerror(other)) != 0);
    }
    CHECK(strcmp(ari_strerror(ARI_EMSG_SHORT), "unknown status") != 0);
    CHECK(strcmp(ari_strerror(ARI_ETOPO_DISCONNECTED), "unknown status") != 0);
}

TEST_FN(gva_fields_roundtrip)
{
    uint64_t rng = 1;
    for (int i = 0; i < 10000; i++) {
        gva_fields_t in = {
            .ownership = test_rand_next(&rng) & 1,
            .huge = test_rand_next(&rng) & 1,
            .generation = (uint32_t)(test_rand_next(&rng) % (GVA_GENERATION_MAX + 1)),
            .ref = (uint32_t)(test_rand_next(&rng) % (GVA_REF_MAX + 1)),
            .machine = (uint32_t)test_rand_next(&rng),
            .offset = test_rand_next(&rng),
        };
        CHECK_OK(gva_fields_check(&in));
        ari_gva_t gva = gva_make(&in);
        gva_fields_t out;
        gva_split(gva, &out);
        CHECK(out.ownership == in.ownership && out.huge == in.huge);
        CHECK_INT(out.generation, ==, in.generation);
        CHECK_INT(out.ref, ==, in.ref);
        CHECK_U64(out.machine, ==, in.machine);
        CHECK_U64(out.offset, ==, in.offset);
    }
    /* The layout is DESIGN §2's, bit for bit. */
    gva_fields_t f = {.ownership = true, .huge = true, .generation = 5, .ref = 0xabcdef,
                      .machine = 0x12345678, .offset = 0x1000};
    ari_gva_t gva = gva_make(&f);
    CHECK_U64(gva.hi, ==, 0x17abcdef12345678ull);
    CHECK_U64(gva.lo, ==, 0x1000);
    f.generation = GVA_GENERATION_MAX + 1;
    CHECK_INT(gva_fields_check(&f), ==, ARI_ERANGE);
    f.generation = 0;
    f.ref = GVA_REF_MAX + 1;
    CHECK_INT(gva_fields_check(&f), ==, ARI_ERANGE);
}

TEST_FN(gva_page_identity)
{
    gva_fields_t f = {.generation = 3, .ref = 7, .machine = 42, .offset = 0x12345};
    ari_gva_t a = gva_make(&f);
    ari_gva_t page = gva_page(a);
    CHECK_INT(gva_ref(page), ==, 0);
    CHECK_U64(page.lo, ==, 0x12000);
    CHECK_U64(gva_page_offset(a), ==, 0x345);
    CHECK_INT(gva_generation(page), ==, 3);
    CHECK_U64(gva_machine(page), ==, 42);

    /* A replica and the master of one page share the identity... */
    f.ref = 0;
    f.offset = 0x12fff;
    CHECK(gva_same_page(a, gva_make(&f)));
    /* ...but the next page, another generation or birth node does not. */
    f.offset = 0x13000;
    CHECK(!gva_same_page(a, gva_make(&f)));
    f.offset = 0x12000;
    f.generation = 4;
    CHECK(!gva_same_page(a, gva_make(&f)));
    f.generation = 3;
    f.machine = 43;
    CHECK(!gva_same_page(a, gva_make(&f)));

    /* Huge pages clear 21 offset bits. */
    f.machine = 42;
    f.huge = true;
    f.offset = 0x7654321;
    ari_gva_t h = gva_page(gva_make(&f));
    CHECK_U64(h.lo, ==, 0x7600000);
    CHECK_U64(gva_page_size(h), ==, 2u << 20);
    CHECK(gva_page_hash(gva_make(&f)) == gva_page_hash(h));
}

TEST_FN(gva_tag_rule)
{
    CHECK_INT(gva_tag_for(5, 5), ==, GVA_REF_MASTER);
    CHECK_INT(gva_tag_for(5, 9), ==, 6);
    CHECK_INT(gva_tag_for(0, 9), ==, 1);
    CHECK_INT(gva_tag_for(GVA_NODES_MAX - 1, 0), ==, GVA_REF_MAX);
    CHECK_INT(gva_ref_holder(0), ==, -1);
    CHECK_INT(gva_ref_holder(6), ==, 5);
    /* An ownership transfer swaps roles: old owner 2, new owner 7. */
    gva_fields_t f = {.machine = 2, .offset = 0x4000};
    ari_gva_t master = gva_make(&f);
    ari_gva_t replica = gva_with_ref(master, gva_tag_for(7, 2));
    CHECK_INT(gva_ref(replica), ==, 8);
    ari_gva_t old_master = gva_with_ref(master, gva_tag_for(2, 7));
    ari_gva_t new_master = gva_with_ref(replica, gva_tag_for(7, 7));
    CHECK_INT(gva_ref(old_master), ==, 3);
    CHECK_INT(gva_ref(new_master), ==, 0);
    CHECK(gva_same_page(old_master, new_master));
}

TEST_FN(gva_text_roundtrip)
{
    char text[ARI_GVA_TEXT_MAX];
    ari_gva_t zero = {0, 0};
    CHECK_STR(ari_gva_format(zero, text), "gva:0:0");
    ari_gva_t full = {UINT64_MAX, UINT64_MAX};
    CHECK_STR(ari_gva_format(full, text), "gva:ffffffffffffffff:ffffffffffffffff");
    CHECK_INT(strlen(text) + 1, ==, ARI_GVA_TEXT_MAX);
    uint64_t rng = 7;
    for (int i = 0; i < 10000; i++) {
        ari_gva_t in = {test_rand_next(&rng) >> (i % 64), test_rand_next(&rng) >> (i % 61)};
        ari_gva_t out = {1, 1};
        CHECK_OK(ari_gva_parse(ari_gva_format(in, text), &out));
        CHECK(gva_equal(in, out));
    }
    ari_gva_t out;
    CHECK_OK(ari_gva_parse("gva:00AbC:0000000000000001", &out));
    CHECK_U64(out.hi, ==, 0xabc);
    CHECK_U64(out.lo, ==, 1);
}

TEST_FN(gva_text_errors)
{
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        {"", ARI_EGVA_PREFIX},
        {"gv", ARI_EGVA_PREFIX},
        {"GVA:1:2", ARI_EGVA_PREFIX},
        {" gva:1:2", ARI_EGVA_PREFIX},
        {"gva:", ARI_EGVA_LENGTH},
        {"gva::1", ARI_EGVA_LENGTH},
        {"gva:1:", ARI_EGVA_LENGTH},
        {"gva:1", ARI_EGVA_SEPARATOR},
        {"gva:1x:2", ARI_EGVA_DIGIT},
        {"gva:1:2 ", ARI_EGVA_DIGIT},
        {"gva:-1:2", ARI_EGVA_DIGIT},
        {"gva:0x1:2", ARI_EGVA_DIGIT},
        {"gva:1:2:3", ARI_EGVA_TRAILING},
        {"gva:10000000000000000:0", ARI_EGVA_LENGTH},
        {"gva:0:10000000000000000", ARI_EGVA_LENGTH},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ari_gva_t out = {0xdead, 0xbeef};
        int status = ari_gva_parse(cases[i].text, &out);
        if (status != cases[i].status)
            test_fail(__FILE__, __LINE__, "\"%s\": got %d (%s), want %d", cases[i].text,
                      status, ari_strerror(status), cases[i].status);
        CHECK(out.hi == 0xdead && out.lo == 0xbeef); /* untouched on error */
    }
    CHECK_INT(ari_gva_parse(NULL, &(ari_gva_t){0, 0}), ==, ARI_EGVA_PREFIX);
}
