/* mproc/pool.h: a pool of worker processes that balances load, survives a worker's crash
 * without losing more than the task it was running, and enforces per-task timeouts.
 *
 * Workers are forked when the pool is created (and replaced when they die), so task
 * functions are plain function pointers into this program, and task data travels
 * through a shared arena the workers inherit: map input is copied into it (or used in
 * place if it already lies there, see mproc_pool_arena) and results are written there
 * by the workers. No hidden threads: the calling thread drives the pool while it waits.
 */
#ifndef MPROC_POOL_H
#define MPROC_POOL_H

#include <stddef.h>
#include <sys/types.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_pool mproc_pool;

/** An item function for map: reads one input item, writes one output item.
 *  Returns 0, or an error code of the caller's choosing (negative or positive, not
 *  INT32_MIN) that lands in the item's status. ctx is mproc_pool_opts.ctx. */
typedef int (*mproc_map_fn)(const void *in, void *out, void *ctx);

/** Run once in each worker when it starts; non-zero makes the worker exit. */
typedef int (*mproc_init_fn)(void *ctx);

enum mproc_schedule {
    MPROC_SCHED_DYNAMIC = 0, /* workers claim chunks as they go (guided self-scheduling) */
    MPROC_SCHED_STATIC = 1   /* worker i gets the i-th contiguous share up front */
};

typedef struct mproc_pool_opts {
    int workers;               /* 0: the number of online CPUs */
    mproc_init_fn initializer; /* run in each worker at start, may be NULL */
    void *ctx;                 /* passed to the initializer and to every task */
    int max_tasks;             /* > 0: a worker is replaced after this many items */
    int task_timeout_ms;       /* > 0: an item running longer gets its worker killed and
                                  fails with MPROC_ETIMEDOUT */
    int retries;               /* times an item whose worker crashed is run again */
    int schedule;              /* enum mproc_schedule */
    size_t arena_size;         /* shared bytes for map data; 0: 256 MiB (reserved, not
                                  committed: pages are only used as touched) */
} mproc_pool_opts;

typedef struct mproc_map_opts {
    size_t chunk;   /* items per claim; 0: automatic (guided self-scheduling) */
    int *exit_info; /* optional, n ints: for items that crashed, the worker's end in
                       Python's exitcode convention (-signal, or the exit code) */
} mproc_map_opts;

/** Creates a pool and starts its workers (forked from the calling process).
 *  Errors: MPROC_EINVAL (NULL out, negative fields, bad schedule), MPROC_ENOMEM, and
 *  those of mproc_fork. */
MPROC_API int mproc_pool_new(mproc_pool **out, const mproc_pool_opts *opts);

/** Applies fn to n items of in_size bytes each, writing n items of out_size bytes to
 *  out, in parallel. Blocks until every item is done. item_status (may be NULL) gets
 *  each item's result: 0, fn's error, MPROC_ECRASHED (its worker died running it, after
 *  any retries) or MPROC_ETIMEDOUT. A crash costs only the item it hit: the rest of its
 *  chunk is run again by other workers.
 *  Returns the number of items that did not succeed (0: all did), or an error for the
 *  whole call: MPROC_EINVAL (NULL fn, sizes of 0 with n > 0, NULL in/out with n > 0),
 *  MPROC_ECLOSED (pool closed), MPROC_EBROKEN (workers cannot start), MPROC_ENOMEM.
 *  Not thread-safe: one map at a time per pool. */
MPROC_API int mproc_pool_map(mproc_pool *p, mproc_map_fn fn, const void *in, size_t n,
                             size_t in_size, void *out, size_t out_size, int *item_status,
                             const mproc_map_opts *opts);

/** The shared arena: data placed here is used by map in place, with no copy in or out.
 *  *size gets its size. Valid until mproc_pool_free. */
MPROC_API void *mproc_pool_arena(mproc_pool *p, size_t *size);

typedef struct mproc_worker_stats {
    pid_t pid;         /* current worker process, 0 if none */
    long long tasks;   /* items run by this slot's workers */
    long long busy_us; /* time spent in task functions */
    long long idle_us; /* time alive and waiting for work */
    int restarts;      /* workers replaced in this slot (crash, timeout, max_tasks) */
    int crashes;       /* of which crashes and timeouts */
} mproc_worker_stats;

/** Copies per-worker statistics into stats (up to n slots); returns the slot count. */
MPROC_API int mproc_pool_stats(mproc_pool *p, mproc_worker_stats *stats, size_t n);
/** Number of worker slots. */
MPROC_API int mproc_pool_size(const mproc_pool *p);

/** No more work is accepted; workers exit when idle. */
MPROC_API int mproc_pool_close(mproc_pool *p);
/** Waits up to timeout_ms for closed workers to exit. MPROC_ETIMEDOUT, MPROC_EINVAL. */
MPROC_API int mproc_pool_join(mproc_pool *p, int timeout_ms);
/** Kills every worker at once and reaps it. */
MPROC_API int mproc_pool_terminate(mproc_pool *p);
/** Terminates if needed and frees everything. NULL is a no-op. */
MPROC_API void mproc_pool_free(mproc_pool *p);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_POOL_H */
