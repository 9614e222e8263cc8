/* The seed's Python Value incremented by 5 processes under its lock:
 *
 *     def increment(v):
 *         with v.get_lock():
 *             v.value += 1
 *     v = Value('i', 0)
 *     ps = [Process(target=increment, args=(v,)) for _ in range(5)]
 *     ...
 *     print("Shared value:", v.value)
 *
 * In mproc: mproc_value_new() makes the shared value with its own lock. */
#include <mproc.h>
#include <stdio.h>

static int increment(void *arg)
{
    mproc_array *v = arg;
    mproc_lock *lock = mproc_array_lock(v); /* Python's v.get_lock() */
    if (mproc_lock_acquire(lock, -1) != 0)
        return 1;
    /* read, add, write: three steps that must not interleave with another process */
    int64_t x;
    mproc_array_get_i64(v, 0, &x);
    mproc_array_set_i64(v, 0, x + 1);
    mproc_lock_release(lock);
    return 0;
}

int main(void)
{
    mproc_array *v;
    int rc = mproc_value_new(&v, sizeof(int64_t), 0); /* Value('q', 0) */
    if (rc < 0) {
        fprintf(stderr, "value: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_proc *ps[5];
    for (int i = 0; i < 5; i++)
        if ((rc = mproc_fork(&ps[i], increment, v, NULL)) < 0) {
            fprintf(stderr, "fork: %s\n", mproc_strerror(rc));
            return 1;
        }
    for (int i = 0; i < 5; i++) { /* join them all */
        mproc_proc_wait(ps[i], -1, NULL);
        mproc_proc_free(ps[i]);
    }
    int64_t x;
    mproc_array_get_i64(v, 0, &x);
    printf("Shared value: %lld\n", (long long)x);
    mproc_array_free(v);
    return 0;
}
