/* bench_queue: throughput and latency of mproc_queue against its floors and peers, all in
 * one run. Prints "name value" lines (rates in messages/s, GB/s, times in microseconds).
 *
 * Build (release library) and run from the source tree:
 *   cmake --preset release && cmake --build --preset release
 *   cc -O2 -D_GNU_SOURCE -Iinclude bench/bench_queue.c build/release/libmproc.a -lpthread \
 *      -o build/release/bench_queue && build/release/bench_queue
 * Python's multiprocessing.Queue is measured by bench/peers/queue.py when python3 is found.
 * An argument runs only the measurements whose name contains it: bench_queue pingpong.
 */
#include <mproc.h>

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
        die("mmap", -12);
    return p;
}

static void reap(mproc_proc *p)
{
    mproc_status st;
    int r = mproc_proc_wait(p, 60000, &st);
    if (r != 0 || mproc_exitcode(&st) != 0)
        die("child", r ? r : -5);
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
        if (mproc_queue_get(a->q, b, a->size, &len, -1) != 0)
            return 1;
    free(b);
    return 0;
}

/* np producers and nc consumers (all children); returns messages per second. */
static double queue_stream(int np, int nc, size_t size, long total, size_t cap)
{
    mproc_queue_opts o = {.capacity_bytes = cap, .max_msg_size = size};
    mproc_queue *q;
    int r = mproc_queue_new(&q, &o);
    if (r)
        die("queue_new", r);
    struct qarg pa = {q, size, total / np}, ca = {q, size, total / nc};
    mproc_proc *procs[8];
    double t0 = now_s();
    for (int i = 0; i < nc; i++)
        if ((r = mproc_fork(&procs[i], q_consumer, &ca, NULL)))
            die("fork", r);
    for (int i = 0; i < np; i++)
        if ((r = mproc_fork(&procs[nc + i], q_producer, &pa, NULL)))
            die("fork", r);
    for (int i = 0; i < np + nc; i++)
        reap(procs[i]);
    double dt = now_s() - t0;
    mproc_queue_free(q);
    return (double)total / dt;
}

/* ---- floors and peers ------------------------------------------------------------ */

#define RING 4096
struct ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) char slot[RING][64];
};

static int ring_consumer(void *arg)
{
    struct ring *r = arg;
    long n = 0;
    char b[64];
    uint64_t h = 0, t = 0;
    while (n < 50000000) {
        if (h == t) {
            t = atomic_load_explicit(&r->tail, memory_order_acquire);
            continue;
        }
        memcpy(b, r->slot[h % RING], 64);
        atomic_store_explicit(&r->head, ++h, memory_order_release);
        n++;
    }
    return b[0] == 1;
}

/* The floor: a raw single-producer single-consumer shared-memory ring of 64 B slots. */
static double raw_ring(void)
{
    struct ring *r = shared(sizeof *r);
    mproc_proc *p;
    double t0 = now_s();
    mproc_fork(&p, ring_consumer, r, NULL);
    char b[64] = {0};
    uint64_t t = 0, h = 0;
    for (long i = 0; i < 50000000; i++) {
        while (t - h >= RING)
            h = atomic_load_explicit(&r->head, memory_order_acquire);
        memcpy(r->slot[t % RING], b, 64);
        atomic_store_explicit(&r->tail, ++t, memory_order_release);
    }
    reap(p);
    double dt = now_s() - t0;
    munmap(r, sizeof *r);
    return 50000000.0 / dt;
}

static int pipe_reader(void *arg)
{
    int fd = *(int *)arg;
    char b[64];
    long got = 0;
    while (got < 2000000L * 64) {
        ssize_t n = read(fd, b, sizeof b);
        if (n <= 0)
            return 1;
        got += n;
    }
    return 0;
}

static double pipe_64(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        die("pipe", -32);
    mproc_proc *p;
    double t0 = now_s();
    mproc_fork(&p, pipe_reader, &fds[0], NULL);
    char b[64] = {0};
    for (long i = 0; i < 2000000; i++)
        if (write(fds[1], b, 64) != 64)
            die("write", -5);
    reap(p);
    double dt = now_s() - t0;
    close(fds[0]);
    close(fds[1]);
    return 2000000.0 / dt;
}

static double memcpy_gbps(size_t size)
{
    char *a = shared(size), *b = malloc(size);
    memset(a, 1, size);
    int n = 2000;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        memcpy(b, a, size);
        a[i % size] = b[(i * 7) % size];
    }
    double dt = now_s() - t0;
    munmap(a, size);
    free(b);
    return (double)size * n / dt / 1e9;
}

static int sock_reader(void *arg)
{
    int fd = *(int *)arg;
    char *b = malloc(1 << 20);
    long got = 0;
    while (got < 2000L << 20) {
        ssize_t n = read(fd, b, 1 << 20);
        if (n <= 0)
            return 1;
        got += n;
    }
    free(b);
    return 0;
}

static double socketpair_gbps(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair", -5);
    mproc_proc *p;
    char *b = calloc(1, 1 << 20);
    double t0 = now_s();
    mproc_fork(&p, sock_reader, &sv[1], NULL);
    for (int i = 0; i < 2000; i++) {
        size_t off = 0;
        while (off < 1u << 20) {
            ssize_t n = write(sv[0], b + off, (1u << 20) - off);
            if (n <= 0)
                die("write", -5);
            off += (size_t)n;
        }
    }
    reap(p);
    double dt = now_s() - t0;
    free(b);
    close(sv[0]);
    close(sv[1]);
    return 2000.0 * (1 << 20) / dt / 1e9;
}

/* ---- latency ----------------------------------------------------------------------- */

#define ROUNDS 200000
struct pp {
    mproc_queue *a, *b;
};

static int pp_echo(void *arg)
{
    struct pp *p = arg;
    char m[64];
    size_t len;
    for (int i = 0; i < ROUNDS; i++) {
        if (mproc_queue_get(p->a, m, sizeof m, &len, -1) != 0 ||
            mproc_queue_put(p->b, m, len, -1) != 0)
            return 1;
    }
    return 0;
}

static double queue_pingpong_us(void)
{
    struct pp p;
    mproc_queue_new(&p.a, NULL);
    mproc_queue_new(&p.b, NULL);
    mproc_proc *c;
    mproc_fork(&c, pp_echo, &p, NULL);
    char m[64] = {0};
    size_t len;
    double t0 = now_s();
    for (int i = 0; i < ROUNDS; i++) {
        if (mproc_queue_put(p.a, m, sizeof m, -1) || mproc_queue_get(p.b, m, sizeof m, &len, -1))
            die("pingpong", -5);
    }
    double dt = now_s() - t0;
    reap(c);
    mproc_queue_free(p.a);
    mproc_queue_free(p.b);
    return dt / ROUNDS * 1e6;
}

static int spin_echo(void *arg)
{
    _Atomic uint32_t *w = arg;
    for (uint32_t i = 0; i < ROUNDS; i++) {
        while (atomic_load_explicit(&w[0], memory_order_acquire) != i + 1) {
        }
        atomic_store_explicit(&w[16], i + 1, memory_order_release);
    }
    return 0;
}

/* The floor: two words in shared memory bounced by two spinning processes. */
static double spin_pingpong_us(void)
{
    _Atomic uint32_t *w = shared(4096);
    mproc_proc *c;
    mproc_fork(&c, spin_echo, (void *)w, NULL);
    double t0 = now_s();
    for (uint32_t i = 0; i < ROUNDS; i++) {
        atomic_store_explicit(&w[0], i + 1, memory_order_release);
        while (atomic_load_explicit(&w[16], memory_order_acquire) != i + 1) {
        }
    }
    double dt = now_s() - t0;
    reap(c);
    munmap((void *)w, 4096);
    return dt / ROUNDS * 1e6;
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
    mproc_queue_new(&q, NULL);
    mproc_proc *c;
    mproc_fork(&c, idle_getter, q, NULL);
    mproc_status st;
    mproc_proc_wait(c, 10000, &st);
    mproc_proc_free(c);
    mproc_queue_free(q);
    return (double)(st.user_us + st.sys_us) / 1e4;
}

static void python_peer(void)
{
    const char *argv[] = {"python3", "bench/peers/queue.py", NULL};
    if (access("bench/peers/queue.py", R_OK) != 0)
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

/* argv[1], if given, runs only the measurements whose name contains it. */
static const char *only;
static int want(const char *name)
{
    return !only || strstr(name, only) != NULL;
}

int main(int argc, char **argv)
{
    only = argc > 1 ? argv[1] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (want("queue_1x1_64B"))
        printf("queue_1x1_64B_msgs_per_s %.0f\n", queue_stream(1, 1, 64, 20000000, 0));
    if (want("queue_2x2_64B"))
        printf("queue_2x2_64B_msgs_per_s %.0f\n", queue_stream(2, 2, 64, 8000000, 0));
    if (want("raw_ring"))
        printf("raw_ring_64B_msgs_per_s %.0f\n", raw_ring());
    if (want("pipe"))
        printf("pipe_64B_msgs_per_s %.0f\n", pipe_64());
    if (want("queue_1x1_1MiB"))
        printf("queue_1x1_1MiB_GB_per_s %.2f\n",
               queue_stream(1, 1, 1 << 20, 4000, 8u << 20) * (1 << 20) / 1e9);
    if (want("shm_copy"))
        printf("shm_copy_1MiB_GB_per_s %.2f\n", memcpy_gbps(1 << 20));
    if (want("socketpair"))
        printf("socketpair_1MiB_GB_per_s %.2f\n", socketpair_gbps());
    if (want("pingpong")) {
        double qpp = queue_pingpong_us(), spp = spin_pingpong_us();
        printf("queue_pingpong_us %.3f\n", qpp);
        printf("spin_pingpong_us %.3f\n", spp);
        printf("queue_pingpong_vs_spin %.2f\n", qpp / spp);
    }
    if (want("idle"))
        printf("queue_idle_consumer_cpu_pct %.3f\n", idle_cpu_pct());
    if (want("python"))
        python_peer();
    return 0;
}
