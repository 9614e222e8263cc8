/* Typed shared values and arrays (Python's Value / Array): locked helpers, raw variants,
 * checked mode refusing access without the lock. */
#include "harness.h"

#include <sys/wait.h>
#include <unistd.h>

static int run_children(int n, int (*fn)(void *), void *arg)
{
    pid_t pids[8];
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            _exit(fn(arg));
    }
    int worst = 0;
    for (int i = 0; i < n; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (code)
            worst = code;
    }
    return worst;
}

static void value_starts_zero_and_sets(void **state)
{
    (void)state;
    mproc_array *v;
    assert_ok(mproc_value_new(&v, sizeof(int64_t), 0));
    int64_t x = -1;
    assert_ok(mproc_array_get_i64(v, 0, &x));
    assert_int_equal(x, 0);
    assert_ok(mproc_array_set_i64(v, 0, 42));
    assert_ok(mproc_array_get_i64(v, 0, &x));
    assert_int_equal(x, 42);
    assert_int_equal(mproc_array_len(v), 1);
    assert_non_null(mproc_array_lock(v));
    assert_int_equal(*(int64_t *)mproc_array_data(v), 42);
    mproc_array_free(v);
}

static int add_many(void *arg)
{
    mproc_array *v = arg;
    for (int i = 0; i < 2000; i++)
        if (mproc_array_add_i64(v, 0, 1, NULL) != 0)
            return 1;
    return 0;
}

static void value_add_from_processes_loses_nothing(void **state)
{
    (void)state;
    mproc_array *v;
    assert_ok(mproc_value_new(&v, sizeof(int64_t), 0));
    assert_int_equal(run_children(4, add_many, v), 0);
    int64_t x;
    assert_ok(mproc_array_get_i64(v, 0, &x));
    assert_int_equal(x, 8000);
    mproc_array_free(v);
}

static int compound_update(void *arg)
{
    mproc_array *v = arg;
    mproc_lock *l = mproc_array_lock(v);
    for (int i = 0; i < 1000; i++) {
        if (mproc_lock_acquire(l, -1) != 0)
            return 1;
        double d;
        if (mproc_array_get_double(v, 0, &d) != 0) /* the lock is recursive */
            return 2;
        if (mproc_array_set_double(v, 0, d + 0.5) != 0)
            return 3;
        mproc_lock_release(l);
    }
    return 0;
}

static void value_compound_update_under_get_lock(void **state)
{
    (void)state;
    mproc_array *v;
    assert_ok(mproc_value_new(&v, sizeof(double), 0));
    assert_int_equal(run_children(3, compound_update, v), 0);
    double d;
    assert_ok(mproc_array_get_double(v, 0, &d));
    assert_true(d == 1500.0);
    mproc_array_free(v);
}

static void array_elements_and_bounds(void **state)
{
    (void)state;
    mproc_array *a;
    assert_ok(mproc_array_new(&a, sizeof(double), 10, 0));
    for (size_t i = 0; i < 10; i++)
        assert_ok(mproc_array_set_double(a, i, (double)i * 1.5));
    double d;
    assert_ok(mproc_array_get_double(a, 9, &d));
    assert_true(d == 13.5);
    assert_code(mproc_array_get_double(a, 10, &d), MPROC_ERANGE);
    char raw[8];
    assert_ok(mproc_array_get(a, 2, raw)); /* generic copy of elem_size bytes */
    mproc_array_free(a);
    assert_ok(mproc_array_new(&a, sizeof(int), 3, 0));
    assert_code(mproc_array_set_i64(a, 0, 1), MPROC_EINVAL); /* 4-byte elements */
    int i = 5;
    assert_ok(mproc_array_set(a, 1, &i));
    assert_int_equal(((int *)mproc_array_data(a))[1], 5);
    mproc_array_free(a);
}

static void array_bad_arguments_are_rejected(void **state)
{
    (void)state;
    mproc_array *a;
    assert_code(mproc_array_new(NULL, 8, 1, 0), MPROC_EINVAL);
    assert_code(mproc_array_new(&a, 0, 1, 0), MPROC_EINVAL);
    assert_code(mproc_array_new(&a, 8, 0, 0), MPROC_EINVAL);
    assert_code(mproc_array_new(&a, 8, SIZE_MAX / 4, 0), MPROC_EINVAL);
    assert_code(mproc_array_new(&a, 8, 1, 0x40), MPROC_EINVAL);
    assert_code(mproc_array_new(&a, 8, 1, MPROC_VALUE_RAW | MPROC_VALUE_CHECKED), MPROC_EINVAL);
    assert_code(mproc_array_get(NULL, 0, &a), MPROC_EINVAL);
    assert_int_equal(mproc_array_len(NULL), 0);
    assert_null(mproc_array_lock(NULL));
    mproc_array_free(NULL);
}

static void raw_value_has_no_lock(void **state)
{
    (void)state;
    mproc_array *v;
    assert_ok(mproc_value_new(&v, sizeof(int64_t), MPROC_VALUE_RAW));
    assert_null(mproc_array_lock(v));
    assert_ok(mproc_array_set_i64(v, 0, 7));
    int64_t x;
    assert_ok(mproc_array_get_i64(v, 0, &x));
    assert_int_equal(x, 7);
    mproc_array_free(v);
}

static void checked_value_refuses_access_without_the_lock(void **state)
{
    (void)state;
    mproc_array *v;
    assert_ok(mproc_value_new(&v, sizeof(int64_t), MPROC_VALUE_CHECKED));
    int64_t x;
    assert_code(mproc_array_set_i64(v, 0, 1), MPROC_EPERM);
    assert_code(mproc_array_get_i64(v, 0, &x), MPROC_EPERM);
    assert_code(mproc_array_add_i64(v, 0, 1, NULL), MPROC_EPERM);
    assert_ok(mproc_lock_acquire(mproc_array_lock(v), -1));
    assert_ok(mproc_array_add_i64(v, 0, 5, &x));
    assert_int_equal(x, 5);
    assert_ok(mproc_lock_release(mproc_array_lock(v)));
    mproc_array_free(v);
}

static int child_touches_unlocked(void *arg)
{
    mproc_array *v = arg;
    /* the parent holds the lock: a checked value refuses this process */
    return mproc_array_set_i64(v, 0, 99) == MPROC_EPERM ? 0 : 1;
}

static void checked_value_refuses_a_process_that_does_not_hold_it(void **state)
{
    (void)state;
    mproc_array *v;
    assert_ok(mproc_value_new(&v, sizeof(int64_t), MPROC_VALUE_CHECKED));
    assert_ok(mproc_lock_acquire(mproc_array_lock(v), -1));
    assert_int_equal(run_children(1, child_touches_unlocked, v), 0);
    int64_t x;
    assert_ok(mproc_array_get_i64(v, 0, &x));
    assert_int_equal(x, 0);
    assert_ok(mproc_lock_release(mproc_array_lock(v)));
    mproc_array_free(v);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(value_starts_zero_and_sets),
        cmocka_unit_test(value_add_from_processes_loses_nothing),
        cmocka_unit_test(value_compound_update_under_get_lock),
        cmocka_unit_test(array_elements_and_bounds),
        cmocka_unit_test(array_bad_arguments_are_rejected),
        cmocka_unit_test(raw_value_has_no_lock),
        cmocka_unit_test(checked_value_refuses_access_without_the_lock),
        cmocka_unit_test(checked_value_refuses_a_process_that_does_not_hold_it),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
