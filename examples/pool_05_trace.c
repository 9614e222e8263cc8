/* A picture of a pool at work. With tracing on (opts.trace_path, or the environment
 * variable MPROC_TRACE=file), the pool writes a Chrome trace-event file: open it in
 * Perfetto (ui.perfetto.dev) or chrome://tracing. mproc_trace_svg draws it as an SVG
 * timeline: one row per worker, bars for work, red marks for crashes.
 *
 * usage: pool_05_trace [trace.json [timeline.svg]] */
#define _DEFAULT_SOURCE /* usleep, clock_gettime, getpid with -std=c11 */
#include <mproc.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int fix_signals(void *ctx)
{
    (void)ctx;
    signal(SIGSEGV, SIG_DFL);
    return 0;
}

static int work(const void *in, void *out, void *ctx)
{
    (void)ctx;
    int x = *(const int *)in;
    if (x == 25)
        raise(SIGSEGV); /* one crash, to see it on the timeline */
    usleep(x % 5 == 0 ? 20000 : 3000);
    *(int *)out = x;
    return 0;
}

int main(int argc, char **argv)
{
    const char *json = argc > 1 ? argv[1] : "pool-trace.json";
    const char *svg = argc > 2 ? argv[2] : "pool-timeline.svg";
    mproc_pool *pool;
    mproc_pool_opts o = {.workers = 2, .trace_path = json, .initializer = fix_signals};
    if (mproc_pool_new(&pool, &o) < 0)
        return 1;
    int in[60], out[60];
    for (int i = 0; i < 60; i++)
        in[i] = i;
    int failed = mproc_pool_map(pool, work, in, 60, sizeof(int), out, sizeof(int), NULL, NULL);
    mproc_pool_free(pool); /* closes the trace file */
    int rc = mproc_trace_svg(json, svg);
    printf("map done, %d item failed; trace: %s, timeline: %s (%s)\n", failed, json, svg,
           rc == 0 ? "written" : mproc_strerror(rc));
    return rc == 0 && failed == 1 ? 0 : 1;
}
