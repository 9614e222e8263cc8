/* The seed's Node.js "pool made by hand": fork four workers, send each a message, print
 * what each answers. With mproc the pool is built in: submit a task with the message as
 * its argument bytes, and the worker's answer comes back as the task's result bytes. */
#define _DEFAULT_SOURCE /* usleep, clock_gettime, getpid with -std=c11 */
#include <mproc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Runs in a worker: reads the message, writes an answer into *result. */
static int answer(const void *arg, size_t len, void *result, size_t *result_len, void *ctx)
{
    (void)ctx;
    usleep(50000); /* some work: while this worker is busy, the next message goes elsewhere */
    int n = snprintf(result, *result_len, "got \"%.*s\" (worker pid %d)", (int)len,
                     (const char *)arg, (int)getpid());
    *result_len = n < 0 ? 0 : (size_t)n;
    return 0;
}

int main(void)
{
    enum { NUM_WORKERS = 4 };
    mproc_pool *pool;
    int rc = mproc_pool_new(&pool, &(mproc_pool_opts){.workers = NUM_WORKERS});
    if (rc < 0) {
        fprintf(stderr, "pool: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_future *replies[NUM_WORKERS];
    for (int i = 0; i < NUM_WORKERS; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "Hello from main to worker %d", i);
        rc = mproc_pool_submit(pool, answer, msg, (size_t)n, &replies[i]);
        if (rc < 0) {
            fprintf(stderr, "submit: %s\n", mproc_strerror(rc));
            return 1;
        }
    }
    for (int i = 0; i < NUM_WORKERS; i++) {
        mproc_future_wait(replies[i], -1); /* -1: wait as long as it takes */
        size_t len;
        const char *text = mproc_future_result(replies[i], &len);
        printf("Worker %d says: %.*s\n", i, (int)len, text ? text : "");
        mproc_future_free(replies[i]);
    }
    mproc_pool_free(pool);
    return 0;
}
