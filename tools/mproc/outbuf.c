/* outbuf.c: holds a job's stdout or stderr until it may be printed, and prints it.
 * Memory holds up to SPILL_AT bytes per stream (and SPILL_TOTAL for all streams
 * together); past that the stream moves to an unlinked temporary file, so a job that
 * writes gigabytes neither stalls on a full pipe nor exhausts memory, and nothing is
 * dropped. Printing adds the --tag prefix at every line start. It knows nothing of jobs
 * or ordering: runner.c decides when a buffer is printed. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPILL_AT    (1u << 20)  /* per stream */
#define SPILL_TOTAL (64u << 20) /* all streams together */
#define CHUNK       65536

size_t cli_obuf_mem_total;
const char *cli_obuf_dir;

void cli_obuf_init(struct cli_obuf *b)
{
    memset(b, 0, sizeof *b);
    b->spill = -1;
    b->at_bol = 1;
}

void cli_obuf_reset(struct cli_obuf *b)
{
    cli_obuf_mem_total -= b->cap;
    free(b->mem);
    if (b->spill >= 0)
        close(b->spill);
    cli_obuf_init(b);
}

static int open_spill(void)
{
    const char *dir = cli_obuf_dir ? cli_obuf_dir : getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT))
        return fd >= 0 ? fd : -errno;
    /* A file system without O_TMPFILE: create a named file and unlink it at once. */
    char path[4096];
    snprintf(path, sizeof path, "%s/mproc-out-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unlink(path);
    return fd;
}

static int spill_out(struct cli_obuf *b)
{
    int fd = open_spill();
    if (fd < 0)
        return fd;
    b->spill = fd;
    int rc = cli_write_all(fd, b->mem, b->len);
    b->spilled = b->len;
    cli_obuf_mem_total -= b->cap;
    free(b->mem);
    b->mem = NULL;
    b->len = b->cap = 0;
    return rc;
}

int cli_obuf_add(struct cli_obuf *b, const char *data, size_t n)
{
    if (n == 0)
        return 0;
    if (b->spill < 0 && !b->no_spill &&
        (b->len + n > SPILL_AT || cli_obuf_mem_total + n > SPILL_TOTAL)) {
        int rc = spill_out(b);
        if (rc < 0 && b->spill < 0) {
            /* No temporary file (descriptor limit, read-only /tmp): memory it is, rather
             * than dropping the job's output. */
            cli_warn("cannot create a temporary file for job output (%s): keeping it in memory",
                     strerror(-rc));
            b->no_spill = 1;
        } else if (rc < 0) {
            return rc;
        }
    }
    if (b->spill >= 0) {
        b->spilled += n;
        return cli_write_all(b->spill, data, n);
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->mem = cli_xrealloc(b->mem, cap);
        cli_obuf_mem_total += cap - b->cap;
        b->cap = cap;
    }
    memcpy(b->mem + b->len, data, n);
    b->len += n;
    return 0;
}

ssize_t cli_obuf_fill(struct cli_obuf *b, int fd)
{
    if (!b->big_pipe && cli_obuf_size(b) >= CHUNK) {
        /* A job that writes a lot: a bigger pipe means fewer wakeups for it and for us
         * (the kernel's pipe-max-size, 1 MiB by default, caps it; failure is harmless). */
        (void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
        b->big_pipe = 1;
    }
    if (b->spill >= 0) {
        /* Straight from the pipe into the file: no copy through user space. */
        ssize_t n = splice(fd, NULL, b->spill, NULL, 1u << 20, SPLICE_F_MOVE);
        if (n >= 0) {
            b->spilled += (uint64_t)n;
            return n;
        }
        if (errno != EINVAL)
            return errno == EINTR ? -EAGAIN : -errno;
    }
    char buf[CHUNK];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0)
        return errno == EINTR ? -EAGAIN : -errno;
    int rc = cli_obuf_add(b, buf, (size_t)n);
    return rc < 0 ? rc : n;
}

uint64_t cli_obuf_size(const struct cli_obuf *b)
{
    return b->spill >= 0 ? b->spilled : b->len;
}

int cli_emit(int fd, const char *data, size_t n, const char *tag, size_t taglen, int *at_bol)
{
    if (!tag) {
        if (n)
            *at_bol = data[n - 1] == '\n';
        return cli_write_all(fd, data, n);
    }
    /* One write per call: the prefixed text is staged, so lines stay whole. */
    struct cli_str s = {0};
    const char *p = data, *end = data + n;
    while (p < end) {
        if (*at_bol)
            cli_str_add(&s, tag, taglen);
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl + 1 : end;
        cli_str_add(&s, p, (size_t)(stop - p));
        *at_bol = nl != NULL;
        p = stop;
    }
    int rc = cli_write_all(fd, s.p, s.len);
    free(s.p);
    return rc;
}

static int copy_spill(struct cli_obuf *b, int fd, const char *tag, size_t taglen)
{
    off_t off = 0;
    if (!tag) {
        while ((uint64_t)off < b->spilled) {
            ssize_t n = sendfile(fd, b->spill, &off, b->spilled - (uint64_t)off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; /* sendfile cannot write to this fd: copy below */
        }
    }
    char buf[CHUNK];
    while ((uint64_t)off < b->spilled) {
        ssize_t n = pread(b->spill, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        int rc = cli_emit(fd, buf, (size_t)n, tag, taglen, &b->at_bol);
        if (rc < 0)
            return rc;
        off += n;
    }
    if (!tag && b->spilled > 0) {
        char last;
        if (pread(b->spill, &last, 1, (off_t)b->spilled - 1) == 1)
            b->at_bol = last == '\n';
    }
    return 0;
}

int cli_obuf_flush(struct cli_obuf *b, int fd, const char *tag, size_t taglen)
{
    int rc = 0;
    if (b->spill >= 0)
        rc = copy_spill(b, fd, tag, taglen);
    else if (b->len)
        rc = cli_emit(fd, b->mem, b->len, tag, taglen, &b->at_bol);
    int bol = b->at_bol;
    cli_obuf_reset(b);
    b->at_bol = bol;
    return rc;
}
