/* mproc_run: capture, exit status, no pipe deadlock, size cap, timeout and group kill,
 * SIGPIPE safety, errors, EINTR. Some cases re-run this executable as a helper writer
 * (argv[1] == "--writer"), so the child's output is exactly known. */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static char self_exe[4096];

static const char *self(void)
{
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    self_exe[n > 0 ? n : 0] = '\0';
    return self_exe;
}

/* The byte at offset i of the helper's stdout (s = 1) or stderr (s = 2). */
static unsigned char pattern(int s, size_t i)
{
    return s == 1 ? (unsigned char)(i % 251) : (unsigned char)((i % 241) ^ 0x55);
}

static int check_pattern(int s, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)buf[i] != pattern(s, i))
            return 0;
    return 1;
}

/* Helper mode: writes `bytes` to stdout and to stderr in alternating 64 KiB blocks with
 * blocking writes, so a parent that drains one stream before the other deadlocks. */
static int writer_main(size_t bytes)
{
    static unsigned char blk[64 * 1024];
    size_t off[3] = {0, 0, 0};
    while (off[1] < bytes || off[2] < bytes) {
        for (int s = 1; s <= 2; s++) {
            size_t n = bytes - off[s] < sizeof blk ? bytes - off[s] : sizeof blk;
            for (size_t i = 0; i < n; i++)
                blk[i] = pattern(s, off[s] + i);
            for (size_t done = 0; done < n;) {
                ssize_t w = write(s, blk + done, n - done);
                if (w <= 0)
                    return 3;
                done += (size_t)w;
            }
            off[s] += n;
        }
    }
    return 0;
}

static void assert_sigpipe_untouched(void)
{
    sigset_t pending, mask;
    assert_int_equal(sigpending(&pending), 0);
    assert_int_equal(sigismember(&pending, SIGPIPE), 0);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask), 0);
    assert_int_equal(sigismember(&mask, SIGPIPE), 0);
}

/* ---- capture and status ---- */

static void run_echo_captures_stdout(void **state)
{
    (void)state;
    const char *argv[] = {"echo", "hello", NULL};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, NULL, &r));
    assert_string_equal(r.out, "hello\n");
    assert_int_equal(r.out_len, 6);
    assert_non_null(r.err);
    assert_int_equal(r.err_len, 0);
    assert_int_equal(r.status.exited, 1);
    assert_int_equal(r.status.code, 0);
    assert_int_equal(r.truncated, 0);
    mproc_result_free(&r);
    assert_null(r.out);
}

static void run_captures_stderr_separately(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo out; echo err >&2; echo out2; exit 3", NULL};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, NULL, &r));
    assert_string_equal(r.out, "out\nout2\n");
    assert_string_equal(r.err, "err\n");
    assert_int_equal(r.status.exited, 1);
    assert_int_equal(r.status.code, 3);
    assert_int_equal(mproc_exitcode(&r.status), 3);
    mproc_result_free(&r);
}

static void run_reports_signal(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo dying; kill -TERM $$", NULL};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, NULL, &r));
    assert_string_equal(r.out, "dying\n");
    assert_int_equal(r.status.signaled, 1);
    assert_int_equal(r.status.signal, SIGTERM);
    assert_int_equal(r.status.timed_out, 0);
    assert_int_equal(mproc_exitcode(&r.status), -SIGTERM);
    mproc_result_free(&r);
}

static void run_empty_output_is_empty_string(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, NULL, &r));
    assert_non_null(r.out);
    assert_non_null(r.err);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "");
    mproc_result_free(&r);
}

static void run_feeds_input(void **state)
{
    (void)state;
    const char *argv[] = {"tr", "a-z", "A-Z", NULL};
    mproc_run_opts ro = {.input = "hello, world", .input_len = 12};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, &ro, &r));
    assert_string_equal(r.out, "HELLO, WORLD");
    mproc_result_free(&r);
}

static void run_caller_stdio_is_overridden(void **state)
{
    (void)state;
    /* Whatever the caller set for the three streams, they are captured. */
    mproc_opts o = {
        .stdio = {{MPROC_STDIO_NULL, -1}, {MPROC_STDIO_NULL, -1}, {MPROC_STDIO_NULL, -1}}};
    const char *argv[] = {"sh", "-c", "cat; echo e >&2", NULL};
    mproc_run_opts ro = {.input = "in", .input_len = 2};
    mproc_result r;
    assert_ok(mproc_run(argv, &o, &ro, &r));
    assert_string_equal(r.out, "in");
    assert_string_equal(r.err, "e\n");
    mproc_result_free(&r);
}

static void run_passes_env_and_cwd_through(void **state)
{
    (void)state;
    const char *env[] = {"MPROC_IO_TEST=bar", "PATH=/usr/bin:/bin", NULL};
    mproc_opts o = {.env = env, .cwd = "/"};
    const char *argv[] = {"sh", "-c", "pwd; echo $MPROC_IO_TEST", NULL};
    mproc_result r;
    assert_ok(mproc_run(argv, &o, NULL, &r));
    assert_string_equal(r.out, "/\nbar\n");
    mproc_result_free(&r);
}

static void run_no_capture_stderr_can_merge_into_stdout(void **state)
{
    (void)state;
    mproc_opts o = {.stdio = {[2] = {MPROC_STDIO_STDOUT, -1}}};
    mproc_run_opts ro = {.no_capture_stderr = 1};
    const char *argv[] = {"sh", "-c", "echo a; echo b >&2; echo c", NULL};
    mproc_result r;
    assert_ok(mproc_run(argv, &o, &ro, &r));
    assert_string_equal(r.out, "a\nb\nc\n");
    assert_null(r.err);
    assert_int_equal(r.err_len, 0);
    mproc_result_free(&r);
}

static void run_no_capture_stderr_leaves_it_to_opts(void **state)
{
    (void)state;
    mproc_opts o = {.stdio = {[2] = {MPROC_STDIO_NULL, -1}}};
    mproc_run_opts ro = {.no_capture_stderr = 1};
    const char *argv[] = {"sh", "-c", "echo a; echo lost >&2", NULL};
    mproc_result r;
    assert_ok(mproc_run(argv, &o, &ro, &r));
    assert_string_equal(r.out, "a\n");
    assert_null(r.err);
    mproc_result_free(&r);
}

/* ---- no deadlock ---- */

static void run_cat_64mib_in_and_out_no_deadlock(void **state)
{
    (void)state;
    size_t n = 64 * (size_t)MIB;
    char *in = malloc(n);
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)pattern(1, i);
    const char *argv[] = {"cat", NULL};
    mproc_run_opts ro = {.input = in, .input_len = n, .timeout_ms = 50000};
    mproc_result r;
    int rc = mproc_run(argv, NULL, &ro, &r);
    if (rc != 0)
        free(in);
    assert_ok(rc);
    assert_int_equal(r.status.exited, 1);
    assert_int_equal(r.status.code, 0);
    assert_int_equal(r.out_len, n);
    int same = memcmp(r.out, in, n) == 0;
    free(in);
    assert_true(same);
    assert_int_equal(r.out[n], '\0');
    mproc_result_free(&r);
}

static void run_interleaved_10mib_stdout_and_stderr(void **state)
{
    (void)state;
    size_t n = 10 * (size_t)MIB;
    const char *argv[] = {self(), "--writer", "10485760", NULL};
    mproc_run_opts ro = {.timeout_ms = 30000};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, &ro, &r));
    assert_int_equal(r.status.exited, 1);
    assert_int_equal(r.status.code, 0);
    assert_int_equal(r.out_len, n);
    assert_int_equal(r.err_len, n);
    assert_true(check_pattern(1, r.out, r.out_len));
    assert_true(check_pattern(2, r.err, r.err_len));
    mproc_result_free(&r);
}

/* ---- size cap ---- */

static void run_cap_truncates_without_killing(void **state)
{
    (void)state;
    const char *argv[] = {self(), "--writer", "4194304", NULL};
    mproc_run_opts ro = {.max_output = 1000, .timeout_ms = 30000};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, &ro, &r));
    /* The child wrote all 4 MiB of both streams: it was neither blocked nor killed. */
    assert_int_equal(r.status.exited, 1);
    assert_int_equal(r.status.code, 0);
    assert_int_equal(r.out_len, 1000);
    assert_int_equal(r.err_len, 1000);
    assert_int_equal(r.truncated, MPROC_TRUNC_STDOUT | MPROC_TRUNC_STDERR);
    assert_true(check_pattern(1, r.out, r.out_len));
    assert_true(check_pattern(2, r.err, r.err_len));
    assert_int_equal(r.out[1000], '\0');
    mproc_result_free(&r);
}

static void run_cap_marks_only_the_stream_that_hit_it(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "printf 0123456789; printf abcd >&2", NULL};
    mproc_run_opts ro = {.max_output = 4};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, &ro, &r));
    assert_string_equal(r.out, "0123");
    assert_string_equal(r.err, "abcd"); /* exactly at the cap: nothing dropped */
    assert_int_equal(r.truncated, MPROC_TRUNC_STDOUT);
    mproc_result_free(&r);
}

/* ---- timeout ---- */

static void run_timeout_returns_output_before_it(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo before; echo err >&2; sleep 100", NULL};
    mproc_run_opts ro = {.timeout_ms = 300};
    mproc_result r;
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_run(argv, NULL, &ro, &r), MPROC_ETIMEDOUT);
    assert_true(mproc_test_now_ms() - t0 < 10000);
    assert_string_equal(r.out, "before\n");
    assert_string_equal(r.err, "err\n");
    assert_int_equal(r.status.timed_out, 1);
    assert_int_equal(r.status.signaled, 1);
    assert_int_equal(r.status.signal, SIGKILL);
    mproc_result_free(&r);
}

static void run_timeout_kills_the_whole_group(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "sleep 100 & echo $!; sleep 100", NULL};
    mproc_run_opts ro = {.timeout_ms = 300};
    mproc_result r;
    assert_code(mproc_run(argv, NULL, &ro, &r), MPROC_ETIMEDOUT);
    int grandchild = atoi(r.out);
    mproc_result_free(&r);
    assert_true(grandchild > 0);
    assert_true(mproc_test_wait_gone(grandchild, 5000));
}

static void run_timeout_not_held_by_escaped_descendant(void **state)
{
    (void)state;
    /* The descendant leaves the group (setsid) so the kill misses it, and it keeps stdout
     * open: mproc_run must still return at the deadline instead of waiting for EOF. */
    const char *argv[] = {"sh", "-c", "setsid sleep 30 & echo $!; sleep 100", NULL};
    mproc_run_opts ro = {.timeout_ms = 300};
    mproc_result r;
    int64_t t0 = mproc_test_now_ms();
    int rc = mproc_run(argv, NULL, &ro, &r);
    int64_t took = mproc_test_now_ms() - t0;
    int escaped = r.out ? atoi(r.out) : 0;
    if (escaped > 0)
        kill(escaped, SIGKILL);
    mproc_result_free(&r);
    assert_code(rc, MPROC_ETIMEDOUT);
    assert_true(escaped > 0);
    assert_true(took < 10000);
}

static void run_waits_for_eof_held_by_grandchild(void **state)
{
    (void)state;
    /* Like subprocess.run: the child exits at once, but its background job still holds
     * stdout, so its late output is captured too. */
    const char *argv[] = {"sh", "-c", "(sleep 0.3; echo late) & echo early", NULL};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, NULL, &r));
    assert_string_equal(r.out, "early\nlate\n");
    assert_int_equal(r.status.exited, 1);
    assert_int_equal(r.status.code, 0);
    mproc_result_free(&r);
}

static void run_timeout_while_child_runs_after_closing_pipes(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo x; exec >&- 2>&- </dev/null; sleep 100", NULL};
    mproc_run_opts ro = {.timeout_ms = 300};
    mproc_result r;
    assert_code(mproc_run(argv, NULL, &ro, &r), MPROC_ETIMEDOUT);
    assert_string_equal(r.out, "x\n");
    assert_int_equal(r.status.timed_out, 1);
    assert_int_equal(r.status.signal, SIGKILL);
    mproc_result_free(&r);
}

static void run_kill_after_ms_acts_as_timeout(void **state)
{
    (void)state;
    mproc_opts o = {.kill_after_ms = 300};
    const char *argv[] = {"sh", "-c", "echo a; sleep 100", NULL};
    mproc_result r;
    assert_code(mproc_run(argv, &o, NULL, &r), MPROC_ETIMEDOUT);
    assert_string_equal(r.out, "a\n");
    assert_int_equal(r.status.timed_out, 1);
    mproc_result_free(&r);
}

/* ---- SIGPIPE ---- */

static void run_child_ignoring_large_input_is_fine(void **state)
{
    (void)state;
    size_t n = 8 * (size_t)MIB;
    char *in = calloc(1, n);
    assert_non_null(in);
    const char *argv[] = {"sh", "-c", "exec 0<&-; echo ok", NULL};
    mproc_run_opts ro = {.input = in, .input_len = n, .timeout_ms = 30000};
    mproc_result r;
    int rc = mproc_run(argv, NULL, &ro, &r);
    free(in);
    assert_ok(rc);
    assert_string_equal(r.out, "ok\n");
    assert_int_equal(r.status.exited, 1);
    assert_int_equal(r.status.code, 0);
    mproc_result_free(&r);
    /* SIGPIPE is at its default (terminate) here: we are alive, and nothing is left
     * pending or blocked. */
    assert_sigpipe_untouched();
}

static void run_leaves_a_pending_sigpipe_alone(void **state)
{
    (void)state;
    /* A SIGPIPE the caller already had pending (blocked) is not ours to consume. */
    sigset_t set, old, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    raise(SIGPIPE);
    static char in[1 << 20];
    const char *argv[] = {"true", NULL};
    mproc_run_opts ro = {.input = in, .input_len = sizeof in};
    mproc_result r;
    int rc = mproc_run(argv, NULL, &ro, &r);
    mproc_result_free(&r);
    sigpending(&pending);
    int still = sigismember(&pending, SIGPIPE);
    const struct timespec zero = {0, 0};
    sigtimedwait(&set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    assert_ok(rc);
    assert_int_equal(still, 1);
}

struct thread_run {
    int rc;
    mproc_result r;
};

static void *run_on_thread(void *arg)
{
    struct thread_run *t = arg;
    static char in[1 << 20];
    const char *argv[] = {"sh", "-c", "exec 0<&-; echo threaded", NULL};
    mproc_run_opts ro = {.input = in, .input_len = sizeof in, .timeout_ms = 30000};
    t->rc = mproc_run(argv, NULL, &ro, &t->r);
    return NULL;
}

static void run_from_another_thread_is_sigpipe_safe(void **state)
{
    (void)state;
    /* The SIGPIPE goes to the writing thread, which is not the main one here. */
    struct thread_run t;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_on_thread, &t), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_ok(t.rc);
    assert_string_equal(t.r.out, "threaded\n");
    assert_int_equal(t.r.status.code, 0);
    mproc_result_free(&t.r);
    assert_sigpipe_untouched();
}

/* ---- errors ---- */

static void run_missing_binary_is_enoent_at_exec(void **state)
{
    (void)state;
    mproc_failure f;
    mproc_opts o = {.failure = &f};
    const char *argv[] = {"/nonexistent/mproc-no-such-binary", NULL};
    mproc_result r;
    memset(&r, 0x5a, sizeof r);
    assert_code(mproc_run(argv, &o, NULL, &r), MPROC_ENOENT);
    assert_int_equal(f.stage, MPROC_STAGE_EXEC);
    assert_int_equal(f.error, MPROC_ENOENT);
    assert_null(r.out);
    assert_null(r.err);
    assert_int_equal(r.status.exited, 0);
}

static void run_rejects_null_argv_and_res(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    mproc_result r;
    memset(&r, 0x5a, sizeof r);
    assert_code(mproc_run(NULL, NULL, NULL, &r), MPROC_EINVAL);
    assert_null(r.out);
    assert_code(mproc_run(argv, NULL, NULL, NULL), MPROC_EINVAL);
    const char *empty[] = {NULL};
    assert_code(mproc_run(empty, NULL, NULL, &r), MPROC_EINVAL);
}

static void run_rejects_bad_run_opts(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    mproc_result r;
    mproc_run_opts no_input = {.input = NULL, .input_len = 5};
    assert_code(mproc_run(argv, NULL, &no_input, &r), MPROC_EINVAL);
    mproc_run_opts bad_timeout = {.timeout_ms = -2};
    assert_code(mproc_run(argv, NULL, &bad_timeout, &r), MPROC_EINVAL);
    assert_null(r.out);
}

static void run_rejects_bad_opts(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    mproc_result r;
    mproc_opts detached = {.flags = MPROC_DETACHED};
    assert_code(mproc_run(argv, &detached, NULL, &r), MPROC_EINVAL);
    mproc_opts unknown = {.flags = 0x100u};
    assert_code(mproc_run(argv, &unknown, NULL, &r), MPROC_EINVAL);
    mproc_opts kill_after = {.kill_after_ms = -5};
    assert_code(mproc_run(argv, &kill_after, NULL, &r), MPROC_EINVAL);
}

static void result_free_accepts_null_and_zeroes(void **state)
{
    (void)state;
    mproc_result_free(NULL);
    const char *argv[] = {"echo", "x", NULL};
    mproc_result r;
    assert_ok(mproc_run(argv, NULL, NULL, &r));
    mproc_result_free(&r);
    assert_null(r.out);
    assert_null(r.err);
    assert_int_equal(r.out_len, 0);
    mproc_result_free(&r); /* twice is harmless */
}

/* ---- EINTR ---- */

static void on_alarm(int sig)
{
    (void)sig;
}

static void run_survives_sigalrm_every_100us(void **state)
{
    (void)state;
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: every blocking call sees EINTR */
    sigaction(SIGALRM, &sa, &old_sa);
    struct itimerval it = {{0, 100}, {0, 100}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);

    size_t n = 4 * (size_t)MIB;
    char *in = malloc(n);
    for (size_t i = 0; in && i < n; i++)
        in[i] = (char)pattern(1, i);
    const char *cat[] = {"cat", NULL};
    mproc_run_opts ro = {.input = in, .input_len = n, .timeout_ms = 30000};
    mproc_result r1, r2;
    int rc1 = in ? mproc_run(cat, NULL, &ro, &r1) : MPROC_ENOMEM;
    const char *slow[] = {"sh", "-c", "sleep 0.2; echo done", NULL};
    int rc2 = mproc_run(slow, NULL, NULL, &r2);

    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old_sa, NULL);
    int same = rc1 == 0 && r1.out_len == n && memcmp(r1.out, in, n) == 0;
    free(in);
    assert_ok(rc1);
    assert_true(same);
    assert_int_equal(r1.status.code, 0);
    mproc_result_free(&r1);
    assert_ok(rc2);
    assert_string_equal(r2.out, "done\n");
    mproc_result_free(&r2);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--writer") == 0)
        return writer_main((size_t)strtoull(argv[2], NULL, 10));
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(run_echo_captures_stdout),
        cmocka_unit_test(run_captures_stderr_separately),
        cmocka_unit_test(run_reports_signal),
        cmocka_unit_test(run_empty_output_is_empty_string),
        cmocka_unit_test(run_feeds_input),
        cmocka_unit_test(run_caller_stdio_is_overridden),
        cmocka_unit_test(run_passes_env_and_cwd_through),
        cmocka_unit_test(run_no_capture_stderr_can_merge_into_stdout),
        cmocka_unit_test(run_no_capture_stderr_leaves_it_to_opts),
        MPROC_CASE(run_cat_64mib_in_and_out_no_deadlock, 90),
        MPROC_CASE(run_interleaved_10mib_stdout_and_stderr, 60),
        MPROC_CASE(run_cap_truncates_without_killing, 60),
        cmocka_unit_test(run_cap_marks_only_the_stream_that_hit_it),
        cmocka_unit_test(run_timeout_returns_output_before_it),
        cmocka_unit_test(run_timeout_kills_the_whole_group),
        cmocka_unit_test(run_timeout_not_held_by_escaped_descendant),
        cmocka_unit_test(run_waits_for_eof_held_by_grandchild),
        cmocka_unit_test(run_timeout_while_child_runs_after_closing_pipes),
        cmocka_unit_test(run_kill_after_ms_acts_as_timeout),
        cmocka_unit_test(run_child_ignoring_large_input_is_fine),
        cmocka_unit_test(run_leaves_a_pending_sigpipe_alone),
        cmocka_unit_test(run_from_another_thread_is_sigpipe_safe),
        cmocka_unit_test(run_missing_binary_is_enoent_at_exec),
        cmocka_unit_test(run_rejects_null_argv_and_res),
        cmocka_unit_test(run_rejects_bad_run_opts),
        cmocka_unit_test(run_rejects_bad_opts),
        cmocka_unit_test(result_free_accepts_null_and_zeroes),
        MPROC_CASE(run_survives_sigalrm_every_100us, 60),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
