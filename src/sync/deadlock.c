/* deadlock.c: the wait-for graph that turns a deadlock into MPROC_EDEADLK.
 *
 * Each region (the arena, or a caller's region) has a domain in its header: a guard lock
 * and a table of waiting threads, each slot saying "thread T (started at S) waits for the
 * lock at offset O of this region". Locks already name their holder in their word. So the
 * graph is: lock -> holder TID -> the slot of that TID -> the lock it waits for -> ...
 *
 * A thread about to sleep on a lock takes the guard, walks that chain from the lock it
 * wants, and if the chain comes back to itself the wait would close a cycle: it gets
 * MPROC_EDEADLK and records nothing. Otherwise it records its slot. Registration and walk
 * happen under the guard, so of the threads that close a cycle together exactly one (the
 * last to register) sees it. Releases and acquisitions do not take the guard: they only
 * remove edges, which can hide a cycle only while it is not yet a deadlock.
 *
 * A slot left by a thread that died while waiting is recognised by its start time and
 * cleared before it can make a cycle. This file must not be used on the uncontended path.
 */
#include "sync/sync_int.h"

#include "shm/shm_int.h"

#define DL_SLOTS ((MPROC__SHM_DOMAIN_SIZE - sizeof(struct mproc_lock)) / sizeof(struct dl_slot))

struct dl_slot {
    _Atomic uint32_t tid; /* 0: free */
    uint32_t pad;
    _Atomic uint64_t start;    /* the waiter's start time, to tell a reused TID */
    _Atomic uint64_t lock_off; /* the awaited lock's distance from the region header */
};

struct dl_domain {
    struct mproc_lock guard; /* zero-filled memory is a free lock */
    struct dl_slot slot[];
};

static struct dl_slot *slot_of(struct dl_domain *d, uint32_t tid)
{
    for (size_t i = 0; i < DL_SLOTS; i++)
        if (atomic_load(&d->slot[i].tid) == tid)
            return &d->slot[i];
    return NULL;
}

/* Walks holder -> awaited lock from l. 1 if it returns to me; the slots passed are kept
 * in path (up to DL_SLOTS) with their count in *n. */
static int walk(struct dl_domain *d, char *hdr, struct mproc_lock *l, uint32_t me,
                struct dl_slot **path, size_t *n)
{
    *n = 0;
    for (size_t hop = 0; hop <= DL_SLOTS; hop++) {
        uint32_t w = atomic_load(&l->word);
        if (w == 0 || w == LOCK_NOTREC)
            return 0;
        uint32_t holder = w & LOCK_TID;
        if (holder == me)
            return 1;
        struct dl_slot *s = slot_of(d, holder);
        if (!s || *n == DL_SLOTS)
            return 0; /* the holder runs: no cycle through it */
        path[(*n)++] = s;
        l = (struct mproc_lock *)(hdr + atomic_load(&s->lock_off));
    }
    return 0;
}

/* Clears the slots on path whose thread has died. 1 if any was. */
static int clear_dead(struct dl_slot **path, size_t n)
{
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (!mproc__tid_alive(atomic_load(&path[i]->tid), atomic_load(&path[i]->start))) {
            atomic_store(&path[i]->tid, 0);
            any = 1;
        }
    }
    return any;
}

static int record(struct dl_domain *d, struct mproc_lock *l, uint32_t me)
{
    struct dl_slot *s = slot_of(d, me); /* a dead thread's slot with our reused TID */
    if (!s)
        s = slot_of(d, 0);
    if (!s)
        return 0;
    atomic_store(&s->start, mproc__self_start());
    atomic_store(&s->lock_off, l->hdr_off);
    atomic_store(&s->tid, me);
    return 1;
}

int mproc__dl_register(struct mproc_lock *l, uint32_t me)
{
    char *hdr = mproc__obj_hdr(l, l->hdr_off);
    struct dl_domain *d = mproc__shm_domain(hdr);
    int rc = mproc__lock_acquire(&d->guard, INT64_MAX, 0, 0);
    if (rc == MPROC_EOWNERDEAD) /* a registrant died: slots are written whole, or harmlessly */
        atomic_store(&d->guard.died, 0);
    else if (rc < 0)
        return rc;
    struct dl_slot *path[DL_SLOTS];
    size_t n;
    int cycle;
    do
        cycle = walk(d, hdr, l, me, path, &n);
    while (cycle && clear_dead(path, n));
    rc = cycle ? MPROC_EDEADLK : record(d, l, me);
    mproc__lock_release(&d->guard);
    return rc;
}

void mproc__dl_unregister(struct mproc_lock *l, uint32_t me)
{
    char *hdr = mproc__obj_hdr(l, l->hdr_off);
    struct dl_domain *d = mproc__shm_domain(hdr);
    struct dl_slot *s = slot_of(d, me);
    if (s)
        atomic_store(&s->tid, 0);
}
