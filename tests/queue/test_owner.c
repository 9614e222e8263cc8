/* The liveness check behind every recovery: who counts as dead. Uses the queue's private
 * header to call the check directly with a registry built by hand. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue_int.h"

static struct qshm *fresh_registry(void)
{
    struct qshm *h = calloc(1, sizeof *h);
    assert_non_null(h);
    return h;
}

static void living_process_is_alive(void **state)
{
    (void)state;
    struct qshm *h = fresh_registry();
    assert_int_equal(mproc__q_pid_dead(h, (uint32_t)getpid()), 0);
    free(h);
}

static int exit_now(void *arg)
{
    (void)arg;
    return 0;
}

static void reaped_and_zombie_processes_are_dead(void **state)
{
    (void)state;
    struct qshm *h = fresh_registry();
    mproc_proc *p;
    assert_ok(mproc_fork(&p, exit_now, NULL, NULL));
    uint32_t pid = (uint32_t)mproc_proc_pid(p);
    for (int i = 0; i < 5000 && !mproc__q_pid_dead(h, pid); i++)
        usleep(1000); /* a zombie once it has exited: dead before it is reaped */
    assert_int_equal(mproc__q_pid_dead(h, pid), 1);
    assert_ok(mproc_proc_wait(p, 5000, NULL));
    assert_int_equal(mproc__q_pid_dead(h, pid), 1);
    assert_int_equal(mproc__q_pid_dead(h, 0), 1);
    mproc_proc_free(p);
    free(h);
}

static void reused_pid_is_dead(void **state)
{
    (void)state;
    /* The registry says this pid belonged to a process started at another time: the
     * process now behind the pid is not the owner, so the owner is dead. */
    struct qshm *h = fresh_registry();
    atomic_store(&h->reg[3].pid, (uint32_t)getpid());
    atomic_store(&h->reg[3].start, 1); /* boot time + 10 ms: not us */
    assert_int_equal(mproc__q_pid_dead(h, (uint32_t)getpid()), 1);
    free(h);
}

static void registered_process_is_alive(void **state)
{
    (void)state;
    /* Registering records our real start time, which the check then matches. */
    mproc_queue *q;
    assert_ok(mproc_queue_new(&q, NULL));
    assert_ok(mproc_queue_put(q, "x", 1, 0)); /* registered by now */
    struct qshm *h = fresh_registry();
    h->reg[0] = (struct qreg){0};
    FILE *f = fopen("/proc/self/stat", "re");
    assert_non_null(f);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')') + 2; /* field 3 */
    for (int field = 3; field < 22; field++)
        p = strchr(p, ' ') + 1;
    unsigned long long start = strtoull(p, NULL, 10);
    assert_true(start > 0);
    atomic_store(&h->reg[0].pid, (uint32_t)getpid());
    atomic_store(&h->reg[0].start, start);
    atomic_store(&h->reg[1].pid, (uint32_t)getpid());
    atomic_store(&h->reg[1].start, start + 1); /* a stale entry of an older owner */
    assert_int_equal(mproc__q_pid_dead(h, (uint32_t)getpid()), 0);
    free(h);
    mproc_queue_free(q);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(living_process_is_alive),
        cmocka_unit_test(reaped_and_zombie_processes_are_dead),
        cmocka_unit_test(reused_pid_is_dead),
        cmocka_unit_test(registered_process_is_alive),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
