/* sync_int.h: private layout and helpers of the sync objects.
 *
 * Every object lives in shared memory inside an mproc region (the process's arena, or a
 * region the caller placed it in) and records its distance from the region's header, so
 * any process can find the region's deadlock domain whatever address it mapped it at. */
#ifndef MPROC_SYNC_INT_H
#define MPROC_SYNC_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mproc/sync.h"
#include "sys/sys.h" /* mproc__futex_wait/wake, mproc__stat_read */

/* ---- futex and thread identity (futex.c) ---------------------------------------------- */

/* Waits while *addr == val, until woken or until deadline_ns (CLOCK_MONOTONIC, INT64_MAX
 * for never). Shared (not PRIVATE) futex: works across processes. Returns 0 (woken, maybe
 * spuriously), MPROC_EAGAIN (value differed), MPROC_EINTR, MPROC_ETIMEDOUT. */
/* Wakes up to n waiters on addr. */

/* A deadline in ns from a timeout in ms (-1: INT64_MAX). */
int64_t mproc__deadline_ns(int timeout_ms);

/* The calling thread's TID, cached per thread and refreshed after fork. */
uint32_t mproc__self_tid(void);
/* Both at once, as a lock records its owner: TID << 40 | start & (2^40 - 1). */
uint64_t mproc__self_id(void);
/* The calling thread's start time (clock ticks since boot, from /proc), cached likewise;
 * with the TID it names the thread even after its TID is reused. */
uint64_t mproc__self_start(void);

/* 1 if thread tid is alive (not exited, not a zombie) and, when start != 0, started at
 * start; 0 if not. */
int mproc__tid_alive(uint32_t tid, uint64_t start);

/* ---- the common head and the constructors (arena.c) ------------------------------------- */

/* Every sync object starts with these 16 bytes: its own futex word, then what the shared
 * constructors, attach and free below need, at the same place in every type. */
struct mproc__obj_head {
    _Atomic uint32_t word; /* the object's own (lock word, semaphore value, ...) */
    uint32_t magic;        /* the type's magic once initialised, 0 before and after */
    uint32_t flags;        /* the type's flags, MPROC__F_ARENA */
    int32_t creator;       /* pid that made it (arena objects are freed only there) */
};

/* 1 if obj is an initialised object of this type. */
static inline int mproc__obj_ok(const void *obj, uint32_t magic)
{
    return obj && ((const struct mproc__obj_head *)obj)->magic == magic;
}

/* A constructor's memory: size bytes from the process's arena (from_arena: *flags gains
 * MPROC__F_ARENA), or at region + offset. *hdr_off as mproc__arena_alloc. */
int mproc__obj_make(int from_arena, void *region, size_t offset, size_t size, void **obj,
                    uint64_t *hdr_off, unsigned *flags);
/* Ends a constructor once the type's own fields are set: records flags and the creator,
 * then publishes the magic after everything else. */
void mproc__obj_publish(void *obj, uint32_t magic, unsigned flags);
/* The _attach of every type: region + offset must hold an initialised object of size
 * bytes with this magic. 0 and *out, or MPROC_EINVAL (*out NULL). */
int mproc__obj_attach(void **out, void *region, size_t offset, size_t size, uint32_t magic);
/* The _free of every type: an arena object goes back to the arena, in its creator only;
 * anything else (NULL, a region's object, another type) is left alone. */
void mproc__obj_free(void *obj, size_t size, uint32_t magic);

/* ---- placement (arena.c) ---------------------------------------------------------------- */

/* Takes size bytes (a multiple of 64, at most 4096) from the process's shared arena.
 * *hdr_off receives the object's distance from the arena's region header. */
int mproc__arena_alloc(size_t size, void **obj, uint64_t *hdr_off);
void mproc__arena_free(void *obj, size_t size);

/* Checks that region + offset can hold size bytes of an object; *obj and *hdr_off as
 * mproc__arena_alloc. MPROC_EINVAL when not. */
int mproc__region_place(void *region, size_t offset, size_t size, void **obj, uint64_t *hdr_off);

/* The region header an object belongs to. */
static inline void *mproc__obj_hdr(const void *obj, uint64_t hdr_off)
{
    return (char *)(uintptr_t)obj - hdr_off;
}

/* ---- lock (lock.c) ------------------------------------------------------------------------ */

#define LOCK_WAITERS 0x80000000u /* someone may sleep on the word */
#define LOCK_TID     0x3fffffffu /* the holder's TID (pid_max is at most 2^22) */
#define LOCK_NOTREC  0x3fffffffu /* word value of a lock that is not recoverable */

#define MPROC__LOCK_MAGIC 0x4c4b3031u /* "LK01" */
#define MPROC__F_ARENA    0x100u      /* the object came from the arena */

struct mproc_lock {
    _Atomic uint32_t word;     /* 0 free, else holder TID | LOCK_WAITERS, or LOCK_NOTREC */
    uint32_t magic;            /* LOCK_MAGIC once initialised */
    uint32_t flags;            /* MPROC_RECURSIVE, MPROC_NO_DEADLOCK, MPROC__F_ARENA */
    int32_t creator;           /* pid that made it (arena frees only there) */
    uint32_t depth;            /* recursion depth; only the holder touches it */
    _Atomic uint32_t died;     /* 1 while an owner-died state is not yet repaired */
    _Atomic uint64_t owner_id; /* holder TID << 40 | start time & (2^40 - 1) */
    uint64_t hdr_off;          /* distance from the region header */
    uint64_t reserved[3];
};
_Static_assert(sizeof(struct mproc_lock) == MPROC_LOCK_SIZE, "lock size");
_Static_assert(offsetof(struct mproc_lock, creator) == offsetof(struct mproc__obj_head, creator),
               "lock head");

/* Acquire/release without the magic check, for locks embedded in other objects and in
 * the deadlock domain (zero-filled memory is a free lock). detect: join deadlock detection.
 * deadline_ns as mproc__futex_wait; try_once: a timeout of 0. */
int mproc__lock_acquire(struct mproc_lock *l, int64_t deadline_ns, int try_once, int detect);
int mproc__lock_release(struct mproc_lock *l);

/* ---- deadlock detection (deadlock.c) -------------------------------------------------- */

/* Records that the calling thread (tid) is about to sleep waiting for l, and checks whether
 * that closes a cycle of waits among the locks of l's region. Returns 1 (registered, no
 * cycle), 0 (no room in the domain: wait without detection), MPROC_EDEADLK (cycle: nothing
 * registered), or another error from the domain's guard. */
int mproc__dl_register(struct mproc_lock *l, uint32_t tid);
/* Removes the calling thread's record. */
void mproc__dl_unregister(struct mproc_lock *l, uint32_t tid);

#endif
