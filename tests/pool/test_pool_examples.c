/* The pool examples run and say what they should. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void run_example(const char *name, const char *arg1, const char *arg2, mproc_result *r)
{
    const char *argv[] = {mproc_test_example(name), arg1, arg2, NULL};
    mproc_run_opts ro = {.timeout_ms = 60000};
    assert_ok(mproc_run(argv, NULL, &ro, r));
}

static void example_pool_squares(void **state)
{
    (void)state;
    mproc_result r;
    run_example("pool_01_squares", NULL, NULL, &r);
    assert_int_equal(mproc_exitcode(&r.status), 0);
    assert_string_equal(r.out, "[1, 4, 9, 16, 25]\n");
    mproc_result_free(&r);
}

static void example_pool_node_workers(void **state)
{
    (void)state;
    mproc_result r;
    run_example("pool_02_node_workers", NULL, NULL, &r);
    assert_int_equal(mproc_exitcode(&r.status), 0);
    for (int i = 0; i < 4; i++) {
        char want[96];
        snprintf(want, sizeof want, "Worker %d says: got \"Hello from main to worker %d\"", i, i);
        assert_non_null(strstr(r.out, want));
    }
    mproc_result_free(&r);
}

static void example_pool_crash_survival(void **state)
{
    (void)state;
    mproc_result r;
    run_example("pool_03_crash_survival", NULL, NULL, &r);
    assert_int_equal(mproc_exitcode(&r.status), 0);
    assert_non_null(strstr(r.out, "item 2: 20\n"));
    assert_non_null(strstr(r.out, "item 3: MPROC_ECRASHED"));
    assert_non_null(strstr(r.out, "item 7: MPROC_ECRASHED"));
    assert_non_null(strstr(r.out, "item 9: 90\n"));
    assert_non_null(strstr(r.out, "2 items failed; workers replaced: 2"));
    mproc_result_free(&r);
}

static void example_pool_load_balance(void **state)
{
    (void)state;
    mproc_result r;
    run_example("pool_04_load_balance", NULL, NULL, &r);
    assert_int_equal(mproc_exitcode(&r.status), 0);
    assert_non_null(strstr(r.out, "static :"));
    assert_non_null(strstr(r.out, "dynamic:"));
    mproc_result_free(&r);
}

static void example_pool_trace(void **state)
{
    (void)state;
    char dir[] = "/tmp/mproc-ex-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char json[64], svg[64];
    snprintf(json, sizeof json, "%s/t.json", dir);
    snprintf(svg, sizeof svg, "%s/t.svg", dir);
    mproc_result r;
    run_example("pool_05_trace", json, svg, &r);
    assert_int_equal(mproc_exitcode(&r.status), 0);
    assert_non_null(strstr(r.out, "1 item failed"));
    assert_int_equal(access(svg, R_OK), 0);
    unlink(json);
    unlink(svg);
    rmdir(dir);
    mproc_result_free(&r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(example_pool_squares),        cmocka_unit_test(example_pool_node_workers),
        cmocka_unit_test(example_pool_crash_survival), cmocka_unit_test(example_pool_load_balance),
        cmocka_unit_test(example_pool_trace),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
