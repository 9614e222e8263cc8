/* EINTR: with a SIGALRM handler (no SA_RESTART) firing every 100 us, every blocking call
 * of the process core still honours its deadline and returns the right result. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;
static struct sigaction old_alrm;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static void storm_start(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls fail with EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old_alrm);
    alarms = 0;
    struct itimerval it = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void storm_stop(void)
{
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
    /* A SIGALRM already raised may still be pending (valgrind, for one, delivers signals
     * late): take it while our handler is in place, before the default one comes back. */
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, &old);
    const struct timespec zero = {0, 0};
    while (sigtimedwait(&alrm, NULL, &zero) == SIGALRM)
        ;
    sigaction(SIGALRM, &old_alrm, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void wait_honours_deadline_under_signals(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    storm_start();
    int64_t t0 = mproc_test_now_ms();
    int rc = mproc_proc_wait(p, 300, NULL);
    int64_t took = mproc_test_now_ms() - t0;
    storm_stop();
    mproc_proc_free(p);
    assert_code(rc, MPROC_ETIMEDOUT);
    assert_true(took >= 299);
    assert_true(took < 1500);
    assert_true(alarms > 100); /* the calls really were interrupted */
}

static void wait_forever_returns_status_under_signals(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "sleep 0.3; exit 6", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    storm_start();
    mproc_status st;
    int rc = mproc_proc_wait(p, -1, &st);
    storm_stop();
    mproc_proc_free(p);
    assert_ok(rc);
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 6);
    assert_true(alarms > 100);
}

static int ret11(void *arg)
{
    (void)arg;
    return 11;
}

static void spawn_and_fork_under_signals(void **state)
{
    (void)state;
    storm_start();
    int bad = 0;
    const char *argv[] = {"/bin/sh", "-c", "exit 2", NULL};
    mproc_opts with_report = {.cwd = "/"}; /* makes mproc_fork read a setup report */
    for (int i = 0; i < 20 && !bad; i++) {
        mproc_proc *p;
        mproc_status st;
        if (mproc_spawn(&p, argv, NULL) != 0)
            bad = 1;
        else if (mproc_proc_wait(p, 5000, &st) != 0 || st.code != 2)
            bad = 2;
        if (p)
            mproc_proc_free(p);
        p = NULL;
        if (!bad && mproc_fork(&p, ret11, NULL, (i & 1) ? &with_report : NULL) != 0)
            bad = 3;
        else if (!bad && (mproc_proc_wait(p, 5000, &st) != 0 || st.code != 11))
            bad = 4;
        mproc_proc_free(p);
    }
    storm_stop();
    assert_int_equal(bad, 0);
}

static void spawn_failure_reported_under_signals(void **state)
{
    (void)state;
    storm_start();
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f, .cwd = "/nonexistent"};
    const char *argv[] = {"/bin/true", NULL};
    int rc1 = mproc_spawn(&p, argv, &o);
    int rc2 = mproc_fork(&p, ret11, NULL, &o);
    storm_stop();
    assert_code(rc1, MPROC_ENOENT);
    assert_code(rc2, MPROC_ENOENT);
    assert_int_equal(f.stage, MPROC_STAGE_CHDIR);
}

static int ignore_term(void *arg)
{
    (void)arg;
    signal(SIGTERM, SIG_IGN);
    for (;;)
        pause();
    return 0;
}

static void terminate_honours_grace_under_signals(void **state)
{
    (void)state;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, ignore_term, NULL, NULL));
    usleep(50000);
    storm_start();
    int64_t t0 = mproc_test_now_ms();
    mproc_status st;
    int rc = mproc_proc_terminate(p, 200, &st);
    int64_t took = mproc_test_now_ms() - t0;
    storm_stop();
    mproc_proc_free(p);
    assert_ok(rc);
    assert_int_equal(st.signal, SIGKILL);
    assert_true(took >= 199);
    assert_true(took < 1500);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(wait_honours_deadline_under_signals),
        cmocka_unit_test(wait_forever_returns_status_under_signals),
        cmocka_unit_test(spawn_and_fork_under_signals),
        cmocka_unit_test(spawn_failure_reported_under_signals),
        cmocka_unit_test(terminate_honours_grace_under_signals),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
