/* State read from the kernel: running, sleeping, stopped, zombie, exited. */
#include "proc_util.h"

#include <signal.h>

static volatile unsigned long sink; /* keeps the busy loop from being optimised away */

static int spin(void *arg)
{
    (void)arg;
    for (;;)
        sink++;
    return 0;
}

static void state_running(void **state)
{
    (void)state;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, spin, NULL, NULL));
    /* Runnable (R) whether on a CPU or waiting for one; allow a moment to get there. */
    assert_int_equal(util_wait_state(p, MPROC_RUNNING, 2000), MPROC_RUNNING);
    mproc_proc_free(p);
}

static void state_sleeping(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_int_equal(util_wait_state(p, MPROC_SLEEPING, 2000), MPROC_SLEEPING);
    mproc_proc_free(p);
}

static void state_stopped(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_ok(mproc_proc_stop(p));
    assert_int_equal(util_wait_state(p, MPROC_STOPPED, 2000), MPROC_STOPPED);
    mproc_proc_free(p); /* a stopped child is killed and reaped too */
}

static void state_zombie_then_exited(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    struct pollfd pf = {.fd = mproc_proc_fd(p), .events = POLLIN, .revents = 0};
    assert_int_equal(poll(&pf, 1, 5000), 1);
    assert_int_equal(mproc_proc_state(p), MPROC_ZOMBIE); /* ended, not yet waited for */
    assert_ok(mproc_proc_wait(p, 0, NULL));
    assert_int_equal(mproc_proc_state(p), MPROC_EXITED);
    mproc_proc_free(p);
}

static void state_exited_when_reaped_elsewhere(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    int status;
    assert_int_equal(waitpid(mproc_proc_pid(p), &status, 0), mproc_proc_pid(p));
    assert_int_equal(mproc_proc_state(p), MPROC_EXITED);
    mproc_proc_free(p);
}

static void state_names(void **state)
{
    (void)state;
    assert_string_equal(mproc_state_name(MPROC_RUNNING), "running");
    assert_string_equal(mproc_state_name(MPROC_SLEEPING), "sleeping");
    assert_string_equal(mproc_state_name(MPROC_DISK_SLEEP), "disk-sleep");
    assert_string_equal(mproc_state_name(MPROC_STOPPED), "stopped");
    assert_string_equal(mproc_state_name(MPROC_ZOMBIE), "zombie");
    assert_string_equal(mproc_state_name(MPROC_EXITED), "exited");
    assert_string_equal(mproc_state_name(0), "unknown");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(state_running),
        cmocka_unit_test(state_sleeping),
        cmocka_unit_test(state_stopped),
        cmocka_unit_test(state_zombie_then_exited),
        cmocka_unit_test(state_exited_when_reaped_elsewhere),
        cmocka_unit_test(state_names),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
