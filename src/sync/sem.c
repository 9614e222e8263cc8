/* sem.c: counting and bounded semaphores, and events, shared by processes.
 *
 * Both are one futex word plus a count of sleepers, so a release or a set makes a system
 * call only when someone sleeps. Neither has an owner, so neither takes part in deadlock
 * detection or owner-death recovery (a process killed while holding a unit of a
 * semaphore does not give it back: document it at the call site that cares).
 */
#include "sync/sync_int.h"

#include <limits.h>
#include <unistd.h>

#include "sys/sys.h"

#define SEM_MAGIC   0x53454d31u /* "SEM1" */
#define EVENT_MAGIC 0x45564e31u /* "EVN1" */

struct mproc_sem {
    _Atomic uint32_t value; /* starts with struct mproc__obj_head */
    uint32_t magic;
    uint32_t flags;
    int32_t creator;
    int32_t max; /* 0: unbounded */
    _Atomic uint32_t sleepers;
    uint64_t hdr_off;
    uint64_t reserved[4];
};
_Static_assert(sizeof(struct mproc_sem) == MPROC_SEM_SIZE, "sem size");
_Static_assert(offsetof(struct mproc_sem, creator) == offsetof(struct mproc__obj_head, creator),
               "sem head");

struct mproc_event {
    _Atomic uint32_t word; /* generation << 1 | set bit: a set always changes it (the head) */
    uint32_t magic;
    uint32_t flags;
    int32_t creator;
    _Atomic uint32_t sleepers;
    uint32_t pad;
    uint64_t hdr_off;
    uint64_t reserved[4];
};
_Static_assert(sizeof(struct mproc_event) == MPROC_EVENT_SIZE, "event size");
_Static_assert(offsetof(struct mproc_event, creator) == offsetof(struct mproc__obj_head, creator),
               "event head");

/* ---- semaphore ---- */

static int sem_ok(const struct mproc_sem *s)
{
    return mproc__obj_ok(s, SEM_MAGIC);
}

/* mproc_sem_new (arena) and mproc_sem_init. */
static int sem_make(mproc_sem **out, int arena, void *region, size_t offset, int value, int max)
{
    if (!out || value < 0 || max < 0 || (max != 0 && value > max))
        return MPROC_EINVAL;
    *out = NULL;
    void *obj;
    uint64_t off;
    unsigned flags = 0;
    int rc = mproc__obj_make(arena, region, offset, sizeof(struct mproc_sem), &obj, &off, &flags);
    if (rc < 0)
        return rc;
    struct mproc_sem *s = obj;
    atomic_store(&s->value, (uint32_t)value);
    s->max = max;
    s->hdr_off = off;
    atomic_store(&s->sleepers, 0);
    mproc__obj_publish(s, SEM_MAGIC, flags);
    *out = s;
    return 0;
}

int mproc_sem_new(mproc_sem **out, int value, int max_value)
{
    return sem_make(out, 1, NULL, 0, value, max_value);
}

int mproc_sem_init(mproc_sem **out, void *region, size_t offset, int value, int max_value)
{
    return sem_make(out, 0, region, offset, value, max_value);
}

int mproc_sem_attach(mproc_sem **out, void *region, size_t offset)
{
    return mproc__obj_attach((void **)out, region, offset, sizeof(struct mproc_sem), SEM_MAGIC);
}

void mproc_sem_free(mproc_sem *s)
{
    mproc__obj_free(s, sizeof *s, SEM_MAGIC);
}

static int sem_try(struct mproc_sem *s)
{
    uint32_t v = atomic_load(&s->value);
    while (v > 0)
        if (atomic_compare_exchange_weak(&s->value, &v, v - 1))
            return 1;
    return 0;
}

int mproc_sem_acquire(mproc_sem *s, int timeout_ms)
{
    if (!sem_ok(s) || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    if (sem_try(s))
        return 0;
    if (timeout_ms == 0)
        return MPROC_ETIMEDOUT;
    int64_t deadline = mproc__deadline_ns(timeout_ms);
    for (;;) {
        /* sleepers first, then the value check inside futex_wait: a release that raced
         * past our check sees sleepers and wakes us, or the wait sees the new value */
        atomic_fetch_add(&s->sleepers, 1);
        int rc = mproc__futex_wait(&s->value, 0, deadline);
        atomic_fetch_sub(&s->sleepers, 1);
        if (sem_try(s))
            return 0;
        if (rc == MPROC_ETIMEDOUT || mproc__now_ns() >= deadline)
            return MPROC_ETIMEDOUT;
    }
}

int mproc_sem_release(mproc_sem *s)
{
    if (!sem_ok(s))
        return MPROC_EINVAL;
    uint32_t limit = s->max > 0 ? (uint32_t)s->max : INT_MAX;
    uint32_t v = atomic_load(&s->value);
    do {
        if (v >= limit)
            return MPROC_EOVERFLOW;
    } while (!atomic_compare_exchange_weak(&s->value, &v, v + 1));
    if (atomic_load(&s->sleepers) > 0)
        mproc__futex_wake(&s->value, 1);
    return 0;
}

int mproc_sem_value(const mproc_sem *s)
{
    if (!sem_ok(s))
        return MPROC_EINVAL;
    return (int)atomic_load((_Atomic uint32_t *)(uintptr_t)&s->value);
}

/* ---- event ---- */

static int event_ok(const struct mproc_event *e)
{
    return mproc__obj_ok(e, EVENT_MAGIC);
}

/* mproc_event_new (arena) and mproc_event_init. */
static int event_make(mproc_event **out, int arena, void *region, size_t offset)
{
    if (!out)
        return MPROC_EINVAL;
    *out = NULL;
    void *obj;
    uint64_t off;
    unsigned flags = 0;
    int rc = mproc__obj_make(arena, region, offset, sizeof(struct mproc_event), &obj, &off, &flags);
    if (rc < 0)
        return rc;
    struct mproc_event *e = obj;
    atomic_store(&e->word, 0);
    atomic_store(&e->sleepers, 0);
    e->hdr_off = off;
    mproc__obj_publish(e, EVENT_MAGIC, flags);
    *out = e;
    return 0;
}

int mproc_event_new(mproc_event **out)
{
    return event_make(out, 1, NULL, 0);
}

int mproc_event_init(mproc_event **out, void *region, size_t offset)
{
    return event_make(out, 0, region, offset);
}

int mproc_event_attach(mproc_event **out, void *region, size_t offset)
{
    return mproc__obj_attach((void **)out, region, offset, sizeof(struct mproc_event), EVENT_MAGIC);
}

void mproc_event_free(mproc_event *e)
{
    mproc__obj_free(e, sizeof *e, EVENT_MAGIC);
}

int mproc_event_set(mproc_event *e)
{
    if (!event_ok(e))
        return MPROC_EINVAL;
    uint32_t v = atomic_load(&e->word);
    do {
        if (v & 1)
            return 0;
    } while (!atomic_compare_exchange_weak(&e->word, &v, ((v >> 1) + 1) << 1 | 1));
    if (atomic_load(&e->sleepers) > 0)
        mproc__futex_wake(&e->word, INT_MAX);
    return 0;
}

int mproc_event_clear(mproc_event *e)
{
    if (!event_ok(e))
        return MPROC_EINVAL;
    atomic_fetch_and(&e->word, ~1u);
    return 0;
}

int mproc_event_is_set(const mproc_event *e)
{
    if (!event_ok(e))
        return MPROC_EINVAL;
    return (int)(atomic_load((_Atomic uint32_t *)(uintptr_t)&e->word) & 1);
}

int mproc_event_wait(mproc_event *e, int timeout_ms)
{
    if (!event_ok(e) || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    uint32_t v = atomic_load(&e->word);
    if (v & 1)
        return 0;
    if (timeout_ms == 0)
        return MPROC_ETIMEDOUT;
    int64_t deadline = mproc__deadline_ns(timeout_ms);
    for (;;) {
        atomic_fetch_add(&e->sleepers, 1);
        int rc = mproc__futex_wait(&e->word, v, deadline);
        atomic_fetch_sub(&e->sleepers, 1);
        /* any change from the clear value we saw means a set happened, even if a clear
         * followed before we ran (Python's Event returns True then too) */
        if (atomic_load(&e->word) != v)
            return 0;
        if (rc == MPROC_ETIMEDOUT || mproc__now_ns() >= deadline)
            return MPROC_ETIMEDOUT;
    }
}
