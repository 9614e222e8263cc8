/* proc_int.h: what src/proc's files share. Private to the library.
 *
 *   prep.c     validates mproc_opts and prepares everything a child needs (pipes,
 *              /dev/null, PATH candidates, sorted pass_fds) in the parent;
 *   child.c    the code that runs in the child between clone/fork and exec;
 *   spawn.c    mproc_spawn: clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) and exec;
 *   fork.c     mproc_fork: fork, pidfd_open, the setup report, the SIGCHLD=SIG_IGN word;
 *   proc.c     the handle: wait, signal, terminate, state, accessors, free;
 *   registry.c the pids mproc created (for the subreaper) and mproc_reap_orphans;
 *   held.c     the stdio pipe ends mproc holds, which mproc_fork's children close;
 *   spawner.c  the long-lived thread that creates children for non-main threads. */
#ifndef MPROC_PROC_INT_H
#define MPROC_PROC_INT_H

#include <mproc/proc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/* Everything the child needs between clone/fork and exec, prepared by the parent so the
 * child never allocates, locks or searches. For spawn the child shares the parent's
 * memory (CLONE_VM) and writes stage/err straight into this struct. */
struct mproc__child {
    const char *const *paths; /* exec candidates in PATH order, NULL-terminated */
    const char *const *argv;
    const char *const *envp;
    const char *cwd;
    int src[3];      /* descriptor to place on 0/1/2; -1 leave; -2 (stderr) copy stdout */
    const int *keep; /* pass_fds, sorted ascending, all >= 3 */
    size_t nkeep;
    const mproc_rlimit *rlimits;
    size_t nrlimits;
    int set_nice, nice_value; /* absolute nice value to set */
    const void *cpu_set;
    size_t cpu_set_size;
    unsigned flags;
    pid_t parent;        /* the parent's pid for the parent-death race check; 0: detached */
    int close_fds;       /* spawn: close everything but 0..2 and keep */
    int reset_signals;   /* spawn: handlers, SIGPIPE/XFSZ/CHLD to default; no mask */
    int sighand_cleared; /* spawn: made with CLONE_CLEAR_SIGHAND, no handler is left */
    const char *name;    /* fork: PR_SET_NAME */
    int report_fd;       /* spawn where a CLONE_VM child does not share our memory (valgrind):
                            the failure record is written here too; else -1 */
    int stage, err;      /* out: which stage failed, and its errno */
};

/* Child side. Runs in the child, async-signal-safe, no sanitizer instrumentation. */
int mproc__child_setup(struct mproc__child *c); /* 0 or -1 with c->stage/c->err set */
int mproc__child_exec(void *arg);               /* clone() entry point for spawn */
extern int mproc__spawn_no_clone3;              /* tests: take the clone() path (spawn.c) */
extern int mproc__spawn_test_raise;             /* tests: a signal the child sends itself */

/* ---- prep.c: the parent's preparation of a child ---- */
struct mproc__prep {
    struct mproc__child c;
    int parent_end[3]; /* our ends of pipes */
    int child_end[3];  /* their ends, closed after clone */
    int devnull;
    int *keep;
    char **paths; /* one allocation: pointers then strings */
    const char *one_path[2];
};
void mproc__prep_init(struct mproc__prep *pp);
/* Closes what the parent no longer needs; the parent's pipe ends too unless kept (they
 * then belong to the new handle). */
void mproc__prep_release(struct mproc__prep *pp, int keep_parent_ends);
/* Validates o (MPROC_EINVAL, MPROC_EBADF) and prepares stdio, limits, nice, pass_fds. */
int mproc__prep_common(struct mproc__prep *pp, const mproc_opts *o);
/* Resolves argv[0] in PATH (the env's PATH if o->env is given) into pp->c.paths. */
int mproc__prep_paths(struct mproc__prep *pp, const char *file, const mproc_opts *o);

/* ---- proc.c: the handle ---- */
struct mproc_proc {
    pid_t pid;
    int pidfd;    /* -1 only when the child was lost before we could open one */
    int stdio[3]; /* parent's ends of piped streams, -1 if none */
    unsigned flags;
    int reaped; /* status collected (or lost): never wait on the pid again */
    int lost;   /* reaped by someone else: waits return MPROC_ECHILD */
    mproc_status st;
    int64_t kill_deadline; /* CLOCK_MONOTONIC ms, INT64_MAX for none */
    int timed_out;
    int *exit_word; /* forked with SIGCHLD ignored: the child's code lands here */
    int autoreaped; /* SIGCHLD was ignored when it was created */
    pid_t owner;    /* the process that created it; a forked copy of the handle in another
                       process (which inherited it) may not wait, signal or kill */
};
/* A handle for a created child; takes pidfd and the prep's parent pipe ends. NULL if out
 * of memory (the caller then kills and reaps the child). */
mproc_proc *mproc__proc_new(pid_t pid, int pidfd, struct mproc__prep *pp, const mproc_opts *o);
/* The same in two steps, for mproc_fork: the allocation before the fork (calloc's writes
 * to malloc's state would otherwise each cost the parent a copy-on-write fault), then
 * every field. Until init the handle is released with free(). autoreaped: SIGCHLD was
 * ignored at creation (mproc__sigchld_ignored(), asked once by the caller). */
mproc_proc *mproc__proc_alloc(void);
void mproc__proc_init(mproc_proc *p, pid_t pid, int pidfd, struct mproc__prep *pp,
                      const mproc_opts *o, int autoreaped);
/* 1 if SIGCHLD is ignored (SIG_IGN or SA_NOCLDWAIT): the kernel then reaps our children. */
int mproc__sigchld_ignored(void);
/* Blocks until the child ends and collects it (pidfd, or pid if pidfd < 0). */
void mproc__reap_now(pid_t pid, int pidfd);
/* Fills the optional failure record. */
void mproc__set_failure(const mproc_opts *o, int stage, int err);

/* Bits of mproc_proc.exit_word, a word in a MAP_SHARED page used when SIGCHLD is ignored:
 * the parent sets GO once it holds the pidfd (the child waits for it, so that the kernel
 * cannot reap it before that), the child sets EXITED|code when fn returns. */
#define MPROC__WORD_EXITED 0x100
#define MPROC__WORD_GO     0x200

/* ---- registry.c: pids mproc created and has not reaped (for the subreaper) ---- */
void mproc__registry_add(pid_t pid);
void mproc__registry_remove(pid_t pid);
int mproc__registry_has(pid_t pid);
/* Brackets the creation of a child up to mproc__registry_add(), so that
 * mproc_reap_orphans() cannot take a new child for an orphan in between. */
void mproc__registry_creating(void);
void mproc__registry_created(void);
/* getpid(), and 1 if the calling thread is the main thread (tid == pid); both answers
 * are kept on the registry's wipe-on-fork page, so they cost a system call only once
 * per process (and thread). */
pid_t mproc__self_pid(void);
int mproc__is_main_thread(void);
/* The lock of held.c's set, on the wipe-on-fork page; NULL if that page is missing. */
pthread_mutex_t *mproc__registry_held_lock(void);

/* ---- held.c: stdio pipe ends that mproc_fork's children must not keep ---- */
/* pipe2(O_CLOEXEC), both ends marked held. */
int mproc__held_pipe(int fds[2]);
/* Unmarks and closes fd (nothing if fd < 0). */
void mproc__held_close(int fd);
/* Unmarks fd, which the caller now owns; returns fd, or -1 if only_if_held and fd was not
 * held (a forked child's copy of a handle: its pipes were closed at the fork). */
int mproc__held_release(int fd, int only_if_held);
/* 1 if fd is marked held in this process. */
int mproc__held_has(int fd);
/* Around mproc_fork's fork() in the parent: no pipe is created and marked meanwhile. */
void mproc__held_fork_begin(void);
void mproc__held_fork_end(void);
/* In mproc_fork's child: closes every held descriptor above 2 not in keep; only those in
 * keep stay held. */
void mproc__held_drop_in_child(const int *keep, size_t nkeep);

/* ---- spawner.c ---- */
/* Run fn(arg) on a thread that lives as long as the process, so that children it
 * creates are not killed by PR_SET_PDEATHSIG when the calling thread exits.
 * Returns fn's result, or -errno if the thread could not be started. */
int mproc__on_spawner_thread(int (*fn)(void *), void *arg);

#endif
