/*
 * bell — a doorbell between processes: a futex word in shared memory.
 *
 * A node sleeps on its bell when it has nothing to do; anyone who gives it
 * work (a peer that pushed into one of its rings, a thread of its own that
 * completed a request) rings it. Ringing costs one atomic add, plus a
 * FUTEX_WAKE system call only when someone sleeps. The pattern that loses
 * no wake-up: read the bell, look for work, and only if there is none wait
 * with the value read.
 */
#ifndef ARIADNE_TRANSPORT_BELL_H
#define ARIADNE_TRANSPORT_BELL_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    _Atomic uint32_t seq;      /* bumped by every ring */
    _Atomic uint32_t sleepers; /* threads in bell_wait */
} bell_t;

void bell_init(bell_t *bell);
/* The value to hand to bell_wait after finding no work. */
uint32_t bell_read(const bell_t *bell);
/* Wakes every sleeper (if any) and makes the next bell_wait(seen) return. */
void bell_ring(bell_t *bell);
/* Sleeps until the bell rings after `seen` was read, or timeout_ns passes
 * (0: return at once). Returns 1 when it rang, 0 on timeout. Spurious
 * returns are allowed; callers re-check their work. */
int bell_wait(bell_t *bell, uint32_t seen, uint64_t timeout_ns);

#endif /* ARIADNE_TRANSPORT_BELL_H */
