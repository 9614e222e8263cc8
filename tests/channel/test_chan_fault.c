/* Channel faults: the peer closing, exiting or being killed mid-send, SIGPIPE, hostile
 * and truncated frames, corrupt indices, EINTR storms, and a spawned child that finds
 * its end through MPROC_CHANNEL_FD (this binary re-executes itself as that child). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "channel/chan_int.h"

#define CHILD_ENV "MPROC_CHAN_TEST_CHILD"

extern char **environ;

static mproc_proc *fork_fn(int (*fn)(void *), void *arg)
{
    mproc_proc *p = NULL;
    assert_int_equal(mproc_fork(&p, fn, arg, NULL), 0);
    return p;
}

static mproc_status join(mproc_proc *p)
{
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 20000, &st));
    mproc_proc_free(p);
    return st;
}

/* Writes a hand-made frame into the ring toward the peer. */
static void raw_frame(mproc_chan *c, unsigned type, uint64_t len, const void *payload, size_t n)
{
    unsigned char buf[4096];
    mproc__chan_encode(buf, type, len);
    assert_true(n + MPROC__FR_HDR <= sizeof buf);
    if (n)
        memcpy(buf + MPROC__FR_HDR, payload, n);
    size_t size = MPROC__FR_HDR + ((n + 7u) & ~(size_t)7u);
    memset(buf + MPROC__FR_HDR + n, 0, size - MPROC__FR_HDR - n);
    assert_ok(mproc__chan_test_raw(c, buf, size));
}

static void peer_freed_gives_closed_both_ways(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    assert_ok(mproc_chan_send(b, "one", 3, 0));
    assert_ok(mproc_chan_send(b, "two", 3, 0));
    mproc_chan_free(b);
    char out[8];
    size_t len;
    assert_ok(mproc_chan_recv_into(a, out, sizeof out, &len, 0));
    assert_ok(mproc_chan_recv_into(a, out, sizeof out, &len, -1));
    assert_memory_equal(out, "two", 3);
    assert_code(mproc_chan_recv_into(a, out, sizeof out, &len, -1), MPROC_ECLOSED);
    assert_code(mproc_chan_recv_into(a, out, sizeof out, &len, 0), MPROC_ECLOSED);
    assert_code(mproc_chan_send(a, "x", 1, -1), MPROC_ECLOSED);
    int fd;
    assert_code(mproc_chan_recv_fd(a, &fd, -1), MPROC_ECLOSED);
    assert_code(mproc_chan_send_fd(a, 0, -1), MPROC_ECLOSED);
    mproc_chan_free(a);
}

static int just_exit(void *arg)
{
    (void)arg;
    return 0;
}

static void peer_exit_gives_closed_without_hang(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    mproc_proc *p = fork_fn(just_exit, NULL);
    mproc_chan_free(b);
    void *buf;
    size_t len;
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_chan_recv(a, &buf, &len, -1), MPROC_ECLOSED);
    assert_true(mproc_test_now_ms() - t0 < 10000);
    assert_code(mproc_chan_send(a, "x", 1, -1), MPROC_ECLOSED);
    join(p);
    mproc_chan_free(a);
}

typedef struct big_job {
    mproc_chan *end, *other;
    size_t size;
} big_job;

static int send_forever(void *arg)
{
    big_job *j = arg;
    mproc_chan_free(j->other);
    unsigned char *p = calloc(1, j->size);
    if (!p)
        return 10;
    mproc_chan_send(j->end, p, j->size, -1); /* blocks: nobody reads */
    return 11;
}

static void sender_killed_mid_message_gives_closed(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    big_job j = {.end = b, .other = a, .size = (size_t)256 << 20};
    mproc_proc *p = fork_fn(send_forever, &j);
    mproc_chan_free(b);
    /* Wait until the ring holds part of the message, then kill the sender. */
    struct pollfd pf = {.fd = mproc_chan_fd(a), .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 10000), 1);
    usleep(100000);
    assert_ok(mproc_proc_signal(p, SIGKILL));
    mproc_status st = join(p);
    assert_int_equal(st.signal, SIGKILL);
    void *buf;
    size_t len;
    assert_code(mproc_chan_recv(a, &buf, &len, 10000), MPROC_ECLOSED);
    assert_code(mproc_chan_recv(a, &buf, &len, 0), MPROC_ECLOSED);
    mproc_chan_free(a);
}

static void sender_times_out_then_peer_sees_message_whole(void **state)
{
    (void)state;
    /* recv times out in the middle of a streamed message, keeps what arrived and
     * completes it on the next call. */
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    unsigned char part[1000];
    memset(part, 'q', sizeof part);
    raw_frame(b, MPROC__FR_BEGIN, 3000, NULL, 0);
    raw_frame(b, MPROC__FR_CHUNK, 1000, part, 1000);
    unsigned char out[4000];
    size_t len;
    assert_code(mproc_chan_recv_into(a, out, sizeof out, &len, 20), MPROC_ETIMEDOUT);
    assert_code(mproc_chan_recv_into(a, out, 100, &len, 0), MPROC_EMSGSIZE);
    assert_int_equal(len, 3000);
    raw_frame(b, MPROC__FR_CHUNK, 1000, part, 1000);
    void *buf;
    assert_code(mproc_chan_recv(a, &buf, &len, 0), MPROC_ETIMEDOUT);
    memset(part, 'r', sizeof part);
    raw_frame(b, MPROC__FR_CHUNK, 1000, part, 1000);
    assert_ok(mproc_chan_recv_into(a, out, sizeof out, &len, 0));
    assert_int_equal(len, 3000);
    assert_int_equal(out[0], 'q');
    assert_int_equal(out[1999], 'q');
    assert_int_equal(out[2000], 'r');
    assert_int_equal(out[2999], 'r');
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void abort_frame_drops_partial_message(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    unsigned char part[1000] = {0};
    raw_frame(b, MPROC__FR_BEGIN, 3000, NULL, 0);
    raw_frame(b, MPROC__FR_CHUNK, 1000, part, 1000);
    raw_frame(b, MPROC__FR_ABORT, 0, NULL, 0);
    assert_ok(mproc_chan_send(b, "next", 4, 0));
    void *buf;
    size_t len;
    assert_ok(mproc_chan_recv(a, &buf, &len, 0));
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "next", 4);
    free(buf);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static int read_nothing(void *arg)
{
    big_job *j = arg;
    mproc_chan_free(j->other);
    for (;;)
        pause();
    return 0;
}

static int kill_later(void *arg)
{
    usleep(200000);
    return kill(*(pid_t *)arg, SIGKILL) == 0 ? 0 : 12;
}

static void reader_killed_while_sender_blocked(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    big_job j = {.end = b, .other = a};
    mproc_proc *reader = fork_fn(read_nothing, &j);
    mproc_chan_free(b);
    pid_t pid = mproc_proc_pid(reader);
    mproc_proc *killer = fork_fn(kill_later, &pid);
    size_t n = (size_t)64 << 20;
    unsigned char *p = calloc(1, n);
    assert_non_null(p);
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_chan_send(a, p, n, -1), MPROC_ECLOSED);
    assert_true(mproc_test_now_ms() - t0 < 10000);
    free(p);
    assert_int_equal(join(killer).code, 0);
    join(reader);
    mproc_chan_free(a);
}

static void no_sigpipe_on_closed_peer(void **state)
{
    (void)state;
    struct sigaction old, dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGPIPE, &dfl, &old);
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    mproc_chan_free(b);
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    assert_code(mproc_chan_send_fd(a, pfd[0], 0), MPROC_ECLOSED);
    assert_code(mproc_chan_send(a, "x", 1, 0), MPROC_ECLOSED);
    assert_code(mproc_chan_send_fd(a, pfd[0], -1), MPROC_ECLOSED);
    close(pfd[0]);
    close(pfd[1]);
    mproc_chan_free(a);
    sigaction(SIGPIPE, &old, NULL);
}

static void hostile_garbage_gives_eproto(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    unsigned char junk[64];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 97 + 13);
    assert_ok(mproc__chan_test_raw(b, junk, sizeof junk));
    void *buf;
    size_t len;
    assert_code(mproc_chan_recv(a, &buf, &len, 0), MPROC_EPROTO);
    /* Broken for good: the stream position cannot be trusted any more. */
    assert_ok(mproc_chan_send(b, "fine", 4, 0));
    assert_code(mproc_chan_recv(a, &buf, &len, -1), MPROC_EPROTO);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void hostile_wrong_length_gives_eproto(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    unsigned char hdr[MPROC__FR_HDR + 8] = {0};
    mproc__chan_encode(hdr, MPROC__FR_MSG, 8);
    hdr[8] = 200; /* the length no longer matches its check */
    assert_ok(mproc__chan_test_raw(b, hdr, sizeof hdr));
    void *buf;
    size_t len;
    assert_code(mproc_chan_recv(a, &buf, &len, 0), MPROC_EPROTO);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void hostile_huge_lengths_give_eproto(void **state)
{
    (void)state;
    uint64_t lens[] = {(uint64_t)1 << 62, UINT64_MAX, MPROC_CHAN_MSG_DEFAULT + 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (unsigned type = MPROC__FR_MSG; type <= MPROC__FR_BEGIN; type++) {
            mproc_chan *a, *b;
            assert_ok(mproc_chan_pair(&a, &b));
            raw_frame(b, type, lens[i], NULL, 0);
            void *buf;
            size_t len;
            assert_code(mproc_chan_recv(a, &buf, &len, 0), MPROC_EPROTO);
            mproc_chan_free(a);
            mproc_chan_free(b);
        }
    }
    /* A single frame longer than a quarter of the ring could never be published whole. */
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    raw_frame(b, MPROC__FR_MSG, MPROC_CHAN_RING_DEFAULT / 2, NULL, 0);
    void *buf;
    size_t len;
    assert_code(mproc_chan_recv(a, &buf, &len, 0), MPROC_EPROTO);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void hostile_big_claim_allocates_little(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    unsigned char part[1000] = {0};
    uint64_t claim = MPROC_CHAN_MSG_DEFAULT; /* allowed, but never sent */
    raw_frame(b, MPROC__FR_BEGIN, claim, NULL, 0);
    raw_frame(b, MPROC__FR_CHUNK, sizeof part, part, sizeof part);
    void *buf;
    size_t len;
    assert_code(mproc_chan_recv(a, &buf, &len, 20), MPROC_ETIMEDOUT);
    assert_true(a->part_cap <= ((size_t)1 << 20));
    assert_code(mproc_chan_recv_into(a, part, sizeof part, &len, 0), MPROC_EMSGSIZE);
    assert_int_equal(len, claim);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void hostile_frames_out_of_place_give_eproto(void **state)
{
    (void)state;
    unsigned char part[64] = {0};
    for (int k = 0; k < 4; k++) {
        mproc_chan *a, *b;
        assert_ok(mproc_chan_pair(&a, &b));
        if (k == 0) /* a chunk outside a message */
            raw_frame(b, MPROC__FR_CHUNK, 64, part, 64);
        if (k == 1) /* an abort outside a message */
            raw_frame(b, MPROC__FR_ABORT, 0, NULL, 0);
        if (k == 2) { /* a chunk longer than what remains */
            raw_frame(b, MPROC__FR_BEGIN, 32, NULL, 0);
            raw_frame(b, MPROC__FR_CHUNK, 64, part, 64);
        }
        if (k == 3) { /* a message inside a message */
            raw_frame(b, MPROC__FR_BEGIN, 32, NULL, 0);
            raw_frame(b, MPROC__FR_MSG, 8, part, 8);
        }
        void *buf;
        size_t len;
        assert_code(mproc_chan_recv(a, &buf, &len, 0), MPROC_EPROTO);
        mproc_chan_free(a);
        mproc_chan_free(b);
    }
}

/* The copy of a small frame next to tail is only a hint: a peer that writes garbage there
 * (or a header that does not decode) cannot make the reader take anything but the frame
 * in the ring. */
static void hostile_mirror_is_ignored(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    assert_ok(mproc_chan_send(b, "ring", 4, 0));
    for (size_t i = 0; i < sizeof b->rout->mword / sizeof b->rout->mword[0]; i++)
        atomic_store(&b->rout->mword[i], 0xdeadbeefdeadbeefull);
    char out[8];
    size_t len;
    assert_ok(mproc_chan_recv_into(a, out, sizeof out, &len, 0));
    assert_int_equal(len, 4);
    assert_memory_equal(out, "ring", 4);
    assert_code(mproc_chan_recv_into(a, out, sizeof out, &len, 0), MPROC_ETIMEDOUT);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void hostile_index_gives_eproto(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    mproc__chan_test_tail(b, (uint64_t)1 << 40);
    void *buf;
    size_t len;
    assert_code(mproc_chan_recv(a, &buf, &len, 0), MPROC_EPROTO);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void truncated_frame_then_close_gives_eproto(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    unsigned char buf[MPROC__FR_HDR + 50] = {0};
    mproc__chan_encode(buf, MPROC__FR_MSG, 100); /* claims 100, carries 50 */
    assert_ok(mproc__chan_test_raw(b, buf, sizeof buf));
    void *out;
    size_t len;
    assert_code(mproc_chan_recv(a, &out, &len, 20), MPROC_ETIMEDOUT);
    mproc_chan_free(b);
    assert_code(mproc_chan_recv(a, &out, &len, -1), MPROC_EPROTO);
    mproc_chan_free(a);
}

static void hostile_fd_records_give_eproto(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    int fd;
    /* A record without a descriptor. */
    assert_int_equal(send(b->sock, "F", 1, MSG_NOSIGNAL), 1);
    assert_code(mproc_chan_recv_fd(a, &fd, 0), MPROC_EPROTO);
    /* A record with two: both are closed (the harness checks no descriptor leaked). */
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    assert_ok(mproc__chan_sendfds(b->sock, "F", 1, pfd, 2));
    assert_code(mproc_chan_recv_fd(a, &fd, 0), MPROC_EPROTO);
    close(pfd[0]);
    close(pfd[1]);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static int send_later(void *arg)
{
    big_job *j = arg;
    mproc_chan_free(j->other);
    usleep(300000);
    unsigned char *p = calloc(1, j->size);
    if (!p)
        return 10;
    int r = mproc_chan_send(j->end, p, j->size, 10000);
    free(p);
    return r == 0 ? 0 : 13;
}

static void eintr_storm_during_blocking_recv(void **state)
{
    (void)state;
    struct sigaction sa = {.sa_handler = on_alarm}, old; /* no SA_RESTART */
    sigaction(SIGALRM, &sa, &old);
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    big_job j = {.end = b, .other = a, .size = (size_t)4 << 20};
    mproc_proc *p = fork_fn(send_later, &j);
    mproc_chan_free(b);
    struct itimerval it = {.it_interval = {0, 100}, .it_value = {0, 100}}, off = {{0, 0}, {0, 0}};
    alarms = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    void *buf;
    size_t len;
    int64_t t0 = mproc_test_now_ms();
    assert_code(mproc_chan_recv(a, &buf, &len, 150), MPROC_ETIMEDOUT);
    int64_t dt = mproc_test_now_ms() - t0;
    int r = mproc_chan_recv(a, &buf, &len, -1);
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    assert_ok(r);
    assert_int_equal(len, j.size);
    free(buf);
    assert_true(dt >= 145 && dt < 3000);
    assert_true(alarms > 10);
    assert_int_equal(join(p).code, 0);
    mproc_chan_free(a);
}

static int read_later(void *arg)
{
    big_job *j = arg;
    mproc_chan_free(j->other);
    usleep(300000);
    void *buf;
    size_t len;
    int r = mproc_chan_recv(j->end, &buf, &len, 10000);
    if (r == 0)
        free(buf);
    return r == 0 && len == j->size ? 0 : 14;
}

static void eintr_storm_during_blocking_send(void **state)
{
    (void)state;
    struct sigaction sa = {.sa_handler = on_alarm}, old; /* no SA_RESTART */
    sigaction(SIGALRM, &sa, &old);
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    big_job j = {.end = b, .other = a, .size = (size_t)8 << 20}; /* 8 rings' worth */
    mproc_proc *p = fork_fn(read_later, &j);
    mproc_chan_free(b);
    unsigned char *msg = calloc(1, j.size);
    assert_non_null(msg);
    struct itimerval it = {.it_interval = {0, 100}, .it_value = {0, 100}}, off = {{0, 0}, {0, 0}};
    alarms = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    int r = mproc_chan_send(a, msg, j.size, -1); /* blocks until the child reads */
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    free(msg);
    assert_ok(r);
    assert_true(alarms > 10);
    assert_int_equal(join(p).code, 0);
    mproc_chan_free(a);
}

/* ---- a spawned child finding its end through the environment ---- */

static int child_echo(void)
{
    mproc_chan *c;
    int r = mproc_chan_from_env(&c);
    if (r != 0) {
        fprintf(stderr, "child: from_env: %s\n", mproc_strerror(r));
        return 40;
    }
    int fd;
    if (mproc_chan_recv_fd(c, &fd, 10000) != 0 || write(fd, "spawned", 7) != 7)
        return 41;
    close(fd);
    for (;;) {
        void *buf;
        size_t len;
        r = mproc_chan_recv(c, &buf, &len, 10000);
        if (r == MPROC_ECLOSED)
            break;
        if (r != 0)
            return 42;
        r = mproc_chan_send(c, buf, len, 10000);
        free(buf);
        if (r != 0)
            return 43;
    }
    mproc_chan_free(c);
    return 0;
}

static char **env_with(const char *extra1, const char *extra2)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof *env);
    assert_non_null(env);
    memcpy(env, environ, n * sizeof *env);
    env[n] = (char *)(uintptr_t)extra1;
    env[n + 1] = (char *)(uintptr_t)extra2;
    return env;
}

static void spawned_child_finds_end_through_env(void **state)
{
    (void)state;
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    int fd = mproc_chan_child_fd(b);
    char var[64], self[4096];
    snprintf(var, sizeof var, "%s=%d", MPROC_CHAN_ENV, fd);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    char **env = env_with(var, CHILD_ENV "=echo");
    const char *argv[] = {self, NULL};
    mproc_opts o = {.env = (const char *const *)env, .pass_fds = &fd, .pass_fds_count = 1};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &o));
    free(env);
    mproc_chan_free(b);
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    assert_ok(mproc_chan_send_fd(a, pfd[1], 5000));
    close(pfd[1]);
    char got[16] = {0};
    assert_int_equal(read(pfd[0], got, sizeof got), 7);
    assert_memory_equal(got, "spawned", 7);
    close(pfd[0]);
    for (size_t i = 0; i < 200; i++) {
        char msg[32], out[32];
        int m = snprintf(msg, sizeof msg, "message %zu", i);
        size_t len;
        assert_ok(mproc_chan_send(a, msg, (size_t)m, 5000));
        assert_ok(mproc_chan_recv_into(a, out, sizeof out, &len, 5000));
        assert_int_equal(len, m);
        assert_memory_equal(out, msg, len);
    }
    mproc_chan_free(a);
    mproc_status st = join(p);
    assert_int_equal(st.exited, 1);
    assert_int_equal(st.code, 0);
}

static void from_env_errors(void **state)
{
    (void)state;
    mproc_chan *c = NULL;
    char *saved = getenv(MPROC_CHAN_ENV);
    assert_null(saved);
    assert_code(mproc_chan_from_env(&c), MPROC_ENOENT);
    setenv(MPROC_CHAN_ENV, "12x", 1);
    assert_code(mproc_chan_from_env(&c), MPROC_EINVAL);
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    char num[16];
    snprintf(num, sizeof num, "%d", pfd[0]);
    setenv(MPROC_CHAN_ENV, num, 1);
    assert_code(mproc_chan_from_env(&c), MPROC_EBADF);
    close(pfd[0]);
    close(pfd[1]);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    snprintf(num, sizeof num, "%d", sv[0]);
    setenv(MPROC_CHAN_ENV, num, 1);
    assert_code(mproc_chan_from_env(&c), MPROC_EPROTO); /* no setup record */
    assert_int_equal(send(sv[1], "garbage", 7, MSG_NOSIGNAL), 7);
    assert_code(mproc_chan_from_env(&c), MPROC_EPROTO);
    close(sv[0]);
    close(sv[1]);
    /* Some other kind of socket: refused, and its data left alone. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(send(sv[1], "data", 4, MSG_NOSIGNAL), 4);
    snprintf(num, sizeof num, "%d", sv[0]);
    setenv(MPROC_CHAN_ENV, num, 1);
    assert_code(mproc_chan_from_env(&c), MPROC_EPROTO);
    char got[8];
    assert_int_equal(recv(sv[0], got, sizeof got, MSG_DONTWAIT), 4);
    close(sv[0]);
    close(sv[1]);
    unsetenv(MPROC_CHAN_ENV);
    assert_null(c);
}

static void from_fd_refuses_a_channel_socket(void **state)
{
    (void)state;
    /* The channel's own socket is not a bootstrap socket: refused, nothing consumed. */
    mproc_chan *a, *b, *c = NULL;
    assert_ok(mproc_chan_pair(&a, &b));
    assert_ok(mproc_chan_send_fd(a, 0, 0));
    assert_code(mproc_chan_from_fd(&c, b->sock), MPROC_EPROTO);
    int fd;
    assert_ok(mproc_chan_recv_fd(b, &fd, 0));
    close(fd);
    assert_null(c);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void pair_puts_no_descriptor_in_flight(void **state)
{
    (void)state;
    /* The kernel caps descriptors in flight per user: a pair must queue nothing. */
    mproc_chan *a, *b;
    assert_ok(mproc_chan_pair(&a, &b));
    char byte;
    assert_int_equal(recv(a->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(recv(b->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    mproc_chan_free(a);
    mproc_chan_free(b);
}

static void child_fd_is_one_bootstrap_socket(void **state)
{
    (void)state;
    /* Rebuilt in this same process: the bootstrap works once, then is used up; the end
     * it gives talks to the peer. No spawn needed to check the handover itself. */
    mproc_chan *a, *b, *c = NULL;
    assert_ok(mproc_chan_pair(&a, &b));
    int fd = mproc_chan_child_fd(b);
    assert_true(fd >= 0);
    assert_int_equal(mproc_chan_child_fd(b), fd);
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    assert_ok(mproc_chan_from_fd(&c, copy)); /* closes copy */
    assert_code(mproc_chan_from_fd(&c, fd), MPROC_EPROTO);
    mproc_chan_free(b);
    assert_ok(mproc_chan_send(a, "via", 3, 0));
    char out[8];
    size_t len;
    assert_ok(mproc_chan_recv_into(c, out, sizeof out, &len, 0));
    assert_memory_equal(out, "via", 3);
    assert_ok(mproc_chan_send(c, "back", 4, 0));
    assert_ok(mproc_chan_recv_into(a, out, sizeof out, &len, 0));
    assert_memory_equal(out, "back", 4);
    mproc_chan_free(c);
    assert_code(mproc_chan_recv_into(a, out, sizeof out, &len, 1000), MPROC_ECLOSED);
    mproc_chan_free(a);
}

int main(int argc, char **argv)
{
    const char *mode = getenv(CHILD_ENV);
    if (mode && strcmp(mode, "echo") == 0)
        return child_echo();
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(peer_freed_gives_closed_both_ways),
        cmocka_unit_test(peer_exit_gives_closed_without_hang),
        cmocka_unit_test(sender_killed_mid_message_gives_closed),
        cmocka_unit_test(sender_times_out_then_peer_sees_message_whole),
        cmocka_unit_test(abort_frame_drops_partial_message),
        cmocka_unit_test(reader_killed_while_sender_blocked),
        cmocka_unit_test(no_sigpipe_on_closed_peer),
        cmocka_unit_test(hostile_garbage_gives_eproto),
        cmocka_unit_test(hostile_wrong_length_gives_eproto),
        cmocka_unit_test(hostile_huge_lengths_give_eproto),
        cmocka_unit_test(hostile_big_claim_allocates_little),
        cmocka_unit_test(hostile_frames_out_of_place_give_eproto),
        cmocka_unit_test(hostile_mirror_is_ignored),
        cmocka_unit_test(hostile_index_gives_eproto),
        cmocka_unit_test(truncated_frame_then_close_gives_eproto),
        cmocka_unit_test(hostile_fd_records_give_eproto),
        cmocka_unit_test(eintr_storm_during_blocking_recv),
        cmocka_unit_test(eintr_storm_during_blocking_send),
        cmocka_unit_test(spawned_child_finds_end_through_env),
        cmocka_unit_test(from_env_errors),
        cmocka_unit_test(from_fd_refuses_a_channel_socket),
        cmocka_unit_test(pair_puts_no_descriptor_in_flight),
        cmocka_unit_test(child_fd_is_one_bootstrap_socket),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
