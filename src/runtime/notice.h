/*
 * notice — write notices: what a release tells the next acquirer
 * (DESIGN §4.1, docs/MEMORY-MODEL.md).
 *
 * Each flushed diff comes back with the version the owner gave it: a write
 * notice (page, version). A release (ari_mutex_unlock, ari_barrier, ...)
 * publishes the notices gathered since the last one by appending them to
 * this node's notice log: a ring of entries in global memory this node
 * owns (its "board": the first allocation of its heap slot, so every node
 * knows where every other node's board is). The release hands on the log's
 * head; an acquirer reads the releaser's entries it has not seen yet (GETs
 * from the releaser) and, for each page it holds an older replica of,
 * waits for or re-syncs that version. It also remembers the version as a
 * floor for later reads of the page, and forwards the entry in its own log
 * so the notice reaches whoever acquires from it next (transitivity: what
 * happened before a release is seen after every acquire that follows it).
 *
 * Bounded: the log keeps NOTICE_LOG_ENTRIES; an acquirer that has fallen
 * further behind, or a release with more pending notices than that, falls
 * back to dropping every clean replica it holds (the next load refetches).
 * Forwarded entries carry a hop budget, so none circulates forever.
 */
#ifndef ARIADNE_RUNTIME_NOTICE_H
#define ARIADNE_RUNTIME_NOTICE_H

#include <stdint.h>

#include "ariadne.h"

#define NOTICE_BOARD_PAGES 16u     /* page 0: the head; the rest: entries */
#define NOTICE_ENTRY_BYTES 32u     /* u64 position + 1, u64 page hi, lo, u64 version | hops << 56 */
#define NOTICE_LOG_ENTRIES ((NOTICE_BOARD_PAGES - 1) * 4096u / NOTICE_ENTRY_BYTES)
#define NOTICE_KNOWN_MAX 65536u    /* pages whose noticed version is remembered */

/* Allocates and creates this node's board: must be the first allocation
 * of its heap slot (ari_init calls it right after the runtime page). */
int notice_init(void);
void notice_fini(void);

/* A flushed diff's version (dirty_flush calls it). */
void notice_add(ari_gva_t page, uint64_t version);
/* Appends the pending notices to this node's log; *head_out is the log's
 * head after them, what the release hands on. */
int notice_publish(uint64_t *head_out);
/* After acquiring what `releaser` released at log head `head`: brings
 * this node's replicas up to every notice it had not seen. */
int notice_absorb(uint32_t releaser, uint64_t head);
/* After a barrier: absorbs every other node's log up to its head now. */
int notice_absorb_all(void);
/* Under the driver's lock: the version a read of `page` must reach (0: any). */
uint64_t notice_floor(ari_gva_t page);

typedef struct {
    uint64_t published, absorbed, resyncs, forwarded, fallbacks;
} notice_stats_t;
notice_stats_t notice_stats(void);

#endif /* ARIADNE_RUNTIME_NOTICE_H */
