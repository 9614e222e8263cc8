/* pool_test.h: the pool's test points, for tests only.
 *
 * Races between the parent publishing a job and a worker still acting on the one before
 * need a worker and the parent to stand at chosen places at the same moment: a test sets
 * mproc__pool_test_point to a function that sleeps there (it is inherited by the workers,
 * which are forked). Compiled into debug builds (the test presets) and into
 * MPROC_FAULT_INJECTION builds; release builds contain none of them. */
#ifndef MPROC_POOL_TEST_H
#define MPROC_POOL_TEST_H

enum mproc_pool_test_point {
    MPROC_PT_WORKER_GEN = 1, /* worker: read the job generation, not the job yet */
    MPROC_PT_WORKER_IDLE,    /* worker: ran its share, marked idle, not yet counted it */
    MPROC_PT_PUBLISH,        /* parent: job written, its generation not yet published */
    MPROC_PT_WORKER_ITEM,    /* worker: an item's start recorded, its index not yet */
    MPROC_PT_KILL,           /* parent: a worker is to be killed (timeout, cancel), not yet */
};

/* NULL in normal use; set only by tests. slot: the worker's, or -1 in the parent. */
extern void (*mproc__pool_test_point)(int point, int slot);

#if !defined(NDEBUG) || defined(MPROC_FAULT_INJECTION)
#define POOL_TP(point, slot)                                                                       \
    do {                                                                                           \
        if (__builtin_expect(mproc__pool_test_point != 0, 0))                                      \
            mproc__pool_test_point(point, slot);                                                   \
    } while (0)
#else
#define POOL_TP(point, slot) ((void)0)
#endif

#endif
