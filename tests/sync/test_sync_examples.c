/* The shm and sync examples run and say what they should. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What an example printed (mproc_run would do this; it is not on this branch's base). */
typedef struct output {
    char *out;
    size_t out_len;
} output;

static void run_example(const char *name, output *r)
{
    const char *argv[] = {mproc_test_example(name), NULL};
    mproc_opts o = {.stdio = {{0}, {.kind = MPROC_STDIO_PIPE}, {0}}};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &o));
    size_t cap = 4096;
    r->out = malloc(cap);
    r->out_len = 0;
    ssize_t n;
    while ((n = read(mproc_proc_stdio(p, 1), r->out + r->out_len, cap - 1 - r->out_len)) > 0)
        r->out_len += (size_t)n;
    r->out[r->out_len] = '\0';
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 30000, &st));
    mproc_proc_free(p);
    assert_int_equal(mproc_exitcode(&st), 0);
}

static void output_free(output *r)
{
    free(r->out);
}

static void example_shm_message(void **state)
{
    (void)state;
    output r;
    run_example("shm_01_message", &r);
    assert_string_equal(r.out, "Parent read: Hello from the child process!\n");
    output_free(&r);
}

static void example_semaphore_shm(void **state)
{
    (void)state;
    output r;
    run_example("sync_01_semaphore_shm", &r);
    assert_string_equal(r.out, "Parent read: Message written by the child under a semaphore\n");
    output_free(&r);
}

static void example_value_increment(void **state)
{
    (void)state;
    output r;
    run_example("sync_02_value_increment", &r);
    assert_string_equal(r.out, "Shared value: 5\n");
    output_free(&r);
}

static void example_lock_printing(void **state)
{
    (void)state;
    output r;
    run_example("sync_03_lock_printing", &r);
    /* any order, but whole lines */
    assert_int_equal(r.out_len, strlen("hello\nworld\nfrom mproc\n"));
    assert_non_null(strstr(r.out, "hello\n"));
    assert_non_null(strstr(r.out, "world\n"));
    assert_non_null(strstr(r.out, "from mproc\n"));
    output_free(&r);
}

static void example_deadlock(void **state)
{
    (void)state;
    output r;
    run_example("sync_04_deadlock", &r);
    assert_non_null(strstr(r.out, ": MPROC_EDEADLK (deadlock detected"));
    assert_non_null(strstr(r.out, ": got both locks\n"));
    assert_non_null(strstr(r.out, "deadlock avoided\n"));
    output_free(&r);
}

static void example_robust_lock(void **state)
{
    (void)state;
    output r;
    run_example("sync_05_robust_lock", &r);
    assert_non_null(strstr(r.out, "next acquire: MPROC_EOWNERDEAD\n"));
    assert_non_null(strstr(r.out, "marked consistent\n"));
    assert_non_null(strstr(r.out, "acquire after repair: ok, debit 100 == credit 100\n"));
    output_free(&r);
}

int main(int argc, char **argv)
{
    /* one case per line: the build finds them line by line */
    /* clang-format off */
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(example_shm_message),
        cmocka_unit_test(example_semaphore_shm),
        cmocka_unit_test(example_value_increment),
        cmocka_unit_test(example_lock_printing),
        cmocka_unit_test(example_deadlock),
        cmocka_unit_test(example_robust_lock),
    };
    /* clang-format on */
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
