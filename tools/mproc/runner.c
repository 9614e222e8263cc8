/* runner.c: runs the jobs. One poll() loop, no threads: it watches every running job's
 * stdout and stderr pipes and its pidfd, the signalfd for SIGINT/SIGTERM/SIGHUP, and
 * stdin when arguments stream from it. Each job is spawned with mproc_spawn in its own
 * process group, so a timeout, --halt now or Ctrl-C reaches everything the job started;
 * the library's parent-death tie kills the jobs if mproc itself is killed.
 *
 * A job's life: queued (args known) -> running (pipes open or process alive) -> ended
 * (retried, or finished) -> printed (at once, or in input order with -k) -> freed.
 * Active jobs sit on one list in input order, so -k prints from its head.
 * It does not parse options or format output lines (opts.c, outbuf.c do). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mproc.h>

#define KILL_GRACE_MS 1000 /* TERM, then KILL after this long */
#define PROGRESS_MS   200

struct job {
    long seq;
    char **args;
    size_t nargs;
    char **argv; /* the current attempt's command */
    char *tag;   /* "--tag" prefix: the arguments and a tab */
    size_t taglen;
    long attempts, slot;
    mproc_proc *proc;
    int fd[2];  /* stdout, stderr pipes; -1 once at EOF */
    int reaped; /* the process ended and st holds its status */
    mproc_status st;
    int64_t start_ms, deadline_ms, kill_at_ms;
    double start_epoch;
    int timed_out, killed, spawn_err;
    int finished, live;
    struct cli_obuf out[2];
    uint64_t received;
    struct job *prev, *next;         /* active list, input order */
    struct job *run_prev, *run_next; /* running list: launched and not yet ended */
    struct job *rnext;               /* retry queue */
};

struct pref {
    struct job *job;
    int what; /* 0, 1: job->fd[what]; 2: pidfd; 3: signalfd; 4: stdin */
};

struct runner {
    struct cli_opts *o;
    struct cli_gen *gen;
    struct cli_tmpl *tmpl;
    struct cli_joblog *jl;
    struct job *head, *tail;
    struct job *running; /* the loop visits only these, however long -k's backlog is */
    struct job *rhead, *rtail;
    long next_seq, nrunning, max_running;
    unsigned char *slots;
    long nslots;
    int gen_state; /* CLI_GEN_ARGS (try), CLI_GEN_WAIT, CLI_GEN_EOF */
    int halting, halt_status, fatal;
    int sigfd, sig;
    int devnull; /* the jobs' stdin, opened once rather than by every spawn */
    int64_t next_start, t0, last_draw;
    int show_progress;
    struct cli_counts c;
    long failed_self; /* failed on their own (the exit status counts these) */
    struct pollfd *pfd;
    struct pref *pref;
    size_t pcap;
};

/* ---- slots and the job list ---------------------------------------------------------- */

static long slot_take(struct runner *r)
{
    for (long i = 0; i < r->nslots; i++)
        if (!r->slots[i]) {
            r->slots[i] = 1;
            return i + 1;
        }
    long first = r->nslots, n = r->nslots ? r->nslots * 2 : 16;
    r->slots = cli_xrealloc(r->slots, (size_t)n);
    memset(r->slots + first, 0, (size_t)(n - first));
    r->slots[first] = 1;
    r->nslots = n;
    return first + 1;
}

static void slot_give(struct runner *r, long slot)
{
    if (slot >= 1 && slot <= r->nslots)
        r->slots[slot - 1] = 0;
}

static void list_append(struct runner *r, struct job *j)
{
    j->prev = r->tail;
    j->next = NULL;
    if (r->tail)
        r->tail->next = j;
    else
        r->head = j;
    r->tail = j;
}

static void list_remove(struct runner *r, struct job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        r->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        r->tail = j->prev;
}

static void running_add(struct runner *r, struct job *j)
{
    j->run_prev = NULL;
    j->run_next = r->running;
    if (r->running)
        r->running->run_prev = j;
    r->running = j;
}

static void running_remove(struct runner *r, struct job *j)
{
    if (j->run_prev)
        j->run_prev->run_next = j->run_next;
    else
        r->running = j->run_next;
    if (j->run_next)
        j->run_next->run_prev = j->run_prev;
    j->run_prev = j->run_next = NULL;
}

static void job_free(struct job *j)
{
    for (size_t i = 0; i < j->nargs; i++)
        free(j->args[i]);
    free(j->args);
    cli_argv_free(j->argv);
    free(j->tag);
    mproc_proc_free(j->proc);
    for (int s = 0; s < 2; s++) {
        if (j->fd[s] >= 0)
            close(j->fd[s]);
        cli_obuf_reset(&j->out[s]);
    }
    free(j);
}

static struct job *job_new(struct runner *r, char **args)
{
    struct job *j = cli_xmalloc(sizeof *j);
    memset(j, 0, sizeof *j);
    j->seq = ++r->next_seq;
    j->args = args;
    j->nargs = cli_gen_nsrc(r->gen);
    j->fd[0] = j->fd[1] = -1;
    cli_obuf_init(&j->out[0]);
    cli_obuf_init(&j->out[1]);
    if (r->o->tag) {
        struct cli_str t = {0};
        for (size_t i = 0; i < j->nargs; i++) {
            if (i)
                cli_str_addc(&t, ' ');
            cli_str_adds(&t, args[i]);
        }
        cli_str_addc(&t, '\t');
        j->taglen = t.len;
        j->tag = cli_str_take(&t);
    }
    return j;
}

/* ---- output ---------------------------------------------------------------------------- */

/* The progress line is on the terminal: wipe it before a job's output goes out (the
 * next timer tick draws it again below). File-scope because every printing path needs
 * it and there is one progress line per process. */
static int progress_shown;

static void before_output(void)
{
    if (progress_shown) {
        cli_progress_clear();
        progress_shown = 0;
    }
}

static void print_job(struct job *j)
{
    if (cli_obuf_size(&j->out[0]) || cli_obuf_size(&j->out[1]))
        before_output();
    (void)cli_obuf_flush(&j->out[0], 1, j->tag, j->taglen);
    (void)cli_obuf_flush(&j->out[1], 2, j->tag, j->taglen);
}

/* Prints finished jobs from the head of the list (input order) and, for -k with
 * --line-buffer, lets the new head print as it goes. */
static void advance_ordered(struct runner *r)
{
    while (r->head && r->head->finished) {
        struct job *j = r->head;
        print_job(j);
        list_remove(r, j);
        job_free(j);
    }
    struct job *h = r->head;
    if (r->o->line_buffer && h && !h->live && h->proc) {
        h->live = 1;
        print_job(h);
    }
}

/* New bytes of a job that prints as it goes (--line-buffer). */
static void live_data(struct runner *r, struct job *j, int s, const char *data, size_t n)
{
    struct cli_obuf *b = &j->out[s];
    before_output();
    if (r->o->keep_order) { /* the only live job: nothing can come between its bytes */
        (void)cli_emit(s + 1, data, n, j->tag, j->taglen, &b->at_bol);
        return;
    }
    const char *nl = NULL;
    for (size_t i = n; i > 0 && !nl; i--)
        if (data[i - 1] == '\n')
            nl = data + i - 1;
    if (!nl) {
        (void)cli_obuf_add(b, data, n); /* hold the partial line */
        return;
    }
    size_t whole = (size_t)(nl - data) + 1;
    (void)cli_obuf_flush(b, s + 1, j->tag, j->taglen);
    (void)cli_emit(s + 1, data, whole, j->tag, j->taglen, &b->at_bol);
    (void)cli_obuf_add(b, data + whole, n - whole);
}

/* The pipe for stream s is readable (or hung up). */
static void read_stream(struct runner *r, struct job *j, int s)
{
    ssize_t n;
    if (r->o->line_buffer && j->live) {
        char buf[65536];
        n = read(j->fd[s], buf, sizeof buf);
        if (n > 0)
            live_data(r, j, s, buf, (size_t)n);
        else if (n < 0)
            n = errno == EINTR || errno == EAGAIN ? -EAGAIN : -errno;
    } else {
        n = cli_obuf_fill(&j->out[s], j->fd[s]);
    }
    if (n > 0) {
        if (s == 0) /* GNU parallel's Receive column counts stdout only */
            j->received += (uint64_t)n;
        return;
    }
    if (n == -EAGAIN)
        return;
    if (n < 0)
        cli_warn("job %ld: reading its output: %s", j->seq, strerror((int)-n));
    close(j->fd[s]);
    j->fd[s] = -1;
    if (r->o->line_buffer && j->live) /* a last line without a newline */
        (void)cli_obuf_flush(&j->out[s], s + 1, j->tag, j->taglen);
}

/* ---- starting, killing ----------------------------------------------------------------- */

static void signal_job(struct job *j, int sig)
{
    if (!j->proc)
        return;
    (void)mproc_proc_signal_group(j->proc, sig);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
        (void)mproc_proc_signal_group(j->proc, SIGCONT); /* a stopped job must see it */
}

static void kill_all(struct runner *r, int sig)
{
    int64_t now = cli_now_ms();
    for (struct job *j = r->running; j; j = j->run_next) {
        if (!j->proc || j->finished)
            continue;
        signal_job(j, sig);
        j->killed = 1;
        j->kill_at_ms = sig == SIGKILL ? INT64_MAX : now + KILL_GRACE_MS;
    }
}

static int out_of_resources(int rc)
{
    return rc == MPROC_EAGAIN || rc == MPROC_ENOMEM || rc == MPROC_EMFILE || rc == MPROC_ENFILE;
}

/* Out of processes or descriptors with other jobs running (-j 0, or a low ulimit): run
 * fewer at once from now on, and start this job again when one ends. */
static void start_later(struct runner *r, struct job *j, int rc)
{
    running_remove(r, j);
    r->nrunning--;
    r->c.running = r->nrunning;
    slot_give(r, j->slot);
    j->attempts--;
    r->max_running = r->nrunning;
    cli_warn("cannot start more jobs (%s): running at most %ld at once", mproc_strerror(rc),
             r->max_running);
    j->rnext = r->rhead; /* first in line again */
    r->rhead = j;
    if (!r->rtail)
        r->rtail = j;
}

/* Returns 1 if the job was put back to start later, 0 if it ends here (failed). */
static int start_failed(struct runner *r, struct job *j, int rc, const mproc_failure *f)
{
    if (f->stage == MPROC_STAGE_EXEC) {
        /* This job's command cannot run (its name came from the arguments): the job
         * fails as a shell's would, with 127 (not found) or 126 (not executable). */
        cli_warn("cannot run '%s': %s", j->argv[0], mproc_strerror(rc));
        j->spawn_err = rc == MPROC_ENOENT ? 127 : 126;
        return 0;
    }
    if (out_of_resources(rc) && r->nrunning > 1) {
        start_later(r, j, rc);
        return 1;
    }
    cli_warn("cannot start job %ld: %s (%s)", j->seq, mproc_strerror(rc),
             mproc_stage_name(f->stage));
    r->fatal = 1;
    r->halting = CLI_HALT_NOW;
    kill_all(r, SIGTERM);
    j->spawn_err = 255;
    return 0;
}

/* Starts one attempt of j. Returns 0 when it runs or has failed for good (spawn_err set,
 * no process), 1 when it was put back to start later. */
static int launch(struct runner *r, struct job *j)
{
    j->slot = slot_take(r);
    cli_argv_free(j->argv);
    j->argv = cli_tmpl_expand(r->tmpl, j->args, j->nargs, j->seq, j->slot);
    j->attempts++;
    j->start_ms = cli_now_ms();
    j->start_epoch = cli_epoch_s();
    j->deadline_ms = r->o->timeout_ms > 0 ? j->start_ms + r->o->timeout_ms : INT64_MAX;
    j->kill_at_ms = INT64_MAX;
    j->reaped = j->timed_out = j->killed = j->spawn_err = 0;
    j->received = 0;
    mproc_failure f = {0, 0};
    mproc_opts po = {.flags = MPROC_NEW_PGROUP, .failure = &f};
    po.stdio[0].kind = MPROC_STDIO_FD; /* as GNU parallel: jobs do not read our stdin */
    po.stdio[0].fd = r->devnull;
    po.stdio[1].kind = MPROC_STDIO_PIPE;
    po.stdio[2].kind = MPROC_STDIO_PIPE;
    int rc = mproc_spawn(&j->proc, (const char *const *)j->argv, &po);
    running_add(r, j);
    r->nrunning++;
    r->c.running = r->nrunning;
    if (r->o->delay_ms > 0)
        r->next_start = j->start_ms + r->o->delay_ms;
    if (rc < 0) {
        j->proc = NULL;
        return start_failed(r, j, rc, &f);
    }
    j->fd[0] = mproc_proc_take_stdio(j->proc, 1);
    j->fd[1] = mproc_proc_take_stdio(j->proc, 2);
    if (!r->o->keep_order || r->head == j)
        j->live = 1;
    return 0;
}

/* ---- a job ends ------------------------------------------------------------------------ */

static int job_exitval(const struct job *j)
{
    if (j->spawn_err)
        return j->spawn_err;
    if (j->timed_out) /* GNU parallel: its Exitval -1, as an exit status 255 */
        return 255;
    if (j->st.exited)
        return j->st.code;
    return 128 + j->st.signal;
}

static int job_ok(const struct job *j)
{
    return !j->spawn_err && j->st.exited && j->st.code == 0 && !j->timed_out;
}

static void halt_check(struct runner *r, struct job *j)
{
    const struct cli_opts *o = r->o;
    if (o->halt_when == CLI_HALT_NEVER || r->halting)
        return;
    long n = o->halt_on == CLI_HALT_FAIL      ? r->failed_self
             : o->halt_on == CLI_HALT_SUCCESS ? r->c.ok
                                              : r->c.done;
    int trigger;
    if (o->halt_pct) {
        long total = cli_gen_total(r->gen);
        long base = total > 0 ? total - r->c.skipped : r->c.done;
        trigger = base > 0 && n * 100 >= o->halt_n * base;
    } else {
        trigger = n >= o->halt_n;
    }
    if (!trigger)
        return;
    r->halting = o->halt_when;
    char *cmd = cli_cmdline(j->argv, o->shell);
    if (o->halt_on == CLI_HALT_FAIL && !job_ok(j))
        cli_warn("halting: this job failed: %s", cmd);
    else if (o->halt_on == CLI_HALT_SUCCESS && job_ok(j))
        cli_warn("halting: this job succeeded: %s", cmd);
    free(cmd);
    if (o->halt_on == CLI_HALT_FAIL && o->halt_n == 1 && !o->halt_pct)
        r->halt_status = job_exitval(j); /* GNU parallel: the failing job's own status */
    else if (o->halt_on == CLI_HALT_SUCCESS)
        r->halt_status = 0;
    if (r->halting == CLI_HALT_NOW)
        kill_all(r, SIGTERM);
}

static void retry_push(struct runner *r, struct job *j)
{
    j->rnext = NULL;
    if (r->rtail)
        r->rtail->rnext = j;
    else
        r->rhead = j;
    r->rtail = j;
}

static void log_job(struct runner *r, struct job *j)
{
    if (!r->jl)
        return;
    int exitval = j->st.exited ? j->st.code : 0, sig = j->st.signaled ? j->st.signal : 0;
    if (j->spawn_err)
        exitval = j->spawn_err;
    if (j->timed_out) /* as GNU parallel: -1 and the signal that was sent */
        exitval = -1, sig = j->st.signaled ? j->st.signal : SIGTERM;
    char *cmd = cli_cmdline(j->argv, r->o->shell);
    double runtime = (double)(cli_now_ms() - j->start_ms) / 1000.0;
    cli_joblog_write(r->jl, j->seq, j->start_epoch, runtime, j->received, exitval, sig, cmd);
    free(cmd);
}

/* The job will not run again: log it, count it, print it (or queue it for -k). */
static void job_finish(struct runner *r, struct job *j)
{
    int ok = job_ok(j);
    log_job(r, j);
    r->c.done++;
    if (ok)
        r->c.ok++;
    else if (j->killed && !j->timed_out)
        r->c.killed++;
    else
        r->c.failed++, r->failed_self++;
    if (j->timed_out)
        r->c.timed_out++;
    mproc_proc_free(j->proc);
    j->proc = NULL;
    j->finished = 1;
    if (!j->killed || j->timed_out)
        halt_check(r, j);
    if (r->o->keep_order) {
        advance_ordered(r);
    } else {
        print_job(j);
        list_remove(r, j);
        job_free(j);
    }
}

/* The job's process has ended and its pipes are closed. */
static void job_ended(struct runner *r, struct job *j)
{
    running_remove(r, j);
    r->nrunning--;
    r->c.running = r->nrunning;
    slot_give(r, j->slot);
    if (!job_ok(j) && !j->killed && j->attempts < r->o->retries && !r->halting && !r->sig) {
        /* GNU parallel prints only the last attempt's output. */
        cli_obuf_reset(&j->out[0]);
        cli_obuf_reset(&j->out[1]);
        mproc_proc_free(j->proc);
        j->proc = NULL;
        retry_push(r, j);
        return;
    }
    job_finish(r, j);
}

/* Halting or interrupted: queued retries will not run; they end with their last
 * attempt's result. */
static void drop_retries(struct runner *r)
{
    while (r->rhead) {
        struct job *j = r->rhead;
        r->rhead = j->rnext;
        if (!r->rhead)
            r->rtail = NULL;
        job_finish(r, j);
    }
}

static void maybe_ended(struct runner *r, struct job *j)
{
    if ((j->reaped || !j->proc) && j->fd[0] < 0 && j->fd[1] < 0)
        job_ended(r, j);
}

/* ---- the loop ---------------------------------------------------------------------------- */

static int can_start(const struct runner *r)
{
    return !r->halting && !r->sig && r->nrunning < r->max_running;
}

/* Next job to start: a retry first, then a new tuple of arguments. */
static struct job *next_job(struct runner *r)
{
    if (r->rhead) {
        struct job *j = r->rhead;
        r->rhead = j->rnext;
        if (!r->rhead)
            r->rtail = NULL;
        return j;
    }
    while (r->gen_state != CLI_GEN_EOF) {
        char **args;
        int g = cli_gen_next(r->gen, &args);
        if (g != CLI_GEN_ARGS) {
            r->gen_state = g;
            return NULL;
        }
        struct job *j = job_new(r, args);
        if (cli_joblog_skip(r->jl, j->seq)) {
            r->c.skipped++;
            job_free(j);
            continue;
        }
        list_append(r, j);
        r->c.started++;
        return j;
    }
    return NULL;
}

static void start_jobs(struct runner *r)
{
    while (can_start(r)) {
        if (r->o->delay_ms > 0 && cli_now_ms() < r->next_start)
            return;
        struct job *j = next_job(r);
        if (!j)
            return;
        if (launch(r, j))
            return;   /* no room for it now */
        if (!j->proc) /* could not start: it ends here, failed */
            maybe_ended(r, j);
    }
}

static void add_pfd(struct runner *r, size_t *n, int fd, struct job *j, int what)
{
    if (*n == r->pcap) {
        r->pcap = r->pcap ? r->pcap * 2 : 64;
        r->pfd = cli_xrealloc(r->pfd, r->pcap * sizeof *r->pfd);
        r->pref = cli_xrealloc(r->pref, r->pcap * sizeof *r->pref);
    }
    r->pfd[*n] = (struct pollfd){.fd = fd, .events = POLLIN};
    r->pref[*n] = (struct pref){j, what};
    (*n)++;
}

/* Milliseconds until the next timer (timeout, kill, delay, progress), -1 for none. */
static int next_timer(const struct runner *r)
{
    int64_t next = INT64_MAX, now = cli_now_ms();
    for (struct job *j = r->running; j; j = j->run_next) {
        if (!j->proc)
            continue;
        if (j->deadline_ms < next && !j->timed_out)
            next = j->deadline_ms;
        if (j->kill_at_ms < next)
            next = j->kill_at_ms;
    }
    if (r->o->delay_ms > 0 && can_start(r) && (r->rhead || r->gen_state != CLI_GEN_EOF) &&
        r->next_start < next)
        next = r->next_start;
    if (r->show_progress && r->last_draw + PROGRESS_MS < next)
        next = r->last_draw + PROGRESS_MS;
    if (next == INT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now > 1000000 ? 1000000 : next - now);
}

/* Ctrl-Z: the jobs live in their own process groups, so the terminal's SIGTSTP reaches
 * only mproc. Stop their groups, stop ourselves; once continued (fg, bg), continue them
 * and move their timeouts by the time spent stopped. */
static void suspend(struct runner *r)
{
    for (struct job *j = r->running; j; j = j->run_next)
        if (j->proc && !j->finished)
            (void)mproc_proc_signal_group(j->proc, SIGTSTP);
    before_output();
    int64_t t0 = cli_now_ms();
    raise(SIGSTOP);
    int64_t stopped = cli_now_ms() - t0;
    for (struct job *j = r->running; j; j = j->run_next) {
        if (!j->proc || j->finished)
            continue;
        (void)mproc_proc_signal_group(j->proc, SIGCONT);
        if (j->deadline_ms != INT64_MAX)
            j->deadline_ms += stopped;
        if (j->kill_at_ms != INT64_MAX)
            j->kill_at_ms += stopped;
    }
}

static void on_signal(struct runner *r)
{
    struct signalfd_siginfo si;
    while (read(r->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGTSTP) {
            suspend(r);
            continue;
        }
        if (r->sig) { /* a second signal: no more grace */
            kill_all(r, SIGKILL);
            continue;
        }
        r->sig = sig;
        kill_all(r, sig);
    }
}

static void check_timers(struct runner *r)
{
    int64_t now = cli_now_ms();
    for (struct job *j = r->running; j; j = j->run_next) {
        if (!j->proc)
            continue;
        if (!j->timed_out && now >= j->deadline_ms) {
            char *cmd = cli_cmdline(j->argv, r->o->shell);
            cli_warn("job %ld timed out: %s", j->seq, cmd);
            free(cmd);
            j->timed_out = 1;
            signal_job(j, SIGTERM);
            j->kill_at_ms = now + KILL_GRACE_MS;
        }
        if (now >= j->kill_at_ms) {
            signal_job(j, SIGKILL);
            j->kill_at_ms = INT64_MAX;
        }
    }
}

static void dispatch(struct runner *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!r->pfd[i].revents)
            continue;
        struct job *j = r->pref[i].job;
        int what = r->pref[i].what;
        if (what == 3) {
            on_signal(r);
        } else if (what == 4) {
            r->gen_state = CLI_GEN_ARGS; /* input arrived: try again */
        } else if (what == 2) {
            int rc = mproc_proc_wait(j->proc, 0, &j->st);
            if (rc != MPROC_ETIMEDOUT) {
                if (rc < 0) { /* cannot happen for our own child; do not spin on it */
                    memset(&j->st, 0, sizeof j->st);
                    j->st.exited = 1, j->st.code = 255;
                }
                j->reaped = 1;
            }
            maybe_ended(r, j);
        } else {
            read_stream(r, j, what);
            maybe_ended(r, j);
        }
    }
}

static void poll_once(struct runner *r)
{
    size_t n = 0;
    add_pfd(r, &n, r->sigfd, NULL, 3);
    int gfd = cli_gen_fd(r->gen);
    if (r->gen_state == CLI_GEN_WAIT && can_start(r) && gfd >= 0)
        add_pfd(r, &n, gfd, NULL, 4);
    for (struct job *j = r->running; j; j = j->run_next) {
        if (!j->proc)
            continue;
        for (int s = 0; s < 2; s++)
            if (j->fd[s] >= 0)
                add_pfd(r, &n, j->fd[s], j, s);
        if (!j->reaped)
            add_pfd(r, &n, mproc_proc_fd(j->proc), j, 2);
    }
    int rc = poll(r->pfd, n, next_timer(r));
    if (rc < 0 && errno != EINTR) {
        cli_warn("poll: %s", strerror(errno));
        r->fatal = 1;
        kill_all(r, SIGKILL);
    }
    if (rc > 0)
        dispatch(r, n);
    check_timers(r);
    if (r->show_progress && cli_now_ms() - r->last_draw >= PROGRESS_MS) {
        r->c.total = cli_gen_total(r->gen);
        cli_progress_draw(&r->c, r->t0, r->o->bar);
        progress_shown = 1;
        r->last_draw = cli_now_ms();
    }
}

static int busy(struct runner *r)
{
    if (r->halting || r->sig || r->fatal)
        drop_retries(r);
    if (r->nrunning > 0 || r->head)
        return 1;
    if (r->halting || r->sig || r->fatal)
        return 0;
    return r->rhead || r->gen_state != CLI_GEN_EOF;
}

/* ---- setup ------------------------------------------------------------------------------- */

static int block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTSTP);
    /* Blocked here and read from a signalfd in the loop; the library's child setup
     * empties the mask and restores default dispositions before exec. */
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        cli_die("sigprocmask: %s", strerror(errno));
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        cli_die("signalfd: %s", strerror(errno));
    return fd;
}

/* -j 0: as many as the descriptor limit allows (3 per job, 2 more while spawning). */
static long max_jobs(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max > 1u << 20 ? 1u << 20 : rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    long cap = rl.rlim_cur > 64 ? (long)(rl.rlim_cur - 32) / 5 : 4;
    return want == 0 || want > cap ? cap : want;
}

/* The command must exist before anything runs (a command taken from the arguments is
 * checked per job instead). */
static void check_command(const char *name)
{
    if (strchr(name, '/')) {
        struct stat st;
        if (stat(name, &st) < 0)
            cli_die("command not found: '%s': %s", name, strerror(errno));
        if (S_ISDIR(st.st_mode) || access(name, X_OK) < 0)
            cli_die("command not executable: '%s'", name);
        return;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *s = path;; s++) {
        const char *e = strchrnul(s, ':');
        char buf[4096];
        snprintf(buf, sizeof buf, "%.*s/%s", e == s ? 1 : (int)(e - s), e == s ? "." : s, name);
        struct stat st;
        if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode) && access(buf, X_OK) == 0)
            return;
        if (*e == '\0')
            break;
        s = e;
    }
    cli_die("command not found: '%s'", name);
}

static int dry_run(struct runner *r)
{
    for (;;) {
        char **args;
        int g = cli_gen_next(r->gen, &args);
        if (g == CLI_GEN_EOF)
            return 0;
        if (g == CLI_GEN_WAIT) {
            struct pollfd p = {.fd = cli_gen_fd(r->gen), .events = POLLIN};
            (void)poll(&p, 1, -1);
            continue;
        }
        struct job *j = job_new(r, args);
        j->argv = cli_tmpl_expand(r->tmpl, j->args, j->nargs, j->seq, 1);
        char *cmd = cli_cmdline(j->argv, r->o->shell);
        printf("%s\n", cmd);
        free(cmd);
        job_free(j);
    }
}

static int exit_status(const struct runner *r)
{
    if (r->sig)
        return 128 + r->sig;
    if (r->fatal)
        return CLI_EXIT_ERROR;
    if (r->halt_status >= 0)
        return r->halt_status;
    if (r->o->halt_when != CLI_HALT_NEVER && r->o->halt_pct && r->c.done > 0)
        /* GNU parallel: the percentage of jobs that failed, rounded up */
        return (int)((100 * r->failed_self + r->c.done - 1) / r->c.done);
    return r->failed_self > 100 ? CLI_EXIT_MANY_FAIL : (int)r->failed_self;
}

static void runner_init(struct runner *r, struct cli_opts *o)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->halt_status = -1;
    r->gen_state = CLI_GEN_ARGS;
    r->tmpl = cli_tmpl_new(o->cmd, o->ncmd, o->shell);
    long maxsrc = cli_tmpl_max_src(r->tmpl);
    if (maxsrc > (long)o->nsrcs)
        cli_die("{%ld} names input source %ld, but there %s only %zu", maxsrc, maxsrc,
                o->nsrcs == 1 ? "is" : "are", o->nsrcs);
    if (!o->shell && !cli_tmpl_cmd_varies(r->tmpl) && !o->dry_run)
        check_command(o->cmd[0]);
    r->gen = cli_gen_new(o);
    cli_obuf_dir = o->tmpdir;
    r->max_running = max_jobs(o->jobs);
    r->c.total = -1;
}

int cli_run(struct cli_opts *o)
{
    struct runner r;
    runner_init(&r, o);
    if (o->dry_run) {
        int rc = dry_run(&r);
        cli_gen_free(r.gen);
        cli_tmpl_free(r.tmpl);
        return rc;
    }
    if (o->joblog)
        r.jl = cli_joblog_open(o->joblog, o->resume);
    r.sigfd = block_signals();
    r.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r.devnull < 0)
        cli_die("cannot open /dev/null: %s", strerror(errno));
    r.t0 = cli_now_ms();
    r.show_progress = (o->progress || o->bar) && isatty(2);
    while (1) {
        start_jobs(&r);
        if (!busy(&r))
            break;
        poll_once(&r);
    }
    before_output();
    r.c.total = cli_gen_total(r.gen);
    if (o->summary == 1 || (o->summary == -1 && isatty(2)))
        cli_summary(&r.c, r.t0, r.sig);
    int status = exit_status(&r);
    close(r.sigfd);
    close(r.devnull);
    cli_joblog_close(r.jl);
    cli_gen_free(r.gen);
    cli_tmpl_free(r.tmpl);
    free(r.slots);
    free(r.pfd);
    free(r.pref);
    return status;
}
