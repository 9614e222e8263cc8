/* proc_util.h: small helpers shared by the tests of the process core (not a test file:
 * only tests/proc/test_*.c are built; they include this). Everything is static inline so
 * a file that uses only some of it compiles without unused-function warnings. */
#ifndef MPROC_TEST_PROC_UTIL_H
#define MPROC_TEST_PROC_UTIL_H

#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads fd until EOF (or timeout_ms passes) into buf, NUL-terminated; returns the length
 * or -1 on timeout/error. */
static inline ssize_t util_read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t len = 0;
    int64_t end = mproc_test_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = end - mproc_test_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (len + 1 >= cap)
            return -1;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Spawns argv with stdout on a pipe (other options from o, may be NULL), reads all of its
 * output into buf and waits for it. Returns what mproc_spawn returned; *st gets the status. */
static inline int util_run_capture(const char *const *argv, const mproc_opts *o, char *buf,
                                   size_t cap, mproc_status *st)
{
    mproc_opts opts;
    if (o)
        opts = *o;
    else
        memset(&opts, 0, sizeof opts);
    opts.stdio[1].kind = MPROC_STDIO_PIPE;
    mproc_proc *p = NULL;
    int rc = mproc_spawn(&p, argv, &opts);
    if (rc < 0)
        return rc;
    ssize_t n = util_read_all(mproc_proc_stdio(p, 1), buf, cap, 5000);
    rc = mproc_proc_wait(p, 5000, st);
    mproc_proc_free(p);
    if (n < 0)
        return MPROC_EIO;
    return rc;
}

/* The process state letter from /proc/PID/stat, or 0 if the process does not exist (not
 * even as a zombie). */
static inline char util_stat_letter(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

/* 1 once /proc/PID does not exist at all (reaped, no zombie), polling up to timeout_ms. */
static inline int util_wait_no_pid(int pid, int timeout_ms)
{
    int64_t end = mproc_test_now_ms() + timeout_ms;
    while (util_stat_letter(pid) != 0) {
        if (mproc_test_now_ms() > end)
            return 0;
        usleep(2000);
    }
    return 1;
}

/* Reads a "Key:\tvalue" line of /proc/PID/status (value copied to out). 0 or -1. */
static inline int util_status_field(int pid, const char *key, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[512];
    size_t klen = strlen(key);
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            const char *v = line + klen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(out, cap, "%s", v);
            out[strcspn(out, "\n")] = '\0';
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

/* Field number `field` (1-based, as in proc(5)) of /proc/PID/stat, or LLONG_MIN. */
static inline long long util_stat_field(int pid, int field)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return LLONG_MIN;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return LLONG_MIN;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return LLONG_MIN;
    p += 2; /* field 3, the state */
    for (int f = 3; f < field; f++) {
        p = strchr(p, ' ');
        if (!p)
            return LLONG_MIN;
        p++;
    }
    return strtoll(p, NULL, 10);
}

/* Polls mproc_proc_state until it equals want (up to timeout_ms). Returns the last state. */
static inline int util_wait_state(mproc_proc *p, int want, int timeout_ms)
{
    int64_t end = mproc_test_now_ms() + timeout_ms;
    int s;
    while ((s = mproc_proc_state(p)) != want && mproc_test_now_ms() < end)
        usleep(2000);
    return s;
}

#endif
