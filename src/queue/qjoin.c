/* qjoin.c: JoinableQueue accounting, task_done and join.
 *
 * unfinished = messages claimed - skipped (dead producer) - task_done calls
 *              - tasks of dead consumers (taken, never marked done).
 * The last term comes from the registry: each process counts its own taken-minus-done in
 * its entry, so a consumer killed after taking a message no longer holds join forever.
 * It must not block without a deadline; join's waits are slices that recompute the count.
 */
#include "queue/queue_int.h"

#include <limits.h>

#include "sys/sys.h"

static int64_t dead_pending(struct qshm *h)
{
    int64_t sum = (int64_t)atomic_load(&h->lost);
    for (unsigned i = 0; i < Q_REG_MAX; i++) {
        uint32_t pid = atomic_load(&h->reg[i].pid);
        int64_t p = atomic_load(&h->reg[i].pending);
        if (pid && p > 0 && mproc__q_pid_dead(h, pid))
            sum += p;
    }
    return sum;
}

static int64_t unfinished(const mproc_queue *q, int with_dead)
{
    struct qshm *h = q->h;
    int64_t n = (int64_t)(mproc__q_claimed(q) - atomic_load(&h->abandoned) - atomic_load(&h->done));
    return with_dead && n > 0 ? n - dead_pending(h) : n;
}

int mproc_queue_task_done(mproc_queue *q)
{
    if (!q)
        return MPROC_EINVAL;
    struct qshm *h = q->h;
    if (!(h->flags & MPROC_QUEUE_JOINABLE))
        return MPROC_ENOTSUP;
    if (unfinished(q, 0) <= 0)
        return MPROC_ERANGE;
    /* Our pending count drops before the global done count rises: a kill in between makes
     * join wait (bounded by its timeout), never return early. */
    struct qreg *g = mproc__q_myreg(q);
    if (g)
        atomic_fetch_sub(&g->pending, 1);
    atomic_fetch_add(&h->done, 1);
    if (atomic_load(&h->join_waiters) && unfinished(q, 0) <= 0) {
        atomic_fetch_add(&h->join_gen, 1);
        mproc__futex_wake(&h->join_gen, INT_MAX);
    }
    return 0;
}

int mproc_queue_join(mproc_queue *q, int timeout_ms)
{
    if (!q || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    struct qshm *h = q->h;
    if (!(h->flags & MPROC_QUEUE_JOINABLE))
        return MPROC_ENOTSUP;
    struct qdl dl = {timeout_ms, 0};
    for (;;) {
        atomic_fetch_add(&h->join_waiters, 1);
        uint32_t g = atomic_load(&h->join_gen);
        int64_t n = unfinished(q, 1);
        int r = n <= 0 ? 0 : mproc__q_futex_wait(&h->join_gen, g, mproc__q_dl(&dl));
        atomic_fetch_sub(&h->join_waiters, 1);
        if (n <= 0)
            return 0;
        if (r == MPROC_ETIMEDOUT)
            return MPROC_ETIMEDOUT;
    }
}
