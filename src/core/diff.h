/*
 * diff — the bytes of a page a writer changed, as runs: the body of a
 * WRITE or UPDATE that carries MSG_FLAG_DIFF (DESIGN §4.1, docs/WIRE.md).
 *
 * A plain-store writer keeps a twin of each page it dirties; at a release
 * point the page is compared with its twin and only the changed bytes go
 * to the owner, as one WRITE and one version. Runs keep bytes the writer
 * did not change out of the message, so two writers of different words of
 * one page (false sharing) never overwrite each other.
 *
 * Encoding: one or more runs, each
 *     u32 offset | u32 length (>= 1) | length bytes
 * little-endian, offsets strictly increasing, runs inside the page and not
 * overlapping. diff_check accepts exactly these.
 */
#ifndef ARIADNE_CORE_DIFF_H
#define ARIADNE_CORE_DIFF_H

#include <stddef.h>
#include <stdint.h>

#define DIFF_RUN_HEADER 8u

/* ARI_OK when data is a well-formed diff of a page of page_size bytes,
 * ARI_EMSG_FIELD otherwise. */
int diff_check(const uint8_t *data, size_t length, uint64_t page_size);

/* Calls fn for every run of a checked diff, in order. */
typedef void (*diff_run_fn)(void *ctx, uint32_t offset, const uint8_t *bytes, uint32_t length);
void diff_each(const uint8_t *data, size_t length, diff_run_fn fn, void *ctx);

/* The most bytes diff_make can write for a page of `size` bytes. */
size_t diff_bound(uint32_t size);

/* Encodes the bytes where `page` differs from `twin` into out (capacity at
 * least diff_bound(size)); returns the length, 0 when nothing changed.
 * Runs end at the first unchanged byte: no run carries a byte the writer
 * did not change. */
size_t diff_make(const uint8_t *page, const uint8_t *twin, uint32_t size, uint8_t *out,
                 size_t capacity);

#endif /* ARIADNE_CORE_DIFF_H */
