/* 01_fork_hello: two processes, one program, each says hello.
 *
 * Seed:  C++ calls fork(); the child and the parent each print a line, told apart by
 *        fork()'s return value.
 * mproc: mproc_fork() runs a function in the child, its return value the exit code;
 *        stdio is flushed before the fork, so no line is printed twice, and the parent
 *        joins the child, so it is neither orphaned nor left a zombie.
 *
 * The two lines come in either order: both processes run at the same time.
 */
#include <mproc.h>
#include <stdio.h>

/* Runs in the child. Returning from it ends the child with that exit code. */
static int child_main(void *arg)
{
    (void)arg;
    printf("Hello from the child process!\n");
    return 0;
}

int main(void)
{
    mproc_proc *child;
    int rc = mproc_fork(&child, child_main, NULL, NULL);
    if (rc < 0) {
        /* Every mproc call returns 0 or a negative MPROC_E* code; strerror names it. */
        fprintf(stderr, "Fork failed: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("Hello from the parent process!\n");

    /* Join: wait (-1: no time limit) until the child has ended, then release the handle. */
    mproc_status st;
    rc = mproc_proc_wait(child, -1, &st);
    mproc_proc_free(child);
    if (rc < 0) {
        fprintf(stderr, "Wait failed: %s\n", mproc_strerror(rc));
        return 1;
    }
    return mproc_exitcode(&st) == 0 ? 0 : 1;
}
