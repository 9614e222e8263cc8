/* bench_pool: process pools against the raw floor, in bench/run's variant protocol:
 *     bench_pool VARIANT ITERATIONS
 * prints "<variant> <iterations> <value per operation> <parent RSS KiB>", where the value is
 * ns per item for the map variants and µs per operation for the others.
 *
 * The floor for maps is what no pool can beat: two forked processes that claim items from
 * one shared atomic counter (chunk 1 or 1000) and write results to shared memory, with no
 * crash accounting, no timeouts, nothing. mproc's pool is measured doing the same work. */
#include <mproc.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 2

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_pool: %s: %s\n", what, rc < 0 ? mproc_strerror(rc) : "failed");
    exit(1);
}

static int square(const void *in, void *out, void *ctx)
{
    (void)ctx;
    int x = *(const int *)in;
    *(int *)out = x * x;
    return 0;
}

static void burn(double seconds)
{
    double t0 = now_s();
    volatile unsigned long x = 0;
    while (now_s() - t0 < seconds)
        x++;
}

static int burn_5ms(const void *in, void *out, void *ctx)
{
    (void)in;
    (void)ctx;
    burn(0.005);
    *(int *)out = 0;
    return 0;
}

/* ---- mproc ---- */

static mproc_pool *pool_or_die(void)
{
    mproc_pool *p;
    int rc =
        mproc_pool_new(&p, &(mproc_pool_opts){.workers = WORKERS, .arena_size = (size_t)256 << 20});
    if (rc < 0)
        die("mproc_pool_new", rc);
    return p;
}

/* One map of n items; returns seconds. */
static double mproc_map_once(mproc_pool *p, int *in, int *out, size_t n, size_t chunk)
{
    mproc_map_opts mo = {.chunk = chunk};
    double t0 = now_s();
    int rc = mproc_pool_map(p, square, in, n, sizeof(int), out, sizeof(int), NULL, &mo);
    double dt = now_s() - t0;
    if (rc != 0)
        die("mproc_pool_map", rc);
    for (size_t i = 0; i < n; i += n / 7 + 1)
        if (out[i] != in[i] * in[i])
            die("wrong result", 0);
    return dt;
}

static double map_mproc(long n, size_t chunk, int zero_copy)
{
    mproc_pool *p = pool_or_die();
    size_t asz;
    int *in, *out;
    if (zero_copy) {
        in = mproc_pool_arena(p, &asz);
        out = in + n;
        if ((size_t)(2 * n) * sizeof(int) > asz)
            die("arena too small", 0);
    } else {
        in = malloc((size_t)n * sizeof(int));
        out = malloc((size_t)n * sizeof(int));
    }
    for (long i = 0; i < n; i++)
        in[i] = (int)(i & 0xffff);
    /* Warm-up over the full size: the arena's pages are faulted in once, as the raw floor's
     * are when it fills its input, so neither side pays first-touch faults when timed. */
    mproc_map_once(p, in, out, (size_t)n, chunk);
    double dt = mproc_map_once(p, in, out, (size_t)n, chunk);
    if (!zero_copy) {
        free(in);
        free(out);
    }
    mproc_pool_free(p);
    return dt * 1e9 / (double)n;
}

/* ---- raw floor: forked processes claiming from one shared atomic counter ---- */

struct raw {
    _Atomic long next;
    long n, chunk;
    int mode; /* 0: square items, 1: 5 ms tasks */
    int data[];
};

static void raw_worker(struct raw *r)
{
    for (;;) {
        long b = atomic_fetch_add(&r->next, r->chunk);
        if (b >= r->n)
            _exit(0);
        long e = b + r->chunk < r->n ? b + r->chunk : r->n;
        for (long i = b; i < e; i++) {
            if (r->mode)
                burn(0.005);
            else
                r->data[r->n + i] = r->data[i] * r->data[i];
        }
    }
}

static double raw_run(struct raw *r, long n)
{
    atomic_store(&r->next, 0);
    r->n = n;
    double t0 = now_s();
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++)
        if ((pids[w] = fork()) == 0)
            raw_worker(r);
    for (int w = 0; w < WORKERS; w++) {
        int st;
        if (waitpid(pids[w], &st, 0) != pids[w] || st != 0)
            die("raw worker", 0);
    }
    return now_s() - t0;
}

/* The floor starts its workers inside the timed region: a map is one fork per worker. */
static double map_raw(long n, long chunk)
{
    size_t bytes = sizeof(struct raw) + 2 * (size_t)n * sizeof(int);
    struct raw *r = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        die("mmap", 0);
    r->chunk = chunk;
    r->mode = 0;
    for (long i = 0; i < n; i++)
        r->data[i] = (int)(i & 0xffff);
    raw_run(r, n / 10 + 1);
    r->n = n; /* results live at data[n + i] */
    double dt = raw_run(r, n);
    munmap(r, bytes);
    return dt * 1e9 / (double)n;
}

/* ---- tasks, CPU-bound, start/stop ---- */

static int tiny(const void *arg, size_t len, void *res, size_t *res_len, void *ctx)
{
    (void)ctx;
    memcpy(res, arg, len);
    *res_len = len;
    return 0;
}

static double submit_mproc(long n)
{
    mproc_pool *p = pool_or_die();
    int x = 3;
    double t0 = 0;
    for (long k = -(n / 10 + 1); k < n; k++) {
        if (k == 0)
            t0 = now_s();
        mproc_future *f;
        int rc = mproc_pool_submit(p, tiny, &x, sizeof x, &f);
        if (rc < 0)
            die("submit", rc);
        mproc_future_wait(f, -1);
        if (mproc_future_status(f) != 0)
            die("task", mproc_future_status(f));
        mproc_future_free(f);
    }
    double dt = now_s() - t0;
    mproc_pool_free(p);
    return dt * 1e6 / (double)n;
}

static double cpu_mproc(long n)
{
    mproc_pool *p = pool_or_die();
    int *in = calloc((size_t)n, sizeof(int)), *out = calloc((size_t)n, sizeof(int));
    double t0 = now_s();
    int rc = mproc_pool_map(p, burn_5ms, in, (size_t)n, sizeof(int), out, sizeof(int), NULL, NULL);
    double dt = now_s() - t0;
    if (rc != 0)
        die("map", rc);
    free(in);
    free(out);
    mproc_pool_free(p);
    return dt * 1e6 / (double)n;
}

static double cpu_raw(long n)
{
    struct raw *r =
        mmap(NULL, sizeof(struct raw), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    r->chunk = 1;
    r->mode = 1;
    double dt = raw_run(r, n);
    munmap(r, sizeof(struct raw));
    return dt * 1e6 / (double)n;
}

static double startstop_mproc(long n)
{
    double t0 = 0;
    for (long k = -(n / 10 + 1); k < n; k++) {
        if (k == 0)
            t0 = now_s();
        mproc_pool *p = pool_or_die();
        mproc_pool_close(p);
        mproc_pool_join(p, -1);
        mproc_pool_free(p);
    }
    return (now_s() - t0) * 1e6 / (double)n;
}

int main(int argc, char **argv)
{
    if (argc != 3 || atol(argv[2]) < 1) {
        fprintf(stderr, "usage: bench_pool VARIANT ITERATIONS\nvariants: map-mproc-c1 "
                        "map-raw-c1 map-mproc-c1000 map-raw-c1000 map-mproc-auto "
                        "map-mproc-auto-zc submit-mproc cpu-mproc cpu-raw startstop-mproc\n");
        return 2;
    }
    const char *v = argv[1];
    long n = atol(argv[2]);
    double per;
    if (!strcmp(v, "map-mproc-c1"))
        per = map_mproc(n, 1, 0);
    else if (!strcmp(v, "map-raw-c1"))
        per = map_raw(n, 1);
    else if (!strcmp(v, "map-mproc-c1000"))
        per = map_mproc(n, 1000, 0);
    else if (!strcmp(v, "map-raw-c1000"))
        per = map_raw(n, 1000);
    else if (!strcmp(v, "map-mproc-auto"))
        per = map_mproc(n, 0, 0);
    else if (!strcmp(v, "map-mproc-auto-zc"))
        per = map_mproc(n, 0, 1);
    else if (!strcmp(v, "submit-mproc"))
        per = submit_mproc(n);
    else if (!strcmp(v, "cpu-mproc"))
        per = cpu_mproc(n);
    else if (!strcmp(v, "cpu-raw"))
        per = cpu_raw(n);
    else if (!strcmp(v, "startstop-mproc"))
        per = startstop_mproc(n);
    else {
        fprintf(stderr, "bench_pool: unknown variant %s\n", v);
        return 2;
    }
    printf("%s %ld %.4f %ld\n", v, n, per, rss_kib());
    return 0;
}
