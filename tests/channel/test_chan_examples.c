/* The channel examples run and print what their header comments promise. */
#include "harness.h"

#include <string.h>
#include <unistd.h>

/* Runs a built example with stdout piped (mproc_spawn: this branch has no mproc_run). */
static void run_example(const char *name, const char *want)
{
    const char *argv[] = {mproc_test_example(name), NULL};
    mproc_opts o = {.stdio = {{0, 0}, {MPROC_STDIO_PIPE, 0}, {0, 0}}};
    mproc_proc *p;
    assert_ok(mproc_spawn(&p, argv, &o));
    char out[4096];
    size_t n = 0;
    ssize_t r;
    int fd = mproc_proc_stdio(p, 1);
    while (n < sizeof out - 1 && (r = read(fd, out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    mproc_status st;
    assert_ok(mproc_proc_wait(p, 20000, &st));
    mproc_proc_free(p);
    if (!st.exited || st.code != 0 || strcmp(out, want) != 0)
        fail_msg("%s: exited %d code %d\nstdout:\n%s", name, st.exited, st.code, out);
}

static void example_pipe_message(void **state)
{
    (void)state;
    run_example("chan_01_pipe_message", "Child received: Hello from parent\n");
}

static void example_node_fork_messages(void **state)
{
    (void)state;
    run_example("chan_02_node_fork_messages", "CHILD got message: {\"hello\":\"world\"}\n"
                                              "PARENT got message: {\"foo\":\"bar\"}\n");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(example_pipe_message),
        cmocka_unit_test(example_node_fork_messages),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
