/* main.c: the `mproc` command: dispatches `mproc run ...` (the parallel job runner),
 * `mproc --help` and `mproc --version`. Everything else lives in the other files. */
#include "cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mproc.h>

/* With 0, 1 or 2 closed by whoever started us, the next descriptor we open (a pipe, the
 * signalfd) would land there and be taken for stdin or stdout: fill them with /dev/null.
 * Close-on-exec is harmless: jobs get their stdio set up explicitly. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nfd < 0)
            exit(CLI_EXIT_ERROR);
        if (nfd != fd) { /* a lower slot was free: this one is still closed */
            close(nfd);
            exit(CLI_EXIT_ERROR);
        }
    }
}

int main(int argc, char **argv)
{
    ensure_std_fds();
    if (argc < 2) {
        cli_usage(2);
        return CLI_EXIT_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_usage(1);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mproc %s\n", mproc_version());
        return 0;
    }
    if (strcmp(argv[1], "run") != 0)
        cli_die("unknown command '%s' (try: mproc run --help)", argv[1]);
    struct cli_opts o;
    cli_opts_parse(&o, argc - 1, argv + 1);
    int status = cli_run(&o);
    cli_opts_free(&o);
    fflush(stdout);
    return status;
}
