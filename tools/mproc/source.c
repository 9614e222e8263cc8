/* source.c: turns the argument sources (::: lists, :::: files, stdin) into one tuple of
 * values per job, in GNU parallel's order: the cartesian product with the last source
 * varying fastest. The first source is read lazily and never blocks the caller (an
 * endless stdin streams jobs as lines arrive); the other sources are read whole at start
 * because every one of their values is needed for each value of the first. It does not
 * know about commands or processes. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536

struct reader {
    int fd;  /* -1 once at EOF and closed */
    int own; /* close fd at the end (not stdin) */
    char *buf;
    size_t pos, len, cap;
    int eof;
    const char *name;
};

struct cli_gen {
    size_t nsrc;
    char sep;
    /* source 0 */
    char **list0;
    size_t nlist0, i0;
    struct reader rd; /* when source 0 is a file or stdin */
    int streaming;
    long count0; /* values of source 0 seen */
    /* sources 1..nsrc-1, whole */
    char ***vals;
    size_t *nvals;
    /* Linked sources (:::+) form a group that advances as one; the odometer turns over
     * groups. Group 0 holds source 0 and the sources linked to it. */
    size_t *gid;  /* per source */
    size_t *glen; /* per group: its shortest member (SIZE_MAX: group 0 alone) */
    size_t ngroups;
    size_t *odo; /* per group */
    char *owned; /* owned[k]: vals[k]'s strings are ours to free */
    char *cur0;
    int have_cur;
};

static void reader_open(struct reader *r, const struct cli_src *s)
{
    memset(r, 0, sizeof *r);
    if (s->kind == CLI_SRC_STDIN || (s->path && strcmp(s->path, "-") == 0)) {
        r->fd = 0;
        r->name = "standard input";
        return;
    }
    r->fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        cli_die("cannot read argument file '%s': %s", s->path, strerror(errno));
    r->own = 1;
    r->name = s->path;
}

/* One read(); returns bytes read, 0 at EOF. Dies on a read error. */
static size_t reader_fill(struct reader *r)
{
    if (r->pos > 0 && r->pos == r->len) {
        r->pos = r->len = 0;
    } else if (r->pos > r->cap / 2) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < READ_CHUNK) {
        r->cap = r->cap ? r->cap * 2 : 2 * READ_CHUNK;
        r->buf = cli_xrealloc(r->buf, r->cap);
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            cli_die("cannot read '%s': %s", r->name, strerror(errno));
        if (n == 0) {
            r->eof = 1;
            if (r->own)
                close(r->fd);
            r->fd = -1;
        }
        r->len += (size_t)n;
        return (size_t)n;
    }
}

/* The next complete record: 1 and *out (malloc'd), 0 at EOF, 2 if more input is needed
 * and block == 0. */
static int reader_next(struct reader *r, char sep, int block, char **out)
{
    for (;;) {
        char *start = r->buf + r->pos;
        char *end = r->len > r->pos ? memchr(start, sep, r->len - r->pos) : NULL;
        if (end) {
            *out = cli_xstrndup(start, (size_t)(end - start));
            r->pos += (size_t)(end - start) + 1;
            return 1;
        }
        if (r->eof) {
            if (r->len == r->pos)
                return 0;
            *out = cli_xstrndup(start, r->len - r->pos); /* last record, unterminated */
            r->pos = r->len;
            return 1;
        }
        if (!block) {
            struct pollfd p = {.fd = r->fd, .events = POLLIN};
            if (poll(&p, 1, 0) == 0)
                return 2;
        }
        reader_fill(r);
    }
}

static void load_whole(struct cli_gen *g, size_t k, const struct cli_src *s)
{
    if (s->kind == CLI_SRC_LIST) {
        g->vals[k] = cli_xmalloc(s->nitems * sizeof(char *));
        for (size_t i = 0; i < s->nitems; i++)
            g->vals[k][i] = s->items[i];
        g->nvals[k] = s->nitems;
        return;
    }
    struct reader r;
    reader_open(&r, s);
    g->owned[k] = 1;
    char *v;
    size_t n = 0, cap = 0;
    while (reader_next(&r, g->sep, 1, &v) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            g->vals[k] = cli_xrealloc(g->vals[k], cap * sizeof(char *));
        }
        g->vals[k][n++] = v;
    }
    free(r.buf);
    g->nvals[k] = n;
}

/* Linked sources pair value by value and stop at the shortest, as GNU parallel does. */
static void make_groups(struct cli_gen *g, const struct cli_opts *o)
{
    g->glen[0] = SIZE_MAX;
    g->ngroups = 1;
    for (size_t k = 1; k < g->nsrc; k++) {
        if (!o->srcs[k].linked)
            g->glen[g->ngroups++] = SIZE_MAX;
        g->gid[k] = g->ngroups - 1;
        if (g->nvals[k] < g->glen[g->gid[k]])
            g->glen[g->gid[k]] = g->nvals[k];
    }
}

struct cli_gen *cli_gen_new(const struct cli_opts *o)
{
    struct cli_gen *g = calloc(1, sizeof *g);
    if (!g)
        cli_die("out of memory");
    g->nsrc = o->nsrcs;
    g->sep = o->null_sep ? '\0' : '\n';
    g->vals = calloc(g->nsrc, sizeof *g->vals);
    g->nvals = calloc(g->nsrc, sizeof *g->nvals);
    g->odo = calloc(g->nsrc, sizeof *g->odo);
    g->owned = calloc(g->nsrc, 1);
    g->gid = calloc(g->nsrc, sizeof *g->gid);
    g->glen = calloc(g->nsrc, sizeof *g->glen);
    if (!g->vals || !g->nvals || !g->odo || !g->owned || !g->gid || !g->glen)
        cli_die("out of memory");
    /* Open everything first so that an unreadable file fails before any job runs. */
    if (o->srcs[0].kind == CLI_SRC_LIST) {
        g->list0 = o->srcs[0].items;
        g->nlist0 = o->srcs[0].nitems;
    } else {
        reader_open(&g->rd, &o->srcs[0]);
        g->streaming = 1;
    }
    for (size_t k = 1; k < g->nsrc; k++)
        load_whole(g, k, &o->srcs[k]);
    make_groups(g, o);
    return g;
}

void cli_gen_free(struct cli_gen *g)
{
    if (!g)
        return;
    if (g->rd.own && g->rd.fd >= 0)
        close(g->rd.fd);
    free(g->rd.buf);
    free(g->cur0);
    for (size_t k = 1; k < g->nsrc; k++) {
        if (g->owned[k]) /* values read from a file; a list's are borrowed from argv */
            for (size_t i = 0; i < g->nvals[k]; i++)
                free(g->vals[k][i]);
        free(g->vals[k]);
    }
    free(g->owned);
    free(g->vals);
    free(g->nvals);
    free(g->odo);
    free(g->gid);
    free(g->glen);
    free(g);
}

/* Moves to the next value of source 0: 1, 0 at the end, 2 to wait for input. */
static int next0(struct cli_gen *g)
{
    free(g->cur0);
    g->cur0 = NULL;
    if (!g->streaming) {
        if (g->i0 >= g->nlist0)
            return 0;
        g->cur0 = cli_xstrdup(g->list0[g->i0++]);
    } else {
        int r = reader_next(&g->rd, g->sep, 0, &g->cur0);
        if (r != 1)
            return r;
    }
    g->count0++;
    memset(g->odo, 0, g->nsrc * sizeof *g->odo);
    return 1;
}

int cli_gen_next(struct cli_gen *g, char ***args)
{
    for (size_t k = 0; k < g->ngroups; k++)
        if (g->glen[k] == 0)
            return CLI_GEN_EOF; /* an empty source makes an empty product */
    if (!g->have_cur) {
        int r = next0(g);
        if (r == 0 || (r == 1 && (size_t)g->count0 > g->glen[0]))
            return CLI_GEN_EOF; /* a source linked to the first one has run out */
        if (r == 2)
            return CLI_GEN_WAIT;
        g->have_cur = 1;
    }
    char **a = cli_xmalloc(g->nsrc * sizeof(char *));
    a[0] = cli_xstrdup(g->cur0);
    for (size_t k = 1; k < g->nsrc; k++) {
        size_t i = g->gid[k] == 0 ? (size_t)g->count0 - 1 : g->odo[g->gid[k]];
        a[k] = cli_xstrdup(g->vals[k][i]);
    }
    /* Advance the odometer, last group fastest. */
    size_t k = g->ngroups;
    while (k-- > 1) {
        if (++g->odo[k] < g->glen[k])
            break;
        g->odo[k] = 0;
    }
    if (k == 0 || g->ngroups == 1)
        g->have_cur = 0;
    *args = a;
    return CLI_GEN_ARGS;
}

int cli_gen_fd(const struct cli_gen *g)
{
    return g->streaming && !g->rd.eof ? g->rd.fd : -1;
}

size_t cli_gen_nsrc(const struct cli_gen *g)
{
    return g->nsrc;
}

long cli_gen_total(const struct cli_gen *g)
{
    if (g->streaming && !g->rd.eof)
        return -1;
    long n = g->streaming ? g->count0 : (long)g->nlist0;
    if (g->streaming && g->rd.len > g->rd.pos) {
        /* records read but not yet handed out; the last may lack its separator */
        const char *p = g->rd.buf + g->rd.pos, *end = g->rd.buf + g->rd.len;
        for (const char *q; (q = memchr(p, g->sep, (size_t)(end - p))) != NULL; p = q + 1)
            n++;
        if (p < end)
            n++;
    }
    if (g->glen[0] != SIZE_MAX && (size_t)n > g->glen[0])
        n = (long)g->glen[0];
    for (size_t k = 1; k < g->ngroups; k++)
        n *= (long)g->glen[k];
    return n;
}
