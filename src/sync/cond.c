/* cond.c: condition variables and barriers shared by processes.
 *
 * A condition is a futex sequence word bumped by every notify. notify requires the lock
 * (as Python does), and a waiter reads the sequence before it releases the lock, so a
 * notify can only wake waiters that were already waiting when it was called: a wake-up
 * is never lost. Waking n sleepers may wake one more that was between releasing the
 * lock and sleeping; that is a spurious wake-up, which callers must tolerate anyway
 * (mproc_cond_wait_for does).
 *
 * A barrier keeps its count and generation under a small robust lock inside it and
 * sleeps on the generation word. Each generation's outcome (released or broken) is kept
 * in a 64-bit history so a slow waiter still learns how its own generation ended.
 */
#include "sync/sync_int.h"

#include <limits.h>
#include <unistd.h>

#include "sys/sys.h"

#define COND_MAGIC    0x434e4431u /* "CND1" */
#define BARRIER_MAGIC 0x42415231u /* "BAR1" */

struct mproc_cond {
    _Atomic uint32_t seq;
    uint32_t magic;
    uint32_t flags;
    int32_t creator;
    _Atomic uint32_t sleepers;
    uint32_t pad;
    uint64_t hdr_off;
    uint64_t lock_off; /* the lock's distance from the same region header */
    uint64_t reserved[3];
};
_Static_assert(sizeof(struct mproc_cond) == MPROC_COND_SIZE, "cond size");
_Static_assert(offsetof(struct mproc_cond, creator) == offsetof(struct mproc__obj_head, creator),
               "cond head");

struct mproc_barrier {
    _Atomic uint32_t gen; /* bumped when a generation ends, released or broken */
    uint32_t magic;
    uint32_t flags;
    int32_t creator;
    int32_t parties;
    _Atomic int32_t count;  /* arrived in the current generation */
    _Atomic int32_t broken; /* sticky until reset */
    uint32_t pad;
    uint64_t hdr_off;
    _Atomic uint64_t broken_gens; /* bit g % 64: generation g ended broken */
    uint64_t reserved[2];
    struct mproc_lock guard;
};
_Static_assert(sizeof(struct mproc_barrier) == MPROC_BARRIER_SIZE, "barrier size");
_Static_assert(offsetof(struct mproc_barrier, creator) == offsetof(struct mproc__obj_head, creator),
               "barrier head");

/* ---- condition ---- */

static int cond_ok(const struct mproc_cond *c)
{
    return mproc__obj_ok(c, COND_MAGIC);
}

/* mproc_cond_new (arena) and mproc_cond_init; lock_off: the lock's distance from the
 * region header, already checked. */
static int cond_make(mproc_cond **out, int arena, void *region, size_t offset, uint64_t lock_off)
{
    void *obj;
    uint64_t off;
    unsigned flags = 0;
    int rc = mproc__obj_make(arena, region, offset, sizeof(struct mproc_cond), &obj, &off, &flags);
    if (rc < 0)
        return rc;
    struct mproc_cond *c = obj;
    atomic_store(&c->seq, 0);
    atomic_store(&c->sleepers, 0);
    c->hdr_off = off;
    c->lock_off = lock_off;
    mproc__obj_publish(c, COND_MAGIC, flags);
    *out = c;
    return 0;
}

mproc_lock *mproc_cond_lock(mproc_cond *c)
{
    if (!cond_ok(c))
        return NULL;
    return (mproc_lock *)((char *)mproc__obj_hdr(c, c->hdr_off) + c->lock_off);
}

int mproc_cond_new(mproc_cond **out, mproc_lock *lock)
{
    if (!out || !mproc__obj_ok(lock, MPROC__LOCK_MAGIC))
        return MPROC_EINVAL;
    *out = NULL;
    if (!(lock->flags & MPROC__F_ARENA))
        return MPROC_EINVAL; /* a region's lock: use mproc_cond_init in that region */
    return cond_make(out, 1, NULL, 0, lock->hdr_off);
}

int mproc_cond_init(mproc_cond **out, void *region, size_t offset, size_t lock_offset)
{
    if (!out)
        return MPROC_EINVAL;
    *out = NULL;
    void *lk;
    uint64_t lock_off;
    int rc = mproc__region_place(region, lock_offset, sizeof(struct mproc_lock), &lk, &lock_off);
    if (rc < 0 || !mproc__obj_ok(lk, MPROC__LOCK_MAGIC) || offset == lock_offset)
        return MPROC_EINVAL;
    return cond_make(out, 0, region, offset, lock_off);
}

int mproc_cond_attach(mproc_cond **out, void *region, size_t offset)
{
    return mproc__obj_attach((void **)out, region, offset, sizeof(struct mproc_cond), COND_MAGIC);
}

void mproc_cond_free(mproc_cond *c)
{
    mproc__obj_free(c, sizeof *c, COND_MAGIC);
}

int mproc_cond_wait(mproc_cond *c, int timeout_ms)
{
    if (!cond_ok(c) || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    struct mproc_lock *l = mproc_cond_lock(c);
    if (!mproc_lock_held(l))
        return MPROC_EPERM;
    int64_t deadline = mproc__deadline_ns(timeout_ms);
    uint32_t seq = atomic_load(&c->seq); /* read under the lock: see the file comment */
    uint32_t depth = l->depth;
    atomic_fetch_add(&c->sleepers, 1);
    l->depth = 1;
    mproc__lock_release(l);
    int rc = timeout_ms == 0 ? MPROC_ETIMEDOUT : mproc__futex_wait(&c->seq, seq, deadline);
    atomic_fetch_sub(&c->sleepers, 1);
    int lrc = mproc_lock_acquire(l, -1);
    if (lrc < 0 && lrc != MPROC_EOWNERDEAD)
        return lrc;
    l->depth = depth;
    if (lrc == MPROC_EOWNERDEAD)
        return lrc;
    return rc == MPROC_ETIMEDOUT ? MPROC_ETIMEDOUT : 0;
}

int mproc_cond_wait_for(mproc_cond *c, int (*pred)(void *arg), void *arg, int timeout_ms)
{
    if (!cond_ok(c) || !pred || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    if (!mproc_lock_held(mproc_cond_lock(c)))
        return MPROC_EPERM;
    int64_t deadline = mproc__deadline(timeout_ms);
    while (!pred(arg)) {
        int left = mproc__ms_left(deadline);
        if (left == 0)
            return MPROC_ETIMEDOUT;
        int rc = mproc_cond_wait(c, left);
        if (rc < 0 && rc != MPROC_ETIMEDOUT)
            return rc;
    }
    return 0;
}

static int notify(mproc_cond *c, int n)
{
    if (!cond_ok(c) || n < 0)
        return MPROC_EINVAL;
    if (!mproc_lock_held(mproc_cond_lock(c)))
        return MPROC_EPERM;
    if (n > 0 && atomic_load(&c->sleepers) > 0) {
        atomic_fetch_add(&c->seq, 1);
        mproc__futex_wake(&c->seq, n);
    }
    return 0;
}

int mproc_cond_notify(mproc_cond *c, int n)
{
    return notify(c, n);
}

int mproc_cond_notify_all(mproc_cond *c)
{
    return notify(c, INT_MAX);
}

/* ---- barrier ---- */

static int barrier_ok(const struct mproc_barrier *b)
{
    return mproc__obj_ok(b, BARRIER_MAGIC);
}

/* mproc_barrier_new (arena) and mproc_barrier_init. */
static int barrier_make(mproc_barrier **out, int arena, void *region, size_t offset, int parties)
{
    if (!out || parties < 1)
        return MPROC_EINVAL;
    *out = NULL;
    void *obj;
    uint64_t off;
    unsigned flags = 0;
    int rc =
        mproc__obj_make(arena, region, offset, sizeof(struct mproc_barrier), &obj, &off, &flags);
    if (rc < 0)
        return rc;
    struct mproc_barrier *b = obj;
    atomic_store(&b->gen, 0);
    atomic_store(&b->count, 0);
    atomic_store(&b->broken, 0);
    atomic_store(&b->broken_gens, 0);
    b->parties = parties;
    b->hdr_off = off;
    mproc__obj_publish(b, BARRIER_MAGIC, flags);
    *out = b;
    return 0;
}

int mproc_barrier_new(mproc_barrier **out, int parties)
{
    return barrier_make(out, 1, NULL, 0, parties);
}

int mproc_barrier_init(mproc_barrier **out, void *region, size_t offset, int parties)
{
    return barrier_make(out, 0, region, offset, parties);
}

int mproc_barrier_attach(mproc_barrier **out, void *region, size_t offset)
{
    return mproc__obj_attach((void **)out, region, offset, sizeof(struct mproc_barrier),
                             BARRIER_MAGIC);
}

void mproc_barrier_free(mproc_barrier *b)
{
    mproc__obj_free(b, sizeof *b, BARRIER_MAGIC);
}

/* The guard protects a few words only; a holder that died left them whole or not yet
 * written, so its state needs no repair. */
static void guard_take(struct mproc_barrier *b)
{
    if (mproc__lock_acquire(&b->guard, INT64_MAX, 0, 0) == MPROC_EOWNERDEAD)
        atomic_store(&b->guard.died, 0);
}

/* Ends generation g; broken: it ended broken. Called with the guard held. */
static void end_generation(struct mproc_barrier *b, uint32_t g, int broken)
{
    uint64_t bit = 1ull << ((g + 1) % 64);
    atomic_fetch_and(&b->broken_gens, ~bit); /* the next generation starts clean */
    if (broken)
        atomic_fetch_or(&b->broken_gens, 1ull << (g % 64));
    atomic_store(&b->count, 0);
    atomic_store(&b->gen, g + 1);
    mproc__futex_wake(&b->gen, INT_MAX);
}

static int outcome(struct mproc_barrier *b, uint32_t g, int idx)
{
    return (atomic_load(&b->broken_gens) >> (g % 64)) & 1 ? MPROC_EBROKEN : idx;
}

int mproc_barrier_wait(mproc_barrier *b, int timeout_ms)
{
    if (!barrier_ok(b) || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    int64_t deadline = mproc__deadline_ns(timeout_ms);
    guard_take(b);
    if (atomic_load(&b->broken)) {
        mproc__lock_release(&b->guard);
        return MPROC_EBROKEN;
    }
    uint32_t g = atomic_load(&b->gen);
    int idx = atomic_fetch_add(&b->count, 1);
    if (idx + 1 == b->parties) {
        end_generation(b, g, 0);
        mproc__lock_release(&b->guard);
        return idx;
    }
    mproc__lock_release(&b->guard);
    for (;;) {
        int rc = mproc__futex_wait(&b->gen, g, deadline);
        if (atomic_load(&b->gen) != g)
            return outcome(b, g, idx);
        if (rc != MPROC_ETIMEDOUT && mproc__now_ns() < deadline)
            continue;
        guard_take(b);
        int ours = atomic_load(&b->gen) == g; /* else it ended as we timed out */
        if (ours) {
            atomic_store(&b->broken, 1);
            end_generation(b, g, 1);
        }
        mproc__lock_release(&b->guard);
        return ours ? MPROC_ETIMEDOUT : outcome(b, g, idx);
    }
}

int mproc_barrier_abort(mproc_barrier *b)
{
    if (!barrier_ok(b))
        return MPROC_EINVAL;
    guard_take(b);
    atomic_store(&b->broken, 1);
    if (atomic_load(&b->count) > 0)
        end_generation(b, atomic_load(&b->gen), 1);
    mproc__lock_release(&b->guard);
    return 0;
}

int mproc_barrier_reset(mproc_barrier *b)
{
    if (!barrier_ok(b))
        return MPROC_EINVAL;
    guard_take(b);
    if (atomic_load(&b->count) > 0)
        end_generation(b, atomic_load(&b->gen), 1);
    atomic_store(&b->broken, 0);
    mproc__lock_release(&b->guard);
    return 0;
}

int mproc_barrier_parties(const mproc_barrier *b)
{
    return barrier_ok(b) ? b->parties : MPROC_EINVAL;
}

int mproc_barrier_n_waiting(const mproc_barrier *b)
{
    if (!barrier_ok(b))
        return MPROC_EINVAL;
    struct mproc_barrier *m = (struct mproc_barrier *)(uintptr_t)b;
    return atomic_load(&m->broken) ? 0 : atomic_load(&m->count);
}

int mproc_barrier_broken(const mproc_barrier *b)
{
    if (!barrier_ok(b))
        return MPROC_EINVAL;
    return atomic_load(&((struct mproc_barrier *)(uintptr_t)b)->broken);
}
