/* A pool that survives its workers crashing. Python's Pool hangs forever when a worker
 * dies, and ProcessPoolExecutor fails every pending task ("broken pool"). In mproc a
 * crash costs exactly the item that caused it; the worker is replaced and the map goes
 * on. Items 3 and 7 crash here (a segfault and an abort); the other eight succeed. */
#include <mproc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static int fragile(const void *in, void *out, void *ctx)
{
    (void)ctx;
    int x = *(const int *)in;
    if (x == 3)
        raise(SIGSEGV); /* as if it dereferenced a bad pointer */
    if (x == 7)
        abort();
    *(int *)out = 10 * x;
    return 0;
}

int main(void)
{
    mproc_pool *pool;
    if (mproc_pool_new(&pool, &(mproc_pool_opts){.workers = 2}) < 0)
        return 1;
    int in[10], out[10], status[10], how[10] = {0};
    for (int i = 0; i < 10; i++)
        in[i] = i;
    mproc_map_opts mo = {.exit_info = how}; /* how each crashed item's worker ended */
    int failed = mproc_pool_map(pool, fragile, in, 10, sizeof(int), out, sizeof(int), status, &mo);
    for (int i = 0; i < 10; i++) {
        if (status[i] == 0)
            printf("item %d: %d\n", i, out[i]);
        else
            printf("item %d: %s (its worker ended with exitcode %d)\n", i,
                   mproc_err_name(status[i]), how[i]); /* Python's convention: -signal */
    }
    mproc_worker_stats ws[2];
    mproc_pool_stats(pool, ws, 2);
    printf("%d items failed; workers replaced: %d\n", failed, ws[0].restarts + ws[1].restarts);
    mproc_pool_free(pool);
    return failed == 2 ? 0 : 1;
}
