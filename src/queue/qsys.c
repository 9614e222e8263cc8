/* qsys.c: the queue's contact with the kernel and with other processes' lives: shared
 * futex waits and wakes, owner-pid locks that a survivor can take over from a dead holder,
 * the liveness check behind every recovery, the registry of processes using the queue,
 * and the descriptor behind mproc_queue_fd().
 *
 * It must not block without a deadline, and must not trust a single wake-up: every futex
 * wait here is a bounded slice after which the caller re-checks the state and the owners.
 * The futex calls are raw syscalls with the shared (non-PRIVATE) ops because the words live
 * in memory mapped by several processes; they move to src/sys once the sync layer lands. */
#include "queue/queue_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sys/sys.h"

int64_t mproc__q_dl_at(struct qdl *d, int64_t now_ns)
{
    if (d->at == 0)
        d->at = d->timeout_ms < 0 ? INT64_MAX : now_ns + (int64_t)d->timeout_ms * 1000000;
    return d->at;
}

int64_t mproc__q_dl(struct qdl *d)
{
    return d->at ? d->at : mproc__q_dl_at(d, mproc__now_ns());
}

void mproc__q_pause(unsigned spins)
{
    for (unsigned i = 0; i < spins; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#else
        atomic_signal_fence(memory_order_seq_cst);
#endif
    }
}

/* Sleeps while *w == val, until woken, a signal, or abs_ns (CLOCK_MONOTONIC) capped to one
 * slice from now. Returns 0 when it may be worth re-checking, MPROC_ETIMEDOUT if abs_ns
 * has passed. FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so EINTR and
 * spurious returns never stretch the wait. */
int mproc__q_futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t abs_ns)
{
    int64_t now = mproc__now_ns();
    if (now >= abs_ns)
        return MPROC_ETIMEDOUT;
    int64_t until = abs_ns - now > Q_SLICE_NS ? now + Q_SLICE_NS : abs_ns;
    (void)mproc__futex_wait(w, val, until);
    return 0;
}

/* Reads state letter and start time (field 22) of /proc/PID/stat. 0, or -errno. */
static int proc_stat(uint32_t pid, char *state, uint64_t *start)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    return mproc__stat_read(path, state, start);
}

/* 1 if pid is gone, a zombie, or a new process that reused the pid of a registered user of
 * this queue (its start time differs from every registration under that pid). A process we
 * cannot inspect is taken as alive: waiting is safe, stealing from the living is not. */
int mproc__q_pid_dead(struct qshm *h, uint32_t pid)
{
    if (pid == 0)
        return 1;
    char st;
    uint64_t start;
    int r = proc_stat(pid, &st, &start);
    if (r == -ENOENT || r == -ESRCH)
        return 1;
    if (r < 0)
        return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    if (st == 'Z' || st == 'X' || st == 'x')
        return 1;
    int seen = 0;
    for (unsigned i = 0; i < Q_REG_MAX; i++) {
        if (atomic_load(&h->reg[i].pid) != pid)
            continue;
        uint64_t s = atomic_load(&h->reg[i].start);
        if (s == start || s == 0)
            return 0;
        seen = 1;
    }
    return seen;
}

static int reg_claim(struct qshm *h, unsigned i, uint32_t cur, uint32_t me, uint64_t start)
{
    if (!atomic_compare_exchange_strong(&h->reg[i].pid, &cur, me))
        return 0;
    /* A dead process's unfinished tasks are lost: keep join's count right. Taking them out
     * before zeroing can lose them if we die in between (join then waits for its timeout),
     * never count them twice (join would return early). */
    int64_t p = atomic_exchange(&h->reg[i].pending, 0);
    if (p > 0)
        atomic_fetch_add(&h->lost, (uint64_t)p);
    atomic_store(&h->reg[i].start, start);
    return 1;
}

/* Gives this process an entry in the registry (used for pid-reuse checks and per-process
 * join accounting). A full registry only loses those refinements. */
void mproc__q_register(mproc_queue *q)
{
    uint32_t me = (uint32_t)getpid();
    char st;
    uint64_t start = 0;
    (void)proc_stat(me, &st, &start);
    q->local->pid = me;
    q->local->reg = 0;
    for (int pass = 0; pass < 2 && !q->local->reg; pass++) {
        for (unsigned i = 0; i < Q_REG_MAX; i++) {
            uint32_t cur = atomic_load(&q->h->reg[i].pid);
            if (pass == 0 ? cur != 0 : !mproc__q_pid_dead(q->h, cur))
                continue;
            if (reg_claim(q->h, i, cur, me, start)) {
                q->local->reg = i + 1;
                break;
            }
        }
    }
}

uint32_t mproc__q_me_slow(mproc_queue *q)
{
    if (q->local->pid == 0 || q->local->pid != (uint32_t)getpid())
        mproc__q_register(q);
    return q->local->pid;
}

struct qreg *mproc__q_myreg(mproc_queue *q)
{
    (void)q_me(q);
    return q->local->reg ? &q->h->reg[q->local->reg - 1] : NULL;
}

/* Takes an owner-pid lock. Held only for a few instructions, so waiters spin, then yield,
 * then nap; a holder that died (SIGKILL inside its critical section) is replaced by CAS on
 * its pid (reported in *dead), and every critical section is written so that its
 * successor can redo or repair it. Returns 0, or MPROC_ETIMEDOUT at the deadline (a holder that is
 * alive but stopped). */
int mproc__q_lock_slow(struct qshm *h, _Atomic uint32_t *lock, uint32_t me, struct qdl *dl,
                       uint32_t *dead)
{
    uint32_t cur;
    for (unsigned i = 1;; i++) {
        cur = atomic_load_explicit(lock, memory_order_relaxed);
        if (cur == 0 && atomic_compare_exchange_weak_explicit(lock, &cur, me, memory_order_acquire,
                                                              memory_order_relaxed))
            return 0;
        if (i < 64) {
            mproc__q_pause(8);
            continue;
        }
        if (i % 256 == 0) {
            uint32_t was = cur;
            if (cur != 0 && mproc__q_pid_dead(h, cur) &&
                atomic_compare_exchange_strong(lock, &cur, me)) {
                *dead = was;
                return 0;
            }
            if (mproc__now_ns() >= mproc__q_dl(dl))
                return MPROC_ETIMEDOUT;
        }
        if (i < 4096) {
            sched_yield();
        } else {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
}

/* Makes the poll descriptor readable. eventfd: add 1; FIFO: one byte (EAGAIN means a full
 * pipe, which is readable already). */
void mproc__q_sig_raise(const mproc_queue *q)
{
    uint64_t one = 1;
    ssize_t r = mproc__write(q->sigfd, &one, q->sig_fifo ? 1 : sizeof one);
    (void)r;
}

void mproc__q_sig_drain(const mproc_queue *q)
{
    char buf[256];
    while (mproc__read(q->sigfd, buf, q->sig_fifo ? sizeof buf : 8) > 0 && q->sig_fifo) {
    }
}
