/* 05_spawn_ls: run a command and stream its stdout and stderr as they arrive.
 *
 * Seed:  Node's spawn('ls', ['-lh', '/usr']) with 'data' handlers on stdout and stderr
 *        and a 'close' handler that prints the exit code.
 * mproc: mproc_spawn() with both streams piped; mproc_proc_stream() calls back as output
 *        arrives, here line by line (Node hands over raw chunks, which can split a line
 *        in two). A command that cannot start fails in mproc_spawn() itself, saying
 *        why, instead of exiting with code 127.
 *
 * Usage: 05_spawn_ls [PATH...]   (default: /usr; try a missing path to see "Error:")
 */
#include <mproc.h>
#include <stdio.h>

/* The 'data' handler: called with each line of stdout or stderr as it arrives, and once
 * with len == 0 when that stream ends. A line ends in '\n' except perhaps the last. */
static int on_data(void *ctx, int which, const char *data, size_t len)
{
    (void)ctx;
    if (len == 0)
        return 0;
    FILE *to = which == MPROC_STDOUT ? stdout : stderr;
    fprintf(to, "%s%.*s", which == MPROC_STDOUT ? "Output: " : "Error: ", (int)len, data);
    if (data[len - 1] != '\n')
        fputc('\n', to);
    return 0; /* non-zero would stop streaming */
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
    opts.stdio[MPROC_STDOUT].kind = MPROC_STDIO_PIPE;
    opts.stdio[MPROC_STDERR].kind = MPROC_STDIO_PIPE;
    mproc_proc *ls;
    int rc = mproc_spawn(&ls, ls_argv, &opts); /* "ls" is looked up in PATH */
    if (rc < 0) {
        fprintf(stderr, "spawn failed at %s: %s\n", mproc_stage_name(failure.stage),
                mproc_strerror(rc));
        return 1;
    }

    /* Pump both pipes until both end (-1: no time limit). The descriptors are also
     * available, from mproc_proc_stdio(), for a poll() or epoll loop of your own. */
    mproc_stream_opts lines = {.flags = MPROC_STREAM_LINES}; /* zero: raw chunks */
    rc = mproc_proc_stream(ls, on_data, NULL, &lines, -1);

    /* Both streams ended: the 'close' event. Collect the exit code. */
    mproc_status st;
    if (rc == 0)
        rc = mproc_proc_wait(ls, -1, &st);
    mproc_proc_free(ls); /* kills and reaps ls if we stopped early */
    if (rc < 0) {
        fprintf(stderr, "failed: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("Child process exited with code %d\n", mproc_exitcode(&st));
    return 0;
}
