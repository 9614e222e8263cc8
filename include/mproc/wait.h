/* mproc/wait.h: wait for any of several processes, channels, queues or plain descriptors
 * (Python's multiprocessing.connection.wait), through their pollable descriptors:
 * mproc_proc_fd() (readable once the child ended), mproc_queue_fd(), mproc_chan_fd(), or any
 * descriptor of the application's own. */
#ifndef MPROC_WAIT_H
#define MPROC_WAIT_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Waits up to timeout_ms (-1 forever, 0 poll once) until at least one of the n descriptors
 *  is ready: readable, hung up or in error. Negative entries are ignored (like poll). If
 *  ready is not NULL, ready[i] is set to 1 for each ready descriptor and 0 for the others.
 *  Returns the number of ready descriptors (> 0), MPROC_ETIMEDOUT, MPROC_EBADF (a
 *  descriptor is not open: its ready[] entry is 1), MPROC_EINVAL (fds NULL, n == 0 (nothing
 *  would ever end the wait), n too large, timeout < -1), MPROC_ENOMEM. EINTR resumes with the time
 * left. Thread-safe; async-signal-safe when n <= 64. */
MPROC_API int mproc_wait_fds(const int *fds, size_t n, int timeout_ms, unsigned char *ready);

/** Like mproc_wait_fds, returning the index of the lowest ready descriptor (>= 0),
 *  MPROC_ETIMEDOUT, or the same errors. */
MPROC_API int mproc_wait_any(const int *fds, size_t n, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_WAIT_H */
