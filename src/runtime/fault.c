/*
 * fault — two views of the node's global pages, and their faults (fault.h).
 */
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "ariadne.h"

#define FAULT_PAGE 4096ull
#define FAULT_BATCH 16u /* userfaultfd messages read at once */
#define FAULT_SLOTS 64u /* SIGSEGV faults handed to the fault thread at once */
#define FAULT_HUGE_PAGE (2ull << 20)
#define FAULT_HUGE_RANGES 1024u /* ranges of 2 MiB pages (fault_add_huge) */

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21u << 26) /* MFD_HUGE_SHIFT 26 */
#endif

/* A fault the SIGSEGV handler hands to the fault thread (mprotect mode).
 * The handler itself does nothing but atomics and futex calls: serving a
 * fault allocates, which a signal handler must not. */
typedef enum { SLOT_FREE = 0, SLOT_CLAIMED, SLOT_ASKED, SLOT_DONE } fault_slot_state_t;
typedef struct {
    _Atomic uint32_t state;
    uint64_t page;
    bool write;
} fault_slot_t;

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

struct fault {
    fault_mode_t mode;
    uint64_t base, bytes;
    int memfd;
    int huge_fd;     /* hugetlbfs memory for the ranges of 2 MiB pages, or -1 */
    bool uffd_huge;  /* the userfaultfd serves minor faults of hugetlbfs */
    uint64_t huge_start[FAULT_HUGE_RANGES], huge_end[FAULT_HUGE_RANGES]; /* sorted */
    uint32_t huge_ranges;
    uint8_t *app_view, *dpu_view;
    int uffd, stop_fd;
    pthread_t thread, segv_thread;
    bool started, segv_started;
    fault_hooks_t hooks;
    struct sigaction old_segv;
    bool handler_installed;
    _Atomic uint64_t faults;
    fault_slot_t slots[FAULT_SLOTS];
    _Atomic uint32_t asked;   /* futex: bumped for every fault handed over */
    _Atomic bool stopping;
};

static void fault_futex_wait(_Atomic uint32_t *word, uint32_t seen, long timeout_ns)
{
    struct timespec ts = {timeout_ns / 1000000000l, timeout_ns % 1000000000l};
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, seen, timeout_ns > 0 ? &ts : NULL,
            NULL, 0);
}

static void fault_futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* In the SIGSEGV handler: hands the page to the fault thread and sleeps
 * until it is served. */
static void fault_ask_thread(fault_t *f, uint64_t page, bool write)
{
    for (;;) {
        for (uint32_t i = 0; i < FAULT_SLOTS; i++) {
            fault_slot_t *slot = &f->slots[i];
            uint32_t free_state = SLOT_FREE;
            if (!atomic_compare_exchange_strong(&slot->state, &free_state, SLOT_CLAIMED))
                continue;
            slot->page = page;
            slot->write = write;
            atomic_store(&slot->state, SLOT_ASKED);
            atomic_fetch_add(&f->asked, 1);
            fault_futex_wake(&f->asked);
            uint32_t state;
            while ((state = atomic_load(&slot->state)) != SLOT_DONE)
                fault_futex_wait(&slot->state, state, 0);
            atomic_store(&slot->state, SLOT_FREE);
            return;
        }
        sched_yield(); /* every slot taken: as many threads faulting at once */
    }
}

/* The SIGSEGV handler has no argument: the one fault_t of the process. */
static fault_t *_Atomic fault_process;

fault_mode_t fault_mode(const fault_t *f) { return f->mode; }
uint8_t *fault_dpu_address(fault_t *f, uint64_t offset) { return f->dpu_view + offset; }
uint64_t fault_count(const fault_t *f) { return atomic_load(&f->faults); }

uint64_t fault_resident_pages(const fault_t *f)
{
    struct stat st;
    uint64_t pages = fstat(f->memfd, &st) == 0 ? (uint64_t)st.st_blocks * 512u / FAULT_PAGE : 0;
    if (f->huge_fd >= 0 && fstat(f->huge_fd, &st) == 0)
        pages += (uint64_t)st.st_blocks * 512u / FAULT_PAGE;
    return pages;
}

/* Whether `address` is in a range of 2 MiB pages (binary search). */
static bool fault_in_huge(const fault_t *f, uint64_t address)
{
    uint32_t lo = 0, hi = f->huge_ranges;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (address < f->huge_start[mid])
            hi = mid;
        else if (address >= f->huge_end[mid])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

uint64_t fault_page_size(const fault_t *f, uint64_t address)
{
    return fault_in_huge(f, address) ? FAULT_HUGE_PAGE : FAULT_PAGE;
}

/* ------------------------------------------------------------------------
 * SIGSEGV: plain stores (both modes) and loads (mprotect mode)
 * ------------------------------------------------------------------------ */

static bool fault_is_write(const void *context)
{
#if defined(__x86_64__)
    const ucontext_t *uc = context;
    return (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0; /* the page-fault error code's W bit */
#else
    (void)context;
    return false;
#endif
}

static void fault_write_all(const char *text)
{
    size_t length = strlen(text);
    while (length > 0) {
        ssize_t n = write(STDERR_FILENO, text, length);
        if (n <= 0)
            return;
        text += n;
        length -= (size_t)n;
    }
}

/* A plain store with nobody to serve it (no write_fault hook). */
__attribute__((noreturn)) static void fault_store_stop(const fault_t *f, uint64_t address)
{
    char text[400];
    snprintf(text, sizeof text,
             "ariadne: node %u: plain store to global memory at %#llx, which this node "
             "cannot write (use ari_store() or the ari_*_u64 atomics); stopping.\n",
             f->hooks.node, (unsigned long long)address);
    fault_write_all(text);
    signal(SIGABRT, SIG_DFL);
    abort();
}

/* Not ours: hand the signal to whoever had it before. */
static void fault_chain(int sig, siginfo_t *info, void *context, const struct sigaction *old)
{
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction != NULL) {
        old->sa_sigaction(sig, info, context);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: return with it restored and the access faults again. */
    signal(sig, SIG_DFL);
}

static __thread uint64_t fault_last_page; /* without a W bit: a page that faults twice is written */

static void fault_on_segv(int sig, siginfo_t *info, void *context)
{
    fault_t *f = atomic_load(&fault_process);
    uint64_t address = (uint64_t)(uintptr_t)info->si_addr;
    if (f == NULL || address < f->base || address - f->base >= f->bytes) {
        struct sigaction old;
        memset(&old, 0, sizeof old);
        if (f != NULL)
            old = f->old_segv;
        fault_chain(sig, info, context, &old);
        return;
    }
    uint64_t page = address & ~(FAULT_PAGE - 1);
    /* With userfaultfd every load is served there: a SIGSEGV is a store. */
    bool write = f->mode == FAULT_UFFD || fault_is_write(context) || page == fault_last_page;
    if (write && f->hooks.write_fault == NULL)
        fault_store_stop(f, address);
#if !defined(__x86_64__)
    fault_last_page = write ? 0 : page;
#endif
    atomic_fetch_add_explicit(&f->faults, 1, memory_order_relaxed);
    fault_ask_thread(f, page, write);
}

static int fault_handler_install(fault_t *f)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fault_on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &f->old_segv) != 0)
        return ARI_EINVAL;
    f->handler_installed = true;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * userfaultfd
 * ------------------------------------------------------------------------ */

static int fault_uffd_open(fault_t *f, char *error, size_t error_size)
{
    /* User-mode-only is what an unprivileged process may open where
     * vm.unprivileged_userfaultfd is 0; kernels before 5.11 lack the flag. */
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0 && errno == EINVAL)
        fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(error, error_size, "userfaultfd: %s", strerror(errno));
        return ARI_ENOTSUP;
    }
    /* Minor faults of hugetlbfs too, for 2 MiB pages; a kernel built
     * without huge pages refuses the feature: then without it. */
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MINOR_HUGETLBFS};
    if (ioctl(fd, UFFDIO_API, &api) != 0 && errno == EINVAL) {
        close(fd);
        fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
        if (fd < 0 && errno == EINVAL)
            fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        api = (struct uffdio_api){.api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM};
        if (fd < 0 || ioctl(fd, UFFDIO_API, &api) != 0)
            api.features = 0;
    }
    f->uffd_huge = (api.features & UFFD_FEATURE_MINOR_HUGETLBFS) != 0;
    if ((api.features & UFFD_FEATURE_MINOR_SHMEM) == 0) {
        snprintf(error, error_size, "userfaultfd lacks minor faults on shared memory "
                                    "(Linux 5.14 or later has them)");
        if (fd >= 0)
            close(fd);
        return ARI_ENOTSUP;
    }
    struct uffdio_register reg = {
        .range = {.start = f->base, .len = f->bytes},
        .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR};
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0 ||
        (reg.ioctls & ((uint64_t)1 << _UFFDIO_CONTINUE)) == 0) {
        snprintf(error, error_size, "userfaultfd cannot register the heap: %s", strerror(errno));
        close(fd);
        return ARI_ENOTSUP;
    }
    f->uffd = fd;
    return ARI_OK;
}

static void fault_uffd_serve(fault_t *f)
{
    struct uffd_msg msgs[FAULT_BATCH];
    ssize_t n = read(f->uffd, msgs, sizeof msgs);
    if (n <= 0)
        return;
    for (size_t i = 0; i < (size_t)n / sizeof msgs[0]; i++) {
        if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
            continue;
        atomic_fetch_add_explicit(&f->faults, 1, memory_order_relaxed);
        f->hooks.resolve(f->hooks.ctx, msgs[i].arg.pagefault.address & ~(FAULT_PAGE - 1));
    }
}

/* mprotect mode: serves the faults SIGSEGV handlers hand over. */
static void *fault_thread_segv_main(void *arg)
{
    fault_t *f = arg;
    while (!atomic_load(&f->stopping)) {
        uint32_t seen = atomic_load(&f->asked);
        bool served = false;
        for (uint32_t i = 0; i < FAULT_SLOTS; i++) {
            fault_slot_t *slot = &f->slots[i];
            if (atomic_load(&slot->state) != SLOT_ASKED)
                continue;
            if (slot->write)
                f->hooks.write_fault(f->hooks.ctx, slot->page);
            else
                f->hooks.resolve(f->hooks.ctx, slot->page);
            atomic_store(&slot->state, SLOT_DONE);
            fault_futex_wake(&slot->state);
            served = true;
        }
        if (!served)
            fault_futex_wait(&f->asked, seen, 100000000l);
    }
    return NULL;
}

static void *fault_thread_main(void *arg)
{
    fault_t *f = arg;
    for (;;) {
        struct pollfd fds[2] = {{.fd = f->uffd, .events = POLLIN},
                                {.fd = f->stop_fd, .events = POLLIN}};
        int ready = poll(fds, 2, -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0 || (fds[1].revents & POLLIN))
            break;
        if (fds[0].revents & POLLIN)
            fault_uffd_serve(f);
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Mapping pages in and out of the application's view
 * ------------------------------------------------------------------------ */

/* mprotect near the map limit: closing the whole view merges it back into
 * one region; pages that were open fault once more and reopen cheaply. */
static int fault_protect(fault_t *f, uint64_t address, uint64_t bytes, int prot)
{
    if (mprotect((void *)(uintptr_t)address, bytes, prot) == 0)
        return ARI_OK;
    if (errno != ENOMEM)
        return ARI_EINVAL;
    if (mprotect(f->app_view, f->bytes, PROT_NONE) != 0)
        return ARI_EMAPS;
    if (prot == PROT_NONE)
        return ARI_OK;
    return mprotect((void *)(uintptr_t)address, bytes, prot) == 0 ? ARI_OK : ARI_EMAPS;
}

static int fault_continue(fault_t *f, uint64_t address, uint64_t bytes)
{
    uint64_t page = fault_page_size(f, address);
    uint64_t done = 0;
    bool one_page = false;
    while (done < bytes) {
        uint64_t length = one_page ? page : bytes - done;
        struct uffdio_continue c = {.range = {.start = address + done, .len = length}};
        if (ioctl(f->uffd, UFFDIO_CONTINUE, &c) == 0) {
            done += length;
            continue;
        }
        int e = errno;
        uint64_t mapped = c.mapped > 0 ? (uint64_t)c.mapped : 0;
        if (e == EAGAIN) {
            done += mapped;
            continue;
        }
        if (e == ENOENT && !one_page) {
            /* The range crosses a boundary between kernel map entries (a
             * page open for stores splits the view) and the kernel takes
             * one entry per call: page by page from here. */
            one_page = true;
            continue;
        }
        if (e != EEXIST)
            return ARI_EINVAL;
        done += mapped + page; /* that page is mapped already: the next */
    }
    return ARI_OK;
}

int fault_map(fault_t *f, uint64_t address, uint64_t bytes)
{
    if (f->mode == FAULT_MPROTECT)
        return fault_protect(f, address, bytes, PROT_READ);
    /* UFFDIO_CONTINUE maps what the page cache holds: a page nobody has
     * written yet (a new master) is brought in by touching it. A 2 MiB
     * page is there already (fault_huge_reserve); touching one that is not
     * would be a SIGBUS when the host's pool is empty. */
    bool huge = fault_in_huge(f, address);
    for (uint64_t off = 0; !huge && off < bytes; off += FAULT_PAGE) {
        volatile uint8_t *p = f->dpu_view + (address - f->base) + off;
        (void)*p;
    }
    return fault_continue(f, address, bytes);
}

int fault_open_write(fault_t *f, uint64_t address, uint64_t bytes)
{
    (void)f;
    int status = mprotect((void *)(uintptr_t)address, bytes, PROT_READ | PROT_WRITE);
    if (status == 0)
        return ARI_OK;
    return errno == ENOMEM ? ARI_EMAPS : ARI_EINVAL;
}

int fault_close_write(fault_t *f, uint64_t address, uint64_t bytes)
{
    (void)f;
    /* Dropping a permission never needs a new map entry; it may merge some. */
    return mprotect((void *)(uintptr_t)address, bytes, PROT_READ) == 0 ? ARI_OK : ARI_EINVAL;
}

int fault_unmap(fault_t *f, uint64_t address, uint64_t bytes)
{
    if (f->mode == FAULT_MPROTECT)
        return fault_protect(f, address, bytes, PROT_NONE);
    return madvise((void *)(uintptr_t)address, bytes, MADV_DONTNEED) == 0 ? ARI_OK : ARI_EINVAL;
}

int fault_discard(fault_t *f, uint64_t address, uint64_t bytes)
{
    int status = f->mode == FAULT_MPROTECT ? fault_unmap(f, address, bytes) : ARI_OK;
    int fd = fault_in_huge(f, address) ? f->huge_fd : f->memfd;
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)(address - f->base), (off_t)bytes) != 0 && status == ARI_OK)
        status = ARI_EINVAL;
    return status;
}

/* ------------------------------------------------------------------------
 * 2 MiB pages
 * ------------------------------------------------------------------------ */

/* The hugetlbfs file of the 2 MiB pages, as large as the heap (sparse):
 * its offsets are the heap's, like the first file's. */
static int fault_huge_open(fault_t *f, char *error, size_t error_size)
{
    if (f->huge_fd >= 0)
        return ARI_OK;
    if (f->mode == FAULT_UFFD && !f->uffd_huge) {
        snprintf(error, error_size, "userfaultfd here lacks minor faults of huge pages");
        return ARI_ENOTSUP;
    }
    int fd = memfd_create("ariadne-huge", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
    if (fd < 0 || ftruncate(fd, (off_t)f->bytes) != 0) {
        snprintf(error, error_size, "cannot make a file of 2 MiB pages: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return ARI_ENOTSUP;
    }
    f->huge_fd = fd;
    return ARI_OK;
}

/* Maps the hugetlbfs file over [address, +bytes) of one view. */
static int fault_huge_map_view(fault_t *f, uint8_t *view, uint64_t address, uint64_t bytes,
                               int prot)
{
    uint64_t offset = address - f->base;
    void *p = mmap(view + offset, bytes, prot, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
                   f->huge_fd, (off_t)offset);
    return p == MAP_FAILED ? -1 : 0;
}

int fault_add_huge(fault_t *f, uint64_t address, uint64_t bytes, char *error, size_t error_size)
{
    if (address % FAULT_HUGE_PAGE != 0 || bytes % FAULT_HUGE_PAGE != 0 || bytes == 0 ||
        address < f->base || address - f->base > f->bytes - bytes ||
        f->huge_ranges == FAULT_HUGE_RANGES ||
        (f->huge_ranges > 0 && address < f->huge_end[f->huge_ranges - 1])) {
        snprintf(error, error_size, "bad range of 2 MiB pages at %#llx",
                 (unsigned long long)address);
        return ARI_EINVAL;
    }
    int status = fault_huge_open(f, error, error_size);
    if (status != ARI_OK)
        return status;
    int app_prot = f->mode == FAULT_UFFD ? PROT_READ : PROT_NONE;
    if (fault_huge_map_view(f, f->dpu_view, address, bytes, PROT_READ | PROT_WRITE) != 0 ||
        fault_huge_map_view(f, f->app_view, address, bytes, app_prot) != 0) {
        snprintf(error, error_size, "cannot map 2 MiB pages: %s", strerror(errno));
        return ARI_ENOMEM;
    }
    /* A new mapping lost the userfaultfd registration of the old one. */
    if (f->mode == FAULT_UFFD) {
        struct uffdio_register reg = {.range = {.start = address, .len = bytes},
                                      .mode = UFFDIO_REGISTER_MODE_MISSING |
                                              UFFDIO_REGISTER_MODE_MINOR};
        if (ioctl(f->uffd, UFFDIO_REGISTER, &reg) != 0) {
            snprintf(error, error_size, "userfaultfd cannot register 2 MiB pages: %s",
                     strerror(errno));
            return ARI_ENOTSUP;
        }
    }
    f->huge_start[f->huge_ranges] = address;
    f->huge_end[f->huge_ranges] = address + bytes;
    f->huge_ranges++;
    return ARI_OK;
}

uint64_t fault_huge_pool(bool free_only)
{
    const char *key = free_only ? "HugePages_Free: %llu" : "HugePages_Total: %llu";
    FILE *meminfo = fopen("/proc/meminfo", "re");
    unsigned long long pages = 0;
    char line[128];
    while (meminfo != NULL && fgets(line, sizeof line, meminfo) != NULL)
        if (sscanf(line, key, &pages) == 1)
            break;
    if (meminfo != NULL)
        fclose(meminfo);
    return pages;
}

int fault_huge_reserve(fault_t *f, uint64_t address, uint64_t bytes)
{
    if (!fault_in_huge(f, address))
        return ARI_EINVAL;
    /* fallocate takes the pages from the host's pool now, or fails: a
     * plain touch of a page the pool cannot give is a SIGBUS. */
    if (fallocate(f->huge_fd, FALLOC_FL_KEEP_SIZE, (off_t)(address - f->base), (off_t)bytes) != 0)
        return errno == ENOSPC || errno == ENOMEM ? ARI_ENOMEM : ARI_EINVAL;
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Life
 * ------------------------------------------------------------------------ */

static int fault_views_map(fault_t *f, char *error, size_t error_size)
{
    f->memfd = memfd_create("ariadne-heap", MFD_CLOEXEC);
    if (f->memfd < 0 || ftruncate(f->memfd, (off_t)f->bytes) != 0) {
        snprintf(error, error_size, "cannot make the heap's memory file: %s", strerror(errno));
        return ARI_ENOMEM;
    }
    void *app = mmap((void *)(uintptr_t)f->base, f->bytes, PROT_NONE,
                     MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, f->memfd, 0);
    if (app == MAP_FAILED || (uint64_t)(uintptr_t)app != f->base) {
        snprintf(error, error_size, "cannot map the global heap at %#llx (%llu GiB): %s",
                 (unsigned long long)f->base, (unsigned long long)(f->bytes >> 30),
                 app == MAP_FAILED ? strerror(errno) : "the kernel put it elsewhere");
        if (app != MAP_FAILED)
            munmap(app, f->bytes);
        return ARI_ENOMEM;
    }
    f->app_view = app;
    /* At a 2 MiB boundary, so that ranges of 2 MiB pages can be mapped
     * over it (fault_add_huge): reserve a little more, map inside. */
    void *dpu = MAP_FAILED;
    uint8_t *room = mmap(NULL, f->bytes + FAULT_HUGE_PAGE, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (room != MAP_FAILED) {
        uint64_t skip = (FAULT_HUGE_PAGE - (uint64_t)(uintptr_t)room % FAULT_HUGE_PAGE) %
                        FAULT_HUGE_PAGE;
        if (skip > 0)
            munmap(room, skip);
        if (FAULT_HUGE_PAGE - skip > 0)
            munmap(room + skip + f->bytes, FAULT_HUGE_PAGE - skip);
        dpu = mmap(room + skip, f->bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_FIXED | MAP_NORESERVE, f->memfd, 0);
        if (dpu == MAP_FAILED)
            munmap(room + skip, f->bytes);
    }
    if (dpu == MAP_FAILED) {
        snprintf(error, error_size, "cannot map the heap a second time: %s", strerror(errno));
        return ARI_ENOMEM;
    }
    f->dpu_view = dpu;
    return ARI_OK;
}

static int fault_mode_setup(fault_t *f, fault_mode_t mode, char *error, size_t error_size)
{
    if (mode != FAULT_MPROTECT) {
        int status = fault_uffd_open(f, error, error_size);
        if (status == ARI_OK && mprotect(f->app_view, f->bytes, PROT_READ) != 0)
            status = ARI_ENOMEM;
        if (status == ARI_OK) {
            f->mode = FAULT_UFFD;
            return ARI_OK;
        }
        if (mode == FAULT_UFFD)
            return status;
    }
    f->mode = FAULT_MPROTECT;
    return ARI_OK;
}

int fault_create(fault_mode_t mode, uint64_t base, uint64_t bytes, const fault_hooks_t *hooks,
                 fault_t **fault_out, char *error, size_t error_size)
{
    if (atomic_load(&fault_process) != NULL) {
        snprintf(error, error_size, "the global heap is mapped already");
        return ARI_EINIT;
    }
    fault_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return ARI_ENOMEM;
    f->base = base;
    f->bytes = bytes;
    f->hooks = *hooks;
    f->memfd = f->uffd = f->stop_fd = f->huge_fd = -1;
    int status = fault_views_map(f, error, error_size);
    if (status == ARI_OK)
        status = fault_mode_setup(f, mode, error, error_size);
    if (status == ARI_OK && (f->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0)
        status = ARI_ENOMEM;
    if (status == ARI_OK) {
        atomic_store(&fault_process, f);
        status = fault_handler_install(f);
    }
    if (status != ARI_OK) {
        fault_destroy(f);
        return status;
    }
    *fault_out = f;
    return ARI_OK;
}

int fault_start(fault_t *f)
{
    if (f->segv_started)
        return ARI_OK;
    /* The SIGSEGV faults (stores; loads too in mprotect mode) have a
     * thread of their own, so a store waits on no userfaultfd read. */
    if (pthread_create(&f->segv_thread, NULL, fault_thread_segv_main, f) != 0)
        return ARI_ENOMEM;
    f->segv_started = true;
    if (f->mode == FAULT_UFFD && pthread_create(&f->thread, NULL, fault_thread_main, f) != 0)
        return ARI_ENOMEM;
    f->started = f->mode == FAULT_UFFD;
    return ARI_OK;
}

void fault_destroy(fault_t *f)
{
    if (f == NULL)
        return;
    atomic_store(&f->stopping, true);
    if (f->segv_started) {
        atomic_fetch_add(&f->asked, 1);
        fault_futex_wake(&f->asked);
        pthread_join(f->segv_thread, NULL);
    }
    if (f->started) {
        uint64_t one = 1;
        if (write(f->stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
            abort(); /* an eventfd write cannot fail here; the join would hang */
        pthread_join(f->thread, NULL);
    }
    if (f->handler_installed)
        sigaction(SIGSEGV, &f->old_segv, NULL);
    fault_t *self = f;
    atomic_compare_exchange_strong(&fault_process, &self, NULL);
    if (f->uffd >= 0)
        close(f->uffd);
    if (f->stop_fd >= 0)
        close(f->stop_fd);
    if (f->app_view != NULL)
        munmap(f->app_view, f->bytes);
    if (f->dpu_view != NULL)
        munmap(f->dpu_view, f->bytes);
    if (f->memfd >= 0)
        close(f->memfd);
    if (f->huge_fd >= 0)
        close(f->huge_fd);
    free(f);
}
