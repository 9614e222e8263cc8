/* bench_queue: throughput and latency of mproc_queue against its floors and peers.
 *
 * Usage:
 *   bench_queue                       every measurement once, as "name value" lines
 *                                     (rates in messages/s or GB/s, times in microseconds)
 *   bench_queue VARIANT ITERATIONS    one variant, as bench/run expects:
 *                                     "VARIANT ITERATIONS microseconds-per-op parent-RSS-KiB"
 *   bench_queue --list                the variants
 *   bench_queue idle-cpu              CPU % used by a consumer blocked 1 s on an empty queue
 *
 * Build by hand (release library) and run from the source tree:
 *   cmake --preset release && cmake --build --preset release
 *   cc -O2 -D_GNU_SOURCE -Iinclude bench/bench_queue.c build/release/libmproc.a -lpthread \
 *      -o build/release/bench_queue && build/release/bench_queue
 * ZeroMQ PUSH/PULL over ipc is measured when libzmq.so.5 can be loaded at run time (no
 * build dependency); Python's multiprocessing.Queue by bench/peers/mp_queue.py.
 */
#include <mproc.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
    fprintf(stderr, "bench_queue: %s: %s\n", what, mproc_strerror(r));
    exit(1);
}

static void *shared(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap", MPROC_ENOMEM);
    return p;
}

static mproc_proc *spawn_fn(int (*fn)(void *), void *arg)
{
    mproc_proc *p;
    int r = mproc_fork(&p, fn, arg, NULL);
    if (r)
        die("fork", r);
    return p;
}

static void reap(mproc_proc *p)
{
    mproc_status st;
    int r = mproc_proc_wait(p, 120000, &st);
    if (r != 0 || mproc_exitcode(&st) != 0)
        die("child failed", r ? r : MPROC_EIO);
    mproc_proc_free(p);
}

/* ---- mproc_queue streaming ------------------------------------------------------- */

struct qarg {
    mproc_queue *q;
    size_t size;
    long count;
};

static int q_producer(void *arg)
{
    struct qarg *a = arg;
    char *b = calloc(1, a->size);
    for (long i = 0; i < a->count; i++)
        if (mproc_queue_put(a->q, b, a->size, -1) != 0)
            return 1;
    free(b);
    return 0;
}

static int q_consumer(void *arg)
{
    struct qarg *a = arg;
    char *b = malloc(a->size);
    size_t len;
    for (long i = 0; i < a->count; i++)
        if (mproc_queue_get(a->q, b, a->size, &len, -1) != 0 || len != a->size)
            return 1;
    free(b);
    return 0;
}

/* np producers and nc consumers (all children) move n messages; seconds taken. */
static double queue_stream(int np, int nc, size_t size, long n)
{
    /* default capacity: 4 MiB, or twice the largest message; a ring that stays in the
     * caches beats a bigger one for big messages */
    mproc_queue_opts o = {.max_msg_size = size};
    mproc_queue *q;
    int r = mproc_queue_new(&q, &o);
    if (r)
        die("queue_new", r);
    n -= n % (np * nc);
    struct qarg pa = {q, size, n / np}, ca = {q, size, n / nc};
    mproc_proc *procs[8];
    double t0 = now_s();
    for (int i = 0; i < nc; i++)
        procs[i] = spawn_fn(q_consumer, &ca);
    for (int i = 0; i < np; i++)
        procs[nc + i] = spawn_fn(q_producer, &pa);
    for (int i = 0; i < np + nc; i++)
        reap(procs[i]);
    double dt = now_s() - t0;
    mproc_queue_free(q);
    return dt;
}

static double v_q64_1x1(long n)
{
    return queue_stream(1, 1, 64, n);
}

static double v_q64_2x2(long n)
{
    return queue_stream(2, 2, 64, n);
}

static double v_q1m(long n)
{
    return queue_stream(1, 1, 1 << 20, n);
}

/* ---- floors and peers ------------------------------------------------------------ */

#define RING 4096
struct ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) long count;
    _Alignas(64) char slot[RING][64];
};

static int ring_consumer(void *arg)
{
    struct ring *r = arg;
    char b[64] = {0};
    uint64_t h = 0, t = 0;
    for (long n = 0; n < r->count; n++) {
        while (h == t)
            t = atomic_load_explicit(&r->tail, memory_order_acquire);
        memcpy(b, r->slot[h % RING], 64);
        atomic_store_explicit(&r->head, ++h, memory_order_release);
    }
    return b[0] != 0;
}

/* The floor: a raw single-producer single-consumer shared-memory ring of 64 B slots. */
static double v_ring64(long n)
{
    struct ring *r = shared(sizeof *r);
    r->count = n;
    double t0 = now_s();
    mproc_proc *p = spawn_fn(ring_consumer, r);
    char b[64] = {0};
    uint64_t t = 0, h = 0;
    for (long i = 0; i < n; i++) {
        while (t - h >= RING)
            h = atomic_load_explicit(&r->head, memory_order_acquire);
        memcpy(r->slot[t % RING], b, 64);
        atomic_store_explicit(&r->tail, ++t, memory_order_release);
    }
    reap(p);
    double dt = now_s() - t0;
    munmap(r, sizeof *r);
    return dt;
}

struct reader {
    int fd;
    long bytes;
};

static int fd_reader(void *arg)
{
    struct reader *rd = arg;
    char *b = malloc(1 << 20);
    long got = 0;
    while (got < rd->bytes) {
        ssize_t n = read(rd->fd, b, 1 << 20);
        if (n <= 0)
            return 1;
        got += n;
    }
    free(b);
    return 0;
}

static void write_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0)
            die("write", MPROC_EIO);
        b += w;
        n -= (size_t)w;
    }
}

/* one write per message into a pipe, one reader */
static double v_pipe64(long n)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        die("pipe", MPROC_EMFILE);
    struct reader rd = {fds[0], n * 64};
    double t0 = now_s();
    mproc_proc *p = spawn_fn(fd_reader, &rd);
    char b[64] = {0};
    for (long i = 0; i < n; i++)
        write_all(fds[1], b, 64);
    reap(p);
    double dt = now_s() - t0;
    close(fds[0]);
    close(fds[1]);
    return dt;
}

/* memcpy of 1 MiB out of shared memory: the floor for big messages */
static double v_memcpy1m(long n)
{
    size_t size = 1 << 20;
    char *a = shared(size), *b = malloc(size);
    memset(a, 1, size);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        memcpy(b, a, size);
        a[(size_t)i % size] = b[((size_t)i * 7) % size];
    }
    double dt = now_s() - t0;
    munmap(a, size);
    free(b);
    return dt;
}

/* Two copies, no queue: a raw ring of four 1 MiB slots (the queue's default 4 MiB) between
 * two processes, the producer copying each message in and the consumer copying it out,
 * synchronised by two spinning indices. What moving a copy of a message between processes
 * costs here before any queue logic. */
#define RAW1M_SLOTS 4
struct raw1m {
    _Alignas(64) _Atomic long head;
    _Alignas(64) _Atomic long tail;
    long count;
    unsigned char *slots;
};

static int raw1m_consumer(void *arg)
{
    struct raw1m *r = arg;
    size_t size = 1 << 20;
    unsigned char *b = malloc(size);
    memset(b, 0, size);
    for (long h = 0; h < r->count; h++) {
        while (atomic_load_explicit(&r->tail, memory_order_acquire) == h) {
        }
        memcpy(b, r->slots + (size_t)(h % RAW1M_SLOTS) * size, size);
        atomic_store_explicit(&r->head, h + 1, memory_order_release);
    }
    int ok = b[0] == 1;
    free(b);
    return ok ? 0 : 1;
}

static double v_raw1m(long n)
{
    size_t size = 1 << 20;
    struct raw1m *r = shared(sizeof *r);
    r->count = n;
    r->slots = shared(RAW1M_SLOTS * size);
    unsigned char *src = malloc(size);
    memset(src, 1, size);
    double t0 = now_s();
    mproc_proc *c = spawn_fn(raw1m_consumer, r);
    for (long t = 0; t < n; t++) {
        while (t - atomic_load_explicit(&r->head, memory_order_acquire) >= RAW1M_SLOTS) {
        }
        memcpy(r->slots + (size_t)(t % RAW1M_SLOTS) * size, src, size);
        atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    }
    reap(c);
    double dt = now_s() - t0;
    free(src);
    munmap(r->slots, RAW1M_SLOTS * size);
    munmap(r, sizeof *r);
    return dt;
}

static double v_socketpair1m(long n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair", MPROC_EMFILE);
    char *b = calloc(1, 1 << 20);
    struct reader rd = {sv[1], n << 20};
    double t0 = now_s();
    mproc_proc *p = spawn_fn(fd_reader, &rd);
    for (long i = 0; i < n; i++)
        write_all(sv[0], b, 1 << 20);
    reap(p);
    double dt = now_s() - t0;
    free(b);
    close(sv[0]);
    close(sv[1]);
    return dt;
}

/* ---- ZeroMQ, loaded at run time ---------------------------------------------------- */

struct zmq_api {
    void *(*ctx_new)(void);
    int (*ctx_term)(void *);
    void *(*socket)(void *, int);
    int (*close)(void *);
    int (*bind)(void *, const char *);
    int (*connect)(void *, const char *);
    int (*send)(void *, const void *, size_t, int);
    int (*recv)(void *, void *, size_t, int);
    int (*setsockopt)(void *, int, const void *, size_t);
};
#define ZMQ_PULL_     7
#define ZMQ_PUSH_     8
#define ZMQ_RCVTIMEO_ 27

static int zmq_load(struct zmq_api *z)
{
    void *lib = dlopen("libzmq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return -1;
    void *f[9];
    const char *names[9] = {"zmq_ctx_new", "zmq_ctx_term", "zmq_socket",
                            "zmq_close",   "zmq_bind",     "zmq_connect",
                            "zmq_send",    "zmq_recv",     "zmq_setsockopt"};
    for (int i = 0; i < 9; i++)
        if (!(f[i] = dlsym(lib, names[i])))
            return -1;
    /* dlsym hands back object pointers; copy them into function pointers bit for bit */
    memcpy(&z->ctx_new, &f[0], sizeof f[0]);
    memcpy(&z->ctx_term, &f[1], sizeof f[1]);
    memcpy(&z->socket, &f[2], sizeof f[2]);
    memcpy(&z->close, &f[3], sizeof f[3]);
    memcpy(&z->bind, &f[4], sizeof f[4]);
    memcpy(&z->connect, &f[5], sizeof f[5]);
    memcpy(&z->send, &f[6], sizeof f[6]);
    memcpy(&z->recv, &f[7], sizeof f[7]);
    memcpy(&z->setsockopt, &f[8], sizeof f[8]);
    return 0;
}

struct zarg {
    struct zmq_api *z;
    char endpoint[64];
    long count;
};

static int zmq_pusher(void *arg)
{
    struct zarg *a = arg;
    void *ctx = a->z->ctx_new(), *s = a->z->socket(ctx, ZMQ_PUSH_);
    if (!s || a->z->connect(s, a->endpoint) != 0)
        return 1;
    char b[64] = {0};
    for (long i = 0; i < a->count; i++)
        if (a->z->send(s, b, sizeof b, 0) != 64)
            return 1;
    a->z->close(s); /* lingers until everything is delivered */
    a->z->ctx_term(ctx);
    return 0;
}

/* ZeroMQ PUSH/PULL over ipc://, 64 B messages, one pusher process. */
static double v_zmq64(long n)
{
    struct zmq_api z;
    if (zmq_load(&z) != 0) {
        fprintf(stderr, "bench_queue: libzmq.so.5 not installed\n");
        exit(3);
    }
    struct zarg a = {&z, "", n};
    static int run;
    snprintf(a.endpoint, sizeof a.endpoint, "ipc:///tmp/bench_queue_zmq.%d.%d", (int)getpid(),
             run++);
    /* The pusher is forked before this process has a ZeroMQ context: a context runs I/O
     * threads, and a child forked while one of them holds a lock inside libzmq could hang
     * in its own zmq_ctx_new (one run of make bench ended in the receive timeout below).
     * Its connect needs no listener yet: ZeroMQ retries until the bind below is there. */
    double t0 = now_s();
    mproc_proc *p = spawn_fn(zmq_pusher, &a);
    void *ctx = z.ctx_new(), *s = z.socket(ctx, ZMQ_PULL_);
    int tmo = 10000;
    if (!s || z.setsockopt(s, ZMQ_RCVTIMEO_, &tmo, sizeof tmo) != 0 || z.bind(s, a.endpoint) != 0)
        die("zmq bind", MPROC_EIO);
    char b[64];
    for (long i = 0; i < n; i++)
        if (z.recv(s, b, sizeof b, 0) != 64)
            die("zmq recv (timed out?)", MPROC_EIO);
    double dt = now_s() - t0;
    reap(p);
    z.close(s);
    z.ctx_term(ctx);
    unlink(a.endpoint + strlen("ipc://"));
    return dt;
}

/* ---- latency ----------------------------------------------------------------------- */

struct pp {
    mproc_queue *a, *b;
    long rounds;
};

static int pp_echo(void *arg)
{
    struct pp *p = arg;
    char m[64];
    size_t len;
    for (long i = 0; i < p->rounds; i++) {
        if (mproc_queue_get(p->a, m, sizeof m, &len, -1) != 0 ||
            mproc_queue_put(p->b, m, len, -1) != 0)
            return 1;
    }
    return 0;
}

/* round trips of a size-byte message over two queues, both sides busy */
static double pingpong_queue(size_t size, long n)
{
    struct pp p = {NULL, NULL, n};
    if (mproc_queue_new(&p.a, NULL) || mproc_queue_new(&p.b, NULL))
        die("queue_new", MPROC_ENOMEM);
    mproc_proc *c = spawn_fn(pp_echo, &p);
    char m[64] = {0};
    size_t len;
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        if (mproc_queue_put(p.a, m, size, -1) || mproc_queue_get(p.b, m, sizeof m, &len, -1))
            die("pingpong", MPROC_EIO);
    double dt = now_s() - t0;
    reap(c);
    mproc_queue_free(p.a);
    mproc_queue_free(p.b);
    return dt;
}

/* 8 B: the payload of the floor's flags */
static double v_pingpong_queue(long n)
{
    return pingpong_queue(8, n);
}

static double v_pingpong_queue64(long n)
{
    return pingpong_queue(64, n);
}

struct spin {
    _Alignas(64) _Atomic long ping;
    _Alignas(64) _Atomic long pong;
    long rounds;
};

static int spin_echo(void *arg)
{
    struct spin *w = arg;
    for (long i = 1; i <= w->rounds; i++) {
        while (atomic_load_explicit(&w->ping, memory_order_acquire) != i) {
        }
        atomic_store_explicit(&w->pong, i, memory_order_release);
    }
    return 0;
}

/* The floor: two words in shared memory bounced by two spinning processes. */
static double v_pingpong_spin(long n)
{
    struct spin *w = shared(sizeof *w);
    w->rounds = n;
    mproc_proc *c = spawn_fn(spin_echo, w);
    double t0 = now_s();
    for (long i = 1; i <= n; i++) {
        atomic_store_explicit(&w->ping, i, memory_order_release);
        while (atomic_load_explicit(&w->pong, memory_order_acquire) != i) {
        }
    }
    double dt = now_s() - t0;
    reap(c);
    munmap(w, sizeof *w);
    return dt;
}

static int idle_getter(void *arg)
{
    char b[8];
    size_t len;
    return mproc_queue_get(arg, b, sizeof b, &len, 1000) == MPROC_ETIMEDOUT ? 0 : 1;
}

/* CPU used by a consumer waiting 1 s on an empty queue, in percent of that second. */
static double idle_cpu_pct(void)
{
    mproc_queue *q;
    if (mproc_queue_new(&q, NULL))
        die("queue_new", MPROC_ENOMEM);
    mproc_proc *c = spawn_fn(idle_getter, q);
    mproc_status st;
    if (mproc_proc_wait(c, 10000, &st) || mproc_exitcode(&st))
        die("idle getter", MPROC_EIO);
    mproc_proc_free(c);
    mproc_queue_free(q);
    return (double)(st.user_us + st.sys_us) / 1e4;
}

static void python_peer(void)
{
    const char *argv[] = {"python3", "bench/peers/mp_queue.py", NULL};
    if (access("bench/peers/mp_queue.py", R_OK) != 0)
        return;
    mproc_proc *p;
    mproc_status st = {0};
    fflush(stdout); /* python prints its own "name value" lines to our stdout */
    if (mproc_spawn(&p, argv, NULL) != 0)
        return;
    if (mproc_proc_wait(p, 120000, &st) != 0 || mproc_exitcode(&st) != 0)
        printf("python_queue_failed 1\n");
    mproc_proc_free(p);
}

/* ---- driver ------------------------------------------------------------------------ */

struct variant {
    const char *name;
    double (*run)(long n); /* seconds for n operations */
    long summary_n;        /* iterations in the summary run */
    const char *summary;   /* its line in the summary */
    int rate;              /* summary shows: 1 msgs/s, 2 GB/s of 1 MiB, 0 us per op */
};

static const struct variant variants[] = {
    {"q64-1x1", v_q64_1x1, 20000000, "queue_1x1_64B_msgs_per_s", 1},
    {"q64-2x2", v_q64_2x2, 8000000, "queue_2x2_64B_msgs_per_s", 1},
    {"ring64", v_ring64, 50000000, "raw_ring_64B_msgs_per_s", 1},
    {"pipe64", v_pipe64, 2000000, "pipe_64B_msgs_per_s", 1},
    {"zmq64", v_zmq64, 2000000, "zmq_pushpull_64B_msgs_per_s", 1},
    {"q1m-1x1", v_q1m, 4000, "queue_1x1_1MiB_GB_per_s", 2},
    {"memcpy1m", v_memcpy1m, 4000, "shm_copy_1MiB_GB_per_s", 2},
    {"raw1m", v_raw1m, 4000, "raw_two_copy_ring_1MiB_GB_per_s", 2},
    {"socketpair1m", v_socketpair1m, 2000, "socketpair_1MiB_GB_per_s", 2},
    {"pingpong-queue", v_pingpong_queue, 200000, "queue_pingpong_us", 0},
    {"pingpong-queue64", v_pingpong_queue64, 200000, "queue_pingpong_64B_us", 0},
    {"pingpong-spin", v_pingpong_spin, 200000, "spin_pingpong_us", 0},
};
#define NVARIANTS (sizeof variants / sizeof variants[0])

static long rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void summary(void)
{
    double pp_queue = 0, pp_spin = 0;
    struct zmq_api z;
    for (size_t i = 0; i < NVARIANTS; i++) {
        const struct variant *v = &variants[i];
        if (v->run == v_zmq64 && zmq_load(&z) != 0) {
            printf("zmq_pushpull_skipped 1\n");
            continue;
        }
        double dt = v->run(v->summary_n), n = (double)v->summary_n;
        if (v->rate == 1)
            printf("%s %.0f\n", v->summary, n / dt);
        else if (v->rate == 2)
            printf("%s %.2f\n", v->summary, n * (1 << 20) / dt / 1e9);
        else
            printf("%s %.3f\n", v->summary, dt / n * 1e6);
        if (v->run == v_pingpong_queue)
            pp_queue = dt;
        if (v->run == v_pingpong_spin)
            pp_spin = dt;
    }
    printf("queue_pingpong_vs_spin %.2f\n", pp_queue / pp_spin);
    printf("queue_idle_consumer_cpu_pct %.3f\n", idle_cpu_pct());
    python_peer();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 1) {
        summary();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "idle-cpu") == 0) {
        printf("queue_idle_consumer_cpu_pct %.3f\n", idle_cpu_pct());
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < NVARIANTS; i++)
            printf("%s\n", variants[i].name);
        return 0;
    }
    long n = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    for (size_t i = 0; i < NVARIANTS && n > 0; i++) {
        if (strcmp(argv[1], variants[i].name) != 0)
            continue;
        (void)variants[i].run(n / 10 > 0 ? n / 10 : 1); /* untimed warm-up */
        double dt = variants[i].run(n);
        printf("%s %ld %.3f %ld\n", variants[i].name, n, dt / (double)n * 1e6, rss_kib());
        return 0;
    }
    fprintf(stderr, "usage: bench_queue [--list | idle-cpu | VARIANT ITERATIONS]\n");
    return 2;
}
