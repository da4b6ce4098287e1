/*
 * fault — the node's two views of global memory and the faults that make
 * plain loads transparent.
 *
 * The node's copies of global pages (masters and replicas) live in one
 * sparse memfd as large as the heap; a page takes memory only while this
 * node holds it. It is mapped twice:
 *   - the application's view, at the heap's fixed address, read-only: a
 *     page is readable there only once the runtime has made it so;
 *   - the DPU's view, anywhere, read-write: where the DPU installs pages
 *     and applies updates. Both share the page cache, so an update the DPU
 *     applies is seen by the next plain load, with no copy and no fault.
 *
 * A load of a page that is not readable yet faults, and `resolve` (the
 * runtime) makes the page valid, then calls fault_map. Two ways:
 *   FAULT_UFFD      userfaultfd on the application's view (missing and
 *                   minor faults of shared memory), served by a thread of
 *                   its own; UFFDIO_CONTINUE maps pages. Opened with
 *                   UFFD_USER_MODE_ONLY, so it works for unprivileged users
 *                   where vm.unprivileged_userfaultfd is 0; the price is that
 *                   the kernel's own accesses (system calls) are not served:
 *                   they get EFAULT (ari_prefault first).
 *   FAULT_MPROTECT  the view is PROT_NONE; the SIGSEGV handler hands the
 *                   fault to the fault thread (with atomics and a futex only,
 *                   nothing a handler may not call) and sleeps until it is
 *                   served; mprotect opens runs of pages. Each
 *                   protection boundary costs a kernel map entry; near
 *                   vm.max_map_count the whole view is closed again (pages
 *                   then re-fault cheaply) and, if even that fails, the
 *                   call reports ARI_EMAPS.
 * In both ways the view is never writable until a page is written: a
 * store is a SIGSEGV that the fault thread serves through `write_fault`
 * (the runtime twins the page, src/runtime/dirty.c, then fault_open_write
 * lets stores through until the next release point closes it again).
 * Without a `write_fault` hook a store stops the program with a message
 * naming ari_store.
 */
#ifndef ARIADNE_RUNTIME_FAULT_H
#define ARIADNE_RUNTIME_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { FAULT_AUTO = 0, FAULT_UFFD = 1, FAULT_MPROTECT = 2 } fault_mode_t;

typedef struct fault fault_t;

typedef struct {
    void *ctx;
    /* A load faulted on the page at `page_address` (page-aligned, 4 KiB).
     * Must make it readable (fault_map) or end the process with a message. */
    void (*resolve)(void *ctx, uint64_t page_address);
    /* Optional: a store faulted on that page. Must make it writable
     * (fault_open_write) or end the process with a message. Called on the
     * fault thread. */
    void (*write_fault)(void *ctx, uint64_t page_address);
    /* For the message of a plain store: this node's id. */
    uint32_t node;
} fault_hooks_t;

/* Sets up both views of [base, base + bytes) and the fault handling.
 * `mode` FAULT_AUTO tries userfaultfd, then mprotect. ARI_ENOTSUP when the
 * mode asked for cannot work here; `error` says why. One per process. */
int fault_create(fault_mode_t mode, uint64_t base, uint64_t bytes, const fault_hooks_t *hooks,
                 fault_t **fault_out, char *error, size_t error_size);
/* Stops the fault thread, removes the handlers and unmaps both views. */
void fault_destroy(fault_t *fault);
/* Starts serving faults (the userfaultfd thread). */
int fault_start(fault_t *fault);

fault_mode_t fault_mode(const fault_t *fault);
/* The DPU's view of the byte at heap offset `offset`. */
uint8_t *fault_dpu_address(fault_t *fault, uint64_t offset);

/* Makes [address, address + bytes) readable in the application's view.
 * The pages must hold valid data. ARI_EMAPS near the map limit. */
int fault_map(fault_t *fault, uint64_t address, uint64_t bytes);
/* Lets stores into [address, address + bytes) through; the pages must be
 * readable (fault_map). ARI_EMAPS near the map limit. */
int fault_open_write(fault_t *fault, uint64_t address, uint64_t bytes);
/* Makes stores into the range fault again (the pages stay readable). */
int fault_close_write(fault_t *fault, uint64_t address, uint64_t bytes);
/* Makes the range fault again on the next load (the data stays). */
int fault_unmap(fault_t *fault, uint64_t address, uint64_t bytes);
/* Forgets the range's data (frees the memory) and makes it fault again. */
int fault_discard(fault_t *fault, uint64_t address, uint64_t bytes);
/* Backs [address, address + bytes) (2 MiB aligned, above every range
 * added before) with 2 MiB pages of a hugetlbfs file, in both views.
 * ARI_ENOTSUP when the host cannot (`error` says why). Before fault_start. */
int fault_add_huge(fault_t *fault, uint64_t address, uint64_t bytes, char *error,
                   size_t error_size);
/* Takes the host's huge pages for [address, +bytes) of such a range now:
 * ARI_ENOMEM when its pool has none left. A 2 MiB page must be reserved
 * before anything touches it (an untaken page would be a SIGBUS). */
int fault_huge_reserve(fault_t *fault, uint64_t address, uint64_t bytes);
/* The host's pool of 2 MiB pages (/proc/meminfo): all of it, or what is
 * free now (`free_only`); 0 when unknown. */
uint64_t fault_huge_pool(bool free_only);
/* The page size at `address`: 2 MiB in a range of fault_add_huge, else 4 KiB. */
uint64_t fault_page_size(const fault_t *fault, uint64_t address);
/* Pages (4 KiB) of the memory files that hold memory now. */
uint64_t fault_resident_pages(const fault_t *fault);
/* Faults served so far. */
uint64_t fault_count(const fault_t *fault);

#endif /* ARIADNE_RUNTIME_FAULT_H */
