/*
 * sync — release points and the synchronisation of include/ariadne.h:
 * ari_flush, ari_barrier, mutexes and semaphores (docs/MEMORY-MODEL.md).
 *
 * Every release flushes this node's dirty pages (dirty.h) and publishes
 * their write notices (notice.h); every acquire absorbs the notices of
 * whoever released before it.
 *
 * A mutex is one u64 at its owner, changed only by atomics there:
 *     0                                   unlocked, never released
 *     node + 1 << 40 | head               unlocked, last released by `node`
 *                                         when its notice log stood at `head`
 *     LOCKED | node + 1 << 40             held by `node`
 * So the CAS that takes it also hands over where the releaser's notices
 * end. Waiters poll with a growing pause (at most SYNC_PAUSE_MAX_NS).
 */
#include <stdatomic.h>
#include <stddef.h>

#include "ariadne.h"
#include "dirty.h"
#include "node.h"
#include "notice.h"

#define SYNC_LOCKED (1ull << 63)
#define SYNC_NODE_SHIFT 40
#define SYNC_HEAD_MASK ((1ull << SYNC_NODE_SHIFT) - 1)
#define SYNC_PAUSE_MIN_NS 1000ull
#define SYNC_PAUSE_MAX_NS 50000ull

static int sync_check(const void *ptr)
{
    int status = node_check();
    if (status == ARI_OK && (ptr == NULL || (uintptr_t)ptr % 8 != 0))
        status = ARI_EINVAL;
    if (status == ARI_OK && !heap_contains((uint64_t)(uintptr_t)ptr))
        status = ARI_EFAULT;
    return status;
}

/* A release: this node's writes to their owners, their notices to its log. */
static int sync_release(uint64_t *head_out)
{
    int status = dirty_flush();
    if (status == ARI_OK)
        status = notice_publish(head_out);
    return status;
}

/* A pause while waiting for another node: drives this node's DPU, bounded
 * by the run's time limit. */
static int sync_pause(uint64_t *pause_ns, uint64_t deadline)
{
    int status = driver_failed(node_g.driver);
    if (status != ARI_OK)
        return status;
    if (driver_now_ns() >= deadline)
        return ARI_ETIMEDOUT;
    driver_poll_for(node_g.driver, *pause_ns);
    *pause_ns = *pause_ns * 2 < SYNC_PAUSE_MAX_NS ? *pause_ns * 2 : SYNC_PAUSE_MAX_NS;
    return ARI_OK;
}

int ari_flush(void)
{
    int status = node_check();
    if (status == ARI_OK)
        status = driver_failed(node_g.driver);
    if (status == ARI_OK)
        status = dirty_flush();
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

int ari_barrier(void)
{
    int status = node_check();
    if (status != ARI_OK)
        return node_fail(status);
    uint32_t idle = 0;
    /* One arrival per node: a second thread's would count twice. */
    if (!atomic_compare_exchange_strong(&node_g.barrier_busy, &idle, 1))
        return node_fail(ARI_EBUSY);
    uint64_t head;
    status = sync_release(&head);
    if (status == ARI_OK)
        status = node_barrier();
    if (status == ARI_OK)
        status = notice_absorb_all();
    atomic_store(&node_g.barrier_busy, 0);
    if (status != ARI_OK)
        return node_fail(status);
    atomic_fetch_add_explicit(&node_g.barriers, 1, memory_order_relaxed);
    return ARI_OK;
}

/* ------------------------------------------------------------------------
 * Mutexes
 * ------------------------------------------------------------------------ */

int ari_mutex_lock(ari_mutex_t *m)
{
    int status = sync_check(m);
    if (status != ARI_OK)
        return node_fail(status);
    uint64_t address = (uint64_t)(uintptr_t)&m->words[0];
    uint64_t mine = SYNC_LOCKED | (uint64_t)(node_g.id + 1) << SYNC_NODE_SHIFT;
    uint64_t expected = 0, pause = SYNC_PAUSE_MIN_NS;
    uint64_t deadline = driver_now_ns() + driver_timeout_ns(node_g.driver);
    for (;;) {
        uint64_t old;
        status = node_atomic(address, MSG_ATOMIC_CAS, expected, mine, &old);
        if (status != ARI_OK)
            return node_fail(status);
        if (old == expected)
            break;
        if (old == mine)
            return node_fail(ARI_EBUSY); /* this node holds it: a mutex does not nest */
        if ((old & SYNC_LOCKED) == 0) {
            expected = old; /* unlocked, by someone else's release: try again at once */
            continue;
        }
        status = sync_pause(&pause, deadline);
        if (status != ARI_OK)
            return node_fail(status);
    }
    atomic_fetch_add_explicit(&node_g.locks, 1, memory_order_relaxed);
    if (expected == 0)
        return ARI_OK; /* never released: nothing to see */
    uint32_t releaser = (uint32_t)(expected >> SYNC_NODE_SHIFT) - 1;
    status = notice_absorb(releaser, expected & SYNC_HEAD_MASK);
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

int ari_mutex_unlock(ari_mutex_t *m)
{
    int status = sync_check(m);
    if (status != ARI_OK)
        return node_fail(status);
    uint64_t address = (uint64_t)(uintptr_t)&m->words[0];
    uint64_t mine = SYNC_LOCKED | (uint64_t)(node_g.id + 1) << SYNC_NODE_SHIFT;
    uint64_t head = 0, old = 0;
    status = sync_release(&head);
    if (status == ARI_OK && head > SYNC_HEAD_MASK)
        status = ARI_ERANGE;
    uint64_t released = (uint64_t)(node_g.id + 1) << SYNC_NODE_SHIFT | head;
    if (status == ARI_OK)
        status = node_atomic(address, MSG_ATOMIC_CAS, mine, released, &old);
    if (status == ARI_OK && old != mine)
        status = ARI_EPERM; /* not held by this node: nothing changed */
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

/* ------------------------------------------------------------------------
 * Semaphores: the permits in words[0]
 * ------------------------------------------------------------------------ */

int ari_sem_init(ari_sem_t *s, unsigned value)
{
    int status = sync_check(s);
    if (status == ARI_OK)
        status = node_atomic((uint64_t)(uintptr_t)&s->words[0], MSG_ATOMIC_SWAP, value, 0, NULL);
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

int ari_sem_wait(ari_sem_t *s)
{
    int status = sync_check(s);
    if (status != ARI_OK)
        return node_fail(status);
    uint64_t address = (uint64_t)(uintptr_t)&s->words[0];
    uint64_t permits = 1, pause = SYNC_PAUSE_MIN_NS;
    uint64_t deadline = driver_now_ns() + driver_timeout_ns(node_g.driver);
    for (;;) {
        uint64_t old = 0;
        status = permits > 0 ? node_atomic(address, MSG_ATOMIC_CAS, permits, permits - 1, &old)
                             : node_get_u64(address, &old);
        if (status != ARI_OK)
            return node_fail(status);
        if (permits > 0 && old == permits)
            break;
        permits = old;
        if (permits == 0 && (status = sync_pause(&pause, deadline)) != ARI_OK)
            return node_fail(status);
    }
    /* Any node may have posted the permit taken: every node's notices. */
    status = notice_absorb_all();
    return status == ARI_OK ? ARI_OK : node_fail(status);
}

int ari_sem_post(ari_sem_t *s)
{
    int status = sync_check(s);
    uint64_t head;
    if (status == ARI_OK)
        status = sync_release(&head);
    if (status == ARI_OK)
        status = node_atomic((uint64_t)(uintptr_t)&s->words[0], MSG_ATOMIC_FETCH_ADD, 1, 0, NULL);
    return status == ARI_OK ? ARI_OK : node_fail(status);
}
