/* The seed's C++ semaphore-guarded shared memory: the parent waits on a semaphore that
 * the child posts once its message is in shared memory, so the parent never reads a
 * half-written message and never needs to wait for the child to exit.
 *
 * In mproc: the semaphore lives in shared memory too (mproc_sem_new), starting at 0. */
#include <mproc.h>
#include <stdio.h>
#include <string.h>

struct mailbox {
    mproc_sem *ready; /* posted by the child when text is complete */
    char text[256];
};

static int producer(void *arg)
{
    struct mailbox *box = arg;
    snprintf(box->text, sizeof box->text, "Message written by the child under a semaphore");
    return mproc_sem_release(box->ready) == 0 ? 0 : 1; /* "sem_post" */
}

int main(void)
{
    struct mailbox *box;
    int rc = mproc_shm_new((void **)&box, sizeof *box);
    if (rc == 0)
        rc = mproc_sem_new(&box->ready, 0, 0); /* value 0: the parent must wait */
    if (rc < 0) {
        fprintf(stderr, "setup: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_proc *child;
    if ((rc = mproc_fork(&child, producer, box, NULL)) < 0) {
        fprintf(stderr, "fork: %s\n", mproc_strerror(rc));
        return 1;
    }
    rc = mproc_sem_acquire(box->ready, 10000); /* "sem_wait", with a 10 s limit */
    if (rc == 0)
        printf("Parent read: %s\n", box->text);
    else
        fprintf(stderr, "wait: %s\n", mproc_strerror(rc));
    mproc_proc_wait(child, -1, NULL);
    mproc_proc_free(child);
    mproc_sem_free(box->ready);
    mproc_shm_free(box);
    return rc == 0 ? 0 : 1;
}
