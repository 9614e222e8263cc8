/* mproc/sync.h: locks, semaphores, events, conditions and barriers shared by processes.
 *
 * Every object lives in shared memory, so processes (and threads) that see that memory can
 * use it. Two ways to get one:
 *  - mproc_X_new(): the object is placed in a shared arena of this process; children forked
 *    afterwards inherit it and use the same handle. The arena is made on first use and
 *    holds 4096 small objects; mproc_X_free() gives the slot back.
 *  - mproc_X_init(&x, region, offset, ...): the object is placed at region + offset in a
 *    region from mproc/shm.h (offset a multiple of 64, MPROC_X_SIZE bytes), so unrelated
 *    processes that map the same named or memfd region reach it with mproc_X_attach().
 *    mproc_X_free() on such a handle does nothing (the memory is the region's).
 *
 * Timeouts: -1 waits forever, 0 tries once, > 0 is a CLOCK_MONOTONIC deadline in ms;
 * EINTR never extends a wait (and never ends one early).
 *
 * Locks are robust: if the holder dies (even by SIGKILL), the next acquirer gets
 * MPROC_EOWNERDEAD and owns the lock; mproc_lock_consistent() declares the protected state
 * repaired; releasing without it makes the lock MPROC_ENOTRECOVERABLE for everyone.
 * Locks detect deadlock: an acquisition that would close a cycle of processes waiting on
 * each other's locks (all made in the same arena or region) fails with MPROC_EDEADLK at once.
 * See docs/sync.md for the design and its limits.
 */
#ifndef MPROC_SYNC_H
#define MPROC_SYNC_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_lock mproc_lock;
typedef struct mproc_sem mproc_sem;
typedef struct mproc_event mproc_event;
typedef struct mproc_cond mproc_cond;
typedef struct mproc_barrier mproc_barrier;

/* Bytes each object needs inside a region (mproc_X_init). */
#define MPROC_LOCK_SIZE    64
#define MPROC_SEM_SIZE     64
#define MPROC_EVENT_SIZE   64
#define MPROC_COND_SIZE    64
#define MPROC_BARRIER_SIZE 128

/* ---- lock --------------------------------------------------------------------------- */

/* flags for mproc_lock_new / mproc_lock_init */
#define MPROC_RECURSIVE      0x1u /* the holder may acquire again; release as many times */
#define MPROC_NO_DEADLOCK    0x2u /* skip deadlock detection for this lock */
#define MPROC_LOCK_FLAGS_ALL 0x3u

/** Makes a lock in the shared arena (see above). Returns 0 and *out, or MPROC_EINVAL (NULL
 *  out, unknown flags), MPROC_ENOMEM (arena full or no memory). Thread-safe. */
MPROC_API int mproc_lock_new(mproc_lock **out, unsigned flags);

/** Initialises a lock at region + offset (region from mproc/shm.h) and returns its handle.
 *  Returns 0, or MPROC_EINVAL (NULL argument, region not from mproc/shm.h, offset not a
 *  multiple of 64 or past the end, unknown flags). Only one process initialises it. */
MPROC_API int mproc_lock_init(mproc_lock **out, void *region, size_t offset, unsigned flags);

/** Handle of a lock initialised by another process at region + offset. Returns 0, or
 *  MPROC_EINVAL (bad arguments, or no lock there). */
MPROC_API int mproc_lock_attach(mproc_lock **out, void *region, size_t offset);

/** Releases the arena slot of a lock made by mproc_lock_new (only the process that made it
 *  should, once no process uses it); nothing for an init/attach handle. NULL is ignored. */
MPROC_API void mproc_lock_free(mproc_lock *l);

/** Acquires the lock, waiting up to timeout_ms.
 *  Returns 0 (acquired), or:
 *   MPROC_EOWNERDEAD: acquired, but the previous holder died holding it; repair the state
 *     it protects, then call mproc_lock_consistent() before releasing;
 *   MPROC_ENOTRECOVERABLE: not acquired; a holder died and the next one released without
 *     marking it consistent;
 *   MPROC_EDEADLK: not acquired; waiting would close a cycle of waits (or a non-recursive
 *     lock is already held by the caller);
 *   MPROC_ETIMEDOUT: not acquired in time; MPROC_EAGAIN: recursion depth overflow;
 *   MPROC_EINVAL: NULL or a bad timeout.
 *  The holder is a thread (its TID is recorded); a holder's death is noticed within about
 *  100 ms. Thread-safe and fork-safe (a child does not inherit the parent's holding). */
MPROC_API int mproc_lock_acquire(mproc_lock *l, int timeout_ms);

/** Releases the lock (one level of a recursive one) and wakes one waiter.
 *  Returns 0, MPROC_EPERM (the caller does not hold it), MPROC_EINVAL (NULL).
 *  Releasing after MPROC_EOWNERDEAD without mproc_lock_consistent() makes the lock
 *  permanently unusable (MPROC_ENOTRECOVERABLE for every later acquire). */
MPROC_API int mproc_lock_release(mproc_lock *l);

/** Marks the state protected by a lock acquired with MPROC_EOWNERDEAD as repaired.
 *  Returns 0, MPROC_EPERM (not held by the caller), MPROC_EINVAL (NULL, or the lock is
 *  not in the owner-died state). */
MPROC_API int mproc_lock_consistent(mproc_lock *l);

/** 1 if the calling thread holds the lock, 0 if not (or NULL). */
MPROC_API int mproc_lock_held(const mproc_lock *l);

/* ---- semaphore ------------------------------------------------------------------------ */

/** Makes a counting semaphore with the given initial value (>= 0). max_value > 0 makes it
 *  bounded (Python's BoundedSemaphore): a release that would take the value past max_value
 *  fails with MPROC_EOVERFLOW; 0 means unbounded (up to INT_MAX).
 *  Returns 0 and *out, or MPROC_EINVAL (NULL out, value < 0, max_value < 0 or < value),
 *  MPROC_ENOMEM. */
MPROC_API int mproc_sem_new(mproc_sem **out, int value, int max_value);
MPROC_API int mproc_sem_init(mproc_sem **out, void *region, size_t offset, int value,
                             int max_value);
MPROC_API int mproc_sem_attach(mproc_sem **out, void *region, size_t offset);
MPROC_API void mproc_sem_free(mproc_sem *s);

/** Decrements the value, waiting up to timeout_ms while it is 0.
 *  Returns 0, MPROC_ETIMEDOUT, MPROC_EINVAL. Thread-safe. */
MPROC_API int mproc_sem_acquire(mproc_sem *s, int timeout_ms);

/** Increments the value and wakes one waiter. Returns 0, MPROC_EOVERFLOW (bounded and the
 *  value is at max_value, or INT_MAX), MPROC_EINVAL. Async-signal-safe. */
MPROC_API int mproc_sem_release(mproc_sem *s);

/** Current value (>= 0), or MPROC_EINVAL. */
MPROC_API int mproc_sem_value(const mproc_sem *s);

/* ---- event ------------------------------------------------------------------------------ */

/** An event flag (Python's Event), initially clear. Errors as mproc_sem_new. */
MPROC_API int mproc_event_new(mproc_event **out);
MPROC_API int mproc_event_init(mproc_event **out, void *region, size_t offset);
MPROC_API int mproc_event_attach(mproc_event **out, void *region, size_t offset);
MPROC_API void mproc_event_free(mproc_event *e);

/** Sets the flag and wakes every waiter. Returns 0 or MPROC_EINVAL. Async-signal-safe. */
MPROC_API int mproc_event_set(mproc_event *e);
/** Clears the flag. Returns 0 or MPROC_EINVAL. */
MPROC_API int mproc_event_clear(mproc_event *e);
/** 1 if set, 0 if clear, MPROC_EINVAL for NULL. */
MPROC_API int mproc_event_is_set(const mproc_event *e);
/** Waits up to timeout_ms for the flag to be set. Returns 0 (set), MPROC_ETIMEDOUT,
 *  MPROC_EINVAL. */
MPROC_API int mproc_event_wait(mproc_event *e, int timeout_ms);

/* ---- condition ---------------------------------------------------------------------------- */

/** A condition variable bound to lock (Python's Condition(lock)); the lock must outlive it
 *  and lie in the same arena or region (init: lock_offset is the lock's offset in region).
 *  Returns 0 and *out, or MPROC_EINVAL, MPROC_ENOMEM. */
MPROC_API int mproc_cond_new(mproc_cond **out, mproc_lock *lock);
MPROC_API int mproc_cond_init(mproc_cond **out, void *region, size_t offset, size_t lock_offset);
MPROC_API int mproc_cond_attach(mproc_cond **out, void *region, size_t offset);
MPROC_API void mproc_cond_free(mproc_cond *c);

/** The condition's lock. */
MPROC_API mproc_lock *mproc_cond_lock(mproc_cond *c);

/** Releases the lock (all levels of a recursive one), waits up to timeout_ms for a notify,
 *  then re-acquires the lock (without a time limit, like Python) before returning.
 *  Returns 0 (notified; spurious wake-ups are possible, so re-check the predicate),
 *  MPROC_ETIMEDOUT (lock held again), MPROC_EPERM (the caller does not hold the lock),
 *  MPROC_EOWNERDEAD / MPROC_ENOTRECOVERABLE from re-acquiring, MPROC_EINVAL. */
MPROC_API int mproc_cond_wait(mproc_cond *c, int timeout_ms);

/** Python's wait_for: waits until pred(arg) returns non-zero, re-checking after each
 *  wake-up, within one overall timeout. pred is called with the lock held.
 *  Returns 0 when pred is true, MPROC_ETIMEDOUT (pred still false), or an error of
 *  mproc_cond_wait. */
MPROC_API int mproc_cond_wait_for(mproc_cond *c, int (*pred)(void *arg), void *arg, int timeout_ms);

/** Wakes up to n waiters / all waiters. The caller must hold the lock (MPROC_EPERM).
 *  Returns 0, MPROC_EPERM, MPROC_EINVAL (NULL, n < 0). */
MPROC_API int mproc_cond_notify(mproc_cond *c, int n);
MPROC_API int mproc_cond_notify_all(mproc_cond *c);

/* ---- barrier ------------------------------------------------------------------------------ */

/** A barrier for parties (>= 1) processes or threads (Python's Barrier).
 *  Returns 0 and *out, MPROC_EINVAL (parties < 1), MPROC_ENOMEM. */
MPROC_API int mproc_barrier_new(mproc_barrier **out, int parties);
MPROC_API int mproc_barrier_init(mproc_barrier **out, void *region, size_t offset, int parties);
MPROC_API int mproc_barrier_attach(mproc_barrier **out, void *region, size_t offset);
MPROC_API void mproc_barrier_free(mproc_barrier *b);

/** Waits until parties callers have called it, then releases them all. Returns the
 *  caller's arrival index, 0 .. parties-1 (exactly one caller gets parties-1, the last
 *  to arrive), or: MPROC_ETIMEDOUT (this caller timed out; the barrier is now broken),
 *  MPROC_EBROKEN (the barrier is or became broken: another waiter timed out, or abort),
 *  MPROC_EINVAL. */
MPROC_API int mproc_barrier_wait(mproc_barrier *b, int timeout_ms);

/** Breaks the barrier: current and future waiters get MPROC_EBROKEN until reset. */
MPROC_API int mproc_barrier_abort(mproc_barrier *b);

/** Returns the barrier to its initial state; current waiters get MPROC_EBROKEN. */
MPROC_API int mproc_barrier_reset(mproc_barrier *b);

/** Parties of the barrier / number waiting now / 1 if broken. MPROC_EINVAL for NULL. */
MPROC_API int mproc_barrier_parties(const mproc_barrier *b);
MPROC_API int mproc_barrier_n_waiting(const mproc_barrier *b);
MPROC_API int mproc_barrier_broken(const mproc_barrier *b);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_SYNC_H */
