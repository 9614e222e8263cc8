/* Signals: send, terminate with a grace period, stop and continue, group signals. */
#include "proc_util.h"

#include <signal.h>

static void signal_is_delivered(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_ok(mproc_proc_signal(p, SIGUSR1));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGUSR1);
}

static void signal_zero_probes(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_ok(mproc_proc_signal(p, 0));
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    assert_code(mproc_proc_signal(p, 0), MPROC_ESRCH);
    assert_code(mproc_proc_signal(p, SIGKILL), MPROC_ESRCH);
    mproc_proc_free(p);
}

static int ignore_term(void *arg)
{
    (void)arg;
    signal(SIGTERM, SIG_IGN);
    for (;;)
        pause();
    return 0;
}

static void terminate_kills_after_grace_when_term_ignored(void **state)
{
    (void)state;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, ignore_term, NULL, NULL));
    usleep(50000); /* let it install SIG_IGN */
    int64_t t0 = mproc_test_now_ms();
    mproc_status st;
    assert_ok(mproc_proc_terminate(p, 300, &st));
    int64_t took = mproc_test_now_ms() - t0;
    mproc_proc_free(p);
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGKILL);
    assert_true(took >= 290);
    assert_true(took < 3000);
}

static void terminate_uses_sigterm_first(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "100", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    int64_t t0 = mproc_test_now_ms();
    mproc_status st;
    assert_ok(mproc_proc_terminate(p, 5000, &st));
    int64_t took = mproc_test_now_ms() - t0;
    mproc_proc_free(p);
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGTERM);
    assert_true(took < 2000);
}

static void terminate_zero_grace_kills_at_once(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "100", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    mproc_status st;
    assert_ok(mproc_proc_terminate(p, 0, &st));
    mproc_proc_free(p);
    assert_int_equal(st.signal, SIGKILL);
}

static void terminate_a_stopped_child(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "100", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_ok(mproc_proc_stop(p));
    assert_int_equal(util_wait_state(p, MPROC_STOPPED, 2000), MPROC_STOPPED);
    mproc_status st;
    assert_ok(mproc_proc_terminate(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.signal, SIGTERM); /* continued so that it could act on SIGTERM */
}

static void terminate_an_ended_child_returns_its_status(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "exit 4", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    assert_ok(mproc_proc_terminate(p, 100, &st));
    mproc_proc_free(p);
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 4);
}

static void stop_and_continue(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "100", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_ok(mproc_proc_stop(p));
    assert_int_equal(util_wait_state(p, MPROC_STOPPED, 2000), MPROC_STOPPED);
    assert_code(mproc_proc_wait(p, 50, NULL), MPROC_ETIMEDOUT); /* stopped is not ended */
    assert_ok(mproc_proc_continue(p));
    assert_int_equal(util_wait_state(p, MPROC_SLEEPING, 2000), MPROC_SLEEPING);
    mproc_proc_free(p);
}

/* Reads the first line the child writes on its piped stdout: a pid. */
static int read_pid_line(mproc_proc *p)
{
    char out[32];
    size_t len = 0;
    while (len == 0 || out[len - 1] != '\n') {
        ssize_t n = read(mproc_proc_stdio(p, 1), out + len, sizeof out - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
    out[len] = '\0';
    return atoi(out);
}

static void terminate_group_kills_grandchildren(void **state)
{
    (void)state;
    mproc_opts o = {.flags = MPROC_NEW_PGROUP};
    o.stdio[1].kind = MPROC_STDIO_PIPE;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "sleep 100 & echo $!; wait", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    int grandchild = read_pid_line(p);
    assert_true(grandchild > 0);
    assert_true(mproc_test_pid_alive(grandchild));
    assert_ok(mproc_proc_terminate(p, 2000, NULL));
    mproc_proc_free(p);
    assert_true(mproc_test_wait_gone(grandchild, 1000));
}

static void signal_group_reaches_grandchildren(void **state)
{
    (void)state;
    mproc_opts o = {.flags = MPROC_NEW_SESSION};
    o.stdio[1].kind = MPROC_STDIO_PIPE;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "sleep 100 & echo $!; wait", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    int grandchild = read_pid_line(p);
    assert_true(grandchild > 0);
    assert_ok(mproc_proc_signal_group(p, SIGKILL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.signal, SIGKILL);
    assert_true(mproc_test_wait_gone(grandchild, 1000));
}

static void free_kills_the_group(void **state)
{
    (void)state;
    mproc_opts o = {.flags = MPROC_NEW_PGROUP};
    o.stdio[1].kind = MPROC_STDIO_PIPE;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "sleep 100 & echo $!; wait", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    int grandchild = read_pid_line(p);
    assert_true(grandchild > 0);
    mproc_proc_free(p);
    assert_true(mproc_test_wait_gone(grandchild, 1000));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(signal_is_delivered),
        cmocka_unit_test(signal_zero_probes),
        cmocka_unit_test(terminate_kills_after_grace_when_term_ignored),
        cmocka_unit_test(terminate_uses_sigterm_first),
        cmocka_unit_test(terminate_zero_grace_kills_at_once),
        cmocka_unit_test(terminate_a_stopped_child),
        cmocka_unit_test(terminate_an_ended_child_returns_its_status),
        cmocka_unit_test(stop_and_continue),
        cmocka_unit_test(terminate_group_kills_grandchildren),
        cmocka_unit_test(signal_group_reaches_grandchildren),
        cmocka_unit_test(free_kills_the_group),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
