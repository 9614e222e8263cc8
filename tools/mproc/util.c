/* util.c: the tool's small helpers: allocation that cannot fail silently, messages,
 * clocks, writing whole buffers, growable strings. No process or job logic here. */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *cli_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        cli_die("out of memory");
    return p;
}

void *cli_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        cli_die("out of memory");
    return q;
}

char *cli_xstrdup(const char *s)
{
    return cli_xstrndup(s, strlen(s));
}

char *cli_xstrndup(const char *s, size_t n)
{
    char *p = cli_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

__attribute__((format(printf, 1, 0))) static void vwarn(const char *fmt, va_list ap)
{
    /* One write, so the message is not split by a job's output on a shared terminal. */
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "mproc: ");
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    (void)cli_write_all(2, buf, len);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
}

void cli_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
    exit(CLI_EXIT_ERROR);
}

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double cli_epoch_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                /* Our stdout may be a non-blocking descriptor shared with whoever started
                 * us: wait for room rather than drop a job's output. */
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                (void)poll(&pfd, 1, -1);
                continue;
            }
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void cli_str_add(struct cli_str *s, const char *data, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->len + n + 1)
            cap *= 2;
        s->p = cli_xrealloc(s->p, cap);
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = '\0';
}

void cli_str_adds(struct cli_str *s, const char *z)
{
    cli_str_add(s, z, strlen(z));
}

void cli_str_addc(struct cli_str *s, char c)
{
    cli_str_add(s, &c, 1);
}

char *cli_str_take(struct cli_str *s)
{
    char *p = s->p ? s->p : cli_xstrdup("");
    s->p = NULL;
    s->len = s->cap = 0;
    return p;
}
