/* proc.c: the process handle: wait, signal, terminate, stop/continue, state, accessors
 * and free. The parent side only; children are created by spawn.c and fork.c and
 * everything a child runs lives in child.c.
 *
 * Children are tracked by pidfd: waits poll it (readable once the child ended) and
 * collect with waitid(P_PIDFD), signals go through pidfd_send_signal, so a recycled pid
 * is never hit. A wait with no deadline skips the poll: waitid(P_PIDFD) alone blocks
 * until the child ends. No SIGCHLD handler, no waitpid(-1).
 *
 * SIGCHLD ignored (inherited SIG_IGN or SA_NOCLDWAIT): the kernel then reaps our
 * children itself. We cannot avoid that for spawned commands (execve resets a child's
 * exit signal to SIGCHLD, so a different exit signal does not survive exec); instead we
 * notice it (waitid says ECHILD while the pidfd says it ended) and report the status as
 * unknown rather than fail. Forked functions still report their code through a word in
 * a shared page (fork.c). Someone else's waitpid() on our pid is told apart from that
 * by the disposition, and makes waits return MPROC_ECHILD. */
#include "proc/proc_int.h"
#include "sys/sys.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static int signal_proc(const mproc_proc *p, int sig);

/* ThreadSanitizer runs an application's signal handler that arrives during a system call
 * it does not know to block (our raw waitid) only once that call returns: a handler would
 * wait for the child. TSan builds poll first, as waits with a deadline do. */
#if defined(__SANITIZE_THREAD__)
#define WAIT_POLLS_FIRST 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WAIT_POLLS_FIRST 1
#endif
#endif
#ifndef WAIT_POLLS_FIRST
#define WAIT_POLLS_FIRST 0
#endif

static int leads_group(const mproc_proc *p)
{
    return (p->flags & (MPROC_NEW_PGROUP | MPROC_NEW_SESSION | MPROC_DETACHED)) != 0;
}

const char *mproc_stage_name(int stage)
{
    static const char *const names[] = {"none",     "fork", "setsid", "pdeathsig", "rlimit", "nice",
                                        "affinity", "dup2", "fds",    "chdir",     "exec"};
    if (stage < 0 || (size_t)stage >= sizeof names / sizeof names[0])
        return "unknown";
    return names[stage];
}

int mproc__sigchld_ignored(void)
{
    struct sigaction sa;
    if (sigaction(SIGCHLD, NULL, &sa) != 0)
        return 0;
    return sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT);
}

mproc_proc *mproc__proc_alloc(void)
{
    /* Not calloc (nor malloc and memset, which compilers merge into calloc): glibc's
     * calloc never takes from the thread's cache of freed chunks, so that cache stays
     * full and mproc_proc_free's free() then writes malloc's shared state, a page the
     * parent would copy after each fork. mproc__proc_init sets every field. */
    return malloc(sizeof(mproc_proc));
}

void mproc__proc_init(mproc_proc *p, pid_t pid, int pidfd, struct mproc__prep *pp,
                      const mproc_opts *o, int autoreaped)
{
    *p = (mproc_proc){.pid = pid,
                      .pidfd = pidfd,
                      .flags = o->flags,
                      .autoreaped = autoreaped,
                      .owner = mproc__self_pid()};
    for (int i = 0; i < 3; i++)
        p->stdio[i] = pp->parent_end[i];
    p->kill_deadline = o->kill_after_ms > 0 ? mproc__now_ms() + o->kill_after_ms : INT64_MAX;
    if (!(o->flags & MPROC_DETACHED))
        mproc__registry_add(pid);
}

mproc_proc *mproc__proc_new(pid_t pid, int pidfd, struct mproc__prep *pp, const mproc_opts *o)
{
    mproc_proc *p = mproc__proc_alloc();
    if (p)
        mproc__proc_init(p, pid, pidfd, pp, o, mproc__sigchld_ignored());
    return p;
}

void mproc__set_failure(const mproc_opts *o, int stage, int err)
{
    if (o->failure) {
        o->failure->stage = err < 0 ? stage : MPROC_STAGE_NONE;
        o->failure->error = err;
    }
}

/* For failure paths only: blocks until the child ends. */
void mproc__reap_now(pid_t pid, int pidfd)
{
    siginfo_t si;
    struct rusage ru;
    if (pidfd >= 0) {
        (void)mproc__waitid_pidfd(pidfd, &si, WEXITED, &ru); /* retries EINTR itself */
        return;
    }
    int saved = errno;
    /* A signal must not leave the child as a zombie: retry until it is reaped. */
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | __WALL) < 0 && errno == EINTR)
        ;
    errno = saved;
}

/* ---- waiting ------------------------------------------------------------------------ */

static void status_from(mproc_proc *p, const siginfo_t *si, const struct rusage *ru)
{
    mproc_status *st = &p->st;
    memset(st, 0, sizeof *st);
    switch (si->si_code) {
    case CLD_EXITED:
        st->exited = 1;
        st->code = si->si_status;
        break;
    case CLD_DUMPED:
    case CLD_KILLED:
        st->signaled = 1;
        st->signal = si->si_status;
        st->core_dumped = si->si_code == CLD_DUMPED;
        break;
    default:
        break;
    }
    st->user_us = (long long)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec;
    st->sys_us = (long long)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec;
    st->max_rss_kb = ru->ru_maxrss;
}

static void mark_reaped(mproc_proc *p)
{
    p->reaped = 1;
    p->st.timed_out = p->timed_out;
    if (!(p->flags & MPROC_DETACHED))
        mproc__registry_remove(p->pid);
}

/* The pidfd is readable: the child has ended. Collect its status. */
static int collect(mproc_proc *p)
{
    siginfo_t si;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    int rc = mproc__waitid_pidfd(p->pidfd, &si, WEXITED, &ru);
    if (rc == 0) {
        status_from(p, &si, &ru);
        mark_reaped(p);
        return 0;
    }
    if (rc != MPROC_ECHILD)
        return rc;
    memset(&p->st, 0, sizeof p->st);
    if (p->flags & MPROC_DETACHED) {
        p->st.unknown = 1; /* not our child: init or a subreaper collects its status */
    } else if (p->exit_word) {
        int w = __atomic_load_n(p->exit_word, __ATOMIC_ACQUIRE);
        if (w & MPROC__WORD_EXITED) {
            p->st.exited = 1;
            p->st.code = w & 0xff;
        } else {
            p->st.unknown = 1; /* SIGCHLD ignored and it died by a signal */
        }
    } else if (p->autoreaped || mproc__sigchld_ignored()) {
        p->st.unknown = 1; /* the kernel reaped it for us: SIGCHLD is ignored */
    } else {
        p->lost = 1; /* someone else reaped it, e.g. the application's waitpid() */
    }
    mark_reaped(p);
    return p->lost ? MPROC_ECHILD : 0;
}

static void kill_for_timeout(mproc_proc *p)
{
    p->kill_deadline = INT64_MAX;
    if (mproc__poll1(p->pidfd, POLLIN, 0) > 0)
        return; /* it ended by itself in time: not a timeout */
    if (leads_group(p))
        (void)kill(-p->pid, SIGKILL);
    (void)signal_proc(p, SIGKILL);
    p->timed_out = 1;
}

/* 1 if p was inherited from the process that created it (we are a forked copy): its
 * child is our sibling, not ours to wait for, signal or kill (Python: "can only join a
 * child process"). */
static int foreign(const mproc_proc *p)
{
    return p->owner != mproc__self_pid();
}

int mproc_proc_wait(mproc_proc *p, int timeout_ms, mproc_status *st)
{
    if (!p || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    if (foreign(p))
        return MPROC_ECHILD;
    if (!WAIT_POLLS_FIRST && timeout_ms < 0 && !p->reaped && p->kill_deadline == INT64_MAX &&
        !(p->flags & MPROC_DETACHED)) {
        /* No deadline: waitid itself blocks until our child ends (EINTR is retried), with
         * no poll first. A detached child is not ours: waitid would not wait for it. */
        int rc = collect(p);
        if (rc < 0 && rc != MPROC_ECHILD)
            return rc;
    }
    int64_t deadline = mproc__deadline(timeout_ms);
    while (!p->reaped) {
        int64_t until = deadline < p->kill_deadline ? deadline : p->kill_deadline;
        int r = mproc__poll1(p->pidfd, POLLIN, until);
        if (r < 0)
            return r;
        if (r > 0) {
            int rc = collect(p);
            if (rc < 0 && rc != MPROC_ECHILD)
                return rc;
            break;
        }
        int64_t now = mproc__now_ms();
        if (now >= p->kill_deadline)
            kill_for_timeout(p);
        else if (now >= deadline)
            return MPROC_ETIMEDOUT;
    }
    if (p->lost)
        return MPROC_ECHILD;
    if (st)
        *st = p->st;
    return 0;
}

/* ---- signals ------------------------------------------------------------------------ */

/* Signals the child through its pidfd; where pidfd_send_signal is missing (valgrind
 * 3.19), by pid: safe for our own children, whose pid cannot be reused before we reap. */
static int signal_proc(const mproc_proc *p, int sig)
{
    int rc = mproc__pidfd_signal(p->pidfd, sig);
    if (rc == MPROC_ENOSYS)
        rc = kill(p->pid, sig) == 0 ? 0 : -errno;
    return rc;
}

int mproc_proc_signal(mproc_proc *p, int sig)
{
    if (!p || !mproc__sig_valid(sig))
        return MPROC_EINVAL;
    if (foreign(p))
        return MPROC_ECHILD;
    if (p->reaped)
        return MPROC_ESRCH;
    return signal_proc(p, sig);
}

int mproc_proc_signal_group(mproc_proc *p, int sig)
{
    if (!p || !mproc__sig_valid(sig))
        return MPROC_EINVAL;
    if (foreign(p))
        return MPROC_ECHILD;
    if (!leads_group(p))
        return mproc_proc_signal(p, sig);
    /* The group id stays reserved while any member lives, even after the leader was
     * reaped, so descendants can still be reached. */
    return kill(-p->pid, sig) == 0 ? 0 : -errno;
}

int mproc_proc_stop(mproc_proc *p)
{
    return mproc_proc_signal(p, SIGSTOP);
}

int mproc_proc_continue(mproc_proc *p)
{
    return mproc_proc_signal(p, SIGCONT);
}

int mproc_proc_terminate(mproc_proc *p, int grace_ms, mproc_status *st)
{
    if (!p || grace_ms < 0)
        return MPROC_EINVAL;
    if (foreign(p))
        return MPROC_ECHILD;
    if (!p->reaped) {
        int group = leads_group(p);
        if (grace_ms > 0) {
            if (group)
                (void)kill(-p->pid, SIGTERM);
            (void)signal_proc(p, SIGTERM);
            /* A stopped process would never act on SIGTERM. */
            if (group)
                (void)kill(-p->pid, SIGCONT);
            (void)signal_proc(p, SIGCONT);
        }
        int rc = grace_ms > 0 ? mproc_proc_wait(p, grace_ms, NULL) : MPROC_ETIMEDOUT;
        if (rc == MPROC_ETIMEDOUT) {
            (void)signal_proc(p, SIGKILL);
            rc = mproc_proc_wait(p, -1, NULL);
        }
        if (group) /* whatever is left of the tree */
            (void)kill(-p->pid, SIGKILL);
        if (rc < 0)
            return rc;
    }
    if (p->lost)
        return MPROC_ECHILD;
    if (st)
        *st = p->st;
    return 0;
}

/* ---- state and accessors ------------------------------------------------------------ */

static int read_state(pid_t pid)
{
    char path[64], state;
    uint64_t start;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int rc = mproc__stat_read(path, &state, &start);
    if (rc < 0)
        return rc;
    switch (state) {
    case 'R':
    case 'W':
        return MPROC_RUNNING;
    case 'S':
    case 'I':
    case 'P':
        return MPROC_SLEEPING;
    case 'D':
        return MPROC_DISK_SLEEP;
    case 'T':
    case 't':
        return MPROC_STOPPED;
    case 'Z':
    case 'X':
        return MPROC_ZOMBIE;
    default:
        return MPROC_EIO;
    }
}

/* The pidfd says the child ended: a zombie if it is still ours to reap, else exited. */
static int ended_state(mproc_proc *p)
{
    if (p->flags & MPROC_DETACHED)
        return MPROC_EXITED;
    siginfo_t si;
    int rc = mproc__waitid_pidfd(p->pidfd, &si, WEXITED | WNOHANG | WNOWAIT, NULL);
    return rc == 0 && si.si_pid != 0 ? MPROC_ZOMBIE : MPROC_EXITED;
}

int mproc_proc_state(mproc_proc *p)
{
    if (!p)
        return MPROC_EINVAL;
    if (p->reaped)
        return MPROC_EXITED;
    if (mproc__now_ms() >= p->kill_deadline)
        kill_for_timeout(p);
    int s = read_state(p->pid);
    /* Read /proc first, then ask the pidfd: if the child had ended by then, the pid may
     * already name another process (reaped by the kernel or someone else), so what was
     * read is not trusted. */
    if (mproc__poll1(p->pidfd, POLLIN, 0) > 0)
        return ended_state(p);
    return s == MPROC_ENOENT ? MPROC_EXITED : s;
}

const char *mproc_state_name(int state)
{
    switch (state) {
    case MPROC_RUNNING:
        return "running";
    case MPROC_SLEEPING:
        return "sleeping";
    case MPROC_DISK_SLEEP:
        return "disk-sleep";
    case MPROC_STOPPED:
        return "stopped";
    case MPROC_ZOMBIE:
        return "zombie";
    case MPROC_EXITED:
        return "exited";
    default:
        return "unknown";
    }
}

pid_t mproc_proc_pid(const mproc_proc *p)
{
    return p ? p->pid : -1;
}

int mproc_proc_fd(const mproc_proc *p)
{
    return p ? p->pidfd : -1;
}

/* A handle's pipe end, as open in this process: in a child forked by mproc_fork, which
 * inherited the handle of a sibling, the sibling's pipes were closed at the fork (held.c)
 * and their numbers may name other descriptors by now. */
static int stdio_here(const mproc_proc *p, int which)
{
    int fd = p->stdio[which];
    return fd >= 0 && foreign(p) && !mproc__held_has(fd) ? -1 : fd;
}

int mproc_proc_stdio(const mproc_proc *p, int which)
{
    if (!p || which < 0 || which > 2)
        return -1;
    return stdio_here(p, which);
}

int mproc_proc_take_stdio(mproc_proc *p, int which)
{
    if (!p || which < 0 || which > 2)
        return -1;
    int fd = mproc__held_release(p->stdio[which], foreign(p));
    p->stdio[which] = -1;
    return fd;
}

int mproc_proc_close_stdio(mproc_proc *p, int which)
{
    if (!p || which < 0 || which > 2)
        return MPROC_EINVAL;
    int fd = stdio_here(p, which);
    p->stdio[which] = -1;
    if (fd < 0)
        return MPROC_EBADF;
    mproc__held_close(fd);
    return 0;
}

int mproc_exitcode(const mproc_status *st)
{
    if (!st)
        return 0;
    return st->signaled ? -st->signal : st->code;
}

void mproc_proc_free(mproc_proc *p)
{
    if (!p)
        return;
    if (!p->reaped && !(p->flags & MPROC_DETACHED) && !foreign(p)) {
        if (leads_group(p))
            (void)kill(-p->pid, SIGKILL);
        (void)signal_proc(p, SIGKILL);
        (void)collect(p);
    }
    mproc__close(p->pidfd);
    for (int i = 0; i < 3; i++)
        mproc__held_close(stdio_here(p, i));
    if (p->exit_word)
        munmap(p->exit_word, sizeof(int));
    free(p);
}
