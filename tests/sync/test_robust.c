/* Robust locks: a holder killed at any point is reported to the next owner, who repairs
 * the state or leaves the lock unrecoverable (glibc robust-mutex semantics). */
#include "sync_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct shared {
    _Atomic int ready;
    _Atomic long spins;
    mproc_lock *lock;
};

static int hold_forever(void *arg)
{
    struct shared *s = arg;
    if (mproc_lock_acquire(s->lock, -1) != 0)
        return 1;
    atomic_store(&s->ready, 1);
    for (;;)
        pause();
}

/* A fresh lock held by a child that is then SIGKILLed and reaped. */
static struct shared *lock_of_dead_holder(unsigned flags)
{
    struct shared *s = shared_block(sizeof *s);
    if (!s || mproc_lock_new(&s->lock, flags) != 0)
        return NULL;
    pid_t pid = child_start(hold_forever, s);
    if (!flag_wait(&s->ready, 1, 5000))
        return NULL;
    child_kill(pid);
    return s;
}

static void done(struct shared *s)
{
    mproc_lock_free(s->lock);
    mproc_shm_free(s);
}

static void robust_killed_holder_gives_next_acquirer_ownerdead(void **state)
{
    (void)state;
    struct shared *s = lock_of_dead_holder(0);
    assert_non_null(s);
    assert_code(mproc_lock_acquire(s->lock, 5000), MPROC_EOWNERDEAD);
    assert_int_equal(mproc_lock_held(s->lock), 1);
    assert_ok(mproc_lock_consistent(s->lock));
    assert_ok(mproc_lock_release(s->lock));
    assert_ok(mproc_lock_acquire(s->lock, 0)); /* repaired: ordinary again */
    assert_ok(mproc_lock_release(s->lock));
    done(s);
}

static void robust_try_once_takes_over_from_dead_holder(void **state)
{
    (void)state;
    struct shared *s = lock_of_dead_holder(0);
    assert_non_null(s);
    assert_code(mproc_lock_acquire(s->lock, 0), MPROC_EOWNERDEAD);
    assert_ok(mproc_lock_consistent(s->lock));
    assert_ok(mproc_lock_release(s->lock));
    done(s);
}

static void robust_release_without_consistent_makes_lock_unrecoverable(void **state)
{
    (void)state;
    struct shared *s = lock_of_dead_holder(0);
    assert_non_null(s);
    assert_code(mproc_lock_acquire(s->lock, 5000), MPROC_EOWNERDEAD);
    assert_ok(mproc_lock_release(s->lock));
    assert_code(mproc_lock_acquire(s->lock, 0), MPROC_ENOTRECOVERABLE);
    assert_code(mproc_lock_acquire(s->lock, -1), MPROC_ENOTRECOVERABLE);
    assert_code(mproc_lock_release(s->lock), MPROC_EPERM);
    done(s);
}

static void robust_consistent_needs_the_owner_died_state(void **state)
{
    (void)state;
    mproc_lock *l;
    assert_ok(mproc_lock_new(&l, 0));
    assert_code(mproc_lock_consistent(l), MPROC_EPERM); /* not held */
    assert_ok(mproc_lock_acquire(l, -1));
    assert_code(mproc_lock_consistent(l), MPROC_EINVAL); /* nothing to repair */
    assert_ok(mproc_lock_release(l));
    mproc_lock_free(l);
}

static void robust_recursive_lock_of_dead_holder_is_recovered(void **state)
{
    (void)state;
    struct shared *s = lock_of_dead_holder(MPROC_RECURSIVE);
    assert_non_null(s);
    assert_code(mproc_lock_acquire(s->lock, 5000), MPROC_EOWNERDEAD);
    assert_ok(mproc_lock_acquire(s->lock, 0)); /* a fresh depth: 2 levels now */
    assert_ok(mproc_lock_consistent(s->lock));
    assert_ok(mproc_lock_release(s->lock));
    assert_ok(mproc_lock_release(s->lock));
    assert_int_equal(mproc_lock_held(s->lock), 0);
    done(s);
}

static int wait_for_lock(void *arg)
{
    struct shared *s = arg;
    atomic_fetch_add(&s->ready, 1);
    int rc = mproc_lock_acquire(s->lock, 10000);
    if (rc != MPROC_EOWNERDEAD)
        return 10;
    if (mproc_lock_consistent(s->lock) != 0 || mproc_lock_release(s->lock) != 0)
        return 11;
    return 0;
}

static void robust_blocked_waiter_wakes_with_ownerdead(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_lock_new(&s->lock, 0));
    pid_t holder = child_start(hold_forever, s);
    assert_true(flag_wait(&s->ready, 1, 5000));
    pid_t waiter = child_start(wait_for_lock, s);
    assert_true(flag_wait(&s->ready, 2, 5000));
    usleep(50000); /* let it go to sleep on the lock */
    kill(holder, SIGKILL);
    int64_t t0 = mproc_test_now_ms();
    assert_int_equal(child_join(waiter), 0);
    assert_true(mproc_test_now_ms() - t0 < 5000);
    child_join(holder);
    done(s);
}

/* Acquires and releases in a tight loop, counting rounds, until killed. */
static int churn(void *arg)
{
    struct shared *s = arg;
    for (;;) {
        int rc = mproc_lock_acquire(s->lock, -1);
        if (rc == MPROC_EOWNERDEAD)
            mproc_lock_consistent(s->lock);
        else if (rc != 0)
            return 1;
        atomic_fetch_add(&s->spins, 1);
        mproc_lock_release(s->lock);
    }
}

static void robust_holder_killed_at_random_points_never_wedges(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_lock_new(&s->lock, 0));
    srand((unsigned)time(NULL));
    int ownerdead = 0;
    for (int run = 0; run < 40; run++) {
        atomic_store(&s->spins, 0);
        pid_t a = child_start(churn, s);
        pid_t b = child_start(churn, s);
        while (atomic_load(&s->spins) < 100)
            usleep(100);
        usleep((useconds_t)(rand() % 3000));
        kill(a, SIGKILL); /* wherever it is: inside, outside, mid-acquire, mid-release */
        child_join(a);
        child_kill(b);
        int rc = mproc_lock_acquire(s->lock, 5000);
        if (rc == MPROC_EOWNERDEAD) {
            ownerdead++;
            assert_ok(mproc_lock_consistent(s->lock));
        } else {
            assert_ok(rc);
        }
        assert_ok(mproc_lock_release(s->lock));
    }
    print_message("owner-dead recoveries: %d of 40\n", ownerdead);
    done(s);
}

/* Waits on lock 0 (held by the parent) with short timeouts, over and over: registers and
 * unregisters in the deadlock domain all the time, so a kill lands anywhere in it. */
static int churn_waits(void *arg)
{
    struct shared *s = arg;
    for (;;) {
        atomic_fetch_add(&s->spins, 1);
        if (mproc_lock_acquire(s->lock, 1) == 0)
            return 1; /* the parent holds it: must never succeed */
    }
}

struct pair {
    mproc_lock *a, *b;
    _Atomic int held;
};

static int hold_b_want_a(void *arg)
{
    struct pair *p = arg;
    if (mproc_lock_acquire(p->b, 5000) != 0)
        return 1;
    atomic_store(&p->held, 1);
    int rc = mproc_lock_acquire(p->a, 10000); /* the parent holds a and waits for b */
    mproc_lock_release(p->b);
    if (rc == 0)
        mproc_lock_release(p->a);
    return rc == 0 ? 0 : rc == MPROC_EDEADLK ? 35 : 2;
}

static void robust_waiters_killed_anywhere_leave_detection_working(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_lock_new(&s->lock, 0));
    assert_ok(mproc_lock_acquire(s->lock, -1));
    srand((unsigned)time(NULL));
    for (int run = 0; run < 20; run++) {
        atomic_store(&s->spins, 0);
        pid_t a = child_start(churn_waits, s), b = child_start(churn_waits, s);
        while (atomic_load(&s->spins) < 20)
            usleep(100);
        usleep((useconds_t)(rand() % 2000));
        child_kill(a); /* maybe while holding the domain's guard, maybe registered */
        child_kill(b);
    }
    assert_ok(mproc_lock_release(s->lock));
    /* the domain still detects a real cycle, and does not invent one */
    struct pair *p = shared_block(sizeof *p);
    assert_ok(mproc_lock_new(&p->a, 0));
    assert_ok(mproc_lock_new(&p->b, 0));
    assert_ok(mproc_lock_acquire(p->a, -1));
    pid_t pid = child_start(hold_b_want_a, p);
    assert_true(flag_wait(&p->held, 1, 5000));
    assert_true(wait_sleeping(pid, 10000)); /* asleep on a, registered as waiting */
    int rc = mproc_lock_acquire(p->b, 10000);
    assert_code(rc, MPROC_EDEADLK); /* we close the cycle: refused at once */
    assert_ok(mproc_lock_release(p->a));
    assert_int_equal(child_join(pid), 0);
    mproc_lock_free(p->a);
    mproc_lock_free(p->b);
    mproc_shm_free(p);
    done(s);
}

static int attach_hold_forever(void *name)
{
    void *region;
    mproc_lock *l;
    if (mproc_shm_open(&region, name, 0, 0) != 0 || mproc_lock_attach(&l, region, 64) != 0)
        return 1;
    if (mproc_lock_acquire(l, 5000) != 0)
        return 2;
    atomic_store((_Atomic int *)region, 1);
    for (;;)
        pause();
}

static void robust_lock_in_named_region_recovers_from_dead_attacher(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "mproc-test-%d-robust", (int)getpid());
    void *region;
    mproc_lock *l;
    assert_ok(mproc_shm_open(&region, name, 4096, MPROC_SHM_CREATE));
    assert_ok(mproc_lock_init(&l, region, 64, 0));
    pid_t pid = child_start(attach_hold_forever, name);
    assert_true(flag_wait((_Atomic int *)region, 1, 5000));
    child_kill(pid);
    assert_code(mproc_lock_acquire(l, 5000), MPROC_EOWNERDEAD);
    assert_ok(mproc_lock_consistent(l));
    assert_ok(mproc_lock_release(l));
    mproc_shm_free(region);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(robust_killed_holder_gives_next_acquirer_ownerdead),
        cmocka_unit_test(robust_try_once_takes_over_from_dead_holder),
        cmocka_unit_test(robust_release_without_consistent_makes_lock_unrecoverable),
        cmocka_unit_test(robust_consistent_needs_the_owner_died_state),
        cmocka_unit_test(robust_recursive_lock_of_dead_holder_is_recovered),
        cmocka_unit_test(robust_blocked_waiter_wakes_with_ownerdead),
        MPROC_CASE(robust_holder_killed_at_random_points_never_wedges, 120),
        MPROC_CASE(robust_waiters_killed_anywhere_leave_detection_working, 120),
        cmocka_unit_test(robust_lock_in_named_region_recovers_from_dead_attacher),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
