/* Locks: mutual exclusion across processes, timeouts, recursion, misuse, placement. */
#include "sync_util.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/time.h>
#include <stdio.h>
#include <string.h>

struct shared {
    _Atomic int ready;
    _Atomic int go;
    long counter;
    mproc_lock *lock;
};

static void lock_acquire_and_release(void **state)
{
    (void)state;
    mproc_lock *l;
    assert_ok(mproc_lock_new(&l, 0));
    assert_int_equal(mproc_lock_held(l), 0);
    assert_ok(mproc_lock_acquire(l, -1));
    assert_int_equal(mproc_lock_held(l), 1);
    assert_ok(mproc_lock_release(l));
    assert_int_equal(mproc_lock_held(l), 0);
    assert_ok(mproc_lock_acquire(l, 0));
    assert_ok(mproc_lock_release(l));
    mproc_lock_free(l);
}

static void lock_bad_arguments_are_rejected(void **state)
{
    (void)state;
    mproc_lock *l;
    assert_code(mproc_lock_new(NULL, 0), MPROC_EINVAL);
    assert_code(mproc_lock_new(&l, 0x80), MPROC_EINVAL);
    assert_code(mproc_lock_acquire(NULL, -1), MPROC_EINVAL);
    assert_code(mproc_lock_release(NULL), MPROC_EINVAL);
    assert_code(mproc_lock_consistent(NULL), MPROC_EINVAL);
    assert_ok(mproc_lock_new(&l, 0));
    assert_code(mproc_lock_acquire(l, -2), MPROC_EINVAL);
    mproc_lock_free(l);
    mproc_lock_free(NULL);
}

static void lock_release_without_holding_is_eperm(void **state)
{
    (void)state;
    mproc_lock *l;
    assert_ok(mproc_lock_new(&l, 0));
    assert_code(mproc_lock_release(l), MPROC_EPERM);
    mproc_lock_free(l);
}

static void lock_relock_of_plain_lock_is_edeadlk(void **state)
{
    (void)state;
    mproc_lock *l;
    assert_ok(mproc_lock_new(&l, 0));
    assert_ok(mproc_lock_acquire(l, -1));
    assert_code(mproc_lock_acquire(l, -1), MPROC_EDEADLK);
    assert_ok(mproc_lock_release(l));
    assert_code(mproc_lock_release(l), MPROC_EPERM);
    mproc_lock_free(l);
}

static void lock_recursive_lock_counts_levels(void **state)
{
    (void)state;
    mproc_lock *l;
    assert_ok(mproc_lock_new(&l, MPROC_RECURSIVE));
    assert_ok(mproc_lock_acquire(l, -1));
    assert_ok(mproc_lock_acquire(l, -1));
    assert_ok(mproc_lock_acquire(l, 0));
    assert_ok(mproc_lock_release(l));
    assert_ok(mproc_lock_release(l));
    assert_int_equal(mproc_lock_held(l), 1);
    assert_ok(mproc_lock_release(l));
    assert_int_equal(mproc_lock_held(l), 0);
    assert_code(mproc_lock_release(l), MPROC_EPERM);
    mproc_lock_free(l);
}

static int hold_until_go(void *arg)
{
    struct shared *s = arg;
    if (mproc_lock_acquire(s->lock, -1) != 0)
        return 1;
    atomic_store(&s->ready, 1);
    while (!atomic_load(&s->go))
        usleep(1000);
    return mproc_lock_release(s->lock) == 0 ? 0 : 2;
}

static void lock_held_by_another_process_times_out(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_lock_new(&s->lock, 0));
    pid_t pid = child_start(hold_until_go, s);
    assert_true(flag_wait(&s->ready, 1, 5000));
    assert_code(mproc_lock_acquire(s->lock, 0), MPROC_ETIMEDOUT);
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_lock_acquire(s->lock, 200), MPROC_ETIMEDOUT);
    int64_t took = mproc_test_now_ms() - t0;
    assert_true(took >= 190 && took < 5000);
    assert_code(mproc_lock_release(s->lock), MPROC_EPERM); /* not ours */
    atomic_store(&s->go, 1);
    assert_ok(mproc_lock_acquire(s->lock, 5000)); /* handed over when the child releases */
    assert_ok(mproc_lock_release(s->lock));
    assert_int_equal(child_join(pid), 0);
    mproc_lock_free(s->lock);
    mproc_shm_free(s);
}

#define ROUNDS 20000

static int count_under_lock(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (mproc_lock_acquire(s->lock, -1) != 0)
            return 1;
        long v = s->counter; /* a deliberate read-modify-write: racy without the lock */
        if ((i & 63) == 0)
            sched_yield();
        s->counter = v + 1;
        if (mproc_lock_release(s->lock) != 0)
            return 2;
    }
    return 0;
}

static void lock_processes_counting_under_lock_lose_nothing(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_lock_new(&s->lock, 0));
    pid_t a = child_start(count_under_lock, s);
    pid_t b = child_start(count_under_lock, s);
    int rc = count_under_lock(s);
    assert_int_equal(child_join(a), 0);
    assert_int_equal(child_join(b), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(s->counter, 3L * ROUNDS);
    mproc_lock_free(s->lock);
    mproc_shm_free(s);
}

static int child_sees_parent_holding(void *arg)
{
    struct shared *s = arg;
    if (mproc_lock_held(s->lock))
        return 1; /* a child must not inherit its parent's holding */
    if (mproc_lock_release(s->lock) != MPROC_EPERM)
        return 2;
    if (mproc_lock_acquire(s->lock, 0) != MPROC_ETIMEDOUT)
        return 3;
    return 0;
}

static void lock_forked_child_does_not_hold_parents_lock(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_lock_new(&s->lock, 0));
    assert_ok(mproc_lock_acquire(s->lock, -1));
    assert_int_equal(child_run(child_sees_parent_holding, s), 0);
    assert_ok(mproc_lock_release(s->lock));
    mproc_lock_free(s->lock);
    mproc_shm_free(s);
}

struct named {
    char name[64];
};

static int attach_and_hold(void *arg)
{
    struct named *n = arg;
    void *region;
    mproc_lock *l;
    if (mproc_shm_open(&region, n->name, 0, 0) != 0)
        return 1;
    if (mproc_lock_attach(&l, region, 128) != 0)
        return 2;
    if (mproc_lock_acquire(l, 5000) != 0)
        return 3;
    _Atomic int *ready = region;
    atomic_store(ready, 1);
    while (atomic_load(ready) != 2)
        usleep(1000);
    mproc_lock_release(l);
    mproc_shm_free(region);
    return 0;
}

static void lock_in_named_region_works_across_attachers(void **state)
{
    (void)state;
    struct named n;
    snprintf(n.name, sizeof n.name, "mproc-test-%d-lock", (int)getpid());
    void *region;
    mproc_lock *l;
    assert_ok(mproc_shm_open(&region, n.name, 4096, MPROC_SHM_CREATE));
    assert_ok(mproc_lock_init(&l, region, 128, 0));
    pid_t pid = child_start(attach_and_hold, &n);
    _Atomic int *ready = region;
    assert_true(flag_wait(ready, 1, 5000));
    assert_code(mproc_lock_acquire(l, 50), MPROC_ETIMEDOUT);
    atomic_store(ready, 2);
    assert_ok(mproc_lock_acquire(l, 5000));
    assert_ok(mproc_lock_release(l));
    assert_int_equal(child_join(pid), 0);
    mproc_lock_free(l); /* no-op: the region owns the memory */
    mproc_shm_free(region);
}

static void lock_placement_checks_offset_and_region(void **state)
{
    (void)state;
    void *region;
    mproc_lock *l;
    assert_ok(mproc_shm_new(&region, 256));
    assert_code(mproc_lock_init(&l, region, 8, 0), MPROC_EINVAL);   /* not aligned */
    assert_code(mproc_lock_init(&l, region, 256, 0), MPROC_EINVAL); /* past the end */
    assert_code(mproc_lock_attach(&l, region, 64), MPROC_EINVAL);   /* nothing there */
    assert_code(mproc_lock_init(&l, NULL, 0, 0), MPROC_EINVAL);
    assert_ok(mproc_lock_init(&l, region, 192, 0));
    mproc_lock *again;
    assert_ok(mproc_lock_attach(&again, region, 192));
    assert_ptr_equal(l, again);
    mproc_shm_free(region);
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* Signals every 5 ms (no SA_RESTART) while fn runs; fn's duration in ms. */
static int64_t under_signal_storm(int (*fn)(void *), void *arg, int *rc)
{
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {{0, 5000}, {0, 5000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    int64_t t0 = mproc_test_now_ms();
    *rc = fn(arg);
    int64_t took = mproc_test_now_ms() - t0;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    return took;
}

static int acquire_300(void *arg)
{
    return mproc_lock_acquire(arg, 300);
}

static void lock_eintr_neither_extends_nor_ends_the_wait(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_lock_new(&s->lock, 0));
    pid_t pid = child_start(hold_until_go, s);
    assert_true(flag_wait(&s->ready, 1, 5000));
    int rc;
    int64_t took = under_signal_storm(acquire_300, s->lock, &rc);
    assert_code(rc, MPROC_ETIMEDOUT);
    assert_true(took >= 290 && took < 3000);
    atomic_store(&s->go, 1);
    assert_int_equal(child_join(pid), 0);
    mproc_lock_free(s->lock);
    mproc_shm_free(s);
}

static void *thread_count(void *arg)
{
    return (void *)(intptr_t)count_under_lock(arg);
}

static void lock_threads_of_one_process_exclude_each_other(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_lock_new(&s->lock, 0));
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_count, s), 0);
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_int_equal((intptr_t)r, 0);
    }
    assert_int_equal(s->counter, 2L * ROUNDS);
    mproc_lock_free(s->lock);
    mproc_shm_free(s);
}

static void *take_and_exit(void *arg)
{
    return (void *)(intptr_t)mproc_lock_acquire(arg, -1);
}

static void lock_thread_that_exits_holding_it_counts_as_dead(void **state)
{
    (void)state;
    mproc_lock *l;
    assert_ok(mproc_lock_new(&l, 0));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, take_and_exit, l), 0);
    void *r;
    pthread_join(t, &r);
    assert_int_equal((intptr_t)r, 0);
    assert_code(mproc_lock_release(l), MPROC_EPERM); /* another thread's holding */
    assert_code(mproc_lock_acquire(l, 5000), MPROC_EOWNERDEAD);
    assert_ok(mproc_lock_consistent(l));
    assert_ok(mproc_lock_release(l));
    mproc_lock_free(l);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(lock_acquire_and_release),
        cmocka_unit_test(lock_bad_arguments_are_rejected),
        cmocka_unit_test(lock_release_without_holding_is_eperm),
        cmocka_unit_test(lock_relock_of_plain_lock_is_edeadlk),
        cmocka_unit_test(lock_recursive_lock_counts_levels),
        cmocka_unit_test(lock_held_by_another_process_times_out),
        cmocka_unit_test(lock_processes_counting_under_lock_lose_nothing),
        cmocka_unit_test(lock_forked_child_does_not_hold_parents_lock),
        cmocka_unit_test(lock_in_named_region_works_across_attachers),
        cmocka_unit_test(lock_placement_checks_offset_and_region),
        cmocka_unit_test(lock_eintr_neither_extends_nor_ends_the_wait),
        cmocka_unit_test(lock_threads_of_one_process_exclude_each_other),
        cmocka_unit_test(lock_thread_that_exits_holding_it_counts_as_dead),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
