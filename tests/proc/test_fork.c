/* Forking a function: return value as exit code, name in /proc/PID/comm, stdio
 * redirection, no duplicated output, forking from a thread. */
#include "proc_util.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

static int ret_arg(void *arg)
{
    return *(int *)arg;
}

static void fork_return_value_is_exit_code(void **state)
{
    (void)state;
    int codes[] = {0, 1, 42, 255};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        mproc_proc *p;
        assert_ok(mproc_fork(&p, ret_arg, &codes[i], NULL));
        mproc_status st;
        assert_ok(mproc_proc_wait(p, 5000, &st));
        mproc_proc_free(p);
        assert_int_equal(st.exited, 1);
        assert_int_equal(st.signaled, 0);
        assert_int_equal(st.code, codes[i]);
        assert_int_equal(mproc_exitcode(&st), codes[i]);
    }
}

static void fork_return_value_is_truncated_to_a_byte(void **state)
{
    (void)state;
    int v = 0x1234;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, ret_arg, &v, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.code, 0x34);
}

static int sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

static void fork_name_shows_in_comm(void **state)
{
    (void)state;
    mproc_opts o = {.name = "mproc-worker-1"};
    mproc_proc *p;
    assert_ok(mproc_fork(&p, sleeper, NULL, &o));
    /* The name is set before mproc_fork returns. */
    char path[64], comm[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)mproc_proc_pid(p));
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    assert_non_null(fgets(comm, sizeof comm, f));
    fclose(f);
    mproc_proc_free(p);
    assert_string_equal(comm, "mproc-worker-1\n");
}

static void fork_long_name_is_cut_at_15_bytes(void **state)
{
    (void)state;
    mproc_opts o = {.name = "a-very-long-worker-name"};
    mproc_proc *p;
    assert_ok(mproc_fork(&p, sleeper, NULL, &o));
    char comm[64];
    assert_int_equal(util_status_field(mproc_proc_pid(p), "Name", comm, sizeof comm), 0);
    mproc_proc_free(p);
    assert_string_equal(comm, "a-very-long-wor");
}

static int say_hello(void *arg)
{
    printf("hello from %s\n", (const char *)arg); /* buffered: flushed at return */
    return 3;
}

static void fork_stdout_to_pipe(void **state)
{
    (void)state;
    mproc_opts o = {0};
    o.stdio[1].kind = MPROC_STDIO_PIPE;
    mproc_proc *p;
    static char who[] = "the child";
    assert_ok(mproc_fork(&p, say_hello, who, &o));
    char out[64];
    assert_true(util_read_all(mproc_proc_stdio(p, 1), out, sizeof out, 5000) > 0);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_string_equal(out, "hello from the child\n");
    assert_int_equal(st.code, 3);
}

static int count_stdin(void *arg)
{
    (void)arg;
    char buf[256];
    int total = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        total += (int)n;
    return total;
}

static void fork_stdin_pipe_sees_eof(void **state)
{
    (void)state;
    /* The child must not keep the parent's end of its own stdin pipe open, or it never
     * sees EOF. */
    mproc_opts o = {0};
    o.stdio[0].kind = MPROC_STDIO_PIPE;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, count_stdin, NULL, &o));
    assert_int_equal(write(mproc_proc_stdio(p, 0), "hello", 5), 5);
    assert_ok(mproc_proc_close_stdio(p, 0));
    mproc_status st;
    int rc = mproc_proc_wait(p, 3000, &st);
    mproc_proc_free(p);
    assert_ok(rc);
    assert_int_equal(st.code, 5);
}

static int quiet(void *arg)
{
    (void)arg;
    return 0;
}

static void fork_flushes_parent_stdio_first(void **state)
{
    (void)state;
    /* Pending output of the parent is written once, not again by the child. */
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    fflush(stdout);
    int saved = fcntl(1, F_DUPFD_CLOEXEC, 3);
    dup2(fds[1], 1);
    close(fds[1]);
    fputs("pending", stdout); /* stays in stdout's buffer: stdout is not a tty here */
    mproc_proc *p = NULL;
    int rc = mproc_fork(&p, quiet, NULL, NULL);
    mproc_status st;
    if (rc == 0)
        rc = mproc_proc_wait(p, 5000, &st);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    mproc_proc_free(p);
    assert_ok(rc);
    char out[64];
    assert_true(util_read_all(fds[0], out, sizeof out, 5000) >= 0);
    close(fds[0]);
    assert_string_equal(out, "pending");
}

static void *fork_from_thread(void *arg)
{
    mproc_proc **out = arg;
    if (mproc_fork(out, sleeper, NULL, NULL) != 0)
        *out = NULL;
    return NULL;
}

static void fork_from_thread_keeps_signal_mask(void **state)
{
    (void)state;
    /* A child forked on behalf of a non-main thread must not inherit mproc's internal
     * all-blocked mask: SIGTERM acts at once. */
    mproc_proc *p = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fork_from_thread, &p), 0);
    pthread_join(t, NULL);
    assert_non_null(p);
    mproc_status st;
    assert_ok(mproc_proc_terminate(p, 3000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGTERM);
}

static void fork_detached_is_not_supported(void **state)
{
    (void)state;
    mproc_opts o = {.flags = MPROC_DETACHED};
    mproc_proc *p = NULL;
    assert_code(mproc_fork(&p, quiet, NULL, &o), MPROC_ENOTSUP);
    assert_null(p);
}

static int report_pgid(void *arg)
{
    (void)arg;
    return getpgrp() == getpid() ? 1 : 0;
}

static void fork_new_pgroup(void **state)
{
    (void)state;
    mproc_opts o = {.flags = MPROC_NEW_PGROUP};
    mproc_proc *p;
    assert_ok(mproc_fork(&p, report_pgid, NULL, &o));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    mproc_proc_free(p);
    assert_int_equal(st.code, 1);
}

/* In a forked child: forks a grandchild that returns 7 and passes its code on. The
 * grandchild checks its parent's pid (PR_SET_PDEATHSIG race check) against the pid
 * mproc_fork noted, so a pid remembered from the grandparent would make it exit 127. */
static int fork_again(void *arg)
{
    (void)arg;
    int seven = 7;
    mproc_proc *p;
    mproc_status st;
    if (mproc_fork(&p, ret_arg, &seven, NULL) != 0)
        return 101;
    int rc = mproc_proc_wait(p, -1, &st);
    mproc_proc_free(p);
    if (rc != 0 || !st.exited)
        return 102;
    return st.code;
}

static void fork_from_a_forked_child(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) { /* and again once the parent's answers are cached */
        mproc_proc *p;
        assert_ok(mproc_fork(&p, fork_again, NULL, NULL));
        mproc_status st;
        assert_ok(mproc_proc_wait(p, 5000, &st));
        mproc_proc_free(p);
        assert_int_equal(st.exited, 1);
        assert_int_equal(st.code, 7);
    }
}

static void *fork_again_from_thread(void *arg)
{
    mproc_proc *p;
    int *code = arg;
    *code = -1;
    if (mproc_fork(&p, fork_again, NULL, NULL) == 0) {
        mproc_status st;
        if (mproc_proc_wait(p, 5000, &st) == 0 && st.exited)
            *code = st.code;
        mproc_proc_free(p);
    }
    return NULL;
}

static void fork_from_a_child_forked_on_behalf_of_a_thread(void **state)
{
    (void)state;
    /* The child is forked on the spawner thread, which is its main (only) thread. */
    int code = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fork_again_from_thread, &code), 0);
    pthread_join(t, NULL);
    assert_int_equal(code, 7);
}

static void fork_wait_forever_returns_the_code(void **state)
{
    (void)state;
    int v = 33;
    mproc_proc *p;
    assert_ok(mproc_fork(&p, ret_arg, &v, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, -1, &st));
    assert_int_equal(mproc_proc_state(p), MPROC_EXITED);
    mproc_proc_free(p);
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 33);
}

static int sleep_long(void *arg)
{
    (void)arg;
    sleep(30);
    return 0;
}

/* A forked process that inherited the handle of its sibling may not wait for it, signal it
 * or terminate it (ECHILD, as Python's "can only join a child process"), and freeing its
 * copy of the handle leaves the sibling running. */
static int use_sibling_handle(void *arg)
{
    mproc_proc *sib = arg;
    mproc_status st;
    if (mproc_proc_wait(sib, 0, &st) != MPROC_ECHILD ||
        mproc_proc_signal(sib, SIGKILL) != MPROC_ECHILD ||
        mproc_proc_signal_group(sib, SIGKILL) != MPROC_ECHILD ||
        mproc_proc_terminate(sib, 0, &st) != MPROC_ECHILD)
        return 1;
    mproc_proc_free(sib);
    return 0;
}

static void inherited_handle_cannot_touch_the_sibling(void **state)
{
    (void)state;
    mproc_proc *sib, *p;
    assert_ok(mproc_fork(&sib, sleep_long, NULL, NULL));
    assert_ok(mproc_fork(&p, use_sibling_handle, sib, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    assert_int_equal(mproc_exitcode(&st), 0);
    assert_code(mproc_proc_wait(sib, 0, &st), MPROC_ETIMEDOUT); /* still running */
    assert_ok(mproc_proc_terminate(sib, 0, &st));
    assert_int_equal(st.signal, SIGKILL);
    mproc_proc_free(sib);
}

/* ---- a forked child keeps no copy of its siblings' pipes ------------------------------ */

static mproc_proc *spawn_cat_with_stdin_pipe(void)
{
    mproc_proc *cat;
    const char *argv[] = {"/bin/cat", NULL};
    mproc_opts o = {.stdio = {{.kind = MPROC_STDIO_PIPE}, {.kind = MPROC_STDIO_NULL}}};
    assert_ok(mproc_spawn(&cat, argv, &o));
    return cat;
}

/* cat's stdin write end, open in the parent when this child was forked. */
static int sibling_pipe_is_closed(void *arg)
{
    int fd = *(int *)arg;
    return fcntl(fd, F_GETFD) == -1 && errno == EBADF ? 0 : 1;
}

/* passed on purpose: open, and the sibling's handle (arg[1]) still shows it */
static int sibling_pipe_is_open(void *arg)
{
    void **a = arg;
    int fd = *(int *)a[0];
    return sibling_pipe_is_closed(&fd) == 1 && mproc_proc_stdio(a[1], MPROC_STDIN) == fd ? 0 : 1;
}

static void forked_child_does_not_hold_a_siblings_stdin(void **state)
{
    (void)state;
    mproc_proc *cat = spawn_cat_with_stdin_pipe(), *p;
    int w = mproc_proc_stdio(cat, MPROC_STDIN);
    assert_ok(mproc_fork(&p, sleep_long, NULL, NULL));
    /* End of input for cat, while the forked child still lives. */
    assert_ok(mproc_proc_close_stdio(cat, MPROC_STDIN));
    mproc_status st;
    int rc = mproc_proc_wait(cat, 5000, &st);
    assert_ok(mproc_proc_terminate(p, 0, NULL));
    mproc_proc_free(p);
    mproc_proc_free(cat);
    (void)w;
    assert_ok(rc); /* cat saw end-of-file: nobody else held the write end */
    assert_int_equal(mproc_exitcode(&st), 0);
}

static void forked_child_finds_siblings_pipes_closed(void **state)
{
    (void)state;
    mproc_proc *cat = spawn_cat_with_stdin_pipe(), *p;
    int w = mproc_proc_stdio(cat, MPROC_STDIN);
    mproc_status st;
    assert_ok(mproc_fork(&p, sibling_pipe_is_closed, &w, NULL));
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    assert_int_equal(mproc_exitcode(&st), 0);
    /* ...unless it is passed on purpose */
    mproc_opts o = {.pass_fds = &w, .pass_fds_count = 1};
    void *args[2] = {&w, cat};
    assert_ok(mproc_fork(&p, sibling_pipe_is_open, args, &o));
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    assert_int_equal(mproc_exitcode(&st), 0);
    mproc_proc_free(cat);
}

/* In the forked child the sibling's handle shows no pipe, and freeing it closes nothing
 * of the child's own, though the descriptor numbers it held are free for reuse there. */
static int free_sibling_keeps_own_fds(void *arg)
{
    mproc_proc *sib = arg;
    int fds[8], n = 0;
    for (; n < 8; n++)
        if ((fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
            return 1;
    if (mproc_proc_stdio(sib, MPROC_STDIN) != -1 || mproc_proc_take_stdio(sib, MPROC_STDIN) != -1)
        return 2;
    mproc_proc_free(sib);
    for (int i = 0; i < n; i++)
        if (fcntl(fds[i], F_GETFD) == -1)
            return 3;
    return 0;
}

static void inherited_handle_frees_nothing_of_the_childs(void **state)
{
    (void)state;
    mproc_proc *cat = spawn_cat_with_stdin_pipe(), *p;
    mproc_status st;
    assert_ok(mproc_fork(&p, free_sibling_keeps_own_fds, cat, NULL));
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    mproc_proc_free(cat);
    assert_int_equal(mproc_exitcode(&st), 0);
}

/* One thread runs cat with input to completion, over and over, while this one forks
 * children that linger: none of them may keep a copy of a run's pipes, or that run would
 * wait for end-of-file until its timeout. */
static _Atomic int runs_done, runs_failed, first_rc;
static _Atomic long first_len;
static _Atomic int64_t first_ms;

static void *run_cat_loop(void *arg)
{
    (void)arg;
    const char *argv[] = {"/bin/cat", NULL};
    mproc_run_opts ro = {.input = "hello", .input_len = 5, .timeout_ms = 5000};
    for (int i = 0; i < 20; i++) {
        mproc_result res;
        int64_t t0 = mproc_test_now_ms();
        int rc = mproc_run(argv, NULL, &ro, &res);
        if ((rc != 0 || res.out_len != 5) && atomic_fetch_add(&runs_failed, 1) == 0) {
            atomic_store(&first_rc, rc);
            atomic_store(&first_len, (long)res.out_len);
            atomic_store(&first_ms, mproc_test_now_ms() - t0);
        }
        mproc_result_free(&res);
        atomic_fetch_add(&runs_done, 1);
    }
    return NULL;
}

static void forks_beside_runs_in_another_thread_keep_no_pipes(void **state)
{
    (void)state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_cat_loop, NULL), 0);
    mproc_proc *kids[64];
    int n = 0;
    while (atomic_load(&runs_done) < 20 && n < 64) {
        assert_ok(mproc_fork(&kids[n++], sleep_long, NULL, NULL));
        usleep(2000);
    }
    pthread_join(t, NULL);
    for (int i = 0; i < n; i++) {
        assert_ok(mproc_proc_terminate(kids[i], 0, NULL));
        mproc_proc_free(kids[i]);
    }
    if (atomic_load(&runs_failed))
        fail_msg("%d runs failed; the first: %s, %ld bytes out, after %lld ms",
                 atomic_load(&runs_failed), mproc_err_name(atomic_load(&first_rc)),
                 atomic_load(&first_len), (long long)atomic_load(&first_ms));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(fork_return_value_is_exit_code),
        cmocka_unit_test(fork_return_value_is_truncated_to_a_byte),
        cmocka_unit_test(fork_name_shows_in_comm),
        cmocka_unit_test(fork_long_name_is_cut_at_15_bytes),
        cmocka_unit_test(fork_stdout_to_pipe),
        cmocka_unit_test(fork_stdin_pipe_sees_eof),
        cmocka_unit_test(fork_flushes_parent_stdio_first),
        cmocka_unit_test(fork_from_thread_keeps_signal_mask),
        cmocka_unit_test(fork_detached_is_not_supported),
        cmocka_unit_test(fork_new_pgroup),
        cmocka_unit_test(fork_from_a_forked_child),
        cmocka_unit_test(fork_from_a_child_forked_on_behalf_of_a_thread),
        cmocka_unit_test(fork_wait_forever_returns_the_code),
        cmocka_unit_test(inherited_handle_cannot_touch_the_sibling),
        cmocka_unit_test(forked_child_does_not_hold_a_siblings_stdin),
        cmocka_unit_test(forked_child_finds_siblings_pipes_closed),
        cmocka_unit_test(inherited_handle_frees_nothing_of_the_childs),
        MPROC_CASE(forks_beside_runs_in_another_thread_keep_no_pipes, 120),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
