/* Bad input gets a clear error, never a crash or a hang, and nothing leaks (the harness
 * checks descriptors and children after every case). */
#include "proc_util.h"

#include <signal.h>
#include <sys/resource.h>

static int ret0(void *arg)
{
    (void)arg;
    return 0;
}

static void spawn_null_argv(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    assert_code(mproc_spawn(&p, NULL, NULL), MPROC_EINVAL);
    assert_null(p);
}

static void spawn_empty_argv(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    const char *argv[] = {NULL};
    assert_code(mproc_spawn(&p, argv, NULL), MPROC_EINVAL);
    const char *empty[] = {"", NULL};
    assert_code(mproc_spawn(&p, empty, NULL), MPROC_EINVAL);
    assert_null(p);
}

static void spawn_null_out(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/true", NULL};
    assert_code(mproc_spawn(NULL, argv, NULL), MPROC_EINVAL);
}

static void fork_null_out_or_fn(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    assert_code(mproc_fork(NULL, ret0, NULL, NULL), MPROC_EINVAL);
    assert_code(mproc_fork(&p, NULL, NULL, NULL), MPROC_EINVAL);
    assert_null(p);
}

static void unknown_flag_bits(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    mproc_opts o = {.flags = 0x100};
    const char *argv[] = {"/bin/true", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    assert_code(mproc_fork(&p, ret0, NULL, &o), MPROC_EINVAL);
    o.flags = MPROC_FLAGS_ALL + 1;
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    assert_null(p);
}

static void stdio_fd_not_open(void **state)
{
    (void)state;
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    close(fd);
    mproc_proc *p = NULL;
    const char *argv[] = {"/bin/true", NULL};
    for (int i = 0; i < 3; i++) {
        mproc_opts o = {0};
        o.stdio[i] = (mproc_stdio){MPROC_STDIO_FD, fd};
        assert_code(mproc_spawn(&p, argv, &o), MPROC_EBADF);
        assert_code(mproc_fork(&p, ret0, NULL, &o), MPROC_EBADF);
        o.stdio[i].fd = -1;
        assert_code(mproc_spawn(&p, argv, &o), MPROC_EBADF);
    }
    assert_null(p);
}

static void stdio_bad_kind(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    const char *argv[] = {"/bin/true", NULL};
    mproc_opts o = {0};
    o.stdio[1].kind = 99;
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    o.stdio[1].kind = -1;
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    o.stdio[1].kind = MPROC_STDIO_STDOUT; /* only stderr may follow stdout */
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    assert_null(p);
}

static void pass_fds_bad(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    const char *argv[] = {"/bin/true", NULL};
    int closed = fcntl(0, F_DUPFD_CLOEXEC, 3);
    close(closed);
    int std[] = {1};
    mproc_opts o = {.pass_fds = std, .pass_fds_count = 1};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL); /* 0..2 are set by stdio */
    o.pass_fds = &closed;
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EBADF);
    o.pass_fds = NULL;
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    assert_null(p);
}

static void rlimits_bad(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    const char *argv[] = {"/bin/true", NULL};
    mproc_rlimit rl = {RLIMIT_NOFILE, 100, 10}; /* soft above hard */
    mproc_opts o = {.rlimits = &rl, .rlimits_count = 1};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    rl = (mproc_rlimit){RLIM_NLIMITS, 1, 1};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    rl = (mproc_rlimit){-1, 1, 1};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    o.rlimits = NULL;
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    assert_null(p);
}

static void other_options_bad(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    const char *argv[] = {"/bin/true", NULL};
    mproc_opts o = {.kill_after_ms = -5};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    o = (mproc_opts){.nice = 100};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    char set[8] = {0};
    o = (mproc_opts){.cpu_set = set, .cpu_set_size = 0};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    assert_null(p);
}

static void empty_cpu_set_fails_at_affinity(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    mproc_failure f;
    char set[128] = {0}; /* no CPU at all */
    mproc_opts o = {.cpu_set = set, .cpu_set_size = sizeof set, .failure = &f};
    const char *argv[] = {"/bin/true", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EINVAL);
    assert_int_equal(f.stage, MPROC_STAGE_AFFINITY);
    assert_null(p);
}

static void negative_timeout(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_code(mproc_proc_wait(p, -2, NULL), MPROC_EINVAL);
    assert_code(mproc_proc_wait(p, -1000, NULL), MPROC_EINVAL);
    assert_code(mproc_proc_terminate(p, -1, NULL), MPROC_EINVAL);
    assert_code(mproc_proc_wait(p, 0, NULL), MPROC_ETIMEDOUT); /* still fine */
    mproc_proc_free(p);
}

static void signal_out_of_range(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_code(mproc_proc_signal(p, -1), MPROC_EINVAL);
    assert_code(mproc_proc_signal(p, _NSIG), MPROC_EINVAL);
    assert_code(mproc_proc_signal(p, 1000), MPROC_EINVAL);
    assert_code(mproc_proc_signal_group(p, -1), MPROC_EINVAL);
    assert_code(mproc_proc_signal_group(p, _NSIG), MPROC_EINVAL);
    assert_code(mproc_proc_wait(p, 100, NULL), MPROC_ETIMEDOUT); /* nothing was sent */
    mproc_proc_free(p);
}

static void wait_on_child_reaped_elsewhere(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    int status;
    assert_int_equal(waitpid(mproc_proc_pid(p), &status, 0), mproc_proc_pid(p));
    assert_int_equal(WEXITSTATUS(status), 3);
    mproc_status st;
    assert_code(mproc_proc_wait(p, 1000, &st), MPROC_ECHILD);
    assert_code(mproc_proc_wait(p, 0, &st), MPROC_ECHILD); /* and stays so */
    assert_code(mproc_proc_terminate(p, 100, &st), MPROC_ECHILD);
    assert_code(mproc_proc_signal(p, SIGTERM), MPROC_ESRCH);
    mproc_proc_free(p);
}

static void null_handle_everywhere(void **state)
{
    (void)state;
    mproc_status st;
    assert_code(mproc_proc_wait(NULL, 0, &st), MPROC_EINVAL);
    assert_code(mproc_proc_signal(NULL, SIGTERM), MPROC_EINVAL);
    assert_code(mproc_proc_signal_group(NULL, SIGTERM), MPROC_EINVAL);
    assert_code(mproc_proc_terminate(NULL, 0, &st), MPROC_EINVAL);
    assert_code(mproc_proc_stop(NULL), MPROC_EINVAL);
    assert_code(mproc_proc_continue(NULL), MPROC_EINVAL);
    assert_code(mproc_proc_state(NULL), MPROC_EINVAL);
    assert_int_equal(mproc_proc_pid(NULL), -1);
    assert_int_equal(mproc_proc_fd(NULL), -1);
    assert_int_equal(mproc_proc_stdio(NULL, 1), -1);
    assert_int_equal(mproc_proc_take_stdio(NULL, 1), -1);
    assert_code(mproc_proc_close_stdio(NULL, 1), MPROC_EINVAL);
    assert_int_equal(mproc_exitcode(NULL), 0);
    mproc_proc_free(NULL);
}

static void stdio_accessors_bad_index(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_int_equal(mproc_proc_stdio(p, 3), -1);
    assert_int_equal(mproc_proc_stdio(p, -1), -1);
    assert_int_equal(mproc_proc_take_stdio(p, 3), -1);
    assert_code(mproc_proc_close_stdio(p, 3), MPROC_EINVAL);
    assert_code(mproc_proc_close_stdio(p, 1), MPROC_EBADF); /* not piped */
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

static void take_stdio_transfers_ownership(void **state)
{
    (void)state;
    mproc_opts o = {0};
    o.stdio[1].kind = MPROC_STDIO_PIPE;
    mproc_proc *p;
    const char *argv[] = {"/bin/echo", "taken", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    int fd = mproc_proc_take_stdio(p, 1);
    assert_true(fd >= 0);
    assert_int_equal(mproc_proc_stdio(p, 1), -1);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
    char out[32];
    assert_int_equal(util_read_all(fd, out, sizeof out, 5000), 6); /* still open: ours */
    close(fd);
    assert_string_equal(out, "taken\n");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(spawn_null_argv),
        cmocka_unit_test(spawn_empty_argv),
        cmocka_unit_test(spawn_null_out),
        cmocka_unit_test(fork_null_out_or_fn),
        cmocka_unit_test(unknown_flag_bits),
        cmocka_unit_test(stdio_fd_not_open),
        cmocka_unit_test(stdio_bad_kind),
        cmocka_unit_test(pass_fds_bad),
        cmocka_unit_test(rlimits_bad),
        cmocka_unit_test(other_options_bad),
        cmocka_unit_test(empty_cpu_set_fails_at_affinity),
        cmocka_unit_test(negative_timeout),
        cmocka_unit_test(signal_out_of_range),
        cmocka_unit_test(wait_on_child_reaped_elsewhere),
        cmocka_unit_test(null_handle_everywhere),
        cmocka_unit_test(stdio_accessors_bad_index),
        cmocka_unit_test(take_stdio_transfers_ownership),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
