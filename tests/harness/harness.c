/* harness.c: runs one cmocka case (or all) and checks what every case leaves behind. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHM_MAX 256

static struct {
    int fds;
    char shm[SHM_MAX][NAME_MAX + 1];
    int nshm;
} before;

int mproc_test_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

static void list_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], target[300];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        target[len > 0 ? len : 0] = '\0';
        fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
    }
    closedir(d);
}

static int shm_snapshot(char names[][NAME_MAX + 1], int max)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(names[n++], NAME_MAX + 1, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

static int shm_was_there(const char *name)
{
    for (int i = 0; i < before.nshm; i++)
        if (strcmp(before.shm[i], name) == 0)
            return 1;
    return 0;
}

int64_t mproc_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mproc_test_pid_alive(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    /* A zombie that is not ours will be reaped by its parent: count it as gone. */
    return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

int mproc_test_wait_gone(int pid, int timeout_ms)
{
    int64_t end = mproc_test_now_ms() + timeout_ms;
    while (mproc_test_pid_alive(pid)) {
        if (mproc_test_now_ms() > end)
            return 0;
        usleep(5000);
    }
    return 1;
}

static const char *env_path(const char *var, const char *name)
{
    static char buf[4096];
    const char *dir = getenv(var);
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : ".", name);
    return buf;
}

const char *mproc_test_example(const char *name)
{
    return env_path("MPROC_EXAMPLES_DIR", name);
}

const char *mproc_test_bin(const char *name)
{
    return env_path("MPROC_TEST_BINDIR", name);
}

static int setup(void **state)
{
    (void)state;
    before.fds = mproc_test_fd_count();
    before.nshm = shm_snapshot(before.shm, SHM_MAX);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int bad = 0;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    /* WNOWAIT: look, do not reap, so a failure here does not hide what was left. */
    int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL);
    if (r == 0 && si.si_pid != 0) {
        fprintf(stderr, "harness: a child was left behind as a zombie: pid %d\n", si.si_pid);
        bad = 1;
    } else if (r == 0) {
        fprintf(stderr, "harness: a child was left behind, still running\n");
        bad = 1;
    } else if (errno != ECHILD) {
        fprintf(stderr, "harness: waitid: %s\n", strerror(errno));
        bad = 1;
    }
    int fds = mproc_test_fd_count();
    if (fds != before.fds) {
        fprintf(stderr, "harness: %d descriptors open before the case, %d after:\n", before.fds,
                fds);
        list_fds();
        bad = 1;
    }
    static char now[SHM_MAX][NAME_MAX + 1];
    int n = shm_snapshot(now, SHM_MAX);
    for (int i = 0; i < n; i++)
        if (!shm_was_there(now[i])) {
            fprintf(stderr, "harness: /dev/shm/%s left behind\n", now[i]);
            bad = 1;
        }
    if (bad) {
        /* Clean up so the next case in an all-cases run starts clean. */
        while (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | __WALL) == 0 && si.si_pid != 0)
            memset(&si, 0, sizeof si);
    }
    return bad ? -1 : 0;
}

/* Gives this test process (and its children) a /dev/shm of its own, so the check for
 * shared-memory objects left behind sees only this test's objects, not those of test
 * processes running beside it (ctest -j). Needs root (CI and the dev machines run as
 * root); elsewhere the check falls back to the shared /dev/shm, which is exact only when
 * tests run one at a time. */
static void private_dev_shm(void)
{
    if (getenv("MPROC_TEST_SHARED_SHM"))
        return;
    if (unshare(CLONE_NEWNS) != 0)
        return;
    /* "none" rather than NULL: valgrind checks both strings even where the kernel ignores them */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("mproc-test-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
        fprintf(stderr, "harness: no private /dev/shm (%s); leak checks may see other tests\n",
                strerror(errno));
}

int mproc_test_main(int argc, char **argv, const struct CMUnitTest *cases, size_t n)
{
    if (argc == 3 && strcmp(argv[1], "--expect-count") == 0) {
        /* ctest found this many cases in the source text; the executable must agree. */
        size_t want = (size_t)strtoul(argv[2], NULL, 10);
        if (want != n)
            fprintf(stderr, "%s: %zu cases compiled in, %zu registered with ctest\n", argv[0], n,
                    want);
        return want == n ? 0 : 1;
    }
    private_dev_shm();
    struct CMUnitTest *run = calloc(n, sizeof *run);
    if (!run)
        return 2;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        run[m] = cases[i];
        if (!run[m].setup_func)
            run[m].setup_func = setup;
        if (!run[m].teardown_func)
            run[m].teardown_func = teardown;
        m++;
    }
    if (m == 0) {
        fprintf(stderr, "%s: no test case named '%s'\n", argv[0], argc > 1 ? argv[1] : "");
        free(run);
        return 1;
    }
    const char *slash = strrchr(argv[0], '/');
    int rc = _cmocka_run_group_tests(slash ? slash + 1 : argv[0], run, m, NULL, NULL);
    free(run);
    return rc;
}
