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

enum reason { R_NONE = 0, R_TIMEOUT = 1 };

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
    int *restarts, *crashes;
    mproc_pool_opts o;
    int closed, broken, init_deaths;
    /* the map under way */
    int phase_lost;
    int *exit_info; /* user's, offset to this window */
    struct retry *retries;
    size_t nretries, cap_retries;
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
    p->wargs[i] = (struct pool_warg){.ctl = p->ctl, .slot = i};
    mproc_opts fo = {.name = "mproc-worker"};
    int rc = mproc_fork(&p->procs[i], mproc__pool_worker_main, &p->wargs[i], &fo);
    if (rc < 0) {
        atomic_store(&w->state, W_DEAD);
        p->procs[i] = NULL;
    }
    return rc;
}

static int check_opts(const mproc_pool_opts *o)
{
    if (o->workers < 0 || o->workers > MAX_WORKERS || o->max_tasks < 0 || o->task_timeout_ms < 0 ||
        o->retries < 0 || (o->schedule != MPROC_SCHED_DYNAMIC && o->schedule != MPROC_SCHED_STATIC))
        return MPROC_EINVAL;
    return 0;
}

static int pool_alloc(mproc_pool *p)
{
    size_t n = (size_t)p->n;
    p->procs = calloc(n, sizeof *p->procs);
    p->wargs = calloc(n, sizeof *p->wargs);
    p->reason = calloc(n, sizeof *p->reason);
    p->restarts = calloc(n, sizeof *p->restarts);
    p->crashes = calloc(n, sizeof *p->crashes);
    if (!p->procs || !p->wargs || !p->reason || !p->restarts || !p->crashes)
        return MPROC_ENOMEM;
    p->ctl_size = page_round(sizeof(struct ctl) + n * sizeof(struct wslot));
    size_t meta = page_round(MAX_WINDOW * (sizeof(int32_t) + sizeof(uint64_t)));
    p->map_size = p->ctl_size + meta + p->arena_size;
    void *m = mmap(NULL, p->map_size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        p->ctl = NULL;
        return -errno;
    }
    p->ctl = m;
    p->meta_status = (int32_t *)((char *)m + p->ctl_size);
    p->meta_list = (uint64_t *)(p->meta_status + MAX_WINDOW);
    p->arena = (char *)m + p->ctl_size + meta;
    return 0;
}

static void pool_release(mproc_pool *p)
{
    if (p->ctl) {
        mproc__close(p->ctl->efd);
        munmap(p->ctl, p->map_size);
    }
    free(p->procs);
    free(p->wargs);
    free(p->reason);
    free(p->restarts);
    free(p->crashes);
    free(p->retries);
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
    c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->efd < 0) {
        rc = -errno;
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

static void handle_death(mproc_pool *p, int i)
{
    mproc_status st;
    if (mproc_proc_wait(p->procs[i], 0, &st) != 0)
        memset(&st, 0, sizeof st);
    struct wslot *w = &p->ctl->w[i];
    uint64_t cur = atomic_load(&w->cur);
    int was_running = atomic_load(&w->state) == W_RUNNING;
    int clean = st.exited && st.code == 0 && !was_running;
    if (cur != POOL_NO_ITEM && p->ctl->job.fn)
        blame(p, cur, p->reason[i], st.unknown ? 0 : mproc_exitcode(&st));
    if (was_running)
        p->phase_lost = 1;
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

static void enforce_timeouts(mproc_pool *p, int64_t now)
{
    int64_t limit = (int64_t)p->o.task_timeout_ms * 1000000;
    for (int i = 0; i < p->n; i++) {
        struct wslot *w = &p->ctl->w[i];
        if (!p->procs[i] || p->reason[i] == R_TIMEOUT || atomic_load(&w->cur) == POOL_NO_ITEM)
            continue;
        if (now - atomic_load(&w->t0_ns) > limit) {
            p->reason[i] = R_TIMEOUT;
            (void)mproc_proc_signal(p->procs[i], SIGKILL);
        }
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

static void publish(mproc_pool *p, const struct job *j)
{
    struct ctl *c = p->ctl;
    uint32_t g = atomic_load(&c->gen) + 1;
    c->job = *j;
    atomic_store(&c->done, 0);
    atomic_store(&c->next, (uint64_t)g << 32);
    atomic_store_explicit(&c->gen, g, memory_order_release);
    syscall(SYS_futex, &c->gen, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
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
    if (atomic_load(&c->done) >= c->job.count)
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

static int wait_phase(mproc_pool *p)
{
    struct pollfd *fds = calloc((size_t)p->n + 1, sizeof *fds);
    if (!fds)
        return MPROC_ENOMEM;
    while (!phase_over(p)) {
        fds[0] = (struct pollfd){.fd = p->ctl->efd, .events = POLLIN};
        for (int i = 0; i < p->n; i++)
            fds[i + 1] = (struct pollfd){.fd = p->procs[i] ? mproc_proc_fd(p->procs[i]) : -1,
                                         .events = POLLIN};
        int r = poll(fds, (nfds_t)p->n + 1, poll_slice(p));
        if (r < 0 && errno != EINTR) {
            free(fds);
            return -errno;
        }
        if (r > 0 && (fds[0].revents & POLLIN)) {
            uint64_t v;
            (void)mproc__read(p->ctl->efd, &v, sizeof v);
        }
        for (int i = 0; r > 0 && i < p->n; i++)
            if (p->procs[i] && (fds[i + 1].revents & (POLLIN | POLLHUP)))
                handle_death(p, i);
        if (p->o.task_timeout_ms > 0)
            enforce_timeouts(p, mproc__now_ns());
    }
    free(fds);
    return 0;
}

/* Runs job j to the end, re-publishing whatever crashes left pending. */
static int run_phases(mproc_pool *p, struct job j)
{
    uint64_t total = j.count;
    for (;;) {
        p->phase_lost = 0;
        publish(p, &j);
        int rc = wait_phase(p);
        if (rc < 0)
            return rc;
        if (!p->phase_lost)
            return 0;
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
    if (copy)
        memcpy(out, wout, n * out_size);
    return rc;
}

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
        for (uint64_t i = 0; i < k; i++) {
            int s = p->meta_status[i] == POOL_PENDING ? MPROC_EBROKEN : p->meta_status[i];
            failed += s != 0;
            if (item_status)
                item_status[b + i] = s;
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
    syscall(SYS_futex, &p->ctl->gen, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
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
    p->closed = 1;
    if (p->ctl)
        atomic_store(&p->ctl->shutdown, 1);
    for (int i = 0; i < p->n; i++) {
        mproc_proc_free(p->procs[i]); /* kills and reaps a running worker */
        p->procs[i] = NULL;
    }
    return 0;
}

void mproc_pool_free(mproc_pool *p)
{
    if (!p)
        return;
    mproc_pool_terminate(p);
    pool_release(p);
}
