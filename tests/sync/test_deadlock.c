/* Deadlock detection: a wait that would close a cycle of processes waiting on each other's
 * locks fails with MPROC_EDEADLK, every time; consistent lock order never does. */
#include "sync_util.h"

#include <stdlib.h>
#include <time.h>

#define NLOCKS 4

struct shared {
    _Atomic int held; /* processes holding their first lock */
    _Atomic int stop;
    _Atomic long rounds;
    int nproc; /* processes in the cycle */
    mproc_lock *lock[NLOCKS];
};

struct role {
    struct shared *s;
    int i; /* holds lock i, then wants lock (i + 1) % nproc */
};

enum { GOT_IT = 0, SAW_EDEADLK = 35, HOLD_FAILED = 2, WAIT_FAILED = 3 };

static int cycle_member(void *arg)
{
    struct role *r = arg;
    struct shared *s = r->s;
    mproc_lock *mine = s->lock[r->i], *next = s->lock[(r->i + 1) % s->nproc];
    if (mproc_lock_acquire(mine, 5000) != 0)
        return HOLD_FAILED;
    if (r->i == 0 && mproc_lock_acquire(mine, 0) != 0) /* lock 0 is recursive: hold it twice */
        return HOLD_FAILED;
    atomic_fetch_add(&s->held, 1);
    while (atomic_load(&s->held) < s->nproc)
        usleep(200);
    int rc = mproc_lock_acquire(next, 20000);
    if (rc == MPROC_EDEADLK) {
        /* the one that closed the cycle backs off: everyone else can finish */
        mproc_lock_release(mine);
        if (r->i == 0)
            mproc_lock_release(mine);
        return SAW_EDEADLK;
    }
    if (rc != 0)
        return WAIT_FAILED;
    mproc_lock_release(next);
    mproc_lock_release(mine);
    if (r->i == 0)
        mproc_lock_release(mine);
    return GOT_IT;
}

static struct shared *make(int nproc)
{
    struct shared *s = shared_block(sizeof *s);
    if (!s)
        return NULL;
    s->nproc = nproc;
    for (int i = 0; i < NLOCKS; i++)
        if (mproc_lock_new(&s->lock[i], i == 0 ? MPROC_RECURSIVE : 0) != 0)
            return NULL;
    return s;
}

static void done(struct shared *s)
{
    for (int i = 0; i < NLOCKS; i++)
        mproc_lock_free(s->lock[i]);
    mproc_shm_free(s);
}

/* Runs one cycle of nproc processes; returns how many saw MPROC_EDEADLK, -1 on an error. */
static int one_cycle(struct shared *s)
{
    struct role roles[NLOCKS];
    pid_t pids[NLOCKS];
    atomic_store(&s->held, 0);
    for (int i = 0; i < s->nproc; i++) {
        roles[i] = (struct role){s, i};
        pids[i] = child_start(cycle_member, &roles[i]);
    }
    int deadlk = 0, bad = 0;
    for (int i = 0; i < s->nproc; i++) {
        int code = child_join(pids[i]);
        if (code == SAW_EDEADLK)
            deadlk++;
        else if (code != GOT_IT)
            bad = code;
    }
    if (bad)
        print_message("a cycle member failed with exit code %d\n", bad);
    return bad ? -1 : deadlk;
}

static void deadlock_two_process_cycle_is_detected_every_time(void **state)
{
    (void)state;
    struct shared *s = make(2);
    assert_non_null(s);
    for (int run = 0; run < 50; run++)
        assert_int_equal(one_cycle(s), 1); /* exactly one: the process that closed it */
    done(s);
}

static void deadlock_three_process_cycle_is_detected_every_time(void **state)
{
    (void)state;
    struct shared *s = make(3);
    assert_non_null(s);
    for (int run = 0; run < 50; run++)
        assert_int_equal(one_cycle(s), 1);
    done(s);
}

static void deadlock_is_detected_for_locks_placed_in_a_region(void **state)
{
    (void)state;
    void *region;
    assert_ok(mproc_shm_new(&region, 4096));
    struct shared *s = region; /* the test's state and the locks share the region */
    s->nproc = 2;
    for (int i = 0; i < NLOCKS; i++)
        assert_ok(mproc_lock_init(&s->lock[i], region, 1024 + 64 * (size_t)i,
                                  i == 0 ? MPROC_RECURSIVE : 0));
    for (int run = 0; run < 10; run++)
        assert_int_equal(one_cycle(s), 1);
    mproc_shm_free(region);
}

static int wait_briefly(void *arg)
{
    struct shared *s = arg;
    /* times out on lock 0 (held by the parent), then holds lock 1 */
    if (mproc_lock_acquire(s->lock[0], 100) != MPROC_ETIMEDOUT)
        return 1;
    if (mproc_lock_acquire(s->lock[1], 5000) != 0)
        return 2;
    atomic_store(&s->held, 1);
    while (!atomic_load(&s->stop))
        usleep(200);
    mproc_lock_release(s->lock[1]);
    return 0;
}

static void deadlock_timed_out_wait_leaves_no_stale_edge(void **state)
{
    (void)state;
    struct shared *s = make(2);
    assert_non_null(s);
    assert_ok(mproc_lock_acquire(s->lock[0], -1));
    pid_t pid = child_start(wait_briefly, s);
    assert_true(flag_wait(&s->held, 1, 5000));
    /* the child no longer waits for lock 0: waiting for its lock 1 is no cycle */
    assert_code(mproc_lock_acquire(s->lock[1], 200), MPROC_ETIMEDOUT);
    atomic_store(&s->stop, 1);
    assert_ok(mproc_lock_acquire(s->lock[1], 5000));
    assert_int_equal(child_join(pid), 0);
    assert_ok(mproc_lock_release(s->lock[1]));
    assert_ok(mproc_lock_release(s->lock[0]));
    done(s);
}

static int ordered_worker(void *arg)
{
    struct shared *s = arg;
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    while (!atomic_load(&s->stop)) {
        int want = 1 + rand() % ((1 << NLOCKS) - 1); /* a random non-empty subset */
        int taken = 0;
        for (int i = 0; i < NLOCKS; i++) { /* always in index order */
            if (!(want & (1 << i)))
                continue;
            int rc = mproc_lock_acquire(s->lock[i], 10000);
            if (rc == MPROC_EDEADLK)
                return 35;
            if (rc != 0)
                return 3;
            taken |= 1 << i;
        }
        atomic_fetch_add(&s->rounds, 1);
        if (rand() % 8 == 0)
            usleep((useconds_t)(rand() % 300)); /* hold a while: others must sleep and register */
        for (int i = NLOCKS - 1; i >= 0; i--)
            if (taken & (1 << i))
                mproc_lock_release(s->lock[i]);
    }
    return 0;
}

static void deadlock_consistent_order_never_reports_a_false_cycle(void **state)
{
    (void)state;
    struct shared *s = make(4);
    assert_non_null(s);
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = child_start(ordered_worker, s);
    usleep(3000000);
    atomic_store(&s->stop, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(child_join(pids[i]), 0);
    print_message("%ld rounds without a false EDEADLK\n", atomic_load(&s->rounds));
    assert_true(atomic_load(&s->rounds) > 100);
    done(s);
}

static void deadlock_opt_out_lock_is_not_checked(void **state)
{
    (void)state;
    mproc_lock *l;
    assert_ok(mproc_lock_new(&l, MPROC_NO_DEADLOCK));
    assert_ok(mproc_lock_acquire(l, -1));
    /* self re-lock is still refused: that needs no graph */
    assert_code(mproc_lock_acquire(l, 0), MPROC_EDEADLK);
    assert_ok(mproc_lock_release(l));
    mproc_lock_free(l);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        MPROC_CASE(deadlock_two_process_cycle_is_detected_every_time, 120),
        MPROC_CASE(deadlock_three_process_cycle_is_detected_every_time, 120),
        cmocka_unit_test(deadlock_is_detected_for_locks_placed_in_a_region),
        cmocka_unit_test(deadlock_timed_out_wait_leaves_no_stale_edge),
        MPROC_CASE(deadlock_consistent_order_never_reports_a_false_cycle, 60),
        cmocka_unit_test(deadlock_opt_out_lock_is_not_checked),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
