/*
 * own.pml — a Promela model of the ownership-transfer protocol (DESIGN §5,
 * docs/PROTOCOL.md "Ownership transfer") together with path-cache writes
 * (PROTOCOL.md "Requests go up, answers retrace", "Writes and atomics",
 * "Replicas"), for one page, checked exhaustively by spin: `make verify`
 * (tests/verify.sh). docs/VERIFY.md says what is covered, what is abstracted,
 * the state counts and the bug the model found.
 *
 *   spin -DTOPO=1 -a src/core/own.pml   line 0-1-2
 *   spin -DTOPO=2 -a src/core/own.pml   tree 0-1, 1-2, 1-3 (two branches join at 1)
 *   spin -DTOPO=3 -a src/core/own.pml   line 0-1-2-3 (a transfer crosses two DPUs)
 *   -DOWNER_NO_CUT                      the owner serves a request without cutting
 *                                       its hop list's loop (dpu_request before
 *                                       commit 3ce49be): fails, see below
 *
 * Model. One process per DPU (proctype dpu, which also plays its host); one
 * bounded FIFO channel per direction per link: reliable, FIFO, any delay (a
 * DPU takes its next input from any non-empty incoming link or its host).
 * Each DPU handles one input in one indivisible step (d_step). Per DPU, for
 * the one page: `up` (a neighbour, NONE at the owner), the `down` set, its
 * copy (none, valid replica, master) and version, `pinned`, crumbs (waiter ->
 * neighbour), the owner's arbiter queue (QMAX waiters), the owner's order
 * table (one writer: the last seq applied) and the writes it holds for their
 * turn (with their hop lists). Requests (ACQ, WRITE) carry real hop lists: every
 * forwarder cuts a loop back to itself and appends its id; answers (DENY,
 * WRITE_ACK, an immediate XFER_DATA) pop the last hop, as dpu_retrace does.
 *
 * Initial state: node 0 owns the page; every other node is already on the
 * page's tree with `up` toward node 0 (the NODATA REF join, PROTOCOL.md
 * "Joining first", is assumed done). The writer also took a ref with data:
 * it holds a valid replica at version 0; the other nodes hold no copy.
 * Hosts: lock clients ACQUIRE (with pin) -> critical section (one local write
 * at the owner: version + 1, UPDATE down every down port) -> RELEASE, once
 * each; the writer (not a lock client) issues NW path-cache WRITEs, pipelined
 * (all may be in flight at once), concurrently with the transfers.
 *
 * Abstracted (see docs/VERIFY.md for why): page bytes (the version stands for
 * them), per-port generations, UNREF/eviction/PRUNE/FREE, CANCEL, time (pin
 * and wait limits), priorities and timestamps (arrival order only), SEM and
 * BARRIER, ATOMIC and GET (served like WRITE), INVAL/SYNC (every change is an
 * UPDATE). `prev`: with one writer on one page, "prev applied" is "seq ==
 * last applied + 1", which the owner checks; the hold is unbounded here.
 *
 * Safety (asserted after every step by check(), inline at the point of each
 * event, and by the quiescence monitor when nothing can move):
 *  - at most one master; exactly one when no XFER_DATA is in flight;
 *  - mutual exclusion: at most one node in its critical section, and it is
 *    the pinned master; only the master is ever pinned;
 *  - with no XFER_DATA in flight the `up` pointers form one tree rooted at
 *    the owner (from any node the owner is reached within N steps) and the
 *    `down` sets mirror them exactly;
 *  - the master's version is the number of writes ordered so far: +1 per
 *    applied write, carried unchanged by XFER_DATA;
 *  - every WRITE applied exactly once, in its writer's order;
 *  - a replica applies every version once, in order, no gap; an UPDATE never
 *    arrives by a port other than `up` (dpu_update would drop it as stray);
 *  - read-your-writes: at WRITE_ACK(v) the writer's replica is at >= v;
 *  - an answer never goes back by the port it came in by; XFER_DATA comes
 *    in by `up` and leaves along the tree path; a DENY never finds a crumb
 *    already there for its waiter; a grant by crumbs always finds one;
 *  - quiescence: every client done, every write acknowledged, no crumb,
 *    queue entry or held write left anywhere, every replica at the master's
 *    version (converged).
 * Liveness (ltl, pan -a -f): every ACQUIRE is eventually granted, every
 * WRITE eventually acknowledged.
 *
 * Found: with -DOWNER_NO_CUT — the owner serves a request without first
 * cutting its hop list at its own id, as dpu_request did before commit
 * 3ce49be (now every DPU cuts loops before anything else, which is what the
 * model does by default) — topologies 2 and 3 fail (topology 1 cannot make
 * the loop): an ACQ that chased the page passes the DPU that is about to
 * become the owner, goes on to the old owner and comes back to it; the
 * answer then retraces the loop. A DENY lays a crumb at the old owner that
 * nothing removes (and crumb_set overwrites the owner's own); an immediate
 * XFER_DATA goes to the old owner, whose next hop is the port it came in by,
 * so own_xfer_receive makes the OLD owner the owner and the requester never
 * gets the page. Trails: docs/VERIFY.md.
 *
 * Mutations (-DMUTANT=k; `sh tests/verify.sh --mutants` checks that each is
 * caught). Every one is caught; the first failing check is shown:
 *  M1  the requester does not set `up` to none when it becomes the owner
 *      -> topo1 safety: the owner has an `up` (tree invariant)
 *  M2  the owner grants while pinned
 *      -> topo1 safety: a node still pinned (in its critical section) is
 *         no longer the master
 *  M3  DPUs on the path do not flip as XFER_DATA passes
 *      -> topo1 safety: `up` from a node does not reach the owner
 *  M4  the old owner drops the writes it held instead of resending them
 *      -> topo1 safety (quiescence): a WRITE never applied nor acknowledged
 *  M5  the new owner does not take the order table from XFER_DATA
 *      -> topo1 safety (quiescence): the writer's next WRITE is held forever
 *  M6  the carried queue's crumbs are not moved by the XFER_DATA pass
 *      -> topo2 safety (quiescence): a crumb left behind
 *  M7  the crumb move does not skip the waiter's own DPU
 *      -> topo2 safety (quiescence): a crumb left behind
 *  M8  the owner sends WRITE_ACK before the UPDATEs
 *      -> topo1 safety: read-your-writes
 *  M9  forwarders do not cut loops in the hop list
 *      -> topo1 safety: an answer turns back the way it came
 *  M10 DENY(queued) lays no crumbs
 *      -> topo1 safety: a grant by crumbs finds no crumb
 * (A mutation "grant while an OWN waiter is queued" cannot be told apart
 * here: with every ACQUIRE pinning, an unpinned owner never has waiters.)
 */

#ifndef TOPO
#define TOPO 1
#endif

/* ------------------------------------------------------------------------
 * Configuration per topology
 * ------------------------------------------------------------------------ */

#if TOPO == 1
#define N 3             /* line 0 - 1 - 2 */
#define EDGES edge(0, 1); edge(1, 2)
#define WRITER 1        /* on the transfer path */
#define CLIENT(i) ((i) == 0 || (i) == 2)
#elif TOPO == 2
#define N 4             /* tree 0 - 1, 1 - 2, 1 - 3: two branches join at 1 */
#define EDGES edge(0, 1); edge(1, 2); edge(1, 3)
#define WRITER 2
#define CLIENT(i) ((i) != 2)
#elif TOPO == 3
#define N 4             /* line 0 - 1 - 2 - 3 */
#define EDGES edge(0, 1); edge(1, 2); edge(2, 3)
#define WRITER 2
#define CLIENT(i) ((i) != 2)
#else
#error "TOPO must be 1, 2 or 3"
#endif
#ifndef NW
#define NW 2            /* the writer's writes */
#endif
#ifndef MUTANT
#define MUTANT 0        /* 0: the protocol; k > 0: mutation Mk (see the top) */
#endif

#define QMAX 2          /* the owner's arbiter queue (queue_max) */
#define CAP 8           /* messages a link holds; a send never blocks (asserted) */

#define NONE 255        /* no neighbour: the owner's `up`, no crumb */
#define NE (2 * (N - 1) + 1)
#define DUMMY (NE - 1)  /* the channel of non-neighbours: never used */
#define LINK(k, m) lk[(k) * N + (m)]   /* the channel from k to m */
#define NH(m, o) nh[(m) * N + (o)]     /* next hop from m toward o on the tree */

#define C_NONE 0        /* copy: none (on the tree only) */
#define C_VALID 1       /*       a valid replica */
#define C_MASTER 2      /*       the master: this node is the owner */

#define IDLE 0          /* client states */
#define WANT 1
#define CS 2
#define DONE 3

#define W_UNSENT 0      /* writer's write states */
#define W_SENT 1
#define W_ACKED 2

mtype = { ACQ, DENY, XFER, WRITE, WACK, UPDATE };

/* Fields: type, a, b, c, d, hops.
 *   ACQ(a origin, hops)                 kind OWN
 *   DENY(a origin, b 1 queued | 0 rejected, hops)
 *   XFER(a target, b version, c order table, d queue, hops: empty = by crumbs)
 *   WRITE(a origin, c seq, hops)        WACK(a origin, b version, c seq, hops)
 *   UPDATE(b version)
 * A hop list is up to 5 node ids + 1, 3 bits each, the origin lowest; a
 * queue is up to QMAX waiter ids + 1, 3 bits each, the first lowest. */
chan link[NE] = [CAP] of { mtype, byte, byte, byte, byte, short };

/* Per DPU (index = node) state for the one page. */
byte up[N];             /* neighbour toward the owner; NONE at the owner */
byte down[N];           /* bit k: neighbour k is below */
byte copy[N];           /* C_NONE, C_VALID, C_MASTER */
byte ver[N];            /* the copy's version */
bool pinned[N];         /* owner only */
byte qu[N * QMAX];      /* owner only: waiters (node + 1) in order; 0 = empty */
byte cr[N * N];         /* cr[m*N + q]: crumb at m toward waiter q, NONE if none */
byte appl[N];           /* owner only: last seq of WRITER applied (travels with the page) */
byte held[N];           /* owner only: bit s = WRITE seq s held for its turn */
short heldhops[N * (NW + 1)];   /* the hop lists of the held writes */

/* Hosts. */
byte cst[N];            /* client state: IDLE, WANT, CS, DONE */
bool cswrote[N];        /* the critical section's write is done */
byte wst[NW + 1];       /* writer: per seq W_UNSENT, W_SENT, W_ACKED */
byte nsent;

/* Ghosts (not protocol state). */
byte gver;              /* writes ordered so far: the true page version */
byte xfer_inflight;     /* XFER_DATA sent and not yet at its target */
byte applied[NW + 1];   /* times each WRITE was applied */
byte lastw;             /* last WRITE seq applied, by whichever owner */

/* Scratch for the steps, and the wiring (set by init, then constant):
 * hidden, so not in the state vector. Every use of a scratch variable lies
 * inside one d_step (or init's atomic), which never blocks. */
hidden byte h_i, h_k, h_n, h_c, h_nb, h_t, h_e, h_q, h_s, h_len, h_seen, h_nl;
hidden short h_Q, h_H;
hidden byte lk[N * N], nh[N * N], dist[N * N];

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* Sends on the link from this DPU (`me`) to its neighbour `to`. */
inline snd(to, t, x, y, z, w, hh) {
    assert(to < N && LINK(me, to) != DUMMY);
    assert(len(link[LINK(me, to)]) < CAP);
    link[LINK(me, to)] ! t, x, y, z, w, hh
}

/* h_len := the number of hops in H_. */
inline hops_len(H_) {
    h_len = 0;
    do
    :: h_len < 5 && ((H_ >> (3 * h_len)) & 7) != 0 -> h_len++
    :: else -> break
    od
}

/* h_seen := the index of node x_ in H_, or NONE (msg_hops_find). */
inline hops_find(H_, x_) {
    h_seen = NONE;
    for (h_i : 0 .. 4) {
        if
        :: h_seen == NONE && ((H_ >> (3 * h_i)) & 7) == x_ + 1 -> h_seen = h_i
        :: else -> skip
        fi
    }
}

/* A forwarder's step (dpu_request): cut a loop back to me, append me. */
inline hops_forward(H_) {
    hops_find(H_, me);
    if
    :: h_seen != NONE && MUTANT != 9 -> H_ = H_ & ((1 << (3 * h_seen)) - 1)
    :: else -> skip
    fi;
    hops_len(H_);
    assert(h_len < 5);                  /* hops_max */
    H_ = H_ | ((me + 1) << (3 * h_len))
}

/* The serving owner's step: cut a loop back to me, without appending
 * (dpu_request_cut_loop; before commit 3ce49be the owner served at once:
 * -DOWNER_NO_CUT). */
inline hops_serve(H_) {
#ifndef OWNER_NO_CUT
    hops_find(H_, me);
    if
    :: h_seen != NONE -> H_ = H_ & ((1 << (3 * h_seen)) - 1)
    :: else -> skip
    fi
#else
    skip
#endif
}

/* Retracing (dpu_retrace): h_nb := the last hop, which is popped off H_. */
inline hops_pop(H_) {
    hops_len(H_);
    assert(h_len > 0);
    h_nb = ((H_ >> (3 * (h_len - 1))) & 7) - 1;
    H_ = H_ & ((1 << (3 * (h_len - 1))) - 1)
}

/* The master's change goes down every down port (dpu_propagate). */
inline propagate() {
    for (h_k : 0 .. N - 1) {
        if
        :: (down[me] >> h_k) & 1 -> snd(h_k, UPDATE, 0, ver[me], 0, 0, 0)
        :: else -> skip
        fi
    }
}

/* The safety invariants, checked at the end of every step. */
inline check() {
    h_n = 0; h_c = 0; h_t = NONE;
    for (h_i : 0 .. N - 1) {
        if
        :: copy[h_i] == C_MASTER -> h_n++; h_t = h_i
        :: else -> skip
        fi;
        if
        :: cst[h_i] == CS -> h_c++
        :: else -> skip
        fi;
        assert(!pinned[h_i] || copy[h_i] == C_MASTER);
        assert(cst[h_i] != CS || (copy[h_i] == C_MASTER && pinned[h_i]))
    }
    /* at most one master; exactly one when no XFER_DATA is in flight */
    assert(xfer_inflight <= 1 && h_n + xfer_inflight == 1);
    /* mutual exclusion */
    assert(h_c <= 1);
    if
    :: xfer_inflight == 0 ->
        assert(up[h_t] == NONE && ver[h_t] == gver);
        for (h_i : 0 .. N - 1) {
            /* following `up` from h_i reaches the owner within N steps */
            h_k = h_i; h_e = 0;
            do
            :: h_k == h_t -> break
            :: else ->
                assert(h_e < N && up[h_k] != NONE);
                h_k = up[h_k]; h_e++
            od;
            /* `down` sets mirror `up` pointers */
            for (h_q : 0 .. N - 1) {
                assert(((down[h_i] >> h_q) & 1) == (up[h_q] == h_i -> 1 : 0))
            }
        }
    :: else -> skip
    fi
}

/* ------------------------------------------------------------------------
 * Ownership transfer
 * ------------------------------------------------------------------------ */

/* The crumbs of the waiters a transfer carries, as it passes in by a_ and
 * out by b_ (either NONE): a crumb pointing at b_ is removed; where there is
 * none, one pointing at a_ is laid; none is kept for this node itself.
 * C: own_recrumb. */
inline own_recrumb(a_, b_, Q_) {
    for (h_i : 0 .. QMAX - 1) {
        h_e = (Q_ >> (3 * h_i)) & 7;
        if
        :: h_e != 0 && (h_e - 1 != me || MUTANT == 7) && MUTANT != 6 ->
            h_q = h_e - 1;
            if
            :: b_ != NONE && cr[me * N + h_q] == b_ -> cr[me * N + h_q] = NONE
            :: cr[me * N + h_q] == NONE ->
                assert(a_ != NONE);     /* the old owner has a crumb for each waiter */
                cr[me * N + h_q] = a_
            :: else -> skip
            fi
        :: else -> skip
        fi
    }
}

/* own_xfer_send: the owner sends XFER_DATA to requester t_ by port b_ with
 * the rest of the hops H_ (empty: by crumbs), the page's version, order table
 * and the rest of the queue Q_. Its entry becomes a tree node under the new
 * owner; the writes it held for their turn go on up, behind the data. */
inline own_xfer_send(t_, b_, H_, Q_) {
    assert(copy[me] == C_MASTER && (!pinned[me] || MUTANT == 2) && b_ < N);
    own_recrumb(NONE, b_, Q_);
    up[me] = b_;
    down[me] = down[me] & ~(1 << b_);
    snd(b_, XFER, t_, ver[me], appl[me], Q_, H_);
    copy[me] = C_NONE; ver[me] = 0; appl[me] = 0;
    for (h_i : 0 .. QMAX - 1) { qu[me * QMAX + h_i] = 0 }
    xfer_inflight++;
    /* own_resend_held: each goes through dpu_request again, now a forwarder */
    for (h_s : 1 .. NW) {
        if
        :: (held[me] >> h_s) & 1 ->
            h_H = heldhops[me * (NW + 1) + h_s];
            heldhops[me * (NW + 1) + h_s] = 0;
            hops_forward(h_H);
#if MUTANT != 4
            snd(b_, WRITE, WRITER, 0, h_s, 0, h_H)
#endif
        :: else -> skip
        fi
    }
    held[me] = 0
}

/* own_arbitrate (C: own_arbitrate_own, own_queue): the owner answers an
 * ACQ(OWN) from o_ with hops H_ at once: granted — the grant is the transfer
 * — when not pinned and no OWN waiter is queued; else queued, with a crumb
 * toward the waiter and DENY(queued); DENY(rejected) when the queue is full. */
inline own_arbitrate(o_, H_) {
    if
    :: (!pinned[me] || MUTANT == 2) && qu[me * QMAX] == 0 ->
        if
        :: o_ == me && H_ == 0 -> pinned[me] = 1; cst[me] = CS     /* own_grant_local */
        :: else -> hops_pop(H_); own_xfer_send(o_, h_nb, H_, 0)
        fi
    :: else ->
        h_n = 0;
        for (h_i : 0 .. QMAX - 1) {
            if
            :: qu[me * QMAX + h_i] != 0 -> h_n++
            :: else -> skip
            fi
        }
        if
        :: h_n < QMAX && o_ == me && H_ == 0 -> qu[me * QMAX + h_n] = o_ + 1
        :: h_n < QMAX && !(o_ == me && H_ == 0) ->
            qu[me * QMAX + h_n] = o_ + 1;
            hops_pop(H_);
            assert(cr[me * N + o_] == NONE);
            cr[me * N + o_] = h_nb;
            snd(h_nb, DENY, o_, 1, 0, 0, H_)
        :: h_n >= QMAX && o_ == me && H_ == 0 -> cst[me] = IDLE   /* rejected: asks again */
        :: h_n >= QMAX && !(o_ == me && H_ == 0) ->
            hops_pop(H_); snd(h_nb, DENY, o_, 0, 0, 0, H_)
        fi
    fi
}

/* own_acq_receive (C: dpu_request for MSG_ACQ): arbitrated at the owner,
 * else forwarded up, with the hop list cut and extended. */
inline own_acq_receive() {
    if
    :: copy[me] == C_MASTER -> hops_serve(hh); own_arbitrate(a, hh)
    :: else -> assert(up[me] != NONE); hops_forward(hh); snd(up[me], ACQ, a, 0, 0, 0, hh)
    fi
}

/* own_xfer_receive (and own_become_owner, own_xfer_flip): XFER_DATA at a
 * DPU. Its target, once the hops are used up, becomes the owner (pinned:
 * every ACQUIRE here pins), taking version, order table and queue. A DPU on
 * the way takes the next port from the hops or its crumb, flips its entry
 * (`up` := out port, the in port joins `down`), moves the queue's crumbs
 * and passes the data on. */
inline own_xfer_receive() {
    assert(from == up[me]);             /* data comes down the tree */
    if
    :: a == me && hh == 0 ->
        own_recrumb(from, NONE, d);
        down[me] = down[me] | (1 << from);
#if MUTANT != 1
        up[me] = NONE;
#endif
        assert(copy[me] != C_MASTER && held[me] == 0);
        copy[me] = C_MASTER; ver[me] = b; appl[me] = (MUTANT == 5 -> 0 : c);
        for (h_i : 0 .. QMAX - 1) { qu[me * QMAX + h_i] = (d >> (3 * h_i)) & 7 }
        assert(xfer_inflight == 1 && b == gver);   /* the version travels with the page */
        xfer_inflight--;
        assert(cst[me] == WANT);
        cst[me] = CS; pinned[me] = 1
    :: else ->
        if
        :: hh != 0 -> hops_pop(hh)
        :: else ->
            h_nb = cr[me * N + a];
            assert(h_nb < N);           /* a grant by crumbs finds its crumb */
            cr[me * N + a] = NONE
        fi;
        assert(h_nb != from);           /* C would make this DPU the owner */
        assert(h_nb == NH(me, a));      /* it follows the tree path */
        own_recrumb(from, h_nb, d);
#if MUTANT != 3
        down[me] = (down[me] & ~(1 << h_nb)) | (1 << from);
        up[me] = h_nb;
#endif
        snd(h_nb, XFER, a, b, c, d, hh)
    fi
}

/* own_deny_receive (C: own_answer_receive, own_retrace): DENY retraces the
 * ACQ's hops; DENY(queued) lays at each DPU it passes a crumb toward its
 * waiter (the port it leaves by); at the waiter it is delivered. */
inline own_deny_receive() {
    if
    :: hh == 0 ->
        assert(a == me && cst[me] == WANT);
        if
        :: b -> skip                    /* queued: granted later, without asking */
        :: else -> cst[me] = IDLE       /* rejected: the host asks again */
        fi
    :: else ->
        hops_pop(hh);
        assert(h_nb != from);           /* an answer never turns back */
        if
        :: b && MUTANT != 10 -> assert(cr[me * N + a] == NONE); cr[me * N + a] = h_nb
        :: b && MUTANT == 10 -> skip
        :: else -> skip
        fi;
        snd(h_nb, DENY, a, b, 0, 0, hh)
    fi
}

/* own_release (C: own_submit_release, own_hand_on): RELEASE at the owner
 * unpins; the first OWN waiter gets the page by crumbs with the rest of the
 * queue. */
inline own_release() {
    assert(copy[me] == C_MASTER && pinned[me] && cst[me] == CS);
    pinned[me] = 0; cst[me] = DONE; cswrote[me] = 0;
    if
    :: qu[me * QMAX] != 0 ->
        h_t = qu[me * QMAX] - 1;
        for (h_i : 0 .. QMAX - 2) { qu[me * QMAX + h_i] = qu[me * QMAX + h_i + 1] }
        qu[me * QMAX + QMAX - 1] = 0;
        assert(h_t != me);              /* this node's own waiter: unreachable here */
        h_nb = cr[me * N + h_t]; cr[me * N + h_t] = NONE;
        assert(h_nb < N);
        h_Q = 0;
        for (h_i : 0 .. QMAX - 1) { h_Q = h_Q | (qu[me * QMAX + h_i] << (3 * h_i)) }
        own_xfer_send(h_t, h_nb, 0, h_Q)
    :: else -> skip
    fi
}

/* ------------------------------------------------------------------------
 * Path-cache writes
 * ------------------------------------------------------------------------ */

inline writer_ack(s_, v_) {
    assert(wst[s_] == W_SENT);
    wst[s_] = W_ACKED;
    /* read-your-writes: the writer's own update came first */
    assert(copy[me] != C_VALID || ver[me] >= v_)
}

/* Applies WRITE s_ (hops H_) at the owner: version + 1, UPDATE down every
 * down port, and only then WRITE_ACK back along the hops. */
inline dpu_apply_write(s_, H_) {
    ver[me]++;
    assert(ver[me] == gver + 1);
    gver = ver[me];
    appl[me] = s_;
    applied[s_]++;
    assert(applied[s_] == 1 && s_ == lastw + 1);   /* exactly once, in order */
    lastw = s_;
#if MUTANT != 8
    propagate();
#endif
    if
    :: H_ == 0 -> assert(WRITER == me); writer_ack(s_, ver[me])
    :: else -> hops_pop(H_); snd(h_nb, WACK, WRITER, ver[me], s_, 0, H_)
    fi;
#if MUTANT == 8
    propagate();
#endif
    skip
}

/* dpu_owner_write (C: dpu_owner_ordered_request, order.c): the owner applies
 * a writer's requests in seq order, holding early ones with their hops. */
inline dpu_owner_write(s_, H_) {
    if
    :: s_ == appl[me] + 1 ->
        dpu_apply_write(s_, H_);
        do
        :: (held[me] >> (appl[me] + 1)) & 1 ->
            h_s = appl[me] + 1;
            held[me] = held[me] & ~(1 << h_s);
            h_H = heldhops[me * (NW + 1) + h_s];
            heldhops[me * (NW + 1) + h_s] = 0;
            dpu_apply_write(h_s, h_H)
        :: else -> break
        od
    :: s_ > appl[me] + 1 ->
        assert(((held[me] >> s_) & 1) == 0);
        held[me] = held[me] | (1 << s_);
        heldhops[me * (NW + 1) + s_] = H_
    :: else -> assert(false)            /* a write applied twice */
    fi
}

/* dpu_request (WRITE): served at the owner, else forwarded up. */
inline dpu_request() {
    if
    :: copy[me] == C_MASTER -> hops_serve(hh); dpu_owner_write(c, hh)
    :: else -> assert(up[me] != NONE); hops_forward(hh); snd(up[me], WRITE, a, 0, c, 0, hh)
    fi
}

/* dpu_update: a DPU takes an UPDATE from its up port, forwards it down every
 * down port and applies it to its valid replica. */
inline dpu_update() {
    assert(from == up[me] && copy[me] != C_MASTER);   /* never stray */
    for (h_k : 0 .. N - 1) {
        if
        :: (down[me] >> h_k) & 1 -> snd(h_k, UPDATE, 0, b, 0, 0, 0)
        :: else -> skip
        fi
    }
    if
    :: copy[me] == C_VALID -> assert(b == ver[me] + 1); ver[me] = b   /* in order, no gap */
    :: else -> skip
    fi
}

/* WRITE_ACK retraces the hops to the writer (dpu_retrace, dpu_deliver). */
inline wack_receive() {
    if
    :: hh == 0 -> assert(a == me); writer_ack(c, b)
    :: else -> hops_pop(hh); assert(h_nb != from); snd(h_nb, WACK, a, b, c, 0, hh)
    fi
}

/* ------------------------------------------------------------------------
 * Processes
 * ------------------------------------------------------------------------ */

/* A message on a port (dpu_dispatch). */
inline dpu_receive() {
    if
    :: t == ACQ -> own_acq_receive()
    :: t == DENY -> own_deny_receive()
    :: t == XFER -> own_xfer_receive()
    :: t == WRITE -> dpu_request()
    :: t == WACK -> wack_receive()
    :: t == UPDATE -> dpu_update()
    fi;
    check();
    t = 0; a = 0; b = 0; c = 0; d = 0; from = 0; hh = 0
}

/* One DPU and its host. Mirrors dpu_receive/dpu_dispatch — a message on a
 * port: own_acq_receive, own_deny_receive, own_xfer_receive, dpu_request,
 * dpu_update, WRITE_ACK — and dpu_submit — the host's ACQUIRE (own_submit),
 * critical-section write, RELEASE (own_release) and WRITE. Each input is one
 * indivisible step (d_step), as a DPU handles one input at a time; which
 * input comes next is the only choice, so every interleaving of the links
 * and hosts is explored. */
proctype dpu(byte me) {
    mtype t;
    byte a, b, c, d, from;
    short hh;
end:
    do
    :: d_step { link[LINK(0, me)] ? t, a, b, c, d, hh -> from = 0; dpu_receive() }
    :: d_step { link[LINK(1, me)] ? t, a, b, c, d, hh -> from = 1; dpu_receive() }
    :: d_step { link[LINK(2, me)] ? t, a, b, c, d, hh -> from = 2; dpu_receive() }
#if N > 3
    :: d_step { link[LINK(3, me)] ? t, a, b, c, d, hh -> from = 3; dpu_receive() }
#endif
    /* host: ACQUIRE with pin */
    :: d_step {
        cst[me] == IDLE ->
        cst[me] = WANT;
        if
        :: copy[me] == C_MASTER -> h_H = 0; own_arbitrate(me, h_H)
        :: else ->
            assert(up[me] != NONE);
            h_H = 0; hops_forward(h_H);
            snd(up[me], ACQ, me, 0, 0, 0, h_H)
        fi;
        check()
       }
    /* host: the critical section's write at the owner (the host's own
     * WRITE: version + 1, UPDATE down, acknowledged here) */
    :: d_step {
        cst[me] == CS && !cswrote[me] ->
        assert(copy[me] == C_MASTER && pinned[me]);
        ver[me]++;
        assert(ver[me] == gver + 1);
        gver = ver[me];
        propagate();
        cswrote[me] = 1;
        check()
       }
    /* host: RELEASE */
    :: d_step {
        cst[me] == CS && cswrote[me] ->
        own_release();
        check()
       }
    /* host: a path-cache WRITE, the writer's next seq */
    :: d_step {
        me == WRITER && nsent < NW ->
        nsent++;
        wst[nsent] = W_SENT;
        if
        :: copy[me] == C_MASTER -> h_H = 0; dpu_owner_write(nsent, h_H)
        :: else ->
            assert(up[me] != NONE);
            h_H = 0; hops_forward(h_H);
            snd(up[me], WRITE, me, 0, nsent, 0, h_H)
        fi;
        check()
       }
    od
}

/* Quiescence (a checker, no C counterpart): when nothing can move,
 * everything asked for was done and nothing is left behind. */
proctype quiescence() {
    timeout ->
    atomic {
        assert(xfer_inflight == 0 && nsent == NW);
        for (h_i : 0 .. N - 1) {
            assert(cst[h_i] == DONE || !CLIENT(h_i));
            assert(!pinned[h_i] && held[h_i] == 0);
            for (h_k : 0 .. QMAX - 1) { assert(qu[h_i * QMAX + h_k] == 0) }
            for (h_k : 0 .. N - 1) { assert(cr[h_i * N + h_k] == NONE) }  /* no crumb left */
            assert(copy[h_i] != C_VALID || ver[h_i] == gver)               /* converged */
        }
        for (h_s : 1 .. NW) { assert(wst[h_s] == W_ACKED && applied[h_s] == 1) }
    }
}

/* Wiring: one channel per direction for the link x - y. */
inline edge(x, y) {
    lk[x * N + y] = h_nl; lk[y * N + x] = h_nl + 1; h_nl = h_nl + 2;
    dist[x * N + y] = 1; dist[y * N + x] = 1
}

init {
    atomic {
        /* the topology: links, then next hops by distance (it is a tree) */
        for (h_i : 0 .. N * N - 1) { lk[h_i] = DUMMY; dist[h_i] = N }
        h_nl = 0;
        EDGES;
        assert(h_nl == NE - 1);
        for (h_i : 0 .. N - 1) { dist[h_i * N + h_i] = 0 }
        for (h_k : 0 .. N - 1) {
            for (h_i : 0 .. N - 1) {
                for (h_q : 0 .. N - 1) {
                    if
                    :: dist[h_i * N + h_k] + dist[h_k * N + h_q] < dist[h_i * N + h_q] ->
                        dist[h_i * N + h_q] = dist[h_i * N + h_k] + dist[h_k * N + h_q]
                    :: else -> skip
                    fi
                }
            }
        }
        for (h_i : 0 .. N - 1) {
            for (h_q : 0 .. N - 1) {
                nh[h_i * N + h_q] = h_i;
                for (h_k : 0 .. N - 1) {
                    if
                    :: dist[h_i * N + h_k] == 1 && dist[h_k * N + h_q] + 1 == dist[h_i * N + h_q] ->
                        nh[h_i * N + h_q] = h_k
                    :: else -> skip
                    fi
                }
            }
        }
        /* the page: owned by node 0; every node on its tree, `up` toward 0 */
        for (h_i : 0 .. N - 1) {
            up[h_i] = NH(h_i, 0);
            cst[h_i] = (CLIENT(h_i) -> IDLE : DONE);
            for (h_k : 0 .. N - 1) { cr[h_i * N + h_k] = NONE }
        }
        up[0] = NONE;
        for (h_i : 1 .. N - 1) { down[up[h_i]] = down[up[h_i]] | (1 << h_i) }
        copy[0] = C_MASTER;
        copy[WRITER] = C_VALID;
        for (h_i : 0 .. N - 1) { run dpu(h_i) }
        run quiescence()
    }
}

/* ------------------------------------------------------------------------
 * Liveness (pan -a -f -N <name>)
 * ------------------------------------------------------------------------ */

ltl acq0 { [] ((cst[0] == WANT) -> <> (cst[0] == CS)) }
#if TOPO == 1
ltl acq2 { [] ((cst[2] == WANT) -> <> (cst[2] == CS)) }
#else
ltl acq1 { [] ((cst[1] == WANT) -> <> (cst[1] == CS)) }
ltl acq3 { [] ((cst[3] == WANT) -> <> (cst[3] == CS)) }
#endif
ltl wack1 { [] ((wst[1] == W_SENT) -> <> (wst[1] == W_ACKED)) }
ltl wack2 { [] ((wst[2] == W_SENT) -> <> (wst[2] == W_ACKED)) }
