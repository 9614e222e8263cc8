/* chan_01_pipe_message: the seed's pipe message. The parent sends one message through a
 * channel; the forked child receives it and prints it.
 *
 *   $ ./chan_01_pipe_message
 *   Child received: Hello from parent
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mproc.h>

static int child(void *arg)
{
    mproc_chan *end = arg;
    char buf[256];
    size_t len;
    int r = mproc_chan_recv_into(end, buf, sizeof buf - 1, &len, 5000);
    if (r < 0) {
        fprintf(stderr, "child: recv: %s\n", mproc_strerror(r));
        return 1;
    }
    buf[len] = '\0';
    printf("Child received: %s\n", buf);
    mproc_chan_free(end);
    return 0;
}

int main(void)
{
    mproc_chan *parent_end, *child_end;
    int r = mproc_chan_pair(&parent_end, &child_end);
    if (r < 0) {
        fprintf(stderr, "chan_pair: %s\n", mproc_strerror(r));
        return 1;
    }
    mproc_proc *p;
    if ((r = mproc_fork(&p, child, child_end, NULL)) < 0) {
        fprintf(stderr, "fork: %s\n", mproc_strerror(r));
        return 1;
    }
    mproc_chan_free(child_end); /* the child has its own copy; keep only ours */
    const char *msg = "Hello from parent";
    if ((r = mproc_chan_send(parent_end, msg, strlen(msg), 5000)) < 0)
        fprintf(stderr, "send: %s\n", mproc_strerror(r));
    mproc_status st;
    mproc_proc_wait(p, -1, &st);
    mproc_proc_free(p);
    mproc_chan_free(parent_end);
    return r < 0 ? 1 : mproc_exitcode(&st);
}
