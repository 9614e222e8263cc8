/* Tests of the `mproc run` command-line tool. Each case runs the built tool
 * ($MPROC_BUILD_DIR/mproc) as a child with piped stdin/stdout/stderr and checks its
 * output and exit status; where GNU parallel gives the same behaviour, the case runs
 * `parallel --will-cite` on the same invocation and compares. GNU parallel must be
 * installed (scripts/bootstrap --tests installs it): a missing one fails the comparison
 * cases loudly. Deliberate differences are named in the case and in docs/cli.md. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- running a command and capturing everything ------------------------------------- */

struct out {
    char *out, *err;
    size_t out_len, err_len;
    int status; /* exit code, or 128 + signal */
};

static void out_free(struct out *o)
{
    free(o->out);
    free(o->err);
    memset(o, 0, sizeof *o);
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    assert_non_null(*buf);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static const char *tool(void)
{
    static char path[4096];
    const char *dir = getenv("MPROC_BUILD_DIR");
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/mproc", dir);
    return path;
}

/* Reads the child's stdout/stderr until both reach EOF, then waits for it. */
static void collect(mproc_proc *p, struct out *o)
{
    int fds[2] = {mproc_proc_stdio(p, 1), mproc_proc_stdio(p, 2)};
    char **bufs[2] = {&o->out, &o->err};
    size_t *lens[2] = {&o->out_len, &o->err_len};
    append(&o->out, &o->out_len, "", 0);
    append(&o->err, &o->err_len, "", 0);
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd pfd[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        int r = poll(pfd, 2, 30000);
        assert_true(r > 0 || (r < 0 && errno == EINTR));
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !pfd[i].revents)
                continue;
            char buf[65536];
            ssize_t n = read(fds[i], buf, sizeof buf);
            if (n > 0) {
                append(bufs[i], lens[i], buf, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                mproc_proc_close_stdio(p, i + 1);
                fds[i] = -1;
            }
        }
    }
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 30000, &st));
    o->status = st.exited ? st.code : 128 + st.signal;
    mproc_proc_free(p);
}

static mproc_proc *start_n(const char *const argv[], const char *input, size_t n, const char *cwd)
{
    mproc_opts po = {.cwd = cwd};
    po.stdio[0].kind = input ? MPROC_STDIO_PIPE : MPROC_STDIO_NULL;
    po.stdio[1].kind = MPROC_STDIO_PIPE;
    po.stdio[2].kind = MPROC_STDIO_PIPE;
    mproc_proc *p = NULL;
    assert_ok(mproc_spawn(&p, argv, &po));
    if (input) {
        int fd = mproc_proc_stdio(p, 0);
        assert_true(n < 60000); /* fits the pipe: no need to interleave with reading */
        assert_int_equal(write(fd, input, n), (ssize_t)n);
        mproc_proc_close_stdio(p, 0);
    }
    return p;
}

static mproc_proc *start(const char *const argv[], const char *input, const char *cwd)
{
    return start_n(argv, input, input ? strlen(input) : 0, cwd);
}

/* Input with NULs in it: its length. Set for one run by the -0 cases. */
static size_t input_len_override;

static size_t input_len(const char *input)
{
    return input_len_override ? input_len_override : input ? strlen(input) : 0;
}

/* argv: a NULL-terminated list after the program (and "run"). */
static void run_tool_in(struct out *o, const char *input, const char *cwd, const char *const *args)
{
    const char *argv[64] = {tool(), "run"};
    size_t n = 2;
    for (; args[n - 2]; n++) {
        assert_true(n < 63);
        argv[n] = args[n - 2];
    }
    argv[n] = NULL;
    memset(o, 0, sizeof *o);
    collect(start_n(argv, input, input_len(input), cwd), o);
}

static void run_tool(struct out *o, const char *input, const char *const *args)
{
    run_tool_in(o, input, NULL, args);
}

static int have_parallel(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    for (const char *s = path ? path : "/usr/bin:/bin"; *s;) {
        const char *e = strchrnul(s, ':');
        snprintf(buf, sizeof buf, "%.*s/parallel", (int)(e - s), s);
        if (access(buf, X_OK) == 0)
            return 1;
        s = *e ? e + 1 : e;
    }
    return 0;
}

static void run_parallel(struct out *o, const char *input, const char *const *args)
{
    if (!have_parallel())
        fail_msg("GNU parallel is not installed (scripts/bootstrap --tests installs it): "
                 "this comparison with it cannot run");
    const char *argv[64] = {"parallel", "--will-cite"};
    size_t n = 2;
    for (; args[n - 2]; n++) {
        assert_true(n < 63);
        argv[n] = args[n - 2];
    }
    argv[n] = NULL;
    memset(o, 0, sizeof *o);
    collect(start_n(argv, input, input_len(input), NULL), o);
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of s, sorted, joined again (for output whose order is not defined). */
static char *sorted(const char *s)
{
    char *copy = strdup(s);
    char *lines[4096];
    size_t n = 0;
    for (char *save, *l = strtok_r(copy, "\n", &save); l && n < 4096;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    qsort(lines, n, sizeof lines[0], cmp_lines);
    char *res = calloc(1, strlen(s) + 2);
    for (size_t i = 0; i < n; i++) {
        strcat(res, lines[i]);
        strcat(res, "\n");
    }
    free(copy);
    return res;
}

/* Runs `mproc run MARGS` and `parallel PARGS` on the same input; stdout and the exit
 * status must match (sorted stdout when the order is not defined). */
static void compare2(const char *input, int sort, const char *const *margs,
                     const char *const *pargs)
{
    struct out m, g;
    run_tool(&m, input, margs);
    run_parallel(&g, input, pargs);
    if (sort) {
        char *a = sorted(m.out), *b = sorted(g.out);
        assert_string_equal(a, b);
        free(a);
        free(b);
    } else {
        assert_string_equal(m.out, g.out);
    }
    if (m.status != g.status)
        fail_msg("exit status: mproc %d, GNU parallel %d (mproc stderr: %s)", m.status, g.status,
                 m.err);
    out_free(&m);
    out_free(&g);
}

static void compare(const char *input, int sort, const char *const *args)
{
    compare2(input, sort, args, args);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect(const char *input, const char *const *args, const char *want_out,
                   int want_status)
{
    struct out o;
    run_tool(&o, input, args);
    assert_string_equal(o.out, want_out);
    if (o.status != want_status)
        fail_msg("exit status %d, wanted %d; stderr: %s", o.status, want_status, o.err);
    out_free(&o);
}

/* A bad invocation: exit 255, one line on stderr that contains `what`, nothing run. */
static void expect_error(const char *const *args, const char *what)
{
    struct out o;
    run_tool(&o, NULL, args);
    assert_int_equal(o.status, 255);
    assert_string_equal(o.out, "");
    assert_non_null(strstr(o.err, what));
    char *nl = strchr(o.err, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0'); /* exactly one line */
    out_free(&o);
}

/* A private scratch directory, removed by rm_tmpdir. */
static char *mk_tmpdir(void)
{
    char *d = strdup("/tmp/mproc-cli-test-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_tmpdir(char *d)
{
    struct out o;
    const char *argv[] = {"/bin/rm", "-rf", d, NULL};
    memset(&o, 0, sizeof o);
    collect(start(argv, NULL, NULL), &o);
    out_free(&o);
    free(d);
}

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* ---- arguments and replacement strings ----------------------------------------------- */

static void placeholders_match_parallel(void **state)
{
    (void)state;
    compare(NULL, 0,
            ARGS("-k", "echo", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}", ":::", "dir.x/a.b.c", "a",
                 "/a.b", "./x", "a.", ".bashrc", "a/b/"));
}

static void numbered_placeholders_match_parallel(void **state)
{
    (void)state;
    compare(NULL, 0,
            ARGS("-k", "echo", "{2}", "{1}", "{1.}", "{2/}", "{-1}", ":::", "a.x", "b.y",
                 ":::", "d/e", "f"));
}

static void cartesian_product_in_parallel_order(void **state)
{
    (void)state;
    compare(NULL, 0, ARGS("-k", "echo", ":::", "a", "b", ":::", "1", "2", ":::", "x", "y"));
}

static void linked_sources_pair_values(void **state)
{
    (void)state;
    /* :::+ pairs a source with the one before it, stopping at the shorter */
    compare(NULL, 0,
            ARGS("-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2", "3", ":::", "x", "y"));
    compare(NULL, 0,
            ARGS("-k", "echo", ":::", "x", ":::", "a", "b", "c", ":::+", "1", "2", "3", ":::+", "A",
                 "B"));
}

static void arguments_appended_without_placeholder(void **state)
{
    (void)state;
    compare(NULL, 0, ARGS("-k", "echo", "pre", ":::", "a", "b", ":::", "1"));
}

static void job_number_alone_appends_nothing(void **state)
{
    (void)state;
    compare(NULL, 0, ARGS("-k", "echo", "n{#}", ":::", "a", "b", "c"));
}

static void whole_placeholder_gives_one_word_per_source(void **state)
{
    (void)state;
    /* As `parallel -q`: a word that is exactly {} becomes one argument per source. */
    compare2(NULL, 0, ARGS("-k", "printf", "[%s]\\n", "{}", ":::", "a b", ":::", "1"),
             ARGS("-k", "-q", "printf", "[%s]\\n", "{}", ":::", "a b", ":::", "1"));
}

static void slot_numbers_stay_within_jobs(void **state)
{
    (void)state;
    struct out o;
    run_tool(&o, NULL, ARGS("-j2", "echo", "{%}", ":::", "1", "2", "3", "4", "5", "6"));
    assert_int_equal(o.status, 0);
    assert_int_equal(count_char(o.out, '\n'), 6);
    for (const char *p = o.out; *p; p += 2)
        assert_true((p[0] == '1' || p[0] == '2') && p[1] == '\n');
    out_free(&o);
}

static void arg_file_and_list_sources(void **state)
{
    (void)state;
    char *d = mk_tmpdir();
    char *f = path_in(d, "args");
    write_file(f, "x\ny z\n");
    compare(NULL, 0, ARGS("-k", "echo", ":::", "a", "b", "::::", f));
    compare(NULL, 0, ARGS("-k", "echo", "::::", f, ":::", "1", "2"));
    free(f);
    rm_tmpdir(d);
}

static void stdin_lines_are_arguments(void **state)
{
    (void)state;
    compare("one\ntwo words\n\nlast-unterminated", 0, ARGS("-k", "echo", "[{}]"));
}

static void stdin_null_separated(void **state)
{
    (void)state;
    input_len_override = 8;
    compare2("a b\nc\0d\0", 0, ARGS("-k", "-0", "printf", "<%s>\\n"),
             ARGS("-k", "-0", "-q", "printf", "<%s>\\n"));
    /* the record separator really is NUL: a newline stays inside the argument */
    input_len_override = 5;
    expect("x\ny\0z", ARGS("-k", "-0", "printf", "<%s>"), "<x\ny><z>", 0);
    input_len_override = 0;
}

static void stdin_streams_jobs_as_lines_arrive(void **state)
{
    (void)state;
    /* The first job runs and prints while stdin is still open: input is read without
     * blocking the loop. */
    const char *argv[] = {tool(), "run", "-j2", "echo", NULL};
    mproc_opts po = {0};
    po.stdio[0].kind = MPROC_STDIO_PIPE;
    po.stdio[1].kind = MPROC_STDIO_PIPE;
    po.stdio[2].kind = MPROC_STDIO_NULL;
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &po));
    assert_int_equal(write(mproc_proc_stdio(p, 0), "first\n", 6), 6);
    struct pollfd pfd = {mproc_proc_stdio(p, 1), POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    char buf[64] = "";
    assert_int_equal(read(pfd.fd, buf, sizeof buf - 1), 6);
    assert_string_equal(buf, "first\n");
    assert_int_equal(write(mproc_proc_stdio(p, 0), "second\n", 7), 7);
    mproc_proc_close_stdio(p, 0);
    struct out o;
    memset(&o, 0, sizeof o);
    collect(p, &o);
    assert_string_equal(o.out, "second\n");
    assert_int_equal(o.status, 0);
    out_free(&o);
}

static void empty_stdin_runs_nothing(void **state)
{
    (void)state;
    compare("", 0, ARGS("echo", "never"));
}

static void direct_mode_uses_no_shell(void **state)
{
    (void)state;
    /* Without --shell, arguments never meet a shell: $HOME and ; stay literal.
     * (GNU parallel without -q would expand them: mproc's default is parallel's -q.) */
    expect(NULL, ARGS("-k", "echo", ":::", "$HOME", "a;b", "$(id)"), "$HOME\na;b\n$(id)\n", 0);
}

static void shell_mode_quotes_arguments(void **state)
{
    (void)state;
    char *d = mk_tmpdir();
    char *bad = path_in(d, "pwned");
    char inj[4200];
    snprintf(inj, sizeof inj, "$(touch %s)", bad);
    compare2(NULL, 0, ARGS("-k", "--shell", "echo {} | tr a-z A-Z", ":::", inj, "it's", "a  b"),
             ARGS("-k", "echo {} | tr a-z A-Z", ":::", inj, "it's", "a  b"));
    struct stat st;
    assert_int_equal(stat(bad, &st), -1); /* the value was never run as a command */
    free(bad);
    rm_tmpdir(d);
}

static void dry_run_prints_commands(void **state)
{
    (void)state;
    compare(NULL, 0, ARGS("-k", "--dry-run", "echo", "{}", ":::", "a b", "c'd", "plain"));
}

/* ---- output ----------------------------------------------------------------------------- */

static void keep_order_matches_input_order(void **state)
{
    (void)state;
    compare2(NULL, 0, ARGS("-k", "-j3", "--shell", "sleep {}; echo {}", ":::", "0.3", "0.1", "0.2"),
             ARGS("-k", "-j3", "sleep {}; echo {}", ":::", "0.3", "0.1", "0.2"));
}

static void without_keep_order_output_follows_completion(void **state)
{
    (void)state;
    compare2(NULL, 0, ARGS("-j2", "--shell", "sleep {}; echo {}", ":::", "0.6", "0.05"),
             ARGS("-j2", "sleep {}; echo {}", ":::", "0.6", "0.05"));
}

static void grouped_output_never_interleaves(void **state)
{
    (void)state;
    struct out o;
    run_tool(&o, NULL,
             ARGS("-j3", "--shell", "for i in 1 2 3; do echo {}$i; sleep 0.05; done", ":::", "a",
                  "b", "c"));
    assert_int_equal(o.status, 0);
    /* each job's three lines are together */
    for (const char *p = o.out; *p; p += 9) {
        assert_true(strlen(p) >= 9);
        assert_true(p[0] == p[3] && p[3] == p[6]);
        assert_true(p[1] == '1' && p[4] == '2' && p[7] == '3');
    }
    assert_int_equal(strlen(o.out), 27);
    out_free(&o);
}

static void line_buffer_prints_lines_as_they_come(void **state)
{
    (void)state;
    struct out o;
    run_tool(
        &o, NULL,
        ARGS("-j2", "--line-buffer", "--shell", "echo {}1; sleep 2; echo {}2", ":::", "a", "b"));
    assert_int_equal(o.status, 0);
    /* both first lines come before both second lines: the jobs' lines interleave */
    assert_int_equal(strlen(o.out), 12);
    assert_int_equal(o.out[1], '1');
    assert_int_equal(o.out[4], '1');
    assert_int_equal(o.out[7], '2');
    assert_int_equal(o.out[10], '2');
    out_free(&o);
}

static void tag_prefixes_every_line(void **state)
{
    (void)state;
    compare2(NULL, 0, ARGS("-k", "--tag", "--shell", "echo x{}; echo y", ":::", "a", "b c"),
             ARGS("-k", "--tag", "echo x{}; echo y", ":::", "a", "b c"));
    compare(NULL, 0, ARGS("-k", "--tag", "echo", ":::", "a", "b", ":::", "1"));
}

static void tag_applies_to_stderr(void **state)
{
    (void)state;
    struct out o;
    run_tool(&o, NULL, ARGS("--tag", "--shell", "echo out{}; echo err{} >&2", ":::", "t"));
    assert_string_equal(o.out, "t\toutt\n");
    assert_string_equal(o.err, "t\terrt\n");
    out_free(&o);
}

static void large_output_is_complete(void **state)
{
    (void)state;
    /* 3 jobs of 6 MiB on stdout and 3 MiB on stderr each: far past the pipe size and the
     * in-memory limit, so the output spills to a temporary file; nothing may be lost. */
    struct out o;
    run_tool(&o, NULL,
             ARGS("-j3", "--shell", "head -c {}000000 /dev/zero; head -c 3000000 /dev/zero >&2",
                  ":::", "6", "6", "6"));
    assert_int_equal(o.status, 0);
    assert_int_equal(o.out_len, 18000000);
    assert_int_equal(o.err_len, 9000000);
    out_free(&o);
}

static void tmpdir_must_be_a_directory(void **state)
{
    (void)state;
    expect_error(ARGS("--tmpdir", "/nonexistent/dir", "echo", ":::", "a"), "/nonexistent/dir");
    char *d = mk_tmpdir();
    struct out o;
    run_tool(&o, NULL,
             ARGS("--tmpdir", d, "--shell", "head -c 3000000 /dev/zero; : {}", ":::", "a"));
    assert_int_equal(o.status, 0);
    assert_int_equal(o.out_len, 3000000);
    out_free(&o);
    rm_tmpdir(d);
}

/* ---- exit status and halting -------------------------------------------------------------- */

static void exit_status_counts_failed_jobs(void **state)
{
    (void)state;
    compare2(NULL, 1, ARGS("--shell", "exit {}", ":::", "0", "1", "2", "3"),
             ARGS("exit {}", ":::", "0", "1", "2", "3"));
}

static void exit_status_101_for_more_than_100_failures(void **state)
{
    (void)state;
    char input[1024] = "";
    for (int i = 0; i < 102; i++)
        strcat(input, "x\n");
    compare(input, 0, ARGS("-j4", "false"));
}

static void halt_now_fail_1_gives_the_job_status(void **state)
{
    (void)state;
    compare2(
        NULL, 0,
        ARGS("-j1", "--halt", "now,fail=1", "--shell", "echo {}; exit {}", ":::", "0", "7", "3"),
        ARGS("-j1", "--halt", "now,fail=1", "echo {}; exit {}", ":::", "0", "7", "3"));
}

static void halt_fail_1_on_timeout_matches_parallel(void **state)
{
    (void)state;
    compare(NULL, 0, ARGS("--halt", "now,fail=1", "--timeout", "0.3", "sleep", "{}", ":::", "3"));
}

static void halt_soon_fail_n_counts(void **state)
{
    (void)state;
    compare2(NULL, 0,
             ARGS("-j1", "--halt", "soon,fail=2", "--shell", "echo {}; exit {}", ":::", "0", "5",
                  "3", "4"),
             ARGS("-j1", "--halt", "soon,fail=2", "echo {}; exit {}", ":::", "0", "5", "3", "4"));
}

static void halt_on_success(void **state)
{
    (void)state;
    compare2(
        NULL, 0,
        ARGS("-j1", "--halt", "now,success=1", "--shell", "echo {}; exit {}", ":::", "1", "0", "3"),
        ARGS("-j1", "--halt", "now,success=1", "echo {}; exit {}", ":::", "1", "0", "3"));
}

static void halt_percentage_status_is_the_failed_percentage(void **state)
{
    (void)state;
    compare2(
        NULL, 0,
        ARGS("-j1", "--halt", "soon,fail=50%", "--shell", "exit {}", ":::", "0", "1", "1", "0", "0",
             "0"),
        ARGS("-j1", "--halt", "soon,fail=50%", "exit {}", ":::", "0", "1", "1", "0", "0", "0"));
}

static void halt_now_kills_running_jobs(void **state)
{
    (void)state;
    int64_t t0 = mproc_test_now_ms();
    struct out o;
    run_tool(
        &o, NULL,
        ARGS("-j2", "--halt", "now,fail=1", "--shell", "sleep {}; exit 4", ":::", "30", "0.1"));
    assert_int_equal(o.status, 4);
    assert_true(mproc_test_now_ms() - t0 < 10000); /* the 30 s job was killed */
    out_free(&o);
}

/* ---- timeouts and retries ------------------------------------------------------------------ */

static void timeout_kills_the_whole_group(void **state)
{
    (void)state;
    /* The job starts a grandchild in its group and reports its pid; the timeout must
     * reach it too. */
    int64_t t0 = mproc_test_now_ms();
    struct out o;
    run_tool(&o, NULL,
             ARGS("--timeout", "2", "--line-buffer", "--shell",
                  "sleep 30 & echo $!; sleep 30; wait", ":::", "x"));
    assert_true(mproc_test_now_ms() - t0 < 10000);
    assert_int_equal(o.status, 1);
    int pid = atoi(o.out);
    assert_true(pid > 0);
    assert_true(mproc_test_wait_gone(pid, 5000));
    assert_non_null(strstr(o.err, "timed out"));
    out_free(&o);
}

static void timeout_in_joblog_matches_parallel(void **state)
{
    (void)state;
    char *d = mk_tmpdir();
    char *a = path_in(d, "m.log"), *b = path_in(d, "p.log");
    struct out m, g;
    run_tool(&m, NULL, ARGS("--joblog", a, "--timeout", "0.3", "sleep", ":::", "5"));
    run_parallel(&g, NULL, ARGS("--joblog", b, "--timeout", "0.3", "sleep", ":::", "5"));
    assert_int_equal(m.status, g.status);
    char *la = read_file(a), *lb = read_file(b);
    /* Exitval -1 and Signal 15 in both */
    assert_non_null(strstr(la, "\t-1\t15\tsleep 5\n"));
    assert_non_null(strstr(lb, "\t-1\t15\tsleep 5\n"));
    free(la);
    free(lb);
    out_free(&m);
    out_free(&g);
    free(a);
    free(b);
    rm_tmpdir(d);
}

static void retries_run_a_failing_job_n_times(void **state)
{
    (void)state;
    char *d = mk_tmpdir();
    char *cm = path_in(d, "m"), *cp = path_in(d, "p");
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "echo try; echo x >> %s; exit 1", cm);
    struct out m, g;
    run_tool(&m, NULL, ARGS("--retries", "3", "--shell", cmd, ":::", "a"));
    snprintf(cmd, sizeof cmd, "echo try; echo x >> %s; exit 1", cp);
    run_parallel(&g, NULL, ARGS("--retries", "3", cmd, ":::", "a"));
    /* only the last attempt's output is printed, the job counts once */
    assert_string_equal(m.out, g.out);
    assert_int_equal(m.status, g.status);
    char *fm = read_file(cm), *fp = read_file(cp);
    assert_string_equal(fm, "x\nx\nx\n");
    assert_string_equal(fm, fp);
    free(fm);
    free(fp);
    out_free(&m);
    out_free(&g);
    free(cm);
    free(cp);
    rm_tmpdir(d);
}

static void retry_that_succeeds_counts_as_success(void **state)
{
    (void)state;
    char *d = mk_tmpdir();
    char *c = path_in(d, "c");
    char cmd[4400];
    /* fails the first time, succeeds the second */
    snprintf(cmd, sizeof cmd, ": {}; [ -e %s ] && echo ok || { touch %s; exit 9; }", c, c);
    expect(NULL, ARGS("--retries", "2", "--shell", cmd, ":::", "a"), "ok\n", 0);
    free(c);
    rm_tmpdir(d);
}

/* ---- joblog and resume ---------------------------------------------------------------------- */

/* Drops the Starttime and JobRuntime columns (3 and 4), which differ run to run. */
static char *strip_times(const char *log)
{
    char *res = calloc(1, strlen(log) + 1), *w = res;
    int col = 1;
    for (const char *p = log; *p; p++) {
        if (*p == '\n')
            col = 0;
        if (col != 3 && col != 4)
            *w++ = *p;
        if (*p == '\t' || *p == '\n')
            col++;
    }
    return res;
}

static void joblog_matches_parallel(void **state)
{
    (void)state;
    char *d = mk_tmpdir();
    char *a = path_in(d, "m.log"), *b = path_in(d, "p.log");
    compare2(NULL, 0,
             ARGS("-j1", "--joblog", a, "--shell", "printf {}; echo e >&2; exit {}", ":::", "0",
                  "3", "12"),
             ARGS("-j1", "--joblog", b, "printf {}; echo e >&2; exit {}", ":::", "0", "3", "12"));
    char *la = read_file(a), *lb = read_file(b);
    char *sa = strip_times(la), *sb = strip_times(lb);
    assert_string_equal(sa, sb);
    /* the number formats: %.3f start, %10.3f runtime */
    const char *line1 = strchr(la, '\n') + 1;
    assert_memory_equal(line1, "1\t:\t", 4);
    const char *dot = strchr(line1 + 4, '.');
    assert_non_null(dot);
    assert_int_equal(dot[4], '\t');
    assert_memory_equal(dot + 5, "     0.", 7);
    free(sa);
    free(sb);
    free(la);
    free(lb);
    free(a);
    free(b);
    rm_tmpdir(d);
}

static void joblog_direct_command_is_quoted(void **state)
{
    (void)state;
    char *d = mk_tmpdir();
    char *a = path_in(d, "m.log"), *b = path_in(d, "p.log");
    compare2(NULL, 0, ARGS("--joblog", a, "printf", "[%s]\\n", "{}", ":::", "a b"),
             ARGS("--joblog", b, "-q", "printf", "[%s]\\n", "{}", ":::", "a b"));
    char *la = read_file(a), *lb = read_file(b);
    char *sa = strip_times(la), *sb = strip_times(lb);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);
    free(la);
    free(lb);
    free(a);
    free(b);
    rm_tmpdir(d);
}

static void resume_skips_logged_jobs(void **state)
{
    (void)state;
    char *d = mk_tmpdir();
    char *log = path_in(d, "log");
    expect(NULL, ARGS("-k", "--joblog", log, "echo", ":::", "a", "b"), "a\nb\n", 0);
    expect(NULL, ARGS("-k", "--joblog", log, "--resume", "echo", ":::", "a", "b", "c", "d"),
           "c\nd\n", 0);
    char *l = read_file(log);
    assert_int_equal(count_char(l, '\n'), 5); /* header and four jobs */
    free(l);
    free(log);
    rm_tmpdir(d);
}

static void resume_failed_reruns_failures(void **state)
{
    (void)state;
    char *d = mk_tmpdir();
    char *log = path_in(d, "log");
    expect(NULL, ARGS("-k", "--joblog", log, "--shell", "echo {}; exit {}", ":::", "0", "1", "0"),
           "0\n1\n0\n", 1);
    expect(NULL,
           ARGS("-k", "--joblog", log, "--resume-failed", "--shell", "echo {}; exit {}", ":::", "0",
                "1", "0", "0"),
           "1\n0\n", 1);
    free(log);
    rm_tmpdir(d);
}

/* ---- bad input --------------------------------------------------------------------------- */

static void unknown_option_is_an_error(void **state)
{
    (void)state;
    expect_error(ARGS("--frobnicate", "echo", ":::", "a"), "--frobnicate");
}

static void empty_list_is_an_error(void **state)
{
    (void)state;
    /* GNU parallel runs nothing and exits 0 here: mproc calls it a mistake. */
    expect_error(ARGS("echo", ":::"), ":::");
    expect_error(ARGS("echo", ":::", "a", ":::"), ":::");
}

static void unreadable_arg_file_is_an_error(void **state)
{
    (void)state;
    expect_error(ARGS("echo", "::::", "/nonexistent/args"), "/nonexistent/args");
}

static void unbalanced_brace_is_an_error(void **state)
{
    (void)state;
    expect_error(ARGS("echo", "{1", ":::", "a"), "unbalanced");
    /* braces that are not replacement strings stay literal */
    expect(NULL, ARGS("echo", "{x}", "{}", ":::", "a"), "{x} a\n", 0);
}

static void missing_command_is_an_error(void **state)
{
    (void)state;
    /* GNU parallel runs each job through a shell that exits 127; mproc refuses early. */
    expect_error(ARGS("no-such-command-mproc", ":::", "a"), "no-such-command-mproc");
    expect_error(ARGS("/nonexistent/cmd", ":::", "a"), "/nonexistent/cmd");
}

static void missing_templated_command_fails_that_job(void **state)
{
    (void)state;
    struct out o;
    run_tool(&o, NULL, ARGS("-k", "{}", "hi", ":::", "echo", "no-such-cmd-mproc"));
    assert_string_equal(o.out, "hi\n");
    assert_int_equal(o.status, 1);
    assert_non_null(strstr(o.err, "no-such-cmd-mproc"));
    out_free(&o);
}

static void bad_numbers_are_errors(void **state)
{
    (void)state;
    expect_error(ARGS("-j", "x", "echo", ":::", "a"), "-j");
    expect_error(ARGS("--timeout", "-1", "echo", ":::", "a"), "--timeout");
    expect_error(ARGS("--halt", "later,fail=1", "echo", ":::", "a"), "--halt");
    expect_error(ARGS("echo", "{3}", ":::", "a", ":::", "b"), "{3}");
}

/* ---- signals ------------------------------------------------------------------------------ */

/* Starts mproc with two jobs that print their pid and sleep; returns mproc's handle and
 * the two job pids. */
static mproc_proc *start_sleepers(int pids[2])
{
    const char *argv[] = {tool(),    "run",
                          "-j2",     "--line-buffer",
                          "--shell", ": {}; echo $$; exec sleep 30",
                          ":::",     "a",
                          "b",       NULL};
    mproc_proc *p = start(argv, NULL, NULL);
    int fd = mproc_proc_stdio(p, 1);
    char buf[256] = "";
    size_t len = 0;
    while (count_char(buf, '\n') < 2) {
        struct pollfd pfd = {fd, POLLIN, 0};
        assert_int_equal(poll(&pfd, 1, 10000), 1);
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        assert_true(n > 0);
        len += (size_t)n;
        buf[len] = '\0';
    }
    pids[0] = atoi(buf);
    pids[1] = atoi(strchr(buf, '\n') + 1);
    assert_true(pids[0] > 0 && pids[1] > 0);
    return p;
}

/* kill() on the pid rather than mproc_proc_signal(): mproc is our unreaped child, so the
 * pid cannot be reused, and this also works where pidfd_send_signal is missing
 * (valgrind). */
static void send_signal(mproc_proc *p, int sig)
{
    assert_int_equal(kill(mproc_proc_pid(p), sig), 0);
}

static void signal_ends_jobs(int sig, int want_status)
{
    int pids[2];
    mproc_proc *p = start_sleepers(pids);
    send_signal(p, sig);
    struct out o;
    memset(&o, 0, sizeof o);
    collect(p, &o);
    if (o.status != want_status)
        fail_msg("exit status %d, wanted %d; stderr: %s", o.status, want_status, o.err);
    assert_true(mproc_test_wait_gone(pids[0], 5000));
    assert_true(mproc_test_wait_gone(pids[1], 5000));
    out_free(&o);
}

static void sigterm_kills_jobs_and_exits_143(void **state)
{
    (void)state;
    signal_ends_jobs(SIGTERM, 143);
}

static void sigint_kills_jobs_and_exits_130(void **state)
{
    (void)state;
    signal_ends_jobs(SIGINT, 130);
}

static void sigkill_of_mproc_kills_jobs(void **state)
{
    (void)state;
    /* mproc gets no chance to clean up: the library's parent-death tie does it. */
    signal_ends_jobs(SIGKILL, 128 + SIGKILL);
}

/* The state letter of a process in /proc/PID/stat ('T' stopped), or 0 if gone. */
static char proc_state(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

static int wait_state(int pid, int stopped)
{
    for (int i = 0; i < 500; i++) {
        char c = proc_state(pid);
        if ((c == 'T') == stopped)
            return 1;
        usleep(10000);
    }
    return 0;
}

static void ctrl_z_stops_and_continues_jobs(void **state)
{
    (void)state;
    /* Jobs run in their own process groups: mproc passes SIGTSTP on, stops itself, and
     * continues them when it is continued. */
    int pids[2];
    mproc_proc *p = start_sleepers(pids);
    send_signal(p, SIGTSTP);
    assert_true(wait_state(pids[0], 1));
    assert_true(wait_state(pids[1], 1));
    assert_true(wait_state(mproc_proc_pid(p), 1));
    send_signal(p, SIGCONT);
    assert_true(wait_state(pids[0], 0));
    assert_true(wait_state(pids[1], 0));
    send_signal(p, SIGTERM);
    struct out o;
    memset(&o, 0, sizeof o);
    collect(p, &o);
    assert_int_equal(o.status, 143);
    assert_true(mproc_test_wait_gone(pids[0], 5000));
    assert_true(mproc_test_wait_gone(pids[1], 5000));
    out_free(&o);
}

/* ---- misc ----------------------------------------------------------------------------------- */

static void help_and_version(void **state)
{
    (void)state;
    struct out o;
    run_tool(&o, NULL, ARGS("--help"));
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "--keep-order"));
    out_free(&o);
    const char *argv[] = {tool(), "--version", NULL};
    memset(&o, 0, sizeof o);
    collect(start(argv, NULL, NULL), &o);
    assert_int_equal(o.status, 0);
    assert_int_equal(strncmp(o.out, "mproc ", 6), 0);
    out_free(&o);
}

static void jobs_limit_is_respected(void **state)
{
    (void)state;
    int64_t t0 = mproc_test_now_ms();
    expect(NULL, ARGS("-j1", "sleep", ":::", "0.3", "0.3", "0.3"), "", 0);
    assert_true(mproc_test_now_ms() - t0 >= 850); /* one at a time */
    /* -j0: all six at once, so each holds its own slot (a slot is reused only after a
     * job ends); no timing involved */
    struct out o;
    run_tool(&o, NULL,
             ARGS("-j0", "--shell", "sleep 2; echo {%}", ":::", "a", "b", "c", "d", "e", "f"));
    char *slots = sorted(o.out);
    assert_string_equal(slots, "1\n2\n3\n4\n5\n6\n");
    free(slots);
    out_free(&o);
}

static void jobs_relative_to_cpus(void **state)
{
    (void)state;
    /* -j200%: twice the online CPUs at once, so the highest slot number is exactly that */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN), want = 2 * cpus;
    char *input = calloc((size_t)(want + 2), 8);
    for (long i = 0; i < want + 2; i++)
        sprintf(input + strlen(input), "%ld\n", i);
    struct out o;
    run_tool(&o, input, ARGS("-j200%", "--shell", "sleep 1; echo {%}"));
    free(input);
    assert_int_equal(o.status, 0);
    long max = 0;
    for (char *p = o.out; *p; p = strchr(p, '\n') + 1)
        if (atol(p) > max)
            max = atol(p);
    assert_int_equal(max, want);
    out_free(&o);
}

static void delay_spaces_job_starts(void **state)
{
    (void)state;
    int64_t t0 = mproc_test_now_ms();
    expect(NULL, ARGS("-j3", "--delay", "0.3", "true", ":::", "a", "b", "c"), "", 0);
    assert_true(mproc_test_now_ms() - t0 >= 550);
}

static void summary_on_request_only(void **state)
{
    (void)state;
    struct out o;
    run_tool(&o, NULL, ARGS("--shell", "exit {}", ":::", "0", "1"));
    assert_string_equal(o.err, ""); /* stderr is not a terminal: no summary */
    out_free(&o);
    run_tool(&o, NULL, ARGS("--summary", "--bar", "--shell", "exit {}", ":::", "0", "1"));
    assert_non_null(strstr(o.err, "2 jobs: 1 ok, 1 failed, 0 timed out"));
    assert_null(strchr(o.err, '\r')); /* --bar draws only on a terminal */
    assert_int_equal(o.status, 1);
    out_free(&o);
}

/* Runs mproc with stderr on a pseudo-terminal; returns what the terminal received. */
static char *stderr_on_tty(const char *const *args, int *status)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    assert_true(slave >= 0);
    const char *argv[64] = {tool(), "run"};
    size_t n = 2;
    for (; args[n - 2]; n++)
        argv[n] = args[n - 2];
    argv[n] = NULL;
    mproc_opts po = {0};
    po.stdio[0].kind = MPROC_STDIO_NULL;
    po.stdio[1].kind = MPROC_STDIO_NULL;
    po.stdio[2].kind = MPROC_STDIO_FD;
    po.stdio[2].fd = slave;
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &po));
    close(slave);
    char *buf = NULL;
    size_t len = 0;
    append(&buf, &len, "", 0);
    for (;;) { /* EIO once the last holder of the slave side has closed it */
        struct pollfd pfd = {master, POLLIN, 0};
        if (poll(&pfd, 1, 20000) <= 0)
            break;
        char tmp[4096];
        ssize_t r = read(master, tmp, sizeof tmp);
        if (r <= 0)
            break;
        append(&buf, &len, tmp, (size_t)r);
    }
    close(master);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 20000, &st));
    *status = st.exited ? st.code : 128 + st.signal;
    mproc_proc_free(p);
    return buf;
}

static void bar_and_summary_on_a_terminal(void **state)
{
    (void)state;
    int status;
    char *tty = stderr_on_tty(ARGS("-j2", "--bar", "sleep", ":::", "0.3", "0.3", "0.3"), &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(tty, "\r["));     /* the bar, redrawn in place */
    assert_non_null(strstr(tty, "/3 done")); /* with the total */
    assert_non_null(strstr(tty, "ETA"));
    assert_non_null(strstr(tty, "3 jobs: 3 ok")); /* a terminal gets the summary */
    free(tty);
    tty = stderr_on_tty(ARGS("--no-summary", "true", ":::", "a"), &status);
    assert_int_equal(status, 0);
    assert_null(strstr(tty, "jobs:"));
    free(tty);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(placeholders_match_parallel),
        cmocka_unit_test(numbered_placeholders_match_parallel),
        cmocka_unit_test(cartesian_product_in_parallel_order),
        cmocka_unit_test(linked_sources_pair_values),
        cmocka_unit_test(arguments_appended_without_placeholder),
        cmocka_unit_test(job_number_alone_appends_nothing),
        cmocka_unit_test(whole_placeholder_gives_one_word_per_source),
        cmocka_unit_test(slot_numbers_stay_within_jobs),
        cmocka_unit_test(arg_file_and_list_sources),
        cmocka_unit_test(stdin_lines_are_arguments),
        cmocka_unit_test(stdin_null_separated),
        cmocka_unit_test(stdin_streams_jobs_as_lines_arrive),
        cmocka_unit_test(empty_stdin_runs_nothing),
        cmocka_unit_test(direct_mode_uses_no_shell),
        cmocka_unit_test(shell_mode_quotes_arguments),
        cmocka_unit_test(dry_run_prints_commands),
        cmocka_unit_test(keep_order_matches_input_order),
        cmocka_unit_test(without_keep_order_output_follows_completion),
        cmocka_unit_test(grouped_output_never_interleaves),
        cmocka_unit_test(line_buffer_prints_lines_as_they_come),
        cmocka_unit_test(tag_prefixes_every_line),
        cmocka_unit_test(tag_applies_to_stderr),
        cmocka_unit_test(large_output_is_complete),
        cmocka_unit_test(tmpdir_must_be_a_directory),
        cmocka_unit_test(exit_status_counts_failed_jobs),
        cmocka_unit_test(exit_status_101_for_more_than_100_failures),
        cmocka_unit_test(halt_now_fail_1_gives_the_job_status),
        cmocka_unit_test(halt_fail_1_on_timeout_matches_parallel),
        cmocka_unit_test(halt_soon_fail_n_counts),
        cmocka_unit_test(halt_on_success),
        cmocka_unit_test(halt_percentage_status_is_the_failed_percentage),
        cmocka_unit_test(halt_now_kills_running_jobs),
        cmocka_unit_test(timeout_kills_the_whole_group),
        cmocka_unit_test(timeout_in_joblog_matches_parallel),
        cmocka_unit_test(retries_run_a_failing_job_n_times),
        cmocka_unit_test(retry_that_succeeds_counts_as_success),
        cmocka_unit_test(joblog_matches_parallel),
        cmocka_unit_test(joblog_direct_command_is_quoted),
        cmocka_unit_test(resume_skips_logged_jobs),
        cmocka_unit_test(resume_failed_reruns_failures),
        cmocka_unit_test(unknown_option_is_an_error),
        cmocka_unit_test(empty_list_is_an_error),
        cmocka_unit_test(unreadable_arg_file_is_an_error),
        cmocka_unit_test(unbalanced_brace_is_an_error),
        cmocka_unit_test(missing_command_is_an_error),
        cmocka_unit_test(missing_templated_command_fails_that_job),
        cmocka_unit_test(bad_numbers_are_errors),
        cmocka_unit_test(sigterm_kills_jobs_and_exits_143),
        cmocka_unit_test(sigint_kills_jobs_and_exits_130),
        cmocka_unit_test(sigkill_of_mproc_kills_jobs),
        cmocka_unit_test(ctrl_z_stops_and_continues_jobs),
        cmocka_unit_test(help_and_version),
        cmocka_unit_test(jobs_limit_is_respected),
        cmocka_unit_test(jobs_relative_to_cpus),
        cmocka_unit_test(delay_spaces_job_starts),
        cmocka_unit_test(summary_on_request_only),
        cmocka_unit_test(bar_and_summary_on_a_terminal),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
