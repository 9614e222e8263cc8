/* Shared memory regions: anonymous, named and memfd; who unlinks; bad input. */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Forks a child that runs fn(arg) and _exits with its result; returns the exit code. */
static int run_child(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_name(char *buf, size_t n, const char *what)
{
    snprintf(buf, n, "mproc-test-%d-%s", (int)getpid(), what);
}

static int dev_shm_exists(const char *name)
{
    char path[300];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
    return stat(path, &st) == 0;
}

static int write_hello(void *mem)
{
    strcpy(mem, "hello from the child");
    return 0;
}

static void anon_region_is_shared_with_forked_child(void **state)
{
    (void)state;
    void *mem;
    assert_ok(mproc_shm_new(&mem, 4096));
    assert_int_equal(mproc_shm_size(mem), 4096);
    assert_int_equal(run_child(write_hello, mem), 0);
    assert_string_equal(mem, "hello from the child");
    mproc_shm_free(mem);
}

static void anon_region_is_zeroed_and_page_aligned(void **state)
{
    (void)state;
    unsigned char *mem;
    assert_ok(mproc_shm_new((void **)&mem, 10000));
    assert_int_equal((uintptr_t)mem % 4096, 0);
    for (size_t i = 0; i < 10000; i++)
        if (mem[i] != 0)
            fail_msg("byte %zu not zero", i);
    mproc_shm_free(mem);
}

static void bad_arguments_are_rejected(void **state)
{
    (void)state;
    void *mem = (void *)1;
    assert_code(mproc_shm_new(&mem, 0), MPROC_EINVAL);
    assert_null(mem);
    assert_code(mproc_shm_new(NULL, 64), MPROC_EINVAL);
    assert_code(mproc_shm_new(&mem, SIZE_MAX), MPROC_EINVAL);
    assert_code(mproc_shm_open(&mem, "x", 64, 0x80), MPROC_EINVAL);
    assert_code(mproc_shm_open(&mem, "", 64, MPROC_SHM_CREATE), MPROC_EINVAL);
    assert_code(mproc_shm_open(&mem, "a/b", 64, MPROC_SHM_CREATE), MPROC_EINVAL);
    assert_code(mproc_shm_open(&mem, NULL, 64, 0), MPROC_EINVAL);
    assert_code(mproc_shm_open(&mem, "x", 0, MPROC_SHM_CREATE), MPROC_EINVAL);
    assert_code(mproc_shm_memfd(&mem, 0, NULL), MPROC_EINVAL);
    assert_code(mproc_shm_map_fd(&mem, -1), MPROC_EBADF);
    assert_int_equal(mproc_shm_size(NULL), 0);
    mproc_shm_free(NULL);
}

static void named_create_then_attach_shares_memory(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "share");
    void *a, *b;
    assert_ok(mproc_shm_open(&a, name, 100, MPROC_SHM_CREATE));
    assert_ok(mproc_shm_open(&b, name, 0, 0));
    assert_ptr_not_equal(a, b);
    assert_int_equal(mproc_shm_size(b), 100);
    strcpy(a, "seen through another mapping");
    assert_string_equal(b, "seen through another mapping");
    mproc_shm_free(b);
    mproc_shm_free(a);
}

static void named_create_is_exclusive(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "excl");
    void *a, *b;
    assert_ok(mproc_shm_open(&a, name, 100, MPROC_SHM_CREATE));
    assert_code(mproc_shm_open(&b, name, 100, MPROC_SHM_CREATE), MPROC_EEXIST);
    mproc_shm_free(a);
}

static void named_attach_missing_is_enoent(void **state)
{
    (void)state;
    void *a;
    assert_code(mproc_shm_open(&a, "mproc-test-does-not-exist", 0, 0), MPROC_ENOENT);
}

static void named_attach_larger_than_region_is_einval(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "big");
    void *a, *b;
    assert_ok(mproc_shm_open(&a, name, 100, MPROC_SHM_CREATE));
    assert_code(mproc_shm_open(&b, name, 1 << 20, 0), MPROC_EINVAL);
    mproc_shm_free(a);
}

static int attach_and_free(void *name)
{
    void *m;
    if (mproc_shm_open(&m, name, 0, 0) != 0)
        return 1;
    strcpy(m, "attacher was here");
    mproc_shm_free(m);
    return 0;
}

static void named_attacher_free_keeps_the_name(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "keep");
    void *a;
    assert_ok(mproc_shm_open(&a, name, 100, MPROC_SHM_CREATE));
    assert_int_equal(run_child(attach_and_free, name), 0);
    assert_true(dev_shm_exists(name));
    assert_string_equal(a, "attacher was here");
    mproc_shm_free(a);
}

static void named_creator_free_unlinks(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "unlink");
    void *a, *b;
    assert_ok(mproc_shm_open(&a, name, 100, MPROC_SHM_CREATE));
    assert_ok(mproc_shm_open(&b, name, 0, 0));
    assert_true(dev_shm_exists(name));
    mproc_shm_free(a);
    assert_false(dev_shm_exists(name));
    strcpy(b, "mapping still valid"); /* the attacher's mapping outlives the name */
    assert_string_equal(b, "mapping still valid");
    mproc_shm_free(b);
    assert_code(mproc_shm_open(&b, name, 0, 0), MPROC_ENOENT);
}

static int child_frees_inherited(void *mem)
{
    mproc_shm_free(mem); /* a forked child is not the creator: unmaps only */
    return 0;
}

static void named_forked_child_free_does_not_unlink(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "fork");
    void *a;
    assert_ok(mproc_shm_open(&a, name, 100, MPROC_SHM_CREATE));
    assert_int_equal(run_child(child_frees_inherited, a), 0);
    assert_true(dev_shm_exists(name));
    mproc_shm_free(a);
    assert_false(dev_shm_exists(name));
}

static void named_random_name_is_private(void **state)
{
    (void)state;
    void *a, *b;
    assert_ok(mproc_shm_open(&a, NULL, 100, MPROC_SHM_CREATE));
    const char *name = mproc_shm_name(a);
    assert_non_null(name);
    assert_int_equal(strncmp(name, "/mproc-", 7), 0);
    assert_true(strlen(name) >= 7 + 24); /* 96 random bits in hex */
    char path[300];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_ok(mproc_shm_open(&b, NULL, 100, MPROC_SHM_CREATE));
    assert_string_not_equal(name, mproc_shm_name(b));
    mproc_shm_free(b);
    mproc_shm_free(a);
}

static void anon_region_has_no_name(void **state)
{
    (void)state;
    void *a;
    assert_ok(mproc_shm_new(&a, 10));
    assert_null(mproc_shm_name(a));
    mproc_shm_free(a);
}

static void unlink_removes_a_leftover_name(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "leftover");
    void *a;
    assert_ok(mproc_shm_open(&a, name, 100, MPROC_SHM_CREATE));
    assert_ok(mproc_shm_unlink(name));
    assert_false(dev_shm_exists(name));
    assert_code(mproc_shm_unlink(name), MPROC_ENOENT);
    mproc_shm_free(a); /* the name is gone already: free only unmaps */
}

static int map_fd_and_write(void *arg)
{
    int fd = *(int *)arg;
    void *m;
    if (mproc_shm_map_fd(&m, fd) != 0)
        return 1;
    if (mproc_shm_size(m) != 5000)
        return 2;
    strcpy(m, "through the memfd");
    mproc_shm_free(m);
    return 0;
}

static void memfd_descriptor_maps_in_another_process(void **state)
{
    (void)state;
    void *m;
    int fd;
    assert_ok(mproc_shm_memfd(&m, 5000, &fd));
    assert_true(fd >= 0);
    assert_int_equal(run_child(map_fd_and_write, &fd), 0);
    assert_string_equal(m, "through the memfd");
    void *again;
    assert_ok(mproc_shm_map_fd(&again, fd));
    assert_string_equal(again, "through the memfd");
    mproc_shm_free(again);
    close(fd);
    mproc_shm_free(m);
}

static void map_fd_of_a_plain_file_is_eproto(void **state)
{
    (void)state;
    char path[] = "/tmp/mproc-test-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(ftruncate(fd, 8192), 0);
    void *m;
    assert_code(mproc_shm_map_fd(&m, fd), MPROC_EPROTO);
    close(fd);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(anon_region_is_shared_with_forked_child),
        cmocka_unit_test(anon_region_is_zeroed_and_page_aligned),
        cmocka_unit_test(anon_region_has_no_name),
        cmocka_unit_test(bad_arguments_are_rejected),
        cmocka_unit_test(named_create_then_attach_shares_memory),
        cmocka_unit_test(named_create_is_exclusive),
        cmocka_unit_test(named_attach_missing_is_enoent),
        cmocka_unit_test(named_attach_larger_than_region_is_einval),
        cmocka_unit_test(named_attacher_free_keeps_the_name),
        cmocka_unit_test(named_creator_free_unlinks),
        cmocka_unit_test(named_forked_child_free_does_not_unlink),
        cmocka_unit_test(named_random_name_is_private),
        cmocka_unit_test(unlink_removes_a_leftover_name),
        cmocka_unit_test(memfd_descriptor_maps_in_another_process),
        cmocka_unit_test(map_fd_of_a_plain_file_is_eproto),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
