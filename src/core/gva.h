/*
 * gva — the 128-bit global virtual address of DESIGN §2: building it from
 * fields, splitting it, page identity and the tag rule. Pure functions.
 *
 * The public type and its text form are in include/ariadne.h; this header
 * adds what the core needs to reason about addresses.
 */
#ifndef ARIADNE_CORE_GVA_H
#define ARIADNE_CORE_GVA_H

#include <stdbool.h>
#include <stdint.h>

#include "ariadne.h"

#define GVA_FLAG_OWNERSHIP 0x01u /* bit0: 1 = ownership protocol page */
#define GVA_FLAG_HUGE 0x02u      /* bit1: 2 MiB page */
#define GVA_GENERATION_BITS 6u   /* bits 2..7 of the flags byte */
#define GVA_GENERATION_MAX ((1u << GVA_GENERATION_BITS) - 1u)
#define GVA_REF_BITS 24u
#define GVA_REF_MAX ((1u << GVA_REF_BITS) - 1u)
#define GVA_REF_MASTER 0u
/* A replica held by node n is tagged n + 1, and the tag must fit 24 bits
 * with 0 kept for the master: node ids run from 0 to 2^24 - 2. */
#define GVA_NODES_MAX (GVA_REF_MAX)
#define GVA_PAGE_SHIFT 12u
#define GVA_PAGE_SIZE (1u << GVA_PAGE_SHIFT)
#define GVA_HUGE_PAGE_SHIFT 21u
#define GVA_HUGE_PAGE_SIZE (1u << GVA_HUGE_PAGE_SHIFT)

_Static_assert(GVA_NODES_MAX - 1u + 1u == GVA_REF_MAX,
               "the highest node id's tag must be the highest ref index");

/* The fields of a GVA, each in its own variable. */
typedef struct {
    bool ownership;       /* protocol hint: ownership-transfer page */
    bool huge;            /* 2 MiB page instead of 4 KiB */
    uint32_t generation;  /* 0..GVA_GENERATION_MAX */
    uint32_t ref;         /* 0 = master, else holder node id + 1 */
    uint32_t machine;     /* birth node */
    uint64_t offset;      /* byte address in the birth node's segment */
} gva_fields_t;

/* Checks that every field fits; ARI_ERANGE otherwise. */
int gva_fields_check(const gva_fields_t *fields);
/* Builds a GVA; the fields must pass gva_fields_check (asserted). */
ari_gva_t gva_make(const gva_fields_t *fields);
void gva_split(ari_gva_t gva, gva_fields_t *fields_out);

static inline uint32_t gva_flags(ari_gva_t gva) { return (uint32_t)(gva.hi >> 56); }
static inline bool gva_is_ownership(ari_gva_t gva) { return (gva_flags(gva) & GVA_FLAG_OWNERSHIP) != 0; }
static inline bool gva_is_huge(ari_gva_t gva) { return (gva_flags(gva) & GVA_FLAG_HUGE) != 0; }
static inline uint32_t gva_generation(ari_gva_t gva) { return gva_flags(gva) >> 2; }
static inline uint32_t gva_ref(ari_gva_t gva) { return (uint32_t)(gva.hi >> 32) & GVA_REF_MAX; }
static inline uint32_t gva_machine(ari_gva_t gva) { return (uint32_t)gva.hi; }
static inline uint64_t gva_offset(ari_gva_t gva) { return gva.lo; }

/* Bytes in the page this address falls in: 4 KiB or 2 MiB. */
static inline uint64_t gva_page_size(ari_gva_t gva)
{
    return gva_is_huge(gva) ? GVA_HUGE_PAGE_SIZE : GVA_PAGE_SIZE;
}

/* Page identity: the same address with the ref index and the in-page offset
 * cleared. Two GVAs name the same page exactly when their identities are
 * equal, whichever copy (master or replica) they point into. */
ari_gva_t gva_page(ari_gva_t gva);
/* Byte offset of the address inside its page. */
static inline uint64_t gva_page_offset(ari_gva_t gva) { return gva.lo & (gva_page_size(gva) - 1u); }

static inline bool gva_equal(ari_gva_t a, ari_gva_t b) { return a.hi == b.hi && a.lo == b.lo; }
bool gva_same_page(ari_gva_t a, ari_gva_t b);

/* The tag rule: the master is tagged 0, node n's replica n + 1. The tag of a
 * copy is recomputed from who holds it and who owns the page, so an
 * ownership transfer that swaps the roles needs no extra record. */
uint32_t gva_tag_for(uint32_t holder_node, uint32_t owner_node);
/* The same address with its ref index replaced. */
ari_gva_t gva_with_ref(ari_gva_t gva, uint32_t ref);
/* The node a tag names: -1 for the master (tag 0), else tag - 1. */
int64_t gva_ref_holder(uint32_t ref);

/* A well-mixed 64-bit hash of the page identity, for hash tables. */
uint64_t gva_page_hash(ari_gva_t gva);

#endif /* ARIADNE_CORE_GVA_H */
