/* cli.h: what the files of the `mproc` command-line tool share. Private to tools/mproc.
 *
 * The tool is one process with one poll() loop and no threads: options (opts.c) and
 * argument sources (source.c) make jobs, template.c turns a job's arguments into a
 * command, runner.c starts and watches the jobs, outbuf.c holds and prints their output,
 * joblog.c records them and progress.c reports on them. */
#ifndef MPROC_CLI_H
#define MPROC_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit statuses shared with GNU parallel. */
#define CLI_EXIT_ERROR     255 /* bad usage, bad input, a command that cannot run */
#define CLI_EXIT_MANY_FAIL 101 /* more than 100 jobs failed */

/* ---- util.c ---------------------------------------------------------------------- */
void *cli_xmalloc(size_t n);
void *cli_xrealloc(void *p, size_t n);
char *cli_xstrdup(const char *s);
char *cli_xstrndup(const char *s, size_t n);
/* "mproc: <message>\n" on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warns and exits with CLI_EXIT_ERROR (only before any job has started). */
_Noreturn void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t cli_now_ms(void);                             /* CLOCK_MONOTONIC */
double cli_epoch_s(void);                             /* CLOCK_REALTIME, seconds */
int cli_write_all(int fd, const void *buf, size_t n); /* 0 or -errno */

/* A growable byte string. */
struct cli_str {
    char *p;
    size_t len, cap;
};
void cli_str_add(struct cli_str *s, const char *data, size_t n);
void cli_str_adds(struct cli_str *s, const char *z);
void cli_str_addc(struct cli_str *s, char c);
char *cli_str_take(struct cli_str *s); /* NUL-terminated, caller frees; s is reset */

/* ---- opts.c ---------------------------------------------------------------------- */
enum cli_halt_when { CLI_HALT_NEVER = 0, CLI_HALT_SOON, CLI_HALT_NOW };
enum cli_halt_on { CLI_HALT_FAIL = 0, CLI_HALT_SUCCESS, CLI_HALT_DONE };

enum cli_src_kind { CLI_SRC_LIST, CLI_SRC_FILE, CLI_SRC_STDIN };

struct cli_src {
    int kind;     /* enum cli_src_kind */
    char **items; /* CLI_SRC_LIST: the values */
    size_t nitems;
    const char *path; /* CLI_SRC_FILE */
    int linked;       /* :::+ / ::::+: paired with the source before it, not multiplied */
};

struct cli_opts {
    long jobs;          /* -j: parallel jobs; 0 = as many as possible */
    int shell;          /* --shell: run through /bin/sh -c */
    int keep_order;     /* -k */
    int line_buffer;    /* --line-buffer */
    int tag;            /* --tag */
    int64_t timeout_ms; /* --timeout, 0 = none */
    long retries;       /* --retries: attempts in all (GNU parallel's meaning), >= 1 */
    int halt_when;      /* enum cli_halt_when */
    int halt_on;        /* enum cli_halt_on */
    long halt_n;        /* count, or percentage if halt_pct */
    int halt_pct;
    int64_t delay_ms; /* --delay */
    int dry_run;
    const char *joblog;
    const char *tmpdir; /* --tmpdir */
    int resume;         /* 1 --resume, 2 --resume-failed */
    int progress, bar;
    int summary;  /* -1 auto (stderr is a terminal), 0 never, 1 always */
    int null_sep; /* -0 */
    char **cmd;   /* command words (borrowed from argv) */
    size_t ncmd;
    struct cli_src *srcs;
    size_t nsrcs;
};

/* Parses `mproc run` arguments (argv[0] is "run"). Exits on --help, --version or bad
 * usage; otherwise fills *o. */
void cli_opts_parse(struct cli_opts *o, int argc, char **argv);
void cli_opts_free(struct cli_opts *o);
void cli_usage(int fd);

/* ---- source.c -------------------------------------------------------------------- */
/* Produces the argument tuples, one per job, in GNU parallel's order: the cartesian
 * product of the sources with the last varying fastest. The first source may be read
 * lazily (stdin or a file) so an endless input streams; the others are read at start. */
struct cli_gen;
struct cli_gen *cli_gen_new(const struct cli_opts *o);
void cli_gen_free(struct cli_gen *g);
enum { CLI_GEN_EOF = 0, CLI_GEN_ARGS = 1, CLI_GEN_WAIT = 2 };
/* CLI_GEN_ARGS: *args (g->nsrc strings, caller owns the array and the strings);
 * CLI_GEN_WAIT: no record is complete yet, poll cli_gen_fd() for input;
 * CLI_GEN_EOF: no more jobs. A read error is fatal (reported, exits). */
int cli_gen_next(struct cli_gen *g, char ***args);
int cli_gen_fd(const struct cli_gen *g);      /* descriptor to poll, or -1 */
size_t cli_gen_nsrc(const struct cli_gen *g); /* values per job */
/* Total number of jobs if known (all sources read), else -1. */
long cli_gen_total(const struct cli_gen *g);

/* ---- template.c ------------------------------------------------------------------ */
struct cli_tmpl;
/* Parses the command words; dies on an unbalanced '{'. */
struct cli_tmpl *cli_tmpl_new(char **words, size_t n, int shell);
void cli_tmpl_free(struct cli_tmpl *t);
/* 1 if argv[0] of the command holds a replacement string. */
int cli_tmpl_cmd_varies(const struct cli_tmpl *t);
/* The highest source number a replacement string names ({3} -> 3). */
long cli_tmpl_max_src(const struct cli_tmpl *t);
/* Builds a job's argv (NULL-terminated; free with cli_argv_free). */
char **cli_tmpl_expand(const struct cli_tmpl *t, char *const *args, size_t nargs, long seq,
                       long slot);
void cli_argv_free(char **argv);
/* The command as a shell would read it (GNU parallel's joblog and --dry-run form). */
char *cli_cmdline(char *const *argv, int shell);
/* Appends s quoted for a POSIX shell (unquoted when only safe characters). */
void cli_shell_quote(struct cli_str *out, const char *s);

/* ---- outbuf.c -------------------------------------------------------------------- */
/* A job's output stream held until it may be printed: in memory up to a limit, then in
 * an unlinked temporary file, so nothing is ever dropped and no pipe is left unread. */
struct cli_obuf {
    char *mem;
    size_t len, cap;
    int spill;        /* temporary file, -1 if none */
    uint64_t spilled; /* bytes in it */
    int at_bol;       /* the next byte printed starts a line (for --tag) */
    int no_spill;     /* a temporary file could not be made: stay in memory */
    int big_pipe;     /* the pipe was enlarged (F_SETPIPE_SZ) */
};
void cli_obuf_init(struct cli_obuf *b);
void cli_obuf_reset(struct cli_obuf *b); /* drops the content, frees memory */
/* Appends data; returns 0 or a negative errno (temporary file trouble). */
int cli_obuf_add(struct cli_obuf *b, const char *data, size_t n);
/* Reads what is waiting on pipe fd into the buffer (splicing into the spill file once
 * there is one). Returns bytes read, 0 on EOF, or -errno (-EAGAIN: nothing yet). */
ssize_t cli_obuf_fill(struct cli_obuf *b, int fd);
/* Writes data to fd, with tag in front of every line when tag != NULL. */
int cli_emit(int fd, const char *data, size_t n, const char *tag, size_t taglen, int *at_bol);
/* Prints and empties the buffer. */
int cli_obuf_flush(struct cli_obuf *b, int fd, const char *tag, size_t taglen);
uint64_t cli_obuf_size(const struct cli_obuf *b);
/* Bytes held in memory by all buffers (the tool's budget). */
extern size_t cli_obuf_mem_total;
/* Where output spills (--tmpdir); NULL: $TMPDIR, else /tmp. */
extern const char *cli_obuf_dir;

/* ---- joblog.c -------------------------------------------------------------------- */
struct cli_joblog;
/* Opens (truncating, or appending when resuming) and reads the done set for resume.
 * Dies with a message when the file cannot be used. */
struct cli_joblog *cli_joblog_open(const char *path, int resume);
void cli_joblog_close(struct cli_joblog *jl);
/* 1 if job seq should be skipped (resume). */
int cli_joblog_skip(const struct cli_joblog *jl, long seq);
void cli_joblog_write(struct cli_joblog *jl, long seq, double start, double runtime,
                      uint64_t received, int exitval, int sig, const char *cmd);

/* ---- progress.c ------------------------------------------------------------------ */
struct cli_counts {
    long started, done, ok, failed, timed_out, running, skipped;
    long killed; /* ended by mproc (--halt now, a signal): not counted as failed */
    long total;  /* -1 unknown */
};
/* Draws the progress line (bar != 0: with a bar) on stderr. */
void cli_progress_draw(const struct cli_counts *c, int64_t t0_ms, int bar);
void cli_progress_clear(void);
void cli_summary(const struct cli_counts *c, int64_t t0_ms, int sig);

/* ---- runner.c -------------------------------------------------------------------- */
/* Runs every job; returns the exit status. */
int cli_run(struct cli_opts *o);

#endif
