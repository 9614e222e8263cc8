/* stream.c: reading and writing a running child's pipes as data comes: mproc_proc_read,
 * mproc_proc_write, and mproc_proc_stream (chunks or lines to a callback, the shape of
 * Node's stdout.on('data')).
 *
 * Everything waits through poll() on a CLOCK_MONOTONIC deadline on non-blocking
 * descriptors, so a timeout is honoured even when the pipe is full or empty. This file
 * must not wait for, signal or reap the child (the caller decides when the process is
 * done), and must not hold bytes back from the callback when it returns. */
#include "io/io_int.h"
#include "sys/sys.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_LINE (64 * 1024)

static int valid_timeout(int timeout_ms)
{
    return mproc__timeout_ok(timeout_ms);
}

int mproc_proc_read(mproc_proc *p, int which, void *buf, size_t cap, int timeout_ms)
{
    if (!p || !buf || cap == 0 || (which != MPROC_STDOUT && which != MPROC_STDERR) ||
        !valid_timeout(timeout_ms))
        return MPROC_EINVAL;
    int fd = mproc_proc_stdio(p, which);
    if (fd < 0)
        return MPROC_EBADF;
    int rc = mproc__set_nonblock(fd, 1);
    if (rc < 0)
        return rc;
    if (cap > INT_MAX)
        cap = INT_MAX;
    int64_t deadline = mproc__deadline(timeout_ms);
    for (;;) {
        ssize_t r = mproc__read(fd, buf, cap);
        if (r != MPROC_EAGAIN)
            return (int)r; /* bytes, 0 at end-of-file, or an error */
        int ev = mproc__poll1(fd, POLLIN, deadline);
        if (ev < 0)
            return ev;
        if (ev == 0)
            return MPROC_ETIMEDOUT;
    }
}

static int write_loop(int fd, const char *buf, size_t len, size_t *done, int64_t deadline,
                      struct mproc__sigpipe_guard *g)
{
    while (*done < len) {
        ssize_t w = mproc__write(fd, buf + *done, len - *done);
        if (w >= 0) {
            *done += (size_t)w;
            continue;
        }
        if (w == MPROC_EPIPE)
            g->epipe = 1;
        if (w != MPROC_EAGAIN)
            return (int)w;
        int ev = mproc__poll1(fd, POLLOUT, deadline);
        if (ev < 0)
            return ev;
        if (ev == 0)
            return MPROC_ETIMEDOUT;
    }
    return 0;
}

int mproc_proc_write(mproc_proc *p, const void *buf, size_t len, size_t *written, int timeout_ms)
{
    if (written)
        *written = 0;
    if (!p || (!buf && len) || !valid_timeout(timeout_ms))
        return MPROC_EINVAL;
    int fd = mproc_proc_stdio(p, MPROC_STDIN);
    if (fd < 0)
        return MPROC_EBADF;
    int rc = mproc__set_nonblock(fd, 1);
    if (rc < 0)
        return rc;
    int64_t deadline = mproc__deadline(timeout_ms);
    size_t done = 0;
    struct mproc__sigpipe_guard g;
    mproc__sigpipe_block(&g);
    rc = write_loop(fd, buf, len, &done, deadline, &g);
    mproc__sigpipe_restore(&g);
    if (written)
        *written = done;
    return rc;
}

/* ---- mproc_proc_stream: chunks, or lines cut from them ------------------------------- */

struct lbuf {
    char *d; /* max_line bytes, allocated on first use */
    size_t len;
};

struct streamer {
    mproc_data_fn fn;
    void *ctx;
    int lines;
    size_t max_line;
    struct lbuf part[3]; /* [1] stdout, [2] stderr: the line being assembled */
    int nomem;
};

static int emit_partial(struct streamer *s, int which)
{
    struct lbuf *b = &s->part[which];
    if (b->len == 0)
        return 0;
    size_t n = b->len;
    b->len = 0;
    return s->fn(s->ctx, which, b->d, n);
}

/* Appends at most one line's worth of data to the partial line; returns bytes taken. */
static size_t append_partial(struct streamer *s, int which, const char *data, size_t n,
                             int ends_line, int *stop)
{
    struct lbuf *b = &s->part[which];
    if (!b->d && !(b->d = malloc(s->max_line))) {
        s->nomem = 1;
        *stop = 1;
        return n; /* dropped: the call fails with MPROC_ENOMEM */
    }
    size_t room = s->max_line - b->len;
    size_t take = n < room ? n : room;
    memcpy(b->d + b->len, data, take);
    b->len += take;
    if (b->len == s->max_line || (ends_line && take == n))
        *stop |= emit_partial(s, which) != 0;
    return take;
}

/* Cuts a chunk into lines. Every line of the chunk is delivered even if the callback asks
 * to stop midway, so stopping never loses bytes. */
static int split_lines(struct streamer *s, int which, const char *data, size_t len)
{
    int stop = 0;
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) + 1 : len;
        if (s->part[which].len == 0 && nl && n <= s->max_line)
            stop |= s->fn(s->ctx, which, data, n) != 0; /* a whole line: no copy */
        else
            n = append_partial(s, which, data, n, nl != NULL, &stop);
        data += n;
        len -= n;
    }
    return stop;
}

static int streamer_sink(void *ctx, int which, const char *data, size_t len)
{
    struct streamer *s = ctx;
    if (!s->lines)
        return s->fn(s->ctx, which, data, len) != 0;
    if (len > 0)
        return split_lines(s, which, data, len);
    int stop = emit_partial(s, which) != 0; /* a last line without '\n' */
    return s->fn(s->ctx, which, data, 0) != 0 || stop;
}

int mproc_proc_stream(mproc_proc *p, mproc_data_fn on_data, void *ctx,
                      const mproc_stream_opts *opts, int timeout_ms)
{
    static const mproc_stream_opts defaults;
    const mproc_stream_opts *o = opts ? opts : &defaults;
    if (!p || !on_data || (o->flags & ~MPROC_STREAM_ALL) || !valid_timeout(timeout_ms))
        return MPROC_EINVAL;
    struct streamer s = {
        .fn = on_data,
        .ctx = ctx,
        .lines = (o->flags & MPROC_STREAM_LINES) != 0,
        .max_line = o->max_line ? o->max_line : DEFAULT_MAX_LINE,
    };
    struct mproc__pump pp;
    int rc = mproc__pump_open(&pp, p, 0, NULL, 0, streamer_sink, &s);
    if (rc == 0)
        rc = mproc__pump_run(&pp, mproc__deadline(timeout_ms));
    mproc__pump_close(&pp);
    /* Returning early: hand over what is held, so the next call starts clean. */
    for (int i = MPROC_STDOUT; i <= MPROC_STDERR; i++) {
        if (!s.nomem)
            (void)emit_partial(&s, i);
        free(s.part[i].d);
    }
    return s.nomem ? MPROC_ENOMEM : rc;
}
