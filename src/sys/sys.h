/* sys.h: the one place mproc talks to the kernel directly. Wrappers here retry EINTR
 * (except close, which is never retried), create every descriptor close-on-exec, and
 * return 0/positive or a negative errno (never -1 with errno). Private to the library. */
#ifndef MPROC_SYS_H
#define MPROC_SYS_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

/* ---- time ---- */
/* Monotonic clock in nanoseconds / milliseconds. */
int64_t mproc__now_ns(void);
int64_t mproc__now_ms(void);
/* A deadline from a timeout: -1 -> INT64_MAX (forever), else now + timeout_ms. */
int64_t mproc__deadline(int timeout_ms);
/* Milliseconds left to a deadline for poll(): -1 forever, 0 when passed, rounded up. */
int mproc__ms_left(int64_t deadline_ms);
/* 1 if the timeout value is valid (-1 or >= 0). */
static inline int mproc__timeout_ok(int timeout_ms)
{
    return timeout_ms >= -1;
}

/* ---- descriptors ---- */
int mproc__pipe(int fds[2]);                               /* O_CLOEXEC */
int mproc__open(const char *path, int flags, mode_t mode); /* adds O_CLOEXEC, retries EINTR */
void mproc__close(int fd);                                 /* never retried; keeps errno */
int mproc__fd_valid(int fd);                               /* 1 if open */
int mproc__set_nonblock(int fd, int on);
/* poll one descriptor for events until the deadline; returns revents, 0 on timeout, or
 * -errno. EINTR resumes with the time left. */
int mproc__poll1(int fd, short events, int64_t deadline_ms);
/* poll several descriptors until the deadline; returns the number ready, 0 on timeout,
 * or -errno. EINTR resumes with the time left. */
int mproc__poll(struct pollfd *fds, nfds_t n, int64_t deadline_ms);
/* read/write retrying EINTR (one call's worth, not looping for the full count). */
ssize_t mproc__read(int fd, void *buf, size_t n);
ssize_t mproc__write(int fd, const void *buf, size_t n);
/* write all n bytes (blocking descriptor), retrying EINTR and short writes. */
int mproc__write_all(int fd, const void *buf, size_t n);

/* ---- processes ---- */
int mproc__pidfd_open(pid_t pid);
int mproc__pidfd_signal(int pidfd, int sig);
/* waitid on a pidfd with rusage. options as waitid (WEXITED|WNOHANG ...); __WALL is added.
 * Returns 0 (info->si_pid == 0 if nothing yet with WNOHANG) or -errno. */
int mproc__waitid_pidfd(int pidfd, siginfo_t *info, int options, struct rusage *ru);
int mproc__sig_valid(int sig); /* 0 .. _NSIG-1 */

/* ---- futex on a word shared between processes (not FUTEX_PRIVATE) ---- */
/* Sleeps while *addr == val, until deadline_ns on CLOCK_MONOTONIC (INT64_MAX: no
 * deadline). Returns 0 (woken, maybe spuriously), MPROC_EAGAIN (*addr != val),
 * MPROC_EINTR, MPROC_ETIMEDOUT. The deadline is absolute (FUTEX_WAIT_BITSET), so a retry
 * after EINTR waits only for what is left. Callers loop on their own condition.
 * Async-signal-safe; errno is preserved. */
int mproc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_ns);
void mproc__futex_wake(_Atomic uint32_t *addr, int n);

/* ---- /proc ---- */
/* Reads the state letter (field 3) and the start time in clock ticks (field 22) of a
 * /proc/.../stat file (of a process or a thread). 0, MPROC_ENOENT or MPROC_ESRCH when it
 * is gone, MPROC_EIO when unreadable. The command name may hold spaces and parentheses,
 * so fields are counted from the last ')'. */
int mproc__stat_read(const char *path, char *state, uint64_t *start);

#endif
