/* chan_sys.c: the system calls the channel needs that src/sys does not wrap yet (eventfd,
 * memfd, a two-descriptor wait, sendmsg/recvmsg with SCM_RIGHTS). Same rules as src/sys:
 * descriptors born close-on-exec, EINTR retried (never for close), -errno returned. It
 * knows nothing of rings or frames. Candidates to move into src/sys. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "channel/chan_int.h"
#include "sys/sys.h"

int64_t mproc__chan_coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int mproc__chan_eventfd(void)
{
    /* Non-blocking: draining one that is already 0 must never block. */
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int mproc__chan_memfd(size_t size)
{
    int fd = memfd_create("mproc-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    /* Sealed at its size: a hostile peer that shrank it would make our next access to
     * the rings raise SIGBUS. */
    if (ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        int e = -errno;
        mproc__close(fd);
        return e;
    }
    return fd;
}

void mproc__chan_ring(int efd)
{
    uint64_t one = 1;
    /* EAGAIN only when the counter is near 2^64: it is readable anyway. */
    (void)mproc__write(efd, &one, sizeof one);
}

void mproc__chan_drain(int efd)
{
    uint64_t v;
    (void)mproc__read(efd, &v, sizeof v);
}

int mproc__chan_wait(int efd, int sock, int64_t deadline_ms)
{
    /* events 0 on the socket: only POLLHUP/POLLERR matter; its POLLIN means a queued
     * descriptor, which is not what a ring waiter waits for. */
    struct pollfd p[2] = {{.fd = efd, .events = POLLIN, .revents = 0},
                          {.fd = sock, .events = 0, .revents = 0}};
    int r = mproc__poll(p, 2, deadline_ms); /* EINTR resumes with the time left */
    if (r <= 0)
        return r;
    int m = 0;
    if (p[0].revents & POLLIN)
        m |= MPROC__W_READY;
    if (p[1].revents & (POLLHUP | POLLERR))
        m |= MPROC__W_HUP;
    return m;
}

int mproc__chan_hup(int sock)
{
    int r = mproc__poll1(sock, 0, 0); /* a deadline already passed: look, never wait */
    return r > 0 && (r & (POLLHUP | POLLERR)) != 0;
}

int mproc__chan_sendfds(int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(8 * sizeof(int))];
    } u;
    if (nfds > 8)
        return -EINVAL;
    struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        memset(&u, 0, sizeof u);
        m.msg_control = u.buf;
        m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(h), fds, nfds * sizeof(int));
    }
    for (;;) {
        ssize_t r = sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* Keeps up to max descriptors of one SCM_RIGHTS block, closes the rest. */
static void take_fds(struct cmsghdr *h, int *fds, size_t max, size_t *nfds)
{
    size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        if (*nfds < max)
            fds[*nfds] = fd;
        else
            mproc__close(fd);
        (*nfds)++;
    }
}

ssize_t mproc__chan_recvfds(int sock, void *data, size_t len, int *fds, size_t max, size_t *nfds,
                            int *trunc)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(16 * sizeof(int))];
    } u;
    struct iovec iov = {.iov_base = data, .iov_len = len};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t r;
    do
        r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    *nfds = 0;
    *trunc = (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
            take_fds(h, fds, max, nfds);
    return r;
}
