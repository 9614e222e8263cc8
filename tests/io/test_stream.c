/* Streaming a running child: mproc_proc_read, mproc_proc_write and mproc_proc_stream
 * (chunks and lines to a callback, as they come, then end-of-file). */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const mproc_opts piped = {
    .stdio = {{MPROC_STDIO_NULL, -1}, {MPROC_STDIO_PIPE, -1}, {MPROC_STDIO_PIPE, -1}}};

/* What a callback saw: the bytes per stream, each call recorded as "[piece]". */
struct seen {
    char text[3][4096];
    size_t len[3];
    int eofs[3];
    int calls;
    int stop_after; /* ask to stop on this call number (1-based); 0 never */
    int64_t first_ms[3];
};

static void add(struct seen *s, int which, const char *d, size_t n)
{
    if (s->len[which] + n + 2 >= sizeof s->text[which])
        return;
    s->text[which][s->len[which]++] = '[';
    memcpy(s->text[which] + s->len[which], d, n);
    s->len[which] += n;
    s->text[which][s->len[which]++] = ']';
    s->text[which][s->len[which]] = '\0';
}

static int on_data(void *ctx, int which, const char *data, size_t len)
{
    struct seen *s = ctx;
    s->calls++;
    if (which < 1 || which > 2)
        return 1;
    if (len == 0)
        s->eofs[which]++;
    else if (!s->first_ms[which])
        s->first_ms[which] = mproc_test_now_ms();
    if (len)
        add(s, which, data, len);
    return s->stop_after && s->calls == s->stop_after;
}

/* ---- mproc_proc_read ---- */

static void read_gets_data_as_it_comes_then_eof(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo one; sleep 0.5; echo two", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    char buf[64];
    int64_t t0 = mproc_test_now_ms();
    int n = mproc_proc_read(p, MPROC_STDOUT, buf, sizeof buf, 5000);
    int64_t first = mproc_test_now_ms() - t0;
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "one\n", 4);
    assert_true(first < 400); /* it did not wait for the rest */
    n = mproc_proc_read(p, MPROC_STDOUT, buf, sizeof buf, 5000);
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "two\n", 4);
    assert_int_equal(mproc_proc_read(p, MPROC_STDOUT, buf, sizeof buf, 5000), 0);
    assert_int_equal(mproc_proc_read(p, MPROC_STDOUT, buf, sizeof buf, 5000), 0);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    assert_int_equal(st.code, 0);
    mproc_proc_free(p);
}

static void read_times_out_when_nothing_comes(void **state)
{
    (void)state;
    const char *argv[] = {"sleep", "10", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    char buf[16];
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_proc_read(p, MPROC_STDOUT, buf, sizeof buf, 200), MPROC_ETIMEDOUT);
    int64_t took = mproc_test_now_ms() - t0;
    assert_code(mproc_proc_read(p, MPROC_STDERR, buf, sizeof buf, 0), MPROC_ETIMEDOUT);
    mproc_proc_free(p);
    assert_true(took >= 190);
    assert_true(took < 5000);
}

static void read_rejects_bad_arguments(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    mproc_opts o = {.stdio = {[1] = {MPROC_STDIO_PIPE, -1}}};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &o));
    char buf[16];
    assert_code(mproc_proc_read(NULL, MPROC_STDOUT, buf, sizeof buf, 0), MPROC_EINVAL);
    assert_code(mproc_proc_read(p, MPROC_STDIN, buf, sizeof buf, 0), MPROC_EINVAL);
    assert_code(mproc_proc_read(p, 3, buf, sizeof buf, 0), MPROC_EINVAL);
    assert_code(mproc_proc_read(p, MPROC_STDOUT, NULL, sizeof buf, 0), MPROC_EINVAL);
    assert_code(mproc_proc_read(p, MPROC_STDOUT, buf, 0, 0), MPROC_EINVAL);
    assert_code(mproc_proc_read(p, MPROC_STDOUT, buf, sizeof buf, -2), MPROC_EINVAL);
    assert_code(mproc_proc_read(p, MPROC_STDERR, buf, sizeof buf, 0), MPROC_EBADF);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

/* ---- mproc_proc_write ---- */

static void write_then_read_back_through_cat(void **state)
{
    (void)state;
    const char *argv[] = {"cat", NULL};
    mproc_opts o = {.stdio = {{MPROC_STDIO_PIPE, -1}, {MPROC_STDIO_PIPE, -1}}};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &o));
    size_t written = 99;
    assert_ok(mproc_proc_write(p, "hello", 5, &written, 5000));
    assert_int_equal(written, 5);
    assert_ok(mproc_proc_close_stdio(p, MPROC_STDIN));
    char buf[16];
    assert_int_equal(mproc_proc_read(p, MPROC_STDOUT, buf, sizeof buf, 5000), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(mproc_proc_read(p, MPROC_STDOUT, buf, sizeof buf, 5000), 0);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

static void write_to_exited_child_is_epipe_not_sigpipe(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    mproc_opts o = {.stdio = {{MPROC_STDIO_PIPE, -1}}};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &o));
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    static char big[256 * 1024];
    size_t written = 99;
    /* SIGPIPE is at its default action: a raw write() here would kill the test. */
    assert_code(mproc_proc_write(p, big, sizeof big, &written, 5000), MPROC_EPIPE);
    assert_int_equal(written, 0);
    mproc_proc_free(p);
    sigset_t pending, mask;
    sigpending(&pending);
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    assert_int_equal(sigismember(&pending, SIGPIPE), 0);
    assert_int_equal(sigismember(&mask, SIGPIPE), 0);
}

static void write_times_out_on_a_full_pipe(void **state)
{
    (void)state;
    const char *argv[] = {"sleep", "10", NULL};
    mproc_opts o = {.stdio = {{MPROC_STDIO_PIPE, -1}}};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &o));
    static char big[4 * 1024 * 1024];
    size_t written = 0;
    int64_t t0 = mproc_test_now_ms();
    int rc = mproc_proc_write(p, big, sizeof big, &written, 200);
    int64_t took = mproc_test_now_ms() - t0;
    mproc_proc_free(p);
    assert_code(rc, MPROC_ETIMEDOUT);
    assert_true(written > 0); /* what the pipe could hold */
    assert_true(written < sizeof big);
    assert_true(took >= 190 && took < 5000);
}

static void write_rejects_bad_arguments(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, NULL));
    size_t written = 7;
    assert_code(mproc_proc_write(NULL, "x", 1, &written, 0), MPROC_EINVAL);
    assert_int_equal(written, 0);
    assert_code(mproc_proc_write(p, NULL, 1, NULL, 0), MPROC_EINVAL);
    assert_code(mproc_proc_write(p, "x", 1, NULL, -2), MPROC_EINVAL);
    assert_code(mproc_proc_write(p, "x", 1, NULL, 0), MPROC_EBADF); /* stdin not piped */
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

/* ---- mproc_proc_stream ---- */

static void stream_chunks_from_both_streams_then_eof(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo out1; echo err1 >&2; sleep 0.1; echo out2", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {0};
    assert_ok(mproc_proc_stream(p, on_data, &s, NULL, 5000));
    assert_string_equal(s.text[1], "[out1\n][out2\n]");
    assert_string_equal(s.text[2], "[err1\n]");
    assert_int_equal(s.eofs[1], 1);
    assert_int_equal(s.eofs[2], 1);
    /* The streams are closed at their end-of-file; streaming again has nothing to do. */
    assert_int_equal(mproc_proc_stdio(p, MPROC_STDOUT), -1);
    assert_int_equal(mproc_proc_stdio(p, MPROC_STDERR), -1);
    assert_ok(mproc_proc_stream(p, on_data, &s, NULL, 0));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    assert_int_equal(st.code, 0);
    mproc_proc_free(p);
}

static void stream_delivers_before_the_child_ends(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo early; sleep 0.5; echo late", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {0};
    int64_t t0 = mproc_test_now_ms();
    assert_ok(mproc_proc_stream(p, on_data, &s, NULL, 5000));
    int64_t took = mproc_test_now_ms() - t0;
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
    assert_string_equal(s.text[1], "[early\n][late\n]");
    assert_true(s.first_ms[1] - t0 < 400); /* "early" arrived long before the end */
    assert_true(took >= 450);
}

static void stream_lines_splits_and_keeps_last_partial_line(void **state)
{
    (void)state;
    const char *argv[] = {"printf", "a\\nbb\\nccc", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {0};
    mproc_stream_opts so = {.flags = MPROC_STREAM_LINES};
    assert_ok(mproc_proc_stream(p, on_data, &s, &so, 5000));
    assert_string_equal(s.text[1], "[a\n][bb\n][ccc]");
    assert_int_equal(s.eofs[1], 1);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

static void stream_lines_joins_pieces_across_reads(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "printf ab; sleep 0.2; printf 'cd\\nef'; sleep 0.2; echo",
                          NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {0};
    mproc_stream_opts so = {.flags = MPROC_STREAM_LINES};
    assert_ok(mproc_proc_stream(p, on_data, &s, &so, 5000));
    assert_string_equal(s.text[1], "[abcd\n][ef\n]");
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

static void stream_lines_cuts_long_lines_at_max_line(void **state)
{
    (void)state;
    const char *argv[] = {"printf", "abcdefghij\\nxy\\n", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {0};
    mproc_stream_opts so = {.flags = MPROC_STREAM_LINES, .max_line = 4};
    assert_ok(mproc_proc_stream(p, on_data, &s, &so, 5000));
    assert_string_equal(s.text[1], "[abcd][efgh][ij\n][xy\n]");
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

static void stream_stop_returns_canceled_and_resumes(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo one; sleep 0.2; echo two", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {.stop_after = 1};
    assert_code(mproc_proc_stream(p, on_data, &s, NULL, 5000), MPROC_ECANCELED);
    assert_string_equal(s.text[1], "[one\n]");
    assert_ok(mproc_proc_stream(p, on_data, &s, NULL, 5000));
    assert_string_equal(s.text[1], "[one\n][two\n]");
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

static void stream_timeout_leaves_child_running(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo a; sleep 10", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {0};
    assert_code(mproc_proc_stream(p, on_data, &s, NULL, 300), MPROC_ETIMEDOUT);
    assert_string_equal(s.text[1], "[a\n]");
    assert_int_equal(s.eofs[1], 0);
    int st = mproc_proc_state(p);
    mproc_proc_free(p);
    assert_true(st == MPROC_SLEEPING || st == MPROC_RUNNING);
}

static void stream_lines_timeout_hands_over_partial_line(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "printf 'x\\npart'; sleep 0.5; echo ial", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {0};
    mproc_stream_opts so = {.flags = MPROC_STREAM_LINES};
    assert_code(mproc_proc_stream(p, on_data, &s, &so, 200), MPROC_ETIMEDOUT);
    assert_string_equal(s.text[1], "[x\n][part]");
    assert_ok(mproc_proc_stream(p, on_data, &s, &so, 5000));
    assert_string_equal(s.text[1], "[x\n][part][ial\n]");
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

static void stream_rejects_bad_arguments(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {0};
    mproc_stream_opts bad = {.flags = 0x80u};
    assert_code(mproc_proc_stream(NULL, on_data, &s, NULL, 0), MPROC_EINVAL);
    assert_code(mproc_proc_stream(p, NULL, &s, NULL, 0), MPROC_EINVAL);
    assert_code(mproc_proc_stream(p, on_data, &s, &bad, 0), MPROC_EINVAL);
    assert_code(mproc_proc_stream(p, on_data, &s, NULL, -5), MPROC_EINVAL);
    assert_int_equal(s.calls, 0);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    mproc_proc_free(p);
}

/* Node: const ls = spawn('ls', ['-lh', '/usr']); ls.stdout.on('data', ...);
 *       ls.stderr.on('data', ...); ls.on('close', code => ...) */
static void stream_node_ls_example(void **state)
{
    (void)state;
    const char *argv[] = {"ls", "-lh", "/usr", "/nonexistent-mproc-dir", NULL};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &piped));
    struct seen s = {0};
    assert_ok(mproc_proc_stream(p, on_data, &s, NULL, 10000));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_non_null(strstr(s.text[1], "bin"));
    assert_non_null(strstr(s.text[2], "nonexistent-mproc-dir"));
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 2); /* ls: a missing operand */
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void stream_and_read_survive_sigalrm_every_100us(void **state)
{
    (void)state;
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, &old_sa);
    struct itimerval it = {{0, 100}, {0, 100}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    const char *argv[] = {"sh", "-c", "echo a; sleep 0.2; echo b >&2; sleep 0.2; echo c", NULL};
    mproc_proc *p;
    int rc = mproc_spawn(&p, argv, &piped);
    struct seen s = {0};
    char buf[8];
    int n = rc == 0 ? mproc_proc_read(p, MPROC_STDOUT, buf, sizeof buf, 5000) : rc;
    int rs = rc == 0 ? mproc_proc_stream(p, on_data, &s, NULL, 5000) : rc;
    int rw = rc == 0 ? mproc_proc_wait(p, 5000, NULL) : rc;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old_sa, NULL);
    if (rc == 0)
        mproc_proc_free(p);
    assert_ok(rc);
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "a\n", 2);
    assert_ok(rs);
    assert_string_equal(s.text[1], "[c\n]");
    assert_string_equal(s.text[2], "[b\n]");
    assert_ok(rw);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(read_gets_data_as_it_comes_then_eof),
        cmocka_unit_test(read_times_out_when_nothing_comes),
        cmocka_unit_test(read_rejects_bad_arguments),
        cmocka_unit_test(write_then_read_back_through_cat),
        cmocka_unit_test(write_to_exited_child_is_epipe_not_sigpipe),
        cmocka_unit_test(write_times_out_on_a_full_pipe),
        cmocka_unit_test(write_rejects_bad_arguments),
        cmocka_unit_test(stream_chunks_from_both_streams_then_eof),
        cmocka_unit_test(stream_delivers_before_the_child_ends),
        cmocka_unit_test(stream_lines_splits_and_keeps_last_partial_line),
        cmocka_unit_test(stream_lines_joins_pieces_across_reads),
        cmocka_unit_test(stream_lines_cuts_long_lines_at_max_line),
        cmocka_unit_test(stream_stop_returns_canceled_and_resumes),
        cmocka_unit_test(stream_timeout_leaves_child_running),
        cmocka_unit_test(stream_lines_timeout_hands_over_partial_line),
        cmocka_unit_test(stream_rejects_bad_arguments),
        cmocka_unit_test(stream_node_ls_example),
        cmocka_unit_test(stream_and_read_survive_sigalrm_every_100us),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
