/* spawn.c: mproc_spawn, a command in a new process.
 *
 * The child is made with clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD): it borrows our memory
 * and a small stack until execve, so the cost does not grow with the parent's size (no
 * page tables are copied), and the pidfd exists from the first instant, so nobody can
 * reap the child and recycle its pid before we hold it. Because the parent is suspended
 * until the child execs or exits, a setup failure that the child recorded in the shared
 * mproc__child struct is known when clone returns: spawn returns it with its stage.
 * All signals are blocked in the calling thread around clone, so no handler of ours can
 * run on the borrowed stack. Where clone3 is allowed (x86_64), the child is made with
 * CLONE_CLEAR_SIGHAND: the kernel resets every handled signal to its default in the
 * child, as execve would, so the child does not query 64 dispositions one system call at
 * a time (child.c). A child tied to our life is created on the spawner thread
 * when the caller is not the main thread (PR_SET_PDEATHSIG follows the creating thread).
 * Must not touch anything in the child but through child.c. */
#include "proc/proc_int.h"
#include "sys/sys.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
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

/* Set by tests only (debug builds): spawn with clone() and the child's own signal loop,
 * the path taken where clone3 is refused, so that both paths are tested. */
int mproc__spawn_no_clone3;

#if defined(__x86_64__) && defined(SYS_clone3)
#define MPROC__CLONE3 1
struct clone3_args { /* struct clone_args of linux/sched.h, CLONE_ARGS_SIZE_VER0 */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};
#define CLONE3_CLEAR_SIGHAND 0x100000000ULL /* Linux 5.5 */

/* clone3 for a CLONE_VM child on its own stack: the child runs fn(arg) there and exits
 * with its result (clone3 has no libc wrapper that could do this for us: the child
 * returns from the system call on the new stack, where no caller's frame exists).
 * Returns the child's pid, or -errno. */
__attribute__((noinline, no_sanitize("address", "undefined", "thread"))) static long
clone3_vm(struct clone3_args *a, int (*fn)(void *), void *arg)
{
    register long r12 __asm__("r12") = (long)fn;  /* kept by the system call: the child */
    register long r13 __asm__("r13") = (long)arg; /* has them too */
    long ret;
    __asm__ volatile("syscall\n\t"
                     "testq %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xorl %%ebp, %%ebp\n\t" /* the child: outermost frame */
                     "movq %%r13, %%rdi\n\t"
                     "callq *%%r12\n\t"
                     "movl %%eax, %%edi\n\t"
                     "movl %[nr_exit], %%eax\n\t"
                     "syscall\n\t"
                     "hlt\n"
                     "1:"
                     : "=a"(ret)
                     : "0"((long)SYS_clone3), "D"(a), "S"(sizeof *a), "r"(r12),
                       "r"(r13), [nr_exit] "i"(SYS_exit)
                     : "rcx", "r11", "memory", "cc");
    return ret;
}
#endif

/* Makes the CLONE_VM|CLONE_VFORK child that runs mproc__child_exec(c) on the stack that
 * ends at stack_top, with its pidfd in *pidfd. Returns its pid, or -1 with errno. Also
 * called in the detached case's intermediate child: async-signal-safe. */
__attribute__((no_sanitize("address", "undefined", "thread"))) static long
clone_exec_child(struct mproc__child *c, char *stack_top, int *pidfd)
{
#ifdef MPROC__CLONE3
    int try_clone3 = c->report_fd < 0; /* not under an emulator (see vm_is_shared) */
#if !defined(NDEBUG) || defined(MPROC_FAULT_INJECTION)
    try_clone3 = try_clone3 && !mproc__spawn_no_clone3;
#endif
    if (try_clone3) {
        struct clone3_args a = {.flags =
                                    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE3_CLEAR_SIGHAND,
                                .pidfd = (uint64_t)(uintptr_t)pidfd,
                                .exit_signal = SIGCHLD,
                                .stack = (uint64_t)(uintptr_t)(stack_top - SPAWN_STACK_SIZE),
                                .stack_size = SPAWN_STACK_SIZE};
        c->sighand_cleared = 1;
        long pid = clone3_vm(&a, mproc__child_exec, c);
        if (pid > 0)
            return pid;
        /* ENOSYS: no clone3 (a seccomp profile, such as Docker's default, may answer so);
         * EINVAL: no CLONE_CLEAR_SIGHAND; anything else clone() meets again below */
        c->sighand_cleared = 0;
    }
#endif
    return CLONE(mproc__child_exec, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, c,
                 pidfd);
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
    long pid = clone_exec_child(sc->c, sc->stack + 2 * SPAWN_STACK_SIZE, &pidfd);
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
        pid = clone_exec_child(sc->c, sc->stack + SPAWN_STACK_SIZE, &pidfd);
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
