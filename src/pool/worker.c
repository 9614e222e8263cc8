/* worker.c: the loop a pool worker process runs: wait for a job, claim chunks of it,
 * run the item function, record status and progress.
 *
 * Crash accounting rests on two facts kept here: an item's status stays POOL_PENDING
 * until the worker has finished it, and slot.cur names the item being run. So when a
 * worker dies the parent knows exactly which item it was running (blamed) and which
 * items of its chunk it never reached (still pending, run again later).
 * Must not: allocate per item, take locks, or block anywhere but the futex on ctl.gen. */
#include "pool/pool_int.h"
#include "pool/pool_test.h"
#include "pool/trace_int.h"
#include "sys/sys.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define TARGET_CHUNK_NS 200000 /* aim for chunks of ~0.2 ms: cheap claims, fine balance */

int64_t mproc__pool_now_ns(void)
{
    return mproc__now_ns();
}

/* Sleeps until the parent publishes a job or submits a task (ctl.events moves). A
 * short spin first catches back-to-back work without a sleep/wake round trip; the
 * sleepers count lets the parent skip the wake syscall when nobody sleeps (both sides
 * use seq_cst, so a wake cannot fall between our check and our sleep). */
static void wait_events(struct ctl *c, uint32_t seen)
{
    for (int i = 0; i < 4000; i++) {
        if (atomic_load_explicit(&c->events, memory_order_acquire) != seen)
            return;
        cpu_relax();
    }
    atomic_fetch_add(&c->sleepers, 1);
    while (atomic_load(&c->events) == seen)
        syscall(SYS_futex, &c->events, FUTEX_WAIT, seen, NULL, NULL, 0);
    atomic_fetch_sub(&c->sleepers, 1);
}

/* Copies the published job, consistent with generation g; 0 if it changed meanwhile. */
static int read_job(struct ctl *c, uint32_t g, struct job *j)
{
    *j = c->job;
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&c->gen, memory_order_acquire) == g;
}

static uint64_t chunk_for(const struct job *j, uint64_t pos, int nworkers, int64_t item_ns)
{
    uint64_t left = j->count - pos;
    if (j->chunk)
        return j->chunk < left ? j->chunk : left;
    uint64_t guided = (left + 2 * (uint64_t)nworkers - 1) / (2 * (uint64_t)nworkers);
    uint64_t c = item_ns < 0 ? 1 : (uint64_t)(TARGET_CHUNK_NS / (item_ns + 1)) + 1;
    if (c > guided)
        c = guided;
    return c ? c : 1;
}

/* Claims positions [*b, *b + *n) of job generation g. 0 when none are left. */
static int claim(struct ctl *c, uint32_t g, const struct job *j, int64_t item_ns, uint64_t *b,
                 uint64_t *n)
{
    uint64_t cur = atomic_load_explicit(&c->next, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(cur >> 32) != g)
            return 0;
        uint64_t pos = cur & 0xffffffffu;
        if (pos >= j->count)
            return 0;
        uint64_t k = chunk_for(j, pos, c->nworkers, item_ns);
        if (atomic_compare_exchange_weak_explicit(&c->next, &cur, cur + k, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *b = pos;
            *n = k;
            return 1;
        }
    }
}

/* Runs positions [b, b+n) of a job; returns how many items failed (fn returned non-zero). */
static uint64_t run_chunk(struct ctl *c, struct wslot *w, const struct job *j, uint64_t b,
                          uint64_t n)
{
    uint64_t failed = 0;
    for (uint64_t pos = b; pos < b + n; pos++) {
        uint64_t i = j->list ? j->list[pos] : pos;
        /* The start before the index, released with it: the parent, enforcing timeouts,
         * reads the index and then the start, and must never pair this item with an older
         * start (the last item of a map that ended long ago would look overdue). */
        if (j->timeouts)
            atomic_store_explicit(&w->t0_ns, mproc__now_ns(), memory_order_relaxed);
        POOL_TP(MPROC_PT_WORKER_ITEM, (int)(w - c->w));
        atomic_store_explicit(&w->cur, i, memory_order_release);
        atomic_signal_fence(memory_order_seq_cst);
        int rc = j->fn(j->in + i * j->in_size, j->out + i * j->out_size, c->ctx);
        failed += rc != 0;
        /* status after the output: a finished status means the output is there. */
        atomic_store_explicit((_Atomic int32_t *)&j->status[i], rc == POOL_PENDING ? -1 : rc,
                              memory_order_release);
    }
    atomic_store_explicit(&w->cur, POOL_NO_ITEM, memory_order_release);
    return failed;
}

/* Adds n to a counter of job generation g (its high 32 bits); 0 if the counter belongs
 * to another generation by now, else the new count (the low 32 bits). A worker can mark
 * itself idle and be slow to count what it ran: by then the parent may have published
 * the next phase, which must not count it. */
static uint64_t count_in(_Atomic uint64_t *ctr, uint32_t g, uint64_t n)
{
    uint64_t cur = atomic_load_explicit(ctr, memory_order_relaxed);
    do {
        if ((uint32_t)(cur >> 32) != g)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(ctr, &cur, cur + n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    return (cur + n) & 0xffffffffu;
}

/* Publishes this worker's share of job generation g. The worker whose share completes the
 * job wakes the parent. One atomic per worker per job keeps the hot path free of shared
 * writes other than the claim itself. */
static void publish_done(struct ctl *c, const struct job *j, uint32_t g, uint64_t ran,
                         uint64_t failed)
{
    if (ran == 0)
        return;
    if (failed)
        (void)count_in(&c->failed, g, failed);
    if (count_in(&c->done, g, ran) == j->count) {
        uint64_t one = 1;
        (void)mproc__write(c->efd, &one, sizeof one);
    }
}

/* Runs job g until nothing is left to claim. Returns items run. */
static uint64_t run_job(struct ctl *c, struct wslot *w, uint32_t g, int64_t *item_ns,
                        uint64_t budget)
{
    struct job j;
    if (!read_job(c, g, &j) || !j.fn)
        return 0;
    uint64_t ran = 0, failed = 0, b, n;
    /* Chunks are timed only where it matters: adaptive sizing and tracing. */
    int timed = j.chunk == 0 || c->trace_fd >= 0;
    atomic_store_explicit(&w->state, W_RUNNING, memory_order_seq_cst);
    int64_t start = mproc__now_ns();
    while (claim(c, g, &j, *item_ns, &b, &n)) {
        int64_t t0 = timed ? mproc__now_ns() : 0;
        failed += run_chunk(c, w, &j, b, n);
        if (timed) {
            int64_t t1 = mproc__now_ns();
            mproc__trace_span(c->trace_fd, (int)(w - c->w), "chunk", t0, t1, (long long)b,
                              (long long)n);
            *item_ns = (t1 - t0) / (int64_t)n;
        }
        ran += n;
        if (ran >= budget)
            break;
    }
    atomic_fetch_add_explicit(&w->busy_ns, mproc__now_ns() - start, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->tasks, ran, memory_order_relaxed);
    atomic_store_explicit(&w->state, W_IDLE, memory_order_seq_cst);
    POOL_TP(MPROC_PT_WORKER_IDLE, (int)(w - c->w));
    publish_done(c, &j, g, ran, failed);
    return ran;
}

/* Claims the oldest queued task with one CAS that names this worker. */
static int claim_task(struct ctl *c, int slot, uint32_t *out)
{
    while (atomic_load_explicit(&c->queued, memory_order_acquire) > 0) {
        uint32_t best = UINT32_MAX;
        uint64_t best_ticket = UINT64_MAX;
        for (uint32_t i = 0; i < c->ntasks; i++) {
            if (atomic_load_explicit(&c->tstate[i], memory_order_acquire) != T_QUEUED)
                continue;
            uint64_t t = mproc__tslot(c, i)->ticket;
            if (t < best_ticket) {
                best_ticket = t;
                best = i;
            }
        }
        if (best == UINT32_MAX)
            return 0;
        uint32_t expect = T_QUEUED;
        if (atomic_compare_exchange_strong(&c->tstate[best], &expect, T_RUNNING + (uint32_t)slot)) {
            atomic_fetch_sub(&c->queued, 1);
            *out = best;
            return 1;
        }
    }
    return 0;
}

static void run_task(struct ctl *c, struct wslot *w, uint32_t i)
{
    struct tslot *t = mproc__tslot(c, i);
    int64_t t0 = mproc__now_ns();
    atomic_store(&t->t0_ns, t0);
    size_t rl = c->task_bytes;
    int rc;
    if (t->mapfn) {
        rc = t->mapfn(mproc__targ(c, i), mproc__tres(c, i), c->ctx);
        rl = t->res_len;
    } else {
        rc = t->fn(mproc__targ(c, i), t->arg_len, mproc__tres(c, i), &rl, c->ctx);
    }
    t->rc = rc;
    t->res_len = rl < c->task_bytes ? rl : c->task_bytes;
    atomic_store_explicit(&c->tstate[i], T_DONE, memory_order_release);
    int64_t t1 = mproc__now_ns();
    mproc__trace_span(c->trace_fd, (int)(w - c->w), "task", t0, t1, (long long)t->ticket, 1);
    atomic_fetch_add_explicit(&w->busy_ns, t1 - t0, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->tasks, 1, memory_order_relaxed);
    if (atomic_load(&c->parent_waiting)) {
        uint64_t one = 1;
        (void)mproc__write(c->efd, &one, sizeof one);
    }
}

int mproc__pool_worker_main(void *arg)
{
    struct pool_warg *a = arg;
    struct ctl *c = a->ctl;
    struct wslot *w = &c->w[a->slot];
    if (c->init && c->init(c->ctx) != 0)
        return 3;
    atomic_store(&w->ready, 1);
    int64_t item_ns = -1; /* unknown: the first chunk is a single item, to measure */
    uint64_t mine = 0;
    uint64_t limit = c->max_tasks > 0 ? (uint64_t)c->max_tasks : UINT64_MAX;
    for (;;) {
        uint32_t ev = atomic_load_explicit(&c->events, memory_order_acquire);
        if (atomic_load(&c->shutdown))
            return 0;
        uint32_t g = atomic_load_explicit(&c->gen, memory_order_acquire);
        POOL_TP(MPROC_PT_WORKER_GEN, a->slot);
        uint64_t ran = run_job(c, w, g, &item_ns, limit - mine);
        uint32_t t;
        while (mine + ran < limit && claim_task(c, a->slot, &t)) {
            run_task(c, w, t);
            ran++;
        }
        mine += ran;
        if (mine >= limit)
            return 0; /* recycled: the parent starts a fresh worker in this slot */
        if (ran)
            continue;
        int64_t t0 = mproc__now_ns();
        wait_events(c, ev);
        atomic_fetch_add_explicit(&w->idle_ns, mproc__now_ns() - t0, memory_order_relaxed);
    }
}
