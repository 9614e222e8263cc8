/* spawn_floor.c: the floor for `mproc run`: N runs of a command with P at a time, by a
 * bare posix_spawn + wait loop (no output capture, no bookkeeping). Like `mproc run`,
 * `xargs -n1` and GNU parallel, it appends one argument (the job number) to the command:
 * that matters, coreutils' true sets up its locale only when given an argument.
 * usage: spawn_floor N P COMMAND [ARGS...]   Built and run by bench/bench_cli.sh. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s N P COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    long n = atol(argv[1]), p = atol(argv[2]), running = 0, started = 0;
    int nargs = argc - 3;
    char **args = calloc((size_t)nargs + 2, sizeof *args);
    char num[32];
    if (!args)
        return 1;
    memcpy(args, argv + 3, (size_t)nargs * sizeof *args);
    args[nargs] = num;
    while (started < n || running > 0) {
        while (running < p && started < n) {
            pid_t pid;
            snprintf(num, sizeof num, "%ld", started + 1);
            if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0) {
                perror("posix_spawn");
                return 1;
            }
            started++;
            running++;
        }
        int st;
        if (wait(&st) > 0)
            running--;
    }
    free(args);
    return 0;
}
