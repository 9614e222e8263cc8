/* The queue examples build, run and print what they promise. */
#include "harness.h"

#include <string.h>
#include <unistd.h>

static void run_example(const char *name, const char *want)
{
    const char *argv[] = {mproc_test_example(name), NULL};
    mproc_opts o = {.stdio = {{0}, {MPROC_STDIO_PIPE, 0}, {0}}};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &o));
    char out[4096];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(mproc_proc_stdio(p, 1), out + n, sizeof out - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 30000, &st));
    assert_int_equal(mproc_exitcode(&st), 0);
    assert_non_null(strstr(out, want));
    mproc_proc_free(p);
}

static void example_producer_consumer(void **state)
{
    (void)state;
    run_example("queue_01_producer_consumer", "Consumer received: Hello from producer\n");
}

static void example_joinable(void **state)
{
    (void)state;
    run_example("queue_02_joinable", "join: ok; 3000 items, sum 1501500");
}

static void example_named_between_exec_processes(void **state)
{
    (void)state;
    run_example("queue_03_named", "all workers reported");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(example_producer_consumer),
        cmocka_unit_test(example_joinable),
        cmocka_unit_test(example_named_between_exec_processes),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
