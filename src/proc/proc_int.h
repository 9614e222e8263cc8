/* proc_int.h: what src/proc's files share. Private to the library. */
#ifndef MPROC_PROC_INT_H
#define MPROC_PROC_INT_H

#include <mproc/proc.h>
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
    pid_t parent;      /* the parent's pid for the parent-death race check; 0: detached */
    int close_fds;     /* spawn: close everything but 0..2 and keep */
    int reset_signals; /* spawn: default dispositions and an empty mask before exec */
    const char *name;  /* fork: PR_SET_NAME */
    int report_fd;     /* fork: pipe to report a setup failure on; -1 none */
    int stage, err;    /* out: which stage failed, and its errno */
};

/* Child side. Runs in the child, async-signal-safe, no sanitizer instrumentation. */
int mproc__child_setup(struct mproc__child *c); /* 0 or -1 with c->stage/c->err set */
int mproc__child_exec(void *arg);               /* clone() entry point for spawn */

/* Process registry: pids mproc created and has not reaped (for the subreaper). */
void mproc__registry_add(pid_t pid);
void mproc__registry_remove(pid_t pid);
int mproc__registry_has(pid_t pid);

/* Run fn(arg) on a thread that lives as long as the process, so that children it
 * creates are not killed by PR_SET_PDEATHSIG when the calling thread exits.
 * Returns fn's result, or -errno if the thread could not be started. */
int mproc__on_spawner_thread(int (*fn)(void *), void *arg);
/* 1 if the calling thread is the main thread (tid == pid). */
int mproc__is_main_thread(void);

#endif
