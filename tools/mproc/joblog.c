/* joblog.c: --joblog in GNU parallel's format (a header, then one tab-separated line
 * per finished job: Seq Host Starttime JobRuntime Send Receive Exitval Signal Command)
 * and the --resume / --resume-failed reading of an existing log. Each line goes out in
 * one write() on an O_APPEND descriptor, so a log survives mproc being killed mid-run
 * with every line whole. It does not decide what a failure is: runner.c passes values. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char header[] =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

struct cli_joblog {
    int fd;
    unsigned char *skip; /* skip[seq] != 0: done in an earlier run */
    long nskip;
};

static void mark(struct cli_joblog *jl, long seq, int done)
{
    if (seq >= jl->nskip) {
        long n = jl->nskip ? jl->nskip : 1024;
        while (n <= seq)
            n *= 2;
        jl->skip = cli_xrealloc(jl->skip, (size_t)n);
        memset(jl->skip + jl->nskip, 0, (size_t)(n - jl->nskip));
        jl->nskip = n;
    }
    jl->skip[seq] = (unsigned char)done; /* a later line for the same job wins */
}

/* Reads the existing log: --resume skips every job it lists, --resume-failed only those
 * that exited 0 without a signal. */
static void read_done(struct cli_joblog *jl, const char *path, int resume)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return; /* nothing done yet */
        cli_die("cannot read joblog '%s': %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        long seq;
        int exitval, sig;
        /* Seq Host Starttime JobRuntime Send Receive Exitval Signal */
        if (sscanf(line, "%ld\t%*[^\t]\t%*s\t%*s\t%*s\t%*s\t%d\t%d", &seq, &exitval, &sig) != 3 ||
            seq < 1 || seq > 100000000)
            continue; /* the header, or a line cut short */
        mark(jl, seq, resume == 1 || (exitval == 0 && sig == 0));
    }
    free(line);
    fclose(f);
}

struct cli_joblog *cli_joblog_open(const char *path, int resume)
{
    struct cli_joblog *jl = cli_xmalloc(sizeof *jl);
    memset(jl, 0, sizeof *jl);
    int append = resume != 0;
    if (append)
        read_done(jl, path, resume);
    jl->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append ? 0 : O_TRUNC), 0644);
    if (jl->fd < 0)
        cli_die("cannot open joblog '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(jl->fd, &st) == 0 && st.st_size == 0)
        (void)cli_write_all(jl->fd, header, sizeof header - 1);
    return jl;
}

void cli_joblog_close(struct cli_joblog *jl)
{
    if (!jl)
        return;
    close(jl->fd);
    free(jl->skip);
    free(jl);
}

int cli_joblog_skip(const struct cli_joblog *jl, long seq)
{
    return jl && seq < jl->nskip && jl->skip[seq];
}

void cli_joblog_write(struct cli_joblog *jl, long seq, double start, double runtime,
                      uint64_t received, int exitval, int sig, const char *cmd)
{
    if (!jl)
        return;
    /* GNU parallel's number formats: %.3f start, %10.3f runtime. A newline inside the
     * command would break the one-line-per-job format, so it is written as a space. */
    char head[160];
    int n = snprintf(head, sizeof head, "%ld\t:\t%.3f\t%10.3f\t0\t%llu\t%d\t%d\t", seq, start,
                     runtime, (unsigned long long)received, exitval, sig);
    struct cli_str s = {0};
    cli_str_add(&s, head, (size_t)n);
    for (const char *p = cmd; *p; p++)
        cli_str_addc(&s, *p == '\n' ? ' ' : *p);
    cli_str_addc(&s, '\n');
    if (cli_write_all(jl->fd, s.p, s.len) < 0)
        cli_warn("cannot write the joblog: %s", strerror(errno));
    free(s.p);
}
