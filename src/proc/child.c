/* child.c: the only code that runs in a child between clone/fork and exec.
 *
 * Contract: async-signal-safe only. No malloc, no stdio, no locks, no execvp, no libc
 * wrappers that a sanitizer intercepts: raw syscall() only. For spawn the child runs
 * with CLONE_VM|CLONE_VFORK on a borrowed stack and shares every byte of the parent's
 * memory, so it writes nothing but its failure record (stage, errno) into the
 * mproc__child struct the parent prepared. Every failure leaves with _exit(127) after
 * recording {stage, errno}; the parent turns that into the spawn call's return value.
 *
 * Order of work, and why:
 *  1. signals (spawn): every handler reset to default, SIG_IGN kept except for
 *     SIGPIPE, SIGXFSZ and SIGCHLD, and the mask emptied (the parent blocked all signals
 *     around clone, so no parent handler can run on this borrowed stack);
 *  2. session / process group;
 *  3. PR_SET_PDEATHSIG, then the race check: if the parent died before the prctl, our
 *     parent is already someone else (init or a subreaper) and we leave at once;
 *  4. rlimits, nice, affinity;
 *  5. stdio: sources that sit on 0..2 are first moved above 2 so that dup2 of one
 *     stream cannot clobber the source of another;
 *  6. pass_fds lose FD_CLOEXEC; every other descriptor >= 3 is closed with close_range
 *     around the keep-list (one syscall per gap, not a loop up to RLIMIT_NOFILE);
 *  7. chdir; for fork the name (PR_SET_NAME), after which fork.c runs the function;
 *     for spawn execve over the candidates the parent found in PATH, with execvp's
 *     rules: EACCES is remembered and the search goes on, ENOENT/ENOTDIR go on.
 * A failure record is {stage, errno}; spawn's parent reads it from this shared struct
 * when clone returns, fork.c sends it over a pipe.
 */
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHILD_FN __attribute__((no_sanitize("address", "undefined", "thread")))

/* Raw syscalls return -1 and set errno (thread-local, shared with the parent under
 * CLONE_VM; the parent saves and restores its errno around the spawn). */
#define SYS(...) syscall(__VA_ARGS__)

/* The two system calls every forked child makes (prctl, getppid), made without libc
 * where we know how: syscall()'s page of libc code is not yet mapped in a new child, and
 * faulting it in is a measurable part of a fork's cost. -1 with errno like syscall(). */
#if defined(__x86_64__)
CHILD_FN static long sys_direct(long nr, long a1, long a2)
{
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(0L), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
#elif defined(__aarch64__)
CHILD_FN static long sys_direct(long nr, long a1, long a2)
{
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a1;
    register long x1 __asm__("x1") = a2;
    register long x2 __asm__("x2") = 0;
    register long x3 __asm__("x3") = 0;
    register long x4 __asm__("x4") = 0;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
    if (x0 < 0 && x0 > -4096) {
        errno = (int)-x0;
        return -1;
    }
    return x0;
}
#else
#define sys_direct(nr, a1, a2) syscall(nr, a1, a2, 0, 0, 0)
#endif

CHILD_FN static int fail(struct mproc__child *c, int stage)
{
    c->stage = stage;
    c->err = errno;
    return -1;
}

#if defined(__mips__)
#error "the kernel's struct sigaction does not start with the handler here"
#endif

/* The dispositions a spawned command starts with, as execve and posix_spawn give them
 * (and Python's subprocess with restore_signals): handlers reset to default, ignored
 * signals stay ignored (nohup's SIGHUP reaches the whole tree), except SIGPIPE and
 * SIGXFSZ, which go back to default (a program that ignores SIGPIPE for its own sockets
 * rarely means its children to), and SIGCHLD (ignored, the kernel would reap the
 * command's own children and its waits would fail). No handler may be left before the
 * mask is emptied: it would run the parent's code on this borrowed stack. With
 * CLONE_CLEAR_SIGHAND the kernel already reset them all; else each signal is asked for
 * and reset if handled. */
CHILD_FN static void reset_signals(const struct mproc__child *c)
{
    /* A zeroed kernel sigaction is SIG_DFL with no flags and an empty mask on every
     * architecture, whatever the struct's layout; the handler comes first in it. */
    unsigned long dfl[4] = {0, 0, 0, 0};
    for (int sig = 1; !c->sighand_cleared && sig < _NSIG; sig++) {
        unsigned long old[4];
        if (sig == SIGKILL || sig == SIGSTOP || sig == SIGPIPE || sig == SIGXFSZ ||
            sig == SIGCHLD || SYS(SYS_rt_sigaction, sig, NULL, old, _NSIG / 8) < 0)
            continue;
        if (old[0] != (unsigned long)SIG_DFL && old[0] != (unsigned long)SIG_IGN)
            SYS(SYS_rt_sigaction, sig, dfl, NULL, _NSIG / 8);
    }
    SYS(SYS_rt_sigaction, SIGPIPE, dfl, NULL, _NSIG / 8);
    SYS(SYS_rt_sigaction, SIGXFSZ, dfl, NULL, _NSIG / 8);
    SYS(SYS_rt_sigaction, SIGCHLD, dfl, NULL, _NSIG / 8);
    unsigned long empty[_NSIG / (8 * sizeof(unsigned long))] = {0};
    SYS(SYS_rt_sigprocmask, SIG_SETMASK, empty, NULL, _NSIG / 8);
}

CHILD_FN static int setup_session(struct mproc__child *c)
{
    if (c->flags & (MPROC_NEW_SESSION | MPROC_DETACHED)) {
        if (SYS(SYS_setsid) < 0)
            return fail(c, MPROC_STAGE_SETSID);
    } else if (c->flags & MPROC_NEW_PGROUP) {
        if (SYS(SYS_setpgid, 0, 0) < 0)
            return fail(c, MPROC_STAGE_SETSID);
    }
    if (c->parent != 0) {
        if (sys_direct(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL) < 0)
            return fail(c, MPROC_STAGE_PDEATHSIG);
        /* The parent may have died before the prctl: then it will never fire. */
        if (sys_direct(SYS_getppid, 0, 0) != c->parent)
            SYS(SYS_exit_group, 127);
    }
    return 0;
}

CHILD_FN static int setup_limits(struct mproc__child *c)
{
    for (size_t i = 0; i < c->nrlimits; i++) {
        struct rlimit rl = {.rlim_cur = c->rlimits[i].soft, .rlim_max = c->rlimits[i].hard};
        if (SYS(SYS_prlimit64, 0, c->rlimits[i].resource, &rl, NULL) < 0)
            return fail(c, MPROC_STAGE_RLIMIT);
    }
    if (c->set_nice && SYS(SYS_setpriority, PRIO_PROCESS, 0, c->nice_value) < 0)
        return fail(c, MPROC_STAGE_NICE);
    if (c->cpu_set && SYS(SYS_sched_setaffinity, 0, c->cpu_set_size, c->cpu_set) < 0)
        return fail(c, MPROC_STAGE_AFFINITY);
    return 0;
}

CHILD_FN static int setup_stdio(struct mproc__child *c)
{
    int src[3] = {c->src[0], c->src[1], c->src[2]};
    for (int i = 0; i < 3; i++) {
        if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
            long moved = SYS(SYS_fcntl, src[i], F_DUPFD_CLOEXEC, 3);
            if (moved < 0)
                return fail(c, MPROC_STAGE_DUP2);
            /* every stream with the same source follows it */
            for (int j = 2; j >= i; j--)
                if (j != i && src[j] == src[i])
                    src[j] = (int)moved;
            src[i] = (int)moved;
        }
    }
    for (int i = 0; i < 3; i++) {
        int from = src[i] == -2 ? 1 : src[i];
        if (from < 0)
            continue;
        if (from == i) {
            if (SYS(SYS_fcntl, i, F_SETFD, 0) < 0)
                return fail(c, MPROC_STAGE_DUP2);
        } else if (SYS(SYS_dup3, from, i, 0) < 0) {
            return fail(c, MPROC_STAGE_DUP2);
        }
    }
    return 0;
}

/* close_range over [lo, hi], sparing the failure-report pipe (close-on-exec already). */
CHILD_FN static long close_span(const struct mproc__child *c, unsigned lo, unsigned hi)
{
    if (c->report_fd >= 0 && (unsigned)c->report_fd >= lo && (unsigned)c->report_fd <= hi) {
        unsigned r = (unsigned)c->report_fd;
        if (r > lo && SYS(SYS_close_range, lo, r - 1, 0) < 0)
            return -1;
        if (r == hi)
            return 0;
        lo = r + 1;
    }
    return SYS(SYS_close_range, lo, hi, 0);
}

CHILD_FN static int setup_fds(struct mproc__child *c)
{
    unsigned lo = 3;
    for (size_t i = 0; i < c->nkeep; i++) {
        unsigned k = (unsigned)c->keep[i];
        if (SYS(SYS_fcntl, k, F_SETFD, 0) < 0)
            return fail(c, MPROC_STAGE_FDS);
        if (!c->close_fds)
            continue;
        if (k > lo && close_span(c, lo, k - 1) < 0)
            return fail(c, MPROC_STAGE_FDS);
        lo = k + 1;
    }
    if (c->close_fds && close_span(c, lo, ~0u) < 0)
        return fail(c, MPROC_STAGE_FDS);
    return 0;
}

/* Set by tests only (debug builds): a signal the spawned child sends itself once its
 * dispositions and mask are set, to show that no handler of the parent is left in it. */
int mproc__spawn_test_raise;

CHILD_FN int mproc__child_setup(struct mproc__child *c)
{
    if (c->reset_signals) {
        reset_signals(c);
#if !defined(NDEBUG) || defined(MPROC_FAULT_INJECTION)
        if (mproc__spawn_test_raise) /* tests: is any parent handler left here? */
            SYS(SYS_kill, SYS(SYS_getpid), mproc__spawn_test_raise);
#endif
    }
    if (setup_session(c) < 0 || setup_limits(c) < 0 || setup_stdio(c) < 0)
        return -1;
    if (setup_fds(c) < 0)
        return -1;
    if (c->cwd && SYS(SYS_chdir, c->cwd) < 0)
        return fail(c, MPROC_STAGE_CHDIR);
    if (c->name)
        SYS(SYS_prctl, PR_SET_NAME, c->name, 0, 0, 0);
    return 0;
}

CHILD_FN int mproc__child_exec(void *arg)
{
    struct mproc__child *c = arg;
    if (mproc__child_setup(c) == 0) {
        int saw_eacces = 0;
        int last = ENOENT;
        for (const char *const *p = c->paths; *p; p++) {
            SYS(SYS_execve, *p, c->argv, c->envp);
            last = errno;
            if (last == EACCES)
                saw_eacces = 1;
            else if (last != ENOENT && last != ENOTDIR && last != ESTALE && last != ENODEV &&
                     last != ETIMEDOUT)
                break;
        }
        c->stage = MPROC_STAGE_EXEC;
        c->err = saw_eacces && (last == ENOENT || last == ENOTDIR) ? EACCES : last;
    }
    if (c->report_fd >= 0) { /* memory is not shared with the parent (see spawn.c) */
        int rec[2] = {c->stage, c->err};
        SYS(SYS_write, c->report_fd, rec, sizeof rec);
    }
    SYS(SYS_exit, 127);
    return 127;
}
