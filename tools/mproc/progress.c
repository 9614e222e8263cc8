/* progress.c: the --progress / --bar line and the end-of-run summary, on stderr. The
 * caller decides whether to show them (stderr a terminal, --summary); this file only
 * formats and writes, each update in one write() so it never tears. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void fmt_secs(char *buf, size_t n, long s)
{
    if (s >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, n, "%ld:%02ld", s / 60, s % 60);
}

void cli_progress_draw(const struct cli_counts *c, int64_t t0_ms, int bar)
{
    char line[512], eta[32] = "?", barbuf[64] = "";
    double elapsed = (double)(cli_now_ms() - t0_ms) / 1000.0;
    long total = c->total >= 0 ? c->total - c->skipped : -1;
    int pct = -1;
    if (total > 0) {
        pct = (int)(100 * c->done / total);
        if (c->done > 0)
            fmt_secs(eta, sizeof eta,
                     (long)(elapsed / (double)c->done * (double)(total - c->done)));
    } else if (total == 0) {
        pct = 100;
    }
    if (bar) {
        const int width = 30;
        int fill = pct < 0 ? 0 : pct * width / 100;
        barbuf[0] = '[';
        for (int i = 0; i < width; i++)
            barbuf[1 + i] = i < fill ? '#' : '.';
        snprintf(barbuf + 1 + width, sizeof barbuf - 1 - (size_t)width, "] ");
    }
    char pctbuf[16] = "";
    char totbuf[32] = "";
    if (pct >= 0) {
        snprintf(pctbuf, sizeof pctbuf, "%3d%% ", pct);
        snprintf(totbuf, sizeof totbuf, "/%ld", total);
    }
    int n = snprintf(line, sizeof line, "\r%s%s%ld%s done, %ld running, %ld failed, ETA %s\033[K",
                     barbuf, pctbuf, c->done, totbuf, c->running, c->failed, eta);
    if (n > 0)
        (void)cli_write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void cli_progress_clear(void)
{
    (void)cli_write_all(2, "\r\033[K", 4);
}

void cli_summary(const struct cli_counts *c, int64_t t0_ms, int sig)
{
    char line[512];
    double wall = (double)(cli_now_ms() - t0_ms) / 1000.0;
    char killed[64] = "", skipped[64] = "", intr[64] = "";
    if (c->killed)
        snprintf(killed, sizeof killed, ", %ld killed", c->killed);
    if (c->skipped)
        snprintf(skipped, sizeof skipped, ", %ld skipped (resume)", c->skipped);
    if (sig)
        snprintf(intr, sizeof intr, "; interrupted by %s", strsignal(sig));
    int n = snprintf(line, sizeof line,
                     "mproc: %ld jobs: %ld ok, %ld failed, %ld timed out%s%s; wall %.3f s%s\n",
                     c->done, c->ok, c->failed, c->timed_out, killed, skipped, wall, intr);
    if (n > 0)
        (void)cli_write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
