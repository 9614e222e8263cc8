/* bench_channel: channel ping-pong and one-way throughput against raw pipe, socketpair
 * and a shared-memory spin floor, in one run. Prints one line per measurement:
 *
 *   <name> <median_ns>            # median time per operation, over ROUNDS rounds
 *
 * (throughput lines also carry a comment with the rate). Build and run by hand:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/bench_channel.c build/release/libmproc.a \
 *      -lpthread -o build/bench_channel && build/bench_channel
 * Optional argument: a scale factor for the iteration counts (default 1). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <mproc.h>

#define ROUNDS 9

static double scale = 1;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return v[n / 2];
}

static long iters(long n)
{
    long k = (long)((double)n * scale);
    return k < 1 ? 1 : k;
}

static void report(const char *name, double ns, size_t bytes)
{
    if (bytes)
        printf("%s %.0f  # %.2f GB/s\n", name, ns, (double)bytes / ns);
    else
        printf("%s %.0f\n", name, ns);
    fflush(stdout);
}

/* ---- mproc channel ---- */

typedef struct job {
    mproc_chan *end, *other;
    size_t size;
    long count; /* messages per ack; 0: echo */
} job;

static int chan_child(void *arg)
{
    job *j = arg;
    mproc_chan_free(j->other);
    unsigned char *buf = malloc(j->size ? j->size : 1);
    size_t len;
    for (long i = 0;; i++) {
        int r = mproc_chan_recv_into(j->end, buf, j->size, &len, -1);
        if (r == MPROC_ECLOSED)
            break;
        if (r < 0)
            return 1;
        if (j->count == 0 || (i + 1) % j->count == 0)
            if (mproc_chan_send(j->end, buf, j->count ? 1 : len, -1) < 0)
                return 2;
    }
    free(buf);
    mproc_chan_free(j->end);
    return 0;
}

/* Runs rounds of n operations; op 0 = ping-pong of size bytes, else one-way n messages
 * then one ack. Returns the median ns per message. */
static double chan_run(size_t size, long n, int oneway)
{
    mproc_chan *a, *b;
    if (mproc_chan_pair(&a, &b) < 0)
        exit(1);
    job j = {.end = b, .other = a, .size = size, .count = oneway ? n : 0};
    mproc_proc *p;
    if (mproc_fork(&p, chan_child, &j, NULL) < 0)
        exit(1);
    mproc_chan_free(b);
    unsigned char *buf = calloc(1, size);
    double v[ROUNDS];
    size_t len;
    for (int r = -1; r < ROUNDS; r++) { /* round -1 warms up */
        int64_t t0 = now_ns();
        for (long i = 0; i < n; i++) {
            mproc_chan_send(a, buf, size, -1);
            if (!oneway)
                mproc_chan_recv_into(a, buf, size, &len, -1);
        }
        if (oneway)
            mproc_chan_recv_into(a, buf, size, &len, -1);
        if (r >= 0)
            v[r] = (double)(now_ns() - t0) / (double)n;
    }
    mproc_chan_free(a);
    mproc_proc_wait(p, -1, NULL);
    mproc_proc_free(p);
    free(buf);
    return median(v, ROUNDS);
}

/* ---- raw descriptors: pipe pair or socketpair ---- */

static int full_io(int fd, void *buf, size_t n, int wr)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t r = wr ? write(fd, p, n) : read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static double fd_run(int use_socket, size_t size, long n, int oneway)
{
    int up[2], down[2];
    if (use_socket) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, up) < 0)
            exit(1);
        down[0] = up[1];
        down[1] = up[0];
    } else if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0) {
        exit(1);
    }
    unsigned char *buf = calloc(1, size);
    /* The child's ends and the parent's: each side closes the other's, so closing ours
     * gives the child end-of-file. */
    int child_end[2] = {down[0], up[1]}, parent_end[2] = {down[1], up[0]};
    pid_t pid = fork();
    if (pid == 0) {
        close(parent_end[0]);
        if (!use_socket)
            close(parent_end[1]);
        for (long i = 0;; i++) {
            if (full_io(down[0], buf, size, 0) < 0)
                _exit(0);
            if ((!oneway || (i + 1) % n == 0) && full_io(up[1], buf, oneway ? 1 : size, 1) < 0)
                _exit(1);
        }
    }
    double v[ROUNDS];
    for (int r = -1; r < ROUNDS; r++) {
        int64_t t0 = now_ns();
        for (long i = 0; i < n; i++) {
            full_io(down[1], buf, size, 1);
            if (!oneway)
                full_io(up[0], buf, size, 0);
        }
        if (oneway)
            full_io(up[0], buf, 1, 0);
        if (r >= 0)
            v[r] = (double)(now_ns() - t0) / (double)n;
    }
    close(child_end[0]);
    if (!use_socket)
        close(child_end[1]);
    close(parent_end[0]);
    if (!use_socket)
        close(parent_end[1]);
    waitpid(pid, NULL, 0);
    free(buf);
    return median(v, ROUNDS);
}

/* ---- the floor: two processes spinning on shared words ---- */

typedef struct spin_words {
    _Alignas(64) _Atomic uint64_t ping;
    _Alignas(64) _Atomic uint64_t pong;
} spin_words;

static double spin_run(long n)
{
    spin_words *w =
        mmap(NULL, sizeof *w, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED)
        exit(1);
    atomic_store(&w->ping, 0);
    atomic_store(&w->pong, 0);
    pid_t pid = fork();
    if (pid == 0) {
        for (uint64_t seen = 0;;) {
            uint64_t v;
            while ((v = atomic_load_explicit(&w->ping, memory_order_acquire)) == seen)
                ;
            if (v == UINT64_MAX)
                _exit(0);
            seen = v;
            atomic_store_explicit(&w->pong, v, memory_order_release);
        }
    }
    double v[ROUNDS];
    uint64_t k = 0;
    for (int r = -1; r < ROUNDS; r++) {
        int64_t t0 = now_ns();
        for (long i = 0; i < n; i++) {
            atomic_store_explicit(&w->ping, ++k, memory_order_release);
            while (atomic_load_explicit(&w->pong, memory_order_acquire) != k)
                ;
        }
        if (r >= 0)
            v[r] = (double)(now_ns() - t0) / (double)n;
    }
    atomic_store(&w->ping, UINT64_MAX);
    waitpid(pid, NULL, 0);
    munmap(w, sizeof *w);
    return median(v, ROUNDS);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atof(argv[1]) > 0 ? atof(argv[1]) : 1;
    size_t mib = (size_t)1 << 20;
    report("spin_floor_roundtrip_8B", spin_run(iters(200000)), 0);
    report("chan_roundtrip_8B", chan_run(8, iters(200000), 0), 0);
    report("pipe_roundtrip_8B", fd_run(0, 8, iters(5000), 0), 0);
    report("socketpair_roundtrip_8B", fd_run(1, 8, iters(5000), 0), 0);
    report("chan_oneway_64B", chan_run(64, iters(500000), 1), 64);
    report("pipe_oneway_64B", fd_run(0, 64, iters(50000), 1), 64);
    report("chan_oneway_1MiB", chan_run(mib, iters(500), 1), mib);
    report("socketpair_oneway_1MiB", fd_run(1, mib, iters(200), 1), mib);
    return 0;
}
