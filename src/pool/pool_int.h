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

struct ctl {
    _Atomic uint32_t gen; /* futex word: bumped for each new job and for shutdown */
    _Atomic uint32_t shutdown;
    struct job job;
    _Atomic uint64_t next; /* (gen << 32) | next position: a claim is a CAS on it */
    _Atomic uint64_t done; /* positions finished in this job (a wake-up hint) */
    _Atomic uint32_t parent_waiting;
    int efd; /* eventfd written when done reaches count */
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

#endif
