/* Many producers, many consumers, and a JoinableQueue-style join:
 *
 *     q = JoinableQueue()
 *     consumers: while True: item = q.get(); work(item); q.task_done()
 *     producers: for item in items: q.put(item)
 *     q.join()   # every item processed
 *
 * in mproc. Three producers put 1000 numbers each; three consumers add them up in shared
 * memory and mark each one done; the parent joins, then closes the queue so the consumers
 * see MPROC_ECLOSED and leave. Unlike Python, a consumer killed holding an item does not
 * make join hang: its unfinished items are counted as lost. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <mproc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>

#define PRODUCERS 3
#define CONSUMERS 3
#define ITEMS     1000

struct shared {
    mproc_queue *q;
    _Atomic long sum;
    _Atomic long count;
};

static int producer(void *arg)
{
    struct shared *s = arg;
    for (long i = 1; i <= ITEMS; i++)
        if (mproc_queue_put(s->q, &i, sizeof i, -1) < 0)
            return 1;
    return 0;
}

static int consumer(void *arg)
{
    struct shared *s = arg;
    for (;;) {
        long item;
        size_t len;
        int rc = mproc_queue_get(s->q, &item, sizeof item, &len, -1);
        if (rc == MPROC_ECLOSED)
            return 0; /* closed and drained */
        if (rc < 0)
            return 1;
        atomic_fetch_add(&s->sum, item);
        atomic_fetch_add(&s->count, 1);
        mproc_queue_task_done(s->q);
    }
}

int main(void)
{
    struct shared *s =
        mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        return 1;
    mproc_queue_opts opts = {.flags = MPROC_QUEUE_JOINABLE};
    int rc = mproc_queue_new(&s->q, &opts);
    if (rc < 0) {
        fprintf(stderr, "queue: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_proc *procs[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        if (mproc_fork(&procs[i], i < PRODUCERS ? producer : consumer, s, NULL) < 0)
            return 1;
    for (int i = 0; i < PRODUCERS; i++)
        mproc_proc_wait(procs[i], -1, NULL); /* everything is put */
    rc = mproc_queue_join(s->q, 30000);      /* ... and processed */
    printf("join: %s; %ld items, sum %ld (expected %d items, sum %ld)\n",
           rc == 0 ? "ok" : mproc_strerror(rc), atomic_load(&s->count), atomic_load(&s->sum),
           PRODUCERS * ITEMS, (long)PRODUCERS * ITEMS * (ITEMS + 1) / 2);
    mproc_queue_close(s->q);
    int ok = rc == 0 && atomic_load(&s->count) == PRODUCERS * ITEMS;
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        mproc_status st;
        mproc_proc_wait(procs[i], -1, &st);
        ok = ok && mproc_exitcode(&st) == 0;
        mproc_proc_free(procs[i]);
    }
    mproc_queue_free(s->q);
    munmap(s, sizeof *s);
    return ok ? 0 : 1;
}
