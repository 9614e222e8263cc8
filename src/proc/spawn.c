/* spawn.c: mproc_spawn, a command in a new process.
 *
 * The child is made with clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD): it borrows our memory
 * and a small stack until execve, so the cost does not grow with the parent's size (no
 * page tables are copied), and the pidfd exists from the first instant, so nobody can
 * reap the child and recycle its pid before we hold it. Because the parent is suspended
 * until the child execs or exits, a setup failure that the child recorded in the shared
 * mproc__child struct is known when clone returns: spawn returns it with its stage.
 * All signals are blocked in the calling thread around clone, so no handler of ours can
 * run on the borrowed stack. A child tied to our life is created on the spawner thread
 * when the caller is not the main thread (PR_SET_PDEATHSIG follows the creating thread).
 * Must not touch anything in the child but through child.c. */
#include "proc/proc_int.h"
#include "sys/sys.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

#define SPAWN_STACK_SIZE (64 * 1024)

/* ThreadSanitizer intercepts clone() and runs its fork bookkeeping for every clone, which
 * breaks for a CLONE_VM child that shares its state. glibc's own entry point (the one
 * posix_spawn uses) is not intercepted: use it in TSan builds only. */
#if defined(__SANITIZE_THREAD__)
#define MPROC__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPROC__TSAN 1
#endif
#endif
#ifdef MPROC__TSAN
extern int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
#define CLONE __clone
#else
#define CLONE clone
#endif

/* Whether a CLONE_VM child really shares our memory. It always does on Linux, but not
 * under emulators such as valgrind 3.19, which runs CLONE_VM|CLONE_VFORK as a plain
 * fork: the child's failure record would then be lost and a failed exec would look like
 * a success ending in 127. Probed once per process with a child that only writes a flag;
 * where sharing fails, spawn falls back to a close-on-exec report pipe. */
__attribute__((no_sanitize("address", "undefined", "thread"))) static int probe_child(void *arg)
{
    *(volatile int *)arg = 1;
    syscall(SYS_exit, 0);
    return 0;
}

static int vm_is_shared(void)
{
    static _Atomic int cached = -1;
    int v = atomic_load(&cached);
    if (v >= 0)
        return v;
    char *stack = malloc(16 * 1024);
    if (!stack)
        return 1; /* assume the normal case; the next spawn probes again */
    int flag = 0;
    long pid = CLONE(probe_child, stack + 16 * 1024, CLONE_VM | CLONE_VFORK | SIGCHLD, &flag);
    if (pid > 0)
        mproc__reap_now((pid_t)pid, -1);
    free(stack);
    if (pid < 0)
        return 1;
    v = __atomic_load_n(&flag, __ATOMIC_SEQ_CST) == 1;
    atomic_store(&cached, v);
    return v;
}

struct spawn_call {
    struct mproc__child *c;
    int detached;
    pid_t pid;
    int pidfd;
    char *stack; /* SPAWN_STACK_SIZE bytes; two of them when detached */
};

/* The detached case: an intermediate child (sharing our memory and descriptor table)
 * creates the real child and exits at once, so the real child is reparented to init or
 * the nearest subreaper and never becomes our zombie. Its pidfd lands in our table. */
__attribute__((no_sanitize("address", "undefined", "thread"))) static int
detach_trampoline(void *arg)
{
    struct spawn_call *sc = arg;
    int pidfd = -1;
    long pid = CLONE(mproc__child_exec, sc->stack + 2 * SPAWN_STACK_SIZE,
                     CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, sc->c, &pidfd);
    sc->pid = (pid_t)pid;
    sc->pidfd = pidfd;
    if (pid < 0) {
        sc->c->stage = MPROC_STAGE_FORK;
        sc->c->err = errno;
    }
    syscall(SYS_exit, 0);
    return 0;
}

static int do_clone(void *arg)
{
    struct spawn_call *sc = arg;
    sigset_t all, old;
    sigfillset(&all);
    /* No handler of ours may run in the child while it shares our memory and stack. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int saved_errno = errno;
    int pidfd = -1;
    long pid;
    if (!sc->detached) {
        pid = CLONE(mproc__child_exec, sc->stack + SPAWN_STACK_SIZE,
                    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, sc->c, &pidfd);
        sc->pid = (pid_t)pid;
        sc->pidfd = pidfd;
    } else {
        pid = CLONE(detach_trampoline, sc->stack + SPAWN_STACK_SIZE,
                    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, sc, NULL);
        if (pid > 0)
            mproc__reap_now((pid_t)pid, -1);
    }
    int clone_errno = errno;
    errno = saved_errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        sc->c->stage = MPROC_STAGE_FORK;
        sc->c->err = clone_errno;
        return -1;
    }
    return 0;
}

/* Creates the child: 0 with sc->pid and sc->pidfd, or an error with pp->c.stage set
 * when the child (or clone) failed; a child that failed has been reaped. */
/* The fallback when memory is not shared: the child's record comes through a pipe that
 * exec closes (EOF: it ran) or that holds {stage, errno} (it failed). */
static void read_pipe_report(struct mproc__prep *pp, int fd)
{
    int rec[2];
    if (mproc__read(fd, rec, sizeof rec) == (ssize_t)sizeof rec && rec[0] != 0) {
        pp->c.stage = rec[0];
        pp->c.err = rec[1];
    }
}

static int create(struct mproc__prep *pp, int detached, struct spawn_call *sc)
{
    int report[2] = {-1, -1};
    if (!vm_is_shared()) {
        /* held (held.c): read until EOF, so no child forked meanwhile may keep it */
        int rc = mproc__held_pipe(report);
        if (rc < 0)
            return rc;
        pp->c.report_fd = report[1];
    }
    char *stack = malloc((detached ? 2 : 1) * SPAWN_STACK_SIZE);
    if (!stack) {
        mproc__held_close(report[0]);
        mproc__held_close(report[1]);
        return MPROC_ENOMEM;
    }
    *sc = (struct spawn_call){
        .c = &pp->c, .detached = detached, .pid = -1, .pidfd = -1, .stack = stack};
    int rc;
    if (!detached && !mproc__is_main_thread())
        rc = mproc__on_spawner_thread(do_clone, sc);
    else
        rc = do_clone(sc);
    free(stack);
    if (report[0] >= 0) {
        mproc__held_close(report[1]);
        pp->c.report_fd = -1;
        if (rc == 0)
            read_pipe_report(pp, report[0]);
        mproc__held_close(report[0]);
    }
    if (pp->c.stage != 0) {
        /* The child recorded a failure and left with _exit(127): collect it. A detached
         * one is not our child; init or a subreaper collects it. */
        if (sc->pid > 0 && !detached)
            mproc__reap_now(sc->pid, sc->pidfd);
        mproc__close(sc->pidfd);
        sc->pidfd = -1;
        return -pp->c.err;
    }
    return rc < 0 ? rc : 0; /* rc < 0 here: the spawner thread could not start */
}

int mproc_spawn(mproc_proc **out, const char *const argv[], const mproc_opts *opts)
{
    static const mproc_opts defaults;
    const mproc_opts *o = opts ? opts : &defaults;
    mproc__set_failure(o, MPROC_STAGE_NONE, 0);
    if (!out || !argv || !argv[0] || !argv[0][0]) {
        mproc__set_failure(o, MPROC_STAGE_NONE, MPROC_EINVAL);
        return MPROC_EINVAL;
    }
    *out = NULL;
    struct mproc__prep pp;
    mproc__prep_init(&pp);
    int rc = mproc__prep_common(&pp, o);
    if (rc == 0)
        rc = mproc__prep_paths(&pp, argv[0], o);
    if (rc < 0)
        goto fail;
    pp.c.argv = argv;
    pp.c.envp = o->env ? o->env : (const char *const *)environ;
    pp.c.close_fds = 1;
    pp.c.reset_signals = 1;
    int detached = (o->flags & MPROC_DETACHED) != 0;
    struct spawn_call sc;
    mproc__registry_creating();
    rc = create(&pp, detached, &sc);
    if (rc == 0 && (*out = mproc__proc_new(sc.pid, sc.pidfd, &pp, o)) == NULL) {
        if (!detached) {
            (void)mproc__pidfd_signal(sc.pidfd, SIGKILL);
            mproc__reap_now(sc.pid, sc.pidfd);
        }
        mproc__close(sc.pidfd);
        rc = MPROC_ENOMEM;
    }
    mproc__registry_created();
    if (rc < 0)
        goto fail;
    mproc__prep_release(&pp, 1);
    return 0;
fail:
    mproc__set_failure(o, pp.c.stage, rc);
    mproc__prep_release(&pp, 0);
    return rc;
}
