/* Pool tracing: a Chrome trace file with spans and crash events, and its SVG picture. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int default_crash_signals(void *ctx)
{
    (void)ctx;
    signal(SIGSEGV, SIG_DFL);
    return 0;
}

static int work(const void *in, void *out, void *ctx)
{
    (void)ctx;
    long x = *(const long *)in;
    if (x == 13)
        raise(SIGSEGV);
    usleep(1000);
    *(long *)out = x;
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void trace_records_spans_crashes_and_renders_svg(void **state)
{
    (void)state;
    char json[] = "/tmp/mproc-trace-XXXXXX";
    int fd = mkstemp(json);
    assert_true(fd >= 0);
    close(fd);
    mproc_pool *p;
    mproc_pool_opts o = {.workers = 2, .trace_path = json, .initializer = default_crash_signals};
    assert_ok(mproc_pool_new(&p, &o));
    long in[40], out[40];
    for (int i = 0; i < 40; i++)
        in[i] = i;
    assert_int_equal(mproc_pool_map(p, work, in, 40, sizeof(long), out, sizeof(long), NULL, NULL),
                     1);
    mproc_pool_free(p);
    char *t = slurp(json);
    assert_non_null(t);
    assert_true(t[0] == '[');
    assert_non_null(strstr(t, "\"name\":\"chunk\""));
    assert_non_null(strstr(t, "\"name\":\"crash\""));
    assert_non_null(strstr(t, "\"item\":13"));
    assert_non_null(strstr(t, "\"name\":\"start\""));
    assert_non_null(strstr(t, "]\n"));
    char svg[sizeof json + 4];
    snprintf(svg, sizeof svg, "%s.svg", json);
    assert_ok(mproc_trace_svg(json, svg));
    char *s = slurp(svg);
    assert_non_null(s);
    assert_non_null(strstr(s, "<svg"));
    assert_non_null(strstr(s, "worker 1"));
    assert_non_null(strstr(s, "#d9534f")); /* the crash mark */
    assert_non_null(strstr(s, "</svg>"));
    unlink(json);
    unlink(svg);
}

static void trace_svg_bad_input(void **state)
{
    (void)state;
    assert_code(mproc_trace_svg(NULL, "/tmp/x.svg"), MPROC_EINVAL);
    assert_code(mproc_trace_svg("/nonexistent/trace.json", "/tmp/x.svg"), MPROC_ENOENT);
    char empty[] = "/tmp/mproc-empty-XXXXXX";
    int fd = mkstemp(empty);
    assert_true(fd >= 0);
    assert_true(write(fd, "not a trace\n", 12) == 12);
    close(fd);
    assert_code(mproc_trace_svg(empty, "/tmp/mproc-never.svg"), MPROC_EPROTO);
    unlink(empty);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(trace_records_spans_crashes_and_renders_svg),
        cmocka_unit_test(trace_svg_bad_input),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
