/* mproc/channel.h: a framed, bidirectional message channel between two processes (what
 * Node's fork() + send()/on('message') and Python's multiprocessing.Pipe() give).
 *
 * mproc_chan_pair() makes two connected ends. Give one to a child:
 *  - a forked function (mproc_fork, fork) simply uses the end it inherited: after the fork
 *    the parent frees the child's end and the child frees (or ignores) the parent's end;
 *  - a spawned command gets the descriptor mproc_chan_child_fd() returns through
 *    mproc_opts.pass_fds and its number in the environment variable MPROC_CHAN_ENV
 *    ("MPROC_CHANNEL_FD=<n>", like Node's NODE_CHANNEL_FD); the child calls
 *    mproc_chan_from_env(). The parent then frees that end.
 *
 * Guarantees (see docs/channel.md):
 *  - messages of 0 bytes up to the limit (default 2 GiB) arrive whole and in order; large
 *    ones stream through a fixed shared-memory ring, never one huge kernel buffer;
 *  - when every copy of the peer end is closed (free, exit, SIGKILL), both directions give
 *    MPROC_ECLOSED once the messages already sent are read; never SIGPIPE, never a hang;
 *  - a malformed or hostile stream gives MPROC_EPROTO, with no allocation beyond what the
 *    validated length allows;
 *  - every descriptor is close-on-exec; a received one too (MSG_CMSG_CLOEXEC).
 * Threads: one thread may send while another receives on the same end (full duplex);
 * two threads must not send (or receive) on one end at the same time.
 */
#ifndef MPROC_CHANNEL_H
#define MPROC_CHANNEL_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_chan mproc_chan;

/* The environment variable that names a spawned child's channel descriptor. */
#define MPROC_CHAN_ENV "MPROC_CHANNEL_FD"

/* Defaults and limits of mproc_chan_opts. */
#define MPROC_CHAN_RING_DEFAULT ((size_t)1 << 20)             /* 1 MiB per direction */
#define MPROC_CHAN_RING_MIN     ((size_t)1 << 12)             /* 4 KiB */
#define MPROC_CHAN_RING_MAX     ((size_t)1 << 30)             /* 1 GiB */
#define MPROC_CHAN_MSG_DEFAULT  ((unsigned long long)1 << 31) /* 2 GiB */

/* Options for mproc_chan_pair_opts. All-zero (or NULL) means defaults. */
typedef struct mproc_chan_opts {
    size_t ring_size;           /* bytes of shared ring per direction: a power of two between
                                   MPROC_CHAN_RING_MIN and MPROC_CHAN_RING_MAX; 0: 1 MiB */
    unsigned long long max_msg; /* largest message either end accepts; 0: 2 GiB */
    int spin_us;                /* longest busy-wait before sleeping, in microseconds,
                                   up to 1000000; 0: default (50); -1: never spin */
} mproc_chan_opts;

/** Creates a connected pair of channel ends with default options.
 *  Returns 0 with *a and *b set, or MPROC_EINVAL (NULL pointer), MPROC_ENOMEM,
 *  MPROC_EMFILE/MPROC_ENFILE (out of descriptors); on failure nothing is left behind.
 *  Each end holds 6 descriptors and a mapping of 4 KiB + 2 rings; no descriptor is put
 *  in flight on a socket. Thread-safe. */
MPROC_API int mproc_chan_pair(mproc_chan **a, mproc_chan **b);

/** As mproc_chan_pair, with options (NULL: defaults). MPROC_EINVAL for a ring size that
 *  is not a power of two in range, a max_msg above 2^62, or spin_us out of range. */
MPROC_API int mproc_chan_pair_opts(mproc_chan **a, mproc_chan **b, const mproc_chan_opts *opts);

/** Sends len bytes (len may be 0; buf may be NULL when len is 0) as one message.
 *  Blocks while the ring toward the peer is full, up to timeout_ms (-1 forever, 0 try
 *  once). Messages that fit a quarter of the ring are published at once; larger ones
 *  stream in pieces while the peer reads. Returns 0 when the whole message is in the ring,
 *  or: MPROC_ETIMEDOUT (nothing delivered: a partly streamed message is withdrawn and the
 *  peer never sees it), MPROC_ECLOSED (the peer end is closed; a send may still succeed
 *  for a few ms after the peer died, like data left in a socket buffer),
 *  MPROC_EMSGSIZE (len above max_msg), MPROC_EINVAL (NULL c, NULL buf with len > 0,
 *  timeout < -1), MPROC_EPROTO (the peer corrupted the shared ring). Never raises SIGPIPE;
 *  EINTR is retried within the deadline. */
MPROC_API int mproc_chan_send(mproc_chan *c, const void *buf, size_t len, int timeout_ms);

/** Receives the next message into a new buffer: *buf (release with free(); never NULL on
 *  success, even for 0 bytes) and *len. Waits up to timeout_ms.
 *  Returns 0, or: MPROC_ETIMEDOUT (nothing taken: a message that was arriving in pieces
 *  is kept and completed by the next call), MPROC_ECLOSED (the peer is gone and every
 *  message it sent has been read), MPROC_EPROTO (malformed stream; the channel stays
 *  broken and every later recv returns it), MPROC_ENOMEM, MPROC_EINVAL. */
MPROC_API int mproc_chan_recv(mproc_chan *c, void **buf, size_t *len, int timeout_ms);

/** Receives the next message into the caller's buffer of cap bytes; *len is its size.
 *  If the message is larger than cap, returns MPROC_EMSGSIZE with *len set to the size
 *  needed and the message left in the channel for a later call. Other codes as
 *  mproc_chan_recv. buf may be NULL when cap is 0. */
MPROC_API int mproc_chan_recv_into(mproc_chan *c, void *buf, size_t cap, size_t *len,
                                   int timeout_ms);

/** Sends a duplicate of descriptor fd to the peer (SCM_RIGHTS); the caller keeps fd.
 *  Descriptors travel in their own ordered stream beside the messages: the peer takes
 *  them with mproc_chan_recv_fd in the order they were sent.
 *  Returns 0, MPROC_EBADF (fd not open), MPROC_ECLOSED, MPROC_ETIMEDOUT (socket buffer
 *  full), MPROC_EINVAL. */
MPROC_API int mproc_chan_send_fd(mproc_chan *c, int fd, int timeout_ms);

/** Receives the next descriptor sent by the peer, close-on-exec; the caller owns *fd.
 *  Returns 0, MPROC_ETIMEDOUT, MPROC_ECLOSED, MPROC_EPROTO (a record that did not carry
 *  exactly one descriptor; whatever it carried is closed), MPROC_EINVAL. */
MPROC_API int mproc_chan_recv_fd(mproc_chan *c, int *fd, int timeout_ms);

/** A descriptor for poll/epoll: readable (POLLIN) exactly while the incoming ring holds
 *  data, i.e. when mproc_chan_recv would return without waiting (for a message bigger
 *  than a quarter of the ring: when a piece of it waits). Owned by the handle; do not
 *  read it or close it. After the first call, the peer signals it on every send (a few
 *  hundred ns more per message). It does not report the peer's death: recv does.
 *  Returns the descriptor or MPROC_EINVAL. */
MPROC_API int mproc_chan_fd(const mproc_chan *c);

/** The descriptor a spawned child needs to rebuild this end: put it in
 *  mproc_opts.pass_fds and "MPROC_CHANNEL_FD=<it>" in the child's environment; after the
 *  spawn, free this end in the parent. It is a bootstrap socket holding one record (the
 *  rings and this end's descriptors), so hand it to one child only; calling again returns
 *  the same descriptor. Owned by the handle (closed by mproc_chan_free). Stop using this
 *  end in the parent once it is handed over. Returns it, MPROC_EINVAL, MPROC_EMFILE or
 *  MPROC_ENFILE. */
MPROC_API int mproc_chan_child_fd(mproc_chan *c);

/** In a spawned child: builds the end from the bootstrap socket MPROC_CHANNEL_FD names
 *  and closes that socket (the end's own descriptors arrive in it, close-on-exec).
 *  Returns 0 and *out, or MPROC_ENOENT (variable unset), MPROC_EINVAL (not a number),
 *  MPROC_EBADF (not an open socket), MPROC_EPROTO (not an mproc bootstrap socket, or
 *  already used), MPROC_ENOMEM. Not thread-safe against setenv. */
MPROC_API int mproc_chan_from_env(mproc_chan **out);

/** As mproc_chan_from_env, for a descriptor number learnt another way (argv, say).
 *  Closes fd on success only. */
MPROC_API int mproc_chan_from_fd(mproc_chan **out, int fd);

/** Frees this end: unmaps and closes its descriptors. The peer sees MPROC_ECLOSED once
 *  no other process (a forked child, say) still holds a copy of this end. Messages still
 *  in flight toward this end are lost. NULL is a no-op. */
MPROC_API void mproc_chan_free(mproc_chan *c);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_CHANNEL_H */
