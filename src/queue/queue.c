/* queue.c: put, get and close of the shared-memory queue, and the waits around them.
 *
 * Producers claim space under plock (a few instructions: write the record header, move
 * tail), then copy and commit without any lock; consumers take the record at head under
 * clock, then copy out and mark it done without any lock. Space is reclaimed in order by
 * producers when they run short. A process killed anywhere leaves either nothing visible
 * or a record whose stamp names it as owner; survivors who find such a record check that
 * its owner is dead and skip it (CLAIMED: never delivered) or free it (TAKEN: lost).
 *
 * This file must not sleep on a futex without a slice (see qsys.c), and must not let a
 * lock holder run user code, copy payloads or wait.
 */
#include "queue/queue_int.h"
#include "queue/queue_test.h"

#include <limits.h>
#include <sched.h>
#include <string.h>

#include "sys/sys.h"

void (*mproc__queue_fault_point)(int point);

enum { Q_AGAIN = 1, Q_IDLE = 2 }; /* would block; slept a whole slice for nothing */

/* How long a waiter spins before sleeping adapts per handle between these bounds: a sleep
 * cut short by the awaited event soon after means spinning a little longer would have
 * saved a wake-up (both sides of a ping-pong otherwise fall into sleeping in turn); long
 * idle sleeps bring it back down, so an idle consumer burns next to nothing. */
#define Q_SPIN_MIN_NS 20000
#define Q_SPIN_MAX_NS 400000
#ifndef Q_YIELD_AFTER
#define Q_YIELD_AFTER 8192 /* spins (~0.3 ms) before a waiter starts yielding its CPU */
#endif
/* Messages up to this size are copied in under the producers' lock (claim) and out under
 * the consumers' (get_in_lock): a copy this short holds a lock no longer than the
 * bookkeeping around it. */
#define Q_INLOCK_MAX 256
/* Messages this large may wrap around the end of the ring (see claim). */
#define Q_WRAP_MIN     4096
#define Q_QUICK_CHECKS 128     /* a waiter's first checks read no clock */
#define Q_LIVENESS_NS  2000000 /* a record stuck this long gets its owner checked */

/* One step of a waiter's spin: a pause, and now and then a yield, so that on a crowded
 * machine the process we wait for can run on our CPU. */
static inline void q_spin_pause(unsigned i)
{
    if (i >= Q_YIELD_AFTER && (i & 63) == 0)
        sched_yield();
    else
        mproc__q_pause(1);
}

/* Copies a large payload piece with plain 16-byte vector moves. glibc's memcpy picks its
 * method by size: on some CPUs (AMD Zen 4 here) pieces under the L2 size go to `rep movsb`,
 * which ran 10-15% slower than its vector loop while the other CPU reads the ring, and a
 * payload that wraps or is copied in two halves is such pieces. A vector loop streams at
 * the same rate whatever the size (docs/queue.md, "Speed"). */
typedef unsigned char q_v16 __attribute__((vector_size(16), aligned(1), may_alias));
#define Q_BULK_MIN 16384

static void q_copy(unsigned char *dst, const unsigned char *src, size_t n)
{
    if (n < Q_BULK_MIN) {
        memcpy(dst, src, n);
        return;
    }
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        q_v16 a = *(const q_v16 *)(const void *)(src + i);
        q_v16 b = *(const q_v16 *)(const void *)(src + i + 16);
        q_v16 c = *(const q_v16 *)(const void *)(src + i + 32);
        q_v16 d = *(const q_v16 *)(const void *)(src + i + 48);
        *(q_v16 *)(void *)(dst + i) = a;
        *(q_v16 *)(void *)(dst + i + 16) = b;
        *(q_v16 *)(void *)(dst + i + 32) = c;
        *(q_v16 *)(void *)(dst + i + 48) = d;
    }
    memcpy(dst + i, src + i, n - i);
}

/* A message's payload lives at ring position pos + Q_HDR and may run past the end of the
 * ring into its start (large messages wrap rather than leave a filler; see claim). These
 * copy it in or out in two halves, passing the fault point between them (tests kill a
 * process there to leave a half-copied message behind). */
static void ring_in(mproc_queue *q, uint64_t pos, const unsigned char *src, size_t n)
{
    size_t off = (size_t)(pos & q->mask), first = (size_t)(q->mask + 1) - off;
    first = first < n ? first : n;
    q_copy(q->data + off, src, first);
    if (n > first)
        q_copy(q->data, src + first, n - first);
}

static void ring_out(const mproc_queue *q, uint64_t pos, unsigned char *dst, size_t n)
{
    size_t off = (size_t)(pos & q->mask), first = (size_t)(q->mask + 1) - off;
    first = first < n ? first : n;
    q_copy(dst, q->data + off, first);
    if (n > first)
        q_copy(dst + first, q->data, n - first);
}

static void payload_in(mproc_queue *q, uint64_t pos, const void *msg, size_t n, int point)
{
    if (!n) /* msg may be NULL */
        return;
    pos += Q_HDR;
    ring_in(q, pos, msg, n / 2);
    Q_FAULT(point);
    (void)point;
    ring_in(q, pos + n / 2, (const unsigned char *)msg + n / 2, n - n / 2);
}

static void payload_out(const mproc_queue *q, uint64_t pos, void *buf, size_t n, int point)
{
    if (!n) /* buf may be NULL */
        return;
    pos += Q_HDR;
    ring_out(q, pos, buf, n / 2);
    Q_FAULT(point);
    (void)point;
    ring_out(q, pos + n / 2, (unsigned char *)buf + n / 2, n - n / 2);
}

/* What a would-block was waiting behind: a record another process owns, since when. */
struct qblock {
    uint64_t pos, stamp;
    int64_t since_ns;
};

static void notify_items(mproc_queue *q)
{
    struct qshm *h = q->h;
    /* One wake-up per sleep episode: puts that follow while the sleepers are still
     * waking up must not each pay a system call. */
    if (atomic_load(&h->items_sleep) && atomic_exchange(&h->items_sleep, 0)) {
        atomic_fetch_add(&h->items_gen, 1);
        mproc__futex_wake(&h->items_gen, INT_MAX);
    }
    if (atomic_load_explicit(&h->armed, memory_order_relaxed) && atomic_exchange(&h->armed, 0))
        mproc__q_sig_raise(q);
}

static void notify_space(struct qshm *h)
{
    if (atomic_load(&h->space_sleep) && atomic_exchange(&h->space_sleep, 0)) {
        atomic_fetch_add(&h->space_gen, 1);
        mproc__futex_wake(&h->space_gen, INT_MAX);
    }
}

/* ---- producers ---------------------------------------------------------------- */

/* Frees, in order, finished records from free_pos up to head. Under plock. Starts from
 * the consumers' done_pos when it is ahead: with small messages consumers keep it at head,
 * and walking a lap's worth of headers (every line of the ring read once more, by the
 * producer) cost more than the puts themselves. Stops at a record a consumer is still
 * copying and reports it as the blocker. */
static void reclaim(mproc_queue *q, struct qblock *blk)
{
    struct qshm *h = q->h;
    uint64_t f = atomic_load_explicit(&h->free_pos, memory_order_relaxed);
    uint64_t d = atomic_load_explicit(&h->done_pos, memory_order_acquire);
    uint64_t hd = atomic_load_explicit(&h->head, memory_order_acquire);
    if (d > f && d <= hd)
        f = d;
    uint64_t from = f;
    while (f < hd) {
        struct qrec *r = q_rec(q, f);
        uint64_t s = atomic_load_explicit(&r->stamp, memory_order_acquire);
        unsigned st = q_state(s);
        /* below head, COMMITTED means copied out under the consumers' lock (get_in_lock) */
        if (!q_stamp_at(s, f) ||
            (st != QS_DONE && st != QS_PAD && st != QS_ABANDONED && st != QS_COMMITTED)) {
            if (q_stamp_at(s, f) && st == QS_TAKEN && blk->stamp != s)
                *blk = (struct qblock){f, s, mproc__now_ns()};
            break;
        }
        f += st == QS_PAD ? r->len : q_recsize(r->len);
    }
    Q_FAULT(MPROC_QF_RECLAIM_LOCKED);
    atomic_store_explicit(&h->free_pos, f, memory_order_relaxed);
    /* Walked all the way to head: bring a lagging done_pos along (a large message taken
     * since, or a consumer killed before it moved the mark). A CAS: a consumer may have
     * moved it meanwhile, and only ever further. */
    if (f == hd && f != from)
        atomic_compare_exchange_strong(&h->done_pos, &d, f);
}

static int fits(mproc_queue *q, uint64_t t, uint64_t total, uint64_t seq)
{
    struct qshm *h = q->h;
    uint64_t f = atomic_load_explicit(&h->free_pos, memory_order_relaxed);
    if (t + total - f > h->cap)
        return 0;
    return !h->max_count || f == t || (uint32_t)seq - q_rec(q, f)->seq < h->max_count;
}

/* 1 if `holder` (the plock holder, or its dead predecessor) has counted a claim in
 * `claimed` and not yet published it by moving tail: its header sits at tail, CLAIMED by
 * it, with the last number handed out (after a wrap filler of its own, maybe). */
static int unpublished_claim(const mproc_queue *q, uint32_t holder, uint64_t c)
{
    struct qshm *h = q->h;
    uint64_t t = atomic_load(&h->tail);
    const struct qrec *r = q_rec(q, t);
    uint64_t s = atomic_load(&r->stamp);
    if (q_stamp_at(s, t) && q_owner(s) == holder && q_state(s) == QS_PAD) {
        t += r->len;
        r = q_rec(q, t);
        s = atomic_load(&r->stamp);
    }
    return c > 0 && q_stamp_at(s, t) && q_owner(s) == holder && q_state(s) == QS_CLAIMED &&
           r->seq == (uint32_t)(c - 1);
}

/* Messages claimed so far, not counting one whose claim is not published yet (a producer
 * inside its critical section, or killed there: then nobody may come to repair the count). */
uint64_t mproc__q_claimed(const mproc_queue *q)
{
    uint64_t c = atomic_load(&q->h->claimed);
    uint32_t holder = atomic_load(&q->h->plock);
    return holder && unpublished_claim(q, holder, c) ? c - 1 : c;
}

/* The previous plock holder died inside its critical section: if it had counted a claim
 * it never published, take the count back. */
static void put_repair(mproc_queue *q, uint32_t dead)
{
    uint64_t c = atomic_load(&q->h->claimed);
    if (unpublished_claim(q, dead, c))
        atomic_store(&q->h->claimed, c - 1);
}

/* Claims room for one record under plock. Returns the record, or NULL with *err set.
 * A small message (up to Q_INLOCK_MAX bytes) is copied and committed here, under the
 * lock, and *committed is set: its payload is written into free space before anything is
 * published (a producer killed mid-copy leaves nothing visible), and its header goes from
 * CLAIMED to COMMITTED a few instructions later, so a consumer spinning on the header
 * rarely sees it claimed and comes back for it. */
static struct qrec *claim(mproc_queue *q, uint32_t me, const void *msg, uint32_t len,
                          struct qdl *dl, struct qblock *blk, uint64_t *pos, int *committed,
                          int *err)
{
    struct qshm *h = q->h;
    uint32_t dead = 0;
    *err = mproc__q_lock(h, &h->plock, me, dl, &dead);
    if (*err < 0)
        return NULL;
    if (dead)
        put_repair(q, dead);
    uint64_t t = atomic_load_explicit(&h->tail, memory_order_relaxed);
    uint64_t need = q_recsize(len), room = h->cap - (t & q->mask);
    /* A record that would run past the end of the ring: a small one goes to the start,
     * after a filler; a large one wraps (its header always fits: positions and the ring
     * size are multiples of Q_HDR), since a filler as large as itself would halve what a
     * ring of a few such messages can hold. */
    int filler = need > room && len < Q_WRAP_MIN;
    uint64_t total = filler ? room + need : need;
    uint64_t seq = atomic_load_explicit(&h->claimed, memory_order_relaxed);
    if (!fits(q, t, total, seq)) {
        reclaim(q, blk);
        if (!fits(q, t, total, seq)) {
            q_unlock(&h->plock);
            *err = Q_AGAIN;
            return NULL;
        }
    }
    if (filler) {
        struct qrec *p = q_rec(q, t);
        p->len = (uint32_t)room;
        p->seq = (uint32_t)seq;
        atomic_store_explicit(&p->stamp, q_stamp(t, me, QS_PAD), memory_order_release);
        Q_FAULT(MPROC_QF_PUT_PAD_LOCKED);
        t += room;
    }
    struct qrec *r = q_rec(q, t);
    *committed = len <= Q_INLOCK_MAX;
    if (*committed)
        payload_in(q, t, msg, len, MPROC_QF_PUT_INLOCK_MIDCOPY);
    r->len = len;
    r->seq = (uint32_t)seq;
    /* Consumers read the stamp at head before looking at tail: make sure the next header
     * slot holds no stale stamp (filler bodies are never written and may keep old headers).
     * Past free_pos + cap it is a live header of the previous lap, whose position differs.
     * Done before the stamp below, so that a consumer spinning on that stamp sees it change
     * as late as possible and the lines it reads are complete by then. */
    uint64_t next = t + need;
    if (next + Q_HDR <= atomic_load_explicit(&h->free_pos, memory_order_relaxed) + h->cap)
        atomic_store_explicit(&q_rec(q, next)->stamp, 0, memory_order_relaxed);
    atomic_store_explicit(&r->stamp, q_stamp(t, me, QS_CLAIMED), memory_order_release);
    atomic_store_explicit(&h->claimed, seq + 1, memory_order_relaxed);
    Q_FAULT(MPROC_QF_PUT_UNPUBLISHED);
    atomic_store_explicit(&h->tail, t + need, memory_order_release);
    Q_FAULT(MPROC_QF_PUT_LOCKED);
    if (*committed) /* seq_cst: a full barrier before notify_items reads items_sleep */
        atomic_store(&r->stamp, q_stamp(t, me, QS_COMMITTED));
    q_unlock(&h->plock);
    *pos = t;
    return r;
}

static int try_put(mproc_queue *q, uint32_t me, const void *msg, uint32_t len, struct qdl *dl,
                   struct qblock *blk)
{
    if (atomic_load_explicit(&q->h->closed, memory_order_relaxed))
        return MPROC_ECLOSED;
    uint64_t pos;
    int err, committed;
    struct qrec *r = claim(q, me, msg, len, dl, blk, &pos, &committed, &err);
    if (!r)
        return err;
    if (!committed) {
        Q_FAULT(MPROC_QF_PUT_CLAIMED);
        payload_in(q, pos, msg, len, MPROC_QF_PUT_MIDCOPY);
        Q_FAULT(MPROC_QF_PUT_BEFORE_COMMIT);
        /* seq_cst CAS: a full barrier between publishing the message and reading
         * items_sleep, pairing with the sleeper's store-then-check (no lost wake-up). A
         * CAS, not a store: if a survivor ever took us for dead and skipped the record,
         * never write over what may be another lap's header now. */
        uint64_t want = q_stamp(pos, me, QS_CLAIMED);
        if (!atomic_compare_exchange_strong(&r->stamp, &want, q_stamp(pos, me, QS_COMMITTED)))
            return MPROC_ECANCELED;
    }
    Q_FAULT(MPROC_QF_PUT_AFTER_COMMIT);
    notify_items(q);
    return 0;
}

/* A consumer holding the record that blocks reclaiming died: its message is lost, its
 * space is free. */
static int free_dead_taken(mproc_queue *q, struct qblock *blk)
{
    if (!blk->stamp || mproc__now_ns() - blk->since_ns < Q_LIVENESS_NS)
        return 0;
    if (!mproc__q_pid_dead(q->h, q_owner(blk->stamp))) {
        blk->since_ns = mproc__now_ns();
        return 0;
    }
    uint64_t s = blk->stamp;
    atomic_compare_exchange_strong(&q_rec(q, blk->pos)->stamp, &s, q_stamp(blk->pos, 0, QS_DONE));
    blk->stamp = 0;
    return 1;
}

/* Is some space reclaimable now? Exact: used before sleeping. */
static int space_ready(mproc_queue *q)
{
    struct qshm *h = q->h;
    if (atomic_load(&h->closed))
        return 1;
    uint64_t f = atomic_load(&h->free_pos);
    if (f >= atomic_load(&h->head))
        return 0;
    uint64_t s = atomic_load(&q_rec(q, f)->stamp);
    return q_stamp_at(s, f) && q_state(s) != QS_TAKEN;
}

/* While spinning, wait for a batch of consumed space (an eighth of the ring, or all that
 * is queued) before taking the lock to reclaim: reclaiming a record per put is slow. The
 * oldest record must be finished too, or reclaiming would free nothing and the producer
 * would spin on the lock while the consumer copies. */
static int space_batch_ready(mproc_queue *q)
{
    struct qshm *h = q->h;
    uint64_t f = atomic_load_explicit(&h->free_pos, memory_order_relaxed);
    uint64_t hd = atomic_load_explicit(&h->head, memory_order_relaxed);
    if (hd - f < h->cap / 8 && !h->max_count &&
        hd != atomic_load_explicit(&h->tail, memory_order_relaxed))
        return atomic_load_explicit(&h->closed, memory_order_relaxed) != 0;
    return space_ready(q);
}

static void spin_adapt(_Atomic int64_t *budget, int64_t slept_ns)
{
    int64_t b = atomic_load_explicit(budget, memory_order_relaxed);
    if (slept_ns < b)
        b = 2 * b > Q_SPIN_MAX_NS ? Q_SPIN_MAX_NS : 2 * b;
    else if (slept_ns > Q_SLICE_NS / 2)
        b = b / 2 < Q_SPIN_MIN_NS ? Q_SPIN_MIN_NS : b / 2;
    atomic_store_explicit(budget, b, memory_order_relaxed);
}

static int wait_space(mproc_queue *q, struct qdl *dl, int spin)
{
    struct qshm *h = q->h;
    /* The first checks read no clock (it costs as much as a put here): between two busy
     * processes a wait mostly ends within them. */
    for (unsigned i = 1; spin && i <= Q_QUICK_CHECKS; i++) {
        if (space_batch_ready(q))
            return 0;
        q_spin_pause(i);
    }
    int64_t start = mproc__now_ns(), end = mproc__q_dl_at(dl, start);
    if (start >= end) /* checked first: a ready-looking state the caller keeps failing on
                         (a queue scribbled on) must not outlive the deadline */
        return MPROC_ETIMEDOUT;
    int64_t spin_end = start + atomic_load_explicit(&q->spin_space, memory_order_relaxed);
    spin_end = spin_end < end ? spin_end : end;
    for (unsigned i = Q_QUICK_CHECKS + 1; spin && i < 1u << 22; i++) {
        if (space_batch_ready(q))
            return 0;
        q_spin_pause(i);
        if ((i & 255) == 0 && mproc__now_ns() > spin_end)
            break;
    }
    uint32_t g = atomic_load(&h->space_gen);
    atomic_store(&h->space_sleep, 1);
    if (space_ready(q))
        return 0;
    int64_t slept = mproc__now_ns();
    int r = mproc__q_futex_wait(&h->space_gen, g, mproc__q_dl(dl));
    spin_adapt(&q->spin_space, mproc__now_ns() - slept);
    return r == 0 && atomic_load(&h->space_gen) == g ? Q_IDLE : r;
}

int mproc_queue_put(mproc_queue *q, const void *msg, size_t len, int timeout_ms)
{
    if (!q || (!msg && len) || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    if (len > q->h->max_msg)
        return MPROC_EMSGSIZE;
    uint32_t me = q_me(q);
    struct qdl dl = {timeout_ms, 0}; /* computed when first needed: clocks cost */
    struct qblock blk = {0, 0, 0};
    int spin = 1;
    for (;;) {
        int r = try_put(q, me, msg, (uint32_t)len, &dl, &blk);
        if (r != Q_AGAIN)
            return r;
        if (free_dead_taken(q, &blk))
            continue;
        if (timeout_ms == 0)
            return MPROC_EFULL;
        int w = wait_space(q, &dl, spin);
        if (w == MPROC_ETIMEDOUT)
            return MPROC_ETIMEDOUT;
        spin = w != Q_IDLE; /* after an idle slice, re-check and sleep without spinning */
    }
}

/* ---- consumers ---------------------------------------------------------------- */

/* Copies out a record taken under clock, then releases its space. */
static int finish_get(mproc_queue *q, uint32_t me, struct qrec *r, uint64_t pos, void *buf,
                      size_t *len)
{
    struct qshm *h = q->h;
    if (h->flags & MPROC_QUEUE_JOINABLE) {
        struct qreg *g = mproc__q_myreg(q);
        if (g)
            atomic_fetch_add(&g->pending, 1);
    }
    Q_FAULT(MPROC_QF_GET_TAKEN);
    uint32_t n = r->len;
    payload_out(q, pos, buf, n, MPROC_QF_GET_MIDCOPY);
    *len = n;
    Q_FAULT(MPROC_QF_GET_BEFORE_DONE);
    uint64_t want = q_stamp(pos, me, QS_TAKEN); /* a full barrier and a check, as in try_put */
    if (!atomic_compare_exchange_strong(&r->stamp, &want, q_stamp(pos, 0, QS_DONE)))
        return MPROC_ECANCELED;
    Q_FAULT(MPROC_QF_GET_AFTER_DONE);
    notify_space(h);
    return 0;
}

/* Under clock: moves head past the record at h (already taken, skipped or padding, or a
 * small message copied out under the lock), and done_pos with it when everything below h
 * is finished and so is this record (anything but a message being copied out). */
static void advance_head(struct qshm *hd, struct qrec *r, uint64_t h, unsigned st)
{
    uint64_t next = h + (st == QS_PAD ? r->len : q_recsize(r->len));
    if (st != QS_PAD)
        atomic_store_explicit(&hd->head_seq, (uint64_t)r->seq + 1, memory_order_relaxed);
    atomic_store_explicit(&hd->head, next, memory_order_release);
    Q_FAULT(MPROC_QF_GET_HEAD_MOVED);
    if (st != QS_TAKEN && atomic_load_explicit(&hd->done_pos, memory_order_relaxed) == h)
        atomic_store_explicit(&hd->done_pos, next, memory_order_release);
}

/* A small committed record at head, under clock: copy it out while holding the lock and
 * move head past it, leaving its header as it is. The record line is then only read by
 * the consumer, never written, so the producer's next write to it costs an invalidation
 * rather than a transfer, and no TAKEN state is needed: a consumer killed before head
 * moves leaves the message at head for the next one; killed after, it took the message
 * (the lock passes on as usual). reclaim() counts a COMMITTED record below head as done. */
static int get_in_lock(mproc_queue *q, struct qrec *r, uint64_t h, void *buf, size_t *len)
{
    struct qshm *hd = q->h;
    uint32_t n = r->len;
    payload_out(q, h, buf, n, MPROC_QF_GET_INLOCK_MIDCOPY);
    *len = n;
    advance_head(hd, r, h, QS_COMMITTED);
    Q_FAULT(MPROC_QF_GET_INLOCK_TAKEN);
    if (hd->flags & MPROC_QUEUE_JOINABLE) {
        struct qreg *g = mproc__q_myreg(q);
        if (g)
            atomic_fetch_add(&g->pending, 1);
    }
    q_unlock(&hd->clock_);
    /* a full barrier between moving head and reading space_sleep, pairing with the
     * sleeping producer's store-then-check (no lost wake-up) */
    atomic_thread_fence(memory_order_seq_cst);
    notify_space(hd);
    return 0;
}

static int try_get(mproc_queue *q, uint32_t me, void *buf, size_t cap, size_t *len, struct qdl *dl,
                   struct qblock *blk)
{
    struct qshm *hd = q->h;
    uint32_t dead = 0;
    int err = mproc__q_lock(hd, &hd->clock_, me, dl, &dead);
    if (err < 0)
        return err;
    for (;;) {
        uint64_t h = atomic_load_explicit(&hd->head, memory_order_relaxed);
        struct qrec *r = q_rec(q, h);
        uint64_t s = atomic_load_explicit(&r->stamp, memory_order_acquire);
        /* A record committed in this lap at head implies tail > head (commits follow the
         * tail's publication), so the common case leaves the producers' line alone. */
        /* A header from another lap, or a cleared slot (state 0, which may look like this
         * lap at position 0), at head: nothing is queued. A producer writes the header of its
         * record, in this lap, before it publishes tail, and clears the slot after it; so
         * tail, on the producers' busy line, is not read. */
        if (!q_stamp_at(s, h) || q_state(s) == 0)
            break;
        /* A claim is waited for whether or not it is published yet: tail, on the producers'
         * busy line, is left alone (skip_dead_claimed reads it before skipping one). */
        if (q_state(s) == QS_CLAIMED) {
            if (blk->stamp != s)
                *blk = (struct qblock){h, s, mproc__now_ns()};
            break;
        }
        /* Anything else but a committed record is a filler, or a record skipped by a
         * consumer that died before moving head; neither stamp changes while at head. A
         * filler may not be published yet, or never will be: its producer died holding
         * plock. Only tail tells; a published one is stepped over. */
        if (q_state(s) != QS_COMMITTED) {
            if (h == atomic_load_explicit(&hd->tail, memory_order_acquire))
                break;
            advance_head(hd, r, h, q_state(s));
            continue;
        }
        if (r->len > cap) {
            q_unlock(&hd->clock_);
            *len = r->len;
            return MPROC_EMSGSIZE;
        }
        if (r->len <= Q_INLOCK_MAX)
            return get_in_lock(q, r, h, buf, len);
        atomic_store_explicit(&r->stamp, q_stamp(h, me, QS_TAKEN), memory_order_relaxed);
        Q_FAULT(MPROC_QF_GET_LOCKED);
        advance_head(hd, r, h, QS_TAKEN);
        q_unlock(&hd->clock_);
        return finish_get(q, me, r, h, buf, len);
    }
    q_unlock(&hd->clock_);
    return atomic_load(&hd->closed) && atomic_load(&hd->head) == atomic_load(&hd->tail)
               ? MPROC_ECLOSED
               : Q_AGAIN;
}

/* The record at head has been CLAIMED for a while: if its producer is dead, skip it. The
 * half-written message is never delivered; its space is reclaimed like any other. */
static int skip_dead_claimed(mproc_queue *q, uint32_t me, struct qblock *blk, struct qdl *dl)
{
    if (!blk->stamp || mproc__now_ns() - blk->since_ns < Q_LIVENESS_NS)
        return 0;
    if (!mproc__q_pid_dead(q->h, q_owner(blk->stamp))) {
        blk->since_ns = mproc__now_ns();
        return 0;
    }
    struct qshm *hd = q->h;
    uint32_t dead = 0;
    if (mproc__q_lock(hd, &hd->clock_, me, dl, &dead) < 0)
        return 0;
    struct qrec *r = q_rec(q, blk->pos);
    uint64_t s = blk->stamp;
    /* Only a published claim (tail past it) is skipped: no producer writes there again
     * before the space is reclaimed. An unpublished one (its producer died holding plock)
     * is the next producer's to repair and write over. */
    if (atomic_load(&hd->tail) > blk->pos && atomic_load(&hd->head) == blk->pos &&
        atomic_load(&r->stamp) == s) {
        atomic_store(&r->stamp, q_stamp(blk->pos, 0, QS_ABANDONED));
        Q_FAULT(MPROC_QF_SKIP_LOCKED);
        atomic_fetch_add(&hd->abandoned, 1);
        advance_head(hd, r, blk->pos, QS_ABANDONED);
    }
    q_unlock(&hd->clock_);
    blk->stamp = 0;
    atomic_thread_fence(memory_order_seq_cst);
    notify_space(hd);
    if (atomic_load(&hd->join_waiters)) {
        atomic_fetch_add(&hd->join_gen, 1);
        mproc__futex_wake(&hd->join_gen, INT_MAX);
    }
    return 1;
}

/* 1 if a get may succeed now. *busy_len: the size of a message a producer is writing at
 * the head (worth spinning for a while longer: the copy is under way), else 0. */
static int items_ready(mproc_queue *q, uint32_t *busy_len)
{
    struct qshm *hd = q->h;
    uint64_t h = atomic_load(&hd->head);
    struct qrec *r = q_rec(q, h);
    uint64_t s = atomic_load(&r->stamp);
    *busy_len = 0;
    if (q_stamp_at(s, h) && q_state(s) == QS_COMMITTED)
        return 1;
    if (h == atomic_load(&hd->tail))
        return atomic_load(&hd->closed) != 0;
    s = atomic_load(&r->stamp);
    if (q_stamp_at(s, h) && q_state(s) == QS_CLAIMED) {
        *busy_len = r->len;
        return 0;
    }
    return 1;
}

/* items_ready for the spin loop: looks only at the header at head, never at tail, whose
 * cache line the producers write on every put (a spinning consumer reading it would pull
 * the line away from the next producer in the middle of its claim). Exact enough to spin
 * on: a producer writes a record's header, in this lap, before it publishes tail, and
 * clears the header slot after each record it claims, so a header from another lap at head
 * means nothing is queued (or a claim is under way). The sleep path re-checks exactly. */
static int items_maybe(mproc_queue *q, uint32_t *busy_len)
{
    struct qshm *hd = q->h;
    uint64_t h = atomic_load_explicit(&hd->head, memory_order_acquire);
    struct qrec *r = q_rec(q, h);
    uint64_t s = atomic_load_explicit(&r->stamp, memory_order_acquire);
    *busy_len = 0;
    if (!q_stamp_at(s, h) || q_state(s) == 0) /* a cleared slot reads as state 0 */
        return atomic_load_explicit(&hd->closed, memory_order_relaxed) != 0;
    if (q_state(s) == QS_CLAIMED) {
        *busy_len = r->len;
        return 0;
    }
    /* a filler or a skipped record may not be published yet: look at tail */
    return q_state(s) == QS_COMMITTED || items_ready(q, busy_len);
}

/* Before a consumer sleeps (or gives up with timeout 0) on an empty queue: re-arm the poll
 * descriptor. Drained after arming, so a producer's signal is either seen by our re-check
 * or lands after the drain and keeps the descriptor readable. */
static void arm_fd(mproc_queue *q)
{
    if (!atomic_load_explicit(&q->h->polled, memory_order_relaxed))
        return;
    atomic_store(&q->h->armed, 1);
    mproc__q_sig_drain(q);
    atomic_thread_fence(memory_order_seq_cst);
}

/* A consumer that has taken two messages or more since it last found the queue empty is
 * behind a stream: it lets the producers get ahead before it looks again, so that it reads
 * lines they have finished with rather than the one being written (each look pulls that
 * line away from the producer in the middle of its put, and both then wait on each other's
 * caches). The lag doubles while batches stay short and halves once they are long; a wait
 * that ended with a single message resets it. A consumer taking one message per wait
 * (ping-pong, request-reply) does not lag, so its latency is untouched; a streaming one may
 * see a message up to Q_LAG_MAX pauses late. Measured on the 64 B stream (docs/queue.md):
 * 16 to 128 pauses all gave about the same; the smaller bound keeps the delay short. */
#define Q_LAG_MAX   32 /* pauses: ~0.8 us where a pause takes 26 ns (AMD Zen 4 in a VM) */
#define Q_LAG_MIN   16
#define Q_LAG_SHORT 64 /* batches shorter than this lengthen the lag */

static void stream_lag(mproc_queue *q)
{
    uint32_t got = atomic_load_explicit(&q->got, memory_order_relaxed);
    if (got == 0)
        return;
    atomic_store_explicit(&q->got, 0, memory_order_relaxed);
    if (got < 2) {
        atomic_store_explicit(&q->lag, 0, memory_order_relaxed);
        return;
    }
    uint32_t lag = atomic_load_explicit(&q->lag, memory_order_relaxed);
    if (lag < Q_LAG_MIN)
        lag = Q_LAG_MIN;
    else if (got < Q_LAG_SHORT)
        lag = 2 * lag < Q_LAG_MAX ? 2 * lag : Q_LAG_MAX;
    else if (got > 8 * Q_LAG_SHORT)
        lag = lag / 2 > Q_LAG_MIN ? lag / 2 : Q_LAG_MIN;
    atomic_store_explicit(&q->lag, lag, memory_order_relaxed);
    mproc__q_pause(lag);
}

static int wait_items(mproc_queue *q, struct qdl *dl, int spin)
{
    struct qshm *hd = q->h;
    uint32_t busy;
    if (spin)
        stream_lag(q);
    for (unsigned i = 1; spin && i <= Q_QUICK_CHECKS; i++) { /* no clock yet: see wait_space */
        if (items_maybe(q, &busy))
            return 0;
        q_spin_pause(i);
    }
    int64_t budget = atomic_load_explicit(&q->spin_items, memory_order_relaxed);
    int64_t start = mproc__now_ns(), end = mproc__q_dl_at(dl, start);
    if (start >= end) /* checked first: a ready-looking state the caller keeps failing on
                         (a queue scribbled on) must not outlive the deadline */
        return MPROC_ETIMEDOUT;
    int64_t spin_end = start + budget < end ? start + budget : end;
    for (unsigned i = Q_QUICK_CHECKS + 1; spin && i < 1u << 24; i++) {
        if (items_maybe(q, &busy))
            return 0;
        q_spin_pause(i);
        if ((i & 255) == 0) {
            int64_t now = mproc__now_ns();
            if (busy && start + budget + busy / 2 > spin_end && start + budget + busy / 2 < end)
                spin_end = start + budget + busy / 2; /* a copy at >= 2 GB/s */
            if (now > spin_end)
                break;
        }
    }
    uint32_t g = atomic_load(&hd->items_gen);
    atomic_store(&hd->items_sleep, 1);
    arm_fd(q);
    if (items_ready(q, &busy))
        return 0;
    int64_t slept = mproc__now_ns();
    int r = mproc__q_futex_wait(&hd->items_gen, g, mproc__q_dl(dl));
    spin_adapt(&q->spin_items, mproc__now_ns() - slept);
    return r == 0 && atomic_load(&hd->items_gen) == g ? Q_IDLE : r;
}

int mproc_queue_get(mproc_queue *q, void *buf, size_t cap, size_t *len, int timeout_ms)
{
    if (!q || !len || (!buf && cap) || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    uint32_t me = q_me(q);
    struct qdl dl = {timeout_ms, 0}; /* computed when first needed: clocks cost */
    struct qblock blk = {0, 0, 0};
    int spin = 1;
    for (int tries = 0;; tries++) {
        int r = try_get(q, me, buf, cap, len, &dl, &blk);
        if (r == 0) /* counted for stream_lag; racy between threads, which only blurs it */
            atomic_store_explicit(&q->got, atomic_load_explicit(&q->got, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
        if (r != Q_AGAIN)
            return r;
        if (skip_dead_claimed(q, me, &blk, &dl))
            continue;
        if (timeout_ms == 0) {
            if (tries > 0 || !atomic_load(&q->h->polled))
                return MPROC_EEMPTY;
            arm_fd(q);
            continue;
        }
        int w = wait_items(q, &dl, spin);
        if (w == MPROC_ETIMEDOUT)
            return MPROC_ETIMEDOUT;
        spin = w != Q_IDLE; /* after an idle slice, re-check and sleep without spinning */
    }
}

/* ---- state ---------------------------------------------------------------------- */

int mproc_queue_close(mproc_queue *q)
{
    if (!q)
        return MPROC_EINVAL;
    struct qshm *h = q->h;
    atomic_store(&h->closed, 1);
    _Atomic uint32_t *gens[] = {&h->items_gen, &h->space_gen, &h->join_gen};
    for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++) {
        atomic_fetch_add(gens[i], 1);
        mproc__futex_wake(gens[i], INT_MAX);
    }
    mproc__q_sig_raise(q);
    return 0;
}

long mproc_queue_size(const mproc_queue *q)
{
    if (!q)
        return MPROC_EINVAL;
    uint64_t c = mproc__q_claimed(q), t = atomic_load(&q->h->head_seq);
    return c > t ? (long)(c - t) : 0;
}

int mproc_queue_empty(const mproc_queue *q)
{
    if (!q)
        return MPROC_EINVAL;
    return mproc_queue_size(q) == 0;
}

int mproc_queue_full(const mproc_queue *q)
{
    if (!q)
        return MPROC_EINVAL;
    struct qshm *h = q->h;
    uint64_t used = atomic_load(&h->tail) - atomic_load(&h->head);
    if (used + Q_HDR > h->cap)
        return 1;
    return h->max_count && (uint64_t)mproc_queue_size(q) >= h->max_count;
}

size_t mproc_queue_max_msg_size(const mproc_queue *q)
{
    return q ? (size_t)q->h->max_msg : 0;
}

int mproc_queue_fd(const mproc_queue *q)
{
    if (!q)
        return MPROC_EINVAL;
    struct qshm *h = q->h;
    if (!atomic_load(&h->polled)) {
        atomic_store(&h->armed, 1);
        atomic_store(&h->polled, 1);
        if (mproc_queue_size(q) > 0 || atomic_load(&h->closed))
            mproc__q_sig_raise(q);
    }
    return q->sigfd;
}
