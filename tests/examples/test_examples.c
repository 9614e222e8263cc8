/* test_examples.c: runs each built example (examples/NN_name.c) and checks its output and exit
 * status exactly, so the programs the README and `make demo` show keep doing what their
 * comments say. The examples are built in the same tree (ASan builds under asan).
 *
 * Each example is spawned with stdout and stderr piped and read to EOF by run_example()
 * below; the cases then compare the text. */
#include "harness.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EX_TIMEOUT_MS 20000
#define EX_BUF        65536

/* What one run of an example produced. */
struct ex_run {
    char out[EX_BUF], err[EX_BUF]; /* NUL-terminated */
    size_t out_len, err_len;
    mproc_status st;
    pid_t pid;  /* the example's own pid */
    int64_t ms; /* wall time from spawn to exit */
};

static struct ex_run run; /* one case runs one example at a time */

/* Appends what fd has to buf; 0 at EOF, 1 if more may come, an error if the output
 * does not fit (no example prints anything near EX_BUF). */
static int drain(int fd, char *buf, size_t *len)
{
    ssize_t n = read(fd, buf + *len, EX_BUF - 1 - *len);
    if (n < 0)
        return errno == EINTR ? 1 : -errno;
    if (n == 0)
        return *len == EX_BUF - 1 ? MPROC_EMSGSIZE : 0;
    *len += (size_t)n;
    buf[*len] = '\0';
    return 1;
}

/* Reads both pipes until both end or the deadline passes. */
static int read_both(mproc_proc *p, int64_t deadline)
{
    struct pollfd pf[2] = {{.fd = mproc_proc_stdio(p, 1), .events = POLLIN},
                           {.fd = mproc_proc_stdio(p, 2), .events = POLLIN}};
    char *bufs[2] = {run.out, run.err};
    size_t *lens[2] = {&run.out_len, &run.err_len};
    while (pf[0].fd >= 0 || pf[1].fd >= 0) {
        int64_t left = deadline - mproc_test_now_ms();
        if (left <= 0)
            return MPROC_ETIMEDOUT;
        if (poll(pf, 2, (int)left) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int rc = drain(pf[i].fd, bufs[i], lens[i]);
            if (rc < 0)
                return rc;
            if (rc == 0)
                pf[i].fd = -1;
        }
    }
    return 0;
}

/* Under `make valgrind` the examples run under valgrind too (--trace-children), and it
 * writes its own report lines, "==PID== ..." or "--PID-- ...", to their stderr. Drop
 * those so the checks see what the example wrote; a memcheck error still shows in the
 * exit status (--error-exitcode). */
static int is_tool_line(const char *s)
{
    if (!(s[0] == '=' && s[1] == '=') && !(s[0] == '-' && s[1] == '-'))
        return 0;
    size_t digits = strspn(s + 2, "0123456789");
    return digits > 0 && s[2 + digits] == s[0] && s[3 + digits] == s[0];
}

static void strip_tool_lines(char *buf, size_t *len)
{
    char *in = buf, *out = buf;
    while (*in) {
        char *nl = strchr(in, '\n');
        size_t n = nl ? (size_t)(nl - in) + 1 : strlen(in);
        if (!is_tool_line(in)) {
            memmove(out, in, n);
            out += n;
        }
        in += n;
    }
    *out = '\0';
    *len = (size_t)(out - buf);
}

/* Runs examples/<name> with extra arguments args (NULL-terminated, may be NULL) and
 * environment env (NULL: ours), filling `run`. Leaves no child or descriptor behind. */
static int run_example(const char *name, const char *const *args, const char *const *env)
{
    memset(&run, 0, sizeof run);
    char path[4096];
    snprintf(path, sizeof path, "%s", mproc_test_example(name));
    const char *argv[8] = {path};
    for (size_t i = 0; args && args[i] && i < 6; i++)
        argv[i + 1] = args[i];

    mproc_opts o = {.env = env};
    o.stdio[0].kind = MPROC_STDIO_NULL;
    o.stdio[1].kind = MPROC_STDIO_PIPE;
    o.stdio[2].kind = MPROC_STDIO_PIPE;
    int64_t start = mproc_test_now_ms();
    mproc_proc *p;
    int rc = mproc_spawn(&p, argv, &o);
    if (rc < 0)
        return rc;
    run.pid = mproc_proc_pid(p);
    int64_t deadline = start + EX_TIMEOUT_MS;
    rc = read_both(p, deadline);
    if (rc == 0) {
        int64_t left = deadline - mproc_test_now_ms();
        rc = mproc_proc_wait(p, left > 0 ? (int)left : 0, &run.st);
    }
    run.ms = mproc_test_now_ms() - start;
    strip_tool_lines(run.err, &run.err_len);
    mproc_proc_free(p); /* kills and reaps it if something above failed */
    if (rc < 0)
        fprintf(stderr, "%s: stdout:\n%s\nstderr:\n%s\n", name, run.out, run.err);
    return rc;
}

/* Every line of text but the last skip_last starts with prefix. */
static void assert_lines_prefixed(const char *text, const char *prefix, int skip_last)
{
    int total = 0;
    for (const char *c = text; *c; c++)
        total += *c == '\n';
    if (*text && text[strlen(text) - 1] != '\n')
        total++;
    const char *l = text;
    for (int i = 0; i < total - skip_last; i++) {
        if (strncmp(l, prefix, strlen(prefix)) != 0)
            fail_msg("line %d lacks the prefix \"%s\":\n%s", i + 1, prefix, text);
        const char *nl = strchr(l, '\n');
        l = nl ? nl + 1 : l + strlen(l);
    }
}

/* The example exited with code 0 and wrote nothing to stderr. */
static void assert_clean_exit(void)
{
    if (run.err_len)
        fail_msg("unexpected stderr:\n%s", run.err);
    assert_int_equal(run.st.exited, 1);
    assert_int_equal(run.st.code, 0);
}

static void fork_hello_prints_both_lines_once(void **state)
{
    (void)state;
    assert_ok(run_example("01_fork_hello", NULL, NULL));
    assert_clean_exit();
    /* Either order (the processes race), but each line exactly once: stdio is flushed
     * before the fork, so the parent's buffer is not duplicated in the child. */
    const char *child = "Hello from the child process!\n";
    const char *parent = "Hello from the parent process!\n";
    char a[128], b[128];
    snprintf(a, sizeof a, "%s%s", child, parent);
    snprintf(b, sizeof b, "%s%s", parent, child);
    if (strcmp(run.out, a) != 0 && strcmp(run.out, b) != 0)
        fail_msg("unexpected stdout:\n%s", run.out);
}

static void exit_status_prints_child_code(void **state)
{
    (void)state;
    assert_ok(run_example("02_exit_status", NULL, NULL));
    assert_clean_exit();
    const char *head = "Child process terminating.\n"
                       "Child process finished with status 3\n";
    assert_int_equal(strncmp(run.out, head, strlen(head)), 0);
    long long cpu_us = -1, rss_kb = -1;
    char tail[8] = "";
    int n =
        sscanf(run.out + strlen(head), "It used %lld us of CPU and at most %lld kB of memory%7s",
               &cpu_us, &rss_kb, tail);
    assert_int_equal(n, 3);
    assert_string_equal(tail, ".");
    assert_true(cpu_us >= 0);
    assert_true(rss_kb > 0); /* any process has some resident memory */
    assert_int_equal(run.out[run.out_len - 1], '\n');
}

static void process_join_child_reports_own_pid(void **state)
{
    (void)state;
    assert_ok(run_example("03_process_join", NULL, NULL));
    assert_clean_exit();
    int child_pid = 0, started_pid = 0;
    const char *line = strstr(run.out, "Process ID: ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "Process ID: %d - ", &child_pid), 1);
    assert_non_null(strstr(line, " - Hello from the child process!\n"));
    line = strstr(run.out, "Started process ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "Started process %d\n", &started_pid), 1);
    /* The function ran in the child, not in the example's own process. */
    assert_int_equal(child_pid, started_pid);
    assert_int_not_equal(child_pid, run.pid);
    /* join came first: the last line is printed after the child has ended. */
    const char *last = "Main process finished.\n";
    assert_true(run.out_len > strlen(last));
    assert_string_equal(run.out + run.out_len - strlen(last), last);
}

static void terminate_reports_minus_sigterm(void **state)
{
    (void)state;
    assert_ok(run_example("04_terminate", NULL, NULL));
    assert_clean_exit();
    /* The child's line is flushed before it sleeps; the parent's two lines sit in its
     * stdio buffer until it exits, so the order is fixed. No "Task completed.". */
    assert_string_equal(run.out, "Starting long task...\n"
                                 "Still running after 1 s: terminating it.\n"
                                 "Process terminated with exit code -15.\n");
}

static void spawn_ls_streams_listing_and_exit_code(void **state)
{
    (void)state;
    assert_ok(run_example("05_spawn_ls", NULL, NULL));
    assert_clean_exit();
    /* ls -lh starts with "total"; /usr/bin exists on every Linux system. Each line of
     * the listing is delivered whole, with its prefix. */
    assert_int_equal(strncmp(run.out, "Output: total ", 14), 0);
    assert_non_null(strstr(run.out, " bin\n"));
    assert_lines_prefixed(run.out, "Output: ", 1);
    const char *last = "Child process exited with code 0\n";
    assert_string_equal(run.out + run.out_len - strlen(last), last);
}

static void spawn_ls_prefixes_stderr_and_reports_failure_code(void **state)
{
    (void)state;
    const char *args[] = {"/nonexistent-mproc-example", NULL};
    assert_ok(run_example("05_spawn_ls", args, NULL));
    assert_int_equal(run.st.exited, 1);
    assert_int_equal(run.st.code, 0); /* the example worked; ls itself failed */
    assert_int_equal(strncmp(run.err, "Error: ls: ", 11), 0);
    assert_non_null(strstr(run.err, "/nonexistent-mproc-example"));
    /* ls writes its message in several small writes; it still comes out as one line. */
    assert_lines_prefixed(run.err, "Error: ", 0);
    assert_int_equal(strchr(run.err, '\n') - run.err, (long)run.err_len - 1);
    /* GNU ls exits 2 when an operand cannot be accessed. */
    assert_string_equal(run.out, "Child process exited with code 2\n");
}

static void spawn_ls_missing_command_fails_at_spawn(void **state)
{
    (void)state;
    /* An empty PATH: "ls" cannot be found, and mproc_spawn() itself says so. */
    const char *env[] = {"PATH=/nonexistent-mproc-dir", NULL};
    assert_ok(run_example("05_spawn_ls", NULL, env));
    assert_int_equal(run.st.exited, 1);
    assert_int_equal(run.st.code, 1);
    assert_string_equal(run.out, "");
    assert_string_equal(run.err, "spawn failed at exec: no such file or directory\n");
}

static void kill_after_terminates_after_two_seconds(void **state)
{
    (void)state;
    assert_ok(run_example("06_kill_after", NULL, NULL));
    assert_clean_exit();
    assert_string_equal(run.out, "Running\n"
                                 "Process terminated\n"
                                 "Killed by signal 15 (Terminated)\n");
    /* It waited for its 2 s timeout before killing (a lower bound, never a speed check). */
    assert_true(run.ms >= 1900);
}

static void exec_capture_prints_captured_stdout(void **state)
{
    (void)state;
    assert_ok(run_example("07_exec_capture", NULL, NULL));
    assert_clean_exit();
    /* `uname -s` says "Linux"; the example prints the captured text and the exit code. */
    assert_string_equal(run.out, "Stdout: Linux\n"
                                 "Exit code: 0\n");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(fork_hello_prints_both_lines_once),
        cmocka_unit_test(exit_status_prints_child_code),
        cmocka_unit_test(process_join_child_reports_own_pid),
        MPROC_CASE(terminate_reports_minus_sigterm, 30),
        cmocka_unit_test(spawn_ls_streams_listing_and_exit_code),
        cmocka_unit_test(spawn_ls_prefixes_stderr_and_reports_failure_code),
        cmocka_unit_test(spawn_ls_missing_command_fails_at_spawn),
        MPROC_CASE(kill_after_terminates_after_two_seconds, 30),
        cmocka_unit_test(exec_capture_prints_captured_stdout),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
