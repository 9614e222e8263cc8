/* A robust lock: a process holding the lock is killed (SIGKILL, so it runs no clean-up)
 * halfway through updating shared state. The next acquirer gets MPROC_EOWNERDEAD and the
 * lock, repairs the state, and marks the lock consistent; from then on it is an ordinary
 * lock again. (Python's Lock would leave every later acquirer blocked forever.) */
#define _DEFAULT_SOURCE /* usleep() and pause() under -std=c11 */
#include <mproc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

struct account {
    mproc_lock *lock;
    _Atomic int started;
    long debit, credit; /* invariant under the lock: debit == credit */
};

static int transfer_and_die(void *arg)
{
    struct account *acc = arg;
    mproc_lock_acquire(acc->lock, -1);
    acc->debit += 100; /* first half of the update ... */
    atomic_store(&acc->started, 1);
    pause(); /* ... and the parent kills us before the second half */
    return 0;
}

int main(void)
{
    struct account *acc;
    int rc = mproc_shm_new((void **)&acc, sizeof *acc);
    if (rc == 0)
        rc = mproc_lock_new(&acc->lock, 0);
    if (rc < 0) {
        fprintf(stderr, "setup: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_proc *holder;
    mproc_fork(&holder, transfer_and_die, acc, NULL);
    while (!atomic_load(&acc->started))
        usleep(1000);
    mproc_proc_signal(holder, SIGKILL);
    mproc_proc_wait(holder, -1, NULL);
    mproc_proc_free(holder);
    printf("holder killed while holding the lock\n");

    rc = mproc_lock_acquire(acc->lock, 5000);
    printf("next acquire: %s\n", mproc_err_name(rc));
    if (rc == MPROC_EOWNERDEAD) {
        printf("repairing: debit %ld, credit %ld\n", acc->debit, acc->credit);
        acc->credit = acc->debit; /* complete the interrupted transfer */
        mproc_lock_consistent(acc->lock);
        printf("marked consistent\n");
    }
    mproc_lock_release(acc->lock);
    rc = mproc_lock_acquire(acc->lock, 0); /* an ordinary lock again */
    printf("acquire after repair: %s, debit %ld == credit %ld\n",
           rc == 0 ? "ok" : mproc_err_name(rc), acc->debit, acc->credit);
    mproc_lock_release(acc->lock);
    mproc_lock_free(acc->lock);
    mproc_shm_free(acc);
    return rc == 0 ? 0 : 1;
}
