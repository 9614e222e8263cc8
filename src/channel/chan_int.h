/* chan_int.h: private to src/channel (and its tests and fuzz target): the frame format,
 * the pure frame decoder, the shared-memory layout and the handle. See docs/channel.md. */
#ifndef MPROC_CHAN_INT_H
#define MPROC_CHAN_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mproc/channel.h"

/* ---- frames ------------------------------------------------------------------------
 * A ring carries a stream of frames. Header, 16 bytes, little-endian:
 *   0  u32 magic  MPROC__FR_MAGIC
 *   4  u8  type   MSG, BEGIN, CHUNK or ABORT
 *   5  u8  flags  0
 *   6  u16 check  mproc__chan_check(type, len): catches a corrupted length
 *   8  u64 len    payload bytes (MSG, CHUNK), message size (BEGIN), 0 (ABORT)
 * A MSG or CHUNK header is followed by len bytes and zero to seven bytes of padding, so
 * every header starts 8-aligned. A message that fits one frame is one MSG; a larger one is
 * BEGIN(total) then CHUNKs summing to total, or ABORT when the sender gave up. */
#define MPROC__FR_MAGIC 0x4843504du /* "MPCH" */
#define MPROC__FR_HDR   16u

enum { MPROC__FR_MSG = 1, MPROC__FR_BEGIN = 2, MPROC__FR_CHUNK = 3, MPROC__FR_ABORT = 4 };

/* Decoder state: the limits it enforces and where it is in a chunked message. */
typedef struct mproc__chan_dec {
    uint64_t max_msg;   /* largest message (MSG len, BEGIN total) */
    uint64_t max_frame; /* largest payload of one MSG/CHUNK frame */
    int in_msg;         /* a BEGIN was taken; its CHUNKs are pending */
    uint64_t total;     /* size of that message */
    uint64_t got;       /* bytes of it taken so far */
} mproc__chan_dec;

typedef struct mproc__chan_frame {
    int type;
    uint64_t len;  /* as in the header */
    uint64_t size; /* bytes the frame occupies in the stream, header and padding included */
} mproc__chan_frame;

uint16_t mproc__chan_check(unsigned type, uint64_t len);
void mproc__chan_encode(unsigned char hdr[MPROC__FR_HDR], unsigned type, uint64_t len);
/* Validates the header against the state; fills *f. Pure: reads only its arguments.
 * Returns 0 or MPROC_EPROTO. */
int mproc__chan_decode(const mproc__chan_dec *d, const unsigned char hdr[MPROC__FR_HDR],
                       mproc__chan_frame *f);
/* Advances the state past a frame that mproc__chan_decode accepted. Returns 1 when a
 * message is complete (MSG, or the CHUNK that finishes one), else 0. */
int mproc__chan_apply(mproc__chan_dec *d, const mproc__chan_frame *f);

/* ---- shared memory ------------------------------------------------------------------
 * One memfd: a control page, then ring 0 (end a writes, b reads), then ring 1. Each
 * word has a single writer: tail and writer_sleeping the sending end, head,
 * reader_sleeping and polled the receiving end. Nothing read from here is trusted: the
 * peer may be hostile, so indices are validated and limits come from the handle. */
#define MPROC__CHAN_CTL  4096u
#define MPROC__CHAN_SHM  0x4d504353u /* "SCPM" */
#define MPROC__CHAN_VERS 2u

/* A small MSG frame (payload up to MPROC__MIRROR_MAX bytes) is also copied next to tail,
 * in tail's cache line: a reader that spins on tail then finds the whole message in the
 * one line it just pulled in, instead of fetching the ring's line as well. The mirror is
 * a hint guarded like a seqlock (mpos names the stream position of the frame it holds,
 * MPROC__MIRROR_NONE while it is rewritten); the ring keeps the frame too, and a reader
 * decodes a mirrored header exactly like one read from the ring. */
#define MPROC__MIRROR_MAX  32u
#define MPROC__MIRROR_NONE UINT64_MAX

typedef struct mproc__ring {
    /* Each group on its own cache line: the indices move with every frame, the flags
     * rarely, so reading a flag never pulls in a line the other side keeps writing. */
    _Alignas(64) _Atomic uint64_t tail; /* bytes published by the writer */
    _Atomic uint64_t mpos;              /* position of the mirrored frame */
    _Atomic uint64_t mword[(MPROC__FR_HDR + MPROC__MIRROR_MAX) / 8]; /* its header, payload */
    _Alignas(64) _Atomic uint64_t head;            /* bytes consumed by the reader */
    _Alignas(64) _Atomic uint32_t writer_sleeping; /* writer waits on the space eventfd */
    _Alignas(64) _Atomic uint32_t reader_sleeping; /* reader waits on the data eventfd */
    _Atomic uint32_t polled; /* reader handed out mproc_chan_fd: always signal */
} mproc__ring;

typedef struct mproc__chan_shm {
    uint32_t magic, version;
    uint64_t ring_size, max_msg;
    mproc__ring ring[2];
    /* The CPU each end (by the ring it writes) last started a wait on, -1 unknown: a
     * waiter does not spin while its peer last ran on the same CPU. */
    struct {
        _Alignas(64) _Atomic int32_t cpu;
    } end[2];
} mproc__chan_shm;

/* ---- the handle ---------------------------------------------------------------------- */
struct mproc_chan {
    int sock;         /* SOCK_SEQPACKET: passed descriptors, peer death (POLLHUP) */
    int memfd;        /* the rings, kept to hand this end to a spawned child */
    int child_sock;   /* bootstrap socket made by mproc_chan_child_fd, or -1 */
    int efd_data[2];  /* per ring: readable when data waits (reader's doorbell) */
    int efd_space[2]; /* per ring: rung when the reader freed space (writer's doorbell) */
    int in, out;      /* ring this end reads, ring it writes */
    unsigned char *map;
    size_t map_size;
    mproc__ring *rin, *rout;
    unsigned char *din, *dout;     /* ring data areas */
    uint64_t ring_size, max_frame; /* trusted copies, never re-read from shared memory */
    uint64_t head;                 /* our consumption index of rin */
    uint64_t tail;                 /* our publication index of rout */
    uint64_t tail_seen;            /* rin's tail when last read (validated) */
    uint64_t head_seen;            /* rout's head when last read (validated) */
    mproc__chan_dec dec;
    unsigned char *part; /* a chunked message being received, when it outlives a call */
    size_t part_cap;
    _Atomic int closed;     /* the peer end is gone (socket hung up); set by either direction */
    int broken;             /* a protocol error was seen: MPROC_EPROTO from now on */
    int64_t live_ns;        /* when send last asked the socket whether the peer lives */
    int64_t spin_ns[2];     /* current adaptive spin budget, receiving [0] and sending [1] */
    int64_t spin_max_ns;    /* its ceiling (0: never spin) */
    unsigned spin_skips[2]; /* waits that skipped spinning while the budget is 0 */
    _Atomic int32_t *cpu_mine, *cpu_peer; /* mproc__chan_shm.end[].cpu */
    _Atomic int32_t cpu_last; /* the value we last stored in *cpu_mine; atomic: the sending
                                 and the receiving thread of one end both use it */
};

/* ---- descriptor helpers (src/channel/chan_sys.c) ------------------------------------- */
int64_t mproc__chan_coarse_ns(void); /* CLOCK_MONOTONIC_COARSE: cheap, one-tick resolution */
int mproc__chan_eventfd(void);
int mproc__chan_memfd(size_t size);
void mproc__chan_ring(int efd);  /* signal an eventfd; errors ignored (counter saturates) */
void mproc__chan_drain(int efd); /* reset an eventfd to 0 without blocking */
/* Waits until efd is readable or sock hangs up, or the deadline. Returns a mask of
 * MPROC__W_READY / MPROC__W_HUP, 0 on timeout, or -errno. EINTR resumes. */
#define MPROC__W_READY 1
#define MPROC__W_HUP   2
int mproc__chan_wait(int efd, int sock, int64_t deadline_ms);
/* 1 if sock reports a hang-up now. */
int mproc__chan_hup(int sock);
/* sendmsg with descriptors, MSG_NOSIGNAL|MSG_DONTWAIT. Returns 0 or -errno. */
int mproc__chan_sendfds(int sock, const void *data, size_t len, const int *fds, size_t nfds);
/* recvmsg, MSG_CMSG_CLOEXEC|MSG_DONTWAIT; every descriptor received is stored in fds (up
 * to max, the rest closed) and counted in *nfds; *trunc is set if control data was cut.
 * Returns bytes of data, 0 at end of stream, or -errno. */
ssize_t mproc__chan_recvfds(int sock, void *data, size_t len, int *fds, size_t max, size_t *nfds,
                            int *trunc);

/* ---- test hooks ------------------------------------------------------------------------ */
/* Writes raw bytes into the ring toward the peer and publishes them, bypassing framing:
 * lets tests play a hostile peer. n must fit the free space. Returns 0 or an error. */
int mproc__chan_test_raw(mproc_chan *c, const void *bytes, size_t n);
/* Publishes a raw tail value on the outgoing ring (corrupt index). */
void mproc__chan_test_tail(mproc_chan *c, uint64_t tail);

#endif
