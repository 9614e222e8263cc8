/* The guarantees of the process core, each with a test that fails without it: no zombie
 * outlives its handle; no SIGCHLD handler and no waitpid(-1); inherited SIGCHLD=SIG_IGN
 * handled; children die with the parent process but not with the spawning thread;
 * detached children survive; subreaper mode; only fds 0, 1, 2 and pass_fds reach a
 * spawned child, closed with close_range; spawn cost flat as the parent grows. */
#include "proc_util.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/* ---- no zombie outlives its handle -------------------------------------------------- */

static void free_running_spawned_child_kills_and_reaps(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "100", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    int pid = mproc_proc_pid(p);
    assert_int_not_equal(util_stat_letter(pid), 0);
    mproc_proc_free(p);
    assert_int_equal(util_stat_letter(pid), 0); /* not even a zombie, at once */
}

static int pause_forever(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

static void free_running_forked_child_kills_and_reaps(void **state)
{
    (void)state;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, pause_forever, NULL, NULL));
    int pid = mproc_proc_pid(p);
    mproc_proc_free(p);
    assert_int_equal(util_stat_letter(pid), 0);
}

static void free_ended_child_leaves_no_zombie(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    int pid = mproc_proc_pid(p);
    struct pollfd pf = {.fd = mproc_proc_fd(p), .events = POLLIN, .revents = 0};
    assert_int_equal(poll(&pf, 1, 5000), 1);
    assert_int_equal(util_stat_letter(pid), 'Z');
    mproc_proc_free(p); /* never waited for */
    assert_int_equal(util_stat_letter(pid), 0);
}

/* ---- no SIGCHLD handler, no waitpid(-1) --------------------------------------------- */

static int ret5(void *arg)
{
    (void)arg;
    return 5;
}

static void exercise_api(void)
{
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
    assert_ok(mproc_fork(&p, ret5, NULL, NULL));
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
    const char *sleep_argv[] = {"/bin/sleep", "100", NULL};
    assert_ok(mproc_spawn(&p, sleep_argv, NULL));
    assert_ok(mproc_proc_terminate(p, 1000, NULL));
    mproc_proc_free(p);
}

static void no_signal_disposition_or_mask_is_changed(void **state)
{
    (void)state;
    struct sigaction before[_NSIG], after[_NSIG];
    sigset_t mask_before, mask_after;
    memset(before, 0, sizeof before); /* glibc refuses to show its own 32 and 33 */
    memset(after, 0, sizeof after);
    for (int s = 1; s < _NSIG; s++)
        sigaction(s, NULL, &before[s]);
    pthread_sigmask(SIG_SETMASK, NULL, &mask_before);
    exercise_api();
    for (int s = 1; s < _NSIG; s++)
        sigaction(s, NULL, &after[s]);
    pthread_sigmask(SIG_SETMASK, NULL, &mask_after);
    for (int s = 1; s < _NSIG; s++) {
        if (before[s].sa_handler != after[s].sa_handler)
            fail_msg("signal %d: handler changed", s);
        assert_int_equal(before[s].sa_flags, after[s].sa_flags);
    }
    assert_memory_equal(&mask_before, &mask_after, sizeof mask_before);
    assert_true(after[SIGCHLD].sa_handler == SIG_DFL);
}

static volatile sig_atomic_t chld_seen;
static volatile sig_atomic_t chld_pid_seen;

static void on_sigchld(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    chld_seen++;
    chld_pid_seen = si->si_pid;
}

static void app_sigchld_handler_and_waitpid_work_beside_mproc(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigchld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, &old);
    chld_seen = 0;

    /* mproc children around the application's own child */
    mproc_proc *a, *b;
    const char *argv[] = {"/bin/sleep", "0.2", NULL};
    assert_ok(mproc_spawn(&a, argv, NULL));
    assert_ok(mproc_fork(&b, ret5, NULL, NULL));
    pid_t own = fork();
    if (own == 0)
        _exit(17);
    assert_true(own > 0);
    int status = 0;
    pid_t got = waitpid(own, &status, 0);
    int seen_for_own = chld_seen > 0;
    mproc_status sa_st, sb_st;
    int ra = mproc_proc_wait(a, 5000, &sa_st);
    int rb = mproc_proc_wait(b, 5000, &sb_st);
    mproc_proc_free(a);
    mproc_proc_free(b);
    sigaction(SIGCHLD, &old, NULL);

    assert_int_equal(got, own);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 17);
    assert_true(seen_for_own);
    assert_ok(ra);
    assert_ok(rb);
    assert_int_equal(sa_st.code, 0);
    assert_int_equal(sb_st.code, 5);
}

/* ---- inherited SIGCHLD = SIG_IGN ----------------------------------------------------- */

static int ret7(void *arg)
{
    (void)arg;
    return 7;
}

static void sigchld_ignored_forked_function_keeps_its_code(void **state)
{
    (void)state;
    signal(SIGCHLD, SIG_IGN);
    /* Many quick children: each may be gone before mproc_fork has its pidfd. */
    int bad = 0;
    for (int i = 0; i < 20; i++) {
        mproc_proc *p;
        mproc_status st;
        int rc = mproc_fork(&p, ret7, NULL, NULL);
        if (rc != 0) {
            bad = rc;
            break;
        }
        rc = mproc_proc_wait(p, 5000, &st);
        mproc_proc_free(p);
        if (rc != 0 || !st.exited || st.code != 7 || st.unknown) {
            bad = rc ? rc : -1;
            break;
        }
    }
    signal(SIGCHLD, SIG_DFL);
    assert_ok(bad);
}

static void sigchld_ignored_wait_forever_keeps_the_code(void **state)
{
    (void)state;
    signal(SIGCHLD, SIG_IGN);
    /* A wait with no deadline blocks in waitid, which says ECHILD once the kernel has
     * reaped the child: the code comes from the shared word. */
    int bad = 0;
    for (int i = 0; i < 5 && !bad; i++) {
        mproc_proc *p;
        mproc_status st;
        int rc = mproc_fork(&p, ret7, NULL, NULL);
        if (rc != 0) {
            bad = rc;
            break;
        }
        rc = mproc_proc_wait(p, -1, &st);
        mproc_proc_free(p);
        if (rc != 0 || !st.exited || st.code != 7 || st.unknown)
            bad = rc ? rc : -1;
    }
    signal(SIGCHLD, SIG_DFL);
    assert_ok(bad);
}

static int nap_then_3(void *arg)
{
    (void)arg;
    usleep(100000);
    return 3;
}

static void sigchld_ignored_after_fork_wait_forever_returns(void **state)
{
    (void)state;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, nap_then_3, NULL, NULL));
    /* Ignored only now: the kernel reaps the child while we block in waitid. */
    signal(SIGCHLD, SIG_IGN);
    mproc_status st;
    int rc = mproc_proc_wait(p, -1, &st);
    signal(SIGCHLD, SIG_DFL);
    mproc_proc_free(p);
    assert_ok(rc);
    assert_int_equal(st.unknown, 1);
    assert_int_equal(st.exited, 0);
}

static int die_by_signal(void *arg)
{
    (void)arg;
    signal(SIGUSR1, SIG_DFL);
    raise(SIGUSR1);
    return 0;
}

static void sigchld_ignored_forked_function_killed_is_unknown(void **state)
{
    (void)state;
    signal(SIGCHLD, SIG_IGN);
    mproc_proc *p;
    mproc_status st;
    int rc = mproc_fork(&p, die_by_signal, NULL, NULL);
    if (rc == 0) {
        rc = mproc_proc_wait(p, 5000, &st);
        mproc_proc_free(p);
    }
    signal(SIGCHLD, SIG_DFL);
    assert_ok(rc);
    assert_int_equal(st.unknown, 1);
    assert_int_equal(st.exited, 0);
    assert_int_equal(st.signaled, 0);
}

static void sigchld_ignored_spawn_is_unknown(void **state)
{
    (void)state;
    signal(SIGCHLD, SIG_IGN);
    mproc_proc *p;
    mproc_status st;
    const char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    int rc = mproc_spawn(&p, argv, NULL);
    if (rc == 0) {
        rc = mproc_proc_wait(p, 5000, &st);
        mproc_proc_free(p);
    }
    signal(SIGCHLD, SIG_DFL);
    assert_ok(rc);
    assert_int_equal(st.unknown, 1);
    assert_int_equal(st.exited, 0);
}

static void sa_nocldwait_is_handled_like_sig_ign(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &sa, &old);
    mproc_proc *p, *q;
    mproc_status st, fst;
    const char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    int rc = mproc_spawn(&p, argv, NULL);
    if (rc == 0) {
        rc = mproc_proc_wait(p, 5000, &st);
        mproc_proc_free(p);
    }
    int frc = mproc_fork(&q, ret7, NULL, NULL);
    if (frc == 0) {
        frc = mproc_proc_wait(q, 5000, &fst);
        mproc_proc_free(q);
    }
    sigaction(SIGCHLD, &old, NULL);
    assert_ok(rc);
    assert_int_equal(st.unknown, 1);
    assert_ok(frc);
    assert_int_equal(fst.code, 7);
}

static void sigchld_ignored_state_and_terminate_work(void **state)
{
    (void)state;
    signal(SIGCHLD, SIG_IGN);
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "100", NULL};
    int rc = mproc_spawn(&p, argv, NULL);
    int s1 = rc == 0 ? util_wait_state(p, MPROC_SLEEPING, 2000) : 0;
    mproc_status st;
    int trc = rc == 0 ? mproc_proc_terminate(p, 2000, &st) : rc;
    int s2 = rc == 0 ? mproc_proc_state(p) : 0;
    if (rc == 0)
        mproc_proc_free(p);
    signal(SIGCHLD, SIG_DFL);
    assert_ok(rc);
    assert_int_equal(s1, MPROC_SLEEPING);
    assert_ok(trc);
    assert_int_equal(st.unknown, 1);
    assert_int_equal(s2, MPROC_EXITED);
}

static void sigchld_ignored_free_kills_and_leaves_nothing(void **state)
{
    (void)state;
    signal(SIGCHLD, SIG_IGN);
    mproc_proc *p, *q;
    const char *argv[] = {"/bin/sleep", "100", NULL};
    int rc = mproc_spawn(&p, argv, NULL);
    int frc = mproc_fork(&q, pause_forever, NULL, NULL);
    int pid = rc == 0 ? mproc_proc_pid(p) : 0, fpid = frc == 0 ? mproc_proc_pid(q) : 0;
    if (rc == 0)
        mproc_proc_free(p);
    if (frc == 0)
        mproc_proc_free(q);
    char left = pid ? util_stat_letter(pid) : 0, fleft = fpid ? util_stat_letter(fpid) : 0;
    signal(SIGCHLD, SIG_DFL);
    assert_ok(rc);
    assert_ok(frc);
    assert_int_equal(left, 0);
    assert_int_equal(fleft, 0);
}

/* ---- parent death -------------------------------------------------------------------- */

/* Forks a helper process (a plain fork: the helper is ours, not mproc's) that runs fn and
 * writes an int to a pipe. Returns the helper's pid; *value gets what it wrote. */
static pid_t start_helper(void (*fn)(int wfd), int *value)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t h = fork();
    if (h == 0) {
        close(fds[0]);
        fn(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    *value = -1;
    if (h > 0 && read(fds[0], value, sizeof *value) != (ssize_t)sizeof *value)
        *value = -1;
    close(fds[0]);
    return h;
}

static void helper_spawn_sleep(int wfd)
{
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "100", NULL};
    if (mproc_spawn(&p, argv, NULL) != 0)
        _exit(1);
    int pid = mproc_proc_pid(p);
    if (write(wfd, &pid, sizeof pid) != (ssize_t)sizeof pid)
        _exit(2);
    for (;;)
        pause();
}

static void child_dies_when_parent_is_killed(void **state)
{
    (void)state;
    int child = -1;
    pid_t helper = start_helper(helper_spawn_sleep, &child);
    assert_true(helper > 0);
    assert_true(child > 0);
    assert_true(mproc_test_pid_alive(child));
    kill(helper, SIGKILL);
    assert_int_equal(waitpid(helper, NULL, 0), helper);
    assert_true(mproc_test_wait_gone(child, 1000));
}

static void helper_fork_pause(int wfd)
{
    mproc_proc *p;
    if (mproc_fork(&p, pause_forever, NULL, NULL) != 0)
        _exit(1);
    int pid = mproc_proc_pid(p);
    if (write(wfd, &pid, sizeof pid) != (ssize_t)sizeof pid)
        _exit(2);
    for (;;)
        pause();
}

static void forked_child_dies_when_parent_is_killed(void **state)
{
    (void)state;
    int child = -1;
    pid_t helper = start_helper(helper_fork_pause, &child);
    assert_true(helper > 0);
    assert_true(child > 0);
    kill(helper, SIGKILL);
    assert_int_equal(waitpid(helper, NULL, 0), helper);
    assert_true(mproc_test_wait_gone(child, 1000));
}

/* Counts live processes (not zombies) whose command line is exactly argv0 + arg1, and
 * SIGKILLs them if kill_them (so a failing run leaves nothing behind). */
static int count_cmdline(const char *argv0, const char *arg1, int kill_them)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    char want[128];
    size_t wlen = (size_t)snprintf(want, sizeof want, "%s%c%s", argv0, '\0', arg1) + 1;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[128];
        snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        close(fd);
        if (n == (ssize_t)wlen && memcmp(buf, want, wlen) == 0 && mproc_test_pid_alive(pid)) {
            count++;
            if (kill_them)
                kill(pid, SIGKILL);
        }
    }
    closedir(d);
    return count;
}

static char race_arg[32];

static void helper_spawn_many(int wfd)
{
    int ready = 1;
    if (write(wfd, &ready, sizeof ready) != (ssize_t)sizeof ready)
        _exit(2);
    const char *argv[] = {"/bin/sleep", race_arg, NULL};
    for (int i = 0; i < 200; i++) {
        mproc_proc *p;
        if (mproc_spawn(&p, argv, NULL) != 0)
            _exit(1);
    }
    for (;;)
        pause();
}

static void parent_killed_while_spawning_leaves_no_child(void **state)
{
    (void)state;
    /* The parent dies at arbitrary points of spawning: whether before or after a child
     * armed PR_SET_PDEATHSIG, no child may survive it. */
    snprintf(race_arg, sizeof race_arg, "%d.%d", 1000 + (int)(getpid() % 1000), 271828);
    for (int round = 0; round < 5; round++) {
        int ready;
        pid_t helper = start_helper(helper_spawn_many, &ready);
        assert_true(helper > 0);
        usleep((useconds_t)(1000 + round * 3000));
        kill(helper, SIGKILL);
        assert_int_equal(waitpid(helper, NULL, 0), helper);
    }
    int64_t end = mproc_test_now_ms() + 2000;
    int left;
    while ((left = count_cmdline("/bin/sleep", race_arg, 0)) > 0 && mproc_test_now_ms() < end)
        usleep(10000);
    if (left > 0)
        count_cmdline("/bin/sleep", race_arg, 1);
    assert_int_equal(left, 0);
}

/* ---- the spawning thread exits, the child stays -------------------------------------- */

static void *spawn_on_thread(void *arg)
{
    mproc_proc **out = arg;
    const char *argv[] = {"/bin/sleep", "100", NULL};
    if (mproc_spawn(out, argv, NULL) != 0)
        *out = NULL;
    return NULL;
}

static void child_survives_the_spawning_thread(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, spawn_on_thread, &p), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_non_null(p);
    usleep(500000);
    int pid = mproc_proc_pid(p);
    char letter = util_stat_letter(pid);
    assert_code(mproc_proc_wait(p, 0, NULL), MPROC_ETIMEDOUT);
    mproc_proc_free(p);
    assert_int_equal(letter, 'S');
}

static void *fork_on_thread(void *arg)
{
    mproc_proc **out = arg;
    if (mproc_fork(out, pause_forever, NULL, NULL) != 0)
        *out = NULL;
    return NULL;
}

static void forked_child_survives_the_forking_thread(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fork_on_thread, &p), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_non_null(p);
    usleep(500000);
    char letter = util_stat_letter(mproc_proc_pid(p));
    mproc_proc_free(p);
    assert_int_equal(letter, 'S');
}

static void *spawn_many_on_thread(void *arg)
{
    int *failures = arg;
    const char *argv[] = {"/bin/true", NULL};
    for (int i = 0; i < 20; i++) {
        mproc_proc *p;
        mproc_status st;
        if (mproc_spawn(&p, argv, NULL) != 0 || mproc_proc_wait(p, 5000, &st) != 0 || st.code != 0)
            __atomic_add_fetch(failures, 1, __ATOMIC_RELAXED);
        mproc_proc_free(p);
    }
    return NULL;
}

static void spawn_from_many_threads_at_once(void **state)
{
    (void)state;
    pthread_t t[4];
    int failures = 0;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, spawn_many_on_thread, &failures), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(failures, 0);
}

/* ---- detached ------------------------------------------------------------------------ */

static void helper_spawn_detached(int wfd)
{
    mproc_proc *p;
    mproc_opts o = {.flags = MPROC_DETACHED};
    const char *argv[] = {"/bin/sleep", "100", NULL};
    if (mproc_spawn(&p, argv, &o) != 0)
        _exit(1);
    int pid = mproc_proc_pid(p);
    if (write(wfd, &pid, sizeof pid) != (ssize_t)sizeof pid)
        _exit(2);
    _exit(0); /* the parent is gone now */
}

static void detached_child_survives_its_parent(void **state)
{
    (void)state;
    int child = -1;
    pid_t helper = start_helper(helper_spawn_detached, &child);
    assert_true(helper > 0);
    assert_true(child > 0);
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    assert_true(pidfd >= 0);
    assert_int_equal(waitpid(helper, NULL, 0), helper);
    usleep(300000);
    int alive = mproc_test_pid_alive(child);
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0); /* clean up */
    close(pidfd);
    assert_true(alive);
    assert_true(mproc_test_wait_gone(child, 2000));
}

static void detached_child_is_not_ours(void **state)
{
    (void)state;
    mproc_proc *p;
    mproc_opts o = {.flags = MPROC_DETACHED};
    const char *argv[] = {"/bin/sleep", "100", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    int pid = mproc_proc_pid(p);
    long long ppid = util_stat_field(pid, 4);
    int sid = getsid(pid);
    int wait_rc = mproc_proc_wait(p, 0, NULL);
    int state_alive = util_wait_state(p, MPROC_SLEEPING, 2000);
    int sig_rc = mproc_proc_signal(p, SIGKILL);
    mproc_status st;
    int rc = mproc_proc_wait(p, 5000, &st); /* sees its end, not its status */
    int state_ended = mproc_proc_state(p);
    mproc_proc_free(p);
    assert_true(ppid != getpid()); /* reparented at once: never our zombie */
    assert_int_equal(sid, pid);    /* its own session */
    assert_code(wait_rc, MPROC_ETIMEDOUT);
    assert_int_equal(state_alive, MPROC_SLEEPING);
    assert_ok(sig_rc);
    assert_ok(rc);
    assert_int_equal(st.unknown, 1);
    assert_int_equal(state_ended, MPROC_EXITED);
    assert_true(mproc_test_wait_gone(pid, 2000));
}

static void detached_free_does_not_kill(void **state)
{
    (void)state;
    mproc_proc *p;
    mproc_opts o = {.flags = MPROC_DETACHED};
    const char *argv[] = {"/bin/sleep", "100", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    int pid = mproc_proc_pid(p);
    int pidfd = fcntl(mproc_proc_fd(p), F_DUPFD_CLOEXEC, 3);
    mproc_proc_free(p);
    usleep(100000);
    int alive = mproc_test_pid_alive(pid);
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    close(pidfd);
    assert_true(alive);
    assert_true(mproc_test_wait_gone(pid, 2000));
}

/* ---- subreaper ----------------------------------------------------------------------- */

static void helper_subreaper(int wfd)
{
    /* Runs in its own process: subreaper mode is process-wide. Exit codes say what
     * failed; 0 is success. */
    int result = 0;
    if (mproc_subreaper_enable() != 0)
        _exit(1);
    mproc_proc *keeper, *sh;
    const char *keep_argv[] = {"/bin/sleep", "100", NULL};
    if (mproc_spawn(&keeper, keep_argv, NULL) != 0)
        _exit(2);
    mproc_opts o = {0};
    o.stdio[1].kind = MPROC_STDIO_PIPE;
    const char *argv[] = {"/bin/sh", "-c", "sleep 0.2 & echo $!", NULL};
    if (mproc_spawn(&sh, argv, &o) != 0)
        _exit(3);
    char out[32];
    ssize_t n = read(mproc_proc_stdio(sh, 1), out, sizeof out - 1);
    if (n <= 0 || mproc_proc_wait(sh, 5000, NULL) != 0)
        _exit(4);
    out[n] = '\0';
    int orphan = atoi(out);
    mproc_proc_free(sh);
    if (getpid() != (pid_t)util_stat_field(orphan, 4)) /* adopted by us */
        _exit(5);
    int reaped = 0;
    int64_t end = mproc_test_now_ms() + 5000;
    while (reaped == 0 && mproc_test_now_ms() < end) {
        int r = mproc_reap_orphans();
        if (r < 0)
            _exit(6);
        reaped += r;
        usleep(10000);
    }
    if (reaped != 1 || util_stat_letter(orphan) != 0)
        result = 7;
    /* the mproc child was not touched */
    if (mproc_proc_wait(keeper, 0, NULL) != MPROC_ETIMEDOUT)
        result = 8;
    mproc_proc_free(keeper);
    if (write(wfd, &result, sizeof result) != (ssize_t)sizeof result)
        _exit(9);
    _exit(result);
}

static void subreaper_reaps_orphaned_grandchildren(void **state)
{
    (void)state;
    int result = -1;
    pid_t helper = start_helper(helper_subreaper, &result);
    assert_true(helper > 0);
    int status;
    assert_int_equal(waitpid(helper, &status, 0), helper);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(result, 0);
}

/* ---- descriptors --------------------------------------------------------------------- */

/* Runs ls /proc/self/fd in a spawned child; fills fds[] with what it lists. */
static int child_fd_list(const int *pass, size_t npass, int *fds, int max)
{
    mproc_opts o = {.pass_fds = pass, .pass_fds_count = npass};
    o.stdio[0].kind = MPROC_STDIO_NULL;
    o.stdio[2].kind = MPROC_STDIO_NULL;
    const char *argv[] = {"/bin/ls", "/proc/self/fd", NULL};
    char out[4096];
    mproc_status st;
    int rc = util_run_capture(argv, &o, out, sizeof out, &st);
    if (rc != 0)
        return rc;
    int n = 0;
    for (char *s = strtok(out, "\n"); s && n < max; s = strtok(NULL, "\n"))
        fds[n++] = atoi(s);
    return n;
}

static int has_fd(const int *fds, int n, int fd)
{
    for (int i = 0; i < n; i++)
        if (fds[i] == fd)
            return 1;
    return 0;
}

/* Opens count descriptors on /dev/null, all inheritable (no close-on-exec), so that
 * nothing but an explicit close keeps them from a child. */
static void open_inheritable(int *fds, int count, int min)
{
    int base = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(base >= 0);
    for (int i = 0; i < count; i++) {
        fds[i] = fcntl(base, F_DUPFD_CLOEXEC, min);
        assert_true(fds[i] >= 0);
        assert_int_equal(fcntl(fds[i], F_SETFD, 0), 0);
    }
    close(base);
}

static void spawned_child_sees_only_std_fds(void **state)
{
    (void)state;
    int extra[200];
    open_inheritable(extra, 200, 3);
    int fds[512];
    int n = child_fd_list(NULL, 0, fds, 512);
    for (int i = 0; i < 200; i++)
        close(extra[i]);
    assert_true(n > 0);
    assert_true(has_fd(fds, n, 0) && has_fd(fds, n, 1) && has_fd(fds, n, 2));
    /* 0, 1, 2 and ls's own descriptor for /proc/self/fd: nothing else */
    assert_int_equal(n, 4);
}

static void pass_fds_are_kept_with_their_numbers(void **state)
{
    (void)state;
    int extra[200];
    open_inheritable(extra, 200, 3);
    int pass[3];
    open_inheritable(pass, 3, 300);
    assert_int_equal(fcntl(pass[1], F_SETFD, FD_CLOEXEC), 0); /* kept even if close-on-exec */
    int fds[512];
    int n = child_fd_list(pass, 3, fds, 512);
    for (int i = 0; i < 200; i++)
        close(extra[i]);
    for (int i = 0; i < 3; i++)
        close(pass[i]);
    assert_int_equal(n, 4 + 3);
    for (int i = 0; i < 3; i++)
        assert_true(has_fd(fds, n, pass[i]));
}

static void spawn_fast_with_a_huge_descriptor_limit(void **state)
{
    (void)state;
    /* With RLIMIT_NOFILE at 1,048,576 a loop over every possible descriptor would take
     * most of a second; close_range takes one system call. Raising the hard limit needs
     * CAP_SYS_RESOURCE; without it (a container that dropped it) the soft limit goes up
     * to the hard one, and no_close_or_fcntl_per_descriptor below proves the mechanism. */
    struct rlimit old, big = {1048576, 1048576};
    getrlimit(RLIMIT_NOFILE, &old);
    if (setrlimit(RLIMIT_NOFILE, &big) != 0) {
        big.rlim_cur = big.rlim_max = old.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &big), 0);
    }
    int hi = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int far = fcntl(hi, F_DUPFD_CLOEXEC, (int)big.rlim_cur - 1);
    close(hi);
    assert_int_equal(far, (int)big.rlim_cur - 1);
    assert_int_equal(fcntl(far, F_SETFD, 0), 0);
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    int64_t t0 = mproc_test_now_ms();
    int rc = mproc_spawn(&p, argv, NULL);
    int64_t took = mproc_test_now_ms() - t0;
    if (rc == 0) {
        mproc_proc_wait(p, 5000, NULL);
        mproc_proc_free(p);
    }
    int fds[16];
    int n = child_fd_list(NULL, 0, fds, 16);
    close(far);
    setrlimit(RLIMIT_NOFILE, &old);
    assert_ok(rc);
    assert_true(took < 100);
    assert_int_equal(n, 4); /* the far descriptor did not reach the child */
}

/* A seccomp filter that makes close() and fcntl() fail with EPERM on descriptors >= 100:
 * closing them one by one (or marking them close-on-exec one by one) cannot work, only
 * close_range can. */
static int deny_per_fd_calls_from_100(void)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const unsigned arg0 = (unsigned)offsetof(struct seccomp_data, args[0]);
#else
    const unsigned arg0 = (unsigned)offsetof(struct seccomp_data, args[0]) + 4;
#endif
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (unsigned)offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fcntl, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg0),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 100, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static void helper_seccomp_spawn(int wfd)
{
    int result = 0;
    int base = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < 50; i++) {
        int fd = fcntl(base, F_DUPFD, 100); /* inheritable */
        if (fd < 100)
            _exit(1);
    }
    if (deny_per_fd_calls_from_100() != 0)
        _exit(2);
    if (close(150) == 0 || errno != EPERM) /* the filter works */
        _exit(3);
    int fds[128];
    int n = child_fd_list(NULL, 0, fds, 128);
    if (n != 4)
        result = 10 + (n < 0 ? 0 : n);
    for (int i = 0; i < n; i++)
        if (fds[i] >= 100)
            result = 5;
    if (write(wfd, &result, sizeof result) != (ssize_t)sizeof result)
        _exit(6);
    _exit(result);
}

static void no_close_or_fcntl_per_descriptor(void **state)
{
    (void)state;
    int result = -1;
    pid_t helper = start_helper(helper_seccomp_spawn, &result);
    assert_true(helper > 0);
    int status;
    assert_int_equal(waitpid(helper, &status, 0), helper);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(result, 0);
}

static int64_t median_spawn_ms10(int reps)
{
    int64_t t[32];
    const char *argv[] = {"/bin/true", NULL};
    for (int i = 0; i < reps; i++) {
        int64_t t0 = mproc_test_now_ms();
        mproc_proc *p;
        if (mproc_spawn(&p, argv, NULL) != 0)
            return -1;
        mproc_proc_wait(p, 5000, NULL);
        mproc_proc_free(p);
        t[i] = (mproc_test_now_ms() - t0) * 10;
    }
    for (int i = 1; i < reps; i++) /* insertion sort */
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            int64_t x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return t[reps / 2];
}

static void spawn_cost_is_flat_as_the_parent_grows(void **state)
{
    (void)state;
    /* fork would copy the page tables of 256 MiB (about 9 ms); clone(CLONE_VM) copies
     * nothing. A generous bound: grown median within 3x + 5 ms of the small one. */
    int64_t small = median_spawn_ms10(15);
    size_t len = 256u << 20;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    for (size_t i = 0; i < len; i += 4096)
        m[i] = 1;
    int64_t grown = median_spawn_ms10(15);
    munmap(m, len);
    assert_true(small >= 0 && grown >= 0);
    assert_true(grown <= 3 * small + 50);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(free_running_spawned_child_kills_and_reaps),
        cmocka_unit_test(free_running_forked_child_kills_and_reaps),
        cmocka_unit_test(free_ended_child_leaves_no_zombie),
        cmocka_unit_test(no_signal_disposition_or_mask_is_changed),
        cmocka_unit_test(app_sigchld_handler_and_waitpid_work_beside_mproc),
        cmocka_unit_test(sigchld_ignored_forked_function_keeps_its_code),
        cmocka_unit_test(sigchld_ignored_forked_function_killed_is_unknown),
        cmocka_unit_test(sigchld_ignored_wait_forever_keeps_the_code),
        cmocka_unit_test(sigchld_ignored_after_fork_wait_forever_returns),
        cmocka_unit_test(sigchld_ignored_spawn_is_unknown),
        cmocka_unit_test(sa_nocldwait_is_handled_like_sig_ign),
        cmocka_unit_test(sigchld_ignored_state_and_terminate_work),
        cmocka_unit_test(sigchld_ignored_free_kills_and_leaves_nothing),
        cmocka_unit_test(child_dies_when_parent_is_killed),
        cmocka_unit_test(forked_child_dies_when_parent_is_killed),
        cmocka_unit_test(parent_killed_while_spawning_leaves_no_child),
        cmocka_unit_test(child_survives_the_spawning_thread),
        cmocka_unit_test(forked_child_survives_the_forking_thread),
        cmocka_unit_test(spawn_from_many_threads_at_once),
        cmocka_unit_test(detached_child_survives_its_parent),
        cmocka_unit_test(detached_child_is_not_ours),
        cmocka_unit_test(detached_free_does_not_kill),
        cmocka_unit_test(subreaper_reaps_orphaned_grandchildren),
        cmocka_unit_test(spawned_child_sees_only_std_fds),
        cmocka_unit_test(pass_fds_are_kept_with_their_numbers),
        cmocka_unit_test(spawn_fast_with_a_huge_descriptor_limit),
        cmocka_unit_test(no_close_or_fcntl_per_descriptor),
        MPROC_CASE(spawn_cost_is_flat_as_the_parent_grows, 30),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
