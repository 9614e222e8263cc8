/* pump.c: the one poll() loop that moves bytes between the parent and a child's pipes
 * (stdin written, stdout and stderr read), shared by mproc_run and mproc_proc_stream; and
 * the SIGPIPE guard used around every write to a child's stdin.
 *
 * Why one loop over non-blocking descriptors: a child that fills its stdout pipe while we
 * are blocked writing its stdin (or reading its stderr) waits for us while we wait for
 * it. Here nothing ever blocks but poll(), which wakes for whichever side can move.
 *
 * This file must not wait for, signal or reap the child, and must not keep the bytes it
 * reads: that belongs to its callers, through the sink. It never installs a signal handler
 * and changes only the calling thread's signal mask, and only while writing. */
#include "io/io_int.h"
#include "sys/sys.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One read: the default pipe capacity, so a full pipe empties in one call. */
#define PUMP_CHUNK (64 * 1024)

/* ---- SIGPIPE guard ------------------------------------------------------------------ */

void mproc__sigpipe_block(struct mproc__sigpipe_guard *g)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    /* A SIGPIPE pending before we start is not ours to consume. */
    g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    g->epipe = 0;
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

void mproc__sigpipe_restore(struct mproc__sigpipe_guard *g)
{
    if (g->epipe && !g->was_pending) {
        /* The failed write queued SIGPIPE on this thread (pipe_write sends it to the
         * writing task). sigtimedwait takes thread-directed signals first, so a SIGPIPE
         * sent to the whole process meanwhile stays pending and is delivered as usual. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        const struct timespec zero = {0, 0};
        int saved = errno;
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
            ;
        errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- the pump ----------------------------------------------------------------------- */

int mproc__pump_open(struct mproc__pump *pp, mproc_proc *p, int feed_stdin, const void *in,
                     size_t in_len, mproc__sink_fn sink, void *ctx)
{
    memset(pp, 0, sizeof *pp);
    pp->p = p;
    pp->sink = sink;
    pp->ctx = ctx;
    for (int i = 0; i < 3; i++)
        pp->fd[i] = -1;
    if (feed_stdin && mproc_proc_stdio(p, MPROC_STDIN) >= 0) {
        if (in_len == 0) {
            (void)mproc_proc_close_stdio(p, MPROC_STDIN); /* end-of-file at once */
        } else {
            pp->fd[0] = mproc_proc_stdio(p, MPROC_STDIN);
            pp->in = in;
            pp->in_len = in_len;
        }
    }
    pp->fd[1] = mproc_proc_stdio(p, MPROC_STDOUT);
    pp->fd[2] = mproc_proc_stdio(p, MPROC_STDERR);
    for (int i = 0; i < 3; i++) {
        int rc = pp->fd[i] >= 0 ? mproc__set_nonblock(pp->fd[i], 1) : 0;
        if (rc < 0)
            return rc;
    }
    pp->scratch_cap = PUMP_CHUNK;
    pp->scratch = malloc(pp->scratch_cap);
    return pp->scratch ? 0 : MPROC_ENOMEM;
}

void mproc__pump_close(struct mproc__pump *pp)
{
    free(pp->scratch);
    pp->scratch = NULL;
}

int mproc__pump_busy(const struct mproc__pump *pp)
{
    return pp->fd[0] >= 0 || pp->fd[1] >= 0 || pp->fd[2] >= 0;
}

static void stream_done(struct mproc__pump *pp, int which)
{
    (void)mproc_proc_close_stdio(pp->p, which);
    pp->fd[which] = -1;
}

static int pump_write(struct mproc__pump *pp)
{
    ssize_t w = mproc__write(pp->fd[0], pp->in, pp->in_len);
    if (w == MPROC_EAGAIN)
        return 0;
    if (w == MPROC_EPIPE) {
        /* The child closed stdin or exited: it just did not read all of it. */
        pp->epipe = 1;
        pp->in_len = 0;
    } else if (w < 0) {
        return (int)w;
    } else {
        pp->in += w;
        pp->in_len -= (size_t)w;
    }
    if (pp->in_len == 0)
        stream_done(pp, MPROC_STDIN); /* the child sees end-of-file */
    return 0;
}

static int pump_read(struct mproc__pump *pp, int which)
{
    ssize_t r = mproc__read(pp->fd[which], pp->scratch, pp->scratch_cap);
    if (r == MPROC_EAGAIN)
        return 0;
    if (r < 0)
        return (int)r;
    int stop;
    if (r == 0) {
        stream_done(pp, which);
        stop = pp->sink(pp->ctx, which, pp->scratch, 0);
    } else {
        pp->nread += (size_t)r;
        stop = pp->sink(pp->ctx, which, pp->scratch, (size_t)r);
    }
    return stop ? MPROC_ECANCELED : 0;
}

/* One poll() and one read or write per ready descriptor, so no stream starves another. */
static int pump_pass(struct mproc__pump *pp, int timeout_ms)
{
    struct pollfd pfd[3];
    int which[3];
    nfds_t n = 0;
    for (int i = 0; i < 3; i++) {
        if (pp->fd[i] < 0)
            continue;
        pfd[n] = (struct pollfd){.fd = pp->fd[i], .events = i == 0 ? POLLOUT : POLLIN};
        which[n++] = i;
    }
    int r = poll(pfd, n, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -errno; /* the caller recomputes the time left */
    for (nfds_t k = 0; k < n && r > 0; k++) {
        if (pfd[k].revents == 0)
            continue;
        if (pfd[k].revents & POLLNVAL)
            return MPROC_EBADF;
        /* POLLHUP/POLLERR too: the read sees end-of-file, the write sees EPIPE. */
        int rc = which[k] == 0 ? pump_write(pp) : pump_read(pp, which[k]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int mproc__pump_run(struct mproc__pump *pp, int64_t deadline_ms)
{
    struct mproc__sigpipe_guard g;
    int guarded = pp->fd[0] >= 0;
    if (guarded)
        mproc__sigpipe_block(&g);
    int rc = 0;
    while (mproc__pump_busy(pp)) {
        rc = pump_pass(pp, mproc__ms_left(deadline_ms));
        if (rc < 0)
            break;
        if (mproc__pump_busy(pp) && mproc__ms_left(deadline_ms) == 0) {
            rc = MPROC_ETIMEDOUT;
            break;
        }
    }
    if (guarded) {
        g.epipe = pp->epipe;
        mproc__sigpipe_restore(&g);
    }
    return rc;
}
