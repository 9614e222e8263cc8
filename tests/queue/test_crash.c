/* The queue survives its users being killed: a process dies (SIGKILL) at each chosen point
 * inside put and get, through the test-only hook of src/queue/queue_test.h, and the others
 * go on; then a torture run kills producers and consumers at random during a stream of
 * numbered, checksummed messages and accounts for every message. */
#include "harness.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "queue/queue_test.h"

#define SMALL 48 /* 48 B messages use 64 B records: 64 of them fill a 4 KiB ring exactly */
#define BIG                                                                                        \
    432 /* over the size copied under a lock (claimed, copied, then committed); its                \
           448 B record keeps the ring in 64 B steps for assert_healthy */

static int fault_target;

static void die_at(int point)
{
    if (point == fault_target)
        raise(SIGKILL);
}

struct job {
    mproc_queue *q;
    int point;
    int get; /* 0: put, 1: get */
    size_t len;
};

static int faulty(void *arg)
{
    struct job *j = arg;
    fault_target = j->point;
    mproc__queue_fault_point = die_at;
    static unsigned char b[8000];
    memset(b, 0xEE, sizeof b);
    size_t len;
    if (j->get)
        (void)mproc_queue_get(j->q, b, sizeof b, &len, 5000);
    else
        (void)mproc_queue_put(j->q, b, j->len, 5000);
    return 1; /* not reached if the point was hit */
}

/* Runs op in a child that must die by SIGKILL at the point. */
static void die_in_child(mproc_queue *q, int point, int get, size_t len)
{
    struct job j = {q, point, get, len};
    mproc_proc *p;
    assert_ok(mproc_fork(&p, faulty, &j, NULL));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    assert_int_equal(st.signaled, 1);
    assert_int_equal(st.signal, SIGKILL);
    mproc_proc_free(p);
}

static mproc_queue *small_queue(void)
{
    mproc_queue_opts o = {.capacity_bytes = 4096, .max_msg_size = 1000};
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, &o));
    return q;
}

static void put_mark(mproc_queue *q, int mark, size_t len)
{
    unsigned char b[1000];
    memset(b, mark, len);
    assert_ok(mproc_queue_put(q, b, len, 0));
}

static void get_mark(mproc_queue *q, int mark, int timeout_ms)
{
    unsigned char b[1000];
    size_t len;
    assert_ok(mproc_queue_get(q, b, sizeof b, &len, timeout_ms));
    assert_true(len > 0);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(b[i], mark);
}

/* The whole ring is usable again: 64 small messages fit (waiting for the dead's space to
 * be found and reclaimed), come back intact, and the queue ends empty. */
static void assert_healthy(mproc_queue *q)
{
    unsigned char b[SMALL];
    size_t len;
    assert_code(mproc_queue_get(q, b, sizeof b, &len, 0), MPROC_EEMPTY);
    for (int i = 0; i < 64; i++) {
        memset(b, i, sizeof b);
        assert_ok(mproc_queue_put(q, b, sizeof b, 2000));
    }
    assert_code(mproc_queue_put(q, b, sizeof b, 0), MPROC_EFULL);
    for (int i = 0; i < 64; i++) {
        assert_ok(mproc_queue_get(q, b, sizeof b, &len, 0));
        assert_int_equal(len, SMALL);
        assert_int_equal(b[0], i);
        assert_int_equal(b[SMALL - 1], i);
    }
    assert_int_equal(mproc_queue_size(q), 0);
}

/* A producer dies before committing: its message is never delivered, the next one is. */
static void producer_dies_before_commit(int point, size_t len)
{
    mproc_queue *q = small_queue();
    put_mark(q, 1, SMALL);
    die_in_child(q, point, 0, len);
    put_mark(q, 2, SMALL);
    get_mark(q, 1, 0);
    get_mark(q, 2, 5000); /* waits until the dead producer's record is skipped */
    assert_healthy(q);
    mproc_queue_free(q);
}

static void put_dies_holding_lock(void **state)
{
    (void)state;
    producer_dies_before_commit(MPROC_QF_PUT_LOCKED, SMALL);
}

static void put_dies_before_publishing_its_claim(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    die_in_child(q, MPROC_QF_PUT_UNPUBLISHED, 0, SMALL);
    /* it had counted its claim: size does not count it, whoever comes next repairs it */
    assert_int_equal(mproc_queue_size(q), 0);
    put_mark(q, 11, SMALL); /* takes the dead holder's lock and takes its count back */
    assert_int_equal(mproc_queue_size(q), 1);
    get_mark(q, 11, 0);
    assert_healthy(q);
    mproc_queue_free(q);
}

/* A claim whose producer died before publishing it has a header at tail that looks like
 * any claimed record: a consumer must not skip past it (head would pass tail), only wait. */
static void get_does_not_skip_an_unpublished_claim(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    die_in_child(q, MPROC_QF_PUT_UNPUBLISHED, 0, BIG);
    unsigned char b[1000];
    size_t len;
    assert_code(mproc_queue_get(q, b, sizeof b, &len, 100), MPROC_ETIMEDOUT);
    put_mark(q, 13, SMALL);
    get_mark(q, 13, 0);
    assert_healthy(q);
    mproc_queue_free(q);
}

static void put_dies_after_claim(void **state)
{
    (void)state;
    producer_dies_before_commit(MPROC_QF_PUT_CLAIMED, BIG);
}

static void put_dies_mid_copy(void **state)
{
    (void)state;
    producer_dies_before_commit(MPROC_QF_PUT_MIDCOPY, BIG);
}

static void put_dies_before_commit(void **state)
{
    (void)state;
    producer_dies_before_commit(MPROC_QF_PUT_BEFORE_COMMIT, BIG);
}

static void put_dies_after_commit_message_delivered(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    die_in_child(q, MPROC_QF_PUT_AFTER_COMMIT, 0, SMALL);
    get_mark(q, 0xEE, 0);
    assert_healthy(q);
    mproc_queue_free(q);
}

/* A producer killed half way through a message that wraps around the end of the ring:
 * never delivered, the next message is, and a wrapping message fits there again. */
static void put_dies_mid_copy_of_a_wrapping_message(void **state)
{
    (void)state;
    mproc_queue_opts o = {.capacity_bytes = 16384, .max_msg_size = 8000};
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, &o));
    static unsigned char b[8000];
    size_t len;
    memset(b, 1, sizeof b);
    for (int i = 0; i < 2; i++) { /* records of 6000 and 7032 B: 3352 B left before the end */
        assert_ok(mproc_queue_put(q, b, i == 0 ? 6000 - 16 : 7032 - 16, 0));
        assert_ok(mproc_queue_get(q, b, sizeof b, &len, 0));
    }
    die_in_child(q, MPROC_QF_PUT_MIDCOPY, 0, 6000);
    memset(b, 2, 6000);
    assert_ok(mproc_queue_put(q, b, 6000, 0));
    memset(b, 0, sizeof b);
    assert_ok(mproc_queue_get(q, b, sizeof b, &len, 5000)); /* after skipping the dead's */
    assert_int_equal(len, 6000);
    for (size_t k = 0; k < len; k++)
        assert_int_equal(b[k], 2);
    assert_code(mproc_queue_get(q, b, sizeof b, &len, 0), MPROC_EEMPTY);
    mproc_queue_free(q);
}

static void put_dies_writing_wrap_filler(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    for (int i = 0; i < 3; i++) { /* move tail to 3136: a 1000 B message needs filler */
        put_mark(q, 3, 1000);
        get_mark(q, 3, 0);
    }
    put_mark(q, 4, SMALL);
    get_mark(q, 4, 0);
    die_in_child(q, MPROC_QF_PUT_PAD_LOCKED, 0, 1000);
    put_mark(q, 5, 1000);
    get_mark(q, 5, 0);
    assert_code(mproc_queue_get(q, NULL, 0, &(size_t){0}, 0), MPROC_EEMPTY);
    assert_int_equal(mproc_queue_size(q), 0);
    mproc_queue_free(q);
}

static void put_dies_reclaiming(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    for (int i = 0; i < 64; i++)
        put_mark(q, 6, SMALL);
    for (int i = 0; i < 64; i++)
        get_mark(q, 6, 0);
    die_in_child(q, MPROC_QF_RECLAIM_LOCKED, 0, SMALL);
    assert_healthy(q);
    mproc_queue_free(q);
}

/* A consumer dies holding a message: that message is lost, nothing else. */
static void consumer_dies_holding(int point, size_t len)
{
    mproc_queue *q = small_queue();
    put_mark(q, 1, len);
    put_mark(q, 2, len);
    die_in_child(q, point, 1, 0);
    get_mark(q, 2, 0);
    assert_healthy(q);
    mproc_queue_free(q);
}

static void get_dies_holding_lock(void **state)
{
    (void)state;
    consumer_dies_holding(MPROC_QF_GET_LOCKED, BIG);
}

static void get_dies_after_take(void **state)
{
    (void)state;
    consumer_dies_holding(MPROC_QF_GET_TAKEN, BIG);
}

static void get_dies_mid_copy(void **state)
{
    (void)state;
    consumer_dies_holding(MPROC_QF_GET_MIDCOPY, BIG);
}

static void get_dies_before_release(void **state)
{
    (void)state;
    consumer_dies_holding(MPROC_QF_GET_BEFORE_DONE, BIG);
}

static void get_dies_after_release(void **state)
{
    (void)state;
    consumer_dies_holding(MPROC_QF_GET_AFTER_DONE, BIG);
}

/* A small message is copied out under the consumers' lock: a consumer killed in the middle
 * of that copy has not taken it, and the next consumer gets it. */
static void get_dies_copying_small_message_under_lock(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    put_mark(q, 1, SMALL);
    put_mark(q, 2, SMALL);
    die_in_child(q, MPROC_QF_GET_INLOCK_MIDCOPY, 1, 0);
    get_mark(q, 1, 5000); /* takes over the dead holder's lock */
    get_mark(q, 2, 0);
    assert_healthy(q);
    mproc_queue_free(q);
}

/* Killed after it moved head past a small message, still holding the lock: that message
 * is lost, the lock passes on, the space comes back. */
static void get_dies_holding_lock_after_small_message(void **state)
{
    (void)state;
    consumer_dies_holding(MPROC_QF_GET_INLOCK_TAKEN, SMALL);
}

/* Killed between moving head and moving the consumers' done mark: the mark lags behind
 * head for good, so producers must find the space by reading the records again. */
static void get_dies_before_moving_the_done_mark(void **state)
{
    (void)state;
    consumer_dies_holding(MPROC_QF_GET_HEAD_MOVED, SMALL);
}

/* A small message is copied in under the producers' lock before anything is claimed: a
 * producer killed mid-copy leaves nothing to skip, and the next put goes where it was. */
static void put_dies_copying_small_message_under_lock(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    put_mark(q, 1, SMALL);
    die_in_child(q, MPROC_QF_PUT_INLOCK_MIDCOPY, 0, SMALL);
    assert_int_equal(mproc_queue_size(q), 1);
    put_mark(q, 2, SMALL);
    get_mark(q, 1, 0);
    get_mark(q, 2, 0);
    assert_healthy(q);
    mproc_queue_free(q);
}

static void get_dies_skipping_dead_record(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    die_in_child(q, MPROC_QF_PUT_CLAIMED, 0, BIG); /* leaves a dead CLAIMED record */
    die_in_child(q, MPROC_QF_SKIP_LOCKED, 1, 0);   /* dies while skipping it */
    put_mark(q, 7, SMALL);
    get_mark(q, 7, 5000);
    assert_healthy(q);
    mproc_queue_free(q);
}

static int get_one_mark8(void *arg)
{
    unsigned char b[SMALL];
    size_t len;
    int r = mproc_queue_get(arg, b, sizeof b, &len, 10000);
    return r == 0 && len == SMALL && b[0] == 8 ? 0 : 1;
}

static void blocked_getter_survives_dead_producer(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    mproc_proc *getter;
    assert_ok(mproc_fork(&getter, get_one_mark8, q, NULL));
    usleep(50000);
    die_in_child(q, MPROC_QF_PUT_MIDCOPY, 0, BIG);
    put_mark(q, 8, SMALL);
    mproc_status st;
    assert_ok(mproc_proc_wait(getter, 10000, &st));
    assert_int_equal(mproc_exitcode(&st), 0);
    mproc_proc_free(getter);
    assert_healthy(q);
    mproc_queue_free(q);
}

static int stop_target;

static void stop_at(int point)
{
    if (point == stop_target)
        raise(SIGSTOP);
}

static int put_stopping(void *arg)
{
    stop_target = MPROC_QF_PUT_LOCKED;
    mproc__queue_fault_point = stop_at;
    unsigned char b[SMALL];
    memset(b, 9, sizeof b);
    return mproc_queue_put(arg, b, sizeof b, 5000) == 0 ? 0 : 1;
}

static int proc_state_is(int pid, char want)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == want;
}

static void wait_state(mproc_proc *p, char want)
{
    for (int i = 0; i < 5000 && !proc_state_is(mproc_proc_pid(p), want); i++)
        usleep(1000);
    assert_true(proc_state_is(mproc_proc_pid(p), want));
}

static void stopped_lock_holder_costs_a_timeout_not_a_hang(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    mproc_proc *p;
    assert_ok(mproc_fork(&p, put_stopping, q, NULL));
    wait_state(p, 'T'); /* stopped inside put, holding the producers' lock */
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_queue_put(q, "x", 1, 200), MPROC_ETIMEDOUT);
    assert_true(mproc_test_now_ms() - t0 < 3000);
    assert_ok(mproc_proc_continue(p));
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 10000, &st));
    assert_int_equal(mproc_exitcode(&st), 0);
    mproc_proc_free(p);
    get_mark(q, 9, 0);
    assert_healthy(q);
    mproc_queue_free(q);
}

static int claim_and_die(void *arg)
{
    fault_target = MPROC_QF_PUT_MIDCOPY;
    mproc__queue_fault_point = die_at;
    unsigned char b[BIG] = {0};
    (void)mproc_queue_put(arg, b, sizeof b, 0);
    return 1;
}

static void zombie_owner_counts_as_dead(void **state)
{
    (void)state;
    mproc_queue *q = small_queue();
    mproc_proc *p;
    assert_ok(mproc_fork(&p, claim_and_die, q, NULL));
    wait_state(p, 'Z'); /* dead, not reaped: its pid still exists */
    put_mark(q, 10, SMALL);
    get_mark(q, 10, 5000);
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 0, &st));
    assert_int_equal(st.signal, SIGKILL);
    mproc_proc_free(p);
    assert_healthy(q);
    mproc_queue_free(q);
}

static void join_not_held_by_killed_producer(void **state)
{
    (void)state;
    mproc_queue_opts o = {
        .capacity_bytes = 4096, .max_msg_size = 1000, .flags = MPROC_QUEUE_JOINABLE};
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, &o));
    die_in_child(q, MPROC_QF_PUT_MIDCOPY, 0, BIG); /* its message will never come */
    put_mark(q, 12, SMALL);
    get_mark(q, 12, 5000); /* skips the dead producer's record */
    assert_ok(mproc_queue_task_done(q));
    assert_ok(mproc_queue_join(q, 5000));
    mproc_queue_free(q);
}

/* ---- torture ------------------------------------------------------------------------ */

#define T_STREAMS 512
#define T_PER     3000
#define T_PROD    3
#define T_CONS    3
#define T_RUN_MS  12000
#define T_MAXLEN  1500

struct tshared {
    _Atomic int stop;
    _Atomic uint32_t acked[T_STREAMS]; /* puts of this stream that returned 0 */
    _Atomic uint32_t corrupt, disorder;
    _Atomic unsigned char seen[T_STREAMS][T_PER];
};

struct targ {
    mproc_queue *q;
    struct tshared *s;
    uint32_t stream;
};

static uint32_t fnv(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* message: stream, seq, len, checksum of the payload, then the payload */
static size_t make_msg(unsigned char *b, uint32_t stream, uint32_t seq)
{
    uint32_t x = stream * 2654435761u ^ seq * 40503u;
    size_t n = 16 + (x % (T_MAXLEN - 16));
    for (size_t i = 16; i < n; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (unsigned char)(x >> 16);
    }
    uint32_t hdr[4] = {stream, seq, (uint32_t)n, fnv(b + 16, n - 16)};
    memcpy(b, hdr, 16);
    return n;
}

static void t_arm(struct tshared *s);

static int t_producer(void *arg)
{
    struct targ *a = arg;
    unsigned char b[T_MAXLEN];
    t_arm(a->s);
    for (uint32_t seq = 0; seq < T_PER && !atomic_load(&a->s->stop); seq++) {
        size_t n = make_msg(b, a->stream, seq);
        int r;
        while ((r = mproc_queue_put(a->q, b, n, 100)) == MPROC_ETIMEDOUT)
            if (atomic_load(&a->s->stop))
                return 0;
        if (r != 0)
            return 2;
        atomic_store(&a->s->acked[a->stream], seq + 1);
    }
    return 0;
}

/* Checks and counts one received message; last[] is this consumer's view of each stream. */
static void t_record(struct tshared *s, const unsigned char *b, size_t len, int64_t *last)
{
    uint32_t hdr[4];
    memcpy(hdr, b, 16);
    if (len < 16 || hdr[0] >= T_STREAMS || hdr[1] >= T_PER || hdr[2] != len ||
        hdr[3] != fnv(b + 16, len - 16)) {
        atomic_fetch_add(&s->corrupt, 1);
        return;
    }
    if ((int64_t)hdr[1] <= last[hdr[0]])
        atomic_fetch_add(&s->disorder, 1);
    last[hdr[0]] = hdr[1];
    atomic_fetch_add(&s->seen[hdr[0]][hdr[1]], 1);
}

/* In children: besides the parent's random SIGKILLs, die now and then at a random fault
 * point inside put or get, where random kills rarely land. */
static struct tshared *t_shared;
static unsigned t_seed;

static void t_maybe_die(int point)
{
    (void)point;
    if (!atomic_load(&t_shared->stop) && rand_r(&t_seed) % 20000 == 0)
        raise(SIGKILL);
}

static void t_arm(struct tshared *s)
{
    t_shared = s;
    t_seed = (unsigned)getpid();
    mproc__queue_fault_point = t_maybe_die;
}

static int t_consumer(void *arg)
{
    struct targ *a = arg;
    unsigned char b[T_MAXLEN];
    static int64_t last[T_STREAMS];
    for (int i = 0; i < T_STREAMS; i++)
        last[i] = -1;
    t_arm(a->s);
    for (;;) {
        size_t len;
        int r = mproc_queue_get(a->q, b, sizeof b, &len, 100);
        if (r == MPROC_ECLOSED)
            return 0;
        if (r == MPROC_ETIMEDOUT)
            continue;
        if (r != 0)
            return 2;
        t_record(a->s, b, len, last);
    }
}

struct tproc {
    mproc_proc *p;
    struct targ arg;
    int producer;
};

static void t_start(struct tproc *t, mproc_queue *q, struct tshared *s, int producer,
                    uint32_t stream)
{
    t->arg = (struct targ){q, s, stream};
    t->producer = producer;
    assert_ok(mproc_fork(&t->p, producer ? t_producer : t_consumer, &t->arg, NULL));
}

struct ttally {
    int killed_prod, killed_cons, finished_prod;
    uint32_t next_stream;
    uint8_t killed_stream[T_STREAMS];
};

/* Collects a process that exited or was killed, and counts it. */
static void t_reap(struct tproc *v, struct ttally *t)
{
    mproc_status st;
    assert_ok(mproc_proc_wait(v->p, 20000, &st));
    if (st.signaled && v->producer) {
        t->killed_prod++;
        t->killed_stream[v->arg.stream] = 1;
    } else if (st.signaled) {
        t->killed_cons++;
    } else {
        assert_int_equal(mproc_exitcode(&st), 0);
        t->finished_prod += v->producer;
    }
    mproc_proc_free(v->p);
}

/* Kills one random process (or finds it finished or dead) and starts its replacement. */
static void t_strike(struct tproc *procs, int n, mproc_queue *q, struct tshared *s,
                     struct ttally *t)
{
    struct tproc *v = &procs[rand() % n];
    (void)mproc_proc_signal(v->p, SIGKILL);
    t_reap(v, t);
    uint32_t stream = v->producer ? t->next_stream++ : 0;
    assert_true(stream < T_STREAMS);
    t_start(v, q, s, v->producer, stream);
}

static void t_verify(const struct tshared *s, const struct ttally *t)
{
    assert_int_equal(atomic_load(&s->corrupt), 0);
    assert_int_equal(atomic_load(&s->disorder), 0);
    long lost = 0, delivered = 0;
    for (uint32_t st = 0; st < t->next_stream; st++) {
        uint32_t acked = atomic_load(&s->acked[st]);
        for (uint32_t seq = 0; seq < T_PER; seq++) {
            unsigned char c = atomic_load(&s->seen[st][seq]);
            assert_true(c <= 1); /* never duplicated */
            delivered += c;
            if (seq < acked && c == 0)
                lost++; /* acknowledged but missing: only a killed consumer may explain it */
            if (seq == acked && c == 1)
                assert_true(t->killed_stream[st]); /* in flight when its producer died */
            if (seq > acked)
                assert_int_equal(c, 0);
        }
    }
    assert_true(lost <= t->killed_cons);
    assert_true(delivered > 1000);
    print_message("torture: %ld delivered, %d producers and %d consumers killed, %ld lost to "
                  "killed consumers, %u streams\n",
                  delivered, t->killed_prod, t->killed_cons, lost, t->next_stream);
}

static void torture_random_kills(void **state)
{
    (void)state;
    struct tshared *s =
        mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(s != MAP_FAILED);
    mproc_queue_opts o = {.capacity_bytes = 32768, .max_msg_size = T_MAXLEN};
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, &o));
    struct tproc procs[T_PROD + T_CONS];
    struct ttally t = {0};
    for (int i = 0; i < T_PROD + T_CONS; i++)
        t_start(&procs[i], q, s, i < T_PROD, i < T_PROD ? t.next_stream++ : 0);
    srand((unsigned)getpid());
    int64_t end = mproc_test_now_ms() + T_RUN_MS;
    while (mproc_test_now_ms() < end && t.next_stream < T_STREAMS - 1) {
        usleep((useconds_t)(2000 + rand() % 30000));
        t_strike(procs, T_PROD + T_CONS, q, s, &t);
    }
    atomic_store(&s->stop, 1);
    /* Producers finish (or had died by their own fault point); then consumers drain. */
    for (int i = 0; i < T_PROD + T_CONS; i++) {
        if (i == T_PROD)
            assert_ok(mproc_queue_close(q));
        t_reap(&procs[i], &t);
    }
    /* whatever consumers that died on their own left behind */
    unsigned char b[T_MAXLEN];
    int64_t last[T_STREAMS];
    for (int i = 0; i < T_STREAMS; i++)
        last[i] = -1;
    size_t len;
    int r;
    while ((r = mproc_queue_get(q, b, sizeof b, &len, 2000)) == 0)
        t_record(s, b, len, last);
    assert_code(r, MPROC_ECLOSED);
    t_verify(s, &t);
    assert_int_equal(mproc_queue_size(q), 0);
    mproc_queue_free(q);
    munmap(s, sizeof *s);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(put_dies_holding_lock),
        cmocka_unit_test(put_dies_before_publishing_its_claim),
        cmocka_unit_test(get_does_not_skip_an_unpublished_claim),
        cmocka_unit_test(put_dies_after_claim),
        cmocka_unit_test(put_dies_mid_copy),
        cmocka_unit_test(put_dies_before_commit),
        cmocka_unit_test(put_dies_after_commit_message_delivered),
        cmocka_unit_test(put_dies_writing_wrap_filler),
        cmocka_unit_test(put_dies_mid_copy_of_a_wrapping_message),
        cmocka_unit_test(put_dies_reclaiming),
        cmocka_unit_test(get_dies_holding_lock),
        cmocka_unit_test(get_dies_after_take),
        cmocka_unit_test(get_dies_mid_copy),
        cmocka_unit_test(get_dies_before_release),
        cmocka_unit_test(get_dies_after_release),
        cmocka_unit_test(get_dies_copying_small_message_under_lock),
        cmocka_unit_test(get_dies_holding_lock_after_small_message),
        cmocka_unit_test(get_dies_before_moving_the_done_mark),
        cmocka_unit_test(put_dies_copying_small_message_under_lock),
        cmocka_unit_test(get_dies_skipping_dead_record),
        cmocka_unit_test(blocked_getter_survives_dead_producer),
        cmocka_unit_test(stopped_lock_holder_costs_a_timeout_not_a_hang),
        cmocka_unit_test(zombie_owner_counts_as_dead),
        cmocka_unit_test(join_not_held_by_killed_producer),
        MPROC_CASE(torture_random_kills, 120),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
