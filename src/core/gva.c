/*
 * gva — building, splitting and printing 128-bit global addresses.
 */
#include "gva.h"

#include <assert.h>
#include <stddef.h>

/* ------------------------------------------------------------------------
 * Fields
 * ------------------------------------------------------------------------ */

int gva_fields_check(const gva_fields_t *fields)
{
    if (fields->generation > GVA_GENERATION_MAX || fields->ref > GVA_REF_MAX)
        return ARI_ERANGE;
    return ARI_OK;
}

ari_gva_t gva_make(const gva_fields_t *fields)
{
    assert(gva_fields_check(fields) == ARI_OK);
    uint64_t flags = (fields->ownership ? GVA_FLAG_OWNERSHIP : 0u) |
                     (fields->huge ? GVA_FLAG_HUGE : 0u) |
                     ((uint64_t)fields->generation << 2);
    ari_gva_t gva = {
        .hi = (flags << 56) | ((uint64_t)fields->ref << 32) | fields->machine,
        .lo = fields->offset,
    };
    return gva;
}

void gva_split(ari_gva_t gva, gva_fields_t *fields_out)
{
    fields_out->ownership = gva_is_ownership(gva);
    fields_out->huge = gva_is_huge(gva);
    fields_out->generation = gva_generation(gva);
    fields_out->ref = gva_ref(gva);
    fields_out->machine = gva_machine(gva);
    fields_out->offset = gva_offset(gva);
}

/* ------------------------------------------------------------------------
 * Pages and tags
 * ------------------------------------------------------------------------ */

ari_gva_t gva_page(ari_gva_t gva)
{
    ari_gva_t page = gva_with_ref(gva, GVA_REF_MASTER);
    page.lo &= ~(gva_page_size(gva) - 1u);
    return page;
}

bool gva_same_page(ari_gva_t a, ari_gva_t b)
{
    return gva_equal(gva_page(a), gva_page(b));
}

uint32_t gva_tag_for(uint32_t holder_node, uint32_t owner_node)
{
    assert(holder_node < GVA_NODES_MAX);
    return holder_node == owner_node ? GVA_REF_MASTER : holder_node + 1u;
}

ari_gva_t gva_with_ref(ari_gva_t gva, uint32_t ref)
{
    assert(ref <= GVA_REF_MAX);
    gva.hi = (gva.hi & ~((uint64_t)GVA_REF_MAX << 32)) | ((uint64_t)ref << 32);
    return gva;
}

int64_t gva_ref_holder(uint32_t ref)
{
    return ref == GVA_REF_MASTER ? -1 : (int64_t)ref - 1;
}

uint64_t gva_page_hash(ari_gva_t gva)
{
    ari_gva_t page = gva_page(gva);
    /* splitmix64 finaliser over both halves: cheap and well mixed. */
    uint64_t x = page.hi ^ (page.lo * 0x9e3779b97f4a7c15ull);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* ------------------------------------------------------------------------
 * Text form: "gva:<hi>:<lo>", lower-case hex on output, either case on input.
 * ------------------------------------------------------------------------ */

static char *gva_hex_put(char *out, uint64_t value)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = digits[value & 0xfu];
        value >>= 4;
    } while (value != 0);
    while (n > 0)
        *out++ = tmp[--n];
    return out;
}

char *ari_gva_format(ari_gva_t gva, char text[ARI_GVA_TEXT_MAX])
{
    char *p = text;
    *p++ = 'g';
    *p++ = 'v';
    *p++ = 'a';
    *p++ = ':';
    p = gva_hex_put(p, gva.hi);
    *p++ = ':';
    p = gva_hex_put(p, gva.lo);
    *p = '\0';
    return text;
}

static int gva_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads 1..16 hex digits up to `stop` (a ':' or the NUL). */
static int gva_hex_get(const char **text, char stop, uint64_t *value_out)
{
    const char *p = *text;
    uint64_t value = 0;
    int n = 0;
    for (; *p != stop && *p != '\0'; p++, n++) {
        if (*p == ':')
            return ARI_EGVA_TRAILING;
        int digit = gva_hex_digit(*p);
        if (digit < 0)
            return ARI_EGVA_DIGIT;
        if (n == 16)
            return ARI_EGVA_LENGTH;
        value = (value << 4) | (uint64_t)digit;
    }
    if (n == 0)
        return ARI_EGVA_LENGTH;
    if (*p != stop)
        return ARI_EGVA_SEPARATOR;
    *text = p;
    *value_out = value;
    return ARI_OK;
}

int ari_gva_parse(const char *text, ari_gva_t *gva_out)
{
    if (text == NULL || text[0] != 'g' || text[1] != 'v' || text[2] != 'a' ||
        text[3] != ':')
        return ARI_EGVA_PREFIX;
    const char *p = text + 4;
    uint64_t hi = 0, lo = 0;
    int status = gva_hex_get(&p, ':', &hi);
    if (status != ARI_OK)
        return status;
    p++; /* the ':' */
    status = gva_hex_get(&p, '\0', &lo);
    if (status != ARI_OK)
        return status;
    gva_out->hi = hi;
    gva_out->lo = lo;
    return ARI_OK;
}
