/* The seed's Python Lock-guarded printing:
 *
 *     def printer(lock, msg):
 *         with lock:
 *             print(msg)
 *     lock = Lock()
 *     for msg in ["hello", "world", "from mproc"]: Process(target=printer, ...).start()
 *
 * Without the lock, lines written by several processes at once can interleave. */
#include <mproc.h>
#include <stdio.h>

struct job {
    mproc_lock *lock;
    const char *msg;
};

static int printer(void *arg)
{
    struct job *j = arg;
    mproc_lock_acquire(j->lock, -1); /* "with lock:" */
    printf("%s\n", j->msg);
    fflush(stdout); /* out of the process while we still hold the lock */
    mproc_lock_release(j->lock);
    return 0;
}

int main(void)
{
    mproc_lock *lock;
    int rc = mproc_lock_new(&lock, 0);
    if (rc < 0) {
        fprintf(stderr, "lock: %s\n", mproc_strerror(rc));
        return 1;
    }
    const char *msgs[3] = {"hello", "world", "from mproc"};
    struct job jobs[3];
    mproc_proc *ps[3];
    for (int i = 0; i < 3; i++) {
        jobs[i] = (struct job){lock, msgs[i]}; /* the child gets a copy at fork */
        if ((rc = mproc_fork(&ps[i], printer, &jobs[i], NULL)) < 0) {
            fprintf(stderr, "fork: %s\n", mproc_strerror(rc));
            return 1;
        }
    }
    for (int i = 0; i < 3; i++) {
        mproc_proc_wait(ps[i], -1, NULL);
        mproc_proc_free(ps[i]);
    }
    mproc_lock_free(lock);
    return 0;
}
