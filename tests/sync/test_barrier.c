/* Barriers: Python semantics (arrival index, timeout breaks it, abort, reset), misuse. */
#include "sync_util.h"

struct shared {
    _Atomic int after;   /* processes past the barrier */
    _Atomic int indexes; /* bit per arrival index seen */
    mproc_barrier *b;
};

/* Waits up to ms for n callers to be waiting at b. 1 if they are. */
static int n_waiting(mproc_barrier *b, int n, int ms)
{
    int64_t end = mproc_test_now_ms() + ms;
    while (mproc_barrier_n_waiting(b) < n) {
        if (mproc_test_now_ms() > end)
            return 0;
        usleep(1000);
    }
    return 1;
}

static void barrier_zero_parties_is_einval(void **state)
{
    (void)state;
    mproc_barrier *b;
    assert_code(mproc_barrier_new(&b, 0), MPROC_EINVAL);
    assert_code(mproc_barrier_new(&b, -1), MPROC_EINVAL);
    assert_code(mproc_barrier_new(NULL, 2), MPROC_EINVAL);
    assert_code(mproc_barrier_wait(NULL, 0), MPROC_EINVAL);
    assert_code(mproc_barrier_parties(NULL), MPROC_EINVAL);
}

static void barrier_one_party_passes_at_once(void **state)
{
    (void)state;
    mproc_barrier *b;
    assert_ok(mproc_barrier_new(&b, 1));
    assert_int_equal(mproc_barrier_parties(b), 1);
    assert_int_equal(mproc_barrier_wait(b, -1), 0);
    assert_int_equal(mproc_barrier_wait(b, 0), 0);
    mproc_barrier_free(b);
}

static int arrive(void *arg)
{
    struct shared *s = arg;
    for (int round = 0; round < 3; round++) {
        int idx = mproc_barrier_wait(s->b, 10000);
        if (idx < 0 || idx > 3)
            return 1;
        if (round == 0)
            atomic_fetch_or(&s->indexes, 1 << idx);
    }
    atomic_fetch_add(&s->after, 1);
    return 0;
}

static void barrier_four_processes_pass_together_with_distinct_indexes(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_barrier_new(&s->b, 4));
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = child_start(arrive, s);
    assert_true(n_waiting(s->b, 3, 10000));
    usleep(20000);
    assert_int_equal(atomic_load(&s->after), 0); /* nobody passes with 3 of 4 */
    assert_int_equal(arrive(s), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(child_join(pids[i]), 0);
    assert_int_equal(atomic_load(&s->indexes), 0xf);
    assert_int_equal(mproc_barrier_broken(s->b), 0);
    mproc_barrier_free(s->b);
    mproc_shm_free(s);
}

static int wait_expect_broken(void *arg)
{
    struct shared *s = arg;
    atomic_fetch_add(&s->after, 1);
    return mproc_barrier_wait(s->b, 10000) == MPROC_EBROKEN ? 0 : 1;
}

static void barrier_timeout_breaks_the_barrier_for_everyone(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_barrier_new(&s->b, 3));
    pid_t pid = child_start(wait_expect_broken, s);
    assert_true(n_waiting(s->b, 1, 10000));
    assert_code(mproc_barrier_wait(s->b, 100), MPROC_ETIMEDOUT);
    assert_int_equal(child_join(pid), 0);
    assert_int_equal(mproc_barrier_broken(s->b), 1);
    assert_code(mproc_barrier_wait(s->b, 0), MPROC_EBROKEN); /* sticky until reset */
    assert_ok(mproc_barrier_reset(s->b));
    assert_int_equal(mproc_barrier_broken(s->b), 0);
    mproc_barrier_free(s->b);
    mproc_shm_free(s);
}

static void barrier_abort_releases_waiters_with_ebroken(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_barrier_new(&s->b, 2));
    pid_t pid = child_start(wait_expect_broken, s);
    assert_true(n_waiting(s->b, 1, 10000));
    assert_ok(mproc_barrier_abort(s->b));
    assert_int_equal(child_join(pid), 0);
    assert_code(mproc_barrier_wait(s->b, -1), MPROC_EBROKEN);
    mproc_barrier_free(s->b);
    mproc_shm_free(s);
}

static int wait_one_round(void *arg)
{
    struct shared *s = arg;
    int rc = mproc_barrier_wait(s->b, 10000);
    return rc >= 0 ? 0 : 1;
}

static void barrier_reset_makes_it_usable_and_breaks_current_waiters(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_barrier_new(&s->b, 2));
    pid_t pid = child_start(wait_expect_broken, s);
    assert_true(n_waiting(s->b, 1, 10000));
    assert_ok(mproc_barrier_reset(s->b));
    assert_int_equal(child_join(pid), 0);
    pid = child_start(wait_one_round, s); /* usable again */
    int idx = mproc_barrier_wait(s->b, 10000);
    assert_true(idx == 0 || idx == 1);
    assert_int_equal(child_join(pid), 0);
    mproc_barrier_free(s->b);
    mproc_shm_free(s);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(barrier_zero_parties_is_einval),
        cmocka_unit_test(barrier_one_party_passes_at_once),
        cmocka_unit_test(barrier_four_processes_pass_together_with_distinct_indexes),
        cmocka_unit_test(barrier_timeout_breaks_the_barrier_for_everyone),
        cmocka_unit_test(barrier_abort_releases_waiters_with_ebroken),
        cmocka_unit_test(barrier_reset_makes_it_usable_and_breaks_current_waiters),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
