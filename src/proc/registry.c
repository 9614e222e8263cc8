/* registry.c: the set of pids mproc created and has not reaped yet, and the subreaper.
 *
 * The one piece of process-wide state in src/proc, kept because the subreaper must tell
 * adopted orphans (reaped here) from children an mproc handle owns (never touched here).
 * A child is in the set from its creation: spawn and fork hold reg->create for reading
 * from before clone/fork until the pid is added, and mproc_reap_orphans() holds it for
 * writing, so a child that ends at once is never taken for an orphan.
 * It is fork-safe: a forked child starts with an empty registry (see struct reg).
 * It must not reap anything the registry holds, and never calls waitpid(-1): it reaps
 * pids one by one with waitid(P_PID, WNOHANG). It cannot tell an adopted orphan from a
 * child the application forked itself: those are reaped too once ended (docs/proc.md). */
#include "proc/proc_int.h"
#include "sys/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The registry lives on a page mapped MADV_WIPEONFORK (Linux 4.14): a forked child finds
 * it zero-filled, that is an unlocked mutex and rwlock (glibc's initializers are all zero)
 * and an empty set, with no fork handler to run. The parent's writes to it after a fork
 * cost no copy-on-write fault either, since the page is never shared with the child;
 * that keeps mproc_fork close to a raw fork. */
#define REG_INLINE 1000

struct reg {
    pthread_mutex_t lock;
    pthread_rwlock_t create;
    pthread_mutex_t held_lock; /* held.c's set of pipe ends */
    size_t len, cap;
    pid_t *pids;            /* inline below, or a heap array once that is full; NULL: not set up */
    _Atomic pid_t self;     /* our pid, 0 until asked: a forked child finds 0 again */
    _Atomic int main_known; /* main_thread below is set */
    pthread_t main_thread;  /* the thread whose tid is our pid; written by it, once */
    pid_t inline_pids[REG_INLINE];
};

static struct reg *_Atomic reg_page;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static void reg_init(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = (sizeof(struct reg) + pg - 1) / pg * pg;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return; /* no registry: only mproc_reap_orphans() would notice (docs/proc.md) */
    if (madvise(p, size, MADV_WIPEONFORK) != 0) {
        munmap(p, size);
        return;
    }
    atomic_store_explicit(&reg_page, (struct reg *)p, memory_order_release);
}

static struct reg *reg_get(void)
{
    pthread_once(&reg_once, reg_init);
    return atomic_load_explicit(&reg_page, memory_order_acquire);
}

/* getpid() and gettid() are system calls (glibc caches neither): mproc_fork asks both
 * on every call. The answers are kept on the wipe-on-fork page, so a forked child asks
 * the kernel again once. (A CLONE_VM child that is not a thread would see the parent's
 * answers: mproc's own spawn child never calls these.) */
pid_t mproc__self_pid(void)
{
    struct reg *r = reg_get();
    if (!r)
        return getpid();
    pid_t pid = atomic_load_explicit(&r->self, memory_order_relaxed);
    if (pid == 0) {
        pid = getpid();
        atomic_store_explicit(&r->self, pid, memory_order_relaxed);
    }
    return pid;
}

int mproc__is_main_thread(void)
{
    struct reg *r = reg_get();
    if (!r)
        return syscall(SYS_gettid) == getpid();
    if (atomic_load_explicit(&r->main_known, memory_order_acquire))
        return pthread_equal(pthread_self(), r->main_thread) != 0;
    if (syscall(SYS_gettid) != mproc__self_pid())
        return 0;
    /* Only the main thread gets here, so main_thread has a single writer. */
    r->main_thread = pthread_self();
    atomic_store_explicit(&r->main_known, 1, memory_order_release);
    return 1;
}

pthread_mutex_t *mproc__registry_held_lock(void)
{
    struct reg *r = reg_get();
    return r ? &r->held_lock : NULL;
}

void mproc__registry_creating(void)
{
    struct reg *r = reg_get();
    if (r)
        pthread_rwlock_rdlock(&r->create);
}

void mproc__registry_created(void)
{
    struct reg *r = reg_get();
    if (r)
        pthread_rwlock_unlock(&r->create);
}

void mproc__registry_add(pid_t pid)
{
    struct reg *r = reg_get();
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    if (!r->pids) {
        r->pids = r->inline_pids;
        r->cap = REG_INLINE;
    }
    if (r->len == r->cap) {
        size_t cap = 2 * r->cap;
        pid_t *n = malloc(cap * sizeof *n);
        if (!n) {
            /* Without room the pid is not protected from mproc_reap_orphans(); that is
             * only ever used by callers who opted into subreaper mode. */
            pthread_mutex_unlock(&r->lock);
            return;
        }
        memcpy(n, r->pids, r->len * sizeof *n);
        if (r->pids != r->inline_pids)
            free(r->pids);
        r->pids = n;
        r->cap = cap;
    }
    r->pids[r->len++] = pid;
    pthread_mutex_unlock(&r->lock);
}

void mproc__registry_remove(pid_t pid)
{
    struct reg *r = reg_get();
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->len; i++)
        if (r->pids[i] == pid) {
            r->pids[i] = r->pids[--r->len];
            break;
        }
    pthread_mutex_unlock(&r->lock);
}

int mproc__registry_has(pid_t pid)
{
    struct reg *r = reg_get();
    int found = 0;
    if (!r)
        return 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->len && !found; i++)
        found = r->pids[i] == pid;
    pthread_mutex_unlock(&r->lock);
    return found;
}

int mproc_subreaper_enable(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : -errno;
}

/* Reaps the ended children listed in buf that mproc did not create. */
static int reap_listed(char *buf)
{
    int reaped = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        pid_t pid = (pid_t)strtol(tok, NULL, 10);
        if (pid <= 0 || mproc__registry_has(pid))
            continue;
        siginfo_t si;
        memset(&si, 0, sizeof si);
        /* Only one that has ended; WNOHANG never blocks on a live one. */
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | __WALL) == 0 && si.si_pid == pid)
            reaped++;
    }
    return reaped;
}

/* Reads /proc/self/task/TID/children (the direct children that thread created or that
 * were adopted through it) and reaps the ended orphans among them. */
static int reap_children_of(const char *path)
{
    int fd = mproc__open(path, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (ssize_t n = 1; buf && n > 0;) {
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                break;
            buf = bigger;
            cap *= 2;
        }
        n = mproc__read(fd, buf + len, cap - 1 - len);
        len += n > 0 ? (size_t)n : 0;
    }
    mproc__close(fd);
    if (!buf)
        return 0;
    buf[len] = '\0';
    int reaped = reap_listed(buf);
    free(buf);
    return reaped;
}

int mproc_reap_orphans(void)
{
    struct reg *r = reg_get();
    if (!r)
        return MPROC_ENOMEM;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -errno;
    pthread_rwlock_wrlock(&r->create);
    int total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        total += reap_children_of(path);
    }
    pthread_rwlock_unlock(&r->create);
    closedir(d);
    return total;
}
