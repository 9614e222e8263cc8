/* Pool tasks: submit and futures, cancel, crashes and timeouts of tasks, lazy maps. */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int echo_twice(const void *arg, size_t len, void *res, size_t *res_len, void *ctx)
{
    (void)ctx;
    if (2 * len > *res_len)
        return -1;
    memcpy(res, arg, len);
    memcpy((char *)res + len, arg, len);
    *res_len = 2 * len;
    return 0;
}

static void submit_returns_result_bytes(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 2}));
    mproc_future *f;
    assert_ok(mproc_pool_submit(p, echo_twice, "abc", 3, &f));
    assert_ok(mproc_future_wait(f, 10000));
    assert_ok(mproc_future_status(f));
    size_t len;
    const char *r = mproc_future_result(f, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(r, "abcabc", 6);
    mproc_future_free(f);
    mproc_pool_free(p);
}

static int returns_len(const void *arg, size_t len, void *res, size_t *res_len, void *ctx)
{
    (void)arg;
    (void)res;
    (void)ctx;
    *res_len = 0;
    return (int)len;
}

static void many_futures_complete_with_their_own_results(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 2}));
    mproc_future *f[200];
    char buf[200] = {0};
    for (int i = 0; i < 200; i++)
        assert_ok(mproc_pool_submit(p, returns_len, buf, (size_t)i, &f[i]));
    for (int i = 0; i < 200; i++) {
        assert_ok(mproc_future_wait(f[i], 10000));
        assert_int_equal(mproc_future_status(f[i]), i);
        mproc_future_free(f[i]);
    }
    mproc_pool_free(p);
}

static int sleeper(const void *arg, size_t len, void *res, size_t *res_len, void *ctx)
{
    (void)len;
    (void)res;
    (void)ctx;
    *res_len = 0;
    usleep((useconds_t)(*(const int *)arg) * 1000);
    return 0;
}

static void future_wait_times_out_while_running(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 1}));
    mproc_future *f;
    int ms = 500;
    assert_ok(mproc_pool_submit(p, sleeper, &ms, sizeof ms, &f));
    assert_code(mproc_future_wait(f, 50), MPROC_ETIMEDOUT);
    assert_code(mproc_future_status(f), MPROC_EBUSY);
    assert_ok(mproc_future_wait(f, 10000));
    assert_ok(mproc_future_status(f));
    mproc_future_free(f);
    mproc_pool_free(p);
}

static int crash_task(const void *arg, size_t len, void *res, size_t *res_len, void *ctx)
{
    (void)arg;
    (void)len;
    (void)res;
    (void)res_len;
    (void)ctx;
    raise(SIGKILL);
    return 0;
}

static void crashed_task_fails_alone_and_pool_goes_on(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 2}));
    mproc_future *bad, *good;
    assert_ok(mproc_pool_submit(p, crash_task, NULL, 0, &bad));
    assert_ok(mproc_pool_submit(p, echo_twice, "x", 1, &good));
    assert_ok(mproc_future_wait(bad, 10000));
    assert_code(mproc_future_status(bad), MPROC_ECRASHED);
    assert_int_equal(mproc_future_exitcode(bad), -SIGKILL);
    assert_ok(mproc_future_wait(good, 10000));
    assert_ok(mproc_future_status(good));
    mproc_future_free(bad);
    mproc_future_free(good);
    /* the pool replaced the worker and still works */
    assert_ok(mproc_pool_submit(p, echo_twice, "y", 1, &good));
    assert_ok(mproc_future_wait(good, 10000));
    assert_ok(mproc_future_status(good));
    mproc_future_free(good);
    mproc_pool_free(p);
}

static void task_timeout_kills_worker(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 2, .task_timeout_ms = 200}));
    mproc_future *f;
    int ms = 30000;
    assert_ok(mproc_pool_submit(p, sleeper, &ms, sizeof ms, &f));
    int64_t t0 = mproc_test_now_ms();
    assert_ok(mproc_future_wait(f, 20000));
    assert_true(mproc_test_now_ms() - t0 < 10000);
    assert_code(mproc_future_status(f), MPROC_ETIMEDOUT);
    mproc_future_free(f);
    mproc_pool_free(p);
}

static void cancel_pending_and_running_tasks(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 1}));
    int ms = 30000;
    mproc_future *running, *pending;
    assert_ok(mproc_pool_submit(p, sleeper, &ms, sizeof ms, &running));
    assert_ok(mproc_pool_submit(p, sleeper, &ms, sizeof ms, &pending));
    usleep(100000); /* let the single worker pick up the first */
    assert_int_equal(mproc_future_cancel(pending), 1);
    assert_code(mproc_future_status(pending), MPROC_ECANCELED);
    assert_int_equal(mproc_future_cancel(running), 1);
    assert_code(mproc_future_status(running), MPROC_ECANCELED);
    mproc_future_free(pending);
    mproc_future_free(running);
    mproc_future *f;
    assert_ok(mproc_pool_submit(p, echo_twice, "z", 1, &f));
    assert_ok(mproc_future_wait(f, 10000));
    assert_ok(mproc_future_status(f));
    assert_int_equal(mproc_future_cancel(f), 0); /* already finished */
    mproc_future_free(f);
    mproc_pool_free(p);
}

static void submit_cancel_races(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 2}));
    int cancelled = 0, finished = 0;
    for (int i = 0; i < 1000; i++) {
        mproc_future *f;
        int ms = i % 3;
        assert_ok(mproc_pool_submit(p, sleeper, &ms, sizeof ms, &f));
        if (i % 2)
            usleep((useconds_t)(i % 5) * 100);
        int c = mproc_future_cancel(f);
        assert_true(c == 0 || c == 1);
        assert_ok(mproc_future_wait(f, 10000));
        int st = mproc_future_status(f);
        if (c)
            assert_int_equal(st, MPROC_ECANCELED), cancelled++;
        else
            assert_int_equal(st, 0), finished++;
        mproc_future_free(f);
    }
    assert_int_equal(cancelled + finished, 1000);
    mproc_pool_free(p);
}

static void free_with_tasks_outstanding(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 2}));
    int ms = 30000;
    mproc_future *f[5];
    for (int i = 0; i < 5; i++)
        assert_ok(mproc_pool_submit(p, sleeper, &ms, sizeof ms, &f[i]));
    mproc_future *done;
    assert_ok(mproc_pool_submit(p, echo_twice, "q", 1, &done));
    mproc_pool_free(p); /* kills the workers; futures stay valid */
    for (int i = 0; i < 5; i++) {
        assert_code(mproc_future_status(f[i]), MPROC_ECANCELED);
        mproc_future_free(f[i]);
    }
    mproc_future_free(done);
}

static void submit_bad_input(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(
        mproc_pool_new(&p, &(mproc_pool_opts){.workers = 1, .task_bytes = 16, .max_pending = 2}));
    mproc_future *f = NULL, *g, *h;
    char big[17] = {0};
    assert_code(mproc_pool_submit(NULL, echo_twice, "a", 1, &f), MPROC_EINVAL);
    assert_code(mproc_pool_submit(p, NULL, "a", 1, &f), MPROC_EINVAL);
    assert_code(mproc_pool_submit(p, echo_twice, NULL, 1, &f), MPROC_EINVAL);
    assert_code(mproc_pool_submit(p, echo_twice, big, sizeof big, &f), MPROC_EMSGSIZE);
    assert_ok(mproc_pool_submit(p, returns_len, "a", 1, &g));
    assert_ok(mproc_pool_submit(p, returns_len, "a", 1, &h));
    assert_code(mproc_pool_submit(p, returns_len, "a", 1, &f), MPROC_EAGAIN);
    assert_code(mproc_future_wait(g, -2), MPROC_EINVAL);
    mproc_future_free(g);
    mproc_future_free(h);
    mproc_pool_close(p);
    assert_code(mproc_pool_submit(p, returns_len, "a", 1, &f), MPROC_ECLOSED);
    mproc_pool_free(p);
}

/* ---- lazy maps ---- */
struct gen {
    long next, end;
    long *seen;
    size_t nseen;
    int ordered_ok;
};

static int gen_next(void *item, void *ud)
{
    struct gen *g = ud;
    if (g->next == g->end)
        return 0;
    *(long *)item = g->next++;
    return 1;
}

static int collect(size_t index, const void *out, int status, void *ud)
{
    struct gen *g = ud;
    if (status != 0 || *(const long *)out != (long)index * (long)index)
        return -1;
    if (g->nseen != index)
        g->ordered_ok = 0;
    g->seen[g->nseen++] = (long)index;
    return 0;
}

static int square(const void *in, void *out, void *ctx)
{
    (void)ctx;
    long x = *(const long *)in;
    if (x % 7 == 0)
        usleep(2000); /* uneven work, so unordered results come out of order */
    *(long *)out = x * x;
    return 0;
}

static void imap_ordered_and_unordered(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 2}));
    for (int ordered = 1; ordered >= 0; ordered--) {
        struct gen g = {.next = 0, .end = 300, .seen = calloc(300, sizeof(long)), .ordered_ok = 1};
        int rc = mproc_pool_imap(p, square, gen_next, sizeof(long), sizeof(long), collect, &g,
                                 ordered, 8);
        assert_int_equal(rc, 0);
        assert_int_equal(g.nseen, 300);
        if (ordered)
            assert_true(g.ordered_ok);
        /* every index exactly once */
        char hit[300] = {0};
        for (size_t i = 0; i < 300; i++)
            hit[g.seen[i]]++;
        for (int i = 0; i < 300; i++)
            assert_int_equal(hit[i], 1);
        assert_true(g.next == 300);
        free(g.seen);
    }
    mproc_pool_free(p);
}

static int stop_after_ten(size_t index, const void *out, int status, void *ud)
{
    (void)out;
    (void)status;
    (void)ud;
    return index >= 9 ? 1 : 0;
}

static void imap_is_lazy_and_stops_early(void **state)
{
    (void)state;
    mproc_pool *p;
    assert_ok(mproc_pool_new(&p, &(mproc_pool_opts){.workers = 2}));
    struct gen g = {.next = 0, .end = 1000000};
    int rc =
        mproc_pool_imap(p, square, gen_next, sizeof(long), sizeof(long), stop_after_ten, &g, 1, 4);
    assert_code(rc, MPROC_ECANCELED);
    assert_true(g.next <= 14); /* pulled only a window ahead, never the whole input */
    mproc_pool_free(p);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(submit_returns_result_bytes),
        cmocka_unit_test(many_futures_complete_with_their_own_results),
        cmocka_unit_test(future_wait_times_out_while_running),
        cmocka_unit_test(crashed_task_fails_alone_and_pool_goes_on),
        cmocka_unit_test(task_timeout_kills_worker),
        cmocka_unit_test(cancel_pending_and_running_tasks),
        MPROC_CASE(submit_cancel_races, 120),
        cmocka_unit_test(free_with_tasks_outstanding),
        cmocka_unit_test(submit_bad_input),
        cmocka_unit_test(imap_ordered_and_unordered),
        cmocka_unit_test(imap_is_lazy_and_stops_early),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
