/* Semaphores: counting across processes, timeouts, the bounded variant, bad input. */
#include "sync_util.h"

#include <signal.h>
#include <sys/time.h>

struct shared {
    _Atomic int inside; /* processes inside the guarded section now */
    _Atomic int most;   /* the most seen at once */
    _Atomic int ready;
    mproc_sem *sem;
};

static void sem_counts_down_and_up(void **state)
{
    (void)state;
    mproc_sem *s;
    assert_ok(mproc_sem_new(&s, 2, 0));
    assert_int_equal(mproc_sem_value(s), 2);
    assert_ok(mproc_sem_acquire(s, 0));
    assert_ok(mproc_sem_acquire(s, -1));
    assert_int_equal(mproc_sem_value(s), 0);
    assert_code(mproc_sem_acquire(s, 0), MPROC_ETIMEDOUT);
    assert_ok(mproc_sem_release(s));
    assert_int_equal(mproc_sem_value(s), 1);
    mproc_sem_free(s);
}

static void sem_empty_semaphore_times_out(void **state)
{
    (void)state;
    mproc_sem *s;
    assert_ok(mproc_sem_new(&s, 0, 0));
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_sem_acquire(s, 150), MPROC_ETIMEDOUT);
    int64_t took = mproc_test_now_ms() - t0;
    assert_true(took >= 140 && took < 5000);
    mproc_sem_free(s);
}

static void sem_bounded_semaphore_refuses_extra_release(void **state)
{
    (void)state;
    mproc_sem *s;
    assert_ok(mproc_sem_new(&s, 1, 1));
    assert_code(mproc_sem_release(s), MPROC_EOVERFLOW);
    assert_int_equal(mproc_sem_value(s), 1);
    assert_ok(mproc_sem_acquire(s, 0));
    assert_ok(mproc_sem_release(s));
    assert_code(mproc_sem_release(s), MPROC_EOVERFLOW);
    mproc_sem_free(s);
}

static void sem_bad_arguments_are_rejected(void **state)
{
    (void)state;
    mproc_sem *s;
    assert_code(mproc_sem_new(NULL, 0, 0), MPROC_EINVAL);
    assert_code(mproc_sem_new(&s, -1, 0), MPROC_EINVAL);
    assert_code(mproc_sem_new(&s, 3, 2), MPROC_EINVAL);
    assert_code(mproc_sem_new(&s, 0, -1), MPROC_EINVAL);
    assert_code(mproc_sem_acquire(NULL, 0), MPROC_EINVAL);
    assert_code(mproc_sem_release(NULL), MPROC_EINVAL);
    assert_code(mproc_sem_value(NULL), MPROC_EINVAL);
    assert_ok(mproc_sem_new(&s, 0, 0));
    assert_code(mproc_sem_acquire(s, -5), MPROC_EINVAL);
    mproc_sem_free(s);
    mproc_sem_free(NULL);
}

static int post_after_delay(void *arg)
{
    struct shared *sh = arg;
    usleep(100000);
    return mproc_sem_release(sh->sem) == 0 ? 0 : 1;
}

static void sem_release_in_another_process_wakes_waiter(void **state)
{
    (void)state;
    struct shared *sh = shared_block(sizeof *sh);
    assert_ok(mproc_sem_new(&sh->sem, 0, 0));
    pid_t pid = child_start(post_after_delay, sh);
    assert_ok(mproc_sem_acquire(sh->sem, 10000));
    assert_int_equal(child_join(pid), 0);
    mproc_sem_free(sh->sem);
    mproc_shm_free(sh);
}

static int guarded_section(void *arg)
{
    struct shared *sh = arg;
    for (int i = 0; i < 200; i++) {
        if (mproc_sem_acquire(sh->sem, 10000) != 0)
            return 1;
        int now = atomic_fetch_add(&sh->inside, 1) + 1;
        int most = atomic_load(&sh->most);
        while (now > most && !atomic_compare_exchange_weak(&sh->most, &most, now))
            ;
        usleep(100);
        atomic_fetch_sub(&sh->inside, 1);
        if (mproc_sem_release(sh->sem) != 0)
            return 2;
    }
    return 0;
}

static void sem_semaphore_limits_processes_inside(void **state)
{
    (void)state;
    struct shared *sh = shared_block(sizeof *sh);
    assert_ok(mproc_sem_new(&sh->sem, 2, 2));
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = child_start(guarded_section, sh);
    for (int i = 0; i < 4; i++)
        assert_int_equal(child_join(pids[i]), 0);
    assert_true(atomic_load(&sh->most) <= 2);
    assert_true(atomic_load(&sh->most) >= 1);
    assert_int_equal(mproc_sem_value(sh->sem), 2);
    mproc_sem_free(sh->sem);
    mproc_shm_free(sh);
}

static void sem_semaphore_in_region_is_attachable(void **state)
{
    (void)state;
    void *region;
    mproc_sem *s, *again;
    assert_ok(mproc_shm_new(&region, 4096));
    assert_code(mproc_sem_attach(&again, region, 0), MPROC_EINVAL);
    assert_ok(mproc_sem_init(&s, region, 0, 3, 0));
    assert_ok(mproc_sem_attach(&again, region, 0));
    assert_int_equal(mproc_sem_value(again), 3);
    mproc_shm_free(region);
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void sem_eintr_neither_extends_nor_ends_the_wait(void **state)
{
    (void)state;
    mproc_sem *s;
    assert_ok(mproc_sem_new(&s, 0, 0));
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {{0, 5000}, {0, 5000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    int64_t t0 = mproc_test_now_ms();
    int rc = mproc_sem_acquire(s, 300);
    int64_t took = mproc_test_now_ms() - t0;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    assert_code(rc, MPROC_ETIMEDOUT);
    assert_true(took >= 290 && took < 3000);
    mproc_sem_free(s);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(sem_counts_down_and_up),
        cmocka_unit_test(sem_empty_semaphore_times_out),
        cmocka_unit_test(sem_bounded_semaphore_refuses_extra_release),
        cmocka_unit_test(sem_bad_arguments_are_rejected),
        cmocka_unit_test(sem_release_in_another_process_wakes_waiter),
        cmocka_unit_test(sem_semaphore_limits_processes_inside),
        cmocka_unit_test(sem_semaphore_in_region_is_attachable),
        cmocka_unit_test(sem_eintr_neither_extends_nor_ends_the_wait),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
