/* io_int.h: what src/io's files share: the poll loop that drives a child's pipes, and the
 * SIGPIPE guard. Private to the library. */
#ifndef MPROC_IO_INT_H
#define MPROC_IO_INT_H

#include <mproc/io.h>
#include <signal.h>
#include <stdint.h>

/* ---- SIGPIPE guard ---- */
/* Writing to a pipe whose reader is gone raises SIGPIPE in the writing thread, and its
 * default action kills the process. Pipes have no MSG_NOSIGNAL, and installing a handler
 * or SIG_IGN would change process-wide state, so the writing thread blocks SIGPIPE while
 * it writes; a SIGPIPE the write caused stays pending for that thread and is consumed
 * with sigtimedwait() before the old mask comes back. A SIGPIPE that was already pending
 * before is left alone. */
struct mproc__sigpipe_guard {
    sigset_t old; /* the thread's mask before */
    int was_pending;
    int epipe; /* set by the user of the guard when a write failed with EPIPE */
};
void mproc__sigpipe_block(struct mproc__sigpipe_guard *g);
void mproc__sigpipe_restore(struct mproc__sigpipe_guard *g);

/* ---- the pipe pump ---- */
/* Receives data read from stream `which` (1 or 2), len == 0 at its end-of-file.
 * Returns 0 to go on, non-zero to stop the pump. */
typedef int (*mproc__sink_fn)(void *ctx, int which, const char *data, size_t len);

struct mproc__pump {
    mproc_proc *p;
    int fd[3];      /* stdin (written), stdout and stderr (read); -1 when not pumped */
    const char *in; /* what is left to write to stdin */
    size_t in_len;
    int epipe; /* the child closed stdin before taking all the input */
    mproc__sink_fn sink;
    void *ctx;
    char *scratch; /* one read's worth */
    size_t scratch_cap;
    size_t nread; /* bytes read so far: lets a caller see whether a pass made progress */
};

/* Sets up a pump over p's piped streams: stdin only if in_len > 0 (with no input, stdin is
 * closed at once so the child sees end-of-file), stdout and stderr if piped and open.
 * Makes the descriptors non-blocking. Returns 0 or MPROC_ENOMEM / an fcntl error. */
int mproc__pump_open(struct mproc__pump *pp, mproc_proc *p, int feed_stdin, const void *in,
                     size_t in_len, mproc__sink_fn sink, void *ctx);
/* Moves data until every pumped stream is done (stdin fully written or refused, outputs at
 * end-of-file; each is closed in the handle when done), the deadline (CLOCK_MONOTONIC ms,
 * INT64_MAX for none; a passed deadline makes one non-blocking pass), or a stop from the
 * sink. Returns 0 (all done), MPROC_ETIMEDOUT, MPROC_ECANCELED, or an error. */
int mproc__pump_run(struct mproc__pump *pp, int64_t deadline_ms);
/* 1 while some pumped stream is not done. */
int mproc__pump_busy(const struct mproc__pump *pp);
void mproc__pump_close(struct mproc__pump *pp);

#endif
