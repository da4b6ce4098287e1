/*
 * bell — a doorbell on a futex word shared between processes (bell.h).
 *
 * Why no wake-up is lost: a waiter increments `sleepers` and then reads
 * `seq`; a ringer increments `seq` and then reads `sleepers`. All four are
 * sequentially consistent, so at least one side sees the other: either the
 * waiter sees the new seq and does not sleep, or the ringer sees a sleeper
 * and calls FUTEX_WAKE. A wake that comes between the waiter's check and
 * its FUTEX_WAIT is not lost either: the kernel compares seq with `seen`
 * atomically with going to sleep and returns EAGAIN when they differ.
 *
 * The word lives in MAP_SHARED memory used by several processes, so the
 * futex calls must not carry FUTEX_PRIVATE_FLAG (a private futex is keyed
 * by the process's own address space and a wake from another process
 * would never reach it).
 */
#include "bell.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BELL_NS_PER_S 1000000000ull

_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t),
               "the futex word must be a plain 32-bit integer");

void bell_init(bell_t *bell)
{
    atomic_init(&bell->seq, 0);
    atomic_init(&bell->sleepers, 0);
}

uint32_t bell_read(const bell_t *bell)
{
    /* Acquire: whatever the ringer published before ringing (a ring's head)
     * is visible to the work check that follows this read. */
    return atomic_load_explicit(&bell->seq, memory_order_acquire);
}

void bell_ring(bell_t *bell)
{
    atomic_fetch_add_explicit(&bell->seq, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&bell->sleepers, memory_order_seq_cst) > 0)
        syscall(SYS_futex, (uint32_t *)&bell->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static uint64_t bell_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * BELL_NS_PER_S + (uint64_t)now.tv_nsec;
}

/* One FUTEX_WAIT of at most `timeout_ns`: 0 when woken, else errno
 * (EAGAIN: seq was no longer `seen`; ETIMEDOUT; EINTR: a signal). */
static int bell_futex_wait(bell_t *bell, uint32_t seen, uint64_t timeout_ns)
{
    struct timespec timeout = {.tv_sec = (time_t)(timeout_ns / BELL_NS_PER_S),
                               .tv_nsec = (long)(timeout_ns % BELL_NS_PER_S)};
    long result = syscall(SYS_futex, (uint32_t *)&bell->seq, FUTEX_WAIT, seen, &timeout,
                          NULL, 0);
    return result == 0 ? 0 : errno;
}

int bell_wait(bell_t *bell, uint32_t seen, uint64_t timeout_ns)
{
    if (timeout_ns == 0)
        return atomic_load_explicit(&bell->seq, memory_order_seq_cst) != seen;
    uint64_t start = bell_now_ns();
    uint64_t deadline = start + timeout_ns < start ? UINT64_MAX : start + timeout_ns;
    atomic_fetch_add_explicit(&bell->sleepers, 1, memory_order_seq_cst);
    /* Sleep again only after a signal: a wake, EAGAIN or the timeout ends
     * the wait (a wake with seq unchanged is a spurious return, allowed).
     * Bounded by the deadline. */
    for (uint64_t now = start;
         atomic_load_explicit(&bell->seq, memory_order_seq_cst) == seen && now < deadline;
         now = bell_now_ns()) {
        if (bell_futex_wait(bell, seen, deadline - now) != EINTR)
            break;
    }
    atomic_fetch_sub_explicit(&bell->sleepers, 1, memory_order_seq_cst);
    return atomic_load_explicit(&bell->seq, memory_order_seq_cst) != seen;
}
