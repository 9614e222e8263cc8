/* Setup and exec failures come back from mproc_spawn / mproc_fork themselves, with the
 * stage and the errno, never as a child that exits 127. */
#include "proc_util.h"

#include <sys/resource.h>
#include <sys/stat.h>

static int never_runs(void *arg)
{
    (void)arg;
    return 0;
}

static void spawn_missing_binary(void **state)
{
    (void)state;
    mproc_proc *p = (mproc_proc *)&p; /* must be reset to NULL */
    mproc_failure f;
    mproc_opts o = {.failure = &f};
    const char *argv[] = {"/nonexistent/mproc-binary", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_ENOENT);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_EXEC);
    assert_int_equal(f.error, MPROC_ENOENT);
}

static void spawn_directory_is_eacces(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f};
    const char *argv[] = {"/tmp", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EACCES);
    assert_int_equal(f.stage, MPROC_STAGE_EXEC);
}

static void spawn_exec_format_error_is_enoexec(void **state)
{
    (void)state;
    /* An executable file the kernel cannot run: no fallback to /bin/sh (unlike execvp). */
    char path[] = "/tmp/mproc-noexec-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x01\x02garbage", 9), 9);
    close(fd);
    assert_int_equal(chmod(path, 0755), 0);
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f};
    const char *argv[] = {path, NULL};
    int rc = mproc_spawn(&p, argv, &o);
    unlink(path);
    assert_code(rc, MPROC_ENOEXEC);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_EXEC);
}

static void spawn_bad_cwd_is_chdir_stage(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f, .cwd = "/nonexistent/mproc-dir"};
    const char *argv[] = {"/bin/true", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_ENOENT);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_CHDIR);
    assert_int_equal(f.error, MPROC_ENOENT);
    assert_string_equal(mproc_stage_name(f.stage), "chdir");
}

static void spawn_cwd_not_a_directory(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f, .cwd = "/bin/sh"};
    const char *argv[] = {"/bin/true", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_ENOTDIR);
    assert_int_equal(f.stage, MPROC_STAGE_CHDIR);
}

static void spawn_bad_stdio_fd_is_ebadf_before_clone(void **state)
{
    (void)state;
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    close(fd); /* a number that is certainly not open */
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f};
    o.stdio[1] = (mproc_stdio){MPROC_STDIO_FD, fd};
    const char *argv[] = {"/bin/true", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EBADF);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_NONE); /* found in the parent, no child made */
    assert_int_equal(f.error, MPROC_EBADF);
}

static void spawn_rlimit_failure_is_rlimit_stage(void **state)
{
    (void)state;
    /* RLIMIT_NOFILE above fs.nr_open fails with EPERM even for root. */
    mproc_rlimit rl = {RLIMIT_NOFILE, 1ull << 40, 1ull << 40};
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f, .rlimits = &rl, .rlimits_count = 1};
    const char *argv[] = {"/bin/true", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_EPERM);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_RLIMIT);
    assert_int_equal(f.error, MPROC_EPERM);
}

static void spawn_exit_127_is_a_real_exit(void **state)
{
    (void)state;
    /* A command that exits 127 by itself is not an exec failure. */
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f};
    const char *argv[] = {"/bin/sh", "-c", "exit 127", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    assert_int_equal(f.stage, MPROC_STAGE_NONE);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.code, 127);
}

static void fork_bad_cwd_is_chdir_stage(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f, .cwd = "/nonexistent/mproc-dir"};
    assert_code(mproc_fork(&p, never_runs, NULL, &o), MPROC_ENOENT);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_CHDIR);
    assert_int_equal(f.error, MPROC_ENOENT);
}

static void fork_rlimit_failure_is_rlimit_stage(void **state)
{
    (void)state;
    mproc_rlimit rl = {RLIMIT_NOFILE, 1ull << 40, 1ull << 40};
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f, .rlimits = &rl, .rlimits_count = 1};
    assert_code(mproc_fork(&p, never_runs, NULL, &o), MPROC_EPERM);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_RLIMIT);
}

static void failure_record_cleared_on_success(void **state)
{
    (void)state;
    mproc_failure f = {MPROC_STAGE_EXEC, MPROC_ENOENT};
    mproc_opts o = {.failure = &f};
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    assert_int_equal(f.stage, MPROC_STAGE_NONE);
    assert_int_equal(f.error, 0);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

static void stage_names(void **state)
{
    (void)state;
    assert_string_equal(mproc_stage_name(MPROC_STAGE_NONE), "none");
    assert_string_equal(mproc_stage_name(MPROC_STAGE_DUP2), "dup2");
    assert_string_equal(mproc_stage_name(MPROC_STAGE_RLIMIT), "rlimit");
    assert_string_equal(mproc_stage_name(MPROC_STAGE_EXEC), "exec");
    assert_string_equal(mproc_stage_name(-1), "unknown");
    assert_string_equal(mproc_stage_name(1000), "unknown");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(spawn_missing_binary),
        cmocka_unit_test(spawn_directory_is_eacces),
        cmocka_unit_test(spawn_exec_format_error_is_enoexec),
        cmocka_unit_test(spawn_bad_cwd_is_chdir_stage),
        cmocka_unit_test(spawn_cwd_not_a_directory),
        cmocka_unit_test(spawn_bad_stdio_fd_is_ebadf_before_clone),
        cmocka_unit_test(spawn_rlimit_failure_is_rlimit_stage),
        cmocka_unit_test(spawn_exit_127_is_a_real_exit),
        cmocka_unit_test(fork_bad_cwd_is_chdir_stage),
        cmocka_unit_test(fork_rlimit_failure_is_rlimit_stage),
        cmocka_unit_test(failure_record_cleared_on_success),
        cmocka_unit_test(stage_names),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
