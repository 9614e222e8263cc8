/* mproc/common.h: error codes, export macros and conventions shared by every capability.
 *
 * Conventions (all of mproc):
 *  - functions return an int: >= 0 on success, a negative MPROC_E* code on failure;
 *    no function both returns -1 and sets errno;
 *  - MPROC_E* codes equal -errno where an errno fits, so they work in a switch;
 *    mproc's own codes live in a block (-4000 and below) that no errno reaches;
 *  - every blocking call takes timeout_ms: -1 waits forever, 0 tries once, > 0 is a
 *    deadline measured on CLOCK_MONOTONIC (EINTR never extends it).
 */
#ifndef MPROC_COMMON_H
#define MPROC_COMMON_H

#include <errno.h>
#include <stddef.h>

#if defined(MPROC_BUILDING)
#define MPROC_API __attribute__((visibility("default")))
#else
#define MPROC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The one list of error codes: X(NAME, value, message). mproc_strerror() and
 * mproc_err_name() are generated from it. */
#define MPROC_ERRNO_MAP(X)                                                                         \
    X(EPERM, -EPERM, "operation not permitted")                                                    \
    X(ENOENT, -ENOENT, "no such file or directory")                                                \
    X(ESRCH, -ESRCH, "no such process")                                                            \
    X(EINTR, -EINTR, "interrupted system call")                                                    \
    X(EIO, -EIO, "i/o error")                                                                      \
    X(E2BIG, -E2BIG, "argument list too long")                                                     \
    X(ENOEXEC, -ENOEXEC, "exec format error")                                                      \
    X(EBADF, -EBADF, "bad file descriptor")                                                        \
    X(ECHILD, -ECHILD, "no child process (already reaped elsewhere?)")                             \
    X(EAGAIN, -EAGAIN, "resource temporarily unavailable")                                         \
    X(ENOMEM, -ENOMEM, "not enough memory")                                                        \
    X(EACCES, -EACCES, "permission denied")                                                        \
    X(EFAULT, -EFAULT, "bad address")                                                              \
    X(EBUSY, -EBUSY, "resource busy")                                                              \
    X(EEXIST, -EEXIST, "already exists")                                                           \
    X(ENOTDIR, -ENOTDIR, "not a directory")                                                        \
    X(EISDIR, -EISDIR, "is a directory")                                                           \
    X(EINVAL, -EINVAL, "invalid argument")                                                         \
    X(ENFILE, -ENFILE, "file table overflow")                                                      \
    X(EMFILE, -EMFILE, "too many open files")                                                      \
    X(ETXTBSY, -ETXTBSY, "text file is busy")                                                      \
    X(ENOSPC, -ENOSPC, "no space left")                                                            \
    X(EPIPE, -EPIPE, "broken pipe")                                                                \
    X(ERANGE, -ERANGE, "result out of range")                                                      \
    X(EDEADLK, -EDEADLK, "deadlock detected: this wait would close a cycle of waits")              \
    X(ENAMETOOLONG, -ENAMETOOLONG, "name too long")                                                \
    X(ENOSYS, -ENOSYS, "function not implemented by this kernel")                                  \
    X(ELOOP, -ELOOP, "too many symbolic links")                                                    \
    X(EPROTO, -EPROTO, "protocol error: malformed message")                                        \
    X(EOVERFLOW, -EOVERFLOW, "value too large")                                                    \
    X(EMSGSIZE, -EMSGSIZE, "message too long for the buffer or the limit")                         \
    X(ENOTSUP, -ENOTSUP, "operation not supported")                                                \
    X(ECONNRESET, -ECONNRESET, "connection reset by peer")                                         \
    X(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                          \
    X(ECANCELED, -ECANCELED, "operation canceled")                                                 \
    X(EOWNERDEAD, -EOWNERDEAD, "previous owner died holding the lock; state may be inconsistent")  \
    X(ENOTRECOVERABLE, -ENOTRECOVERABLE,                                                           \
      "lock not recoverable: owner died, never made consistent")                                   \
    X(ECLOSED, -4001, "closed: the other end or the object was closed")                            \
    X(ECRASHED, -4002, "the worker running this task crashed")                                     \
    X(EBROKEN, -4003, "broken: the object was aborted")                                            \
    X(EFULL, -4004, "full")                                                                        \
    X(EEMPTY, -4005, "empty")

enum mproc_error {
#define MPROC__ERR_ENUM(name, val, msg) MPROC_##name = (val),
    MPROC_ERRNO_MAP(MPROC__ERR_ENUM)
#undef MPROC__ERR_ENUM
        MPROC_OK = 0
};

/** Human-readable message for an MPROC_E* code (or any negative errno).
 *  Never returns NULL; unknown codes give "unknown error". Thread-safe, async-signal-safe. */
MPROC_API const char *mproc_strerror(int err);

/** The constant's name, "MPROC_ENOENT" for MPROC_ENOENT; "MPROC_UNKNOWN" if not in the list.
 *  Thread-safe, async-signal-safe. */
MPROC_API const char *mproc_err_name(int err);

/** The library version as "MAJOR.MINOR.PATCH". */
MPROC_API const char *mproc_version(void);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_COMMON_H */
