/* pool_int.h: the pool's shared control block, seen by the parent and every worker.
 * Private to src/pool. Everything a worker reads or writes lives in the arena, which is
 * mapped MAP_SHARED before any worker is forked. */
#ifndef MPROC_POOL_INT_H
#define MPROC_POOL_INT_H

#include <mproc/pool.h>
#include <stdatomic.h>
#include <stdint.h>

#define POOL_PENDING INT32_MIN /* an item's status before any worker finished it */
#define POOL_NO_ITEM UINT64_MAX

enum wstate { W_DEAD = 0, W_IDLE = 1, W_RUNNING = 2 };

/* One worker slot: one cache line of hot fields per worker. */
struct wslot {
    _Atomic int32_t state; /* enum wstate */
    _Atomic int32_t ready; /* initializer done */
    _Atomic uint64_t cur;  /* item being run (its index in the map), or POOL_NO_ITEM */
    _Atomic int64_t t0_ns; /* when that item started (only with timeouts) */
    _Atomic int64_t busy_ns, idle_ns;
    _Atomic uint64_t tasks;
    char pad[64 - 2 * sizeof(int32_t) - 5 * sizeof(int64_t)];
};

/* One map phase: a range [0, count) or an explicit list of item indices. The parent
 * writes it, then publishes it by bumping ctl.gen; workers copy it and check gen again. */
struct job {
    mproc_map_fn fn;
    const char *in;
    char *out;
    int32_t *status;
    size_t in_size, out_size;
    const uint64_t *list; /* NULL: item index == position */
    uint64_t count;
    uint64_t chunk; /* fixed chunk, 0: adaptive */
    int timeouts;   /* record t0 per item */
};

/* Submitted tasks (mproc_pool_submit, imap). A task slot's state word says who owns it;
 * a worker claims a queued task with one CAS that also names itself, so a worker that
 * dies at any instruction after the claim is found by the parent's scan of the states. */
enum tstate {
    T_FREE = 0,
    T_QUEUED = 1,
    T_DONE = 2,
    T_CANCELLED = 3,
    T_RUNNING = 16 /* + worker slot */
};

struct tslot {
    mproc_task_fn fn;
    mproc_map_fn mapfn;    /* imap items: mapfn(arg, result, ctx) */
    uint64_t ticket;       /* submission order: workers take the oldest first */
    _Atomic int64_t t0_ns; /* when a worker started it */
    int32_t rc;
    uint32_t arg_len;
    uint64_t res_len;
    /* followed by task_bytes of argument, then task_bytes of result */
};

struct ctl {
    _Atomic uint32_t events;    /* futex word workers sleep on: bumped by publish and submit */
    _Atomic uint32_t sleepers;  /* workers blocked on events */
    _Atomic uint64_t submitted; /* tickets issued */
    _Atomic int64_t queued;     /* tasks in T_QUEUED */
    uint32_t ntasks;            /* task slots */
    uint32_t task_bytes;
    _Atomic uint32_t *tstate; /* ntasks state words, contiguous for a cheap scan */
    char *tslots;             /* ntasks slots of tslot_size bytes */
    size_t tslot_size;
    _Atomic uint32_t gen; /* bumped for each new job and for shutdown */
    _Atomic uint32_t shutdown;
    struct job job;
    /* The claim counter and the completion counters get a cache line each: every claim
     * writes `next`, and sharing its line with `done` would make the workers' end-of-job
     * updates and the parent's polling bounce it between cores. */
    _Alignas(64) _Atomic uint64_t next; /* (gen << 32) | next position: a claim is a CAS on it */
    _Alignas(64) _Atomic uint64_t done; /* (gen << 32) | positions finished in this job,
                                           published by each worker once, when it runs out
                                           of work (a hint); counted only if gen matches */
    _Atomic uint64_t failed;            /* (gen << 32) | of those, items whose fn failed */
    _Alignas(64) char after_counters;
    _Atomic uint32_t parent_waiting;
    int efd;      /* eventfd written when done reaches count */
    int trace_fd; /* O_APPEND trace file, or -1 */
    int nworkers;
    int max_tasks;
    mproc_init_fn init;
    void *ctx;
    struct wslot w[];
};

int mproc__pool_worker_main(void *arg); /* mproc_fork entry: arg is a struct pool_warg */

struct pool_warg {
    struct ctl *ctl;
    int slot;
};

int64_t mproc__pool_now_ns(void);

static inline struct tslot *mproc__tslot(const struct ctl *c, uint32_t i)
{
    return (struct tslot *)(c->tslots + (size_t)i * c->tslot_size);
}
static inline char *mproc__targ(const struct ctl *c, uint32_t i)
{
    return (char *)(mproc__tslot(c, i) + 1);
}
static inline char *mproc__tres(const struct ctl *c, uint32_t i)
{
    return mproc__targ(c, i) + c->task_bytes;
}

#endif
