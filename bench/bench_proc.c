/* bench_proc.c: the C side of the process benchmarks. Times one repetition of one variant
 * (many iterations after a short untimed warm-up) and prints one machine-readable line:
 *
 *     <variant> <iterations> <microseconds per operation> <parent RSS in KiB>
 *
 * bench/run calls it once per repetition, round-robin across variants, and computes the
 * medians; this program computes no statistics of its own. Every iteration checks that the
 * child exited with code 0, so a broken variant fails loudly instead of timing an error path.
 * It must not print anything else on stdout: bench/run parses it.
 *
 * Usage: bench_proc [--rss-mib N] VARIANT ITERATIONS
 *   --rss-mib N  grow the parent's resident memory by N MiB (malloc, one write per page)
 *                before timing, to show which ways of starting a process copy the parent. */
#include <mproc.h>

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Two spellings of the same argv: mproc takes const strings, execve and posix_spawn don't. */
static const char *const true_argv_const[] = {"/bin/true", NULL};
static char true_path[] = "/bin/true";
static char *true_argv[] = {true_path, NULL};

/* Kept reachable so the compiler cannot drop the writes that make it resident. */
static volatile char *ballast;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_proc: %s: %s\n", what, detail);
    exit(1);
}

static void check_status(const char *variant, int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die(variant, "child did not exit with code 0");
}

static void wait_pid(const char *variant, pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die(variant, strerror(errno));
    check_status(variant, status);
}

static void check_mproc(const char *variant, int rc)
{
    if (rc < 0)
        die(variant, mproc_strerror(rc));
}

static void wait_mproc(const char *variant, mproc_proc *p)
{
    mproc_status st;
    check_mproc(variant, mproc_proc_wait(p, -1, &st));
    if (!st.exited || st.code != 0)
        die(variant, "child did not exit with code 0");
    mproc_proc_free(p);
}

/* ---- one operation per variant ------------------------------------------------------ */

static void op_spawn_mproc(void)
{
    mproc_proc *p;
    check_mproc("spawn-mproc", mproc_spawn(&p, true_argv_const, NULL));
    wait_mproc("spawn-mproc", p);
}

/* The vfork child only calls execve and _exit, both allowed after vfork. */
static pid_t start_vfork(void)
{
    pid_t pid = vfork();
    if (pid == 0) {
        execve(true_path, true_argv, environ);
        _exit(127);
    }
    return pid;
}

static void op_spawn_vfork(void)
{
    pid_t pid = start_vfork();
    if (pid < 0)
        die("spawn-vfork", strerror(errno));
    wait_pid("spawn-vfork", pid);
}

static void op_spawn_posix_spawn(void)
{
    pid_t pid;
    int rc = posix_spawn(&pid, true_path, NULL, NULL, true_argv, environ);
    if (rc != 0)
        die("spawn-posix_spawn", strerror(rc));
    wait_pid("spawn-posix_spawn", pid);
}

static void op_spawn_fork(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        execve(true_path, true_argv, environ);
        _exit(127);
    }
    if (pid < 0)
        die("spawn-fork", strerror(errno));
    wait_pid("spawn-fork", pid);
}

static int return_zero(void *arg)
{
    (void)arg;
    return 0;
}

static void op_fork_mproc(void)
{
    mproc_proc *p;
    check_mproc("fork-mproc", mproc_fork(&p, return_zero, NULL, NULL));
    wait_mproc("fork-mproc", p);
}

static void op_fork_raw(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid < 0)
        die("fork-raw", strerror(errno));
    wait_pid("fork-raw", pid);
}

static const struct variant {
    const char *name;
    void (*op)(void);
} variants[] = {
    {"spawn-mproc", op_spawn_mproc},
    {"spawn-vfork", op_spawn_vfork},
    {"spawn-posix_spawn", op_spawn_posix_spawn},
    {"spawn-fork", op_spawn_fork},
    {"fork-mproc", op_fork_mproc},
    {"fork-raw", op_fork_raw},
};

/* ---- harness ------------------------------------------------------------------------ */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    long size = 0, resident = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void grow_rss(long mib)
{
    size_t bytes = (size_t)mib << 20;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    ballast = malloc(bytes);
    if (!ballast)
        die("--rss-mib", "malloc failed");
    for (size_t i = 0; i < bytes; i += page)
        ballast[i] = 1;
}

static long parse_long(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0)
        die(what, "expected a non-negative integer");
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_proc [--rss-mib N] VARIANT ITERATIONS\nvariants:");
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        fprintf(stderr, " %s", variants[i].name);
    fputc('\n', stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    long rss_mib = 0;
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--rss-mib") == 0) {
        rss_mib = parse_long(argv[a + 1], "--rss-mib");
        a += 2;
    }
    if (argc - a != 2)
        usage();
    const struct variant *v = NULL;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        if (strcmp(argv[a], variants[i].name) == 0)
            v = &variants[i];
    if (!v)
        usage();
    long iters = parse_long(argv[a + 1], "ITERATIONS");
    if (iters < 1)
        usage();
    if (rss_mib > 0)
        grow_rss(rss_mib);
    long warmup = iters / 10 < 3 ? 3 : iters / 10;
    for (long i = 0; i < warmup; i++)
        v->op();
    double t0 = now_us();
    for (long i = 0; i < iters; i++)
        v->op();
    double per_op = (now_us() - t0) / (double)iters;
    printf("%s %ld %.3f %ld\n", v->name, iters, per_op, rss_kib());
    return 0;
}
