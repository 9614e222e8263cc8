/* bench_pool: pool map throughput, submit latency and CPU-bound efficiency.
 * Prints "name value unit" lines; bench/run turns them into the BENCHMARKS table. */
#include <mproc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int square(const void *in, void *out, void *ctx)
{
    (void)ctx;
    int x = *(const int *)in;
    *(int *)out = x * x;
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

/* items/s for a map of n ints at the given chunk (0: automatic). */
static double map_rate(mproc_pool *p, size_t n, size_t chunk, int zero_copy, int reps)
{
    size_t asz;
    int *in, *out;
    int *heap_in = NULL, *heap_out = NULL;
    if (zero_copy) {
        in = mproc_pool_arena(p, &asz);
        out = in + n;
    } else {
        in = heap_in = malloc(n * sizeof(int));
        out = heap_out = malloc(n * sizeof(int));
    }
    for (size_t i = 0; i < n; i++)
        in[i] = (int)i;
    double r[16] = {0};
    mproc_map_opts mo = {.chunk = chunk};
    for (int k = 0; k < reps; k++) {
        double t0 = now_s();
        if (mproc_pool_map(p, square, in, n, sizeof(int), out, sizeof(int), NULL, &mo) != 0)
            fprintf(stderr, "map failed\n");
        r[k] = (double)n / (now_s() - t0);
    }
    free(heap_in);
    free(heap_out);
    return median(r, reps);
}

static int burn_5ms(const void *in, void *out, void *ctx)
{
    (void)in;
    (void)ctx;
    double t0 = now_s();
    volatile unsigned long x = 0;
    while (now_s() - t0 < 0.005)
        x++;
    *(int *)out = (int)(x & 1);
    return 0;
}

static int tiny(const void *arg, size_t len, void *res, size_t *res_len, void *ctx)
{
    (void)ctx;
    memcpy(res, arg, len);
    *res_len = len;
    return 0;
}

/* median microseconds of submit + wait + free of a trivial task */
static double submit_roundtrip(mproc_pool *p, int n)
{
    double *v = malloc((size_t)n * sizeof *v);
    int x = 3;
    for (int k = 0; k < n; k++) {
        double t0 = now_s();
        mproc_future *f;
        mproc_pool_submit(p, tiny, &x, sizeof x, &f);
        mproc_future_wait(f, -1);
        mproc_future_free(f);
        v[k] = (now_s() - t0) * 1e6;
    }
    double m = median(v, n);
    free(v);
    return m;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int reps = quick ? 3 : 7;
    mproc_pool *p;
    mproc_pool_opts o = {.workers = 2, .arena_size = (size_t)128 << 20};
    if (mproc_pool_new(&p, &o) < 0)
        return 1;
    size_t n1 = quick ? 200000 : 2000000, n2 = quick ? 2000000 : 10000000;
    printf("pool_map_chunk1 %.0f items/s\n", map_rate(p, n1, 1, 0, reps));
    printf("pool_map_chunk1000 %.0f items/s\n", map_rate(p, n2, 1000, 0, reps));
    printf("pool_map_auto %.0f items/s\n", map_rate(p, n2, 0, 0, reps));
    printf("pool_map_auto_zero_copy %.0f items/s\n", map_rate(p, n2, 0, 1, reps));
    printf("pool_submit_roundtrip %.2f us\n", submit_roundtrip(p, quick ? 2000 : 20000));
    /* CPU-bound: 200 x 5 ms on 2 workers, efficiency = ideal / actual */
    int in[200] = {0}, out[200];
    double t0 = now_s();
    mproc_pool_map(p, burn_5ms, in, 200, sizeof(int), out, sizeof(int), NULL, NULL);
    double dt = now_s() - t0;
    printf("pool_cpu_efficiency %.4f ratio\n", (200 * 0.005 / 2) / dt);
    mproc_pool_free(p);
    /* start + stop */
    double v[16];
    for (int k = 0; k < reps; k++) {
        double s = now_s();
        mproc_pool_new(&p, &o);
        mproc_pool_close(p);
        mproc_pool_join(p, -1);
        mproc_pool_free(p);
        v[k] = (now_s() - s) * 1e6;
    }
    printf("pool_start_stop %.1f us\n", median(v, reps));
    return 0;
}
