/* The queue's pollable descriptor, the multi-wait over processes and queues, and named
 * queues opened by processes that did not inherit the handle. */
#include "harness.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    return r > 0 && (p.revents & POLLIN);
}

static void fd_readable_exactly_when_message_waits(void **state)
{
    (void)state;
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, NULL));
    int fd = mproc_queue_fd(q);
    assert_true(fd >= 0);
    assert_int_equal(mproc_queue_fd(q), fd);
    assert_false(readable(fd, 0));
    assert_ok(mproc_queue_put(q, "x", 1, 0));
    assert_true(readable(fd, 0));
    assert_ok(mproc_queue_put(q, "y", 1, 0));
    char b[4];
    size_t len;
    assert_ok(mproc_queue_get(q, b, sizeof b, &len, 0));
    assert_true(readable(fd, 0)); /* one left */
    assert_ok(mproc_queue_get(q, b, sizeof b, &len, 0));
    /* may still poll readable (documented); a get that finds nothing clears it */
    assert_code(mproc_queue_get(q, b, sizeof b, &len, 0), MPROC_EEMPTY);
    assert_false(readable(fd, 0));
    assert_ok(mproc_queue_put(q, "z", 1, 0));
    assert_true(readable(fd, 0));
    mproc_queue_free(q);
}

static void fd_asked_late_sees_waiting_messages(void **state)
{
    (void)state;
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, NULL));
    assert_ok(mproc_queue_put(q, "x", 1, 0));
    assert_true(readable(mproc_queue_fd(q), 0));
    mproc_queue_free(q);
}

static void fd_readable_for_good_once_closed(void **state)
{
    (void)state;
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, NULL));
    int fd = mproc_queue_fd(q);
    assert_false(readable(fd, 0));
    assert_ok(mproc_queue_close(q));
    assert_true(readable(fd, 0));
    char b[4];
    size_t len;
    assert_code(mproc_queue_get(q, b, sizeof b, &len, 0), MPROC_ECLOSED);
    assert_true(readable(fd, 0));
    mproc_queue_free(q);
}

static int put_later(void *arg)
{
    usleep(100000);
    return mproc_queue_put(arg, "late", 4, 1000) == 0 ? 0 : 1;
}

static void fd_wakes_poller_when_child_puts(void **state)
{
    (void)state;
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, NULL));
    int fd = mproc_queue_fd(q);
    mproc_proc *p;
    assert_ok(mproc_fork(&p, put_later, q, NULL));
    assert_false(readable(fd, 0));
    assert_true(readable(fd, 5000));
    char b[8];
    size_t len;
    assert_ok(mproc_queue_get(q, b, sizeof b, &len, 0));
    assert_memory_equal(b, "late", 4);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    assert_int_equal(mproc_exitcode(&st), 0);
    mproc_proc_free(p);
    mproc_queue_free(q);
}

static int sleep_then_exit(void *arg)
{
    (void)arg;
    usleep(100000);
    return 3;
}

static void wait_any_over_process_and_queue(void **state)
{
    (void)state;
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, NULL));
    mproc_proc *p;
    assert_ok(mproc_fork(&p, sleep_then_exit, NULL, NULL));
    int fds[2] = {mproc_queue_fd(q), mproc_proc_fd(p)};
    assert_code(mproc_wait_any(fds, 2, 0), MPROC_ETIMEDOUT);
    assert_int_equal(mproc_wait_any(fds, 2, 5000), 1); /* the child ended */
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 0, &st));
    assert_ok(mproc_queue_put(q, "m", 1, 0));
    unsigned char ready[2];
    assert_int_equal(mproc_wait_fds(fds, 2, 1000, ready), 2);
    assert_int_equal(ready[0], 1);
    assert_int_equal(ready[1], 1);
    mproc_proc_free(p);
    mproc_queue_free(q);
}

static void wait_fds_bad_arguments(void **state)
{
    (void)state;
    int fds[2] = {-1, -1};
    assert_code(mproc_wait_fds(NULL, 1, 0, NULL), MPROC_EINVAL);
    assert_code(mproc_wait_any(fds, 0, -1), MPROC_EINVAL); /* would wait forever */
    assert_code(mproc_wait_fds(fds, 2, -7, NULL), MPROC_EINVAL);
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_wait_any(fds, 2, 50), MPROC_ETIMEDOUT); /* negative fds are ignored */
    assert_true(mproc_test_now_ms() - t0 >= 45);
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[1]);
    close(p[0]);
    fds[0] = p[0]; /* closed: not a descriptor any more */
    assert_code(mproc_wait_fds(fds, 1, 0, NULL), MPROC_EBADF);
}

static void queue_name(char *buf, size_t n, int pid, char which)
{
    snprintf(buf, n, "test-%d-%c", pid, which);
}

static int named_child(void *arg)
{
    int parent = *(const int *)arg;
    char up[64], down[64];
    queue_name(up, sizeof up, parent, 'u');
    queue_name(down, sizeof down, parent, 'd');
    /* fresh handles from the names alone, as an unrelated process would get them */
    mproc_queue *qu = NULL, *qd = NULL;
    int r = mproc_queue_open(&qu, up);
    if (r == 0)
        r = mproc_queue_open(&qd, down);
    if (r == 0)
        r = mproc_queue_put(qu, "from child", 10, 1000);
    char b[16];
    size_t len;
    if (r == 0)
        r = mproc_queue_get(qd, b, sizeof b, &len, 5000);
    if (r == 0 && (len != 11 || memcmp(b, "from parent", 11) != 0))
        r = 1;
    mproc_queue_free(qu);
    mproc_queue_free(qd);
    return r == 0 ? 0 : 2;
}

static void named_queue_between_processes(void **state)
{
    (void)state;
    int me = (int)getpid();
    char up[64], down[64];
    queue_name(up, sizeof up, me, 'u');
    queue_name(down, sizeof down, me, 'd');
    mproc_queue *qu, *qd, *again;
    mproc_queue_opts o = {.name = up};
    assert_ok(mproc_queue_new(&qu, &o));
    assert_code(mproc_queue_new(&again, &o), MPROC_EEXIST);
    o.name = down;
    assert_ok(mproc_queue_new(&qd, &o));
    int fd = mproc_queue_fd(qu);
    mproc_proc *p;
    assert_ok(mproc_fork(&p, named_child, &me, NULL));
    assert_true(readable(fd, 5000));
    char b[16];
    size_t len;
    assert_ok(mproc_queue_get(qu, b, sizeof b, &len, 0));
    assert_memory_equal(b, "from child", 10);
    assert_ok(mproc_queue_put(qd, "from parent", 11, 0));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    assert_int_equal(mproc_exitcode(&st), 0);
    mproc_proc_free(p);
    assert_ok(mproc_queue_unlink(up));
    assert_ok(mproc_queue_unlink(down));
    assert_code(mproc_queue_unlink(up), MPROC_ENOENT);
    assert_code(mproc_queue_open(&again, up), MPROC_ENOENT);
    mproc_queue_free(qu);
    mproc_queue_free(qd);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(fd_readable_exactly_when_message_waits),
        cmocka_unit_test(fd_asked_late_sees_waiting_messages),
        cmocka_unit_test(fd_readable_for_good_once_closed),
        cmocka_unit_test(fd_wakes_poller_when_child_puts),
        cmocka_unit_test(wait_any_over_process_and_queue),
        cmocka_unit_test(wait_fds_bad_arguments),
        cmocka_unit_test(named_queue_between_processes),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
