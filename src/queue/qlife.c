/* qlife.c: creating, attaching to, freeing and unlinking queues: sizes and their checks,
 * the shared mapping (anonymous MAP_SHARED for forked children, a /dev/shm file for named
 * queues), the per-process MADV_WIPEONFORK page and the poll descriptor.
 *
 * It must leave nothing behind on failure (no mapping, descriptor or file), and must not
 * touch a queue another process may be using except through atomics.
 */
#include "queue/queue_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sys/sys.h"

#define Q_DEFAULT_CAP (4u << 20)
#define Q_DEFAULT_MSG (64u << 10)
#define Q_MAX_CAP     (1ULL << 40)

static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t p = 4096;
    while (p < v)
        p <<= 1;
    return p;
}

/* Works out capacity and maximum message size; every message must fit in half the ring so
 * that a record plus the filler before it always fits in an empty ring. */
static int q_sizes(const mproc_queue_opts *o, uint64_t *cap, uint64_t *max_msg)
{
    uint64_t m = o->max_msg_size, c = o->capacity_bytes;
    if (m > UINT32_MAX - 2 * Q_HDR || c > Q_MAX_CAP)
        return MPROC_EINVAL;
    if (c == 0)
        c = m && 2 * q_recsize((uint32_t)m) > Q_DEFAULT_CAP ? 2 * q_recsize((uint32_t)m)
                                                            : Q_DEFAULT_CAP;
    c = pow2_at_least(c);
    if (c > Q_MAX_CAP)
        return MPROC_EINVAL;
    if (m == 0)
        m = Q_DEFAULT_MSG <= c / 2 - Q_HDR ? Q_DEFAULT_MSG : c / 2 - Q_HDR;
    if (2 * q_recsize((uint32_t)m) > c)
        return MPROC_EINVAL;
    *cap = c;
    *max_msg = m;
    return 0;
}

static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > Q_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static void q_path(char *buf, size_t n, const char *name, int fifo)
{
    snprintf(buf, n, "/dev/shm/mproc-q.%s%s", name, fifo ? ".fd" : "");
}

static int q_alloc(mproc_queue **out)
{
    mproc_queue *q = calloc(1, sizeof *q);
    if (!q)
        return MPROC_ENOMEM;
    q->sigfd = -1;
    atomic_init(&q->spin_items, 50000);
    atomic_init(&q->spin_space, 50000);
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        free(q);
        return MPROC_ENOMEM;
    }
    q->local = p;
    q->wipe_ok = madvise(p, 4096, MADV_WIPEONFORK) == 0;
    *out = q;
    return 0;
}

void mproc_queue_free(mproc_queue *q)
{
    if (!q)
        return;
    if (q->h)
        munmap(q->h, (size_t)q->h->map_size);
    munmap(q->local, 4096);
    mproc__close(q->sigfd);
    free(q);
}

static void q_attach(mproc_queue *q, struct qshm *h)
{
    q->h = h;
    q->data = (unsigned char *)h + Q_DATA_OFF;
    q->mask = h->cap - 1;
    mproc__q_register(q);
}

static void q_init(struct qshm *h, const mproc_queue_opts *o, uint64_t cap, uint64_t max_msg,
                   uint64_t size)
{
    h->version = Q_VERSION;
    h->flags = o->flags;
    h->cap = cap;
    h->max_msg = max_msg;
    h->max_count = o->max_messages;
    h->map_size = size;
    atomic_store_explicit(&h->magic, Q_MAGIC, memory_order_release);
}

static int open_fifo(mproc_queue *q, const char *name)
{
    char path[256];
    q_path(path, sizeof path, name, 1);
    /* O_RDWR on a FIFO never blocks on Linux and keeps it open for both ends. */
    int fd = mproc__open(path, O_RDWR | O_NONBLOCK, 0);
    if (fd < 0)
        return fd;
    q->sigfd = fd;
    q->sig_fifo = 1;
    return 0;
}

static int create_named(mproc_queue *q, const mproc_queue_opts *o, uint64_t cap, uint64_t mm)
{
    char path[256], fpath[256];
    q_path(path, sizeof path, o->name, 0);
    q_path(fpath, sizeof fpath, o->name, 1);
    if (mkfifo(fpath, 0600) != 0)
        return -errno;
    int r = open_fifo(q, o->name);
    int fd = r < 0 ? r : mproc__open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        unlink(fpath);
        return fd;
    }
    uint64_t size = Q_DATA_OFF + cap;
    void *p = ftruncate(fd, (off_t)size) == 0
                  ? mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
    r = p == MAP_FAILED ? -errno : 0;
    mproc__close(fd);
    if (r < 0) {
        unlink(path);
        unlink(fpath);
        return r;
    }
    q_init(p, o, cap, mm, size);
    q_attach(q, p);
    return 0;
}

static int create_anon(mproc_queue *q, const mproc_queue_opts *o, uint64_t cap, uint64_t mm)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    q->sigfd = fd;
    uint64_t size = Q_DATA_OFF + cap;
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    q_init(p, o, cap, mm, size);
    q_attach(q, p);
    return 0;
}

int mproc_queue_new(mproc_queue **out, const mproc_queue_opts *opts)
{
    static const mproc_queue_opts none;
    const mproc_queue_opts *o = opts ? opts : &none;
    uint64_t cap, mm;
    if (!out || (o->flags & ~MPROC_QUEUE_FLAGS_ALL) || (o->name && !name_ok(o->name)) ||
        q_sizes(o, &cap, &mm) < 0)
        return MPROC_EINVAL;
    mproc_queue *q;
    int r = q_alloc(&q);
    if (r < 0)
        return r;
    r = o->name ? create_named(q, o, cap, mm) : create_anon(q, o, cap, mm);
    if (r < 0) {
        mproc_queue_free(q);
        return r;
    }
    *out = q;
    return 0;
}

/* Waits (up to about a second) for the creator to size and initialise the object. */
static int map_named(const char *path, struct qshm **out)
{
    int fd = mproc__open(path, O_RDWR, 0);
    if (fd < 0)
        return fd;
    struct stat st;
    int r = MPROC_ETIMEDOUT;
    for (int i = 0; i < 1000; i++) {
        if (fstat(fd, &st) != 0) {
            r = -errno;
            break;
        }
        if ((uint64_t)st.st_size > Q_DATA_OFF) {
            r = 0;
            break;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    void *p = r == 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                     : MAP_FAILED;
    if (r == 0 && p == MAP_FAILED)
        r = -errno;
    mproc__close(fd);
    if (r < 0)
        return r;
    struct qshm *h = p;
    for (int i = 0; i < 1000 && atomic_load(&h->magic) != Q_MAGIC; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&h->magic) != Q_MAGIC || h->version != Q_VERSION ||
        h->map_size != (uint64_t)st.st_size) {
        munmap(p, (size_t)st.st_size);
        return MPROC_EPROTO;
    }
    *out = h;
    return 0;
}

int mproc_queue_open(mproc_queue **out, const char *name)
{
    if (!out || !name || !name_ok(name))
        return MPROC_EINVAL;
    char path[256];
    q_path(path, sizeof path, name, 0);
    mproc_queue *q;
    int r = q_alloc(&q);
    if (r < 0)
        return r;
    struct qshm *h;
    r = open_fifo(q, name);
    if (r == 0)
        r = map_named(path, &h);
    if (r < 0) {
        mproc_queue_free(q);
        return r;
    }
    q_attach(q, h);
    *out = q;
    return 0;
}

int mproc_queue_unlink(const char *name)
{
    if (!name || !name_ok(name))
        return MPROC_EINVAL;
    char path[256];
    q_path(path, sizeof path, name, 0);
    int r = unlink(path) == 0 ? 0 : -errno;
    q_path(path, sizeof path, name, 1);
    int r2 = unlink(path) == 0 ? 0 : -errno;
    return r < 0 ? r : r2;
}
