/* Load balancing, static against dynamic (the seed's "Load Balancing" section).
 * 40 tasks of uneven cost: the first 10 take 40 ms each, the rest 2 ms. Static
 * scheduling hands each of the 2 workers one contiguous half up front, so one worker
 * gets all the slow tasks; dynamic scheduling lets idle workers claim more work. */
#define _DEFAULT_SOURCE /* usleep, clock_gettime, getpid with -std=c11 */
#include <mproc.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int uneven(const void *in, void *out, void *ctx)
{
    (void)ctx;
    int i = *(const int *)in;
    usleep(i < 10 ? 40000 : 2000);
    *(int *)out = i;
    return 0;
}

static double run(int schedule)
{
    mproc_pool *pool;
    if (mproc_pool_new(&pool, &(mproc_pool_opts){.workers = 2, .schedule = schedule}) < 0)
        return -1;
    int in[40], out[40];
    for (int i = 0; i < 40; i++)
        in[i] = i;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    mproc_pool_map(pool, uneven, in, 40, sizeof(int), out, sizeof(int), NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    mproc_worker_stats ws[2];
    mproc_pool_stats(pool, ws, 2);
    printf("  %-7s: %4.0f ms wall; worker 0 busy %4lld ms, worker 1 busy %4lld ms\n",
           schedule == MPROC_SCHED_STATIC ? "static" : "dynamic",
           (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6,
           ws[0].busy_us / 1000, ws[1].busy_us / 1000);
    mproc_pool_free(pool);
    return 0;
}

int main(void)
{
    printf("40 uneven tasks (10 x 40 ms, 30 x 2 ms) on 2 workers:\n");
    run(MPROC_SCHED_STATIC);
    run(MPROC_SCHED_DYNAMIC);
    printf("ideal: %d ms (all the work split evenly)\n", (10 * 40 + 30 * 2) / 2);
    return 0;
}
