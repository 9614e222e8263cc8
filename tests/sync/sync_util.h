/* sync_util.h: small helpers shared by the sync tests (forking children, shared flags). */
#ifndef MPROC_TEST_SYNC_UTIL_H
#define MPROC_TEST_SYNC_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Forks a child running fn(arg), which _exits with its result. The pid, or -1. */
static inline pid_t child_start(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

/* Reaps pid; its exit code, 128 + signal when killed, -1 on failure. */
static inline int child_join(pid_t pid)
{
    int st = 0;
    if (pid <= 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline int child_run(int (*fn)(void *), void *arg)
{
    return child_join(child_start(fn, arg));
}

/* Kills and reaps pid. */
static inline void child_kill(pid_t pid)
{
    kill(pid, SIGKILL);
    child_join(pid);
}

/* Waits up to ms for *flag to reach at least want. 1 if it did. */
static inline int flag_wait(_Atomic int *flag, int want, int ms)
{
    int64_t end = mproc_test_now_ms() + ms;
    while (atomic_load(flag) < want) {
        if (mproc_test_now_ms() > end)
            return 0;
        usleep(1000);
    }
    return 1;
}

/* Waits up to ms until process pid sleeps (state S in /proc, e.g. in a futex wait), then a
 * little more so it is settled. 1 if it was seen asleep. */
static inline int wait_sleeping(pid_t pid, int ms)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int64_t end = mproc_test_now_ms() + ms;
    while (mproc_test_now_ms() <= end) {
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        if (p && p[1] == ' ' && p[2] == 'S') {
            usleep(10000);
            return 1;
        }
        usleep(1000);
    }
    return 0;
}

/* A small anonymous shared block of test state. */
static inline void *shared_block(size_t size)
{
    void *m = NULL;
    if (mproc_shm_new(&m, size) != 0)
        return NULL;
    return m;
}

#endif
