/* A named queue between unrelated processes: this program starts copies of itself with
 * exec (no memory or descriptors shared, as if started from another shell), which attach
 * to the queue by name and send a greeting; the first process prints them.
 *
 *     queue_03_named              creates "example-<pid>", spawns 3 workers, reads 3 lines
 *     queue_03_named worker NAME  attaches to NAME and puts one message */
#include <mproc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WORKERS 3

static int worker(const char *name)
{
    mproc_queue *q;
    int rc = mproc_queue_open(&q, name);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s\n", name, mproc_strerror(rc));
        return 1;
    }
    char msg[64];
    int n = snprintf(msg, sizeof msg, "hello from pid %d", (int)getpid());
    rc = mproc_queue_put(q, msg, (size_t)n, 5000);
    mproc_queue_free(q);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "worker") == 0)
        return worker(argv[2]);
    char name[64];
    snprintf(name, sizeof name, "example-%d", (int)getpid());
    mproc_queue_opts opts = {.name = name};
    mproc_queue *q;
    int rc = mproc_queue_new(&q, &opts);
    if (rc < 0) {
        fprintf(stderr, "queue: %s\n", mproc_strerror(rc));
        return 1;
    }
    const char *wargv[] = {"/proc/self/exe", "worker", name, NULL};
    mproc_proc *w[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        if (mproc_spawn(&w[i], wargv, NULL) < 0)
            return 1;
    int got = 0;
    for (; got < WORKERS; got++) {
        char msg[64];
        size_t len;
        if (mproc_queue_get(q, msg, sizeof msg - 1, &len, 10000) < 0)
            break;
        msg[len] = '\0';
        printf("received: %s\n", msg);
    }
    int ok = got == WORKERS;
    for (int i = 0; i < WORKERS; i++) {
        mproc_status st;
        mproc_proc_wait(w[i], 10000, &st);
        ok = ok && mproc_exitcode(&st) == 0;
        mproc_proc_free(w[i]);
    }
    mproc_queue_free(q);
    mproc_queue_unlink(name); /* the name lives until unlinked, like a file */
    printf("%s\n", ok ? "all workers reported" : "some worker failed");
    return ok ? 0 : 1;
}
