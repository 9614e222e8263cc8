/* mproc/proc.h: create processes from a command or a C function, wait for them with a
 * timeout, signal, terminate, stop and continue them, read their state and resource use.
 *
 * Guarantees (see docs/proc.md):
 *  - exec and setup failures come back from mproc_spawn() itself with the stage and errno;
 *  - children are tracked by pidfd: mproc installs no SIGCHLD handler and never calls
 *    waitpid(-1); an inherited SIGCHLD=SIG_IGN does not break waiting;
 *  - a child dies when its parent process dies (not merely the spawning thread), unless
 *    spawned MPROC_DETACHED; no zombie outlives its handle;
 *  - a spawned child sees only fds 0, 1, 2 and those listed in pass_fds.
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
    0x4u                     /* child is not tied to the parent's life and is not our child:       \
                                it survives us; wait() sees its end but not its status */
#define MPROC_NO_PATH   0x8u /* do not search PATH for argv[0] */
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
                               with SIGKILL once it has run this long; enforced by every
                               wait on it (status.timed_out is then set) */
    mproc_failure *failure; /* optional out: where setup failed */
} mproc_opts;

typedef struct mproc_status {
    int exited;   /* 1: exited normally with .code */
    int code;     /* exit code (0..255) */
    int signaled; /* 1: killed by .signal */
    int signal;
    int core_dumped;           /* 1: killed by a signal and dumped core */
    int timed_out;             /* 1: killed by mproc because kill_after_ms passed */
    int unknown;               /* 1: the process ended but its status was collected elsewhere
                                  (MPROC_DETACHED, or SIGCHLD ignored for a forked function that
                                  died by a signal) */
    long long user_us, sys_us; /* CPU time of the child itself */
    long long max_rss_kb;      /* its peak resident set */
} mproc_status;

/** Spawns argv[0] with arguments argv (NULL-terminated).
 *  argv[0] without a '/' is searched in PATH (the child's env PATH if env is given, else
 *  the parent's) in the parent; the child only calls execve. The parent's memory is not
 *  copied (clone with CLONE_VM|CLONE_VFORK), so the cost is flat as the parent grows.
 *  Returns 0 and *out, or an error and nothing is left behind:
 *   MPROC_EINVAL (NULL/empty argv, NULL out, unknown flags, bad stdio kind, bad rlimit),
 *   MPROC_EBADF (an MPROC_STDIO_FD or pass_fds descriptor is not open),
 *   the errno of the failing setup stage (opts->failure says which), e.g. MPROC_ENOENT
 *   from exec or chdir, MPROC_EACCES, MPROC_ENOMEM, MPROC_EAGAIN.
 *  Thread-safe. */
MPROC_API int mproc_spawn(mproc_proc **out, const char *const argv[], const mproc_opts *opts);

/** Forks the calling process; the child runs fn(arg) and exits with its return value
 *  (& 0xff) after flushing stdio. stdio buffers are flushed before forking. The child
 *  keeps the parent's descriptors (fork semantics) apart from stdio redirections.
 *  Errors as mproc_spawn (no exec stage). Thread-safe; forking a multi-threaded process
 *  has the usual caveat that only async-signal-safe calls are safe in the child. */
MPROC_API int mproc_fork(mproc_proc **out, int (*fn)(void *arg), void *arg, const mproc_opts *opts);

/** Waits for the child to end, up to timeout_ms (-1 forever, 0 poll). On 0, *st (if not
 *  NULL) holds its status; waiting again returns the same status at once.
 *  Returns 0, MPROC_ETIMEDOUT (still running), MPROC_EINVAL (NULL p, timeout < -1),
 *  MPROC_ECHILD (someone else reaped it, e.g. the application's waitpid()).
 *  EINTR is retried within the deadline. Thread-safe for distinct handles. */
MPROC_API int mproc_proc_wait(mproc_proc *p, int timeout_ms, mproc_status *st);

/** Sends sig (0 probes) to the child through its pidfd. MPROC_EINVAL for a bad signal,
 *  MPROC_ESRCH once the child has been reaped. */
MPROC_API int mproc_proc_signal(mproc_proc *p, int sig);

/** Sends sig to the child's process group if it leads one (MPROC_NEW_PGROUP/SESSION),
 *  reaching its descendants too; otherwise to the child alone. */
MPROC_API int mproc_proc_signal_group(mproc_proc *p, int sig);

/** SIGTERM (to the group if it leads one), waits up to grace_ms, then SIGKILL, then reaps.
 *  grace_ms 0 kills at once. Fills *st. Returns 0 or MPROC_EINVAL. */
MPROC_API int mproc_proc_terminate(mproc_proc *p, int grace_ms, mproc_status *st);

/** SIGSTOP / SIGCONT. */
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

/** The child's state as the kernel reports it now (enum mproc_state), or an error. */
MPROC_API int mproc_proc_state(mproc_proc *p);
/** Name of a state: "running", "sleeping", ... */
MPROC_API const char *mproc_state_name(int state);

MPROC_API pid_t mproc_proc_pid(const mproc_proc *p);
/** The child's pidfd: readable (POLLIN) once the child has ended. Owned by the handle. */
MPROC_API int mproc_proc_fd(const mproc_proc *p);
/** The parent's end of a piped stream (0, 1, 2), or -1. Owned by the handle until
 *  mproc_proc_take_stdio(). */
MPROC_API int mproc_proc_stdio(const mproc_proc *p, int which);
/** Takes ownership of the parent's end of a piped stream (the handle forgets it). */
MPROC_API int mproc_proc_take_stdio(mproc_proc *p, int which);
/** Closes the parent's end of a piped stream (e.g. stdin, to send EOF). */
MPROC_API int mproc_proc_close_stdio(mproc_proc *p, int which);

/** Frees the handle. A non-detached child still running is killed (SIGKILL, to its group
 *  if it leads one) and reaped, so no zombie outlives its handle. NULL is a no-op. */
MPROC_API void mproc_proc_free(mproc_proc *p);

/** Python's exitcode: the exit code, or -signal if killed by a signal. */
MPROC_API int mproc_exitcode(const mproc_status *st);

/** Subreaper mode: makes this process adopt orphaned descendants (PR_SET_CHILD_SUBREAPER)
 *  so they are not reparented to init. mproc_reap_orphans() then reaps adopted orphans
 *  that have ended (never a child that an mproc handle or the application tracks by pid
 *  it spawned itself is touched: only processes we did not create). Returns the number
 *  reaped or an error. */
MPROC_API int mproc_subreaper_enable(void);
MPROC_API int mproc_reap_orphans(void);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_PROC_H */
