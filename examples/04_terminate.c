/* 04_terminate: stop a task that runs too long and read how it ended.
 *
 * Seed:  Python starts long_task, sleeps 2 s, calls terminate(), then prints exitcode
 *        (-15: killed by SIGTERM).
 * mproc: instead of sleeping blindly, wait with a timeout (the task may finish early);
 *        mproc_proc_terminate() sends SIGTERM, allows a grace period, sends SIGKILL if
 *        needed and reaps, all in one call.
 */
#define _POSIX_C_SOURCE 200809L /* sleep() */
#include <mproc.h>
#include <stdio.h>
#include <unistd.h>

static int long_task(void *arg)
{
    (void)arg;
    printf("Starting long task...\n");
    /* A process killed by a signal never flushes its stdio buffers: flush now. */
    fflush(stdout);
    sleep(5);
    printf("Task completed.\n");
    return 0;
}

int main(void)
{
    mproc_proc *p;
    int rc = mproc_fork(&p, long_task, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "Start failed: %s\n", mproc_strerror(rc));
        return 1;
    }

    mproc_status st;
    rc = mproc_proc_wait(p, 1000, &st); /* give it one second */
    if (rc == MPROC_ETIMEDOUT) {
        printf("Still running after 1 s: terminating it.\n");
        rc = mproc_proc_terminate(p, 500, &st); /* SIGTERM, 500 ms grace, then SIGKILL */
    }
    mproc_proc_free(p);
    if (rc < 0) {
        fprintf(stderr, "Failed: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("Process terminated with exit code %d.\n", mproc_exitcode(&st));
    return 0;
}
