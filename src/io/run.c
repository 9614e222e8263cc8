/* run.c: mproc_run, run a command to completion with its input fed and its output
 * captured (Python's subprocess.run, Node's execFile).
 *
 * It spawns through mproc_spawn with three pipes and a new process group, lets the pump
 * (pump.c) move the bytes, keeps them in two growing buffers, and then reaps the child.
 * At the deadline it kills the whole group and stops reading, so a descendant that keeps
 * a pipe open cannot make it hang. It must not block on any single pipe and must not
 * leave a child, a descriptor or a buffer behind on any path. */
#include "io/io_int.h"
#include "sys/sys.h"

#include <stdlib.h>
#include <string.h>

/* After a timeout, the output already sitting in the pipes is still collected, but in a
 * bounded number of non-blocking passes: a writer that escaped the group kill must not
 * keep us reading. */
#define DRAIN_PASSES 64

struct cbuf {
    char *data;
    size_t len, cap;
};

struct capture {
    struct cbuf s[3]; /* [1] stdout, [2] stderr */
    size_t max;       /* per stream; 0 unlimited */
    int truncated;
    int nomem;
};

static int cbuf_append(struct cbuf *b, const char *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t want = b->cap ? b->cap : 4096;
        while (want < b->len + n + 1)
            want *= 2;
        char *nd = realloc(b->data, want);
        if (!nd)
            return MPROC_ENOMEM;
        b->data = nd;
        b->cap = want;
    }
    memcpy(b->data + b->len, d, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Keeps up to max bytes of each stream; past that, reads go on and are dropped, so the
 * child never blocks on a full pipe because of the cap. */
static int capture_sink(void *ctx, int which, const char *data, size_t len)
{
    struct capture *c = ctx;
    struct cbuf *b = &c->s[which];
    if (c->max && b->len + len > c->max) {
        c->truncated |= which == MPROC_STDOUT ? MPROC_TRUNC_STDOUT : MPROC_TRUNC_STDERR;
        len = c->max - b->len;
    }
    if (len == 0)
        return 0;
    if (cbuf_append(b, data, len) < 0) {
        c->nomem = 1;
        return 1;
    }
    return 0;
}

/* Hands a buffer over to the result, shrunk to fit; an empty stream gives "". */
static int cbuf_take(struct cbuf *b, char **out, size_t *len)
{
    if (!b->data) {
        b->data = malloc(1);
        if (!b->data)
            return MPROC_ENOMEM;
        b->data[0] = '\0';
    } else if (b->cap > b->len + 1) {
        char *s = realloc(b->data, b->len + 1);
        if (s)
            b->data = s;
    }
    *out = b->data;
    *len = b->len;
    b->data = NULL;
    return 0;
}

static void capture_free(struct capture *c)
{
    free(c->s[1].data);
    free(c->s[2].data);
}

/* The caller's options with the three streams and the process group imposed; the
 * deadline is the earlier of ropts->timeout_ms and opts->kill_after_ms. */
static int run_opts(mproc_opts *o, const mproc_opts *opts, const mproc_run_opts *ro,
                    int64_t *deadline)
{
    static const mproc_opts defaults;
    *o = opts ? *opts : defaults;
    if ((o->flags & MPROC_DETACHED) || o->kill_after_ms < 0)
        return MPROC_EINVAL;
    int t = ro->timeout_ms > 0 ? ro->timeout_ms : -1;
    if (o->kill_after_ms > 0 && (t < 0 || o->kill_after_ms < t))
        t = o->kill_after_ms;
    o->kill_after_ms = 0; /* enforced here, by the same deadline */
    *deadline = mproc__deadline(t);
    o->stdio[0] = (mproc_stdio){MPROC_STDIO_PIPE, -1};
    o->stdio[1] = (mproc_stdio){MPROC_STDIO_PIPE, -1};
    if (!ro->no_capture_stderr)
        o->stdio[2] = (mproc_stdio){MPROC_STDIO_PIPE, -1};
    if (!(o->flags & MPROC_NEW_SESSION))
        o->flags |= MPROC_NEW_PGROUP;
    return 0;
}

/* The deadline passed: kill the whole group, collect what already sits in the pipes
 * without waiting for more, and reap the child. */
static int finish_timeout(mproc_proc *p, struct mproc__pump *pp, mproc_status *st)
{
    (void)mproc_proc_signal_group(p, SIGKILL);
    if (pp->fd[0] >= 0) {
        (void)mproc_proc_close_stdio(p, MPROC_STDIN);
        pp->fd[0] = -1;
    }
    for (int i = 0; i < DRAIN_PASSES && mproc__pump_busy(pp); i++) {
        size_t before = pp->nread;
        if (mproc__pump_run(pp, 0) != MPROC_ETIMEDOUT || pp->nread == before)
            break;
    }
    int rc = mproc_proc_terminate(p, 0, st);
    if (rc < 0)
        return rc;
    st->timed_out = 1;
    return MPROC_ETIMEDOUT;
}

/* Pumps until end-of-file on both outputs, then waits for the exit, all within the
 * deadline. Returns 0, MPROC_ETIMEDOUT (child reaped, status filled) or an error. */
static int drive(mproc_proc *p, const mproc_run_opts *ro, struct capture *cap, int64_t deadline,
                 mproc_status *st)
{
    struct mproc__pump pp;
    int rc = mproc__pump_open(&pp, p, 1, ro->input, ro->input_len, capture_sink, cap);
    if (rc == 0)
        rc = mproc__pump_run(&pp, deadline);
    if (rc == 0)
        rc = mproc_proc_wait(p, mproc__ms_left(deadline), st);
    if (rc == MPROC_ETIMEDOUT)
        rc = finish_timeout(p, &pp, st);
    if (cap->nomem)
        rc = MPROC_ENOMEM;
    mproc__pump_close(&pp);
    return rc;
}

int mproc_run(const char *const argv[], const mproc_opts *opts, const mproc_run_opts *ropts,
              mproc_result *res)
{
    static const mproc_run_opts rdefaults;
    const mproc_run_opts *ro = ropts ? ropts : &rdefaults;
    if (!res)
        return MPROC_EINVAL;
    memset(res, 0, sizeof *res);
    if (!argv || (ro->input_len && !ro->input) || ro->timeout_ms < -1)
        return MPROC_EINVAL;
    mproc_opts o;
    int64_t deadline;
    int rc = run_opts(&o, opts, ro, &deadline);
    if (rc < 0)
        return rc;
    mproc_proc *p;
    rc = mproc_spawn(&p, argv, &o);
    if (rc < 0)
        return rc;
    struct capture cap = {.max = ro->max_output};
    rc = drive(p, ro, &cap, deadline, &res->status);
    mproc_proc_free(p); /* on an error path this kills the group and reaps the child */
    if (rc == 0 || rc == MPROC_ETIMEDOUT) {
        int trc = cbuf_take(&cap.s[1], &res->out, &res->out_len);
        if (trc == 0 && !ro->no_capture_stderr)
            trc = cbuf_take(&cap.s[2], &res->err, &res->err_len);
        if (trc < 0) {
            mproc_result_free(res);
            rc = trc;
        }
        res->truncated = cap.truncated;
    }
    capture_free(&cap);
    if (rc < 0 && rc != MPROC_ETIMEDOUT)
        memset(res, 0, sizeof *res);
    return rc;
}

void mproc_result_free(mproc_result *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}
