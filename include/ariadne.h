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
    ARI_EPEER = -10,        /* a node this call needed has died (the run is ending) */
    ARI_EFAULT = -11,       /* the address is not in the global heap, or not allocated */
    ARI_EINIT = -12,        /* ari_init has not been called, or failed */
    ARI_EMAPS = -13,        /* the kernel's limit on mapped regions (vm.max_map_count) */
    ARI_EPERM = -14,        /* this node may not do that (e.g. free another node's memory) */
    ARI_ELINK = -15,        /* a link to a neighbour carried malformed data */

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


/* ------------------------------------------------------------------------
 * The runtime: nodes, the global heap, and the explicit calls.
 *
 * A program started by `ariadne run -n N` runs as N nodes, one process
 * each; started any other way it runs as a single node. Global memory
 * comes from ari_alloc / ari_alloc_all. It is read with plain loads: the
 * first touch of a page faults, and the runtime fetches a replica (and a
 * run of the pages after it) from the page's owner; from then on a load
 * costs what a load costs and sees the owner's updates as they arrive.
 * Until part 2 of the runtime, global memory is written only through
 * ari_store and the atomics: a plain store to a global page stops the
 * program with a message naming ari_store.
 *
 * The heap is symmetric: a global address means the same byte on every
 * node, so pointers stored in shared data work everywhere.
 *
 * Every call is thread-safe. A call that returns int returns ARI_OK or a
 * negative ARI_E* code; a call that returns a pointer returns NULL on
 * failure and ari_errno() then names the reason. Every wait is bounded:
 * a call that needs a node that has died fails with ARI_EPEER, and one
 * that waits longer than the run's time limit (ARI_TIMEOUT_MS, default
 * 30000) fails with ARI_ETIMEDOUT.
 *
 * System calls: the kernel does not fault pages in for Ariadne, so a
 * system call given global memory that this node has not touched yet
 * fails with EFAULT (read(2) into it, write(2) from it, ...). Call
 * ari_prefault on the range first.
 * ------------------------------------------------------------------------ */

/* Allocation flags. */
#define ARI_PATHCACHE 0u       /* the default: path-cache coherence (replicas, write-through) */
#define ARI_OWNERSHIP 0x1u     /* ownership pages: one copy, moved by faults; sequentially
                                * consistent (DESIGN §5, docs/MEMORY-MODEL.md) */
#define ARI_HUGE 0x2u          /* 2 MiB pages of the host's huge page pool
                                * (sysctl vm.nr_hugepages; docs/RUNTIME.md) */
#define ARI_SPREAD 0x4u        /* ari_alloc_all: page i's owner is node i mod N */

/* ari_where: distance from this node to the page's master (DESIGN §3). */
enum { ARI_LOCAL = 0, ARI_HOST = 1, ARI_NEIGHBOR = 2, ARI_REMOTE = 3 };
/* ari_where: the tier the master lives in. */
enum { ARI_MEM = 0, ARI_SSD = 1, ARI_DISK = 2 };
/* ari_where: this node's copy of the page. */
enum { ARI_STATE_UNMAPPED = 0, ARI_STATE_MASTER = 1, ARI_STATE_VALID = 2,
       ARI_STATE_INVALID = 3 };

typedef struct {
    int distance;   /* ARI_LOCAL .. ARI_REMOTE */
    int tier;       /* ARI_MEM .. ARI_DISK */
    uint32_t owner; /* node id of the page's owner. A page that moves (ARI_OWNERSHIP, or
                     * ari_acquire): this node when it holds it, else its birth node, or
                     * UINT32_MAX at the birth node once it has moved away */
    int hops;       /* links between this node and the owner (0: this node; -1: unknown) */
    int state;      /* ARI_STATE_*: this node's copy */
} ari_location_t;

/* Joins the run started by `ariadne run` (or starts a single node). Reads
 * and removes nothing from argv today; the parameters are there so that
 * runtime options may be taken from the command line later. Call once,
 * before any other call, from one thread. ARI_EINIT if called twice;
 * ARI_ENOTSUP when neither userfaultfd nor the mprotect fallback can be
 * set up; ARI_EINVAL when the run's settings are malformed. */
int ari_init(int *argc, char ***argv);
/* Leaves the run: waits for every node to arrive, drops this node's
 * replicas and frees what it allocated, then unmaps the global heap.
 * Collective. Pointers into global memory are invalid afterwards. */
int ari_finalize(void);
/* This node's id, 0 .. ari_node_count() - 1 (0 before ari_init). */
int ari_node_id(void);
/* Nodes in the run (1 before ari_init). */
int ari_node_count(void);

/* Allocates global memory whose pages this node owns, zero-filled. The
 * size is rounded up to whole pages (4 KiB; 2 MiB with ARI_HUGE). Flags:
 * ARI_PATHCACHE, ARI_OWNERSHIP or ARI_HUGE. NULL and ari_errno():
 * ARI_EINVAL (size 0, unknown flags, ARI_SPREAD, ARI_OWNERSHIP with
 * ARI_HUGE), ARI_ENOMEM (past --mem or the heap, or more 2 MiB pages
 * than the host's pool has free: a message says how many), ARI_ENOTSUP
 * (ARI_HUGE without huge pages reserved on the host when the run started,
 * or links too small to carry one: a message says which).
 *
 * 2 MiB pages (ARI_HUGE) are path-cache pages: read with plain loads (a
 * fault brings the whole 2 MiB page, without read-ahead), written with
 * plain stores or ari_store, atomics as on any page. Each copy, master or
 * replica, takes a page of the host's pool: a reader whose host pool is
 * empty stops with a message, as past --mem. ari_acquire refuses them.
 *
 * Ownership pages have one copy, mapped read-write at its owner only: any
 * load or store elsewhere faults, and the page moves to the faulting node
 * (it stays there at least a short hold, ARI_HOLD_US, default 50 us, so
 * the access runs). Every access sees the one copy: sequential
 * consistency, no flush or lock needed for visibility. ari_store, ari_get
 * and the atomics on them are the same plain accesses. Best for data one
 * node works on at a time; a page written by many nodes at once moves on
 * every access. */
void *ari_alloc(size_t bytes, unsigned flags);
/* Collective: every node calls it with the same arguments in the same
 * order and gets the same pointer. Pages are owned by node 0, or with
 * ARI_SPREAD page i by node i mod N. Returns when every page exists. When
 * it fails on one node (e.g. its huge page pool is short), it fails on
 * every node: that node's status there, ARI_ENOMEM on the others. */
void *ari_alloc_all(size_t bytes, unsigned flags);
/* Frees memory from ari_alloc (only on the node that allocated it:
 * ARI_EPERM elsewhere) or from ari_alloc_all (collective: every node calls
 * it). Replicas elsewhere are dropped. ARI_EFAULT: not an allocation. */
int ari_free(void *ptr);
/* The status of this thread's last failed call (ARI_OK if none). */
int ari_errno(void);

/* The global address of a pointer into the heap; {0, 0} and ari_errno()
 * ARI_EFAULT for any other pointer. */
ari_gva_t ari_gva_of(const void *ptr);
/* A pointer through which `bytes` of global memory starting at `gva` are
 * read. The heap is symmetric, so this is the same pointer on every node;
 * pages fault in on first touch. NULL and ari_errno(): ARI_EFAULT when the
 * range is not in the heap. */
void *ari_map(ari_gva_t gva, size_t bytes);
/* Drops this node's replicas of the pages in the range (the masters stay).
 * A later load faults them in again. */
int ari_unmap(void *ptr, size_t bytes);
/* Refs and maps every page of the range now, so that system calls and
 * latency-critical code find it present. */
int ari_prefault(const void *ptr, size_t bytes);
/* Where the byte at ptr lives, seen from this node. */
int ari_where(const void *ptr, ari_location_t *location_out);

/* Plain stores: global memory is written like any memory. The first store
 * to a page since the last release point faults once and the page is
 * twinned; its changed bytes go to the owner at the next release point
 * (ari_flush, ari_mutex_unlock, ari_sem_post, ari_barrier, ari_finalize).
 * Who sees them when is docs/MEMORY-MODEL.md. */

/* Writes through to the owner. Returns when the owner has ordered the
 * write and this node's view shows it (read-your-writes); other nodes'
 * replicas get it as an update soon after. Writes to one page are applied
 * in the order they were made; the range may span pages. */
int ari_store(void *dst, const void *src, size_t bytes);
/* Reads `bytes` fresh from the owner(s) into dst (private memory). */
int ari_get(void *dst, const void *src, size_t bytes);
/* Atomics on an 8-byte aligned u64 of global memory, executed at the
 * owner; *old_out gets the value before. CAS stores `desired` only when
 * the word equals `expected`. ARI_EINVAL for an unaligned word. */
int ari_fetch_add_u64(uint64_t *ptr, uint64_t add, uint64_t *old_out);
int ari_cas_u64(uint64_t *ptr, uint64_t expected, uint64_t desired, uint64_t *old_out);
int ari_swap_u64(uint64_t *ptr, uint64_t value, uint64_t *old_out);
/* Completes this node's outstanding writes: the diffs of every page
 * written with plain stores go to their owners, and this returns when
 * each is ordered (ari_store and the atomics complete before they return).
 * Not a release: another node sees the bytes once its replica has the
 * update; use a mutex, semaphore or barrier to be sure it has. */
int ari_flush(void);
/* Waits until every node of the run has called it. A release and an
 * acquire: everything any node wrote before its ari_barrier (plain stores
 * included) is seen by every node after it. One thread per node. */
int ari_barrier(void);

/* A mutex in global memory, in any page (all-zero = unlocked: memory from
 * ari_alloc is ready to use). Locking acquires, unlocking releases:
 * what a node wrote before ari_mutex_unlock is seen by the next node
 * after its ari_mutex_lock of the same mutex (and, transitively, whatever
 * that node had seen). It is held by a node; any of its threads may
 * unlock it. Every lock attempt is an atomic at the owner of the mutex's
 * page: a page holding a hot mutex is best given to it alone. */
#define ARI_MUTEX_WORDS 2
typedef struct {
    uint64_t words[ARI_MUTEX_WORDS];
} ari_mutex_t;
/* Waits until this node holds the mutex (ARI_ETIMEDOUT past the run's
 * time limit, ARI_EPEER when the run is ending). ARI_EBUSY when this node
 * holds it already (a mutex does not nest). */
int ari_mutex_lock(ari_mutex_t *m);
/* Publishes this node's writes and lets the next node in. ARI_EPERM when
 * this node does not hold it. */
int ari_mutex_unlock(ari_mutex_t *m);

/* A counting semaphore in global memory. ari_sem_post releases and
 * ari_sem_wait acquires, like a mutex: what was written before a post is
 * seen after the wait that takes its permit. */
#define ARI_SEM_WORDS 2
typedef struct {
    uint64_t words[ARI_SEM_WORDS];
} ari_sem_t;
/* Sets the permits (not a release: call it before others use it, e.g.
 * before a barrier). */
int ari_sem_init(ari_sem_t *s, unsigned value);
/* Takes a permit, waiting for one (ARI_ETIMEDOUT past the run's limit). */
int ari_sem_wait(ari_sem_t *s);
/* Publishes this node's writes and gives a permit back. */
int ari_sem_post(ari_sem_t *s);

/* Takes ownership of the pages covering [ptr, ptr + bytes) and pins them
 * here: no other node can take them until ari_release, or until the pin
 * limit (ARI_PIN_MS, default 100 ms) runs out, when the DPU unpins them and
 * counts a host fault (the pages then move on demand again; nothing is
 * lost, but the exclusivity has ended). Pages are taken in address order,
 * so nodes acquiring overlapping ranges do not deadlock. A release point
 * first (this node's plain stores are flushed). Works on ownership and
 * path-cache pages (a path-cache page's master moves here; its replicas
 * stay). Acquiring pages pinned here already is a no-op. ARI_EFAULT for a
 * range outside allocated memory, ARI_ENOTSUP for ARI_HUGE pages, ARI_ENOMEM
 * past DPU_ARBITER_PAGES (4096) pinned pages, ARI_ETIMEDOUT when a page
 * cannot be had within the run's limit, ARI_EPEER when the run is ending. */
int ari_acquire(void *ptr, size_t bytes);
/* A release point (this node's plain stores are flushed), then unpins the
 * pages of the range; queued acquirers get them in order. ARI_EPERM when a
 * page of the range is not pinned here (the others are still released). */
int ari_release(void *ptr, size_t bytes);

/* This node's counters so far, for programs that report what the protocol
 * did (examples/kvstore prints them). */
typedef struct {
    uint64_t messages_out, messages_in, bytes_out; /* on this node's links */
    uint64_t read_faults, write_faults;            /* first loads and first stores */
    uint64_t flushes, diffs, diff_bytes;           /* release points and what they sent */
    uint64_t notices_published, notices_absorbed, resyncs, fallbacks;
    uint64_t atomics, locks, barriers;
    uint64_t entries, masters, replicas, relays;   /* the path cache now: every entry,
                                                    * pages owned, valid replicas, and
                                                    * entries that only route others' */
    uint64_t mem_held, mem_limit;                  /* others' pages held here now, and
                                                    * how many --mem leaves room for, in
                                                    * 4 KiB pages (a 2 MiB page is 512) */
    uint64_t evictions;                            /* replicas dropped to stay in --mem */
    uint64_t transfers_in, transfers_out;          /* ownership pages that came, and went */
} ari_stats_t;
int ari_stats(ari_stats_t *stats_out);

#ifdef __cplusplus
}
#endif

#endif /* ARIADNE_H */
