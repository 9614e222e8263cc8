/* mproc/queue.h: a bounded multi-producer multi-consumer message queue in shared memory,
 * usable by forked children (create it before forking) and by unrelated processes (named).
 *
 * Guarantees (see docs/queue.md):
 *  - messages arrive intact, each at most once, in FIFO order per producer; a message is
 *    lost only if its producer is killed before mproc_queue_put() returns (it is then never
 *    delivered, not even partly) or its consumer is killed after taking it;
 *  - a producer or consumer killed by any signal at any instruction never leaves the queue
 *    corrupted or the other users hung: the space it held is recovered by whoever finds it;
 *  - no hidden threads, no signal handlers; a put that cannot fit fails at once.
 */
#ifndef MPROC_QUEUE_H
#define MPROC_QUEUE_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_queue mproc_queue;

/* flags for mproc_queue_opts.flags */
#define MPROC_QUEUE_JOINABLE  0x1u /* track task_done/join (Python's JoinableQueue) */
#define MPROC_QUEUE_FLAGS_ALL 0x1u

/* Options for mproc_queue_new. NULL or all-zero means: 4 MiB of message space, messages of
 * up to 64 KiB, no limit on the number of messages, anonymous, not joinable. */
typedef struct mproc_queue_opts {
    size_t capacity_bytes; /* message space; rounded up to a power of two (0: 4 MiB) */
    size_t max_messages;   /* at most this many messages held at once (0: bytes only) */
    size_t max_msg_size;   /* largest message accepted (0: 64 KiB, or less if the capacity is
                              small); each message also uses 16 bytes of header, rounded to 16,
                              and must fit in half the capacity */
    const char *name;      /* NULL: anonymous, shared with children forked after creation;
                              else a name ("[A-Za-z0-9._-]", at most 200 bytes) that unrelated
                              processes pass to mproc_queue_open() */
    unsigned flags;        /* MPROC_QUEUE_JOINABLE */
} mproc_queue_opts;

/** Creates a queue. Anonymous queues live in a MAP_SHARED mapping that children forked
 *  later share; named ones create /dev/shm/mproc-q.NAME (and a FIFO next to it for
 *  mproc_queue_fd()), which stay until mproc_queue_unlink(NAME).
 *  Returns 0 and *out, or MPROC_EINVAL (NULL out, unknown flags, sizes that do not fit
 *  together, a bad name), MPROC_EEXIST (the name exists), MPROC_ENOMEM, MPROC_EMFILE.
 *  Nothing is left behind on failure. Thread-safe. */
MPROC_API int mproc_queue_new(mproc_queue **out, const mproc_queue_opts *opts);

/** Attaches to the named queue created by mproc_queue_new() in any process, waiting up to
 *  about a second for its creator to finish initialising it.
 *  Returns 0 and *out, or MPROC_EINVAL (bad name), MPROC_ENOENT (no such queue),
 *  MPROC_EPROTO (the object is not a queue of this version), MPROC_ETIMEDOUT. */
MPROC_API int mproc_queue_open(mproc_queue **out, const char *name);

/** Removes the name of a named queue (its shared memory and FIFO); handles already open keep
 *  working. Returns 0, MPROC_EINVAL or MPROC_ENOENT. */
MPROC_API int mproc_queue_unlink(const char *name);

/** Copies len bytes (0 allowed; msg may be NULL then) into the queue as one message.
 *  Waits for room up to timeout_ms (-1 forever, 0 try once). A message that can never fit
 *  fails at once; a message is never half-sent: on any error nothing was queued.
 *  Returns 0, MPROC_EMSGSIZE (len > the queue's maximum), MPROC_EFULL (timeout 0 and no
 *  room), MPROC_ETIMEDOUT (no room before the deadline), MPROC_ECLOSED (the queue is
 *  closed), MPROC_EINVAL (NULL q, NULL msg with len > 0, timeout < -1), MPROC_ECANCELED
 *  (the message was dropped because another process took this one for dead: only possible
 *  if its pid was reused in a way the queue could not tell, see docs/queue.md).
 *  Thread-safe and usable in any process sharing the queue. */
MPROC_API int mproc_queue_put(mproc_queue *q, const void *msg, size_t len, int timeout_ms);

/** Takes the oldest available message, copying it into buf (cap bytes) and its length into
 *  *len. Waits up to timeout_ms (-1 forever, 0 try once). If the message does not fit in
 *  cap, it stays in the queue, *len says how big it is and MPROC_EMSGSIZE is returned.
 *  Messages in a closed queue are still delivered; once none is left: MPROC_ECLOSED.
 *  Returns 0, MPROC_EEMPTY (timeout 0 and nothing to take), MPROC_ETIMEDOUT, MPROC_ECLOSED,
 *  MPROC_EMSGSIZE, MPROC_EINVAL (NULL q or len, NULL buf with cap > 0, timeout < -1),
 *  MPROC_ECANCELED (taken for dead while copying, as for put: the copy is not to be used).
 *  Thread-safe and usable in any process sharing the queue. */
MPROC_API int mproc_queue_get(mproc_queue *q, void *buf, size_t cap, size_t *len, int timeout_ms);

/** Closes the queue for every process: later puts fail with MPROC_ECLOSED, gets drain what
 *  is left and then fail with MPROC_ECLOSED; all waiters wake; mproc_queue_fd() becomes
 *  readable for good. Puts already in progress complete. Idempotent: returns 0, or
 *  MPROC_EINVAL for NULL. */
MPROC_API int mproc_queue_close(mproc_queue *q);

/** Marks one message taken by mproc_queue_get() as processed (JoinableQueue.task_done).
 *  Returns 0, MPROC_ENOTSUP (not MPROC_QUEUE_JOINABLE), MPROC_ERANGE (more calls than
 *  messages put), MPROC_EINVAL. Thread-safe, any process. */
MPROC_API int mproc_queue_task_done(mproc_queue *q);

/** Waits up to timeout_ms until every message put has been taken and marked done with
 *  mproc_queue_task_done() (or was lost with a killed producer or consumer).
 *  Returns 0, MPROC_ETIMEDOUT, MPROC_ENOTSUP (not joinable), MPROC_EINVAL. */
MPROC_API int mproc_queue_join(mproc_queue *q, int timeout_ms);

/** Approximate number of messages in the queue (put started and not yet taken); it may be
 *  stale by the time it returns. Negative MPROC_EINVAL for NULL. */
MPROC_API long mproc_queue_size(const mproc_queue *q);
/** 1 if the queue looks empty, 0 if not (approximate, like mproc_queue_size). */
MPROC_API int mproc_queue_empty(const mproc_queue *q);
/** 1 if a put of an empty message would not fit now (approximate), 0 if it would. */
MPROC_API int mproc_queue_full(const mproc_queue *q);
/** The largest message this queue accepts. */
MPROC_API size_t mproc_queue_max_msg_size(const mproc_queue *q);

/** A descriptor for poll/epoll/select, owned by the handle. It polls readable (POLLIN)
 *  whenever the queue holds a message a get could take or the queue is closed. It may also
 *  poll readable when a get would find nothing (another consumer took the message first,
 *  as with a listening socket shared by several processes); a mproc_queue_get() that finds
 *  the queue empty clears that. The first call makes producers signal the descriptor, which
 *  costs a system call per put that finds the queue drained; queues never asked for their
 *  descriptor pay nothing. Returns the descriptor or MPROC_EINVAL. */
MPROC_API int mproc_queue_fd(const mproc_queue *q);

/** Frees this process's handle (unmaps the memory, closes its descriptors). The queue lives
 *  on for the other processes; it is not closed. NULL is a no-op. */
MPROC_API void mproc_queue_free(mproc_queue *q);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_QUEUE_H */
