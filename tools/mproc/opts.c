/* opts.c: parses `mproc run [options] CMD [ARGS...] [::: A B ...] [:::: FILE ...]` into
 * struct cli_opts. Every problem is a one-line message naming it and exit status 255,
 * before anything runs. It does not read argument files (source.c does). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mproc.h>

static const char usage_text[] =
    "usage: mproc run [options] COMMAND [ARGS...] [::: VALUES...]... [:::: FILE...]...\n"
    "       mproc --help | --version\n"
    "\n"
    "Runs COMMAND once per argument (or combination of arguments) in parallel.\n"
    "Arguments come from ::: lists, :::: files, or standard input (one per line);\n"
    "several sources multiply (every combination), :::+ and ::::+ pair with the previous.\n"
    "\n"
    "Replacement strings in COMMAND and ARGS:\n"
    "  {}  the argument        {.}  without extension    {/}  basename\n"
    "  {//} dirname            {/.} basename without extension\n"
    "  {#} job number          {%}  job slot             {N} {N.} {N/} ... N-th source\n"
    "  With none of them, the arguments are appended to the command.\n"
    "\n"
    "Options:\n"
    "  -j, --jobs N         run N jobs at once (default: online CPUs; 0: as many as possible;\n"
    "                       +N, -N, N%: online CPUs plus N, minus N, N% of them)\n"
    "  --shell              run the command with /bin/sh -c (arguments quoted safely)\n"
    "  -k, --keep-order     print output in input order\n"
    "  --line-buffer        print whole lines as they come (jobs' lines interleave)\n"
    "  --tag                prefix every output line with the arguments and a tab\n"
    "  --timeout SECS       kill a job's process group (TERM, then KILL) after SECS\n"
    "  --retries N          run a failing job up to N times in all\n"
    "  --halt WHEN,WHAT=N   stop after N (or N%) jobs fail, succeed or are done;\n"
    "                       WHEN: soon (let running jobs end) or now (kill them)\n"
    "  --delay SECS         wait SECS between job starts\n"
    "  --dry-run            print the commands instead of running them\n"
    "  --joblog FILE        record every job (GNU parallel's format)\n"
    "  --tmpdir DIR         where output past 1 MiB per job waits (default: $TMPDIR, /tmp)\n"
    "  --resume             skip the jobs FILE records\n"
    "  --resume-failed      skip the jobs FILE records as succeeded; run the others\n"
    "  --progress, --bar    show progress on stderr when it is a terminal\n"
    "  --summary            always print the summary line (default: when stderr is a tty)\n"
    "  --no-summary         never print it\n"
    "  -0, --null           input records end with NUL, not newline\n"
    "  -a, --arg-file FILE  read arguments from FILE (like :::: FILE)\n"
    "  -h, --help           this text\n"
    "  --version            the version\n"
    "\n"
    "Exit status: 0 all jobs succeeded; 1-100 that many failed; 101 more than 100 failed;\n"
    "255 other errors; with --halt ...,fail=1 the failing job's status; 130/143 when\n"
    "interrupted by SIGINT/SIGTERM. See mproc(1).\n";

void cli_usage(int fd)
{
    (void)cli_write_all(fd, usage_text, sizeof usage_text - 1);
}

static long parse_long(const char *opt, const char *v, long min)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min)
        cli_die("%s: '%s' is not a whole number >= %ld", opt, v, min);
    return n;
}

static int64_t parse_secs(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < 0 || d > 1e9)
        cli_die("%s: '%s' is not a number of seconds", opt, v);
    return (int64_t)(d * 1000.0 + 0.5);
}

/* GNU parallel's old --halt forms: 0 never, 1 soon,fail=1, 2 now,fail=1,
 * -1 soon,success=1, -2 now,success=1. Returns 1 if v was one of them. */
static int parse_halt_old(struct cli_opts *o, const char *v)
{
    if (strcmp(v, "never") == 0 || strcmp(v, "0") == 0) {
        o->halt_when = CLI_HALT_NEVER;
        return 1;
    }
    static const char *const forms[] = {"1", "2", "-1", "-2"};
    for (int i = 0; i < 4; i++)
        if (strcmp(v, forms[i]) == 0) {
            o->halt_when = i % 2 == 0 ? CLI_HALT_SOON : CLI_HALT_NOW;
            o->halt_on = i < 2 ? CLI_HALT_FAIL : CLI_HALT_SUCCESS;
            o->halt_n = 1;
            return 1;
        }
    return 0;
}

/* WHAT=N or WHAT=N%, after the comma. */
static void parse_halt_what(struct cli_opts *o, const char *what, const char *v)
{
    static const char *const names[] = {"fail=", "success=", "done="};
    size_t i;
    for (i = 0; i < 3; i++)
        if (strncmp(what, names[i], strlen(names[i])) == 0)
            break;
    if (i == 3)
        cli_die("--halt: '%s' is not now|soon,fail=N|success=N|done=N", v);
    o->halt_on = (int)i;
    char num[32];
    snprintf(num, sizeof num, "%s", what + strlen(names[i]));
    size_t nl = strlen(num);
    if (nl > 0 && num[nl - 1] == '%') {
        o->halt_pct = 1;
        num[nl - 1] = '\0';
    }
    o->halt_n = parse_long("--halt", num, 1);
    if (o->halt_pct && o->halt_n > 100)
        cli_die("--halt: '%s': a percentage is at most 100%%", v);
}

static void parse_halt(struct cli_opts *o, const char *v)
{
    if (parse_halt_old(o, v))
        return;
    if (v[0] >= '1' && v[0] <= '9' && !strchr(v, ',')) { /* N%: soon,fail=N% */
        char spec[64];
        snprintf(spec, sizeof spec, "soon,fail=%s", v);
        parse_halt(o, spec);
        return;
    }
    const char *comma = strchr(v, ',');
    size_t wl = comma ? (size_t)(comma - v) : 0;
    if (comma && wl == 3 && strncmp(v, "now", 3) == 0)
        o->halt_when = CLI_HALT_NOW;
    else if (comma && wl == 4 && strncmp(v, "soon", 4) == 0)
        o->halt_when = CLI_HALT_SOON;
    else
        cli_die("--halt: '%s' is not now|soon,fail=N|success=N|done=N", v);
    parse_halt_what(o, comma + 1, v);
}

static long online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* -j N, or GNU parallel's relative forms: +N and -N (CPUs plus or minus N, at least 1),
 * N% (that share of the CPUs, at least 1). */
static long parse_jobs(const char *opt, const char *v)
{
    size_t n = strlen(v);
    long cpus = online_cpus(), jobs;
    if (v[0] == '+' || v[0] == '-') {
        long d = parse_long(opt, v + 1, 0);
        jobs = v[0] == '+' ? cpus + d : cpus - d;
    } else if (n > 1 && v[n - 1] == '%') {
        char num[32];
        snprintf(num, sizeof num, "%.*s", (int)(n - 1), v);
        jobs = cpus * parse_long(opt, num, 0) / 100;
    } else {
        return parse_long(opt, v, 0);
    }
    return jobs < 1 ? 1 : jobs;
}

/* Options that take a value: returns the value (from "--opt=V", "-jV" or the next word). */
static const char *opt_value(const char *name, const char *arg, int argc, char **argv, int *i)
{
    size_t nl = strlen(name);
    if (strncmp(arg, name, nl) == 0 && arg[nl] == '=')
        return arg + nl + 1;
    if (name[1] != '-' && arg[nl] != '\0') /* -j4 */
        return arg + nl;
    if (*i + 1 >= argc)
        cli_die("%s needs a value", name);
    return argv[++*i];
}

static int is_opt(const char *arg, const char *name)
{
    size_t nl = strlen(name);
    if (strncmp(arg, name, nl) != 0)
        return 0;
    return arg[nl] == '\0' || arg[nl] == '=' || (name[1] != '-' && name[2] == '\0');
}

static void add_src(struct cli_opts *o, struct cli_src s)
{
    o->srcs = cli_xrealloc(o->srcs, (o->nsrcs + 1) * sizeof *o->srcs);
    o->srcs[o->nsrcs++] = s;
}

/* One option at argv[*i]; returns 0 if it was not an option this parser knows. */
static int parse_value_opt(struct cli_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (is_opt(a, "-j") || is_opt(a, "--jobs") || is_opt(a, "-P")) {
        const char *name = a[1] == '-' ? "--jobs" : a[1] == 'P' ? "-P" : "-j";
        o->jobs = parse_jobs(name, opt_value(name, a, argc, argv, i));
    } else if (is_opt(a, "--timeout")) {
        o->timeout_ms = parse_secs("--timeout", opt_value("--timeout", a, argc, argv, i));
    } else if (is_opt(a, "--retries")) {
        o->retries = parse_long("--retries", opt_value("--retries", a, argc, argv, i), 0);
    } else if (is_opt(a, "--halt")) {
        parse_halt(o, opt_value("--halt", a, argc, argv, i));
    } else if (is_opt(a, "--delay")) {
        o->delay_ms = parse_secs("--delay", opt_value("--delay", a, argc, argv, i));
    } else if (is_opt(a, "--tmpdir")) {
        o->tmpdir = opt_value("--tmpdir", a, argc, argv, i);
    } else if (is_opt(a, "--joblog")) {
        o->joblog = opt_value("--joblog", a, argc, argv, i);
    } else if (is_opt(a, "-a") || is_opt(a, "--arg-file")) {
        const char *name = a[1] == '-' ? "--arg-file" : "-a";
        const char *f = opt_value(name, a, argc, argv, i);
        add_src(o, (struct cli_src){.kind = CLI_SRC_FILE, .path = f});
    } else {
        return 0;
    }
    return 1;
}

static int parse_flag_opt(struct cli_opts *o, const char *a)
{
    static const struct {
        const char *name;
        size_t off;
        int val;
    } flags[] = {
        {"--shell", offsetof(struct cli_opts, shell), 1},
        {"-k", offsetof(struct cli_opts, keep_order), 1},
        {"--keep-order", offsetof(struct cli_opts, keep_order), 1},
        {"--line-buffer", offsetof(struct cli_opts, line_buffer), 1},
        {"--lb", offsetof(struct cli_opts, line_buffer), 1},
        {"--tag", offsetof(struct cli_opts, tag), 1},
        {"--dry-run", offsetof(struct cli_opts, dry_run), 1},
        {"--resume", offsetof(struct cli_opts, resume), 1},
        {"--resume-failed", offsetof(struct cli_opts, resume), 2},
        {"--progress", offsetof(struct cli_opts, progress), 1},
        {"--bar", offsetof(struct cli_opts, bar), 1},
        {"--summary", offsetof(struct cli_opts, summary), 1},
        {"--no-summary", offsetof(struct cli_opts, summary), 0},
        {"-0", offsetof(struct cli_opts, null_sep), 1},
        {"--null", offsetof(struct cli_opts, null_sep), 1},
        {"-q", offsetof(struct cli_opts, shell), 0}, /* GNU parallel's -q is our default */
        {"--quote", offsetof(struct cli_opts, shell), 0},
        {"--will-cite", offsetof(struct cli_opts, dry_run), -1},
        {"--group", offsetof(struct cli_opts, line_buffer), 0},
    };
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        if (strcmp(a, flags[k].name) != 0)
            continue;
        if (flags[k].val >= 0)
            *(int *)(void *)((char *)o + flags[k].off) = flags[k].val;
        return 1;
    }
    return 0;
}

/* The words after the command: ARGS up to the first ::: or ::::, then the sources. */
/* ::: values, :::: files, and their linked forms :::+ ::::+ (paired with the source
 * before them value by value instead of multiplied with it). */
static int is_sep(const char *a)
{
    return strcmp(a, ":::") == 0 || strcmp(a, "::::") == 0 || strcmp(a, ":::+") == 0 ||
           strcmp(a, "::::+") == 0;
}

static void parse_sources(struct cli_opts *o, int argc, char **argv, int i)
{
    while (i < argc) {
        const char *sep = argv[i++];
        int files = strncmp(sep, "::::", 4) == 0;
        int linked = sep[strlen(sep) - 1] == '+';
        int start = i;
        while (i < argc && !is_sep(argv[i]))
            i++;
        if (i == start)
            cli_die("'%s' is followed by no %s", sep, files ? "file" : "value");
        if (linked && o->nsrcs == 0)
            cli_die("'%s' links to the source before it, and there is none", sep);
        if (files) {
            for (int k = start; k < i; k++)
                add_src(o, (struct cli_src){.kind = CLI_SRC_FILE,
                                            .path = argv[k],
                                            .linked = linked && k == start});
        } else {
            struct cli_src s = {.kind = CLI_SRC_LIST, .nitems = (size_t)(i - start)};
            s.items = argv + start;
            s.linked = linked;
            add_src(o, s);
        }
    }
}

static void defaults_and_checks(struct cli_opts *o)
{
    if (o->jobs < 0)
        o->jobs = online_cpus();
    if (o->retries < 1)
        o->retries = 1;
    if (o->ncmd == 0)
        cli_die("no command given (see mproc run --help)");
    if (o->resume && !o->joblog)
        cli_die("--resume and --resume-failed need --joblog FILE");
    struct stat st;
    if (o->tmpdir && (stat(o->tmpdir, &st) < 0 || !S_ISDIR(st.st_mode)))
        cli_die("--tmpdir: '%s' is not a directory", o->tmpdir);
    if (o->nsrcs == 0)
        add_src(o, (struct cli_src){.kind = CLI_SRC_STDIN});
}

void cli_opts_parse(struct cli_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->jobs = -1;
    o->summary = -1;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_usage(1);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("mproc %s\n", mproc_version());
            exit(0);
        }
        if (!parse_value_opt(o, argc, argv, &i) && !parse_flag_opt(o, a))
            cli_die("unknown option '%s' (see mproc run --help)", a);
    }
    int cmd = i;
    while (i < argc && !is_sep(argv[i]))
        i++;
    o->cmd = argv + cmd;
    o->ncmd = (size_t)(i - cmd);
    parse_sources(o, argc, argv, i);
    defaults_and_checks(o);
}

void cli_opts_free(struct cli_opts *o)
{
    free(o->srcs);
    o->srcs = NULL;
}
