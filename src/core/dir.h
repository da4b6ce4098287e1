/*
 * dir — the baseline Ariadne is measured against: a home-based directory
 * protocol with the same consistency as the path-cache protocol, as pure
 * code driven exactly like dpu.h (same requests, completions, observer
 * events), so the simulator runs either on the same workload.
 *
 * Every message is unicast, routed hop by hop on the static shortest-path
 * routes (each hop one link traversal). A page's home is its birth node
 * (gva_machine). The home is the page's manager in the style of Li and
 * Hudak's Ivy (fixed distributed manager): it always knows the page's
 * current owner; the owner holds the master, the version and the sharer
 * list (4 bytes a sharer), which move together when ownership moves.
 *
 * Path-cache requests (the owner orders them):
 *   READ of a page with no valid copy (or a copy older than min_version):
 *       REF (SYNC) reader -> home -> owner (forwarded when the home is not
 *       the owner); the owner adds the reader to its sharer list and answers
 *       REF_DATA (SYNC_DATA) owner -> reader.
 *   WRITE / ATOMIC / GET: the request writer -> home -> owner; the owner
 *       applies it, bumps the page version, sends UPDATE (small change) or
 *       INVAL (large) owner -> each sharer, point to point, then WRITE_ACK /
 *       ATOMIC_RESULT / GET_DATA owner -> writer. No sharer acknowledgements.
 *       A writer that owns the page applies its own requests locally (no
 *       message) unless an earlier one of its requests to the page is still
 *       on its way through the home. One origin's requests keep their order:
 *       one route writer -> home, one route home -> owner, and the home holds
 *       requests while the page moves (below).
 *   UNREF: reader -> home -> owner, which removes the reader from the list.
 *   FREE (owner only): PRUNE owner -> each sharer, PRUNE_ACK sharer -> home
 *       -> owner; then, when the owner is not the home, PRUNE(NOACK) owner ->
 *       home, and the manager forgets the page.
 *
 * Ownership (DESIGN §5, as Ivy does it: every transfer goes through the
 * manager, which serialises them):
 *   ACQUIRE: ACQ(OWN) requester -> home. The manager keeps the owner, a state
 *       (free, moving, pinned) and a FIFO queue. Page free and nobody queued:
 *       it forwards ACQ home -> owner (or serves it itself when it is the
 *       owner), and the state is moving; the owner sends XFER_DATA(page bytes,
 *       version, sharer list in the seqs table) owner -> requester and drops
 *       its copy; the requester, now the owner, answers XFER_CONFIRM
 *       requester -> home when it pins the page (DPU_ACQUIRE_PIN), XFER_DONE
 *       when it does not. An owner that asks to pin its own page gets
 *       GRANT(OWN) home -> owner instead of the data. Uncontended: 4 messages
 *       and one page (3 when the home is the owner).
 *   Page pinned, moving, or others queued: the manager queues the request and
 *       answers DENY(queued, position) home -> requester; DENY(rejected) when
 *       queue_max are queued (the ACQUIRE completes with ARI_EBUSY).
 *   While the page moves (between granting and XFER_CONFIRM / XFER_DONE) the
 *       home holds every path-cache request for it and forwards them, in
 *       order, to the new owner afterwards.
 *   RELEASE: XFER_DONE owner -> home ("released"); the manager hands the page
 *       to the first queued requester: ACQ home -> owner, XFER_DATA owner ->
 *       next, XFER_CONFIRM next -> home. A handoff is three one-way trips
 *       (holder -> home -> holder -> next) where the path cache needs one.
 *   A pin held past pin_ns_max is reported (DPU_EVENT_PIN_EXPIRED) and ended
 *       with XFER_DONE, as a RELEASE would.
 * Semaphores and barriers: served by the manager, the count in the page
 *   word, on pages the home owns (elsewhere: ARI_ENOTSUP). ACQ(SEM_WAIT,
 *   SEM_POST or BARRIER) requester -> home; GRANT home -> requester when
 *   granted, DENY(queued) when queued, and a later GRANT home -> waiter. One
 *   round trip each. Every change of a count is ordered like a write (a
 *   version, UPDATE to the sharers).
 */
#ifndef ARIADNE_CORE_DIR_H
#define ARIADNE_CORE_DIR_H

#include "dpu.h"

typedef struct dir dir_t;

/* Uses the same config as a DPU (pcache_capacity bounds the pages a node
 * tracks, update_max_bytes the UPDATE/INVAL threshold, pending_max its
 * outstanding requests, queue_max a manager's queue (0: MSG_QUEUE_MAX),
 * pin_ns_max the longest pin (0: no limit)). The world's `send_to` must be
 * set: every message is addressed to a node, not a port. */
int dir_create(const dpu_config_t *config, const dpu_world_t *world, dir_t **dir_out);
void dir_destroy(dir_t *dir);

/* A message addressed to this node arrived (from wherever it was routed). */
void dir_receive(dir_t *dir, const uint8_t *bytes, size_t length, uint64_t now_ns);
int dir_submit(dir_t *dir, const dpu_request_t *request, uint64_t now_ns);
/* Time passed: ends pins held past pin_ns_max. Returns dir_deadline(). */
uint64_t dir_tick(dir_t *dir, uint64_t now_ns);
/* When a pin of this node runs out (UINT64_MAX: none). */
uint64_t dir_deadline(const dir_t *dir);

const dpu_stats_t *dir_stats(const dir_t *dir);
/* This node's copy of a page: PCACHE_COPY_* and its version; false if none. */
bool dir_copy(dir_t *dir, ari_gva_t page, uint8_t *copy_out, uint64_t *version_out);
/* Pages this node tracks (copies, masters, pages being freed). */
uint32_t dir_entries(const dir_t *dir);
/* Page records this node keeps as an owner (sharer lists, pins) or as a
 * home (manager state): none may remain once every page is freed. */
uint32_t dir_records(const dir_t *dir);
/* Bytes of sharer lists this node keeps as an owner. */
uint64_t dir_sharer_bytes(const dir_t *dir);
/* Whether this node holds a page pinned. */
bool dir_pinned(const dir_t *dir, ari_gva_t page);
/* Calls fn for every page this node tracks. */
void dir_each(dir_t *dir, void (*fn)(void *ctx, ari_gva_t page, uint8_t copy, uint64_t version),
              void *ctx);

#endif /* ARIADNE_CORE_DIR_H */
