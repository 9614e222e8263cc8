/* Waking sleepers, and a streaming consumer's lag: each put wakes a consumer asleep on an
 * empty queue; a consumer behind a stream, which lags to read in batches
 * (src/queue/queue.c, stream_lag), still gets every message in order; one that takes a
 * message per wait does not lag. */
#include "harness.h"

#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue_int.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define WAKES   40
#define LATE_NS 15000000LL /* most of a 20 ms slice: a wake-up that did not arrive */
#define GAP_US  3000       /* longer than the longest spin: the getter is asleep */

/* Gets WAKES messages, each carrying the time it was put; exit code: how many arrived
 * late, or 100 + which get failed. */
static int late_getter(void *arg)
{
    int late = 0;
    for (int i = 0; i < WAKES; i++) {
        int64_t sent;
        size_t len;
        if (mproc_queue_get(arg, &sent, sizeof sent, &len, 5000) != 0 || len != sizeof sent)
            return 100 + i;
        if (now_ns() - sent > LATE_NS)
            late++;
    }
    return late;
}

/* Scheduling on a loaded machine may make a few gets late; a lost wake-up makes one late
 * by a whole slice, every time. Fewer than a quarter late: the wake-ups arrive. */
static void each_put_wakes_a_sleeping_getter(void **state)
{
    (void)state;
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, NULL));
    mproc_proc *p;
    assert_ok(mproc_fork(&p, late_getter, q, NULL));
    for (int i = 0; i < WAKES; i++) {
        usleep(GAP_US);
        int64_t t = now_ns();
        assert_ok(mproc_queue_put(q, &t, sizeof t, 1000));
    }
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 30000, &st));
    mproc_proc_free(p);
    assert_true(st.exited);
    assert_true(st.code < WAKES / 4); /* 100 and over: a get failed */
    mproc_queue_free(q);
}

#define STREAM 100000

static int stream_producer(void *arg)
{
    for (uint32_t i = 0; i < STREAM; i++)
        if (mproc_queue_put(arg, &i, sizeof i, 10000) != 0)
            return 1;
    return 0;
}

/* A consumer behind a stream lags to read in batches; it still takes every message, in
 * order, and the queue ends empty. It sleeps now and then, so that the stream piles up and
 * the next wait comes after more than one message: that wait lags. */
static void lagging_stream_consumer_gets_every_message_in_order(void **state)
{
    (void)state;
    mproc_queue *q;
    mproc_queue_opts o = {.capacity_bytes = 64 * 1024};
    assert_ok(mproc_queue_new(&q, &o));
    mproc_proc *p;
    assert_ok(mproc_fork(&p, stream_producer, q, NULL));
    int lagged = 0;
    for (uint32_t i = 0; i < STREAM; i++) {
        uint32_t v;
        size_t len;
        assert_ok(mproc_queue_get(q, &v, sizeof v, &len, 10000));
        assert_int_equal(len, sizeof v);
        assert_int_equal(v, i);
        lagged += atomic_load(&q->lag) > 0;
        if (i % 10000 == 0)
            usleep(1000);
    }
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    assert_int_equal(mproc_exitcode(&st), 0);
    assert_true(lagged > 0);
    assert_int_equal(mproc_queue_size(q), 0);
    mproc_queue_free(q);
}

static int echo(void *arg)
{
    mproc_queue **qs = arg;
    for (int i = 0; i < WAKES; i++) {
        int v;
        size_t len;
        if (mproc_queue_get(qs[0], &v, sizeof v, &len, 5000) != 0)
            return 1;
        usleep(1000); /* so that each get of the other side has to wait */
        if (mproc_queue_put(qs[1], &v, sizeof v, 5000) != 0)
            return 1;
    }
    return 0;
}

/* Ping-pong: each wait ends with one message, so the consumer does not lag (its latency
 * is the point of a ping-pong). A get that finds its message without waiting (the other
 * side was quicker than we were, say under load) makes the next wait lag once; the echo
 * here waits a millisecond so that every get waits. */
static void one_message_per_wait_never_lags(void **state)
{
    (void)state;
    mproc_queue *qs[2];
    assert_ok(mproc_queue_new(&qs[0], NULL));
    assert_ok(mproc_queue_new(&qs[1], NULL));
    mproc_proc *p;
    assert_ok(mproc_fork(&p, echo, qs, NULL));
    for (int i = 0; i < WAKES; i++) {
        int v;
        size_t len;
        assert_ok(mproc_queue_put(qs[0], &i, sizeof i, 5000));
        assert_ok(mproc_queue_get(qs[1], &v, sizeof v, &len, 5000));
        assert_int_equal(v, i);
    }
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    mproc_proc_free(p);
    assert_int_equal(mproc_exitcode(&st), 0);
    assert_int_equal(atomic_load(&qs[1]->lag), 0);
    mproc_queue_free(qs[0]);
    mproc_queue_free(qs[1]);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(each_put_wakes_a_sleeping_getter),
        MPROC_CASE(lagging_stream_consumer_gets_every_message_in_order, 120),
        cmocka_unit_test(one_message_per_wait_never_lags),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
