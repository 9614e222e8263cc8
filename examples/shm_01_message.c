/* The seed's C++ shared-memory message: a child process writes a string into shared
 * memory and the parent reads it after the child has finished.
 *
 * In mproc: mproc_shm_new() maps a region that children forked afterwards share, so the
 * child's write is visible to the parent through the very same pointer. */
#include <mproc.h>
#include <stdio.h>
#include <string.h>

/* Runs in the child: its return value becomes the child's exit code. */
static int writer(void *mem)
{
    strcpy(mem, "Hello from the child process!");
    return 0;
}

int main(void)
{
    void *mem;
    int rc = mproc_shm_new(&mem, 4096); /* zero-filled, shared with future children */
    if (rc < 0) {
        fprintf(stderr, "shm: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_proc *child;
    rc = mproc_fork(&child, writer, mem, NULL);
    if (rc < 0) {
        fprintf(stderr, "fork: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_status st;
    mproc_proc_wait(child, -1, &st); /* the child has written and exited */
    mproc_proc_free(child);
    printf("Parent read: %s\n", (char *)mem);
    mproc_shm_free(mem);
    return 0;
}
