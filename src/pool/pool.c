/* pool.c: the parent side of a process pool: start and replace workers, publish map
 * jobs, wait for them while watching the workers' pidfds, blame and re-run work after a
 * crash or a timeout.
 *
 * How a crash costs only its own item: every item's status starts POOL_PENDING and a
 * worker records which item it is running (worker.c). When a worker dies, the item it
 * was running is blamed (MPROC_ECRASHED / MPROC_ETIMEDOUT, or left pending to retry);
 * once the job is exhausted and every live worker is idle, the items still pending are
 * exactly those that were claimed by the dead worker but never run: they are published
 * again as a list, and this repeats until none is pending. No wake-up is relied upon:
 * the eventfd is level-triggered and the wait is sliced while recovery is under way.
 * Must not: start threads, install signal handlers, or touch workers' memory other than
 * the shared control block and arena. */
#include "pool/pool_int.h"
#include "pool/pool_test.h"
#include "pool/trace_int.h"
#include "sys/sys.h"

#include <mproc/proc.h>

#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_ARENA ((size_t)256 << 20)
#define MAX_WINDOW    ((uint64_t)1 << 22) /* items per published job (meta region size) */
#define MAX_WORKERS   1024

enum reason { R_NONE = 0, R_TIMEOUT = 1, R_CANCEL = 2 };

struct mproc_future {
    mproc_pool *pool; /* NULL once the pool is gone */
    uint32_t slot;
    int status; /* valid once done (or orphaned) */
    int exitcode;
    int done;
    void *orphan_res; /* result copied out when the pool was freed first */
    size_t orphan_len;
};

struct retry {
    uint64_t item;
    int count;
};

struct mproc_pool {
    struct ctl *ctl;
    size_t map_size, ctl_size;
    int32_t *meta_status; /* MAX_WINDOW statuses */
    uint64_t *meta_list;  /* MAX_WINDOW indices */
    char *arena;
    size_t arena_size;
    int n;
    mproc_proc **procs;
    struct pool_warg *wargs;
    int *reason;
    /* what a worker was killed for (reason != R_NONE): a map item or a task slot. The kill
     * lands a moment after the decision; by then the worker may have finished that and
     * started something else, which is then run again, not blamed. */
    uint64_t *kill_item; /* POOL_NO_ITEM: none */
    int64_t *kill_task;  /* -1: none */
    int *restarts, *crashes;
    mproc_pool_opts o;
    int closed, broken, init_deaths;
    _Atomic int busy;     /* a map, imap or future wait is running on some thread */
    _Atomic int stop_req; /* mproc_pool_terminate asked from another thread */
    /* the map under way */
    int phase_lost;
    int window_clean; /* the window ran in one phase: no crash, ctl.failed is exact */
    int *exit_info;   /* user's, offset to this window */
    struct retry *retries;
    size_t nretries, cap_retries;
    /* submitted tasks: parent-side bookkeeping per task slot */
    uint32_t *free_slots;
    uint32_t nfree;
    mproc_future **fut;
    int *tretries, *texit;
};

static size_t page_round(size_t x)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return (x + pg - 1) / pg * pg;
}

static int start_worker(mproc_pool *p, int i)
{
    struct wslot *w = &p->ctl->w[i];
    atomic_store(&w->cur, POOL_NO_ITEM);
    atomic_store(&w->ready, 0);
    atomic_store(&w->state, W_IDLE);
    p->reason[i] = R_NONE;
    p->kill_item[i] = POOL_NO_ITEM;
    p->kill_task[i] = -1;
    p->wargs[i] = (struct pool_warg){.ctl = p->ctl, .slot = i};
    mproc_opts fo = {.name = "mproc-worker"};
    int rc = mproc_fork(&p->procs[i], mproc__pool_worker_main, &p->wargs[i], &fo);
    if (rc < 0) {
        atomic_store(&w->state, W_DEAD);
        p->procs[i] = NULL;
    } else {
        mproc__trace_instant(p->ctl->trace_fd, i, "start", mproc__now_ns(),
                             mproc_proc_pid(p->procs[i]), 0);
    }
    return rc;
}

static int check_opts(const mproc_pool_opts *o)
{
    if (o->workers < 0 || o->workers > MAX_WORKERS || o->max_tasks < 0 || o->max_pending < 0 ||
        o->task_bytes > ((size_t)1 << 30) || o->task_timeout_ms < 0 || o->retries < 0 ||
        (o->schedule != MPROC_SCHED_DYNAMIC && o->schedule != MPROC_SCHED_STATIC))
        return MPROC_EINVAL;
    return 0;
}

static int pool_alloc(mproc_pool *p)
{
    size_t n = (size_t)p->n;
    p->procs = calloc(n, sizeof *p->procs);
    p->wargs = calloc(n, sizeof *p->wargs);
    p->reason = calloc(n, sizeof *p->reason);
    p->kill_item = calloc(n, sizeof *p->kill_item);
    p->kill_task = calloc(n, sizeof *p->kill_task);
    p->restarts = calloc(n, sizeof *p->restarts);
    p->crashes = calloc(n, sizeof *p->crashes);
    if (!p->procs || !p->wargs || !p->reason || !p->kill_item || !p->kill_task || !p->restarts ||
        !p->crashes)
        return MPROC_ENOMEM;
    uint32_t nt = (uint32_t)(p->o.max_pending ? p->o.max_pending : 1024);
    size_t tb = p->o.task_bytes ? p->o.task_bytes : 4096;
    size_t tslot_size = (sizeof(struct tslot) + 2 * tb + 63) / 64 * 64;
    p->free_slots = calloc(nt, sizeof *p->free_slots);
    p->fut = calloc(nt, sizeof *p->fut);
    p->tretries = calloc(nt, sizeof *p->tretries);
    p->texit = calloc(nt, sizeof *p->texit);
    if (!p->free_slots || !p->fut || !p->tretries || !p->texit)
        return MPROC_ENOMEM;
    for (uint32_t i = 0; i < nt; i++)
        p->free_slots[i] = nt - 1 - i;
    p->nfree = nt;
    p->ctl_size = page_round(sizeof(struct ctl) + n * sizeof(struct wslot));
    size_t meta = page_round(MAX_WINDOW * (sizeof(int32_t) + sizeof(uint64_t)));
    size_t tasks = page_round(nt * sizeof(uint32_t)) + page_round(nt * tslot_size);
    p->map_size = p->ctl_size + meta + tasks + p->arena_size;
    void *m = mmap(NULL, p->map_size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        p->ctl = NULL;
        return -errno;
    }
    p->ctl = m;
    p->meta_status = (int32_t *)((char *)m + p->ctl_size);
    p->meta_list = (uint64_t *)(p->meta_status + MAX_WINDOW);
    char *t = (char *)m + p->ctl_size + meta;
    p->ctl->ntasks = nt;
    p->ctl->task_bytes = (uint32_t)tb;
    p->ctl->tslot_size = tslot_size;
    p->ctl->tstate = (_Atomic uint32_t *)t;
    p->ctl->tslots = t + page_round(nt * sizeof(uint32_t));
    p->arena = (char *)m + p->ctl_size + meta + tasks;
    return 0;
}

static void pool_release(mproc_pool *p)
{
    if (p->ctl) {
        mproc__trace_close(p->ctl->trace_fd);
        mproc__close(p->ctl->efd);
        munmap(p->ctl, p->map_size);
    }
    free(p->procs);
    free(p->wargs);
    free(p->reason);
    free(p->kill_item);
    free(p->kill_task);
    free(p->restarts);
    free(p->crashes);
    free(p->retries);
    free(p->free_slots);
    free(p->fut);
    free(p->tretries);
    free(p->texit);
    free(p);
}

int mproc_pool_new(mproc_pool **out, const mproc_pool_opts *opts)
{
    static const mproc_pool_opts defaults;
    const mproc_pool_opts *o = opts ? opts : &defaults;
    if (!out)
        return MPROC_EINVAL;
    *out = NULL;
    int rc = check_opts(o);
    if (rc < 0)
        return rc;
    mproc_pool *p = calloc(1, sizeof *p);
    if (!p)
        return MPROC_ENOMEM;
    p->o = *o;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->n = o->workers ? o->workers : (int)(cpus > 0 ? cpus : 1);
    p->arena_size = page_round(o->arena_size ? o->arena_size : DEFAULT_ARENA);
    if ((rc = pool_alloc(p)) < 0)
        goto fail;
    struct ctl *c = p->ctl;
    c->trace_fd = -1; /* the block is zero-filled: 0 would name stdin */
    c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->efd < 0) {
        rc = -errno;
        goto fail;
    }
    const char *trace = o->trace_path ? o->trace_path : getenv("MPROC_TRACE");
    if (trace && *trace && (c->trace_fd = mproc__trace_open(trace)) < 0) {
        rc = c->trace_fd;
        c->trace_fd = -1;
        goto fail;
    }
    c->nworkers = p->n;
    c->max_tasks = o->max_tasks;
    c->init = o->initializer;
    c->ctx = o->ctx;
    for (int i = 0; i < p->n; i++)
        if ((rc = start_worker(p, i)) < 0)
            goto fail;
    *out = p;
    return 0;
fail:
    if (p->ctl)
        mproc_pool_terminate(p);
    pool_release(p);
    return rc;
}

/* ---- crash and timeout accounting ---------------------------------------------------- */

static int *retry_slot(mproc_pool *p, uint64_t item)
{
    for (size_t i = 0; i < p->nretries; i++)
        if (p->retries[i].item == item)
            return &p->retries[i].count;
    if (p->nretries == p->cap_retries) {
        size_t cap = p->cap_retries ? 2 * p->cap_retries : 16;
        struct retry *r = realloc(p->retries, cap * sizeof *r);
        if (!r)
            return NULL;
        p->retries = r;
        p->cap_retries = cap;
    }
    p->retries[p->nretries] = (struct retry){item, 0};
    return &p->retries[p->nretries++].count;
}

static void blame(mproc_pool *p, uint64_t item, int reason, int exitcode)
{
    _Atomic int32_t *st = (_Atomic int32_t *)&p->meta_status[item];
    if (atomic_load(st) != POOL_PENDING)
        return; /* it finished before the worker died */
    if (p->exit_info)
        p->exit_info[item] = exitcode;
    if (reason == R_TIMEOUT) {
        atomic_store(st, MPROC_ETIMEDOUT);
        return;
    }
    int *tries = retry_slot(p, item);
    if (tries && *tries < p->o.retries) {
        (*tries)++; /* left pending: the next recovery phase runs it again */
        return;
    }
    atomic_store(st, MPROC_ECRASHED);
}

static void wake_workers(struct ctl *c)
{
    atomic_fetch_add(&c->events, 1);
    if (atomic_load(&c->sleepers) > 0)
        syscall(SYS_futex, &c->events, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* The task a dead worker was running, if any: fail it, or queue it again to retry. */
static void blame_task(mproc_pool *p, int i, int exitcode)
{
    struct ctl *c = p->ctl;
    for (uint32_t j = 0; j < c->ntasks; j++) {
        if (atomic_load(&c->tstate[j]) != T_RUNNING + (uint32_t)i)
            continue;
        struct tslot *t = mproc__tslot(c, j);
        /* killed for another task, which had finished when the kill landed: run it again */
        int collateral = p->reason[i] != R_NONE && p->kill_task[i] != (int64_t)j;
        if (collateral || (p->reason[i] == R_NONE && p->tretries[j] < p->o.retries)) {
            p->tretries[j] += !collateral;
            atomic_store(&t->t0_ns, 0);
            atomic_fetch_add(&c->queued, 1);
            atomic_store(&c->tstate[j], T_QUEUED);
            wake_workers(c);
            continue;
        }
        t->rc = p->reason[i] == R_TIMEOUT  ? MPROC_ETIMEDOUT
                : p->reason[i] == R_CANCEL ? MPROC_ECANCELED
                                           : MPROC_ECRASHED;
        t->res_len = 0;
        p->texit[j] = exitcode;
        atomic_store(&c->tstate[j], T_DONE);
    }
}

static void handle_death(mproc_pool *p, int i)
{
    mproc_status st;
    if (mproc_proc_wait(p->procs[i], 0, &st) != 0)
        memset(&st, 0, sizeof st);
    struct wslot *w = &p->ctl->w[i];
    uint64_t cur = atomic_load(&w->cur);
    int was_running = atomic_load(&w->state) == W_RUNNING;
    int clean = st.exited && st.code == 0 && !was_running;
    int exitcode = st.unknown ? 0 : mproc_exitcode(&st);
    /* An item the worker was not killed for (the kill was aimed at an item or task that
     * finished just before it landed) stays pending: the recovery phase runs it again. */
    if (cur != POOL_NO_ITEM && p->ctl->job.fn && (p->reason[i] == R_NONE || cur == p->kill_item[i]))
        blame(p, cur, p->reason[i], exitcode);
    blame_task(p, i, exitcode);
    if (was_running)
        p->phase_lost = 1;
    static const char *const what[] = {"crash", "timeout", "cancel"};
    mproc__trace_instant(p->ctl->trace_fd, i, clean ? "exit" : what[p->reason[i]], mproc__now_ns(),
                         cur == POOL_NO_ITEM ? -1 : (long long)cur, exitcode);
    p->init_deaths = atomic_load(&w->ready) ? 0 : p->init_deaths + 1;
    atomic_store(&w->state, W_DEAD);
    mproc_proc_free(p->procs[i]);
    p->procs[i] = NULL;
    p->restarts[i]++;
    p->crashes[i] += !clean;
    if (p->init_deaths > 3 * p->n) {
        p->broken = 1; /* the initializer keeps failing: stop respawning */
        return;
    }
    if (!p->closed)
        (void)start_worker(p, i);
}

/* Kills worker i for map item `item` or task slot `task` (the other one POOL_NO_ITEM or
 * -1): only what it was killed for is blamed when its death is handled. */
static void kill_worker(mproc_pool *p, int i, int reason, uint64_t item, int64_t task)
{
    if (!p->procs[i] || p->reason[i] != R_NONE)
        return;
    p->reason[i] = reason;
    p->kill_item[i] = item;
    p->kill_task[i] = task;
    POOL_TP(MPROC_PT_KILL, i);
    (void)mproc_proc_signal(p->procs[i], SIGKILL);
}

static void enforce_task_timeouts(mproc_pool *p, int64_t now, int64_t limit)
{
    struct ctl *c = p->ctl;
    for (uint32_t j = 0; j < c->ntasks; j++) {
        uint32_t s = atomic_load(&c->tstate[j]);
        if (s < T_RUNNING)
            continue;
        int64_t t0 = atomic_load(&mproc__tslot(c, j)->t0_ns);
        if (t0 != 0 && now - t0 > limit && (int)(s - T_RUNNING) < p->n)
            kill_worker(p, (int)(s - T_RUNNING), R_TIMEOUT, POOL_NO_ITEM, (int64_t)j);
    }
}

static void enforce_timeouts(mproc_pool *p, int64_t now)
{
    int64_t limit = (int64_t)p->o.task_timeout_ms * 1000000;
    enforce_task_timeouts(p, now, limit);
    for (int i = 0; i < p->n; i++) {
        struct wslot *w = &p->ctl->w[i];
        uint64_t cur = atomic_load(&w->cur);
        if (!p->procs[i] || p->reason[i] == R_TIMEOUT || cur == POOL_NO_ITEM)
            continue;
        if (now - atomic_load(&w->t0_ns) > limit)
            kill_worker(p, i, R_TIMEOUT, cur, -1);
    }
}

/* Replaces workers that died while idle (killed from outside, OOM killer), so that a
 * job starts with every slot staffed and stats tell the truth. Never blocks. */
static void reap_dead(mproc_pool *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->procs[i] && mproc__poll1(mproc_proc_fd(p->procs[i]), POLLIN, 0) > 0)
            handle_death(p, i);
}

/* ---- publishing and waiting ---------------------------------------------------------- */

void (*mproc__pool_test_point)(int point, int slot);

static void publish(mproc_pool *p, const struct job *j)
{
    struct ctl *c = p->ctl;
    uint32_t g = atomic_load(&c->gen) + 1;
    /* The counters first, tagged with the new generation: a worker that read the previous
     * one just before this (and may read the job below half written) can neither claim
     * from this job nor count into it. The fence keeps the job's writes after them. */
    atomic_store(&c->next, (uint64_t)g << 32);
    atomic_store(&c->done, (uint64_t)g << 32);
    atomic_store(&c->failed, (uint64_t)g << 32);
    atomic_thread_fence(memory_order_release);
    c->job = *j;
    POOL_TP(MPROC_PT_PUBLISH, -1);
    atomic_store_explicit(&c->gen, g, memory_order_release);
    wake_workers(c);
}

static int all_idle(mproc_pool *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->procs[i] && atomic_load(&p->ctl->w[i].state) == W_RUNNING)
            return 0;
    return 1;
}

static int phase_over(mproc_pool *p)
{
    struct ctl *c = p->ctl;
    if (atomic_load(&p->stop_req))
        return 1;
    if ((atomic_load(&c->done) & 0xffffffffu) >= c->job.count)
        return 1;
    if (!p->phase_lost && !p->broken)
        return 0;
    uint64_t pos = atomic_load(&c->next) & 0xffffffffu;
    return (pos >= c->job.count || p->broken) && all_idle(p);
}

static int poll_slice(mproc_pool *p)
{
    if (p->phase_lost)
        return 2;
    if (p->o.task_timeout_ms > 0)
        return p->o.task_timeout_ms < 10 ? 1 : 10;
    return 100; /* a safety net only: every event that matters wakes the poll */
}

/* Waits up to slice_ms for anything the parent must act on, and acts: a worker died
 * (blame, replace), a timeout passed (kill). The eventfd only wakes us early. */
static int tend(mproc_pool *p, int slice_ms)
{
    if (atomic_load(&p->stop_req))
        return MPROC_ECANCELED;
    struct pollfd fds[MAX_WORKERS + 1];
    fds[0] = (struct pollfd){.fd = p->ctl->efd, .events = POLLIN};
    for (int i = 0; i < p->n; i++)
        fds[i + 1] =
            (struct pollfd){.fd = p->procs[i] ? mproc_proc_fd(p->procs[i]) : -1, .events = POLLIN};
    int r = poll(fds, (nfds_t)p->n + 1, slice_ms);
    if (r < 0 && errno != EINTR)
        return -errno;
    if (r > 0 && (fds[0].revents & POLLIN)) {
        uint64_t v;
        (void)mproc__read(p->ctl->efd, &v, sizeof v);
    }
    for (int i = 0; r > 0 && i < p->n; i++)
        if (p->procs[i] && (fds[i + 1].revents & (POLLIN | POLLHUP)))
            handle_death(p, i);
    if (p->o.task_timeout_ms > 0)
        enforce_timeouts(p, mproc__now_ns());
    return 0;
}

static int wait_phase(mproc_pool *p)
{
    while (!phase_over(p)) {
        int rc = tend(p, poll_slice(p));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Runs job j to the end, re-publishing whatever crashes left pending. */
static int run_phases(mproc_pool *p, struct job j)
{
    uint64_t total = j.count;
    p->window_clean = 1;
    for (;;) {
        p->phase_lost = 0;
        publish(p, &j);
        int rc = wait_phase(p);
        if (rc < 0)
            return rc;
        if (atomic_load(&p->stop_req))
            return MPROC_ECANCELED;
        if (!p->phase_lost)
            return 0;
        p->window_clean = 0; /* statuses must be read item by item */
        uint64_t k = 0;
        for (uint64_t i = 0; i < total; i++)
            if (p->meta_status[i] == POOL_PENDING)
                p->meta_list[k++] = i;
        if (k == 0)
            return 0;
        if (p->broken)
            return MPROC_EBROKEN;
        j.list = p->meta_list;
        j.count = k;
        j.chunk = 1; /* recovery runs item by item, so the next crash is narrowed at once */
    }
}

/* ---- map ------------------------------------------------------------------------------ */

static int in_arena(const mproc_pool *p, const void *ptr, size_t len)
{
    const char *c = ptr;
    return c >= p->arena && len <= p->arena_size && c + len <= p->arena + p->arena_size;
}

static uint64_t window_items(const mproc_pool *p, int copy, size_t in_size, size_t out_size)
{
    uint64_t w = MAX_WINDOW;
    if (copy) {
        uint64_t fit = p->arena_size / (in_size + out_size);
        if (fit < w)
            w = fit;
    }
    return w;
}

/* Closes the pool and kills and reaps every worker. Only the thread using the pool. */
static void stop_workers(mproc_pool *p)
{
    p->closed = 1;
    if (p->ctl)
        atomic_store(&p->ctl->shutdown, 1);
    for (int i = 0; i < p->n; i++) {
        mproc_proc_free(p->procs[i]); /* kills and reaps a running worker */
        p->procs[i] = NULL;
    }
}

static int map_window(mproc_pool *p, mproc_map_fn fn, const char *in, char *out, uint64_t n,
                      size_t in_size, size_t out_size, int copy, const mproc_map_opts *mo)
{
    const char *win = in;
    char *wout = out;
    if (copy) {
        memcpy(p->arena, in, n * in_size);
        win = p->arena;
        wout = p->arena + n * in_size;
    }
    for (uint64_t i = 0; i < n; i++)
        p->meta_status[i] = POOL_PENDING;
    p->nretries = 0;
    struct job j = {.fn = fn,
                    .in = win,
                    .out = wout,
                    .status = p->meta_status,
                    .in_size = in_size,
                    .out_size = out_size,
                    .count = n,
                    .chunk = mo ? mo->chunk : 0,
                    .timeouts = p->o.task_timeout_ms > 0};
    if (p->o.schedule == MPROC_SCHED_STATIC && j.chunk == 0)
        j.chunk = (n + (uint64_t)p->n - 1) / (uint64_t)p->n;
    int rc = run_phases(p, j);
    /* Stopped from another thread: workers may still be running items of this window. Stop
     * them before reading anything back, so that each item's output and status (read by
     * the caller) come from the same moment: an item never reads as done with its output
     * copied before it was written. */
    if (rc == MPROC_ECANCELED)
        stop_workers(p);
    if (copy)
        memcpy(out, wout, n * out_size);
    return rc;
}

static int map_all(mproc_pool *p, mproc_map_fn fn, const void *in, size_t n, size_t in_size,
                   void *out, size_t out_size, int *item_status, const mproc_map_opts *mo);

int mproc_pool_map(mproc_pool *p, mproc_map_fn fn, const void *in, size_t n, size_t in_size,
                   void *out, size_t out_size, int *item_status, const mproc_map_opts *mo)
{
    if (!p || !fn || (n > 0 && (!in || !out || in_size == 0 || out_size == 0)))
        return MPROC_EINVAL;
    if (p->closed)
        return MPROC_ECLOSED;
    if (p->broken)
        return MPROC_EBROKEN;
    if (n == 0)
        return 0;
    reap_dead(p);
    atomic_store(&p->busy, 1);
    int rc = map_all(p, fn, in, n, in_size, out, out_size, item_status, mo);
    atomic_store(&p->busy, 0);
    if (atomic_load(&p->stop_req))
        mproc_pool_terminate(p);
    return rc;
}

static int map_all(mproc_pool *p, mproc_map_fn fn, const void *in, size_t n, size_t in_size,
                   void *out, size_t out_size, int *item_status, const mproc_map_opts *mo)
{
    int copy = !(in_arena(p, in, n * in_size) && in_arena(p, out, n * out_size));
    uint64_t win = window_items(p, copy, in_size, out_size);
    if (win == 0)
        return MPROC_EMSGSIZE; /* one item does not fit the arena */
    int failed = 0;
    for (size_t b = 0; b < n; b += win) {
        uint64_t k = n - b < win ? n - b : win;
        p->exit_info = mo && mo->exit_info ? mo->exit_info + b : NULL;
        int rc = map_window(p, fn, (const char *)in + b * in_size, (char *)out + b * out_size, k,
                            in_size, out_size, copy, mo);
        if (rc == 0 && p->window_clean) {
            /* No crash: every status is final and the workers counted the failures. */
            failed += (int)(atomic_load(&p->ctl->failed) & 0xffffffffu);
            if (item_status)
                memcpy(item_status + b, p->meta_status, k * sizeof(int));
        } else {
            for (uint64_t i = 0; i < k; i++) {
                int s = p->meta_status[i] != POOL_PENDING ? p->meta_status[i]
                        : atomic_load(&p->stop_req)       ? MPROC_ECANCELED
                                                          : MPROC_EBROKEN;
                failed += s != 0;
                if (item_status)
                    item_status[b + i] = s;
            }
        }
        if (rc == MPROC_ECANCELED) { /* terminated from another thread: the rest never ran */
            for (size_t i = b + k; i < n; i++, failed++)
                if (item_status)
                    item_status[i] = MPROC_ECANCELED;
            break;
        }
        if (rc < 0)
            return rc;
    }
    p->ctl->job.fn = NULL;
    return failed;
}

/* ---- the rest ------------------------------------------------------------------------- */

void *mproc_pool_arena(mproc_pool *p, size_t *size)
{
    if (size)
        *size = p ? p->arena_size : 0;
    return p ? p->arena : NULL;
}

int mproc_pool_size(const mproc_pool *p)
{
    return p ? p->n : MPROC_EINVAL;
}

int mproc_pool_stats(mproc_pool *p, mproc_worker_stats *stats, size_t n)
{
    if (!p || (!stats && n))
        return MPROC_EINVAL;
    if (!p->closed)
        reap_dead(p);
    for (size_t i = 0; i < n && i < (size_t)p->n; i++) {
        struct wslot *w = &p->ctl->w[i];
        stats[i] = (mproc_worker_stats){.pid = p->procs[i] ? mproc_proc_pid(p->procs[i]) : 0,
                                        .tasks = (long long)atomic_load(&w->tasks),
                                        .busy_us = atomic_load(&w->busy_ns) / 1000,
                                        .idle_us = atomic_load(&w->idle_ns) / 1000,
                                        .restarts = p->restarts[i],
                                        .crashes = p->crashes[i]};
    }
    return p->n;
}

int mproc_pool_close(mproc_pool *p)
{
    if (!p)
        return MPROC_EINVAL;
    p->closed = 1;
    atomic_store(&p->ctl->shutdown, 1);
    atomic_fetch_add(&p->ctl->gen, 1);
    wake_workers(p->ctl);
    return 0;
}

int mproc_pool_join(mproc_pool *p, int timeout_ms)
{
    if (!p || timeout_ms < -1)
        return MPROC_EINVAL;
    if (!p->closed)
        return MPROC_EBUSY;
    int64_t deadline = mproc__deadline(timeout_ms);
    for (int i = 0; i < p->n; i++) {
        if (!p->procs[i])
            continue;
        int rc = mproc_proc_wait(p->procs[i], mproc__ms_left(deadline), NULL);
        if (rc == MPROC_ETIMEDOUT)
            return rc;
        mproc_proc_free(p->procs[i]);
        p->procs[i] = NULL;
    }
    return 0;
}

int mproc_pool_terminate(mproc_pool *p)
{
    if (!p)
        return MPROC_EINVAL;
    if (atomic_load(&p->busy)) {
        /* Another thread is inside map/imap/future_wait: ask it to stop; it kills the
         * workers itself on its way out, so the handles are touched by one thread only. */
        atomic_store(&p->stop_req, 1);
        uint64_t one = 1;
        (void)mproc__write(p->ctl->efd, &one, sizeof one);
        return 0;
    }
    stop_workers(p);
    return 0;
}

static void orphan_futures(mproc_pool *p);

void mproc_pool_free(mproc_pool *p)
{
    if (!p)
        return;
    mproc_pool_terminate(p);
    orphan_futures(p);
    pool_release(p);
}

/* ---- submitted tasks and futures ---------------------------------------------------------- */

static int slot_finished(const mproc_pool *p, uint32_t slot)
{
    uint32_t s = atomic_load_explicit(&p->ctl->tstate[slot], memory_order_acquire);
    return s == T_DONE || s == T_CANCELLED;
}

/* Queues task slot i (its argument already in place) after every earlier ticket. */
static void queue_slot(mproc_pool *p, uint32_t i)
{
    struct ctl *c = p->ctl;
    struct tslot *t = mproc__tslot(c, i);
    t->ticket = atomic_fetch_add(&c->submitted, 1);
    atomic_store(&t->t0_ns, 0);
    p->tretries[i] = 0;
    p->texit[i] = 0;
    atomic_fetch_add(&c->queued, 1);
    atomic_store_explicit(&c->tstate[i], T_QUEUED, memory_order_release);
    wake_workers(c);
}

static int take_slot(mproc_pool *p, uint32_t *slot)
{
    if (p->closed)
        return MPROC_ECLOSED;
    if (p->broken)
        return MPROC_EBROKEN;
    if (p->nfree == 0)
        return MPROC_EAGAIN;
    *slot = p->free_slots[--p->nfree];
    return 0;
}

static void give_slot(mproc_pool *p, uint32_t slot)
{
    atomic_store(&p->ctl->tstate[slot], T_FREE);
    p->fut[slot] = NULL;
    p->free_slots[p->nfree++] = slot;
}

int mproc_pool_submit(mproc_pool *p, mproc_task_fn fn, const void *arg, size_t len,
                      mproc_future **out)
{
    if (!p || !fn || !out || (len && !arg))
        return MPROC_EINVAL;
    *out = NULL;
    if (len > p->ctl->task_bytes)
        return MPROC_EMSGSIZE;
    mproc_future *f = calloc(1, sizeof *f);
    if (!f)
        return MPROC_ENOMEM;
    uint32_t slot;
    int rc = take_slot(p, &slot);
    if (rc < 0) {
        free(f);
        return rc;
    }
    struct tslot *t = mproc__tslot(p->ctl, slot);
    t->fn = fn;
    t->mapfn = NULL;
    t->arg_len = (uint32_t)len;
    if (len)
        memcpy(mproc__targ(p->ctl, slot), arg, len);
    f->pool = p;
    f->slot = slot;
    p->fut[slot] = f;
    queue_slot(p, slot);
    *out = f;
    return 0;
}

/* Waits until task slot `slot` finishes or the deadline passes, tending the pool. */
static int wait_slot(mproc_pool *p, uint32_t slot, int64_t deadline_ms)
{
    /* Spin first: a short task on an awake worker finishes within microseconds. */
    int64_t spin_end = mproc__now_ns() + 50000;
    while (!slot_finished(p, slot) && mproc__now_ns() < spin_end)
        ;
    while (!slot_finished(p, slot)) {
        int left = mproc__ms_left(deadline_ms);
        if (left == 0)
            return MPROC_ETIMEDOUT;
        int slice = poll_slice(p);
        atomic_store(&p->ctl->parent_waiting, 1);
        if (!slot_finished(p, slot)) {
            int rc = tend(p, left >= 0 && left < slice ? left : slice);
            if (rc < 0) {
                atomic_store(&p->ctl->parent_waiting, 0);
                return rc;
            }
        }
        atomic_store(&p->ctl->parent_waiting, 0);
    }
    return 0;
}

static void settle(mproc_future *f)
{
    if (f->done || !f->pool)
        return;
    mproc_pool *p = f->pool;
    if (!slot_finished(p, f->slot))
        return;
    uint32_t s = atomic_load(&p->ctl->tstate[f->slot]);
    f->status = s == T_CANCELLED ? MPROC_ECANCELED : mproc__tslot(p->ctl, f->slot)->rc;
    f->exitcode = p->texit[f->slot];
    f->done = 1;
}

int mproc_future_wait(mproc_future *f, int timeout_ms)
{
    if (!f || timeout_ms < -1)
        return MPROC_EINVAL;
    if (!f->done && f->pool) {
        mproc_pool *p = f->pool;
        atomic_store(&p->busy, 1);
        int rc = wait_slot(p, f->slot, mproc__deadline(timeout_ms));
        atomic_store(&p->busy, 0);
        if (atomic_load(&p->stop_req))
            mproc_pool_terminate(p); /* settles nothing: the future reads ECANCELED below */
        if (rc < 0 && rc != MPROC_ECANCELED)
            return rc;
        settle(f);
        if (!f->done && p->closed) {
            f->status = MPROC_ECANCELED;
            f->done = 1;
        }
    }
    return 0;
}

int mproc_future_status(const mproc_future *f)
{
    if (!f)
        return MPROC_EINVAL;
    settle((mproc_future *)(uintptr_t)f);
    return f->done ? f->status : MPROC_EBUSY;
}

const void *mproc_future_result(const mproc_future *f, size_t *len)
{
    if (len)
        *len = 0;
    if (!f || mproc_future_status(f) == MPROC_EBUSY)
        return NULL;
    if (!f->pool) {
        if (len)
            *len = f->orphan_len;
        return f->orphan_res;
    }
    if (len)
        *len = mproc__tslot(f->pool->ctl, f->slot)->res_len;
    return mproc__tres(f->pool->ctl, f->slot);
}

int mproc_future_exitcode(const mproc_future *f)
{
    return f && mproc_future_status(f) == MPROC_ECRASHED ? f->exitcode : 0;
}

int mproc_future_cancel(mproc_future *f)
{
    if (!f)
        return MPROC_EINVAL;
    if (f->done || !f->pool)
        return 0;
    mproc_pool *p = f->pool;
    uint32_t expect = T_QUEUED;
    if (atomic_compare_exchange_strong(&p->ctl->tstate[f->slot], &expect, T_CANCELLED)) {
        atomic_fetch_sub(&p->ctl->queued, 1);
        settle(f);
        return 1;
    }
    if (expect >= T_RUNNING && (int)(expect - T_RUNNING) < p->n) {
        kill_worker(p, (int)(expect - T_RUNNING), R_CANCEL, POOL_NO_ITEM, (int64_t)f->slot);
        (void)wait_slot(p, f->slot, INT64_MAX); /* the death is blamed ECANCELED */
    }
    settle(f);
    return f->status == MPROC_ECANCELED;
}

void mproc_future_free(mproc_future *f)
{
    if (!f)
        return;
    if (f->pool) {
        if (!slot_finished(f->pool, f->slot))
            (void)mproc_future_cancel(f);
        give_slot(f->pool, f->slot);
    }
    free(f->orphan_res);
    free(f);
}

/* The pool is going away: futures still held by the caller keep what they know. */
static void orphan_futures(mproc_pool *p)
{
    for (uint32_t i = 0; i < p->ctl->ntasks; i++) {
        mproc_future *f = p->fut[i];
        if (!f)
            continue;
        settle(f);
        if (!f->done) {
            f->status = MPROC_ECANCELED;
            f->done = 1;
        } else {
            size_t len = mproc__tslot(p->ctl, i)->res_len;
            f->orphan_res = malloc(len ? len : 1);
            if (f->orphan_res) {
                memcpy(f->orphan_res, mproc__tres(p->ctl, i), len);
                f->orphan_len = len;
            }
        }
        f->pool = NULL;
    }
}

/* ---- lazy maps --------------------------------------------------------------------------- */

struct inflight {
    size_t index;
    uint32_t slot;
};

static int imap_fill(mproc_pool *p, mproc_map_fn fn, mproc_next_fn next, size_t out_size, void *ud,
                     struct inflight *ring, size_t window, size_t *head, size_t *count,
                     size_t *produced, int *ended)
{
    while (!*ended && *count < window) {
        uint32_t slot;
        int rc = take_slot(p, &slot);
        if (rc == MPROC_EAGAIN)
            return 0;
        if (rc < 0)
            return rc;
        rc = next(mproc__targ(p->ctl, slot), ud);
        if (rc <= 0) {
            give_slot(p, slot);
            *ended = 1;
            return rc;
        }
        struct tslot *t = mproc__tslot(p->ctl, slot);
        t->fn = NULL;
        t->mapfn = fn;
        t->res_len = out_size;
        queue_slot(p, slot);
        ring[(*head + *count) % window] = (struct inflight){(*produced)++, slot};
        (*count)++;
    }
    return 0;
}

/* Position in the ring of a finished task: the oldest one if ordered, else any. */
static int imap_ready(mproc_pool *p, const struct inflight *ring, size_t window, size_t head,
                      size_t count, int ordered, size_t *pos)
{
    for (size_t k = 0; k < (ordered ? 1 : count); k++)
        if (slot_finished(p, ring[(head + k) % window].slot)) {
            *pos = k;
            return 1;
        }
    return 0;
}

static int imap_status(mproc_pool *p, uint32_t slot)
{
    return atomic_load(&p->ctl->tstate[slot]) == T_CANCELLED ? MPROC_ECANCELED
                                                             : mproc__tslot(p->ctl, slot)->rc;
}

int mproc_pool_imap(mproc_pool *p, mproc_map_fn fn, mproc_next_fn next, size_t in_size,
                    size_t out_size, mproc_emit_fn emit, void *ud, int ordered, size_t window)
{
    if (!p || !fn || !next || !emit || in_size == 0 || out_size == 0)
        return MPROC_EINVAL;
    if (in_size > p->ctl->task_bytes || out_size > p->ctl->task_bytes)
        return MPROC_EMSGSIZE;
    if (window == 0)
        window = 4 * (size_t)p->n;
    struct inflight *ring = calloc(window, sizeof *ring);
    if (!ring)
        return MPROC_ENOMEM;
    atomic_store(&p->busy, 1);
    size_t head = 0, count = 0, produced = 0;
    int ended = 0, failed = 0, rc = 0;
    for (;;) {
        rc = imap_fill(p, fn, next, out_size, ud, ring, window, &head, &count, &produced, &ended);
        if (rc < 0 || count == 0)
            break;
        size_t k;
        while (!imap_ready(p, ring, window, head, count, ordered, &k)) {
            atomic_store(&p->ctl->parent_waiting, 1);
            if (!imap_ready(p, ring, window, head, count, ordered, &k))
                rc = tend(p, poll_slice(p));
            atomic_store(&p->ctl->parent_waiting, 0);
            if (rc < 0)
                break;
        }
        if (rc < 0)
            break;
        struct inflight it = ring[(head + k) % window];
        ring[(head + k) % window] = ring[head % window]; /* unordered: fill the hole */
        head++;
        count--;
        int st = imap_status(p, it.slot);
        failed += st != 0;
        rc = emit(it.index, mproc__tres(p->ctl, it.slot), st, ud);
        give_slot(p, it.slot);
        if (rc != 0)
            break;
    }
    /* Stopped early: whatever is still in flight is cancelled. */
    for (; count > 0; head++, count--) {
        uint32_t slot = ring[head % window].slot;
        uint32_t expect = T_QUEUED;
        if (atomic_compare_exchange_strong(&p->ctl->tstate[slot], &expect, T_CANCELLED))
            atomic_fetch_sub(&p->ctl->queued, 1);
        else if (expect >= T_RUNNING)
            (void)wait_slot(p, slot, INT64_MAX);
        give_slot(p, slot);
    }
    free(ring);
    atomic_store(&p->busy, 0);
    if (atomic_load(&p->stop_req))
        mproc_pool_terminate(p);
    return rc < 0 ? rc : rc > 0 ? MPROC_ECANCELED : failed;
}
