/* fork.c: mproc_fork, a C function in a forked copy of the process.
 *
 * The child is made with glibc's fork() (not a raw clone) so that glibc's own atfork
 * work runs (malloc and stdio locks, the thread's tid): the function may use libc as far
 * as forking a possibly multi-threaded process allows. The pidfd is opened right after
 * fork; until then the child is either our zombie (its pid cannot be reused) or, when
 * SIGCHLD is ignored and the kernel would reap it at once, waiting on the GO bit of a
 * shared word that we set once we hold the pidfd.
 *
 * When options can fail in the child (cwd, limits, stdio...), or make mproc_fork's
 * return meaningful (a name that must show at once), the child writes one fixed-size
 * record {stage, errno} ({0, 0}: set up) on a pipe. The parent polls that pipe together
 * with the pidfd, never waiting for EOF: a child forked at the same moment by another
 * thread may hold a copy of the pipe's write end for as long as it lives.
 *
 * The child: restores the caller's signal mask (the spawner thread blocks everything),
 * runs child.c's setup, closes its copies of the parent's pipe ends (or a stdin pipe
 * would never see EOF), runs fn, flushes stdio and leaves with _exit. */
#include "proc/proc_int.h"
#include "sys/sys.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct fork_call {
    struct mproc__prep *pp;
    int (*fn)(void *);
    void *arg;
    int report[2];
    int *exit_word;
    sigset_t mask;    /* the caller's signal mask */
    int restore_mask; /* forked on the spawner thread: the child restores mask */
    pid_t pid;
    int err;
    int pidfd;           /* from clone(CLONE_PIDFD) in the fallback below, else -1 */
    int sigchld_ignored; /* asked once per call: the kernel would reap the child itself */
};

/* 1 if f may hold output not yet written. Read from glibc's FILE fields where they are
 * public: __fpending's page of libc code is one more page the child would fault in. A
 * wide-oriented stream is taken as pending (its buffer is elsewhere). */
static int has_pending(FILE *f)
{
#ifdef __GLIBC__
    return f->_mode > 0 || f->_IO_write_ptr > f->_IO_write_base;
#else
    return __fpending(f) > 0;
#endif
}

/* ---- in the child ---- */

static void wait_for_go(int *word)
{
    int w;
    while (!((w = __atomic_load_n(word, __ATOMIC_ACQUIRE)) & MPROC__WORD_GO))
        (void)mproc__futex_wait((_Atomic uint32_t *)(void *)word, (uint32_t)w, INT64_MAX);
}

static void close_parent_ends(const struct mproc__prep *pp)
{
    /* Numbers 0..2 now hold the child's own streams: never close those. */
    for (int i = 0; i < 3; i++) {
        if (pp->parent_end[i] > 2)
            mproc__close(pp->parent_end[i]);
        if (pp->child_end[i] > 2)
            mproc__close(pp->child_end[i]);
    }
    if (pp->devnull > 2)
        mproc__close(pp->devnull);
}

static _Noreturn void fork_child(struct fork_call *fc)
{
    struct mproc__child *c = &fc->pp->c;
    if (fc->exit_word)
        wait_for_go(fc->exit_word);
    if (fc->restore_mask)
        pthread_sigmask(SIG_SETMASK, &fc->mask, NULL);
    mproc__close(fc->report[0]);
    int rec[2] = {0, 0};
    if (mproc__child_setup(c) < 0) {
        rec[0] = c->stage;
        rec[1] = c->err;
        if (fc->report[1] >= 0)
            (void)mproc__write_all(fc->report[1], rec, sizeof rec);
        _exit(127);
    }
    close_parent_ends(fc->pp);
    /* and every other child's pipe ends the parent held when it forked (held.c) */
    mproc__held_drop_in_child(c->keep, c->nkeep);
    if (fc->report[1] >= 0) {
        (void)mproc__write_all(fc->report[1], rec, sizeof rec);
        mproc__close(fc->report[1]);
    }
    int code = fc->fn(fc->arg) & 0xff;
    /* Flush only what is pending: fflush takes the stream's lock, a write that costs a
     * copy-on-write page fault in every child, pending output or not. */
    if (has_pending(stdout))
        fflush(stdout);
    if (has_pending(stderr))
        fflush(stderr);
    if (fc->exit_word)
        __atomic_store_n(fc->exit_word, MPROC__WORD_EXITED | code, __ATOMIC_RELEASE);
    _exit(code);
}

/* ---- in the parent ---- */

/* pidfd_open (Linux 5.3) is missing under valgrind 3.19. There, and only there, the child
 * is made by a raw clone(CLONE_PIDFD), which returns the pidfd with the child. It skips
 * glibc's fork bookkeeping (atfork handlers, malloc and stdio lock resets), which is safe
 * for a single-threaded parent: a degraded mode for tools, not for production. */
static int pidfd_open_missing(void)
{
    static _Atomic int cached = -1;
    int v = atomic_load(&cached);
    if (v < 0) {
        int fd = mproc__pidfd_open(mproc__self_pid());
        v = fd == MPROC_ENOSYS;
        mproc__close(fd);
        atomic_store(&cached, v);
    }
    return v;
}

static pid_t fork_child_process(struct fork_call *fc)
{
    if (!pidfd_open_missing())
        return fork();
    int pidfd = -1;
    /* clone's third argument is parent_tid on every architecture: CLONE_PIDFD's slot. */
    long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, NULL, &pidfd, NULL, NULL);
    if (pid > 0)
        fc->pidfd = pidfd;
    return (pid_t)pid;
}

static int do_fork(void *arg)
{
    struct fork_call *fc = arg;
    mproc__held_fork_begin(); /* no pipe is made between our fork and its marking */
    pid_t pid = fork_child_process(fc);
    if (pid == 0)
        fork_child(fc);
    mproc__held_fork_end();
    fc->pid = pid;
    fc->err = pid < 0 ? errno : 0;
    return pid < 0 ? -1 : 0;
}

static int fork_needs_report(const mproc_opts *o)
{
    return o->cwd || o->rlimits_count || o->nice || o->cpu_set || o->pass_fds_count || o->name ||
           o->stdio[0].kind || o->stdio[1].kind || o->stdio[2].kind ||
           (o->flags & (MPROC_NEW_PGROUP | MPROC_NEW_SESSION));
}

/* Reads the child's setup record: 0 (set up, or it died before saying: its status will
 * tell) or -errno with the stage in *stage. Never waits for EOF (see the top). */
static int read_report(int fd, int pidfd, int *stage)
{
    struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
    for (;;) {
        int r = mproc__poll(pf, 2, INT64_MAX);
        if (r < 0)
            return r;
        if (pf[0].revents)
            break;
        if (pf[1].revents) { /* ended: its record, if any, is already in the pipe */
            if (mproc__poll1(fd, POLLIN, 0) <= 0)
                return 0;
            break;
        }
    }
    int rec[2];
    /* One write of 8 bytes into a pipe is atomic: all of it or nothing (EOF). */
    if (mproc__read(fd, rec, sizeof rec) != (ssize_t)sizeof rec || rec[0] == 0)
        return 0;
    *stage = rec[0];
    return -rec[1];
}

static int start(struct fork_call *fc, const mproc_opts *o)
{
    if (fork_needs_report(o)) {
        int rc = mproc__pipe(fc->report);
        if (rc < 0)
            return rc;
    }
    if (fc->sigchld_ignored) {
        void *w =
            mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (w == MAP_FAILED)
            return -errno;
        fc->exit_word = w;
    }
    /* or the child would write the parent's pending output again; only when some is
     * pending, since the stream lock is a write the child then pays a page copy for */
    if (has_pending(stdout))
        fflush(stdout);
    if (has_pending(stderr))
        fflush(stderr);
    int rc;
    if (!mproc__is_main_thread()) {
        pthread_sigmask(SIG_SETMASK, NULL, &fc->mask);
        fc->restore_mask = 1;
        rc = mproc__on_spawner_thread(do_fork, fc);
    } else {
        rc = do_fork(fc);
    }
    if (rc < 0)
        return fc->err ? -fc->err : rc;
    return 0;
}

/* After fork: the pidfd, then the child's report. Returns 0 with *pidfd (-1 if the
 * child was already reaped by someone else), or an error with the child gone. */
static int attach(struct fork_call *fc, int *pidfd, int *stage)
{
    *pidfd = fc->pidfd >= 0 ? fc->pidfd : mproc__pidfd_open(fc->pid);
    if (fc->exit_word && *pidfd >= 0) {
        /* Only now may the child run and end: we hold its pidfd. (On failure it stays
         * blocked, so the pid killed below is surely still the child's.) */
        __atomic_or_fetch(fc->exit_word, MPROC__WORD_GO, __ATOMIC_RELEASE);
        mproc__futex_wake((_Atomic uint32_t *)(void *)fc->exit_word, 1);
    }
    if (*pidfd == MPROC_ESRCH) {
        /* Not SIGCHLD=SIG_IGN (the child waits for GO then): the application reaped
         * it with waitpid(-1) already. The handle reports it as lost. */
        *pidfd = -1;
        return 0;
    }
    if (*pidfd < 0) { /* EMFILE, ENOMEM: the child is alive, or our zombie */
        kill(fc->pid, SIGKILL);
        mproc__reap_now(fc->pid, -1);
        return *pidfd;
    }
    if (fc->report[1] < 0)
        return 0;
    mproc__close(fc->report[1]);
    fc->report[1] = -1;
    int rc = read_report(fc->report[0], *pidfd, stage);
    if (rc < 0) {
        mproc__reap_now(fc->pid, *pidfd);
        mproc__close(*pidfd);
    }
    return rc;
}

/* Fills in the handle allocated before the fork (which takes the exit word). */
static void make_handle(mproc_proc *p, struct fork_call *fc, int pidfd, const mproc_opts *o)
{
    mproc__proc_init(p, fc->pid, pidfd, fc->pp, o, fc->sigchld_ignored);
    p->exit_word = fc->exit_word;
    fc->exit_word = NULL;
    if (pidfd < 0) { /* see attach() */
        p->reaped = p->lost = 1;
        mproc__registry_remove(fc->pid);
    }
}

int mproc_fork(mproc_proc **out, int (*fn)(void *arg), void *arg, const mproc_opts *opts)
{
    static const mproc_opts defaults;
    const mproc_opts *o = opts ? opts : &defaults;
    mproc__set_failure(o, MPROC_STAGE_NONE, 0);
    if (!out || !fn) {
        mproc__set_failure(o, MPROC_STAGE_NONE, MPROC_EINVAL);
        return MPROC_EINVAL;
    }
    *out = NULL;
    struct mproc__prep pp;
    mproc__prep_init(&pp);
    struct fork_call fc = {.pp = &pp, .fn = fn, .arg = arg, .report = {-1, -1}, .pidfd = -1};
    int stage = MPROC_STAGE_NONE, pidfd = -1;
    mproc_proc *h = NULL;
    int rc = mproc__prep_common(&pp, o);
    if (rc == 0 && (o->flags & MPROC_DETACHED))
        rc = MPROC_ENOTSUP; /* a detached fork would need a double fork; spawn it instead */
    if (rc < 0)
        goto fail;
    pp.c.name = o->name;
    /* Before the fork: every write the parent makes after it costs a page copy. */
    h = mproc__proc_alloc();
    if (!h) {
        rc = MPROC_ENOMEM;
        goto fail;
    }
    fc.sigchld_ignored = mproc__sigchld_ignored();
    mproc__registry_creating();
    rc = start(&fc, o);
    if (rc < 0)
        stage = fc.err ? MPROC_STAGE_FORK : MPROC_STAGE_NONE; /* fork, or our own setup */
    else if ((rc = attach(&fc, &pidfd, &stage)) == 0)
        make_handle(h, &fc, pidfd, o);
    mproc__registry_created();
    if (rc < 0)
        goto fail;
    *out = h;
    mproc__close(fc.report[0]);
    mproc__prep_release(&pp, 1);
    return 0;
fail:
    free(h);
    mproc__set_failure(o, stage, rc);
    mproc__close(fc.report[0]);
    mproc__close(fc.report[1]);
    if (fc.exit_word)
        munmap(fc.exit_word, sizeof(int));
    mproc__prep_release(&pp, 0);
    return rc;
}
