/* chan.c: the life of a channel end: creating a pair (socket, memfd rings, eventfds),
 * handing an end to a spawned child through a bootstrap socket and rebuilding it there,
 * descriptor passing, the pollable descriptor, and freeing. Moving messages through the
 * rings is ring.c's job; this file never reads or writes ring data. Freeing never writes
 * shared memory: a forked copy of the same end may still be using it. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "channel/chan_int.h"
#include "sys/sys.h"

/* The record a spawned child reads from its bootstrap socket (mproc_chan_child_fd): the
 * ring geometry, and 6 descriptors: memfd, efd_data[0..1], efd_space[0..1], the channel
 * socket. Sent only when an end is handed to a spawned child, so ordinary pairs put no
 * descriptor in flight (the kernel caps those per user at RLIMIT_NOFILE). */
#define SETUP_FDS 6
typedef struct setup_rec {
    uint32_t magic, version, side, pad;
    uint64_t ring_size, max_msg;
    int64_t spin_max_ns;
} setup_rec;

static mproc_chan *chan_alloc(void)
{
    mproc_chan *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sock = c->memfd = c->child_sock = -1;
    for (int i = 0; i < 2; i++)
        c->efd_data[i] = c->efd_space[i] = -1;
    c->map = MAP_FAILED;
    return c;
}

void mproc_chan_free(mproc_chan *c)
{
    if (!c)
        return;
    if (c->map != MAP_FAILED)
        munmap(c->map, c->map_size);
    mproc__close(c->sock);
    mproc__close(c->memfd);
    mproc__close(c->child_sock);
    for (int i = 0; i < 2; i++) {
        mproc__close(c->efd_data[i]);
        mproc__close(c->efd_space[i]);
    }
    free(c->part);
    free(c);
}

static int64_t spin_default(int spin_us)
{
    if (spin_us < 0)
        return 0;
    return (spin_us == 0 ? 50 : (int64_t)spin_us) * 1000;
}

/* Maps the memfd and points the handle at its rings. side 0 writes ring 0. */
static int chan_map(mproc_chan *c, int memfd, int side, uint64_t ring, uint64_t max_msg,
                    int64_t spin_max_ns)
{
    c->map_size = MPROC__CHAN_CTL + 2 * (size_t)ring;
    c->map = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (c->map == MAP_FAILED)
        return -errno;
    mproc__chan_shm *shm = (mproc__chan_shm *)(void *)c->map;
    c->out = side;
    c->in = 1 - side;
    c->rout = &shm->ring[c->out];
    c->rin = &shm->ring[c->in];
    c->dout = c->map + MPROC__CHAN_CTL + (size_t)c->out * ring;
    c->din = c->map + MPROC__CHAN_CTL + (size_t)c->in * ring;
    c->ring_size = ring;
    /* A frame, header included, is at most a quarter of the ring, so the writer can
     * always publish whole frames while the reader drains the rest. */
    c->max_frame = ring / 4 - MPROC__FR_HDR;
    c->dec.max_msg = max_msg;
    c->dec.max_frame = c->max_frame;
    /* Start where the rings are now: a fresh pair is at 0, an end rebuilt in a spawned
     * child is at 0 too (the parent must not have used it). */
    c->head = atomic_load_explicit(&c->rin->head, memory_order_acquire);
    c->tail = atomic_load_explicit(&c->rout->tail, memory_order_acquire);
    /* Nothing seen yet: no data to read, no room to write until the indices are read. */
    c->tail_seen = c->head;
    c->head_seen = c->tail - ring;
    c->spin_max_ns = spin_max_ns;
    c->spin_ns[0] = c->spin_ns[1] = spin_max_ns / 4;
    c->cpu_mine = &shm->end[c->out].cpu;
    c->cpu_peer = &shm->end[c->in].cpu;
    atomic_init(&c->cpu_last, -2); /* stored at the first wait */
    return 0;
}

static int opts_check(const mproc_chan_opts *o, uint64_t *ring, uint64_t *max_msg)
{
    *ring = o && o->ring_size ? o->ring_size : MPROC_CHAN_RING_DEFAULT;
    *max_msg = o && o->max_msg ? o->max_msg : MPROC_CHAN_MSG_DEFAULT;
    if (*ring < MPROC_CHAN_RING_MIN || *ring > MPROC_CHAN_RING_MAX || (*ring & (*ring - 1)))
        return MPROC_EINVAL;
    if (*max_msg > ((uint64_t)1 << 62) || (o && (o->spin_us < -1 || o->spin_us > 1000000)))
        return MPROC_EINVAL;
    return 0;
}

/* Creates the descriptors of end 0; end 1 gets duplicates so each end owns its own. */
static int make_fds(mproc_chan *e[2], size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    e[0]->sock = sv[0];
    e[1]->sock = sv[1];
    if ((e[0]->memfd = mproc__chan_memfd(size)) < 0)
        return e[0]->memfd;
    if ((e[1]->memfd = fcntl(e[0]->memfd, F_DUPFD_CLOEXEC, 3)) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        if ((e[0]->efd_data[i] = mproc__chan_eventfd()) < 0)
            return e[0]->efd_data[i];
        if ((e[0]->efd_space[i] = mproc__chan_eventfd()) < 0)
            return e[0]->efd_space[i];
        if ((e[1]->efd_data[i] = fcntl(e[0]->efd_data[i], F_DUPFD_CLOEXEC, 3)) < 0)
            return -errno;
        if ((e[1]->efd_space[i] = fcntl(e[0]->efd_space[i], F_DUPFD_CLOEXEC, 3)) < 0)
            return -errno;
    }
    return 0;
}

int mproc_chan_pair_opts(mproc_chan **a, mproc_chan **b, const mproc_chan_opts *opts)
{
    uint64_t ring, max_msg;
    if (!a || !b)
        return MPROC_EINVAL;
    int r = opts_check(opts, &ring, &max_msg);
    if (r < 0)
        return r;
    int64_t spin = spin_default(opts ? opts->spin_us : 0);
    mproc_chan *e[2] = {chan_alloc(), chan_alloc()};
    r = MPROC_ENOMEM;
    if (!e[0] || !e[1])
        goto fail;
    if ((r = make_fds(e, MPROC__CHAN_CTL + 2 * (size_t)ring)) < 0)
        goto fail;
    mproc__chan_shm *shm = NULL;
    for (int i = 0; i < 2; i++)
        if ((r = chan_map(e[i], e[i]->memfd, i, ring, max_msg, spin)) < 0)
            goto fail;
    shm = (mproc__chan_shm *)(void *)e[0]->map;
    shm->magic = MPROC__CHAN_SHM;
    shm->version = MPROC__CHAN_VERS;
    shm->ring_size = ring;
    shm->max_msg = max_msg;
    for (int i = 0; i < 2; i++)
        atomic_store(&shm->ring[i].mpos, MPROC__MIRROR_NONE);
    atomic_store(&shm->end[0].cpu, -1);
    atomic_store(&shm->end[1].cpu, -1);
    *a = e[0];
    *b = e[1];
    return 0;
fail:
    mproc_chan_free(e[0]);
    mproc_chan_free(e[1]);
    return r;
}

int mproc_chan_pair(mproc_chan **a, mproc_chan **b)
{
    return mproc_chan_pair_opts(a, b, NULL);
}

int mproc_chan_fd(const mproc_chan *c)
{
    if (!c)
        return MPROC_EINVAL;
    /* From now on the writer rings the eventfd on every publication. If data is already
     * waiting, the writer may have skipped the ring: make it readable ourselves. */
    atomic_store_explicit(&c->rin->polled, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&c->rin->tail, memory_order_acquire) != c->head)
        mproc__chan_ring(c->efd_data[c->in]);
    return c->efd_data[c->in];
}

int mproc_chan_child_fd(mproc_chan *c)
{
    if (!c)
        return MPROC_EINVAL;
    if (c->child_sock >= 0)
        return c->child_sock;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    setup_rec s = {.magic = MPROC__CHAN_SHM,
                   .version = MPROC__CHAN_VERS,
                   .side = (uint32_t)c->out,
                   .ring_size = c->ring_size,
                   .max_msg = c->dec.max_msg,
                   .spin_max_ns = c->spin_max_ns};
    int fds[SETUP_FDS] = {c->memfd,        c->efd_data[0],  c->efd_data[1],
                          c->efd_space[0], c->efd_space[1], c->sock};
    int r = mproc__chan_sendfds(sv[0], &s, sizeof s, fds, SETUP_FDS);
    /* Only the child's end stays: the record waits there until mproc_chan_from_fd reads
     * it, and goes (with the descriptors it carries) when the last copy is closed. */
    mproc__close(sv[0]);
    if (r < 0) {
        mproc__close(sv[1]);
        return r;
    }
    c->child_sock = sv[1];
    return sv[1];
}

/* 1 if fd is a unix SOCK_SEQPACKET socket, the only kind mproc reads setup from. */
static int is_seqpacket(int fd)
{
    struct stat st;
    int type = 0, domain = 0;
    socklen_t tl = sizeof type, dl = sizeof domain;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
           getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_SEQPACKET &&
           getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 && domain == AF_UNIX;
}

static int setup_valid(const setup_rec *s, ssize_t n, size_t nfds, int trunc, int memfd)
{
    if (n != (ssize_t)sizeof *s || nfds != SETUP_FDS || trunc || s->magic != MPROC__CHAN_SHM ||
        s->version != MPROC__CHAN_VERS || s->side > 1)
        return 0;
    uint64_t ring = s->ring_size;
    if (ring < MPROC_CHAN_RING_MIN || ring > MPROC_CHAN_RING_MAX || (ring & (ring - 1)))
        return 0;
    if (s->max_msg == 0 || s->max_msg > ((uint64_t)1 << 62) || s->spin_max_ns < 0 ||
        s->spin_max_ns > 1000000000)
        return 0;
    /* The mapping must not extend past the object, now or later (the seal), or touching
     * it would raise SIGBUS. */
    struct stat st;
    int seals = fcntl(memfd, F_GET_SEALS);
    return fstat(memfd, &st) == 0 && S_ISREG(st.st_mode) &&
           (uint64_t)st.st_size == MPROC__CHAN_CTL + 2 * ring && seals >= 0 &&
           (seals & F_SEAL_SHRINK);
}

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mproc__close(fds[i]);
}

/* Builds the end from a validated record's descriptors (taken over on success). */
static int chan_from_rec(mproc_chan **out, const setup_rec *s, int *fds)
{
    mproc_chan *c = chan_alloc();
    if (!c)
        return MPROC_ENOMEM;
    int r = chan_map(c, fds[0], (int)s->side, s->ring_size, s->max_msg, s->spin_max_ns);
    if (r < 0) {
        mproc_chan_free(c);
        return r;
    }
    c->memfd = fds[0];
    for (int i = 0; i < 2; i++) {
        c->efd_data[i] = fds[1 + i];
        c->efd_space[i] = fds[3 + i];
    }
    c->sock = fds[5];
    *out = c;
    return 0;
}

int mproc_chan_from_fd(mproc_chan **out, int fd)
{
    struct stat st;
    if (!out)
        return MPROC_EINVAL;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return MPROC_EBADF;
    /* Only ever read from a unix SOCK_SEQPACKET: never consume data from some other
     * socket that happens to carry the number (a grandchild inheriting the variable). */
    if (!is_seqpacket(fd))
        return MPROC_EPROTO;
    /* Peek (no control buffer: no descriptor is installed) so a record that is not ours,
     * a channel's own descriptor record say, stays where it is. */
    setup_rec s;
    ssize_t p;
    do
        p = recv(fd, &s, sizeof s, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
    while (p < 0 && errno == EINTR);
    if (p != (ssize_t)sizeof s || s.magic != MPROC__CHAN_SHM)
        return MPROC_EPROTO;
    int fds[SETUP_FDS];
    size_t nfds = 0;
    int trunc = 0;
    ssize_t n = mproc__chan_recvfds(fd, &s, sizeof s, fds, SETUP_FDS, &nfds, &trunc);
    size_t kept = nfds < SETUP_FDS ? nfds : SETUP_FDS;
    int r = MPROC_EPROTO;
    if (n >= 0 && setup_valid(&s, n, nfds, trunc, kept ? fds[0] : -1) && is_seqpacket(fds[5]))
        r = chan_from_rec(out, &s, fds);
    if (r < 0) {
        close_all(fds, kept);
        return r;
    }
    mproc__close(fd); /* the bootstrap socket has served */
    return 0;
}

int mproc_chan_from_env(mproc_chan **out)
{
    if (!out)
        return MPROC_EINVAL;
    const char *v = getenv(MPROC_CHAN_ENV);
    if (!v)
        return MPROC_ENOENT;
    char *end;
    errno = 0;
    long fd = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || fd < 0 || fd > INT_MAX)
        return MPROC_EINVAL;
    return mproc_chan_from_fd(out, (int)fd);
}

/* ---- descriptor passing: records on the socket, beside the rings ---- */

int mproc_chan_send_fd(mproc_chan *c, int fd, int timeout_ms)
{
    if (!c || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    if (!mproc__fd_valid(fd))
        return MPROC_EBADF;
    int64_t deadline = mproc__deadline(timeout_ms);
    for (;;) {
        int r = mproc__chan_sendfds(c->sock, "F", 1, &fd, 1);
        if (r == 0)
            return 0;
        if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN)
            return MPROC_ECLOSED;
        if (r != -EAGAIN)
            return r;
        int ev = mproc__poll1(c->sock, POLLOUT, deadline);
        if (ev < 0)
            return ev;
        if (ev == 0)
            return MPROC_ETIMEDOUT;
    }
}

/* One record: 1 = a descriptor in *fd, 0 = none waiting, or an error. */
static int take_record(mproc_chan *c, int *fd)
{
    char tag[8];
    int fds[4];
    size_t nfds = 0;
    int trunc = 0;
    ssize_t n = mproc__chan_recvfds(c->sock, tag, sizeof tag, fds, 4, &nfds, &trunc);
    if (n == -EAGAIN)
        return 0;
    if (n == 0 || n == -ECONNRESET)
        return MPROC_ECLOSED;
    if (n < 0)
        return (int)n;
    if (n == 1 && tag[0] == 'F' && nfds == 1 && !trunc) {
        *fd = fds[0];
        return 1;
    }
    close_all(fds, nfds < 4 ? nfds : 4);
    return MPROC_EPROTO;
}

int mproc_chan_recv_fd(mproc_chan *c, int *fd, int timeout_ms)
{
    if (!c || !fd || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    int64_t deadline = mproc__deadline(timeout_ms);
    for (;;) {
        int r = take_record(c, fd);
        if (r == 1)
            return 0;
        if (r < 0)
            return r;
        int ev = mproc__poll1(c->sock, POLLIN, deadline);
        if (ev < 0)
            return ev;
        if (ev == 0)
            return MPROC_ETIMEDOUT;
    }
}
