/* 03_process_join: start a process on a function with an argument, then join it.
 *
 * Seed:  Python's Process(target=print_message, args=("Hello...",)), start(), join().
 * mproc: mproc_fork(fn, arg) is Process + start in one call; mproc_proc_wait() is join,
 *        with an optional timeout. The child gets a name that ps and top show.
 */
#define _POSIX_C_SOURCE 200809L /* getpid() */
#include <mproc.h>
#include <stdio.h>
#include <unistd.h>

/* The target. It runs in the child, in a copy of the parent's memory, so the argument
 * can be any pointer the parent had when it forked. */
static int print_message(void *arg)
{
    const char *message = arg;
    printf("Process ID: %d - %s\n", (int)getpid(), message);
    return 0;
}

int main(void)
{
    char message[] = "Hello from the child process!";
    mproc_opts opts = {.name = "print_message"}; /* zero fields mean "default" */

    mproc_proc *p;
    int rc = mproc_fork(&p, print_message, message, &opts);
    if (rc < 0) {
        fprintf(stderr, "Start failed: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("Started process %d\n", (int)mproc_proc_pid(p));

    mproc_status st;
    rc = mproc_proc_wait(p, -1, &st); /* join */
    mproc_proc_free(p);
    if (rc < 0) {
        fprintf(stderr, "Join failed: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("Main process finished.\n");
    return mproc_exitcode(&st) == 0 ? 0 : 1;
}
