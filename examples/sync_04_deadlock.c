/* The seed's deadlock: two processes take two locks in opposite order. Process A holds
 * lock 1 and wants lock 2; process B holds lock 2 and wants lock 1. With plain locks both
 * would wait forever. mproc sees that B's wait would close the cycle A -> lock 2 -> B ->
 * lock 1 -> A and refuses it with MPROC_EDEADLK; B backs off and A finishes. */
#define _DEFAULT_SOURCE /* usleep() and pause() under -std=c11 */
#include <mproc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

struct scene {
    mproc_lock *lock1, *lock2;
    _Atomic int holding; /* how many processes hold their first lock */
};

struct role {
    struct scene *s;
    const char *name;
    mproc_lock *first, *second;
};

static int worker(void *arg)
{
    struct role *r = arg;
    mproc_lock_acquire(r->first, -1);
    atomic_fetch_add(&r->s->holding, 1);
    while (atomic_load(&r->s->holding) < 2) /* make sure both hold one lock */
        usleep(1000);
    int rc = mproc_lock_acquire(r->second, 10000);
    if (rc == MPROC_EDEADLK) {
        printf("process %s: %s (%s): backing off\n", r->name, mproc_err_name(rc),
               mproc_strerror(rc));
        fflush(stdout);
        mproc_lock_release(r->first); /* let the other one finish */
        return 1;
    }
    if (rc != 0) {
        printf("process %s: %s\n", r->name, mproc_strerror(rc));
        return 2;
    }
    printf("process %s: got both locks\n", r->name);
    fflush(stdout);
    mproc_lock_release(r->second);
    mproc_lock_release(r->first);
    return 0;
}

int main(void)
{
    struct scene *s;
    int rc = mproc_shm_new((void **)&s, sizeof *s);
    if (rc == 0)
        rc = mproc_lock_new(&s->lock1, 0);
    if (rc == 0)
        rc = mproc_lock_new(&s->lock2, 0);
    if (rc < 0) {
        fprintf(stderr, "setup: %s\n", mproc_strerror(rc));
        return 1;
    }
    struct role a = {s, "A", s->lock1, s->lock2}, b = {s, "B", s->lock2, s->lock1};
    mproc_proc *pa, *pb;
    mproc_fork(&pa, worker, &a, NULL);
    mproc_fork(&pb, worker, &b, NULL);
    mproc_status sa, sb;
    mproc_proc_wait(pa, -1, &sa);
    mproc_proc_wait(pb, -1, &sb);
    mproc_proc_free(pa);
    mproc_proc_free(pb);
    /* exactly one of them must have been refused */
    int refused = (sa.code == 1) + (sb.code == 1), done = (sa.code == 0) + (sb.code == 0);
    printf("%s\n", refused == 1 && done == 1 ? "deadlock avoided" : "unexpected outcome");
    mproc_lock_free(s->lock1);
    mproc_lock_free(s->lock2);
    mproc_shm_free(s);
    return refused == 1 && done == 1 ? 0 : 1;
}
