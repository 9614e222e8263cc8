/* Spawning a command: argv, PATH, env, cwd, each stdio kind, process group and session,
 * rlimits, nice, CPU affinity and the kill-after timeout. */
#include "proc_util.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/stat.h>

extern char **environ;

static void spawn_passes_argv(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/sh", "-c", "printf '%s|' \"$0\" \"$@\"", "zero", "a b", "",
                          "c",       NULL};
    char out[256];
    mproc_status st;
    assert_ok(util_run_capture(argv, NULL, out, sizeof out, &st));
    assert_string_equal(out, "zero|a b||c|");
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 0);
}

static void spawn_searches_path(void **state)
{
    (void)state;
    const char *argv[] = {"echo", "found", NULL};
    char out[64];
    mproc_status st;
    assert_ok(util_run_capture(argv, NULL, out, sizeof out, &st));
    assert_string_equal(out, "found\n");
}

static void spawn_searches_path_of_explicit_env(void **state)
{
    (void)state;
    /* The first PATH entry has no "echo"; the second has. The parent's PATH is not used. */
    const char *env[] = {"PATH=/nonexistent-dir:/bin", NULL};
    mproc_opts o = {.env = env};
    const char *argv[] = {"echo", "via-env-path", NULL};
    char out[64];
    mproc_status st;
    assert_ok(util_run_capture(argv, &o, out, sizeof out, &st));
    assert_string_equal(out, "via-env-path\n");
}

static void spawn_not_in_path_is_enoent_at_exec(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f};
    const char *argv[] = {"mproc-no-such-command-xyz", NULL};
    assert_code(mproc_spawn(&p, argv, &o), MPROC_ENOENT);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_EXEC);
    assert_int_equal(f.error, MPROC_ENOENT);
    assert_string_equal(mproc_stage_name(f.stage), "exec");
}

static void spawn_no_path_flag_skips_search(void **state)
{
    (void)state;
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.flags = MPROC_NO_PATH, .failure = &f, .cwd = "/"};
    const char *argv[] = {"echo", NULL}; /* "./echo" relative to "/": does not exist */
    assert_code(mproc_spawn(&p, argv, &o), MPROC_ENOENT);
    assert_int_equal(f.stage, MPROC_STAGE_EXEC);
}

static void spawn_non_executable_is_eacces(void **state)
{
    (void)state;
    char path[] = "/tmp/mproc-noexec-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    assert_int_equal(chmod(path, 0644), 0);
    /* root may execute a file only if some execute bit is set: 0644 gives EACCES to root
     * too. */
    mproc_proc *p = NULL;
    mproc_failure f;
    mproc_opts o = {.failure = &f};
    const char *argv[] = {path, NULL};
    int rc = mproc_spawn(&p, argv, &o);
    unlink(path);
    assert_code(rc, MPROC_EACCES);
    assert_null(p);
    assert_int_equal(f.stage, MPROC_STAGE_EXEC);
    assert_int_equal(f.error, MPROC_EACCES);
}

static void spawn_explicit_env_is_exact(void **state)
{
    (void)state;
    const char *env[] = {"FOO=bar", "EMPTY=", NULL};
    mproc_opts o = {.env = env};
    const char *argv[] = {"/usr/bin/env", NULL};
    char out[256];
    mproc_status st;
    assert_ok(util_run_capture(argv, &o, out, sizeof out, &st));
    assert_string_equal(out, "FOO=bar\nEMPTY=\n");
}

static void spawn_inherits_environ(void **state)
{
    (void)state;
    assert_int_equal(setenv("MPROC_TEST_INHERITED", "forty two", 1), 0);
    const char *argv[] = {"/bin/sh", "-c", "printf %s \"$MPROC_TEST_INHERITED\"", NULL};
    char out[64];
    mproc_status st;
    int rc = util_run_capture(argv, NULL, out, sizeof out, &st);
    unsetenv("MPROC_TEST_INHERITED");
    assert_ok(rc);
    assert_string_equal(out, "forty two");
}

static void spawn_sets_cwd(void **state)
{
    (void)state;
    char dir[] = "/tmp/mproc-cwd-XXXXXX";
    assert_non_null(mkdtemp(dir));
    mproc_opts o = {.cwd = dir};
    const char *argv[] = {"/bin/pwd", "-P", NULL};
    char out[256];
    mproc_status st;
    int rc = util_run_capture(argv, &o, out, sizeof out, &st);
    rmdir(dir);
    assert_ok(rc);
    char want[300];
    snprintf(want, sizeof want, "%s\n", dir);
    assert_string_equal(out, want);
}

/* stdio: inherit. Our own fd 1 is pointed at a pipe while spawning. */
static void spawn_stdio_inherit(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    fflush(stdout);
    int saved = fcntl(1, F_DUPFD_CLOEXEC, 3);
    assert_true(saved >= 0);
    dup2(fds[1], 1);
    mproc_proc *p = NULL;
    const char *argv[] = {"/bin/echo", "inherited", NULL};
    int rc = mproc_spawn(&p, argv, NULL);
    dup2(saved, 1);
    close(saved);
    close(fds[1]);
    assert_ok(rc);
    char out[64];
    ssize_t n = util_read_all(fds[0], out, sizeof out, 5000);
    close(fds[0]);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
    assert_true(n > 0);
    assert_string_equal(out, "inherited\n");
}

static void spawn_stdio_null(void **state)
{
    (void)state;
    /* stdin from /dev/null reads EOF at once; stdout to /dev/null (checked by name). */
    mproc_opts o = {0};
    o.stdio[0].kind = MPROC_STDIO_NULL;
    o.stdio[1].kind = MPROC_STDIO_NULL;
    o.stdio[2].kind = MPROC_STDIO_PIPE;
    mproc_proc *p;
    const char *argv[] = {
        "/bin/sh", "-c",
        "read x; echo \"in:$?:$x\" >&2; o=$(readlink /proc/$$/fd/1); echo \"$o\" >&2", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    char out[256];
    assert_true(util_read_all(mproc_proc_stdio(p, 2), out, sizeof out, 5000) > 0);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
    assert_string_equal(out, "in:1:\n/dev/null\n");
}

static void spawn_stdio_pipes_in_and_out(void **state)
{
    (void)state;
    mproc_opts o = {0};
    o.stdio[0].kind = MPROC_STDIO_PIPE;
    o.stdio[1].kind = MPROC_STDIO_PIPE;
    mproc_proc *p;
    const char *argv[] = {"/bin/cat", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    assert_true(mproc_proc_stdio(p, 0) >= 0);
    assert_int_equal(mproc_proc_stdio(p, 2), -1);
    assert_int_equal(write(mproc_proc_stdio(p, 0), "round trip", 10), 10);
    assert_ok(mproc_proc_close_stdio(p, 0)); /* EOF for cat */
    assert_int_equal(mproc_proc_stdio(p, 0), -1);
    char out[64];
    assert_int_equal(util_read_all(mproc_proc_stdio(p, 1), out, sizeof out, 5000), 10);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_string_equal(out, "round trip");
    assert_int_equal(st.code, 0);
}

static void spawn_stdio_given_fd(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    mproc_opts o = {0};
    o.stdio[1].kind = MPROC_STDIO_FD;
    o.stdio[1].fd = fds[1];
    o.stdio[2].kind = MPROC_STDIO_FD;
    o.stdio[2].fd = fds[1];
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    close(fds[1]); /* the caller kept ownership; the child has its own copies */
    char out[64];
    assert_true(util_read_all(fds[0], out, sizeof out, 5000) > 0);
    close(fds[0]);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
    assert_string_equal(out, "out\nerr\n");
}

static void spawn_stdio_swapped_fds(void **state)
{
    (void)state;
    /* stdout onto our fd 2's pipe and stderr onto fd 1's: sources that sit on 0..2 must
     * not clobber each other while being placed. */
    int a[2], b[2];
    assert_int_equal(pipe2(a, O_CLOEXEC), 0);
    assert_int_equal(pipe2(b, O_CLOEXEC), 0);
    fflush(stdout);
    fflush(stderr);
    int s1 = fcntl(1, F_DUPFD_CLOEXEC, 3), s2 = fcntl(2, F_DUPFD_CLOEXEC, 3);
    dup2(a[1], 1);
    dup2(b[1], 2);
    mproc_opts o = {0};
    o.stdio[1] = (mproc_stdio){MPROC_STDIO_FD, 2};
    o.stdio[2] = (mproc_stdio){MPROC_STDIO_FD, 1};
    mproc_proc *p = NULL;
    const char *argv[] = {"/bin/sh", "-c", "echo to-out; echo to-err >&2", NULL};
    int rc = mproc_spawn(&p, argv, &o);
    dup2(s1, 1);
    dup2(s2, 2);
    close(s1);
    close(s2);
    close(a[1]);
    close(b[1]);
    char on_a[64], on_b[64];
    ssize_t na = util_read_all(a[0], on_a, sizeof on_a, 5000);
    ssize_t nb = util_read_all(b[0], on_b, sizeof on_b, 5000);
    close(a[0]);
    close(b[0]);
    assert_ok(rc);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
    assert_true(na >= 0 && nb >= 0);
    assert_string_equal(on_a, "to-err\n"); /* our fd 1 got the child's stderr */
    assert_string_equal(on_b, "to-out\n");
}

static void spawn_stderr_to_stdout(void **state)
{
    (void)state;
    mproc_opts o = {0};
    o.stdio[2].kind = MPROC_STDIO_STDOUT;
    const char *argv[] = {"/bin/sh", "-c", "echo one; echo two >&2; echo three", NULL};
    char out[64];
    mproc_status st;
    assert_ok(util_run_capture(argv, &o, out, sizeof out, &st));
    assert_string_equal(out, "one\ntwo\nthree\n");
}

static void spawn_default_shares_our_group(void **state)
{
    (void)state;
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, NULL));
    pid_t pid = mproc_proc_pid(p);
    assert_int_equal(getpgid(pid), getpgrp());
    assert_int_equal(getsid(pid), getsid(0));
    mproc_proc_free(p);
}

static void spawn_new_pgroup(void **state)
{
    (void)state;
    mproc_proc *p;
    mproc_opts o = {.flags = MPROC_NEW_PGROUP};
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    pid_t pid = mproc_proc_pid(p);
    assert_int_equal(getpgid(pid), pid);
    assert_int_equal(getsid(pid), getsid(0)); /* same session */
    mproc_proc_free(p);
}

static void spawn_new_session(void **state)
{
    (void)state;
    mproc_proc *p;
    mproc_opts o = {.flags = MPROC_NEW_SESSION};
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    pid_t pid = mproc_proc_pid(p);
    assert_int_equal(getsid(pid), pid);
    assert_int_equal(getpgid(pid), pid);
    mproc_proc_free(p);
}

static void spawn_sets_rlimits(void **state)
{
    (void)state;
    mproc_rlimit rl[] = {{RLIMIT_NOFILE, 77, 99}, {RLIMIT_CORE, 0, 0}};
    mproc_opts o = {.rlimits = rl, .rlimits_count = 2};
    const char *argv[] = {"/bin/sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -c", NULL};
    char out[128];
    mproc_status st;
    assert_ok(util_run_capture(argv, &o, out, sizeof out, &st));
    assert_string_equal(out, "77\n99\n0\n");
    /* ours are untouched */
    struct rlimit mine;
    getrlimit(RLIMIT_NOFILE, &mine);
    assert_true(mine.rlim_cur != 77);
}

static void spawn_adds_nice(void **state)
{
    (void)state;
    int mine = getpriority(PRIO_PROCESS, 0);
    mproc_opts o = {.nice = 5};
    const char *argv[] = {"/usr/bin/nice", NULL}; /* prints its niceness */
    char out[32];
    mproc_status st;
    assert_ok(util_run_capture(argv, &o, out, sizeof out, &st));
    assert_int_equal(atoi(out), mine + 5 > 19 ? 19 : mine + 5);
    assert_int_equal(getpriority(PRIO_PROCESS, 0), mine);
}

static void spawn_sets_cpu_affinity(void **state)
{
    (void)state;
    cpu_set_t mine;
    assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
    int cpu = -1;
    for (int i = CPU_SETSIZE - 1; i >= 0 && cpu < 0; i--)
        if (CPU_ISSET((size_t)i, &mine))
            cpu = i; /* the highest CPU we may use */
    assert_true(cpu >= 0);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET((size_t)cpu, &one);
    mproc_opts o = {.cpu_set = &one, .cpu_set_size = sizeof one};
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "10", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    char list[64], want[16];
    assert_int_equal(util_status_field(mproc_proc_pid(p), "Cpus_allowed_list", list, sizeof list),
                     0);
    mproc_proc_free(p);
    snprintf(want, sizeof want, "%d", cpu);
    assert_string_equal(list, want);
}

static void spawn_kill_after_kills_and_sets_timed_out(void **state)
{
    (void)state;
    mproc_opts o = {.kill_after_ms = 200};
    mproc_proc *p;
    const char *argv[] = {"/bin/sleep", "10", NULL};
    int64_t t0 = mproc_test_now_ms();
    assert_ok(mproc_spawn(&p, argv, &o));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, -1, &st));
    int64_t took = mproc_test_now_ms() - t0;
    mproc_proc_free(p);
    assert_true(took >= 190);
    assert_true(took < 5000);
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGKILL);
    assert_int_equal(st.timed_out, 1);
}

static void spawn_kill_after_spares_a_quick_child(void **state)
{
    (void)state;
    mproc_opts o = {.kill_after_ms = 5000};
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, -1, &st));
    mproc_proc_free(p);
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 0);
    assert_int_equal(st.timed_out, 0);
}

static void spawn_kill_after_reaches_the_group(void **state)
{
    (void)state;
    /* With a new group, the kill reaches the backgrounded grandchild too. */
    mproc_opts o = {.kill_after_ms = 200, .flags = MPROC_NEW_PGROUP};
    o.stdio[1].kind = MPROC_STDIO_PIPE;
    mproc_proc *p;
    const char *argv[] = {"/bin/sh", "-c", "sleep 100 & echo $!; wait", NULL};
    assert_ok(mproc_spawn(&p, argv, &o));
    char out[32];
    size_t len = 0;
    while (len == 0 || out[len - 1] != '\n') {
        ssize_t n = read(mproc_proc_stdio(p, 1), out + len, sizeof out - 1 - len);
        assert_true(n > 0);
        len += (size_t)n;
    }
    out[len] = '\0';
    int grandchild = atoi(out);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.timed_out, 1);
    assert_true(mproc_test_wait_gone(grandchild, 1000));
}

/* ---- signal dispositions in the child ------------------------------------------------ */

extern int mproc__spawn_no_clone3;  /* src/proc/spawn.c: take the clone() path (tests only) */
extern int mproc__spawn_test_raise; /* src/proc/child.c: a signal the child sends itself */

static volatile sig_atomic_t handler_ran;

static void on_signal_mark(int sig)
{
    (void)sig;
    handler_ran = 1;
}

/* The child sends itself SIGUSR2, handled here, after its signal set-up: it must die of
 * it, never run our handler (which would run on the stack it borrows from us). */
static void check_no_handler_runs_in_the_child(int no_clone3)
{
    struct sigaction hnd = {.sa_handler = on_signal_mark}, old;
    sigaction(SIGUSR2, &hnd, &old);
    handler_ran = 0;
    mproc__spawn_no_clone3 = no_clone3;
    mproc__spawn_test_raise = SIGUSR2;
    mproc_proc *p = NULL;
    const char *argv[] = {"/bin/true", NULL};
    int rc = mproc_spawn(&p, argv, NULL);
    mproc__spawn_test_raise = 0;
    mproc__spawn_no_clone3 = 0;
    mproc_status st = {0};
    if (rc == 0) {
        rc = mproc_proc_wait(p, 5000, &st);
        mproc_proc_free(p);
    }
    sigaction(SIGUSR2, &old, NULL);
    assert_ok(rc);
    assert_int_equal(handler_ran, 0);
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGUSR2);
}

static void spawn_no_parent_handler_runs_in_the_child(void **state)
{
    (void)state;
    check_no_handler_runs_in_the_child(0);
}

static void spawn_no_parent_handler_runs_in_the_child_without_clone3(void **state)
{
    (void)state;
    check_no_handler_runs_in_the_child(1);
}

static void on_signal(int sig)
{
    (void)sig;
}

/* The hexadecimal mask on the "<field>:" line of a /proc/PID/status text, or ~0 if none. */
static unsigned long long status_mask(const char *status, const char *field)
{
    char key[32];
    snprintf(key, sizeof key, "\n%s:", field);
    const char *at = strstr(status, key);
    return at ? strtoull(at + strlen(key), NULL, 16) : ~0ULL;
}

/* Spawns cat /proc/self/status with SIGHUP, SIGUSR1, SIGPIPE, SIGXFSZ and SIGCHLD ignored
 * and handlers on SIGUSR2 and SIGRTMIN+3 in the parent, and checks what the child started
 * with: no handler; every signal ignored here stays ignored but SIGPIPE, SIGXFSZ and
 * SIGCHLD. */
static void check_child_dispositions(const mproc_opts *o)
{
    const int ignored[] = {SIGHUP, SIGUSR1, SIGPIPE, SIGXFSZ, SIGCHLD};
    const int handled[] = {SIGUSR2, SIGRTMIN + 3};
    struct sigaction ign = {.sa_handler = SIG_IGN}, hnd = {.sa_handler = on_signal};
    struct sigaction old_ign[5], old_hnd[2];
    for (int i = 0; i < 5; i++)
        sigaction(ignored[i], &ign, &old_ign[i]);
    for (int i = 0; i < 2; i++)
        sigaction(handled[i], &hnd, &old_hnd[i]);
    /* every standard signal ignored here, whoever ignored it (the real-time ones are left
     * out: valgrind keeps one of them for itself and reports it ignored) */
    unsigned long long expect = 0, std = (1ULL << 31) - 1;
    for (int sig = 1; sig < 32; sig++) {
        struct sigaction cur;
        if (sig != SIGPIPE && sig != SIGXFSZ && sig != SIGCHLD && sigaction(sig, NULL, &cur) == 0 &&
            cur.sa_handler == SIG_IGN)
            expect |= 1ULL << (sig - 1);
    }
    const char *argv[] = {"/bin/cat", "/proc/self/status", NULL};
    char out[8192];
    mproc_status st;
    int rc = util_run_capture(argv, o, out, sizeof out, &st);
    for (int i = 0; i < 5; i++)
        sigaction(ignored[i], &old_ign[i], NULL);
    for (int i = 0; i < 2; i++)
        sigaction(handled[i], &old_hnd[i], NULL);
    assert_ok(rc);
    unsigned long long ign_mask = status_mask(out, "SigIgn") & std;
    unsigned long long cgt = status_mask(out, "SigCgt");
    if (ign_mask != expect || cgt != 0)
        fail_msg("child SigIgn %016llx (want %016llx), SigCgt %016llx (want 0)", ign_mask, expect,
                 cgt);
    assert_true(ign_mask & (1ULL << (SIGHUP - 1))); /* nohup reaches the child */
    assert_true(ign_mask & (1ULL << (SIGUSR1 - 1)));
    assert_false(ign_mask & (1ULL << (SIGPIPE - 1)));
    assert_false(ign_mask & (1ULL << (SIGXFSZ - 1)));
    assert_false(ign_mask & (1ULL << (SIGCHLD - 1)));
}

static void spawn_child_has_no_handler_and_keeps_ignored_signals(void **state)
{
    (void)state;
    check_child_dispositions(NULL);
}

static void spawn_child_dispositions_are_the_same_without_clone3(void **state)
{
    (void)state;
    /* The path taken where clone3 is refused (a seccomp profile, an emulator): clone()
     * and the child's own loop over every signal. */
    mproc__spawn_no_clone3 = 1;
    check_child_dispositions(NULL);
    mproc__spawn_no_clone3 = 0;
}

static void detached_child_dispositions_are_those_of_a_spawn(void **state)
{
    (void)state;
    /* made by an intermediate child (spawn.c), with the same clone */
    mproc_opts o = {.flags = MPROC_DETACHED};
    check_child_dispositions(&o);
}

/* In a process whose seccomp filter answers clone3 with ENOSYS (as Docker's default
 * profile does): spawn takes the clone() path on its own, with the same dispositions, and
 * no handler of ours runs in the child. Exit code 0, or which check failed. */
static int refuse_clone3_then_spawn(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (unsigned)offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
        return 1;
    if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS) /* the filter works */
        return 2;
    struct sigaction ign = {.sa_handler = SIG_IGN}, hnd = {.sa_handler = on_signal_mark};
    sigaction(SIGHUP, &ign, NULL);
    sigaction(SIGPIPE, &ign, NULL);
    sigaction(SIGCHLD, &ign, NULL);
    sigaction(SIGUSR2, &hnd, NULL);
    const char *cat[] = {"/bin/cat", "/proc/self/status", NULL};
    char out[8192];
    mproc_status st;
    if (util_run_capture(cat, NULL, out, sizeof out, &st) != 0)
        return 3;
    unsigned long long ign_mask = status_mask(out, "SigIgn");
    if (!(ign_mask & (1ULL << (SIGHUP - 1))) || (ign_mask & (1ULL << (SIGPIPE - 1))) ||
        (ign_mask & (1ULL << (SIGCHLD - 1))) || status_mask(out, "SigCgt") != 0)
        return 4;
    signal(SIGCHLD, SIG_DFL); /* for the status below */
    mproc__spawn_test_raise = SIGUSR2;
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    if (mproc_spawn(&p, argv, NULL) != 0)
        return 5;
    int rc = mproc_proc_wait(p, 5000, &st);
    mproc_proc_free(p);
    if (rc != 0 || !st.signaled || st.signal != SIGUSR2 || handler_ran)
        return 6;
    return 0;
}

static void spawn_falls_back_to_clone_when_clone3_is_refused(void **state)
{
    (void)state;
    pid_t helper = fork();
    if (helper == 0)
        _exit(refuse_clone3_then_spawn());
    assert_true(helper > 0);
    int status;
    assert_int_equal(waitpid(helper, &status, 0), helper);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(spawn_passes_argv),
        cmocka_unit_test(spawn_searches_path),
        cmocka_unit_test(spawn_searches_path_of_explicit_env),
        cmocka_unit_test(spawn_not_in_path_is_enoent_at_exec),
        cmocka_unit_test(spawn_no_path_flag_skips_search),
        cmocka_unit_test(spawn_non_executable_is_eacces),
        cmocka_unit_test(spawn_explicit_env_is_exact),
        cmocka_unit_test(spawn_inherits_environ),
        cmocka_unit_test(spawn_sets_cwd),
        cmocka_unit_test(spawn_stdio_inherit),
        cmocka_unit_test(spawn_stdio_null),
        cmocka_unit_test(spawn_stdio_pipes_in_and_out),
        cmocka_unit_test(spawn_stdio_given_fd),
        cmocka_unit_test(spawn_stdio_swapped_fds),
        cmocka_unit_test(spawn_stderr_to_stdout),
        cmocka_unit_test(spawn_default_shares_our_group),
        cmocka_unit_test(spawn_new_pgroup),
        cmocka_unit_test(spawn_new_session),
        cmocka_unit_test(spawn_sets_rlimits),
        cmocka_unit_test(spawn_adds_nice),
        cmocka_unit_test(spawn_sets_cpu_affinity),
        cmocka_unit_test(spawn_kill_after_kills_and_sets_timed_out),
        cmocka_unit_test(spawn_kill_after_spares_a_quick_child),
        cmocka_unit_test(spawn_kill_after_reaches_the_group),
        cmocka_unit_test(spawn_child_has_no_handler_and_keeps_ignored_signals),
        cmocka_unit_test(spawn_child_dispositions_are_the_same_without_clone3),
        cmocka_unit_test(detached_child_dispositions_are_those_of_a_spawn),
        cmocka_unit_test(spawn_no_parent_handler_runs_in_the_child),
        cmocka_unit_test(spawn_no_parent_handler_runs_in_the_child_without_clone3),
        cmocka_unit_test(spawn_falls_back_to_clone_when_clone3_is_refused),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
