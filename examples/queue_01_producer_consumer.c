/* The seed's Python queue:
 *
 *     def producer(queue):
 *         queue.put("Hello from producer")
 *
 *     def consumer(queue):
 *         message = queue.get()
 *         print(f"Consumer received: {message}")
 *
 *     queue = Queue()
 *     p1 = Process(target=producer, args=(queue,))
 *     p2 = Process(target=consumer, args=(queue,))
 *
 * in mproc: a queue in shared memory created before forking, so both children use it. */
#include <mproc.h>
#include <stdio.h>
#include <string.h>

static int producer(void *arg)
{
    const char *msg = "Hello from producer";
    /* -1: wait for room forever (there is plenty); the bytes are copied into the queue */
    return mproc_queue_put(arg, msg, strlen(msg), -1) == 0 ? 0 : 1;
}

static int consumer(void *arg)
{
    char message[256];
    size_t len;
    int rc = mproc_queue_get(arg, message, sizeof message - 1, &len, 5000);
    if (rc < 0) {
        fprintf(stderr, "get: %s\n", mproc_strerror(rc));
        return 1;
    }
    message[len] = '\0';
    printf("Consumer received: %s\n", message);
    return 0;
}

int main(void)
{
    mproc_queue *queue;
    int rc = mproc_queue_new(&queue, NULL); /* NULL: defaults (64 KiB messages, 4 MiB) */
    if (rc < 0) {
        fprintf(stderr, "queue: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_proc *p1, *p2;
    if (mproc_fork(&p1, producer, queue, NULL) < 0 || mproc_fork(&p2, consumer, queue, NULL) < 0)
        return 1;
    mproc_status s1, s2;
    mproc_proc_wait(p1, -1, &s1);
    mproc_proc_wait(p2, -1, &s2);
    mproc_proc_free(p1);
    mproc_proc_free(p2);
    mproc_queue_free(queue);
    return mproc_exitcode(&s1) == 0 && mproc_exitcode(&s2) == 0 ? 0 : 1;
}
