/* held.c: the pipe ends mproc holds for its children, which no other child it forks may
 * keep a copy of.
 *
 * A forked child inherits every descriptor of its parent. If it kept the write end of a
 * sibling's stdin pipe, that sibling would never see end-of-file after the parent closes
 * its own copy; if it kept the write end of a stdout pipe that mproc_run is reading, the
 * run would never end. (Python's fork start method has both problems.) So every pipe mproc
 * makes for a child's stdio is created here and marked held until the parent closes it
 * or hands it to the caller, and mproc_fork's child closes every held descriptor
 * (except those passed on purpose) before it runs its function.
 *
 * The set is a bitmap in ordinary memory: a forked child reads the copy it got at the
 * fork. Its lock lives on the registry's wipe-on-fork page, so a child forked while
 * another thread held it finds it unlocked. Creating a pipe and marking it held, and
 * mproc_fork's fork itself, happen under that lock, so no child is ever forked between a
 * pipe's creation and its marking. */
#include "proc/proc_int.h"
#include "sys/sys.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORD_BITS (sizeof(unsigned long) * CHAR_BIT)

static unsigned long *held_bits; /* one bit per descriptor number */
static size_t held_words;
static size_t held_count; /* bits set: a child forked with none held skips the scan */

static int is_held(int fd)
{
    size_t w = (size_t)fd / WORD_BITS;
    return w < held_words && (held_bits[w] >> ((size_t)fd % WORD_BITS) & 1);
}

static int hold(int fd)
{
    size_t w = (size_t)fd / WORD_BITS;
    if (w >= held_words) {
        size_t n = held_words ? 2 * held_words : 4;
        while (n <= w)
            n *= 2;
        unsigned long *b = realloc(held_bits, n * sizeof *b);
        if (!b)
            return MPROC_ENOMEM;
        memset(b + held_words, 0, (n - held_words) * sizeof *b);
        held_bits = b;
        held_words = n;
    }
    if (!is_held(fd)) {
        held_bits[w] |= 1ul << ((size_t)fd % WORD_BITS);
        held_count++;
    }
    return 0;
}

static void unhold(int fd)
{
    if (fd >= 0 && is_held(fd)) {
        held_bits[(size_t)fd / WORD_BITS] &= ~(1ul << ((size_t)fd % WORD_BITS));
        held_count--;
    }
}

int mproc__held_pipe(int fds[2])
{
    pthread_mutex_t *m = mproc__registry_held_lock();
    if (m)
        pthread_mutex_lock(m);
    int rc = mproc__pipe(fds);
    if (rc == 0 && m && (hold(fds[0]) < 0 || hold(fds[1]) < 0)) {
        unhold(fds[0]);
        mproc__close(fds[0]);
        mproc__close(fds[1]);
        rc = MPROC_ENOMEM;
    }
    if (m)
        pthread_mutex_unlock(m);
    return rc;
}

void mproc__held_close(int fd)
{
    if (fd < 0)
        return;
    pthread_mutex_t *m = mproc__registry_held_lock();
    if (m)
        pthread_mutex_lock(m);
    unhold(fd); /* and close before anyone can get the number back and hold it */
    mproc__close(fd);
    if (m)
        pthread_mutex_unlock(m);
}

int mproc__held_release(int fd, int only_if_held)
{
    if (fd < 0)
        return -1;
    pthread_mutex_t *m = mproc__registry_held_lock();
    if (m)
        pthread_mutex_lock(m);
    int was = !m || is_held(fd);
    unhold(fd);
    if (m)
        pthread_mutex_unlock(m);
    return only_if_held && !was ? -1 : fd;
}

int mproc__held_has(int fd)
{
    if (fd < 0)
        return 0;
    pthread_mutex_t *m = mproc__registry_held_lock();
    if (!m)
        return 1; /* nothing is tracked: take every descriptor for still open */
    pthread_mutex_lock(m);
    int r = is_held(fd);
    pthread_mutex_unlock(m);
    return r;
}

void mproc__held_fork_begin(void)
{
    pthread_mutex_t *m = mproc__registry_held_lock();
    if (m)
        pthread_mutex_lock(m);
}

void mproc__held_fork_end(void)
{
    pthread_mutex_t *m = mproc__registry_held_lock();
    if (m)
        pthread_mutex_unlock(m);
}

/* In the forked child: async-signal-safe (system calls and this process's own memory). */
void mproc__held_drop_in_child(const int *keep, size_t nkeep)
{
    if (!held_count)
        return;
    size_t left = 0;
    for (size_t w = 0; w < held_words; w++) {
        unsigned long bits = held_bits[w], keep_bits = 0;
        while (bits) {
            unsigned b = (unsigned)__builtin_ctzl(bits);
            int fd = (int)(w * WORD_BITS + b);
            bits &= bits - 1;
            int passed = 0; /* passed on purpose: stays open, and held (handles show it) */
            for (size_t i = 0; i < nkeep && !passed; i++)
                passed = keep[i] == fd;
            if (passed) {
                keep_bits |= 1ul << b;
                left++;
            } else if (fd > 2) { /* 0..2 are the child's own stdio by now */
                (void)syscall(SYS_close, fd);
            }
        }
        if (held_bits[w] != keep_bits)
            held_bits[w] = keep_bits;
    }
    held_count = left;
}
