/* wait.c: the multi-wait over pollable descriptors behind mproc_wait_fds/mproc_wait_any.
 * One poll() with the time left recomputed from a CLOCK_MONOTONIC deadline after EINTR.
 * It must not keep state between calls or touch the descriptors beyond polling them. */
#include "mproc/wait.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>

#include "sys/sys.h"

#define WAIT_STACK 64

static int poll_all(struct pollfd *p, size_t n, int timeout_ms)
{
    int64_t dl = mproc__deadline(timeout_ms);
    for (;;) {
        int r = poll(p, (nfds_t)n, mproc__ms_left(dl));
        if (r > 0)
            return r;
        if (r == 0)
            return MPROC_ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

int mproc_wait_fds(const int *fds, size_t n, int timeout_ms, unsigned char *ready)
{
    if (!fds || n == 0 || n > (size_t)INT_MAX / 2 || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    struct pollfd stack[WAIT_STACK], *p = stack;
    if (n > WAIT_STACK && !(p = calloc(n, sizeof *p)))
        return MPROC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    int r = poll_all(p, n, timeout_ms);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i].revents & POLLNVAL)
            bad = 1;
        if (ready)
            ready[i] = p[i].revents != 0;
    }
    if (p != stack)
        free(p);
    return bad ? MPROC_EBADF : r;
}

int mproc_wait_any(const int *fds, size_t n, int timeout_ms)
{
    unsigned char stack[WAIT_STACK], *ready = stack;
    if (n > WAIT_STACK && !(ready = malloc(n)))
        return MPROC_ENOMEM;
    int r = mproc_wait_fds(fds, n, timeout_ms, ready);
    if (r > 0) {
        r = MPROC_ETIMEDOUT;
        for (size_t i = 0; i < n; i++) {
            if (ready[i]) {
                r = (int)i;
                break;
            }
        }
    }
    if (ready != stack)
        free(ready);
    return r;
}
