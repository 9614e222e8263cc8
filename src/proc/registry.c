/* registry.c: the set of pids mproc created and has not reaped yet, and the subreaper.
 *
 * The one piece of process-wide state in src/proc, kept because the subreaper must tell
 * adopted orphans (reaped here) from children an mproc handle owns (never touched here).
 * A child is in the set from its creation: spawn and fork hold reg_create for reading
 * from before clone/fork until the pid is added, and mproc_reap_orphans() holds it for
 * writing, so a child that ends at once is never taken for an orphan.
 * It is fork-safe: a forked child sees its parent's set under another pid and discards it.
 * It must not reap anything the registry holds, and never calls waitpid(-1): it reaps
 * pids one by one with waitid(P_PID, WNOHANG). It cannot tell an adopted orphan from a
 * child the application forked itself: those are reaped too once ended (docs/proc.md). */
#include "proc/proc_int.h"
#include "sys/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *reg_pids;
static size_t reg_len, reg_cap;
static pid_t reg_owner;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static pthread_rwlock_t reg_create = PTHREAD_RWLOCK_INITIALIZER;

static void reg_atfork_child(void)
{
    /* A thread of the parent may have held them (the forking thread holds reg_create). */
    pthread_mutex_init(&reg_lock, NULL);
    pthread_rwlock_init(&reg_create, NULL);
    reg_len = 0;
    reg_owner = getpid();
}

static void reg_register_atfork(void)
{
    pthread_atfork(NULL, NULL, reg_atfork_child);
}

static void reg_check_owner_locked(void)
{
    pid_t me = getpid();
    if (reg_owner != me) {
        reg_len = 0; /* inherited across fork: those are our parent's children */
        reg_owner = me;
    }
}

void mproc__registry_creating(void)
{
    pthread_once(&reg_once, reg_register_atfork);
    pthread_rwlock_rdlock(&reg_create);
}

void mproc__registry_created(void)
{
    pthread_rwlock_unlock(&reg_create);
}

void mproc__registry_add(pid_t pid)
{
    pthread_once(&reg_once, reg_register_atfork);
    pthread_mutex_lock(&reg_lock);
    reg_check_owner_locked();
    if (reg_len == reg_cap) {
        size_t cap = reg_cap ? reg_cap * 2 : 16;
        pid_t *n = realloc(reg_pids, cap * sizeof *n);
        if (!n) {
            /* Without room the pid is not protected from mproc_reap_orphans(); that is
             * only ever used by callers who opted into subreaper mode. */
            pthread_mutex_unlock(&reg_lock);
            return;
        }
        reg_pids = n;
        reg_cap = cap;
    }
    reg_pids[reg_len++] = pid;
    pthread_mutex_unlock(&reg_lock);
}

void mproc__registry_remove(pid_t pid)
{
    pthread_mutex_lock(&reg_lock);
    reg_check_owner_locked();
    for (size_t i = 0; i < reg_len; i++)
        if (reg_pids[i] == pid) {
            reg_pids[i] = reg_pids[--reg_len];
            break;
        }
    pthread_mutex_unlock(&reg_lock);
}

int mproc__registry_has(pid_t pid)
{
    int found = 0;
    pthread_mutex_lock(&reg_lock);
    reg_check_owner_locked();
    for (size_t i = 0; i < reg_len && !found; i++)
        found = reg_pids[i] == pid;
    pthread_mutex_unlock(&reg_lock);
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
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -errno;
    pthread_once(&reg_once, reg_register_atfork);
    pthread_rwlock_wrlock(&reg_create);
    int total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        total += reap_children_of(path);
    }
    pthread_rwlock_unlock(&reg_create);
    closedir(d);
    return total;
}
