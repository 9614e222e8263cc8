/* Smoke tests of the process core: the basic paths work end to end. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void spawn_true_exits_zero(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, -1, &st));
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 0);
    mproc_proc_free(p);
}

static void spawn_missing_binary_fails_with_enoent(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f};
    const char *argv[] = {"/nonexistent/binary", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_ENOENT);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_EXEC);
    assert_int_equal(f.error, MPROC_ENOENT);
}

static int ret7(void *arg)
{
    (void)arg;
    return 7;
}

static void fork_function_exit_code(void **state)
{
    (void)state;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, ret7, NULL, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 7);
    mproc_proc_free(p);
}

static void spawn_with_sigchld_ignored_reports_unknown(void **state)
{
    (void)state;
    /* With SIGCHLD ignored the kernel reaps the child itself: waiting still works and
     * says the status is unknown instead of failing or hanging. */
    signal(SIGCHLD, SIG_IGN);
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    signal(SIGCHLD, SIG_DFL);
    assert_int_equal(st.unknown, 1);
    assert_int_equal(st.exited, 0);
    mproc_proc_free(p);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(spawn_true_exits_zero),
        cmocka_unit_test(spawn_missing_binary_fails_with_enoent),
        cmocka_unit_test(fork_function_exit_code),
        cmocka_unit_test(spawn_with_sigchld_ignored_reports_unknown),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
