/* harness.h: the cmocka harness every mproc test uses.
 *
 * MPROC_TEST_MAIN(cases) runs one case named on the command line (ctest runs each case
 * on its own) or all of them with no argument; a name that matches no case fails.
 * Around every case the harness checks that the case left no child (running or zombie),
 * no extra open descriptor and no new /dev/shm object behind it.
 *
 * Forked children never call cmocka asserts: they _exit with a code the parent checks. */
#ifndef MPROC_TEST_HARNESS_H
#define MPROC_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mproc.h>

/* MPROC_CASE(name, timeout_seconds): a case with its own ctest TIMEOUT. */
#define MPROC_CASE(name, timeout_s) cmocka_unit_test(name)

#define MPROC_TEST_MAIN(cases)                                                                     \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return mproc_test_main(argc, argv, cases, sizeof(cases) / sizeof((cases)[0]));             \
    }

int mproc_test_main(int argc, char **argv, const struct CMUnitTest *cases, size_t n);

/* Number of open descriptors of this process. */
int mproc_test_fd_count(void);
/* Milliseconds on CLOCK_MONOTONIC. */
int64_t mproc_test_now_ms(void);
/* 1 if a process with this pid exists (any state but reaped), else 0. */
int mproc_test_pid_alive(int pid);
/* Waits up to timeout_ms for pid to disappear (not a child: polls /proc). 1 if gone. */
int mproc_test_wait_gone(int pid, int timeout_ms);
/* Path of a built example or helper: $MPROC_EXAMPLES_DIR/name, $MPROC_TEST_BINDIR/name. */
const char *mproc_test_example(const char *name);
const char *mproc_test_bin(const char *name);

/* Assert an int expression returns a specific MPROC code, printing names on mismatch. */
#define assert_code(expr, want)                                                                    \
    do {                                                                                           \
        int got_ = (expr);                                                                         \
        int want_ = (want);                                                                        \
        if (got_ != want_)                                                                         \
            fail_msg("%s returned %s (%d: %s), wanted %s", #expr, mproc_err_name(got_), got_,      \
                     mproc_strerror(got_), mproc_err_name(want_));                                 \
    } while (0)
#define assert_ok(expr) assert_code(expr, 0)

#endif
