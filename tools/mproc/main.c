/* main.c: the `mproc` command: dispatches `mproc run ...` (the parallel job runner),
 * `mproc --help` and `mproc --version`. Everything else lives in the other files. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include <mproc.h>

int main(int argc, char **argv)
{
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
