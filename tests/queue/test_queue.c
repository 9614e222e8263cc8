/* Behaviour of the shared-memory queue: put/get, limits, timeouts, close, forked producers
 * and consumers, ordering and integrity. Crash behaviour is in test_crash.c, the poll
 * descriptor, wait and named queues in test_poll.c. */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

static mproc_queue *new_queue(size_t cap, size_t max_msg, size_t max_count, unsigned flags)
{
    mproc_queue_opts o = {
        .capacity_bytes = cap, .max_msg_size = max_msg, .max_messages = max_count, .flags = flags};
    mproc_queue *q = NULL;
    assert_ok(mproc_queue_new(&q, &o));
    return q;
}

static void defaults_take_64k_messages(void **state)
{
    (void)state;
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, NULL));
    assert_true(mproc_queue_max_msg_size(q) >= 65536);
    size_t n = 65536, len = 0;
    unsigned char *in = malloc(n), *out = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    /* a few MiB: at least 32 such messages fit without a consumer */
    for (int i = 0; i < 32; i++)
        assert_ok(mproc_queue_put(q, in, n, 0));
    for (int i = 0; i < 32; i++) {
        assert_ok(mproc_queue_get(q, out, n, &len, 0));
        assert_int_equal(len, n);
        assert_memory_equal(in, out, n);
    }
    assert_code(mproc_queue_put(q, in, mproc_queue_max_msg_size(q) + 1, 0), MPROC_EMSGSIZE);
    free(in);
    free(out);
    mproc_queue_free(q);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    mproc_queue *q = NULL;
    char b[8];
    size_t len;
    assert_code(mproc_queue_new(NULL, NULL), MPROC_EINVAL);
    mproc_queue_opts o = {.flags = 0x100};
    assert_code(mproc_queue_new(&q, &o), MPROC_EINVAL);
    o = (mproc_queue_opts){.capacity_bytes = 4096, .max_msg_size = 4096};
    assert_code(mproc_queue_new(&q, &o), MPROC_EINVAL);
    o = (mproc_queue_opts){.name = "bad/name"};
    assert_code(mproc_queue_new(&q, &o), MPROC_EINVAL);
    assert_null(q);
    q = new_queue(0, 0, 0, 0);
    assert_code(mproc_queue_put(NULL, b, 1, 0), MPROC_EINVAL);
    assert_code(mproc_queue_put(q, NULL, 1, 0), MPROC_EINVAL);
    assert_code(mproc_queue_put(q, b, 1, -2), MPROC_EINVAL);
    assert_code(mproc_queue_get(q, b, sizeof b, NULL, 0), MPROC_EINVAL);
    assert_code(mproc_queue_get(q, NULL, 8, &len, 0), MPROC_EINVAL);
    assert_code(mproc_queue_get(q, b, sizeof b, &len, -5), MPROC_EINVAL);
    assert_code(mproc_queue_close(NULL), MPROC_EINVAL);
    assert_code(mproc_queue_join(q, 0), MPROC_ENOTSUP);
    assert_code(mproc_queue_task_done(q), MPROC_ENOTSUP);
    mproc_queue_free(q);
    mproc_queue_free(NULL);
}

static void fifo_and_intact_through_wraparound(void **state)
{
    (void)state;
    /* a 4 KiB ring with messages up to 1000 B wraps every few messages, with filler */
    mproc_queue *q = new_queue(4096, 1000, 0, 0);
    unsigned char in[1000], out[1000];
    uint32_t next_get = 0, next_put = 0;
    srand(7);
    while (next_get < 5000) {
        int burst = rand() % 6;
        for (int i = 0; i < burst; i++) {
            size_t n = 4 + (size_t)(next_put * 131u % 997u);
            memcpy(in, &next_put, 4);
            for (size_t k = 4; k < n; k++)
                in[k] = (unsigned char)(next_put + k);
            int r = mproc_queue_put(q, in, n, 0);
            if (r == MPROC_EFULL)
                break;
            assert_ok(r);
            next_put++;
        }
        size_t len;
        int r = mproc_queue_get(q, out, sizeof out, &len, 0);
        if (r == MPROC_EEMPTY)
            continue;
        assert_ok(r);
        uint32_t seq;
        memcpy(&seq, out, 4);
        assert_int_equal(seq, next_get);
        assert_int_equal(len, 4 + (size_t)(seq * 131u % 997u));
        for (size_t k = 4; k < len; k++)
            assert_int_equal(out[k], (unsigned char)(seq + k));
        next_get++;
    }
    mproc_queue_free(q);
}

/* Messages of 4 KiB and more wrap around the end of the ring instead of leaving a filler:
 * three 5000 B messages fit a 16 KiB ring wherever its tail stands (a filler would leave
 * room for two at some positions), and every byte comes back where it went. */
static void large_messages_wrap_around_the_ring(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(16384, 8000, 0, 0);
    static unsigned char in[5000], out[8000];
    for (uint32_t round = 0; round < 40; round++) {
        size_t step = 1000 + round * 16 % 3000; /* moves the tail by odd amounts */
        for (size_t k = 0; k < step; k++)
            in[k] = (unsigned char)(k + round);
        assert_ok(mproc_queue_put(q, in, step, 0));
        size_t len;
        assert_ok(mproc_queue_get(q, out, sizeof out, &len, 0));
        for (uint32_t m = 0; m < 3; m++) {
            for (size_t k = 0; k < sizeof in; k++)
                in[k] = (unsigned char)(k * 7 + m + round);
            assert_ok(mproc_queue_put(q, in, sizeof in, 0));
        }
        for (uint32_t m = 0; m < 3; m++) {
            assert_ok(mproc_queue_get(q, out, sizeof out, &len, 0));
            assert_int_equal(len, sizeof in);
            for (size_t k = 0; k < len; k++)
                assert_int_equal(out[k], (unsigned char)(k * 7 + m + round));
        }
    }
    size_t len;
    assert_code(mproc_queue_get(q, out, sizeof out, &len, 0), MPROC_EEMPTY);
    mproc_queue_free(q);
}

static void zero_length_messages(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(0, 0, 0, 0);
    assert_ok(mproc_queue_put(q, NULL, 0, 0));
    assert_int_equal(mproc_queue_size(q), 1);
    size_t len = 99;
    assert_ok(mproc_queue_get(q, NULL, 0, &len, 0));
    assert_int_equal(len, 0);
    assert_int_equal(mproc_queue_empty(q), 1);
    mproc_queue_free(q);
}

static void empty_get_try_once_and_timeout(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(0, 0, 0, 0);
    char b[4];
    size_t len;
    assert_code(mproc_queue_get(q, b, sizeof b, &len, 0), MPROC_EEMPTY);
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_queue_get(q, b, sizeof b, &len, 150), MPROC_ETIMEDOUT);
    int64_t dt = mproc_test_now_ms() - t0;
    assert_true(dt >= 140 && dt < 3000);
    mproc_queue_free(q);
}

static void full_put_try_once_and_timeout(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(4096, 1000, 0, 0);
    char b[1000] = {0};
    int n = 0;
    while (mproc_queue_put(q, b, sizeof b, 0) == 0)
        n++;
    assert_int_equal(n, 4); /* 4 x (16 + 1008) bytes fill 4096 */
    assert_int_equal(mproc_queue_full(q), 1);
    assert_code(mproc_queue_put(q, b, sizeof b, 0), MPROC_EFULL);
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_queue_put(q, b, sizeof b, 120), MPROC_ETIMEDOUT);
    assert_true(mproc_test_now_ms() - t0 >= 110);
    size_t len;
    assert_ok(mproc_queue_get(q, b, sizeof b, &len, 0));
    assert_ok(mproc_queue_put(q, b, sizeof b, 0));
    mproc_queue_free(q);
}

static void max_messages_limits_count(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(0, 0, 3, 0);
    for (int i = 0; i < 3; i++)
        assert_ok(mproc_queue_put(q, &i, sizeof i, 0));
    int x = 9;
    assert_code(mproc_queue_put(q, &x, sizeof x, 0), MPROC_EFULL);
    assert_int_equal(mproc_queue_size(q), 3);
    assert_int_equal(mproc_queue_full(q), 1);
    size_t len;
    assert_ok(mproc_queue_get(q, &x, sizeof x, &len, 0));
    assert_int_equal(x, 0);
    assert_ok(mproc_queue_put(q, &x, sizeof x, 0));
    mproc_queue_free(q);
}

static void small_buffer_leaves_message_queued(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(0, 0, 0, 0);
    assert_ok(mproc_queue_put(q, "hello world", 11, 0));
    char small[4], big[16];
    size_t len = 0;
    assert_code(mproc_queue_get(q, small, sizeof small, &len, 0), MPROC_EMSGSIZE);
    assert_int_equal(len, 11);
    assert_ok(mproc_queue_get(q, big, sizeof big, &len, 0));
    assert_int_equal(len, 11);
    assert_memory_equal(big, "hello world", 11);
    mproc_queue_free(q);
}

static void close_drains_then_reports_closed(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(0, 0, 0, 0);
    assert_ok(mproc_queue_put(q, "a", 1, 0));
    assert_ok(mproc_queue_put(q, "b", 1, 0));
    assert_ok(mproc_queue_close(q));
    assert_ok(mproc_queue_close(q));
    assert_code(mproc_queue_put(q, "c", 1, -1), MPROC_ECLOSED);
    char b[2];
    size_t len;
    assert_ok(mproc_queue_get(q, b, sizeof b, &len, -1));
    assert_int_equal(b[0], 'a');
    assert_ok(mproc_queue_get(q, b, sizeof b, &len, -1));
    assert_int_equal(b[0], 'b');
    assert_code(mproc_queue_get(q, b, sizeof b, &len, -1), MPROC_ECLOSED);
    assert_code(mproc_queue_get(q, b, sizeof b, &len, 0), MPROC_ECLOSED);
    mproc_queue_free(q);
}

static int blocked_getter(void *arg)
{
    char b[8];
    size_t len;
    return mproc_queue_get(arg, b, sizeof b, &len, -1) == MPROC_ECLOSED ? 0 : 1;
}

static void close_wakes_blocked_getter(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(0, 0, 0, 0);
    mproc_proc *p;
    assert_ok(mproc_fork(&p, blocked_getter, q, NULL));
    usleep(100000);
    assert_code(mproc_proc_wait(p, 0, NULL), MPROC_ETIMEDOUT); /* really blocked */
    assert_ok(mproc_queue_close(q));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    assert_int_equal(mproc_exitcode(&st), 0);
    mproc_proc_free(p);
    mproc_queue_free(q);
}

static int blocked_putter(void *arg)
{
    char b[1000] = {1};
    for (int i = 0; i < 6; i++)
        if (mproc_queue_put(arg, b, sizeof b, 10000) != 0)
            return 1;
    return 0;
}

static void blocked_put_resumes_when_space_frees(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(4096, 1000, 0, 0);
    mproc_proc *p;
    assert_ok(mproc_fork(&p, blocked_putter, q, NULL));
    char b[1000];
    size_t len;
    for (int i = 0; i < 6; i++)
        assert_ok(mproc_queue_get(q, b, sizeof b, &len, 10000));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    assert_int_equal(mproc_exitcode(&st), 0);
    mproc_proc_free(p);
    mproc_queue_free(q);
}

static int fill_then_block(void *arg)
{
    char b[1000] = {0};
    while (mproc_queue_put(arg, b, sizeof b, 0) == 0) {
    }
    return mproc_queue_put(arg, b, sizeof b, 10000) == MPROC_ECLOSED ? 0 : 1;
}

static void close_wakes_blocked_putter(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(4096, 1000, 0, 0);
    mproc_proc *p;
    assert_ok(mproc_fork(&p, fill_then_block, q, NULL));
    usleep(100000);
    assert_ok(mproc_queue_close(q));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 5000, &st));
    assert_int_equal(mproc_exitcode(&st), 0);
    mproc_proc_free(p);
    mproc_queue_free(q);
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void signals_do_not_cut_or_stretch_waits(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(0, 0, 0, 0);
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {{0, 10000}, {0, 10000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    char b[8];
    size_t len;
    int64_t t0 = mproc_test_now_ms();
    int r = mproc_queue_get(q, b, sizeof b, &len, 300);
    int64_t dt = mproc_test_now_ms() - t0;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    assert_code(r, MPROC_ETIMEDOUT);
    assert_true(dt >= 290 && dt < 3000);
    mproc_queue_free(q);
}

struct tharg {
    mproc_queue *q;
    int id;
    int ok;
};

static void *thread_put(void *arg)
{
    struct tharg *a = arg;
    a->ok = 1;
    for (int i = 0; i < 2000; i++) {
        int v[2] = {a->id, i};
        if (mproc_queue_put(a->q, v, sizeof v, 10000) != 0)
            a->ok = 0;
    }
    return NULL;
}

static void threads_share_a_handle(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(8192, 0, 0, 0);
    pthread_t th[3];
    struct tharg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (struct tharg){q, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_put, &args[i]), 0);
    }
    int next[3] = {0, 0, 0};
    for (int n = 0; n < 6000; n++) {
        int v[2];
        size_t len;
        assert_ok(mproc_queue_get(q, v, sizeof v, &len, 10000));
        assert_true(v[0] >= 0 && v[0] < 3);
        assert_int_equal(v[1], next[v[0]]); /* FIFO per producer */
        next[v[0]]++;
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 1);
    }
    mproc_queue_free(q);
}

/* ---- many producers, many consumers ----------------------------------------------- */

#define NPROD 3
#define NCONS 3
#define PER   3000

struct mpmc {
    mproc_queue *q;
    int id;
    _Atomic unsigned char *seen; /* [NPROD][PER] delivery counts, shared */
};

static int producer(void *arg)
{
    struct mpmc *m = arg;
    unsigned char b[300];
    for (uint32_t s = 0; s < PER; s++) {
        size_t n = 8 + s % 290;
        uint32_t hdr[2] = {(uint32_t)m->id, s};
        memcpy(b, hdr, 8);
        memset(b + 8, (int)(s ^ (uint32_t)m->id), n - 8);
        if (mproc_queue_put(m->q, b, n, 20000) != 0)
            return 1;
    }
    return 0;
}

static int consumer(void *arg)
{
    struct mpmc *m = arg;
    unsigned char b[300];
    int64_t last[NPROD] = {-1, -1, -1};
    for (;;) {
        size_t len;
        int r = mproc_queue_get(m->q, b, sizeof b, &len, 20000);
        if (r == MPROC_ECLOSED)
            return 0;
        if (r != 0)
            return 2;
        uint32_t hdr[2];
        memcpy(hdr, b, 8);
        if (hdr[0] >= NPROD || hdr[1] >= PER || len != 8 + hdr[1] % 290)
            return 3;
        for (size_t k = 8; k < len; k++)
            if (b[k] != (unsigned char)(hdr[1] ^ hdr[0]))
                return 4;
        if ((int64_t)hdr[1] <= last[hdr[0]])
            return 5; /* FIFO per producer, as seen by one consumer */
        last[hdr[0]] = hdr[1];
        atomic_fetch_add(&m->seen[hdr[0] * PER + hdr[1]], 1);
    }
}

static void mpmc_exactly_once_fifo_per_producer(void **state)
{
    (void)state;
    size_t seen_size = NPROD * PER;
    void *seen = mmap(NULL, seen_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(seen != MAP_FAILED);
    mproc_queue *q = new_queue(16384, 0, 0, 0);
    struct mpmc args[NPROD + NCONS];
    mproc_proc *procs[NPROD + NCONS];
    for (int i = 0; i < NPROD + NCONS; i++) {
        args[i] = (struct mpmc){q, i < NPROD ? i : i - NPROD, seen};
        assert_ok(mproc_fork(&procs[i], i < NPROD ? producer : consumer, &args[i], NULL));
    }
    mproc_status st;
    for (int i = 0; i < NPROD; i++) {
        assert_ok(mproc_proc_wait(procs[i], 60000, &st));
        assert_int_equal(mproc_exitcode(&st), 0);
    }
    assert_ok(mproc_queue_close(q));
    for (int i = NPROD; i < NPROD + NCONS; i++) {
        assert_ok(mproc_proc_wait(procs[i], 60000, &st));
        assert_int_equal(mproc_exitcode(&st), 0);
    }
    const unsigned char *cnt = seen;
    for (size_t i = 0; i < seen_size; i++)
        assert_int_equal(cnt[i], 1);
    assert_int_equal(mproc_queue_size(q), 0);
    for (int i = 0; i < NPROD + NCONS; i++)
        mproc_proc_free(procs[i]);
    mproc_queue_free(q);
    munmap(seen, seen_size);
}

/* ---- joinable ----------------------------------------------------------------------- */

static int worker_task_done(void *arg)
{
    int x;
    size_t len;
    for (int i = 0; i < 5; i++) {
        if (mproc_queue_get(arg, &x, sizeof x, &len, 10000) != 0)
            return 1;
        usleep(20000);
        if (mproc_queue_task_done(arg) != 0)
            return 2;
    }
    return 0;
}

static void join_waits_for_task_done(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(0, 0, 0, MPROC_QUEUE_JOINABLE);
    assert_ok(mproc_queue_join(q, 0)); /* nothing put: nothing to wait for */
    for (int i = 0; i < 5; i++)
        assert_ok(mproc_queue_put(q, &i, sizeof i, 0));
    assert_code(mproc_queue_join(q, 0), MPROC_ETIMEDOUT);
    mproc_proc *p;
    assert_ok(mproc_fork(&p, worker_task_done, q, NULL));
    assert_ok(mproc_queue_join(q, 10000));
    assert_int_equal(mproc_queue_size(q), 0);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    assert_int_equal(mproc_exitcode(&st), 0);
    assert_code(mproc_queue_task_done(q), MPROC_ERANGE);
    mproc_proc_free(p);
    mproc_queue_free(q);
}

static int take_and_die(void *arg)
{
    int x;
    size_t len;
    if (mproc_queue_get(arg, &x, sizeof x, &len, 10000) != 0)
        return 1;
    raise(SIGKILL);
    return 2;
}

static void join_not_held_by_killed_consumer(void **state)
{
    (void)state;
    mproc_queue *q = new_queue(0, 0, 0, MPROC_QUEUE_JOINABLE);
    int x = 1;
    assert_ok(mproc_queue_put(q, &x, sizeof x, 0));
    mproc_proc *p;
    assert_ok(mproc_fork(&p, take_and_die, q, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    assert_int_equal(st.signal, SIGKILL);
    /* the task it took died with it: join must not wait for it */
    assert_ok(mproc_queue_join(q, 5000));
    mproc_proc_free(p);
    mproc_queue_free(q);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(defaults_take_64k_messages),
        cmocka_unit_test(bad_arguments_are_refused),
        cmocka_unit_test(fifo_and_intact_through_wraparound),
        cmocka_unit_test(large_messages_wrap_around_the_ring),
        cmocka_unit_test(zero_length_messages),
        cmocka_unit_test(empty_get_try_once_and_timeout),
        cmocka_unit_test(full_put_try_once_and_timeout),
        cmocka_unit_test(max_messages_limits_count),
        cmocka_unit_test(small_buffer_leaves_message_queued),
        cmocka_unit_test(close_drains_then_reports_closed),
        cmocka_unit_test(close_wakes_blocked_getter),
        cmocka_unit_test(blocked_put_resumes_when_space_frees),
        cmocka_unit_test(close_wakes_blocked_putter),
        cmocka_unit_test(signals_do_not_cut_or_stretch_waits),
        cmocka_unit_test(threads_share_a_handle),
        MPROC_CASE(mpmc_exactly_once_fifo_per_producer, 120),
        cmocka_unit_test(join_waits_for_task_done),
        cmocka_unit_test(join_not_held_by_killed_consumer),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
