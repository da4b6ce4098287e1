/*
 * dir — the baseline Ariadne is measured against: a home-based directory
 * protocol with the same consistency as the path-cache protocol, as pure
 * code driven exactly like dpu.h (same requests, completions, observer
 * events), so the simulator runs either on the same workload.
 *
 * What it sends (every message unicast, routed hop by hop on the static
 * shortest-path routes, each hop one link traversal):
 *   READ of a page with no valid copy: REF reader -> home; the home adds the
 *       reader to the page's sharer list and answers REF_DATA home -> reader.
 *       An invalid copy re-syncs: SYNC reader -> home, SYNC_DATA home -> reader.
 *   WRITE / ATOMIC / GET: the request writer -> home; the home applies it in
 *       arrival order (one route per origin, so one origin's requests keep
 *       their order), bumps the page version, sends UPDATE (small change) or
 *       INVAL (large) home -> each sharer, point to point, then WRITE_ACK /
 *       ATOMIC_RESULT / GET_DATA home -> writer. Sharers send no
 *       acknowledgements (the path-cache protocol collects none either).
 *   UNREF: reader -> home, which removes the reader from the sharer list.
 *   FREE: PRUNE home -> each sharer, PRUNE_ACK sharer -> home.
 * The home keeps the full sharer list (4 bytes a sharer).
 */
#ifndef ARIADNE_CORE_DIR_H
#define ARIADNE_CORE_DIR_H

#include "dpu.h"

typedef struct dir dir_t;

/* Uses the same config as a DPU (pcache_capacity bounds the pages a node
 * tracks, update_max_bytes the UPDATE/INVAL threshold, pending_max its
 * outstanding requests). The world's `send_to` must be set: every message
 * is addressed to a node, not a port. */
int dir_create(const dpu_config_t *config, const dpu_world_t *world, dir_t **dir_out);
void dir_destroy(dir_t *dir);

/* A message addressed to this node arrived (from wherever it was routed). */
void dir_receive(dir_t *dir, const uint8_t *bytes, size_t length, uint64_t now_ns);
int dir_submit(dir_t *dir, const dpu_request_t *request, uint64_t now_ns);

const dpu_stats_t *dir_stats(const dir_t *dir);
/* This node's copy of a page: PCACHE_COPY_* and its version; false if none. */
bool dir_copy(dir_t *dir, ari_gva_t page, uint8_t *copy_out, uint64_t *version_out);
/* Pages this node tracks (copies, masters, pages being freed). */
uint32_t dir_entries(const dir_t *dir);
/* Bytes of sharer lists this node keeps as a home. */
uint64_t dir_sharer_bytes(const dir_t *dir);
/* Calls fn for every page this node tracks. */
void dir_each(dir_t *dir, void (*fn)(void *ctx, ari_gva_t page, uint8_t copy, uint64_t version),
              void *ctx);

#endif /* ARIADNE_CORE_DIR_H */
