/* shm.c: shared memory regions: anonymous, named (/dev/shm) and memfd.
 *
 * Responsible for mapping and unmapping regions and for the header page in front of each
 * (kind, sizes, creator, name, and the sync layer's domain area). The creator of a named
 * region is the one process that unlinks it; everyone else only unmaps. This file must not
 * keep any process-wide state: all it knows about a region is in the region's header.
 */
#include "shm/shm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/sys.h"

#define SHM_MAGIC 0x6d70726f63534d31ull /* "mprocSM1" */

enum { KIND_ANON = 1, KIND_NAMED = 2, KIND_MEMFD = 3 };

struct shm_hdr {
    _Atomic uint64_t magic; /* set last, with release: the header is complete */
    uint64_t map_size;      /* bytes mapped, header included */
    uint64_t user_size;     /* bytes asked for */
    uint32_t kind;
    int32_t creator_pid; /* named: the one process whose free unlinks the name */
    char name[MPROC_SHM_NAME_MAX + 2];
};

_Static_assert(sizeof(struct shm_hdr) <= MPROC__SHM_DOMAIN_OFF, "header overlaps the domain");

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* Bytes to map for size usable bytes, or 0 if it overflows. */
static size_t map_size_for(size_t size)
{
    size_t pg = page_size();
    if (size == 0 || size > SIZE_MAX - MPROC__SHM_HDR - pg)
        return 0;
    return (size + MPROC__SHM_HDR + pg - 1) / pg * pg;
}

void *mproc__shm_header(void *mem)
{
    if (!mem || ((uintptr_t)mem & (MPROC__SHM_HDR - 1)) != 0)
        return NULL;
    struct shm_hdr *h = (struct shm_hdr *)((char *)mem - MPROC__SHM_HDR);
    return atomic_load_explicit(&h->magic, memory_order_acquire) == SHM_MAGIC ? h : NULL;
}

static void *hdr_finish(struct shm_hdr *h, size_t map, size_t size, uint32_t kind)
{
    h->map_size = map;
    h->user_size = size;
    h->kind = kind;
    h->creator_pid = (int32_t)getpid();
    atomic_store_explicit(&h->magic, SHM_MAGIC, memory_order_release);
    return (char *)h + MPROC__SHM_HDR;
}

int mproc_shm_new(void **mem, size_t size)
{
    if (!mem)
        return MPROC_EINVAL;
    *mem = NULL;
    size_t map = map_size_for(size);
    if (map == 0)
        return MPROC_EINVAL;
    void *p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    *mem = hdr_finish(p, map, size, KIND_ANON);
    return 0;
}

/* Checks a user-given name and writes "/name" into out. */
static int name_make(char out[MPROC_SHM_NAME_MAX + 2], const char *name)
{
    if (name[0] == '/')
        name++;
    size_t len = strlen(name);
    if (len == 0 || len > MPROC_SHM_NAME_MAX || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return MPROC_EINVAL;
    out[0] = '/';
    memcpy(out + 1, name, len + 1);
    return 0;
}

/* A name nobody can guess: 96 random bits. */
static int name_random(char out[MPROC_SHM_NAME_MAX + 2])
{
    unsigned char r[12];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0)
            got += (size_t)n;
    }
    int len = snprintf(out, MPROC_SHM_NAME_MAX + 2, "/mproc-%d-", (int)getpid());
    for (size_t i = 0; i < sizeof r; i++)
        len += snprintf(out + len, 3, "%02x", r[i]);
    return 0;
}

static int shm_create(void **mem, const char *name, size_t size)
{
    char full[MPROC_SHM_NAME_MAX + 2];
    size_t map = map_size_for(size);
    int rc = map == 0 ? MPROC_EINVAL : name ? name_make(full, name) : name_random(full);
    if (rc < 0)
        return rc;
    int fd = shm_open(full, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)map) == 0)
        p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    rc = p == MAP_FAILED ? -errno : 0;
    mproc__close(fd);
    if (rc < 0) {
        shm_unlink(full);
        return rc;
    }
    struct shm_hdr *h = p;
    memcpy(h->name, full, strlen(full) + 1);
    *mem = hdr_finish(h, map, size, KIND_NAMED);
    return 0;
}

/* The size of fd's object once its creator has sized it (a creator is between shm_open
 * and ftruncate for a moment), or an error at the deadline. */
static ssize_t sized(int fd, int64_t deadline, int wait_ms)
{
    struct stat st;
    for (;;) {
        if (fstat(fd, &st) < 0)
            return -errno;
        if ((size_t)st.st_size >= MPROC__SHM_HDR)
            return (ssize_t)st.st_size;
        if (mproc__ms_left(deadline) == 0)
            return wait_ms ? MPROC_EAGAIN : MPROC_EPROTO;
        usleep(1000);
    }
}

/* 0 once the header is complete, or why it will not be. */
static int described(struct shm_hdr *h, int64_t deadline, int wait_ms)
{
    uint64_t magic;
    while ((magic = atomic_load_explicit(&h->magic, memory_order_acquire)) != SHM_MAGIC) {
        if (magic != 0) /* someone else's object, not one being set up */
            return MPROC_EPROTO;
        if (mproc__ms_left(deadline) == 0)
            return wait_ms ? MPROC_EAGAIN : MPROC_EPROTO;
        usleep(1000);
    }
    return 0;
}

/* Maps a region from fd once its creator has sized and described it, waiting up to
 * wait_ms for a creator that is still setting it up. */
static int map_existing(void **mem, int fd, size_t want, uint32_t kind, int wait_ms)
{
    int64_t deadline = mproc__deadline(wait_ms);
    ssize_t size = sized(fd, deadline, wait_ms);
    if (size < 0)
        return (int)size;
    size_t map = (size_t)size;
    void *p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    struct shm_hdr *h = p;
    int rc = described(h, deadline, wait_ms);
    if (rc == 0 && (h->map_size != map || h->kind != kind))
        rc = MPROC_EPROTO;
    else if (rc == 0 && want > h->user_size)
        rc = MPROC_EINVAL;
    if (rc < 0) {
        munmap(p, map);
        return rc;
    }
    *mem = (char *)p + MPROC__SHM_HDR;
    return 0;
}

static int shm_attach(void **mem, const char *name, size_t size)
{
    char full[MPROC_SHM_NAME_MAX + 2];
    int rc = name ? name_make(full, name) : MPROC_EINVAL;
    if (rc < 0)
        return rc;
    int fd = shm_open(full, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    rc = map_existing(mem, fd, size, KIND_NAMED, 1000);
    mproc__close(fd);
    return rc;
}

int mproc_shm_open(void **mem, const char *name, size_t size, unsigned flags)
{
    if (!mem)
        return MPROC_EINVAL;
    *mem = NULL;
    if (flags & ~MPROC_SHM_FLAGS_ALL)
        return MPROC_EINVAL;
    if (flags & MPROC_SHM_CREATE)
        return shm_create(mem, name, size);
    return shm_attach(mem, name, size);
}

int mproc_shm_memfd(void **mem, size_t size, int *fd)
{
    if (!mem || !fd)
        return MPROC_EINVAL;
    *mem = NULL;
    *fd = -1;
    size_t map = map_size_for(size);
    if (map == 0)
        return MPROC_EINVAL;
    int f = memfd_create("mproc-shm", MFD_CLOEXEC);
    if (f < 0)
        return -errno;
    void *p = MAP_FAILED;
    if (ftruncate(f, (off_t)map) == 0)
        p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (p == MAP_FAILED) {
        int rc = -errno;
        mproc__close(f);
        return rc;
    }
    *mem = hdr_finish(p, map, size, KIND_MEMFD);
    *fd = f;
    return 0;
}

int mproc_shm_map_fd(void **mem, int fd)
{
    if (!mem)
        return MPROC_EINVAL;
    *mem = NULL;
    if (!mproc__fd_valid(fd))
        return MPROC_EBADF;
    /* a memfd is complete before its descriptor is handed out: no waiting */
    return map_existing(mem, fd, 0, KIND_MEMFD, 0);
}

void mproc_shm_free(void *mem)
{
    struct shm_hdr *h = mproc__shm_header(mem);
    if (!h)
        return;
    if (h->kind == KIND_NAMED && h->creator_pid == (int32_t)getpid())
        shm_unlink(h->name);
    munmap(h, h->map_size);
}

size_t mproc_shm_size(const void *mem)
{
    struct shm_hdr *h = mproc__shm_header((void *)(uintptr_t)mem);
    return h ? h->user_size : 0;
}

const char *mproc_shm_name(const void *mem)
{
    struct shm_hdr *h = mproc__shm_header((void *)(uintptr_t)mem);
    return h && h->kind == KIND_NAMED ? h->name : NULL;
}

int mproc_shm_unlink(const char *name)
{
    char full[MPROC_SHM_NAME_MAX + 2];
    int rc = name ? name_make(full, name) : MPROC_EINVAL;
    if (rc < 0)
        return rc;
    return shm_unlink(full) == 0 ? 0 : -errno;
}
