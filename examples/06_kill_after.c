/* 06_kill_after: start a long-running command and stop it after 2 seconds.
 *
 * Seed:  Node spawns a process that prints "Running" and idles for 10 s; a 2 s timer
 *        calls kill() (SIGTERM) and prints 'Process terminated'.
 * mproc: the timer is the timeout of mproc_proc_wait(), so a command that finishes early
 *        is not waited on for nothing; the status says which signal ended it.
 *        (mproc_opts.kill_after_ms does the same with SIGKILL, enforced by every wait.)
 */
#define _POSIX_C_SOURCE 200809L /* strsignal() */
#include <mproc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    /* exec: the shell becomes sleep, so our signal reaches the sleeping process. */
    const char *argv[] = {"sh", "-c", "echo Running; exec sleep 10", NULL};
    mproc_proc *p;
    int rc = mproc_spawn(&p, argv, NULL); /* NULL options: inherit stdio, env, cwd */
    if (rc < 0) {
        fprintf(stderr, "spawn failed: %s\n", mproc_strerror(rc));
        return 1;
    }

    mproc_status st;
    rc = mproc_proc_wait(p, 2000, &st);
    if (rc == MPROC_ETIMEDOUT) {
        mproc_proc_signal(p, SIGTERM);    /* Node's kill(): SIGTERM by default */
        rc = mproc_proc_wait(p, -1, &st); /* reap it */
        printf("Process terminated\n");
    }
    mproc_proc_free(p);
    if (rc < 0) {
        fprintf(stderr, "wait failed: %s\n", mproc_strerror(rc));
        return 1;
    }
    if (st.signaled)
        printf("Killed by signal %d (%s)\n", st.signal, strsignal(st.signal));
    else
        printf("Exited by itself with code %d\n", st.code);
    return 0;
}
