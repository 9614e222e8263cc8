/* Waiting: timeouts, status fields (exit, signal, core dump), resource use, exitcode. */
#include "proc_util.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static void wait_times_out_then_succeeds(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "0.3", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_proc_wait(p, 50, NULL), MPROC_ETIMEDOUT);
    int64_t took = mproc_test_now_ms() - t0;
    assert_true(took >= 49);
    assert_true(took < 1000);
    assert_code(mproc_proc_wait(p, 0, NULL), MPROC_ETIMEDOUT);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 0);
}

static void wait_zero_polls_an_ended_child(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    struct pollfd pf = {.fd = mproc_proc_fd(p), .events = POLLIN, .revents = 0};
    assert_int_equal(poll(&pf, 1, 5000), 1); /* the pidfd is readable once it ended */
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 0, &st));
    mproc_proc_free(p);
    assert_int_equal(st.exited, 1);
}

static void wait_reports_exit_code(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "exit 42", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 42);
    assert_int_equal(st.signaled, 0);
    assert_int_equal(st.signal, 0);
    assert_int_equal(st.core_dumped, 0);
    assert_int_equal(st.unknown, 0);
    assert_int_equal(mproc_exitcode(&st), 42);
}

static void wait_reports_signal(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.exited, 0);
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGTERM);
    assert_int_equal(st.core_dumped, 0);
    assert_int_equal(mproc_exitcode(&st), -SIGTERM);
}

/* Removes every file in dir, then dir. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void wait_reports_core_dump(void **state)
{
    (void)state;
    /* The kernel sets the core-dumped flag only if a dump was actually written. With a
     * core_pattern that is a plain file name (as here: "core"), an unlimited RLIMIT_CORE
     * and a writable cwd, it is. A piped core_pattern (systemd-coredump, apport) decides
     * on its own: then only the signal is asserted, and the flag must agree with what
     * the kernel wrote into the wait status. */
    char pattern[256] = "";
    FILE *f = fopen("/proc/sys/kernel/core_pattern", "re");
    if (f) {
        if (!fgets(pattern, sizeof pattern, f))
            pattern[0] = '\0';
        fclose(f);
    }
    int plain = pattern[0] != '|' && pattern[0] != '/' && pattern[0] != '\0';
    char dir[] = "/tmp/mproc-core-XXXXXX";
    assert_non_null(mkdtemp(dir));
    mproc_rlimit rl = {RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY};
    mproc_opts o = {.rlimits = &rl, .rlimits_count = 1, .cwd = dir};
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "kill -QUIT $$", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    remove_dir(dir);
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGQUIT);
    if (plain)
        assert_int_equal(st.core_dumped, 1);
}

static void wait_no_core_dump_without_rlimit(void **state)
{
    (void)state;
    mproc_rlimit rl = {RLIMIT_CORE, 0, 0};
    mproc_opts o = {.rlimits = &rl, .rlimits_count = 1, .cwd = "/tmp"};
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "kill -QUIT $$", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGQUIT);
    assert_int_equal(st.core_dumped, 0);
}

static long long cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static volatile unsigned long sink; /* keeps the busy loop from being optimised away */

static int burn_user(void *arg)
{
    (void)arg;
    long long start = cpu_ms();
    while (cpu_ms() - start < 300)
        for (int i = 0; i < 100000; i++)
            sink += (unsigned long)i;
    return 0;
}

static void wait_reports_user_cpu_time(void **state)
{
    (void)state;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, burn_user, NULL, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    assert_true(st.user_us + st.sys_us >= 250000);
    assert_true(st.user_us >= 150000);
    assert_true(st.user_us + st.sys_us < 5000000);
}

static long long sys_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (long long)ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
}

static int burn_sys(void *arg)
{
    (void)arg;
    static char buf[1 << 20];
    int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    long long start = sys_ms(), wall = mproc_test_now_ms();
    /* reading /dev/zero is kernel work: run until 300 ms of it were spent (or 5 s) */
    while (sys_ms() - start < 300 && mproc_test_now_ms() - wall < 5000)
        if (read(fd, buf, sizeof buf) < 0)
            return 2;
    close(fd);
    return 0;
}

static void wait_reports_sys_cpu_time(void **state)
{
    (void)state;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, burn_sys, NULL, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.code, 0);
    if (st.sys_us < 250000)
        fail_msg("sys %lld us, user %lld us", st.sys_us, st.user_us);
}

static int allocate_mib(void *arg)
{
    size_t n = (size_t) * (int *)arg << 20;
    char *m = malloc(n);
    if (!m)
        return 1;
    volatile char *touch = m;
    for (size_t i = 0; i < n; i += 4096)
        touch[i] = 1;
    free(m);
    return 0;
}

static void wait_reports_max_rss(void **state)
{
    (void)state;
    /* A forked child starts with the parent's pages counted in its RSS, so compare a
     * child that allocates 96 MiB with one that allocates nothing. */
    int big = 96, none = 0;
    mproc_proc *p;
    mproc_status st_big, st_none;
    assert_ok(mproc_fork(&p, allocate_mib, &big, NULL));
    assert_ok(mproc_proc_wait(p, 10000, &st_big));
    mproc_proc_free(p);
    assert_ok(mproc_fork(&p, allocate_mib, &none, NULL));
    assert_ok(mproc_proc_wait(p, 10000, &st_none));
    mproc_proc_free(p);
    assert_int_equal(st_big.code, 0);
    assert_true(st_big.max_rss_kb >= 96 * 1024);
    assert_true(st_big.max_rss_kb - st_none.max_rss_kb >= 80 * 1024);
}

static void wait_again_returns_same_status(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "exit 9", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    mproc_status a, b, c;
    assert_ok(mproc_proc_wait(p, 5000, &a));
    assert_ok(mproc_proc_wait(p, 0, &b));
    assert_ok(mproc_proc_wait(p, -1, &c));
    mproc_proc_free(p);
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_equal(&a, &c, sizeof a);
    assert_int_equal(a.code, 9);
}

static void wait_with_null_status(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 0, &st)); /* still there afterwards */
    mproc_proc_free(p);
    assert_int_equal(st.exited, 1);
}

static void exitcode_convention(void **state)
{
    (void)state;
    mproc_status st = {0};
    st.exited = 1;
    st.code = 3;
    assert_int_equal(mproc_exitcode(&st), 3);
    memset(&st, 0, sizeof st);
    st.signaled = 1;
    st.signal = SIGKILL;
    assert_int_equal(mproc_exitcode(&st), -SIGKILL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(wait_times_out_then_succeeds),
        cmocka_unit_test(wait_zero_polls_an_ended_child),
        cmocka_unit_test(wait_reports_exit_code),
        cmocka_unit_test(wait_reports_signal),
        cmocka_unit_test(wait_reports_core_dump),
        cmocka_unit_test(wait_no_core_dump_without_rlimit),
        cmocka_unit_test(wait_reports_user_cpu_time),
        cmocka_unit_test(wait_reports_sys_cpu_time),
        cmocka_unit_test(wait_reports_max_rss),
        cmocka_unit_test(wait_again_returns_same_status),
        cmocka_unit_test(wait_with_null_status),
        cmocka_unit_test(exitcode_convention),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
