/* queue_int.h: the shared-memory layout of a queue and the helpers its files share.
 * Private to src/queue. Everything in struct qshm is shared by every process using the
 * queue, so every field is either constant after creation, atomic, or guarded by one of the
 * two owner-pid locks (plock: producers, clock: consumers).
 *
 * The ring: a power-of-two byte area holding records one after the other, addressed by
 * absolute 64-bit positions (offset = pos & mask). A record is a 16-byte header and its
 * payload rounded up to 16. Three positions move forward only:
 *   free_pos <= head <= tail
 *   [free_pos, head): taken or skipped records, reclaimed by producers once finished;
 *   [head, tail):     records claimed by producers (being written or committed).
 * done_pos (the consumers' mark) is a hint that only moves forward: every record below it
 * is finished, so producers reclaim up to it without reading the records in between.
 * Each record's stamp word says which lap it belongs to (its position), its state and the
 * pid of the process that owns it in the states a process can die in (CLAIMED, TAKEN). */
#ifndef MPROC_QUEUE_INT_H
#define MPROC_QUEUE_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "mproc/queue.h"

#define Q_MAGIC    0x3151636f72706dULL /* "mprocQ1" */
#define Q_VERSION  1u
#define Q_HDR      16u  /* record header bytes; also the record alignment */
#define Q_REG_MAX  128u /* processes tracked for pid-reuse checks and join accounting */
#define Q_NAME_MAX 200u

/* Record states (low 4 bits of the stamp). */
enum {
    QS_CLAIMED = 1,   /* producer `owner` is writing the payload */
    QS_COMMITTED = 2, /* complete, waiting for a consumer */
    QS_TAKEN = 3,     /* consumer `owner` is copying it out */
    QS_DONE = 4,      /* consumed: space reclaimable */
    QS_PAD = 5,       /* filler up to the end of the ring; len is its whole size */
    QS_ABANDONED = 6  /* its producer died before committing: skipped, reclaimable */
};

/* stamp = (pos / 16) << 26 | pid << 4 | state. pids fit in 22 bits (PID_MAX_LIMIT is
 * 2^22); the 38-bit position field tells this lap's header from stale bytes. */
#define Q_PID_BITS 22u
static inline uint64_t q_stamp(uint64_t pos, uint32_t pid, unsigned state)
{
    return ((pos >> 4) << 26) | ((uint64_t)(pid & ((1u << Q_PID_BITS) - 1)) << 4) | state;
}
static inline unsigned q_state(uint64_t s)
{
    return (unsigned)(s & 15u);
}
static inline uint32_t q_owner(uint64_t s)
{
    return (uint32_t)((s >> 4) & ((1u << Q_PID_BITS) - 1));
}
static inline int q_stamp_at(uint64_t s, uint64_t pos)
{
    return (s >> 26) == (((pos >> 4) << 26) >> 26);
}

struct qrec {
    _Atomic uint64_t stamp;
    uint32_t len; /* payload bytes (PAD: the whole filler size) */
    uint32_t seq; /* message number, low 32 bits (PAD: the next message's) */
};

struct qreg {
    _Atomic uint32_t pid;
    uint32_t unused;
    _Atomic uint64_t start;  /* /proc/PID/stat starttime: tells a reused pid apart */
    _Atomic int64_t pending; /* joinable: messages taken minus task_done in this process */
};

#define Q_LINE _Alignas(64)

struct qshm {
    /* constant after creation */
    _Atomic uint64_t magic; /* stored last: attachers wait for it */
    uint32_t version, flags;
    uint64_t cap, max_msg, max_count, map_size;

    /* producers (guarded by plock) */
    Q_LINE _Atomic uint32_t plock; /* owner pid, 0 free */
    _Atomic uint64_t tail;         /* published after the new record's header is written */
    _Atomic uint64_t free_pos;     /* producers may write below free_pos + cap */
    _Atomic uint64_t claimed;      /* messages claimed so far */

    /* consumers (guarded by clock) */
    Q_LINE _Atomic uint32_t clock_; /* owner pid, 0 free */
    _Atomic uint64_t head;
    _Atomic uint64_t head_seq;  /* messages taken or skipped so far */
    _Atomic uint64_t abandoned; /* messages skipped because their producer died */
    _Atomic uint64_t done_pos;  /* records below it are finished (see above); may lag */

    /* waiting (futex words) */
    Q_LINE _Atomic uint32_t items_gen, space_gen, join_gen;
    _Atomic uint32_t items_sleep, space_sleep; /* someone may sleep on items/space_gen */
    _Atomic uint32_t join_waiters;
    _Atomic uint32_t closed;
    _Atomic uint32_t polled; /* someone asked for the descriptor: producers signal it */
    _Atomic uint32_t armed;  /* the descriptor was drained: the next commit signals it */

    /* joinable accounting */
    Q_LINE _Atomic uint64_t done; /* task_done calls */
    _Atomic uint64_t lost;        /* pending of recycled dead processes */

    Q_LINE struct qreg reg[Q_REG_MAX];
};

#define Q_DATA_OFF ((sizeof(struct qshm) + 4095u) & ~(size_t)4095u)

/* Per-process, per-handle state in a MADV_WIPEONFORK page: it reads as zeroes in a forked
 * child, which then registers itself under its own pid. */
struct qlocal {
    uint32_t pid;
    uint32_t reg; /* index in qshm.reg + 1, 0 if the registry was full */
};

struct mproc_queue {
    struct qshm *h;
    unsigned char *data;
    uint64_t mask;
    struct qlocal *local;
    int wipe_ok; /* MADV_WIPEONFORK worked; else the pid is checked on every call */
    int sigfd;   /* eventfd (anonymous) or FIFO (named) behind mproc_queue_fd() */
    int sig_fifo;
    _Atomic int64_t spin_items, spin_space; /* adaptive spin budgets (ns), see queue.c */
    _Atomic uint32_t got, lag; /* gets since the last wait; a streaming consumer's lag */
};

static inline struct qrec *q_rec(const mproc_queue *q, uint64_t pos)
{
    return (struct qrec *)(void *)(q->data + (pos & q->mask));
}
static inline uint64_t q_recsize(uint32_t len)
{
    return Q_HDR + (((uint64_t)len + Q_HDR - 1) & ~(uint64_t)(Q_HDR - 1));
}

/* A call's deadline on CLOCK_MONOTONIC in ns, computed the first time it is needed: the
 * fast paths never read the clock (it costs more than a whole put on some VMs). */
struct qdl {
    int timeout_ms;
    int64_t at; /* 0: not computed yet */
};
int64_t mproc__q_dl(struct qdl *d);
int64_t mproc__q_dl_at(struct qdl *d, int64_t now_ns); /* the same, given the time now */

/* queue.c: messages claimed, minus one counted but not published (see there). */
uint64_t mproc__q_claimed(const mproc_queue *q);

/* qsys.c: futex, owner liveness, locks, registry, the poll descriptor. */
int mproc__q_futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t abs_ns);
int mproc__q_pid_dead(struct qshm *h, uint32_t pid);
uint32_t mproc__q_me_slow(mproc_queue *q);
/* This process's pid as the queue knows it; registers a forked child on first use. */
static inline uint32_t q_me(mproc_queue *q)
{
    uint32_t pid = q->local->pid;
    if (__builtin_expect(pid != 0 && q->wipe_ok, 1))
        return pid;
    return mproc__q_me_slow(q);
}
void mproc__q_register(mproc_queue *q);
struct qreg *mproc__q_myreg(mproc_queue *q);
int mproc__q_lock_slow(struct qshm *h, _Atomic uint32_t *lock, uint32_t me, struct qdl *dl,
                       uint32_t *dead);
/* Takes an owner-pid lock (see mproc__q_lock_slow in qsys.c). 0, or MPROC_ETIMEDOUT. */
static inline int mproc__q_lock(struct qshm *h, _Atomic uint32_t *lock, uint32_t me, struct qdl *dl,
                                uint32_t *dead)
{
    uint32_t cur = 0;
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(
                             lock, &cur, me, memory_order_acquire, memory_order_relaxed),
                         1))
        return 0;
    return mproc__q_lock_slow(h, lock, me, dl, dead);
}
static inline void q_unlock(_Atomic uint32_t *lock)
{
    atomic_store_explicit(lock, 0, memory_order_release);
}
void mproc__q_sig_raise(const mproc_queue *q);
void mproc__q_sig_drain(const mproc_queue *q);
void mproc__q_pause(unsigned spins);

/* slice of every futex sleep: waits never depend on one wake-up arriving */
#define Q_SLICE_NS 20000000LL

#endif
