/*
 * ariadne.h — the one public header of Ariadne, a distributed shared memory
 * system with a 128-bit global address space and directory-free coherence
 * (path caches). See docs/ and DESIGN.md for the model.
 *
 * Conventions:
 *   - Every function that can fail returns a status: 0 on success, a negative
 *     ARI_E* code on failure; ari_strerror() names it.
 *   - Output parameters come last and are written only on success.
 *   - The caller owns every buffer it passes in.
 */
#ifndef ARIADNE_H
#define ARIADNE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ARI_VERSION_MAJOR 0
#define ARI_VERSION_MINOR 1

/* ------------------------------------------------------------------------
 * Status codes. Negative values only; 0 is ARI_OK. The numbering is part of
 * the ABI and of the wire format (ERROR messages carry it): append, never
 * renumber.
 * ------------------------------------------------------------------------ */
enum {
    ARI_OK = 0,
    ARI_EINVAL = -1,        /* an argument is out of its documented range */
    ARI_ENOMEM = -2,        /* no memory (or capacity) left for the request */
    ARI_EBUSY = -3,         /* a bounded resource is full; retry later */
    ARI_ETIMEDOUT = -4,     /* a bounded wait ran out */
    ARI_EIO = -5,           /* a file or device could not be read or written */
    ARI_ENOTSUP = -6,       /* not supported by this build or configuration */
    ARI_ERANGE = -7,        /* a number does not fit its field */
    ARI_ENOENT = -8,        /* no such global page (never allocated, or freed) */
    ARI_ELOOP = -9,         /* a request's path exceeded its hop bound */

    /* Global address text (ari_gva_parse). */
    ARI_EGVA_PREFIX = -20,  /* text does not start with "gva:" */
    ARI_EGVA_DIGIT = -21,   /* a character that is not a hex digit */
    ARI_EGVA_LENGTH = -22,  /* a half is empty or longer than 16 hex digits */
    ARI_EGVA_SEPARATOR = -23, /* the ':' between the halves is missing */
    ARI_EGVA_TRAILING = -24,  /* characters after the second half */

    /* Wire format (message decoding). */
    ARI_EMSG_SHORT = -40,   /* fewer bytes than the header or a field needs */
    ARI_EMSG_VERSION = -41, /* unknown wire-format version */
    ARI_EMSG_TYPE = -42,    /* unknown message type */
    ARI_EMSG_LENGTH = -43,  /* header length disagrees with the bytes given */
    ARI_EMSG_FIELD = -44,   /* a field holds a value its type forbids */
    ARI_EMSG_HOPS = -45,    /* hop list longer than the wire bound */
    ARI_EMSG_TRAILING = -46, /* bytes left over after the last field */
    ARI_EMSG_SPACE = -47,   /* the output buffer is too small to encode into */

    /* Topologies and routing. */
    ARI_ETOPO_SPEC = -60,   /* malformed topology spec string */
    ARI_ETOPO_DEGREE = -61, /* no graph with that degree exists or fits */
    ARI_ETOPO_SIZE = -62,   /* node count out of range */
    ARI_ETOPO_FILE = -63,   /* malformed edge-list file */
    ARI_ETOPO_DISCONNECTED = -64, /* the graph is not connected */
};

/* Names a status code in one short English sentence fragment. Never NULL;
 * unknown codes give "unknown status". The string is static. */
const char *ari_strerror(int status);

/* ------------------------------------------------------------------------
 * Global virtual addresses (DESIGN §2).
 *
 *   hi: [63..56] flags: bit0 protocol (0 path-cache, 1 ownership),
 *                       bit1 huge page (2 MiB), bits 2..7 generation
 *       [55..32] ref index: 0 = the master, node n's replica = n + 1
 *       [31..0]  machine index: the node where the page was born
 *   lo: byte address inside the birth node's global segment
 * ------------------------------------------------------------------------ */
typedef struct {
    uint64_t hi, lo;
} ari_gva_t;

/* Longest text form, "gva:" + 16 + ":" + 16 hex digits, plus the NUL. */
#define ARI_GVA_TEXT_MAX 38

/* Writes "gva:<hi>:<lo>" (lower-case hex, no leading zeros beyond one digit)
 * into text, which must hold ARI_GVA_TEXT_MAX bytes. Returns text. */
char *ari_gva_format(ari_gva_t gva, char text[ARI_GVA_TEXT_MAX]);

/* Parses the text form (hex digits of either case, 1..16 per half, the whole
 * string consumed). Returns 0 and sets *gva_out, or an ARI_EGVA_* code that
 * says what is wrong. */
int ari_gva_parse(const char *text, ari_gva_t *gva_out);

#ifdef __cplusplus
}
#endif

#endif /* ARIADNE_H */
