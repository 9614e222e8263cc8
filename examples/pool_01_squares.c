/* The seed's Python pool:
 *
 *     with Pool(4) as p:
 *         results = p.map(square, [1, 2, 3, 4, 5])
 *
 * in mproc: four worker processes, a map over an array, results in input order. */
#include <mproc.h>
#include <stdio.h>

/* An item function: one input item in, one output item out. Runs in a worker process. */
static int square(const void *in, void *out, void *ctx)
{
    (void)ctx;
    int x = *(const int *)in;
    *(int *)out = x * x;
    return 0; /* 0: this item succeeded */
}

int main(void)
{
    mproc_pool *pool;
    mproc_pool_opts opts = {.workers = 4};
    int rc = mproc_pool_new(&pool, &opts);
    if (rc < 0) {
        fprintf(stderr, "pool: %s\n", mproc_strerror(rc));
        return 1;
    }
    int numbers[5] = {1, 2, 3, 4, 5}, results[5];
    /* map returns how many items failed (0 here), or a negative error. */
    rc = mproc_pool_map(pool, square, numbers, 5, sizeof(int), results, sizeof(int), NULL, NULL);
    mproc_pool_free(pool); /* workers are stopped and reaped: no zombie, no orphan */
    if (rc != 0) {
        fprintf(stderr, "map: %d\n", rc);
        return 1;
    }
    printf("[%d, %d, %d, %d, %d]\n", results[0], results[1], results[2], results[3], results[4]);
    return 0;
}
