/* bench_sync: the cost of mproc's lock against its peers, in one run.
 * Prints "name median_ns" lines (nanoseconds per operation, median of REPS runs):
 *   lock_uncontended_*   acquire + release by one process, nobody else around
 *   counter_2proc_*      two processes each adding 1 to a shared counter under the lock;
 *                        ns per increment (wall time / total increments)
 *   counter_2proc_atomic the same with an atomic add and no lock (the floor)
 *   counter_2proc_python Python's Value.get_lock() (bench/peers/value_lock.py), if python3
 * Build and run (from the repository root, after `cmake --preset release && cmake --build
 * --preset release`):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/bench_sync.c build/release/libmproc.a \
 *      -lpthread -o build/bench_sync && build/bench_sync [bench/peers/value_lock.py]
 */
#include <mproc.h>

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPS 7

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

/* What is being measured: one of the three ways to protect the counter. */
enum kind { K_MPROC, K_PTHREAD, K_ATOMIC };

/* Each lock and each counter has a cache line of its own, so that both locks are
 * measured in the same layout: the lock word and the data it guards on separate lines,
 * as when a lock guards a structure larger than the rest of its line. */
struct shared {
    _Alignas(64) unsigned char lock_mem[MPROC_LOCK_SIZE]; /* mproc_lock placed here */
    _Alignas(64) pthread_mutex_t mutex;                   /* robust, process-shared */
    _Alignas(64) long counter;
    _Alignas(64) _Atomic long atomic_counter;
    _Alignas(64) _Atomic int go;
    mproc_lock *lock;
};

static void op(struct shared *s, enum kind k)
{
    switch (k) {
    case K_MPROC:
        mproc_lock_acquire(s->lock, -1);
        s->counter++;
        mproc_lock_release(s->lock);
        break;
    case K_PTHREAD:
        if (pthread_mutex_lock(&s->mutex) == EOWNERDEAD)
            pthread_mutex_consistent(&s->mutex);
        s->counter++;
        pthread_mutex_unlock(&s->mutex);
        break;
    case K_ATOMIC:
        atomic_fetch_add(&s->atomic_counter, 1);
        break;
    }
}

static double uncontended(struct shared *s, enum kind k, long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        op(s, k);
    return (now_ns() - t0) / (double)n;
}

static double two_procs(struct shared *s, enum kind k, long n)
{
    atomic_store(&s->go, 0);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            while (!atomic_load(&s->go))
                ;
            for (long j = 0; j < n; j++)
                op(s, k);
            _exit(0);
        }
    }
    usleep(10000); /* both children spinning on go */
    double t0 = now_ns();
    atomic_store(&s->go, 1);
    for (int i = 0; i < 2; i++)
        waitpid(kids[i], NULL, 0);
    return (now_ns() - t0) / (double)(2 * n);
}

static void report(const char *name, struct shared *s, enum kind k, int contended, long n)
{
    double v[REPS];
    for (int r = 0; r < REPS; r++)
        v[r] = contended ? two_procs(s, k, n) : uncontended(s, k, n);
    printf("%s %.1f\n", name, median(v, REPS));
    fflush(stdout);
}

static void python_peer(const char *script)
{
    if (access(script, R_OK) != 0 || system("python3 -c '' 2>/dev/null") != 0)
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 '%s' 2>/dev/null", script);
    FILE *f = popen(cmd, "re");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f))
        fputs(line, stdout); /* already "counter_2proc_python N" */
    pclose(f);
}

int main(int argc, char **argv)
{
    struct shared *s;
    if (mproc_shm_new((void **)&s, sizeof *s) != 0 ||
        mproc_lock_init(&s->lock, s, offsetof(struct shared, lock_mem), 0) != 0)
        return 1;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s->mutex, &a);

    report("lock_uncontended_mproc", s, K_MPROC, 0, 5000000);
    report("lock_uncontended_pthread_robust", s, K_PTHREAD, 0, 5000000);
    report("counter_2proc_mproc", s, K_MPROC, 1, 1000000);
    report("counter_2proc_pthread_robust", s, K_PTHREAD, 1, 1000000);
    report("counter_2proc_atomic", s, K_ATOMIC, 1, 1000000);
    python_peer(argc > 1 ? argv[1] : "bench/peers/value_lock.py");

    pthread_mutex_destroy(&s->mutex);
    mproc_lock_free(s->lock);
    mproc_shm_free(s);
    return 0;
}
