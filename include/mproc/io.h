/* mproc/io.h: run a command to completion with its input fed and its output captured
 * (Python's subprocess.run, Node's execFile), without pipe deadlock. */
#ifndef MPROC_IO_H
#define MPROC_IO_H

#include <stddef.h>

#include "common.h"
#include "proc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_run_opts {
    const void *input; /* fed to the child's stdin, then stdin is closed; NULL: empty */
    size_t input_len;
    size_t max_output;     /* cap per stream in bytes; 0: unlimited. Past it, output is read and
                              discarded (the child is never blocked or killed) and .truncated set */
    int timeout_ms;        /* 0 or -1: none; > 0: the child's process group is killed at the
                              deadline and mproc_run returns MPROC_ETIMEDOUT with what was
                              captured so far */
    int no_capture_stderr; /* 1: leave stderr as opts->stdio[2] says instead of capturing */
} mproc_run_opts;

typedef struct mproc_result {
    mproc_status status;
    char *out; /* captured stdout, NUL-terminated (not counted in out_len); malloc'd */
    size_t out_len;
    char *err; /* captured stderr, likewise */
    size_t err_len;
    int truncated; /* bit 0: stdout hit max_output, bit 1: stderr did */
} mproc_result;

/** Runs argv to completion. stdin/stdout/stderr of opts are overridden by pipes (stderr
 *  unless ropts->no_capture_stderr); the child leads a new process group so a timeout
 *  kills its descendants too. On 0 or MPROC_ETIMEDOUT, *res holds the status and
 *  captured output and must be released with mproc_result_free(). On any other error
 *  *res is zeroed. Errors: those of mproc_spawn, MPROC_ETIMEDOUT, MPROC_ENOMEM. */
MPROC_API int mproc_run(const char *const argv[], const mproc_opts *opts,
                        const mproc_run_opts *ropts, mproc_result *res);

/** Frees captured output; res is zeroed. NULL is a no-op. */
MPROC_API void mproc_result_free(mproc_result *res);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_IO_H */
