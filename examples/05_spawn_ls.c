/* 05_spawn_ls: run a command and stream its stdout and stderr as they arrive.
 *
 * Seed:  Node's spawn('ls', ['-lh', '/usr']) with 'data' handlers on stdout and stderr
 *        and a 'close' handler that prints the exit code.
 * mproc: mproc_spawn() with both streams piped; poll() on the two pipe descriptors is
 *        the event loop. A command that cannot start fails in mproc_spawn() itself with
 *        the reason, instead of exiting with code 127.
 *
 * Usage: 05_spawn_ls [PATH...]   (default: /usr; try a missing path to see "Error:")
 */
#define _POSIX_C_SOURCE 200809L /* poll(), read() */
#include <errno.h>
#include <mproc.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

/* Reads what one stream has and prints it with its prefix, like a 'data' event.
 * Returns 0 when the stream has ended (the child closed it). */
static int forward(int fd, FILE *to, const char *prefix)
{
    char buf[4096];
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    fprintf(to, "%s%.*s", prefix, (int)n, buf);
    if (buf[n - 1] != '\n')
        fputc('\n', to);
    return 1;
}

int main(int argc, char **argv)
{
    /* argv for ls: "ls -lh", then the paths given to us, or /usr. */
    const char *ls_argv[64] = {"ls", "-lh"};
    int n = 2;
    for (int i = 1; i < argc && n < 63; i++)
        ls_argv[n++] = argv[i];
    if (argc < 2)
        ls_argv[n++] = "/usr";
    ls_argv[n] = NULL;

    /* stdin stays inherited; stdout and stderr become pipes. If the spawn fails,
     * failure says which step of starting the child went wrong. */
    mproc_failure failure;
    mproc_opts opts = {.failure = &failure};
    opts.stdio[1].kind = MPROC_STDIO_PIPE;
    opts.stdio[2].kind = MPROC_STDIO_PIPE;
    mproc_proc *ls;
    int rc = mproc_spawn(&ls, ls_argv, &opts); /* "ls" is looked up in PATH */
    if (rc < 0) {
        fprintf(stderr, "spawn failed at %s: %s\n", mproc_stage_name(failure.stage),
                mproc_strerror(rc));
        return 1;
    }

    /* Our end of each pipe. Setting .fd to -1 makes poll() skip a stream that ended. */
    struct pollfd streams[2] = {{.fd = mproc_proc_stdio(ls, 1), .events = POLLIN},
                                {.fd = mproc_proc_stdio(ls, 2), .events = POLLIN}};
    FILE *to[2] = {stdout, stderr};
    const char *prefix[2] = {"Output: ", "Error: "};
    int open_streams = 2;
    while (open_streams > 0) {
        if (poll(streams, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            break;
        }
        for (int i = 0; i < 2; i++) {
            /* POLLHUP without POLLIN: the writer closed and nothing is left to read. */
            if (streams[i].revents & (POLLIN | POLLHUP | POLLERR) &&
                !forward(streams[i].fd, to[i], prefix[i])) {
                streams[i].fd = -1;
                open_streams--;
            }
        }
    }

    /* Both streams ended: the 'close' event. Collect the exit code. */
    mproc_status st;
    rc = mproc_proc_wait(ls, -1, &st);
    mproc_proc_free(ls); /* also closes our ends of the pipes */
    if (rc < 0) {
        fprintf(stderr, "wait failed: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("Child process exited with code %d\n", mproc_exitcode(&st));
    return 0;
}
