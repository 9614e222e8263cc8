/* sys.c: thin wrappers over system calls: EINTR, CLOEXEC and error conventions handled
 * once, here. Nothing in this file allocates memory or keeps state. */
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <mproc/common.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int64_t mproc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mproc__now_ms(void)
{
    return mproc__now_ns() / 1000000;
}

int64_t mproc__deadline(int timeout_ms)
{
    if (timeout_ms < 0)
        return INT64_MAX;
    return mproc__now_ms() + timeout_ms;
}

int mproc__ms_left(int64_t deadline_ms)
{
    if (deadline_ms == INT64_MAX)
        return -1;
    int64_t left = deadline_ms - mproc__now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

int mproc__pipe(int fds[2])
{
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}

int mproc__open(const char *path, int flags, mode_t mode)
{
    for (;;) {
        int fd = open(path, flags | O_CLOEXEC, mode);
        if (fd >= 0)
            return fd;
        if (errno != EINTR)
            return -errno;
    }
}

void mproc__close(int fd)
{
    if (fd < 0)
        return;
    int saved = errno;
    /* Never retried: on Linux the descriptor is gone even when close reports EINTR.
     * errno is restored only when close changed it: a write to errno right after a fork
     * costs a copy-on-write fault. */
    if (close(fd) != 0)
        errno = saved;
}

int mproc__fd_valid(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

int mproc__set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl && fcntl(fd, F_SETFL, want) < 0)
        return -errno;
    return 0;
}

int mproc__poll1(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events, .revents = 0};
        int r = poll(&p, 1, mproc__ms_left(deadline_ms));
        if (r > 0)
            return p.revents;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int mproc__poll(struct pollfd *fds, nfds_t n, int64_t deadline_ms)
{
    for (;;) {
        int r = poll(fds, n, mproc__ms_left(deadline_ms));
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

ssize_t mproc__read(int fd, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

ssize_t mproc__write(int fd, const void *buf, size_t n)
{
    for (;;) {
        ssize_t r = write(fd, buf, n);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

int mproc__write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t r = mproc__write(fd, p, n);
        if (r < 0)
            return (int)r;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int mproc__pidfd_open(pid_t pid)
{
    long r = syscall(SYS_pidfd_open, pid, 0);
    return r < 0 ? -errno : (int)r; /* pidfds are always close-on-exec */
}

int mproc__pidfd_signal(int pidfd, int sig)
{
    return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0 ? 0 : -errno;
}

int mproc__waitid_pidfd(int pidfd, siginfo_t *info, int options, struct rusage *ru)
{
    for (;;) {
        info->si_pid = 0;
        /* The raw syscall takes a fifth argument, the child's rusage, that glibc's
         * waitid() does not expose. P_PIDFD needs Linux 5.4. */
        long r = syscall(SYS_waitid, P_PIDFD, pidfd, info, options | __WALL, ru);
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int mproc__sig_valid(int sig)
{
    return sig >= 0 && sig < _NSIG;
}

int mproc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_ns)
{
    struct timespec ts, *tp = NULL;
    if (deadline_ns != INT64_MAX) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000);
        ts.tv_nsec = (long)(deadline_ns % 1000000000);
        tp = &ts;
    }
    int saved = errno;
    long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, val, tp, NULL, FUTEX_BITSET_MATCH_ANY);
    int e = errno;
    errno = saved;
    if (r == 0)
        return 0;
    switch (e) {
    case EAGAIN:
        return MPROC_EAGAIN;
    case EINTR:
        return MPROC_EINTR;
    case ETIMEDOUT:
        return MPROC_ETIMEDOUT;
    default:
        return -e;
    }
}

void mproc__futex_wake(_Atomic uint32_t *addr, int n)
{
    int saved = errno;
    (void)syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
    errno = saved;
}

int mproc__stat_read(const char *path, char *state, uint64_t *start)
{
    char buf[1024];
    int fd = mproc__open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    ssize_t n = mproc__read(fd, buf, sizeof buf - 1);
    mproc__close(fd);
    if (n <= 0)
        return n < 0 ? (int)n : MPROC_EIO; /* ESRCH: it ended since the open */
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] == '\0')
        return MPROC_EIO;
    *state = p[2];
    p += 2;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return MPROC_EIO;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return 0;
}
