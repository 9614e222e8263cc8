/* 07_exec_capture: run a command to completion and get its output as strings.
 *
 * Seed:  Node's exec('node -v', callback) buffers stdout and stderr and hands them over
 *        when the command has ended.
 * mproc: mproc_run() does the same without a shell and without an event loop: it feeds
 *        stdin, captures both streams with no pipe deadlock, and can cap the output and
 *        stop the command at a timeout.
 */
#include <mproc.h>
#include <stdio.h>

int main(void)
{
    const char *argv[] = {"uname", "-s", NULL}; /* exists everywhere, unlike node */
    mproc_run_opts ropts = {.timeout_ms = 5000, .max_output = 1 << 20};
    mproc_result res;
    int rc = mproc_run(argv, NULL, &ropts, &res);
    if (rc < 0 && rc != MPROC_ETIMEDOUT) {
        /* The command could not run at all (res is zeroed: nothing to free). */
        fprintf(stderr, "Error: %s\n", mproc_strerror(rc));
        return 1;
    }
    if (rc == MPROC_ETIMEDOUT)
        fprintf(stderr, "Error: timed out\n");
    if (res.err_len > 0)
        fprintf(stderr, "Stderr: %s", res.err);
    printf("Stdout: %s", res.out); /* captured text is NUL-terminated */
    printf("Exit code: %d\n", mproc_exitcode(&res.status));
    mproc_result_free(&res);
    return rc == 0 ? 0 : 1;
}
