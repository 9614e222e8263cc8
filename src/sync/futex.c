/* futex.c: the sync layer's kernel interface: shared futex wait/wake, the calling thread's
 * identity, and whether another thread is still alive.
 *
 * These would belong in src/sys; they live here, private to the sync layer, until they
 * move. The thread identity is cached per thread so a lock's fast path makes no system
 * call; the cache is invalidated by fork through a MADV_WIPEONFORK page (the child sees it
 * zeroed), which works whatever made the child (fork, clone, mproc_fork) and needs no
 * atfork handler. That page is the one piece of process-wide state here.
 */
#include "sync/sync_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sys/sys.h"

int64_t mproc__deadline_ns(int timeout_ms)
{
    if (timeout_ms < 0)
        return INT64_MAX;
    return mproc__now_ns() + (int64_t)timeout_ms * 1000000;
}

/* ---- identity ---- */

struct ident_page {
    _Atomic uint32_t pid; /* 0 in a freshly forked child: the page is wiped on fork */
};

/* Published once by pthread_once, read by every thread: atomic so readers never race the
 * store (the page's pid is atomic too: threads of one process may store it together). */
static struct ident_page *_Atomic ident_page;
static pthread_once_t ident_once = PTHREAD_ONCE_INIT;

static _Thread_local struct {
    uint32_t pid_seen; /* ident_page->pid when tid was read */
    uint32_t tid;
    uint64_t start;
    uint64_t id; /* tid << 40 | start & (2^40 - 1): what a lock records as its owner */
} self __attribute__((tls_model("initial-exec")));

static void ident_init(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    if (madvise(p, (size_t)pg, MADV_WIPEONFORK) != 0) {
        munmap(p, (size_t)pg); /* kernel before 4.14: fall back to asking every time */
        return;
    }
    atomic_store_explicit(&ident_page, (struct ident_page *)p, memory_order_release);
}

/* Start time of a /proc stat file; *state is 0 when the thread is gone, '?' when its
 * file cannot be read (it is then taken as alive). */
static uint64_t stat_read(const char *path, char *state)
{
    uint64_t start = 0;
    int rc = mproc__stat_read(path, state, &start);
    if (rc == MPROC_ENOENT || rc == MPROC_ESRCH)
        *state = 0;
    else if (rc < 0)
        *state = '?';
    return rc < 0 ? 0 : start;
}

static uint32_t self_refresh(void)
{
    pthread_once(&ident_once, ident_init);
    uint32_t pid = (uint32_t)getpid();
    self.tid = (uint32_t)gettid();
    char st;
    self.start = stat_read("/proc/thread-self/stat", &st);
    self.id = (uint64_t)self.tid << 40 | (self.start & ((1ull << 40) - 1));
    struct ident_page *pg = atomic_load_explicit(&ident_page, memory_order_acquire);
    if (pg) {
        atomic_store_explicit(&pg->pid, pid, memory_order_relaxed); /* the same value */
        self.pid_seen = pid;
    }
    return self.tid;
}

uint32_t mproc__self_tid(void)
{
    return (uint32_t)(mproc__self_id() >> 40);
}

uint64_t mproc__self_id(void)
{
    struct ident_page *pg = atomic_load_explicit(&ident_page, memory_order_acquire);
    uint32_t pid = pg ? atomic_load_explicit(&pg->pid, memory_order_relaxed) : 0;
    if (__builtin_expect(pid == 0 || self.pid_seen != pid, 0))
        self_refresh();
    return self.id;
}

uint64_t mproc__self_start(void)
{
    mproc__self_tid();
    return self.start;
}

int mproc__tid_alive(uint32_t tid, uint64_t start)
{
    char path[64], st = '?';
    snprintf(path, sizeof path, "/proc/%u/stat", tid);
    uint64_t s = stat_read(path, &st);
    if (st == 0)
        return 0; /* no such thread */
    if (s == 0)
        return 1; /* cannot tell (no /proc?): never take a lock from the living */
    if (st == 'Z' || st == 'X')
        return 0; /* dead, not yet reaped */
    return start == 0 || (s & ((1ull << 40) - 1)) == start;
}
