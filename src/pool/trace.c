/* trace.c: pool trace events as Chrome trace-event JSON lines, and the SVG renderer.
 *
 * Writers: the parent (worker start/exit, crash, timeout) and every worker (its spans)
 * share one O_APPEND descriptor inherited across fork. Each event is formatted into a
 * stack buffer and written with one write(), which O_APPEND makes atomic for lines this
 * short, so no lock is needed between processes. The file is a JSON array whose closing
 * bracket is optional in the trace-event format; mproc_trace_close adds it.
 * Must not allocate on the worker path. */
#include "pool/trace_int.h"
#include "sys/sys.h"

#include <mproc/trace.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mproc__trace_open(const char *path)
{
    int fd = mproc__open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0)
        return fd;
    static const char head[] = "[\n";
    (void)mproc__write_all(fd, head, sizeof head - 1);
    return fd;
}

static double us(int64_t ns)
{
    return (double)ns / 1000.0;
}

void mproc__trace_span(int fd, int slot, const char *name, int64_t t0_ns, int64_t t1_ns,
                       long long first, long long count)
{
    if (fd < 0)
        return;
    char line[256];
    int n = snprintf(line, sizeof line,
                     "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"%s\",\"ts\":%.3f,"
                     "\"dur\":%.3f,\"args\":{\"first\":%lld,\"count\":%lld}},\n",
                     slot, name, us(t0_ns), us(t1_ns - t0_ns), first, count);
    if (n > 0 && (size_t)n < sizeof line)
        (void)mproc__write(fd, line, (size_t)n);
}

void mproc__trace_instant(int fd, int slot, const char *name, int64_t t_ns, long long item,
                          int code)
{
    if (fd < 0)
        return;
    char line[256];
    int n = snprintf(line, sizeof line,
                     "{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%d,\"name\":\"%s\",\"ts\":%.3f,"
                     "\"args\":{\"item\":%lld,\"code\":%d}},\n",
                     slot, name, us(t_ns), item, code);
    if (n > 0 && (size_t)n < sizeof line)
        (void)mproc__write(fd, line, (size_t)n);
}

void mproc__trace_close(int fd)
{
    if (fd < 0)
        return;
    /* A final metadata event makes the array well-formed JSON as well. */
    static const char tail[] = "{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\","
                               "\"args\":{\"name\":\"mproc pool\"}}\n]\n";
    (void)mproc__write_all(fd, tail, sizeof tail - 1);
    mproc__close(fd);
}

/* ---- SVG ------------------------------------------------------------------------------ */

struct ev {
    char ph;
    int tid;
    double ts, dur;
    char name[32];
};

static int parse_line(const char *l, struct ev *e)
{
    const char *ph = strstr(l, "\"ph\":\""), *tid = strstr(l, "\"tid\":"),
               *ts = strstr(l, "\"ts\":"), *name = strstr(l, "\"name\":\"");
    if (!ph || !tid || !ts || !name)
        return 0;
    e->ph = ph[6];
    e->tid = atoi(tid + 6);
    e->ts = strtod(ts + 5, NULL);
    const char *dur = strstr(l, "\"dur\":");
    e->dur = dur ? strtod(dur + 6, NULL) : 0;
    size_t k = 0;
    for (const char *s = name + 8; *s && *s != '"' && k + 1 < sizeof e->name; s++)
        e->name[k++] = *s;
    e->name[k] = '\0';
    return 1;
}

static int load_events(FILE *f, struct ev **out, size_t *n)
{
    size_t cap = 256;
    struct ev *v = malloc(cap * sizeof *v);
    if (!v)
        return MPROC_ENOMEM;
    char line[512];
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        struct ev e;
        if (!parse_line(line, &e) || (e.ph != 'X' && e.ph != 'i'))
            continue;
        if (*n == cap) {
            struct ev *g = realloc(v, 2 * cap * sizeof *v);
            if (!g) {
                free(v);
                return MPROC_ENOMEM;
            }
            v = g;
            cap *= 2;
        }
        v[(*n)++] = e;
    }
    *out = v;
    return *n ? 0 : MPROC_EPROTO;
}

static void svg_write(FILE *o, const struct ev *v, size_t n)
{
    double t0 = v[0].ts, t1 = v[0].ts;
    int rows = 1;
    for (size_t i = 0; i < n; i++) {
        if (v[i].ts < t0)
            t0 = v[i].ts;
        if (v[i].ts + v[i].dur > t1)
            t1 = v[i].ts + v[i].dur;
        if (v[i].tid + 1 > rows)
            rows = v[i].tid + 1;
    }
    double span = t1 > t0 ? t1 - t0 : 1, width = 1000, left = 90, rowh = 28;
    double h = 40 + rows * rowh + 30;
    fprintf(o,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
            "font-family='sans-serif' font-size='12'>\n",
            left + width + 20, h);
    fprintf(o, "<rect width='100%%' height='100%%' fill='white'/>\n");
    fprintf(o,
            "<text x='10' y='20' font-size='14'>mproc pool timeline: %.1f ms, %d workers "
            "(bars: work, red: crash or timeout)</text>\n",
            span / 1000, rows);
    for (int r = 0; r < rows; r++)
        fprintf(o, "<text x='10' y='%.0f'>worker %d</text>\n", 40 + r * rowh + 18, r);
    for (size_t i = 0; i < n; i++) {
        double x = left + (v[i].ts - t0) / span * width, y = 40 + v[i].tid * rowh;
        if (v[i].ph == 'X') {
            double w = v[i].dur / span * width;
            fprintf(o,
                    "<rect x='%.2f' y='%.0f' width='%.2f' height='%.0f' fill='%s' "
                    "stroke='white' stroke-width='0.5'><title>%s %.3f ms</title></rect>\n",
                    x, y + 4, w < 0.5 ? 0.5 : w, rowh - 8,
                    strcmp(v[i].name, "task") == 0 ? "#4a90d9" : "#5cb85c", v[i].name,
                    v[i].dur / 1000);
        } else {
            int bad = strcmp(v[i].name, "start") != 0 && strcmp(v[i].name, "exit") != 0;
            fprintf(o,
                    "<line x1='%.2f' y1='%.0f' x2='%.2f' y2='%.0f' stroke='%s' "
                    "stroke-width='%d'><title>%s</title></line>\n",
                    x, y + 1, x, y + rowh - 1, bad ? "#d9534f" : "#999", bad ? 3 : 1, v[i].name);
        }
    }
    double ay = 40 + rows * rowh + 12;
    fprintf(o, "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='black'/>\n", left, ay,
            left + width, ay);
    for (int k = 0; k <= 10; k++)
        fprintf(o, "<text x='%.0f' y='%.0f' text-anchor='middle'>%.1f ms</text>\n",
                left + k * width / 10, ay + 14, span / 1000 * k / 10);
    fprintf(o, "</svg>\n");
}

int mproc_trace_svg(const char *trace_json, const char *svg_path)
{
    if (!trace_json || !svg_path)
        return MPROC_EINVAL;
    FILE *f = fopen(trace_json, "re");
    if (!f)
        return -errno;
    struct ev *v = NULL;
    size_t n = 0;
    int rc = load_events(f, &v, &n);
    fclose(f);
    if (rc < 0) {
        free(v);
        return rc;
    }
    FILE *o = fopen(svg_path, "we");
    if (!o) {
        rc = -errno;
        free(v);
        return rc;
    }
    svg_write(o, v, n);
    rc = fclose(o) == 0 ? 0 : -errno;
    free(v);
    return rc;
}
