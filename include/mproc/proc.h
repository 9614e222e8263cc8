/* mproc/proc.h: create processes from a command or a C function, wait for them with a
 * timeout, signal, terminate, stop and continue them, read their state and resource use.
 *
 * Guarantees (see docs/proc.md):
 *  - exec and setup failures come back from mproc_spawn()/mproc_fork() themselves with
 *    the stage and errno, never as a child exiting 127;
 *  - children are tracked by pidfd: mproc installs no SIGCHLD handler and never calls
 *    waitpid(-1); an inherited SIGCHLD=SIG_IGN does not break waiting;
 *  - a child dies when its parent process dies (not merely the spawning thread), unless
 *    spawned MPROC_DETACHED; no zombie outlives its handle;
 *  - a spawned child sees only fds 0, 1, 2 and those listed in pass_fds;
 *  - spawning does not copy the parent's memory: its cost is flat as the parent grows.
 * Needs Linux 5.9 (close_range; pidfds 5.3, waitid(P_PIDFD) 5.4).
 */
#ifndef MPROC_PROC_H
#define MPROC_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_proc mproc_proc;

/* How one of the child's stdin/stdout/stderr is set up. Zero-initialised: inherit. */
enum mproc_stdio_kind {
    MPROC_STDIO_INHERIT = 0, /* the parent's descriptor of the same number */
    MPROC_STDIO_NULL = 1,    /* /dev/null */
    MPROC_STDIO_PIPE = 2,    /* a pipe; the parent's end via mproc_proc_stdio() */
    MPROC_STDIO_FD = 3,      /* the descriptor in .fd (the caller keeps ownership) */
    MPROC_STDIO_STDOUT = 4   /* for stderr only: the same destination as the child's stdout */
};

typedef struct mproc_stdio {
    int kind; /* enum mproc_stdio_kind */
    int fd;   /* for MPROC_STDIO_FD */
} mproc_stdio;

/* flags for mproc_opts.flags */
#define MPROC_NEW_PGROUP  0x1u /* child leads a new process group (signals can reach the tree) */
#define MPROC_NEW_SESSION 0x2u /* child leads a new session (implies a new process group) */
#define MPROC_DETACHED                                                                             \
    0x4u /* spawn only: child is not tied to the parent's life and is not                          \
            our child (it leads a new session and is reparented at once):                          \
            it survives us; wait() sees its end but not its status                                 \
            (status.unknown); free() does not kill it */
#define MPROC_NO_PATH                                                                              \
    0x8u /* do not search PATH for argv[0] (a name without '/' is then                             \
            relative to the child's cwd) */
#define MPROC_FLAGS_ALL 0xfu

typedef struct mproc_rlimit {
    int resource;                  /* RLIMIT_* */
    unsigned long long soft, hard; /* RLIM_INFINITY allowed */
} mproc_rlimit;

/* Which stage of child setup failed (mproc_failure.stage). */
enum mproc_stage {
    MPROC_STAGE_NONE = 0,
    MPROC_STAGE_FORK,   /* clone/fork itself */
    MPROC_STAGE_SETSID, /* setsid/setpgid */
    MPROC_STAGE_PDEATHSIG,
    MPROC_STAGE_RLIMIT,
    MPROC_STAGE_NICE,
    MPROC_STAGE_AFFINITY,
    MPROC_STAGE_DUP2, /* stdio redirection */
    MPROC_STAGE_FDS,  /* pass_fds / closing the others */
    MPROC_STAGE_CHDIR,
    MPROC_STAGE_EXEC
};

/* Filled in when spawn or fork fails (optional: point mproc_opts.failure at one). */
typedef struct mproc_failure {
    int stage; /* enum mproc_stage */
    int error; /* MPROC_E* code, equal to -errno */
} mproc_failure;

/** Name of a stage: "exec", "chdir", ... ("none" for MPROC_STAGE_NONE). */
MPROC_API const char *mproc_stage_name(int stage);

/* Options for mproc_spawn and mproc_fork. NULL or all-zero means defaults: inherit the
 * environment, cwd and stdio; same process group; tied to the parent's life. */
typedef struct mproc_opts {
    const char *const *env; /* NULL-terminated "K=V" list; NULL inherits environ */
    const char *cwd;        /* NULL: the parent's */
    mproc_stdio stdio[3];   /* stdin, stdout, stderr */
    unsigned flags;         /* MPROC_NEW_PGROUP, MPROC_NEW_SESSION, MPROC_DETACHED, ... */
    const char *name;       /* mproc_fork: shown in /proc/PID/comm and ps (15 bytes) */
    const int *pass_fds;    /* spawn: extra descriptors the child keeps, same numbers */
    size_t pass_fds_count;
    const mproc_rlimit *rlimits; /* applied in the child before exec / fn */
    size_t rlimits_count;
    int nice;               /* added to the child's nice value; 0 leaves it */
    const void *cpu_set;    /* a cpu_set_t for sched_setaffinity, or NULL */
    size_t cpu_set_size;    /* its size in bytes (sizeof(cpu_set_t)) */
    int kill_after_ms;      /* > 0: the child (and its group, if it leads one) is killed
                               with SIGKILL once this long has passed since it was created;
                               enforced by mproc_proc_wait/terminate/state (nothing runs in
                               the background: a child nobody waits for is not killed);
                               status.timed_out is then set */
    mproc_failure *failure; /* optional out: where setup failed */
} mproc_opts;

typedef struct mproc_status {
    int exited;   /* 1: exited normally with .code */
    int code;     /* exit code (0..255) */
    int signaled; /* 1: killed by .signal */
    int signal;
    int core_dumped;           /* 1: killed by a signal and a core dump was written (the
                                  kernel sets it only if the dump succeeded: RLIMIT_CORE,
                                  core_pattern) */
    int timed_out;             /* 1: killed by mproc because kill_after_ms passed */
    int unknown;               /* 1: the process ended but its status was collected elsewhere
                                  (MPROC_DETACHED, or SIGCHLD ignored for a forked function that
                                  died by a signal) */
    long long user_us, sys_us; /* CPU time of the child (and of children it waited for) */
    long long max_rss_kb;      /* its peak resident set. Kernel caveat: a spawned command
                                  reports at least the parent's peak RSS at spawn time (exec
                                  from a CLONE_VM child records the shared memory's peak); a
                                  forked function counts the pages it shares with us */
} mproc_status;

/** Spawns argv[0] with arguments argv (NULL-terminated); argv and opts are only read
 *  during the call.
 *  argv[0] without a '/' is searched in PATH (the env's PATH if opts->env is given, else
 *  the parent's; "/usr/local/bin:/usr/bin:/bin" if none) in the parent, with execvp's
 *  rules (EACCES remembered while the search goes on); the child only calls execve.
 *  The parent's memory is not copied (clone with CLONE_VM|CLONE_VFORK), so the cost is
 *  flat as the parent grows. Returns once the child has exec'd (so its setup is done).
 *  In the child every signal handler is reset to default, ignored signals stay ignored
 *  except SIGPIPE and SIGXFSZ (reset, as Python's restore_signals does) and SIGCHLD
 *  (reset), and the signal mask is emptied; descriptors other than 0, 1, 2 and pass_fds
 *  are closed.
 *  Returns 0 and *out, or an error and nothing is left behind (*out = NULL):
 *   MPROC_EINVAL (NULL/empty argv, NULL out, unknown flags, bad stdio kind, pass_fds
 *   below 3, bad rlimit, nice outside -40..40, negative kill_after_ms, empty cpu_set_size),
 *   MPROC_EBADF (an MPROC_STDIO_FD or pass_fds descriptor is not open; found before any
 *   child is made), or the errno of the failing setup stage, with opts->failure saying
 *   which: e.g. MPROC_ENOENT/MPROC_EACCES from exec, MPROC_ENOENT/MPROC_ENOTDIR from chdir,
 *   MPROC_EPERM from rlimit, MPROC_EINVAL from affinity, MPROC_EAGAIN/MPROC_ENOMEM from
 *   fork. Never a child exiting 127.
 *  Thread-safe. From a thread other than the main thread the child is created by mproc's
 *  spawner thread, so that it outlives the calling thread (docs/proc.md). */
MPROC_API int mproc_spawn(mproc_proc **out, const char *const argv[], const mproc_opts *opts);

/** Forks the calling process; the child runs fn(arg) and exits with its return value
 *  (& 0xff) after flushing stdio (leave fn by returning: exit() inside fn runs the
 *  parent's atexit handlers). stdio buffers are flushed before forking, so pending output
 *  is not written twice. The child keeps the parent's descriptors and signal handlers
 *  (fork semantics) apart from stdio redirections; opts->name (15 bytes) is set in
 *  /proc/PID/comm before mproc_fork returns. When options that can fail are given (cwd,
 *  rlimits, nice, cpu_set, stdio, groups, name), mproc_fork returns after the child's
 *  setup, with its error if it failed.
 *  Errors as mproc_spawn (no exec stage), and MPROC_ENOTSUP for MPROC_DETACHED.
 *  Thread-safe. From a thread other than the main thread the fork happens on mproc's
 *  spawner thread; the child gets the calling thread's signal mask. Forking a
 *  multi-threaded process has the usual caveat: other threads' locks are copied held. */
MPROC_API int mproc_fork(mproc_proc **out, int (*fn)(void *arg), void *arg, const mproc_opts *opts);

/** Waits for the child to end, up to timeout_ms (-1 forever, 0 poll), and reaps it. On 0,
 *  *st (if not NULL) holds its status; waiting again returns the same status at once.
 *  A stopped child has not ended. Enforces opts.kill_after_ms.
 *  Returns 0, MPROC_ETIMEDOUT (still running), MPROC_EINVAL (NULL p, timeout < -1),
 *  MPROC_ECHILD (someone else reaped it, e.g. the application's waitpid(); every later
 *  wait says so too; or this process is a forked copy that inherited the handle: only
 *  the process that created a handle may wait, signal or terminate through it, as with
 *  Python's "can only join a child process"). With SIGCHLD ignored, returns 0 with st.unknown set
 * where the status was lost to the kernel's auto-reaping (docs/proc.md). EINTR is retried within
 * the deadline (CLOCK_MONOTONIC). Thread-safe for distinct handles; one handle is not to be used by
 * two threads at once. */
MPROC_API int mproc_proc_wait(mproc_proc *p, int timeout_ms, mproc_status *st);

/** Sends sig (0 probes) to the child through its pidfd, so a recycled pid is never hit.
 *  A zombie still accepts signals (0 returned). MPROC_EINVAL for a NULL p or a signal
 *  outside 0.._NSIG-1, MPROC_ESRCH once the child has been reaped, MPROC_ECHILD in a
 *  process that inherited the handle (see mproc_proc_wait). */
MPROC_API int mproc_proc_signal(mproc_proc *p, int sig);

/** Sends sig to the child's process group if it leads one (MPROC_NEW_PGROUP/SESSION/
 *  DETACHED), reaching the descendants that stayed in it; otherwise to the child alone.
 *  Uses kill(-pid): after the leader was reaped this still reaches the group while any
 *  member lives (the id stays reserved), but once the group is empty the id could in
 *  principle be reused. Errors: MPROC_EINVAL, MPROC_ESRCH (no such group). */
MPROC_API int mproc_proc_signal_group(mproc_proc *p, int sig);

/** SIGTERM then SIGCONT (to the group if it leads one, so a stopped child acts on it),
 *  waits up to grace_ms, then SIGKILL, then reaps; a group it leads gets SIGKILL at the
 *  end too, so no descendant that stayed in it survives. grace_ms 0 kills at once.
 *  An ended child is just reaped. Fills *st (if not NULL) as mproc_proc_wait.
 *  Returns 0, MPROC_EINVAL (NULL p, grace_ms < 0), MPROC_ECHILD (reaped elsewhere, or an
 *  inherited handle: see mproc_proc_wait). */
MPROC_API int mproc_proc_terminate(mproc_proc *p, int grace_ms, mproc_status *st);

/** SIGSTOP / SIGCONT through the pidfd. Errors as mproc_proc_signal. */
MPROC_API int mproc_proc_stop(mproc_proc *p);
MPROC_API int mproc_proc_continue(mproc_proc *p);

enum mproc_state {
    MPROC_RUNNING = 1,
    MPROC_SLEEPING = 2,
    MPROC_DISK_SLEEP = 3,
    MPROC_STOPPED = 4,
    MPROC_ZOMBIE = 5, /* ended, not yet waited for */
    MPROC_EXITED = 6  /* ended and waited for */
};

/** The child's state as the kernel reports it now (/proc/PID/stat; enum mproc_state),
 *  checked against the pidfd so a recycled pid is never reported: R -> running,
 *  S/I -> sleeping, D -> disk-sleep, T/t -> stopped, ended but not reaped -> zombie,
 *  reaped (by us, the kernel or anyone) -> exited. Enforces opts.kill_after_ms.
 *  Returns a state, MPROC_EINVAL (NULL p), or MPROC_EIO / -errno if /proc/PID/stat
 *  cannot be read. */
MPROC_API int mproc_proc_state(mproc_proc *p);
/** Name of a state: "running", "sleeping", ... */
MPROC_API const char *mproc_state_name(int state);

MPROC_API pid_t mproc_proc_pid(const mproc_proc *p);
/** The child's pidfd: readable (POLLIN) once the child has ended, for event loops. Owned
 *  by the handle (do not close it; do not waitid() on it yourself). -1 for NULL p, or in
 *  the one case where a forked child was reaped by someone else before mproc_fork could
 *  open it (waits then return MPROC_ECHILD). */
MPROC_API int mproc_proc_fd(const mproc_proc *p);
/** The parent's end of a piped stream (0, 1, 2), or -1. Owned by the handle until
 *  mproc_proc_take_stdio(): close it with mproc_proc_close_stdio(), not close(). Children
 *  made by mproc_fork do not inherit it (unless in pass_fds); in such a child, a handle
 *  inherited from the parent returns -1 here. */
MPROC_API int mproc_proc_stdio(const mproc_proc *p, int which);
/** Takes ownership of the parent's end of a piped stream (the handle forgets it; from
 *  then on it is an ordinary descriptor of the caller's, inherited by forks). */
MPROC_API int mproc_proc_take_stdio(mproc_proc *p, int which);
/** Closes the parent's end of a piped stream (e.g. stdin, to send EOF). */
MPROC_API int mproc_proc_close_stdio(mproc_proc *p, int which);

/** Frees the handle and closes its pidfd and pipe ends. A non-detached child that is not
 *  reaped yet is killed (SIGKILL, to its group if it leads one) and reaped before this
 *  returns, so no zombie outlives its handle. A detached child is left alone, and so is
 *  the child in a process that merely inherited the handle (a forked copy frees its copy
 *  without touching its sibling). NULL is a no-op. */
MPROC_API void mproc_proc_free(mproc_proc *p);

/** Python's exitcode: the exit code, or -signal if killed by a signal (0 for NULL or an
 *  unknown status). */
MPROC_API int mproc_exitcode(const mproc_status *st);

/** Subreaper mode (process-wide, opt-in): makes this process adopt orphaned descendants
 *  (PR_SET_CHILD_SUBREAPER) instead of init. Returns 0 or -errno.
 *  mproc_reap_orphans() reaps, without blocking, every ended child of this process that
 *  no mproc handle owns (it reads /proc/self/task/TID/children and uses waitid(P_PID,
 *  WNOHANG) per pid, never waitpid(-1)). It cannot tell an adopted orphan from a child
 *  the application fork()ed itself: reap those first, or do not mix the two. Call it
 *  when it suits you (e.g. on SIGCHLD in your own loop). Returns the number reaped or an
 *  error. Thread-safe. */
MPROC_API int mproc_subreaper_enable(void);
MPROC_API int mproc_reap_orphans(void);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_PROC_H */
