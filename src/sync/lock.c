/* lock.c: the robust, deadlock-detecting lock shared by processes.
 *
 * The lock is one futex word in shared memory holding the holder's TID (0 when free) and
 * a "waiters" bit. Acquire is one compare-and-swap when free; a contended acquire spins
 * briefly, then sleeps on the futex (shared, not PRIVATE) in slices of SLICE_MS. After a
 * slice ends without a wake-up, the waiter checks that the holder still lives: the holder
 * records its TID and start time (owner_id), so a reused TID is not mistaken for the
 * holder. A waiter that finds the holder dead swaps its own TID into the word with a CAS
 * (so exactly one takes over) and returns MPROC_EOWNERDEAD with the lock held.
 *
 * Why not the kernel's robust list: glibc owns the per-thread robust list head for its own
 * mutexes, so a second list cannot be registered, and a lock that must survive SIGKILL at
 * any instruction cannot depend on user-space bookkeeping that the kill interrupts.
 *
 * Before its first sleep a waiter registers in the region's deadlock domain, which checks
 * for a cycle of waits (deadlock.c). This file must not allocate or take any other lock
 * on the uncontended path.
 */
#include "sync/sync_int.h"

#include <limits.h>
#include <unistd.h>

#include "sys/sys.h"

#define SLICE_MS 100
/* A contended acquire looks at the word up to SPIN_TRIES times before it sleeps, pausing
 * 1, 2, 4 ... up to SPIN_MAXPAUSE pause instructions between looks. The growing gap keeps a
 * spinner from pulling the lock's cache line away from a holder that is about to release
 * and re-take it (a constant short gap made two processes counting under the lock 1.4x
 * slower than a robust pthread mutex; with the backoff it is about 0.5x). */
#define SPIN_TRIES    16
#define SPIN_MAXPAUSE 64

static int lock_ok(const struct mproc_lock *l)
{
    return mproc__obj_ok(l, MPROC__LOCK_MAGIC);
}

static void set_owner(struct mproc_lock *l, uint64_t id)
{
    atomic_store_explicit(&l->owner_id, id, memory_order_relaxed);
    l->depth = 1;
}

/* 1 if the holder named in word v is dead, so its lock may be taken over. */
static int holder_dead(struct mproc_lock *l, uint32_t v)
{
    uint32_t tid = v & LOCK_TID;
    uint64_t id = atomic_load(&l->owner_id);
    /* owner_id is written just after the CAS that took the lock: if it names someone
     * else, the holder died (or is) between the two, and only its existence can tell. */
    uint64_t start = (uint32_t)(id >> 40) == tid ? id & ((1ull << 40) - 1) : 0;
    return !mproc__tid_alive(tid, start);
}

/* Tries to take over from a dead holder seen in word v. 1 on success. */
static int take_over(struct mproc_lock *l, uint32_t v, uint32_t me)
{
    if (!holder_dead(l, v))
        return 0;
    uint32_t want = me | (v & LOCK_WAITERS);
    if (!atomic_compare_exchange_strong(&l->word, &v, want))
        return 0;
    atomic_store(&l->died, 1);
    set_owner(l, mproc__self_id());
    return 1;
}

/* The holder's own re-acquire: recursion or self-deadlock. */
static int reacquire(struct mproc_lock *l)
{
    if (!(l->flags & MPROC_RECURSIVE))
        return MPROC_EDEADLK;
    if (l->depth == UINT32_MAX)
        return MPROC_EAGAIN;
    l->depth++;
    return 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Brief spin, with backoff, for a lock held for a short time by a running process: a futex
 * sleep and wake-up costs tens of microseconds, a critical section usually far less. 1 if
 * taken.
 * Taking the word from 0 drops no sleeper: the release that made it 0 woke one. */
static int spin(struct mproc_lock *l, uint32_t me)
{
    unsigned pause = 1;
    for (int i = 0; i < SPIN_TRIES; i++) {
        uint32_t v = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (v == LOCK_NOTREC)
            return 0;
        if (v == 0 && atomic_compare_exchange_weak(&l->word, &v, me))
            return 1;
        for (unsigned k = 0; k < pause; k++)
            cpu_relax();
        if (pause < SPIN_MAXPAUSE)
            pause *= 2;
    }
    return 0;
}

struct waiter {
    struct mproc_lock *l;
    uint32_t me;
    int64_t deadline;
    int registered; /* 1 while recorded in the deadlock domain */
    int detect;
};

/* One step of the slow path with the word seen as v: returns 1 to retry, 0 when acquired
 * normally, or a negative result to return (MPROC_EOWNERDEAD means acquired). */
static int wait_step(struct waiter *w, uint32_t v)
{
    struct mproc_lock *l = w->l;
    if (v == LOCK_NOTREC)
        return MPROC_ENOTRECOVERABLE;
    if (v == 0) /* take it, keeping the waiters bit: others may still sleep */
        return atomic_compare_exchange_strong(&l->word, &v, w->me | LOCK_WAITERS) ? 0 : 1;
    if (!(v & LOCK_WAITERS) && !atomic_compare_exchange_strong(&l->word, &v, v | LOCK_WAITERS))
        return 1;
    if (w->detect && !w->registered) {
        int rc = mproc__dl_register(l, w->me);
        if (rc < 0)
            return rc;
        w->registered = 1; /* also when the domain was full: do not try again */
        return 1;          /* the word may have changed while we looked */
    }
    int64_t now = mproc__now_ns();
    if (now >= w->deadline)
        return take_over(l, v | LOCK_WAITERS, w->me) ? MPROC_EOWNERDEAD : MPROC_ETIMEDOUT;
    int64_t slice = now + (int64_t)SLICE_MS * 1000000;
    int rc =
        mproc__futex_wait(&l->word, v | LOCK_WAITERS, slice < w->deadline ? slice : w->deadline);
    if (rc == MPROC_ETIMEDOUT && take_over(l, v | LOCK_WAITERS, w->me))
        return MPROC_EOWNERDEAD;
    return 1;
}

static int acquire_slow(struct mproc_lock *l, uint32_t me, int64_t deadline, int try_once,
                        int detect)
{
    uint32_t v = atomic_load(&l->word);
    if (v != LOCK_NOTREC && (v & LOCK_TID) == me)
        return reacquire(l);
    if (v != LOCK_NOTREC && !try_once && spin(l, me)) {
        set_owner(l, mproc__self_id());
        return 0;
    }
    if (try_once) {
        if (v == 0 && atomic_compare_exchange_strong(&l->word, &v, me)) {
            set_owner(l, mproc__self_id());
            return 0;
        }
        if (v == LOCK_NOTREC)
            return MPROC_ENOTRECOVERABLE;
        return v != 0 && take_over(l, v, me) ? MPROC_EOWNERDEAD : MPROC_ETIMEDOUT;
    }
    struct waiter w = {l, me, deadline, 0, detect && !(l->flags & MPROC_NO_DEADLOCK)};
    int rc;
    while ((rc = wait_step(&w, atomic_load(&l->word))) == 1)
        ;
    if (w.registered)
        mproc__dl_unregister(l, me);
    if (rc == 0)
        set_owner(l, mproc__self_id());
    return rc;
}

int mproc__lock_acquire(struct mproc_lock *l, int64_t deadline_ns, int try_once, int detect)
{
    uint64_t id = mproc__self_id();
    uint32_t me = (uint32_t)(id >> 40);
    uint32_t zero = 0;
    if (__builtin_expect(atomic_compare_exchange_strong(&l->word, &zero, me), 1)) {
        set_owner(l, id);
        return 0;
    }
    return acquire_slow(l, me, deadline_ns, try_once, detect);
}

int mproc__lock_release(struct mproc_lock *l)
{
    uint32_t me = mproc__self_tid();
    uint32_t v = atomic_load_explicit(&l->word, memory_order_relaxed);
    if (v == LOCK_NOTREC || (v & LOCK_TID) != me)
        return MPROC_EPERM;
    if (l->depth > 1) {
        l->depth--;
        return 0;
    }
    l->depth = 0;
    if (__builtin_expect(atomic_load_explicit(&l->died, memory_order_relaxed), 0)) {
        /* released without being made consistent: nobody may trust the state again */
        atomic_store(&l->word, LOCK_NOTREC);
        mproc__futex_wake(&l->word, INT_MAX);
        return 0;
    }
    v = atomic_exchange_explicit(&l->word, 0, memory_order_release);
    if (v & LOCK_WAITERS)
        mproc__futex_wake(&l->word, 1);
    return 0;
}

/* ---- public API ---- */

/* mproc_lock_new (arena) and mproc_lock_init. */
static int lock_make(mproc_lock **out, int arena, void *region, size_t offset, unsigned flags)
{
    if (!out || (flags & ~MPROC_LOCK_FLAGS_ALL))
        return MPROC_EINVAL;
    *out = NULL;
    void *obj;
    uint64_t off;
    int rc = mproc__obj_make(arena, region, offset, sizeof(struct mproc_lock), &obj, &off, &flags);
    if (rc < 0)
        return rc;
    struct mproc_lock *l = obj;
    l->hdr_off = off;
    atomic_store(&l->word, 0);
    atomic_store(&l->died, 0);
    mproc__obj_publish(l, MPROC__LOCK_MAGIC, flags);
    *out = l;
    return 0;
}

int mproc_lock_new(mproc_lock **out, unsigned flags)
{
    return lock_make(out, 1, NULL, 0, flags);
}

int mproc_lock_init(mproc_lock **out, void *region, size_t offset, unsigned flags)
{
    return lock_make(out, 0, region, offset, flags);
}

int mproc_lock_attach(mproc_lock **out, void *region, size_t offset)
{
    return mproc__obj_attach((void **)out, region, offset, sizeof(struct mproc_lock),
                             MPROC__LOCK_MAGIC);
}

void mproc_lock_free(mproc_lock *l)
{
    mproc__obj_free(l, sizeof *l, MPROC__LOCK_MAGIC);
}

int mproc_lock_acquire(mproc_lock *l, int timeout_ms)
{
    if (!lock_ok(l) || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    uint64_t id = mproc__self_id();
    uint32_t me = (uint32_t)(id >> 40);
    uint32_t zero = 0;
    if (__builtin_expect(atomic_compare_exchange_strong(&l->word, &zero, me), 1)) {
        set_owner(l, id);
        return 0;
    }
    int64_t deadline = timeout_ms == 0 ? 0 : mproc__deadline_ns(timeout_ms);
    return acquire_slow(l, me, deadline, timeout_ms == 0, 1);
}

int mproc_lock_release(mproc_lock *l)
{
    if (!lock_ok(l))
        return MPROC_EINVAL;
    return mproc__lock_release(l);
}

int mproc_lock_consistent(mproc_lock *l)
{
    if (!lock_ok(l))
        return MPROC_EINVAL;
    if (!mproc_lock_held(l))
        return MPROC_EPERM;
    if (!atomic_load(&l->died))
        return MPROC_EINVAL;
    atomic_store(&l->died, 0);
    return 0;
}

int mproc_lock_held(const mproc_lock *l)
{
    if (!lock_ok(l))
        return 0;
    uint32_t v = atomic_load((_Atomic uint32_t *)(uintptr_t)&l->word);
    return v != LOCK_NOTREC && (v & LOCK_TID) == mproc__self_tid();
}
