/* chan_02_node_fork_messages: Node's child_process.fork() with messages both ways.
 *
 * Node:                                         here:
 *   const n = fork('child.js');                   spawn this program again, its channel
 *   n.on('message', m => log('PARENT got', m));   descriptor in MPROC_CHANNEL_FD
 *   n.send({ hello: 'world' });                   mproc_chan_send / mproc_chan_recv
 *   // child.js
 *   process.on('message', m => log('CHILD got', m));
 *   process.send({ foo: 'bar' });                 mproc_chan_from_env in the child
 *
 *   $ ./chan_02_node_fork_messages
 *   CHILD got message: {"hello":"world"}
 *   PARENT got message: {"foo":"bar"}
 */
#define _POSIX_C_SOURCE 200809L /* readlink */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mproc.h>

extern char **environ;

static int say(mproc_chan *c, const char *text)
{
    int r = mproc_chan_send(c, text, strlen(text), 5000);
    if (r < 0)
        fprintf(stderr, "send: %s\n", mproc_strerror(r));
    return r;
}

static int hear(mproc_chan *c, const char *who)
{
    void *buf;
    size_t len;
    int r = mproc_chan_recv(c, &buf, &len, 5000);
    if (r < 0) {
        fprintf(stderr, "%s: recv: %s\n", who, mproc_strerror(r));
        return r;
    }
    printf("%s got message: %.*s\n", who, (int)len, (char *)buf);
    fflush(stdout);
    free(buf);
    return 0;
}

/* The child: like a module started by fork(), it finds its channel in the environment. */
static int child_main(mproc_chan *c)
{
    int r = hear(c, "CHILD");
    if (r == 0)
        r = say(c, "{\"foo\":\"bar\"}");
    mproc_chan_free(c);
    return r < 0 ? 1 : 0;
}

/* environ plus "MPROC_CHANNEL_FD=<fd>" (Node adds NODE_CHANNEL_FD the same way). */
static char **child_env(char *var)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (env) {
        memcpy(env, environ, n * sizeof *env);
        env[n] = var;
    }
    return env;
}

int main(int argc, char **argv)
{
    (void)argc;
    mproc_chan *c;
    if (mproc_chan_from_env(&c) == 0)
        return child_main(c);

    mproc_chan *parent_end, *child_end;
    int r = mproc_chan_pair(&parent_end, &child_end);
    if (r < 0)
        return fprintf(stderr, "chan_pair: %s\n", mproc_strerror(r)), 1;
    int fd = mproc_chan_child_fd(child_end);
    char var[64], self[4096];
    snprintf(var, sizeof var, "%s=%d", MPROC_CHAN_ENV, fd);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char **env = child_env(var);
    const char *cargv[] = {n > 0 ? self : argv[0], NULL};
    mproc_opts o = {.env = (const char *const *)env, .pass_fds = &fd, .pass_fds_count = 1};
    mproc_proc *p;
    r = env ? mproc_spawn(&p, cargv, &o) : MPROC_ENOMEM;
    free(env);
    mproc_chan_free(child_end); /* the child has it now */
    if (r < 0)
        return fprintf(stderr, "spawn: %s\n", mproc_strerror(r)), 1;
    if ((r = say(parent_end, "{\"hello\":\"world\"}")) == 0)
        r = hear(parent_end, "PARENT");
    mproc_status st;
    mproc_proc_wait(p, -1, &st);
    mproc_proc_free(p);
    mproc_chan_free(parent_end);
    return r < 0 ? 1 : mproc_exitcode(&st);
}
