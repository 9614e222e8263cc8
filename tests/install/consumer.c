/* A program built against an installed mproc, through pkg-config and find_package. */
#include <mproc.h>
#include <stdio.h>

int main(void)
{
    mproc_proc *p;
    const char *argv[] = {"/bin/true", NULL};
    int rc = mproc_spawn(&p, argv, NULL);
    if (rc < 0) {
        fprintf(stderr, "spawn: %s\n", mproc_strerror(rc));
        return 1;
    }
    mproc_status st;
    rc = mproc_proc_wait(p, -1, &st);
    mproc_proc_free(p);
    printf("mproc %s: /bin/true exited %d\n", mproc_version(), mproc_exitcode(&st));
    return rc < 0 || mproc_exitcode(&st) != 0;
}
