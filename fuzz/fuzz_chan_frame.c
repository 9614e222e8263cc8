/* fuzz_chan_frame.c: libFuzzer target for the channel frame decoder (`make fuzz`).
 *
 * Each input becomes a byte stream, either raw or built from records of (type, length,
 * corruption) so that well-formed headers are reached often. The stream then goes
 * through two paths that must agree:
 *  1. the pure decoder (mproc__chan_decode/apply) walked over the bytes, which predicts
 *     the sizes of the messages a receiver may deliver before the first error;
 *  2. a real channel pair with a small ring: the bytes are injected as a hostile peer
 *     would write them, in pieces as room frees, and received with mproc_chan_recv and
 *     mproc_chan_recv_into (with small buffers, so MPROC_EMSGSIZE and the partial-message
 *     stash are exercised).
 * A crash, a sanitizer report, or a disagreement (trap) is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel/chan_int.h"

#define MAX_STREAM (1u << 18)
#define MAX_MSGS   4096

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static unsigned take(input *in, unsigned bytes)
{
    unsigned v = 0;
    for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
        v |= (unsigned)in->p[0] << (8 * i);
    return v;
}

/* Builds well-framed (and sometimes subtly broken) frames from records. */
static size_t build(input *in, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (in->n >= 4 && n + MPROC__FR_HDR + 4096 < cap) {
        unsigned type = take(in, 1);
        unsigned len = take(in, 2);
        unsigned flip = take(in, 1);
        uint64_t flen = len;
        if (type & 0x80)
            flen <<= (type >> 3) & 0xf; /* large claims */
        mproc__chan_encode(out + n, type & 7u, flen);
        if (flip & 0x80)
            out[n + (flip & 15u)] ^= (uint8_t)(1u << ((flip >> 4) & 7u));
        n += MPROC__FR_HDR;
        size_t pay = (type & 7u) == MPROC__FR_MSG || (type & 7u) == MPROC__FR_CHUNK ? len : 0;
        pay = (pay + 7u) & ~(size_t)7u;
        if (pay > 4096)
            pay = 4096;
        for (size_t i = 0; i < pay; i++)
            out[n + i] = in->n ? (uint8_t)take(in, 1) : (uint8_t)i;
        n += pay;
    }
    return n;
}

/* Path 1: the sizes of messages the decoder lets through, in order. */
static size_t predict(const uint8_t *s, size_t n, mproc__chan_dec d, uint64_t *sizes)
{
    size_t count = 0, pos = 0;
    while (n - pos >= MPROC__FR_HDR && count < MAX_MSGS) {
        mproc__chan_frame f;
        if (mproc__chan_decode(&d, s + pos, &f) < 0)
            break;
        if (f.size < MPROC__FR_HDR || f.size > MPROC__FR_HDR + d.max_frame + 7)
            __builtin_trap();
        if (f.size > n - pos)
            break;
        if (mproc__chan_apply(&d, &f))
            sizes[count++] = f.type == MPROC__FR_MSG ? f.len : d.total;
        if (d.in_msg && d.got > d.total)
            __builtin_trap();
        pos += f.size;
    }
    return count;
}

/* Takes every message now receivable; 0 when none waits, -1 on a protocol error. */
static int drain(mproc_chan *c, unsigned cap, const uint64_t *want, size_t nwant, size_t *got)
{
    static uint8_t small[512];
    for (;;) {
        size_t len = 0;
        void *buf = NULL;
        int r = mproc_chan_recv_into(c, small, cap % sizeof small, &len, 0);
        if (r == MPROC_EMSGSIZE)
            r = mproc_chan_recv(c, &buf, &len, 0);
        free(buf);
        if (r == MPROC_ETIMEDOUT)
            return 0;
        if (r != 0)
            return -1;
        if (*got >= nwant || want[*got] != len)
            __builtin_trap(); /* delivered something the decoder did not predict */
        (*got)++;
    }
}

/* Path 2: the real receiver, fed by a hostile peer. */
static void run_pair(const uint8_t *s, size_t n, uint64_t ring, uint64_t max_msg, unsigned cap,
                     const uint64_t *want, size_t nwant)
{
    mproc_chan_opts o = {.ring_size = ring, .max_msg = max_msg, .spin_us = -1};
    mproc_chan *a, *b;
    if (mproc_chan_pair_opts(&a, &b, &o) != 0)
        return;
    size_t pos = 0, got = 0;
    int r = 0;
    while (r == 0) {
        uint64_t used = atomic_load(&b->rout->tail) - atomic_load(&b->rout->head);
        size_t room = (size_t)(ring - used), piece = n - pos < room ? n - pos : room;
        if (piece && mproc__chan_test_raw(b, s + pos, piece) != 0)
            __builtin_trap();
        pos += piece;
        r = drain(a, cap, want, nwant, &got);
        if (!piece && r == 0)
            break; /* nothing more to inject and nothing more received */
    }
    if (got != nwant && nwant < MAX_MSGS)
        __builtin_trap(); /* the decoder and the receiver disagree */
    mproc_chan_free(a);
    mproc_chan_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t stream[MAX_STREAM];
    static uint64_t sizes[MAX_MSGS];
    input in = {data, size};
    unsigned mode = take(&in, 1), cap = take(&in, 1);
    uint64_t ring = (uint64_t)1 << (12 + (mode >> 1) % 4); /* 4 KiB .. 32 KiB */
    uint64_t max_msg = (mode & 0x40) ? 1 + (uint64_t)take(&in, 2) * 3 : MPROC_CHAN_MSG_DEFAULT;
    size_t n;
    if (mode & 1) {
        n = build(&in, stream, sizeof stream);
    } else {
        n = in.n < sizeof stream ? in.n : sizeof stream;
        memcpy(stream, in.p, n);
    }
    mproc__chan_dec d = {.max_msg = max_msg, .max_frame = ring / 4 - MPROC__FR_HDR};
    size_t count = predict(stream, n, d, sizes);
    run_pair(stream, n, ring, max_msg, cap, sizes, count);
    return 0;
}
