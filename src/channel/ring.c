/* ring.c: moving messages through the shared-memory rings: framing on send, validation
 * and reassembly on receive, and the wait between them (an adaptive spin, then a sleep on
 * an eventfd next to the socket, whose hang-up reports the peer's death).
 *
 * Each index has one writer. The sender copies a whole frame in, then publishes tail
 * (release); the receiver reads tail (acquire), copies out, then publishes head. Sleeping
 * uses a Dekker handshake: the sleeper stores its flag, fences, re-reads the index; the
 * other side stores the index, fences, reads the flag and rings the eventfd only when it
 * is set, so the fast path costs no system call. Nothing here trusts shared memory: the
 * peer's index is checked against the ring size and every header goes through
 * mproc__chan_decode after being copied out, so the peer cannot change it afterwards.
 * This file must not create or close descriptors (chan.c owns them). */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "channel/chan_int.h"
#include "sys/sys.h"

#define PART_FIRST    ((size_t)1 << 20) /* first allocation for a chunked message */
#define LIVE_NS       1000000           /* how often send asks the socket if the peer lives */
#define SPIN_PROBE_NS 2000              /* a short spin that tests whether spinning pays again */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void ring_get(const mproc_chan *c, uint64_t pos, void *dst, size_t n)
{
    size_t off = (size_t)(pos & (c->ring_size - 1));
    size_t first = c->ring_size - off < n ? c->ring_size - off : n;
    memcpy(dst, c->din + off, first);
    if (n > first)
        memcpy((unsigned char *)dst + first, c->din, n - first);
}

static void ring_put(mproc_chan *c, uint64_t pos, const void *src, size_t n)
{
    size_t off = (size_t)(pos & (c->ring_size - 1));
    size_t first = c->ring_size - off < n ? c->ring_size - off : n;
    memcpy(c->dout + off, src, first);
    if (n > first)
        memcpy(c->dout, (const unsigned char *)src + first, n - first);
}

/* ---- waiting ---------------------------------------------------------------------- */

enum { RX = 0, TX = 1 };

/* Bytes readable (RX) or writable (TX) now, reading the peer's index; MPROC_EPROTO if
 * that index is impossible (it went backwards or claims more than the ring holds). */
static int64_t room(mproc_chan *c, int dir)
{
    uint64_t used;
    if (dir == RX) {
        uint64_t t = atomic_load_explicit(&c->rin->tail, memory_order_acquire);
        if ((used = t - c->head) > c->ring_size)
            return MPROC_EPROTO;
        c->tail_seen = t;
        return (int64_t)used;
    }
    uint64_t h = atomic_load_explicit(&c->rout->head, memory_order_acquire);
    if ((used = c->tail - h) > c->ring_size)
        return MPROC_EPROTO;
    c->head_seen = h;
    return (int64_t)(c->ring_size - used);
}

/* The same from the index last read: no access to the peer's cache line. Still valid:
 * our own index only moves within the room that reading found. */
static int64_t room_seen(const mproc_chan *c, int dir)
{
    if (dir == RX)
        return (int64_t)(c->tail_seen - c->head);
    return (int64_t)(c->ring_size - (c->tail - c->head_seen));
}

/* Busy-waits up to the spin budget, from t0. Spinning pays only while the peer runs on
 * another CPU and answers soon: the budget doubles when a spin succeeds and falls to a
 * quarter when it fails, down to zero (an idle peer, or an overloaded machine where
 * spinning would steal the CPU the peer needs). At zero, every 16th wait probes with a
 * short spin; and a sleep that ended sooner than the ceiling sets the budget to cover it
 * (see wait_room), so both sides find their way back to spinning together. */
static int64_t spin(mproc_chan *c, int dir, uint64_t need, int64_t *t0)
{
    /* The clock is read lazily, at the first check: a wait that ends within 64 rounds
     * (the common case between two busy processes) costs no clock read. */
    *t0 = 0;
    int64_t budget = c->spin_ns[dir];
    if (budget == 0) {
        if ((++c->spin_skips[dir] & 15u) != 0)
            return room(c, dir);
        budget = SPIN_PROBE_NS;
    }
    for (unsigned i = 1;; i++) {
        cpu_relax();
        int64_t n = room(c, dir);
        if (n < 0)
            return n;
        if ((uint64_t)n >= need) {
            int64_t more = budget * 2 < SPIN_PROBE_NS ? SPIN_PROBE_NS : budget * 2;
            c->spin_ns[dir] = more > c->spin_max_ns ? c->spin_max_ns : more;
            return n;
        }
        if ((i & 63) != 0)
            continue;
        int64_t now = mproc__now_ns();
        if (*t0 == 0)
            *t0 = now;
        else if (now - *t0 >= budget) {
            c->spin_ns[dir] = budget / 4 < SPIN_PROBE_NS / 4 ? 0 : budget / 4;
            return n;
        }
    }
}

/* Publishes the CPU we wait on and says whether spinning can pay: not while the peer last
 * ran on this same CPU, where our spinning would only delay it (an overloaded machine, or
 * both pinned to one CPU). sched_getcpu reads the rseq area: no system call. */
static int spin_can_pay(mproc_chan *c)
{
    int32_t me = (int32_t)sched_getcpu();
    if (me != atomic_load_explicit(&c->cpu_last, memory_order_relaxed)) {
        atomic_store_explicit(c->cpu_mine, me, memory_order_relaxed);
        atomic_store_explicit(&c->cpu_last, me, memory_order_relaxed);
    }
    return me < 0 || atomic_load_explicit(c->cpu_peer, memory_order_relaxed) != me;
}

/* Sleeps on the doorbell until room changes, the peer hangs up or the deadline passes. */
static int64_t sleep_wait(mproc_chan *c, int dir, uint64_t need, int64_t deadline)
{
    mproc__ring *r = dir == RX ? c->rin : c->rout;
    _Atomic uint32_t *flag = dir == RX ? &r->reader_sleeping : &r->writer_sleeping;
    int efd = dir == RX ? c->efd_data[c->in] : c->efd_space[c->out];
    for (;;) {
        if (c->closed)
            return MPROC_ECLOSED;
        atomic_store_explicit(flag, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        int64_t n = room(c, dir);
        int w = (n < 0 || (uint64_t)n >= need) ? MPROC__W_READY
                                               : mproc__chan_wait(efd, c->sock, deadline);
        atomic_store_explicit(flag, 0, memory_order_relaxed);
        if (w < 0)
            return w;
        if (w & MPROC__W_READY)
            mproc__chan_drain(efd);
        if (w & MPROC__W_HUP)
            c->closed = 1;
        n = room(c, dir);
        if (n < 0 || (uint64_t)n >= need)
            return n;
        if (w == 0)
            return MPROC_ETIMEDOUT;
    }
}

/* Waits until need bytes are readable (RX) or free (TX). Returns that count or an error.
 * try_only: timeout 0, neither spin nor sleep (poll once for the hang-up). */
static int64_t wait_room(mproc_chan *c, int dir, uint64_t need, int64_t deadline, int try_only)
{
    int64_t n = room_seen(c, dir);
    if ((uint64_t)n >= need)
        return n;
    n = room(c, dir);
    if (n < 0 || (uint64_t)n >= need)
        return n;
    if (c->closed)
        return MPROC_ECLOSED;
    if (try_only || c->spin_max_ns == 0 || !spin_can_pay(c))
        return sleep_wait(c, dir, need, deadline);
    int64_t t0;
    n = spin(c, dir, need, &t0);
    if (n < 0 || (uint64_t)n >= need)
        return n;
    if (t0 == 0)
        t0 = mproc__now_ns();
    n = sleep_wait(c, dir, need, deadline);
    /* Had we spun as long as this sleep lasted, we would have seen the data without the
     * wakeup: a short sleep sets the budget to cover it. */
    int64_t waited = mproc__now_ns() - t0;
    if (n >= 0 && waited < c->spin_max_ns)
        c->spin_ns[dir] =
            waited + waited / 2 > c->spin_max_ns ? c->spin_max_ns : waited + waited / 2;
    return n;
}

/* ---- sending ---------------------------------------------------------------------- */

/* 1 if the peer sleeps and we are the one to wake it: the flag is cleared as we take it,
 * so a sleeper that has been woken but not yet run costs later publications nothing (the
 * sleeper sets it again before its next sleep). */
static int take_flag(_Atomic uint32_t *flag)
{
    return atomic_load_explicit(flag, memory_order_relaxed) &&
           atomic_exchange_explicit(flag, 0, memory_order_relaxed);
}

/* Copies a small frame next to tail (see MPROC__MIRROR_MAX), before tail is published. */
static void mirror_put(mproc_chan *c, const unsigned char *hdr, const void *payload, uint64_t len)
{
    uint64_t w[(MPROC__FR_HDR + MPROC__MIRROR_MAX) / 8] = {0};
    memcpy(w, hdr, MPROC__FR_HDR);
    if (len)
        memcpy((unsigned char *)w + MPROC__FR_HDR, payload, (size_t)len);
    mproc__ring *r = c->rout;
    atomic_store_explicit(&r->mpos, MPROC__MIRROR_NONE, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    size_t words = (MPROC__FR_HDR + (size_t)len + 7u) / 8u;
    for (size_t i = 0; i < words; i++)
        atomic_store_explicit(&r->mword[i], w[i], memory_order_relaxed);
    atomic_store_explicit(&r->mpos, c->tail, memory_order_release);
}

/* Reads the mirrored frame at head into hdr and payload (MPROC__MIRROR_MAX bytes). 1 if it
 * was there and whole, 0 if the ring must be read instead. Trusts nothing: the caller
 * decodes the header as usual, and uses the payload only for a length within the mirror. */
static int mirror_get(mproc_chan *c, unsigned char *hdr, unsigned char *payload)
{
    mproc__ring *r = c->rin;
    if (atomic_load_explicit(&r->mpos, memory_order_acquire) != c->head)
        return 0;
    uint64_t w[(MPROC__FR_HDR + MPROC__MIRROR_MAX) / 8];
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        w[i] = atomic_load_explicit(&r->mword[i], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&r->mpos, memory_order_relaxed) != c->head)
        return 0; /* rewritten while we read it */
    memcpy(hdr, w, MPROC__FR_HDR);
    memcpy(payload, (unsigned char *)w + MPROC__FR_HDR, MPROC__MIRROR_MAX);
    return 1;
}

static void publish(mproc_chan *c, unsigned type, const void *payload, uint64_t len, uint64_t size)
{
    unsigned char hdr[MPROC__FR_HDR];
    mproc__chan_encode(hdr, type, len);
    if (type == MPROC__FR_MSG && len <= MPROC__MIRROR_MAX)
        mirror_put(c, hdr, payload, len);
    ring_put(c, c->tail, hdr, sizeof hdr);
    if (payload && len) /* BEGIN has a length but no payload */
        ring_put(c, c->tail + MPROC__FR_HDR, payload, (size_t)len);
    c->tail += size;
    atomic_store_explicit(&c->rout->tail, c->tail, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&c->rout->polled, memory_order_relaxed) ||
        take_flag(&c->rout->reader_sleeping))
        mproc__chan_ring(c->efd_data[c->out]);
}

/* Waits for room for the frame plus an ABORT header (so a chunked message can always be
 * withdrawn), then publishes it whole. */
static int send_frame(mproc_chan *c, unsigned type, const void *payload, uint64_t len,
                      int64_t deadline, int try_only)
{
    uint64_t size = MPROC__FR_HDR;
    if (type == MPROC__FR_MSG || type == MPROC__FR_CHUNK)
        size += (len + 7u) & ~(uint64_t)7u;
    int64_t n = wait_room(c, TX, size + MPROC__FR_HDR, deadline, try_only);
    if (n < 0)
        return (int)n;
    publish(c, type, payload, len, size);
    return 0;
}

/* ECLOSED if the peer is known gone; asks the socket at most once a millisecond so the
 * fast path stays free of system calls. The coarse clock (a few ns, one-tick resolution)
 * is enough here and costs a fraction of a precise read on every send. */
static int peer_gone(mproc_chan *c)
{
    if (c->closed)
        return 1;
    int64_t now = mproc__chan_coarse_ns();
    if (now - c->live_ns < LIVE_NS)
        return 0;
    c->live_ns = now;
    if (mproc__chan_hup(c->sock))
        c->closed = 1;
    return c->closed;
}

int mproc_chan_send(mproc_chan *c, const void *buf, size_t len, int timeout_ms)
{
    if (!c || (!buf && len) || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    if (len > c->dec.max_msg)
        return MPROC_EMSGSIZE;
    if (peer_gone(c))
        return MPROC_ECLOSED;
    int64_t deadline = mproc__deadline(timeout_ms);
    int try_only = timeout_ms == 0;
    if (len <= c->max_frame)
        return send_frame(c, MPROC__FR_MSG, buf, len, deadline, try_only);
    int r = send_frame(c, MPROC__FR_BEGIN, NULL, len, deadline, try_only);
    for (size_t off = 0; r == 0 && off < len; off += (size_t)c->max_frame) {
        size_t n = len - off < c->max_frame ? len - off : (size_t)c->max_frame;
        r = send_frame(c, MPROC__FR_CHUNK, (const unsigned char *)buf + off, n, deadline, try_only);
        if (r == MPROC_ETIMEDOUT)
            publish(c, MPROC__FR_ABORT, NULL, 0, MPROC__FR_HDR); /* room was reserved */
    }
    return r;
}

/* ---- receiving -------------------------------------------------------------------- */

/* Where a message goes: a buffer we allocate (cap unused) or the caller's. */
typedef struct rx_dst {
    int alloc;
    unsigned char *buf;
    size_t cap;
} rx_dst;

static void consume(mproc_chan *c, uint64_t size)
{
    c->head += size;
    atomic_store_explicit(&c->rin->head, c->head, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (take_flag(&c->rin->writer_sleeping))
        mproc__chan_ring(c->efd_space[c->in]);
}

/* Makes c->part hold at least need bytes of the current chunked message, growing by
 * doubling toward its validated total so a BEGIN claiming a huge size that never
 * arrives costs at most PART_FIRST, and memory follows the data that really came. */
static int part_reserve(mproc_chan *c, size_t need)
{
    if (c->part && need <= c->part_cap)
        return 0;
    size_t total = (size_t)c->dec.total;
    size_t cap = c->part_cap ? c->part_cap : (total < PART_FIRST ? total : PART_FIRST);
    while (cap < need)
        cap = cap > total / 2 ? total : cap * 2;
    unsigned char *p = realloc(c->part, cap);
    if (!p)
        return MPROC_ENOMEM;
    c->part = p;
    c->part_cap = cap;
    return 0;
}

static void part_drop(mproc_chan *c)
{
    free(c->part);
    c->part = NULL;
    c->part_cap = 0;
}

/* The message being received lives in the caller's buffer only during a recv_into
 * call; when that call returns early, what arrived so far moves to c->part. */
static int part_stash(mproc_chan *c, const rx_dst *d)
{
    if (!c->dec.in_msg || c->part || d->alloc)
        return 0;
    if (part_reserve(c, (size_t)c->dec.got) < 0) {
        c->broken = 1;
        return MPROC_ENOMEM;
    }
    memcpy(c->part, d->buf, (size_t)c->dec.got);
    return 0;
}

/* Hands the completed message to the caller. */
static int deliver(mproc_chan *c, const rx_dst *d, void **out, size_t *len)
{
    size_t total = (size_t)c->dec.total;
    *len = total;
    if (!c->part)
        return 0; /* already in the caller's buffer */
    if (d->alloc) {
        *out = c->part;
        c->part = NULL;
        c->part_cap = 0;
        return 0;
    }
    memcpy(d->buf, c->part, total);
    part_drop(c);
    return 0;
}

/* mirrored: the frame's payload as read from the mirror, or NULL (read the ring) */
static int take_msg(mproc_chan *c, const rx_dst *d, const mproc__chan_frame *f,
                    const unsigned char *mirrored, void **out, size_t *len)
{
    unsigned char *dst = d->buf;
    if (d->alloc && !(dst = malloc(f->len ? (size_t)f->len : 1)))
        return MPROC_ENOMEM;
    if (f->len && mirrored && f->len <= MPROC__MIRROR_MAX)
        memcpy(dst, mirrored, (size_t)f->len);
    else if (f->len)
        ring_get(c, c->head + MPROC__FR_HDR, dst, (size_t)f->len);
    consume(c, f->size);
    if (d->alloc)
        *out = dst;
    *len = (size_t)f->len;
    return 0;
}

static int take_chunk(mproc_chan *c, const rx_dst *d, const mproc__chan_frame *f)
{
    size_t got = (size_t)c->dec.got;
    unsigned char *dst = d->buf;
    if (d->alloc || c->part) {
        int r = part_reserve(c, got + (size_t)f->len);
        if (r < 0)
            return r;
        dst = c->part;
    }
    ring_get(c, c->head + MPROC__FR_HDR, dst + got, (size_t)f->len);
    consume(c, f->size);
    return 0;
}

/* Acts on one validated frame. 1: a message was delivered, 0: go on, or an error. */
static int take_frame(mproc_chan *c, const rx_dst *d, const mproc__chan_frame *f,
                      const unsigned char *mirrored, void **out, size_t *len)
{
    int r = 0;
    if ((f->type == MPROC__FR_MSG || f->type == MPROC__FR_BEGIN) && !d->alloc && f->len > d->cap) {
        *len = (size_t)f->len; /* not consumed: the caller may come back with room */
        return MPROC_EMSGSIZE;
    }
    if (f->type == MPROC__FR_MSG)
        r = take_msg(c, d, f, mirrored, out, len);
    else if (f->type == MPROC__FR_CHUNK)
        r = take_chunk(c, d, f);
    else
        consume(c, f->size);
    if (r < 0)
        return r;
    int done = mproc__chan_apply(&c->dec, f);
    if (f->type == MPROC__FR_ABORT)
        part_drop(c);
    if (done && f->type == MPROC__FR_CHUNK)
        return deliver(c, d, out, len) == 0 ? 1 : MPROC_ENOMEM;
    return done;
}

/* The peer is gone. Our writer publishes whole frames only, so a dead peer leaves either
 * nothing or whole frames (a chunked message may lack its end: ECLOSED). Bytes of a frame
 * without the rest were never written by an mproc sender: MPROC_EPROTO. */
static int truncated(mproc_chan *c, int err)
{
    if (err != MPROC_ECLOSED)
        return err;
    return room(c, RX) != 0 ? MPROC_EPROTO : MPROC_ECLOSED;
}

/* Waits for the next frame, validates it and acts on it, until a message is delivered. */
static int recv_loop(mproc_chan *c, const rx_dst *d, void **out, size_t *len, int64_t deadline,
                     int try_only)
{
    for (;;) {
        int64_t n = wait_room(c, RX, MPROC__FR_HDR, deadline, try_only);
        if (n < 0)
            return truncated(c, (int)n);
        unsigned char hdr[MPROC__FR_HDR], small[MPROC__MIRROR_MAX];
        mproc__chan_frame f;
        int mirrored = mirror_get(c, hdr, small) && mproc__chan_decode(&c->dec, hdr, &f) == 0;
        if (!mirrored) {
            ring_get(c, c->head, hdr, sizeof hdr);
            if (mproc__chan_decode(&c->dec, hdr, &f) < 0)
                return MPROC_EPROTO;
        }
        if ((uint64_t)n < f.size && (n = wait_room(c, RX, f.size, deadline, try_only)) < 0)
            return truncated(c, (int)n);
        int r = take_frame(c, d, &f, mirrored ? small : NULL, out, len);
        if (r != 0)
            return r > 0 ? 0 : r;
    }
}

/* After every recv, in polled mode: the eventfd must be readable exactly when data waits.
 * Drain first, then re-check, so a publication racing with us is never lost. */
static void poll_fixup(mproc_chan *c)
{
    if (!atomic_load_explicit(&c->rin->polled, memory_order_relaxed))
        return;
    int efd = c->efd_data[c->in];
    mproc__chan_drain(efd);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&c->rin->tail, memory_order_acquire) != c->head)
        mproc__chan_ring(efd);
}

static int recv_any(mproc_chan *c, const rx_dst *d, void **out, size_t *len, int timeout_ms)
{
    if (c->broken)
        return MPROC_EPROTO;
    if (c->dec.in_msg && !d->alloc && c->dec.total > d->cap) {
        *len = (size_t)c->dec.total;
        return MPROC_EMSGSIZE;
    }
    int r = recv_loop(c, d, out, len, mproc__deadline(timeout_ms), timeout_ms == 0);
    if (r == MPROC_EPROTO)
        c->broken = 1;
    if (r == MPROC_ETIMEDOUT || r == MPROC_EMSGSIZE) {
        int s = part_stash(c, d);
        if (s < 0)
            r = s;
    }
    if (r == MPROC_ECLOSED) {
        part_drop(c); /* the rest of a chunked message will never come */
        c->dec.in_msg = 0;
    }
    poll_fixup(c);
    return r;
}

int mproc_chan_recv(mproc_chan *c, void **buf, size_t *len, int timeout_ms)
{
    if (!c || !buf || !len || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    rx_dst d = {.alloc = 1, .buf = NULL, .cap = 0};
    void *out = NULL;
    size_t n = 0;
    int r = recv_any(c, &d, &out, &n, timeout_ms);
    if (r == 0) {
        *buf = out;
        *len = n;
    }
    return r;
}

int mproc_chan_recv_into(mproc_chan *c, void *buf, size_t cap, size_t *len, int timeout_ms)
{
    if (!c || (!buf && cap) || !len || !mproc__timeout_ok(timeout_ms))
        return MPROC_EINVAL;
    rx_dst d = {.alloc = 0, .buf = buf, .cap = cap};
    return recv_any(c, &d, NULL, len, timeout_ms);
}

/* ---- test hooks ------------------------------------------------------------------- */

int mproc__chan_test_raw(mproc_chan *c, const void *bytes, size_t n)
{
    int64_t room_now = room(c, TX);
    if (room_now < 0 || (uint64_t)room_now < n)
        return MPROC_ENOSPC;
    ring_put(c, c->tail, bytes, n);
    c->tail += n;
    atomic_store_explicit(&c->rout->tail, c->tail, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    mproc__chan_ring(c->efd_data[c->out]);
    return 0;
}

void mproc__chan_test_tail(mproc_chan *c, uint64_t tail)
{
    atomic_store_explicit(&c->rout->tail, tail, memory_order_release);
    mproc__chan_ring(c->efd_data[c->out]);
}
