/* spawner.c: a thread that lives as long as the process, for creating children from
 * threads other than the main thread.
 *
 * Why: PR_SET_PDEATHSIG fires when the *thread* that created the child exits, not the
 * process (prctl(2)'s warning). A child spawned from a short-lived worker thread would
 * be killed when that thread returns. So when a non-main thread creates a child tied to
 * our life, the clone/fork itself runs here instead; this thread never exits before the
 * process does. It is started on first use only (a program that spawns from its main
 * thread never gets it), blocks every signal, and holds no user state. After a fork the
 * child has no such thread; the owner pid tells, and a new one is started on demand. */
#include "proc/proc_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

struct spawner_req {
    int (*fn)(void *);
    void *arg;
    int result;
    int done;
};

static pthread_mutex_t sp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sp_cond = PTHREAD_COND_INITIALIZER;
static struct spawner_req *sp_req;
static pid_t sp_owner;
static pthread_once_t sp_once = PTHREAD_ONCE_INIT;

/* In a forked child the spawner thread does not exist and the lock may have been held
 * by a thread that does not exist either: start from scratch. */
static void sp_atfork_child(void)
{
    pthread_mutex_init(&sp_lock, NULL);
    pthread_cond_init(&sp_cond, NULL);
    sp_req = NULL;
    sp_owner = 0;
}

static void sp_register_atfork(void)
{
    pthread_atfork(NULL, NULL, sp_atfork_child);
}

static void *spawner_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&sp_lock);
    for (;;) {
        while (sp_req == NULL || sp_req->done)
            pthread_cond_wait(&sp_cond, &sp_lock);
        struct spawner_req *r = sp_req;
        pthread_mutex_unlock(&sp_lock);
        int res = r->fn(r->arg);
        pthread_mutex_lock(&sp_lock);
        r->result = res;
        r->done = 1;
        pthread_cond_broadcast(&sp_cond);
    }
    return NULL;
}

static int start_locked(void)
{
    pid_t me = getpid();
    if (sp_owner == me)
        return 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits a full mask */
    pthread_t t;
    int rc = pthread_create(&t, &attr, spawner_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return -rc;
    sp_owner = me;
    return 0;
}

int mproc__on_spawner_thread(int (*fn)(void *), void *arg)
{
    struct spawner_req req = {.fn = fn, .arg = arg, .result = 0, .done = 0};
    pthread_once(&sp_once, sp_register_atfork);
    pthread_mutex_lock(&sp_lock);
    int rc = start_locked();
    if (rc < 0) {
        pthread_mutex_unlock(&sp_lock);
        return rc;
    }
    /* One request at a time: wait for the slot. */
    while (sp_req != NULL && !sp_req->done)
        pthread_cond_wait(&sp_cond, &sp_lock);
    sp_req = &req;
    pthread_cond_broadcast(&sp_cond);
    while (!req.done)
        pthread_cond_wait(&sp_cond, &sp_lock);
    /* Another caller may already have taken the slot (it sees ours done): only clear
     * the slot if it still holds our request. */
    if (sp_req == &req)
        sp_req = NULL;
    pthread_cond_broadcast(&sp_cond);
    pthread_mutex_unlock(&sp_lock);
    return req.result;
}
