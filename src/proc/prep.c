/* prep.c: the parent's half of creating a child: validate mproc_opts and prepare
 * everything the child will need, so that the child (child.c) never allocates, searches
 * or opens anything. Pipes and /dev/null are opened close-on-exec here; PATH is searched
 * here (execvp's rules, applied by the child to the candidate list); pass_fds are sorted
 * here so the child can close the gaps between them with one close_range each.
 * Must not create a process or change any process-wide state. */
#include "proc/proc_int.h"
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

void mproc__prep_init(struct mproc__prep *pp)
{
    memset(pp, 0, sizeof *pp);
    for (int i = 0; i < 3; i++) {
        pp->parent_end[i] = pp->child_end[i] = -1;
        pp->c.src[i] = -1;
    }
    pp->devnull = -1;
    pp->c.report_fd = -1;
}

void mproc__prep_release(struct mproc__prep *pp, int keep_parent_ends)
{
    for (int i = 0; i < 3; i++) {
        mproc__held_close(pp->child_end[i]);
        if (!keep_parent_ends)
            mproc__held_close(pp->parent_end[i]);
    }
    mproc__close(pp->devnull);
    free(pp->keep);
    free(pp->paths);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int check_opts(const mproc_opts *o)
{
    if (o->flags & ~MPROC_FLAGS_ALL)
        return MPROC_EINVAL;
    if (o->kill_after_ms < 0 || (o->cpu_set && o->cpu_set_size == 0))
        return MPROC_EINVAL;
    if ((o->pass_fds_count && !o->pass_fds) || (o->rlimits_count && !o->rlimits))
        return MPROC_EINVAL;
    if (o->nice < -40 || o->nice > 40)
        return MPROC_EINVAL;
    for (size_t i = 0; i < o->rlimits_count; i++)
        if (o->rlimits[i].resource < 0 || o->rlimits[i].resource >= RLIM_NLIMITS ||
            o->rlimits[i].soft > o->rlimits[i].hard)
            return MPROC_EINVAL;
    for (size_t i = 0; i < o->pass_fds_count; i++) {
        if (o->pass_fds[i] < 3)
            return MPROC_EINVAL;
        if (!mproc__fd_valid(o->pass_fds[i]))
            return MPROC_EBADF;
    }
    for (int i = 0; i < 3; i++) {
        int k = o->stdio[i].kind;
        if (k < MPROC_STDIO_INHERIT || k > MPROC_STDIO_STDOUT ||
            (k == MPROC_STDIO_STDOUT && i != 2))
            return MPROC_EINVAL;
        if (k == MPROC_STDIO_FD && !mproc__fd_valid(o->stdio[i].fd))
            return MPROC_EBADF;
    }
    return 0;
}

static int prep_stdio(struct mproc__prep *pp, const mproc_opts *o)
{
    for (int i = 0; i < 3; i++) {
        switch (o->stdio[i].kind) {
        case MPROC_STDIO_NULL:
            if (pp->devnull < 0) {
                pp->devnull = mproc__open("/dev/null", O_RDWR, 0);
                if (pp->devnull < 0)
                    return pp->devnull;
            }
            pp->c.src[i] = pp->devnull;
            break;
        case MPROC_STDIO_PIPE: {
            int fds[2];
            int rc = mproc__held_pipe(fds); /* see held.c */
            if (rc < 0)
                return rc;
            /* stdin: the child reads fds[0]; stdout/stderr: the child writes fds[1]. */
            pp->child_end[i] = i == 0 ? fds[0] : fds[1];
            pp->parent_end[i] = i == 0 ? fds[1] : fds[0];
            pp->c.src[i] = pp->child_end[i];
            break;
        }
        case MPROC_STDIO_FD:
            pp->c.src[i] = o->stdio[i].fd;
            break;
        case MPROC_STDIO_STDOUT:
            pp->c.src[i] = -2;
            break;
        default:
            break;
        }
    }
    return 0;
}

static const char *env_lookup(const char *const *env, const char *key)
{
    size_t n = strlen(key);
    for (; env && *env; env++)
        if (strncmp(*env, key, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* PATH is searched here, in the parent; the child tries the candidates in order. */
int mproc__prep_paths(struct mproc__prep *pp, const char *file, const mproc_opts *o)
{
    if ((o->flags & MPROC_NO_PATH) || strchr(file, '/')) {
        pp->one_path[0] = file;
        pp->one_path[1] = NULL;
        pp->c.paths = pp->one_path;
        return 0;
    }
    const char *path = o->env ? env_lookup(o->env, "PATH") : getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    size_t ndirs = 1, flen = strlen(file);
    for (const char *s = path; *s; s++)
        ndirs += *s == ':';
    size_t bytes = (ndirs + 1) * sizeof(char *) + strlen(path) + ndirs * (flen + 3);
    pp->paths = malloc(bytes);
    if (!pp->paths)
        return MPROC_ENOMEM;
    char *out = (char *)(pp->paths + ndirs + 1);
    size_t k = 0;
    for (const char *s = path;; s++) {
        const char *e = strchrnul(s, ':');
        size_t dlen = (size_t)(e - s);
        pp->paths[k++] = out;
        if (dlen == 0) { /* an empty entry means the current directory */
            *out++ = '.';
        } else {
            memcpy(out, s, dlen);
            out += dlen;
        }
        *out++ = '/';
        memcpy(out, file, flen + 1);
        out += flen + 1;
        if (*e == '\0')
            break;
        s = e;
    }
    pp->paths[k] = NULL;
    pp->c.paths = (const char *const *)pp->paths;
    return 0;
}

int mproc__prep_common(struct mproc__prep *pp, const mproc_opts *o)
{
    int rc = check_opts(o);
    if (rc < 0)
        return rc;
    pp->c.cwd = o->cwd;
    pp->c.flags = o->flags;
    pp->c.rlimits = o->rlimits;
    pp->c.nrlimits = o->rlimits_count;
    pp->c.cpu_set = o->cpu_set;
    pp->c.cpu_set_size = o->cpu_set_size;
    pp->c.parent = (o->flags & MPROC_DETACHED) ? 0 : mproc__self_pid();
    if (o->nice) {
        errno = 0;
        int cur = getpriority(PRIO_PROCESS, 0);
        if (cur == -1 && errno)
            return -errno;
        int v = cur + o->nice;
        pp->c.set_nice = 1;
        pp->c.nice_value = v < -20 ? -20 : v > 19 ? 19 : v;
    }
    if (o->pass_fds_count) {
        pp->keep = malloc(o->pass_fds_count * sizeof(int));
        if (!pp->keep)
            return MPROC_ENOMEM;
        memcpy(pp->keep, o->pass_fds, o->pass_fds_count * sizeof(int));
        qsort(pp->keep, o->pass_fds_count, sizeof(int), cmp_int);
        pp->c.keep = pp->keep;
        pp->c.nkeep = o->pass_fds_count;
    }
    return prep_stdio(pp, o);
}
