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

/** A submitted task: reads len bytes of arg, writes up to *result_len bytes (on entry:
 *  the room there, mproc_pool_opts.task_bytes) to result and sets *result_len. Returns
 *  0 or an error code of the caller's choosing, reported by mproc_future_status. */
typedef int (*mproc_task_fn)(const void *arg, size_t len, void *result, size_t *result_len,
                             void *ctx);

typedef struct mproc_future mproc_future;

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
    int max_pending;           /* submitted tasks not yet freed; 0: 1024 */
    size_t task_bytes;         /* room for a task's argument and for its result; 0: 4096 */
    const char *trace_path;    /* write a Chrome trace of the pool here (see trace.h);
                                  NULL: the MPROC_TRACE environment variable, if set */
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

/** Submits fn(arg) to run on a worker (Python's apply_async). The argument is copied.
 *  *out gets a future to wait on; free it with mproc_future_free.
 *  Errors: MPROC_EINVAL, MPROC_ECLOSED, MPROC_EMSGSIZE (len > task_bytes),
 *  MPROC_EAGAIN (max_pending futures are outstanding: wait for and free some). */
MPROC_API int mproc_pool_submit(mproc_pool *p, mproc_task_fn fn, const void *arg, size_t len,
                                mproc_future **out);

/** Waits up to timeout_ms for the task to finish (however it finished). Returns 0 when it
 *  has, MPROC_ETIMEDOUT if it is still pending or running, MPROC_EINVAL. While waiting,
 *  the calling thread also tends the pool: crashed workers are replaced and task
 *  timeouts enforced. */
MPROC_API int mproc_future_wait(mproc_future *f, int timeout_ms);

/** The outcome of a finished task: 0 or the task's own return code, MPROC_ECRASHED (its
 *  worker died running it, after any retries), MPROC_ETIMEDOUT (task_timeout_ms passed),
 *  MPROC_ECANCELED; MPROC_EBUSY while not finished. */
MPROC_API int mproc_future_status(const mproc_future *f);

/** The result bytes of a finished task (NULL before). Valid until mproc_future_free. */
MPROC_API const void *mproc_future_result(const mproc_future *f, size_t *len);

/** For a task whose worker crashed: the worker's end, -signal or exit code; else 0. */
MPROC_API int mproc_future_exitcode(const mproc_future *f);

/** Cancels a task: a pending one never runs; a running one has its worker killed (and
 *  replaced). Returns 1 if cancelled, 0 if it had already finished. */
MPROC_API int mproc_future_cancel(mproc_future *f);

/** Frees a future, cancelling its task if unfinished. NULL is a no-op. A future may be
 *  freed after its pool (it then only releases its own memory). */
MPROC_API void mproc_future_free(mproc_future *f);

/** Lazy map (Python's imap / imap_unordered): items are pulled from next() as room frees
 *  up (at most window in flight; 0: 4 per worker) and results handed to emit() in input
 *  order (ordered = 1) or as they finish. next(item, ud) fills in_size bytes and returns
 *  1, or 0 at the end, or a negative code to stop. emit(index, out, status, ud) gets
 *  out_size bytes and the item's status (as map's item_status); non-zero stops.
 *  Returns the number of failed items, or an error (MPROC_EINVAL, MPROC_ECLOSED,
 *  MPROC_EMSGSIZE if an item does not fit task_bytes, or next's/emit's code). */
typedef int (*mproc_next_fn)(void *item, void *ud);
typedef int (*mproc_emit_fn)(size_t index, const void *out, int status, void *ud);
MPROC_API int mproc_pool_imap(mproc_pool *p, mproc_map_fn fn, mproc_next_fn next, size_t in_size,
                              size_t out_size, mproc_emit_fn emit, void *ud, int ordered,
                              size_t window);

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
/** Kills every worker at once and reaps it. The one call that may come from another
 *  thread while map, imap or a future wait runs on this pool: that call then returns
 *  promptly (map: unfinished items read MPROC_ECANCELED; the return value counts them)
 *  and the workers are killed on its way out; free the pool only after it returned. */
MPROC_API int mproc_pool_terminate(mproc_pool *p);
/** Terminates if needed and frees everything. NULL is a no-op. */
MPROC_API void mproc_pool_free(mproc_pool *p);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_POOL_H */
