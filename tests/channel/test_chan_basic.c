/* Channel basics in one process and with forked children: sizes, order, caller buffers,
 * timeouts, the pollable descriptor, descriptor passing, bad arguments. */
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel/chan_int.h"

static unsigned char pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 131u + seed + (i >> 12)) & 0xffu);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(i, seed);
}

/* Word patterns for the big messages: fast enough to fill and check 1 GiB under ASan. */
static uint64_t wpattern(size_t w)
{
    return w * 0x9e3779b97f4a7c15ull + 7;
}

static void wfill(unsigned char *p, size_t n)
{
    for (size_t w = 0; w < n / 8; w++) {
        uint64_t v = wpattern(w);
        memcpy(p + w * 8, &v, 8);
    }
    memset(p + n / 8 * 8, 0x5a, n % 8);
}

static int wcheck(const unsigned char *p, size_t n)
{
    for (size_t w = 0; w < n / 8; w++) {
        uint64_t v;
        memcpy(&v, p + w * 8, 8);
        if (v != wpattern(w))
            return 0;
    }
    for (size_t i = n / 8 * 8; i < n; i++)
        if (p[i] != 0x5a)
            return 0;
    return 1;
}

static int check_from(const unsigned char *p, size_t from, size_t n, unsigned seed)
{
    for (size_t i = from; i < n; i++)
        if (p[i] != pattern(i, seed))
            return 0;
    return 1;
}

/* A forked child: frees the parent's end, runs one job on its own end, exits. */
typedef struct kid {
    mproc_chan *mine, *theirs;
    size_t size;  /* message size */
    size_t count; /* how many */
    int fd;       /* a descriptor to use */
} kid;

static mproc_proc *start(int (*fn)(void *), kid *k)
{
    mproc_proc *p = NULL;
    int r = mproc_fork(&p, fn, k, NULL);
    assert_int_equal(r, 0);
    mproc_chan_free(k->mine); /* the parent's copy of the child's end */
    k->mine = NULL;
    return p;
}

static void join_ok(mproc_proc *p)
{
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 20000, &st));
    if (!st.exited || st.code != 0)
        fail_msg("child: exited %d code %d signaled %d signal %d", st.exited, st.code, st.signaled,
                 st.signal);
    mproc_proc_free(p);
}

static void small_message_both_ways(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    assert_ok(mproc_chan_send(a, "hello", 5, 1000));
    void *buf;
    size_t len;
    assert_ok(mproc_chan_recv(b, &buf, &len, 1000));
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "hello", 5);
    free(buf);
    assert_ok(mproc_chan_send(b, "world!", 6, 1000));
    char out[16];
    assert_ok(mproc_chan_recv_into(a, out, sizeof out, &len, 1000));
    assert_int_equal(len, 6);
    assert_memory_equal(out, "world!", 6);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void zero_length_message(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    assert_ok(mproc_chan_send(a, NULL, 0, 0));
    assert_ok(mproc_chan_send(a, "x", 0, 0));
    void *buf = NULL;
    size_t len = 99;
    assert_ok(mproc_chan_recv(b, &buf, &len, 0));
    assert_int_equal(len, 0);
    assert_non_null(buf);
    free(buf);
    len = 99;
    assert_ok(mproc_chan_recv_into(b, NULL, 0, &len, 0));
    assert_int_equal(len, 0);
    assert_code(mproc_chan_recv_into(b, NULL, 0, &len, 0), MPROC_ETIMEDOUT);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static int send_big(void *arg)
{
    kid *k = arg;
    mproc_chan_free(k->theirs);
    unsigned char *p = malloc(k->size);
    if (!p)
        return 10;
    wfill(p, k->size);
    int r = 0;
    for (size_t i = 0; i < k->count && r == 0; i++)
        r = mproc_chan_send(k->mine, p, k->size, 30000);
    free(p);
    mproc_chan_free(k->mine);
    return r == 0 ? 0 : 11;
}

static void big_message(size_t size, size_t count)
{
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    kid k = {.mine = b, .theirs = a, .size = size, .count = count};
    mproc_proc *p = start(send_big, &k);
    for (size_t i = 0; i < count; i++) {
        void *buf = NULL;
        size_t len = 0;
        assert_ok(mproc_chan_recv(a, &buf, &len, 30000));
        assert_int_equal(len, size);
        assert_true(wcheck(buf, len));
        free(buf);
    }
    join_ok(p);
    mproc_chan_free(a);
}

static void message_64mib(void **state)
{
    (void)state;
    big_message((size_t)64 << 20, 2);
}

static void message_1gib(void **state)
{
    (void)state;
    big_message((size_t)1 << 30, 1);
}

static void sizes_around_frame_limits(void **state)
{
    (void)state;
    /* Every size near the single-frame limit, and chunked ones up to what fits the ring
     * without a concurrent reader, through a small ring: chunking, padding and
     * wrap-around all get exercised. */
    mproc_chan_opts o = {.ring_size = 4096};
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair_opts(&a, &b, &o));
    size_t limit = 4096 / 4 - MPROC__FR_HDR;
    unsigned char msg[4096], out[4096];
    size_t sizes[40];
    size_t ns = 0;
    for (size_t n = limit - 9; n <= limit + 9; n++)
        sizes[ns++] = n;
    for (size_t n = 2 * limit - 3; n <= 2 * limit + 3; n++)
        sizes[ns++] = n;
    sizes[ns++] = 3000;
    sizes[ns++] = 1;
    for (size_t i = 0; i < ns; i++) {
        size_t n = sizes[i];
        fill(msg, n, (unsigned)n);
        assert_ok(mproc_chan_send(a, msg, n, 0));
        size_t len;
        assert_ok(mproc_chan_recv_into(b, out, sizeof out, &len, 0));
        assert_int_equal(len, n);
        assert_memory_equal(out, msg, n);
    }
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static int send_many(void *arg)
{
    kid *k = arg;
    mproc_chan_free(k->theirs);
    unsigned char buf[3000];
    for (size_t i = 0; i < k->count; i++) {
        size_t n = 8 + (i * 37) % (sizeof buf - 8);
        fill(buf, n, (unsigned)i);
        memcpy(buf, &i, sizeof i);
        if (mproc_chan_send(k->mine, buf, n, 10000) != 0)
            return 12;
    }
    mproc_chan_free(k->mine);
    return 0;
}

static void many_messages_in_order(void **state)
{
    (void)state;
    mproc_chan_opts o = {.ring_size = 16384};
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair_opts(&a, &b, &o));
    kid k = {.mine = b, .theirs = a, .count = 20000};
    mproc_proc *p = start(send_many, &k);
    unsigned char buf[3000];
    for (size_t i = 0; i < k.count; i++) {
        size_t len, seq;
        assert_ok(mproc_chan_recv_into(a, buf, sizeof buf, &len, 10000));
        assert_int_equal(len, 8 + (i * 37) % (sizeof buf - 8));
        memcpy(&seq, buf, sizeof seq);
        assert_int_equal(seq, i);
        assert_true(check_from(buf, 8, len, (unsigned)i));
    }
    size_t len;
    assert_code(mproc_chan_recv_into(a, buf, sizeof buf, &len, 10000), MPROC_ECLOSED);
    join_ok(p);
    mproc_chan_free(a);
}

static void recv_into_small_buffer_keeps_message(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    unsigned char msg[100], out[100];
    fill(msg, sizeof msg, 3);
    assert_ok(mproc_chan_send(a, msg, sizeof msg, 0));
    size_t len = 0;
    assert_code(mproc_chan_recv_into(b, out, 10, &len, 0), MPROC_EMSGSIZE);
    assert_int_equal(len, 100);
    assert_code(mproc_chan_recv_into(b, NULL, 0, &len, 0), MPROC_EMSGSIZE);
    assert_int_equal(len, 100);
    assert_ok(mproc_chan_recv_into(b, out, sizeof out, &len, 0));
    assert_int_equal(len, 100);
    assert_memory_equal(out, msg, 100);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void recv_into_small_buffer_chunked(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    size_t n = 3u << 20; /* bigger than the ring: streamed by a child */
    kid k = {.mine = b, .theirs = a, .size = n, .count = 1};
    mproc_proc *p = start(send_big, &k);
    unsigned char *out = malloc(n);
    assert_non_null(out);
    size_t len = 0;
    int64_t end = mproc_test_now_ms() + 10000;
    int r;
    while ((r = mproc_chan_recv_into(a, out, 1000, &len, 100)) == MPROC_ETIMEDOUT &&
           mproc_test_now_ms() < end)
        ;
    assert_code(r, MPROC_EMSGSIZE);
    assert_int_equal(len, n);
    assert_ok(mproc_chan_recv_into(a, out, n, &len, 10000));
    assert_int_equal(len, n);
    assert_true(wcheck(out, n));
    free(out);
    join_ok(p);
    mproc_chan_free(a);
}

static void recv_timeout_on_empty(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    void *buf;
    size_t len;
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_chan_recv(b, &buf, &len, 0), MPROC_ETIMEDOUT);
    assert_true(mproc_test_now_ms() - t0 < 100);
    t0 = mproc_test_now_ms();
    assert_code(mproc_chan_recv(b, &buf, &len, 200), MPROC_ETIMEDOUT);
    int64_t dt = mproc_test_now_ms() - t0;
    assert_true(dt >= 195 && dt < 2000);
    int fd;
    t0 = mproc_test_now_ms();
    assert_code(mproc_chan_recv_fd(b, &fd, 100), MPROC_ETIMEDOUT);
    dt = mproc_test_now_ms() - t0;
    assert_true(dt >= 95 && dt < 2000);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void send_timeout_when_full_withdraws_message(void **state)
{
    (void)state;
    mproc_chan_opts o = {.ring_size = 4096};
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair_opts(&a, &b, &o));
    unsigned char msg[1000];
    fill(msg, sizeof msg, 1);
    int sent = 0;
    while (mproc_chan_send(a, msg, sizeof msg, 0) == 0)
        sent++;
    assert_true(sent >= 2);
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_chan_send(a, msg, sizeof msg, 100), MPROC_ETIMEDOUT);
    assert_true(mproc_test_now_ms() - t0 >= 95);
    /* A message that must stream: its first piece fits after one read, then the ring
     * stays full; the send times out and the peer must never see a piece of it. */
    size_t len;
    unsigned char out[5000];
    assert_ok(mproc_chan_recv_into(b, out, sizeof out, &len, 0));
    unsigned char big[5000];
    fill(big, sizeof big, 2);
    assert_code(mproc_chan_send(a, big, sizeof big, 50), MPROC_ETIMEDOUT);
    for (int i = 1; i < sent; i++) {
        assert_ok(mproc_chan_recv_into(b, out, sizeof out, &len, 0));
        assert_int_equal(len, sizeof msg);
    }
    assert_code(mproc_chan_recv_into(b, out, sizeof out, &len, 0), MPROC_ETIMEDOUT);
    /* The channel still works afterwards. */
    assert_ok(mproc_chan_send(a, "ok", 2, 0));
    assert_ok(mproc_chan_recv_into(b, out, sizeof out, &len, 0));
    assert_int_equal(len, 2);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void pollable_fd_readable_exactly_when_message_waits(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    assert_ok(mproc_chan_send(a, "early", 5, 0)); /* before anyone asked for the fd */
    int fd = mproc_chan_fd(b);
    assert_true(fd >= 0);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 0), 1);
    size_t len;
    char out[16];
    assert_ok(mproc_chan_recv_into(b, out, sizeof out, &len, 0));
    assert_int_equal(poll(&pf, 1, 0), 0);
    assert_ok(mproc_chan_send(a, "one", 3, 0));
    assert_ok(mproc_chan_send(a, "two", 3, 0));
    assert_int_equal(poll(&pf, 1, 0), 1);
    assert_ok(mproc_chan_recv_into(b, out, sizeof out, &len, 0));
    assert_int_equal(poll(&pf, 1, 0), 1);
    assert_ok(mproc_chan_recv_into(b, out, sizeof out, &len, 0));
    assert_memory_equal(out, "two", 3);
    assert_int_equal(poll(&pf, 1, 0), 0);
    assert_code(mproc_chan_recv_into(b, out, sizeof out, &len, 0), MPROC_ETIMEDOUT);
    assert_int_equal(poll(&pf, 1, 0), 0);
    assert_int_equal(mproc_chan_fd(b), fd);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static int send_after_a_while(void *arg)
{
    kid *k = arg;
    mproc_chan_free(k->theirs);
    usleep(100000);
    int r = mproc_chan_send(k->mine, "late", 4, 5000);
    mproc_chan_free(k->mine);
    return r == 0 ? 0 : 15;
}

static void pollable_fd_wakes_for_another_process(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    int fd = mproc_chan_fd(a); /* polled before the child starts sending */
    kid k = {.mine = b, .theirs = a};
    mproc_proc *p = start(send_after_a_while, &k);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 0), 0);
    assert_int_equal(poll(&pf, 1, 10000), 1);
    char out[8];
    size_t len;
    assert_ok(mproc_chan_recv_into(a, out, sizeof out, &len, 0));
    assert_memory_equal(out, "late", 4);
    assert_int_equal(poll(&pf, 1, 0), 0);
    join_ok(p);
    mproc_chan_free(a);
}

static int write_through_fd(void *arg)
{
    kid *k = arg;
    mproc_chan_free(k->theirs);
    int fd = -1;
    if (mproc_chan_recv_fd(k->mine, &fd, 10000) != 0)
        return 20;
    if (write(fd, "through", 7) != 7)
        return 21;
    close(fd);
    mproc_chan_free(k->mine);
    return 0;
}

static void fd_passing_pipe_end(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    kid k = {.mine = b, .theirs = a};
    mproc_proc *p = start(write_through_fd, &k);
    assert_ok(mproc_chan_send_fd(a, pfd[1], 1000));
    close(pfd[1]);
    char buf[16] = {0};
    ssize_t n = read(pfd[0], buf, sizeof buf);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "through", 7);
    close(pfd[0]);
    join_ok(p);
    mproc_chan_free(a);
}

static void fd_passing_in_process_is_cloexec(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    assert_ok(mproc_chan_send_fd(a, pfd[0], 0));
    assert_ok(mproc_chan_send_fd(a, pfd[1], 0));
    int r0 = -1, r1 = -1;
    assert_ok(mproc_chan_recv_fd(b, &r0, 0));
    assert_ok(mproc_chan_recv_fd(b, &r1, 0));
    assert_true(fcntl(r0, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(r1, "z", 1), 1);
    char c = 0;
    assert_int_equal(read(pfd[0], &c, 1), 1);
    assert_int_equal(c, 'z');
    assert_code(mproc_chan_send_fd(a, 12345, 0), MPROC_EBADF);
    assert_code(mproc_chan_recv_fd(b, &r0, 0), MPROC_ETIMEDOUT);
    close(r0);
    close(r1);
    close(pfd[0]);
    close(pfd[1]);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static int echo(void *arg)
{
    kid *k = arg;
    mproc_chan_free(k->theirs);
    for (;;) {
        void *buf;
        size_t len;
        int r = mproc_chan_recv(k->mine, &buf, &len, 20000);
        if (r == MPROC_ECLOSED)
            break;
        if (r != 0)
            return 30;
        r = mproc_chan_send(k->mine, buf, len, 20000);
        free(buf);
        if (r != 0)
            return 31;
    }
    mproc_chan_free(k->mine);
    return 0;
}

static void forked_child_round_trips(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    kid k = {.mine = b, .theirs = a};
    mproc_proc *p = start(echo, &k);
    for (unsigned i = 0; i < 2000; i++) {
        unsigned char msg[64], out[64];
        size_t n = 1 + i % sizeof msg, len;
        fill(msg, n, i);
        assert_ok(mproc_chan_send(a, msg, n, 10000));
        assert_ok(mproc_chan_recv_into(a, out, sizeof out, &len, 10000));
        assert_int_equal(len, n);
        assert_memory_equal(out, msg, n);
    }
    mproc_chan_free(a); /* the child sees ECLOSED and exits 0 */
    join_ok(p);
}

typedef struct duplex {
    mproc_chan *c;
    unsigned n;
    int err;
} duplex;

static void *duplex_sender(void *arg)
{
    duplex *d = arg;
    for (unsigned i = 0; i < d->n && d->err == 0; i++)
        d->err = mproc_chan_send(d->c, &i, sizeof i, 10000);
    return NULL;
}

static void one_thread_sends_while_another_receives(void **state)
{
    (void)state;
    mproc_chan_opts o = {.ring_size = 4096};
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair_opts(&a, &b, &o));
    kid k = {.mine = b, .theirs = a};
    mproc_proc *p = start(echo, &k);
    duplex d = {.c = a, .n = 20000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, duplex_sender, &d), 0);
    for (unsigned i = 0; i < d.n; i++) {
        unsigned got = 0;
        size_t len;
        int r = mproc_chan_recv_into(a, &got, sizeof got, &len, 10000);
        if (r != 0 || got != i) {
            pthread_join(t, NULL);
            fail_msg("message %u: %s, got %u", i, mproc_err_name(r), got);
        }
    }
    pthread_join(t, NULL);
    assert_ok(d.err);
    mproc_chan_free(a);
    join_ok(p);
}

/* Messages up to MPROC__MIRROR_MAX bytes also travel next to the ring's tail: every size
 * around that limit, mixed with a larger one, arrives whole and in order, into a caller's
 * buffer and into an allocated one. */
static void small_messages_around_the_mirror_size(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    unsigned char m[200], out[200];
    for (size_t n = 0; n <= MPROC__MIRROR_MAX + 8; n++) {
        fill(m, n, (unsigned)n);
        assert_ok(mproc_chan_send(a, m, n, 0));
        fill(m, sizeof m, 99);
        assert_ok(mproc_chan_send(a, m, sizeof m, 0));
        size_t len;
        assert_ok(mproc_chan_recv_into(b, out, sizeof out, &len, 0));
        assert_int_equal(len, n);
        fill(m, n, (unsigned)n);
        assert_memory_equal(out, m, n);
        void *got;
        assert_ok(mproc_chan_recv(b, &got, &len, 0));
        assert_int_equal(len, sizeof m);
        fill(m, sizeof m, 99);
        assert_memory_equal(got, m, sizeof m);
        free(got);
    }
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void bad_arguments(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    void *buf;
    size_t len;
    int fd;
    assert_code(mproc_chan_pair(NULL, &b), MPROC_EINVAL);
    mproc_chan_opts o = {.ring_size = 5000};
    assert_code(mproc_chan_pair_opts(&a, &b, &o), MPROC_EINVAL);
    o.ring_size = 1024;
    assert_code(mproc_chan_pair_opts(&a, &b, &o), MPROC_EINVAL);
    mproc_chan_opts o2 = {.spin_us = -2};
    assert_code(mproc_chan_pair_opts(&a, &b, &o2), MPROC_EINVAL);
    o2.spin_us = 1000001;
    assert_code(mproc_chan_pair_opts(&a, &b, &o2), MPROC_EINVAL);
    mproc_chan_opts o3 = {.max_msg = ((unsigned long long)1 << 62) + 1};
    assert_code(mproc_chan_pair_opts(&a, &b, &o3), MPROC_EINVAL);
    assert_ok(mproc_chan_pair(&a, &b));
    assert_code(mproc_chan_send(NULL, "x", 1, 0), MPROC_EINVAL);
    assert_code(mproc_chan_send(a, NULL, 1, 0), MPROC_EINVAL);
    assert_code(mproc_chan_send(a, "x", 1, -2), MPROC_EINVAL);
    assert_code(mproc_chan_recv(b, NULL, &len, 0), MPROC_EINVAL);
    assert_code(mproc_chan_recv(b, &buf, NULL, 0), MPROC_EINVAL);
    assert_code(mproc_chan_recv(b, &buf, &len, -5), MPROC_EINVAL);
    assert_code(mproc_chan_recv_into(b, NULL, 5, &len, 0), MPROC_EINVAL);
    assert_code(mproc_chan_recv_fd(b, NULL, 0), MPROC_EINVAL);
    assert_code(mproc_chan_send_fd(a, -1, 0), MPROC_EBADF);
    assert_code(mproc_chan_recv_fd(NULL, &fd, 0), MPROC_EINVAL);
    assert_code(mproc_chan_fd(NULL), MPROC_EINVAL);
    assert_code(mproc_chan_child_fd(NULL), MPROC_EINVAL);
    assert_code(mproc_chan_from_fd(NULL, 0), MPROC_EINVAL);
    assert_code(mproc_chan_from_fd(&a, -1), MPROC_EBADF);
    mproc_chan_free(NULL);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void max_msg_option_limits_send(void **state)
{
    (void)state;
    mproc_chan_opts o = {.max_msg = 100};
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair_opts(&a, &b, &o));
    char msg[101] = {0};
    assert_code(mproc_chan_send(a, msg, 101, 0), MPROC_EMSGSIZE);
    assert_ok(mproc_chan_send(a, msg, 100, 0));
    size_t len;
    assert_ok(mproc_chan_recv_into(b, msg, sizeof msg, &len, 0));
    assert_int_equal(len, 100);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(small_message_both_ways),
        cmocka_unit_test(zero_length_message),
        MPROC_CASE(message_64mib, 60),
        MPROC_CASE(message_1gib, 120),
        cmocka_unit_test(sizes_around_frame_limits),
        MPROC_CASE(many_messages_in_order, 60),
        cmocka_unit_test(recv_into_small_buffer_keeps_message),
        cmocka_unit_test(recv_into_small_buffer_chunked),
        cmocka_unit_test(recv_timeout_on_empty),
        cmocka_unit_test(send_timeout_when_full_withdraws_message),
        cmocka_unit_test(pollable_fd_readable_exactly_when_message_waits),
        cmocka_unit_test(pollable_fd_wakes_for_another_process),
        cmocka_unit_test(fd_passing_pipe_end),
        cmocka_unit_test(fd_passing_in_process_is_cloexec),
        cmocka_unit_test(forked_child_round_trips),
        cmocka_unit_test(one_thread_sends_while_another_receives),
        cmocka_unit_test(small_messages_around_the_mirror_size),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(max_msg_option_limits_send),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
