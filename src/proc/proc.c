/* proc.c: process handles: spawn a command, fork a function, wait, signal, terminate,
 * state. The parent side only; everything the child runs lives in child.c.
 *
 * Children are tracked by pidfd (CLONE_PIDFD for spawn, pidfd_open right after fork):
 * no SIGCHLD handler, no waitpid(-1). An exit signal other than SIGCHLD would hide our
 * children from the application's waitpid(-1) and from auto-reaping, but execve resets
 * it to SIGCHLD, so instead: when SIGCHLD is ignored (inherited SIG_IGN or SA_NOCLDWAIT)
 * the kernel reaps our children itself; we notice (waitid says ECHILD while the pidfd
 * says it ended), forked functions still report their code through a shared word, and
 * a spawned command's status is reported as unknown rather than as a failure. */
#include "proc/proc_int.h"
#include "sys/sys.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <unistd.h>

extern char **environ;

struct mproc_proc {
    pid_t pid;
    int pidfd;
    int stdio[3]; /* parent's ends of piped streams, -1 if none */
    unsigned flags;
    int reaped; /* status collected (or lost): never wait on the pid again */
    int lost;   /* reaped by someone else: waits return MPROC_ECHILD */
    mproc_status st;
    int64_t kill_deadline; /* CLOCK_MONOTONIC ms, INT64_MAX for none */
    int timed_out;
    int *exit_word; /* forked with SIGCHLD ignored: the child's code lands here */
    int autoreaped; /* SIGCHLD was ignored when it was created */
};

#define SPAWN_STACK_SIZE (64 * 1024)

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

/* ---- preparing a child: validation, stdio, PATH ------------------------------------ */

struct prep {
    struct mproc__child c;
    int parent_end[3]; /* our ends of pipes */
    int child_end[3];  /* their ends, closed after clone */
    int devnull;
    int *keep;
    char **paths; /* one allocation: pointers then strings */
    const char *one_path[2];
};

static void prep_init(struct prep *pp)
{
    memset(pp, 0, sizeof *pp);
    for (int i = 0; i < 3; i++) {
        pp->parent_end[i] = pp->child_end[i] = -1;
        pp->c.src[i] = -1;
    }
    pp->devnull = -1;
    pp->c.report_fd = -1;
}

static void prep_release(struct prep *pp, int keep_parent_ends)
{
    for (int i = 0; i < 3; i++) {
        mproc__close(pp->child_end[i]);
        if (!keep_parent_ends)
            mproc__close(pp->parent_end[i]);
    }
    mproc__close(pp->devnull);
    free(pp->keep);
    free(pp->paths);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int check_opts(const mproc_opts *o)
{
    if (o->flags & ~MPROC_FLAGS_ALL)
        return MPROC_EINVAL;
    if (o->kill_after_ms < 0 || (o->cpu_set && o->cpu_set_size == 0))
        return MPROC_EINVAL;
    if ((o->pass_fds_count && !o->pass_fds) || (o->rlimits_count && !o->rlimits))
        return MPROC_EINVAL;
    if (o->nice < -40 || o->nice > 40)
        return MPROC_EINVAL;
    for (size_t i = 0; i < o->rlimits_count; i++)
        if (o->rlimits[i].resource < 0 || o->rlimits[i].resource >= RLIM_NLIMITS ||
            o->rlimits[i].soft > o->rlimits[i].hard)
            return MPROC_EINVAL;
    for (size_t i = 0; i < o->pass_fds_count; i++) {
        if (o->pass_fds[i] < 3)
            return MPROC_EINVAL;
        if (!mproc__fd_valid(o->pass_fds[i]))
            return MPROC_EBADF;
    }
    for (int i = 0; i < 3; i++) {
        int k = o->stdio[i].kind;
        if (k < MPROC_STDIO_INHERIT || k > MPROC_STDIO_STDOUT ||
            (k == MPROC_STDIO_STDOUT && i != 2))
            return MPROC_EINVAL;
        if (k == MPROC_STDIO_FD && !mproc__fd_valid(o->stdio[i].fd))
            return MPROC_EBADF;
    }
    return 0;
}

static int prep_stdio(struct prep *pp, const mproc_opts *o)
{
    for (int i = 0; i < 3; i++) {
        switch (o->stdio[i].kind) {
        case MPROC_STDIO_NULL:
            if (pp->devnull < 0) {
                pp->devnull = mproc__open("/dev/null", O_RDWR, 0);
                if (pp->devnull < 0)
                    return pp->devnull;
            }
            pp->c.src[i] = pp->devnull;
            break;
        case MPROC_STDIO_PIPE: {
            int fds[2];
            int rc = mproc__pipe(fds);
            if (rc < 0)
                return rc;
            /* stdin: the child reads fds[0]; stdout/stderr: the child writes fds[1]. */
            pp->child_end[i] = i == 0 ? fds[0] : fds[1];
            pp->parent_end[i] = i == 0 ? fds[1] : fds[0];
            pp->c.src[i] = pp->child_end[i];
            break;
        }
        case MPROC_STDIO_FD:
            pp->c.src[i] = o->stdio[i].fd;
            break;
        case MPROC_STDIO_STDOUT:
            pp->c.src[i] = -2;
            break;
        default:
            break;
        }
    }
    return 0;
}

static const char *env_lookup(const char *const *env, const char *key)
{
    size_t n = strlen(key);
    for (; env && *env; env++)
        if (strncmp(*env, key, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* PATH is searched here, in the parent; the child tries the candidates in order. */
static int prep_paths(struct prep *pp, const char *file, const mproc_opts *o)
{
    if ((o->flags & MPROC_NO_PATH) || strchr(file, '/')) {
        pp->one_path[0] = file;
        pp->one_path[1] = NULL;
        pp->c.paths = pp->one_path;
        return 0;
    }
    const char *path = o->env ? env_lookup(o->env, "PATH") : getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    size_t ndirs = 1, flen = strlen(file);
    for (const char *s = path; *s; s++)
        ndirs += *s == ':';
    size_t bytes = (ndirs + 1) * sizeof(char *) + strlen(path) + ndirs * (flen + 3);
    pp->paths = malloc(bytes);
    if (!pp->paths)
        return MPROC_ENOMEM;
    char *out = (char *)(pp->paths + ndirs + 1);
    size_t k = 0;
    for (const char *s = path;; s++) {
        const char *e = strchrnul(s, ':');
        size_t dlen = (size_t)(e - s);
        pp->paths[k++] = out;
        if (dlen == 0) { /* an empty entry means the current directory */
            *out++ = '.';
        } else {
            memcpy(out, s, dlen);
            out += dlen;
        }
        *out++ = '/';
        memcpy(out, file, flen + 1);
        out += flen + 1;
        if (*e == '\0')
            break;
        s = e;
    }
    pp->paths[k] = NULL;
    pp->c.paths = (const char *const *)pp->paths;
    return 0;
}

static int prep_common(struct prep *pp, const mproc_opts *o)
{
    int rc = check_opts(o);
    if (rc < 0)
        return rc;
    pp->c.cwd = o->cwd;
    pp->c.flags = o->flags;
    pp->c.rlimits = o->rlimits;
    pp->c.nrlimits = o->rlimits_count;
    pp->c.cpu_set = o->cpu_set;
    pp->c.cpu_set_size = o->cpu_set_size;
    pp->c.parent = (o->flags & MPROC_DETACHED) ? 0 : getpid();
    if (o->nice) {
        errno = 0;
        int cur = getpriority(PRIO_PROCESS, 0);
        if (cur == -1 && errno)
            return -errno;
        int v = cur + o->nice;
        pp->c.set_nice = 1;
        pp->c.nice_value = v < -20 ? -20 : v > 19 ? 19 : v;
    }
    if (o->pass_fds_count) {
        pp->keep = malloc(o->pass_fds_count * sizeof(int));
        if (!pp->keep)
            return MPROC_ENOMEM;
        memcpy(pp->keep, o->pass_fds, o->pass_fds_count * sizeof(int));
        qsort(pp->keep, o->pass_fds_count, sizeof(int), cmp_int);
        pp->c.keep = pp->keep;
        pp->c.nkeep = o->pass_fds_count;
    }
    return prep_stdio(pp, o);
}

static int sigchld_ignored(void)
{
    struct sigaction sa;
    if (sigaction(SIGCHLD, NULL, &sa) != 0)
        return 0;
    return sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT);
}

static mproc_proc *proc_new(pid_t pid, int pidfd, struct prep *pp, const mproc_opts *o)
{
    mproc_proc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pid = pid;
    p->pidfd = pidfd;
    p->flags = o->flags;
    for (int i = 0; i < 3; i++)
        p->stdio[i] = pp->parent_end[i];
    p->kill_deadline = o->kill_after_ms > 0 ? mproc__now_ms() + o->kill_after_ms : INT64_MAX;
    p->autoreaped = sigchld_ignored();
    if (!(o->flags & MPROC_DETACHED))
        mproc__registry_add(pid);
    return p;
}

/* Blocks until the child ends and collects it; for failure paths. */
static void reap_now(pid_t pid, int pidfd)
{
    siginfo_t si;
    struct rusage ru;
    if (pidfd >= 0)
        (void)mproc__waitid_pidfd(pidfd, &si, WEXITED, &ru);
    else
        (void)waitid(P_PID, (id_t)pid, &si, WEXITED | __WALL);
}

/* ---- spawn -------------------------------------------------------------------------- */

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
    long pid = clone(mproc__child_exec, sc->stack + 2 * SPAWN_STACK_SIZE,
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
        pid = clone(mproc__child_exec, sc->stack + SPAWN_STACK_SIZE,
                    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, sc->c, &pidfd);
        sc->pid = (pid_t)pid;
        sc->pidfd = pidfd;
    } else {
        pid = clone(detach_trampoline, sc->stack + SPAWN_STACK_SIZE,
                    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, sc, NULL);
        if (pid > 0)
            reap_now((pid_t)pid, -1);
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

int mproc_spawn(mproc_proc **out, const char *const argv[], const mproc_opts *opts)
{
    static const mproc_opts defaults;
    const mproc_opts *o = opts ? opts : &defaults;
    if (o->failure)
        *o->failure = (mproc_failure){0, 0};
    if (!out || !argv || !argv[0] || !argv[0][0])
        return MPROC_EINVAL;
    *out = NULL;
    struct prep pp;
    prep_init(&pp);
    int rc = prep_common(&pp, o);
    if (rc == 0)
        rc = prep_paths(&pp, argv[0], o);
    if (rc < 0)
        goto fail;
    pp.c.argv = argv;
    pp.c.envp = o->env ? o->env : (const char *const *)environ;
    pp.c.close_fds = 1;
    pp.c.reset_signals = 1;

    int detached = (o->flags & MPROC_DETACHED) != 0;
    char *stack = malloc((detached ? 2 : 1) * SPAWN_STACK_SIZE);
    if (!stack) {
        rc = MPROC_ENOMEM;
        goto fail;
    }
    struct spawn_call sc = {
        .c = &pp.c, .detached = detached, .pid = -1, .pidfd = -1, .stack = stack};
    if (!detached && !mproc__is_main_thread())
        rc = mproc__on_spawner_thread(do_clone, &sc);
    else
        rc = do_clone(&sc);
    free(stack);
    if (rc < 0 && pp.c.stage == 0) /* the spawner thread could not start */
        goto fail;
    if (pp.c.stage != 0) {
        /* The child recorded a failure and left with _exit(127): collect it. */
        if (sc.pid > 0 && !detached)
            reap_now(sc.pid, sc.pidfd);
        mproc__close(sc.pidfd);
        rc = -pp.c.err;
        goto fail;
    }
    *out = proc_new(sc.pid, sc.pidfd, &pp, o);
    if (!*out) {
        if (!detached) {
            (void)mproc__pidfd_signal(sc.pidfd, SIGKILL);
            reap_now(sc.pid, sc.pidfd);
        }
        mproc__close(sc.pidfd);
        rc = MPROC_ENOMEM;
        goto fail;
    }
    prep_release(&pp, 1);
    return 0;
fail:
    if (o->failure)
        *o->failure = (mproc_failure){pp.c.stage ? pp.c.stage : MPROC_STAGE_NONE, rc};
    prep_release(&pp, 0);
    return rc;
}

/* ---- fork a function ---------------------------------------------------------------- */

struct fork_call {
    struct prep *pp;
    int (*fn)(void *);
    void *arg;
    int report[2];
    int *exit_word;
    pid_t pid;
    int err;
};

static _Noreturn void fork_child(struct fork_call *fc)
{
    struct mproc__child *c = &fc->pp->c;
    if (fc->report[0] >= 0)
        close(fc->report[0]);
    if (mproc__child_setup(c) < 0) {
        int rec[2] = {c->stage, c->err};
        if (fc->report[1] >= 0)
            (void)mproc__write_all(fc->report[1], rec, sizeof rec);
        _exit(127);
    }
    if (fc->report[1] >= 0)
        close(fc->report[1]); /* EOF tells the parent that setup succeeded */
    int code = fc->fn(fc->arg) & 0xff;
    fflush(stdout);
    fflush(stderr);
    if (fc->exit_word)
        __atomic_store_n(fc->exit_word, 0x100 | code, __ATOMIC_RELEASE);
    _exit(code);
}

static int do_fork(void *arg)
{
    struct fork_call *fc = arg;
    pid_t pid = fork();
    if (pid == 0)
        fork_child(fc);
    fc->pid = pid;
    fc->err = pid < 0 ? errno : 0;
    return pid < 0 ? -1 : 0;
}

static int fork_needs_report(const mproc_opts *o)
{
    return o->cwd || o->rlimits_count || o->nice || o->cpu_set || o->pass_fds_count ||
           o->stdio[0].kind || o->stdio[1].kind || o->stdio[2].kind ||
           (o->flags & (MPROC_NEW_PGROUP | MPROC_NEW_SESSION | MPROC_DETACHED));
}

/* Reads the child's setup report: 0 on EOF (setup done), else -errno, stage in *stage. */
static int read_report(int fd, int *stage)
{
    int rec[2];
    size_t got = 0;
    while (got < sizeof rec) {
        ssize_t n = mproc__read(fd, (char *)rec + got, sizeof rec - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof rec)
        return 0;
    *stage = rec[0];
    return -rec[1];
}

int mproc_fork(mproc_proc **out, int (*fn)(void *arg), void *arg, const mproc_opts *opts)
{
    static const mproc_opts defaults;
    const mproc_opts *o = opts ? opts : &defaults;
    if (o->failure)
        *o->failure = (mproc_failure){0, 0};
    if (!out || !fn)
        return MPROC_EINVAL;
    *out = NULL;
    if (o->flags & MPROC_DETACHED)
        return MPROC_ENOTSUP; /* a detached fork would need a double fork; spawn it instead */
    struct prep pp;
    prep_init(&pp);
    struct fork_call fc = {.pp = &pp, .fn = fn, .arg = arg, .report = {-1, -1}};
    int stage = 0;
    int rc = prep_common(&pp, o);
    if (rc < 0)
        goto fail;
    pp.c.name = o->name;
    if (fork_needs_report(o) && (rc = mproc__pipe(fc.report)) < 0)
        goto fail;
    if (sigchld_ignored()) {
        void *w =
            mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (w == MAP_FAILED) {
            rc = -errno;
            goto fail;
        }
        fc.exit_word = w;
    }
    fflush(stdout); /* or the child would write the parent's pending output again */
    fflush(stderr);
    if (!mproc__is_main_thread())
        rc = mproc__on_spawner_thread(do_fork, &fc);
    else
        rc = do_fork(&fc);
    if (rc < 0) {
        stage = MPROC_STAGE_FORK;
        rc = fc.err ? -fc.err : rc;
        goto fail;
    }
    int pidfd = mproc__pidfd_open(fc.pid);
    if (pidfd < 0) {
        /* Only EMFILE/ENOMEM can get here (or SIGCHLD ignored and the child already
         * gone); the child must not outlive this failed call. */
        kill(fc.pid, SIGKILL);
        reap_now(fc.pid, -1);
        rc = pidfd;
        goto fail;
    }
    if (fc.report[1] >= 0) {
        mproc__close(fc.report[1]);
        fc.report[1] = -1;
        rc = read_report(fc.report[0], &stage);
        if (rc < 0) {
            reap_now(fc.pid, pidfd);
            mproc__close(pidfd);
            goto fail;
        }
    }
    *out = proc_new(fc.pid, pidfd, &pp, o);
    if (!*out) {
        (void)mproc__pidfd_signal(pidfd, SIGKILL);
        reap_now(fc.pid, pidfd);
        mproc__close(pidfd);
        rc = MPROC_ENOMEM;
        goto fail;
    }
    (*out)->exit_word = fc.exit_word;
    fc.exit_word = NULL;
    mproc__close(fc.report[0]);
    prep_release(&pp, 1);
    return 0;
fail:
    if (o->failure)
        *o->failure = (mproc_failure){stage, rc};
    mproc__close(fc.report[0]);
    mproc__close(fc.report[1]);
    if (fc.exit_word)
        munmap(fc.exit_word, sizeof(int));
    prep_release(&pp, 0);
    return rc;
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
        st->core_dumped = 1;
        /* fallthrough */
    case CLD_KILLED:
        st->signaled = 1;
        st->signal = si->si_status;
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
        if (w & 0x100) {
            p->st.exited = 1;
            p->st.code = w & 0xff;
        } else {
            p->st.unknown = 1; /* SIGCHLD ignored and it died by a signal */
        }
    } else if (p->autoreaped || sigchld_ignored()) {
        p->st.unknown = 1; /* the kernel reaped it for us: SIGCHLD is ignored */
    } else {
        p->lost = 1; /* someone else reaped it, e.g. the application's waitpid() */
    }
    mark_reaped(p);
    return p->lost ? MPROC_ECHILD : 0;
}

static void kill_for_timeout(mproc_proc *p)
{
    if (leads_group(p))
        (void)kill(-p->pid, SIGKILL);
    (void)mproc__pidfd_signal(p->pidfd, SIGKILL);
    p->timed_out = 1;
    p->kill_deadline = INT64_MAX;
}

int mproc_proc_wait(mproc_proc *p, int timeout_ms, mproc_status *st)
{
    if (!p || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
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

int mproc_proc_signal(mproc_proc *p, int sig)
{
    if (!p || !mproc__sig_valid(sig))
        return MPROC_EINVAL;
    if (p->reaped)
        return MPROC_ESRCH;
    return mproc__pidfd_signal(p->pidfd, sig);
}

int mproc_proc_signal_group(mproc_proc *p, int sig)
{
    if (!p || !mproc__sig_valid(sig))
        return MPROC_EINVAL;
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
    if (!p->reaped) {
        int group = leads_group(p);
        if (grace_ms > 0) {
            if (group)
                (void)kill(-p->pid, SIGTERM);
            (void)mproc__pidfd_signal(p->pidfd, SIGTERM);
            /* A stopped process would never act on SIGTERM. */
            if (group)
                (void)kill(-p->pid, SIGCONT);
            (void)mproc__pidfd_signal(p->pidfd, SIGCONT);
        }
        int rc = grace_ms > 0 ? mproc_proc_wait(p, grace_ms, NULL) : MPROC_ETIMEDOUT;
        if (rc == MPROC_ETIMEDOUT) {
            (void)mproc__pidfd_signal(p->pidfd, SIGKILL);
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
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = mproc__open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    ssize_t n = mproc__read(fd, buf, sizeof buf - 1);
    mproc__close(fd);
    if (n <= 0)
        return n < 0 ? (int)n : MPROC_EIO;
    buf[n] = '\0';
    const char *s = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
    if (!s || s[1] != ' ')
        return MPROC_EIO;
    switch (s[2]) {
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

int mproc_proc_state(mproc_proc *p)
{
    if (!p)
        return MPROC_EINVAL;
    if (p->reaped)
        return MPROC_EXITED;
    if (mproc__now_ms() >= p->kill_deadline)
        kill_for_timeout(p);
    int ended = mproc__poll1(p->pidfd, POLLIN, 0) > 0;
    if (ended && (p->flags & MPROC_DETACHED))
        return MPROC_EXITED;
    int s = read_state(p->pid);
    /* A detached process is not ours: its pid may be reused once it ends. */
    if ((p->flags & MPROC_DETACHED) && mproc__poll1(p->pidfd, POLLIN, 0) > 0)
        return MPROC_EXITED;
    if (s == MPROC_ENOENT)
        return MPROC_EXITED;
    return s;
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

int mproc_proc_stdio(const mproc_proc *p, int which)
{
    if (!p || which < 0 || which > 2)
        return -1;
    return p->stdio[which];
}

int mproc_proc_take_stdio(mproc_proc *p, int which)
{
    if (!p || which < 0 || which > 2)
        return -1;
    int fd = p->stdio[which];
    p->stdio[which] = -1;
    return fd;
}

int mproc_proc_close_stdio(mproc_proc *p, int which)
{
    if (!p || which < 0 || which > 2)
        return MPROC_EINVAL;
    if (p->stdio[which] < 0)
        return MPROC_EBADF;
    mproc__close(p->stdio[which]);
    p->stdio[which] = -1;
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
    if (!p->reaped && !(p->flags & MPROC_DETACHED)) {
        if (leads_group(p))
            (void)kill(-p->pid, SIGKILL);
        (void)mproc__pidfd_signal(p->pidfd, SIGKILL);
        (void)collect(p);
    }
    mproc__close(p->pidfd);
    for (int i = 0; i < 3; i++)
        mproc__close(p->stdio[i]);
    if (p->exit_word)
        munmap(p->exit_word, sizeof(int));
    free(p);
}
