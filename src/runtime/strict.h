/*
 * strict — ownership pages (ARI_OWNERSHIP) and pins (ari_acquire,
 * ari_release) in the runtime, on the core's ownership-transfer protocol
 * (DESIGN §5, src/core/own.c).
 *
 * An ownership page has one copy, mapped for no one but its owner, read
 * and write. Any load or store of it elsewhere faults; the fault asks the
 * DPU for the page (DPU_OP_ACQUIRE with DPU_ACQUIRE_HOLD: the page stays
 * long enough for the faulting access to run), maps it, and the access
 * runs again. Before the owner's DPU sends the page on, page_leave closes
 * the application's view of it, so no store lands after its bytes were
 * copied. One copy and every access through it: sequential consistency.
 *
 * ari_acquire pins (DPU_ACQUIRE_PIN) the pages of a range here, in
 * ascending order so that two nodes acquiring overlapping ranges cannot
 * deadlock; a pin lasts until ari_release or the pin limit, whichever
 * comes first. Path-cache pages may be acquired too: their master moves
 * here and the replicas stay on the tree.
 *
 * At most DPU_ARBITER_PAGES pages are pinned at one node (ARI_ENOMEM past
 * that). strict keeps no state of its own: the DPU's entries and arbiter
 * say who owns and who pins.
 */
#ifndef ARIADNE_RUNTIME_STRICT_H
#define ARIADNE_RUNTIME_STRICT_H

#include <stdbool.h>
#include <stdint.h>

#include "ariadne.h"

#define STRICT_TRIES_MAX 1000u /* acquisitions one fault may need before it gives up */

/* Makes this node the owner of the ownership page at `page_address` and
 * maps it for loads and stores. For faults (load or store) and
 * ari_prefault. */
int strict_own(uint64_t page_address);
/* The world's page_leave: closes the application's view of a master that
 * is about to move away. Under the driver's lock. */
void strict_page_leave(ari_gva_t page);
/* ari_acquire and ari_release, validated by the caller (a heap range). */
int strict_acquire(uint64_t address, uint64_t bytes);
int strict_release(uint64_t address, uint64_t bytes);
/* Brings the page at `page_address` back here (pinned) unless this node
 * owns it: only the owner frees a page, and an acquired one may be
 * anywhere. */
int strict_reclaim(uint64_t page_address);

#endif /* ARIADNE_RUNTIME_STRICT_H */
