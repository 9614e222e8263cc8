/* 02_exit_status: a child ends with an exit code; the parent waits and reads it.
 *
 * Seed:  C++ fork() + waitpid(pid, &status, 0), then prints the raw status word.
 * mproc: mproc_proc_wait() decodes the status for you (exited + code, or signaled +
 *        signal) and adds the child's own CPU time and peak memory; mproc_exitcode()
 *        gives Python's convention: the code, or -signal.
 */
#include <mproc.h>
#include <stdio.h>

static int child_main(void *arg)
{
    (void)arg;
    printf("Child process terminating.\n");
    return 3; /* the exit code the parent will see (0..255) */
}

int main(void)
{
    mproc_proc *child;
    int rc = mproc_fork(&child, child_main, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "Fork failed: %s\n", mproc_strerror(rc));
        return 1;
    }

    mproc_status st;
    rc = mproc_proc_wait(child, -1, &st);
    mproc_proc_free(child); /* the status we copied out stays valid */
    if (rc < 0) {
        fprintf(stderr, "Wait failed: %s\n", mproc_strerror(rc));
        return 1;
    }

    if (st.exited)
        printf("Child process finished with status %d\n", mproc_exitcode(&st));
    else if (st.signaled)
        printf("Child process was killed by signal %d\n", st.signal);
    printf("It used %lld us of CPU and at most %lld kB of memory.\n", st.user_us + st.sys_us,
           st.max_rss_kb);
    return 0;
}
