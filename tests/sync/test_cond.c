/* Conditions: wait/notify across processes, wait_for with a predicate, misuse. */
#include "sync_util.h"

struct shared {
    _Atomic int ready;
    int items; /* protected by the condition's lock */
    mproc_lock *lock;
    mproc_cond *cond;
};

static struct shared *make(void)
{
    struct shared *s = shared_block(sizeof *s);
    if (!s || mproc_lock_new(&s->lock, 0) != 0 || mproc_cond_new(&s->cond, s->lock) != 0)
        return NULL;
    return s;
}

static void done(struct shared *s)
{
    mproc_cond_free(s->cond);
    mproc_lock_free(s->lock);
    mproc_shm_free(s);
}

static void cond_wait_without_lock_is_eperm(void **state)
{
    (void)state;
    struct shared *s = make();
    assert_non_null(s);
    assert_code(mproc_cond_wait(s->cond, 0), MPROC_EPERM);
    assert_code(mproc_cond_notify(s->cond, 1), MPROC_EPERM);
    assert_code(mproc_cond_notify_all(s->cond), MPROC_EPERM);
    done(s);
}

static void cond_wait_times_out_holding_the_lock_again(void **state)
{
    (void)state;
    struct shared *s = make();
    assert_non_null(s);
    assert_ptr_equal(mproc_cond_lock(s->cond), s->lock);
    assert_ok(mproc_lock_acquire(s->lock, -1));
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_cond_wait(s->cond, 100), MPROC_ETIMEDOUT);
    assert_true(mproc_test_now_ms() - t0 >= 90);
    assert_int_equal(mproc_lock_held(s->lock), 1);
    assert_ok(mproc_lock_release(s->lock));
    done(s);
}

static void cond_bad_arguments_are_rejected(void **state)
{
    (void)state;
    mproc_cond *c;
    assert_code(mproc_cond_new(NULL, NULL), MPROC_EINVAL);
    assert_code(mproc_cond_new(&c, NULL), MPROC_EINVAL);
    assert_code(mproc_cond_wait(NULL, 0), MPROC_EINVAL);
    assert_code(mproc_cond_notify(NULL, 1), MPROC_EINVAL);
    struct shared *s = make();
    assert_non_null(s);
    assert_ok(mproc_lock_acquire(s->lock, -1));
    assert_code(mproc_cond_notify(s->cond, -1), MPROC_EINVAL);
    assert_code(mproc_cond_wait_for(s->cond, NULL, NULL, 0), MPROC_EINVAL);
    assert_ok(mproc_lock_release(s->lock));
    done(s);
}

static int has_items(void *arg)
{
    return ((struct shared *)arg)->items > 0;
}

static int consume(void *arg)
{
    struct shared *s = arg;
    if (mproc_lock_acquire(s->lock, 5000) != 0)
        return 1;
    atomic_fetch_add(&s->ready, 1);
    int rc = mproc_cond_wait_for(s->cond, has_items, s, 10000);
    if (rc != 0)
        return 2;
    s->items--;
    return mproc_lock_release(s->lock) == 0 ? 0 : 3;
}

static void cond_notify_all_wakes_every_consumer(void **state)
{
    (void)state;
    struct shared *s = make();
    assert_non_null(s);
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = child_start(consume, s);
    assert_true(flag_wait(&s->ready, 3, 5000));
    assert_ok(mproc_lock_acquire(s->lock, 5000));
    s->items = 3;
    assert_ok(mproc_cond_notify_all(s->cond));
    assert_ok(mproc_lock_release(s->lock));
    for (int i = 0; i < 3; i++)
        assert_int_equal(child_join(pids[i]), 0);
    assert_int_equal(s->items, 0);
    done(s);
}

static void cond_notify_one_at_a_time_feeds_each_consumer(void **state)
{
    (void)state;
    struct shared *s = make();
    assert_non_null(s);
    pid_t pids[2];
    for (int i = 0; i < 2; i++)
        pids[i] = child_start(consume, s);
    assert_true(flag_wait(&s->ready, 2, 5000));
    for (int i = 0; i < 2; i++) {
        assert_ok(mproc_lock_acquire(s->lock, 5000));
        s->items++;
        assert_ok(mproc_cond_notify(s->cond, 1));
        assert_ok(mproc_lock_release(s->lock));
        usleep(20000);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(child_join(pids[i]), 0);
    assert_int_equal(s->items, 0);
    done(s);
}

static void cond_wait_for_times_out_when_predicate_stays_false(void **state)
{
    (void)state;
    struct shared *s = make();
    assert_non_null(s);
    assert_ok(mproc_lock_acquire(s->lock, -1));
    assert_code(mproc_cond_wait_for(s->cond, has_items, s, 100), MPROC_ETIMEDOUT);
    s->items = 1;
    assert_ok(mproc_cond_wait_for(s->cond, has_items, s, 0)); /* true: returns at once */
    assert_ok(mproc_lock_release(s->lock));
    done(s);
}

static void cond_recursive_lock_is_fully_released_while_waiting(void **state)
{
    (void)state;
    struct shared *s = shared_block(sizeof *s);
    assert_ok(mproc_lock_new(&s->lock, MPROC_RECURSIVE));
    assert_ok(mproc_cond_new(&s->cond, s->lock));
    pid_t pid = child_start(consume, s);
    assert_true(flag_wait(&s->ready, 1, 5000));
    assert_ok(mproc_lock_acquire(s->lock, 5000));
    assert_ok(mproc_lock_acquire(s->lock, 0));
    s->items = 1;
    assert_ok(mproc_cond_notify(s->cond, 1));
    assert_ok(mproc_lock_release(s->lock));
    assert_ok(mproc_lock_release(s->lock));
    assert_int_equal(child_join(pid), 0);
    /* now wait with two levels held: the other side must be able to get in */
    assert_ok(mproc_lock_acquire(s->lock, -1));
    assert_ok(mproc_lock_acquire(s->lock, -1));
    assert_code(mproc_cond_wait(s->cond, 50), MPROC_ETIMEDOUT);
    assert_ok(mproc_lock_release(s->lock));
    assert_int_equal(mproc_lock_held(s->lock), 1); /* both levels restored */
    assert_ok(mproc_lock_release(s->lock));
    done(s);
}

struct placed {
    mproc_lock *lock;
    mproc_cond *cond;
    mproc_event *ev;
    mproc_barrier *bar;
    int items;
};

/* Attaches to everything by offset, as an unrelated process mapping the region would. */
static int attached_peer(void *region)
{
    mproc_lock *l;
    mproc_cond *c;
    mproc_event *e;
    mproc_barrier *b;
    if (mproc_lock_attach(&l, region, 1024) || mproc_cond_attach(&c, region, 1088) ||
        mproc_event_attach(&e, region, 1152) || mproc_barrier_attach(&b, region, 1216))
        return 1;
    if (mproc_cond_lock(c) != l)
        return 2;
    if (mproc_barrier_wait(b, 10000) < 0) /* meet the parent */
        return 3;
    if (mproc_event_wait(e, 10000) != 0)
        return 4;
    struct placed *p = region;
    mproc_lock_acquire(l, -1);
    p->items = 1;
    mproc_cond_notify_all(c);
    mproc_lock_release(l);
    return 0;
}

static int has_placed_item(void *arg)
{
    return ((struct placed *)arg)->items > 0;
}

static void cond_event_barrier_placed_in_a_region_work_by_offset(void **state)
{
    (void)state;
    void *region;
    assert_ok(mproc_shm_new(&region, 4096));
    struct placed *p = region;
    assert_ok(mproc_lock_init(&p->lock, region, 1024, 0));
    assert_code(mproc_cond_init(&p->cond, region, 1088, 1152), MPROC_EINVAL); /* no lock there */
    assert_ok(mproc_cond_init(&p->cond, region, 1088, 1024));
    assert_ok(mproc_event_init(&p->ev, region, 1152));
    assert_code(mproc_barrier_init(&p->bar, region, 1216, 0), MPROC_EINVAL);
    assert_ok(mproc_barrier_init(&p->bar, region, 1216, 2));
    pid_t pid = child_start(attached_peer, region);
    assert_true(mproc_barrier_wait(p->bar, 10000) >= 0);
    assert_ok(mproc_lock_acquire(p->lock, 5000));
    assert_ok(mproc_event_set(p->ev));
    assert_ok(mproc_cond_wait_for(p->cond, has_placed_item, p, 10000));
    assert_ok(mproc_lock_release(p->lock));
    assert_int_equal(child_join(pid), 0);
    mproc_shm_free(region);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(cond_wait_without_lock_is_eperm),
        cmocka_unit_test(cond_wait_times_out_holding_the_lock_again),
        cmocka_unit_test(cond_bad_arguments_are_rejected),
        cmocka_unit_test(cond_notify_all_wakes_every_consumer),
        cmocka_unit_test(cond_notify_one_at_a_time_feeds_each_consumer),
        cmocka_unit_test(cond_wait_for_times_out_when_predicate_stays_false),
        cmocka_unit_test(cond_recursive_lock_is_fully_released_while_waiting),
        cmocka_unit_test(cond_event_barrier_placed_in_a_region_work_by_offset),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
