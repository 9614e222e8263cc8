/* queue_test.h: the queue's fault-injection points, for tests only.
 *
 * Random kills mostly miss the few instructions that matter, so tests aim at them: a test
 * sets mproc__queue_fault_point to a function that makes the process die (raise(SIGKILL) or
 * _exit) when it is called with the chosen point, then calls put or get. The points are
 * compiled into debug builds (the test presets) and into MPROC_FAULT_INJECTION builds;
 * release builds (NDEBUG without MPROC_FAULT_INJECTION) contain none of them. */
#ifndef MPROC_QUEUE_TEST_H
#define MPROC_QUEUE_TEST_H

enum mproc_queue_fault {
    MPROC_QF_PUT_LOCKED = 1,     /* space claimed, producer lock still held */
    MPROC_QF_PUT_PAD_LOCKED,     /* wrap filler written, record not yet, lock held */
    MPROC_QF_PUT_CLAIMED,        /* space claimed, lock released, nothing copied */
    MPROC_QF_PUT_MIDCOPY,        /* half the payload copied */
    MPROC_QF_PUT_BEFORE_COMMIT,  /* payload copied, not committed */
    MPROC_QF_PUT_AFTER_COMMIT,   /* committed, consumers not yet woken */
    MPROC_QF_RECLAIM_LOCKED,     /* reclaiming space, producer lock held */
    MPROC_QF_GET_LOCKED,         /* message marked taken, consumer lock held */
    MPROC_QF_GET_TAKEN,          /* message taken, lock released, nothing copied */
    MPROC_QF_GET_MIDCOPY,        /* half the payload copied out */
    MPROC_QF_GET_BEFORE_DONE,    /* copied, space not yet released */
    MPROC_QF_GET_AFTER_DONE,     /* space released, producers not yet woken */
    MPROC_QF_SKIP_LOCKED,        /* skipping a dead producer's record, consumer lock held */
    MPROC_QF_PUT_UNPUBLISHED,    /* claim counted, tail not yet moved, producer lock held */
    MPROC_QF_GET_INLOCK_MIDCOPY, /* small message half copied out, consumer lock held */
    MPROC_QF_GET_INLOCK_TAKEN,   /* small message copied, head moved, consumer lock held */
    MPROC_QF_PUT_INLOCK_MIDCOPY, /* small message half copied in, nothing claimed, lock held */
    MPROC_QF_GET_HEAD_MOVED,     /* head moved past a finished record, done_pos not yet */
    MPROC_QF_COUNT
};

/* NULL in normal use; set only by tests. */
extern void (*mproc__queue_fault_point)(int point);

#if !defined(NDEBUG) || defined(MPROC_FAULT_INJECTION)
#define Q_FAULT(p)                                                                                 \
    do {                                                                                           \
        if (__builtin_expect(mproc__queue_fault_point != 0, 0))                                    \
            mproc__queue_fault_point(p);                                                           \
    } while (0)
#else
#define Q_FAULT(p) ((void)0)
#endif

#endif
