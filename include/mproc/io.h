/* mproc/io.h: a child's stdin, stdout and stderr from the parent's side.
 *
 *  - mproc_run(): run a command to completion with its input fed and its output captured
 *    (Python's subprocess.run, Node's execFile), with a size cap and a timeout, and never
 *    a pipe deadlock;
 *  - streaming a running child (Node's child.stdout.on('data'), readline on a pipe):
 *    mproc_proc_stream() calls back with chunks or lines of stdout and stderr as they
 *    come; mproc_proc_read() and mproc_proc_write() move bytes one call at a time.
 *
 * Writing to a child whose stdin is closed returns MPROC_EPIPE; it never raises SIGPIPE in
 * the caller and never changes process-wide signal state. See docs/io.md. */
#ifndef MPROC_IO_H
#define MPROC_IO_H

#include <stddef.h>

#include "common.h"
#include "proc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The child's standard streams, for the `which` arguments below and in proc.h. */
enum mproc_stream_id { MPROC_STDIN = 0, MPROC_STDOUT = 1, MPROC_STDERR = 2 };

/* ---- run to completion -------------------------------------------------------------- */

typedef struct mproc_run_opts {
    const void *input; /* fed to the child's stdin, then stdin is closed; NULL: empty */
    size_t input_len;
    size_t max_output;     /* cap per stream in bytes; 0: unlimited. Past it, output is read and
                              discarded (the child is never blocked or killed) and .truncated set */
    int timeout_ms;        /* 0 or -1: none; > 0: the child's process group is killed at the
                              deadline and mproc_run returns MPROC_ETIMEDOUT with what was
                              captured so far */
    int no_capture_stderr; /* 1: leave stderr as opts->stdio[2] says instead of capturing
                              (MPROC_STDIO_STDOUT there merges it into the captured stdout) */
} mproc_run_opts;

/* bits of mproc_result.truncated */
#define MPROC_TRUNC_STDOUT 0x1
#define MPROC_TRUNC_STDERR 0x2

typedef struct mproc_result {
    mproc_status status;
    char *out; /* captured stdout, NUL-terminated (not counted in out_len); malloc'd */
    size_t out_len;
    char *err; /* captured stderr, likewise; NULL if not captured (no_capture_stderr) */
    size_t err_len;
    int truncated; /* MPROC_TRUNC_STDOUT: stdout hit max_output; MPROC_TRUNC_STDERR: stderr */
} mproc_result;

/** Runs argv to completion: spawns it (as mproc_spawn, with opts), writes ropts->input to
 *  its stdin and closes it, and captures stdout and stderr until both reach end-of-file,
 *  then reaps the child. All three pipes are driven from one poll() loop on non-blocking
 *  descriptors, so no amount of input or output can deadlock.
 *
 *  opts (NULL: defaults) is used as given except: stdin, stdout and stderr (unless
 *  ropts->no_capture_stderr) are replaced by pipes; the child always leads a new process
 *  group (MPROC_NEW_PGROUP is added unless MPROC_NEW_SESSION is set) so a timeout can kill
 *  its descendants too; opts->kill_after_ms > 0 acts as a timeout like ropts->timeout_ms
 *  (the earlier of the two wins). MPROC_DETACHED is refused.
 *
 *  Like subprocess.run, mproc_run waits for end-of-file, not for the child's exit: a
 *  descendant that keeps stdout or stderr open keeps mproc_run waiting until it closes
 *  them or the timeout expires. If the child exits without reading all its input, the rest
 *  is dropped; that is not an error (no SIGPIPE is raised, see docs/io.md).
 *
 *  At the timeout the child's whole process group gets SIGKILL, the child is reaped, and
 *  MPROC_ETIMEDOUT is returned with status.timed_out = 1 and what was captured before.
 *
 *  On 0 or MPROC_ETIMEDOUT, *res holds the status and the output (out is never NULL; err
 *  is never NULL when captured) and must be released with mproc_result_free(). On any
 *  other error *res is zeroed, the child (if one was started) is killed and reaped, and
 *  nothing leaks.
 *  Errors: MPROC_EINVAL (NULL argv or res, input_len > 0 with NULL input, timeout_ms < -1,
 *  MPROC_DETACHED), every error of mproc_spawn (e.g. MPROC_ENOENT for a missing binary,
 *  with opts->failure filled), MPROC_ETIMEDOUT, MPROC_ENOMEM, MPROC_ECHILD (the child was
 *  reaped behind mproc's back, e.g. by the application's waitpid(-1)).
 *  Blocks the calling thread; thread-safe; SIGPIPE is blocked for the calling thread only
 *  while it runs (see docs/io.md). */
MPROC_API int mproc_run(const char *const argv[], const mproc_opts *opts,
                        const mproc_run_opts *ropts, mproc_result *res);

/** Frees captured output; res is zeroed. NULL is a no-op. */
MPROC_API void mproc_result_free(mproc_result *res);

/* ---- streaming a running child -------------------------------------------------------- */

/* Called by mproc_proc_stream() with data from stream `which` (MPROC_STDOUT or
 * MPROC_STDERR): len > 0 for a chunk (or a line), then once len == 0 when that stream
 * reaches end-of-file. data is valid only during the call. Return 0 to go on, non-zero to
 * make mproc_proc_stream() return MPROC_ECANCELED once the current chunk is delivered. */
typedef int (*mproc_data_fn)(void *ctx, int which, const char *data, size_t len);

/* flags for mproc_stream_opts.flags */
#define MPROC_STREAM_LINES 0x1u /* deliver whole lines, each with its '\n' (see max_line) */
#define MPROC_STREAM_ALL   0x1u

typedef struct mproc_stream_opts {
    unsigned flags;  /* MPROC_STREAM_LINES; 0: chunks as read */
    size_t max_line; /* lines mode: a longer line comes in pieces of this size; 0: 64 KiB */
} mproc_stream_opts;

/** Pumps the child's piped stdout and stderr (those still open in the handle) to on_data
 *  as data arrives, from one poll() loop, until both reach end-of-file: Node's
 *  stdout.on('data') / stderr.on('data'), then on('close') is mproc_proc_wait().
 *  At each stream's end-of-file on_data gets len == 0 and the parent's end is closed
 *  (mproc_proc_stdio() then gives -1). With MPROC_STREAM_LINES each call carries one line
 *  ending in '\n'; a last line without one is delivered at end-of-file; a line longer than
 *  max_line comes in max_line-sized pieces.
 *  timeout_ms: -1 forever, 0 one non-blocking pass, > 0 a deadline. On MPROC_ETIMEDOUT or
 *  MPROC_ECANCELED the child is left running and a pending partial line is delivered first
 *  (no byte is ever held back); calling again continues with the bytes that follow.
 *  The parent's ends are switched to non-blocking mode. Does not touch stdin: close it (or
 *  feed it with mproc_proc_write()) first if the child reads it.
 *  Returns 0 when no piped output stream is left open (at once if there was none),
 *  MPROC_ETIMEDOUT, MPROC_ECANCELED (on_data asked to stop), MPROC_EINVAL (NULL p or
 *  on_data, unknown flags, timeout_ms < -1), MPROC_ENOMEM, or a read error.
 *  Blocks the calling thread, which runs on_data. Not thread-safe on the same handle. */
MPROC_API int mproc_proc_stream(mproc_proc *p, mproc_data_fn on_data, void *ctx,
                                const mproc_stream_opts *opts, int timeout_ms);

/** Reads up to cap bytes from the child's piped stdout or stderr (which = MPROC_STDOUT or
 *  MPROC_STDERR) as soon as any are available, waiting up to timeout_ms (-1 forever, 0 try
 *  once). Returns the number of bytes read (> 0), 0 at end-of-file (again on every later
 *  call; the descriptor stays open), MPROC_ETIMEDOUT (nothing arrived in time),
 *  MPROC_EBADF (that stream is not piped or was closed), MPROC_EINVAL (NULL p or buf, cap 0,
 *  bad which, timeout_ms < -1). At most INT_MAX bytes are read per call. Sets the parent's
 *  end non-blocking. Blocks the calling thread; not thread-safe on the same stream. */
MPROC_API int mproc_proc_read(mproc_proc *p, int which, void *buf, size_t cap, int timeout_ms);

/** Writes len bytes to the child's piped stdin, waiting up to timeout_ms (-1 forever, 0 try
 *  once) for the pipe to take them. *written (if not NULL) gets the number of bytes
 *  written, also on failure. Returns 0 when all were written, MPROC_ETIMEDOUT (some may
 *  have been), MPROC_EPIPE (the child closed its stdin or exited; SIGPIPE is never raised:
 *  it is blocked for the calling thread during the write and a SIGPIPE the write caused is
 *  consumed), MPROC_EBADF (stdin is not piped or was closed), MPROC_EINVAL (NULL p, NULL
 *  buf with len > 0, timeout_ms < -1). Close stdin with mproc_proc_close_stdio(p,
 *  MPROC_STDIN) to send end-of-file. Sets the parent's end non-blocking. Blocks the
 *  calling thread; not thread-safe on the same stream. */
MPROC_API int mproc_proc_write(mproc_proc *p, const void *buf, size_t len, size_t *written,
                               int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_IO_H */
