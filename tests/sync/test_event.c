/* Events: set wakes every waiter in every process; clear; timeouts. */
#include "sync_util.h"

struct shared {
    _Atomic int ready;
    mproc_event *ev;
};

static void event_starts_clear_and_sets(void **state)
{
    (void)state;
    mproc_event *e;
    assert_ok(mproc_event_new(&e));
    assert_int_equal(mproc_event_is_set(e), 0);
    assert_code(mproc_event_wait(e, 0), MPROC_ETIMEDOUT);
    assert_ok(mproc_event_set(e));
    assert_int_equal(mproc_event_is_set(e), 1);
    assert_ok(mproc_event_wait(e, 0));
    assert_ok(mproc_event_wait(e, -1));
    assert_ok(mproc_event_set(e)); /* setting twice is harmless */
    assert_ok(mproc_event_clear(e));
    assert_int_equal(mproc_event_is_set(e), 0);
    mproc_event_free(e);
}

static void event_wait_times_out(void **state)
{
    (void)state;
    mproc_event *e;
    assert_ok(mproc_event_new(&e));
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_event_wait(e, 120), MPROC_ETIMEDOUT);
    int64_t took = mproc_test_now_ms() - t0;
    assert_true(took >= 110 && took < 5000);
    mproc_event_free(e);
}

static void event_bad_arguments_are_rejected(void **state)
{
    (void)state;
    mproc_event *e;
    assert_code(mproc_event_new(NULL), MPROC_EINVAL);
    assert_code(mproc_event_set(NULL), MPROC_EINVAL);
    assert_code(mproc_event_clear(NULL), MPROC_EINVAL);
    assert_code(mproc_event_is_set(NULL), MPROC_EINVAL);
    assert_code(mproc_event_wait(NULL, 0), MPROC_EINVAL);
    assert_ok(mproc_event_new(&e));
    assert_code(mproc_event_wait(e, -3), MPROC_EINVAL);
    mproc_event_free(e);
}

static int wait_for_event(void *arg)
{
    struct shared *s = arg;
    atomic_fetch_add(&s->ready, 1);
    return mproc_event_wait(s->ev, 10000) == 0 ? 0 : 1;
}

static void event_set_wakes_all_waiting_processes(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_event_new(&s->ev));
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = child_start(wait_for_event, s);
    assert_true(flag_wait(&s->ready, 3, 5000));
    usleep(50000);
    assert_ok(mproc_event_set(s->ev));
    for (int i = 0; i < 3; i++)
        assert_int_equal(child_join(pids[i]), 0);
    mproc_event_free(s->ev);
    mproc_shm_free(s);
}

static void event_set_then_clear_still_releases_sleepers(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_event_new(&s->ev));
    pid_t pid = child_start(wait_for_event, s);
    assert_true(flag_wait(&s->ready, 1, 5000));
    assert_true(wait_sleeping(pid, 10000)); /* asleep in the wait: it must see the pulse */
    assert_ok(mproc_event_set(s->ev));
    assert_ok(mproc_event_clear(s->ev)); /* a pulse: the sleeper must not miss it */
    assert_int_equal(child_join(pid), 0);
    mproc_event_free(s->ev);
    mproc_shm_free(s);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(event_starts_clear_and_sets),
        cmocka_unit_test(event_wait_times_out),
        cmocka_unit_test(event_bad_arguments_are_rejected),
        cmocka_unit_test(event_set_wakes_all_waiting_processes),
        cmocka_unit_test(event_set_then_clear_still_releases_sleepers),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
